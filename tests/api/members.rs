use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Checked, TestApp, assert_problem};

#[tokio::test]
async fn admin_creates_reads_and_changes_a_member() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let resp = app
        .client
        .post(format!("{}/api/v1/members", app.base))
        .bearer_auth(&admin)
        .json(&json!({"bg_number": 41775, "name": "Stichting BOOR", "pupils": {"po": 19907}}))
        .checked()
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let created: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/members/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["chamber"], "po-large");
    assert_eq!(created["sectors"], json!(["PO"]));
    assert_eq!(created["status"], "active");

    let (status, fetched) = app.get(&location, &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);

    app.clock.advance(chrono::Duration::seconds(5));
    // Shrinking the board moves it to the small chamber; adding VO makes it combined.
    let (status, changed) = app
        .patch(&location, &admin, &json!({"pupils": {"po": 900}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["chamber"], "small");
    let (_, changed) = app
        .patch(
            &location,
            &admin,
            &json!({"pupils": {"po": 900, "vo": 5000}, "status": "suspended"}),
        )
        .await;
    assert_eq!(changed["chamber"], "combined");
    assert_eq!(changed["sectors"], json!(["PO", "VO"]));
    assert_eq!(changed["status"], "suspended");
    assert_eq!(changed["name"], "Stichting BOOR");
    assert_eq!(changed["created_at"], created["created_at"]);
    assert_ne!(changed["updated_at"], created["updated_at"]);
}

#[tokio::test]
async fn duplicate_bg_number_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.create_member(24597, "Rotterdamse Ver Kath Ond", Some(19997), None)
        .await;
    let (status, body) = app
        .post(
            "/api/v1/members",
            &app.admin(),
            &json!({"bg_number": 24597, "name": "Copy", "pupils": {"po": 1}}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "duplicate-bg-number");
    let (_, list) = app.get("/api/v1/members", &app.admin()).await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn invalid_members_are_refused_with_reasons() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for (body, needle) in [
        (
            json!({"bg_number": 0, "name": "x", "pupils": {"po": 1}}),
            "bevoegd-gezag number",
        ),
        (
            json!({"bg_number": 5, "name": "   ", "pupils": {"po": 1}}),
            "name",
        ),
        (
            json!({"bg_number": 5, "name": "x", "pupils": {}}),
            "at least one sector",
        ),
        (
            json!({"bg_number": 5, "name": "x", "pupils": {"vo": 99_000_000}}),
            "VO",
        ),
    ] {
        let (status, problem) = app.post("/api/v1/members", &admin, &body).await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        );
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{problem}"
        );
    }
    let id = app.create_member(5, "Valid", Some(1), None).await;
    let (status, problem) = app
        .patch(
            &format!("/api/v1/members/{id}"),
            &admin,
            &json!({"pupils": {}}),
        )
        .await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    );
    let (status, problem) = app
        .get(&format!("/api/v1/members/{}", uuid::Uuid::new_v4()), &admin)
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
    let (status, problem) = app
        .patch(
            &format!("/api/v1/members/{}", uuid::Uuid::new_v4()),
            &admin,
            &json!({"name": "x"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn lists_filter_and_paginate() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for (bg, po, vo) in [
        (1, Some(500), None),
        (2, Some(5000), None),
        (3, None, Some(100)),
        (4, None, Some(9000)),
        (5, Some(10), Some(10)),
    ] {
        app.create_member(bg, &format!("Board {bg}"), po, vo).await;
    }
    let suspended = app.create_member(6, "Board 6", Some(1), None).await;
    app.patch(
        &format!("/api/v1/members/{suspended}"),
        &admin,
        &json!({"status": "suspended"}),
    )
    .await;

    let numbers = |page: &serde_json::Value| -> Vec<u64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["bg_number"].as_u64().unwrap())
            .collect()
    };
    let (_, page) = app.get("/api/v1/members?sector=PO", &admin).await;
    assert_eq!(numbers(&page), vec![1, 2, 5, 6]);
    let (_, page) = app.get("/api/v1/members?sector=VO", &admin).await;
    assert_eq!(numbers(&page), vec![3, 4, 5]);
    let (_, page) = app.get("/api/v1/members?chamber=small", &admin).await;
    assert_eq!(numbers(&page), vec![1, 3, 6]);
    let (_, page) = app
        .get("/api/v1/members?chamber=small&status=active", &admin)
        .await;
    assert_eq!(numbers(&page), vec![1, 3]);
    let (_, page) = app.get("/api/v1/members?bg_number=4", &admin).await;
    assert_eq!(page["items"][0]["chamber"], "vo-large");

    let (_, page) = app.get("/api/v1/members?limit=2&offset=2", &admin).await;
    assert_eq!(numbers(&page), vec![3, 4]);
    assert_eq!(
        (
            page["total"].as_u64(),
            page["limit"].as_u64(),
            page["offset"].as_u64()
        ),
        (Some(6), Some(2), Some(2))
    );
    let (_, page) = app.get("/api/v1/members?limit=2&offset=6", &admin).await;
    assert_eq!(numbers(&page), Vec::<u64>::new());

    let (status, problem) = app.get("/api/v1/members?sector=MBO", &admin).await;
    assert_problem(status, &problem, StatusCode::BAD_REQUEST, "bad-parameter");
}

/// A text member of a body must be a JSON string: a number or a boolean is not
/// turned into text (poem-openapi's `String` would have made `false` the name "false").
#[tokio::test]
async fn text_fields_take_only_json_strings() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for name in [json!(false), json!(41775)] {
        let (status, body) = app
            .post(
                "/api/v1/members",
                &admin,
                &json!({"bg_number": 41775, "name": name, "pupils": {"po": 1}}),
            )
            .await;
        assert_problem(status, &body, StatusCode::BAD_REQUEST, "malformed-body");
    }
    let (status, body) = app
        .request(
            reqwest::Method::POST,
            "/api/v1/sessions",
            None,
            Some(&json!({"invitation": 12345})),
        )
        .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "malformed-body");
    let (status, page) = app.get("/api/v1/members?bg_number=41775", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 0, "{page}");
}
