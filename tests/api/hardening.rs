//! Hostile input and faults (issue 10): numeric parameters out of range, panics,
//! token claims, formulas in the CSV export, response headers, control characters.
//! Every answer here must be the same on SQLite and on PostgreSQL.

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use mandaat::Application;

use crate::helpers::{
    AUDIENCE, BoardKey, Checked, ISSUER, TestApp, TestDatabase, assert_problem, test_config,
};
use crate::voting::{board, cast, close, draft_and_open, electorate, resolution, spec};

// ---- Finding 2: numeric parameters, panics ----

#[tokio::test]
async fn hardening_numeric_parameters_out_of_range_are_400_problems() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let huge = "9223372036854775808";
    for path in [
        format!("/api/v1/members?offset={huge}"),
        format!("/api/v1/members?offset={}", i64::MAX),
        "/api/v1/members?offset=1000001".to_owned(),
        format!("/api/v1/members?bg_number={}", i64::MAX),
        "/api/v1/members?bg_number=0".to_owned(),
        "/api/v1/members?limit=0".to_owned(),
        format!("/api/v1/people?offset={huge}"),
        format!("/api/v1/log/entries?start={}&end={}", i64::MAX, i64::MAX),
        format!("/api/v1/log/entries?start=0&end={huge}"),
        format!("/api/v1/log/proof/inclusion?index={huge}&size=1"),
        format!("/api/v1/log/proof/inclusion?index=0&size={}", u64::MAX),
        format!("/api/v1/log/proof/consistency?from={huge}&to=1"),
        format!("/api/v1/log/proof/consistency?from=0&to={huge}"),
    ] {
        let (status, body) = app.get(&path, &admin).await;
        assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad-parameter");
        assert!(body["detail"].is_string(), "{path}: {body}");
    }
    // The largest offset allowed is still an answer.
    let (status, page) = app.get("/api/v1/members?offset=1000000", &admin).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn hardening_the_openapi_document_states_the_ranges() {
    let app = TestApp::spawn().await;
    let (status, spec) = app.request(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let parameter = |path: &str, name: &str| -> Value {
        spec["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has parameter {name}"))["schema"]
            .clone()
    };
    let members = "/api/v1/members";
    assert_eq!(parameter(members, "offset")["maximum"], 1_000_000.0);
    assert_eq!(parameter(members, "limit")["maximum"], 500.0);
    assert_eq!(parameter(members, "bg_number")["minimum"], 1.0);
    assert_eq!(parameter(members, "bg_number")["maximum"], 99_999_999.0);
    for (path, names) in [
        ("/api/v1/log/entries", ["start", "end"]),
        ("/api/v1/log/proof/inclusion", ["index", "size"]),
        ("/api/v1/log/proof/consistency", ["from", "to"]),
    ] {
        for name in names {
            assert_eq!(
                parameter(path, name)["maximum"],
                9_007_199_254_740_991.0,
                "{path} {name}"
            );
        }
    }
}

#[poem::handler]
fn panics() -> &'static str {
    panic!("deliberately, in a test")
}

#[tokio::test]
async fn hardening_a_panicking_handler_is_a_500_problem() {
    let data_dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let config = test_config(data_dir.path(), &db);
    let app = Application::build_with(config, Some(poem::Route::new().at("/panic", panics)))
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let response = client
            .get(format!("{base}{}/panic", mandaat::startup::TEST_ROUTES))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/problem+json")
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &body,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
        );
        assert!(!body["detail"].as_str().unwrap().contains("deliberately"));
    }
    // The server lives on.
    let health = client.get(format!("{base}/healthz")).checked().await;
    assert_eq!(health.status(), StatusCode::OK);
    let _ = tx.send(());
    server.await.unwrap().unwrap();
    drop(db);
}

// ---- Finding 4: token claims ----

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn server_key(app: &TestApp) -> SigningKey {
    let pem = std::fs::read_to_string(app.key_file("token-signing")).unwrap();
    SigningKey::from_pkcs8_pem(&pem).unwrap()
}

/// A token over exactly these claims, signed with the server's own token key.
fn signed_token(app: &TestApp, claims: &Value) -> String {
    let header = json!({"alg": "EdDSA", "typ": "JWT"});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = server_key(app).sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

fn claims(role: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": "someone", "role": role, "iss": ISSUER, "aud": AUDIENCE, "iat": now,
           "exp": now + 600, "jti": "j"})
}

async fn assert_unauthorized(app: &TestApp, token: &str, why: &str) {
    let (status, body) = app.get("/api/v1/members", token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn hardening_a_token_not_yet_valid_is_refused() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let mut later = claims("admin");
    later["nbf"] = json!(now + 3600);
    assert_unauthorized(&app, &signed_token(&app, &later), "nbf in an hour").await;
    let mut earlier = claims("admin");
    earlier["nbf"] = json!(now - 60);
    let (status, body) = app
        .get("/api/v1/members", &signed_token(&app, &earlier))
        .await;
    assert_eq!(status, StatusCode::OK, "nbf a minute ago: {body}");
}

#[tokio::test]
async fn hardening_a_token_with_an_empty_subject_is_refused() {
    let app = TestApp::spawn().await;
    for sub in ["", "   ", "a\u{0}b"] {
        let mut c = claims("admin");
        c["sub"] = json!(sub);
        assert_unauthorized(&app, &signed_token(&app, &c), &format!("sub {sub:?}")).await;
    }
}

#[tokio::test]
async fn hardening_a_board_token_for_no_member_is_refused() {
    let app = TestApp::spawn().await;
    let ghost = Uuid::new_v4();
    let token = app.board(ghost);
    assert_unauthorized(&app, &token, "member does not exist").await;
    let (status, body) = app
        .post(
            "/api/v1/proposals",
            &token,
            &spec(&app, "Spook", resolution(), ghost_electorate()),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    // A board token for a member that exists still works.
    let member = app
        .create_member(12345, "Stichting Echt", Some(10), None)
        .await;
    let (status, body) = app.get("/api/v1/members", &app.board(member)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn ghost_electorate() -> Value {
    electorate(&["PO"], "one-member-one-vote", "1/2", "more-than", "1/2")
}

#[tokio::test]
async fn hardening_token_issue_refuses_an_empty_subject() {
    let app = TestApp::spawn().await;
    let out = app.cli(&["token", "issue", "--role", "admin", "--subject", ""]);
    assert!(!out.status.success(), "an empty subject was issued");
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sub"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = app.cli(&["token", "issue", "--role", "admin", "--subject", "ops"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- Finding 5: the CSV export ----

#[tokio::test]
async fn hardening_the_csv_export_neutralises_formulas() {
    let app = TestApp::spawn().await;
    let voter = board(&app, 20001, Some(100), None).await;
    let formula = r#"=HYPERLINK("http://evil.example","x")"#;
    // (A tab or carriage return cannot start a title: titles hold no control characters.)
    let titles = [formula, "+1+1", "-2+3", "@SUM(A1)", "Gewoon voorstel"];
    for title in titles {
        let p = draft_and_open(&app, &spec(&app, title, resolution(), ghost_electorate())).await;
        let (status, body) = cast(&app, &p, &voter, json!({"vote": "yes"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        close(&app, &p).await;
    }
    let (status, content_type, text) = app
        .raw(
            Method::GET,
            "/api/v1/results.csv",
            Some(&app.auditor()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("text/csv"));
    // Read it as a spreadsheet would: one record per row, every cell as text.
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), titles.len(), "{text}");
    let mut seen: Vec<String> = rows.iter().map(|r| r[column("title")].to_owned()).collect();
    seen.sort();
    let mut expected = vec![
        format!("'{formula}"),
        "'+1+1".to_owned(),
        "'-2+3".to_owned(),
        "'@SUM(A1)".to_owned(),
        "Gewoon voorstel".to_owned(),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    for row in &rows {
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "cell {cell:?} in {row:?}"
            );
        }
        // Counts stay numbers.
        assert_eq!(&row[column("yes_weight")], "1", "{row:?}");
        assert_eq!(&row[column("quorum_met")], "true", "{row:?}");
    }
}

// ---- Finding 6: headers ----

#[tokio::test]
async fn hardening_api_responses_are_neither_cached_nor_sniffed() {
    let app = TestApp::spawn().await;
    let get = |path: &str, token: Option<String>| {
        let mut request = app.client.get(format!("{}{path}", app.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.checked()
    };
    for (path, token) in [
        ("/api/v1/members", Some(app.admin())),
        ("/api/v1/members", None),
        ("/api/v1/nothing-here", Some(app.admin())),
        ("/api/v1/log/key", None),
        ("/openapi.json", None),
    ] {
        let response = get(path, token).await;
        let headers = response.headers();
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
    // The web client's own headers stay as src/web.rs sets them.
    for path in ["/", "/web/app/main.js"] {
        let response = get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
}

#[tokio::test]
async fn hardening_every_405_carries_allow() {
    let app = TestApp::spawn().await;
    let id = Uuid::new_v4();
    for (method, path, allow) in [
        (
            Method::DELETE,
            "/api/v1/members".to_owned(),
            "GET, HEAD, POST",
        ),
        (
            Method::PUT,
            format!("/api/v1/members/{id}"),
            "GET, HEAD, PATCH",
        ),
        (
            Method::POST,
            "/api/v1/log/checkpoint".to_owned(),
            "GET, HEAD",
        ),
        (
            Method::DELETE,
            format!("/api/v1/proposals/{id}/open"),
            "POST",
        ),
        (Method::PATCH, "/api/v1/results.csv".to_owned(), "GET, HEAD"),
        (Method::POST, "/web/app/main.js".to_owned(), "GET, HEAD"),
    ] {
        let response = app
            .client
            .request(method.clone(), format!("{}{path}", app.base))
            .bearer_auth(app.admin())
            .checked()
            .await;
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
}

// ---- Finding 3: control characters in text ----

/// Every text field with a NUL: 422 `validation-failed`, before the database.
#[tokio::test]
async fn hardening_nul_in_text_fields_is_a_422_problem() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let member = app
        .create_member(30001, "Stichting Nul", Some(50), None)
        .await;
    let key = BoardKey::generate();
    let (status, body) = key.register(&app, member).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let board_token = app.board(member);

    let mut refused: Vec<(String, StatusCode, Value)> = Vec::new();
    let mut check = |what: &str, (status, body): (StatusCode, Value)| {
        refused.push((what.to_owned(), status, body));
    };

    // Query parameters.
    check(
        "chamber",
        app.get("/api/v1/members?chamber=%00", &admin).await,
    );
    check(
        "chamber",
        app.get("/api/v1/members?chamber=a%00b", &admin).await,
    );
    check(
        "name query",
        app.get("/api/v1/members?name=a%00b", &admin).await,
    );

    // Members and people.
    let pupils = json!({"po": 10});
    check(
        "member name",
        app.post(
            "/api/v1/members",
            &admin,
            &json!({"bg_number": 30002, "name": "a\u{0}b", "pupils": pupils}),
        )
        .await,
    );
    check(
        "member name (patch)",
        app.patch(
            &format!("/api/v1/members/{member}"),
            &admin,
            &json!({"name": "a\u{0}b"}),
        )
        .await,
    );
    check(
        "person name",
        app.post(
            "/api/v1/invitations",
            &admin,
            &json!({"name": "a\u{0}b", "email": "a@b.nl", "role": "admin"}),
        )
        .await,
    );
    check(
        "person email",
        app.post(
            "/api/v1/invitations",
            &admin,
            &json!({"name": "Anna", "email": "a\u{0}@b.nl", "role": "admin"}),
        )
        .await,
    );

    // Keys: the label of a registration, the reason of a revocation (signed or not).
    let other = BoardKey::generate();
    let labelled = other.sign(
        &json!({"type": "mandaat.key.v1", "member": member.to_string(),
        "public_key": other.public_b64(), "label": "a\u{0}b"}),
    );
    check(
        "key label",
        app.post(
            &format!("/api/v1/members/{member}/keys"),
            &board_token,
            &labelled,
        )
        .await,
    );
    let revoke_path = format!("/api/v1/members/{member}/keys/{}/revoke", key.key_id());
    let revocation = key.sign(
        &json!({"type": "mandaat.key-revocation.v1", "member": member.to_string(),
        "key_id": key.key_id(), "reason": "a\u{0}b"}),
    );
    check(
        "signed revocation reason",
        app.post(
            &revoke_path,
            &board_token,
            &json!({"revocation": revocation}),
        )
        .await,
    );
    check(
        "admin revocation reason",
        app.post(&revoke_path, &admin, &json!({"reason": "a\u{0}b"}))
            .await,
    );

    // Proposals: every text of a mandate.
    let good = spec(
        &app,
        "Magister",
        crate::voting::magister_mandate(),
        ghost_electorate(),
    );
    let (status, body) = app.post("/api/v1/proposals", &admin, &good).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the unaltered spec is fine: {body}"
    );
    for pointer in [
        "/title",
        "/description",
        "/mandate/supplier",
        "/mandate/product",
        "/mandate/demands/modular_licensing/0",
        "/mandate/demands/privacy/model_dpa_version",
        "/mandate/parameters/0/label",
        "/mandate/parameters/0/unit",
    ] {
        let mut bad = good.clone();
        *bad.pointer_mut(pointer).unwrap() = json!("a\u{0}b");
        check(
            &format!("proposal {pointer}"),
            app.post("/api/v1/proposals", &admin, &bad).await,
        );
    }
    // A description may have lines, but no other control characters.
    let mut lines = good.clone();
    lines["description"] = json!("Eerste regel.\r\n\tTweede regel.");
    let (status, body) = app.post("/api/v1/proposals", &admin, &lines).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut escape = good.clone();
    escape["description"] = json!("kleur\u{1b}[31m");
    check(
        "description with ESC",
        app.post("/api/v1/proposals", &admin, &escape).await,
    );

    for (what, status, body) in &refused {
        assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_problem(
            *status,
            body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        );
    }

    // Nothing of it was stored: the key stays active, no member or person was added.
    let (_, keys) = app
        .get(&format!("/api/v1/members/{member}/keys"), &admin)
        .await;
    assert!(keys.to_string().contains(&key.key_id()));
    assert!(!keys.to_string().contains("\\u0000"), "{keys}");
    let (_, page) = app.get("/api/v1/members", &admin).await;
    assert_eq!(page["total"], 1, "{page}");

    // A leaf hash is 64 hex digits; anything else never reaches the database.
    let (status, body) = app.get("/api/v1/log/receipt/%00", &admin).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad-parameter");
}
