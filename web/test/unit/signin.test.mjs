// Signing in with a provider, the parts without a page: where the server's callback sends
// the browser and what the page says about it (web/app/signin-outcome.js), the approval
// form's first values for a sign-in request and the body it sends
// (web/app/pages/designation.js), and the fields a 422's `errors` names (web/app/api.js).
//   node --test web/test/unit/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { FAILURES, outcomeOf, failureMessages, authorizationTarget } from '../../app/signin-outcome.js';
import { approvalDefaults, designationBody, designationErrors } from '../../app/pages/designation.js';
import { ApiProblem, problemFields } from '../../app/api.js';

const i18n = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../i18n');
function messages(lang) {
  const out = {};
  for (const f of readdirSync(path.join(i18n, lang)).filter((x) => x.endsWith('.json'))) {
    Object.assign(out, JSON.parse(readFileSync(path.join(i18n, lang, f), 'utf8')));
  }
  return out;
}

test('the callback\'s destinations are told apart; anything else is no outcome', () => {
  assert.deepEqual(outcomeOf('/signin/done'), { kind: 'done' });
  assert.deepEqual(outcomeOf('/signin/pending'), { kind: 'pending' });
  assert.deepEqual(outcomeOf('/signin/pending/'), { kind: 'pending' });
  assert.deepEqual(outcomeOf('/signin/failed/flow-expired'), { kind: 'failed', slug: 'flow-expired' });
  assert.deepEqual(outcomeOf('/signin/failed/provider%2Derror'), { kind: 'failed', slug: 'provider-error' });
  assert.deepEqual(outcomeOf('/signin/failed'), { kind: 'failed', slug: '' });
  assert.deepEqual(outcomeOf('/signin/failed/%E0%A4%A'), { kind: 'failed', slug: '' }, 'a broken escape is an unknown slug');
  for (const other of ['/signin', '/', '/signin/done/x', '/signin/pending/x', '/signin/failed/a/b', '/invitation/abc', '/xsignin/done', '', undefined]) {
    assert.equal(outcomeOf(other), null, String(other));
  }
});

test('each failure slug has its own message; an unknown slug the generic one', () => {
  assert.deepEqual(FAILURES.sort(), [
    'account-bound-elsewhere', 'designation-removed', 'flow-expired', 'invitation-unusable', 'provider-error', 'request-rejected',
  ]);
  for (const slug of FAILURES) {
    assert.deepEqual(failureMessages(slug), { title: `signin.failed.${slug}.title`, text: `signin.failed.${slug}.text` });
  }
  for (const slug of ['', 'something-new', 'unknown', '__proto__', 'constructor']) {
    assert.deepEqual(failureMessages(slug), { title: 'signin.failed.unknown.title', text: 'signin.failed.unknown.text' }, slug);
  }
  // Every message the page asks for is in both languages.
  for (const lang of ['nl', 'en']) {
    const m = messages(lang);
    for (const slug of [...FAILURES, 'unknown']) {
      const keys = failureMessages(slug);
      assert.equal(typeof m[keys.title], 'string', `${lang}: ${keys.title}`);
      assert.equal(typeof m[keys.text], 'string', `${lang}: ${keys.text}`);
    }
    for (const key of ['signin.pending.title', 'signin.pending.text', 'signin.pending.next', 'signin.pending.back', 'signin.failed.again']) {
      assert.equal(typeof m[key], 'string', `${lang}: ${key}`);
    }
  }
});

test('the page goes only to an http(s) authorization URL', () => {
  const base = 'https://mandaat.example/#/signin';
  assert.equal(authorizationTarget('https://login.entree.example/authorize?client_id=x&state=y', base).href,
    'https://login.entree.example/authorize?client_id=x&state=y');
  assert.equal(authorizationTarget('http://127.0.0.1:4000/mock/authorize', base).host, '127.0.0.1:4000');
  assert.equal(authorizationTarget('/mock/authorize?state=s', base).href, 'https://mandaat.example/mock/authorize?state=s');
  for (const bad of ['javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,hi', 'file:///etc/passwd', 'http://[::1', null, undefined]) {
    assert.equal(authorizationTarget(bad, 'about:blank'), null, String(bad));
  }
});

test('a request with a suggested member board starts as that board\'s approval', () => {
  const request = {
    id: 'r1', name: 'Els de Vries', email: 'els@school.example', home_organization: '16AH',
    suggested_board: { school_name: 'Basisschool De Regenboog', bg_number: 41001, member_id: 'm-1', member_name: 'Stichting Primair Onderwijs Noord' },
  };
  const f = approvalDefaults(request);
  assert.deepEqual(f, {
    name: 'Els de Vries',
    email: 'els@school.example',
    role: 'board',
    member: { id: 'm-1', name: 'Stichting Primair Onderwijs Noord', bg_number: 41001 },
    sector: 'PO',
  });
  assert.deepEqual({ ...designationBody(f), name: f.name, email: f.email },
    { role: 'board', member_id: 'm-1', name: 'Els de Vries', email: 'els@school.example' });
  assert.deepEqual(designationErrors(f, 'approve', (k) => k), {});
});

test('without a suggestion (or a school whose board is no member) no board is chosen', () => {
  for (const suggested of [null, undefined, { school_name: 'School X', bg_number: 99999, member_id: null, member_name: null }]) {
    const f = approvalDefaults({ id: 'r2', name: 'Piet', email: null, suggested_board: suggested });
    assert.equal(f.role, 'board');
    assert.equal(f.member, null);
    assert.equal(f.email, '', 'no e-mail from the provider: the field starts empty');
    assert.deepEqual(designationErrors(f, 'approve', (k) => k), { 'approve-member-q': 'people.error.member' });
  }
  // A suggested board without its name yet shows the school's.
  assert.equal(approvalDefaults({ name: 'A', suggested_board: { school_name: 'S', bg_number: 1, member_id: 'm', member_name: null } }).member.name, 'S');
});

test('the body names the member only for a board and the sector only for a council', () => {
  const member = { id: 'm-1', name: 'M', bg_number: 1 };
  assert.deepEqual(designationBody({ role: 'board', member, sector: 'PO' }), { role: 'board', member_id: 'm-1' });
  assert.deepEqual(designationBody({ role: 'council', member, sector: 'VO' }), { role: 'council', sector: 'VO' });
  assert.deepEqual(designationBody({ role: 'admin', member, sector: 'PO' }), { role: 'admin' });
  assert.deepEqual(designationBody({ role: 'auditor', member: null, sector: 'PO' }), { role: 'auditor' });
  assert.deepEqual(designationErrors({ role: 'council', member: null, sector: '' }, 'x', (k) => k), { 'x-sector-PO': 'people.error.sector' });
  assert.deepEqual(designationErrors({ role: 'admin', member: null, sector: '' }, 'x', (k) => k), {});
});

test('the fields a 422 names, in the shapes a problem\'s errors may take', () => {
  const p = (errors) => new ApiProblem({ status: 422, type: 'urn:mandaat:problem:validation', detail: 'd', errors });
  assert.deepEqual(problemFields(p([{ field: 'member_id', detail: 'a board needs a member' }])), ['member_id']);
  assert.deepEqual(problemFields(p([{ pointer: '/sector', detail: 'x' }, { pointer: '#/email' }])), ['sector', 'email']);
  assert.deepEqual(problemFields(p([{ name: 'name' }, 'role'])), ['name', 'role']);
  assert.deepEqual(problemFields(p({ email: ['not an address'] })), ['email']);
  assert.deepEqual(problemFields(p([{ path: 'member_id.0' }])), ['member_id']);
  assert.deepEqual(problemFields(p(undefined)), []);
  assert.deepEqual(problemFields(p('text')), []);
  assert.deepEqual(problemFields(new Error('x')), []);
  assert.deepEqual(problemFields(null), []);
});
