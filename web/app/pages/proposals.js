// Proposals list: open ones first with the time left, then drafts, then closed and final ones
// with their outcome (from GET /api/v1/results), then withdrawn ones.
import { html, PageTitle, Loading, ErrorBox, StatusTag, useLoad, useTitle } from '../ui.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { href } from '../router.js';
import * as fmt from '../fmt.js';

async function load(me) {
  const proposals = await api.get('/api/v1/proposals');
  // Outcomes come from the results listing; a role that may not read results simply sees none.
  let outcomes = {};
  if (proposals.some((p) => p.status === 'closed' || p.status === 'final')) {
    try {
      const results = await api.get('/api/v1/results');
      outcomes = Object.fromEntries(results.map((r) => [r.proposal, r.outcome]));
    } catch {
      outcomes = {};
    }
  }
  return { proposals, outcomes };
}

function Card({ p, outcome }) {
  const s = p.spec;
  return html`<li class="card">
    <h3 class="card-title"><a href=${href(`/proposals/${p.id}`)}>${s.title}</a></h3>
    <p><${StatusTag} status=${p.status} /> <span class="meta">${t(`kind.${s.kind}`)}</span></p>
    ${p.status === 'open' ? html`<p>${t('proposals.closes', { when: fmt.dateTime(s.closes_at), left: fmt.timeLeft(s.closes_at) })}</p>
      <p class="meta">${t('proposals.turnout', { voted: fmt.number(p.voted_members || 0), eligible: fmt.number(p.eligible_members || 0) })}</p>` : null}
    ${p.status === 'draft' ? html`<p class="meta">${t('proposals.window', { from: fmt.dateTime(s.opens_at), to: fmt.dateTime(s.closes_at) })}</p>` : null}
    ${(p.status === 'closed' || p.status === 'final') ? html`<p>${outcome ? html`<strong>${t('proposals.outcome', { outcome: t(`outcome.${outcome}`) })}</strong>` : null}
      <span class="meta"> ${t('proposals.closed-on', { when: fmt.dateTime(p.closed_at) })}</span></p>` : null}
    ${p.status === 'withdrawn' ? html`<p class="meta">${t('proposals.withdrawn-on', { when: fmt.dateTime(p.withdrawn_at) })}</p>` : null}
  </li>`;
}

function Group({ title, items, outcomes }) {
  if (!items.length) return null;
  return html`<section><h2>${title}</h2><ul class="cards">${items.map((p) => html`<${Card} p=${p} outcome=${outcomes[p.id]} />`)}</ul></section>`;
}

export function ProposalsPage({ me }) {
  useTitle(t('proposals.title'));
  const { data, error, loading } = useLoad(() => load(me), []);
  const by = (st) => (data ? data.proposals.filter((p) => st.includes(p.status)) : []);
  const open = by(['open']).sort((a, b) => new Date(a.spec.closes_at) - new Date(b.spec.closes_at));
  const done = by(['closed', 'final']).sort((a, b) => new Date(b.closed_at) - new Date(a.closed_at));
  return html`<section>
    <${PageTitle}>${t('proposals.title')}<//>
    ${me.role === 'admin' || me.role === 'board' ? html`<p><a class="button secondary" href=${href('/proposals/new')}>${t('proposals.new')}</a></p>` : null}
    ${loading ? html`<${Loading} />` : null}
    <${ErrorBox} error=${error} />
    ${data && data.proposals.length === 0 ? html`<p>${t('proposals.none')}</p>` : null}
    ${data ? html`
      <${Group} title=${t('proposals.group.open')} items=${open} outcomes=${data.outcomes} />
      <${Group} title=${t('proposals.group.draft')} items=${by(['draft'])} outcomes=${data.outcomes} />
      <${Group} title=${t('proposals.group.done')} items=${done} outcomes=${data.outcomes} />
      <${Group} title=${t('proposals.group.withdrawn')} items=${by(['withdrawn'])} outcomes=${data.outcomes} />` : null}
  </section>`;
}
