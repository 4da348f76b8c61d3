// main.js — the shell: loads the messages and who is signed in, draws the header and
// navigation for the role, and shows the page for the current hash route.
// Every page component receives {me, params}; me is the answer of GET /api/v1/me.
import { html, render, useState, useEffect, useCallback } from './ui.js';
import { initI18n, setLanguage, onLanguageChange, t, plural, currentLanguage, LANGUAGES } from './i18n.js';
import { api, onUnauthorized } from './api.js';
import { compile, match, useRoute, href, navigate } from './router.js';
import { SigninPage, SigninOutcomePage } from './pages/signin.js';
import { outcomeOf } from './signin-outcome.js';
import { HomePage } from './pages/home.js';
import { KeysPage } from './pages/keys.js';
import { ProposalsPage } from './pages/proposals.js';
import { ProposalPage } from './pages/proposal.js';
import { VotePage } from './pages/vote.js';
import { ProxiesPage } from './pages/proxies.js';
import { ResultsPage, ResultsListPage } from './pages/results.js';
import { DraftPage } from './pages/draft.js';
import { PeoplePage } from './pages/admin-people.js';
import { MembersPage } from './pages/admin-members.js';
import { ApiTokensPage } from './pages/admin-api-tokens.js';
import { SignInRequestsPage, usePendingRequests } from './pages/admin-sign-in-requests.js';
import { CouncilResultsPage } from './pages/council.js';
import { AuditorPage } from './pages/auditor.js';

// More specific patterns first: '/proposals/new' must win over '/proposals/:id'.
const routes = compile([
  ['/', HomePage],
  ['/keys', KeysPage],
  ['/proposals', ProposalsPage],
  ['/proposals/new', DraftPage],
  ['/proposals/:id', ProposalPage],
  ['/proposals/:id/edit', DraftPage],
  ['/proposals/:id/vote', VotePage],
  ['/proposals/:id/vote/:for', VotePage],
  ['/proposals/:id/proxies', ProxiesPage],
  ['/proposals/:id/results', ResultsPage],
  ['/results', ResultsListPage],
  ['/admin/people', PeoplePage],
  ['/admin/members', MembersPage],
  ['/admin/api-tokens', ApiTokensPage],
  ['/admin/sign-in-requests', SignInRequestsPage],
  ['/signin', SignedInAlready],
  ['/council', CouncilResultsPage],
  ['/audit', AuditorPage],
]);

// Navigation per role: [path, message key]. Only what the API lets that role see.
const NAV = {
  board: [['/', 'nav.home'], ['/proposals', 'nav.proposals'], ['/results', 'nav.results'], ['/keys', 'nav.keys']],
  admin: [['/', 'nav.home'], ['/proposals', 'nav.proposals'], ['/proposals/new', 'nav.new-proposal'], ['/admin/people', 'nav.people'], ['/admin/sign-in-requests', 'nav.sign-in-requests'], ['/admin/members', 'nav.members'], ['/admin/api-tokens', 'nav.api-tokens'], ['/results', 'nav.results']],
  council: [['/', 'nav.home'], ['/council', 'nav.council']],
  auditor: [['/', 'nav.home'], ['/proposals', 'nav.proposals'], ['/audit', 'nav.audit']],
};

function LanguageSwitch() {
  const cur = currentLanguage();
  return html`<div class="lang-switch" role="group" aria-label=${t('lang.switch')}>
    ${LANGUAGES.map((l) => html`<button type="button" lang=${l} aria-pressed=${l === cur ? 'true' : 'false'}
        onClick=${() => setLanguage(l)}>${t(`lang.${l}`)}</button>`)}
  </div>`;
}

// The number of sign-in requests waiting for the secretariat, next to that menu item.
function Badge({ count }) {
  if (!count) return null;
  return html` <span class="badge" aria-hidden="true">${count}</span><span class="visually-hidden">, ${plural('nav.sign-in-requests.pending', count)}</span>`;
}

function Header({ me, path, onSignOut }) {
  const items = me ? NAV[me.role] || [] : [];
  const pending = usePendingRequests(me, path);
  const isCurrent = (p) => (p === '/' ? path === '/' : path === p || (p !== '/proposals' && path.startsWith(`${p}/`)) || (p === '/proposals' && path.startsWith('/proposals/') && !path.startsWith('/proposals/new')));
  return html`<header class="site-header">
    <a class="skip-link" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>${t('nav.skip')}</a>
    <div class="header-bar">
      <a class="brand" href=${href('/')}>${t('app.name')}<span class="brand-sub">${t('app.tagline')}</span></a>
      <div class="header-tools">
        <${LanguageSwitch} />
        ${me ? html`<span class="whoami">${(me.person && me.person.name) || me.subject}${me.member ? html` · ${me.member.name}` : null}</span>
          <button type="button" class="link-button" onClick=${onSignOut}>${t('nav.sign-out')}</button>` : null}
      </div>
    </div>
    ${items.length ? html`<nav aria-label=${t('nav.label')}>
      <ul>${items.map(([p, key]) => html`<li><a href=${href(p)} aria-current=${isCurrent(p) ? 'page' : undefined}>${t(key)}${p === '/admin/sign-in-requests' ? html`<${Badge} count=${pending} />` : null}</a></li>`)}</ul>
    </nav>` : null}
  </header>`;
}

// #/signin once signed in (a bookmark, the link on a sign-in outcome page): home.
function SignedInAlready() {
  useEffect(() => { navigate('/', { replace: true }); }, []);
  return html`<p role="status" class="loading">${t('common.loading')}</p>`;
}

function NotFound() {
  return html`<div><h1 id="page-title" tabindex="-1">${t('notfound.title')}</h1><p><a href=${href('/')}>${t('notfound.home')}</a></p></div>`;
}

function App() {
  const path = useRoute();
  const [me, setMe] = useState(undefined); // undefined: asking; null: not signed in
  const [, setLangTick] = useState(0);
  // The invitation token is kept here, not in the address: the sign-in page replaces the
  // address at once, and must stay on screen (with any error) after that.
  const fromPath = path.startsWith('/invitation/') ? path.slice('/invitation/'.length) : null;
  const [invitation, setInvitation] = useState(fromPath);
  useEffect(() => {
    if (fromPath) setInvitation(fromPath);
    else if (path !== '/signin') setInvitation(null);
  }, [path]);
  const token = fromPath || invitation;
  // Back from a sign-in provider (signin-outcome.js).
  const outcome = token ? null : outcomeOf(path);

  useEffect(() => onLanguageChange(() => setLangTick((n) => n + 1)), []);
  useEffect(() => onUnauthorized(() => setMe(null)), []);

  useEffect(() => {
    if (token) return; // the sign-in page asks itself
    if (me !== undefined) return;
    api.get('/api/v1/me').then(setMe, () => setMe(null));
  }, [token, me]);

  // After each navigation put focus on the new page's heading, so keyboard and screen-reader
  // users start at the top of what changed. The heading may render after data loads.
  useEffect(() => {
    let tries = 0;
    const tick = () => {
      const h = document.getElementById('page-title');
      if (h) h.focus({ preventScroll: false });
      else if (tries++ < 20) setTimeout(tick, 50);
    };
    const first = !App.started;
    App.started = true;
    if (!first) tick();
  }, [path]);

  const signOut = useCallback(async () => {
    try {
      await api.del('/api/v1/sessions/current');
    } catch {
      // Already ended: either way this browser is signed out now.
    }
    setMe(null);
    navigate('/', { replace: true });
  }, []);

  // Signed in through a provider: the session cookie is set, so /me (asked above) answers.
  useEffect(() => {
    if (outcome && outcome.kind === 'done' && me) navigate('/', { replace: true });
  }, [outcome && outcome.kind, me]);

  const onSignedIn = useCallback((who) => {
    setInvitation(null);
    setMe(who);
    navigate('/', { replace: true });
  }, []);

  let body;
  if (token) {
    body = html`<${SigninPage} token=${token} onSignedIn=${onSignedIn} />`;
  } else if (outcome && outcome.kind !== 'done') {
    body = html`<${SigninOutcomePage} outcome=${outcome} />`;
  } else if (outcome && me === null) {
    // Sent to "done" but this browser has no session: it lost the cookie on the way.
    body = html`<${SigninOutcomePage} outcome=${{ kind: 'failed', slug: 'flow-expired' }} />`;
  } else if (outcome) {
    body = html`<p role="status" class="loading">${t('signin.busy')}</p>`;
  } else if (me === undefined) {
    body = html`<p role="status" class="loading">${t('common.loading')}</p>`;
  } else if (me === null) {
    body = html`<${SigninPage} onSignedIn=${onSignedIn} />`;
  } else {
    const m = match(routes, path);
    body = m ? html`<${m.Component} key=${path} me=${me} params=${m.params} ...${m.props} />` : html`<${NotFound} />`;
  }

  return html`
    <${Header} me=${me} path=${path} onSignOut=${signOut} />
    <main id="main" tabindex="-1">${body}</main>
    <footer class="site-footer"><p>${t('app.footer')}</p></footer>`;
}

initI18n()
  .catch(() => {})
  .then(() => render(html`<${App} />`, document.getElementById('app')));
