// The sign-in view (docs/web.md §1).
//
// Without a token it offers one button per sign-in provider the server has configured
// (GET /api/v1/sign-in/providers; none: the page is as it always was) above the explanation
// of invitation links. A button asks the server to start the flow
// (POST /api/v1/sign-in/providers/{id}) and goes to the provider's authorization URL; the
// server's callback sends the browser back to #/signin/done, #/signin/pending or
// #/signin/failed/<slug> (SigninOutcomePage, signin-outcome.js).
//
// With a token (from "#/invitation/<token>") the token is dropped from the address and
// history first, so it is never left behind in the browser. With no provider configured it
// signs in at once through POST /api/v1/sessions. With providers the person chooses: accept
// with the link alone, or with a provider's account (the invitation goes along in the POST
// body), which binds that account to the invited person for every later sign-in.
import { html, useEffect, useRef, useState, PageTitle, ErrorBox, useTitle } from '../ui.js';
import { t } from '../i18n.js';
import { api, ApiProblem } from '../api.js';
import { href } from '../router.js';
import { authorizationTarget, failureMessages } from '../signin-outcome.js';

// The configured providers: null while asking; [] when there are none or the server has no
// such endpoint, so that sign-in works as before.
function useProviders() {
  const [providers, setProviders] = useState(null);
  useEffect(() => {
    let live = true;
    api.get('/api/v1/sign-in/providers').then(
      (list) => live && setProviders(Array.isArray(list) ? list.filter((p) => p && p.id && p.display_name) : []),
      () => live && setProviders([]),
    );
    return () => { live = false; };
  }, []);
  return providers;
}

const invitationRefused = (err) => err instanceof ApiProblem && err.slug.startsWith('invitation');

function decoded(token) {
  try {
    return decodeURIComponent(token);
  } catch {
    return token;
  }
}

function ProviderButtons({ providers, label, busy, onPick, describedBy }) {
  return html`<ul class="provider-list">
    ${providers.map((p) => html`<li><button type="button" class="provider-button" disabled=${busy !== null}
      aria-describedby=${describedBy} onClick=${() => onPick(p)}>${t(label, { provider: p.display_name })}</button></li>`)}
  </ul>`;
}

export function SigninPage({ token, onSignedIn }) {
  const providers = useProviders();
  const [error, setError] = useState(null); // {err, provider?}
  // null, 'invitation' while the link signs in, or the provider being gone to.
  const [busy, setBusy] = useState(token ? 'invitation' : null);
  const mounted = useRef(true);
  const started = useRef(false);
  const invitation = token ? decoded(token) : null;
  useTitle(t('signin.title'));

  useEffect(() => () => { mounted.current = false; }, []);

  useEffect(() => {
    if (!token) return;
    // Replace the URL holding the token before anything else happens.
    history.replaceState(null, '', `${location.pathname}${location.search}#/signin`);
    started.current = false;
    setError(null);
    setBusy('invitation');
  }, [token]);

  const acceptInvitation = async () => {
    setBusy('invitation');
    setError(null);
    try {
      const me = await api.post('/api/v1/sessions', { invitation });
      if (mounted.current) onSignedIn(me);
    } catch (err) {
      if (!mounted.current) return;
      setError({ err });
      setBusy(null);
    }
  };

  // No provider to choose: the link signs in at once, as it always did.
  useEffect(() => {
    if (!token || providers === null || started.current) return;
    started.current = true;
    if (providers.length === 0) acceptInvitation();
    else setBusy(null);
  }, [token, providers]);

  const goToProvider = async (provider, withInvitation) => {
    setBusy(provider.id);
    setError(null);
    try {
      const answer = await api.post(`/api/v1/sign-in/providers/${encodeURIComponent(provider.id)}`,
        withInvitation ? { invitation } : {});
      const target = authorizationTarget(answer && answer.authorization_url, location.href);
      if (!target) throw new Error(t('signin.provider.bad-answer'));
      // Stays busy: the browser is leaving for the provider.
      location.assign(target.href);
    } catch (err) {
      if (!mounted.current) return;
      setError({ err, provider });
      setBusy(null);
    }
  };

  const going = busy && busy !== 'invitation' && providers ? providers.find((p) => p.id === busy) : null;
  const errorTitle = !error ? undefined
    : invitationRefused(error.err) ? t('signin.invalid')
      : error.provider ? t('signin.provider.failed', { provider: error.provider.display_name }) : undefined;
  // The link can still be accepted: it is there, not refused, and there is a choice to make.
  const choosing = token && providers && providers.length > 0 && !(error && invitationRefused(error.err));
  const asking = token && providers === null;

  let body = null;
  if (choosing) {
    body = html`
      <p>${t('signin.invitation.choose')}</p>
      <h2>${t('signin.invitation.with-provider')}</h2>
      <p id="signin-provider-accept-hint">${t('signin.provider.accept.hint')}</p>
      <${ProviderButtons} providers=${providers} label="signin.provider.accept" busy=${busy}
        describedBy="signin-provider-accept-hint" onPick=${(p) => goToProvider(p, true)} />
      <h2>${t('signin.invitation.with-link')}</h2>
      <p id="signin-invitation-accept-hint">${t('signin.invitation.accept.hint')}</p>
      <div class="actions">
        <button type="button" class="secondary" disabled=${busy !== null} aria-describedby="signin-invitation-accept-hint"
          onClick=${acceptInvitation}>${t('signin.invitation.accept')}</button>
      </div>`;
  } else if (!asking && busy !== 'invitation') {
    body = html`
      ${providers && providers.length ? html`
        <p>${t('signin.providers.intro')}</p>
        <${ProviderButtons} providers=${providers} label="signin.provider.button" busy=${busy}
          describedBy="signin-providers-first" onPick=${(p) => goToProvider(p, false)} />
        <p class="hint" id="signin-providers-first">${t('signin.providers.first-time')}</p>
        <h2>${t('signin.invitation.heading')}</h2>` : null}
      <p>${t('signin.explain')}</p>
      <p>${t('signin.ask-secretariat')}</p>`;
  }

  return html`<section class="narrow">
    <${PageTitle}>${t('signin.title')}<//>
    ${asking || busy === 'invitation' ? html`<p role="status">${t('signin.busy')}</p>` : null}
    ${going ? html`<p role="status">${t('signin.provider.busy', { provider: going.display_name })}</p>` : null}
    <${ErrorBox} error=${error && error.err} title=${errorTitle} />
    ${body}
  </section>`;
}

// Where a provider's sign-in ended when it did not end signed in: a request waiting for the
// secretariat, or a failure with what to do about it.
export function SigninOutcomePage({ outcome }) {
  const pending = outcome.kind === 'pending';
  const keys = pending ? { title: 'signin.pending.title', text: 'signin.pending.text' } : failureMessages(outcome.slug);
  useTitle(t(keys.title));
  return html`<section class="narrow">
    <${PageTitle}>${t(keys.title)}<//>
    <div class=${pending ? 'success outcome' : 'warning outcome'}>
      <p>${t(keys.text)}</p>
      ${pending ? html`<p>${t('signin.pending.next')}</p>` : null}
    </div>
    <p><a href=${href('/signin')}>${pending ? t('signin.pending.back') : t('signin.failed.again')}</a></p>
  </section>`;
}
