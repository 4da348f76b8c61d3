// Members (#/admin/members): search the member boards by name, bevoegd-gezag number, sector,
// chamber and status, a page at a time. The API does all the filtering (`name` is a
// case-insensitive "contains") and its `total` counts the filtered members, so paging is plain
// limit/offset. The name field searches as you type (after a short pause); the other filters
// apply with the Search button.
import {
  html, useState, useEffect, useRef, PageTitle, Loading, ErrorBox, Field, DataTable, describedBy, useTitle, announce,
} from '../ui.js';
import { t, has } from '../i18n.js';
import { api } from '../api.js';
import * as fmt from '../fmt.js';


const PAGE = 50;
export const NAME_MAX = 200; // the API's limit for `name`
export const TYPING_PAUSE_MS = 250;
const SECTORS = ['PO', 'VO'];
const CHAMBERS = ['combined', 'po-large', 'small', 'vo-large']; // SIVON's (the default rules)
const STATUSES = ['active', 'suspended'];

// The name text as the API takes it: trimmed, at most NAME_MAX characters, '' for none.
export const nameQuery = (text) => [...(text || '').trim()].slice(0, NAME_MAX).join('');

export function membersQuery(filters, limit, offset) {
  const q = new URLSearchParams();
  const name = nameQuery(filters.name);
  if (name) q.set('name', name);
  if (filters.bg) q.set('bg_number', filters.bg);
  if (filters.sector) q.set('sector', filters.sector);
  if (filters.chamber) q.set('chamber', filters.chamber);
  if (filters.status) q.set('status', filters.status);
  q.set('limit', String(limit));
  q.set('offset', String(offset));
  return `/api/v1/members?${q}`;
}

// Calls fn(value) once value has stayed the same for `ms`; a newer value cancels the pending call.
export function useDebounced(value, ms, fn) {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const first = useRef(true);
  useEffect(() => {
    if (first.current) { first.current = false; return undefined; }
    const timer = setTimeout(() => fnRef.current(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
}

export function chamberName(chamber) {
  return has(`chamber.${chamber}`) ? t(`chamber.${chamber}`) : chamber;
}

export function MembersPage() {
  useTitle(t('members.title'));
  const [draft, setDraft] = useState({ name: '', bg: '', sector: '', chamber: '', status: '' });
  const [filters, setFilters] = useState(draft);
  const [offset, setOffset] = useState(0);
  const [state, setState] = useState({ loading: true, error: null, items: [], total: 0 });
  const [bgError, setBgError] = useState(null);
  const resultsRef = useRef(null);

  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    api.get(membersQuery(filters, PAGE, offset)).then(
      (page) => {
        if (!live) return;
        setState({ loading: false, error: null, items: page.items, total: page.total });
        announce(t('members.found', { n: fmt.number(page.total) }));
      },
      (error) => live && setState({ loading: false, error, items: [], total: 0 }),
    );
    return () => { live = false; };
  }, [filters, offset]);

  // Typing in the name field searches by name (with the filters already applied) after a pause.
  useDebounced(draft.name, TYPING_PAUSE_MS, (name) => {
    if (nameQuery(name) === nameQuery(filters.name)) return;
    setOffset(0);
    setFilters((f) => ({ ...f, name }));
  });

  const submit = (ev) => {
    ev.preventDefault();
    if (draft.bg.trim() && !/^\d{1,9}$/.test(draft.bg.trim())) {
      setBgError(t('members.error.bg'));
      document.getElementById('members-bg').focus();
      return;
    }
    setBgError(null);
    setOffset(0);
    setFilters({ ...draft, bg: draft.bg.trim() });
  };
  const reset = () => {
    const empty = { name: '', bg: '', sector: '', chamber: '', status: '' };
    setDraft(empty);
    setBgError(null);
    setOffset(0);
    setFilters(empty);
  };
  const go = (to) => {
    setOffset(to);
    setTimeout(() => resultsRef.current && resultsRef.current.focus(), 0);
  };

  const set = (k) => (ev) => setDraft({ ...draft, [k]: ev.currentTarget.value });
  const select = (id, k, label, values, labelOf) => html`<${Field} id=${id} label=${label}>
    <select id=${id} value=${draft[k]} onChange=${set(k)}>
      <option value="">${t('members.filter.all')}</option>
      ${values.map((v) => html`<option value=${v}>${labelOf(v)}</option>`)}
    </select>
  <//>`;

  const { items, total, loading, error } = state;
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + PAGE, total);
  const rows = items.map((m) => ({
    bg: String(m.bg_number),
    name: m.name,
    po: m.pupils && m.pupils.po != null ? fmt.number(m.pupils.po) : '–',
    vo: m.pupils && m.pupils.vo != null ? fmt.number(m.pupils.vo) : '–',
    chamber: chamberName(m.chamber),
    status: t(`members.status.${m.status}`),
  }));

  return html`<section>
    <${PageTitle}>${t('members.title')}<//>
    <p>${t('members.intro')}</p>
    <form role="search" aria-label=${t('members.search')} onSubmit=${submit} novalidate>
      <div class="filters">
        <${Field} id="members-name" label=${t('members.filter.name')}>
          <input id="members-name" type="search" maxlength=${NAME_MAX} autocomplete="off" value=${draft.name} onInput=${set('name')} />
        <//>
        <${Field} id="members-bg" label=${t('members.filter.bg')} error=${bgError}>
          <input id="members-bg" type="text" inputmode="numeric" value=${draft.bg} onInput=${set('bg')}
            aria-describedby=${describedBy('members-bg', { error: bgError })} aria-invalid=${bgError ? 'true' : undefined} />
        <//>
        ${select('members-sector', 'sector', t('members.filter.sector'), SECTORS, (s) => t(`sector.${s}`))}
        ${select('members-chamber', 'chamber', t('members.filter.chamber'), CHAMBERS, chamberName)}
        ${select('members-status', 'status', t('members.filter.status'), STATUSES, (s) => t(`members.status.${s}`))}
      </div>
      <div class="actions">
        <button type="submit">${t('members.search')}</button>
        <button type="button" class="secondary" onClick=${reset}>${t('members.reset')}</button>
      </div>
    </form>

    <h2 id="members-results" tabindex="-1" ref=${resultsRef}>${t('members.results')}</h2>
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${loading ? html`<${Loading} />` : null}
    ${!loading && !error ? html`
      <p role="status">${total === 0 ? t('members.none') : t('members.range', { from: fmt.number(from), to: fmt.number(to), total: fmt.number(total) })}</p>
      ${total > 0 ? html`<${DataTable} caption=${t('members.caption')} columns=${[
        { key: 'bg', label: t('members.col.bg') },
        { key: 'name', label: t('members.col.name') },
        { key: 'po', label: t('members.col.po'), numeric: true },
        { key: 'vo', label: t('members.col.vo'), numeric: true },
        { key: 'chamber', label: t('members.col.chamber') },
        { key: 'status', label: t('members.col.status') },
      ]} rows=${rows} />` : null}
      ${total > PAGE ? html`<nav class="pager" aria-label=${t('members.pages')}>
        <button type="button" class="secondary" disabled=${offset === 0} onClick=${() => go(Math.max(0, offset - PAGE))}>${t('members.prev')}</button>
        <span>${t('members.page', { n: fmt.number(Math.floor(offset / PAGE) + 1), of: fmt.number(Math.ceil(total / PAGE)) })}</span>
        <button type="button" class="secondary" disabled=${offset + PAGE >= total} onClick=${() => go(offset + PAGE)}>${t('members.next')}</button>
      </nav>` : null}` : null}
  </section>`;
}
