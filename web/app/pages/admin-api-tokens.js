// API tokens (#/admin/api-tokens): the secretariat creates a named token for a council's or
// an auditor's system, shows its secret once, lists every token with its last use and status,
// and revokes one after confirmation. docs/sign-in.md describes the tokens.
// Endpoints: POST /api/v1/api-tokens, GET /api/v1/api-tokens, POST /api/v1/api-tokens/{id}/revoke,
// GET /api/v1/people?role=admin (to name who created or revoked a token).
import {
  html, useState, useEffect, useRef, PageTitle, Loading, ErrorBox, ErrorSummary, Field, describedBy,
  useTitle, announce, useFieldErrors, CopyBox, ConfirmPanel,
} from '../ui.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import * as fmt from '../fmt.js';
import { useAdminNames } from './designation.js';

const ROLES = ['council', 'auditor'];
const SECTORS = ['PO', 'VO'];
// The server's limits (src/domain/api_token.rs).
const NAME_MAX = 100;
const MAX_DAYS = 730;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const focusSoon = (id) => setTimeout(() => { const el = document.getElementById(id); if (el) el.focus(); }, 0);

// ---------- the secret, shown once ----------

function SecretPanel({ issued, onDone }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current) ref.current.focus(); }, []);
  const { token, secret } = issued;
  const texts = {
    copy: t('tokens.secret.copy'), copiedButton: t('tokens.secret.copied-button'),
    copied: t('tokens.secret.copied'), select: t('tokens.secret.select'),
  };
  return html`<div class="success link-panel" role="region" tabindex="-1" ref=${ref} aria-labelledby="token-secret-title">
    <h3 id="token-secret-title">${t('tokens.secret.title', { name: token.name })}</h3>
    <p class="warning" id="token-secret-once"><strong>${t('tokens.secret.once')}</strong></p>
    <${CopyBox} id="token-secret" className="secret" label=${t('tokens.secret.label')} value=${secret}
      describedBy="token-secret-once token-secret-how" texts=${texts} />
    <div id="token-secret-how">
      <p>${t('tokens.secret.how')}</p>
      <pre class="command">Authorization: Bearer mdt_…</pre>
    </div>
    <div class="actions">
      <button type="button" class="secondary" onClick=${onDone}>${t('tokens.secret.done')}</button>
    </div>
  </div>`;
}

// ---------- creating ----------

const blank = () => ({ name: '', role: 'council', sector: '', days: '' });

function validate(f) {
  const e = {};
  const name = f.name.trim();
  if (!name || [...name].length > NAME_MAX || CONTROL.test(name)) e['token-name'] = t('tokens.error.name', { max: NAME_MAX });
  if (f.role === 'council' && !f.sector) e['token-sector-PO'] = t('tokens.error.sector');
  const days = String(f.days).trim();
  if (days && !(/^\d+$/.test(days) && Number(days) >= 1 && Number(days) <= MAX_DAYS)) {
    e['token-days'] = t('tokens.error.days', { max: MAX_DAYS });
  }
  return e;
}

// The field a refused token is about, from the server's detail (src/domain/api_token.rs).
function fieldOf(err) {
  const d = err.detail || '';
  if (/^name must/.test(d)) return ['token-name', t('tokens.error.name', { max: NAME_MAX })];
  if (/valid_days/.test(d)) return ['token-days', t('tokens.error.days', { max: MAX_DAYS })];
  if (/for a council/.test(d)) return ['token-sector-PO', t('tokens.error.sector')];
  return null;
}

function CreateForm({ onCreated, onDone }) {
  const [f, setF] = useState(blank);
  const [busy, setBusy] = useState(false);
  const [issued, setIssued] = useState(null);
  const set = (patch) => setF((x) => ({ ...x, ...patch }));
  const { errors, summary, show, refused } = useFieldErrors({
    'token-name': t('tokens.field.name'),
    'token-sector-PO': t('tokens.field.sector'),
    'token-days': t('tokens.field.days'),
  });

  const submit = async (ev) => {
    ev.preventDefault();
    const local = validate(f);
    if (Object.keys(local).length) { show(local); return; }
    const body = { name: f.name.trim(), role: f.role };
    if (f.role === 'council') body.sector = f.sector;
    if (String(f.days).trim()) body.valid_days = Number(f.days);
    setBusy(true);
    try {
      const res = await api.post('/api/v1/api-tokens', body);
      show({});
      setIssued(res);
      setF(blank());
      announce(t('tokens.created', { name: res.token.name }));
      onCreated(res);
    } catch (err) {
      refused(err, fieldOf);
    } finally {
      setBusy(false);
    }
  };

  if (issued) {
    return html`<${SecretPanel} issued=${issued} onDone=${() => { setIssued(null); onDone(); focusSoon('token-name'); }} />`;
  }

  const err = (id) => errors[id];
  return html`<form onSubmit=${submit} novalidate aria-labelledby="token-create-title">
    <${ErrorSummary} errors=${summary} />
    <${Field} id="token-name" label=${t('tokens.field.name')} hint=${t('tokens.field.name.hint')} error=${err('token-name')}>
      <input id="token-name" type="text" autocomplete="off" maxlength=${NAME_MAX} value=${f.name} onInput=${(e) => set({ name: e.currentTarget.value })}
        aria-describedby=${describedBy('token-name', { hint: true, error: err('token-name') })} aria-invalid=${err('token-name') ? 'true' : undefined} />
    <//>
    <fieldset class="field radios">
      <legend>${t('tokens.field.role')}</legend>
      ${ROLES.map((r) => html`<div class="radio explained">
        <input type="radio" id=${`token-role-${r}`} name="token-role" value=${r} checked=${f.role === r}
          onChange=${() => set({ role: r })} aria-describedby=${`token-role-${r}-explain`} />
        <label for=${`token-role-${r}`}>${t(`tokens.role.${r}`)}</label>
        <p class="hint" id=${`token-role-${r}-explain`}>${t(`tokens.role.${r}.explain`)}</p>
      </div>`)}
    </fieldset>
    ${f.role === 'council' ? html`<fieldset class=${`field radios${err('token-sector-PO') ? ' field-error' : ''}`}
        aria-describedby=${err('token-sector-PO') ? 'token-sector-PO-error' : undefined}>
      <legend>${t('tokens.field.sector')}</legend>
      ${err('token-sector-PO') ? html`<p class="error-text" id="token-sector-PO-error"><span class="visually-hidden">${t('common.error')}: </span>${err('token-sector-PO')}</p>` : null}
      ${SECTORS.map((s) => html`<div class="radio">
        <input type="radio" id=${`token-sector-${s}`} name="token-sector" value=${s} checked=${f.sector === s}
          onChange=${() => set({ sector: s })} aria-invalid=${err('token-sector-PO') ? 'true' : undefined} />
        <label for=${`token-sector-${s}`}>${t(`sector.${s}`)}</label>
      </div>`)}
    </fieldset>` : null}
    <${Field} id="token-days" label=${t('tokens.field.days')} hint=${t('tokens.field.days.hint', { max: fmt.number(MAX_DAYS) })} error=${err('token-days')}>
      <input id="token-days" type="number" min="1" max=${MAX_DAYS} step="1" value=${f.days} onInput=${(e) => set({ days: e.currentTarget.value })}
        aria-describedby=${describedBy('token-days', { hint: true, error: err('token-days') })} aria-invalid=${err('token-days') ? 'true' : undefined} />
    <//>
    <div class="actions">
      <button type="submit" disabled=${busy}>${busy ? t('tokens.creating') : t('tokens.create')}</button>
    </div>
  </form>`;
}

// ---------- the list, revoking ----------

function statusOf(tok, now = Date.now()) {
  if (tok.revoked_at) return 'revoked';
  if (tok.expires_at && Date.parse(tok.expires_at) <= now) return 'expired';
  return 'active';
}

const STATUS_TAG = { active: 'tag-open', expired: 'tag-draft', revoked: 'tag-withdrawn' };

function Revoke({ token, onRevoked, onCancel }) {
  const revoke = async () => onRevoked(await api.post(`/api/v1/api-tokens/${encodeURIComponent(token.id)}/revoke`));
  return html`<${ConfirmPanel} id=${`revoke-${token.id}`} question=${t('tokens.revoke.question', { name: token.name })}
    explain=${t('tokens.revoke.explain')} yes=${t('tokens.revoke.yes')} onYes=${revoke} onCancel=${onCancel} />`;
}

function TokenList({ tick }) {
  const [reload, setReload] = useState(0);
  const [state, setState] = useState({ loading: true, error: null, items: [] });
  const [open, setOpen] = useState(null); // the id of the token being revoked
  const [done, setDone] = useState(null); // the name of the token just revoked
  const who = useAdminNames(tick + reload);

  useEffect(() => { if (tick) setDone(null); }, [tick]);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    api.get('/api/v1/api-tokens').then(
      (r) => live && setState({ loading: false, error: null, items: r.items }),
      (error) => live && setState({ loading: false, error, items: [] }),
    );
    return () => { live = false; };
  }, [tick, reload]);

  const revoked = (tok) => {
    setOpen(null);
    setReload((n) => n + 1);
    setDone(tok.name);
    announce(t('tokens.revoke.done', { name: tok.name }));
    focusSoon('tokens-list-title');
  };

  const { items, loading, error } = state;
  return html`<div>
    <h2 id="tokens-list-title" tabindex="-1">${t('tokens.list.title')}</h2>
    ${done !== null ? html`<p class="success" role="status">${t('tokens.revoke.done', { name: done })}</p>` : null}
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${loading && !items.length ? html`<${Loading} />` : null}
    ${!loading && !error && !items.length ? html`<p role="status">${t('tokens.none')}</p>` : null}
    ${!error && items.length ? html`<div class="table-wrap" tabindex="0" role="region" aria-label=${t('tokens.caption')}>
      <table>
        <caption>${t('tokens.caption')} <span class="meta">(${t('tokens.count', { n: fmt.number(items.length) })})</span></caption>
        <thead><tr>
          <th scope="col">${t('tokens.col.name')}</th>
          <th scope="col">${t('tokens.col.role')}</th>
          <th scope="col">${t('tokens.col.created')}</th>
          <th scope="col">${t('tokens.col.expires')}</th>
          <th scope="col">${t('tokens.col.used')}</th>
          <th scope="col">${t('tokens.col.status')}</th>
          <th scope="col">${t('tokens.col.actions')}</th>
        </tr></thead>
        <tbody>
          ${items.map((tok) => {
            const status = statusOf(tok);
            return [
              html`<tr key=${tok.id}>
                <th scope="row">${tok.name}</th>
                <td>${t(`tokens.role.${tok.role}`)}${tok.sector ? html`<br /><span class="meta">${t(`sector.${tok.sector}`)}</span>` : null}</td>
                <td>${fmt.dateTime(tok.created_at)}<br /><span class="meta">${t('tokens.by', { who: who(tok.created_by) })}</span></td>
                <td>${tok.expires_at ? fmt.dateTime(tok.expires_at) : t('tokens.expires.never')}</td>
                <td>${tok.last_used_at ? fmt.dateTime(tok.last_used_at) : t('tokens.used.never')}</td>
                <td>
                  <span class=${`tag ${STATUS_TAG[status]}`}>${t(`tokens.status.${status}`)}</span>
                  ${tok.revoked_at ? html`<br /><span class="meta">${t('tokens.revoked-by', { date: fmt.dateTime(tok.revoked_at), who: who(tok.revoked_by || '') })}</span>` : null}
                </td>
                <td class="actions-cell">${tok.revoked_at ? '–' : html`<div class="actions">
                  <button type="button" class="secondary small" id=${`token-${tok.id}-revoke`}
                    aria-expanded=${open === tok.id ? 'true' : 'false'}
                    onClick=${() => { setDone(null); setOpen(open === tok.id ? null : tok.id); }}>
                    ${t('tokens.revoke')}<span class="visually-hidden"> ${tok.name}</span>
                  </button>
                </div>`}</td>
              </tr>`,
              open === tok.id ? html`<tr class="sessions-row" key=${`${tok.id}-revoke`}><td colspan="7">
                <${Revoke} token=${tok} onRevoked=${revoked}
                  onCancel=${() => { setOpen(null); focusSoon(`token-${tok.id}-revoke`); }} />
              </td></tr>` : null,
            ];
          })}
        </tbody>
      </table>
    </div>` : null}
  </div>`;
}

export function ApiTokensPage({ me }) {
  useTitle(t('tokens.title'));
  const [tick, setTick] = useState(0);
  if (!me || me.role !== 'admin') {
    return html`<section><${PageTitle}>${t('tokens.title')}<//><p>${t('tokens.admins-only')}</p></section>`;
  }
  const refresh = () => setTick((n) => n + 1);
  return html`<section>
    <${PageTitle}>${t('tokens.title')}<//>
    <p>${t('tokens.intro')}</p>
    <h2 id="token-create-title">${t('tokens.create.title')}</h2>
    <${CreateForm} onCreated=${refresh} onDone=${refresh} />
    <${TokenList} tick=${tick} />
  </section>`;
}
