//! Proposals, signed ballots, proxies and results, through the real HTTP API with
//! keys generated here, as a board's web client would hold them.

use base64::Engine as _;
use chrono::{Duration, SecondsFormat, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use mandaat::domain::member::Sector;
use mandaat::domain::statement::BASE64URL;

use crate::helpers::{BoardKey, Checked, TestApp, TestDatabase, assert_problem, duo_data};

/// A member board with a registered key.
pub struct Board {
    pub id: Uuid,
    pub key: BoardKey,
}

pub async fn board(app: &TestApp, bg: u32, po: Option<u64>, vo: Option<u64>) -> Board {
    let id = app
        .create_member(bg, &format!("Stichting {bg}"), po, vo)
        .await;
    enroll(app, id).await
}

/// Registers a fresh key for an existing member.
pub async fn enroll(app: &TestApp, id: Uuid) -> Board {
    let key = BoardKey::generate();
    let (status, body) = key.register(app, id).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Board { id, key }
}

fn nonce() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    BASE64URL.encode(bytes)
}

fn now(app: &TestApp) -> String {
    mandaat::clock::Clock::now(app.clock.as_ref()).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An open proposal as a voter sees it.
pub struct Open {
    pub id: Uuid,
    pub digest: String,
}

pub fn electorate(
    sectors: &[&str],
    weighting: &str,
    quorum: &str,
    kind: &str,
    fraction: &str,
) -> Value {
    json!({"sectors": sectors, "weighting": weighting, "quorum": quorum,
           "majority": {"kind": kind, "fraction": fraction}, "chamber_rule": false})
}

pub fn spec(app: &TestApp, title: &str, kind: Value, electorate: Value) -> Value {
    let opens = mandaat::clock::Clock::now(app.clock.as_ref());
    let mut spec = json!({
        "title": title, "description": "Voorstel aan de ledenraad", "electorate": electorate,
        "opens_at": opens.to_rfc3339_opts(SecondsFormat::Secs, true),
        "closes_at": (opens + Duration::days(14)).to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    for (k, v) in kind.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

pub fn resolution() -> Value {
    json!({"kind": "resolution"})
}

pub fn magister_mandate() -> Value {
    json!({"kind": "mandate", "mandate": {
        "supplier": "Iddink", "product": "Magister",
        "demands": {"modular_licensing": ["roosters", "cijfers"],
                    "privacy": {"model_dpa_version": "4.0", "data_location": "EU", "no_secondary_use": true, "sub_processors_listed": true},
                    "max_term_months": 36},
        "parameters": [{"name": "max-increase", "label": "Maximum price increase", "unit": "basis-points", "min": 0, "max": 3000}]
    }})
}

pub async fn draft_and_open(app: &TestApp, spec: &Value) -> Open {
    let (status, draft) = app.post("/api/v1/proposals", &app.admin(), spec).await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let id: Uuid = draft["id"].as_str().unwrap().parse().unwrap();
    let (status, open) = app
        .post(
            &format!("/api/v1/proposals/{id}/open"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{open}");
    Open {
        id,
        digest: open["digest"].as_str().unwrap().to_owned(),
    }
}

pub fn ballot_body(
    app: &TestApp,
    p: &Open,
    voter: &Board,
    for_member: Uuid,
    choice: Value,
) -> Value {
    json!({"type": "mandaat.ballot.v1", "proposal": p.id.to_string(), "proposal_digest": p.digest,
           "voter": voter.id.to_string(), "for": for_member.to_string(), "choice": choice,
           "nonce": nonce(), "cast_at": now(app)})
}

pub async fn cast(app: &TestApp, p: &Open, voter: &Board, choice: Value) -> (StatusCode, Value) {
    cast_for(app, p, voter, voter.id, choice).await
}

pub async fn cast_for(
    app: &TestApp,
    p: &Open,
    voter: &Board,
    for_member: Uuid,
    choice: Value,
) -> (StatusCode, Value) {
    let body = voter
        .key
        .sign(&ballot_body(app, p, voter, for_member, choice));
    app.post(
        &format!("/api/v1/proposals/{}/ballots", p.id),
        &app.board(voter.id),
        &body,
    )
    .await
}

pub async fn proxy(
    app: &TestApp,
    p: &Open,
    grantor: &Board,
    holder: Uuid,
    revoke: bool,
) -> (StatusCode, Value) {
    let kind = if revoke {
        "mandaat.proxy-revocation.v1"
    } else {
        "mandaat.proxy.v1"
    };
    let body = grantor.key.sign(&json!({"type": kind, "proposal": p.id.to_string(), "proposal_digest": p.digest,
        "grantor": grantor.id.to_string(), "holder": holder.to_string(), "nonce": nonce(), "signed_at": now(app)}));
    app.post(
        &format!("/api/v1/proposals/{}/proxies", p.id),
        &app.board(grantor.id),
        &body,
    )
    .await
}

pub async fn close(app: &TestApp, p: &Open) -> Value {
    app.clock.advance(Duration::days(15));
    let (status, body) = app
        .post(
            &format!("/api/v1/proposals/{}/close", p.id),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, result) = app
        .get(
            &format!("/api/v1/proposals/{}/result", p.id),
            &app.auditor(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    result
}

async fn member_by_bg(app: &TestApp, bg: u32) -> Uuid {
    let (_, page) = app
        .get(&format!("/api/v1/members?bg_number={bg}"), &app.admin())
        .await;
    page["items"][0]["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_magister_mandate_from_draft_to_result_with_duo_members() {
    let app = TestApp::spawn().await;
    let out = app.cli(&[
        "members",
        "import",
        "--duo",
        duo_data("duo").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The import fills the board register; for this test the whole country joins.
    app.admit_all();
    // The two largest PO boards and a small one.
    let rotterdam = enroll(&app, member_by_bg(&app, 24597).await).await;
    let boor = enroll(&app, member_by_bg(&app, 41775).await).await;
    let small_id = {
        let (_, page) = app
            .get("/api/v1/members?chamber=small&limit=1", &app.admin())
            .await;
        page["items"][0]["id"].as_str().unwrap().parse().unwrap()
    };
    let small = enroll(&app, small_id).await;

    // A board drafts, an admin opens.
    let draft = spec(
        &app,
        "Magister 2027: maximaal tarief",
        magister_mandate(),
        electorate(&["PO"], "pupils", "1/50", "more-than", "1/2"),
    );
    let (status, created) = app
        .post("/api/v1/proposals", &app.board(rotterdam.id), &draft)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "draft");
    let id = created["id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/proposals/{id}/open"),
            &app.board(rotterdam.id),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only an admin opens");
    let (status, open) = app
        .post(
            &format!("/api/v1/proposals/{id}/open"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open["eligible_members"], 1052);
    let p = Open {
        id: id.parse().unwrap(),
        digest: open["digest"].as_str().unwrap().to_owned(),
    };

    // The frozen document is what the digest says, and holds the voter roll.
    let document = BASE64URL
        .decode(open["document"].as_str().unwrap())
        .unwrap();
    use sha2::Digest as _;
    assert_eq!(hex::encode(sha2::Sha256::digest(&document)), p.digest);
    let frozen: Value = serde_json::from_slice(&document).unwrap();
    assert_eq!(frozen["voter_roll"].as_array().unwrap().len(), 1052);
    assert_eq!(frozen["spec"]["mandate"]["product"], "Magister");

    // Nothing about an open proposal changes.
    let (status, body) = app
        .patch(&format!("/api/v1/proposals/{id}"), &app.admin(), &draft)
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "proposal-state");

    let (status, receipt) = cast(
        &app,
        &p,
        &rotterdam,
        json!({"vote": "yes", "parameters": {"max-increase": 300}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["counts"], true);
    assert_eq!(receipt["ballot_hash"].as_str().unwrap().len(), 64);
    assert!(receipt["entry"].as_i64().unwrap() > 0);
    cast(
        &app,
        &p,
        &boor,
        json!({"vote": "yes", "parameters": {"max-increase": 500}}),
    )
    .await;
    cast(&app, &p, &small, json!({"vote": "no"})).await;

    // While open: turnout only.
    let (_, seen) = app
        .get(&format!("/api/v1/proposals/{id}"), &app.council(Sector::Po))
        .await;
    assert_eq!(seen["voted_members"], 3);
    let result = close(&app, &p).await;
    assert_eq!(result["outcome"], "adopted");
    assert_eq!(result["eligible"]["weight"], 1_528_377);
    assert_eq!(result["yes"]["weight"], 19_997 + 19_907);
    assert_eq!(result["no"]["members"], 1);
    assert_eq!(result["quorum"]["met"], true);
    // Weighted median of 300 (19,997 pupils) and 500 (19,907 pupils).
    assert_eq!(result["parameters"][0]["agreed"], 300);
    assert_eq!(result["by_sector"]["PO"]["yes"]["members"], 2);
    assert_eq!(result["by_chamber"]["po-large"]["yes"]["members"], 2);
    assert_eq!(result["by_chamber"]["small"]["no"]["members"], 1);

    // The PO council fetches it, in JSON and in CSV.
    let (status, results) = app
        .get("/api/v1/results?sector=PO", &app.council(Sector::Po))
        .await;
    assert_eq!(status, StatusCode::OK, "{results}");
    assert_eq!(results[0]["outcome"], "adopted");
    assert_eq!(results[0]["sector_breakdown"]["yes"]["members"], 2);
    let (status, content_type, csv) = app
        .raw(
            Method::GET,
            "/api/v1/results.csv?sector=PO",
            Some(&app.council(Sector::Po)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows[1].contains("adopted") && rows[1].contains("max-increase=300"),
        "{csv}"
    );

    // Finalised, the result stays.
    let (status, body) = app
        .post(
            &format!("/api/v1/proposals/{id}/finalize"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("final"))
    );
    let (status, _) = app
        .get(
            &format!("/api/v1/proposals/{id}/result"),
            &app.board(small.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A board that was not on the roll (a VO board, for a PO mandate) does not see it.
    let outsider = app
        .create_member(99_999, "VO-bestuur", None, Some(2_000))
        .await;
    let (status, body) = app
        .get(
            &format!("/api/v1/proposals/{id}/result"),
            &app.board(outsider),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, listed) = app.get("/api/v1/results", &app.board(outsider)).await;
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn results_are_invisible_while_voting_is_open() {
    let app = TestApp::spawn().await;
    let a = board(&app, 1, Some(100), None).await;
    let b = board(&app, 2, Some(100), None).await;
    let p = draft_and_open(
        &app,
        &spec(
            &app,
            "Geheim",
            magister_mandate(),
            electorate(&["PO"], "one-member-one-vote", "1/2", "more-than", "1/2"),
        ),
    )
    .await;
    cast(
        &app,
        &p,
        &a,
        json!({"vote": "yes", "parameters": {"max-increase": 250}}),
    )
    .await;

    for token in [
        app.admin(),
        app.auditor(),
        app.council(Sector::Po),
        app.board(a.id),
        app.board(b.id),
    ] {
        let (status, body) = app
            .get(&format!("/api/v1/proposals/{}/result", p.id), &token)
            .await;
        assert_problem(status, &body, StatusCode::CONFLICT, "result-not-available");
        let (_, listed) = app.get("/api/v1/results", &token).await;
        assert_eq!(listed, json!([]));
        let (_, _, csv) = app
            .raw(Method::GET, "/api/v1/results.csv", Some(&token), None)
            .await;
        assert_eq!(csv.lines().count(), 1, "header only: {csv}");
        let (_, proposal) = app
            .get(&format!("/api/v1/proposals/{}", p.id), &token)
            .await;
        assert_eq!(proposal["voted_members"], 1);
        let text = proposal.to_string();
        assert!(
            !text.contains(":250") && !text.contains("\"yes\""),
            "no choice leaks: {text}"
        );
    }
    // Nothing is readable without a token.
    let (status, _) = app
        .request(Method::GET, "/api/v1/results", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Once closed: a VO council sees nothing of a PO proposal.
    close(&app, &p).await;
    let (status, body) = app
        .get("/api/v1/results?sector=PO", &app.council(Sector::Vo))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, listed) = app.get("/api/v1/results", &app.council(Sector::Vo)).await;
    assert_eq!(listed, json!([]));
    let (status, _) = app
        .get(
            &format!("/api/v1/proposals/{}/result", p.id),
            &app.council(Sector::Vo),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, listed) = app.get("/api/v1/results", &app.council(Sector::Po)).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_statute_change_needs_two_thirds() {
    let app = TestApp::spawn().await;
    let boards = [
        board(&app, 1, Some(100), None).await,
        board(&app, 2, Some(200), None).await,
        board(&app, 3, None, Some(300)).await,
    ];
    let qualified = electorate(
        &["PO", "VO"],
        "one-member-one-vote",
        "1/2",
        "at-least",
        "2/3",
    );
    let exactly = draft_and_open(
        &app,
        &spec(&app, "Statutenwijziging", resolution(), qualified.clone()),
    )
    .await;
    let short = draft_and_open(
        &app,
        &spec(&app, "Statutenwijziging 2", resolution(), qualified),
    )
    .await;
    for (b, vote) in boards.iter().zip(["yes", "yes", "no"]) {
        assert_eq!(
            cast(&app, &exactly, b, json!({"vote": vote})).await.0,
            StatusCode::CREATED
        );
    }
    for (b, vote) in boards.iter().zip(["yes", "no", "abstain"]) {
        assert_eq!(
            cast(&app, &short, b, json!({"vote": vote})).await.0,
            StatusCode::CREATED
        );
    }
    app.clock.advance(Duration::days(15));
    for p in [&exactly, &short] {
        let (status, _) = app
            .post(
                &format!("/api/v1/proposals/{}/close", p.id),
                &app.admin(),
                &json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, r) = app
        .get(
            &format!("/api/v1/proposals/{}/result", exactly.id),
            &app.auditor(),
        )
        .await;
    assert_eq!(
        r["outcome"], "adopted",
        "exactly 2/3 of the votes cast: {r}"
    );
    let (_, r) = app
        .get(
            &format!("/api/v1/proposals/{}/result", short.id),
            &app.auditor(),
        )
        .await;
    assert_eq!(r["outcome"], "rejected", "1 yes to 1 no: {r}");
    assert_eq!(r["abstain"]["members"], 1);
    assert_eq!(r["quorum"]["met"], true);
}

#[tokio::test]
async fn a_priority_ranking_by_schulze() {
    let app = TestApp::spawn().await;
    let options = json!({"kind": "priority", "priority": {"options": [
        {"id": "leermiddelen", "label": "Digitale leermiddelen"},
        {"id": "leerlingadministratie", "label": "Leerlingadministratie"},
        {"id": "devices", "label": "Devices"},
        {"id": "connectiviteit", "label": "Connectiviteit"}]}});
    let p = draft_and_open_with(&app, options).await;
    let boards = p.1;
    let p = p.0;
    let rankings = [
        json!(["leerlingadministratie", "leermiddelen", "devices"]),
        json!(["leerlingadministratie", "devices"]),
        json!(["leermiddelen", "leerlingadministratie"]),
        json!(["devices"]),
        json!([]),
    ];
    for (b, ranking) in boards.iter().zip(rankings) {
        let (status, body) = cast(&app, &p, b, json!({"ranking": ranking})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = cast(&app, &p, &boards[0], json!({"ranking": ["boeken"]})).await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-choice",
    );
    let result = close(&app, &p).await;
    assert_eq!(result["outcome"], "adopted");
    let order: Vec<&str> = result["priority"]["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "leerlingadministratie",
            "leermiddelen",
            "devices",
            "connectiviteit"
        ],
        "{result}"
    );
    // Pairwise: leerlingadministratie over leermiddelen on ballots 1, 2 (3 prefers the other; 4 ranks neither).
    assert_eq!(result["priority"]["pairwise"][1][0], 2);
    assert_eq!(result["priority"]["pairwise"][0][1], 1);
    assert_eq!(result["abstain"]["members"], 1);
}

async fn draft_and_open_with(app: &TestApp, kind: Value) -> (Open, Vec<Board>) {
    let mut boards = Vec::new();
    for bg in 1..=5 {
        boards.push(board(app, bg, Some(100 * u64::from(bg)), None).await);
    }
    let p = draft_and_open(
        app,
        &spec(
            app,
            "Aanbestedingsvolgorde",
            kind,
            electorate(&["PO"], "one-member-one-vote", "1/2", "more-than", "1/2"),
        ),
    )
    .await;
    (p, boards)
}

#[tokio::test]
async fn proxies_are_capped_and_overridden_by_their_grantor() {
    let app = TestApp::spawn().await;
    let (p, b) = draft_and_open_with(&app, resolution()).await;
    let holder = &b[0];

    // Voting for another member needs its proxy.
    let (status, body) = cast_for(&app, &p, holder, b[1].id, json!({"vote": "yes"})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "no-proxy");

    for grantor in &b[1..3] {
        let (status, body) = proxy(&app, &p, grantor, holder.id, false).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = proxy(&app, &p, &b[3], holder.id, false).await;
    assert_problem(status, &body, StatusCode::CONFLICT, "proxy-cap-reached");
    let (status, body) = proxy(&app, &p, &b[1], b[4].id, false).await;
    assert_problem(status, &body, StatusCode::CONFLICT, "proxy-exists");
    let (status, body) = proxy(&app, &p, &b[1], b[1].id, false).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "no-proxy");

    // b1's own ballot comes first; its holder's later one for it does not count.
    cast(&app, &p, &b[1], json!({"vote": "no"})).await;
    let (status, receipt) = cast_for(&app, &p, holder, b[1].id, json!({"vote": "yes"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(receipt["counts"], false);
    // b2's holder votes first; b2's own later ballot overrides it.
    let (_, receipt) = cast_for(&app, &p, holder, b[2].id, json!({"vote": "yes"})).await;
    assert_eq!(receipt["counts"], true);
    cast(&app, &p, &b[2], json!({"vote": "no"})).await;
    cast(&app, &p, holder, json!({"vote": "yes"})).await;

    // A withdrawn proxy frees a place, and no longer lets the holder vote.
    let (status, body) = proxy(&app, &p, &b[2], holder.id, true).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["revoked_entry"].is_i64());
    let (status, body) = cast_for(&app, &p, holder, b[2].id, json!({"vote": "yes"})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "no-proxy");
    assert_eq!(
        proxy(&app, &p, &b[3], holder.id, false).await.0,
        StatusCode::CREATED
    );

    let (_, listed) = app
        .get(
            &format!("/api/v1/proposals/{}/proxies", p.id),
            &app.board(b[4].id),
        )
        .await;
    assert_eq!(listed, json!([]), "b4 gave and holds none");
    let (_, listed) = app
        .get(
            &format!("/api/v1/proposals/{}/proxies", p.id),
            &app.auditor(),
        )
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 3);

    let result = close(&app, &p).await;
    assert_eq!(
        result["yes"]["members"], 1,
        "only the holder's own yes: {result}"
    );
    assert_eq!(
        result["no"]["members"], 2,
        "both grantors' own no: {result}"
    );
}

#[tokio::test]
async fn a_re_vote_replaces_the_earlier_ballot() {
    let app = TestApp::spawn().await;
    let (p, b) = draft_and_open_with(&app, resolution()).await;
    let (_, first) = cast(&app, &p, &b[0], json!({"vote": "yes"})).await;
    let (_, second) = cast(&app, &p, &b[0], json!({"vote": "no"})).await;
    assert!(second["entry"].as_i64() > first["entry"].as_i64());
    let result = close(&app, &p).await;
    assert_eq!(
        (
            result["yes"]["members"].as_u64(),
            result["no"]["members"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(result["counted"], json!([second["entry"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ballots_of_one_member_count_once() {
    let app = TestApp::spawn().await;
    let (p, b) = draft_and_open_with(&app, resolution()).await;
    let token = app.board(b[0].id);
    let url = format!("{}/api/v1/proposals/{}/ballots", app.base, p.id);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let vote = if i % 2 == 0 { "yes" } else { "no" };
        let body = b[0].key.sign(&ballot_body(
            &app,
            &p,
            &b[0],
            b[0].id,
            json!({"vote": vote}),
        ));
        let request = app.client.post(&url).bearer_auth(&token).json(&body);
        tasks.spawn(async move {
            let resp = request.checked().await;
            (resp.status(), resp.json::<Value>().await.unwrap())
        });
    }
    let answers = tasks.join_all().await;
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::CREATED),
        "{answers:?}"
    );
    let last = answers
        .iter()
        .map(|(_, r)| r["entry"].as_i64().unwrap())
        .max()
        .unwrap();
    let result = close(&app, &p).await;
    assert_eq!(result["voted"]["members"], 1);
    assert_eq!(result["counted"], json!([last]));
}

#[tokio::test]
async fn every_refused_ballot_says_why() {
    let app = TestApp::spawn().await;
    let (p, b) = draft_and_open_with(&app, magister_mandate()).await;
    let vo_board = board(&app, 99, None, Some(5000)).await;
    let yes = json!({"vote": "yes", "parameters": {"max-increase": 100}});
    let path = format!("/api/v1/proposals/{}/ballots", p.id);
    let send = |voter: &Board, token_member: Uuid, body: Value| {
        let signed = voter.key.sign(&body);
        let token = app.board(token_member);
        let path = path.clone();
        let app = &app;
        async move { app.post(&path, &token, &signed).await }
    };

    // Not open: a draft.
    let (status, draft) = app
        .post(
            "/api/v1/proposals",
            &app.admin(),
            &spec(
                &app,
                "Concept",
                resolution(),
                electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let draft_id = draft["id"].as_str().unwrap();
    let mut body = ballot_body(&app, &p, &b[0], b[0].id, json!({"vote": "yes"}));
    body["proposal"] = json!(draft_id);
    let signed = b[0].key.sign(&body);
    let (status, problem) = app
        .post(
            &format!("/api/v1/proposals/{draft_id}/ballots"),
            &app.board(b[0].id),
            &signed,
        )
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT, "proposal-state");

    let mut wrong_digest = ballot_body(&app, &p, &b[0], b[0].id, yes.clone());
    wrong_digest["proposal_digest"] = json!("0".repeat(64));
    let (status, problem) = send(&b[0], b[0].id, wrong_digest).await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "digest-mismatch",
    );

    // Signed and sent by b0 but claiming to be b1's vote as voter.
    let (status, problem) = send(
        &b[0],
        b[0].id,
        ballot_body(&app, &p, &b[1], b[1].id, yes.clone()),
    )
    .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "not-token-member");
    // b1's token, b1 as voter, but signed with b0's key.
    let (status, problem) = send(
        &b[0],
        b[1].id,
        ballot_body(&app, &p, &b[1], b[1].id, yes.clone()),
    )
    .await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "key-not-valid",
    );

    // A forged signature.
    let mut forged = b[0]
        .key
        .sign(&ballot_body(&app, &p, &b[0], b[0].id, yes.clone()));
    forged["signature"] = BoardKey::generate().sign(&json!({"type": "x"}))["signature"].clone();
    let (status, problem) = app.post(&path, &app.board(b[0].id), &forged).await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-signature",
    );

    // A replayed nonce.
    let once = ballot_body(&app, &p, &b[0], b[0].id, yes.clone());
    let (status, first) = send(&b[0], b[0].id, once.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // The same signed ballot again, as a board sends it after losing the answer: the
    // original entry with a fresh receipt, and nothing appended.
    let (_, size_before) = app.get("/api/v1/log/checkpoint", &app.auditor()).await;
    let (status, again) = send(&b[0], b[0].id, once.clone()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    for field in ["entry", "ballot_hash", "voter", "for", "accepted_at"] {
        assert_eq!(again[field], first[field], "{field}");
    }
    assert_eq!(again["receipt"]["leaf_hash"], first["receipt"]["leaf_hash"]);
    let (_, size_after) = app.get("/api/v1/log/checkpoint", &app.auditor()).await;
    assert_eq!(size_after, size_before, "nothing was appended");
    // Another statement with that nonce is refused.
    let mut replay = once;
    replay["choice"] = json!({"vote": "no"});
    let (status, problem) = send(&b[0], b[0].id, replay).await;
    assert_problem(status, &problem, StatusCode::CONFLICT, "nonce-reused");

    // Not eligible: a VO board on a PO proposal.
    let (status, problem) = send(
        &vo_board,
        vo_board.id,
        ballot_body(&app, &p, &vo_board, vo_board.id, yes.clone()),
    )
    .await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not-eligible",
    );

    // Choices that do not fit the mandate.
    for choice in [
        json!({"vote": "yes"}),
        json!({"vote": "yes", "parameters": {"max-increase": 3001}}),
        json!({"ranking": ["a"]}),
    ] {
        let (status, problem) = send(
            &b[1],
            b[1].id,
            ballot_body(&app, &p, &b[1], b[1].id, choice),
        )
        .await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-choice",
        );
    }

    // A clock far off.
    let mut stale = ballot_body(&app, &p, &b[1], b[1].id, yes.clone());
    stale["cast_at"] =
        json!((Utc::now() - Duration::hours(2)).to_rfc3339_opts(SecondsFormat::Secs, true));
    let (status, problem) = send(&b[1], b[1].id, stale).await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "clock-skew",
    );

    // A revoked key no longer signs ballots.
    let revoke = json!({"reason": "gestolen"});
    let (status, _) = app
        .post(
            &format!(
                "/api/v1/members/{}/keys/{}/revoke",
                b[2].id,
                b[2].key.key_id()
            ),
            &app.admin(),
            &revoke,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance(Duration::seconds(1));
    let (status, problem) = send(
        &b[2],
        b[2].id,
        ballot_body(&app, &p, &b[2], b[2].id, yes.clone()),
    )
    .await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "key-not-valid",
    );

    // Only boards cast ballots.
    let signed = b[3]
        .key
        .sign(&ballot_body(&app, &p, &b[3], b[3].id, yes.clone()));
    let (status, problem) = app.post(&path, &app.admin(), &signed).await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");

    // After the window, even before closing.
    app.clock.advance(Duration::days(15));
    let (status, problem) = send(
        &b[3],
        b[3].id,
        ballot_body(&app, &p, &b[3], b[3].id, yes.clone()),
    )
    .await;
    assert_problem(status, &problem, StatusCode::CONFLICT, "voting-window");

    let (status, problem) = app
        .get(
            &format!("/api/v1/proposals/{}/result", p.id),
            &app.auditor(),
        )
        .await;
    assert_problem(
        status,
        &problem,
        StatusCode::CONFLICT,
        "result-not-available",
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/proposals/{}/close", p.id),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = send(&b[3], b[3].id, ballot_body(&app, &p, &b[3], b[3].id, yes)).await;
    assert_problem(status, &problem, StatusCode::CONFLICT, "proposal-state");
}

#[tokio::test]
async fn proposals_validate_and_follow_their_lifecycle() {
    let app = TestApp::spawn().await;
    let b = board(&app, 1, Some(100), None).await;
    let other = board(&app, 2, Some(100), None).await;
    let good = spec(
        &app,
        "Resolutie",
        resolution(),
        electorate(&["PO"], "one-member-one-vote", "1/2", "more-than", "1/2"),
    );

    let mut long = good.clone();
    long["closes_at"] =
        json!((Utc::now() + Duration::days(31)).to_rfc3339_opts(SecondsFormat::Secs, true));
    let mut bad_fraction = good.clone();
    bad_fraction["electorate"]["quorum"] = json!("0.5");
    let mut mixed = good.clone();
    mixed["priority"] = json!({"options": []});
    for body in [long, bad_fraction, mixed] {
        let (status, problem) = app.post("/api/v1/proposals", &app.admin(), &body).await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        );
    }
    let (status, _) = app
        .post("/api/v1/proposals", &app.council(Sector::Po), &good)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A board's draft: visible to it and admins, not to other boards or councils.
    let (_, draft) = app.post("/api/v1/proposals", &app.board(b.id), &good).await;
    let path = format!("/api/v1/proposals/{}", draft["id"].as_str().unwrap());
    assert_eq!(
        app.get(&path, &app.board(other.id)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&path, &app.council(Sector::Po)).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, listed) = app.get("/api/v1/proposals", &app.board(other.id)).await;
    assert_eq!(listed, json!([]));
    let mut renamed = good.clone();
    renamed["title"] = json!("Resolutie (herzien)");
    let (status, changed) = app.patch(&path, &app.board(b.id), &renamed).await;
    assert_eq!(
        (status, changed["spec"]["title"].as_str()),
        (StatusCode::OK, Some("Resolutie (herzien)"))
    );
    assert_eq!(
        app.patch(&path, &app.board(other.id), &renamed).await.0,
        StatusCode::FORBIDDEN
    );

    // Closing before the window ends is refused; withdrawing works from open.
    let (status, _) = app
        .post(&format!("{path}/open"), &app.admin(), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = app
        .post(&format!("{path}/close"), &app.admin(), &json!({}))
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT, "voting-window");
    let (status, problem) = app
        .post(&format!("{path}/open"), &app.admin(), &json!({}))
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT, "proposal-state");
    let (status, withdrawn) = app
        .post(&format!("{path}/withdraw"), &app.admin(), &json!({}))
        .await;
    assert_eq!(
        (status, withdrawn["status"].as_str()),
        (StatusCode::OK, Some("withdrawn"))
    );
    let (status, problem) = app.get(&format!("{path}/result"), &app.admin()).await;
    assert_problem(
        status,
        &problem,
        StatusCode::CONFLICT,
        "result-not-available",
    );
}

/// The same ballots give the same result, byte for byte, on SQLite and PostgreSQL
/// (or on two SQLite databases when no PostgreSQL is configured).
#[tokio::test]
async fn the_same_ballots_give_byte_identical_results() {
    let sqlite = {
        let dir = tempfile::tempdir().unwrap();
        // Force SQLite for this half even when the suite runs on PostgreSQL.
        TestApp::spawn_with(dir, TestDatabase::sqlite(), 256 * 1024).await
    };
    let other = TestApp::spawn().await;
    let mut results = Vec::new();
    for app in [&sqlite, &other] {
        let mut boards = Vec::new();
        for (bg, po, vo) in [
            (1, Some(900), None),
            (2, Some(5000), None),
            (3, None, Some(4000)),
            (4, Some(300), Some(300)),
            (5, None, Some(100)),
        ] {
            boards.push(board(app, bg, po, vo).await);
        }
        let mut e = electorate(&["PO", "VO"], "pupils", "1/3", "more-than", "1/2");
        e["chamber_rule"] = json!(true);
        let p = draft_and_open(app, &spec(app, "Magister", magister_mandate(), e)).await;
        let votes = [
            json!({"vote": "yes", "parameters": {"max-increase": 200}}),
            json!({"vote": "yes", "parameters": {"max-increase": 450}}),
            json!({"vote": "no"}),
            json!({"vote": "yes", "parameters": {"max-increase": 300}}),
            json!({"vote": "abstain"}),
        ];
        for (b, v) in boards.iter().zip(votes) {
            assert_eq!(cast(app, &p, b, v).await.0, StatusCode::CREATED);
        }
        let result = close(app, &p).await;
        results.push(serde_json_canonicalizer::to_vec(&result).unwrap());
    }
    assert_eq!(
        String::from_utf8_lossy(&results[0]),
        String::from_utf8_lossy(&results[1])
    );
}

/// Every identifier and time in a signed statement has exactly one accepted spelling,
/// so a server and a verifier that compare them as strings can never disagree: a ballot
/// `for` `{<uuid>}` was once counted by the server and ignored by an outside verifier.
#[tokio::test]
async fn identifiers_and_times_in_statements_have_one_spelling() {
    let app = TestApp::spawn().await;
    let (p, b) = draft_and_open_with(&app, resolution()).await;
    let path = format!("/api/v1/proposals/{}/ballots", p.id);
    let id = b[0].id.to_string();
    let at = now(&app);
    let variants = [
        ("for", format!("{{{id}}}")),
        ("for", id.to_uppercase()),
        ("for", id.replace('-', "")),
        ("voter", format!("urn:uuid:{id}")),
        ("proposal", p.id.to_string().to_uppercase()),
        ("cast_at", at.replace('T', "t")),
        ("cast_at", at.replace('T', " ")),
        ("cast_at", at.replace('Z', "z")),
        ("cast_at", at.replace('Z', "+00:00")),
        ("cast_at", at.replace('Z', ".000Z")),
    ];
    for (field, spelling) in variants {
        let mut body = ballot_body(&app, &p, &b[0], b[0].id, json!({"vote": "yes"}));
        body[field] = json!(spelling);
        let signed = b[0].key.sign(&body);
        let (status, problem) = app.post(&path, &app.board(b[0].id), &signed).await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "statement-mismatch",
        );
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(field), "{field}={spelling}: {detail}");
    }

    // A proxy names members the same way.
    let body = b[0].key.sign(
        &json!({"type": "mandaat.proxy.v1", "proposal": p.id.to_string(),
        "proposal_digest": p.digest, "grantor": id, "holder": b[1].id.to_string().to_uppercase(),
        "nonce": nonce(), "signed_at": at}),
    );
    let (status, problem) = app
        .post(
            &format!("/api/v1/proposals/{}/proxies", p.id),
            &app.board(b[0].id),
            &body,
        )
        .await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "statement-mismatch",
    );

    // So does a key registration.
    let key = BoardKey::generate();
    let proof = key.sign(
        &json!({"type": "mandaat.key.v1", "member": id.to_uppercase(),
        "public_key": key.public_b64()}),
    );
    let (status, problem) = app
        .post(
            &format!("/api/v1/members/{id}/keys"),
            &app.board(b[0].id),
            &proof,
        )
        .await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "statement-mismatch",
    );

    // A choice that is no choice at all is an invalid choice, said in our words.
    let (status, problem) = cast(&app, &p, &b[0], json!({"vote": "maybe"})).await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-choice",
    );
    assert!(
        !problem["detail"].as_str().unwrap().contains("untagged"),
        "{problem}"
    );

    // The one spelling is accepted.
    let (status, receipt) = cast(&app, &p, &b[0], json!({"vote": "yes"})).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
}

/// Ties are numbered as standard competition ranks (1, 1, 3) and shown in the CSV as
/// `a=b>c`; a council receives the same whole tally from every endpoint.
#[tokio::test]
async fn ties_show_and_councils_see_one_tally_everywhere() {
    let app = TestApp::spawn().await;
    let options = json!({"kind": "priority", "priority": {"options": [
        {"id": "devices", "label": "Devices"},
        {"id": "licenties", "label": "Licenties"},
        {"id": "netwerk", "label": "Netwerk"}]}});
    let (p, boards) = draft_and_open_with(&app, options).await;
    // One member one vote: devices and licenties each beat netwerk 2–0 and tie 1–1.
    for (b, ranking) in boards
        .iter()
        .zip([json!(["devices"]), json!(["licenties"])])
    {
        let (status, body) = cast(&app, &p, b, json!({"ranking": ranking})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let tally = close(&app, &p).await;
    let ranks: Vec<(&str, u64)> = tally["priority"]["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["rank"].as_u64().unwrap()))
        .collect();
    assert_eq!(ranks, [("devices", 1), ("licenties", 1), ("netwerk", 3)]);

    let council = app.council(Sector::Po);
    let (_, listed) = app.get("/api/v1/results", &council).await;
    let (_, single) = app
        .get(&format!("/api/v1/proposals/{}/result", p.id), &council)
        .await;
    assert_eq!(listed[0]["tally"], single);
    assert_eq!(single, tally);
    assert_eq!(listed[0]["sector_breakdown"], tally["by_sector"]["PO"]);

    let (_, _, csv) = app
        .raw(Method::GET, "/api/v1/results.csv", Some(&council), None)
        .await;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    let cell = |name: &str| row[header.iter().position(|h| h == name).unwrap()].to_owned();
    assert_eq!(cell("ranking"), "devices=licenties>netwerk");
    assert_eq!(cell("sector"), "PO");
    assert_eq!(cell("voted_members"), "2");
    assert!(cell("closed_at").ends_with('Z'), "{}", cell("closed_at"));
}

/// The list answers with every proposal the caller may see, a draft withdrawn before
/// it ever opened included (it has no roll, so no turnout).
#[tokio::test]
async fn the_list_shows_every_state_with_turnout_where_there_is_a_roll() {
    let app = TestApp::spawn().await;
    let (open, boards) = draft_and_open_with(&app, resolution()).await;
    cast(&app, &open, &boards[0], json!({"vote": "yes"})).await;
    cast(&app, &open, &boards[1], json!({"vote": "no"})).await;
    let (status, draft) = app
        .post(
            "/api/v1/proposals",
            &app.admin(),
            &spec(
                &app,
                "Ingetrokken",
                resolution(),
                electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let draft_id = draft["id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/proposals/{draft_id}/withdraw"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, list) = app.get("/api/v1/proposals", &app.admin()).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let find = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()
            .clone()
    };
    let listed_open = find(&open.id.to_string());
    assert_eq!(listed_open["eligible_members"], 5);
    assert_eq!(listed_open["voted_members"], 2);
    let (_, single) = app
        .get(&format!("/api/v1/proposals/{}", open.id), &app.admin())
        .await;
    assert_eq!(single["voted_members"], 2);
    let withdrawn = find(draft_id);
    assert_eq!(withdrawn["status"], "withdrawn");
    assert!(withdrawn.get("eligible_members").is_none_or(Value::is_null));
}
