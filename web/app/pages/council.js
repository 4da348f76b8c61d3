// Sector results (#/council), for a sector council (PO-Raad, VO-raad): every closed or final
// result concerning its sector (GET /api/v1/results?sector=…) with the outcome and the sector's
// own turnout and votes, a link to each proposal's full results, and the CSV download
// (GET /api/v1/results.csv?sector=…, fetched so the CSRF header and session cookie are sent).
import { html, useState, PageTitle, Loading, ErrorBox, useLoad, useTitle, announce, saveFile } from '../ui.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { href } from '../router.js';
import * as fmt from '../fmt.js';


// "12 van 40 leden (30 %)" from a breakdown's {members, weight} counts.
function share(part, whole, key) {
  if (!part || !whole) return '–';
  const pct = whole[key] > 0 ? fmt.percent(part[key] / whole[key]) : null;
  return pct === null ? fmt.number(part[key]) : t('council.share', { n: fmt.number(part[key]), of: fmt.number(whole[key]), pct });
}

function ResultCard({ r, sector }) {
  const b = r.sector_breakdown || (r.tally && r.tally.by_sector && r.tally.by_sector[sector]) || null;
  const byWeight = r.tally && r.tally.eligible && b && b.eligible && b.eligible.weight !== b.eligible.members;
  const key = byWeight ? 'weight' : 'members';
  const outcome = t(`outcome.${r.outcome}`);
  return html`<li class="card">
    <h3>${r.title}</h3>
    <p class="meta">
      ${t(`kind.${r.kind}`)} · <span class=${`tag tag-${r.status}`}>${t(`status.${r.status}`)}</span>
      · ${t('council.closed-at', { date: fmt.dateTime(r.closed_at) })}
    </p>
    <p><strong>${t('council.outcome')}:</strong> <span class=${`outcome outcome-${r.outcome}`}>${outcome}</span></p>
    ${b ? html`<dl class="facts">
      <div class="fact"><dt>${t('council.eligible', { sector })}</dt><dd>${fmt.number(b.eligible.members)}${byWeight ? html` <span class="meta">(${t('council.weight', { n: fmt.number(b.eligible.weight) })})</span>` : null}</dd></div>
      <div class="fact"><dt>${t('council.voted')}</dt><dd>${share(b.voted, b.eligible, key)}</dd></div>
      ${r.kind !== 'priority' ? html`
        <div class="fact"><dt>${t('council.yes')}</dt><dd>${share(b.yes, b.voted, key)}</dd></div>
        <div class="fact"><dt>${t('council.no')}</dt><dd>${share(b.no, b.voted, key)}</dd></div>` : null}
      <div class="fact"><dt>${t('council.abstain')}</dt><dd>${share(b.abstain, b.voted, key)}</dd></div>
      ${b.in_favour !== undefined && b.in_favour !== null ? html`<div class="fact"><dt>${t('council.in-favour', { sector })}</dt><dd>${b.in_favour ? t('common.yes') : t('common.no')}</dd></div>` : null}
    </dl>
    <p class="hint">${byWeight ? t('council.by-weight') : t('council.by-members')}</p>` : null}
    <p><a href=${href(`/proposals/${r.proposal}/results`)}>${t('council.full', { title: r.title })}</a></p>
  </li>`;
}

export function CouncilResultsPage({ me }) {
  useTitle(t('council.title'));
  const sector = me && me.sector;
  const results = useLoad(() => (sector ? api.get(`/api/v1/results?sector=${encodeURIComponent(sector)}`) : Promise.resolve([])), [sector]);
  const [busy, setBusy] = useState(false);
  const [csvError, setCsvError] = useState(null);
  const [csvDone, setCsvDone] = useState(null);

  if (!me || me.role !== 'council' || !sector) {
    return html`<section><${PageTitle}>${t('council.title')}<//><p>${t('council.councils-only')}</p></section>`;
  }

  const download = async () => {
    setBusy(true);
    setCsvError(null);
    setCsvDone(null);
    try {
      const blob = await api.getBlob(`/api/v1/results.csv?sector=${encodeURIComponent(sector)}`);
      const file = `mandaat-${t('council.file')}-${sector}.csv`;
      saveFile(file, blob, 'text/csv');
      const text = t('council.csv.done', { file });
      setCsvDone(text);
      announce(text);
    } catch (err) {
      setCsvError(err);
    } finally {
      setBusy(false);
    }
  };

  const list = results.data || [];
  return html`<section>
    <${PageTitle}>${t('council.title-sector', { sector: t(`sector.${sector}`) })}<//>
    <p>${t('council.intro', { sector: t(`sector.${sector}`) })}</p>
    <div class="actions">
      <button type="button" onClick=${download} disabled=${busy}>${busy ? t('council.csv.busy') : t('council.csv.download')}</button>
    </div>
    <p class="hint">${t('council.csv.explain')}</p>
    ${csvDone ? html`<p class="success" role="status">${csvDone}</p>` : null}
    <${ErrorBox} error=${csvError} />
    <h2>${t('council.list.title')}</h2>
    ${results.loading ? html`<${Loading} />` : null}
    <${ErrorBox} error=${results.error} />
    ${!results.loading && !results.error && list.length === 0 ? html`<p>${t('council.none')}</p>` : null}
    ${list.length ? html`<ul class="cards">${list.map((r) => html`<${ResultCard} r=${r} sector=${sector} key=${r.proposal} />`)}</ul>` : null}
  </section>`;
}
