//! Signing in with a school's own account at an OpenID Connect provider (Entree
//! Federatie, SURFconext): the providers' configuration, what a provider says about
//! an account, and what a sign-in leads to. Pure: the protocol itself is the
//! `openidconnect` crate's, in `service::sign_in`.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// How long a sign-in at a provider may take, from the button to the callback.
pub const FLOW_LIFETIME: Duration = Duration::minutes(10);

/// Signature algorithms an ID token may use when the provider announces them.
/// Symmetric ones (HS*) are left out: they would make the client secret a signing key.
pub const ASYMMETRIC_ALGORITHMS: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// Where Entree Federatie puts the school's BRIN.
pub const ENTREE_HOME_ORGANIZATION: &str = "nlEduPersonHomeOrganizationId";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderConfigError {
    #[error("not a providers file: {0}")]
    Json(String),
    #[error("provider id {0:?}: use 1 to 40 lowercase letters, digits and '-'")]
    Id(String),
    #[error("provider id {0:?} appears twice")]
    DuplicateId(String),
    #[error("provider {id}: {field} must not be empty")]
    Empty { id: String, field: &'static str },
    #[error(
        "provider {id}: issuer {issuer:?} must be an https URL (http only for 127.0.0.1 or localhost)"
    )]
    Issuer { id: String, issuer: String },
    #[error("provider {id}: the scopes must include \"openid\"")]
    NoOpenidScope { id: String },
    #[error("provider {id}: client_secret_env names {var}, which is not set")]
    MissingSecret { id: String, var: String },
    #[error("provider {id}: give client_secret or client_secret_env, not both")]
    TwoSecrets { id: String },
    #[error("provider {id}: algorithm {alg:?} is not one of {allowed}", allowed = ASYMMETRIC_ALGORITHMS.join(", "))]
    Algorithm { id: String, alg: String },
}

/// One provider as the operator configures it (see README, "Sign-in providers").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// Short name used in URLs and stored with accounts, e.g. `entree`.
    pub id: String,
    /// The sign-in button's text: "Sign in with <display_name>".
    pub display_name: String,
    /// The issuer URL exactly as the provider's discovery document states it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    /// The claim holding the person's home organisation (BRIN or domain).
    pub home_organization_claim: String,
    /// ID-token algorithms accepted (of those the provider announces).
    pub algorithms: BTreeSet<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvidersFile {
    providers: Vec<ProviderEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEntry {
    id: String,
    display_name: String,
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    client_secret_env: Option<String>,
    scopes: Option<Vec<String>>,
    home_organization_claim: Option<String>,
    algorithms: Option<Vec<String>>,
}

/// Reads a providers file. `env` looks up `client_secret_env` variables (a parameter,
/// so that tests control it).
pub fn parse_providers(
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<ProviderSettings>, ProviderConfigError> {
    let file: ProvidersFile =
        serde_json::from_str(text).map_err(|e| ProviderConfigError::Json(e.to_string()))?;
    let mut seen = BTreeSet::new();
    let mut providers = Vec::with_capacity(file.providers.len());
    for entry in file.providers {
        let id = entry.id;
        let id_ok = (1..=40).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return Err(ProviderConfigError::Id(id));
        }
        if !seen.insert(id.clone()) {
            return Err(ProviderConfigError::DuplicateId(id));
        }
        let non_empty = |value: String, field: &'static str| {
            let value = value.trim().to_owned();
            if value.is_empty() {
                Err(ProviderConfigError::Empty {
                    id: id.clone(),
                    field,
                })
            } else {
                Ok(value)
            }
        };
        let display_name = non_empty(entry.display_name, "display_name")?;
        let client_id = non_empty(entry.client_id, "client_id")?;
        let issuer = non_empty(entry.issuer, "issuer")?;
        if !issuer_is_acceptable(&issuer) {
            return Err(ProviderConfigError::Issuer {
                id: id.clone(),
                issuer,
            });
        }
        let client_secret = match (entry.client_secret, entry.client_secret_env) {
            (Some(_), Some(_)) => return Err(ProviderConfigError::TwoSecrets { id }),
            (Some(secret), None) => Some(secret),
            (None, Some(var)) => match env(&var) {
                Some(secret) => Some(secret),
                None => return Err(ProviderConfigError::MissingSecret { id, var }),
            },
            (None, None) => None,
        };
        let scopes = entry.scopes.unwrap_or_else(|| {
            ["openid", "profile", "email"]
                .map(str::to_owned)
                .into_iter()
                .collect()
        });
        if !scopes.iter().any(|s| s == "openid") {
            return Err(ProviderConfigError::NoOpenidScope { id });
        }
        let algorithms = match entry.algorithms {
            None => ASYMMETRIC_ALGORITHMS
                .map(str::to_owned)
                .into_iter()
                .collect(),
            Some(algs) => {
                for alg in &algs {
                    if !ASYMMETRIC_ALGORITHMS.contains(&alg.as_str()) {
                        return Err(ProviderConfigError::Algorithm {
                            id,
                            alg: alg.clone(),
                        });
                    }
                }
                algs.into_iter().collect()
            }
        };
        providers.push(ProviderSettings {
            id,
            display_name,
            issuer,
            client_id,
            client_secret,
            scopes,
            home_organization_claim: entry
                .home_organization_claim
                .unwrap_or_else(|| ENTREE_HOME_ORGANIZATION.to_owned()),
            algorithms,
        });
    }
    Ok(providers)
}

/// https, or http to this machine (a test provider, a local development one).
fn issuer_is_acceptable(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        _ => false,
    }
}

/// What a provider said about an account, after its ID token was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountClaims {
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub home_organization: Option<String>,
}

impl AccountClaims {
    /// The name to show on a request: the provider's, else the e-mail, else the subject.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.email.clone())
            .unwrap_or_else(|| self.subject.clone())
    }

    /// Fills what the ID token left out from the userinfo answer (SURFconext puts
    /// most claims there); what the ID token said wins.
    pub fn complete_from(&mut self, userinfo: &Value, home_organization_claim: &str) {
        if self.name.is_none() {
            self.name = claim_text(userinfo, "name").or_else(|| full_name(userinfo));
        }
        if self.email.is_none() {
            self.email = claim_text(userinfo, "email");
        }
        if self.home_organization.is_none() {
            self.home_organization = claim_text(userinfo, home_organization_claim);
        }
    }

    /// Whether the userinfo endpoint is worth asking.
    pub fn is_incomplete(&self) -> bool {
        self.name.is_none() || self.email.is_none() || self.home_organization.is_none()
    }
}

/// A claim as text: a string, or the first string of an array (attributes that came
/// from SAML are often multi-valued). Trimmed, control characters refused, at most
/// 200 characters; anything else is treated as absent.
pub fn claim_text(claims: &Value, name: &str) -> Option<String> {
    let value = match claims.get(name)? {
        Value::String(s) => s.as_str(),
        Value::Array(items) => items.iter().find_map(Value::as_str)?,
        _ => return None,
    };
    let value = value.trim();
    let ok = !value.is_empty()
        && value.chars().count() <= 200
        && crate::domain::is_plain_text(value, false);
    ok.then(|| value.to_owned())
}

/// `given_name family_name`, when the provider gives no `name`.
pub fn full_name(claims: &Value) -> Option<String> {
    let parts: Vec<String> = ["given_name", "family_name"]
        .iter()
        .filter_map(|c| claim_text(claims, c))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Where a sign-in request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Approved,
    Rejected,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Rejected => "rejected",
        }
    }
}

impl std::str::FromStr for RequestStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(RequestStatus::Pending),
            "approved" => Ok(RequestStatus::Approved),
            "rejected" => Ok(RequestStatus::Rejected),
            other => Err(format!("unknown sign-in request status {other:?}")),
        }
    }
}

/// Why a sign-in at a provider did not open a session. The web client shows a
/// message for each (`#/signin/failed/<slug>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    /// The secretariat rejected this account's request.
    RequestRejected,
    /// The person's designation was removed.
    DesignationRemoved,
    /// The invitation accepted with the sign-in was used, expired or unknown.
    InvitationUnusable,
    /// The account is linked to another person than the invitation's.
    AccountBoundElsewhere,
    /// The provider answered with an error, or its answer failed the checks.
    ProviderError,
    /// No sign-in in progress matches: too slow, another browser, a lost cookie.
    FlowExpired,
}

impl SignInRefusal {
    pub fn slug(self) -> &'static str {
        match self {
            SignInRefusal::RequestRejected => "request-rejected",
            SignInRefusal::DesignationRemoved => "designation-removed",
            SignInRefusal::InvitationUnusable => "invitation-unusable",
            SignInRefusal::AccountBoundElsewhere => "account-bound-elsewhere",
            SignInRefusal::ProviderError => "provider-error",
            SignInRefusal::FlowExpired => "flow-expired",
        }
    }
}

/// What a finished sign-in at a provider leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    /// A session for this person.
    SignedIn {
        person_id: Uuid,
    },
    /// An unknown account: its request waits for the secretariat.
    Pending,
    Refused(SignInRefusal),
}

impl SignInOutcome {
    /// The web client's route the browser is sent to.
    pub fn web_route(self) -> String {
        match self {
            SignInOutcome::SignedIn { .. } => "#/signin/done".to_owned(),
            SignInOutcome::Pending => "#/signin/pending".to_owned(),
            SignInOutcome::Refused(refusal) => format!("#/signin/failed/{}", refusal.slug()),
        }
    }
}

/// A sign-in in progress can finish until it expires.
pub fn flow_is_live(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < expires_at
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_providers_file_is_read_with_defaults() {
        let text = json!({"providers": [
            {"id": "entree", "display_name": "Entree Federatie",
             "issuer": "https://oidcng.entree.kennisnet.nl", "client_id": "mandaat",
             "client_secret_env": "ENTREE_SECRET"},
            {"id": "surf", "display_name": "SURFconext", "issuer": "https://connect.surfconext.nl",
             "client_id": "c", "client_secret": "s", "scopes": ["openid"],
             "home_organization_claim": "schac_home_organization", "algorithms": ["RS256"]}
        ]})
        .to_string();
        let env = |var: &str| (var == "ENTREE_SECRET").then(|| "from-env".to_owned());
        let providers = parse_providers(&text, env).unwrap();
        assert_eq!(providers.len(), 2);
        assert_eq!(providers[0].client_secret.as_deref(), Some("from-env"));
        assert_eq!(providers[0].scopes, ["openid", "profile", "email"]);
        assert_eq!(
            providers[0].home_organization_claim,
            ENTREE_HOME_ORGANIZATION
        );
        assert!(providers[0].algorithms.contains("RS256"));
        assert!(!providers[0].algorithms.contains("HS256"));
        assert_eq!(
            providers[1].home_organization_claim,
            "schac_home_organization"
        );
        assert_eq!(providers[1].algorithms.len(), 1);
    }

    #[test]
    fn bad_providers_files_are_refused_with_the_reason() {
        let one = |entry: Value| json!({"providers": [entry]}).to_string();
        let base = json!({"id": "p", "display_name": "P", "issuer": "https://p.example", "client_id": "c"});
        let with = |key: &str, value: Value| {
            let mut entry = base.clone();
            entry[key] = value;
            one(entry)
        };
        assert!(parse_providers(&one(base.clone()), no_env).is_ok());
        let cases = [
            (with("id", json!("Entree")), "provider id"),
            (with("issuer", json!("http://p.example")), "https URL"),
            (with("issuer", json!("not a url")), "https URL"),
            (with("display_name", json!("  ")), "display_name"),
            (with("scopes", json!(["email"])), "openid"),
            (with("client_secret_env", json!("NOPE")), "not set"),
            (with("algorithms", json!(["HS256"])), "algorithm"),
            (with("unknown", json!(1)), "unknown field"),
            (
                json!({"providers": [base.clone(), base.clone()]}).to_string(),
                "twice",
            ),
            ("[]".to_owned(), "not a providers file"),
        ];
        for (text, expected) in cases {
            let err = parse_providers(&text, no_env).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
        let mut both = base.clone();
        both["client_secret"] = json!("s");
        both["client_secret_env"] = json!("S");
        assert!(matches!(
            parse_providers(&one(both), |_| Some("x".into())),
            Err(ProviderConfigError::TwoSecrets { .. })
        ));
        let local = with("issuer", json!("http://127.0.0.1:8081"));
        assert!(parse_providers(&local, no_env).is_ok());
    }

    #[test]
    fn claims_are_read_as_text_and_completed_from_userinfo() {
        let userinfo = json!({
            "sub": "x", "given_name": "Els", "family_name": "de Vries",
            "email": ["els@school.nl", "other@school.nl"],
            "schac_home_organization": "school.nl", "bad": "a\u{0}b", "number": 5
        });
        assert_eq!(claim_text(&userinfo, "bad"), None);
        assert_eq!(claim_text(&userinfo, "number"), None);
        assert_eq!(claim_text(&userinfo, "missing"), None);
        let mut claims = AccountClaims {
            issuer: "https://i".into(),
            subject: "x".into(),
            name: None,
            email: Some("own@school.nl".into()),
            home_organization: None,
        };
        assert!(claims.is_incomplete());
        claims.complete_from(&userinfo, "schac_home_organization");
        assert_eq!(claims.name.as_deref(), Some("Els de Vries"));
        assert_eq!(
            claims.email.as_deref(),
            Some("own@school.nl"),
            "the ID token wins"
        );
        assert_eq!(claims.home_organization.as_deref(), Some("school.nl"));
        assert!(!claims.is_incomplete());
        assert_eq!(claims.display_name(), "Els de Vries");
    }

    #[test]
    fn outcomes_name_their_web_route() {
        let id = Uuid::nil();
        assert_eq!(
            SignInOutcome::SignedIn { person_id: id }.web_route(),
            "#/signin/done"
        );
        assert_eq!(SignInOutcome::Pending.web_route(), "#/signin/pending");
        assert_eq!(
            SignInOutcome::Refused(SignInRefusal::FlowExpired).web_route(),
            "#/signin/failed/flow-expired"
        );
        for status in ["pending", "approved", "rejected"] {
            assert_eq!(status.parse::<RequestStatus>().unwrap().as_str(), status);
        }
        assert!("maybe".parse::<RequestStatus>().is_err());
        let now = Utc::now();
        assert!(flow_is_live(now + FLOW_LIFETIME, now));
        assert!(!flow_is_live(now, now));
    }
}
