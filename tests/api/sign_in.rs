//! Signing in with a school's account through the in-process mock provider: a first
//! sign-in waits for the secretariat, an approved person signs in and acts, rejected
//! and removed ones cannot, every spoiled ID token is refused, key rotation is
//! picked up, and an invitation can be accepted with an account.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{BoardKey, Checked, TestApp, TestClock, assert_problem};
use crate::oidc_provider::{Fault, Identity, MockProvider};
use crate::people::{Browser, invite};

/// A server configured with the mock provider as `mock`, on a running clock that
/// the provider issues its tokens by.
async fn app_with(provider: &MockProvider) -> TestApp {
    let file = tempfile::NamedTempFile::new().unwrap();
    let config = json!({"providers": [{
        "id": "mock", "display_name": "Mock school account",
        "issuer": provider.issuer(), "client_id": MockProvider::CLIENT_ID,
        "client_secret": MockProvider::CLIENT_SECRET,
    }]});
    std::fs::write(file.path(), config.to_string()).unwrap();
    let clock = Arc::new(TestClock::running());
    provider.use_clock(clock.clone());
    let path = file.path().to_owned();
    let app =
        TestApp::spawn_with_clock_and_config(clock, |c| c.sign_in_providers = Some(path)).await;
    // The file is read at start; it may go now.
    drop(file);
    app
}

/// The board of school 16AH, as a member.
async fn emmen(app: &TestApp) -> Uuid {
    app.create_member(
        10249,
        "Stichting Openbaar Onderwijs Emmen",
        Some(5000),
        None,
    )
    .await
}

fn els() -> Identity {
    Identity {
        subject: "els-1234".into(),
        name: "Els de Vries".into(),
        email: Some("els@school.example".into()),
        home_organization: Some("16AH".into()),
        claims_at_userinfo: false,
    }
}

/// Starts a sign-in at a provider through the API, as the web client does.
async fn start(app: &TestApp, provider: &str, body: Value) -> (StatusCode, Value) {
    let path = format!("/api/v1/sign-in/providers/{provider}");
    app.request(Method::POST, &path, None, Some(&body)).await
}

/// Where a sign-in ended: the web route the browser was sent to, and the session
/// cookie's value when one was set.
#[derive(Debug)]
struct Landed {
    route: String,
    session: Option<String>,
}

/// A browser's round trip: start at the server, visit the provider (which signs in
/// at once), and return to the server's callback with the flow cookie.
async fn sign_in_with_provider(app: &TestApp, invitation: Option<&str>) -> Landed {
    let body = match invitation {
        Some(secret) => json!({"invitation": secret}),
        None => json!({}),
    };
    let resp = browser()
        .post(format!("{}/api/v1/sign-in/providers/mock", app.base))
        .json(&body)
        .checked()
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let flow_cookie = cookie_value(&resp, "mandaat_sign_in").expect("the flow cookie");
    let started: Value = resp.json().await.unwrap();
    let authorization_url = started["authorization_url"].as_str().unwrap().to_owned();
    let back = follow(&authorization_url, None).await;
    assert_eq!(
        back.status(),
        StatusCode::FOUND,
        "the provider sends the browser back"
    );
    let callback = location(&back);
    assert!(callback.starts_with(&format!("{}/api/v1/sign-in/callback?", app.base)));
    let landed = browser()
        .get(&callback)
        .header("cookie", format!("mandaat_sign_in={flow_cookie}"))
        .checked()
        .await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let route = location(&landed)
        .strip_prefix(&format!("{}/", app.base))
        .expect("back to this service")
        .to_owned();
    Landed {
        session: cookie_value(&landed, "mandaat_session").filter(|v| !v.is_empty()),
        route,
    }
}

/// A client that, like the test's eyes, sees every redirect instead of following it.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// One GET, its redirect not followed.
async fn follow(url: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = browser().get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
}

async fn pending(app: &TestApp) -> Vec<Value> {
    let (status, list) = app.get("/api/v1/sign-in-requests", &app.admin()).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_approved_account_signs_in_and_acts_for_its_board() {
    let provider = MockProvider::start().await;
    let app = app_with(&provider).await;
    let member = emmen(&app).await;

    let (status, providers) = app
        .request(Method::GET, "/api/v1/sign-in/providers", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        providers,
        json!([{"id": "mock", "display_name": "Mock school account"}])
    );

    provider.sign_in_as(els());
    let first = sign_in_with_provider(&app, None).await;
    assert_eq!(first.route, "#/signin/pending");
    assert!(first.session.is_none(), "no session before approval");
    // The flow followed the spec: PKCE S256, a nonce, a state, the scopes asked for.
    let asked = provider.authorize_requests();
    let query: std::collections::HashMap<_, _> = asked[0].query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["nonce"].len() >= 16 && query["state"].len() >= 16);
    assert!(query["scope"].split(' ').any(|s| s == "email"));

    // A second attempt while pending updates the same request.
    assert_eq!(
        sign_in_with_provider(&app, None).await.route,
        "#/signin/pending"
    );
    let requests = pending(&app).await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request["name"], "Els de Vries");
    assert_eq!(request["email"], "els@school.example");
    assert_eq!(request["home_organization"], "16AH");
    assert_eq!(request["provider_name"], "Mock school account");
    assert_eq!(request["issuer"], provider.issuer());
    assert_eq!(request["subject"], "els-1234");

    // Nobody but an admin sees or decides requests.
    let id = request["id"].as_str().unwrap();
    let (status, body) = app
        .get("/api/v1/sign-in-requests", &app.board(member))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let approve = format!("/api/v1/sign-in-requests/{id}/approve");
    let (status, body) = app
        .post(
            &approve,
            &app.auditor(),
            &json!({"role": "board", "member_id": member}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // A board role needs its board.
    let (status, body) = app
        .post(&approve, &app.admin(), &json!({"role": "board"}))
        .await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    );

    let (status, person) = app
        .post(
            &approve,
            &app.admin(),
            &json!({"role": "board", "member_id": member}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{person}");
    assert_eq!(person["name"], "Els de Vries");
    assert_eq!(person["member_id"], member.to_string());
    assert_eq!(person["accounts"][0]["provider"], "mock");
    let (status, body) = app
        .post(&approve, &app.admin(), &json!({"role": "admin"}))
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "request-decided");
    assert!(pending(&app).await.is_empty());

    let signed_in = sign_in_with_provider(&app, None).await;
    assert_eq!(signed_in.route, "#/signin/done");
    let browser = Browser {
        app: &app,
        cookie: signed_in.session.expect("a session cookie"),
    };
    let (status, me) = browser.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "board");
    assert_eq!(me["person"]["name"], "Els de Vries");
    assert_eq!(me["member"]["id"], member.to_string());
    // Acting for the board: registering its key.
    let key = BoardKey::generate();
    let (status, body) = browser
        .post(
            &format!("/api/v1/members/{member}/keys"),
            &key.proof(member),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, sessions) = browser.get("/api/v1/sessions").await;
    assert_eq!(sessions["items"][0]["signed_in_with"], "provider:mock");

    // Removing the designation ends the session at once and refuses the next sign-in.
    let person_id = person["id"].as_str().unwrap();
    let (status, removed) = app
        .post(
            &format!("/api/v1/people/{person_id}/remove"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert!(removed["removed_at"].is_string());
    assert_eq!(removed["accounts"][0]["provider"], "mock", "{removed}");
    let (status, body) = browser.get("/api/v1/me").await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let again = sign_in_with_provider(&app, None).await;
    assert_eq!(again.route, "#/signin/failed/designation-removed");
    assert!(again.session.is_none());
    // A removed person is not invited again.
    let (status, body) = app
        .post(
            &format!("/api/v1/people/{person_id}/invitations"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "person-removed");
}

#[tokio::test]
async fn a_rejected_account_stays_out() {
    let provider = MockProvider::start().await;
    let app = app_with(&provider).await;
    provider.sign_in_as(els());
    assert_eq!(
        sign_in_with_provider(&app, None).await.route,
        "#/signin/pending"
    );
    let id = pending(&app).await[0]["id"].as_str().unwrap().to_owned();
    let (status, rejected) = app
        .post(
            &format!("/api/v1/sign-in-requests/{id}/reject"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert!(rejected["decided_by"].is_string());
    let landed = sign_in_with_provider(&app, None).await;
    assert_eq!(landed.route, "#/signin/failed/request-rejected");
    assert!(landed.session.is_none());
    let (status, body) = app
        .post(
            &format!("/api/v1/sign-in-requests/{id}/approve"),
            &app.admin(),
            &json!({"role": "auditor"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "request-decided");
    let (status, list) = app
        .get("/api/v1/sign-in-requests?status=rejected", &app.admin())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, body) = app
        .post(
            &format!("/api/v1/sign-in-requests/{}/reject", Uuid::new_v4()),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn spoiled_id_tokens_are_refused() {
    let provider = MockProvider::start().await;
    let app = app_with(&provider).await;
    provider.sign_in_as(els());
    for fault in [
        Fault::WrongNonce,
        Fault::WrongAudience,
        Fault::Expired,
        Fault::WrongIssuer,
        Fault::UnknownKey,
        Fault::UnannouncedAlg,
    ] {
        provider.fault(fault);
        let landed = sign_in_with_provider(&app, None).await;
        assert_eq!(landed.route, "#/signin/failed/provider-error", "{fault:?}");
        assert!(landed.session.is_none(), "{fault:?}");
    }
    assert!(
        pending(&app).await.is_empty(),
        "no request from a refused token"
    );
    provider.fault(Fault::None);
    assert_eq!(
        sign_in_with_provider(&app, None).await.route,
        "#/signin/pending"
    );
}

#[tokio::test]
async fn the_provider_rotating_its_keys_is_picked_up() {
    let provider = MockProvider::start().await;
    let app = app_with(&provider).await;
    provider.sign_in_as(els());
    assert_eq!(
        sign_in_with_provider(&app, None).await.route,
        "#/signin/pending"
    );
    // The server holds the old JWKS; the next token is signed by a key it lacks.
    provider.rotate_keys();
    assert_eq!(
        sign_in_with_provider(&app, None).await.route,
        "#/signin/pending"
    );
}

#[tokio::test]
async fn claims_only_at_userinfo_are_read_there() {
    let provider = MockProvider::start().await;
    let app = app_with(&provider).await;
    provider.sign_in_as(Identity {
        subject: "surf-42".into(),
        name: "Jan Jansen".into(),
        email: Some("jan@hogeschool.example".into()),
        home_organization: Some("hogeschool.example".into()),
        claims_at_userinfo: true,
    });
    assert_eq!(
        sign_in_with_provider(&app, None).await.route,
        "#/signin/pending"
    );
    let request = &pending(&app).await[0];
    assert_eq!(request["name"], "Jan Jansen");
    assert_eq!(request["email"], "jan@hogeschool.example");
    assert_eq!(request["home_organization"], "hogeschool.example");
}

#[tokio::test]
async fn the_callback_needs_the_browser_that_started_the_sign_in() {
    let provider = MockProvider::start().await;
    let app = app_with(&provider).await;
    provider.sign_in_as(els());
    let resp = browser()
        .post(format!("{}/api/v1/sign-in/providers/mock", app.base))
        .json(&json!({}))
        .checked()
        .await;
    let cookie = cookie_value(&resp, "mandaat_sign_in").unwrap();
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let started: Value = resp.json().await.unwrap();
    let callback = location(&follow(started["authorization_url"].as_str().unwrap(), None).await);
    // Another browser (no cookie, or another flow's) is refused.
    for cookie_header in [None, Some("mandaat_sign_in=someone-elses-state".to_owned())] {
        let resp = follow(&callback, cookie_header.as_deref()).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert!(location(&resp).ends_with("#/signin/failed/flow-expired"));
    }
    // The right browser finishes it, once.
    let with_cookie = format!("mandaat_sign_in={cookie}");
    let resp = follow(&callback, Some(&with_cookie)).await;
    assert!(
        location(&resp).ends_with("#/signin/pending"),
        "{}",
        location(&resp)
    );
    let resp = follow(&callback, Some(&with_cookie)).await;
    assert!(location(&resp).ends_with("#/signin/failed/flow-expired"));
    // An error from the provider, and a callback with nothing at all.
    let resp = follow(
        &format!(
            "{}/api/v1/sign-in/callback?error=access_denied&state=x",
            app.base
        ),
        Some("mandaat_sign_in=x"),
    )
    .await;
    assert!(location(&resp).ends_with("#/signin/failed/flow-expired"));
    let resp = follow(&format!("{}/api/v1/sign-in/callback", app.base), None).await;
    assert!(location(&resp).ends_with("#/signin/failed/flow-expired"));
    // An unknown provider.
    let (status, body) = start(&app, "nope", json!({})).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn an_invitation_accepted_with_an_account_binds_it() {
    let provider = MockProvider::start().await;
    let app = app_with(&provider).await;
    let member = emmen(&app).await;
    let invited = invite(
        &app,
        json!({"name": "Els de Vries", "email": "els@school.example", "role": "board", "member_id": member}),
    )
    .await;
    let secret = invited["invitation"]["token"].as_str().unwrap();
    provider.sign_in_as(els());
    let landed = sign_in_with_provider(&app, Some(secret)).await;
    assert_eq!(landed.route, "#/signin/done");
    assert!(landed.session.is_some());
    assert!(
        pending(&app).await.is_empty(),
        "no request: the invitation designated her"
    );
    // The invitation is used up, and the account alone signs her in from now on.
    let (status, body) = start(&app, "mock", json!({"invitation": secret})).await;
    assert_problem(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "invitation-invalid",
    );
    assert_eq!(
        sign_in_with_provider(&app, None).await.route,
        "#/signin/done"
    );
    let (_, people) = app.get("/api/v1/people", &app.admin()).await;
    assert_eq!(
        people["items"][0]["accounts"][0]["provider_name"],
        "Mock school account"
    );

    // The same account cannot accept an invitation for someone else.
    let other = invite(
        &app,
        json!({"name": "Piet", "email": "piet@school.example", "role": "auditor"}),
    )
    .await;
    let landed = sign_in_with_provider(&app, other["invitation"]["token"].as_str()).await;
    assert_eq!(landed.route, "#/signin/failed/account-bound-elsewhere");
    assert!(landed.session.is_none());
}

#[tokio::test]
async fn without_providers_the_list_is_empty_and_nothing_starts() {
    let app = TestApp::spawn().await;
    let (status, providers) = app
        .request(Method::GET, "/api/v1/sign-in/providers", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(providers, json!([]));
    let (status, body) = start(&app, "entree", json!({})).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn an_unreachable_provider_is_a_503() {
    let provider = MockProvider::start().await;
    let app = app_with(&provider).await;
    drop(provider);
    let (status, body) = start(&app, "mock", json!({})).await;
    assert_problem(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "provider-unavailable",
    );
}

#[tokio::test]
async fn a_request_suggests_the_board_of_the_school_its_brin_names() {
    let provider = MockProvider::start().await;
    let app = app_with(&provider).await;
    let po = crate::helpers::duo_data("duo");
    let out = app.cli(&["members", "import", "--duo", po.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Entree sends the BRIN with its site number at times: 16AH00 is school 16AH.
    provider.sign_in_as(Identity {
        home_organization: Some("16AH00".into()),
        ..els()
    });
    assert_eq!(
        sign_in_with_provider(&app, None).await.route,
        "#/signin/pending"
    );
    let request = &pending(&app).await[0];
    let suggested = &request["suggested_board"];
    assert_eq!(suggested["bg_number"], 10249, "{request}");
    assert_eq!(suggested["school_name"], "Openbare Basisschool 't Eenspan");
    let member_id = suggested["member_id"]
        .as_str()
        .expect("the board is in the register");
    let (_, member) = app
        .get(&format!("/api/v1/members/{member_id}"), &app.admin())
        .await;
    assert_eq!(member["bg_number"], 10249, "{member}");
    assert_eq!(suggested["member_name"], member["name"]);

    // A SURFconext domain names no school.
    provider.sign_in_as(Identity {
        subject: "surf-1".into(),
        home_organization: Some("school.nl".into()),
        ..els()
    });
    sign_in_with_provider(&app, None).await;
    let requests = pending(&app).await;
    let surf = requests.iter().find(|r| r["subject"] == "surf-1").unwrap();
    assert!(surf.get("suggested_board").is_none(), "{surf}");
}
