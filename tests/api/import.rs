//! `mandaat members import` on the real DUO files, checked through the API.

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;

use mandaat::domain::school::Brin;
use mandaat::store::Store;

use crate::helpers::{TestApp, duo_data, storage};

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

/// The store on the app's database, as the sign-in service uses it.
async fn store(app: &TestApp) -> Store {
    Store::open(&storage(app.data_dir.path(), &app.db))
        .await
        .unwrap()
}

async fn schools(db: &DatabaseConnection, sector: &str) -> u64 {
    entity::school::Entity::find()
        .filter(entity::school::Column::Sector.eq(sector))
        .count(db)
        .await
        .unwrap()
}

async fn member_id(app: &TestApp, bg_number: u32) -> uuid::Uuid {
    let (_, page) = app
        .get(
            &format!("/api/v1/members?bg_number={bg_number}"),
            &app.auditor(),
        )
        .await;
    page["items"][0]["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn importing_schools_maps_a_brin_to_its_board_and_a_reimport_replaces_the_map() {
    let app = TestApp::spawn().await;
    let (po, vo) = (duo_data("duo"), duo_data("duo-vo"));
    let import = |paths: &[&std::path::Path]| {
        let mut args = vec!["members", "import", "--duo"];
        args.extend(paths.iter().map(|p| p.to_str().unwrap()));
        stdout(&app.cli(&args))
    };
    let first = import(&[&po]);
    assert!(
        first.contains("schools (BRIN → board, to suggest a board on sign-in requests): 6359 read, 6359 PO and 0 VO; 22 of boards not in the register\nschool map (PO): added 6359, changed 0, removed 0, unchanged 0\n"),
        "{first}"
    );
    let store = store(&app).await;
    let db = app.database().await;
    assert_eq!(schools(&db, "PO").await, 6_359);

    // 16AH (Openbare Basisschool 't Eenspan) belongs to board 10249, in the register.
    let emmen = member_id(&app, 10249).await;
    for code in ["16AH", "16ah00", " 16AH00 "] {
        let brin = Brin::parse(code).unwrap();
        let found = store.board_for_school(&brin).await.unwrap().unwrap();
        assert_eq!(found.brin.as_str(), "16AH");
        assert_eq!(found.school_name, "Openbare Basisschool 't Eenspan");
        assert_eq!(found.sector.as_str(), "PO");
        assert_eq!(found.bg_number.get(), 10249);
        let member = found.member.unwrap();
        assert_eq!(member.id, emmen);
        assert_eq!(member.name.as_str(), "Gem Emmen Sec L & Z Ondw");
    }
    // A school whose board had no pupils in the 2016 file: known, but not in the register.
    let rijdende = store
        .board_for_school(&Brin::parse("11PF").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rijdende.bg_number.get(), 40470);
    assert_eq!(rijdende.member, None);
    // A well-formed BRIN that no file lists; a SURFconext domain is no BRIN at all.
    assert_eq!(
        store
            .board_for_school(&Brin::parse("99ZZ").unwrap())
            .await
            .unwrap(),
        None
    );
    assert!(Brin::parse("school.nl").is_err());

    // The same files again: nothing added, nothing duplicated.
    let again = import(&[&po]);
    assert!(
        again.contains("school map (PO): added 0, changed 0, removed 0, unchanged 6359"),
        "{again}"
    );
    assert_eq!(schools(&db, "PO").await, 6_359);

    // With VO: VO schools join, the PO map stays as it is.
    let both = import(&[&po, &vo]);
    assert!(
        both.contains("7001 read, 6359 PO and 642 VO; 22 of boards not in the register\nschool map (PO and VO): added 642, changed 0, removed 0, unchanged 6359"),
        "{both}"
    );
    let walda = store
        .board_for_school(&Brin::parse("19HY00").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            walda.bg_number.get(),
            walda.school_name.as_str(),
            walda.sector.as_str()
        ),
        (10028, "Burg Walda SGM", "VO")
    );
    assert_eq!(walda.member.unwrap().id, member_id(&app, 10028).await);

    // A later PO list replaces the PO map: 16AH moved to board 24597, every other PO
    // school is gone; the VO schools, whose list was not given, stay.
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("po-hoofdvestigingen-2018.csv");
    std::fs::write(
        &newer,
        b"PROVINCIE;BEVOEGD GEZAG NUMMER;BRIN NUMMER;INSTELLINGSNAAM\nDrenthe;24597;16AH;Het Eenspan\n",
    )
    .unwrap();
    let replaced = import(&[&po.join("po-leerlingen-per-vestiging-2016.csv"), &newer]);
    assert!(
        replaced.contains("school map (PO): added 0, changed 1, removed 6358, unchanged 0"),
        "{replaced}"
    );
    assert_eq!(schools(&db, "PO").await, 1);
    assert_eq!(schools(&db, "VO").await, 642);
    let moved = store
        .board_for_school(&Brin::parse("16AH").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (moved.bg_number.get(), moved.school_name.as_str()),
        (24597, "Het Eenspan")
    );
    assert_eq!(moved.member.unwrap().id, member_id(&app, 24597).await);
    let brin_16bx = Brin::parse("16BX").unwrap();
    assert_eq!(store.board_for_school(&brin_16bx).await.unwrap(), None);
    assert!(
        store
            .board_for_school(&Brin::parse("19HY").unwrap())
            .await
            .unwrap()
            .is_some()
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_brin_under_two_boards_is_reported_and_keeps_the_later() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let header = "PROVINCIE;BEVOEGD GEZAG NUMMER;BRIN NUMMER;INSTELLINGSNAAM\n";
    std::fs::write(
        dir.path().join("po-hoofdvestigingen-2017.csv"),
        format!("{header}Drenthe;10249;16AH;Eenspan\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("po-hoofdvestigingen-2018.csv"),
        format!("{header}Drenthe;24597;16AH;Eenspan\n"),
    )
    .unwrap();
    let pupils = duo_data("duo").join("po-leerlingen-per-vestiging-2016.csv");
    let out = stdout(&app.cli(&[
        "members",
        "import",
        "--duo",
        pupils.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]));
    assert!(
        out.contains(
            "BRINs listed under another board than before: 1; each keeps the later row's board:"
        ),
        "{out}"
    );
    assert!(
        out.contains("po-hoofdvestigingen-2018.csv:2: BRIN 16AH is listed under board 24597 here and under board 10249 before; board 24597 is kept"),
        "{out}"
    );
    let store = store(&app).await;
    let found = store
        .board_for_school(&Brin::parse("16AH").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.bg_number.get(), 24597);
    store.close().await.unwrap();
}
