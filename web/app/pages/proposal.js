// One proposal in plain words (issue §5): what is decided, the electorate rules, this board's
// entry on the frozen voter roll and the digest (recomputed here from the frozen document).
// Exports ProposalPage, loadProposal(id) and the small describers the vote page reuses.
import { html, PageTitle, Loading, ErrorBox, StatusTag, Facts, DataTable, useLoad, useTitle } from '../ui.js';
import { t, has } from '../i18n.js';
import { api } from '../api.js';
import { href } from '../router.js';
import * as fmt from '../fmt.js';
import * as crypto from '../crypto.js';
import { ProposalAdminActions } from './admin-proposals.js';

// The proposal with its frozen document decoded and its digest checked in this browser:
// -> {p, doc|null, digestOk|null}
export async function loadProposal(id) {
  const p = await api.get(`/api/v1/proposals/${encodeURIComponent(id)}`);
  if (!p.document) return { p, doc: null, digestOk: null };
  const bytes = crypto.b64urlDecode(p.document);
  const digest = crypto.hexEncode(await crypto.sha256(bytes));
  const doc = JSON.parse(new TextDecoder().decode(bytes));
  return { p, doc, digestOk: digest === p.digest };
}

export function rollEntry(doc, memberId) {
  if (!doc || !memberId) return null;
  return doc.voter_roll.find((r) => r.member === memberId) || null;
}

export function unitText(unit) {
  return has(`unit.${unit}`) ? t(`unit.${unit}`) : unit;
}

export function rangeText(param) {
  return t('proposal.param.range', { min: fmt.paramValue(param.min, param.unit), max: fmt.paramValue(param.max, param.unit) });
}

export function chamberName(c) {
  return fmt.chamber(c);
}

/** A quorum of "0/d" means there is none; say so instead of "at least 0". */
export function isZero(fraction) {
  return /^0\//.test(fraction);
}

function fractionText(f) {
  return `${f} (${fmt.fraction(f)})`;
}

export function electorateFacts(e) {
  return [
    [t('proposal.electorate.sectors'), e.sectors.map((s) => t(`sector.${s}`)).join(', ')],
    [t('proposal.electorate.weighting'), t(`weighting.${e.weighting}`)],
    [t('proposal.electorate.quorum'), isZero(e.quorum)
      ? t('proposal.electorate.quorum-none')
      : t('proposal.electorate.quorum-text', { fraction: fractionText(e.quorum) })],
    [t('proposal.electorate.majority'), t(`majority.${e.majority.kind}`, { fraction: fractionText(e.majority.fraction) })],
    [t('proposal.electorate.chamber-rule'), e.chamber_rule ? t('proposal.electorate.chamber-rule-yes') : t('proposal.electorate.chamber-rule-no')],
  ];
}

function MandateDetails({ m }) {
  const d = m.demands || {};
  const pr = d.privacy;
  const yesNo = (b) => (b ? t('proposal.demand.required') : t('proposal.demand.not-required'));
  return html`
    <h2>${t('proposal.mandate.heading')}</h2>
    <${Facts} items=${[
      [t('proposal.mandate.supplier'), m.supplier],
      [t('proposal.mandate.product'), m.product],
    ]} />
    <h3>${t('proposal.demands.heading')}</h3>
    <ul>
      <li>${d.modular_licensing && d.modular_licensing.length
        ? t('proposal.demand.modular', { modules: d.modular_licensing.join(', ') })
        : t('proposal.demand.modular-none')}</li>
      ${pr ? html`
        <li>${t('proposal.demand.dpa', { version: pr.model_dpa_version })}</li>
        <li>${t('proposal.demand.location', { location: t(`location.${pr.data_location}`) })}</li>
        <li>${t('proposal.demand.no-secondary-use', { required: yesNo(pr.no_secondary_use) })}</li>
        <li>${t('proposal.demand.sub-processors', { required: yesNo(pr.sub_processors_listed) })}</li>`
        : html`<li>${t('proposal.demand.privacy-none')}</li>`}
      <li>${d.max_term_months !== undefined && d.max_term_months !== null
        ? t('proposal.demand.term', { months: fmt.number(d.max_term_months) })
        : t('proposal.demand.term-none')}</li>
    </ul>
    <h3>${t('proposal.params.heading')}</h3>
    ${m.parameters.length ? html`<p>${t('proposal.params.explain')}</p>
      <${DataTable} caption=${t('proposal.params.caption')}
        columns=${[{ key: 'label', label: t('proposal.params.col.label') }, { key: 'unit', label: t('proposal.params.col.unit') }, { key: 'range', label: t('proposal.params.col.range') }]}
        rows=${m.parameters.map((x) => ({ label: x.label, unit: unitText(x.unit), range: rangeText(x) }))} />`
      : html`<p>${t('proposal.params.none')}</p>`}`;
}

function PriorityDetails({ pr }) {
  return html`<h2>${t('proposal.priority.heading')}</h2>
    <p>${t('proposal.priority.explain')}</p>
    <ol>${pr.options.map((o) => html`<li>${o.label}</li>`)}</ol>`;
}

export function ProposalPage({ me, params }) {
  const { data, error, loading, reload } = useLoad(() => loadProposal(params.id), [params.id]);
  useTitle(data ? data.p.spec.title : t('proposal.title'));
  if (loading && !data) return html`<section><${PageTitle}>${t('proposal.title')}<//><${Loading} /></section>`;
  if (error) return html`<section><${PageTitle}>${t('proposal.title')}<//><${ErrorBox} error=${error} /></section>`;
  const { p, doc, digestOk } = data;
  const s = p.spec;
  const mine = me.member ? rollEntry(doc, me.member.id) : null;
  const isOpen = p.status === 'open';
  const canEdit = p.status === 'draft' && (me.role === 'admin' || (me.member && p.proposer_member === me.member.id));
  return html`<article>
    <${PageTitle}>${s.title}<//>
    <p><${StatusTag} status=${p.status} /> <span class="meta">${t(`kind.${s.kind}`)}</span></p>
    ${s.description ? html`<p class="description">${s.description}</p>` : null}
    <${Facts} items=${[
      [t('proposal.opens'), fmt.dateTime(s.opens_at)],
      [t('proposal.closes'), html`${fmt.dateTime(s.closes_at)}${isOpen ? html` <span class="meta">(${fmt.timeLeft(s.closes_at)})</span>` : null}`],
      isOpen ? [t('proposal.turnout'), t('proposals.turnout', { voted: fmt.number(p.voted_members || 0), eligible: fmt.number(p.eligible_members || 0) })] : null,
      p.closed_at ? [t('proposal.closed-at'), fmt.dateTime(p.closed_at)] : null,
      p.finalized_at ? [t('proposal.finalized-at'), fmt.dateTime(p.finalized_at)] : null,
      p.withdrawn_at ? [t('proposal.withdrawn-at'), fmt.dateTime(p.withdrawn_at)] : null,
    ]} />

    <div class="actions">
      ${isOpen && mine ? html`<a class="button" href=${href(`/proposals/${p.id}/vote`)}>${t('proposal.action.vote')}</a>
        <a class="button secondary" href=${href(`/proposals/${p.id}/proxies`)}>${t('proposal.action.proxies')}</a>` : null}
      ${(p.status === 'closed' || p.status === 'final' || isOpen) ? html`<a class="button secondary" href=${href(`/proposals/${p.id}/results`)}>${isOpen ? t('proposal.action.turnout') : t('proposal.action.results')}</a>` : null}
      ${canEdit ? html`<a class="button secondary" href=${href(`/proposals/${p.id}/edit`)}>${t('proposal.action.edit')}</a>` : null}
    </div>
    ${me.role === 'admin' ? html`<${ProposalAdminActions} proposal=${p} me=${me} onChanged=${reload} />` : null}

    ${s.kind === 'mandate' && s.mandate ? html`<${MandateDetails} m=${s.mandate} />` : null}
    ${s.kind === 'priority' && s.priority ? html`<${PriorityDetails} pr=${s.priority} />` : null}
    ${s.kind === 'resolution' ? html`<h2>${t('proposal.resolution.heading')}</h2><p>${t('proposal.resolution.explain')}</p>` : null}

    <h2>${t('proposal.electorate.heading')}</h2>
    <${Facts} items=${electorateFacts(s.electorate)} />

    ${me.member ? html`<h2>${t('proposal.roll.heading')}</h2>
      ${!doc ? html`<p>${t('proposal.roll.not-frozen')}</p>`
        : mine ? html`<${Facts} items=${[
          [t('proposal.roll.board'), `${me.member.name} (${mine.bg_number})`],
          [t('proposal.roll.weight'), html`${fmt.number(mine.weight)} <span class="meta">${t(`weighting.unit.${s.electorate.weighting}`)}</span>`],
          [t('proposal.roll.chamber'), chamberName(mine.chamber)],
        ]} />`
        : html`<p>${t('proposal.roll.absent')}</p>`}` : null}

    ${p.digest ? html`<h2>${t('proposal.digest.heading')}</h2>
      <p>${t('proposal.digest.explain')}</p>
      <p><code class="mono">${p.digest}</code></p>
      ${digestOk === true ? html`<p class="meta">${t('proposal.digest.checked', { members: fmt.number(doc.voter_roll.length) })}</p>` : null}
      ${digestOk === false ? html`<div class="failure" role="alert"><p>${t('proposal.digest.mismatch')}</p></div>` : null}` : null}
  </article>`;
}
