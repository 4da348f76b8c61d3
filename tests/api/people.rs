//! People, invitations and sessions over HTTP: a person signs in once per invitation,
//! the session cookie is HttpOnly and SameSite=Strict, writes need the CSRF header,
//! sessions end when idle, at sign-out and when an admin ends them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Checked, TestApp, assert_problem};

/// A browser's view of the API: a session cookie, and the CSRF header when asked.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
}

impl Browser<'_> {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        csrf: bool,
        origin: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .app
            .client
            .request(method, format!("{}{path}", self.app.base))
            .header("cookie", format!("mandaat_session={}", self.cookie));
        if csrf {
            req = req.header("x-mandaat-csrf", "1");
        }
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.checked().await;
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None, false, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body), true, None).await
    }
}

pub async fn invite(app: &TestApp, body: Value) -> Value {
    let (status, invited) = app.post("/api/v1/invitations", &app.admin(), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    invited
}

async fn invite_board(app: &TestApp, member: Uuid) -> Value {
    invite(
        app,
        json!({"name": "Anna de Vries", "email": "anna@stichting.nl", "role": "board", "member_id": member}),
    )
    .await
}

/// Redeems an invitation token; returns the answer and the raw Set-Cookie header.
async fn sign_in(app: &TestApp, token: &str) -> (StatusCode, Value, Option<String>) {
    let resp = app
        .client
        .post(format!("{}/api/v1/sessions", app.base))
        .json(&json!({"invitation": token}))
        .checked()
        .await;
    let status = resp.status();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body, cookie)
}

async fn browser<'a>(app: &'a TestApp, invited: &Value) -> Browser<'a> {
    let token = invited["invitation"]["token"].as_str().unwrap();
    let (status, body, cookie) = sign_in(app, token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let cookie = cookie.expect("a session cookie is set");
    let value = cookie
        .strip_prefix("mandaat_session=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    Browser { app, cookie: value }
}

#[tokio::test]
async fn an_invitation_signs_its_person_in_once() {
    let app = TestApp::spawn().await;
    let member = app
        .create_member(24597, "Stichting Rotterdam", Some(900), None)
        .await;
    let invited = invite_board(&app, member).await;
    let token = invited["invitation"]["token"].as_str().unwrap();
    let link = invited["invitation"]["link"].as_str().unwrap();
    // The secret is in the fragment, which browsers never send to a server.
    assert_eq!(link, format!("{}/#/invitation/{token}", app.base));
    assert_eq!(invited["person"]["role"], "board");
    assert_eq!(invited["person"]["member_id"], member.to_string());

    let (status, me, cookie) = sign_in(&app, token).await;
    assert_eq!(status, StatusCode::CREATED, "{me}");
    let cookie = cookie.unwrap();
    assert!(cookie.starts_with("mandaat_session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
    assert_eq!(me["via"], "session");
    assert_eq!(me["role"], "board");
    assert_eq!(me["person"]["name"], "Anna de Vries");
    assert_eq!(me["member"]["bg_number"], 24597);
    assert_eq!(me["subject"], invited["person"]["id"]);

    // Single use, and an unknown secret signs no one in.
    let (status, problem, cookie) = sign_in(&app, token).await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNAUTHORIZED,
        "invitation-invalid",
    );
    assert!(problem["detail"].as_str().unwrap().contains("already used"));
    assert!(cookie.is_none());
    let (status, problem, _) = sign_in(&app, "not-a-real-invitation").await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNAUTHORIZED,
        "invitation-invalid",
    );
}

#[tokio::test]
async fn an_invitation_expires() {
    let app = TestApp::spawn().await;
    let invited = invite(
        &app,
        json!({"name": "Bert", "email": "bert@coop.nl", "role": "admin", "valid_days": 2}),
    )
    .await;
    app.clock.advance(chrono::Duration::days(2));
    let token = invited["invitation"]["token"].as_str().unwrap();
    let (status, problem, _) = sign_in(&app, token).await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNAUTHORIZED,
        "invitation-invalid",
    );
    assert!(problem["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn a_session_acts_as_its_person_with_its_role() {
    let app = TestApp::spawn().await;
    let member = app
        .create_member(10001, "Stichting Een", Some(300), None)
        .await;
    let board = browser(&app, &invite_board(&app, member).await).await;
    let (status, me) = board.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");

    // A board person reads what boards read and may not do what only admins do.
    let (status, _) = board.get(&format!("/api/v1/members/{member}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = board
        .post(
            "/api/v1/members",
            &json!({"bg_number": 10002, "name": "X", "pupils": {"po": 1}}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");

    // An admin person may, and what they create is theirs to answer for.
    let admin = browser(
        &app,
        &invite(
            &app,
            json!({"name": "Secretariaat", "email": "sec@coop.nl", "role": "admin"}),
        )
        .await,
    )
    .await;
    let (status, created) = admin
        .post(
            "/api/v1/members",
            &json!({"bg_number": 10002, "name": "Stichting Twee", "pupils": {"vo": 800}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

#[tokio::test]
async fn a_write_with_the_session_cookie_needs_the_csrf_header_and_our_origin() {
    let app = TestApp::spawn().await;
    let admin = browser(
        &app,
        &invite(
            &app,
            json!({"name": "Sec", "email": "sec@coop.nl", "role": "admin"}),
        )
        .await,
    )
    .await;
    let body = json!({"bg_number": 10003, "name": "Stichting Drie", "pupils": {"po": 10}});

    // A cross-site form can send the cookie (were it not SameSite) but not a header.
    let (status, problem) = admin
        .send(Method::POST, "/api/v1/members", Some(&body), false, None)
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "csrf");
    // A page of another site is refused even with the header.
    let (status, problem) = admin
        .send(
            Method::POST,
            "/api/v1/members",
            Some(&body),
            true,
            Some("https://evil.example"),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "csrf");
    // Another kind of Authorization header does not stand in for a bearer token.
    let resp = app
        .client
        .post(format!("{}/api/v1/members", app.base))
        .header("cookie", format!("mandaat_session={}", admin.cookie))
        .header("authorization", "Basic YTpi")
        .json(&body)
        .checked()
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Nothing was written by the refused requests.
    let (_, page) = app
        .get("/api/v1/members?bg_number=10003", &app.admin())
        .await;
    assert_eq!(page["total"], 0);

    // Our own page: header and our origin.
    let origin = app.base.clone();
    let (status, created) = admin
        .send(
            Method::POST,
            "/api/v1/members",
            Some(&body),
            true,
            Some(&origin),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // Reads need no header; bearer writes are not affected.
    assert_eq!(admin.get("/api/v1/members").await.0, StatusCode::OK);
    let (status, _) = app
        .post(
            "/api/v1/members",
            &app.admin(),
            &json!({"bg_number": 10004, "name": "Stichting Vier", "pupils": {"po": 10}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_session_ends_when_idle_and_lives_on_while_used() {
    let app = TestApp::spawn().await;
    let auditor = browser(
        &app,
        &invite(
            &app,
            json!({"name": "Accountant", "email": "a@audit.nl", "role": "auditor"}),
        )
        .await,
    )
    .await;
    // Used every 7 hours, an 8-hour idle limit never strikes.
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::hours(7));
        let (status, me) = auditor.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }
    app.clock.advance(chrono::Duration::hours(8));
    let (status, problem) = auditor.get("/api/v1/me").await;
    assert_problem(status, &problem, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn sign_out_ends_the_session_and_clears_the_cookie() {
    let app = TestApp::spawn().await;
    let council = browser(
        &app,
        &invite(
            &app,
            json!({"name": "PO-Raad", "email": "info@poraad.nl", "role": "council", "sector": "PO"}),
        )
        .await,
    )
    .await;
    let (status, me) = council.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["sector"], "PO");

    let resp = app
        .client
        .delete(format!("{}/api/v1/sessions/current", app.base))
        .header("cookie", format!("mandaat_session={}", council.cookie))
        .header("x-mandaat-csrf", "1")
        .checked()
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let cleared = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("mandaat_session=;") && cleared.contains("Max-Age=0"));

    let (status, problem) = council.get("/api/v1/results").await;
    assert_problem(status, &problem, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn an_admin_lists_people_and_ends_all_sessions_of_a_person() {
    let app = TestApp::spawn().await;
    let member = app
        .create_member(10005, "Stichting Vijf", Some(100), None)
        .await;
    let invited = invite_board(&app, member).await;
    let person = invited["person"]["id"].as_str().unwrap().to_owned();
    let laptop = browser(&app, &invited).await;
    let (status, again) = app
        .post(
            &format!("/api/v1/people/{person}/invitations"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    let phone = browser(&app, &again).await;

    let (status, own) = phone.get("/api/v1/sessions").await;
    assert_eq!(status, StatusCode::OK);
    let own = own["items"].as_array().unwrap();
    assert_eq!(own.len(), 2);
    assert_eq!(own.iter().filter(|s| s["current"] == true).count(), 1);

    let (status, page) = app.get("/api/v1/people?role=board", &app.admin()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["active_sessions"], 2);
    let (status, sessions) = app
        .get(&format!("/api/v1/people/{person}/sessions"), &app.admin())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sessions["items"].as_array().unwrap().len(), 2);

    // People are the secretariat's business only.
    let (status, problem) = laptop.get("/api/v1/people").await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
    let (status, problem) = app.get("/api/v1/people", &app.auditor()).await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");

    let (status, ended) = app
        .post(
            &format!("/api/v1/people/{person}/sessions/end"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert_eq!(ended["ended"], 2);
    for session in [&laptop, &phone] {
        let (status, _) = session.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (_, page) = app.get("/api/v1/people", &app.admin()).await;
    assert_eq!(page["items"][0]["active_sessions"], 0);
}

#[tokio::test]
async fn invitations_are_validated_and_only_admins_invite() {
    let app = TestApp::spawn().await;
    let member = app
        .create_member(10006, "Stichting Zes", Some(100), None)
        .await;
    let cases = [
        (
            json!({"name": "A", "email": "a@b.nl", "role": "board"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": "A", "email": "a@b.nl", "role": "council"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": "A", "email": "a@b.nl", "role": "admin", "member_id": member}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": "A", "email": "not-an-address", "role": "admin"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": " ", "email": "a@b.nl", "role": "admin"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": "A", "email": "a@b.nl", "role": "admin", "valid_days": 31}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": "A", "email": "a@b.nl", "role": "board", "member_id": Uuid::new_v4()}),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            json!({"name": "A", "email": "a@b.nl", "role": "root"}),
            StatusCode::BAD_REQUEST,
            "malformed-body",
        ),
    ];
    for (body, status, slug) in cases {
        let (got, problem) = app.post("/api/v1/invitations", &app.admin(), &body).await;
        assert_problem(got, &problem, status, slug);
    }
    let (_, page) = app.get("/api/v1/people", &app.admin()).await;
    assert_eq!(
        page["total"], 0,
        "no refused invitation left a person behind"
    );

    let body = json!({"name": "A", "email": "a@b.nl", "role": "admin"});
    let (status, problem) = app
        .post("/api/v1/invitations", &app.board(member), &body)
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
    let (status, problem) = app
        .request(Method::POST, "/api/v1/invitations", None, Some(&body))
        .await;
    assert_problem(status, &problem, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn me_tells_a_token_holder_who_they_are() {
    let app = TestApp::spawn().await;
    let member = app
        .create_member(10007, "Stichting Zeven", None, Some(4000))
        .await;
    let (status, me) = app.get("/api/v1/me", &app.board(member)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["via"], "token");
    assert_eq!(me["member"]["chamber"], "vo-large");
    assert!(me.get("person").is_none() && me.get("session").is_none());
    let (status, problem) = app
        .request(
            Method::DELETE,
            "/api/v1/sessions/current",
            Some(&app.admin()),
            None,
        )
        .await;
    assert_problem(status, &problem, StatusCode::BAD_REQUEST, "not-a-session");
}

#[tokio::test]
async fn the_cli_invites_by_bevoegd_gezag_number_and_prints_the_link() {
    let app = TestApp::spawn().await;
    app.create_member(24597, "Stichting Rotterdam", Some(900), None)
        .await;
    let out = app.cli(&[
        "invite",
        "--role",
        "board",
        "--member",
        "24597",
        "--name",
        "Anna de Vries",
        "--email",
        "anna@stichting.nl",
        "--public-url",
        "https://stemmen.example.nl/",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout).unwrap();
    let token = link
        .trim()
        .strip_prefix("https://stemmen.example.nl/#/invitation/")
        .unwrap_or_else(|| panic!("unexpected link {link:?}"));
    let (status, me, _) = sign_in(&app, token).await;
    assert_eq!(status, StatusCode::CREATED, "{me}");
    assert_eq!(me["member"]["bg_number"], 24597);

    let out = app.cli(&[
        "invite", "--role", "board", "--member", "999", "--name", "X", "--email", "x@y.nl",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("999"));
}

#[tokio::test]
async fn members_can_be_found_by_part_of_their_name() {
    let app = TestApp::spawn().await;
    app.create_member(
        10008,
        "Stichting Openbaar Onderwijs Zwolle",
        Some(100),
        None,
    )
    .await;
    app.create_member(10009, "Vereniging 100%_Kans", Some(100), None)
        .await;
    let admin = app.admin();
    let (_, page) = app.get("/api/v1/members?name=ONDERWIJS%20zw", &admin).await;
    assert_eq!(page["total"], 1, "{page}");
    // LIKE wildcards in the search are literal.
    let (_, page) = app.get("/api/v1/members?name=%25_", &admin).await;
    assert_eq!(page["total"], 1, "{page}");
    let (_, page) = app.get("/api/v1/members?name=_", &admin).await;
    assert_eq!(page["total"], 1, "{page}");
}

#[tokio::test]
async fn the_web_app_is_served_with_strict_headers() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(format!("{}/", app.base)).checked().await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "default-src 'self'",
    ] {
        assert!(csp.contains(directive), "{csp} lacks {directive}");
    }
    assert!(!csp.contains("unsafe-eval") && !csp.contains("unsafe-inline"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("<html lang=\"nl\""), "{html}");
    // No script from anywhere else, and none inline.
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<script>"));

    // Modules are JavaScript, revalidated by ETag.
    let resp = app
        .client
        .get(format!("{}/web/app/main.js", app.base))
        .checked()
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let resp = app
        .client
        .get(format!("{}/web/app/main.js", app.base))
        .header("if-none-match", &etag)
        .checked()
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // The tests and anything outside web/ are not served; writes are not allowed.
    for path in [
        "/web/test/package.json",
        "/web/../Cargo.toml",
        "/web/vendor/VENDOR.md",
        "/web/nope.js",
    ] {
        let (status, _, _) = app.raw(Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let resp = app.client.post(format!("{}/", app.base)).checked().await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
}
