// Home: who is signed in, for which board, and where to go next for this role.
import { html, PageTitle, Facts, DataTable, useTitle, useLoad } from '../ui.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { href } from '../router.js';
import * as fmt from '../fmt.js';
import { LogCheck } from './receipt.js';
import { loadSigner, browserAndOs } from './keys.js';

const NEXT = {
  board: [['/proposals', 'home.next.proposals'], ['/keys', 'home.next.keys'], ['/results', 'home.next.results']],
  admin: [['/proposals', 'home.next.proposals-admin'], ['/admin/people', 'home.next.people'], ['/admin/members', 'home.next.members']],
  council: [['/council', 'home.next.council']],
  auditor: [['/audit', 'home.next.audit'], ['/proposals', 'home.next.proposals']],
};

// The person's own live sessions (only when signed in with a session, not a token).
function Sessions() {
  const { data } = useLoad(() => api.get('/api/v1/sessions'), []);
  if (!data || !data.items || data.items.length === 0) return null;
  return html`<h2>${t('home.sessions')}</h2>
    <${DataTable} caption=${t('home.sessions.caption')}
      columns=${[{ key: 'device', label: t('home.sessions.device') }, { key: 'since', label: t('home.sessions.since') },
        { key: 'seen', label: t('home.sessions.seen') }, { key: 'until', label: t('home.sessions.until') }]}
      rows=${data.items.map((x) => ({
        device: html`${x.user_agent ? html`<span title=${x.user_agent}>${t('home.sessions.browser', browserAndOs(x.user_agent))}</span>` : t('home.sessions.unknown')}${x.current ? html` <span class="tag tag-open">${t('home.sessions.current')}</span>` : null}`,
        since: fmt.dateTime(x.created_at), seen: fmt.dateTime(x.last_seen_at), until: fmt.dateTime(x.expires_at),
      }))} />`;
}

export function HomePage({ me }) {
  useTitle(t('home.title'));
  const name = (me.person && me.person.name) || me.subject;
  const m = me.member;
  // First use on this device: point the board to making its key before anything else.
  const { data: signer } = useLoad(() => (m ? loadSigner(m.id) : null), [m && m.id]);
  return html`<section>
    <${PageTitle}>${t('home.welcome', { name })}<//>
    ${signer && !signer.usable ? html`<div class="warning">
      <p><strong>${t('home.no-key')}</strong></p>
      <p><a href=${href('/keys')}>${t('home.no-key.link')}</a></p>
    </div>` : null}
    <${Facts} items=${[
      [t('home.role'), t(`role.${me.role}`)],
      me.person && me.person.email ? [t('home.email'), me.person.email] : null,
      m ? [t('home.board'), m.name] : null,
      m ? [t('home.bg-number'), String(m.bg_number)] : null,
      m ? [t('home.chamber'), fmt.chamber(m.chamber)] : null,
      m ? [t('home.sectors'), m.sectors.map((s) => t(`sector.${s}`)).join(', ')] : null,
      me.sector ? [t('home.sector'), t(`sector.${me.sector}`)] : null,
      me.session ? [t('home.session-until'), fmt.dateTime(me.session.expires_at)] : null,
    ]} />
    <h2>${t('home.next')}</h2>
    <ul class="next-list">
      ${(NEXT[me.role] || []).map(([p, key]) => html`<li><a href=${href(p)}>${t(key)}</a></li>`)}
    </ul>
    ${me.role === 'board' ? html`<h2>${t('logcheck.heading')}</h2><${LogCheck} />` : null}
    ${me.via === 'session' ? html`<${Sessions} />` : null}
  </section>`;
}
