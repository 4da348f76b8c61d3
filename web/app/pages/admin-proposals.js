// The secretariat's lifecycle actions on one proposal, shown on the proposal page:
// open, close, finalise and withdraw as its status allows (docs/voting.md §1, Lifecycle).
// Renders nothing for any role but admin; the API refuses the others anyway.
import { html, useState, useRef, useEffect, announce } from '../ui.js';
import { t, has } from '../i18n.js';
import { api, ApiProblem, problemText } from '../api.js';
import * as fmt from '../fmt.js';


// Which actions each status allows, in the order they are offered.
const ACTIONS = {
  draft: ['open', 'withdraw'],
  open: ['close', 'withdraw'],
  closed: ['finalize'],
  final: [],
  withdrawn: [],
};

export function ProposalAdminActions({ proposal, me, onChanged }) {
  const [confirming, setConfirming] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const confirmRef = useRef(null);
  const lastButton = useRef(null);

  useEffect(() => {
    if (confirming && confirmRef.current) confirmRef.current.focus();
  }, [confirming]);

  if (!me || me.role !== 'admin' || !proposal) return null;
  const actions = ACTIONS[proposal.status] || [];
  const spec = proposal.spec || {};

  const ask = (action, ev) => {
    lastButton.current = ev && ev.currentTarget ? ev.currentTarget.id : null;
    setError(null);
    setDone(null);
    setConfirming(action);
  };

  const cancel = () => {
    const id = lastButton.current;
    setConfirming(null);
    setTimeout(() => { const el = id && document.getElementById(id); if (el) el.focus(); }, 0);
  };

  const run = async () => {
    const action = confirming;
    setBusy(true);
    setError(null);
    try {
      const updated = await api.post(`/api/v1/proposals/${encodeURIComponent(proposal.id)}/${action}`);
      setConfirming(null);
      const message = t(`lifecycle.${action}.done`);
      setDone(message);
      announce(message);
      if (onChanged) onChanged(updated);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  // What the confirmation says about the consequences, with the times that matter.
  const consequence = (action) => {
    const params = {
      opens: fmt.dateTime(spec.opens_at),
      closes: fmt.dateTime(spec.closes_at),
    };
    if (action === 'close' && spec.closes_at && new Date(spec.closes_at).getTime() > Date.now()) {
      return `${t('lifecycle.close.confirm', params)} ${t('lifecycle.close.too-early', params)}`;
    }
    return t(`lifecycle.${action}.confirm`, params);
  };

  return html`<section class="admin-actions" aria-labelledby="admin-actions-title">
    <h2 id="admin-actions-title">${t('lifecycle.title')}</h2>
    ${actions.length === 0 ? html`<p>${t(`lifecycle.none.${proposal.status}`)}</p>` : html`
      <p class="hint">${t(`lifecycle.hint.${proposal.status}`)}</p>
      <div class="actions">
        ${actions.map((a) => html`<button type="button" id=${`lifecycle-${a}`}
            class=${`button ${a === 'withdraw' ? 'danger' : 'primary'}`}
            aria-expanded=${confirming === a ? 'true' : 'false'} aria-controls="lifecycle-confirm"
            disabled=${busy} onClick=${(ev) => ask(a, ev)}>${t(`lifecycle.${a}`)}</button>`)}
      </div>`}
    <div id="lifecycle-confirm">
      ${confirming ? html`<div class="notice confirm-panel" role="group" aria-labelledby="lifecycle-confirm-title" tabindex="-1" ref=${confirmRef}>
        <h3 id="lifecycle-confirm-title">${t(`lifecycle.${confirming}.question`, { title: spec.title || '' })}</h3>
        <p>${consequence(confirming)}</p>
        <${RefusedBox} error=${error} action=${confirming} />
        <div class="actions">
          <button type="button" class=${`button ${confirming === 'withdraw' ? 'danger' : 'primary'}`} disabled=${busy} onClick=${run}>
            ${busy ? t('lifecycle.busy') : t(`lifecycle.${confirming}.yes`)}
          </button>
          <button type="button" class="button secondary" disabled=${busy} onClick=${cancel}>${t('common.cancel')}</button>
        </div>
      </div>` : null}
    </div>
    ${done ? html`<p class="success" role="status">${done}</p>` : null}
  </section>`;
}

// Why the server refused: a sentence for this action and problem when the messages have one
// (closing before the window ended, opening with an empty voter roll), else the common text;
// always with the server's own detail.
function RefusedBox({ error, action }) {
  const ref = useRef(null);
  useEffect(() => {
    if (error && ref.current) announce(ref.current.textContent, { assertive: true });
  }, [error]);
  if (!error) return null;
  const slug = error instanceof ApiProblem ? error.slug : '';
  const specific = `lifecycle.problem.${action}.${slug}`;
  const general = `lifecycle.problem.${slug}`;
  const text = has(specific) ? t(specific) : has(general) ? t(general) : problemText(error);
  const detail = error instanceof ApiProblem ? error.detail : String(error.message || error);
  return html`<div class="error-box" role="alert" ref=${ref}>
    <p class="error-title">${t(`lifecycle.${action}.refused`)}</p>
    <p>${text}</p>
    ${detail ? html`<p class="error-detail"><span class="label">${t('common.server-says')}</span> <span lang="en">${detail}</span></p>` : null}
  </div>`;
}
