use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use mandaat::domain::statement::BASE64URL;

use crate::helpers::{BoardKey, TestApp, assert_problem};

fn keys_path(member: uuid::Uuid) -> String {
    format!("/api/v1/members/{member}/keys")
}

#[tokio::test]
async fn a_board_registers_its_key_with_proof_of_possession() {
    let app = TestApp::spawn().await;
    let member = app
        .create_board(24597, "Rotterdamse Ver Kath Ond", Some(19997), None)
        .await;
    let key = BoardKey::generate();
    let proof = key.sign(&json!({
        "type": "mandaat.key.v1", "member": member.to_string(), "public_key": key.public_b64(), "label": "secretariaat"
    }));
    let (status, body) = app
        .post(&keys_path(member), &app.board(member), &proof)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Key id = lowercase hex SHA-256 of the raw public key.
    let expected_id = hex::encode(Sha256::digest(key.signing.verifying_key().as_bytes()));
    assert_eq!(body["key_id"], expected_id);
    assert_eq!(body["public_key"], key.public_b64());
    assert_eq!(body["label"], "secretariaat");
    assert_eq!(body["status"], "active");
    assert_eq!(body["registration_entry"], 0);

    let (status, list) = app.get(&keys_path(member), &app.auditor()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    // The answer to the registration also carries the log receipt of its proof.
    let mut body = body;
    let receipt = body.as_object_mut().unwrap().remove("receipt").unwrap();
    assert_eq!(receipt["index"], body["registration_entry"]);
    assert_eq!(list[0], body);

    // Registering the same key again is a conflict, and nothing new is logged.
    let (status, problem) = key.register(&app, member).await;
    assert_problem(
        status,
        &problem,
        StatusCode::CONFLICT,
        "key-already-registered",
    );
    let second = BoardKey::generate();
    let (_, body) = second.register(&app, member).await;
    assert_eq!(body["registration_entry"], 1);
}

#[tokio::test]
async fn registration_without_a_valid_proof_is_refused() {
    let app = TestApp::spawn().await;
    let member = app
        .create_board(30000, "Stichting Proef", Some(500), None)
        .await;
    let token = app.board(member);
    let key = BoardKey::generate();
    let statement = json!({"type": "mandaat.key.v1", "member": member.to_string(), "public_key": key.public_b64()});

    // A signature by another key over the same statement, claiming the key's id.
    let impostor = BoardKey::generate();
    let mut forged = impostor.sign(&statement);
    forged["key_id"] = json!(key.key_id());
    let (status, body) = app.post(&keys_path(member), &token, &forged).await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-signature",
    );

    // Signed by the impostor under its own id: the key id does not match the key registered.
    let (status, body) = app
        .post(&keys_path(member), &token, &impostor.sign(&statement))
        .await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "statement-mismatch",
    );

    // A signature over different bytes.
    let mut tampered = key.proof(member);
    tampered["signature"] = key.sign(&json!({"type": "other"}))["signature"].clone();
    let (status, body) = app.post(&keys_path(member), &token, &tampered).await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-signature",
    );

    // A proof naming another member.
    let other = app
        .create_board(30001, "Stichting Ander", Some(500), None)
        .await;
    let (status, body) = app
        .post(&keys_path(member), &token, &key.proof(other))
        .await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "statement-mismatch",
    );

    // The wrong statement type, or members the type does not have.
    let wrong_type = key.sign(&json!({"type": "mandaat.ballot.v1", "member": member.to_string(), "public_key": key.public_b64()}));
    let (status, body) = app.post(&keys_path(member), &token, &wrong_type).await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "statement-mismatch",
    );

    // Not canonical: whitespace and key order as a careless client might send.
    let sloppy = format!(
        r#"{{ "type": "mandaat.key.v1", "public_key": "{}", "member": "{member}" }}"#,
        key.public_b64()
    );
    let (status, body) = app
        .post(
            &keys_path(member),
            &token,
            &key.sign_bytes(sloppy.as_bytes()),
        )
        .await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "statement-not-canonical",
    );

    // Floats are never part of a signed statement.
    let float = format!(
        r#"{{"member":"{member}","public_key":"{}","type":"mandaat.key.v1","weight":1.5}}"#,
        key.public_b64()
    );
    let (status, body) = app
        .post(
            &keys_path(member),
            &token,
            &key.sign_bytes(float.as_bytes()),
        )
        .await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-statement",
    );

    // Garbage encodings.
    let mut bad = key.proof(member);
    bad["statement"] = json!("!!!");
    let (status, body) = app.post(&keys_path(member), &token, &bad).await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-statement",
    );

    let (_, keys) = app.get(&keys_path(member), &token).await;
    assert_eq!(keys, json!([]), "nothing was registered");
}

#[tokio::test]
async fn weak_and_non_canonical_keys_are_refused() {
    let app = TestApp::spawn().await;
    let member = app
        .create_board(30002, "Stichting Zwak", Some(500), None)
        .await;
    // The identity point has small order (weak); y = p + 1 encodes it non-canonically.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut non_canonical = [0xffu8; 32];
    non_canonical[0] = 0xee;
    non_canonical[31] = 0x7f;
    for public in [identity, non_canonical] {
        let statement = json!({"type": "mandaat.key.v1", "member": member.to_string(), "public_key": BASE64URL.encode(public)});
        let bytes = serde_json_canonicalizer::to_vec(&statement).unwrap();
        let body = json!({
            "statement": BASE64URL.encode(&bytes),
            "key_id": hex::encode(Sha256::digest(public)),
            // Any signature verifies under a weak key with plain `verify`; the key must be refused first.
            "signature": BASE64URL.encode([0u8; 64]),
        });
        let (status, problem) = app
            .post(&keys_path(member), &app.board(member), &body)
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-public-key",
        );
    }
}

#[tokio::test]
async fn a_suspended_member_cannot_register_keys() {
    let app = TestApp::spawn().await;
    let member = app
        .create_board(30003, "Stichting Geschorst", Some(500), None)
        .await;
    app.patch(
        &format!("/api/v1/members/{member}"),
        &app.admin(),
        &json!({"status": "suspended"}),
    )
    .await;
    let (status, body) = BoardKey::generate().register(&app, member).await;
    assert_problem(status, &body, StatusCode::CONFLICT, "member-suspended");
}

fn revocation(signer: &BoardKey, member: uuid::Uuid, key_id: &str) -> Value {
    json!({"revocation": signer.sign(&json!({
        "type": "mandaat.key-revocation.v1", "member": member.to_string(), "key_id": key_id, "reason": "laptop lost"
    }))})
}

#[tokio::test]
async fn keys_are_revoked_but_never_deleted() {
    let app = TestApp::spawn().await;
    let member = app
        .create_board(30004, "Stichting Intrekking", Some(500), None)
        .await;
    let token = app.board(member);
    let (old, new) = (BoardKey::generate(), BoardKey::generate());
    old.register(&app, member).await;
    new.register(&app, member).await;
    let revoke_path = format!("{}/{}/revoke", keys_path(member), old.key_id());

    // Signed by a key of another member: refused.
    let other_member = app
        .create_board(30005, "Stichting Vreemd", Some(500), None)
        .await;
    let stranger = BoardKey::generate();
    stranger.register(&app, other_member).await;
    let (status, body) = app
        .post(
            &revoke_path,
            &token,
            &revocation(&stranger, member, &old.key_id()),
        )
        .await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "statement-mismatch",
    );

    // Without a signed revocation a board cannot revoke.
    let (status, body) = app
        .post(&revoke_path, &token, &json!({"reason": "lost"}))
        .await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "revocation-required",
    );

    // Signed by the board's other active key: accepted and logged.
    let (status, revoked) = app
        .post(
            &revoke_path,
            &token,
            &revocation(&new, member, &old.key_id()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revoked_by"], "member");
    assert_eq!(revoked["revocation_reason"], "laptop lost");
    assert_eq!(revoked["revocation_entry"], 3);
    assert!(revoked["revoked_at"].is_string());

    let (status, body) = app
        .post(
            &revoke_path,
            &token,
            &revocation(&new, member, &old.key_id()),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "key-revoked");
    // A revoked key cannot be registered again, nor sign a revocation.
    let (status, body) = old.register(&app, member).await;
    assert_problem(status, &body, StatusCode::CONFLICT, "key-revoked");
    let (status, body) = app
        .post(
            &format!("{}/{}/revoke", keys_path(member), new.key_id()),
            &token,
            &revocation(&old, member, &new.key_id()),
        )
        .await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "statement-mismatch",
    );

    // An admin revokes without a signature, with a reason.
    let (status, body) = app
        .post(
            &format!("{}/{}/revoke", keys_path(member), new.key_id()),
            &app.admin(),
            &json!({"reason": "compromised"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked_by"], "admin:test-admin");
    // The server signs an admin's revocation into the log, so key validity follows from it.
    let entry = body["revocation_entry"].as_u64().unwrap();
    let (_, entries) = app
        .get(
            &format!("/api/v1/log/entries?start={entry}&end={}", entry + 1),
            &app.auditor(),
        )
        .await;
    assert_eq!(
        entries["entries"][0]["entry_type"],
        "mandaat.admin-key-revocation.v1"
    );

    // Both keys are still listed, with their registration and revocation times.
    let (_, keys) = app.get(&keys_path(member), &app.auditor()).await;
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k["status"] == "revoked"
        && k["registered_at"].is_string()
        && k["revoked_at"].is_string()));

    // Unknown key, or a key of another member under this member's path.
    let (status, body) = app
        .post(
            &format!("{}/{}/revoke", keys_path(member), stranger.key_id()),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    let (status, body) = app
        .post(
            &format!("{}/nothex/revoke", keys_path(member)),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-statement",
    );
}
