//! What an operator sees: request ids (in the header and in problems), Prometheus
//! metrics for admins and on `--metrics-listen`, and one JSON log line per request.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use mandaat::auth::{LocalIssuer, Role, TokenRequest};
use mandaat::domain::member::Sector;

use crate::helpers::{AUDIENCE, Checked, ISSUER, TestApp, TestDatabase, assert_problem};
use crate::voting::{ballot_body, board, cast, draft_and_open, electorate, resolution, spec};

/// Sends a GET with an optional `x-request-id`; the status, the id answered and the
/// body.
async fn get_with_id(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    id: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request = app.client.get(format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(id) = id {
        request = request.header("x-request-id", id);
    }
    let response = request.checked().await;
    let status = response.status();
    let answered = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id")
        .to_str()
        .unwrap()
        .to_owned();
    (status, answered, response.text().await.unwrap())
}

#[tokio::test]
async fn every_answer_has_a_request_id_and_problems_quote_it() {
    let app = TestApp::spawn().await;

    // A plain id of the client's is kept.
    let (status, id, _) = get_with_id(&app, "/healthz", None, Some("council-po.42_a")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(id, "council-po.42_a");

    // One that is not plain (or too long) is replaced by one of the server's.
    for bad in ["two words", "<script>", &"x".repeat(65)] {
        let (_, id, _) = get_with_id(&app, "/healthz", None, Some(bad)).await;
        assert_ne!(id, bad);
        assert_eq!(id.len(), 24, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }

    // Without one, each request gets its own.
    let (_, first, _) = get_with_id(&app, "/healthz", None, None).await;
    let (_, second, _) = get_with_id(&app, "/healthz", None, None).await;
    assert_ne!(first, second);

    // A problem names the request as its instance: from a handler, from the router,
    // from the authentication layer.
    let missing = format!("/api/v1/members/{}", uuid::Uuid::new_v4());
    for (path, token, expected, slug) in [
        (
            missing.as_str(),
            Some(app.admin()),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            "/api/v1/nothing-here",
            None,
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            "/api/v1/members",
            None,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
    ] {
        let (status, id, body) =
            get_with_id(&app, path, token.as_deref(), Some("report-me-1")).await;
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert_problem(status, &problem, expected, slug);
        assert_eq!(id, "report-me-1");
        assert_eq!(
            problem["instance"], "urn:mandaat:request:report-me-1",
            "{path}"
        );
    }

    // A 405 from the router, too.
    let response = app
        .client
        .delete(format!("{}/api/v1/members", app.base))
        .bearer_auth(app.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["instance"], format!("urn:mandaat:request:{id}"));
}

/// The value of one sample line (`name{labels} value`), if the exposition has it.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let rest = series.strip_prefix(name)?;
        let inner = match rest.strip_prefix('{') {
            Some(inner) => inner.strip_suffix('}')?,
            None if rest.is_empty() => "",
            None => return None,
        };
        let pairs: Vec<(String, String)> = if inner.is_empty() {
            Vec::new()
        } else {
            inner
                .split("\",")
                .map(|pair| {
                    let (k, v) = pair.split_once("=\"").unwrap();
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect()
        };
        let all = labels
            .iter()
            .all(|(k, v)| pairs.iter().any(|(pk, pv)| pk == k && pv == v));
        (all && pairs.len() == labels.len()).then(|| value.parse().unwrap())
    })
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (StatusCode, String) {
    let (status, content_type, body) = app.raw(Method::GET, "/metrics", token, None).await;
    if status == StatusCode::OK {
        assert!(content_type.starts_with("text/plain"), "{content_type}");
    }
    (status, body)
}

#[tokio::test]
async fn an_admin_scrapes_metrics_labelled_by_route_template() {
    let app = TestApp::spawn_with_config(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let voter = board(&app, 101, Some(300), None).await;
    let p = draft_and_open(
        &app,
        &spec(
            &app,
            "Metingen",
            resolution(),
            electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
        ),
    )
    .await;
    let (status, body) = cast(&app, &p, &voter, json!({"vote": "yes"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Refused: the digest is not the proposal's.
    let mut wrong = ballot_body(&app, &p, &voter, voter.id, json!({"vote": "no"}));
    wrong["proposal_digest"] = json!("0".repeat(64));
    let (status, problem) = app
        .post(
            &format!("/api/v1/proposals/{}/ballots", p.id),
            &app.board(voter.id),
            &voter.key.sign(&wrong),
        )
        .await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "digest-mismatch",
    );
    // An unknown path, labelled `other` rather than by itself.
    let (status, _) = app.get("/api/v1/nothing-here", &app.admin()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, text) = scrape(&app, Some(&app.admin())).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let ballots = "/api/v1/proposals/{id}/ballots";
    let requests = |route, status| {
        sample(
            &text,
            "mandaat_http_requests_total",
            &[("method", "POST"), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests(ballots, "201"), Some(1.0), "{text}");
    assert_eq!(requests(ballots, "422"), Some(1.0), "{text}");
    assert_eq!(
        requests("/api/v1/proposals/{id}/open", "200"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "mandaat_http_requests_total",
            &[("method", "GET"), ("route", "other"), ("status", "404")],
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "mandaat_problems_total",
            &[("route", ballots), ("type", "digest-mismatch")],
        ),
        Some(1.0),
        "{text}"
    );
    for (outcome, count) in [("accepted", 1.0), ("digest-mismatch", 1.0)] {
        assert_eq!(
            sample(
                &text,
                "mandaat_statements_total",
                &[("kind", "ballot"), ("outcome", outcome)],
            ),
            Some(count),
            "{text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            "mandaat_statements_total",
            &[("kind", "key"), ("outcome", "accepted")],
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "mandaat_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", ballots)],
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        text.contains("mandaat_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/proposals/{id}/ballots\",le=\"0.005\"}"),
        "a histogram, not a summary: {text}"
    );
    // The one accepted ballot went through one group commit of one statement (the
    // refused one was refused before it).
    assert_eq!(
        sample(&text, "mandaat_write_batch_statements_count", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "mandaat_write_batch_statements_bucket",
            &[("le", "1")]
        ),
        Some(1.0),
        "batch sizes in powers of two: {text}"
    );
    assert_eq!(
        sample(&text, "mandaat_write_batch_duration_seconds_count", &[]),
        Some(1.0),
        "{text}"
    );
    // No raw path with an id made it into a label.
    assert!(!text.contains(&p.id.to_string()), "{text}");
    assert!(!text.contains("nothing-here"), "{text}");
    // Gauges read at scrape time: the log holds the key, the proposal's opening and
    // the ballot at least.
    let entries = sample(&text, "mandaat_log_entries", &[]).expect("log size");
    assert!(entries >= 3.0, "{text}");
    assert!(sample(&text, "mandaat_open_connections", &[]).is_some_and(|n| n >= 1.0));
    for state in ["in_use", "idle"] {
        assert!(
            sample(&text, "mandaat_database_connections", &[("state", state)]).is_some(),
            "{text}"
        );
    }
    assert!(
        text.contains("# TYPE mandaat_http_requests_total counter"),
        "{text}"
    );
    assert!(text.contains("# HELP mandaat_problems_total"), "{text}");
    // Webhooks (none subscribed here): the counters exist from the start.
    assert_eq!(
        sample(&text, "mandaat_webhook_deliveries_total", &[]),
        Some(0.0),
        "{text}"
    );
    for reason in ["status", "timeout", "connection", "address"] {
        assert_eq!(
            sample(
                &text,
                "mandaat_webhook_failures_total",
                &[("reason", reason)]
            ),
            Some(0.0),
            "{text}"
        );
    }
    assert_eq!(
        sample(&text, "mandaat_webhook_pending_deliveries", &[]),
        Some(0.0),
        "{text}"
    );

    // A checkpoint's age shows once one is signed.
    let (status, _) = app.get("/api/v1/log/checkpoint", &app.admin()).await;
    assert_eq!(status, StatusCode::OK);
    let (_, text) = scrape(&app, Some(&app.admin())).await;
    let age = sample(&text, "mandaat_checkpoint_age_seconds", &[]).expect("checkpoint age");
    assert!((0.0..3600.0).contains(&age), "{age}");

    // Every other role is refused; without credentials, 401.
    for token in [app.auditor(), app.council(Sector::Po), app.board(voter.id)] {
        let (status, body) = app.get("/metrics", &token).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let (status, body) = app.request(Method::GET, "/metrics", None, None).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    // The private address answers without a token, with the same registry.
    let private = app.metrics_base.as_deref().expect("--metrics-listen");
    let response = app
        .client
        .get(format!("{private}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert_eq!(
        sample(
            &text,
            "mandaat_http_requests_total",
            &[("method", "POST"), ("route", ballots), ("status", "201")],
        ),
        Some(1.0),
        "{text}"
    );
    // It serves nothing else, and answers that as a problem.
    let response = app
        .client
        .get(format!("{private}/api/v1/members"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    crate::helpers::check_problem(
        StatusCode::NOT_FOUND,
        headers["content-type"].to_str().unwrap(),
        std::str::from_utf8(&body).unwrap(),
    );
    crate::helpers::check_request_id(&headers, &body);
}

#[tokio::test]
async fn the_json_log_has_one_line_per_request_and_no_secrets() {
    let data_dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_mandaat"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(data_dir.path());
    if let Some(url) = db.url() {
        command.arg("--database-url").arg(url);
    }
    let mut child = command
        .env_remove("RUST_LOG")
        .env_remove("MANDAAT_DATABASE_URL")
        .env_remove("MANDAAT_LOG_FORMAT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mandaat starts");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let child = Kill(child);
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let kept = lines.clone();
    std::thread::spawn(move || {
        for line in stderr.lines() {
            let Ok(line) = line else { break };
            if let Some(base) = line.strip_prefix("Mandaat is listening on ") {
                let _ = tx.send(base.trim().to_owned());
            }
            kept.lock().unwrap().push(line);
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("the server did not start: {:?}", lines.lock().unwrap()));

    let pem = std::fs::read_to_string(data_dir.path().join("token-signing.key.pem")).unwrap();
    let issuer =
        LocalIssuer::new(&SigningKey::from_pkcs8_pem(&pem).unwrap(), ISSUER, AUDIENCE).unwrap();
    let token = issuer
        .issue(
            &TokenRequest {
                subject: "ops-script-7".into(),
                role: Role::Admin,
                member_id: None,
                sector: None,
                ttl: Duration::from_secs(600),
            },
            chrono::Utc::now(),
        )
        .unwrap();
    let client = reqwest::Client::new();
    let member = uuid::Uuid::new_v4();
    let response = client
        .get(format!("{base}/api/v1/members/{member}"))
        .bearer_auth(&token)
        .header("x-request-id", "json-log-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // The line is written after the answer is sent: wait for it.
    let find = || {
        lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["request_id"] == "json-log-test-1")
    };
    let mut line = find();
    for _ in 0..100 {
        if line.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        line = find();
    }
    let line = line.unwrap_or_else(|| panic!("no log line: {:?}", lines.lock().unwrap()));
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(line["route"], "/api/v1/members/{id}", "{line}");
    assert_eq!(line["status"], 404, "{line}");
    assert_eq!(line["subject"], "ops-script-7", "{line}");
    assert_eq!(line["problem"], "not-found", "{line}");
    assert_eq!(line["level"], "INFO", "{line}");
    assert!(
        line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{line}"
    );
    drop(child);

    let output = lines.lock().unwrap().join("\n");
    assert!(!output.contains(&token), "the token was logged:\n{output}");
    // Nor its signature alone, nor the member's id from the raw path.
    let signature = token.rsplit('.').next().unwrap();
    assert!(!output.contains(signature), "{output}");
    assert!(!output.contains(&member.to_string()), "{output}");
}
