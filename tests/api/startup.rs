//! Starting and stopping: server keys are created once, kept, and never silently
//! replaced; the binary shuts down gracefully on SIGTERM.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use reqwest::StatusCode;

use mandaat::Application;

use crate::helpers::{Checked, TestApp, TestDatabase};

async fn start_error(app: &TestApp) -> String {
    match Application::build(app.restart_config()).await {
        Ok(_) => panic!("the application started"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn server_keys_are_created_private_and_kept() {
    let app = TestApp::spawn().await;
    for purpose in ["token-signing", "log-signing"] {
        let mode = std::fs::metadata(app.key_file(purpose))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{purpose} key file mode");
    }
    // A second start on the same data loads the same key: old tokens stay valid.
    let token = app.admin();
    let again = Application::build(app.restart_config()).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let base = format!("http://{}", again.local_addr());
    tokio::spawn(again.run_until(async {
        let _ = rx.await;
    }));
    let resp = app
        .client
        .get(format!("{base}/api/v1/members"))
        .bearer_auth(&token)
        .checked()
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = tx.send(());
}

#[tokio::test]
async fn a_missing_key_file_stops_the_start() {
    let app = TestApp::spawn().await;
    std::fs::remove_file(app.key_file("token-signing")).unwrap();
    let error = start_error(&app).await;
    assert!(
        error.contains("token-signing key file") && error.contains("is missing"),
        "{error}"
    );
    assert!(
        !app.key_file("token-signing").exists(),
        "no new key was made"
    );
}

#[tokio::test]
async fn a_corrupt_key_file_stops_the_start() {
    let app = TestApp::spawn().await;
    std::fs::write(
        app.key_file("log-signing"),
        "-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let error = start_error(&app).await;
    assert!(
        error.contains("log-signing key file") && error.contains("not a PKCS#8"),
        "{error}"
    );
}

#[tokio::test]
async fn a_swapped_key_file_stops_the_start() {
    let app = TestApp::spawn().await;
    // Another deployment's valid key.
    let other_dir = tempfile::tempdir().unwrap();
    let other = TestApp::spawn_with(other_dir, TestDatabase::new().await, 1024).await;
    std::fs::copy(
        other.key_file("token-signing"),
        app.key_file("token-signing"),
    )
    .unwrap();
    let error = start_error(&app).await;
    assert!(error.contains("this database was set up with"), "{error}");
}

#[tokio::test]
async fn an_unreadable_key_file_stops_the_start() {
    let app = TestApp::spawn().await;
    let path = app.key_file("token-signing");
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let error = start_error(&app).await;
    assert!(
        error.contains("cannot read the token-signing key file"),
        "{error}"
    );
}

#[tokio::test]
async fn the_binary_serves_and_stops_gracefully_on_sigterm() {
    let data_dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mandaat"));
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path());
    if let Some(url) = db.url() {
        cmd.arg("--database-url").arg(url);
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .env_remove("MANDAAT_DATABASE_URL")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let banner = lines.next().unwrap().unwrap();
    let base = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let rest: Vec<String> = lines.by_ref().take(9).map(Result::unwrap).collect();
    assert!(rest.iter().any(|l| l.contains("/docs")), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("invite --role admin")),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.contains("token issue --role admin")),
        "{rest:?}"
    );

    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let tail: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(
        tail.iter().any(|l| l.contains("Mandaat stopped")),
        "{tail:?}"
    );
}
