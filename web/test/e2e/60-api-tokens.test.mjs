// API tokens: the secretariat creates a council token in the page, the secret shown once
// works as a bearer token against the API, and after the secretariat revokes it in the page
// (confirming first) the same request is refused with 401. Then the page in English.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  flow, launch, step, t, name, contains, api, assertAccessible, assertNoPageProblems,
} from './lib.mjs';
import { heading, signIn, navigate, switchLanguage } from './steps.mjs';

const tokenName = `Dashboard PO-Raad (${Date.now().toString(36)})`;
let browser;
let admin;
let secret;
let tokenId;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const escapeRe = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The revoke button of one token: its visible text, then the token's name for screen readers. */
function revokeButton(lang, tokenNameText) {
  return new RegExp(`^\\s*${escapeRe(t(lang, 'tokens.revoke'))}\\s+${escapeRe(tokenNameText)}\\s*$`);
}

/** The list's row of a token, by its name in the row header. */
function row(p, tokenNameText) {
  return p.page.getByRole('row').filter({ has: p.page.getByRole('rowheader', { name: tokenNameText, exact: true }) });
}

flow('the secretariat creates a council token; its secret, shown once, works against the API', async () => {
  admin = await signIn(browser, { who: 'Tom Tokenbeheer', role: 'admin', stepName: 'tokens-admin-signed-in' });
  const { page, lang } = admin;
  await navigate(admin, 'nav.api-tokens');
  await heading(admin, 'tokens.title').waitFor();
  await page.getByRole('heading', { level: 2, name: name(lang, 'tokens.list.title') }).waitFor();
  await step(page, 'api-tokens', lang);

  // Nothing filled in: the summary lists what is missing and takes focus.
  await page.getByRole('button', { name: name(lang, 'tokens.create') }).click();
  const summary = page.getByRole('alert').filter({ has: page.getByRole('heading', { name: name(lang, 'common.error-summary.title') }) });
  await summary.waitFor();
  assert.ok(await summary.evaluate((el) => el === document.activeElement), 'the error summary has focus');
  await summary.getByRole('link', { name: contains(lang, 'tokens.error.name', { max: 100 }) }).waitFor();
  await summary.getByRole('link', { name: contains(lang, 'tokens.error.sector') }).waitFor();
  await step(page, 'api-token-errors', lang);

  await page.getByRole('textbox', { name: name(lang, 'tokens.field.name') }).fill(tokenName);
  await page.getByRole('radio', { name: name(lang, 'tokens.role.council') }).check();
  await page.getByRole('radio', { name: name(lang, 'sector.PO') }).check();
  await page.getByRole('button', { name: name(lang, 'tokens.create') }).click();

  const panel = page.getByRole('region', { name: name(lang, 'tokens.secret.title', { name: tokenName }) });
  await panel.waitFor();
  assert.ok(await panel.evaluate((el) => el === document.activeElement), 'the secret panel has focus');
  await panel.getByText(name(lang, 'tokens.secret.once')).waitFor();
  secret = await panel.getByRole('textbox', { name: name(lang, 'tokens.secret.label') }).inputValue();
  assert.match(secret, /^mdt_[A-Za-z0-9_-]{43}$/, 'the secret as the page shows it');
  await panel.getByRole('button', { name: name(lang, 'tokens.secret.copy') }).waitFor();
  await step(page, 'api-token-secret', lang);

  // The system that is given the secret reads as the PO council.
  const me = await api('GET', '/api/v1/me', { token: secret });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.role, 'council');
  assert.equal(me.body.sector, 'PO');
  assert.equal(me.body.via, 'token');
  tokenId = me.body.subject.replace(/^api-token:/, '');

  // Done: the secret is gone from the page, and the list shows the token as used and active.
  await panel.getByRole('button', { name: name(lang, 'tokens.secret.done') }).click();
  await panel.waitFor({ state: 'detached' });
  assert.equal(await page.getByText(secret).count(), 0, 'the secret is not shown again');
  const r = row(admin, tokenName);
  await r.getByText(name(lang, 'tokens.status.active')).waitFor();
  const cells = await cellsOnceUsed(r, lang);
  const said = (cell, key, params) => assert.match(cells[cell], contains(lang, key, params), `column ${cell + 2} of the row: ${cells.join(' | ')}`);
  said(0, 'tokens.role.council');
  said(0, 'sector.PO');
  said(1, 'tokens.by', { who: 'Tom Tokenbeheer' });
  said(2, 'tokens.expires.never');
  assert.doesNotMatch(cells[3], contains(lang, 'tokens.used.never'), 'the token was used');
  const listed = await api('GET', '/api/v1/api-tokens');
  assert.ok(!JSON.stringify(listed.body).includes(secret), 'the list never carries the secret');
  await step(page, 'api-token-listed', lang);
});

flow('the secretariat revokes the token after confirming, and the API refuses it', async () => {
  const { page, lang } = admin;
  const r = row(admin, tokenName);
  await r.getByRole('button', { name: revokeButton(lang, tokenName) }).click();
  const confirm = page.getByRole('group', { name: name(lang, 'tokens.revoke.question', { name: tokenName }) });
  await confirm.waitFor();
  assert.ok(await confirm.evaluate((el) => el === document.activeElement), 'the confirmation has focus');
  // Nothing is revoked before the confirmation.
  assert.equal((await api('GET', '/api/v1/me', { token: secret })).status, 200);
  await step(page, 'api-token-revoke-confirm', lang);
  await confirm.getByRole('button', { name: name(lang, 'tokens.revoke.yes') }).click();
  await page.getByRole('status').filter({ hasText: name(lang, 'tokens.revoke.done', { name: tokenName }) }).waitFor();
  await r.getByText(name(lang, 'tokens.status.revoked')).waitFor();
  assert.match(await r.innerText(), contains(lang, 'tokens.revoked-by', { who: 'Tom Tokenbeheer' }));
  assert.equal(await r.getByRole('button', { name: revokeButton(lang, tokenName) }).count(), 0, 'a revoked token has no revoke button');
  await step(page, 'api-token-revoked', lang);

  const refused = await api('GET', '/api/v1/me', { token: secret });
  assert.equal(refused.status, 401, JSON.stringify(refused.body));
  assert.equal(refused.body.type, 'urn:mandaat:problem:unauthorized');
  assert.match(refused.body.detail, /revoked/);
  const after = await api('GET', `/api/v1/api-tokens`);
  assert.ok(after.body.items.find((x) => x.id === tokenId)?.revoked_at, 'listed as revoked');
});

// The row's cells once the list fetched after "done" shows the token's use: the row of the
// list fetched at creation (never used) is on the page until that answer arrives.
async function cellsOnceUsed(r, lang) {
  const never = contains(lang, 'tokens.used.never');
  for (let i = 0; i < 100; i += 1) {
    const cells = await r.getByRole('cell').allInnerTexts();
    if (cells.length > 3 && !never.test(cells[3])) return cells;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return r.getByRole('cell').allInnerTexts();
}

flow('in English: an auditor token with an expiry, its secret and the list', async () => {
  const { page } = admin;
  await switchLanguage(admin, 'en');
  await heading(admin, 'tokens.title').waitFor();
  const auditorName = `Audit scripts (${Date.now().toString(36)})`;
  await page.getByRole('textbox', { name: name('en', 'tokens.field.name') }).fill(auditorName);
  await page.getByRole('radio', { name: name('en', 'tokens.role.auditor') }).check();
  assert.equal(await page.getByRole('radio', { name: name('en', 'sector.PO') }).count(), 0, 'an auditor token has no sector');
  await page.getByRole('spinbutton', { name: name('en', 'tokens.field.days') }).fill('90');
  await page.getByRole('button', { name: name('en', 'tokens.create') }).click();
  const panel = page.getByRole('region', { name: name('en', 'tokens.secret.title', { name: auditorName }) });
  await panel.waitFor();
  await panel.getByText(name('en', 'tokens.secret.once')).waitFor();
  const auditorSecret = await panel.getByRole('textbox', { name: name('en', 'tokens.secret.label') }).inputValue();
  await step(page, 'api-token-secret', 'en');
  const me = await api('GET', '/api/v1/me', { token: auditorSecret });
  assert.equal(me.body.role, 'auditor');
  await panel.getByRole('button', { name: name('en', 'tokens.secret.done') }).click();
  const r = row(admin, auditorName);
  await r.getByText(name('en', 'tokens.status.active')).waitFor();
  const cells = await cellsOnceUsed(r, 'en');
  assert.match(cells[0], contains('en', 'tokens.role.auditor'), cells.join(' | '));
  assert.doesNotMatch(cells[2], contains('en', 'tokens.expires.never'), 'it expires');
  assert.doesNotMatch(cells[3], contains('en', 'tokens.used.never'), 'the token was used');
  await row(admin, tokenName).getByText(name('en', 'tokens.status.revoked')).waitFor();
  await step(page, 'api-tokens', 'en');
  await admin.context.close();
});

test('no uncaught errors or CSP violations, and no serious accessibility violations', () => {
  assertNoPageProblems();
  assertAccessible();
});
