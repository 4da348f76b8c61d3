//! The contract check: every response the tests receive through the harness is
//! validated against the committed OpenAPI document (`openapi/openapi.json`): the
//! status must be listed for the operation, the content type must be one it
//! documents for that status, and the body must match the schema (JSON Schema draft
//! 4, which OpenAPI 3.0's schema object is built on, with `nullable` rewritten as a
//! `null` type; formats such as `uuid` and `date-time` are checked too).
//!
//! Requests that go off the API on purpose are skipped by path, listed below.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Paths outside the API that tests request on purpose: the web client, the docs
/// page, the document itself, the routes mounted only in tests, and made-up routes
/// that show how unknown paths are answered. Everything else must be in the document.
const OFF_API_PREFIXES: &[&str] = &[
    // mandaat::startup::TEST_ROUTES: deliberately panicking or slow test routes.
    "/__test/", // The web client's files.
    "/web/",    // The API docs page and its assets.
    "/docs/",
];
const OFF_API_PATHS: &[&str] = &[
    // The web client's entry page.
    "/",
    "/docs",
    // The document this module reads (tests/api/openapi.rs compares them).
    "/openapi.json",
    "/__test",
    // An unknown route, to see it answered with a 404 problem.
    "/api/v1/nothing-here",
    // `/web/../Cargo.toml` as the client sends it: nothing outside web/ is served.
    "/Cargo.toml",
];

struct Template {
    path: String,
    /// `None` where the template has a `{parameter}`.
    segments: Vec<Option<String>>,
}

struct Contract {
    doc: Value,
    templates: Vec<Template>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(Contract::load);

impl Contract {
    fn load() -> Contract {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
        let text = std::fs::read_to_string(path).expect("openapi/openapi.json is readable");
        let mut doc: Value = serde_json::from_str(&text).expect("openapi/openapi.json is JSON");
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.0")),
            "the contract check reads OpenAPI 3.0 (`nullable`, boolean `exclusiveMinimum`); \
             the document says {}",
            doc["openapi"]
        );
        mandaat::api::document::nullable_as_json_schema(&mut doc);
        let templates = doc["paths"]
            .as_object()
            .expect("the document has paths")
            .keys()
            .map(|path| Template {
                path: path.clone(),
                segments: path
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect(),
            })
            .collect();
        Contract {
            doc,
            templates,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The template that `path` is an instance of; literal segments beat parameters.
    fn template(&self, path: &str) -> Option<&Template> {
        let parts: Vec<&str> = path.split('/').collect();
        self.templates
            .iter()
            .filter(|t| {
                t.segments.len() == parts.len()
                    && t.segments.iter().zip(&parts).all(|(s, p)| match s {
                        Some(literal) => literal == p,
                        None => !p.is_empty(),
                    })
            })
            .max_by_key(|t| t.segments.iter().filter(|s| s.is_some()).count())
    }

    fn validator(&self, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap();
        if let Some(v) = cache.get(key) {
            return v.clone();
        }
        // The schema with the document's components beside it, so that
        // `#/components/schemas/...` resolves within this root.
        let root = json!({"allOf": [schema], "components": self.doc["components"]});
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            // Draft 4 knows no `uuid` format and would let anything through; OpenAPI's
            // is RFC 4122's hyphenated form (36 characters).
            .with_format("uuid", |s: &str| {
                s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
            })
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema of {key} does not compile: {e}"));
        let validator = Arc::new(validator);
        cache.insert(key.to_owned(), validator.clone());
        validator
    }
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Checks one response against the document; panics with the operation, the status
/// and what does not match.
pub fn check(
    method: &Method,
    url_path: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) {
    let path = url_path.split(['?', '#']).next().unwrap_or_default();
    if OFF_API_PATHS.contains(&path) || OFF_API_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return;
    }
    let contract = &*CONTRACT;
    let Some(template) = contract.template(path) else {
        panic!(
            "{method} {path} is not in openapi/openapi.json; a test that goes off the API \
             on purpose lists the path in tests/api/contract.rs"
        );
    };
    let item = &contract.doc["paths"][&template.path];
    let op_name = format!("{method} {}", template.path);
    let Some(operation) = item.get(method.as_str().to_ascii_lowercase()) else {
        // A method the path does not have: it must be a 405 that says which it has.
        let allow = headers
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{op_name} is not in the document, yet was answered {status}"
        );
        for documented in item.as_object().unwrap().keys() {
            let documented = documented.to_ascii_uppercase();
            assert!(
                allow.split(',').any(|m| m.trim() == documented),
                "{op_name}: the 405's Allow ({allow:?}) lacks {documented}"
            );
        }
        return;
    };
    let responses = &operation["responses"];
    let code = status.as_str();
    let (key, response) = match responses.get(code) {
        Some(r) => (code, r),
        None => match responses.get("default") {
            Some(r) => ("default", r),
            None => {
                let listed: Vec<&String> = responses.as_object().unwrap().keys().collect();
                panic!(
                    "{op_name} answered {status}, which its responses do not list ({listed:?}); \
                     body: {}",
                    String::from_utf8_lossy(body)
                );
            }
        },
    };
    let content = response.get("content").and_then(Value::as_object);
    let Some(content) = content.filter(|c| !c.is_empty()) else {
        assert!(
            body.is_empty(),
            "{op_name} {status} documents no body, yet sent {}",
            String::from_utf8_lossy(body)
        );
        return;
    };
    let sent = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some((media, spec)) = content
        .iter()
        .find(|(media, _)| essence(media) == essence(sent))
    else {
        let documented: Vec<&String> = content.keys().collect();
        panic!("{op_name} {status} has content type {sent:?}, not one of {documented:?}");
    };
    if method == Method::HEAD {
        return;
    }
    let Some(schema) = spec.get("schema") else {
        return;
    };
    let instance = if essence(media).ends_with("json") {
        serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!(
                "{op_name} {status}: the {media} body is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        })
    } else {
        Value::String(String::from_utf8_lossy(body).into_owned())
    };
    let validator = contract.validator(&format!("{op_name} {key} {media}"), schema);
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect();
    assert!(
        errors.is_empty(),
        "{op_name} {status}: the {media} body does not match the documented schema:\n  {}\nbody: {}",
        errors.join("\n  "),
        truncate(&instance.to_string())
    );
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(2000) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
