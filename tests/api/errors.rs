//! The framework's own errors come back in the same problem shape as ours.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Checked, TestApp, TestDatabase, assert_problem};

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let app = TestApp::spawn().await;
    let (status, content_type, body) = app
        .raw(
            Method::GET,
            "/api/v1/nothing-here",
            Some(&app.admin()),
            None,
        )
        .await;
    assert_eq!(content_type, "application/problem+json");
    assert_problem(status, &parse(&body), StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn wrong_method_is_a_405_problem() {
    let app = TestApp::spawn().await;
    let (status, content_type, body) = app
        .raw(Method::DELETE, "/api/v1/members", Some(&app.admin()), None)
        .await;
    assert_eq!(content_type, "application/problem+json");
    assert_problem(
        status,
        &parse(&body),
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    );
}

#[tokio::test]
async fn missing_token_is_a_401_problem_with_a_challenge() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(format!("{}/api/v1/members", app.base))
        .checked()
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_problem(
        StatusCode::UNAUTHORIZED,
        &body,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(format!("{}/api/v1/members", app.base))
        .bearer_auth(app.admin())
        .header("content-type", "application/json")
        .body("{\"bg_number\": 1, \"name\": ")
        .checked()
        .await;
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let status = resp.status();
    assert_problem(
        status,
        &resp.json().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed-body",
    );

    // Unknown fields are refused too, not silently ignored.
    let (status, body) = app
        .post(
            "/api/v1/members",
            &app.admin(),
            &json!({"bg_number": 1, "name": "x", "pupils": {"po": 1}, "chamber": "small"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "malformed-body");
}

#[tokio::test]
async fn wrong_content_type_is_a_problem() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(format!("{}/api/v1/members", app.base))
        .bearer_auth(app.admin())
        .header("content-type", "text/plain")
        .body("hello")
        .checked()
        .await;
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let status = resp.status();
    assert_problem(
        status,
        &resp.json().await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    );
}

#[tokio::test]
async fn oversized_body_is_a_413_problem() {
    let data_dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(data_dir, TestDatabase::new().await, 1024).await;
    let big = json!({"bg_number": 1, "name": "x".repeat(4096), "pupils": {"po": 1}});
    let (status, content_type, body) = app
        .raw(
            Method::POST,
            "/api/v1/members",
            Some(&app.admin()),
            Some(&big),
        )
        .await;
    assert_eq!(content_type, "application/problem+json");
    assert_problem(
        status,
        &parse(&body),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
    );
    // Nothing was written.
    let (_, list) = app.get("/api/v1/members", &app.admin()).await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn bad_path_parameter_is_a_400_problem() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/api/v1/members/not-a-uuid", &app.admin()).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad-parameter");
    let (status, body) = app.get("/api/v1/members?limit=100000", &app.admin()).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad-parameter");
}
