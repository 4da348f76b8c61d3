//! Signing in with a school's own account at an OpenID Connect provider.
//!
//! The protocol is the `openidconnect` crate's: discovery, the authorization code
//! flow with PKCE (S256), `state` and `nonce`, and the ID token's checks (issuer,
//! audience, expiry, nonce, a signature by a key from the provider's JWKS with an
//! algorithm the provider announces and we accept). This module decides what a
//! checked account leads to: a session for its person, a pending request for the
//! secretariat, or a refusal (`domain::sign_in`).
//!
//! A sign-in in progress is kept in the database, so any of several servers can
//! finish it; the browser is bound to it by a cookie holding the `state`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IdTokenFields, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse as _, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::access::{self, Operation};
use crate::auth::Principal;
use crate::domain::person::{Designation, Email, Person, PersonName, SecretHash};
use crate::domain::school::Brin;
use crate::domain::sign_in::{
    AccountClaims, FLOW_LIFETIME, ProviderSettings, RequestStatus, SignInOutcome, SignInRefusal,
    flow_is_live,
};
use crate::error::{Error, Result};
use crate::service::people::{OpenedSession, People};
use crate::store::{NewAccount, SchoolBoard, SignInFlow, Store, StoredSignInRequest};

/// How long a provider's discovery document and keys are used before they are
/// fetched again; an unknown signing key fetches them at once (key rotation).
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The least time between two fetches forced by unknown keys, so that forged
/// tokens cannot make the server hammer the provider.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Every claim the ID token or userinfo carries beyond the standard ones, so that the
/// configured home-organisation claim can be read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    claims: HashMap<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

type SchoolIdTokenFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type SchoolIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type SchoolTokenResponse = StandardTokenResponse<SchoolIdTokenFields, CoreTokenType>;
/// The crate's client with our claims: authorisation endpoint known, token and
/// userinfo endpoints as the discovery document says.
type SchoolClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    SchoolTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

struct Provider {
    settings: ProviderSettings,
    metadata: RwLock<Option<Fetched>>,
    /// When an unknown key last forced a fetch.
    last_forced: std::sync::Mutex<Option<Instant>>,
}

#[derive(Clone)]
struct Fetched {
    metadata: CoreProviderMetadata,
    at: Instant,
}

/// The configured providers, their discovery documents, and the HTTP client that
/// talks to them.
pub struct SignIn {
    providers: Vec<Arc<Provider>>,
    http: reqwest::Client,
}

/// A sign-in that has started: send the browser to `authorization_url`, and bind it
/// to the flow with `state` in a cookie.
pub struct Started {
    pub authorization_url: String,
    pub state: String,
}

/// A finished sign-in: where the browser goes, and the session it opened, if any.
pub struct Finished {
    pub outcome: SignInOutcome,
    pub session: Option<OpenedSession>,
}

/// The provider's answer to the browser's return, as the callback received it.
pub struct Callback<'a> {
    pub state: Option<&'a str>,
    /// The `state` the browser's cookie holds.
    pub cookie_state: Option<&'a str>,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

impl SignIn {
    pub fn new(providers: Vec<ProviderSettings>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // Following redirects would let a provider's answer point us anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()?;
        Ok(SignIn {
            providers: providers
                .into_iter()
                .map(|settings| {
                    Arc::new(Provider {
                        settings,
                        metadata: RwLock::new(None),
                        last_forced: std::sync::Mutex::new(None),
                    })
                })
                .collect(),
            http,
        })
    }

    pub fn providers(&self) -> impl Iterator<Item = &ProviderSettings> {
        self.providers.iter().map(|p| &p.settings)
    }

    pub fn display_name(&self, id: &str) -> Option<&str> {
        self.provider(id).map(|p| p.settings.display_name.as_str())
    }

    fn provider(&self, id: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|p| p.settings.id == id)
    }

    /// Starts a sign-in at a provider, optionally accepting an invitation with it.
    pub async fn start(
        &self,
        people: &People,
        provider_id: &str,
        invitation: Option<&str>,
        redirect_uri: String,
        now: DateTime<Utc>,
    ) -> Result<Started> {
        let provider = self
            .provider(provider_id)
            .ok_or_else(|| Error::NotFound(format!("sign-in provider {provider_id:?}")))?;
        let invitation_id = match invitation {
            None => None,
            // Checked now, so that a dead link is named before the provider is visited;
            // checked again when the sign-in finishes.
            Some(secret) => Some(people.usable_invitation(secret, now).await?.id),
        };
        let client = client_for(provider, &self.metadata(provider, false).await?);
        let redirect = RedirectUrl::new(redirect_uri.clone())
            .map_err(|e| Error::Internal(format!("redirect URI {redirect_uri:?}: {e}")))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_redirect_uri(std::borrow::Cow::Owned(redirect))
            .set_pkce_challenge(challenge);
        for scope in provider.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        people
            .store
            .insert_sign_in_flow(
                &SecretHash::of(state.secret()),
                &SignInFlow {
                    provider: provider.settings.id.clone(),
                    nonce: nonce.secret().clone(),
                    pkce_verifier: verifier.secret().clone(),
                    redirect_uri,
                    invitation_id,
                    created_at: now,
                    expires_at: now + FLOW_LIFETIME,
                },
            )
            .await?;
        Ok(Started {
            authorization_url: url.to_string(),
            state: state.secret().clone(),
        })
    }

    /// Finishes a sign-in when the browser returns from the provider. Every refusal
    /// is an outcome (the browser is shown why); only the database failing is an error.
    pub async fn finish(
        &self,
        people: &People,
        callback: Callback<'_>,
        now: DateTime<Utc>,
    ) -> Result<Finished> {
        let refused = |refusal| Finished {
            outcome: SignInOutcome::Refused(refusal),
            session: None,
        };
        // The state must come back both from the provider and from this browser's
        // cookie: otherwise someone else's sign-in could be finished in this browser.
        let Some(state) = callback.state.filter(|s| Some(*s) == callback.cookie_state) else {
            return Ok(refused(SignInRefusal::FlowExpired));
        };
        let Some(flow) = people
            .store
            .take_sign_in_flow(&SecretHash::of(state), now)
            .await?
            .filter(|flow| flow_is_live(flow.expires_at, now))
        else {
            return Ok(refused(SignInRefusal::FlowExpired));
        };
        let Some(provider) = self.provider(&flow.provider) else {
            // The provider was removed from the configuration meanwhile.
            return Ok(refused(SignInRefusal::FlowExpired));
        };
        if let Some(error) = callback.error {
            tracing::warn!(provider = %flow.provider, error, description = callback.error_description, "the provider refused the sign-in");
            return Ok(refused(SignInRefusal::ProviderError));
        }
        let Some(code) = callback.code else {
            return Ok(refused(SignInRefusal::ProviderError));
        };
        let claims = match self.account_claims(provider, &flow, code, now).await {
            Ok(claims) => claims,
            Err(reason) => {
                tracing::warn!(provider = %flow.provider, %reason, "a sign-in failed the checks");
                return Ok(refused(SignInRefusal::ProviderError));
            }
        };
        decide(
            people,
            &provider.settings.id,
            &flow,
            &claims,
            callback.user_agent,
            now,
        )
        .await
    }

    /// Exchanges the code, checks the ID token and reads the claims (from the ID
    /// token, then from userinfo for what it left out). The error is for the log.
    async fn account_claims(
        &self,
        provider: &Provider,
        flow: &SignInFlow,
        code: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<AccountClaims, String> {
        let fetched = self
            .metadata(provider, false)
            .await
            .map_err(|e| e.to_string())?;
        let client = client_for(provider, &fetched);
        let redirect = RedirectUrl::new(flow.redirect_uri.clone()).map_err(|e| e.to_string())?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| format!("token endpoint: {e}"))?
            .set_redirect_uri(std::borrow::Cow::Owned(redirect))
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| format!("token request: {}", error_chain(&e)))?;
        let id_token = response
            .id_token()
            .ok_or("the token response has no ID token")?
            .clone();
        let nonce = Nonce::new(flow.nonce.clone());
        let announced = fetched.metadata.id_token_signing_alg_values_supported();
        let mut claims =
            match self.check_id_token(provider, announced, &client, &id_token, &nonce, now) {
                Ok(claims) => claims,
                Err(first) if signed_by_unknown_key(&client, &id_token) => {
                    // The provider may have rotated its keys: fetch them again, once.
                    let fetched = self
                        .metadata(provider, true)
                        .await
                        .map_err(|e| format!("{first}; fetching the keys again: {e}"))?;
                    let client = client_for(provider, &fetched);
                    let announced = fetched.metadata.id_token_signing_alg_values_supported();
                    self.check_id_token(provider, announced, &client, &id_token, &nonce, now)?
                }
                Err(first) => return Err(first),
            };
        if claims.is_incomplete()
            && let Ok(request) = client.user_info(
                response.access_token().clone(),
                Some(openidconnect::SubjectIdentifier::new(
                    claims.subject.clone(),
                )),
            )
        {
            let userinfo: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
                .request_async(&self.http)
                .await
                .map_err(|e| format!("userinfo: {}", error_chain(&e)))?;
            let userinfo = serde_json::to_value(&userinfo).map_err(|e| e.to_string())?;
            claims.complete_from(&userinfo, &provider.settings.home_organization_claim);
        }
        Ok(claims)
    }

    fn check_id_token(
        &self,
        provider: &Provider,
        announced: &[CoreJwsSigningAlgorithm],
        client: &SchoolClient,
        id_token: &SchoolIdToken,
        nonce: &Nonce,
        now: DateTime<Utc>,
    ) -> std::result::Result<AccountClaims, String> {
        // Of the algorithms the provider announces, those we accept.
        let allowed: Vec<CoreJwsSigningAlgorithm> = announced
            .iter()
            .filter(|alg| {
                serde_json::to_value(alg)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| provider.settings.algorithms.contains(s)))
                    .unwrap_or(false)
            })
            .cloned()
            .collect();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(allowed)
            .set_time_fn(move || now);
        let verified = id_token
            .claims(&verifier, nonce)
            .map_err(|e| format!("ID token: {}", error_chain(&e)))?;
        let json = serde_json::to_value(verified).map_err(|e| e.to_string())?;
        let text = |name| crate::domain::sign_in::claim_text(&json, name);
        Ok(AccountClaims {
            issuer: verified.issuer().as_str().to_owned(),
            subject: verified.subject().as_str().to_owned(),
            name: text("name").or_else(|| crate::domain::sign_in::full_name(&json)),
            email: text("email"),
            home_organization: text(&provider.settings.home_organization_claim),
        })
    }

    /// The provider's discovery document and keys: cached, fetched when missing or
    /// old, or when `refresh` asks and no other forced fetch was made just before.
    async fn metadata(&self, provider: &Provider, refresh: bool) -> Result<Fetched> {
        let force = refresh && {
            let mut last = provider
                .last_forced
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let allowed = last.is_none_or(|at| at.elapsed() >= REFETCH_INTERVAL);
            if allowed {
                *last = Some(Instant::now());
            }
            allowed
        };
        if let Some(fetched) = provider.metadata.read().await.as_ref()
            && !force
            && fetched.at.elapsed() < METADATA_TTL
        {
            return Ok(fetched.clone());
        }
        let issuer = IssuerUrl::new(provider.settings.issuer.clone())
            .map_err(|e| Error::ProviderUnavailable(format!("issuer URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = %provider.settings.id, error = %error_chain(&e), "provider discovery failed");
                Error::ProviderUnavailable(format!(
                    "{} cannot be reached right now",
                    provider.settings.display_name
                ))
            })?;
        let fetched = Fetched {
            metadata,
            at: Instant::now(),
        };
        *provider.metadata.write().await = Some(fetched.clone());
        Ok(fetched)
    }
}

/// The crate's client for this provider, from its discovery document and keys.
fn client_for(provider: &Provider, fetched: &Fetched) -> SchoolClient {
    SchoolClient::from_provider_metadata(
        fetched.metadata.clone(),
        ClientId::new(provider.settings.client_id.clone()),
        provider
            .settings
            .client_secret
            .clone()
            .map(ClientSecret::new),
    )
}

/// Whether the token names a key that the client's copy of the JWKS lacks.
fn signed_by_unknown_key(client: &SchoolClient, id_token: &SchoolIdToken) -> bool {
    matches!(
        id_token.signing_key(&client.id_token_verifier()),
        Err(openidconnect::SignatureVerificationError::NoMatchingKey)
    )
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What a checked account leads to.
async fn decide(
    people: &People,
    provider: &str,
    flow: &SignInFlow,
    claims: &AccountClaims,
    user_agent: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Finished> {
    let store = &people.store;
    let signed_in_with = format!("{SIGNED_IN_WITH_PROVIDER}{provider}");
    let refused = |refusal| {
        Ok(Finished {
            outcome: SignInOutcome::Refused(refusal),
            session: None,
        })
    };
    if let Some(account) = store.account(&claims.issuer, &claims.subject).await? {
        if let Some(invitation_id) = flow.invitation_id {
            let invitation = store.invitation(invitation_id).await?;
            if invitation.person_id != account.person_id {
                return refused(SignInRefusal::AccountBoundElsewhere);
            }
        }
        let person = store.person(account.person_id).await?;
        if person.removed_at.is_some() {
            return refused(SignInRefusal::DesignationRemoved);
        }
        let pending = people.new_session(person, &signed_in_with, user_agent, now)?;
        store
            .open_account_session(account.id, pending.row())
            .await?;
        return Ok(signed_in(pending.opened));
    }
    if let Some(invitation_id) = flow.invitation_id {
        let invitation = store.invitation(invitation_id).await?;
        if crate::domain::person::check_invitation(invitation.expires_at, invitation.used_at, now)
            .is_err()
        {
            return refused(SignInRefusal::InvitationUnusable);
        }
        let person = store.person(invitation.person_id).await?;
        if person.removed_at.is_some() {
            return refused(SignInRefusal::DesignationRemoved);
        }
        let pending = people.new_session(person, &signed_in_with, user_agent, now)?;
        let account = NewAccount {
            claims,
            provider,
            person_id: invitation.person_id,
            now,
        };
        return match store
            .redeem_invitation(invitation_id, Some(account), pending.row())
            .await
        {
            Ok(true) => Ok(signed_in(pending.opened)),
            Ok(false) => refused(SignInRefusal::InvitationUnusable),
            // The same account was bound a moment earlier, by another sign-in.
            Err(Error::Conflict { .. }) => refused(SignInRefusal::AccountBoundElsewhere),
            Err(e) => Err(e),
        };
    }
    let request = match store.record_sign_in_request(provider, claims, now).await {
        Ok(request) => request,
        // The same account's first request was recorded a moment earlier.
        Err(Error::Conflict { .. }) => store
            .sign_in_request_of(&claims.issuer, &claims.subject)
            .await?
            .ok_or_else(|| Error::Internal("a conflicting sign-in request vanished".into()))?,
        Err(e) => return Err(e),
    };
    match request.status {
        RequestStatus::Rejected => refused(SignInRefusal::RequestRejected),
        // Approved binds the account, so the account is found above; an approved
        // request without one means the person was added another way.
        RequestStatus::Pending | RequestStatus::Approved => Ok(Finished {
            outcome: SignInOutcome::Pending,
            session: None,
        }),
    }
}

fn signed_in(opened: OpenedSession) -> Finished {
    Finished {
        outcome: SignInOutcome::SignedIn {
            person_id: opened.person.id,
        },
        session: Some(opened),
    }
}

/// The school (and its board) the account's home organisation names, when it is a
/// BRIN that DUO's files list. A SURFconext domain names no school.
pub async fn school_of(store: &Store, claims: &AccountClaims) -> Result<Option<SchoolBoard>> {
    let Some(brin) = claims
        .home_organization
        .as_deref()
        .and_then(|text| Brin::parse(text).ok())
    else {
        return Ok(None);
    };
    store.board_for_school(&brin).await
}

/// How a session opened by a provider is labelled: `provider:<id>`.
pub const SIGNED_IN_WITH_PROVIDER: &str = "provider:";

/// An approval: who the person is and what they may do.
pub struct Approval {
    pub designation: Designation,
    pub name: Option<PersonName>,
    pub email: Option<Email>,
}

/// The secretariat approves a pending request: the person is added with this
/// designation and the account is bound to them.
pub async fn approve(
    store: &Store,
    by: &Principal,
    request_id: Uuid,
    approval: Approval,
    now: DateTime<Utc>,
) -> Result<(StoredSignInRequest, Person)> {
    access::check(by, Operation::ManagePeople)?;
    let request = store.sign_in_request(request_id).await?;
    if let Designation::Board { member_id } = approval.designation {
        store.member(member_id).await?;
    }
    let name = match approval.name {
        Some(name) => name,
        None => PersonName::new(&request.claims.display_name())?,
    };
    let email = match (approval.email, request.claims.email.as_deref()) {
        (Some(email), _) => email,
        (None, Some(given)) => Email::new(given)?,
        (None, None) => {
            return Err(Error::Validation(
                "the provider gave no e-mail address for this account: give `email`".into(),
            ));
        }
    };
    let person = Person {
        id: Uuid::new_v4(),
        name,
        email,
        designation: approval.designation,
        created_by: by.subject().to_owned(),
        created_at: now,
        removed_at: None,
    };
    store
        .approve_sign_in_request(&request, &person, by.subject(), now)
        .await?;
    Ok((store.sign_in_request(request_id).await?, person))
}

pub async fn reject(
    store: &Store,
    by: &Principal,
    request_id: Uuid,
    now: DateTime<Utc>,
) -> Result<StoredSignInRequest> {
    access::check(by, Operation::ManagePeople)?;
    store.sign_in_request(request_id).await?;
    store
        .reject_sign_in_request(request_id, by.subject(), now)
        .await?;
    store.sign_in_request(request_id).await
}

/// Requests with this status, for the secretariat.
pub async fn requests(
    store: &Store,
    by: &Principal,
    status: RequestStatus,
) -> Result<Vec<StoredSignInRequest>> {
    access::check(by, Operation::ManagePeople)?;
    store.sign_in_requests(status).await
}
