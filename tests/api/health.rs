use reqwest::{Method, StatusCode};

use crate::helpers::TestApp;

#[tokio::test]
async fn health_and_readiness_need_no_token() {
    let app = TestApp::spawn().await;
    let (status, _, body) = app.raw(Method::GET, "/healthz", None, None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let (status, _, body) = app.raw(Method::GET, "/readyz", None, None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ready"));
}
