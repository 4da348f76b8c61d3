//! `mandaat backup` while boards vote, `mandaat restore` into a fresh data directory,
//! and the restored log verifies; a restore that cannot be trusted changes nothing.

use std::path::Path;
use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::voting::{board, cast, draft_and_open, electorate, resolution, spec};

fn mandaat(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mandaat"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("MANDAAT_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn copy_keys(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in ["log-signing.key.pem", "token-signing.key.pem"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

#[tokio::test]
async fn a_backup_under_load_restores_into_a_fresh_directory_and_verifies() {
    let app = TestApp::spawn().await;
    if app.db.url().is_some() {
        // PostgreSQL deployments back up with pg_dump; the command says so.
        let out = app.cli(&["backup", "--out", "/tmp/never-written.sqlite"]);
        assert!(!out.status.success());
        assert!(text(&out).contains("pg_dump"), "{}", text(&out));
        return;
    }
    let boards = [
        board(&app, 1, Some(100), None).await,
        board(&app, 2, Some(200), None).await,
        board(&app, 3, Some(300), None).await,
    ];
    let open = draft_and_open(
        &app,
        &spec(
            &app,
            "Begroting",
            resolution(),
            electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
        ),
    )
    .await;
    let before = cast(&app, &open, &boards[0], json!({"vote": "yes"})).await;
    assert_eq!(before.0, StatusCode::CREATED, "{}", before.1);

    // Boards keep voting while the backup is taken.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.sqlite");
    let (data_dir, out_path) = (app.data_dir.path().to_owned(), file.clone());
    let backup = tokio::task::spawn_blocking(move || {
        mandaat(&["backup", "--out", out_path.to_str().unwrap()], &data_dir)
    });
    let voting = async {
        let mut accepted = 0;
        for round in 0..20 {
            let b = &boards[round % 3];
            let vote = if round % 2 == 0 { "yes" } else { "no" };
            if cast(&app, &open, b, json!({"vote": vote})).await.0 == StatusCode::CREATED {
                accepted += 1;
            }
        }
        accepted
    };
    let (backup, accepted) = tokio::join!(backup, voting);
    let backup = backup.unwrap();
    assert!(backup.status.success(), "{}", text(&backup));
    assert_eq!(accepted, 20);
    // The backup never overwrites.
    let again = mandaat(
        &["backup", "--out", file.to_str().unwrap()],
        app.data_dir.path(),
    );
    assert!(!again.status.success() && text(&again).contains("exists already"));

    // A fresh directory with the deployment's key files takes it, after checking it.
    let fresh = tempfile::tempdir().unwrap();
    copy_keys(app.data_dir.path(), fresh.path());
    let restored = mandaat(&["restore", "--from", file.to_str().unwrap()], fresh.path());
    assert!(restored.status.success(), "{}", text(&restored));
    assert!(
        text(&restored).contains("verified the backup"),
        "{}",
        text(&restored)
    );
    assert_eq!(
        std::fs::read_to_string(fresh.path().join("log.origin")).unwrap(),
        std::fs::read_to_string(app.data_dir.path().join("log.origin")).unwrap()
    );

    // What was restored verifies as an auditor would check it, and holds the ballot
    // acknowledged before the backup began.
    let out = tempfile::tempdir().unwrap();
    let export = mandaat(
        &["audit", "export", "--out", out.path().to_str().unwrap()],
        fresh.path(),
    );
    assert!(export.status.success(), "{}", text(&export));
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("bundle.json")).unwrap()).unwrap();
    let leaf = before.1["receipt"]["leaf_hash"].as_str().unwrap();
    assert!(
        bundle["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["leaf_hash"] == leaf),
        "the ballot acknowledged before the backup is not in it"
    );
    let state = tempfile::tempdir().unwrap();
    let verified = Command::new(env!("CARGO_BIN_EXE_mandaat"))
        .args([
            "audit",
            "verify",
            out.path().to_str().unwrap(),
            "--state-dir",
        ])
        .arg(state.path())
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", text(&verified));

    // Restoring over a database needs --replace.
    let over = mandaat(&["restore", "--from", file.to_str().unwrap()], fresh.path());
    assert!(!over.status.success() && text(&over).contains("--replace"));
}

#[tokio::test]
async fn a_backup_that_other_keys_signed_is_refused_and_nothing_changes() {
    let app = TestApp::spawn().await;
    if app.db.url().is_some() {
        eprintln!("backup and restore are for SQLite; PostgreSQL uses pg_dump (README)");
        return;
    }
    board(&app, 1, Some(100), None).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.sqlite");
    let out = mandaat(
        &["backup", "--out", file.to_str().unwrap()],
        app.data_dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));

    // Without the key files, a restore cannot tell who signed the log.
    let empty = tempfile::tempdir().unwrap();
    let refused = mandaat(&["restore", "--from", file.to_str().unwrap()], empty.path());
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("nothing was changed"),
        "{}",
        text(&refused)
    );
    assert!(!empty.path().join("mandaat.sqlite").exists());

    // Another deployment's keys did not sign it.
    let other = TestApp::spawn().await;
    let foreign = tempfile::tempdir().unwrap();
    copy_keys(other.data_dir.path(), foreign.path());
    let refused = mandaat(
        &["restore", "--from", file.to_str().unwrap()],
        foreign.path(),
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("nothing was changed"),
        "{}",
        text(&refused)
    );
    assert!(!foreign.path().join("mandaat.sqlite").exists());
    assert!(!foreign.path().join("log.origin").exists());
}
