//! Every endpoint × every role: allowed, 401 without a token, 403 for the wrong role.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use mandaat::domain::member::Sector;

use crate::helpers::{BoardKey, TestApp};

#[derive(Clone, Copy, Debug)]
enum Caller {
    Anonymous,
    Admin,
    OwnBoard,
    OtherBoard,
    Council,
    Auditor,
}

const CALLERS: [Caller; 6] = [
    Caller::Anonymous,
    Caller::Admin,
    Caller::OwnBoard,
    Caller::OtherBoard,
    Caller::Council,
    Caller::Auditor,
];

#[tokio::test]
async fn every_endpoint_for_every_role() {
    let app = TestApp::spawn().await;
    let own = app
        .create_member(10001, "Stichting Eigen", Some(800), None)
        .await;
    let other = app
        .create_member(10002, "Stichting Ander", None, Some(4000))
        .await;
    let token = |caller: Caller| -> Option<String> {
        match caller {
            Caller::Anonymous => None,
            Caller::Admin => Some(app.admin()),
            Caller::OwnBoard => Some(app.board(own)),
            Caller::OtherBoard => Some(app.board(other)),
            Caller::Council => Some(app.council(Sector::Po)),
            Caller::Auditor => Some(app.auditor()),
        }
    };
    use Caller::*;
    let ok_for_all = |c: Caller| {
        if matches!(c, Anonymous) {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        }
    };
    let admin_only = |c: Caller, ok: StatusCode| match c {
        Anonymous => StatusCode::UNAUTHORIZED,
        Admin => ok,
        _ => StatusCode::FORBIDDEN,
    };

    let mut bg = 20000;
    for caller in CALLERS {
        let t = token(caller);
        let t = t.as_deref();
        let check = |what: &str, got: (StatusCode, Value), expected: StatusCode| {
            assert_eq!(got.0, expected, "{what} as {caller:?}: {}", got.1);
        };

        check(
            "list members",
            app.request(Method::GET, "/api/v1/members", t, None).await,
            ok_for_all(caller),
        );
        check(
            "get member",
            app.request(Method::GET, &format!("/api/v1/members/{own}"), t, None)
                .await,
            ok_for_all(caller),
        );
        bg += 1;
        let new = json!({"bg_number": bg, "name": "Nieuw", "pupils": {"po": 10}});
        check(
            "create member",
            app.request(Method::POST, "/api/v1/members", t, Some(&new))
                .await,
            admin_only(caller, StatusCode::CREATED),
        );
        check(
            "patch member",
            app.request(
                Method::PATCH,
                &format!("/api/v1/members/{own}"),
                t,
                Some(&json!({"name": "Stichting Eigen"})),
            )
            .await,
            admin_only(caller, StatusCode::OK),
        );
        check(
            "list keys",
            app.request(Method::GET, &format!("/api/v1/members/{own}/keys"), t, None)
                .await,
            ok_for_all(caller),
        );

        let key = BoardKey::generate();
        let register = app
            .request(
                Method::POST,
                &format!("/api/v1/members/{own}/keys"),
                t,
                Some(&key.proof(own)),
            )
            .await;
        let expected = match caller {
            Anonymous => StatusCode::UNAUTHORIZED,
            OwnBoard => StatusCode::CREATED,
            _ => StatusCode::FORBIDDEN,
        };
        check("register key", register, expected);

        // A key to revoke, registered by the board itself.
        let victim = BoardKey::generate();
        assert_eq!(victim.register(&app, own).await.0, StatusCode::CREATED);
        let path = format!("/api/v1/members/{own}/keys/{}/revoke", victim.key_id());
        let body = match caller {
            OwnBoard | OtherBoard => json!({"revocation": victim.sign(&json!({
                "type": "mandaat.key-revocation.v1", "member": own.to_string(), "key_id": victim.key_id()
            }))}),
            _ => json!({"reason": "lost laptop"}),
        };
        let expected = match caller {
            Anonymous => StatusCode::UNAUTHORIZED,
            Admin | OwnBoard => StatusCode::OK,
            _ => StatusCode::FORBIDDEN,
        };
        check(
            "revoke key",
            app.request(Method::POST, &path, t, Some(&body)).await,
            expected,
        );
    }
}

/// Every operation that the OpenAPI document marks as needing a token answers 401
/// without one, as a problem: nothing is readable or writable anonymously.
#[tokio::test]
async fn every_secured_operation_refuses_anonymous_callers() {
    let app = TestApp::spawn().await;
    let (_, _, doc) = app.raw(Method::GET, "/openapi.json", None, None).await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if operation.get("security").is_none() {
                continue;
            }
            let concrete = path
                .replace("{id}", &uuid::Uuid::new_v4().to_string())
                .replace("{key_id}", &"ab".repeat(32))
                .replace("{leaf_hash}", &"cd".repeat(32));
            let method: Method = method.to_uppercase().parse().unwrap();
            let body = (method != Method::GET).then(|| json!({}));
            let (status, content_type, text) = app
                .raw(method.clone(), &concrete, None, body.as_ref())
                .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {text}");
            assert_eq!(content_type, "application/problem+json", "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} secured operations found");
}

/// The role is checked before what a body says: a caller who may not draft or change
/// proposals hears 403, not which field of its body was wrong.
#[tokio::test]
async fn the_role_is_refused_before_the_body_is_judged() {
    let app = TestApp::spawn().await;
    let council = app.council(Sector::Po);
    let invalid = json!({"title": "", "kind": "resolution", "description": "",
        "electorate": {"sectors": [], "weighting": "pupils", "quorum": "3/2",
                       "majority": {"kind": "more-than", "fraction": "1/2"}},
        "opens_at": "2026-12-01T00:00:00Z", "closes_at": "2026-11-01T00:00:00Z"});
    let (status, body) = app.post("/api/v1/proposals", &council, &invalid).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, draft) = app
        .post(
            "/api/v1/proposals",
            &app.admin(),
            &crate::voting::spec(
                &app,
                "Concept",
                crate::voting::resolution(),
                crate::voting::electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let id = draft["id"].as_str().unwrap();
    let other = app
        .create_member(30001, "Stichting Ander", Some(100), None)
        .await;
    let (status, body) = app
        .patch(
            &format!("/api/v1/proposals/{id}"),
            &app.board(other),
            &invalid,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
