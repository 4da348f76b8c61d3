//! `mandaat members import` on the real DUO files, checked through the API.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, duo_data};

async fn all_members(app: &TestApp, query: &str) -> Vec<Value> {
    let mut members = Vec::new();
    loop {
        let (status, page) = app
            .get(
                &format!("/api/v1/members?limit=500&offset={}&{query}", members.len()),
                &app.auditor(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        if items.is_empty() {
            return members;
        }
        members.extend(items.iter().cloned());
    }
}

async fn total(app: &TestApp, query: &str) -> u64 {
    let (_, page) = app
        .get(&format!("/api/v1/members?limit=1&{query}"), &app.auditor())
        .await;
    page["total"].as_u64().unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn importing_primary_boards_reproduces_duo_figures_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let po = duo_data("duo");
    let first = stdout(&app.cli(&["members", "import", "--duo", po.to_str().unwrap()]));
    assert!(first.contains("created 1052"), "{first}");

    let members = all_members(&app, "").await;
    assert_eq!(members.len(), 1052);
    let pupils: u64 = members
        .iter()
        .map(|m| m["pupils"]["po"].as_u64().unwrap())
        .sum();
    assert_eq!(pupils, 1_528_377);
    assert_eq!(total(&app, "chamber=small").await, 614);
    assert_eq!(total(&app, "sector=PO").await, 1052);

    let (_, page) = app
        .get("/api/v1/members?bg_number=24597", &app.auditor())
        .await;
    let rotterdam = &page["items"][0];
    assert_eq!(rotterdam["name"], "Rotterdamse Ver Kath Ond");
    assert_eq!(rotterdam["pupils"]["po"], 19_997);
    assert_eq!(rotterdam["chamber"], "po-large");

    // Boards missing from the name file keep a placeholder that says so.
    let unnamed: Vec<&Value> = members
        .iter()
        .filter(|m| m["name"].as_str().unwrap().contains("name unknown"))
        .collect();
    assert!(!unnamed.is_empty());
    let example = unnamed[0];
    assert!(
        example["name"]
            .as_str()
            .unwrap()
            .contains(&example["bg_number"].to_string())
    );

    let second = stdout(&app.cli(&["members", "import", "--duo", po.to_str().unwrap()]));
    assert!(second.contains("nothing changed"), "{second}");
    assert_eq!(
        all_members(&app, "").await,
        members,
        "a second import changes nothing"
    );
}

#[tokio::test]
async fn importing_secondary_boards_adds_vo_and_combined_boards() {
    let app = TestApp::spawn().await;
    let (po, vo) = (duo_data("duo"), duo_data("duo-vo"));
    stdout(&app.cli(&[
        "members",
        "import",
        "--duo",
        po.to_str().unwrap(),
        vo.to_str().unwrap(),
    ]));
    assert_eq!(total(&app, "").await, 1279);
    assert_eq!(total(&app, "sector=VO").await, 276);
    assert_eq!(total(&app, "chamber=combined").await, 49);
    assert_eq!(total(&app, "chamber=small").await, 753);
    assert_eq!(total(&app, "chamber=po-large").await, 411);
    assert_eq!(total(&app, "chamber=vo-large").await, 66);
    let vo_pupils: u64 = all_members(&app, "sector=VO")
        .await
        .iter()
        .map(|m| m["pupils"]["vo"].as_u64().unwrap())
        .sum();
    assert_eq!(vo_pupils, 919_819);
    let (_, page) = app
        .get("/api/v1/members?bg_number=41211", &app.auditor())
        .await;
    assert_eq!(page["items"][0]["pupils"]["vo"], 57_307);
}

#[tokio::test]
async fn a_malformed_row_is_reported_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("po-leerlingen.csv");
    let header = "PEILDATUM;BRIN_NUMMER;VESTIGINGSNUMMER;INSTELLINGSNAAM_VESTIGING;POSTCODE_VESTIGING;PLAATSNAAM;GEMEENTENUMMER;GEMEENTENAAM;PROVINCIE;SOORT_PO;CLUSTER;DENOMINATIE_VESTIGING;BEVOEGD_GEZAG_NUMMER;TOTAAL";
    let good =
        "20161001;00AO;00;School;7383BH;VOORST; 285;Voorst;Gelderland;Bo;;Openbaar;20137;118";
    let bad =
        "20161001;00AP;00;School;7383BH;VOORST; 285;Voorst;Gelderland;Bo;;Openbaar;20138;veel";
    std::fs::write(&file, format!("{header}\n{good}\n{bad}\n")).unwrap();
    let out = app.cli(&["members", "import", "--duo", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("po-leerlingen.csv:3"), "{stderr}");
    assert_eq!(
        total(&app, "").await,
        0,
        "the good row was not half-imported"
    );
}
