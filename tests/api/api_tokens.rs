//! Named API tokens for machines: created by the secretariat (API and CLI), used as
//! bearer tokens, listed with their last use, and refused from the request after
//! their revocation or expiry.

use std::sync::Arc;

use mandaat::auth::Role;
use mandaat::domain::member::Sector;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestClock, assert_problem};

async fn create(app: &TestApp, body: &Value) -> (String, String) {
    let (status, created) = app.post("/api/v1/api-tokens", &app.admin(), body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    (id, secret)
}

#[tokio::test]
async fn a_council_token_is_created_used_listed_and_revoked() {
    let app = TestApp::spawn().await;
    let (status, created) = app
        .post(
            "/api/v1/api-tokens",
            &app.admin(),
            &json!({"name": "  PO-Raad dashboard ", "role": "council", "sector": "PO"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("mdt_"), "{secret}");
    assert_eq!(created["token"]["name"], "PO-Raad dashboard");
    assert_eq!(created["token"]["role"], "council");
    assert_eq!(created["token"]["sector"], "PO");
    assert!(created["token"].get("last_used_at").is_none());
    assert!(created["token"].get("expires_at").is_none());

    // The token acts as the PO council, and only as that.
    let (status, me) = app.get("/api/v1/me", &secret).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "council");
    assert_eq!(me["sector"], "PO");
    assert_eq!(me["via"], "token");
    assert_eq!(me["subject"], format!("api-token:{id}"));
    let (status, _) = app.get("/api/v1/results", &secret).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get("/api/v1/results?sector=VO", &secret).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/members",
            &secret,
            &json!({"bg_number": 12345, "name": "X", "pupils": {"po": 1}}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // Listed with its last use, never with its secret.
    let (status, list) = app.get("/api/v1/api-tokens", &app.admin()).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert!(items[0]["last_used_at"].is_string(), "{list}");
    assert!(!list.to_string().contains(&secret));

    // Revoked: refused from the next request on.
    let (status, revoked) = app
        .post(
            &format!("/api/v1/api-tokens/{id}/revoke"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    let revoked_at = revoked["revoked_at"].as_str().unwrap().to_owned();
    assert!(revoked["revoked_by"].is_string());
    let (status, body) = app.get("/api/v1/results", &secret).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );

    // Revoking again answers the first revocation.
    let (status, again) = app
        .post(
            &format!("/api/v1/api-tokens/{id}/revoke"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["revoked_at"], revoked_at.as_str());
    let (status, one) = app
        .get(&format!("/api/v1/api-tokens/{id}"), &app.admin())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["revoked_at"], revoked_at.as_str());
}

#[tokio::test]
async fn an_auditor_token_reads_the_audit_bundle_but_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, secret) = create(&app, &json!({"name": "Accountant", "role": "auditor"})).await;
    let (status, me) = app.get("/api/v1/me", &secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "auditor");
    let (status, body) = app
        .post(
            "/api/v1/api-tokens",
            &secret,
            &json!({"name": "mine", "role": "auditor"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn only_admins_manage_api_tokens() {
    let app = TestApp::spawn().await;
    let member = app
        .create_member(10001, "Stichting Een", Some(100), None)
        .await;
    let (id, _) = create(
        &app,
        &json!({"name": "VO-raad", "role": "council", "sector": "VO"}),
    )
    .await;
    for token in [
        app.board(member),
        app.council(Sector::Po),
        app.auditor(),
        app.token(Role::Council, None, Some(Sector::Vo)),
    ] {
        let (status, body) = app.get("/api/v1/api-tokens", &token).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
        let (status, body) = app.get(&format!("/api/v1/api-tokens/{id}"), &token).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
        let (status, body) = app
            .post(
                &format!("/api/v1/api-tokens/{id}/revoke"),
                &token,
                &json!({}),
            )
            .await;
        assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let (status, body) = app.get("/api/v1/api-tokens", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn bad_api_token_requests_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for (body, expected, slug) in [
        (
            json!({"name": "x", "role": "council"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": "x", "role": "auditor", "sector": "PO"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": "   ", "role": "auditor"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": "x", "role": "auditor", "valid_days": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": "x", "role": "auditor", "valid_days": 731}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        ),
        (
            json!({"name": "x", "role": "admin"}),
            StatusCode::BAD_REQUEST,
            "malformed-body",
        ),
        (
            json!({"name": "x", "role": "auditor", "secret": "mine"}),
            StatusCode::BAD_REQUEST,
            "malformed-body",
        ),
    ] {
        let (status, problem) = app.post("/api/v1/api-tokens", &admin, &body).await;
        assert_problem(status, &problem, expected, slug);
    }
    let (status, body) = app
        .get(
            &format!("/api/v1/api-tokens/{}", uuid::Uuid::new_v4()),
            &admin,
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    let (status, body) = app
        .post(
            &format!("/api/v1/api-tokens/{}/revoke", uuid::Uuid::new_v4()),
            &admin,
            &json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    // A made-up secret authenticates no one.
    let (status, body) = app.get("/api/v1/members", "mdt_not-a-real-token").await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, list) = app.get("/api/v1/api-tokens", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"], json!([]), "nothing was half-created");
}

#[tokio::test]
async fn an_api_token_is_refused_once_it_expires() {
    let clock = Arc::new(TestClock::fixed("2027-03-01T09:00:00Z".parse().unwrap()));
    let app = TestApp::spawn_with_clock(clock.clone()).await;
    let (_, secret) = create(
        &app,
        &json!({"name": "Trial", "role": "auditor", "valid_days": 1}),
    )
    .await;
    let (status, _) = app.get("/api/v1/members", &secret).await;
    assert_eq!(status, StatusCode::OK);
    clock.advance(chrono::Duration::days(1));
    let (status, body) = app.get("/api/v1/members", &secret).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn the_cli_creates_lists_and_revokes_api_tokens() {
    let app = TestApp::spawn().await;
    let out = app.cli(&[
        "api-token",
        "create",
        "--name",
        "VO-raad reporting",
        "--role",
        "council",
        "--sector",
        "VO",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(secret.starts_with("mdt_"), "{secret}");
    let (status, me) = app.get("/api/v1/me", &secret).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["sector"], "VO");
    let id = me["subject"]
        .as_str()
        .unwrap()
        .trim_start_matches("api-token:")
        .to_owned();

    let out = app.cli(&["api-token", "list"]);
    assert!(out.status.success());
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.contains(&id) && listed.contains("VO-raad reporting"),
        "{listed}"
    );
    assert!(listed.contains("last used"), "{listed}");
    assert!(!listed.contains(&secret));

    let out = app.cli(&["api-token", "revoke", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout).unwrap().contains("revoked"));
    let (status, body) = app.get("/api/v1/me", &secret).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    let out = app.cli(&["api-token", "create", "--name", "x", "--role", "admin"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("council"));
}
