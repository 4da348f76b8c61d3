// i18n.js — every visible text comes from web/i18n/<lang>/<bundle>.json.
//
// Exports:
//   LANGUAGES                 ['nl', 'en']; nl is the default.
//   initI18n()                -> Promise: loads the remembered language (localStorage
//                                'mandaat.lang'), sets <html lang>. Call once before rendering.
//   setLanguage(lang)         -> Promise: loads that language, remembers it, sets <html lang>,
//                                then calls every onLanguageChange listener.
//   onLanguageChange(fn)      -> unsubscribe function.
//   currentLanguage()         'nl' | 'en'.
//   locale()                  'nl-NL' | 'en-GB' (for Intl; fmt.js uses it).
//   t(key, params?)           the message for a flat key such as "keys.register.button", with
//                             {name} placeholders replaced from params. A missing key shows
//                             the key itself (and warns once in the console) so it is noticed.
//   has(key)                  whether the current language has that key.
//   plural(key, count, params?) the message `<key>.<category>` for count, the category chosen
//                             by Intl.PluralRules for the current locale ('one', 'other', …;
//                             falls back to `<key>.other`), with {count} the number formatted
//                             for the locale plus any other params. E.g. "receipt.entries.one":
//                             "{count} entry", "receipt.entries.other": "{count} entries".
//
// Bundles: common and board (shell), admin (admin helper). All three are merged into one
// flat table per language; keys must therefore be unique across bundles.
const BUNDLES = ['common', 'board', 'admin'];
export const LANGUAGES = ['nl', 'en'];
const LOCALES = { nl: 'nl-NL', en: 'en-GB' };
const STORAGE_KEY = 'mandaat.lang';

let lang = 'nl';
let messages = {};
const listeners = new Set();
const warned = new Set();

async function loadBundle(l, bundle) {
  const url = new URL(`../i18n/${l}/${bundle}.json`, import.meta.url);
  const res = await fetch(url, { credentials: 'same-origin' });
  // A bundle that is not there yet (e.g. admin.json during development) must not break the app.
  if (!res.ok) return {};
  return res.json();
}

async function load(l) {
  const parts = await Promise.all(BUNDLES.map((b) => loadBundle(l, b)));
  messages = Object.assign({}, ...parts);
  lang = l;
  document.documentElement.lang = l;
}

function remembered() {
  try {
    const l = localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(l) ? l : 'nl';
  } catch {
    return 'nl';
  }
}

export async function initI18n() {
  await load(remembered());
}

export async function setLanguage(l) {
  if (!LANGUAGES.includes(l)) return;
  await load(l);
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {
    // Private mode may refuse storage; the switch still works for this visit.
  }
  for (const fn of listeners) fn(l);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function currentLanguage() {
  return lang;
}

export function locale() {
  return LOCALES[lang];
}

export function has(key) {
  return Object.prototype.hasOwnProperty.call(messages, key);
}

export function t(key, params) {
  let text = messages[key];
  if (typeof text !== 'string') {
    if (!warned.has(key)) {
      warned.add(key);
      console.warn(`i18n: no "${key}" in ${lang}`);
    }
    return key;
  }
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }
  return text;
}

const pluralRules = new Map();

export function plural(key, count, params) {
  const loc = locale();
  if (!pluralRules.has(loc)) pluralRules.set(loc, new Intl.PluralRules(loc));
  const exact = `${key}.${pluralRules.get(loc).select(count)}`;
  const all = { ...params, count: new Intl.NumberFormat(loc).format(count) };
  return t(has(exact) ? exact : `${key}.other`, all);
}
