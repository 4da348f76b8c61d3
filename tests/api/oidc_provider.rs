//! A mock OpenID Connect provider in this process, so sign-in with a school's account
//! (Entree Federatie, SURFconext) is tested without the internet: a real HTTP server
//! on 127.0.0.1 port 0 with discovery, JWKS, authorization (code flow, PKCE S256 only),
//! token and userinfo endpoints. There is no login page: the test says who signs in
//! (`sign_in_as`) and /authorize redirects straight back with a code.
//!
//! It is strict where real providers are (one-time codes, the same redirect URI,
//! the S256 verifier, client authentication per RFC 6749 §2.3.1) and can misbehave
//! on cue (`Fault`) so the service's ID-token checks are seen to refuse. The self-tests
//! at the bottom drive it by hand and through the `openidconnect` crate, the way the
//! service will.
//!
//! Signing keys are fixtures (`tests/fixtures/oidc/`, see its README): RSA key
//! generation at runtime is far too slow in a debug build.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use poem::http::{StatusCode, header};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{Body, EndpointExt, Request, Response, Route, Server, handler};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use url::Url;

/// The provider's half of the claim names: Entree's school (BRIN) and SURF's domain.
const HOME_ORGANIZATION_CLAIM: &str = "nlEduPersonHomeOrganizationId";
const SCHAC_HOME_ORGANIZATION_CLAIM: &str = "schac_home_organization";
/// How long ID and access tokens are valid (a real provider's order of magnitude).
const TOKEN_SECONDS: i64 = 300;

/// Who signs in at the provider.
#[derive(Clone, Debug)]
pub struct Identity {
    pub subject: String,
    pub name: String,
    pub email: Option<String>,
    /// e.g. "06XX" BRIN for Entree-style or "school.nl" for SURF-style
    pub home_organization: Option<String>,
    /// true: name/email/home org are only in the userinfo answer, not in the ID token (SURFconext style)
    pub claims_at_userinfo: bool,
}

/// How the provider misbehaves in the ID tokens it issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// A nonce other than the one the authorization request carried.
    WrongNonce,
    /// `aud` is "someone-else", not our client.
    WrongAudience,
    /// Issued two hours ago, expired one hour ago.
    Expired,
    /// `iss` is "http://evil.example".
    WrongIssuer,
    /// Signed with an RSA key whose `kid` is not in the JWKS.
    UnknownKey,
    /// EdDSA, with the Ed25519 key that is in the JWKS, though discovery announces only RS256.
    UnannouncedAlg,
}

/// The mock provider; the server stops when this is dropped.
pub struct MockProvider {
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl MockProvider {
    pub const CLIENT_ID: &str = "mandaat-test";
    /// Has characters that RFC 6749 §2.3.1 makes a client urlencode in HTTP Basic
    /// (':' above all), so a client that skips that step is caught here.
    pub const CLIENT_SECRET: &str = "geheim:mandaat/test+secret";

    /// Serves on 127.0.0.1, a free port; the issuer is "http://127.0.0.1:<port>".
    pub async fn start() -> MockProvider {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("mock provider listens");
        let address = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .expect("mock provider address");
        let shared = Arc::new(Shared {
            issuer: format!("http://{address}"),
            state: Mutex::new(State {
                identity: None,
                fault: Fault::None,
                generation: 1,
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                authorize_requests: Vec::new(),
                clock: None,
            }),
        });
        let route = Route::new()
            .at(
                "/.well-known/openid-configuration",
                poem::get(discovery_endpoint),
            )
            .at("/jwks", poem::get(jwks_endpoint))
            .at("/authorize", poem::get(authorize_endpoint))
            .at("/token", poem::post(token_endpoint))
            // The spec allows both methods; openidconnect uses GET.
            .at(
                "/userinfo",
                poem::get(userinfo_endpoint).post(userinfo_endpoint),
            )
            .data(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                route,
                async {
                    let _ = rx.await;
                },
                Some(Duration::from_secs(1)),
            ),
        );
        MockProvider {
            shared,
            shutdown: Some(tx),
        }
    }

    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// The identity that authorizations grant from now on (until the next call): the
    /// test plays the person at the provider's login page.
    pub fn sign_in_as(&self, who: Identity) {
        self.shared.state().identity = Some(who);
    }

    /// The misbehaviour of ID tokens issued (at /token) from now on.
    pub fn fault(&self, f: Fault) {
        self.shared.state().fault = f;
    }

    /// Issues tokens by this clock from now on (the server's, in a test that moves it).
    pub fn use_clock(&self, clock: Arc<crate::helpers::TestClock>) {
        self.shared.state().clock = Some(clock);
    }

    /// A new RSA signing key with a new `kid`; the old key leaves the JWKS at once (no
    /// overlap), so a client holding an old JWKS must fetch it again. There are two
    /// fixture keys, so the key material alternates; the `kid` is new every time.
    pub fn rotate_keys(&self) {
        self.shared.state().generation += 1;
    }

    pub fn home_organization_claim(&self) -> &'static str {
        HOME_ORGANIZATION_CLAIM
    }

    /// The full URLs of the authorization requests that were granted, oldest first.
    pub fn authorize_requests(&self) -> Vec<Url> {
        self.shared.state().authorize_requests.clone()
    }
}

struct Shared {
    issuer: String,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked elsewhere must not take the provider down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

struct State {
    identity: Option<Identity>,
    fault: Fault,
    /// Which signing key is current: bumped by `rotate_keys`, part of the `kid`.
    generation: u32,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, Identity>,
    authorize_requests: Vec<Url>,
    /// The time tokens are issued at: the server's test clock when the test shares
    /// it (a server whose clock was moved forward must not see tokens as expired).
    clock: Option<Arc<crate::helpers::TestClock>>,
}

impl State {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        use mandaat::clock::Clock as _;
        self.clock
            .as_ref()
            .map_or_else(chrono::Utc::now, |c| c.now())
    }

    fn signing_key(&self) -> (&'static RsaKey, String) {
        // Generation 1 signs with rsa-1.pem, 2 with rsa-2.pem, 3 with rsa-1.pem again…
        let key = &KEYS.rsa[(self.generation as usize - 1) % 2];
        (
            key,
            format!("rsa-{}-{}", self.generation, key.short_thumbprint()),
        )
    }
}

/// What a one-time code stands for.
struct Grant {
    identity: Identity,
    nonce: String,
    code_challenge: String,
    redirect_uri: String,
    auth_time: i64,
}

struct RsaKey {
    encoding: EncodingKey,
    n: String,
    e: String,
    /// RFC 7638 thumbprint: a stable name for the key material.
    thumbprint: String,
}

impl RsaKey {
    fn load(pem: &str) -> RsaKey {
        // jsonwebtoken (without its PEM feature) signs RS256 with PKCS#1 DER.
        let encoding = EncodingKey::from_rsa_der(&pem_der(pem));
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("RSA fixture");
        let thumbprint = jwk.thumbprint(ThumbprintHash::SHA256).expect("thumbprint");
        let AlgorithmParameters::RSA(rsa) = jwk.algorithm else {
            panic!("RSA fixture is not an RSA key");
        };
        RsaKey {
            encoding,
            n: rsa.n,
            e: rsa.e,
            thumbprint,
        }
    }

    fn short_thumbprint(&self) -> &str {
        &self.thumbprint[..8]
    }
}

struct Keys {
    /// The signing keys `rotate_keys` alternates between.
    rsa: [RsaKey; 2],
    /// Signs the `UnknownKey` fault; never published.
    unknown: RsaKey,
    /// Published (an OKP key) but used only by the `UnannouncedAlg` fault.
    ed25519: EncodingKey,
    ed25519_x: String,
    ed25519_kid: String,
}

/// Parsed once for the whole test binary.
static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let ed25519 = EncodingKey::from_ed_der(&pem_der(include_str!("../fixtures/oidc/ed25519.pem")));
    let jwk = Jwk::from_encoding_key(&ed25519, Algorithm::EdDSA).expect("Ed25519 fixture");
    let thumbprint = jwk.thumbprint(ThumbprintHash::SHA256).expect("thumbprint");
    let AlgorithmParameters::OctetKeyPair(okp) = jwk.algorithm else {
        panic!("Ed25519 fixture is not an OKP key");
    };
    Keys {
        rsa: [
            RsaKey::load(include_str!("../fixtures/oidc/rsa-1.pem")),
            RsaKey::load(include_str!("../fixtures/oidc/rsa-2.pem")),
        ],
        unknown: RsaKey::load(include_str!("../fixtures/oidc/rsa-unknown.pem")),
        ed25519,
        ed25519_x: okp.x,
        ed25519_kid: format!("ed25519-{}", &thumbprint[..8]),
    }
});

/// The DER inside a PEM file (its base64 lines).
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).expect("PEM base64")
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("random bytes");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Name, email and home organization as claims: in the ID token or at userinfo.
fn identity_claims(who: &Identity, claims: &mut Map<String, Value>) {
    claims.insert("name".into(), json!(who.name));
    if let Some(email) = &who.email {
        claims.insert("email".into(), json!(email));
    }
    if let Some(home) = &who.home_organization {
        claims.insert(HOME_ORGANIZATION_CLAIM.into(), json!(home));
        // SURFconext names the school by its domain; a BRIN has no dot.
        if home.contains('.') {
            claims.insert(SCHAC_HOME_ORGANIZATION_CLAIM.into(), json!(home));
        }
    }
}

fn query_pairs(query: &str) -> Result<HashMap<String, String>, String> {
    let mut pairs = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        // RFC 6749 §3.1: a parameter must not be sent more than once.
        if pairs.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(format!("{name} is repeated"));
        }
    }
    Ok(pairs)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        // RFC 6749 §5.1: token answers must not be cached; harmless elsewhere.
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.to_string())
}

fn bad_request(text: String) -> Response {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .content_type("text/plain; charset=utf-8")
        .body(text)
}

#[handler]
fn discovery_endpoint(Data(shared): Data<&Arc<Shared>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": shared.issuer,
            "authorization_endpoint": shared.endpoint("/authorize"),
            "token_endpoint": shared.endpoint("/token"),
            "userinfo_endpoint": shared.endpoint("/userinfo"),
            "jwks_uri": shared.endpoint("/jwks"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            // Only RS256, though the JWKS also has an Ed25519 key: see Fault::UnannouncedAlg.
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
                "name", "email", HOME_ORGANIZATION_CLAIM, SCHAC_HOME_ORGANIZATION_CLAIM
            ],
        }),
    )
}

#[handler]
fn jwks_endpoint(Data(shared): Data<&Arc<Shared>>) -> Response {
    // Only the current RSA key: after rotation the old `kid` is gone.
    let (key, kid) = shared.state().signing_key();
    json_response(
        StatusCode::OK,
        &json!({"keys": [
            {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": key.n, "e": key.e},
            {"kty": "OKP", "use": "sig", "alg": "EdDSA", "crv": "Ed25519",
             "kid": KEYS.ed25519_kid, "x": KEYS.ed25519_x},
        ]}),
    )
}

/// Grants at once (the test chose who signs in) and redirects back with a code.
#[handler]
fn authorize_endpoint(request: &Request, Data(shared): Data<&Arc<Shared>>) -> Response {
    let query = request.uri().query().unwrap_or_default();
    let params = match query_pairs(query) {
        Ok(params) => params,
        Err(problem) => return bad_request(problem),
    };
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let problem = if param("client_id") != MockProvider::CLIENT_ID {
        Some(format!("unknown client_id {:?}", param("client_id")))
    } else if param("response_type") != "code" {
        Some("response_type must be code".to_owned())
    } else if Url::parse(param("redirect_uri")).is_err() {
        Some("redirect_uri is missing or not an absolute URL".to_owned())
    } else if param("code_challenge_method") != "S256" {
        Some("code_challenge_method must be S256".to_owned())
    } else if param("code_challenge").len() != 43 {
        Some("code_challenge must be an S256 challenge (43 characters)".to_owned())
    } else if param("state").is_empty() {
        Some("state is missing".to_owned())
    } else if param("nonce").is_empty() {
        Some("nonce is missing".to_owned())
    } else if !param("scope").split(' ').any(|scope| scope == "openid") {
        Some("scope must contain openid".to_owned())
    } else {
        None
    };
    if let Some(problem) = problem {
        return bad_request(problem);
    }
    let mut state = shared.state();
    let Some(identity) = state.identity.clone() else {
        return bad_request("nobody signs in: the test calls sign_in_as first".to_owned());
    };
    let code = random_token();
    let auth_time = state.now().timestamp();
    state.codes.insert(
        code.clone(),
        Grant {
            identity,
            nonce: param("nonce").to_owned(),
            code_challenge: param("code_challenge").to_owned(),
            redirect_uri: param("redirect_uri").to_owned(),
            auth_time,
        },
    );
    let received = Url::parse(&format!("{}{}", shared.issuer, request.uri()));
    state
        .authorize_requests
        .push(received.expect("the request's own URL"));
    let mut back = Url::parse(param("redirect_uri")).expect("checked above");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", param("state"));
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, back.as_str())
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

/// An RFC 6749 §5.2 error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut answer = json_response(
        status,
        &json!({"error": error, "error_description": description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        // §5.2: a 401 for a failed client authentication names the scheme.
        answer.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"mock\""),
        );
    }
    answer
}

/// One form-urlencoded component, as RFC 6749 §2.3.1 has id and secret in HTTP Basic.
fn form_decoded(component: &str) -> Option<String> {
    if component.contains(['&', '=']) {
        return None;
    }
    url::form_urlencoded::parse(component.as_bytes())
        .next()
        .map(|(decoded, _)| decoded.into_owned())
}

/// An RFC 6749 §5.2 error, before it becomes an answer: status, error, description.
type OAuthError = (StatusCode, &'static str, &'static str);

const INVALID_CLIENT: OAuthError = (
    StatusCode::UNAUTHORIZED,
    "invalid_client",
    "client authentication failed",
);

/// The client's id and secret: from HTTP Basic or from the form, never both (§2.3).
fn client_credentials(
    request: &Request,
    form: &HashMap<String, String>,
) -> Result<(String, String), OAuthError> {
    let basic = request
        .header(header::AUTHORIZATION)
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, credentials)| credentials.trim());
    match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => Err((
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "more than one client authentication method",
        )),
        (Some(credentials), None) => {
            let decoded = STANDARD
                .decode(credentials)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or(INVALID_CLIENT)?;
            let (id, secret) = decoded.split_once(':').ok_or(INVALID_CLIENT)?;
            let id = form_decoded(id).ok_or(INVALID_CLIENT)?;
            let secret = form_decoded(secret).ok_or(INVALID_CLIENT)?;
            if form.get("client_id").is_some_and(|other| *other != id) {
                return Err(INVALID_CLIENT);
            }
            Ok((id, secret))
        }
        (None, Some(secret)) => {
            let id = form.get("client_id").ok_or(INVALID_CLIENT)?;
            Ok((id.clone(), secret.clone()))
        }
        (None, None) => Err(INVALID_CLIENT),
    }
}

#[handler]
async fn token_endpoint(
    request: &Request,
    body: Body,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    let form_type = request
        .content_type()
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let form = match body.into_string().await {
        Ok(body) if form_type => query_pairs(&body),
        _ => Err("the body must be application/x-www-form-urlencoded".to_owned()),
    };
    let form = match form {
        Ok(form) => form,
        Err(problem) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &problem),
    };
    let (id, secret) = match client_credentials(request, &form) {
        Ok(credentials) => credentials,
        Err((status, error, description)) => return oauth_error(status, error, description),
    };
    if id != MockProvider::CLIENT_ID || secret != MockProvider::CLIENT_SECRET {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    // A code is gone after one attempt, whether or not that attempt succeeds.
    let mut state = shared.state();
    let Some(grant) = state.codes.remove(field("code")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or used code",
        );
    };
    if field("redirect_uri") != grant.redirect_uri {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        );
    }
    if pkce_s256(field("code_verifier")) != grant.code_challenge {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        );
    }
    let access_token = random_token();
    state
        .access_tokens
        .insert(access_token.clone(), grant.identity.clone());
    let id_token = id_token(&shared.issuer, &state, &grant);
    drop(state);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
            "id_token": id_token,
        }),
    )
}

/// The ID token for a grant, spoiled as the current fault says.
fn id_token(issuer: &str, state: &State, grant: &Grant) -> String {
    let fault = state.fault;
    let now = state.now().timestamp();
    let (iat, exp) = match fault {
        Fault::Expired => (now - 7200, now - 3600),
        _ => (now, now + TOKEN_SECONDS),
    };
    let mut claims = Map::new();
    claims.insert(
        "iss".into(),
        json!(match fault {
            Fault::WrongIssuer => "http://evil.example",
            _ => issuer,
        }),
    );
    claims.insert("sub".into(), json!(grant.identity.subject));
    claims.insert(
        "aud".into(),
        json!([match fault {
            Fault::WrongAudience => "someone-else",
            _ => MockProvider::CLIENT_ID,
        }]),
    );
    claims.insert("exp".into(), json!(exp));
    claims.insert("iat".into(), json!(iat));
    claims.insert("auth_time".into(), json!(grant.auth_time.min(iat)));
    claims.insert(
        "nonce".into(),
        json!(match fault {
            Fault::WrongNonce => format!("not-{}", grant.nonce),
            _ => grant.nonce.clone(),
        }),
    );
    if !grant.identity.claims_at_userinfo {
        identity_claims(&grant.identity, &mut claims);
    }
    let (algorithm, key, kid) = match fault {
        Fault::UnknownKey => (
            Algorithm::RS256,
            &KEYS.unknown.encoding,
            format!("rsa-unknown-{}", KEYS.unknown.short_thumbprint()),
        ),
        Fault::UnannouncedAlg => (Algorithm::EdDSA, &KEYS.ed25519, KEYS.ed25519_kid.clone()),
        _ => {
            let (key, kid) = state.signing_key();
            (Algorithm::RS256, &key.encoding, kid)
        }
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(kid);
    jsonwebtoken::encode(&header, &Value::Object(claims), key).expect("ID token signs")
}

#[handler]
fn userinfo_endpoint(request: &Request, Data(shared): Data<&Arc<Shared>>) -> Response {
    let bearer = request
        .header(header::AUTHORIZATION)
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let identity = bearer.and_then(|token| shared.state().access_tokens.get(token).cloned());
    let Some(identity) = identity else {
        // RFC 6750 §3.1.
        let mut answer =
            json_response(StatusCode::UNAUTHORIZED, &json!({"error": "invalid_token"}));
        answer.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        return answer;
    };
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(identity.subject));
    identity_claims(&identity, &mut claims);
    json_response(StatusCode::OK, &Value::Object(claims))
}

// The self-tests: the mock by hand (plain HTTP and jsonwebtoken), then through the
// `openidconnect` crate exactly as the service uses it.

/// Where the mock sends the browser back; never contacted (redirects are not
/// followed). Its own query must survive the code and state being added.
const REDIRECT: &str = "http://mandaat.test/sign-in/callback?flow=mock";

fn entree_teacher() -> Identity {
    Identity {
        subject: "entree-7f3a9c".to_owned(),
        name: "Annelies de Vries".to_owned(),
        email: Some("a.devries@obs-de-linde.nl".to_owned()),
        home_organization: Some("12AB".to_owned()),
        claims_at_userinfo: false,
    }
}

fn surf_teacher() -> Identity {
    Identity {
        subject: "surf-0b41e2".to_owned(),
        name: "Karim Bouali".to_owned(),
        email: Some("k.bouali@vo-college.nl".to_owned()),
        home_organization: Some("vo-college.nl".to_owned()),
        claims_at_userinfo: true,
    }
}

/// A browser that does not follow the redirect, so the test reads the code.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The parameters of a good authorization request, for one PKCE challenge and nonce.
fn authorize_params<'a>(challenge: &'a str, nonce: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", MockProvider::CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email"),
        ("state", "state-42"),
        ("nonce", nonce),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

async fn get_authorize(
    mock: &MockProvider,
    http: &reqwest::Client,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let mut url = Url::parse(&format!("{}/authorize", mock.issuer())).expect("URL");
    url.query_pairs_mut().extend_pairs(params);
    http.get(url).send().await.expect("authorize answers")
}

/// The code from a granted authorization (after checking the redirect).
async fn code_by_hand(
    mock: &MockProvider,
    http: &reqwest::Client,
    challenge: &str,
    nonce: &str,
) -> String {
    let answer = get_authorize(mock, http, &authorize_params(challenge, nonce)).await;
    assert_eq!(answer.status(), reqwest::StatusCode::FOUND);
    let location = answer.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("Location");
    let back = Url::parse(location).expect("Location is a URL");
    assert_eq!(back.path(), "/sign-in/callback");
    let pairs: HashMap<String, String> = back.query_pairs().into_owned().collect();
    assert_eq!(pairs["state"], "state-42");
    assert_eq!(
        pairs["flow"], "mock",
        "the redirect URI keeps its own query"
    );
    pairs["code"].clone()
}

/// How the client authenticates at /token.
#[derive(Clone, Copy)]
enum ClientAuth {
    /// client_secret_basic, id and secret urlencoded first (RFC 6749 §2.3.1).
    Basic,
    /// HTTP Basic without the urlencoding: wrong, since the secret has a ':'.
    BasicNotEncoded,
    Post,
    Both,
    WrongSecret,
}

async fn post_token(
    mock: &MockProvider,
    http: &reqwest::Client,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
    auth: ClientAuth,
) -> reqwest::Response {
    let encoded = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let request = http.post(format!("{}/token", mock.issuer()));
    let request = match auth {
        ClientAuth::Basic => request.basic_auth(
            encoded(MockProvider::CLIENT_ID),
            Some(encoded(MockProvider::CLIENT_SECRET)),
        ),
        ClientAuth::BasicNotEncoded => {
            request.basic_auth(MockProvider::CLIENT_ID, Some(MockProvider::CLIENT_SECRET))
        }
        ClientAuth::WrongSecret => {
            request.basic_auth(MockProvider::CLIENT_ID, Some("not-the-secret"))
        }
        ClientAuth::Post | ClientAuth::Both => {
            form.push(("client_id", MockProvider::CLIENT_ID));
            form.push(("client_secret", MockProvider::CLIENT_SECRET));
            if let ClientAuth::Both = auth {
                request.basic_auth(
                    encoded(MockProvider::CLIENT_ID),
                    Some(encoded(MockProvider::CLIENT_SECRET)),
                )
            } else {
                request
            }
        }
    };
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    request
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
        .expect("token answers")
}

async fn error_of(answer: reqwest::Response) -> (reqwest::StatusCode, String) {
    let status = answer.status();
    let body: Value = answer.json().await.expect("JSON error");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A successful code flow by hand: the token answer and the nonce it was for.
async fn tokens_by_hand(mock: &MockProvider, http: &reqwest::Client) -> (Value, String) {
    let (verifier, nonce) = (random_token(), random_token());
    let code = code_by_hand(mock, http, &pkce_s256(&verifier), &nonce).await;
    let answer = post_token(mock, http, &code, &verifier, REDIRECT, ClientAuth::Basic).await;
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    (answer.json().await.expect("token JSON"), nonce)
}

async fn get_jwks(mock: &MockProvider, http: &reqwest::Client) -> Vec<Value> {
    let jwks: Value = http
        .get(format!("{}/jwks", mock.issuer()))
        .send()
        .await
        .expect("JWKS answers")
        .json()
        .await
        .expect("JWKS JSON");
    jwks["keys"].as_array().expect("keys").clone()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("JWT header")
        .kid
        .expect("kid")
}

/// The ID token's claims, its RS256 signature checked with the JWKS key of its kid.
fn verified_claims(mock: &MockProvider, token: &str, keys: &[Value]) -> Value {
    let kid = kid_of(token);
    let jwk = keys
        .iter()
        .find(|key| key["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
    assert_eq!(jwk["kty"], "RSA");
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().expect("n"),
        jwk["e"].as_str().expect("e"),
    )
    .expect("RSA JWK");
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&[MockProvider::CLIENT_ID]);
    validation.set_issuer(&[mock.issuer()]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("ID token verifies")
        .claims
}

#[tokio::test]
async fn oidc_provider_serves_the_code_flow_by_hand() {
    let mock = MockProvider::start().await;
    let http = no_redirects();

    let discovery: Value = http
        .get(format!(
            "{}/.well-known/openid-configuration",
            mock.issuer()
        ))
        .send()
        .await
        .expect("discovery answers")
        .json()
        .await
        .expect("discovery JSON");
    assert_eq!(discovery["issuer"], mock.issuer().as_str());
    assert!(!mock.issuer().ends_with('/'));
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/jwks", mock.issuer()).as_str()
    );

    mock.sign_in_as(entree_teacher());
    let (verifier, nonce) = (random_token(), random_token());
    let challenge = pkce_s256(&verifier);
    let code = code_by_hand(&mock, &http, &challenge, &nonce).await;

    // What the relying party asked for, as the provider received it.
    let received = mock.authorize_requests();
    assert_eq!(received.len(), 1);
    let asked: HashMap<String, String> = received[0].query_pairs().into_owned().collect();
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["code_challenge"], challenge);
    assert_eq!(asked["nonce"], nonce);
    assert!(asked["scope"].split(' ').any(|s| s == "openid"));

    let answer = post_token(&mock, &http, &code, &verifier, REDIRECT, ClientAuth::Basic).await;
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let tokens: Value = answer.json().await.expect("token JSON");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["expires_in"].as_i64().is_some());
    let id_token = tokens["id_token"].as_str().expect("id_token");

    let claims = verified_claims(&mock, id_token, &get_jwks(&mock, &http).await);
    assert_eq!(claims["sub"], "entree-7f3a9c");
    assert_eq!(claims["nonce"], nonce.as_str());
    assert_eq!(claims["aud"], json!([MockProvider::CLIENT_ID]));
    assert_eq!(claims["name"], "Annelies de Vries");
    assert_eq!(claims[mock.home_organization_claim()], "12AB");
    assert!(
        claims.get("schac_home_organization").is_none(),
        "a BRIN is no domain"
    );
    assert!(claims["auth_time"].as_i64().is_some());

    let userinfo = |token: String| {
        http.get(format!("{}/userinfo", mock.issuer()))
            .bearer_auth(token)
            .send()
    };
    let access_token = tokens["access_token"].as_str().expect("access_token");
    let info = userinfo(access_token.to_owned()).await.expect("userinfo");
    assert_eq!(info.status(), reqwest::StatusCode::OK);
    let info: Value = info.json().await.expect("userinfo JSON");
    assert_eq!(info["sub"], "entree-7f3a9c");
    assert_eq!(info["email"], "a.devries@obs-de-linde.nl");
    assert_eq!(info[mock.home_organization_claim()], "12AB");
    let unknown = userinfo("not-a-token".to_owned()).await.expect("userinfo");
    assert_eq!(unknown.status(), reqwest::StatusCode::UNAUTHORIZED);

    // SURFconext style: the ID token has only the subject, userinfo has the rest.
    mock.sign_in_as(surf_teacher());
    let (tokens, _) = tokens_by_hand(&mock, &http).await;
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let claims = verified_claims(&mock, id_token, &get_jwks(&mock, &http).await);
    assert_eq!(claims["sub"], "surf-0b41e2");
    assert!(claims.get("name").is_none() && claims.get("email").is_none());
    assert!(claims.get(mock.home_organization_claim()).is_none());
    let access_token = tokens["access_token"].as_str().expect("access_token");
    let info: Value = userinfo(access_token.to_owned())
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("userinfo JSON");
    assert_eq!(info["name"], "Karim Bouali");
    assert_eq!(info[mock.home_organization_claim()], "vo-college.nl");
    assert_eq!(info["schac_home_organization"], "vo-college.nl");
}

#[tokio::test]
async fn oidc_provider_refuses_bad_requests() {
    let mock = MockProvider::start().await;
    let http = no_redirects();
    let (verifier, nonce) = (random_token(), random_token());
    let challenge = pkce_s256(&verifier);

    // Nobody signed in yet.
    let answer = get_authorize(&mock, &http, &authorize_params(&challenge, &nonce)).await;
    assert_eq!(answer.status(), reqwest::StatusCode::BAD_REQUEST);

    mock.sign_in_as(entree_teacher());
    let spoiled: [(&str, Option<&str>); 8] = [
        ("client_id", Some("someone-else")),
        ("response_type", Some("token")),
        ("redirect_uri", None),
        ("code_challenge_method", Some("plain")),
        ("code_challenge", None),
        ("state", None),
        ("nonce", None),
        ("scope", Some("profile email")),
    ];
    for (name, value) in spoiled {
        let mut params = authorize_params(&challenge, &nonce);
        params.retain(|(n, _)| *n != name);
        if let Some(value) = value {
            params.push((name, value));
        }
        let answer = get_authorize(&mock, &http, &params).await;
        assert_eq!(
            answer.status(),
            reqwest::StatusCode::BAD_REQUEST,
            "{name}: {value:?}"
        );
    }
    let mut repeated = authorize_params(&challenge, &nonce);
    repeated.push(("state", "again"));
    let answer = get_authorize(&mock, &http, &repeated).await;
    assert_eq!(answer.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(
        mock.authorize_requests().is_empty(),
        "only granted requests are kept"
    );

    // A wrong verifier is refused, and the code is gone after that attempt.
    let code = code_by_hand(&mock, &http, &challenge, &nonce).await;
    let other_verifier = random_token();
    let wrong = post_token(
        &mock,
        &http,
        &code,
        &other_verifier,
        REDIRECT,
        ClientAuth::Basic,
    );
    let refused = (reqwest::StatusCode::BAD_REQUEST, "invalid_grant".to_owned());
    assert_eq!(error_of(wrong.await).await, refused);
    let again = post_token(&mock, &http, &code, &verifier, REDIRECT, ClientAuth::Basic);
    assert_eq!(error_of(again.await).await, refused);

    // A code works once.
    let code = code_by_hand(&mock, &http, &challenge, &nonce).await;
    let first = post_token(&mock, &http, &code, &verifier, REDIRECT, ClientAuth::Basic).await;
    assert_eq!(first.status(), reqwest::StatusCode::OK);
    let second = post_token(&mock, &http, &code, &verifier, REDIRECT, ClientAuth::Basic);
    assert_eq!(error_of(second.await).await, refused);

    // The redirect URI must be the authorization request's.
    let code = code_by_hand(&mock, &http, &challenge, &nonce).await;
    let elsewhere = "http://mandaat.test/sign-in/callback";
    let answer = post_token(&mock, &http, &code, &verifier, elsewhere, ClientAuth::Basic);
    assert_eq!(error_of(answer.await).await, refused);

    // Client authentication: urlencoded Basic or the form, one of them, the right secret.
    let unauthorized = (
        reqwest::StatusCode::UNAUTHORIZED,
        "invalid_client".to_owned(),
    );
    for (auth, expected) in [
        (ClientAuth::WrongSecret, Some(unauthorized.clone())),
        (ClientAuth::BasicNotEncoded, Some(unauthorized)),
        (
            ClientAuth::Both,
            Some((
                reqwest::StatusCode::BAD_REQUEST,
                "invalid_request".to_owned(),
            )),
        ),
        (ClientAuth::Post, None),
    ] {
        let code = code_by_hand(&mock, &http, &challenge, &nonce).await;
        let answer = post_token(&mock, &http, &code, &verifier, REDIRECT, auth).await;
        match expected {
            Some(expected) => assert_eq!(error_of(answer).await, expected),
            None => assert_eq!(answer.status(), reqwest::StatusCode::OK),
        }
    }
}

#[tokio::test]
async fn oidc_provider_rotates_its_signing_key() {
    let mock = MockProvider::start().await;
    let http = no_redirects();
    mock.sign_in_as(entree_teacher());

    let keys = get_jwks(&mock, &http).await;
    // The Ed25519 key is published, though discovery announces only RS256.
    let okp = keys.iter().find(|k| k["kty"] == "OKP").expect("an OKP key");
    assert_eq!(
        (&okp["crv"], &okp["alg"]),
        (&json!("Ed25519"), &json!("EdDSA"))
    );
    let (tokens, _) = tokens_by_hand(&mock, &http).await;
    let old = tokens["id_token"].as_str().expect("id_token").to_owned();
    verified_claims(&mock, &old, &keys);

    let mut kids = vec![kid_of(&old)];
    for _ in 0..2 {
        mock.rotate_keys();
        let keys = get_jwks(&mock, &http).await;
        let (tokens, _) = tokens_by_hand(&mock, &http).await;
        let token = tokens["id_token"].as_str().expect("id_token");
        let kid = kid_of(token);
        assert!(!kids.contains(&kid), "a new kid each rotation");
        for gone in &kids {
            assert!(
                keys.iter().all(|k| k["kid"] != gone.as_str()),
                "{gone} left"
            );
        }
        verified_claims(&mock, token, &keys);
        kids.push(kid);
    }
}

/// The extra claims a school's provider sends, read the way the service will.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
struct SchoolClaims {
    #[serde(rename = "nlEduPersonHomeOrganizationId")]
    home_organization: Option<String>,
    schac_home_organization: Option<String>,
}

impl openidconnect::AdditionalClaims for SchoolClaims {}

type DiscoveredClient = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

async fn discover(mock: &MockProvider, http: &openidconnect::reqwest::Client) -> DiscoveredClient {
    let issuer = openidconnect::IssuerUrl::new(mock.issuer()).expect("issuer URL");
    let metadata = openidconnect::core::CoreProviderMetadata::discover_async(issuer, http)
        .await
        .expect("discovery");
    openidconnect::core::CoreClient::from_provider_metadata(
        metadata,
        openidconnect::ClientId::new(MockProvider::CLIENT_ID.to_owned()),
        Some(openidconnect::ClientSecret::new(
            MockProvider::CLIENT_SECRET.to_owned(),
        )),
    )
    .set_redirect_uri(openidconnect::RedirectUrl::new(REDIRECT.to_owned()).expect("redirect"))
}

/// Sign-in as the service does it: authorization URL with PKCE, state and nonce; the
/// browser's round trip; the code exchanged (client_secret_basic, openidconnect's default).
async fn sign_in(
    client: &DiscoveredClient,
    http: &openidconnect::reqwest::Client,
) -> (openidconnect::core::CoreTokenResponse, openidconnect::Nonce) {
    use openidconnect::core::CoreResponseType;
    use openidconnect::{AuthenticationFlow, CsrfToken, Nonce, PkceCodeChallenge, Scope};
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".to_owned()))
        .add_scope(Scope::new("email".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let answer = http.get(url).send().await.expect("authorize answers");
    assert_eq!(answer.status(), reqwest::StatusCode::FOUND);
    let location = answer.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("Location");
    let back: HashMap<String, String> = Url::parse(location)
        .expect("Location is a URL")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(&back["state"], state.secret());
    let tokens = client
        .exchange_code(openidconnect::AuthorizationCode::new(back["code"].clone()))
        .expect("token endpoint discovered")
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .expect("code exchanged");
    (tokens, nonce)
}

#[tokio::test]
async fn oidc_provider_satisfies_the_openidconnect_crate() {
    use openidconnect::core::{CoreGenderClaim, CoreJwsSigningAlgorithm};
    use openidconnect::{
        ClaimsVerificationError as Refused, SignatureVerificationError as Signature,
    };
    use openidconnect::{OAuth2TokenResponse, TokenResponse, UserInfoClaims};

    let mock = MockProvider::start().await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let client = discover(&mock, &http).await;

    // Entree: everything in the ID token.
    mock.sign_in_as(entree_teacher());
    let (tokens, nonce) = sign_in(&client, &http).await;
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("a good ID token passes");
    assert_eq!(claims.subject().as_str(), "entree-7f3a9c");
    let name = claims.name().and_then(|n| n.get(None)).expect("name");
    assert_eq!(name.as_str(), "Annelies de Vries");

    // SURFconext: the school is only at userinfo.
    mock.sign_in_as(surf_teacher());
    let (tokens, nonce) = sign_in(&client, &http).await;
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("a good ID token passes");
    assert!(claims.name().is_none());
    let info: UserInfoClaims<SchoolClaims, CoreGenderClaim> = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .expect("userinfo endpoint discovered")
        .request_async(&http)
        .await
        .expect("userinfo");
    let school = info.additional_claims();
    assert_eq!(school.home_organization.as_deref(), Some("vo-college.nl"));
    assert_eq!(
        school.schac_home_organization.as_deref(),
        Some("vo-college.nl")
    );

    // Every fault is refused.
    for fault in [
        Fault::WrongNonce,
        Fault::WrongAudience,
        Fault::Expired,
        Fault::WrongIssuer,
        Fault::UnknownKey,
        Fault::UnannouncedAlg,
    ] {
        mock.fault(fault);
        let (tokens, nonce) = sign_in(&client, &http).await;
        let id_token = tokens.id_token().expect("an ID token");
        let verdict = id_token.claims(&client.id_token_verifier(), &nonce);
        // Refused, and for the reason the fault is about, not some other slip.
        let for_its_reason = match fault {
            Fault::WrongNonce => matches!(verdict, Err(Refused::InvalidNonce(_))),
            Fault::WrongAudience => matches!(verdict, Err(Refused::InvalidAudience(_))),
            Fault::Expired => matches!(verdict, Err(Refused::Expired(_))),
            Fault::WrongIssuer => matches!(verdict, Err(Refused::InvalidIssuer(_))),
            Fault::UnknownKey => matches!(
                verdict,
                Err(Refused::SignatureVerification(Signature::NoMatchingKey))
            ),
            Fault::UnannouncedAlg => matches!(
                verdict,
                Err(Refused::SignatureVerification(Signature::DisallowedAlg(_)))
            ),
            Fault::None => false,
        };
        assert!(for_its_reason, "{fault:?}: {verdict:?}");
        if fault == Fault::UnannouncedAlg {
            // Refused for its algorithm alone: the signature itself is good.
            let eddsa = client
                .id_token_verifier()
                .set_allowed_algs([CoreJwsSigningAlgorithm::EdDsa]);
            id_token
                .claims(&eddsa, &nonce)
                .expect("EdDSA verifies with the published Ed25519 key");
        }
    }
    mock.fault(Fault::None);

    // After a rotation the discovered JWKS is stale: a fresh discovery verifies again.
    mock.rotate_keys();
    let (tokens, nonce) = sign_in(&client, &http).await;
    let id_token = tokens.id_token().expect("an ID token");
    assert!(
        id_token
            .claims(&client.id_token_verifier(), &nonce)
            .is_err()
    );
    let rediscovered = discover(&mock, &http).await;
    id_token
        .claims(&rediscovered.id_token_verifier(), &nonce)
        .expect("the new key verifies after discovery again");
}
