// The app is served by the service itself, with strict security headers, and its first
// page (sign-in, nobody signed in yet) renders in Dutch and in English.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, flow, launch, person, step, t, name, assertAccessible, assertNoPageProblems,
} from './lib.mjs';

/** Content-Security-Policy as {directive: [sources]}. */
function parseCsp(header) {
  const out = {};
  for (const part of header.split(';')) {
    const [d, ...sources] = part.trim().split(/\s+/);
    if (d) out[d.toLowerCase()] = sources;
  }
  return out;
}

/** A header of a fetch Response or of a Playwright Response. */
function header(res, key) {
  return typeof res.headers.get === 'function' ? res.headers.get(key) : res.headers()[key] ?? null;
}

function assertSecurityHeaders(res, what) {
  const csp = header(res, 'content-security-policy');
  assert.ok(csp, `${what}: no Content-Security-Policy`);
  const p = parseCsp(csp);
  const scripts = p['script-src'] || p['default-src'];
  assert.ok(scripts, `${what}: CSP without script-src or default-src: ${csp}`);
  assert.ok(scripts.includes("'self'"), `${what}: script-src must allow 'self': ${csp}`);
  for (const bad of ["'unsafe-eval'", "'unsafe-inline'", '*', 'data:', 'http:', 'https:']) {
    assert.ok(!scripts.includes(bad), `${what}: script-src allows ${bad}: ${csp}`);
  }
  assert.deepEqual(p['frame-ancestors'], ["'none'"], `${what}: frame-ancestors 'none': ${csp}`);
  assert.deepEqual(p['object-src'], ["'none'"], `${what}: object-src 'none': ${csp}`);
  assert.ok(p['default-src'], `${what}: CSP without default-src: ${csp}`);
  assert.equal(header(res, 'x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
  assert.ok(header(res, 'referrer-policy'), `${what}: no Referrer-Policy`);
  const cache = header(res, 'cache-control') || '';
  assert.match(cache, /no-cache|no-store|max-age=0|must-revalidate/, `${what}: Cache-Control must make a new release take effect, got ${JSON.stringify(cache)}`);
}

test('GET / serves the app with strict security headers', async () => {
  const res = await fetch(`${BASE}/`);
  assert.equal(res.status, 200, 'GET /');
  assert.match(res.headers.get('content-type') || '', /^text\/html/);
  assertSecurityHeaders(res, 'GET /');
  const html = await res.text();
  assert.match(html, /<html lang="nl"/, 'Dutch first: <html lang="nl">');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>\s*\S/, 'no inline script in index.html');
  assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'nothing loaded from another site');

  const js = await fetch(`${BASE}/web/app/main.js`);
  assert.equal(js.status, 200, 'GET /web/app/main.js');
  assert.match(js.headers.get('content-type') || '', /javascript/, 'main.js content type');
  assert.equal(js.headers.get('x-content-type-options'), 'nosniff', 'main.js nosniff');
  assert.ok(js.headers.get('etag') || js.headers.get('last-modified'), 'main.js can be revalidated (ETag)');

  const test = await fetch(`${BASE}/web/test/package.json`);
  assert.equal(test.status, 404, 'web/test/ is not served');
  const api = await fetch(`${BASE}/api/v1/me`);
  assert.equal(api.status, 401, 'the API stays under /api/v1 and refuses an anonymous /me');
});

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

flow('the first page renders in Dutch, switches to English and remembers it', async () => {
  const { page } = await person(browser, 'visitor');
  const res = await page.goto('/');
  assertSecurityHeaders(res, 'the page in Chromium');
  await page.getByRole('heading', { level: 1, name: name('nl', 'signin.title') }).waitFor();
  assert.match(await page.title(), new RegExp(t('nl', 'app.name')), 'the page title names the app');
  assert.equal(await page.locator('html').getAttribute('lang'), 'nl');
  await step(page, 'first-page', 'nl');

  const switcher = page.getByRole('group', { name: name('nl', 'lang.switch') });
  await switcher.getByRole('button', { name: name('nl', 'lang.en') }).click();
  await page.getByRole('heading', { level: 1, name: name('en', 'signin.title') }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await step(page, 'first-page', 'en');

  await page.reload();
  await page.getByRole('heading', { level: 1, name: name('en', 'signin.title') }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'en', 'the language is remembered');
  await page.getByRole('group', { name: name('en', 'lang.switch') })
    .getByRole('button', { name: name('en', 'lang.nl') }).click();
  await page.getByRole('heading', { level: 1, name: name('nl', 'signin.title') }).waitFor();
});

test('no uncaught errors or CSP violations, and no serious accessibility violations', () => {
  assertNoPageProblems();
  assertAccessible();
});
