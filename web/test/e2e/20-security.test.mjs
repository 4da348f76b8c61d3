// Sessions and CSRF: a cookie-authenticated write without the X-Mandaat-CSRF header is
// refused (403 csrf), an invitation works once, and a session used after sign-out (or
// after the secretariat ended it) is refused (401) and the page shows the sign-in view.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, flow, launch, person, step, name, member, api, apiOk, invite, linkOn,
  serverNow, rfc3339, assertAccessible, assertNoPageProblems,
} from './lib.mjs';
import { heading, signIn, navigate, openInvitation } from './steps.mjs';

const board = member(41005);
let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function draftSpec() {
  const now = await serverNow();
  return {
    title: 'CSRF-proef', description: '', kind: 'resolution',
    electorate: { sectors: ['VO'], weighting: 'one-member-one-vote', quorum: '0/1', majority: { kind: 'more-than', fraction: '1/2' }, chamber_rule: false },
    opens_at: rfc3339(new Date(now.getTime() + 86_400_000)),
    closes_at: rfc3339(new Date(now.getTime() + 2 * 86_400_000)),
  };
}

/** A same-origin fetch from inside the signed-in page (the cookie goes along). */
function fetchInPage(page, method, path, { body, csrf }) {
  return page.evaluate(async ({ method, path, body, csrf }) => {
    const headers = { 'Content-Type': 'application/json' };
    if (csrf) headers['X-Mandaat-CSRF'] = '1';
    const res = await fetch(path, { method, credentials: 'same-origin', headers, body: body && JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: json ?? text };
  }, { method, path, body, csrf });
}

flow('a cookie-authenticated write without the CSRF header is refused with 403', async () => {
  const p = await signIn(browser, { who: 'Chris Veiligheid', role: 'board', member: board, stepName: 'security-signed-in' });
  const spec = await draftSpec();
  const refused = await fetchInPage(p.page, 'POST', '/api/v1/proposals', { body: spec, csrf: false });
  assert.equal(refused.status, 403, `without the header: ${JSON.stringify(refused.body)}`);
  assert.equal(refused.body.type, 'urn:mandaat:problem:csrf');
  const accepted = await fetchInPage(p.page, 'POST', '/api/v1/proposals', { body: spec, csrf: true });
  assert.equal(accepted.status, 201, `the same request with the header: ${JSON.stringify(accepted.body)}`);
  // Reads need no header, and a forged cross-site form cannot add one.
  const me = await fetchInPage(p.page, 'GET', '/api/v1/me', { csrf: false });
  assert.equal(me.status, 200);
  assert.equal(me.body.via, 'session');
  assert.equal(me.body.member.id, board.id);
  await p.context.close();
});

flow('an invitation link works once', async () => {
  const answer = await invite({ name: 'Dana Eenmalig', role: 'board', member_id: board.id });
  const first = { ...(await person(browser, 'first use')), lang: 'nl' };
  await openInvitation(first, linkOn(answer));
  await heading(first, 'home.welcome', { name: 'Dana Eenmalig' }).waitFor();
  const second = { ...(await person(browser, 'second use')), lang: 'nl' };
  await openInvitation(second, linkOn(answer));
  await second.page.getByText(name('nl', 'signin.invalid')).waitFor();
  await step(second.page, 'invitation-used-twice', 'nl');
  await first.context.close();
  await second.context.close();
});

flow('a session used after sign-out is refused with 401', async () => {
  const p = await signIn(browser, { who: 'Frank Afmelder', role: 'board', member: board, stepName: 'before-sign-out' });
  const cookies = await p.context.cookies();
  const session = cookies.find((c) => c.name === 'mandaat_session');
  assert.ok(session, `a session cookie is set: ${cookies.map((c) => c.name)}`);
  assert.equal(session.httpOnly, true, 'the session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Strict', 'the session cookie is SameSite=Strict');
  assert.equal(await p.page.evaluate(() => document.cookie.includes('mandaat_session')), false, 'scripts cannot read it');

  await p.page.getByRole('button', { name: name('nl', 'nav.sign-out') }).click();
  await heading(p, 'signin.title').waitFor();
  await step(p.page, 'signed-out', 'nl');
  const cookie = `mandaat_session=${session.value}`;
  const me = await api('GET', '/api/v1/me', { token: null, headers: { Cookie: cookie } });
  assert.equal(me.status, 401, `GET /me with the ended session: ${JSON.stringify(me.body)}`);
  const write = await api('POST', '/api/v1/proposals', { token: null, body: await draftSpec(), headers: { Cookie: cookie, 'X-Mandaat-CSRF': '1' } });
  assert.equal(write.status, 401, `a write with the ended session: ${JSON.stringify(write.body)}`);
  // The browser itself, going anywhere, is shown the sign-in page.
  await p.page.goto(`${BASE}/#/keys`);
  await heading(p, 'signin.title').waitFor();
  await p.context.close();
});

flow('when the secretariat ends all sessions of a person, the page falls back to sign-in', async () => {
  const p = await signIn(browser, { who: 'Gert Beëindigd', role: 'board', member: board, stepName: 'before-sessions-ended' });
  const ended = await apiOk('POST', `/api/v1/people/${p.person.id}/sessions/end`, 200, { body: {} });
  assert.equal(ended.ended, 1);
  await navigate(p, 'nav.keys');
  await heading(p, 'signin.title').waitFor();
  await step(p.page, 'session-ended-by-admin', 'nl');
  await p.context.close();
});

test('no uncaught errors or CSP violations, and no serious accessibility violations', () => {
  assertNoPageProblems();
  assertAccessible();
});
