//! The web client: the files in `web/`, embedded in the binary (a debug build reads
//! them from disk, so editing them needs no rebuild), served with the headers that
//! keep a voting page safe: a strict Content-Security-Policy, no framing, no sniffing.
//!
//! `GET /` is `web/index.html`; every other file is at `/web/<path>`. The tests of
//! the web client (`web/test/`) are not served.

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
#[exclude = "test/*"]
#[exclude = "*.md"]
pub struct WebAssets;

/// Scripts and styles only from this origin, no eval, nothing from other hosts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Serves one embedded file, or, with `path: None`, the file named by the request path.
pub struct WebFiles {
    fixed: Option<&'static str>,
}

impl WebFiles {
    /// The app's entry page.
    pub fn index() -> Self {
        WebFiles {
            fixed: Some("index.html"),
        }
    }

    /// Every file under `web/`, by the path after the mount point.
    pub fn files() -> Self {
        WebFiles { fixed: None }
    }
}

impl Endpoint for WebFiles {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Err(poem::Error::from_response(response));
        }
        let path = match self.fixed {
            Some(path) => path.to_owned(),
            None => request.uri().path().trim_start_matches('/').to_owned(),
        };
        // Only plain relative paths: no traversal, no hidden files, no tests.
        let servable = !path.is_empty()
            && !path
                .split('/')
                .any(|part| part.is_empty() || part.starts_with('.'));
        let Some(file) = servable.then(|| WebAssets::get(&path)).flatten() else {
            return Err(StatusCode::NOT_FOUND.into());
        };
        let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
        let fresh = request
            .header(header::IF_NONE_MATCH)
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag));
        let mut response = if fresh {
            Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .finish()
        } else {
            let mime = mime_guess::from_path(&path).first_or_octet_stream();
            let body = if request.method() == Method::HEAD {
                Vec::new()
            } else {
                file.data.into_owned()
            };
            Response::builder()
                .content_type(content_type(mime.essence_str()))
                .body(body)
        };
        let headers = response.headers_mut();
        if let Ok(etag) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, etag);
        }
        // Revalidate every time: a new release takes effect at the next load, and an
        // unchanged file costs a 304.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        add_page_headers(headers);
        Ok(response)
    }
}

fn content_type(essence: &str) -> String {
    match essence {
        // Browsers only run modules served as JavaScript; .mjs is not always known.
        "application/javascript" | "text/javascript" => "text/javascript; charset=utf-8".into(),
        t if t.starts_with("text/") || t == "application/json" || t == "image/svg+xml" => {
            format!("{t}; charset=utf-8")
        }
        other => other.to_owned(),
    }
}

/// The security headers of every page and file of the web client.
pub fn add_page_headers(headers: &mut poem::http::HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
}

/// The API docs page's policy: scripts only from this origin (RapiDoc from
/// web/vendor, and web/docs.js), no request to another host. RapiDoc writes inline
/// `style` attributes and elements, so styles may be inline; nothing else is.
pub const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// `GET /docs`: `web/docs.html` with the OpenAPI document embedded as JSON data.
pub struct DocsPage {
    html: String,
}

impl DocsPage {
    pub fn new(document: &str) -> Self {
        let template = WebAssets::get("docs.html")
            .map(|file| String::from_utf8_lossy(&file.data).into_owned())
            .unwrap_or_default();
        // Inside <script type="application/json"> only `</script` could end the
        // element early; `<` written as \u003c is the same JSON.
        let data = document.replace('<', "\\u003c");
        DocsPage {
            html: template.replace("{{openapi}}", &data),
        }
    }
}

impl Endpoint for DocsPage {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Err(poem::Error::from_response(response));
        }
        if self.html.is_empty() {
            return Err(StatusCode::NOT_FOUND.into());
        }
        let body = if request.method() == Method::HEAD {
            String::new()
        } else {
            self.html.clone()
        };
        let mut response = Response::builder()
            .content_type("text/html; charset=utf-8")
            .body(body);
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        add_page_headers(headers);
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CONTENT_SECURITY_POLICY),
        );
        Ok(response)
    }
}
