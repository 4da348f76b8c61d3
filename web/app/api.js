// api.js — the one way pages talk to the server (contract: "Authentication from the page").
//
// Exports:
//   class ApiProblem extends Error  {status, type, title, detail, errors} — every non-2xx answer;
//                                   errors is the problem's `errors` member (a 422's
//                                   per-field list) when it has one, else null.
//                                   A network failure is an ApiProblem with status 0 and
//                                   type 'urn:mandaat:problem:network'.
//   api.get(path)                   -> parsed JSON (or text for text/plain answers)
//   api.getText(path)               -> response text (checkpoint, log key)
//   api.getBlob(path)               -> Blob (CSV downloads)
//   api.post(path, body?)           -> parsed JSON or null for 204
//   api.patch(path, body) / api.put(path, body) / api.del(path)
//   onUnauthorized(fn)              fn(problem) is called on every 401, so the shell can show
//                                   the sign-in view; the call still throws the ApiProblem.
//   problemText(err)                a translated sentence for an error: the message
//                                   "problem.<slug>" when the message files have it, else the
//                                   generic one; pages show it together with err.detail.
//   fieldOf(err)                    best guess of the spec field a 422 detail is about
//                                   (the text before the first ':' of detail), or null.
//   problemFields(err)              the request-body fields a problem's `errors` names:
//                                   ['member_id', …] from [{field|name|pointer: …}, …],
//                                   ['name', …] or {name: …}; [] when it names none.
//
// Every request: credentials same-origin and the header X-Mandaat-CSRF: 1 (writes by cookie
// without it are refused with 403 urn:mandaat:problem:csrf).
import { has, t } from './i18n.js';

export class ApiProblem extends Error {
  constructor({ status, type, title, detail, errors }) {
    super(detail || title || type || `HTTP ${status}`);
    this.name = 'ApiProblem';
    this.status = status;
    this.type = type || 'about:blank';
    this.title = title || '';
    this.detail = detail || '';
    this.errors = errors && typeof errors === 'object' ? errors : null;
  }
  get slug() {
    return this.type.startsWith('urn:mandaat:problem:') ? this.type.slice('urn:mandaat:problem:'.length) : '';
  }
}

const unauthorizedListeners = new Set();
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

async function problemFrom(res) {
  let body = null;
  const ct = res.headers.get('content-type') || '';
  try {
    if (ct.includes('json')) body = await res.json();
    else body = { detail: (await res.text()).slice(0, 500) };
  } catch {
    body = null;
  }
  return new ApiProblem({
    status: res.status,
    type: body && body.type,
    title: (body && body.title) || res.statusText,
    detail: body && body.detail,
    errors: body && body.errors,
  });
}

async function request(method, path, { body, accept = 'application/json' } = {}) {
  const headers = { 'X-Mandaat-CSRF': '1', Accept: accept };
  const init = { method, credentials: 'same-origin', headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiProblem({ status: 0, type: 'urn:mandaat:problem:network', title: 'Network', detail: String(e && e.message || e) });
  }
  if (!res.ok) {
    const problem = await problemFrom(res);
    if (res.status === 401) for (const fn of unauthorizedListeners) fn(problem);
    throw problem;
  }
  return res;
}

async function parsed(res) {
  if (res.status === 204) return null;
  const ct = res.headers.get('content-type') || '';
  if (ct.includes('json')) return res.json();
  return res.text();
}

export const api = {
  get: async (path) => parsed(await request('GET', path)),
  getText: async (path) => (await request('GET', path, { accept: 'text/plain, */*' })).text(),
  getBlob: async (path) => (await request('GET', path, { accept: '*/*' })).blob(),
  post: async (path, body) => parsed(await request('POST', path, { body })),
  patch: async (path, body) => parsed(await request('PATCH', path, { body })),
  put: async (path, body) => parsed(await request('PUT', path, { body })),
  del: async (path) => parsed(await request('DELETE', path)),
};

export function problemText(err) {
  if (err instanceof ApiProblem) {
    const key = `problem.${err.slug}`;
    if (err.slug && has(key)) return t(key);
    if (err.status === 0) return t('problem.network');
    if (err.status === 403) return t('problem.forbidden');
    if (err.status === 404) return t('problem.not-found');
    return t('problem.generic', { status: err.status });
  }
  return t('problem.unexpected');
}

export function fieldOf(err) {
  if (!(err instanceof ApiProblem) || !err.detail) return null;
  const m = /^([a-z_][\w.[\]-]*)\s*:/i.exec(err.detail);
  return m ? m[1] : null;
}

export function problemFields(err) {
  const errors = err && err.errors;
  if (!errors || typeof errors !== 'object') return [];
  const entries = Array.isArray(errors) ? errors : Object.keys(errors);
  return entries
    .map((e) => (typeof e === 'string' ? e : e && (e.field || e.name || e.pointer || e.path)))
    .filter((x) => typeof x === 'string')
    // A JSON pointer "/member_id" or "#/member_id" names the member it starts with.
    .map((x) => x.replace(/^#?\//, '').split(/[/.[]/)[0])
    .filter(Boolean);
}
