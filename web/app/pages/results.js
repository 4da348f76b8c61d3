// Results (issue §7). Before close only the turnout; after close the outcome, quorum and
// majority with their thresholds, by sector and by chamber, each parameter's agreed value with
// the values given (read from the counted ballots in the log, whose bytes are public once the
// proposal has closed), the Schulze ranking with its pairwise matrix — each chart an inline SVG
// with a table for screen readers — and the CSV download.
import { html, useMemo, useState, PageTitle, Loading, ErrorBox, Facts, DataTable, BarChart, useLoad, useTitle, saveFile, StatusTag } from '../ui.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { href } from '../router.js';
import * as fmt from '../fmt.js';
import * as crypto from '../crypto.js';
import { loadProposal, chamberName, isZero } from './proposal.js';

const dec = new TextDecoder();

// The counted ballots' statements, from the log entries (checked against their leaf hashes).
async function countedBallots(counted) {
  if (!counted || counted.length === 0) return [];
  const want = new Set(counted);
  const lo = Math.min(...counted);
  const hi = Math.max(...counted) + 1;
  const out = [];
  for (let start = lo; start < hi; start += 1000) {
    const end = Math.min(hi, start + 1000);
    const page = await api.get(`/api/v1/log/entries?start=${start}&end=${end}`);
    for (const e of page.entries) {
      if (!want.has(e.index) || !e.entry) continue;
      const bytes = crypto.b64urlDecode(e.entry);
      const lh = crypto.hexEncode(await crypto.leafHash(bytes));
      if (lh !== e.leaf_hash) throw new Error(t('results.values.bad-entry', { index: e.index }));
      const wire = JSON.parse(dec.decode(bytes));
      out.push(JSON.parse(dec.decode(crypto.b64urlDecode(wire.statement))));
    }
  }
  return out;
}

async function load(id) {
  const prop = await loadProposal(id);
  if (prop.p.status !== 'closed' && prop.p.status !== 'final') return { ...prop, tally: null, ballots: [] };
  const tally = await api.get(`/api/v1/proposals/${encodeURIComponent(id)}/result`);
  let ballots = [];
  let ballotsError = null;
  if (tally.kind === 'mandate' && tally.parameters.length) {
    try {
      ballots = await countedBallots(tally.counted);
    } catch (err) {
      ballotsError = err;
    }
  }
  return { ...prop, tally, ballots, ballotsError };
}

const pct = (part, whole) => (whole > 0 ? fmt.percent(part / whole) : '–');
const w = (x) => fmt.number(x.weight);

function requiredWeight(fraction, total) {
  const [n, d] = fraction.split('/').map(Number);
  return Math.ceil((n * total) / d);
}

function Turnout({ p }) {
  const eligible = p.eligible_members || 0;
  const voted = p.voted_members || 0;
  return html`<section>
    <h2>${t('results.turnout.heading')}</h2>
    <p>${t('results.turnout.only')}</p>
    <${BarChart} title=${t('results.turnout.chart')} max=${Math.max(eligible, 1)} valueLabel=${t('results.col.members')}
      format=${fmt.number}
      rows=${[{ label: t('results.turnout.voted'), value: voted }, { label: t('results.turnout.eligible'), value: eligible, className: 'abstain' }]} />
    <p>${t('results.turnout.text', { voted: fmt.number(voted), eligible: fmt.number(eligible), percent: pct(voted, eligible) })}</p>
  </section>`;
}

function Breakdown({ title, entries, nameOf, hasFavour }) {
  const cols = [
    { key: 'name', label: title }, { key: 'eligible', label: t('results.col.eligible'), numeric: true },
    { key: 'voted', label: t('results.col.voted'), numeric: true }, { key: 'turnout', label: t('results.col.turnout'), numeric: true },
    { key: 'yes', label: hasFavour ? t('results.col.yes') : t('results.col.ranked'), numeric: true },
    ...(hasFavour ? [{ key: 'no', label: t('results.col.no'), numeric: true }] : []),
    { key: 'abstain', label: t('results.col.abstain'), numeric: true },
  ];
  if (hasFavour) cols.push({ key: 'favour', label: t('results.col.in-favour') });
  const rows = entries.map(([k, b]) => ({
    name: nameOf(k), eligible: w(b.eligible), voted: w(b.voted), turnout: pct(b.voted.weight, b.eligible.weight),
    yes: w(b.yes), no: w(b.no), abstain: w(b.abstain),
    favour: b.in_favour === undefined ? '' : (b.in_favour ? t('common.yes') : t('common.no')),
  }));
  return html`
    <${BarChart} title=${t('results.breakdown.chart', { what: title })} max=${1} valueLabel=${t('results.col.turnout')}
      format=${(v) => fmt.percent(v)}
      rows=${entries.map(([k, b]) => ({ label: nameOf(k), value: b.eligible.weight > 0 ? b.voted.weight / b.eligible.weight : 0 }))} />
    <${DataTable} caption=${t('results.breakdown.table', { what: title })} columns=${cols} rows=${rows} />`;
}

function ParamValues({ param, ballots, roll }) {
  const weights = new Map(roll.map((r) => [r.member, r.weight]));
  const groups = new Map();
  for (const b of ballots) {
    const v = b.choice && b.choice.parameters && b.choice.parameters[param.name];
    if (v === undefined) continue;
    const g = groups.get(v) || { value: v, weight: 0, members: 0 };
    g.weight += weights.get(b.for) || 0;
    g.members += 1;
    groups.set(v, g);
  }
  const rows = [...groups.values()].sort((a, b) => a.value - b.value);
  if (!rows.length) return null;
  return html`<${BarChart} title=${t('results.params.values-chart', { label: param.label || param.name })}
    valueLabel=${t('results.col.weight')} format=${fmt.number}
    rows=${rows.map((r) => ({ label: `${fmt.paramValue(r.value, param.unit)}${r.value === param.agreed ? ` ★` : ''}`, value: r.weight, className: r.value === param.agreed ? 'yes' : '' }))} />
    <p class="meta">${t('results.params.star')}</p>`;
}

function Parameters({ tally, spec, ballots, ballotsError, roll }) {
  const labelOf = (name) => ((spec.mandate && spec.mandate.parameters.find((x) => x.name === name)) || {}).label || name;
  return html`<section>
    <h2>${t('results.params.heading')}</h2>
    <p>${t('results.params.explain')}</p>
    <${DataTable} caption=${t('results.params.caption')}
      columns=${[{ key: 'label', label: t('results.params.col.label') }, { key: 'agreed', label: t('results.params.col.agreed') },
        { key: 'given', label: t('results.params.col.given'), numeric: true }, { key: 'range', label: t('results.params.col.range') }]}
      rows=${tally.parameters.map((x) => ({
        label: labelOf(x.name),
        agreed: x.agreed === undefined || x.agreed === null ? t('results.params.none') : fmt.paramValue(x.agreed, x.unit),
        given: fmt.number(x.values_given),
        range: `${fmt.paramValue(x.min, x.unit)} – ${fmt.paramValue(x.max, x.unit)}`,
      }))} />
    <${ErrorBox} error=${ballotsError} />
    ${tally.parameters.map((x) => html`<${ParamValues} param=${{ ...x, label: labelOf(x.name) }} ballots=${ballots} roll=${roll} />`)}
  </section>`;
}

// The place as the tally gives it: options that tie (equal wins, neither beats the other)
// share a rank, and the next rank counts them (1, 1, 3).
function placeText(r, ranking) {
  const shared = ranking.filter((x) => x.rank === r.rank).length > 1;
  return shared ? t('results.priority.place-shared', { rank: r.rank }) : String(r.rank);
}

// Matrix keys: A, B, C … (at most 20 options), so they are never mistaken for places.
const keyOf = (i) => String.fromCharCode(65 + i);

// The pairwise matrix as a heat map: cell (a, b) is the weight preferring option a to b.
// Rows and columns follow the ranking above (the tally's matrix is in declared order, so it
// is reordered here) and are marked with letters; the letters' key below the chart names
// each option, so long names never need room in the chart, from 320px phones up.
function Matrix({ ranking, options, pairwise, labelOf }) {
  const order = ranking.map((r) => options.indexOf(r.id));
  const n = order.length;
  const m = order.map((i) => order.map((j) => pairwise[i][j]));
  const max = Math.max(1, ...m.flat());
  const digits = Math.max(1, ...m.flat().map((v) => fmt.number(v).length));
  const cell = Math.max(44, Math.ceil(digits * 8.5 + 16));
  const left = 28;
  const top = 26;
  const width = left + n * cell + 4;
  const height = top + n * cell + 4;
  const titleId = useMemo(() => `matrix-${Math.random().toString(36).slice(2)}`, []);
  return html`<figure class="chart">
    <figcaption id=${titleId}>${t('results.priority.matrix')}</figcaption>
    <div class="table-wrap" tabindex="0" role="region" aria-label=${t('results.priority.matrix')}>
    <svg class="matrix" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} role="img" aria-labelledby=${titleId} aria-describedby=${`${titleId}-table`}>
      ${order.map((_, b) => html`<text x=${left + b * cell + cell / 2 - 1} y=${top - 9} text-anchor="middle" class="chart-label">${keyOf(b)}</text>`)}
      ${order.map((_, a) => html`<g>
        <text x=${left - 10} y=${top + a * cell + cell / 2} text-anchor="end" dominant-baseline="middle" class="chart-label">${keyOf(a)}</text>
        ${order.map((_, b) => {
          const v = m[a][b];
          const shade = a === b ? 0 : v / max;
          return html`<g>
            <rect x=${left + b * cell} y=${top + a * cell} width=${cell - 2} height=${cell - 2}
              fill=${a === b ? '#e6e6e6' : `rgba(42,109,176,${0.12 + shade * 0.88})`} />
            ${a === b ? null : html`<text x=${left + b * cell + cell / 2 - 1} y=${top + a * cell + cell / 2} text-anchor="middle" dominant-baseline="middle"
              class="chart-value" fill=${shade > 0.5 ? '#ffffff' : '#1a1a1a'}>${fmt.number(v)}</text>`}
          </g>`;
        })}
      </g>`)}
    </svg>
    </div>
    <p class="meta">${t('results.priority.matrix-key')}</p>
    <ol type="A" class="matrix-key">${ranking.map((r) => html`<li>${t('results.priority.key-item', { option: labelOf(r.id), place: placeText(r, ranking) })}</li>`)}</ol>
    <div class="visually-hidden" id=${`${titleId}-table`}><table>
      <caption>${t('results.priority.matrix')}</caption>
      <thead><tr><th scope="col">${t('results.priority.prefers')}</th>${ranking.map((r) => html`<th scope="col">${t('results.priority.over', { option: labelOf(r.id) })}</th>`)}</tr></thead>
      <tbody>${ranking.map((r, a) => html`<tr><th scope="row">${labelOf(r.id)}</th>${order.map((_, b) => html`<td>${a === b ? '–' : fmt.number(m[a][b])}</td>`)}</tr>`)}</tbody>
    </table></div>
  </figure>`;
}

function Priority({ tally, spec }) {
  const pr = tally.priority;
  const labelOf = (id) => ((spec.priority && spec.priority.options.find((o) => o.id === id)) || { label: id }).label;
  return html`<section>
    <h2>${t('results.priority.heading')}</h2>
    <p>${t('results.priority.explain')}</p>
    <${DataTable} caption=${t('results.priority.ranking')}
      columns=${[{ key: 'rank', label: t('results.priority.col.rank') }, { key: 'option', label: t('results.priority.col.option') }, { key: 'wins', label: t('results.priority.col.wins'), numeric: true }]}
      rows=${pr.ranking.map((r) => ({ rank: placeText(r, pr.ranking), option: labelOf(r.id), wins: fmt.number(r.wins) }))} />
    <${BarChart} title=${t('results.priority.wins-chart')} max=${Math.max(1, pr.options.length - 1)} valueLabel=${t('results.priority.col.wins')}
      format=${fmt.number} rows=${pr.ranking.map((r) => ({ label: labelOf(r.id), value: r.wins }))} />
    <${Matrix} ranking=${pr.ranking} options=${pr.options} pairwise=${pr.pairwise} labelOf=${labelOf} />
    <p class="meta">${t('results.priority.matrix-explain')}</p>
  </section>`;
}

function Tally({ p, tally, doc, ballots, ballotsError }) {
  const spec = p.spec;
  const needed = requiredWeight(tally.quorum.required, tally.eligible.weight);
  const votesCast = tally.yes.weight + tally.no.weight;
  const hasMajority = tally.kind !== 'priority';
  return html`
    <div class=${tally.outcome === 'adopted' ? 'success' : 'warning'} role="status">
      <h2>${t('results.outcome', { outcome: t(`outcome.${tally.outcome}`) })}</h2>
      <p>${t(`results.outcome.${tally.outcome}.${tally.kind === 'priority' ? 'priority' : 'vote'}`)}</p>
    </div>
    <section>
      <h2>${t('results.quorum.heading')}</h2>
      <p>${isZero(tally.quorum.required)
        ? t('results.quorum.none', {
          voted: w(tally.voted), eligible: w(tally.eligible),
          percent: pct(tally.voted.weight, tally.eligible.weight),
        })
        : t('results.quorum.text', {
          required: `${tally.quorum.required} (${fmt.fraction(tally.quorum.required)})`,
          needed: fmt.number(needed), voted: w(tally.voted), eligible: w(tally.eligible),
          percent: pct(tally.voted.weight, tally.eligible.weight),
        })} <strong>${tally.quorum.met ? t('results.met') : t('results.not-met')}</strong></p>
      <${BarChart} title=${t('results.quorum.chart')} valueLabel=${t(`weighting.unit.${tally.weighting}`)} format=${fmt.number} max=${Math.max(1, tally.eligible.weight)}
        rows=${[{ label: t('results.quorum.voted'), value: tally.voted.weight, className: tally.quorum.met ? 'yes' : 'no' },
          { label: t('results.quorum.needed'), value: needed, className: 'abstain' },
          { label: t('results.quorum.eligible'), value: tally.eligible.weight, className: 'abstain' }]} />
    </section>
    <section>
      <h2>${hasMajority ? t('results.votes.heading') : t('results.votes.heading-priority')}</h2>
      ${hasMajority ? html`<p>${t('proposal.electorate.majority')}: ${t(`majority.${tally.majority.rule.kind}`, { fraction: `${tally.majority.rule.fraction} (${fmt.fraction(tally.majority.rule.fraction)})` })}.
        ${' '}${t('results.votes.share', { percent: pct(tally.yes.weight, votesCast) })}
        ${' '}<strong>${tally.majority.carried ? t('results.carried') : t('results.not-carried')}</strong></p>` : null}
      <${BarChart} title=${t('results.votes.chart')} valueLabel=${t(`weighting.unit.${tally.weighting}`)} format=${fmt.number}
        rows=${[
          { label: hasMajority ? t('results.col.yes') : t('results.col.ranked'), value: tally.yes.weight, className: 'yes' },
          ...(hasMajority ? [{ label: t('results.col.no'), value: tally.no.weight, className: 'no' }] : []),
          { label: t('results.col.abstain'), value: tally.abstain.weight, className: 'abstain' },
        ]} />
      <${Facts} items=${[
        [t('results.facts.members-voted'), t('results.turnout.text', { voted: fmt.number(tally.voted.members), eligible: fmt.number(tally.eligible.members), percent: pct(tally.voted.members, tally.eligible.members) })],
        [t('results.facts.weighting'), t(`weighting.${tally.weighting}`)],
        [t('results.facts.counted'), fmt.number(tally.counted.length)],
      ]} />
    </section>
    ${tally.chamber_rule ? html`<section>
      <h2>${t('results.chambers.rule-heading')}</h2>
      <p>${t('results.chambers.rule-text', { favour: fmt.number(tally.chamber_rule.chambers_in_favour), voted: fmt.number(tally.chamber_rule.chambers_voted) })}
        ${' '}<strong>${tally.chamber_rule.met ? t('results.met') : t('results.not-met')}</strong></p>
    </section>` : null}
    <section>
      <h2>${t('results.by-sector')}</h2>
      <${Breakdown} title=${t('results.col.sector')} entries=${Object.entries(tally.by_sector)} nameOf=${(s) => t(`sector.${s}`)} hasFavour=${hasMajority} />
    </section>
    <section>
      <h2>${t('results.by-chamber')}</h2>
      <${Breakdown} title=${t('results.col.chamber')} entries=${Object.entries(tally.by_chamber)} nameOf=${chamberName} hasFavour=${hasMajority} />
    </section>
    ${tally.kind === 'mandate' && tally.parameters.length ? html`<${Parameters} tally=${tally} spec=${spec} ballots=${ballots} ballotsError=${ballotsError} roll=${doc ? doc.voter_roll : []} />` : null}
    ${tally.kind === 'priority' && tally.priority ? html`<${Priority} tally=${tally} spec=${spec} />` : null}`;
}

async function downloadCsv(sector) {
  const blob = await api.getBlob(`/api/v1/results.csv${sector ? `?sector=${sector}` : ''}`);
  saveFile(`mandaat-results${sector ? `-${sector}` : ''}.csv`, blob, 'text/csv');
}

function CsvButton({ onError }) {
  return html`<button type="button" class="secondary" onClick=${() => downloadCsv().catch(onError)}>${t('results.csv')}</button>`;
}

export function ResultsPage({ params }) {
  const { data, error, loading } = useLoad(() => load(params.id), [params.id]);
  const [csvError, setCsvError] = useState(null);
  useTitle(data ? t('results.heading', { title: data.p.spec.title }) : t('results.title'));
  if (loading && !data) return html`<section><${PageTitle}>${t('results.title')}<//><${Loading} /></section>`;
  if (error) return html`<section><${PageTitle}>${t('results.title')}<//><${ErrorBox} error=${error} /></section>`;
  const { p, tally, doc, ballots, ballotsError } = data;
  return html`<section>
    <${PageTitle}>${t('results.heading', { title: p.spec.title })}<//>
    <p><${StatusTag} status=${p.status} /> <a href=${href(`/proposals/${p.id}`)}>${t('vote.back-to-proposal')}</a></p>
    ${p.status === 'final' ? html`<p>${t('results.final', { when: fmt.dateTime(p.finalized_at) })}</p>` : null}
    ${p.status === 'closed' ? html`<p>${t('results.closed', { when: fmt.dateTime(p.closed_at) })}</p>` : null}
    ${p.status === 'open' ? html`<${Turnout} p=${p} />` : null}
    ${p.status === 'draft' || p.status === 'withdrawn' ? html`<p>${t('results.none')}</p>` : null}
    ${tally ? html`<${Tally} p=${p} tally=${tally} doc=${doc} ballots=${ballots} ballotsError=${ballotsError} />
      <h2>${t('results.download.heading')}</h2>
      <${ErrorBox} error=${csvError} />
      <div class="actions"><${CsvButton} onError=${setCsvError} /></div>` : null}
  </section>`;
}

export function ResultsListPage({ me }) {
  useTitle(t('results.list.title'));
  const { data, error, loading } = useLoad(() => api.get('/api/v1/results'), []);
  const [csvError, setCsvError] = useState(null);
  return html`<section>
    <${PageTitle}>${t('results.list.title')}<//>
    <p>${t('results.list.explain')}</p>
    ${loading ? html`<${Loading} />` : null}
    <${ErrorBox} error=${error || csvError} />
    ${data && data.length === 0 ? html`<p>${t('results.list.none')}</p>` : null}
    ${data && data.length ? html`<div class="actions"><${CsvButton} onError=${setCsvError} /></div>
      <ul class="cards">${data.map((r) => html`<li class="card">
        <h2 class="card-title"><a href=${href(`/proposals/${r.proposal}/results`)}>${r.title}</a></h2>
        <p><${StatusTag} status=${r.status} /> <span class="meta">${t(`kind.${r.kind}`)}</span></p>
        <p><strong>${t('proposals.outcome', { outcome: t(`outcome.${r.outcome}`) })}</strong> <span class="meta">${t('proposals.closed-on', { when: fmt.dateTime(r.closed_at) })}</span></p>
      </li>`)}</ul>` : null}
  </section>`;
}
