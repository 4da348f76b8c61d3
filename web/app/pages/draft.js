// Draft a proposal (#/proposals/new) or edit a draft (#/proposals/:id/edit): boards and admins.
// The form mirrors the spec of docs/voting.md §1 and checks what it can before sending, but the
// API decides: a refused POST/PATCH is shown at the field its detail concerns and in the error
// summary at the top, which takes focus.
import {
  html, useState, useEffect, useMemo, PageTitle, Loading, ErrorBox, ErrorSummary, Field,
  describedBy, useTitle, announce,
} from '../ui.js';
import { t } from '../i18n.js';
import { api, ApiProblem, problemText } from '../api.js';
import { href, navigate } from '../router.js';
import * as fmt from '../fmt.js';


const MAX_DAYS = 30;
const MAX_OPTIONS = 20;
const MAX_PARAMETERS = 10;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const IDENT = /^[a-z0-9_-]{1,40}$/;
const INTEGER = /^-?\d+$/;
const KINDS = ['resolution', 'mandate', 'priority'];
const SECTORS = ['PO', 'VO'];
const LOCATIONS = ['NL', 'EU', 'EEA'];
const UNITS = ['basis-points', 'cents', 'months', 'days'];
const QUORUMS = ['0/1', '1/4', '1/3', '1/2', '2/3'];
const MAJORITIES = {
  simple: { kind: 'more-than', fraction: '1/2' },
  qualified: { kind: 'at-least', fraction: '2/3' },
};

let seq = 0;
const key = () => `k${++seq}`;

// ---------- times: <input type="datetime-local"> is local time; the spec is UTC ----------

const pad = (n) => String(n).padStart(2, '0');

function toLocalInput(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function fromLocalInput(value) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value || '')) return null;
  const d = new Date(value); // a date-time without zone is local time
  return Number.isNaN(d.getTime()) ? null : d;
}

// RFC 3339 UTC with seconds, no fraction.
function utc(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function defaultWindow() {
  const open = new Date();
  open.setDate(open.getDate() + 1);
  open.setHours(9, 0, 0, 0);
  const close = new Date(open);
  close.setDate(close.getDate() + 14);
  close.setHours(17, 0, 0, 0);
  return { opensAt: toLocalInput(open), closesAt: toLocalInput(close) };
}

// ---------- form state <-> spec ----------

const blankParam = () => ({ key: key(), name: '', nameEdited: false, label: '', unit: 'basis-points', unitOther: '', min: '', max: '' });
const blankOption = () => ({ key: key(), id: '', idEdited: false, label: '' });
const blankModule = () => ({ key: key(), value: '' });

// An identifier proposed from a label: lower case, a-z 0-9 and '-', at most 40 characters.
function slug(label) {
  return (label || '')
    .normalize('NFD').replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
}

function initialForm(me) {
  const sectors = me && me.member && me.member.sectors && me.member.sectors.length ? me.member.sectors : SECTORS;
  return {
    title: '',
    description: '',
    kind: 'resolution',
    supplier: '',
    product: '',
    modules: [],
    privacy: true,
    dpa: '4.0',
    location: 'EU',
    noSecondary: true,
    subListed: true,
    maxTerm: '',
    params: [blankParam()],
    options: [blankOption(), blankOption()],
    sectors: Object.fromEntries(SECTORS.map((s) => [s, sectors.includes(s)])),
    weighting: 'one-member-one-vote',
    quorum: '0/1',
    quorumN: '',
    quorumD: '',
    majority: 'simple',
    majorityKind: 'more-than',
    majorityN: '',
    majorityD: '',
    chamberRule: false,
    ...defaultWindow(),
  };
}

function splitFraction(f) {
  const m = /^(\d+)\/(\d+)$/.exec(f || '');
  return m ? [m[1], m[2]] : ['', ''];
}

function formFromSpec(spec, me) {
  const f = initialForm(me);
  f.title = spec.title || '';
  f.description = spec.description || '';
  f.kind = spec.kind;
  if (spec.kind === 'mandate' && spec.mandate) {
    const m = spec.mandate;
    const d = m.demands || {};
    f.supplier = m.supplier || '';
    f.product = m.product || '';
    f.modules = (d.modular_licensing || []).map((value) => ({ key: key(), value }));
    f.privacy = !!d.privacy;
    if (d.privacy) {
      f.dpa = d.privacy.model_dpa_version;
      f.location = d.privacy.data_location;
      f.noSecondary = d.privacy.no_secondary_use;
      f.subListed = d.privacy.sub_processors_listed;
    }
    f.maxTerm = d.max_term_months != null ? String(d.max_term_months) : '';
    f.params = (m.parameters || []).map((p) => ({
      key: key(),
      name: p.name,
      nameEdited: true,
      label: p.label,
      unit: UNITS.includes(p.unit) ? p.unit : 'other',
      unitOther: UNITS.includes(p.unit) ? '' : p.unit,
      min: String(p.min),
      max: String(p.max),
    }));
  }
  if (spec.kind === 'priority' && spec.priority) {
    f.options = spec.priority.options.map((o) => ({ key: key(), id: o.id, idEdited: true, label: o.label }));
  }
  const e = spec.electorate;
  f.sectors = Object.fromEntries(SECTORS.map((s) => [s, e.sectors.includes(s)]));
  f.weighting = e.weighting;
  if (QUORUMS.includes(e.quorum)) f.quorum = e.quorum;
  else [f.quorum, f.quorumN, f.quorumD] = ['custom', ...splitFraction(e.quorum)];
  const preset = Object.entries(MAJORITIES).find(([, v]) => v.kind === e.majority.kind && v.fraction === e.majority.fraction);
  if (preset) f.majority = preset[0];
  else {
    f.majority = 'custom';
    f.majorityKind = e.majority.kind;
    [f.majorityN, f.majorityD] = splitFraction(e.majority.fraction);
  }
  f.chamberRule = !!e.chamber_rule;
  f.opensAt = toLocalInput(new Date(spec.opens_at));
  f.closesAt = toLocalInput(new Date(spec.closes_at));
  return f;
}

const unitOf = (p) => (p.unit === 'other' ? p.unitOther.trim() : p.unit);
const quorumOf = (f) => (f.quorum === 'custom' ? `${f.quorumN.trim()}/${f.quorumD.trim()}` : f.quorum);
function majorityOf(f) {
  if (f.kind === 'priority') return MAJORITIES.simple; // not used by a priority, but required
  if (f.majority === 'custom') return { kind: f.majorityKind, fraction: `${f.majorityN.trim()}/${f.majorityD.trim()}` };
  return MAJORITIES[f.majority];
}

// Builds the spec from the form; numbers that do not parse are sent as they are typed, so the
// API (the authority) can still name them when the page's own check is bypassed.
function specOf(f) {
  const num = (s) => (INTEGER.test(s.trim()) ? Number(s.trim()) : s.trim());
  const opens = fromLocalInput(f.opensAt);
  const closes = fromLocalInput(f.closesAt);
  const spec = {
    title: f.title,
    description: f.description,
    kind: f.kind,
    electorate: {
      sectors: SECTORS.filter((s) => f.sectors[s]),
      weighting: f.weighting,
      quorum: quorumOf(f),
      majority: majorityOf(f),
      chamber_rule: f.kind === 'priority' ? false : f.chamberRule,
    },
    opens_at: opens ? utc(opens) : f.opensAt,
    closes_at: closes ? utc(closes) : f.closesAt,
  };
  if (f.kind === 'mandate') {
    const demands = {};
    const modules = f.modules.map((m) => m.value).filter((v) => v.trim() !== '');
    if (modules.length) demands.modular_licensing = modules;
    if (f.privacy) {
      demands.privacy = {
        model_dpa_version: f.dpa,
        data_location: f.location,
        no_secondary_use: f.noSecondary,
        sub_processors_listed: f.subListed,
      };
    }
    if (f.maxTerm.trim() !== '') demands.max_term_months = num(f.maxTerm);
    spec.mandate = {
      supplier: f.supplier,
      product: f.product,
      demands,
      parameters: f.params.map((p) => ({ name: p.name, label: p.label, unit: unitOf(p), min: num(p.min), max: num(p.max) })),
    };
  }
  if (f.kind === 'priority') {
    spec.priority = { options: f.options.map((o) => ({ id: o.id, label: o.label })) };
  }
  return spec;
}

// ---------- validation (the same rules as the server, docs/voting.md §1) ----------

const textOk = (s, max) => {
  const n = [...(s || '').trim()].length;
  // eslint-disable-next-line no-control-regex
  return n > 0 && n <= max && !/[\u0000-\u001f\u007f-\u009f]/.test(s);
};

function fractionOk(n, d) {
  if (!/^\d+$/.test(n) || !/^\d+$/.test(d)) return false;
  const [a, b] = [Number(n), Number(d)];
  return b > 0 && a <= b && b <= 1000000;
}

// Returns {fieldId: message} in the order the fields appear on the page.
function validate(f) {
  const e = {};
  if (!textOk(f.title, 200)) e['draft-title'] = t('draft.error.title');
  if ([...f.description].length > 20000) e['draft-description'] = t('draft.error.description');
  if (f.kind === 'mandate') {
    if (!textOk(f.supplier, 200)) e['draft-supplier'] = t('draft.error.supplier');
    if (!textOk(f.product, 200)) e['draft-product'] = t('draft.error.product');
    f.modules.forEach((m, i) => {
      if (m.value.trim() !== '' && !textOk(m.value, 200)) e[`draft-module-${i}`] = t('draft.error.module');
    });
    if (f.privacy && !textOk(f.dpa, 20)) e['draft-dpa'] = t('draft.error.dpa');
    if (f.maxTerm.trim() !== '' && (!/^\d+$/.test(f.maxTerm.trim()) || Number(f.maxTerm) < 1 || Number(f.maxTerm) > 4294967295)) {
      e['draft-max-term'] = t('draft.error.max-term');
    }
    if (f.params.length > MAX_PARAMETERS) e['draft-add-param'] = t('draft.error.param-count', { max: MAX_PARAMETERS });
    const seen = new Set();
    f.params.forEach((p, i) => {
      const id = `draft-param-${i}`;
      if (!IDENT.test(p.name)) e[`${id}-name`] = t('draft.error.ident');
      else if (seen.has(p.name)) e[`${id}-name`] = t('draft.error.ident-twice', { id: p.name });
      seen.add(p.name);
      if (!textOk(p.label, 200)) e[`${id}-label`] = t('draft.error.param-label');
      if (p.unit === 'other' && !textOk(p.unitOther, 40)) e[`${id}-unit-other`] = t('draft.error.param-unit');
      const minOk = INTEGER.test(p.min.trim()) && Math.abs(Number(p.min)) <= MAX_SAFE;
      const maxOk = INTEGER.test(p.max.trim()) && Math.abs(Number(p.max)) <= MAX_SAFE;
      if (!minOk) e[`${id}-min`] = t('draft.error.integer');
      if (!maxOk) e[`${id}-max`] = t('draft.error.integer');
      if (minOk && maxOk && Number(p.min) > Number(p.max)) e[`${id}-max`] = t('draft.error.min-max');
    });
  }
  if (f.kind === 'priority') {
    if (f.options.length < 2 || f.options.length > MAX_OPTIONS) e['draft-add-option'] = t('draft.error.option-count', { max: MAX_OPTIONS });
    const seen = new Set();
    f.options.forEach((o, i) => {
      const id = `draft-option-${i}`;
      if (!textOk(o.label, 200)) e[`${id}-label`] = t('draft.error.option-label');
      if (!IDENT.test(o.id)) e[`${id}-id`] = t('draft.error.ident');
      else if (seen.has(o.id)) e[`${id}-id`] = t('draft.error.ident-twice', { id: o.id });
      seen.add(o.id);
    });
  }
  if (!SECTORS.some((s) => f.sectors[s])) e[`draft-sector-${SECTORS[0]}`] = t('draft.error.sectors');
  if (f.quorum === 'custom' && !fractionOk(f.quorumN.trim(), f.quorumD.trim())) e['draft-quorum-n'] = t('draft.error.fraction');
  if (f.kind !== 'priority' && f.majority === 'custom' && !fractionOk(f.majorityN.trim(), f.majorityD.trim())) {
    e['draft-majority-n'] = t('draft.error.fraction');
  }
  const opens = fromLocalInput(f.opensAt);
  const closes = fromLocalInput(f.closesAt);
  if (!opens) e['draft-opens'] = t('draft.error.datetime');
  if (!closes) e['draft-closes'] = t('draft.error.datetime');
  if (opens && closes && (closes <= opens || closes - opens > MAX_DAYS * 86400000)) {
    e['draft-closes'] = t('draft.error.window', { days: MAX_DAYS });
  }
  return e;
}

// Which field a problem from the API is about, from its detail (the server's messages of
// ProposalError, src/domain/proposal.rs). Returns [fieldId, translated message] or null.
function fieldOfProblem(problem, f) {
  const d = problem.detail || '';
  const spec = specOf(f);
  const params = f.kind === 'mandate' ? f.params : [];
  const options = f.kind === 'priority' ? f.options : [];
  let m;
  const simple = [
    [/^title must/, 'draft-title', 'draft.error.title'],
    [/^description must/, 'draft-description', 'draft.error.description'],
    [/^supplier must/, 'draft-supplier', 'draft.error.supplier'],
    [/^product must/, 'draft-product', 'draft.error.product'],
    [/^model_dpa_version must/, 'draft-dpa', 'draft.error.dpa'],
    [/max_term_months/, 'draft-max-term', 'draft.error.max-term'],
    [/at least one sector/, `draft-sector-${SECTORS[0]}`, 'draft.error.sectors'],
    [/voting window/, 'draft-closes', 'draft.error.window'],
    [/priority needs \d+ to \d+ options/, 'draft-add-option', 'draft.error.option-count'],
    [/at most \d+ parameters/, 'draft-add-param', 'draft.error.param-count'],
    [/opens_at/, 'draft-opens', 'draft.error.datetime'],
    [/closes_at/, 'draft-closes', 'draft.error.datetime'],
  ];
  for (const [re, id, msg] of simple) {
    if (re.test(d)) return [id, t(msg, { days: MAX_DAYS, max: /option/.test(msg) ? MAX_OPTIONS : MAX_PARAMETERS })];
  }
  const firstBad = (list, test) => list.findIndex((x) => !test(x));
  if (/^parameter label must/.test(d)) {
    const i = firstBad(params, (p) => textOk(p.label, 200));
    if (i >= 0) return [`draft-param-${i}-label`, t('draft.error.param-label')];
  }
  if (/^parameter unit must/.test(d)) {
    const i = firstBad(params, (p) => textOk(unitOf(p), 40));
    if (i >= 0) return [params[i].unit === 'other' ? `draft-param-${i}-unit-other` : `draft-param-${i}-unit`, t('draft.error.param-unit')];
  }
  if (/^module must/.test(d)) {
    const i = firstBad(f.modules, (x) => x.value.trim() === '' || textOk(x.value, 200));
    if (i >= 0) return [`draft-module-${i}`, t('draft.error.module')];
  }
  if (/^option label must/.test(d)) {
    const i = firstBad(options, (o) => textOk(o.label, 200));
    if (i >= 0) return [`draft-option-${i}-label`, t('draft.error.option-label')];
  }
  if ((m = /^"(.*)" is not an identifier/.exec(d))) {
    const i = params.findIndex((p) => p.name === m[1]);
    if (i >= 0) return [`draft-param-${i}-name`, t('draft.error.ident')];
    const j = options.findIndex((o) => o.id === m[1]);
    if (j >= 0) return [`draft-option-${j}-id`, t('draft.error.ident')];
  }
  if ((m = /^identifier "(.*)" is used twice/.exec(d))) {
    const i = params.findIndex((p, k) => p.name === m[1] && params.findIndex((q) => q.name === m[1]) < k);
    if (i >= 0) return [`draft-param-${i}-name`, t('draft.error.ident-twice', { id: m[1] })];
    const j = options.findIndex((o, k) => o.id === m[1] && options.findIndex((q) => q.id === m[1]) < k);
    if (j >= 0) return [`draft-option-${j}-id`, t('draft.error.ident-twice', { id: m[1] })];
  }
  if ((m = /^parameter "(.*)": minimum/.exec(d))) {
    const i = params.findIndex((p) => p.name === m[1]);
    if (i >= 0) return [`draft-param-${i}-max`, t('draft.error.min-max')];
  }
  if ((m = /^"(.*)" is not a fraction/.exec(d))) {
    if (m[1] === spec.electorate.quorum) return [f.quorum === 'custom' ? 'draft-quorum-n' : 'draft-quorum', t('draft.error.fraction')];
    if (m[1] === spec.electorate.majority.fraction) return [f.majority === 'custom' ? 'draft-majority-n' : 'draft-majority', t('draft.error.fraction')];
  }
  return null;
}

// The name of a field as the error summary says it, e.g. "Parameter 2, Maximum".
function labelFor(id) {
  let m;
  if ((m = /^draft-param-(\d+)-(label|name|unit|unit-other|min|max)$/.exec(id))) {
    const field = { label: 'param-label', name: 'param-name', unit: 'param-unit', 'unit-other': 'param-unit-other', min: 'param-min', max: 'param-max' }[m[2]];
    return `${t('draft.param.legend', { n: Number(m[1]) + 1 })}, ${t(`draft.field.${field}`)}`;
  }
  if ((m = /^draft-option-(\d+)-(label|id)$/.exec(id))) {
    return `${t('draft.option.legend', { n: Number(m[1]) + 1 })}, ${t(`draft.field.option-${m[2]}`)}`;
  }
  if ((m = /^draft-module-(\d+)$/.exec(id))) return t('draft.field.module', { n: Number(m[1]) + 1 });
  const fixed = {
    'draft-title': 'title', 'draft-description': 'description', 'draft-supplier': 'supplier', 'draft-product': 'product',
    'draft-dpa': 'dpa', 'draft-max-term': 'max-term', 'draft-add-param': 'params', 'draft-add-option': 'options',
    'draft-quorum': 'quorum', 'draft-quorum-n': 'quorum', 'draft-majority': 'majority', 'draft-majority-n': 'majority',
    'draft-opens': 'opens', 'draft-closes': 'closes',
  };
  if (id.startsWith('draft-sector-')) return t('draft.field.sectors');
  return fixed[id] ? t(`draft.field.${fixed[id]}`) : '';
}

// ---------- small pieces ----------

function Check({ id, label, hint, checked, onChange, error }) {
  return html`<div class=${`field checkbox${error ? ' field-error' : ''}`}>
    <input type="checkbox" id=${id} checked=${checked} onChange=${(e) => onChange(e.currentTarget.checked)}
      aria-describedby=${describedBy(id, { hint, error })} aria-invalid=${error ? 'true' : undefined} />
    <label for=${id}>${label}</label>
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
    ${error ? html`<p class="error-text" id=${`${id}-error`}><span class="visually-hidden">${t('common.error')}: </span>${error}</p>` : null}
  </div>`;
}

// A group of radio buttons in a fieldset; the first button carries the error id.
function Radios({ name, legend, hint, value, choices, onChange, error }) {
  const first = `${name}-${choices[0][0]}`;
  return html`<fieldset class=${`field radios${error ? ' field-error' : ''}`} aria-describedby=${describedBy(first, { hint, error })}>
    <legend>${legend}</legend>
    ${hint ? html`<p class="hint" id=${`${first}-hint`}>${hint}</p>` : null}
    ${error ? html`<p class="error-text" id=${`${first}-error`}><span class="visually-hidden">${t('common.error')}: </span>${error}</p>` : null}
    ${choices.map(([v, label, explain]) => {
      const id = `${name}-${v}`;
      return html`<div class="radio explained">
        <input type="radio" id=${id} name=${name} value=${v} checked=${value === v}
          onChange=${() => onChange(v)} aria-describedby=${explain ? `${id}-explain` : undefined} />
        <label for=${id}>${label}</label>
        ${explain ? html`<p class="hint" id=${`${id}-explain`}>${explain}</p>` : null}
      </div>`;
    })}
  </fieldset>`;
}

function Text({ id, label, hint, error, value, onInput, ...rest }) {
  return html`<${Field} id=${id} label=${label} hint=${hint} error=${error}>
    <input id=${id} type="text" value=${value} onInput=${(e) => onInput(e.currentTarget.value)}
      aria-describedby=${describedBy(id, { hint, error })} aria-invalid=${error ? 'true' : undefined} ...${rest} />
  <//>`;
}

// "3000" in basis points -> "30 %", for the hint next to a parameter's range.
function rangePreview(p) {
  const unit = unitOf(p);
  const ok = (s) => INTEGER.test(s.trim()) && Math.abs(Number(s)) <= MAX_SAFE;
  if (!ok(p.min) || !ok(p.max) || !unit) return null;
  return t('draft.param.range-preview', { min: fmt.paramValue(Number(p.min), unit), max: fmt.paramValue(Number(p.max), unit) });
}

function windowPreview(f) {
  const opens = fromLocalInput(f.opensAt);
  const closes = fromLocalInput(f.closesAt);
  if (!opens || !closes || closes <= opens) return null;
  const days = (closes - opens) / 86400000;
  return t('draft.window.preview', {
    opens: fmt.dateTime(utc(opens)),
    closes: fmt.dateTime(utc(closes)),
    days: fmt.number(Math.round(days * 10) / 10),
    opensUtc: utc(opens),
    closesUtc: utc(closes),
  });
}

// The electorate's rules in one paragraph of plain words.
function electorateInWords(f) {
  const parts = [];
  const sectors = SECTORS.filter((s) => f.sectors[s]);
  if (sectors.length) parts.push(t('draft.words.sectors', { sectors: sectors.map((s) => t(`sector.${s}`)).join(t('draft.words.and')) }));
  parts.push(t(`draft.words.weighting.${f.weighting}`));
  const q = quorumOf(f);
  const [qn, qd] = splitFraction(q);
  if (qn !== '' && fractionOk(qn, qd)) {
    parts.push(Number(qn) === 0 ? t('draft.words.no-quorum') : t('draft.words.quorum', { pct: fmt.fraction(q), fraction: q }));
  }
  if (f.kind === 'priority') {
    parts.push(t('draft.words.priority'));
  } else {
    const maj = majorityOf(f);
    const [mn, md] = splitFraction(maj.fraction);
    if (mn !== '' && fractionOk(mn, md)) {
      parts.push(t(`draft.words.majority.${maj.kind}`, { pct: fmt.fraction(maj.fraction), fraction: maj.fraction }));
    }
    if (f.chamberRule) parts.push(t('draft.words.chamber-rule'));
  }
  return parts.join(' ');
}

// ---------- the page ----------

export function DraftPage({ me, params }) {
  const editing = !!(params && params.id);
  const [form, setForm] = useState(() => initialForm(me));
  const [loaded, setLoaded] = useState(!editing);
  const [loadError, setLoadError] = useState(null);
  const [status, setStatus] = useState(null);
  const [errors, setErrors] = useState({});
  const [summary, setSummary] = useState([]);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);

  useTitle(editing ? t('draft.title.edit') : t('draft.title.new'));

  useEffect(() => {
    if (!editing) return undefined;
    let live = true;
    api.get(`/api/v1/proposals/${encodeURIComponent(params.id)}`).then(
      (p) => {
        if (!live) return;
        setStatus(p.status);
        setForm(formFromSpec(p.spec, me));
        setLoaded(true);
      },
      (err) => live && setLoadError(err),
    );
    return () => { live = false; };
  }, [editing, params && params.id]);

  const set = (patch) => setForm((f) => ({ ...f, ...patch }));
  const setItem = (list, i, patch) => setForm((f) => ({ ...f, [list]: f[list].map((x, k) => (k === i ? { ...x, ...patch } : x)) }));
  const removeItem = (list, i, focusId) => {
    setForm((f) => ({ ...f, [list]: f[list].filter((_, k) => k !== i) }));
    setTimeout(() => { const el = document.getElementById(focusId); if (el) el.focus(); }, 0);
  };
  const addItem = (list, blank, focusId) => {
    setForm((f) => ({ ...f, [list]: [...f[list], blank()] }));
    setTimeout(() => { const el = document.getElementById(focusId); if (el) el.focus(); }, 0);
  };
  const moveOption = (i, delta) => {
    const j = i + delta;
    setForm((f) => {
      if (j < 0 || j >= f.options.length) return f;
      const options = [...f.options];
      [options[i], options[j]] = [options[j], options[i]];
      return { ...f, options };
    });
    setTimeout(() => {
      const el = document.getElementById(`draft-option-${j}-${delta < 0 ? 'up' : 'down'}`);
      const fallback = document.getElementById(`draft-option-${j}-label`);
      (el && !el.disabled ? el : fallback)?.focus();
    }, 0);
    announce(t('draft.option.moved', { n: j + 1 }));
  };

  const showErrors = (map, extra) => {
    setErrors(map);
    const list = Object.entries(map).map(([id, text]) => ({ id, text: html`${labelFor(id)}: ${text}` }));
    if (extra) list.unshift(extra);
    setSummary(list);
  };

  const submit = async (ev) => {
    ev.preventDefault();
    setProblem(null);
    const local = validate(form);
    if (Object.keys(local).length) {
      showErrors(local);
      return;
    }
    setBusy(true);
    try {
      const spec = specOf(form);
      const saved = editing
        ? await api.patch(`/api/v1/proposals/${encodeURIComponent(params.id)}`, spec)
        : await api.post('/api/v1/proposals', spec);
      showErrors({});
      announce(t('draft.saved'));
      navigate(`/proposals/${saved.id}`);
    } catch (err) {
      setBusy(false);
      if (!(err instanceof ApiProblem) || err.status === 401) {
        setProblem(err);
        return;
      }
      const at = err.status === 422 || err.status === 400 ? fieldOfProblem(err, form) : null;
      const detail = err.detail ? html` <span class="error-detail" lang="en">(${err.detail})</span>` : null;
      if (at) {
        const [id, text] = at;
        showErrors({ [id]: html`${text}${detail}` });
      } else {
        showErrors({}, { id: null, text: html`${problemText(err)}${detail}` });
      }
    }
  };

  if (!me || (me.role !== 'board' && me.role !== 'admin')) {
    return html`<section><${PageTitle}>${t('draft.title.new')}<//><p>${t('draft.boards-only')}</p></section>`;
  }
  if (loadError) {
    return html`<section><${PageTitle}>${t('draft.title.edit')}<//><${ErrorBox} error=${loadError} /></section>`;
  }
  if (!loaded) return html`<section><${PageTitle}>${t('draft.title.edit')}<//><${Loading} /></section>`;
  if (editing && status && status !== 'draft') {
    return html`<section>
      <${PageTitle}>${t('draft.title.edit')}<//>
      <p>${t('draft.not-draft', { status: t(`status.${status}`) })}</p>
      <p><a href=${href(`/proposals/${params.id}`)}>${t('draft.to-proposal')}</a></p>
    </section>`;
  }

  const f = form;
  const err = (id) => errors[id];
  const kindChoices = KINDS.map((k) => [k, t(`draft.kind.${k}`), t(`draft.kind.${k}.explain`)]);

  return html`<section class="draft">
    <${PageTitle}>${editing ? t('draft.title.edit') : t('draft.title.new')}<//>
    <p class="lead">${editing ? t('draft.intro.edit') : t('draft.intro.new')}</p>
    <${ErrorSummary} errors=${summary} />
    <form novalidate onSubmit=${submit}>
      <fieldset class="section">
        <legend><h2>${t('draft.section.what')}</h2></legend>
        <${Text} id="draft-title" label=${t('draft.field.title')} hint=${t('draft.field.title.hint')}
          value=${f.title} onInput=${(v) => set({ title: v })} error=${err('draft-title')} maxlength="200" />
        <${Field} id="draft-description" label=${t('draft.field.description')} hint=${t('draft.field.description.hint')} error=${err('draft-description')}>
          <textarea id="draft-description" rows="6" value=${f.description} onInput=${(e) => set({ description: e.currentTarget.value })}
            aria-describedby=${describedBy('draft-description', { hint: true, error: err('draft-description') })}
            aria-invalid=${err('draft-description') ? 'true' : undefined}></textarea>
        <//>
        <${Radios} name="draft-kind" legend=${t('draft.field.kind')} value=${f.kind} choices=${kindChoices}
          onChange=${(v) => set({ kind: v })} />
      </fieldset>

      ${f.kind === 'mandate' ? html`<${MandateSection} f=${f} set=${set} setItem=${setItem} addItem=${addItem} removeItem=${removeItem} err=${err} />` : null}
      ${f.kind === 'priority' ? html`<${PrioritySection} f=${f} setItem=${setItem} addItem=${addItem} removeItem=${removeItem} moveOption=${moveOption} err=${err} />` : null}

      <fieldset class="section">
        <legend><h2>${t('draft.section.electorate')}</h2></legend>
        <p class="hint">${t('draft.electorate.intro')}</p>
        <fieldset class=${`field checkboxes${err(`draft-sector-${SECTORS[0]}`) ? ' field-error' : ''}`}>
          <legend>${t('draft.field.sectors')}</legend>
          <p class="hint" id="draft-sectors-hint">${t('draft.field.sectors.hint')}</p>
          ${err(`draft-sector-${SECTORS[0]}`) ? html`<p class="error-text" id=${`draft-sector-${SECTORS[0]}-error`}><span class="visually-hidden">${t('common.error')}: </span>${err(`draft-sector-${SECTORS[0]}`)}</p>` : null}
          ${SECTORS.map((s, i) => html`<div class="checkbox">
            <input type="checkbox" id=${`draft-sector-${s}`} checked=${f.sectors[s]}
              onChange=${(e) => set({ sectors: { ...f.sectors, [s]: e.currentTarget.checked } })}
              aria-describedby=${i === 0 && err(`draft-sector-${s}`) ? `draft-sectors-hint draft-sector-${s}-error` : 'draft-sectors-hint'}
              aria-invalid=${i === 0 && err(`draft-sector-${s}`) ? 'true' : undefined} />
            <label for=${`draft-sector-${s}`}>${t(`sector.${s}`)}</label>
          </div>`)}
        </fieldset>
        <${Radios} name="draft-weighting" legend=${t('draft.field.weighting')} value=${f.weighting}
          choices=${[
            ['one-member-one-vote', t('draft.weighting.one-member-one-vote'), t('draft.weighting.one-member-one-vote.explain')],
            ['pupils', t('draft.weighting.pupils'), t('draft.weighting.pupils.explain')],
          ]}
          onChange=${(v) => set({ weighting: v })} />
        <${Field} id="draft-quorum" label=${t('draft.field.quorum')} hint=${t('draft.field.quorum.hint')} error=${err('draft-quorum')}>
          <select id="draft-quorum" value=${f.quorum} onChange=${(e) => set({ quorum: e.currentTarget.value })}
            aria-describedby=${describedBy('draft-quorum', { hint: true, error: err('draft-quorum') })}>
            ${QUORUMS.map((q) => html`<option value=${q}>${q === '0/1' ? t('draft.quorum.none') : t('draft.quorum.option', { pct: fmt.fraction(q), fraction: q })}</option>`)}
            <option value="custom">${t('draft.fraction.custom')}</option>
          </select>
        <//>
        ${f.quorum === 'custom' ? html`<${FractionInputs} id="draft-quorum" f=${f} n="quorumN" d="quorumD" set=${set} err=${err}
          legend=${t('draft.field.quorum.custom')} />` : null}

        ${f.kind === 'priority' ? html`<p class="notice">${t('draft.priority.no-majority')}</p>` : html`
          <${Field} id="draft-majority" label=${t('draft.field.majority')} hint=${t('draft.field.majority.hint')} error=${err('draft-majority')}>
            <select id="draft-majority" value=${f.majority} onChange=${(e) => set({ majority: e.currentTarget.value })}
              aria-describedby=${describedBy('draft-majority', { hint: true, error: err('draft-majority') })}>
              <option value="simple">${t('draft.majority.simple')}</option>
              <option value="qualified">${t('draft.majority.qualified')}</option>
              <option value="custom">${t('draft.fraction.custom')}</option>
            </select>
          <//>
          ${f.majority === 'custom' ? html`
            <${Field} id="draft-majority-kind" label=${t('draft.field.majority-kind')}>
              <select id="draft-majority-kind" value=${f.majorityKind} onChange=${(e) => set({ majorityKind: e.currentTarget.value })}>
                <option value="more-than">${t('draft.majority-kind.more-than')}</option>
                <option value="at-least">${t('draft.majority-kind.at-least')}</option>
              </select>
            <//>
            <${FractionInputs} id="draft-majority" f=${f} n="majorityN" d="majorityD" set=${set} err=${err}
              legend=${t('draft.field.majority.custom')} />` : null}
          <${Check} id="draft-chamber-rule" label=${t('draft.field.chamber-rule')} hint=${t('draft.field.chamber-rule.hint')}
            checked=${f.chamberRule} onChange=${(v) => set({ chamberRule: v })} />`}
        <div class="notice in-words">
          <h3>${t('draft.words.title')}</h3>
          <p>${electorateInWords(f)}</p>
        </div>
      </fieldset>

      <fieldset class="section">
        <legend><h2>${t('draft.section.window')}</h2></legend>
        <p class="hint" id="draft-window-hint">${t('draft.window.intro', { days: MAX_DAYS })}</p>
        <${Field} id="draft-opens" label=${t('draft.field.opens')} error=${err('draft-opens')}>
          <input id="draft-opens" type="datetime-local" value=${f.opensAt} onInput=${(e) => set({ opensAt: e.currentTarget.value })}
            aria-describedby=${['draft-window-hint', err('draft-opens') ? 'draft-opens-error' : null].filter(Boolean).join(' ')}
            aria-invalid=${err('draft-opens') ? 'true' : undefined} />
        <//>
        <${Field} id="draft-closes" label=${t('draft.field.closes')} error=${err('draft-closes')}>
          <input id="draft-closes" type="datetime-local" value=${f.closesAt} onInput=${(e) => set({ closesAt: e.currentTarget.value })}
            aria-describedby=${['draft-window-hint', err('draft-closes') ? 'draft-closes-error' : null].filter(Boolean).join(' ')}
            aria-invalid=${err('draft-closes') ? 'true' : undefined} />
        <//>
        ${windowPreview(f) ? html`<p class="notice">${windowPreview(f)}</p>` : null}
      </fieldset>

      ${problem ? html`<${ErrorBox} error=${problem} />` : null}
      <div class="actions">
        <button type="submit" class="button primary" disabled=${busy} aria-disabled=${busy ? 'true' : undefined}>
          ${busy ? t('draft.saving') : editing ? t('draft.save.edit') : t('draft.save.new')}
        </button>
        <a class="button secondary" href=${href(editing ? `/proposals/${params.id}` : '/proposals')}>${t('common.cancel')}</a>
      </div>
      <p class="hint">${t('draft.save.after')}</p>
    </form>
  </section>`;
}

function FractionInputs({ id, f, n, d, set, err, legend }) {
  const e = err(`${id}-n`);
  return html`<fieldset class=${`field fraction${e ? ' field-error' : ''}`}>
    <legend>${legend}</legend>
    <p class="hint" id=${`${id}-n-hint`}>${t('draft.fraction.hint')}</p>
    ${e ? html`<p class="error-text" id=${`${id}-n-error`}><span class="visually-hidden">${t('common.error')}: </span>${e}</p>` : null}
    <div class="inline-fields">
      <label for=${`${id}-n`}>${t('draft.fraction.numerator')}</label>
      <input id=${`${id}-n`} type="text" inputmode="numeric" size="6" value=${f[n]} onInput=${(ev) => set({ [n]: ev.currentTarget.value })}
        aria-describedby=${describedBy(`${id}-n`, { hint: true, error: e })} aria-invalid=${e ? 'true' : undefined} />
      <span aria-hidden="true">/</span>
      <label for=${`${id}-d`}>${t('draft.fraction.denominator')}</label>
      <input id=${`${id}-d`} type="text" inputmode="numeric" size="6" value=${f[d]} onInput=${(ev) => set({ [d]: ev.currentTarget.value })}
        aria-invalid=${e ? 'true' : undefined} />
    </div>
  </fieldset>`;
}

function MandateSection({ f, set, setItem, addItem, removeItem, err }) {
  return html`<fieldset class="section">
    <legend><h2>${t('draft.section.mandate')}</h2></legend>
    <${Text} id="draft-supplier" label=${t('draft.field.supplier')} hint=${t('draft.field.supplier.hint')}
      value=${f.supplier} onInput=${(v) => set({ supplier: v })} error=${err('draft-supplier')} maxlength="200" />
    <${Text} id="draft-product" label=${t('draft.field.product')}
      value=${f.product} onInput=${(v) => set({ product: v })} error=${err('draft-product')} maxlength="200" />

    <h3>${t('draft.demands.title')}</h3>
    <fieldset class="field group">
      <legend>${t('draft.field.modules')}</legend>
      <p class="hint">${t('draft.field.modules.hint')}</p>
      ${f.modules.length === 0 ? html`<p class="notice">${t('draft.modules.none')}</p>` : null}
      ${f.modules.map((m, i) => html`<div class="row" key=${m.key}>
        <${Text} id=${`draft-module-${i}`} label=${t('draft.field.module', { n: i + 1 })} value=${m.value}
          onInput=${(v) => setItem('modules', i, { value: v })} error=${err(`draft-module-${i}`)} maxlength="200" />
        <button type="button" class="button secondary small"
          onClick=${() => removeItem('modules', i, i > 0 ? `draft-module-${i - 1}` : 'draft-add-module')}>
          ${t('draft.module.remove')}<span class="visually-hidden"> ${t('draft.field.module', { n: i + 1 })}</span>
        </button>
      </div>`)}
      <button type="button" id="draft-add-module" class="button secondary"
        onClick=${() => addItem('modules', blankModule, `draft-module-${f.modules.length}`)}>${t('draft.module.add')}</button>
    </fieldset>

    <${Check} id="draft-privacy" label=${t('draft.field.privacy')} hint=${t('draft.field.privacy.hint')}
      checked=${f.privacy} onChange=${(v) => set({ privacy: v })} />
    ${f.privacy ? html`<div class="subfields">
      <${Text} id="draft-dpa" label=${t('draft.field.dpa')} hint=${t('draft.field.dpa.hint')}
        value=${f.dpa} onInput=${(v) => set({ dpa: v })} error=${err('draft-dpa')} maxlength="20" size="8" />
      <${Field} id="draft-location" label=${t('draft.field.location')}>
        <select id="draft-location" value=${f.location} onChange=${(e) => set({ location: e.currentTarget.value })}>
          ${LOCATIONS.map((l) => html`<option value=${l}>${t(`draft.location.${l}`)}</option>`)}
        </select>
      <//>
      <${Check} id="draft-no-secondary" label=${t('draft.field.no-secondary')} checked=${f.noSecondary} onChange=${(v) => set({ noSecondary: v })} />
      <${Check} id="draft-sub-listed" label=${t('draft.field.sub-listed')} checked=${f.subListed} onChange=${(v) => set({ subListed: v })} />
    </div>` : null}
    <${Text} id="draft-max-term" label=${t('draft.field.max-term')} hint=${t('draft.field.max-term.hint')}
      value=${f.maxTerm} onInput=${(v) => set({ maxTerm: v })} error=${err('draft-max-term')} inputmode="numeric" size="6" />

    <h3>${t('draft.params.title')}</h3>
    <p class="hint">${t('draft.params.intro', { max: MAX_PARAMETERS })}</p>
    ${f.params.map((p, i) => {
      const id = `draft-param-${i}`;
      const preview = rangePreview(p);
      return html`<fieldset class="field group param" key=${p.key}>
        <legend>${t('draft.param.legend', { n: i + 1 })}</legend>
        <${Text} id=${`${id}-label`} label=${t('draft.field.param-label')} hint=${t('draft.field.param-label.hint')}
          value=${p.label} error=${err(`${id}-label`)} maxlength="200"
          onInput=${(v) => setItem('params', i, p.nameEdited ? { label: v } : { label: v, name: slug(v) })} />
        <${Text} id=${`${id}-name`} label=${t('draft.field.param-name')} hint=${t('draft.field.ident.hint')}
          value=${p.name} error=${err(`${id}-name`)} maxlength="40" autocapitalize="none" spellcheck="false"
          onInput=${(v) => setItem('params', i, { name: v, nameEdited: true })} />
        <${Field} id=${`${id}-unit`} label=${t('draft.field.param-unit')} error=${err(`${id}-unit`)}>
          <select id=${`${id}-unit`} value=${p.unit} onChange=${(e) => setItem('params', i, { unit: e.currentTarget.value })}
            aria-describedby=${describedBy(`${id}-unit`, { error: err(`${id}-unit`) })}>
            ${UNITS.map((u) => html`<option value=${u}>${t(`unit.${u}`)}</option>`)}
            <option value="other">${t('draft.unit.other')}</option>
          </select>
        <//>
        ${p.unit === 'other' ? html`<${Text} id=${`${id}-unit-other`} label=${t('draft.field.param-unit-other')}
          hint=${t('draft.field.param-unit-other.hint')} value=${p.unitOther} error=${err(`${id}-unit-other`)} maxlength="40"
          onInput=${(v) => setItem('params', i, { unitOther: v })} />` : null}
        <div class="inline-fields">
          <${Text} id=${`${id}-min`} label=${t('draft.field.param-min')} value=${p.min} error=${err(`${id}-min`)}
            inputmode="numeric" size="10" onInput=${(v) => setItem('params', i, { min: v })} />
          <${Text} id=${`${id}-max`} label=${t('draft.field.param-max')} value=${p.max} error=${err(`${id}-max`)}
            inputmode="numeric" size="10" onInput=${(v) => setItem('params', i, { max: v })} />
        </div>
        ${p.unit === 'basis-points' ? html`<p class="hint">${t('draft.param.bp-hint')}</p>` : null}
        ${p.unit === 'cents' ? html`<p class="hint">${t('draft.param.cents-hint')}</p>` : null}
        ${preview ? html`<p class="notice">${preview}</p>` : null}
        <button type="button" class="button secondary small"
          onClick=${() => removeItem('params', i, i > 0 ? `draft-param-${i - 1}-label` : 'draft-add-param')}>
          ${t('draft.param.remove', { n: i + 1 })}
        </button>
      </fieldset>`;
    })}
    ${err('draft-add-param') ? html`<p class="error-text" id="draft-add-param-error">${err('draft-add-param')}</p>` : null}
    <button type="button" id="draft-add-param" class="button secondary" disabled=${f.params.length >= MAX_PARAMETERS}
      aria-describedby=${err('draft-add-param') ? 'draft-add-param-error' : undefined}
      onClick=${() => addItem('params', blankParam, `draft-param-${f.params.length}-label`)}>${t('draft.param.add')}</button>
  </fieldset>`;
}

function PrioritySection({ f, setItem, addItem, removeItem, moveOption, err }) {
  const n = f.options.length;
  return html`<fieldset class="section">
    <legend><h2>${t('draft.section.priority')}</h2></legend>
    <p class="hint">${t('draft.options.intro', { max: MAX_OPTIONS })}</p>
    <ol class="option-list">
      ${f.options.map((o, i) => {
        const id = `draft-option-${i}`;
        return html`<li key=${o.key}>
          <fieldset class="field group">
            <legend>${t('draft.option.legend', { n: i + 1 })}</legend>
            <${Text} id=${`${id}-label`} label=${t('draft.field.option-label')} value=${o.label} error=${err(`${id}-label`)} maxlength="200"
              onInput=${(v) => setItem('options', i, o.idEdited ? { label: v } : { label: v, id: slug(v) })} />
            <${Text} id=${`${id}-id`} label=${t('draft.field.option-id')} hint=${t('draft.field.ident.hint')} value=${o.id}
              error=${err(`${id}-id`)} maxlength="40" autocapitalize="none" spellcheck="false"
              onInput=${(v) => setItem('options', i, { id: v, idEdited: true })} />
            <div class="actions">
              <button type="button" id=${`${id}-up`} class="button secondary small" disabled=${i === 0} onClick=${() => moveOption(i, -1)}>
                ${t('draft.option.up', { n: i + 1 })}
              </button>
              <button type="button" id=${`${id}-down`} class="button secondary small" disabled=${i === n - 1} onClick=${() => moveOption(i, 1)}>
                ${t('draft.option.down', { n: i + 1 })}
              </button>
              <button type="button" class="button secondary small" disabled=${n <= 2}
                onClick=${() => removeItem('options', i, i > 0 ? `draft-option-${i - 1}-label` : 'draft-option-0-label')}>
                ${t('draft.option.remove', { n: i + 1 })}
              </button>
            </div>
          </fieldset>
        </li>`;
      })}
    </ol>
    ${err('draft-add-option') ? html`<p class="error-text" id="draft-add-option-error">${err('draft-add-option')}</p>` : null}
    <button type="button" id="draft-add-option" class="button secondary" disabled=${n >= MAX_OPTIONS}
      aria-describedby=${err('draft-add-option') ? 'draft-add-option-error' : undefined}
      onClick=${() => addItem('options', blankOption, `draft-option-${n}-label`)}>${t('draft.option.add')}</button>
  </fieldset>`;
}
