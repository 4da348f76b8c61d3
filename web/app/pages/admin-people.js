// People (#/admin/people): the secretariat invites a person (a board's secretary or director,
// another admin, a sector council, an auditor), shows the single-use sign-in link once, lists
// the people with their sessions and the school accounts they sign in with, ends all sessions
// of a person, issues a new link, and removes a person's designation (after which they cannot
// sign in at all; a removed person stays listed, greyed out, without actions).
// Endpoints: POST /api/v1/invitations, GET /api/v1/people, GET /api/v1/people/{id}/sessions,
// POST /api/v1/people/{id}/sessions/end, POST /api/v1/people/{id}/invitations,
// POST /api/v1/people/{id}/remove.
import {
  html, useState, useEffect, useRef, PageTitle, Loading, ErrorBox, ErrorSummary, Field, describedBy,
  useTitle, announce, useFieldErrors, CopyBox, ConfirmPanel,
} from '../ui.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import * as fmt from '../fmt.js';
import {
  ROLES, EMAIL, focusSoon, RoleFields, MemberName, designationErrors, designationBody, designationFieldOf,
} from './designation.js';

const PAGE = 50;
const MAX_DAYS = 30;

function daysError(v) {
  const s = String(v).trim();
  return /^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= MAX_DAYS ? null : t('people.error.days', { max: MAX_DAYS });
}

// ---------- the link, shown once ----------

function LinkPanel({ invited, onDone, idPrefix }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current) ref.current.focus(); }, []);
  const { person, invitation } = invited;
  const texts = {
    copy: t('people.link.copy'), copiedButton: t('people.link.copied-button'),
    copied: t('people.link.copied'), select: t('people.link.select'),
  };
  return html`<div class="success link-panel" role="region" tabindex="-1" ref=${ref} aria-labelledby=${`${idPrefix}-title`}>
    <h3 id=${`${idPrefix}-title`}>${t('people.link.title', { name: person.name })}</h3>
    <p>${t('people.link.once', { date: fmt.dateTime(invitation.expires_at) })}</p>
    <${CopyBox} id=${`${idPrefix}-link`} label=${t('people.link.label')} value=${invitation.link}
      describedBy=${`${idPrefix}-how`} texts=${texts} />
    <p id=${`${idPrefix}-how`}>${t('people.link.how', { email: person.email })}</p>
    <div class="actions">
      <button type="button" class="secondary" onClick=${onDone}>${t('people.link.done')}</button>
    </div>
  </div>`;
}

// ---------- inviting ----------

const blankInvite = () => ({ name: '', email: '', role: 'board', member: null, sector: 'PO', days: '7' });

function validateInvite(f) {
  const e = {};
  const name = f.name.trim();
  if (!name || [...name].length > 200) e['invite-name'] = t('people.error.name');
  if (!EMAIL.test(f.email.trim())) e['invite-email'] = t('people.error.email');
  Object.assign(e, designationErrors(f, 'invite'));
  const d = daysError(f.days);
  if (d) e['invite-days'] = d;
  return e;
}

// The field a refused invitation is about, from the server's detail (src/domain/person.rs).
function inviteFieldOf(err, f) {
  const d = err.detail || '';
  if (/^name must/.test(d)) return ['invite-name', t('people.error.name')];
  if (/e-mail address/.test(d)) return ['invite-email', t('people.error.email')];
  if (/valid for 1 to/.test(d)) return ['invite-days', t('people.error.days', { max: MAX_DAYS })];
  return designationFieldOf(err, f, 'invite');
}

function InviteForm({ onInvited }) {
  const [f, setF] = useState(blankInvite);
  const [busy, setBusy] = useState(false);
  const [invited, setInvited] = useState(null);
  const set = (patch) => setF((x) => ({ ...x, ...patch }));
  const { errors, summary, show, refused } = useFieldErrors({
    'invite-name': t('people.field.name'),
    'invite-email': t('people.field.email'),
    'invite-member-q': t('people.field.member'),
    'invite-member': t('people.field.member'),
    'invite-sector-PO': t('people.field.sector'),
    'invite-days': t('people.field.days'),
  });

  const submit = async (ev) => {
    ev.preventDefault();
    const local = validateInvite(f);
    if (Object.keys(local).length) { show(local); return; }
    const body = { name: f.name.trim(), email: f.email.trim(), ...designationBody(f), valid_days: Number(f.days) };
    setBusy(true);
    try {
      const res = await api.post('/api/v1/invitations', body);
      show({});
      setInvited(res);
      setF(blankInvite());
      announce(t('people.invited', { name: res.person.name }));
      if (onInvited) onInvited(res);
    } catch (err) {
      refused(err, (e) => inviteFieldOf(e, f));
    } finally {
      setBusy(false);
    }
  };

  if (invited) {
    return html`<${LinkPanel} invited=${invited} idPrefix="invite-result"
      onDone=${() => { setInvited(null); focusSoon('invite-name'); }} />`;
  }

  const err = (id) => errors[id];
  return html`<form onSubmit=${submit} novalidate aria-labelledby="invite-title">
    <${ErrorSummary} errors=${summary} />
    <${Field} id="invite-name" label=${t('people.field.name')} error=${err('invite-name')}>
      <input id="invite-name" type="text" autocomplete="off" maxlength="200" value=${f.name} onInput=${(e) => set({ name: e.currentTarget.value })}
        aria-describedby=${describedBy('invite-name', { error: err('invite-name') })} aria-invalid=${err('invite-name') ? 'true' : undefined} />
    <//>
    <${Field} id="invite-email" label=${t('people.field.email')} hint=${t('people.field.email.hint')} error=${err('invite-email')}>
      <input id="invite-email" type="email" autocomplete="off" value=${f.email} onInput=${(e) => set({ email: e.currentTarget.value })}
        aria-describedby=${describedBy('invite-email', { hint: true, error: err('invite-email') })} aria-invalid=${err('invite-email') ? 'true' : undefined} />
    <//>
    <${RoleFields} idPrefix="invite" value=${f} errors=${errors} onChange=${set} />
    <${Field} id="invite-days" label=${t('people.field.days')} hint=${t('people.field.days.hint', { max: MAX_DAYS })} error=${err('invite-days')}>
      <input id="invite-days" type="number" min="1" max=${MAX_DAYS} step="1" value=${f.days} onInput=${(e) => set({ days: e.currentTarget.value })}
        aria-describedby=${describedBy('invite-days', { hint: true, error: err('invite-days') })} aria-invalid=${err('invite-days') ? 'true' : undefined} />
    <//>
    <div class="actions">
      <button type="submit" disabled=${busy}>${busy ? t('people.inviting') : t('people.invite')}</button>
    </div>
  </form>`;
}

// ---------- one person's sessions, ending them, a new link ----------

function Sessions({ person }) {
  const [state, setState] = useState({ loading: true, error: null, items: [] });
  useEffect(() => {
    let live = true;
    api.get(`/api/v1/people/${encodeURIComponent(person.id)}/sessions`).then(
      (r) => live && setState({ loading: false, error: null, items: r.items }),
      (error) => live && setState({ loading: false, error, items: [] }),
    );
    return () => { live = false; };
  }, [person.id]);
  if (state.loading) return html`<${Loading} />`;
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (!state.items.length) return html`<p role="status">${t('people.sessions.none', { name: person.name })}</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${t('people.sessions.caption', { name: person.name })}>
    <table>
      <caption>${t('people.sessions.caption', { name: person.name })}</caption>
      <thead><tr>
        <th scope="col">${t('people.sessions.col.created')}</th>
        <th scope="col">${t('people.sessions.col.seen')}</th>
        <th scope="col">${t('people.sessions.col.expires')}</th>
        <th scope="col">${t('people.sessions.col.agent')}</th>
      </tr></thead>
      <tbody>${state.items.map((s) => html`<tr>
        <th scope="row">${fmt.dateTime(s.created_at)}${s.current ? html` <span class="tag">${t('people.sessions.current')}</span>` : null}</th>
        <td>${fmt.dateTime(s.last_seen_at)}</td>
        <td>${fmt.dateTime(s.expires_at)}</td>
        <td class="break">${s.user_agent || t('people.sessions.agent-unknown')}</td>
      </tr>`)}</tbody>
    </table>
  </div>`;
}

// The school accounts a person signs in with, by their provider's name.
const accountNames = (person) => (Array.isArray(person.accounts) ? person.accounts : [])
  .map((a) => a.provider_name || a.provider).filter(Boolean);

function EndSessions({ person, onEnded, onCancel }) {
  const end = async () => {
    const r = await api.post(`/api/v1/people/${encodeURIComponent(person.id)}/sessions/end`);
    announce(t('people.end.done', { n: fmt.number(r.ended), name: person.name }));
    onEnded(r.ended);
  };
  const accounts = accountNames(person);
  // With a school account the person can simply sign in again; only removing stops that.
  const explain = accounts.length
    ? t('people.end.explain-account', { n: fmt.number(person.active_sessions), name: person.name, provider: accounts.join(', ') })
    : t('people.end.explain', { n: fmt.number(person.active_sessions), name: person.name });
  return html`<${ConfirmPanel} id=${`end-${person.id}`} question=${t('people.end.question', { name: person.name })}
    explain=${explain} yes=${t('people.end.yes')} onYes=${end} onCancel=${onCancel} />`;
}

function RemoveDesignation({ person, onRemoved, onCancel }) {
  const remove = async () => {
    const removed = await api.post(`/api/v1/people/${encodeURIComponent(person.id)}/remove`, {});
    announce(t('people.remove.done', { name: person.name }));
    onRemoved(removed);
  };
  return html`<${ConfirmPanel} id=${`remove-${person.id}`} question=${t('people.remove.question', { name: person.name })}
    explain=${t('people.remove.explain', { name: person.name })} yes=${t('people.remove.yes')} onYes=${remove} onCancel=${onCancel} />`;
}

function Reinvite({ person, onCancel, onDone }) {
  const ref = useRef(null);
  const [days, setDays] = useState('7');
  const [fieldError, setFieldError] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [invited, setInvited] = useState(null);
  const id = `reinvite-${person.id}`;
  useEffect(() => { if (ref.current) ref.current.focus(); }, []);
  const run = async (ev) => {
    ev.preventDefault();
    const d = daysError(days);
    setFieldError(d);
    if (d) { focusSoon(`${id}-days`); return; }
    setBusy(true);
    setError(null);
    try {
      const r = await api.post(`/api/v1/people/${encodeURIComponent(person.id)}/invitations`, { valid_days: Number(days) });
      setInvited(r);
      announce(t('people.invited', { name: person.name }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (invited) return html`<${LinkPanel} invited=${invited} idPrefix=${`${id}-result`} onDone=${onDone} />`;
  return html`<form class="notice confirm-panel" tabindex="-1" ref=${ref} onSubmit=${run} novalidate aria-labelledby=${`${id}-title`}>
    <h3 id=${`${id}-title`}>${t('people.reinvite.question', { name: person.name })}</h3>
    <p>${t('people.reinvite.explain')}</p>
    <${Field} id=${`${id}-days`} label=${t('people.field.days')} hint=${t('people.field.days.hint', { max: MAX_DAYS })} error=${fieldError}>
      <input id=${`${id}-days`} type="number" min="1" max=${MAX_DAYS} step="1" value=${days} onInput=${(e) => setDays(e.currentTarget.value)}
        aria-describedby=${describedBy(`${id}-days`, { hint: true, error: fieldError })} aria-invalid=${fieldError ? 'true' : undefined} />
    <//>
    <${ErrorBox} error=${error} />
    <div class="actions">
      <button type="submit" disabled=${busy}>${t('people.reinvite.yes')}</button>
      <button type="button" class="secondary" disabled=${busy} onClick=${onCancel}>${t('common.cancel')}</button>
    </div>
  </form>`;
}

function PeopleList({ tick, selfId }) {
  const [role, setRole] = useState('');
  const [offset, setOffset] = useState(0);
  const [reload, setReload] = useState(0);
  const [state, setState] = useState({ loading: true, error: null, items: [], total: 0 });
  const [open, setOpen] = useState(null); // {id, mode: 'sessions'|'end'|'link'|'remove'}
  const [removed, setRemoved] = useState(null); // the name of the person just removed

  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (role) q.set('role', role);
    api.get(`/api/v1/people?${q}`).then(
      (r) => live && setState({ loading: false, error: null, items: r.items, total: r.total }),
      (error) => live && setState({ loading: false, error, items: [], total: 0 }),
    );
    return () => { live = false; };
  }, [role, offset, reload, tick]);

  const toggle = (person, mode) => {
    setRemoved(null);
    setOpen((o) => (o && o.id === person.id && o.mode === mode ? null : { id: person.id, mode }));
  };
  const close = (person, mode) => {
    setOpen(null);
    focusSoon(`person-${person.id}-${mode}`);
  };

  const { items, total, loading, error } = state;
  return html`<div>
    <div class="filters">
      <${Field} id="people-role" label=${t('people.filter.role')}>
        <select id="people-role" value=${role} onChange=${(e) => { setOffset(0); setRole(e.currentTarget.value); }}>
          <option value="">${t('people.filter.all')}</option>
          ${ROLES.map((r) => html`<option value=${r}>${t(`people.role.${r}`)}</option>`)}
        </select>
      <//>
    </div>
    ${removed !== null ? html`<p class="success" role="status">${t('people.remove.done', { name: removed })}</p>` : null}
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${loading ? html`<${Loading} />` : null}
    ${!loading && !error && total === 0 ? html`<p role="status">${t('people.none')}</p>` : null}
    ${!error && items.length ? html`<div class="table-wrap" tabindex="0" role="region" aria-label=${t('people.caption')}>
      <table>
        <caption>${t('people.caption')} <span class="meta">(${t('people.count', { n: fmt.number(total) })})</span></caption>
        <thead><tr>
          <th scope="col">${t('people.col.name')}</th>
          <th scope="col">${t('people.col.role')}</th>
          <th scope="col">${t('people.col.for')}</th>
          <th scope="col" class="num">${t('people.col.sessions')}</th>
          <th scope="col">${t('people.col.actions')}</th>
        </tr></thead>
        <tbody>
          ${items.map((p) => {
            const mode = open && open.id === p.id ? open.mode : null;
            const accounts = accountNames(p);
            return [
              html`<tr key=${p.id} class=${p.removed_at ? 'removed' : undefined}>
                <th scope="row">${p.name}<br /><span class="meta person-email">${p.email}</span>
                  ${accounts.length ? html`<br /><span class="meta person-email">${t('people.signs-in-with', { provider: accounts.join(', ') })}</span>` : null}</th>
                <td>${t(`people.role.${p.role}`)}
                  ${p.removed_at ? html`<br /><span class="tag tag-removed">${t('people.removed')}</span>
                    <br /><span class="meta">${t('people.removed.at', { date: fmt.dateTime(p.removed_at) })}</span>` : null}</td>
                <td>${p.member_id ? html`<${MemberName} id=${p.member_id} />` : p.sector ? t(`sector.${p.sector}`) : '–'}</td>
                <td class="num">${fmt.number(p.active_sessions || 0)}</td>
                <td class="actions-cell">${p.removed_at ? '–' : html`<div class="actions">
                  <button type="button" class="secondary small" id=${`person-${p.id}-sessions`}
                    aria-expanded=${mode === 'sessions' ? 'true' : 'false'} onClick=${() => toggle(p, 'sessions')}>
                    ${mode === 'sessions' ? t('people.sessions.hide') : t('people.sessions.show')}<span class="visually-hidden"> ${p.name}</span>
                  </button>
                  <button type="button" class="secondary small" id=${`person-${p.id}-end`} disabled=${p.active_sessions === 0}
                    aria-expanded=${mode === 'end' ? 'true' : 'false'} onClick=${() => toggle(p, 'end')}>
                    ${t('people.end')}<span class="visually-hidden"> ${p.name}</span>
                  </button>
                  <button type="button" class="secondary small" id=${`person-${p.id}-link`}
                    aria-expanded=${mode === 'link' ? 'true' : 'false'} onClick=${() => toggle(p, 'link')}>
                    ${t('people.reinvite')}<span class="visually-hidden"> ${p.name}</span>
                  </button>
                  ${p.id === selfId ? null : html`<button type="button" class="secondary small danger-text" id=${`person-${p.id}-remove`}
                    aria-expanded=${mode === 'remove' ? 'true' : 'false'} onClick=${() => toggle(p, 'remove')}>
                    ${t('people.remove')}<span class="visually-hidden"> ${p.name}</span>
                  </button>`}
                </div>`}</td>
              </tr>`,
              mode && !p.removed_at ? html`<tr class="sessions-row" key=${`${p.id}-${mode}`}><td colspan="5">
                ${mode === 'sessions' ? html`<${Sessions} person=${p} />` : null}
                ${mode === 'end' ? html`<${EndSessions} person=${p} onCancel=${() => close(p, 'end')}
                  onEnded=${() => { setReload((n) => n + 1); close(p, 'end'); focusSoon(`person-${p.id}-sessions`); }} />` : null}
                ${mode === 'link' ? html`<${Reinvite} person=${p} onCancel=${() => close(p, 'link')} onDone=${() => close(p, 'link')} />` : null}
                ${mode === 'remove' ? html`<${RemoveDesignation} person=${p} onCancel=${() => close(p, 'remove')}
                  onRemoved=${() => { setOpen(null); setRemoved(p.name); setReload((n) => n + 1); focusSoon('people-list-title'); }} />` : null}
              </td></tr>` : null,
            ];
          })}
        </tbody>
      </table>
    </div>` : null}
    ${total > PAGE ? html`<nav class="pager" aria-label=${t('people.pages')}>
      <button type="button" class="secondary" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>${t('people.prev')}</button>
      <span>${t('people.page', { n: fmt.number(Math.floor(offset / PAGE) + 1), of: fmt.number(Math.ceil(total / PAGE)) })}</span>
      <button type="button" class="secondary" disabled=${offset + PAGE >= total} onClick=${() => setOffset(offset + PAGE)}>${t('people.next')}</button>
    </nav>` : null}
  </div>`;
}

export function PeoplePage({ me }) {
  useTitle(t('people.title'));
  const [tick, setTick] = useState(0);
  if (!me || me.role !== 'admin') {
    return html`<section><${PageTitle}>${t('people.title')}<//><p>${t('people.admins-only')}</p></section>`;
  }
  return html`<section>
    <${PageTitle}>${t('people.title')}<//>
    <p>${t('people.intro')}</p>
    <h2 id="invite-title">${t('people.invite.title')}</h2>
    <${InviteForm} onInvited=${() => setTick((n) => n + 1)} />
    <h2 id="people-list-title" tabindex="-1">${t('people.list.title')}</h2>
    <${PeopleList} tick=${tick} selfId=${me.person ? me.person.id : null} />
  </section>`;
}
