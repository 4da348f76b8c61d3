// What a person does in the app, step by step, through roles and accessible names only.
// Each function leaves the page in a known state and records a screenshot + axe check.
import assert from 'node:assert/strict';
import {
  BASE, invite, linkOn, person, step, checkA11yOnce, t, name, contains,
} from './lib.mjs';

/** Where a person is: {page, lang}. All texts come from that language's message files. */
export function heading(p, key, params) {
  return p.page.getByRole('heading', { level: 1, name: name(p.lang, key, params) });
}

/** The main navigation's link to `key` (e.g. 'nav.keys'). */
export async function navigate(p, key) {
  await p.page
    .getByRole('navigation', { name: name(p.lang, 'nav.label') })
    .getByRole('link', { name: name(p.lang, key) })
    .click();
}

/**
 * Opens an invitation link and accepts it with the link alone. With a sign-in provider
 * configured the page first asks how to accept (the link, or a school account); without one
 * the link signs in at once. Afterwards the page shows the home page or why it refused.
 */
export async function openInvitation(p, link) {
  await p.page.goto(link);
  const accept = p.page.getByRole('button', { name: name(p.lang, 'signin.invitation.accept') });
  const welcome = p.page.getByRole('heading', { level: 1, name: name(p.lang, 'home.welcome') });
  const refused = p.page.locator('main').getByRole('alert');
  await accept.or(welcome).or(refused).first().waitFor();
  if (await accept.isVisible()) await accept.click();
}

/**
 * A person invited by the secretariat opens the link in a fresh browser context and is
 * signed in. Returns {context, page, lang, who, person, member}.
 */
export async function signIn(browser, { who, role, member, sector, stepName }) {
  const answer = await invite({ name: who, role, member_id: member && member.id, sector });
  const p = await person(browser, who);
  p.lang = 'nl';
  p.person = answer.person;
  p.member = member;
  await openInvitation(p, linkOn(answer));
  await heading(p, 'home.welcome', { name: who }).waitFor();
  assert.ok(!p.page.url().includes(answer.invitation.token), `the invitation token is left in the address: ${p.page.url()}`);
  const history = await p.page.evaluate(() => history.length);
  assert.ok(history <= 2, `the invitation is not left in the history (${history} entries)`);
  await step(p.page, stepName || `signed-in-${role}`, p.lang);
  return p;
}

/** Switches the language with the header's switch; the page re-renders in `lang`. */
export async function switchLanguage(p, lang) {
  await p.page
    .getByRole('group', { name: name(p.lang, 'lang.switch') })
    .getByRole('button', { name: name(p.lang, `lang.${lang}`) })
    .click();
  p.lang = lang;
  await p.page.waitForFunction((l) => document.documentElement.lang === l, lang);
}

/** The board creates a non-extractable key in this browser and registers it. */
export async function registerKey(p, deviceLabel) {
  await navigate(p, 'nav.keys');
  await heading(p, 'keys.title').waitFor();
  await p.page.getByText(contains(p.lang, 'keys.this-device.none')).waitFor();
  await step(p.page, 'keys-none', p.lang);
  const label = p.page.getByRole('textbox', { name: name(p.lang, 'keys.label.label') });
  await label.fill(deviceLabel);
  await p.page.getByRole('button', { name: name(p.lang, 'keys.register.button') }).click();
  await receiptVerified(p, 'key');
  await p.page.getByText(contains(p.lang, 'keys.this-device.active')).waitFor();
  await step(p.page, 'key-registered', p.lang);
  // The private key lives in this browser's IndexedDB and cannot be exported.
  const kept = await p.page.evaluate((memberId) => new Promise((resolve, reject) => {
    const open = indexedDB.open('mandaat');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const get = open.result.transaction('keys').objectStore('keys').get(memberId);
      get.onerror = () => reject(get.error);
      get.onsuccess = async () => {
        const r = get.result;
        if (!r) return resolve(null);
        let exported = 'refused';
        try { await crypto.subtle.exportKey('pkcs8', r.privateKey); exported = 'exported'; } catch { /* refused */ }
        resolve({ extractable: r.privateKey.extractable, type: r.privateKey.type, algorithm: r.privateKey.algorithm.name, exported });
      };
    };
  }), p.member.id);
  assert.deepEqual(kept, { extractable: false, type: 'private', algorithm: 'Ed25519', exported: 'refused' },
    'the private key is kept in IndexedDB, non-extractable');
}

/**
 * The receipt of a `what` ('ballot' | 'key' | 'proxy' | 'revocation') statement was checked
 * in the page and every check passed.
 */
export async function receiptVerified(p, what) {
  // Inside <main>: the live regions outside it still hold earlier announcements.
  const main = p.page.locator('main');
  const ok = main.getByText(name(p.lang, `receipt.ok.${what}`));
  const failed = main.getByText(name(p.lang, `receipt.failed.${what}`));
  const refused = main.getByRole('alert');
  await ok.or(failed).or(refused).first().waitFor({ timeout: 30_000 });
  if (await failed.count()) {
    const text = await p.page.locator('main').innerText();
    assert.fail(`the page says the ${what} receipt did NOT verify:\n${text}`);
  }
  if (!(await ok.count())) {
    assert.fail(`the ${what} was refused: ${await refused.first().innerText()}`);
  }
  await main.getByText(contains(p.lang, 'receipt.fingerprint')).first().waitFor();
}

/** The receipt check failed and the page names the failed check `check`. */
export async function receiptFailed(p, what, check) {
  // Inside <main>: the live regions outside it still hold earlier announcements.
  const main = p.page.locator('main');
  const ok = main.getByText(name(p.lang, `receipt.ok.${what}`));
  const failed = main.getByText(name(p.lang, `receipt.failed.${what}`));
  await ok.or(failed).first().waitFor({ timeout: 30_000 });
  assert.equal(await ok.count(), 0, `the page says the ${what} is recorded although its receipt was tampered with`);
  const which = t(p.lang, 'receipt.failed.which', { check: t(p.lang, `receipt.check.${check}`) });
  const text = await main.innerText();
  assert.ok(text.includes(which), `the failure names the check: expected "${which}" in:\n${text}`);
}

/** Local time of the page for an instant, as <input type="datetime-local"> wants it. */
async function localInput(page, date) {
  return page.evaluate((ms) => {
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }, date.getTime());
}

/**
 * Drafts a mandate in the browser (board or admin) and saves it. Returns its id.
 * `mandate`: {title, supplier, product, modules, maxTerm, param: {label, name, min, max}},
 * `window`: {opens: Date, closes: Date}.
 */
export async function draftMandate(p, mandate, window) {
  const { page, lang } = p;
  await navigate(p, 'nav.proposals');
  await heading(p, 'proposals.title').waitFor();
  await page.getByRole('link', { name: name(lang, 'proposals.new') }).click();
  await heading(p, 'draft.title.new').waitFor();
  await page.getByRole('radio', { name: name(lang, 'draft.kind.mandate') }).check();
  await page.getByRole('textbox', { name: name(lang, 'draft.field.title') }).fill(mandate.title);
  await page.getByRole('textbox', { name: name(lang, 'draft.field.description') }).fill(mandate.description);
  await page.getByRole('textbox', { name: name(lang, 'draft.field.supplier') }).fill(mandate.supplier);
  await page.getByRole('textbox', { name: name(lang, 'draft.field.product') }).fill(mandate.product);
  for (const [i, module] of mandate.modules.entries()) {
    await page.getByRole('button', { name: name(lang, 'draft.module.add') }).click();
    await page.getByRole('textbox', { name: name(lang, 'draft.field.module', { n: i + 1 }) }).fill(module);
  }
  await page.getByRole('textbox', { name: name(lang, 'draft.field.max-term') }).fill(String(mandate.maxTerm));
  const param = page.getByRole('group', { name: name(lang, 'draft.param.legend', { n: 1 }) });
  await param.getByRole('textbox', { name: name(lang, 'draft.field.param-label') }).fill(mandate.param.label);
  await param.getByRole('textbox', { name: name(lang, 'draft.field.param-name') }).fill(mandate.param.name);
  await param.getByRole('combobox', { name: name(lang, 'draft.field.param-unit') }).selectOption(mandate.param.unit);
  await param.getByRole('textbox', { name: name(lang, 'draft.field.param-min') }).fill(String(mandate.param.min));
  await param.getByRole('textbox', { name: name(lang, 'draft.field.param-max') }).fill(String(mandate.param.max));
  await page.getByRole('checkbox', { name: name(lang, 'sector.PO') }).check();
  await page.getByLabel(name(lang, 'draft.field.opens')).fill(await localInput(page, window.opens));
  await page.getByLabel(name(lang, 'draft.field.closes')).fill(await localInput(page, window.closes));
  await step(page, 'draft-mandate-filled', lang);
  await page.getByRole('button', { name: name(lang, 'draft.save.new') }).click();
  await page.waitForURL(/#\/proposals\/[0-9a-f-]{36}$/);
  const id = /#\/proposals\/([0-9a-f-]{36})$/.exec(page.url())[1];
  await page.getByRole('heading', { level: 1, name: mandate.title }).waitFor();
  await step(page, 'draft-mandate-saved', lang);
  return id;
}

/** Opens a proposal's page from the proposals list, by its title link. */
export async function openProposalPage(p, title) {
  await navigate(p, 'nav.proposals');
  await heading(p, 'proposals.title').waitFor();
  await p.page.getByRole('link', { name: title, exact: true }).waitFor();
  await checkA11yOnce(p.page, `proposals-list-${p.person?.role || 'person'}-${p.lang}`);
  await p.page.getByRole('link', { name: title, exact: true }).click();
  await p.page.getByRole('heading', { level: 1, name: title }).waitFor();
}

/** The secretariat runs a lifecycle action ('open' | 'close' | 'finalize') on the open page. */
export async function lifecycle(p, action, stepName) {
  const { page, lang } = p;
  await page.getByRole('button', { name: name(lang, `lifecycle.${action}`) }).click();
  const confirm = page.getByRole('group', { name: name(lang, `lifecycle.${action}.question`) });
  await confirm.waitFor();
  await step(page, `${stepName}-confirm`, lang);
  await confirm.getByRole('button', { name: name(lang, `lifecycle.${action}.yes`) }).click();
  await page.getByRole('status').filter({ hasText: name(lang, `lifecycle.${action}.done`) }).waitFor();
  await step(page, stepName, lang);
}

/** Goes from a proposal's page to its vote page (optionally voting for a grantor). */
export async function toVotePage(p, title) {
  await p.page.getByRole('link', { name: name(p.lang, 'proposal.action.vote') }).first().click();
  await heading(p, 'vote.heading', { title }).waitFor();
}

/** From the vote form: to the confirmation, sign, submit, and see the receipt verified. */
export async function confirmAndSign(p, stepName) {
  const { page, lang } = p;
  await page.getByRole('button', { name: name(lang, 'vote.to-confirm') }).click();
  await page.getByRole('heading', { name: name(lang, 'vote.confirm.heading') }).waitFor();
  await step(page, `${stepName}-confirm`, lang);
  await page.getByRole('button', { name: name(lang, 'vote.submit.button') }).click();
  await receiptVerified(p, 'ballot');
  await step(page, `${stepName}-receipt`, lang);
}

/** Presses Tab until `locator` has focus (at most `max` presses): reachable by keyboard. */
export async function tabTo(page, locator, what, max = 80) {
  for (let i = 0; i < max; i += 1) {
    if (await locator.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`${what} cannot be reached with the Tab key (${max} presses)`);
}

/** Reads the canonical statement shown in the confirmation, as JSON. */
export async function shownStatement(p) {
  const text = await p.page.getByLabel(name(p.lang, 'vote.confirm.statement')).innerText();
  const json = text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1);
  return JSON.parse(json);
}

export { BASE };
