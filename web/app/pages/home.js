// Home: who is signed in, for which board, and where to go next for this role.
import { html, PageTitle, Facts, useTitle } from '../ui.js';
import { t } from '../i18n.js';
import { href } from '../router.js';
import * as fmt from '../fmt.js';

const NEXT = {
  board: [['/proposals', 'home.next.proposals'], ['/keys', 'home.next.keys'], ['/results', 'home.next.results']],
  admin: [['/proposals', 'home.next.proposals-admin'], ['/admin/people', 'home.next.people'], ['/admin/members', 'home.next.members']],
  council: [['/council', 'home.next.council']],
  auditor: [['/audit', 'home.next.audit'], ['/proposals', 'home.next.proposals']],
};

export function HomePage({ me }) {
  useTitle(t('home.title'));
  const name = (me.person && me.person.name) || me.subject;
  const m = me.member;
  return html`<section>
    <${PageTitle}>${t('home.welcome', { name })}<//>
    <${Facts} items=${[
      [t('home.role'), t(`role.${me.role}`)],
      me.person && me.person.email ? [t('home.email'), me.person.email] : null,
      m ? [t('home.board'), m.name] : null,
      m ? [t('home.bg-number'), String(m.bg_number)] : null,
      m ? [t('home.chamber'), t(`chamber.${m.chamber}`)] : null,
      m ? [t('home.sectors'), m.sectors.map((s) => t(`sector.${s}`)).join(', ')] : null,
      me.sector ? [t('home.sector'), t(`sector.${me.sector}`)] : null,
      me.session ? [t('home.session-until'), fmt.dateTime(me.session.expires_at)] : null,
    ]} />
    <h2>${t('home.next')}</h2>
    <ul class="next-list">
      ${(NEXT[me.role] || []).map(([p, key]) => html`<li><a href=${href(p)}>${t(key)}</a></li>`)}
    </ul>
  </section>`;
}
