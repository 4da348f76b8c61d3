//! Rate limits (issue 10, finding 7): per client address without a credential, per
//! credential with one; 429 `rate-limited` problems with `Retry-After`.

use std::time::Duration;

use mandaat::config::RateLimitConfig;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Checked, TestApp, assert_problem};

const ANONYMOUS: &str = "/api/v1/log/key";
const AUTHENTICATED: &str = "/api/v1/members";

/// Small limits: `per_second` requests a second, `burst` at once, for both kinds.
async fn spawn_limited(per_second: u32, burst: u32) -> TestApp {
    TestApp::spawn_with_config(|config| {
        config.rate_limits = RateLimitConfig {
            anonymous: per_second,
            anonymous_burst: burst,
            authenticated: per_second,
            authenticated_burst: burst,
        };
    })
    .await
}

/// Status, `Retry-After` and the body as JSON (or Null).
async fn send(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Option<u64>, Value) {
    let mut request = app.client.get(format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.checked().await;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert_eq!(content_type, "application/problem+json", "{text}");
    }
    (
        status,
        retry_after,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn assert_rate_limited(status: StatusCode, retry_after: Option<u64>, body: &Value) {
    assert_problem(status, body, StatusCode::TOO_MANY_REQUESTS, "rate-limited");
    let seconds = retry_after.expect("a 429 carries Retry-After");
    assert!((1..=2).contains(&seconds), "Retry-After: {seconds}");
}

#[tokio::test]
async fn rate_limits_anonymous_requests_beyond_the_burst_get_429_with_retry_after() {
    let app = spawn_limited(1, 3).await;
    for i in 0..3 {
        let (status, _, body) = send(&app, ANONYMOUS, None).await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body}");
    }
    let (status, retry_after, body) = send(&app, ANONYMOUS, None).await;
    assert_rate_limited(status, retry_after, &body);
    // The address is out of allowance for every route but the exempt ones.
    let (status, retry_after, body) = send(&app, "/openapi.json", None).await;
    assert_rate_limited(status, retry_after, &body);
}

#[tokio::test]
async fn rate_limits_one_credential_exhausted_leaves_another_unaffected() {
    let app = spawn_limited(1, 3).await;
    let (admin, auditor) = (app.admin(), app.auditor());
    for _ in 0..3 {
        let (status, _, body) = send(&app, AUTHENTICATED, Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, retry_after, body) = send(&app, AUTHENTICATED, Some(&admin)).await;
    assert_rate_limited(status, retry_after, &body);

    // Another token, and requests without one from the same address, still pass.
    let (status, _, body) = send(&app, "/api/v1/log/checkpoint", Some(&auditor)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = send(&app, ANONYMOUS, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn rate_limits_invented_tokens_are_charged_to_the_address() {
    let app = spawn_limited(1, 3).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let (status, retry_after, body) =
            send(&app, AUTHENTICATED, Some(&format!("invented-{i}"))).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_rate_limited(status, retry_after, &body);
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS,
        ]
    );
}

#[tokio::test]
async fn rate_limits_requests_succeed_again_after_retry_after() {
    let app = spawn_limited(1, 1).await;
    let admin = app.admin();
    for (path, token) in [(ANONYMOUS, None), (AUTHENTICATED, Some(admin.as_str()))] {
        let (status, _, body) = send(&app, path, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, retry_after, body) = send(&app, path, token).await;
        assert_rate_limited(status, retry_after, &body);
        tokio::time::sleep(Duration::from_secs(retry_after.unwrap())).await;
        let (status, _, body) = send(&app, path, token).await;
        assert_eq!(status, StatusCode::OK, "{path} after Retry-After: {body}");
    }
}

#[tokio::test]
async fn rate_limits_never_apply_to_health_probes_or_the_web_client() {
    let app = spawn_limited(1, 1).await;
    let (status, _, _) = send(&app, ANONYMOUS, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, retry_after, body) = send(&app, ANONYMOUS, None).await;
    assert_rate_limited(status, retry_after, &body);
    for _ in 0..20 {
        for path in ["/healthz", "/readyz", "/"] {
            let (status, _, body) = send(&app, path, None).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
        // Whatever the web client's files answer, it is never a 429.
        let (status, _, _) = send(&app, "/web/app.js", None).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test]
async fn rate_limits_defaults_let_a_burst_of_200_from_one_token_through() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let request = app
            .client
            .get(format!("{}{AUTHENTICATED}", app.base))
            .bearer_auth(&admin);
        requests.spawn(async move { request.checked().await.status() });
    }
    for status in requests.join_all().await {
        assert_eq!(status, StatusCode::OK);
    }
    // And 200 anonymous ones from one address, one after another.
    for _ in 0..200 {
        let (status, _, body) = send(&app, ANONYMOUS, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn rate_limits_zero_turns_them_off() {
    let app = TestApp::spawn_with_config(|config| config.rate_limits = RateLimitConfig::OFF).await;
    let admin = app.admin();
    for _ in 0..300 {
        let (status, _, body) = send(&app, ANONYMOUS, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _, body) = send(&app, AUTHENTICATED, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
