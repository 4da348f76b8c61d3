// Signing in with the school's own account (OpenID Connect), in Dutch, against the mock
// provider tests/api/web.rs starts the app with when it sets MANDAAT_OIDC_PROVIDER
// ({"id", "display_name"}). The mock signs in as one fixed identity, ELS below, and its
// authorize endpoint sends the browser straight back to the app's callback. Without
// MANDAAT_OIDC_PROVIDER the flows that need a provider are skipped; the failure pages,
// which need none, always run.
//
// The journey: Els's first sign-in -> "your request has been sent" (NL and EN) -> the
// secretariat sees her request with what the provider said and approves her as the board
// of the first seeded member -> in a fresh browser the same button signs her in -> she
// registers a key and votes -> an invitation accepted with her (already bound) account is
// refused -> the secretariat removes her designation -> her next page is the sign-in page,
// and her account no longer signs her in.
//
// Her ballot is signed with the browser's clock: when 50-journey.test.mjs has moved the
// server's clock on before this file runs, her browser is set to the server's time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, OIDC_PROVIDER, MEMBERS, flow, launch, person, step, checkA11yOnce, t, name, contains,
  apiOk, invite, linkOn, seedOpenProposal, serverNow, rfc3339, assertAccessible, assertNoPageProblems,
} from './lib.mjs';
import {
  heading, signIn, navigate, switchLanguage, registerKey, openProposalPage, toVotePage, confirmAndSign,
} from './steps.mjs';

const ELS = { subject: 'e2e-teacher', name: 'Els de Vries', email: 'els@school.example', home: '16AH' };
const BOARD = MEMBERS[0];
const needsProvider = {
  skip: OIDC_PROVIDER ? false : 'MANDAAT_OIDC_PROVIDER is not set: the app has no sign-in provider to sign in with',
};
// Every failure the server's callback can send the browser to (#/signin/failed/<slug>).
const FAILURES = ['request-rejected', 'designation-removed', 'invitation-unusable', 'account-bound-elsewhere', 'provider-error', 'flow-expired'];

let browser;
let admin; // the secretariat, signed in with its own invitation
let els; // Els's browser once she is approved
const title = `Begroting 2027 vaststellen (${Date.now().toString(36)})`;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const escapeRe = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The sign-in page's button for the provider, in `lang`. */
function providerButton(p, key = 'signin.provider.button') {
  return p.page.getByRole('button', { name: name(p.lang, key, { provider: OIDC_PROVIDER.display_name }) });
}

/** A button whose visible text is `key` followed by a person's name for screen readers. */
function actionName(lang, key, who) {
  return new RegExp(`^\\s*${escapeRe(t(lang, key))}\\s+${escapeRe(who)}\\s*$`);
}

/** The status of GET /api/v1/me asked from inside the page, with its cookies. */
async function meStatus(page) {
  return page.evaluate(async () => (await fetch('/api/v1/me', { credentials: 'same-origin' })).status);
}

/**
 * The browser's clock set to the server's when they differ by more than a minute (the
 * server refuses statements signed more than 5 minutes off its clock). Before any page loads.
 */
async function clockLikeServer(context) {
  const skew = (await serverNow()).getTime() - Date.now();
  if (Math.abs(skew) > 60_000) await context.clock.install({ time: new Date(Date.now() + skew) });
}

flow('a first sign-in with a school account sends a request to the secretariat, and says so', async () => {
  const first = await person(browser, 'Els, first sign-in');
  first.lang = 'nl';
  await first.page.goto(`${BASE}/#/signin`);
  await heading(first, 'signin.title').waitFor();
  await providerButton(first).waitFor();
  // The invitation explanation is still there, below the provider.
  await first.page.getByText(name('nl', 'signin.explain')).waitFor();
  await step(first.page, 'signin-with-provider', 'nl');

  await providerButton(first).click();
  await heading(first, 'signin.pending.title').waitFor();
  await first.page.getByText(name('nl', 'signin.pending.text')).waitFor();
  await first.page.getByRole('link', { name: name('nl', 'signin.pending.back') }).waitFor();
  assert.equal(await meStatus(first.page), 401, 'nobody is signed in before the secretariat decides');
  await step(first.page, 'signin-pending', 'nl');

  await switchLanguage(first, 'en');
  await heading(first, 'signin.pending.title').waitFor();
  await first.page.getByText(name('en', 'signin.pending.text')).waitFor();
  await step(first.page, 'signin-pending', 'en');
  await first.context.close();

  const pending = await apiOk('GET', '/api/v1/sign-in-requests?status=pending', 200);
  const request = pending.items.find((r) => r.subject === ELS.subject);
  assert.ok(request, `a pending request for ${ELS.subject}: ${JSON.stringify(pending)}`);
  assert.equal(request.name, ELS.name);
  assert.equal(request.email, ELS.email);
  assert.equal(request.home_organization, ELS.home);
  assert.equal(request.provider, OIDC_PROVIDER.id);
}, needsProvider);

flow('the secretariat sees the request and approves Els as the board of the first member', async () => {
  admin = await signIn(browser, { who: 'Sofie Secretariaat', role: 'admin', stepName: 'requests-admin-signed-in' });
  const { page, lang } = admin;
  // The menu item counts the waiting request for sighted and screen-reader users alike.
  const menuItem = page.getByRole('navigation', { name: name(lang, 'nav.label') })
    .getByRole('link', { name: new RegExp(`^\\s*${escapeRe(t(lang, 'nav.sign-in-requests'))}`) });
  const waiting = (await apiOk('GET', '/api/v1/sign-in-requests?status=pending', 200)).items.length;
  await page.waitForFunction(
    ({ label, n }) => [...document.querySelectorAll('nav a')].some((a) => a.textContent.startsWith(label) && a.querySelector('.badge')?.textContent === String(n)),
    { label: t(lang, 'nav.sign-in-requests'), n: waiting },
  );
  await menuItem.click();
  await heading(admin, 'requests.title').waitFor();

  const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { level: 3, name: ELS.name, exact: true }) });
  await card.getByText(ELS.email, { exact: true }).waitFor();
  await card.getByText(ELS.home, { exact: true }).waitFor();
  await card.getByText(OIDC_PROVIDER.display_name, { exact: true }).waitFor();
  await step(page, 'sign-in-requests', lang);

  await card.getByRole('button', { name: actionName(lang, 'requests.approve', ELS.name) }).click();
  const form = page.getByRole('form', { name: name(lang, 'requests.approve.title', { name: ELS.name }) });
  await form.waitFor();
  assert.ok(await form.evaluate((el) => el === document.activeElement), 'the approval form has focus');
  // What the provider said is filled in; the role is board, as most requests are.
  assert.equal(await form.getByRole('textbox', { name: name(lang, 'people.field.name') }).inputValue(), ELS.name);
  assert.equal(await form.getByRole('textbox', { name: name(lang, 'people.field.email') }).inputValue(), ELS.email);
  const board = form.getByRole('radio', { name: name(lang, 'people.role.board') });
  assert.ok(await board.isChecked(), 'role board is chosen');

  // The member board: chosen already when the register knows her school's board; else search it.
  const change = form.getByRole('button', { name: name(lang, 'people.member.change') });
  const request = (await apiOk('GET', '/api/v1/sign-in-requests?status=pending', 200)).items.find((r) => r.subject === ELS.subject);
  if (request.suggested_board?.member_id) {
    await form.getByText(contains(lang, 'requests.suggested', { school: request.suggested_board.school_name })).first().waitFor();
    await change.waitFor();
  }
  if (await change.count()) {
    const chosen = await form.locator(`#approve-member-chosen`).innerText();
    if (!chosen.includes(BOARD.name)) await change.click();
  }
  if (!(await change.count())) {
    await form.getByRole('searchbox', { name: name(lang, 'people.field.member') }).fill(String(BOARD.bg_number));
    await form.getByRole('button', { name: name(lang, 'people.member.search') }).click();
    await form.getByRole('button', { name: new RegExp(escapeRe(BOARD.name)) }).click();
    await change.waitFor();
  }
  assert.match(await form.locator('#approve-member-chosen').innerText(), new RegExp(escapeRe(BOARD.name)));
  await step(page, 'sign-in-request-approve', lang);

  await form.getByRole('button', { name: name(lang, 'requests.approve.yes') }).click();
  await page.getByRole('status').filter({ hasText: contains(lang, 'requests.approved', { name: ELS.name }) }).waitFor();
  await card.waitFor({ state: 'detached' }); // no longer waiting
  await step(page, 'sign-in-request-approved', lang);

  const approved = (await apiOk('GET', '/api/v1/sign-in-requests?status=approved', 200)).items.find((r) => r.subject === ELS.subject);
  assert.ok(approved && approved.person_id, `the request is approved and made a person: ${JSON.stringify(approved)}`);
  const people = await apiOk('GET', '/api/v1/people?role=board&limit=500', 200);
  const made = people.items.find((p) => p.id === approved.person_id);
  assert.equal(made?.member_id, BOARD.id, `Els acts for ${BOARD.name}: ${JSON.stringify(made)}`);

  // The decided requests stay listed.
  await page.getByRole('combobox', { name: name(lang, 'requests.filter.status') }).selectOption('approved');
  await heading(admin, 'requests.title').waitFor();
  await page.getByRole('rowheader', { name: new RegExp(escapeRe(ELS.name)) }).waitFor();
  await step(page, 'sign-in-requests-approved', lang);
}, needsProvider);

flow('in a fresh browser the same button signs Els in; she registers a key and votes for her board', async () => {
  els = await person(browser, ELS.name);
  Object.assign(els, { lang: 'nl', member: BOARD, person: { role: 'board' } });
  await clockLikeServer(els.context);
  await els.page.goto(`${BASE}/#/signin`);
  await providerButton(els).click();
  await heading(els, 'home.welcome', { name: ELS.name }).waitFor();
  await els.page.getByText(BOARD.name).first().waitFor();
  assert.doesNotMatch(els.page.url(), /signin/, `the sign-in outcome is not left in the address: ${els.page.url()}`);
  const me = await els.page.evaluate(async () => (await fetch('/api/v1/me', { credentials: 'same-origin' })).json());
  assert.equal(me.via, 'session');
  assert.equal(me.role, 'board');
  assert.equal(me.member?.id, BOARD.id);
  await step(els.page, 'signed-in-with-school-account', 'nl');

  await registerKey(els, 'Laptop Els');
  const now = await serverNow();
  await seedOpenProposal({
    title,
    description: 'Voorstel aan de ledenraad',
    kind: 'resolution',
    electorate: { sectors: BOARD.sectors, weighting: 'one-member-one-vote', quorum: '0/1', majority: { kind: 'more-than', fraction: '1/2' }, chamber_rule: false },
    opens_at: rfc3339(new Date(now.getTime() - 60_000)),
    closes_at: rfc3339(new Date(now.getTime() + 7 * 86_400_000)),
  });
  await openProposalPage(els, title);
  await toVotePage(els, title);
  await els.page.getByRole('radio', { name: name('nl', 'vote.choice.yes') }).check();
  await confirmAndSign(els, 'school-account-vote');
}, needsProvider);

flow('an invitation accepted with an account that belongs to someone else is refused', async () => {
  // The mock provider always signs in as Els, whose account is bound to her now.
  const answer = await invite({ name: 'Karel Tweede', role: 'auditor' });
  const karel = await person(browser, 'Karel Tweede');
  karel.lang = 'nl';
  await karel.page.goto(linkOn(answer));
  await providerButton(karel, 'signin.provider.accept').waitFor();
  await karel.page.getByRole('button', { name: name('nl', 'signin.invitation.accept') }).waitFor();
  assert.ok(!karel.page.url().includes(answer.invitation.token), 'the invitation is not left in the address');
  await step(karel.page, 'invitation-choice', 'nl');
  await providerButton(karel, 'signin.provider.accept').click();
  await heading(karel, 'signin.failed.account-bound-elsewhere.title').waitFor();
  await karel.page.getByText(name('nl', 'signin.failed.account-bound-elsewhere.text')).waitFor();
  assert.equal(await meStatus(karel.page), 401, 'Karel is not signed in as Els');
  await step(karel.page, 'signin-account-bound-elsewhere', 'nl');
  await karel.context.close();
}, needsProvider);

flow('the secretariat removes her designation: her next page is the sign-in page', async () => {
  const { page, lang } = admin;
  await navigate(admin, 'nav.people');
  await heading(admin, 'people.title').waitFor();
  const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${escapeRe(ELS.name)}`) }) });
  await row.getByText(name(lang, 'people.signs-in-with', { provider: OIDC_PROVIDER.display_name })).waitFor();
  await row.getByRole('button', { name: actionName(lang, 'people.remove', ELS.name) }).click();
  const confirm = page.getByRole('group', { name: name(lang, 'people.remove.question', { name: ELS.name }) });
  await confirm.waitFor();
  assert.ok(await confirm.evaluate((el) => el === document.activeElement), 'the confirmation has focus');
  await confirm.getByText(name(lang, 'people.remove.explain', { name: ELS.name })).waitFor();
  assert.equal(await meStatus(els.page), 200, 'nothing is removed before the confirmation');
  await step(page, 'people-remove-confirm', lang);
  await confirm.getByRole('button', { name: name(lang, 'people.remove.yes') }).click();
  await page.getByRole('status').filter({ hasText: name(lang, 'people.remove.done', { name: ELS.name }) }).waitFor();
  await row.getByText(name(lang, 'people.removed')).waitFor();
  assert.equal(await row.getByRole('button').count(), 0, 'a removed person has no actions');
  await step(page, 'people-removed', lang);

  // Her very next page load is the sign-in page, and the API refuses her session.
  await els.page.reload();
  await heading(els, 'signin.title').waitFor();
  assert.equal(await meStatus(els.page), 401, 'her session ended');
  // Her school account no longer signs her in, and the page says why.
  await providerButton(els).click();
  await heading(els, 'signin.failed.designation-removed.title').waitFor();
  await els.page.getByText(name('nl', 'signin.failed.designation-removed.text')).waitFor();
  assert.equal(await meStatus(els.page), 401, 'still signed out');
  await step(els.page, 'signin-designation-removed', 'nl');
  await els.context.close();
  await admin.context.close();
}, needsProvider);

flow('each failure page says what went wrong and leads back to signing in', async () => {
  const p = await person(browser, 'visitor');
  p.lang = 'nl';
  await p.page.goto(`${BASE}/#/signin`);
  await heading(p, 'signin.title').waitFor();
  for (const slug of FAILURES) {
    await p.page.goto(`${BASE}/#/signin/failed/${slug}`);
    await heading(p, `signin.failed.${slug}.title`).waitFor();
    await p.page.getByText(name('nl', `signin.failed.${slug}.text`)).waitFor();
    await checkA11yOnce(p.page, `signin-failed-${slug}-nl`);
  }
  await p.page.goto(`${BASE}/#/signin/failed/something-new`);
  await heading(p, 'signin.failed.unknown.title').waitFor();
  await p.page.getByText(name('nl', 'signin.failed.unknown.text')).waitFor();
  await step(p.page, 'signin-failed-unknown', 'nl');
  await p.page.getByRole('link', { name: name('nl', 'signin.failed.again') }).click();
  await heading(p, 'signin.title').waitFor();
  await p.context.close();
});

test('no uncaught errors or CSP violations, and no serious accessibility violations', () => {
  assertNoPageProblems();
  assertAccessible();
});
