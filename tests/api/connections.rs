//! Bounded resources (issue 10, finding 1): slow headers, idle keep-alive
//! connections, slow handlers and too many connections are all cut off or held back
//! within the configured bounds, while other clients are still served.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use mandaat::Application;

use crate::helpers::{Checked, TestApp, TestDatabase, assert_problem, test_config};

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: mandaat\r\n\r\n";

async fn connect(app: &TestApp) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.unwrap()
}

/// Reads one response to `GET /healthz` (its body is `ok`) from the stream.
async fn read_health(stream: &mut TcpStream) -> String {
    let mut text = Vec::new();
    let mut buf = [0u8; 1024];
    while !text.ends_with(b"\r\n\r\nok") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the response: {text:?}");
        text.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(text).unwrap()
}

/// Waits until the server closes the connection (end of stream or reset); how long.
async fn closed_after(stream: &mut (impl AsyncReadExt + Unpin), limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("still open after {limit:?}"));
    start.elapsed()
}

/// A normal request on a fresh connection is answered at once.
async fn served(app: &TestApp) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let response = client.get(format!("{}/healthz", app.base)).checked().await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_slow_headers_and_idle_keep_alive_are_closed_in_time() {
    let header_timeout = Duration::from_secs(1);
    let idle_timeout = Duration::from_secs(2);
    let app = TestApp::spawn_with_config(|config| {
        config.connections.header_read_timeout = header_timeout;
        config.connections.idle_timeout = idle_timeout;
    })
    .await;
    let margin = Duration::from_millis(1500);

    // Slowloris: one header line a second, never the blank line. The writes keep
    // the connection from being idle; only the header-read timeout can end it.
    let (mut slow_read, mut slow_write) = connect(&app).await.into_split();
    slow_write
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for i in 0.. {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let line = format!("X-Slow-{i}: 1\r\n");
            if slow_write.write_all(line.as_bytes()).await.is_err() {
                return i;
            }
        }
        unreachable!()
    });

    // A keep-alive connection that is served once and then says nothing.
    let mut idle = connect(&app).await;
    idle.write_all(HEALTHZ).await.unwrap();
    let response = read_health(&mut idle).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let (slow, idle_for, ()) = tokio::join!(
        closed_after(&mut slow_read, header_timeout + margin),
        closed_after(&mut idle, idle_timeout + margin),
        async {
            // Others are served while both are open.
            tokio::time::sleep(Duration::from_millis(500)).await;
            served(&app).await;
        }
    );
    assert!(
        slow >= header_timeout - Duration::from_millis(200),
        "cut too early: {slow:?}"
    );
    assert!(
        idle_for >= idle_timeout - Duration::from_millis(200),
        "cut too early: {idle_for:?}"
    );
    tokio::time::timeout(Duration::from_secs(3), trickle)
        .await
        .expect("the slow writer notices the close")
        .unwrap();
    // And after.
    served(&app).await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let app = TestApp::spawn_with_config(|config| {
        config.connections.max_connections = 4;
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&app).await;
        stream.write_all(HEALTHZ).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), read_health(&mut stream))
            .await
            .expect("served under the cap");
        open.push(stream);
    }
    // The fifth connects (the kernel's backlog takes it) but is not served...
    let mut fifth = tokio::time::timeout(Duration::from_secs(5), connect(&app))
        .await
        .unwrap();
    fifth.write_all(HEALTHZ).await.unwrap();
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_secs(1), fifth.read(&mut buf))
            .await
            .is_err(),
        "a fifth connection was served while four were open"
    );
    // ...until one of the four closes.
    drop(open.pop());
    tokio::time::timeout(Duration::from_secs(5), read_health(&mut fifth))
        .await
        .expect("served once a connection closed");
}

#[poem::handler]
async fn slow_handler() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "finally"
}

#[tokio::test]
async fn connections_a_request_over_its_time_is_a_503_problem() {
    let data_dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let mut config = test_config(data_dir.path(), &db);
    config.connections.request_timeout = Duration::from_secs(1);
    let app = Application::build_with(config, Some(poem::Route::new().at("/slow", slow_handler)))
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let start = Instant::now();
    let response = client
        .get(format!("{base}{}/slow", mandaat::startup::TEST_ROUTES))
        .send()
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(3)).contains(&took),
        "{took:?}"
    );
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_problem(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "request-timeout",
    );
    // Quick requests are unaffected.
    let health = client.get(format!("{base}/healthz")).checked().await;
    assert_eq!(health.status(), StatusCode::OK);
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
