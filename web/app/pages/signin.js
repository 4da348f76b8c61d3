// The sign-in view. With a token (from "#/invitation/<token>") it signs in through
// POST /api/v1/sessions; the token is dropped from the address and history first, so it is
// never left behind in the browser. Without one it explains how to sign in.
import { html, useEffect, useState, PageTitle, ErrorBox, useTitle } from '../ui.js';
import { t } from '../i18n.js';
import { api } from '../api.js';

export function SigninPage({ token, onSignedIn }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(Boolean(token));
  useTitle(t('signin.title'));

  useEffect(() => {
    if (!token) return;
    // Replace the URL holding the token before anything else happens.
    history.replaceState(null, '', `${location.pathname}${location.search}#/signin`);
    let live = true;
    api.post('/api/v1/sessions', { invitation: decodeURIComponent(token) }).then(
      (me) => live && onSignedIn(me),
      (err) => {
        if (!live) return;
        setError(err);
        setBusy(false);
      },
    );
    return () => { live = false; };
  }, [token]);

  return html`<section class="narrow">
    <${PageTitle}>${t('signin.title')}<//>
    ${busy ? html`<p role="status">${t('signin.busy')}</p>` : null}
    <${ErrorBox} error=${error} title=${error && error.slug === 'invitation-invalid' ? t('signin.invalid') : undefined} />
    ${!busy ? html`<p>${t('signin.explain')}</p><p>${t('signin.ask-secretariat')}</p>` : null}
  </section>`;
}
