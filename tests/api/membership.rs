//! The membership register apart from the board register: admission, resignation and
//! ending through the API and the CLI, the voter roll built from it, the DUO import
//! leaving it alone, the upgrade's migration, and the audit verifier checking every
//! roll against the `mandaat.membership.v1` entries of the log.

use base64::Engine as _;
use chrono::{Duration, NaiveDate};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, IntoActiveModel};
use serde_json::{Value, json};
use uuid::Uuid;

use mandaat::domain::statement::BASE64URL;
use mandaat::transparency::merkle::leaf_hash;

use crate::helpers::{Checked, TestApp, assert_problem, duo_data};
use crate::voting::{draft_and_open, electorate, resolution, spec};

fn today(app: &TestApp) -> NaiveDate {
    mandaat::clock::Clock::now(app.clock.as_ref()).date_naive()
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

async fn change(app: &TestApp, member: Uuid, action: &str, date: &str) -> (StatusCode, Value) {
    app.post(
        &format!("/api/v1/members/{member}/membership"),
        &app.admin(),
        &json!({"action": action, "date": date}),
    )
    .await
}

/// Opens a PO resolution and returns its frozen document.
async fn open_po(app: &TestApp, title: &str) -> Value {
    let open = draft_and_open(
        app,
        &spec(
            app,
            title,
            resolution(),
            electorate(&["PO"], "one-member-one-vote", "1/2", "more-than", "1/2"),
        ),
    )
    .await;
    let (status, proposal) = app
        .get(&format!("/api/v1/proposals/{}", open.id), &app.admin())
        .await;
    assert_eq!(status, StatusCode::OK, "{proposal}");
    let bytes = BASE64URL
        .decode(proposal["document"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn roll_numbers(document: &Value) -> Vec<u64> {
    document["voter_roll"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["bg_number"].as_u64().unwrap())
        .collect()
}

async fn numbers(app: &TestApp, query: &str) -> Vec<u64> {
    let (status, page) = app
        .get(
            &format!("/api/v1/members?limit=500&{query}"),
            &app.auditor(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["bg_number"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_roll_holds_the_members_on_the_opening_day() {
    let app = TestApp::spawn().await;
    let today = today(&app);
    app.create_member(101, "Lid", Some(500), None).await;
    let board = app.create_board(102, "Geen lid", Some(500), None).await;
    let gone = app.create_member(103, "Opgezegd", Some(500), None).await;
    let leaving = app.create_member(104, "Zegt op", Some(500), None).await;
    let suspended = app.create_member(105, "Geschorst", Some(500), None).await;
    app.create_member(106, "Alleen VO", None, Some(900)).await;
    let (status, body) = app
        .patch(
            &format!("/api/v1/members/{suspended}"),
            &app.admin(),
            &json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A resignation effective before the opening day ends the membership before it;
    // one effective later leaves the board on this roll.
    let (status, body) = change(&app, gone, "resign", &day(today - Duration::days(10))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["membership"]["standing"], "former");
    let effective = day(today + Duration::days(30));
    let (status, body) = change(&app, leaving, "resign", &effective).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let period = &body["membership"]["periods"][0];
    assert_eq!(period["from"], "2020-01-01");
    assert_eq!(period["until"], effective.as_str(), "stored as given");
    assert_eq!(period["end_reason"], "resigned");
    assert!(period["log_entry"].as_u64().is_some(), "{body}");
    assert_eq!(body["membership"]["standing"], "member");

    let document = open_po(&app, "Eerste").await;
    assert_eq!(roll_numbers(&document), vec![101, 104]);
    let left: Vec<(u64, &str)> = document["not_on_roll"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["bg_number"].as_u64().unwrap(),
                n["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(left, vec![(105, "suspended"), (106, "other-sectors")]);

    // Lists: by standing today, or on another day; each board with its periods.
    assert_eq!(
        numbers(&app, "membership=member").await,
        [101, 104, 105, 106]
    );
    assert_eq!(numbers(&app, "membership=former").await, [103]);
    assert_eq!(numbers(&app, "membership=none").await, [102]);
    let later = day(today + Duration::days(31));
    assert_eq!(
        numbers(&app, &format!("membership=former&on={later}")).await,
        [103, 104]
    );
    assert_eq!(
        numbers(&app, "membership=member&sector=VO").await,
        [106],
        "the other filters still apply"
    );

    // A board registered after the others were admitted is on a roll only once
    // admitted; one that left and rejoins has two periods.
    let (status, body) = change(&app, board, "admit", &day(today)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = change(&app, gone, "admit", &day(today)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["membership"]["periods"].as_array().unwrap().len(), 2);
    let document = open_po(&app, "Tweede").await;
    assert_eq!(roll_numbers(&document), vec![101, 102, 103, 104]);
}

#[tokio::test]
async fn the_register_refuses_impossible_changes() {
    let app = TestApp::spawn().await;
    let member = app.create_member(201, "Lid", Some(500), None).await;
    let board = app.create_board(202, "Geen lid", Some(500), None).await;
    let (status, body) = change(&app, member, "admit", "2026-01-01").await;
    assert_problem(status, &body, StatusCode::CONFLICT, "membership-conflict");
    let (status, body) = change(&app, board, "cease", "2026-01-01").await;
    assert_problem(status, &body, StatusCode::CONFLICT, "membership-conflict");
    let (status, body) = change(&app, member, "terminate", "2019-12-31").await;
    assert_problem(status, &body, StatusCode::CONFLICT, "membership-conflict");
    let (status, body) = app
        .post(
            &format!("/api/v1/members/{board}/membership"),
            &app.board(member),
            &json!({"action": "admit", "date": "2026-01-01"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = app
        .post(
            &format!("/api/v1/members/{}/membership", Uuid::new_v4()),
            &app.admin(),
            &json!({"action": "admit", "date": "2026-01-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &format!("/api/v1/members/{board}/membership"),
            &app.admin(),
            &json!({"action": "join", "date": "2026-01-01"}),
        )
        .await;
    assert!(status.is_client_error());

    // Nobody is eligible without members: the proposal does not open.
    let app = TestApp::spawn().await;
    let lonely = app.create_board(203, "Geen lid", Some(500), None).await;
    let (status, draft) = app
        .post(
            "/api/v1/proposals",
            &app.admin(),
            &spec(
                &app,
                "Leeg",
                resolution(),
                electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let (status, body) = app
        .post(
            &format!("/api/v1/proposals/{}/open", draft["id"].as_str().unwrap()),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "empty-voter-roll");

    // The refusal ended its transaction: on PostgreSQL a transaction left open would
    // hold the append lock, and every later write would wait for it forever.
    let draft_id = draft["id"].as_str().unwrap().to_owned();
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        app.admit(lonely, "2020-01-01").await;
        let (status, body) = app
            .post(
                &format!("/api/v1/proposals/{draft_id}/open"),
                &app.admin(),
                &json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    })
    .await
    .expect("writes after a refused opening go through");
}

fn cli_ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn total(app: &TestApp, query: &str) -> u64 {
    let (_, page) = app
        .get(&format!("/api/v1/members?limit=1&{query}"), &app.auditor())
        .await;
    page["total"].as_u64().unwrap()
}

#[tokio::test]
async fn the_import_fills_the_board_register_and_never_the_membership() {
    let app = TestApp::spawn().await;
    let (po, vo) = (duo_data("duo"), duo_data("duo-vo"));
    cli_ok(&app.cli(&[
        "members",
        "import",
        "--duo",
        po.to_str().unwrap(),
        vo.to_str().unwrap(),
    ]));
    assert_eq!(total(&app, "").await, 1279, "README's figure for boards");
    assert_eq!(total(&app, "membership=member").await, 0, "no members yet");
    assert_eq!(total(&app, "membership=none").await, 1279);

    // The secretariat admits its members from a list; a typo changes nothing.
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("leden.txt");
    std::fs::write(&list, "# leden per 2026-01-01\n24597\n\n41775\n99999998\n").unwrap();
    let out = app.cli(&[
        "members",
        "admit",
        "--from",
        list.to_str().unwrap(),
        "--date",
        "2026-01-01",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("99999998"), "{stderr}");
    assert_eq!(total(&app, "membership=member").await, 0);
    std::fs::write(&list, "# leden per 2026-01-01\n24597\n\n41775\n").unwrap();
    let args = [
        "members",
        "admit",
        "--from",
        list.to_str().unwrap(),
        "--date",
        "2026-01-01",
    ];
    let first = cli_ok(&app.cli(&args));
    assert!(first.contains("admitted 2 boards"), "{first}");
    let again = cli_ok(&app.cli(&args));
    assert!(again.contains("admitted 0 boards"), "{again}");
    assert!(again.contains("2 were members"), "{again}");
    assert_eq!(numbers(&app, "membership=member").await, [24597, 41775]);
    let (_, page) = app
        .get("/api/v1/members?bg_number=24597", &app.auditor())
        .await;
    let period = &page["items"][0]["membership"]["periods"][0];
    assert_eq!(period["from"], "2026-01-01");
    assert!(period["admitted_by"].as_str().unwrap().starts_with("cli:"));

    // A member missing from a new DUO file is reported, and stays a member.
    let pupils = po.join("po-leerlingen-per-vestiging-2016.csv");
    let bytes = std::fs::read(&pupils).unwrap();
    let without: Vec<u8> = bytes
        .split_inclusive(|b| *b == b'\n')
        .filter(|line| !line.windows(7).any(|w| w == b";24597;"))
        .flatten()
        .copied()
        .collect();
    assert!(without.len() < bytes.len());
    let file = dir.path().join("po-leerlingen-per-vestiging-2017.csv");
    std::fs::write(&file, without).unwrap();
    let report = cli_ok(&app.cli(&["members", "import", "--duo", file.to_str().unwrap()]));
    assert!(report.contains("missing member: 24597"), "{report}");
    assert!(!report.contains("missing member: 41775"), "{report}");
    assert_eq!(numbers(&app, "membership=member").await, [24597, 41775]);

    // --all is for trying things out, and says so.
    let all = cli_ok(&app.cli(&["members", "admit", "--all"]));
    assert!(all.contains("trying Mandaat out"), "{all}");
    assert_eq!(total(&app, "membership=member").await, 1279);
}

#[tokio::test]
async fn upgrading_makes_every_active_or_suspended_board_a_member_in_the_log() {
    let app = TestApp::spawn().await;
    let active = app.create_board(301, "Actief", Some(500), None).await;
    let suspended = app.create_board(302, "Geschorst", Some(500), None).await;
    app.patch(
        &format!("/api/v1/members/{suspended}"),
        &app.admin(),
        &json!({"status": "suspended"}),
    )
    .await;
    // Back to the database before this migration, then run it as an upgrade would.
    let db = app.database().await;
    for sql in [
        "DROP TABLE memberships",
        "DELETE FROM seaql_migrations WHERE version = 'm20261201_000004_membership'",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    <migration::Migrator as migration::MigratorTrait>::up(&db, None)
        .await
        .unwrap();

    // The restarted server signs the migrated membership into the log at start.
    let again = mandaat::Application::build(app.restart_config())
        .await
        .unwrap();
    let base = format!("http://{}", again.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(again.run_until(async {
        let _ = rx.await;
    }));
    let (_, created) = app
        .get(&format!("/api/v1/members/{active}"), &app.admin())
        .await;
    let response = app
        .client
        .get(format!("{base}/api/v1/members?membership=member"))
        .bearer_auth(app.admin())
        .checked()
        .await;
    let page: Value = response.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let first = &items[0]["membership"]["periods"][0];
    assert_eq!(
        first["from"],
        created["created_at"].as_str().unwrap()[..10],
        "a member from its creation date"
    );
    assert_eq!(first["admitted_by"], "migration");
    assert!(first["log_entry"].as_u64().is_some(), "{page}");
    let response = app
        .client
        .get(format!("{base}/api/v1/log/entries?start=0&end=2"))
        .bearer_auth(app.auditor())
        .checked()
        .await;
    let entries: Value = response.json().await.unwrap();
    assert_eq!(
        entries["entries"].as_array().map(Vec::len),
        Some(2),
        "{entries}"
    );
    let _ = tx.send(());
}

/// The log key, as an auditor pins it.
async fn log_key(app: &TestApp) -> String {
    let (status, _, key) = app
        .raw(reqwest::Method::GET, "/api/v1/log/key", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    key.trim().to_owned()
}

fn export_and_verify(app: &TestApp, key: &str) -> (bool, String) {
    let out = tempfile::tempdir().unwrap();
    cli_ok(&app.cli(&["audit", "export", "--out", out.path().to_str().unwrap()]));
    let state = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mandaat"))
        .args([
            "audit",
            "verify",
            out.path().to_str().unwrap(),
            "--log-key",
            key,
        ])
        .arg("--state-dir")
        .arg(state.path())
        .output()
        .unwrap();
    (
        run.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        ),
    )
}

/// Re-signs the opening entry with the (stolen) log key after `edit` changed its
/// document, as a server lying about the roll would.
async fn forge_roll(app: &TestApp, edit: impl FnOnce(&mut Value)) {
    let pem = std::fs::read_to_string(app.key_file("log-signing")).unwrap();
    let log_signing =
        <ed25519_dalek::SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&pem)
            .unwrap();
    let signer = mandaat::service::ServerSigner::new(log_signing);
    let db = app.database().await;
    let row = entity::log_entry::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.entry_type == "mandaat.proposal.v1")
        .unwrap();
    let mut body: Value = serde_json::from_slice(&row.statement).unwrap();
    edit(&mut body);
    let statement = signer.sign(&body).unwrap();
    let mut row = row.into_active_model();
    row.statement = Set(statement.bytes().to_vec());
    row.signature = Set(statement.signature().to_bytes().to_vec());
    row.leaf_hash = Set(hex::encode(leaf_hash(&statement.entry_bytes())));
    row.update(&db).await.unwrap();
}

async fn audited_vote(app: &TestApp) -> (String, Uuid) {
    app.create_member(401, "Lid een", Some(500), None).await;
    app.create_member(402, "Lid twee", Some(700), None).await;
    let outsider = app.create_board(403, "Geen lid", Some(900), None).await;
    let document = open_po(app, "Controle").await;
    assert_eq!(roll_numbers(&document), vec![401, 402]);
    let key = log_key(app).await;
    let (ok, output) = export_and_verify(app, &key);
    assert!(ok, "{output}");
    assert!(
        output.contains("voter rolls hold exactly the members on their opening day"),
        "{output}"
    );
    (key, outsider)
}

#[tokio::test]
async fn the_verifier_rejects_a_roll_with_a_non_member() {
    let app = TestApp::spawn().await;
    let (key, outsider) = audited_vote(&app).await;
    forge_roll(&app, |body| {
        body["voter_roll"].as_array_mut().unwrap().push(json!({
            "member": outsider.to_string(), "bg_number": 403, "weight": 1,
            "sectors": ["PO"], "chamber": "small"}));
    })
    .await;
    let (ok, output) = export_and_verify(&app, &key);
    assert!(!ok, "{output}");
    assert!(
        output.contains("holds board 403") && output.contains("not show as a member"),
        "{output}"
    );
}

#[tokio::test]
async fn the_verifier_rejects_a_roll_that_leaves_out_a_member() {
    let app = TestApp::spawn().await;
    let (key, _) = audited_vote(&app).await;
    forge_roll(&app, |body| {
        body["voter_roll"].as_array_mut().unwrap().pop();
    })
    .await;
    let (ok, output) = export_and_verify(&app, &key);
    assert!(!ok, "{output}");
    assert!(output.contains("leaves out board 402"), "{output}");
}

#[tokio::test]
async fn admissions_from_the_command_line_reach_the_log_before_the_roll() {
    let app = TestApp::spawn().await;
    let board = app.create_board(501, "Via de regel", Some(500), None).await;
    app.create_board(502, "Ook via de regel", Some(700), None)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("leden.txt");
    std::fs::write(&list, "501\n502\n501\n").unwrap();
    let out = cli_ok(&app.cli(&[
        "members",
        "admit",
        "--from",
        list.to_str().unwrap(),
        "--date",
        "2026-01-01",
    ]));
    assert!(out.contains("admitted 2 boards"), "{out}");
    // Recorded while the server runs: not in the log yet …
    let (_, body) = app
        .get(&format!("/api/v1/members/{board}"), &app.admin())
        .await;
    assert!(
        body["membership"]["periods"][0].get("log_entry").is_none(),
        "{body}"
    );
    // … until the server freezes a roll, which the auditor then checks against it.
    let document = open_po(&app, "Na toelating").await;
    assert_eq!(roll_numbers(&document), vec![501, 502]);
    let (_, body) = app
        .get(&format!("/api/v1/members/{board}"), &app.admin())
        .await;
    assert!(
        body["membership"]["periods"][0]["log_entry"].is_u64(),
        "{body}"
    );
    let key = log_key(&app).await;
    let (ok, output) = export_and_verify(&app, &key);
    assert!(ok, "{output}");
    assert!(
        output.contains("2 membership statements replayed"),
        "{output}"
    );
}
