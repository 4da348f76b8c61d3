//! JWT pitfalls: every way a token can be forged or misused is refused with 401.

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{AUDIENCE, ISSUER, TestApp, assert_problem};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn server_key(app: &TestApp) -> SigningKey {
    let pem = std::fs::read_to_string(app.key_file("token-signing")).unwrap();
    SigningKey::from_pkcs8_pem(&pem).unwrap()
}

/// A compact JWS signed with Ed25519 over exactly the given header and claims.
fn eddsa(header: &Value, claims: &Value, key: &SigningKey) -> String {
    let signing_input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", B64.encode(signature.to_bytes()))
}

fn claims() -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": "mallory", "role": "admin", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, "jti": "x"})
}

async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    let (status, body) = app.get("/api/v1/members", token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn a_correct_token_is_accepted() {
    let app = TestApp::spawn().await;
    let token = eddsa(
        &json!({"alg": "EdDSA", "typ": "JWT"}),
        &claims(),
        &server_key(&app),
    );
    let (status, body) = app.get("/api/v1/members", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn forged_and_misused_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let key = server_key(&app);
    let header = json!({"alg": "EdDSA", "typ": "JWT"});

    // alg "none" with no signature.
    let unsigned = format!(
        "{}.{}.",
        B64.encode(json!({"alg": "none"}).to_string()),
        B64.encode(claims().to_string())
    );
    assert_refused(&app, &unsigned, "alg none").await;

    // HS256 "signed" with the server's public key as the HMAC secret.
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(key.verifying_key().as_bytes()).unwrap(),
    )
    .unwrap();
    assert_refused(&app, &hs256, "HS256 with the public key").await;

    // Signed by another Ed25519 key.
    let stranger = SigningKey::from_bytes(&[42; 32]);
    assert_refused(&app, &eddsa(&header, &claims(), &stranger), "foreign key").await;

    let mut expired = claims();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 60);
    assert_refused(&app, &eddsa(&header, &expired, &key), "expired").await;

    for missing in ["aud", "iss", "exp", "sub"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(missing);
        assert_refused(
            &app,
            &eddsa(&header, &c, &key),
            &format!("missing {missing}"),
        )
        .await;
    }

    let mut wrong_issuer = claims();
    wrong_issuer["iss"] = json!("https://evil.example");
    assert_refused(&app, &eddsa(&header, &wrong_issuer, &key), "wrong issuer").await;

    let mut wrong_audience = claims();
    wrong_audience["aud"] = json!("another-service");
    assert_refused(
        &app,
        &eddsa(&header, &wrong_audience, &key),
        "wrong audience",
    )
    .await;

    // A valid board token whose payload is swapped for an admin one.
    let member = app
        .create_member(11111, "Stichting Test", Some(100), None)
        .await;
    let board = app.board(member);
    let parts: Vec<&str> = board.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    payload["role"] = json!("admin");
    payload.as_object_mut().unwrap().remove("member_id");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(payload.to_string()),
        parts[2]
    );
    assert_refused(&app, &tampered, "tampered payload").await;

    // Role claims that do not fit the role.
    let mut board_without_member = claims();
    board_without_member["role"] = json!("board");
    assert_refused(
        &app,
        &eddsa(&header, &board_without_member, &key),
        "board without member",
    )
    .await;
    let mut unknown_role = claims();
    unknown_role["role"] = json!("superuser");
    assert_refused(&app, &eddsa(&header, &unknown_role, &key), "unknown role").await;

    assert_refused(&app, "not-a-jwt", "garbage").await;
}

#[tokio::test]
async fn a_board_token_cannot_act_for_another_member() {
    let app = TestApp::spawn().await;
    let ours = app
        .create_member(22222, "Stichting Ons", Some(100), None)
        .await;
    let theirs = app
        .create_member(33333, "Stichting Hun", Some(100), None)
        .await;
    let key = crate::helpers::BoardKey::generate();
    let (status, body) = app
        .post(
            &format!("/api/v1/members/{theirs}/keys"),
            &app.board(ours),
            &key.proof(theirs),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .patch(
            &format!("/api/v1/members/{ours}"),
            &app.board(ours),
            &json!({"name": "Renamed"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn the_cli_issues_tokens_the_server_accepts() {
    let app = TestApp::spawn().await;
    let member = app
        .create_member(44444, "Stichting CLI", Some(100), None)
        .await;
    let out = app.cli(&[
        "token",
        "issue",
        "--role",
        "board",
        "--member",
        &member.to_string(),
        "--ttl",
        "1h",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (status, body) = app
        .get(&format!("/api/v1/members/{member}/keys"), &token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The claims say what the issue asks for.
    let claims: Value =
        serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["role"], "board");
    assert_eq!(claims["member_id"], member.to_string());
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));

    let council = app.cli(&["token", "issue", "--role", "council", "--sector", "VO"]);
    assert!(council.status.success());
    let (status, _) = app
        .get(
            "/api/v1/members",
            String::from_utf8_lossy(&council.stdout).trim(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // A board token needs a member, and one that exists.
    assert!(
        !app.cli(&["token", "issue", "--role", "board"])
            .status
            .success()
    );
    let unknown = app.cli(&[
        "token",
        "issue",
        "--role",
        "board",
        "--member",
        &uuid::Uuid::new_v4().to_string(),
    ]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));
}
