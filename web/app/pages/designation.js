// designation.js — what the secretariat fills in to give a person a designation, shared by the
// people page (inviting) and the sign-in requests page (approving an account): the role, the
// member board a board person acts for, and a council's sector. Also the member names shown in
// lists and the names of the admins who did something.
//
// Exports:
//   ROLES, SECTORS, EMAIL          the roles a person can have, the sectors, an e-mail pattern.
//   focusSoon(id)                  focuses the element with that id after the next render.
//   <RoleFields idPrefix value errors onChange />  the role radios, then the member picker
//                                  (board) or the sector radios (council). value: {role,
//                                  member, sector}; onChange(patch). Control ids, for an
//                                  error summary: `${idPrefix}-role-<role>`,
//                                  `${idPrefix}-member-q` (search) or `${idPrefix}-member`
//                                  (chosen), `${idPrefix}-sector-PO`.
//   designationErrors(f, idPrefix, errorText?)  the field errors of a role/member/sector choice.
//   designationBody(f)             {role, member_id?, sector?} for the API.
//   designationFieldOf(err, f, idPrefix)  [id, text] when a refused request is about the
//                                  member or the sector, else null.
//   approvalDefaults(request)      the approval form's first values for a sign-in request:
//                                  its name and e-mail, and role board with the suggested
//                                  member board when the provider's school names one.
//   memberOf(id)                   -> Promise of GET /api/v1/members/{id}, fetched once per id.
//   <MemberName id />              "name (BG n)" of a member board.
//   useAdminNames(tick)            -> who(subject): an admin person's name for a subject that
//                                  is their person id, else the subject as it is.
import {
  html, useState, useEffect, useRef, Loading, ErrorBox, describedBy, announce,
} from '../ui.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import * as fmt from '../fmt.js';
import { chamberName, membersQuery, nameQuery, useDebounced, NAME_MAX, TYPING_PAUSE_MS } from './admin-members.js';

export const ROLES = ['board', 'admin', 'council', 'auditor'];
export const SECTORS = ['PO', 'VO'];
export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const SHOW_MATCHES = 20;

export const focusSoon = (id) => setTimeout(() => { const el = document.getElementById(id); if (el) el.focus(); }, 0);

// ---------- member names ----------

const memberCache = new Map();
export function memberOf(id) {
  if (!memberCache.has(id)) {
    const p = api.get(`/api/v1/members/${encodeURIComponent(id)}`);
    p.catch(() => memberCache.delete(id));
    memberCache.set(id, p);
  }
  return memberCache.get(id);
}

export function MemberName({ id }) {
  const [m, setM] = useState(null);
  useEffect(() => {
    let live = true;
    memberOf(id).then((x) => live && setM(x), () => {});
    return () => { live = false; };
  }, [id]);
  return m ? html`${m.name} <span class="meta">(${t('people.member.bg', { bg: m.bg_number })})</span>` : html`<span class="meta">${t('common.loading')}</span>`;
}

// Who created, revoked or decided something: a signed-in admin's subject is their person id;
// a bootstrap token's subject is shown as it is.
export function useAdminNames(tick) {
  const [names, setNames] = useState(new Map());
  useEffect(() => {
    let live = true;
    api.get('/api/v1/people?role=admin&limit=500').then(
      (r) => live && setNames(new Map(r.items.map((p) => [p.id, p.name]))),
      () => {},
    );
    return () => { live = false; };
  }, [tick]);
  return (subject) => names.get(subject) || subject;
}

// ---------- choosing the member board a board person acts for ----------

function MemberPicker({ idPrefix, value, onChange, error }) {
  const qId = `${idPrefix}-member-q`;
  const chosenId = `${idPrefix}-member`;
  const [q, setQ] = useState('');
  const [state, setState] = useState({ busy: false, error: null, items: null, more: 0 });
  const latest = useRef(0); // only the newest search may show its answer
  const searched = useRef(''); // the text of the newest search
  // A number looks up that bevoegd-gezag number; other text asks the API for names containing it.
  const search = async (raw) => {
    const text = nameQuery(raw);
    const seq = ++latest.current;
    searched.current = text;
    if (!text) { setState({ busy: false, error: null, items: null, more: 0 }); return; }
    setState((s) => ({ ...s, busy: true, error: null }));
    try {
      const page = /^\d+$/.test(text)
        ? await api.get(membersQuery({ bg: text }, 1, 0))
        : await api.get(membersQuery({ name: text }, SHOW_MATCHES, 0));
      if (seq !== latest.current) return;
      const { items, total } = page;
      setState({ busy: false, error: null, items, more: Math.max(0, total - items.length) });
      announce(total ? t('people.member.found', { n: fmt.number(total) }) : t('people.member.none'));
    } catch (err) {
      if (seq === latest.current) setState({ busy: false, error: err, items: null, more: 0 });
    }
  };
  useDebounced(q, TYPING_PAUSE_MS, (text) => { if (nameQuery(text) !== searched.current) search(text); });
  if (value) {
    // A member suggested by a sign-in request has no chamber until it is fetched.
    const facts = [t('people.member.bg', { bg: value.bg_number }), value.chamber ? chamberName(value.chamber) : null].filter(Boolean).join(', ');
    return html`<div class=${`field${error ? ' field-error' : ''}`}>
      <p class="label-like"><strong>${t('people.field.member')}</strong></p>
      ${error ? html`<p class="error-text" id=${`${chosenId}-error`}><span class="visually-hidden">${t('common.error')}: </span>${error}</p>` : null}
      <p id=${`${chosenId}-chosen`}>${value.name} (${facts})</p>
      <button type="button" id=${chosenId} class="secondary small"
        aria-describedby=${error ? `${chosenId}-chosen ${chosenId}-error` : `${chosenId}-chosen`}
        onClick=${() => { onChange(null); focusSoon(qId); }}>${t('people.member.change')}</button>
    </div>`;
  }
  return html`<div class=${`field${error ? ' field-error' : ''}`}>
    <label for=${qId}>${t('people.field.member')}</label>
    <p class="hint" id=${`${qId}-hint`}>${t('people.field.member.hint')}</p>
    ${error ? html`<p class="error-text" id=${`${qId}-error`}><span class="visually-hidden">${t('common.error')}: </span>${error}</p>` : null}
    <div class="link-box">
      <input id=${qId} type="search" maxlength=${NAME_MAX} autocomplete="off" value=${q} onInput=${(e) => setQ(e.currentTarget.value)}
        onKeyDown=${(e) => { if (e.key === 'Enter') { e.preventDefault(); search(q); } }}
        aria-describedby=${describedBy(qId, { hint: true, error })} aria-invalid=${error ? 'true' : undefined} />
      <button type="button" class="secondary" onClick=${() => search(q)} disabled=${state.busy}>${t('people.member.search')}</button>
    </div>
    ${state.busy ? html`<${Loading} />` : null}
    <${ErrorBox} error=${state.error} />
    ${state.items && state.items.length ? html`
      <ul class="pick-list" aria-label=${t('people.member.matches')}>
        ${state.items.map((m) => html`<li><button type="button" onClick=${() => { onChange(m); focusSoon(chosenId); }}>
          <span class="visually-hidden">${t('people.member.pick')} </span>${m.name} · ${t('people.member.bg', { bg: m.bg_number })} · ${m.sectors.join('/')}
        </button></li>`)}
      </ul>
      ${state.more ? html`<p class="hint">${t('people.member.more', { n: fmt.number(state.more) })}</p>` : null}` : null}
    ${state.items && !state.items.length ? html`<p class="hint" role="status">${t('people.member.none')}</p>` : null}
  </div>`;
}

// ---------- role, member board, sector ----------

export function RoleFields({ idPrefix, value, errors = {}, onChange }) {
  const sectorError = errors[`${idPrefix}-sector-PO`];
  const memberError = errors[`${idPrefix}-member-q`] || errors[`${idPrefix}-member`];
  return html`
    <fieldset class="field radios">
      <legend>${t('people.field.role')}</legend>
      ${ROLES.map((r) => html`<div class="radio explained">
        <input type="radio" id=${`${idPrefix}-role-${r}`} name=${`${idPrefix}-role`} value=${r} checked=${value.role === r}
          onChange=${() => onChange({ role: r })} aria-describedby=${`${idPrefix}-role-${r}-explain`} />
        <label for=${`${idPrefix}-role-${r}`}>${t(`people.role.${r}`)}</label>
        <p class="hint" id=${`${idPrefix}-role-${r}-explain`}>${t(`people.role.${r}.explain`)}</p>
      </div>`)}
    </fieldset>
    ${value.role === 'board' ? html`<${MemberPicker} idPrefix=${idPrefix} value=${value.member}
      onChange=${(m) => onChange({ member: m })} error=${memberError} />` : null}
    ${value.role === 'council' ? html`<fieldset class=${`field radios${sectorError ? ' field-error' : ''}`}
        aria-describedby=${sectorError ? `${idPrefix}-sector-PO-error` : undefined}>
      <legend>${t('people.field.sector')}</legend>
      ${sectorError ? html`<p class="error-text" id=${`${idPrefix}-sector-PO-error`}><span class="visually-hidden">${t('common.error')}: </span>${sectorError}</p>` : null}
      ${SECTORS.map((s) => html`<div class="radio">
        <input type="radio" id=${`${idPrefix}-sector-${s}`} name=${`${idPrefix}-sector`} value=${s} checked=${value.sector === s}
          onChange=${() => onChange({ sector: s })} />
        <label for=${`${idPrefix}-sector-${s}`}>${t(`sector.${s}`)}</label>
      </div>`)}
    </fieldset>` : null}`;
}

export function designationErrors(f, idPrefix, errorText = (key) => t(key)) {
  const e = {};
  if (f.role === 'board' && !f.member) e[`${idPrefix}-member-q`] = errorText('people.error.member');
  if (f.role === 'council' && !SECTORS.includes(f.sector)) e[`${idPrefix}-sector-PO`] = errorText('people.error.sector');
  return e;
}

export function designationBody(f) {
  const body = { role: f.role };
  if (f.role === 'board' && f.member) body.member_id = f.member.id;
  if (f.role === 'council') body.sector = f.sector;
  return body;
}

// The member or sector field a refused request is about, from the server's detail or its
// 422 `errors` (field names as in the request body).
export function designationFieldOf(err, f, idPrefix, fields = []) {
  const d = err.detail || '';
  const memberId = f.member ? `${idPrefix}-member` : `${idPrefix}-member-q`;
  if (fields.includes('member_id') || fields.includes('sector') || /member_id|sector/.test(d)) {
    if (f.role === 'board') return [memberId, t('people.error.member')];
    if (f.role === 'council') return [`${idPrefix}-sector-PO`, t('people.error.sector')];
  }
  if (err.slug === 'not-found' && f.role === 'board') return [memberId, t('people.error.member-gone')];
  return null;
}

// ---------- a sign-in request's approval ----------

export function approvalDefaults(request) {
  const board = request && request.suggested_board;
  const member = board && board.member_id
    ? { id: board.member_id, name: board.member_name || board.school_name, bg_number: board.bg_number }
    : null;
  return {
    name: (request && request.name) || '',
    email: (request && request.email) || '',
    role: 'board',
    member,
    sector: 'PO',
  };
}
