//! The web client's tests, run by plain `cargo test`:
//! - the vendored JavaScript in web/vendor/ is exactly what web/vendor/VENDOR.md lists;
//! - the JavaScript unit tests (`node --test web/test/unit/`) pass;
//! - the browser suite (`node --test web/test/e2e/`, playwright-core driving Debian's
//!   Chromium) passes against the real application started here, with a clock the
//!   suite can move forward through a small control server.
//!
//! Without Chromium (or Node) the browser suite warns loudly and passes, except in CI
//! (env `CI` set), where a missing browser is a failure.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json};
use poem::{EndpointExt, Route, Server, handler};
use serde_json::{Value, json};
use sha2::{Digest, Sha384};

use mandaat::auth::{Role, TokenRequest};
use mandaat::clock::Clock;

use crate::helpers::{TestApp, TestClock};

/// How long the browser suite may take before it is stopped and the test fails.
const BROWSER_SUITE_LIMIT: Duration = Duration::from_secs(10 * 60);
const UNIT_LIMIT: Duration = Duration::from_secs(2 * 60);
const NPM_CI_LIMIT: Duration = Duration::from_secs(5 * 60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Written straight to the terminal: libtest captures `println!`/`eprintln!` of a test
/// that passes, and a skipped browser suite must never go unnoticed.
fn shout(lines: &[&str]) {
    let rule = "=".repeat(78);
    let mut text = format!("\n{rule}\n");
    for line in lines {
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str(&format!("{rule}\n\n"));
    let _ = std::io::stderr().write_all(text.as_bytes());
}

// ---------------------------------------------------------------------------
// (a) Vendored libraries

/// One row of web/vendor/VENDOR.md.
#[derive(Debug)]
struct Vendored {
    file: String,
    package: String,
    version: String,
    licence: String,
    source: String,
    integrity: String,
}

/// Parses the table `| file | package | version | licence | source | integrity |`.
fn vendor_table(text: &str) -> Result<Vec<Vendored>, String> {
    let mut rows = Vec::new();
    let mut header_seen = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('|') {
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').trim().to_owned())
            .collect();
        if !header_seen {
            let expected = [
                "file",
                "package",
                "version",
                "licence",
                "source",
                "integrity",
            ];
            if cells.iter().map(|c| c.to_lowercase()).collect::<Vec<_>>() != expected {
                return Err(format!(
                    "line {}: the table header must be | {} |, found {line:?}",
                    n + 1,
                    expected.join(" | ")
                ));
            }
            header_seen = true;
            continue;
        }
        if cells
            .iter()
            .all(|c| c.chars().all(|ch| matches!(ch, '-' | ':')))
        {
            continue; // the separator row
        }
        let [file, package, version, licence, source, integrity] = <[String; 6]>::try_from(cells)
            .map_err(|c| {
            format!(
                "line {}: expected 6 cells, found {}: {line:?}",
                n + 1,
                c.len()
            )
        })?;
        for (name, value) in [
            ("file", &file),
            ("package", &package),
            ("version", &version),
            ("licence", &licence),
            ("source", &source),
        ] {
            if value.is_empty() {
                return Err(format!("line {}: empty {name}: {line:?}", n + 1));
            }
        }
        if !source.starts_with("https://") {
            return Err(format!(
                "line {}: source must be an https URL, found {source:?}",
                n + 1
            ));
        }
        rows.push(Vendored {
            file,
            package,
            version,
            licence,
            source,
            integrity,
        });
    }
    if !header_seen {
        return Err("no table | file | package | version | licence | source | integrity |".into());
    }
    Ok(rows)
}

fn is_licence_file(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.contains("licen") || lower.contains("copying") || lower.contains("notice")
}

/// Every file under `dir`, relative to it, with '/' separators.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn sha384_integrity(bytes: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

#[test]
fn vendored_files_are_exactly_those_listed_with_their_integrity() {
    let vendor = repo().join("web/vendor");
    let index = vendor.join("VENDOR.md");
    let text = std::fs::read_to_string(&index)
        .unwrap_or_else(|e| panic!("{} must list the vendored files: {e}", index.display()));
    let rows = vendor_table(&text).unwrap_or_else(|e| panic!("{}: {e}", index.display()));
    assert!(!rows.is_empty(), "{} lists no files", index.display());

    let mut problems = Vec::new();
    let mut listed = std::collections::BTreeSet::new();
    for row in &rows {
        if !listed.insert(row.file.clone()) {
            problems.push(format!("{} is listed twice", row.file));
        }
        if row.file.contains("..") || row.file.starts_with('/') {
            problems.push(format!("{} is not a path inside web/vendor", row.file));
            continue;
        }
        let path = vendor.join(&row.file);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                problems.push(format!(
                    "{} ({} {}) is listed but cannot be read: {e}",
                    row.file, row.package, row.version
                ));
                continue;
            }
        };
        let actual = sha384_integrity(&bytes);
        if !row.integrity.starts_with("sha384-") {
            problems.push(format!(
                "{}: integrity must be sha384-<base64>, found {:?}",
                row.file, row.integrity
            ));
        } else if actual != row.integrity {
            problems.push(format!(
                "{} ({} {}, {}, from {}): VENDOR.md says {} but the file hashes to {actual}",
                row.file, row.package, row.version, row.licence, row.source, row.integrity
            ));
        }
    }
    let licences: Vec<String> = files_under(&vendor)
        .into_iter()
        .filter(|f| is_licence_file(f.rsplit('/').next().unwrap_or(f)))
        .collect();
    for file in files_under(&vendor) {
        let name = file.rsplit('/').next().unwrap_or(&file);
        if !listed.contains(&file) && file != "VENDOR.md" && !is_licence_file(name) {
            problems.push(format!(
                "web/vendor/{file} is not listed in VENDOR.md (nor a licence file)"
            ));
        }
    }
    if licences.is_empty() {
        problems.push("web/vendor holds no licence file next to the vendored code".into());
    }
    assert!(
        problems.is_empty(),
        "web/vendor does not match {}:\n  {}",
        index.display(),
        problems.join("\n  ")
    );
}

#[test]
fn vendor_table_parser_reads_rows_and_refuses_bad_tables() {
    let good = "# Vendored\n\n| file | package | version | licence | source | integrity |\n\
                | --- | --- | --- | --- | --- | --- |\n\
                | `a.mjs` | a | 1.0.0 | MIT | https://registry.npmjs.org/a/-/a-1.0.0.tgz | `sha384-xyz` |\n";
    let rows = vendor_table(good).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].file, "a.mjs");
    assert_eq!(rows[0].integrity, "sha384-xyz");
    assert!(vendor_table("no table here").is_err());
    assert!(vendor_table(&good.replace("| MIT ", "")).is_err());
    assert!(vendor_table(&good.replace("https://registry", "http://registry")).is_err());
    assert_eq!(
        sha384_integrity(b""),
        "sha384-OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb"
    );
}

// ---------------------------------------------------------------------------
// Running node with a time limit

struct Finished {
    /// None: stopped at the time limit.
    status: Option<ExitStatus>,
    output: String,
    elapsed: Duration,
}

impl Finished {
    fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    fn describe(&self, what: &str, limit: Duration) -> String {
        match self.status {
            None => format!("{what} was stopped after {} s (the limit)", limit.as_secs()),
            Some(s) => format!("{what} ended with {s} after {} s", self.elapsed.as_secs()),
        }
    }
}

fn pipe_reader(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

fn signal_group(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs `cmd` in its own process group; past `limit` the group gets SIGTERM, then SIGKILL.
fn run_bounded(mut cmd: Command, limit: Duration) -> Finished {
    use std::os::unix::process::CommandExt as _;
    let program = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let pid = child.id();
    let stdout = pipe_reader(child.stdout.take().expect("stdout piped"));
    let stderr = pipe_reader(child.stderr.take().expect("stderr piped"));
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let status = match done_rx.recv_timeout(limit) {
        Ok(status) => Some(status.unwrap_or_else(|e| panic!("waiting for {program}: {e}"))),
        Err(_) => {
            signal_group(pid, "-TERM");
            if done_rx.recv_timeout(Duration::from_secs(5)).is_err() {
                signal_group(pid, "-KILL");
                let _ = done_rx.recv_timeout(Duration::from_secs(5));
            }
            None
        }
    };
    let elapsed = started.elapsed();
    let read = |rx: mpsc::Receiver<Vec<u8>>| {
        String::from_utf8_lossy(&rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default())
            .into_owned()
    };
    let (out, err) = (read(stdout), read(stderr));
    let mut output = out;
    if !err.trim().is_empty() {
        output.push_str("\n--- stderr ---\n");
        output.push_str(&err);
    }
    Finished {
        status,
        output,
        elapsed,
    }
}

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Node is needed for the JavaScript tests: in CI its absence fails, elsewhere it warns.
fn require_node(what: &str) -> bool {
    if node_available() {
        return true;
    }
    let lines = [
        &format!("WARNING: {what} did NOT run: `node` is not installed.") as &str,
        "Install Node.js 20 or newer, e.g. `sudo apt-get install nodejs npm`,",
        "then run `cargo test` again.",
    ];
    assert!(!in_ci(), "{}", lines.join("\n"));
    shout(&lines);
    false
}

/// The `# tests n`, `# pass n`, `# fail n` … lines of node's TAP summary.
fn node_summary(output: &str) -> String {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| {
            [
                "tests ",
                "pass ",
                "fail ",
                "skipped ",
                "todo ",
                "cancelled ",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------
// (b) The JavaScript unit tests

#[test]
fn javascript_unit_tests_pass() {
    if !require_node("the JavaScript unit tests (web/test/unit)") {
        return;
    }
    let unit = repo().join("web/test/unit");
    assert!(
        unit.is_dir(),
        "{} is missing: the crypto unit tests live there",
        unit.display()
    );
    let mut cmd = Command::new("node");
    cmd.current_dir(repo()).args(["--test", "web/test/unit/"]);
    let run = run_bounded(cmd, UNIT_LIMIT);
    assert!(
        run.success(),
        "{}; its output:\n{}",
        run.describe("`node --test web/test/unit/`", UNIT_LIMIT),
        run.output
    );
    println!("{}", run.output);
}

// ---------------------------------------------------------------------------
// (c) The browser suite

/// The browser: $CHROMIUM, else Debian's /usr/bin/chromium.
fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// web/test/node_modules with playwright-core and axe-core, installed by `npm ci`
/// from the committed lockfile when missing.
fn ensure_node_modules() {
    let test_dir = repo().join("web/test");
    let modules = test_dir.join("node_modules");
    if modules.join("playwright-core/package.json").is_file()
        && modules.join("axe-core/axe.min.js").is_file()
    {
        return;
    }
    let mut cmd = Command::new("npm");
    cmd.current_dir(repo())
        .args(["ci", "--no-audit", "--no-fund", "--prefix", "web/test"])
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    let run = run_bounded(cmd, NPM_CI_LIMIT);
    assert!(
        run.success(),
        "{}: the browser tests need playwright-core and axe-core in {} \
         (`npm ci --prefix web/test`, which needs npm and the npm registry); its output:\n{}",
        run.describe("`npm ci --prefix web/test`", NPM_CI_LIMIT),
        modules.display(),
        run.output
    );
}

#[derive(serde::Deserialize)]
struct Advance {
    advance_seconds: i64,
}

/// POST {"advance_seconds": n}: moves the server's clock n seconds forward.
#[handler]
fn advance_clock(
    Json(body): Json<Advance>,
    Data(clock): Data<&Arc<TestClock>>,
) -> poem::Result<Json<Value>> {
    if !(0..=60 * 86_400).contains(&body.advance_seconds) {
        return Err(poem::Error::from_string(
            "advance_seconds must be between 0 and 60 days",
            poem::http::StatusCode::BAD_REQUEST,
        ));
    }
    clock.advance(chrono::Duration::seconds(body.advance_seconds));
    Ok(clock_now(clock))
}

/// GET: the server's time now.
#[handler]
fn read_clock(Data(clock): Data<&Arc<TestClock>>) -> Json<Value> {
    clock_now(clock)
}

fn clock_now(clock: &TestClock) -> Json<Value> {
    Json(json!({"now": clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}))
}

/// The control server on 127.0.0.1:0; returns its URL and a handle that stops it.
async fn control_server(clock: Arc<TestClock>) -> (String, tokio::sync::oneshot::Sender<()>) {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("control server listens");
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .expect("control server address");
    let route = Route::new()
        .at("/clock", poem::get(read_clock).post(advance_clock))
        .data(clock);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            route,
            async {
                let _ = rx.await;
            },
            Some(Duration::from_secs(1)),
        ),
    );
    (format!("http://{addr}/clock"), tx)
}

/// The member boards the suite works with: PO and VO boards of several sizes.
const BOARDS: &[(u32, &str, Option<u64>, Option<u64>)] = &[
    (
        41001,
        "Stichting Primair Onderwijs Noord",
        Some(4_200),
        None,
    ),
    (41002, "Stichting Basisscholen Zuid", Some(2_600), None),
    (41003, "Vereniging Openbaar Primair West", Some(1_100), None),
    (41004, "Scholengroep Voortgezet Oost", None, Some(3_400)),
    (41005, "Stichting Lyceum Midden", None, Some(1_900)),
    (41006, "Onderwijsgroep Brede School", Some(800), Some(1_500)),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_suite_passes_in_chromium() {
    let browser = chromium();
    if !browser.is_file() {
        let lines = [
            "WARNING: the browser tests did NOT run.",
            &format!(
                "No Chromium at {} (set CHROMIUM to use another path).",
                browser.display()
            ) as &str,
            "Install Debian's Chromium and run `cargo test` again:",
            "    sudo apt-get install chromium",
            "(CI sets CI=1, and there a missing browser fails this test.)",
        ];
        assert!(!in_ci(), "{}", lines.join("\n"));
        shout(&lines);
        return;
    }
    if !require_node("the browser tests (web/test/e2e)") {
        return;
    }
    ensure_node_modules();

    let clock = Arc::new(TestClock::running());
    // The school-account flow signs in through the mock provider, as one teacher.
    let provider = crate::oidc_provider::MockProvider::start().await;
    provider.use_clock(clock.clone());
    provider.sign_in_as(crate::oidc_provider::Identity {
        subject: "e2e-teacher".into(),
        name: "Els de Vries".into(),
        email: Some("els@school.example".into()),
        home_organization: Some("16AH".into()),
        claims_at_userinfo: false,
    });
    let providers = tempfile::NamedTempFile::new().expect("providers file");
    let provider_entry = json!({"id": "mock", "display_name": "Mock school account"});
    let mut entry = provider_entry.clone();
    entry["issuer"] = json!(provider.issuer());
    entry["client_id"] = json!(crate::oidc_provider::MockProvider::CLIENT_ID);
    entry["client_secret"] = json!(crate::oidc_provider::MockProvider::CLIENT_SECRET);
    std::fs::write(providers.path(), json!({"providers": [entry]}).to_string())
        .expect("write providers file");
    let providers_path = providers.path().to_owned();
    let app = TestApp::spawn_with_clock_and_config(clock.clone(), |c| {
        c.sign_in_providers = Some(providers_path)
    })
    .await;
    let mut members = Vec::new();
    for &(bg, name, po, vo) in BOARDS {
        let id = app.create_member(bg, name, po, vo).await;
        let sectors: Vec<&str> = [po.map(|_| "PO"), vo.map(|_| "VO")]
            .into_iter()
            .flatten()
            .collect();
        members.push(
            json!({"id": id, "bg_number": bg, "name": name, "sectors": sectors,
                            "pupils": {"po": po, "vo": vo}}),
        );
    }
    // Long enough for the whole suite; tokens are checked against real time.
    let admin = app
        .issuer
        .issue(
            &TokenRequest {
                subject: "e2e-secretariat".into(),
                role: Role::Admin,
                member_id: None,
                sector: None,
                ttl: BROWSER_SUITE_LIMIT + Duration::from_secs(300),
            },
            chrono::Utc::now(),
        )
        .expect("admin token");
    let (clock_url, stop_control) = control_server(clock.clone()).await;

    let screenshots = repo().join("web/test/screenshots");
    if screenshots.is_dir() {
        std::fs::remove_dir_all(&screenshots).expect("clear old screenshots");
    }
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");

    // While writing a flow, MANDAAT_E2E_ONLY="web/test/e2e/x.test.mjs …" runs just those files.
    let only = std::env::var("MANDAAT_E2E_ONLY").unwrap_or_default();
    let files: Vec<&str> = match only.split_whitespace().collect::<Vec<_>>() {
        some if !some.is_empty() => {
            shout(&[&format!(
                "MANDAAT_E2E_ONLY is set: only {only} of the browser suite runs."
            )]);
            some
        }
        _ => vec!["web/test/e2e/"],
    };
    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .args(["--test", "--test-concurrency=1"])
        .args(&files)
        .env("MANDAAT_BASE_URL", &app.base)
        .env("MANDAAT_ADMIN_TOKEN", &admin)
        .env("MANDAAT_CLOCK_URL", &clock_url)
        .env("MANDAAT_SCREENSHOTS", &screenshots)
        .env("MANDAAT_MEMBERS", Value::Array(members).to_string())
        .env("MANDAAT_OIDC_PROVIDER", provider_entry.to_string())
        .env("CHROMIUM", &browser);
    let run = tokio::task::spawn_blocking(move || run_bounded(cmd, BROWSER_SUITE_LIMIT))
        .await
        .expect("browser suite runner");
    let _ = stop_control.send(());
    drop(app);
    drop(provider);

    assert!(
        run.success(),
        "{}; screenshots in {}; node's output:\n{}",
        run.describe(
            "the browser suite `node --test web/test/e2e/`",
            BROWSER_SUITE_LIMIT
        ),
        screenshots.display(),
        run.output
    );
    println!("{}", run.output);
    let _ = writeln!(
        std::io::stderr(),
        "web: browser suite passed in {} s ({}); screenshots in {}",
        run.elapsed.as_secs(),
        node_summary(&run.output),
        screenshots.display()
    );
}
