//! `mandaat receipt verify`: a ballot cast through the API, its receipt written to a
//! file as the web page downloads it, checked by the real binary; then tampered with.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::voting::{Open, ballot_body, board, draft_and_open, electorate, resolution, spec};

/// Writes `file` and runs `mandaat receipt verify` on it: (exit code, stdout + stderr).
fn verify(file: &str, log_key: Option<&str>) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("receipt.json");
    std::fs::write(&path, file).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mandaat"));
    cmd.args(["receipt", "verify"]).arg(&path);
    if let Some(key) = log_key {
        cmd.args(["--log-key", key]);
    }
    let out = cmd.env("RUST_LOG", "warn").output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn verify_json(file: &Value, log_key: Option<&str>) -> (i32, String) {
    verify(&serde_json::to_string_pretty(file).unwrap(), log_key)
}

/// Another character of the same alphabet at the start of `text`.
fn flip_first(text: &str) -> String {
    let replacement = if text.starts_with('a') { "b" } else { "a" };
    format!("{replacement}{}", &text[1..])
}

#[tokio::test]
async fn a_receipt_file_verifies_offline_and_each_tampering_is_named() {
    let app = TestApp::spawn().await;
    let voter = board(&app, 1, Some(100), None).await;
    let other = board(&app, 2, Some(300), None).await;
    let proposal: Open = draft_and_open(
        &app,
        &spec(
            &app,
            "Resolutie",
            resolution(),
            electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
        ),
    )
    .await;
    let wire = voter.key.sign(&ballot_body(
        &app,
        &proposal,
        &voter,
        voter.id,
        json!({"vote": "yes"}),
    ));
    let (status, answer) = app
        .post(
            &format!("/api/v1/proposals/{}/ballots", proposal.id),
            &app.board(voter.id),
            &wire,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, _, log_key) = app.raw(Method::GET, "/api/v1/log/key", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let log_key = log_key.trim().to_owned();

    let file = json!({"format": "mandaat.receipt.v1", "log_key": log_key, "entry": wire,
                      "receipt": answer["receipt"]});
    let (code, out) = verify_json(&file, Some(&log_key));
    assert_eq!(code, 0, "{out}");
    for check in ["log-key", "checkpoint-signature", "leaf-hash", "inclusion"] {
        assert!(out.contains(&format!("ok    {check}:")), "{check}: {out}");
    }
    assert!(
        out.contains("--    statement-signature: the file does not hold key"),
        "{out}"
    );
    assert!(out.contains("verified: entry"), "{out}");

    // With the signer's public key in the file, the signature is checked too.
    let mut with_key = file.clone();
    with_key["public_key"] = json!(voter.key.public_b64());
    let (code, out) = verify_json(&with_key, Some(&log_key));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok    statement-signature:"), "{out}");

    // Without --log-key the file's own key is used, and the output says so.
    let (code, out) = verify_json(&file, None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("--    log-key: no --log-key given"), "{out}");

    // Each tampering fails, naming the check that caught it.
    let receipt = &file["receipt"];
    let size = receipt["tree_size"].as_u64().unwrap();
    let tamperings: Vec<(&str, Value, &[&str])> = vec![
        (
            "leaf hash",
            json!({"receipt": {"leaf_hash": flip_first(receipt["leaf_hash"].as_str().unwrap())}}),
            &["leaf-hash", "inclusion"],
        ),
        (
            "proof",
            json!({"receipt": {"inclusion_proof": receipt["inclusion_proof"].as_array().unwrap().iter()
                .enumerate().map(|(i, h)| if i == 0 { json!(flip_first(h.as_str().unwrap())) } else { h.clone() })
                .collect::<Vec<_>>()}}),
            &["inclusion"],
        ),
        (
            "checkpoint",
            json!({"receipt": {"checkpoint": receipt["checkpoint"].as_str().unwrap()
                .replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1)}}),
            &["checkpoint-signature", "inclusion"],
        ),
        (
            "index",
            json!({"receipt": {"index": receipt["index"].as_u64().unwrap() - 1}}),
            &["inclusion"],
        ),
        (
            "signature",
            json!({"entry": {"signature": flip_first(wire["signature"].as_str().unwrap())},
                   "public_key": voter.key.public_b64()}),
            &["leaf-hash", "statement-signature"],
        ),
        (
            "public key of another board",
            json!({"public_key": other.key.public_b64()}),
            &["statement-signature"],
        ),
    ];
    for (what, change, failing) in tamperings {
        let mut tampered = file.clone();
        merge(&mut tampered, &change);
        assert_ne!(tampered, file, "{what}");
        let (code, out) = verify_json(&tampered, Some(&log_key));
        assert_eq!(code, 1, "{what}: {out}");
        for check in failing {
            assert!(out.contains(&format!("FAIL  {check}:")), "{what}: {out}");
        }
        assert!(
            out.contains(&format!("FAILED: {}", failing.join(", "))),
            "{what}: {out}"
        );
    }

    // A log key other than the one pinned: the file's key and the checkpoint both fail.
    let other_key = {
        let signer = mandaat::transparency::note::NoteSigner::new(
            log_key.split('+').next().unwrap(),
            ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap();
        signer.verifier_key()
    };
    let (code, out) = verify_json(&file, Some(&other_key));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED: log-key, checkpoint-signature, inclusion"),
        "{out}"
    );

    // Unreadable input: exit status 2.
    let (code, out) = verify("not json", Some(&log_key));
    assert_eq!(code, 2, "{out}");
    let mut wrong_format = file.clone();
    wrong_format["format"] = json!("mandaat.receipt.v0");
    let (code, out) = verify_json(&wrong_format, Some(&log_key));
    assert_eq!(code, 2, "{out}");
    let missing = Command::new(env!("CARGO_BIN_EXE_mandaat"))
        .args(["receipt", "verify", "/nonexistent/receipt.json"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

/// Overwrites the members of `target` named in `change`, recursively.
fn merge(target: &mut Value, change: &Value) {
    match (target, change) {
        (Value::Object(t), Value::Object(c)) => {
            for (k, v) in c {
                match t.get_mut(k) {
                    Some(existing) if v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, c) => *t = c.clone(),
    }
}
