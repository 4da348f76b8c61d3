// The e2e suite's helper library: environment, message texts, the browser, people,
// screenshots, accessibility checks and API seeding.
//
// The suite is started by tests/api/web.rs (`cargo test`), which sets:
//   MANDAAT_BASE_URL     the application, e.g. http://127.0.0.1:41234
//   MANDAAT_ADMIN_TOKEN  an admin bearer token (for seeding through the API only)
//   MANDAAT_CLOCK_URL    GET: {"now"}; POST {"advance_seconds": n}: moves the server clock
//   MANDAAT_SCREENSHOTS  folder for <n>-<step>-<lang>.png
//   MANDAAT_MEMBERS      JSON [{id, bg_number, name, sectors, pupils}] seeded by web.rs
//   CHROMIUM             the browser executable
//   MANDAAT_OIDC_PROVIDER  optional: JSON {id, display_name} of the mock sign-in provider
//                        (OpenID Connect) the app was started with; unset when it has none,
//                        and the flows that need one are skipped
//
// Controls are found by role and accessible name; every name comes from the message
// files web/i18n/<lang>/*.json through t()/name() here, never typed into a test.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../../..');
const require = createRequire(import.meta.url);

function need(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: the e2e suite is started by \`cargo test\` (tests/api/web.rs), which sets it`);
  }
  return v;
}

export const BASE = need('MANDAAT_BASE_URL').replace(/\/$/, '');
export const ADMIN_TOKEN = need('MANDAAT_ADMIN_TOKEN');
export const CLOCK_URL = need('MANDAAT_CLOCK_URL');
export const SCREENSHOTS = need('MANDAAT_SCREENSHOTS');
export const CHROMIUM = need('CHROMIUM');
export const MEMBERS = JSON.parse(process.env.MANDAAT_MEMBERS || '[]');
export const OIDC_PROVIDER = process.env.MANDAAT_OIDC_PROVIDER ? JSON.parse(process.env.MANDAAT_OIDC_PROVIDER) : null;

/** Time limits (ms) for one UI expectation and for one whole test. */
export const UI_TIMEOUT = 15_000;
export const TEST_TIMEOUT = 240_000;

// ---------------------------------------------------------------------------
// Message texts

const catalogues = {};

function flatten(obj, prefix, out, file) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out, file);
    else {
      if (key in out) throw new Error(`message key ${key} is defined twice (again in ${file})`);
      out[key] = v;
    }
  }
}

/** Every message of one language, merged from web/i18n/<lang>/*.json. */
export function messages(lang) {
  if (catalogues[lang]) return catalogues[lang];
  const dir = path.join(REPO, 'web/i18n', lang);
  const out = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    flatten(JSON.parse(readFileSync(path.join(dir, f), 'utf8')), '', out, `${lang}/${f}`);
  }
  catalogues[lang] = out;
  return out;
}

/** The text of `key` in `lang` with {placeholders} filled; a missing key fails the test. */
export function t(lang, key, params) {
  const text = messages(lang)[key];
  if (typeof text !== 'string') {
    throw new Error(`no message "${key}" in web/i18n/${lang}/*.json (the e2e suite reads the page's texts from there)`);
  }
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, n) => (n in params ? String(params[n]) : m));
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A RegExp matching the whole text of `key`: {placeholders} given in params are filled,
 * the others match anything. For accessible names that carry a value.
 */
export function name(lang, key, params = {}) {
  const text = t(lang, key);
  const parts = text.split(/(\{\w+\})/).map((part) => {
    const m = /^\{(\w+)\}$/.exec(part);
    if (!m) return escapeRe(part);
    return m[1] in params ? escapeRe(String(params[m[1]])) : '.+?';
  });
  return new RegExp(`^\\s*${parts.join('')}\\s*$`);
}

/** A RegExp finding the text of `key` anywhere in a longer text (placeholders: anything). */
export function contains(lang, key, params = {}) {
  return new RegExp(name(lang, key, params).source.replace(/^\^\\s\*|\\s\*\$$/g, ''));
}

// ---------------------------------------------------------------------------
// The browser and the people using it

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
}

/** Every open page, so a failing step can show what each person saw. */
const openPages = [];

/**
 * A test of a flow: on failure every open page is saved as FAILED-<test>-<who>.png
 * next to the screenshots, and its visible text is added to the error.
 * `skip`: a reason to skip it (node:test's option), e.g. a missing sign-in provider.
 */
export function flow(title, fn, { skip } = {}) {
  test(title, { timeout: TEST_TIMEOUT, skip }, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      const seen = [];
      const slug = title.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
      for (const { page, who } of openPages) {
        if (page.isClosed()) continue;
        const file = path.join(SCREENSHOTS, `FAILED-${slug}-${who.replace(/[^a-z0-9]+/gi, '-')}.png`);
        try {
          mkdirSync(SCREENSHOTS, { recursive: true });
          await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
          const text = await page.locator('body').innerText({ timeout: 5_000 });
          seen.push(`--- ${who} at ${page.url()} (${file}):\n${text.slice(0, 3000)}`);
        } catch (shotError) {
          seen.push(`--- ${who}: no screenshot (${shotError.message})`);
        }
      }
      if (seen.length) {
        const extra = `\n\nWhat the pages showed:\n${seen.join('\n')}`;
        e.message += extra;
        if (typeof e.stack === 'string') e.stack += extra;
      }
      throw e;
    }
  });
}

/** What went wrong inside pages: uncaught errors, CSP violations, failed console errors. */
export const pageProblems = [];

/**
 * A person at their own browser: a fresh context (own cookies, IndexedDB and
 * localStorage), Dutch unless the test switches. Returns {context, page, who}.
 */
export async function person(browser, who, { locale = 'nl-NL' } = {}) {
  const context = await browser.newContext({
    baseURL: BASE,
    locale,
    timezoneId: 'Europe/Amsterdam',
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  context.setDefaultTimeout(UI_TIMEOUT);
  const page = await context.newPage();
  watch(page, who);
  openPages.push({ page, who });
  return { context, page, who };
}

export function watch(page, who) {
  page.on('pageerror', (e) => pageProblems.push(`${who}: uncaught error on ${page.url()}: ${e.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to (load|execute|apply|connect)/i.test(text)) {
      pageProblems.push(`${who}: CSP violation on ${page.url()}: ${text}`);
    }
  });
}

/** Every page a test visited without uncaught errors or CSP violations. */
export function assertNoPageProblems() {
  assert.deepEqual(pageProblems, [], `problems inside the pages:\n  ${pageProblems.join('\n  ')}`);
}

// ---------------------------------------------------------------------------
// Screenshots and accessibility, at every step

let axeSource = null;
export const a11yViolations = [];
export const a11yChecked = [];

/**
 * Runs axe-core in the page (evaluated through DevTools, so the page's CSP stays on)
 * and records every serious or critical violation.
 */
export async function checkA11y(page, label) {
  if (axeSource === null) axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const present = await page.evaluate(() => typeof window.axe === 'object');
  if (!present) await page.evaluate(`${axeSource}\n;void 0`);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')} — ${n.failureSummary.replace(/\s+/g, ' ')}`),
      }));
  });
  a11yChecked.push(label);
  for (const v of result) a11yViolations.push({ page: label, url: page.url(), ...v });
  return result;
}

/** As checkA11y, once per `label` in this file: for pages passed through on the way. */
export async function checkA11yOnce(page, label) {
  if (a11yChecked.includes(label)) return;
  await checkA11y(page, label);
}

/** No serious or critical axe-core violation on any page checked in this file. */
export function assertAccessible() {
  assert.ok(a11yChecked.length > 0, 'no page was checked with axe-core');
  const lines = a11yViolations.map(
    (v) => `${v.page} (${v.url}): ${v.impact} ${v.id}: ${v.help}\n      ${v.nodes.join('\n      ')}`,
  );
  assert.equal(lines.length, 0, `axe-core found serious or critical violations:\n  ${lines.join('\n  ')}`);
}

function nextScreenshotNumber() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return readdirSync(SCREENSHOTS).filter((f) => f.endsWith('.png')).length + 1;
}

/**
 * One step of a flow: a full-page screenshot `<n>-<step>-<lang>.png` and an axe-core
 * check of the page as it is now. Returns the screenshot's path.
 */
export async function step(page, stepName, lang) {
  const n = String(nextScreenshotNumber()).padStart(2, '0');
  const file = path.join(SCREENSHOTS, `${n}-${stepName}-${lang}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await checkA11y(page, `${n}-${stepName}-${lang}`);
  return file;
}

// ---------------------------------------------------------------------------
// The API, for seeding and for checks the browser cannot make

/** fetch against the app; JSON in and out. Returns {status, headers, body}. */
export async function api(method, urlPath, { body, token = ADMIN_TOKEN, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(`${BASE}${urlPath}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** As api(), asserting the status. */
export async function apiOk(method, urlPath, expected, options) {
  const r = await api(method, urlPath, options);
  assert.equal(r.status, expected, `${method} ${urlPath}: expected ${expected}, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The server's time (it can be ahead of ours after advanceClock). */
export async function serverNow() {
  const res = await fetch(CLOCK_URL);
  assert.equal(res.status, 200, 'clock control server');
  return new Date((await res.json()).now);
}

/** Moves the server's clock forward. */
export async function advanceClock(seconds) {
  const res = await fetch(CLOCK_URL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ advance_seconds: seconds }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `advancing the clock: ${text}`);
  return new Date(JSON.parse(text).now);
}

/** RFC 3339 UTC with seconds, no fraction. */
export function rfc3339(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function member(bgNumber) {
  const m = MEMBERS.find((x) => x.bg_number === bgNumber);
  assert.ok(m, `member ${bgNumber} was not seeded by tests/api/web.rs`);
  return m;
}

let invited = 0;

/**
 * Invites a person through POST /api/v1/invitations (admin bearer). Returns the answer
 * {person, invitation: {id, expires_at, link, token}}.
 */
export async function invite({ name: personName, role, member_id, sector }) {
  invited += 1;
  const email = `e2e-${process.pid}-${invited}@example.org`;
  const body = { name: personName, email, role };
  if (member_id) body.member_id = member_id;
  if (sector) body.sector = sector;
  const answer = await apiOk('POST', '/api/v1/invitations', 201, { body });
  assert.ok(answer.invitation && answer.invitation.token, `invitation answer: ${JSON.stringify(answer)}`);
  assert.ok(
    answer.invitation.link.endsWith(`#/invitation/${answer.invitation.token}`),
    `the link ${answer.invitation.link} must end in #/invitation/<token>`,
  );
  return answer;
}

/** The invitation link on this test server (the server's own link may name another host). */
export function linkOn(answer) {
  return `${BASE}/#/invitation/${answer.invitation.token}`;
}

/** Drafts and opens a proposal as admin; returns {id, digest}. */
export async function seedOpenProposal(spec) {
  const draft = await apiOk('POST', '/api/v1/proposals', 201, { body: spec });
  const open = await apiOk('POST', `/api/v1/proposals/${draft.id}/open`, 200, { body: {} });
  return { id: draft.id, digest: open.digest };
}

/** A voting window from the server's now for `minutes` (the suite later moves past it). */
export async function votingWindow(minutes) {
  const now = await serverNow();
  return {
    opens_at: rfc3339(new Date(now.getTime() - 60_000)),
    closes_at: rfc3339(new Date(now.getTime() + minutes * 60_000)),
  };
}

export function screenshotsExist() {
  return existsSync(SCREENSHOTS);
}
