// The secretariat's people page: an invitation made in the page shows its link once (with a
// copy button), the link signs the person in, and ending all of that person's sessions,
// after confirming, signs them out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, flow, launch, person, step, t, name, assertAccessible, assertNoPageProblems,
} from './lib.mjs';
import { heading, signIn, navigate, openInvitation } from './steps.mjs';

const invitee = `Anna Controle ${Date.now().toString(36)}`;
let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const escapeRe = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

flow('the secretariat invites an auditor in the page and ends her sessions after confirming', async () => {
  const admin = await signIn(browser, { who: 'Petra Personeel', role: 'admin', stepName: 'people-admin-signed-in' });
  const { page, lang } = admin;
  await navigate(admin, 'nav.people');
  await heading(admin, 'people.title').waitFor();
  await page.getByRole('textbox', { name: name(lang, 'people.field.name') }).fill(invitee);
  await page.getByRole('textbox', { name: name(lang, 'people.field.email') }).fill('anna@example.org');
  await page.getByRole('radio', { name: name(lang, 'people.role.auditor') }).check();
  await page.getByRole('button', { name: name(lang, 'people.invite') }).click();

  const panel = page.getByRole('region', { name: name(lang, 'people.link.title', { name: invitee }) });
  await panel.waitFor();
  assert.ok(await panel.evaluate((el) => el === document.activeElement), 'the link panel has focus');
  const link = await panel.getByRole('textbox', { name: name(lang, 'people.link.label') }).inputValue();
  const secret = /#\/invitation\/([A-Za-z0-9_-]+)$/.exec(link)?.[1];
  assert.ok(secret, `the invitation link ${link}`);
  await panel.getByRole('button', { name: name(lang, 'people.link.copy') }).waitFor();
  await step(page, 'people-link', lang);
  await panel.getByRole('button', { name: name(lang, 'people.link.done') }).click();

  const anna = await person(browser, invitee);
  anna.lang = 'nl';
  await openInvitation(anna, `${BASE}/#/invitation/${secret}`);
  await heading(anna, 'home.welcome', { name: invitee }).waitFor();

  await page.reload();
  await heading(admin, 'people.title').waitFor();
  const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(escapeRe(invitee)) }) });
  const end = new RegExp(`^\\s*${escapeRe(t(lang, 'people.end'))}\\s+${escapeRe(invitee)}\\s*$`);
  await row.getByRole('button', { name: end }).click();
  const confirm = page.getByRole('group', { name: name(lang, 'people.end.question', { name: invitee }) });
  await confirm.waitFor();
  assert.ok(await confirm.evaluate((el) => el === document.activeElement), 'the confirmation has focus');
  await step(page, 'people-end-confirm', lang);
  await confirm.getByRole('button', { name: name(lang, 'people.end.yes') }).click();
  await confirm.waitFor({ state: 'detached' });
  // No active sessions are left: the button is disabled once the list has reloaded.
  await row.getByRole('button', { name: end, disabled: true }).waitFor();

  const me = await anna.page.evaluate(async () => (await fetch('/api/v1/me', { credentials: 'same-origin' })).status);
  assert.equal(me, 401, 'her session is ended');
  await anna.context.close();
  await admin.context.close();
});

test('no uncaught errors or CSP violations, and no serious accessibility violations', () => {
  assertNoPageProblems();
  assertAccessible();
});
