// Voting (issue §5): choose -> confirm (exactly what will be signed, in words and as the
// canonical statement) -> sign in this browser -> submit -> receipt verified here.
// Route '/proposals/:id/vote' votes for the own board; '/proposals/:id/vote/:for' casts the
// vote of a grantor whose proxy this board holds (the ballot's `for`).
import { html, useState, useEffect, useRef, useLayoutEffect, PageTitle, Loading, ErrorBox, ErrorSummary, Field, describedBy, useLoad, useTitle, announce, Facts } from '../ui.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { href } from '../router.js';
import * as fmt from '../fmt.js';
import * as crypto from '../crypto.js';
import { loadProposal, rollEntry, unitText, rangeText } from './proposal.js';
import { loadSigner, sign, nonce, nowUtc } from './keys.js';
import { ReceiptPanel } from './receipt.js';

async function load(me, id, forId) {
  const [prop, signer, forMember] = await Promise.all([
    loadProposal(id),
    loadSigner(me.member.id),
    forId !== me.member.id ? api.get(`/api/v1/members/${encodeURIComponent(forId)}`) : Promise.resolve(me.member),
  ]);
  return { ...prop, signer, forMember };
}

// -> [{id, text}] errors, or [] when the choice can be signed.
function validate(spec, c) {
  const errors = [];
  if (spec.kind === 'priority') return errors;
  if (!['yes', 'no', 'abstain'].includes(c.vote)) errors.push({ id: 'vote-yes', text: t('vote.error.choose') });
  if (spec.kind === 'mandate' && c.vote === 'yes') {
    for (const p of spec.mandate.parameters) {
      const raw = (c.params[p.name] || '').trim();
      const id = `param-${p.name}`;
      if (raw === '') errors.push({ id, field: p.name, text: t('vote.error.param-missing', { label: p.label }) });
      else if (!/^-?\d+$/.test(raw)) errors.push({ id, field: p.name, text: t('vote.error.param-integer', { label: p.label }) });
      else {
        const v = Number(raw);
        if (v < p.min || v > p.max) errors.push({ id, field: p.name, text: t('vote.error.param-range', { label: p.label, range: rangeText(p) }) });
      }
    }
  }
  return errors;
}

function choiceOf(spec, c) {
  if (spec.kind === 'priority') return { ranking: [...c.ranking] };
  if (spec.kind === 'mandate' && c.vote === 'yes') {
    const parameters = {};
    for (const p of spec.mandate.parameters) parameters[p.name] = Number(c.params[p.name].trim());
    return { vote: 'yes', parameters };
  }
  return { vote: c.vote };
}

// The choice in words, as the confirmation shows it.
export function ChoiceInWords({ spec, choice }) {
  if (spec.kind === 'priority') {
    if (!choice.ranking.length) return html`<p><strong>${t('vote.words.abstain-priority')}</strong></p>`;
    const label = (id) => (spec.priority.options.find((o) => o.id === id) || { label: id }).label;
    const left = spec.priority.options.filter((o) => !choice.ranking.includes(o.id));
    return html`<p><strong>${t('vote.words.ranking')}</strong></p>
      <ol>${choice.ranking.map((id) => html`<li>${label(id)}</li>`)}</ol>
      ${left.length ? html`<p>${t('vote.words.unranked', { options: left.map((o) => o.label).join(', ') })}</p>` : null}`;
  }
  return html`<p><strong>${t(`vote.words.${choice.vote}`)}</strong></p>
    ${choice.parameters ? html`<ul>${spec.mandate.parameters.map((p) => html`<li>${t('vote.words.param', {
      label: p.label, value: fmt.paramValue(choice.parameters[p.name], p.unit), raw: fmt.number(choice.parameters[p.name]), unit: unitText(p.unit),
    })}</li>`)}</ul>` : null}`;
}

function VoteChoice({ spec, c, setC, errors }) {
  const err = (id) => (errors.find((e) => e.id === id) || {}).text;
  if (spec.kind === 'priority') {
    return html`<${Ranking} options=${spec.priority.options} ranking=${c.ranking} onChange=${(ranking) => setC({ ...c, ranking })} />`;
  }
  const voteErr = err('vote-yes');
  return html`
    <fieldset class=${voteErr ? 'field-error' : ''} aria-describedby=${voteErr ? 'vote-error' : undefined}>
      <legend>${t('vote.choice.legend')}</legend>
      ${voteErr ? html`<p class="error-text" id="vote-error">${voteErr}</p>` : null}
      ${['yes', 'no', 'abstain'].map((v) => html`<div class="radio">
        <input type="radio" name="vote" id=${`vote-${v}`} value=${v} checked=${c.vote === v} onChange=${() => setC({ ...c, vote: v })} />
        <label for=${`vote-${v}`}>${t(`vote.choice.${v}${spec.kind === 'mandate' && v === 'yes' ? '-mandate' : ''}`)}</label>
      </div>`)}
    </fieldset>
    ${spec.kind === 'mandate' && c.vote === 'yes' ? html`<fieldset>
      <legend>${t('vote.params.legend')}</legend>
      <p class="hint">${t('vote.params.hint')}</p>
      ${spec.mandate.parameters.map((p) => {
        const id = `param-${p.name}`;
        const raw = c.params[p.name] || '';
        const shown = /^-?\d+$/.test(raw.trim()) ? fmt.paramValue(Number(raw.trim()), p.unit) : '';
        const hint = `${t('vote.params.range', { range: rangeText(p), unit: unitText(p.unit) })}${shown ? ` ${t('vote.params.now', { value: shown })}` : ''}`;
        return html`<${Field} id=${id} label=${p.label} hint=${hint} error=${err(id)}>
          <input type="text" inputmode="numeric" id=${id} value=${raw} autocomplete="off"
            aria-describedby=${describedBy(id, { hint: true, error: err(id) })} aria-invalid=${err(id) ? 'true' : undefined}
            onInput=${(e) => setC({ ...c, params: { ...c.params, [p.name]: e.currentTarget.value } })} />
        <//>`;
      })}
    </fieldset>` : null}`;
}

// A ranking that works by keyboard alone (add, move up/down and remove buttons, focus kept on
// the moved option) and by drag and drop. Options left out rank below all ranked ones.
function Ranking({ options, ranking, onChange }) {
  const [dragId, setDragId] = useState(null);
  const [overId, setOverId] = useState(null);
  const [focusId, setFocusId] = useState(null);
  const label = (id) => (options.find((o) => o.id === id) || { label: id }).label;
  const unranked = options.filter((o) => !ranking.includes(o.id));

  useLayoutEffect(() => {
    if (!focusId) return;
    const el = document.getElementById(focusId);
    if (el && !el.disabled) el.focus();
    else {
      // The wanted button is disabled (top or bottom): the other move button or the list.
      const alt = focusId.includes('-up-') ? focusId.replace('-up-', '-down-') : focusId.replace('-down-', '-up-');
      const el2 = document.getElementById(alt);
      if (el2 && !el2.disabled) el2.focus();
    }
    setFocusId(null);
  }, [focusId]);

  function move(id, delta, via) {
    const i = ranking.indexOf(id);
    const j = i + delta;
    if (j < 0 || j >= ranking.length) return;
    const next = [...ranking];
    next.splice(i, 1);
    next.splice(j, 0, id);
    onChange(next);
    announce(t('vote.rank.moved', { option: label(id), position: j + 1, total: next.length }));
    if (via) setFocusId(`rank-${via}-${id}`);
  }
  function add(id) {
    const next = [...ranking, id];
    onChange(next);
    announce(t('vote.rank.added', { option: label(id), position: next.length }));
    const rest = unranked.filter((o) => o.id !== id);
    setFocusId(rest.length ? `rank-add-${rest[0].id}` : `rank-up-${id}`);
  }
  function remove(id) {
    const i = ranking.indexOf(id);
    const next = ranking.filter((x) => x !== id);
    onChange(next);
    announce(t('vote.rank.removed', { option: label(id) }));
    const neighbour = next[Math.min(i, next.length - 1)];
    setFocusId(neighbour ? `rank-remove-${neighbour}` : `rank-add-${id}`);
  }
  function drop(targetId) {
    if (!dragId || dragId === targetId) return;
    const next = ranking.filter((x) => x !== dragId);
    const at = targetId === null ? next.length : next.indexOf(targetId);
    next.splice(at < 0 ? next.length : at, 0, dragId);
    onChange(next);
    announce(t('vote.rank.moved', { option: label(dragId), position: next.indexOf(dragId) + 1, total: next.length }));
  }

  return html`<fieldset>
    <legend>${t('vote.rank.legend')}</legend>
    <p class="hint" id="ranking-hint">${t('vote.rank.hint')}</p>
    <h2 id="ranked-heading" class="sub">${t('vote.rank.ranked')}</h2>
    ${ranking.length === 0 ? html`<p class="meta">${t('vote.rank.empty')}</p>` : null}
    <ol class="ranking" aria-labelledby="ranked-heading"
      onDragOver=${(e) => { if (dragId) e.preventDefault(); }}
      onDrop=${(e) => { e.preventDefault(); if (!overId) drop(null); setDragId(null); setOverId(null); }}>
      ${ranking.map((id, i) => html`<li key=${id} draggable="true"
          class=${`${dragId === id ? 'dragging' : ''} ${overId === id && dragId !== id ? 'drop-target' : ''}`}
          onDragStart=${(e) => { setDragId(id); e.dataTransfer.effectAllowed = 'move'; e.dataTransfer.setData('text/plain', id); }}
          onDragEnd=${() => { setDragId(null); setOverId(null); }}
          onDragOver=${(e) => { e.preventDefault(); e.stopPropagation(); setOverId(id); }}
          onDrop=${(e) => { e.preventDefault(); e.stopPropagation(); drop(id); setDragId(null); setOverId(null); }}>
        <span class="rank">${i + 1}.</span>
        <span class="grip" aria-hidden="true">⠿</span>
        <span class="option-label">${label(id)}</span>
        <span class="move">
          <button type="button" class="secondary small" id=${`rank-up-${id}`} disabled=${i === 0}
            aria-label=${t('vote.rank.up-label', { option: label(id) })} onClick=${() => move(id, -1, 'up')}>${t('vote.rank.up')}</button>
          <button type="button" class="secondary small" id=${`rank-down-${id}`} disabled=${i === ranking.length - 1}
            aria-label=${t('vote.rank.down-label', { option: label(id) })} onClick=${() => move(id, 1, 'down')}>${t('vote.rank.down')}</button>
          <button type="button" class="secondary small" id=${`rank-remove-${id}`}
            aria-label=${t('vote.rank.remove-label', { option: label(id) })} onClick=${() => remove(id)}>${t('vote.rank.remove')}</button>
        </span>
      </li>`)}
    </ol>
    ${unranked.length ? html`<h2 id="unranked-heading" class="sub">${t('vote.rank.unranked')}</h2>
      <ul class="ranking" aria-labelledby="unranked-heading">
        ${unranked.map((o) => html`<li key=${o.id}>
          <span class="option-label">${o.label}</span>
          <button type="button" class="secondary small" id=${`rank-add-${o.id}`}
            aria-label=${t('vote.rank.add-label', { option: o.label })} onClick=${() => add(o.id)}>${t('vote.rank.add')}</button>
        </li>`)}
      </ul>` : null}
  </fieldset>`;
}

export function VotePage({ me, params }) {
  useTitle(t('vote.title'));
  const memberId = me.member && me.member.id;
  const forId = params.for || memberId;
  const { data, error, loading } = useLoad(() => (memberId ? load(me, params.id, forId) : null), [params.id, forId]);
  const [step, setStep] = useState('choose');
  const [c, setC] = useState({ vote: '', params: {}, ranking: [] });
  const [errors, setErrors] = useState([]);
  const [statement, setStatement] = useState(null);
  const [busy, setBusy] = useState(false);
  const [submitError, setSubmitError] = useState(null);
  const [result, setResult] = useState(null);
  const stepHead = useRef(null);

  // Focus follows the step: the confirmation's heading, the result, or back at the top of
  // the form; never left on a button that has just disappeared.
  const firstStep = useRef(true);
  useEffect(() => {
    if (firstStep.current) {
      firstStep.current = false;
      return;
    }
    const target = step === 'choose' ? document.getElementById('page-title') : stepHead.current;
    if (target) target.focus();
  }, [step]);

  if (!memberId) return html`<section><${PageTitle}>${t('vote.title')}<//><p>${t('vote.board-only')}</p></section>`;
  if (loading && !data) return html`<section><${PageTitle}>${t('vote.title')}<//><${Loading} /></section>`;
  if (error) return html`<section><${PageTitle}>${t('vote.title')}<//><${ErrorBox} error=${error} /></section>`;

  const { p, doc, digestOk, signer, forMember } = data;
  const spec = p.spec;
  const back = html`<p><a href=${href(`/proposals/${p.id}`)}>${t('vote.back-to-proposal')}</a></p>`;
  const title = html`<${PageTitle}>${t('vote.heading', { title: spec.title })}<//>`;
  const isProxy = forId !== memberId;

  // Reasons this browser cannot vote, each with a way forward.
  let blocker = null;
  if (p.status !== 'open') blocker = t('vote.blocked.not-open');
  else if (digestOk !== true) blocker = t('vote.blocked.digest');
  else if (!rollEntry(doc, memberId)) blocker = t('vote.blocked.not-on-roll');
  else if (isProxy && !rollEntry(doc, forId)) blocker = t('vote.blocked.for-not-on-roll');
  if (blocker) return html`<section>${title}<div class="warning"><p>${blocker}</p></div>${back}</section>`;
  if (!signer.usable) {
    return html`<section>${title}<div class="warning"><p>${t('vote.blocked.no-key')}</p>
      <p><a href=${href('/keys')}>${t('vote.blocked.to-keys')}</a></p></div>${back}</section>`;
  }

  const whose = isProxy
    ? t('vote.for.proxy', { grantor: forMember.name, board: me.member.name })
    : t('vote.for.own', { board: me.member.name });

  function toConfirm(e) {
    e.preventDefault();
    const errs = validate(spec, c);
    setErrors(errs);
    if (errs.length) return;
    setSubmitError(null);
    setStatement({
      type: 'mandaat.ballot.v1', proposal: p.id, proposal_digest: p.digest, voter: memberId, for: forId,
      choice: choiceOf(spec, c), nonce: nonce(), cast_at: nowUtc(),
    });
    setStep('confirm');
  }

  async function submit() {
    setBusy(true);
    setSubmitError(null);
    try {
      const wire = await sign(signer.record, statement);
      const ballot = await api.post(`/api/v1/proposals/${p.id}/ballots`, wire);
      setResult({ wire, ballot });
      setStep('done');
    } catch (err) {
      setSubmitError(err);
      announce(t('vote.submit.failed'), { assertive: true });
    } finally {
      setBusy(false);
    }
  }

  function again() {
    setResult(null);
    setStatement(null);
    setStep('choose');
  }

  if (step === 'confirm') {
    const text = new TextDecoder().decode(crypto.canonicalBytes(statement));
    return html`<section>
      ${title}
      <h2 tabindex="-1" ref=${stepHead}>${t('vote.confirm.heading')}</h2>
      <p>${t('vote.confirm.intro')}</p>
      <div class="notice">
        <p>${whose}</p>
        <${ChoiceInWords} spec=${spec} choice=${statement.choice} />
      </div>
      <${Facts} items=${[
        [t('vote.confirm.proposal'), spec.title],
        [t('vote.confirm.digest'), html`<code class="mono">${p.digest}</code>`],
        [t('vote.confirm.cast-at'), fmt.dateTime(statement.cast_at)],
        [t('vote.confirm.key'), html`${signer.record.label} <code class="mono">${signer.record.keyId.slice(0, 16)}…</code>`],
      ]} />
      <h3 id="statement-heading">${t('vote.confirm.statement')}</h3>
      <p class="hint">${t('vote.confirm.statement-hint')}</p>
      <pre class="statement" role="region" aria-labelledby="statement-heading" tabindex="0">${text}</pre>
      <${ErrorBox} error=${submitError} title=${t('vote.submit.failed')} />
      ${submitError && ['clock-skew', 'nonce-reused'].includes(submitError.slug) ? html`<p>${t('vote.submit.again-hint')}</p>` : null}
      <div class="actions">
        <button type="button" onClick=${submit} disabled=${busy}>${busy ? t('vote.submit.busy') : t('vote.submit.button')}</button>
        <button type="button" class="secondary" onClick=${() => setStep('choose')} disabled=${busy}>${t('vote.confirm.change')}</button>
      </div>
    </section>`;
  }

  if (step === 'done' && result) {
    const b = result.ballot;
    return html`<section>
      ${title}
      <p ref=${stepHead} tabindex="-1">${t('vote.done.received', { entry: fmt.number(b.entry), when: fmt.dateTime(b.accepted_at) })}</p>
      ${!b.counts ? html`<div class="warning"><p>${t('vote.done.not-counting')}</p></div>` : null}
      <${ReceiptPanel} wire=${result.wire} receipt=${b.receipt} kind="ballot" publicKey=${signer.record.publicRaw} />
      <div class="actions">
        <button type="button" class="secondary" onClick=${again}>${t('vote.done.again')}</button>
        <a href=${href(`/proposals/${p.id}`)}>${t('vote.back-to-proposal')}</a>
      </div>
    </section>`;
  }

  return html`<section>
    ${title}
    <p>${whose}</p>
    <p class="meta">${t('vote.closes', { when: fmt.dateTime(spec.closes_at), left: fmt.timeLeft(spec.closes_at) })}</p>
    <${ErrorSummary} errors=${errors} />
    <form onSubmit=${toConfirm} novalidate>
      <${VoteChoice} spec=${spec} c=${c} setC=${setC} errors=${errors} />
      <div class="actions">
        <button type="submit">${t('vote.to-confirm')}</button>
        <a href=${href(`/proposals/${p.id}`)}>${t('common.cancel')}</a>
      </div>
    </form>
  </section>`;
}
