// Sign-in requests (#/admin/sign-in-requests): someone signed in with a school account
// (OpenID Connect) that is not bound to a person yet. The secretariat sees what the provider
// said about the account (name, e-mail, home organisation, and the member board whose school
// that is, when the register knows it) and approves it with a role, which makes the person
// and binds the account to them, or rejects it after confirming. Decided requests stay
// listed under "approved" and "rejected".
// Endpoints: GET /api/v1/sign-in-requests?status=pending|approved|rejected,
// POST /api/v1/sign-in-requests/{id}/approve, POST /api/v1/sign-in-requests/{id}/reject.
import {
  html, useState, useEffect, useRef, PageTitle, Loading, ErrorBox, ErrorSummary, Field, Facts,
  describedBy, useTitle, announce, useFieldErrors, ConfirmPanel,
} from '../ui.js';
import { t } from '../i18n.js';
import { api, problemFields } from '../api.js';
import * as fmt from '../fmt.js';
import {
  EMAIL, focusSoon, RoleFields, designationErrors, designationBody, designationFieldOf, approvalDefaults,
  useAdminNames,
} from './designation.js';

const STATUSES = ['pending', 'approved', 'rejected'];
const STATUS_TAG = { pending: 'tag-draft', approved: 'tag-open', rejected: 'tag-withdrawn' };
const NAME_MAX = 200;

/** Fired on window after an approval or rejection, so the menu's count follows. */
export const REQUESTS_CHANGED = 'mandaat:sign-in-requests-changed';

const listPath = (status) => `/api/v1/sign-in-requests?status=${encodeURIComponent(status)}`;

/**
 * For the menu: how many requests wait for a decision (admins only; null when unknown).
 * Asked again on every navigation and after every decision made in this page.
 */
export function usePendingRequests(me, path) {
  const admin = Boolean(me && me.role === 'admin');
  const [count, setCount] = useState(null);
  useEffect(() => {
    if (!admin) { setCount(null); return undefined; }
    let live = true;
    const load = () => api.get(listPath('pending')).then(
      (r) => live && setCount(r && Array.isArray(r.items) ? r.items.length : null),
      () => live && setCount(null),
    );
    load();
    window.addEventListener(REQUESTS_CHANGED, load);
    return () => { live = false; window.removeEventListener(REQUESTS_CHANGED, load); };
  }, [admin, path]);
  return count;
}

const changed = () => window.dispatchEvent(new Event(REQUESTS_CHANGED));

// "School: X — board 41001 Stichting Y", or that its board is not a member.
function suggestion(board) {
  if (!board) return null;
  return board.member_name
    ? t('requests.suggested', { school: board.school_name, bg: board.bg_number, member: board.member_name })
    : t('requests.suggested.not-member', { school: board.school_name, bg: board.bg_number });
}

// ---------- approving ----------

function validate(f) {
  const e = {};
  const name = f.name.trim();
  if (!name || [...name].length > NAME_MAX) e['approve-name'] = t('people.error.name');
  if (!EMAIL.test(f.email.trim())) e['approve-email'] = t('people.error.email');
  return { ...e, ...designationErrors(f, 'approve') };
}

// The field a refused approval is about, from its 422 `errors` or the server's detail.
function approveFieldOf(err, f) {
  const fields = problemFields(err);
  const d = err.detail || '';
  if (fields.includes('name') || /^name must/.test(d)) return ['approve-name', t('people.error.name')];
  if (fields.includes('email') || /e-mail address/.test(d)) return ['approve-email', t('people.error.email')];
  return designationFieldOf(err, f, 'approve', fields);
}

function ApproveForm({ request, onApproved, onStale, onCancel }) {
  const ref = useRef(null);
  const [f, setF] = useState(() => approvalDefaults(request));
  const [busy, setBusy] = useState(false);
  const set = (patch) => setF((x) => ({ ...x, ...patch }));
  const { errors, summary, show, refused } = useFieldErrors({
    'approve-name': t('people.field.name'),
    'approve-email': t('people.field.email'),
    'approve-member-q': t('people.field.member'),
    'approve-member': t('people.field.member'),
    'approve-sector-PO': t('people.field.sector'),
  });
  useEffect(() => { if (ref.current) ref.current.focus(); }, []);

  const submit = async (ev) => {
    ev.preventDefault();
    const local = validate(f);
    if (Object.keys(local).length) { show(local); return; }
    const body = { ...designationBody(f), name: f.name.trim(), email: f.email.trim() };
    setBusy(true);
    try {
      const person = await api.post(`/api/v1/sign-in-requests/${encodeURIComponent(request.id)}/approve`, body);
      show({});
      onApproved(person);
    } catch (err) {
      setBusy(false);
      if (err.status === 409) {
        // Decided in the meantime (by another admin, or in another tab).
        show({}, { id: null, text: t('requests.error.decided') });
        onStale();
        return;
      }
      refused(err, (e) => approveFieldOf(e, f));
    }
  };

  const err = (id) => errors[id];
  return html`<form class="notice approve-form" tabindex="-1" ref=${ref} onSubmit=${submit} novalidate aria-labelledby="approve-title">
    <h4 id="approve-title">${t('requests.approve.title', { name: request.name })}</h4>
    <p>${t('requests.approve.explain', { provider: request.provider_name })}</p>
    <${ErrorSummary} errors=${summary} />
    <${Field} id="approve-name" label=${t('people.field.name')} hint=${t('requests.approve.name-hint', { provider: request.provider_name })} error=${err('approve-name')}>
      <input id="approve-name" type="text" autocomplete="off" maxlength=${NAME_MAX} value=${f.name} onInput=${(e) => set({ name: e.currentTarget.value })}
        aria-describedby=${describedBy('approve-name', { hint: true, error: err('approve-name') })} aria-invalid=${err('approve-name') ? 'true' : undefined} />
    <//>
    <${Field} id="approve-email" label=${t('people.field.email')} hint=${t('people.field.email.hint')} error=${err('approve-email')}>
      <input id="approve-email" type="email" autocomplete="off" value=${f.email} onInput=${(e) => set({ email: e.currentTarget.value })}
        aria-describedby=${describedBy('approve-email', { hint: true, error: err('approve-email') })} aria-invalid=${err('approve-email') ? 'true' : undefined} />
    <//>
    ${request.suggested_board ? html`<p class="hint">${suggestion(request.suggested_board)}</p>` : null}
    <${RoleFields} idPrefix="approve" value=${f} errors=${errors} onChange=${set} />
    <div class="actions">
      <button type="submit" disabled=${busy}>${busy ? t('requests.approving') : t('requests.approve.yes')}</button>
      <button type="button" class="secondary" disabled=${busy} onClick=${onCancel}>${t('common.cancel')}</button>
    </div>
  </form>`;
}

function Reject({ request, onRejected, onCancel }) {
  const reject = async () => onRejected(await api.post(`/api/v1/sign-in-requests/${encodeURIComponent(request.id)}/reject`, {}));
  return html`<${ConfirmPanel} id=${`reject-${request.id}`} question=${t('requests.reject.question', { name: request.name })}
    explain=${t('requests.reject.explain', { name: request.name })} yes=${t('requests.reject.yes')} onYes=${reject} onCancel=${onCancel} />`;
}

// ---------- the pending requests, one card each ----------

function RequestFacts({ request: r }) {
  return html`<${Facts} items=${[
    [t('requests.field.email'), r.email || html`<span class="meta">${t('requests.email.none')}</span>`],
    [t('requests.field.provider'), r.provider_name || r.provider],
    [t('requests.field.home'), r.home_organization || html`<span class="meta">${t('requests.home.none')}</span>`],
    r.suggested_board ? [t('requests.field.school'), suggestion(r.suggested_board)] : null,
    [t('requests.field.created'), fmt.dateTime(r.created_at)],
    r.last_seen_at && r.last_seen_at !== r.created_at ? [t('requests.field.seen'), fmt.dateTime(r.last_seen_at)] : null,
    [t('requests.field.account'), html`<span class="mono">${r.subject}</span> <span class="meta">(${r.issuer})</span>`],
  ]} />`;
}

function PendingList({ items, onDecided, onStale }) {
  const [open, setOpen] = useState(null); // {id, mode: 'approve'|'reject'}
  const toggle = (r, mode) => setOpen((o) => (o && o.id === r.id && o.mode === mode ? null : { id: r.id, mode }));
  const close = (r, mode) => { setOpen(null); focusSoon(`request-${r.id}-${mode}`); };
  return html`<ul class="cards request-list">
    ${items.map((r) => {
      const mode = open && open.id === r.id ? open.mode : null;
      return html`<li class="card" key=${r.id}>
        <h3 class="card-title" id=${`request-${r.id}-name`}>${r.name}</h3>
        <${RequestFacts} request=${r} />
        <div class="actions">
          <button type="button" id=${`request-${r.id}-approve`} aria-expanded=${mode === 'approve' ? 'true' : 'false'}
            onClick=${() => toggle(r, 'approve')}>${t('requests.approve')}<span class="visually-hidden"> ${r.name}</span></button>
          <button type="button" class="secondary" id=${`request-${r.id}-reject`} aria-expanded=${mode === 'reject' ? 'true' : 'false'}
            onClick=${() => toggle(r, 'reject')}>${t('requests.reject')}<span class="visually-hidden"> ${r.name}</span></button>
        </div>
        ${mode === 'approve' ? html`<${ApproveForm} request=${r} onCancel=${() => close(r, 'approve')} onStale=${onStale}
          onApproved=${(person) => { setOpen(null); onDecided('approved', r, person); }} />` : null}
        ${mode === 'reject' ? html`<${Reject} request=${r} onCancel=${() => close(r, 'reject')}
          onRejected=${() => { setOpen(null); onDecided('rejected', r, null); }} />` : null}
      </li>`;
    })}
  </ul>`;
}

// ---------- decided requests ----------

function DecidedTable({ status, items, who }) {
  const caption = t(`requests.caption.${status}`);
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${caption}>
    <table>
      <caption>${caption} <span class="meta">(${t('requests.count', { n: fmt.number(items.length) })})</span></caption>
      <thead><tr>
        <th scope="col">${t('requests.col.name')}</th>
        <th scope="col">${t('requests.col.account')}</th>
        <th scope="col">${t('requests.col.created')}</th>
        <th scope="col">${t('requests.col.decision')}</th>
      </tr></thead>
      <tbody>${items.map((r) => html`<tr key=${r.id}>
        <th scope="row">${r.name}${r.email ? html`<br /><span class="meta person-email">${r.email}</span>` : null}</th>
        <td>${r.provider_name || r.provider}${r.home_organization ? html`<br /><span class="meta">${t('requests.field.home')}: ${r.home_organization}</span>` : null}</td>
        <td>${fmt.dateTime(r.created_at)}</td>
        <td>
          <span class=${`tag ${STATUS_TAG[r.status] || ''}`}>${t(`requests.status.${r.status}`)}</span>
          ${r.decided_at ? html`<br /><span class="meta">${t('requests.decided-by', { date: fmt.dateTime(r.decided_at), who: who(r.decided_by || '') })}</span>` : null}
        </td>
      </tr>`)}</tbody>
    </table>
  </div>`;
}

// ---------- the page ----------

function Requests() {
  const [status, setStatus] = useState('pending');
  const [reload, setReload] = useState(0);
  const [state, setState] = useState({ loading: true, error: null, items: [] });
  const [done, setDone] = useState(null); // the sentence about the last decision
  const who = useAdminNames(reload);

  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    api.get(listPath(status)).then(
      (r) => live && setState({ loading: false, error: null, items: (r && r.items) || [] }),
      (error) => live && setState({ loading: false, error, items: [] }),
    );
    return () => { live = false; };
  }, [status, reload]);

  const decided = (what, request, person) => {
    const text = what === 'approved'
      ? t('requests.approved', { name: person ? person.name : request.name, role: t(`people.role.${person ? person.role : 'board'}`), provider: request.provider_name })
      : t('requests.rejected', { name: request.name });
    setDone(text);
    announce(text);
    // Off the list at once; the list is asked again for what others decided meanwhile.
    setState((st) => ({ ...st, items: st.items.filter((x) => x.id !== request.id) }));
    setReload((n) => n + 1);
    changed();
    focusSoon('requests-list-title');
  };
  const stale = () => { setReload((n) => n + 1); changed(); };

  const { items, loading, error } = state;
  return html`<div>
    <div class="filters">
      <${Field} id="requests-status" className="wide" label=${t('requests.filter.status')}>
        <select id="requests-status" value=${status} onChange=${(e) => { setDone(null); setStatus(e.currentTarget.value); }}>
          ${STATUSES.map((s) => html`<option value=${s}>${t(`requests.filter.${s}`)}</option>`)}
        </select>
      <//>
    </div>
    <h2 id="requests-list-title" tabindex="-1">${t(`requests.list.${status}`)}</h2>
    ${done ? html`<p class="success" role="status">${done}</p>` : null}
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${loading && !items.length ? html`<${Loading} />` : null}
    ${!loading && !error && !items.length ? html`<p role="status">${t(`requests.none.${status}`)}</p>` : null}
    ${!error && items.length && status === 'pending' ? html`<${PendingList} items=${items} onDecided=${decided} onStale=${stale} />` : null}
    ${!error && items.length && status !== 'pending' ? html`<${DecidedTable} status=${status} items=${items} who=${who} />` : null}
  </div>`;
}

export function SignInRequestsPage({ me }) {
  useTitle(t('requests.title'));
  if (!me || me.role !== 'admin') {
    return html`<section><${PageTitle}>${t('requests.title')}<//><p>${t('requests.admins-only')}</p></section>`;
  }
  return html`<section>
    <${PageTitle}>${t('requests.title')}<//>
    <p>${t('requests.intro')}</p>
    <${Requests} />
  </section>`;
}
