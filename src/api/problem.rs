//! RFC 9457 problem details: the one shape of every error response, including the
//! framework's own (bad JSON, missing token, unknown route, body too large).

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::auth::AuthError;
use crate::domain::keys::ContentError;
use crate::error::Error;

pub const PROBLEM_JSON: &str = "application/problem+json";
const TYPE_PREFIX: &str = "urn:mandaat:problem:";
const INSTANCE_PREFIX: &str = "urn:mandaat:request:";
/// `Retry-After` of a 503: the database is usually back, or a connection free, within
/// seconds (a restart of PostgreSQL, a failover).
pub const RETRY_UNAVAILABLE_SECONDS: u64 = 5;
const WWW_AUTHENTICATE: &str = r#"Bearer realm="mandaat", error="invalid_token""#;

/// A problem detail (RFC 9457). `type` is a stable URN; clients branch on it.
#[derive(Debug, Clone, Object)]
pub struct Problem {
    /// Stable identifier of the kind of problem, `urn:mandaat:problem:<slug>`.
    #[oai(rename = "type")]
    pub problem_type: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// This occurrence: `urn:mandaat:request:<id>`, where the id is the response's
    /// `x-request-id` and the server's log line for the request names it. Quote it
    /// when reporting an error.
    #[oai(skip_serializing_if_is_none)]
    pub instance: Option<String>,
}

impl Problem {
    /// The one place problems are made: the request's log line and metrics learn
    /// its type here, and it carries the request's id.
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        crate::observe::note_problem(slug);
        Problem {
            problem_type: format!("{TYPE_PREFIX}{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            instance: crate::observe::request_id().map(|id| format!("{INSTANCE_PREFIX}{id}")),
        }
    }
}

/// Every error an operation can answer with; each variant is documented in the
/// OpenAPI document with the problem schema.
/// (The problem is boxed to keep `Result<_, ApiError>` small.)
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "ApiError::from_request_error")]
pub enum ApiError {
    /// The request is malformed: bad JSON, a bad parameter.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Box<Problem>>),
    /// No valid bearer token.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(
        Json<Box<Problem>>,
        #[oai(header = "WWW-Authenticate")] String,
    ),
    /// The token is valid but its role may not do this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Box<Problem>>),
    /// No such resource.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Box<Problem>>),
    /// The request conflicts with the current state (duplicate, revoked, suspended).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Box<Problem>>),
    /// The request body is larger than the configured limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Box<Problem>>),
    /// The request body is not JSON.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Box<Problem>>),
    /// Well-formed but invalid: a value out of range, a bad signature or statement.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Box<Problem>>),
    /// Too many requests from this client address or with this credential; try again
    /// after `Retry-After` seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Box<Problem>>, #[oai(header = "Retry-After")] u64),
    /// A fault on the server; the detail says no more than is safe.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Box<Problem>>),
    /// The database is not reachable right now (`database-unavailable`), or the
    /// request took longer than the server allows (`request-timeout`); try again after
    /// `Retry-After` seconds.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Box<Problem>>, #[oai(header = "Retry-After")] u64),
}

impl ApiError {
    pub fn problem(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Problem::new(status, slug, detail).into()
    }

    pub fn unauthorized(err: &AuthError) -> Self {
        Self::problem(StatusCode::UNAUTHORIZED, "unauthorized", err.to_string())
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::problem(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    fn from_request_error(err: poem::Error) -> Self {
        problem_for_framework_error(&err).into()
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        let body = Json(Box::new(problem));
        match body.status {
            400 => ApiError::BadRequest(body),
            401 => ApiError::Unauthorized(body, WWW_AUTHENTICATE.to_owned()),
            403 => ApiError::Forbidden(body),
            404 => ApiError::NotFound(body),
            409 => ApiError::Conflict(body),
            413 => ApiError::PayloadTooLarge(body),
            415 => ApiError::UnsupportedMediaType(body),
            422 => ApiError::Unprocessable(body),
            429 => ApiError::TooManyRequests(body, 1),
            503 => ApiError::Unavailable(body, RETRY_UNAVAILABLE_SECONDS),
            _ => ApiError::Internal(body),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        ApiError::unauthorized(&err)
    }
}

impl From<crate::auth::CredentialError> for ApiError {
    fn from(err: crate::auth::CredentialError) -> Self {
        match err {
            crate::auth::CredentialError::Auth(e) => e.into(),
            crate::auth::CredentialError::Internal(e) => e.into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        use crate::domain::statement::StatementError as S;
        let (status, slug) = match &err {
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::Conflict { kind, .. } => (StatusCode::CONFLICT, kind.slug()),
            Error::Rule { rule, .. } => {
                use crate::error::Rule as R;
                let status = match rule {
                    R::NotTokenMember => StatusCode::FORBIDDEN,
                    R::WrongState
                    | R::OutsideWindow
                    | R::NonceReused
                    | R::ProxyExists
                    | R::ProxyCapReached
                    | R::ResultNotAvailable
                    | R::EmptyRoll => StatusCode::CONFLICT,
                    R::DigestMismatch
                    | R::KeyNotValid
                    | R::ClockSkew
                    | R::NotEligible
                    | R::NoProxy => StatusCode::UNPROCESSABLE_ENTITY,
                };
                (status, rule.slug())
            }
            Error::Choice(_) | Error::StatementContent(ContentError::BadChoice) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid-choice")
            }
            Error::Proposal(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation-failed"),
            Error::Invitation(_) => (StatusCode::UNAUTHORIZED, "invitation-invalid"),
            Error::Webhook(crate::domain::webhook::WebhookError::Target(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "webhook-target-refused")
            }
            Error::Webhook(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation-failed"),
            Error::LogRange(_) => (StatusCode::UNPROCESSABLE_ENTITY, "bad-range"),
            Error::Member(_) | Error::Person(_) | Error::ApiToken(_) | Error::Validation(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "validation-failed")
            }
            Error::Key(_) | Error::StatementContent(ContentError::Key(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid-public-key")
            }
            Error::Statement(S::BadSignature(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid-signature")
            }
            Error::Statement(S::NotCanonical) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "statement-not-canonical")
            }
            Error::Statement(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-statement"),
            // Text that no field accepts: the same answer as in a plain JSON body.
            Error::StatementContent(ContentError::ControlCharacters(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "validation-failed")
            }
            Error::StatementContent(_) => (StatusCode::UNPROCESSABLE_ENTITY, "statement-mismatch"),
            Error::ProviderUnavailable(_) => {
                return Self::problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "provider-unavailable",
                    err.to_string(),
                );
            }
            Error::Unavailable(_) => {
                // The driver's words go to the log, never to the client.
                tracing::warn!(error = %err, "the database is unavailable");
                return Self::problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database-unavailable",
                    "the database cannot be reached right now; try again in a few seconds",
                );
            }
            Error::Corrupt(_) | Error::Internal(_) | Error::Db(_) => {
                tracing::error!(error = %err, "request failed");
                return Self::problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server failed to handle this request; the error is logged",
                );
            }
        };
        Self::problem(status, slug, err.to_string())
    }
}

/// Maps an error raised by poem or poem-openapi itself to a problem.
pub fn problem_for_framework_error(err: &poem::Error) -> Problem {
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    };
    let status = err.status();
    let detail = err.to_string();
    let slug = if err.is::<AuthorizationError>() || status == StatusCode::UNAUTHORIZED {
        return Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a bearer token is required (Authorization: Bearer <token>)",
        );
    } else if err.is::<ParseRequestPayloadError>() {
        "malformed-body"
    } else if err.is::<ParseParamError>() || err.is::<ParsePathError>() {
        "bad-parameter"
    } else if err.is::<ContentTypeError>() {
        "unsupported-media-type"
    } else {
        match status {
            StatusCode::NOT_FOUND => "not-found",
            StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
            s if s.is_client_error() => "bad-request",
            _ => "internal",
        }
    };
    let detail = match slug {
        "not-found" => "no such resource or route".to_owned(),
        "payload-too-large" => "the request body is larger than the server accepts".to_owned(),
        "internal" => {
            tracing::error!(error = %detail, "framework error");
            "the server failed to handle this request; the error is logged".to_owned()
        }
        _ => detail,
    };
    Problem::new(status, slug, detail)
}

/// The catch-all for errors that escape an endpoint: our own responses pass
/// through, everything else becomes a problem.
pub async fn render_error(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let problem = problem_for_framework_error(&err);
    if matches!(
        problem.status,
        400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503
    ) {
        return ApiError::from(problem).into_response();
    }
    // A status no operation documents (405, say): keep it, in the same shape.
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = poem_openapi::types::ToJSON::to_json_string(&problem);
    Response::builder()
        .status(status)
        .content_type(PROBLEM_JSON)
        .body(body)
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What an operation returns: its answer, or a refusal with one of the statuses `S`.
pub type OpResult<T, S> = Result<T, Refusal<S>>;

/// The error statuses one operation can answer with: its OpenAPI responses list
/// exactly these (see [`Refusal`]).
pub trait Statuses: Send + Sync + 'static {
    const LIST: &'static [u16];
}

/// An [`ApiError`] of an operation that documents only the statuses `S` lists. The
/// contract check of the integration tests (tests/api/contract.rs) and schemathesis
/// in CI hold every answer to that list.
pub struct Refusal<S>(pub ApiError, std::marker::PhantomData<S>);

impl<S> std::fmt::Debug for Refusal<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Statuses> poem_openapi::ApiResponse for Refusal<S> {
    fn meta() -> poem_openapi::registry::MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses
            .retain(|r| r.status.is_some_and(|status| S::LIST.contains(&status)));
        meta
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        ApiError::register(registry);
    }
}

impl<S> From<Refusal<S>> for poem::Error {
    fn from(refusal: Refusal<S>) -> Self {
        refusal.0.into()
    }
}

impl<S> From<Refusal<S>> for ApiError {
    fn from(refusal: Refusal<S>) -> Self {
        refusal.0
    }
}

macro_rules! refusal_from {
    ($($source:ty),* $(,)?) => {$(
        impl<S> From<$source> for Refusal<S> {
            fn from(err: $source) -> Self {
                Refusal(err.into(), std::marker::PhantomData)
            }
        }
    )*};
}
refusal_from!(
    ApiError,
    Error,
    AuthError,
    Problem,
    crate::domain::member::MemberError,
    crate::domain::person::PersonError,
    crate::domain::api_token::ApiTokenError,
);

macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident = [$($status:literal),* $(,)?];)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl Statuses for $name {
            const LIST: &'static [u16] = &[$($status),*];
        }
    )*};
}

// Every operation that takes credentials can answer 401 (no valid token or session),
// 429 (rate limited), 500 (a fault) and 503 (the database is unreachable, or the
// request ran out of time). 400 comes with parameters and bodies, 413 and 415 with
// bodies, 404 with a resource in the path, 403 where a role or (for writes with a
// session cookie) the CSRF header decides, 409 and 422 where the operation says.
statuses! {
    /// Only the rate limit: a constant answer that needs no credentials.
    Public = [429];
    /// Readiness: the database may not answer.
    Probe = [503];
    /// A read without parameters, open to every role.
    Read = [401, 429, 500, 503];
    /// A read without parameters for some roles only.
    ReadRestricted = [401, 403, 429, 500, 503];
    /// A read with query parameters, open to every role; 422 for a value no schema
    /// expresses (control characters, a range beyond the log).
    ReadQuery = [400, 401, 422, 429, 500, 503];
    /// A read with query parameters for some roles only.
    ReadQueryRestricted = [400, 401, 403, 429, 500, 503];
    /// One resource by its id, open to every role.
    ReadOne = [400, 401, 404, 429, 500, 503];
    /// One resource by its id, for those who may see it or act on it.
    Restricted = [400, 401, 403, 404, 429, 500, 503];
    /// A proposal's result: also refused (409) while voting is open.
    ReadResult = [400, 401, 403, 404, 409, 429, 500, 503];
    /// The caller's own sessions: 400 for a bearer token, which has none.
    OwnSessions = [400, 401, 429, 500, 503];
    /// Ending the caller's own session.
    EndOwnSession = [400, 401, 403, 429, 500, 503];
    /// Signing in with an invitation: 401 for an invitation that cannot be used.
    SignIn = [400, 401, 403, 413, 415, 422, 429, 500, 503];
    /// Starting a sign-in at a provider: 404 for an unknown provider, 401/409 for an
    /// invitation that cannot be used, 503 when the provider cannot be reached.
    StartSignIn = [400, 401, 404, 409, 413, 415, 422, 429, 500, 503];
    /// The provider's redirect back: every refusal is a redirect; only the server
    /// failing is an error.
    SignInCallback = [429, 500, 503];
    /// Creating something from a body.
    Create = [400, 401, 403, 413, 415, 422, 429, 500, 503];
    /// Creating something that may already exist.
    CreateUnique = [400, 401, 403, 409, 413, 415, 422, 429, 500, 503];
    /// Changing or adding to a resource by its id, with a body.
    Change = [400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503];
    /// A lifecycle step on a resource by its id, without a body.
    Step = [400, 401, 403, 404, 409, 429, 500, 503];
}

impl From<crate::domain::member::MemberError> for ApiError {
    fn from(err: crate::domain::member::MemberError) -> Self {
        Error::from(err).into()
    }
}

impl From<crate::domain::api_token::ApiTokenError> for ApiError {
    fn from(err: crate::domain::api_token::ApiTokenError) -> Self {
        Error::from(err).into()
    }
}

impl From<crate::domain::person::PersonError> for ApiError {
    fn from(err: crate::domain::person::PersonError) -> Self {
        Error::from(err).into()
    }
}
