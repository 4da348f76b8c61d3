// signin-outcome.js — where the server sends the browser back to after signing in with a
// provider (OpenID Connect), and what the page says about it. No DOM, no messages: the unit
// tests import it as it is.
//
// The server's callback answers 303 to one of:
//   #/signin/done            a session cookie is set: load /api/v1/me and go home;
//   #/signin/pending         an account nobody designated yet: a request went to the
//                            secretariat;
//   #/signin/failed/<slug>   it did not work; FAILURES lists the slugs the page explains.
//
// Exports:
//   FAILURES                 the failure slugs with a message of their own.
//   outcomeOf(path)          -> null | {kind: 'done'} | {kind: 'pending'} | {kind: 'failed', slug}
//                            for a route path such as '/signin/failed/flow-expired'.
//   failureMessages(slug)    -> {title, text}: message keys for that slug, or for 'unknown'.
//   authorizationTarget(url, base)  the provider's authorization URL as a URL when it is http(s),
//                            else null (the page never navigates to a javascript: or data: URL).

export const FAILURES = [
  'request-rejected',
  'designation-removed',
  'invitation-unusable',
  'account-bound-elsewhere',
  'provider-error',
  'flow-expired',
];

export function outcomeOf(path) {
  const m = /^\/signin\/(done|pending|failed)(?:\/([^/]*))?\/?$/.exec(path || '');
  if (!m) return null;
  const [, kind, rest] = m;
  if (kind === 'failed') {
    let slug = '';
    try {
      slug = decodeURIComponent(rest || '');
    } catch {
      slug = '';
    }
    return { kind, slug };
  }
  if (rest) return null;
  return { kind };
}

export function failureMessages(slug) {
  const known = FAILURES.includes(slug) ? slug : 'unknown';
  return { title: `signin.failed.${known}.title`, text: `signin.failed.${known}.text` };
}

export function authorizationTarget(url, base) {
  let target;
  try {
    target = new URL(url, base);
  } catch {
    return null;
  }
  return target.protocol === 'https:' || target.protocol === 'http:' ? target : null;
}
