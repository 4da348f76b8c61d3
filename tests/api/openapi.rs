use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Checked, TestApp};

/// The committed document must be what the server serves, so clients generated
/// from it match the running API.
#[tokio::test]
async fn committed_openapi_document_matches_the_served_one() {
    let app = TestApp::spawn().await;
    let (status, _, served) = app.raw(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let served: Value = serde_json::from_str(&served).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    assert!(
        served == committed,
        "openapi/openapi.json is out of date; regenerate it with\n    cargo run -- openapi > openapi/openapi.json"
    );
}

#[tokio::test]
async fn every_operation_documents_its_errors_as_problems() {
    let app = TestApp::spawn().await;
    let (_, _, served) = app.raw(Method::GET, "/openapi.json", None, None).await;
    let doc: Value = serde_json::from_str(&served).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
            // Each operation lists the statuses it can answer with (the contract
            // check in tests/api/contract.rs holds every test's answers to them);
            // some follow from its shape alone.
            let mut expected = Vec::new();
            if path.starts_with("/api/") && op.get("security").is_some() {
                expected.extend(["401", "429", "500", "503"]);
            }
            if path.contains('{') {
                expected.extend(["400", "404"]);
            }
            if op.get("requestBody").is_some() {
                expected.extend(["400", "413", "415"]);
            }
            for expected in expected {
                assert!(
                    statuses.contains(&expected),
                    "{method} {path} lacks {expected}"
                );
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status} is not a problem"
                    );
                }
            }
        }
    }
    let (status, content_type, html) = app.raw(Method::GET, "/docs", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        html.contains("rapi-doc") && html.contains("/api/v1/members"),
        "docs page lacks the API"
    );
}

/// `/docs` comes entirely from this server: a strict Content-Security-Policy, and no
/// other host named in the page, in its scripts' addresses or in the CSP.
#[tokio::test]
async fn the_docs_page_loads_nothing_from_another_host() {
    let app = TestApp::spawn().await;
    let response = app.client.get(format!("{}/docs", app.base)).checked().await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "font-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} not in {csp}");
    }
    assert!(!csp.contains("http") && !csp.contains('*'), "{csp}");
    assert!(
        !csp.split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap()
            .contains("unsafe"),
        "{csp}"
    );
    let html = response.text().await.unwrap();
    // The page's own markup (the embedded document is data, and names no host either).
    let lower = html.to_ascii_lowercase();
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "{html}"
    );
    assert!(
        !lower.contains("//fonts") && !lower.contains("src=\"//"),
        "{html}"
    );
    // Every script is a file of this server, and it is served.
    for src in html.split("<script src=\"").skip(1) {
        let src = src.split('"').next().unwrap();
        assert!(src.starts_with("/web/"), "{src}");
        let (status, content_type, _) = app.raw(Method::GET, src, None, None).await;
        assert_eq!(status, StatusCode::OK, "{src}");
        assert!(content_type.starts_with("text/javascript"), "{src}");
    }
    assert!(html.contains("/web/vendor/rapidoc-min.js"), "{html}");
    // No inline script runs: the only inline <script> is JSON data.
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        assert!(
            tag.contains("src=") || tag.contains("type=\"application/json\""),
            "inline script: <script{tag}>"
        );
    }
}
