// fmt.js — dates, numbers and amounts for the current language, always through Intl
// (nl-NL or en-GB, from i18n.locale()). Exports:
//   date(iso), dateTime(iso), number(n), percentFromBp(bp), percent(fraction 0..1),
//   fraction("n/d") as a percentage, euroFromCents(cents), timeLeft(isoUntil, now?)
//   paramValue(value, unit) which formats a parameter value by its unit, and chamber(name):
//   a chamber's name from the messages, or the deployment's own name when they have none.
import { locale, t, has } from './i18n.js';

export function date(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'long' }).format(new Date(iso));
}

export function dateTime(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'long', timeStyle: 'short' }).format(new Date(iso));
}

export function number(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

export function percent(x, digits = 1) {
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: digits }).format(x);
}

// Basis points are integers: 250 bp = 2.5 %.
export function percentFromBp(bp) {
  return new Intl.NumberFormat(locale(), { style: 'percent', minimumFractionDigits: 0, maximumFractionDigits: 2 }).format(bp / 10000);
}

// "2/3" -> "66,7 %". The exact fraction is shown next to it by the pages where it matters.
export function fraction(str) {
  const m = /^(\d+)\/(\d+)$/.exec(str || '');
  if (!m || Number(m[2]) === 0) return str || '';
  return percent(Number(m[1]) / Number(m[2]));
}

export function euroFromCents(cents) {
  return new Intl.NumberFormat(locale(), { style: 'currency', currency: 'EUR' }).format(cents / 100);
}

// Parameter units from the proposal spec; unknown units are shown as a plain number and the unit.
export function paramValue(value, unit) {
  if (value === undefined || value === null || value === '') return '';
  switch (unit) {
    case 'basis-points': return percentFromBp(value);
    case 'cents': case 'eurocent': case 'euro-cents': return euroFromCents(value);
    case 'months': return t('unit.months.value', { n: number(value) });
    case 'days': return t('unit.days.value', { n: number(value) });
    default: return `${number(value)} ${unit}`;
  }
}

// "nog 3 dagen" / "3 days left", or an expired text. Uses the largest sensible unit.
export function timeLeft(until, now = Date.now()) {
  const ms = new Date(until).getTime() - now;
  if (ms <= 0) return t('time.ended');
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'always' });
  const min = Math.round(ms / 60000);
  if (min < 60) return rtf.format(Math.max(min, 1), 'minute');
  const h = Math.round(min / 60);
  if (h < 48) return rtf.format(h, 'hour');
  return rtf.format(Math.round(h / 24), 'day');
}

// Chambers come from the deployment's rules; SIVON's have messages, others show as named.
export function chamber(name) {
  return has(`chamber.${name}`) ? t(`chamber.${name}`) : name;
}
