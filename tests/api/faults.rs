//! Faults, as CI runs them on both databases:
//!
//! - the real binary killed with SIGKILL while boards cast ballots, ten times in a row
//!   on one database: after every restart each acknowledged ballot is in the log with
//!   the leaf hash its receipt named, the log extends every checkpoint handed out, a
//!   re-sent ballot gets a clear answer, and at the end `mandaat audit verify` passes;
//! - PostgreSQL going away under a running server (a proxy in this test drops every
//!   connection and refuses new ones, then forwards again): 503 problems, never a 500
//!   or a hang, nothing half-written, and recovery without a restart. Also the worst
//!   moment for it: the connection lost after COMMIT was sent, before its answer.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::SecondsFormat;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

use mandaat::auth::{LocalIssuer, Role, TokenRequest};
use mandaat::domain::statement::BASE64URL;
use mandaat::transparency::checkpoint::Checkpoint;
use mandaat::transparency::merkle::{Hash, MerkleTree, leaf_hash, verify_inclusion};
use mandaat::transparency::note::NoteVerifier;

use crate::helpers::{AUDIENCE, BoardKey, ISSUER, TestApp, TestDatabase};

const BALLOT: &str = "mandaat.ballot.v1";

/// How long the server under a database outage waits for a connection.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------
// What both tests share: boards, ballots, receipts and the log as a client sees it.

/// A board as its client holds it: its member, its key and a token.
struct Voter {
    id: Uuid,
    key: BoardKey,
    token: String,
}

#[derive(Clone)]
struct Proposal {
    id: Uuid,
    digest: String,
}

/// A signed ballot as sent, and the leaf hash its entry must have.
#[derive(Clone)]
struct Cast {
    wire: Value,
    leaf: Hash,
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes)
}

fn ballot(p: &Proposal, voter: &Voter) -> Cast {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).unwrap();
    let vote = if random_u64().is_multiple_of(2) {
        "yes"
    } else {
        "no"
    };
    let statement = json!({"type": BALLOT, "proposal": p.id.to_string(),
        "proposal_digest": p.digest, "voter": voter.id.to_string(),
        "for": voter.id.to_string(), "choice": {"vote": vote},
        "nonce": BASE64URL.encode(nonce),
        "cast_at": chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)});
    let wire = voter.key.sign(&statement);
    // docs/audit.md §1–2: the entry is the canonical JSON of the wire form.
    let leaf = leaf_hash(&serde_json_canonicalizer::to_vec(&wire).unwrap());
    Cast { wire, leaf }
}

/// One answer: status, content type, Retry-After, body, and how long it took.
struct Answer {
    status: StatusCode,
    content_type: String,
    retry_after: Option<String>,
    body: Value,
    took: Duration,
    at: Instant,
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<Answer, reqwest::Error> {
    let started = Instant::now();
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status();
    let content_type = header("content-type").unwrap_or_default();
    let retry_after = header("retry-after");
    let text = response.text().await?;
    Ok(Answer {
        status,
        content_type,
        retry_after,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        took: started.elapsed(),
        at: Instant::now(),
    })
}

async fn cast(
    client: &reqwest::Client,
    base: &str,
    p: &Proposal,
    voter: &Voter,
    ballot: &Cast,
) -> Result<Answer, reqwest::Error> {
    send(
        client,
        reqwest::Method::POST,
        &format!("{base}/api/v1/proposals/{}/ballots", p.id),
        Some(&voter.token),
        Some(&ballot.wire),
    )
    .await
}

/// Checks a ballot's receipt as the board would, offline: its leaf hash is the one of
/// the bytes sent, the checkpoint is signed by the pinned log key, and the inclusion
/// proof leads to its root. Returns the entry index and the checkpoint with its note.
fn check_receipt(answer: &Value, ballot: &Cast, log_key: &NoteVerifier) -> (u64, Seen) {
    let receipt = &answer["receipt"];
    assert_eq!(
        receipt["leaf_hash"],
        hex::encode(ballot.leaf),
        "the receipt names another leaf: {answer}"
    );
    let index = receipt["index"].as_u64().expect("index");
    assert_eq!(answer["entry"], index, "{answer}");
    let note = receipt["checkpoint"]
        .as_str()
        .expect("checkpoint")
        .to_owned();
    let text = log_key
        .verify(&note)
        .unwrap_or_else(|e| panic!("the receipt's checkpoint does not verify: {e}: {answer}"));
    let checkpoint = Checkpoint::parse(&text).unwrap();
    assert_eq!(checkpoint.size, receipt["tree_size"].as_u64().unwrap());
    let proof: Vec<Hash> = receipt["inclusion_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| mandaat::transparency::merkle::hash_from_b64(h.as_str().unwrap()).unwrap())
        .collect();
    verify_inclusion(
        &ballot.leaf,
        index,
        checkpoint.size,
        &proof,
        &checkpoint.root,
    )
    .unwrap_or_else(|e| panic!("the receipt's inclusion proof fails: {e}: {answer}"));
    (index, Seen { checkpoint, note })
}

/// A signed checkpoint handed out in a receipt.
struct Seen {
    checkpoint: Checkpoint,
    note: String,
}

/// The log as an auditor reads it over the API: the signed checkpoint, and every
/// entry's leaf hash, which must hash to the checkpoint's root.
struct LogView {
    checkpoint: Checkpoint,
    tree: MerkleTree,
    index_of: std::collections::HashMap<Hash, u64>,
}

async fn read_log(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    log_key: &NoteVerifier,
) -> LogView {
    let response = client
        .get(format!("{base}/api/v1/log/checkpoint"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let note = response.text().await.unwrap();
    let checkpoint = Checkpoint::parse(&log_key.verify(&note).unwrap()).unwrap();
    let mut tree = MerkleTree::new();
    let mut index_of = std::collections::HashMap::new();
    while tree.size() < checkpoint.size {
        let start = tree.size();
        let end = checkpoint.size.min(start + 1000);
        let page = send(
            client,
            reqwest::Method::GET,
            &format!("{base}/api/v1/log/entries?start={start}&end={end}"),
            Some(token),
            None,
        )
        .await
        .unwrap();
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for entry in page.body["entries"].as_array().unwrap() {
            assert_eq!(entry["index"], tree.size(), "entries are dense");
            let leaf: Hash = hex::decode(entry["leaf_hash"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            index_of.insert(leaf, tree.size());
            tree.push(leaf);
        }
    }
    assert_eq!(
        tree.root(),
        checkpoint.root,
        "the entries do not hash to the signed checkpoint's root"
    );
    LogView {
        checkpoint,
        tree,
        index_of,
    }
}

impl LogView {
    /// The log extends a checkpoint handed out earlier (in a receipt, say).
    fn assert_extends(&self, earlier: &Checkpoint) {
        assert!(
            earlier.size <= self.tree.size()
                && self.tree.root_at(earlier.size).unwrap() == earlier.root,
            "the log of size {} does not extend the checkpoint of size {} handed out before",
            self.tree.size(),
            earlier.size
        );
    }
}

/// A ballot whose answer never came (the server died, or the database went away):
/// after recovery it is either in the log (then it verifies, and re-sending it gets
/// its receipt with 200) or not (then re-sending it is a new ballot: 201).
/// Returns whether it was in the log.
async fn resolve_unanswered(
    client: &reqwest::Client,
    base: &str,
    p: &Proposal,
    voter: &Voter,
    ballot: &Cast,
    log: &LogView,
    log_key: &NoteVerifier,
) -> (bool, u64) {
    let found = log.index_of.get(&ballot.leaf).copied();
    let answer = cast(client, base, p, voter, ballot).await.unwrap();
    let expected = if found.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    assert_eq!(
        answer.status,
        expected,
        "re-sending a ballot that is {} the log: {}",
        if found.is_some() { "in" } else { "not in" },
        answer.body
    );
    let (index, _) = check_receipt(&answer.body, ballot, log_key);
    if let Some(found) = found {
        assert_eq!(
            index, found,
            "the re-sent ballot's receipt names another entry"
        );
    }
    (found.is_some(), index)
}

fn token(issuer: &LocalIssuer, role: Role, member: Option<Uuid>) -> String {
    let request = TokenRequest {
        subject: format!("faults-{role}"),
        role,
        member_id: member,
        sector: None,
        ttl: Duration::from_secs(3600),
    };
    issuer.issue(&request, chrono::Utc::now()).unwrap()
}

// ---------------------------------------------------------------------------------
// SIGKILL, ten times in a row.

/// `mandaat serve` on port 0, as a child process. Killed when dropped, so a failing
/// test leaves no server behind.
struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary on this data and database and waits (at most 30 s) until it
    /// says where it listens.
    fn start(data_dir: &Path, db: &TestDatabase) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mandaat"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            // Not what is tested here; the checks below read the whole log each round.
            .args(["--rate-limit-authenticated", "0", "--data-dir"])
            .arg(data_dir);
        if let Some(url) = db.url() {
            command.arg("--database-url").arg(url);
        }
        let mut child = command
            .env("RUST_LOG", "warn")
            .env_remove("MANDAAT_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mandaat starts");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { break };
                if let Some(base) = line.strip_prefix("Mandaat is listening on ") {
                    let _ = tx.send(base.trim().to_owned());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let mut server = Server {
            child,
            base: String::new(),
            stderr: lines,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(base) => server.base = base,
            Err(_) => {
                // Give the reader a moment to collect why it stopped.
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "the server did not start on its own data:\n{}",
                    server.output()
                );
            }
        }
        server
    }

    fn output(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// SIGKILL (what `Child::kill` sends on Unix), and reap it.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "{status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Members, their keys and an open resolution, through the API of a running server.
async fn set_up(
    client: &reqwest::Client,
    base: &str,
    issuer: &LocalIssuer,
    boards: u32,
) -> (Vec<Voter>, Proposal) {
    let admin = token(issuer, Role::Admin, None);
    let mut voters = Vec::new();
    for n in 0..boards {
        let member = send(
            client,
            reqwest::Method::POST,
            &format!("{base}/api/v1/members"),
            Some(&admin),
            Some(
                &json!({"bg_number": 40_000 + n, "name": format!("Stichting Fout {n}"),
                         "pupils": {"po": 100 + n}}),
            ),
        )
        .await
        .unwrap();
        assert_eq!(member.status, StatusCode::CREATED, "{}", member.body);
        let id: Uuid = member.body["id"].as_str().unwrap().parse().unwrap();
        let admitted = send(
            client,
            reqwest::Method::POST,
            &format!("{base}/api/v1/members/{id}/membership"),
            Some(&admin),
            Some(&json!({"action": "admit", "date": "2020-01-01"})),
        )
        .await
        .unwrap();
        assert_eq!(admitted.status, StatusCode::OK, "{}", admitted.body);
        let voter = Voter {
            id,
            key: BoardKey::generate(),
            token: token(issuer, Role::Board, Some(id)),
        };
        let key = send(
            client,
            reqwest::Method::POST,
            &format!("{base}/api/v1/members/{id}/keys"),
            Some(&voter.token),
            Some(&voter.key.proof(id)),
        )
        .await
        .unwrap();
        assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
        voters.push(voter);
    }
    let now = chrono::Utc::now();
    let spec = json!({"title": "Storingsproef", "description": "Stemmen terwijl de server valt",
        "kind": "resolution",
        "electorate": {"sectors": ["PO"], "weighting": "pupils", "quorum": "1/2",
                       "majority": {"kind": "more-than", "fraction": "1/2"}, "chamber_rule": false},
        "opens_at": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "closes_at": (now + chrono::Duration::days(14)).to_rfc3339_opts(SecondsFormat::Secs, true)});
    let draft = send(
        client,
        reqwest::Method::POST,
        &format!("{base}/api/v1/proposals"),
        Some(&admin),
        Some(&spec),
    )
    .await
    .unwrap();
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.body);
    let id: Uuid = draft.body["id"].as_str().unwrap().parse().unwrap();
    let open = send(
        client,
        reqwest::Method::POST,
        &format!("{base}/api/v1/proposals/{id}/open"),
        Some(&admin),
        Some(&json!({})),
    )
    .await
    .unwrap();
    assert_eq!(open.status, StatusCode::OK, "{}", open.body);
    let digest = open.body["digest"].as_str().unwrap().to_owned();
    (voters, Proposal { id, digest })
}

/// What one board saw while the server ran: ballots acknowledged (201 with a receipt
/// that verified), and at most one whose answer never came.
#[derive(Default)]
struct BoardRun {
    acked: Vec<(Cast, u64, Seen)>,
    unanswered: Option<Cast>,
}

/// Casts ballots one after the other until the server stops answering.
async fn cast_until_killed(
    client: reqwest::Client,
    base: String,
    p: Proposal,
    voter: Arc<Voter>,
    log_key: Arc<NoteVerifier>,
    stop: Arc<AtomicBool>,
) -> BoardRun {
    let mut run = BoardRun::default();
    while !stop.load(Ordering::SeqCst) {
        let ballot = ballot(&p, &voter);
        match cast(&client, &base, &p, &voter, &ballot).await {
            Ok(answer) => {
                assert_eq!(
                    answer.status,
                    StatusCode::CREATED,
                    "a ballot was refused while the server ran: {}",
                    answer.body
                );
                let (index, seen) = check_receipt(&answer.body, &ballot, &log_key);
                run.acked.push((ballot, index, seen));
            }
            Err(_) => {
                run.unanswered = Some(ballot);
                break;
            }
        }
    }
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_sigkills_while_boards_cast_lose_no_acknowledged_ballot() {
    const KILLS: usize = 10;
    const BOARDS: u32 = 6;
    let started = Instant::now();
    let data_dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let database = if db.url().is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    // A new client for every server: a restarted one may get the same port, and a
    // pooled connection to the killed one must not be mistaken for the new one dying.
    let new_client = || {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    };
    let mut client = new_client();

    let mut server = Server::start(data_dir.path(), &db);
    let pem = std::fs::read_to_string(data_dir.path().join("token-signing.key.pem")).unwrap();
    let issuer =
        LocalIssuer::new(&SigningKey::from_pkcs8_pem(&pem).unwrap(), ISSUER, AUDIENCE).unwrap();
    let auditor = token(&issuer, Role::Auditor, None);
    let key_text = client
        .get(format!("{}/api/v1/log/key", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .trim()
        .to_owned();
    let log_key = Arc::new(NoteVerifier::from_key_string(&key_text).unwrap());
    let (voters, proposal) = set_up(&client, &server.base, &issuer, BOARDS).await;
    let voters: Vec<Arc<Voter>> = voters.into_iter().map(Arc::new).collect();

    // Every ballot acknowledged so far (leaf → index), every checkpoint handed out,
    // and the ballots whose answer never came, with their board.
    let mut acked: Vec<(Hash, u64)> = Vec::new();
    let mut checkpoints: Vec<Seen> = Vec::new();
    let mut unanswered: Vec<(usize, Cast)> = Vec::new();
    let (mut found_unanswered, mut lost_unanswered) = (0, 0);

    for kill in 0..=KILLS {
        if kill > 0 {
            // The restart must succeed on what the killed process left behind.
            server = Server::start(data_dir.path(), &db);
            client = new_client();
        }
        let log = read_log(&client, &server.base, &auditor, &log_key).await;
        for (leaf, index) in &acked {
            assert_eq!(
                log.index_of.get(leaf),
                Some(index),
                "after kill {kill}: an acknowledged ballot is not in the log at the index of its receipt"
            );
        }
        for seen in &checkpoints {
            log.assert_extends(&seen.checkpoint);
        }
        for (board, ballot) in unanswered.drain(..) {
            let (found, index) = resolve_unanswered(
                &client,
                &server.base,
                &proposal,
                &voters[board],
                &ballot,
                &log,
                &log_key,
            )
            .await;
            if found {
                found_unanswered += 1;
            } else {
                lost_unanswered += 1;
            }
            acked.push((ballot.leaf, index));
        }
        if kill == KILLS {
            break;
        }

        let stop = Arc::new(AtomicBool::new(false));
        let boards: Vec<_> = voters
            .iter()
            .map(|voter| {
                tokio::spawn(cast_until_killed(
                    client.clone(),
                    server.base.clone(),
                    proposal.clone(),
                    voter.clone(),
                    log_key.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        // Somewhere between 0.3 and 1 s into the casting.
        tokio::time::sleep(Duration::from_millis(300 + random_u64() % 700)).await;
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for (board, run) in boards.into_iter().enumerate() {
            let run = tokio::time::timeout(Duration::from_secs(30), run)
                .await
                .expect("a board still waits for the killed server")
                .expect("a board's checks failed");
            for (ballot, index, seen) in run.acked {
                acked.push((ballot.leaf, index));
                checkpoints.push(seen);
            }
            if let Some(ballot) = run.unanswered {
                unanswered.push((board, ballot));
            }
        }
        checkpoints.sort_by_key(|seen| seen.checkpoint.size);
        checkpoints.dedup_by_key(|seen| seen.checkpoint.size);
    }

    // Every acknowledged ballot was found above; now the auditor's own tool, live
    // against the last server, pinned to the log key and told about checkpoints from
    // before several of the kills.
    let since = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mandaat"));
    command
        .args([
            "audit",
            "verify",
            "--url",
            &server.base,
            "--token",
            &auditor,
        ])
        .args(["--log-key", &key_text, "--state-dir"])
        .arg(since.path());
    let step = (checkpoints.len() / 10).max(1);
    for (n, seen) in checkpoints.iter().step_by(step).enumerate() {
        let path = since.path().join(format!("checkpoint-{n}.txt"));
        std::fs::write(&path, &seen.note).unwrap();
        command.arg("--since").arg(path);
    }
    let output = command.env("RUST_LOG", "warn").output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "audit verify failed:\n{text}\nserver:\n{}",
        server.output()
    );
    eprintln!(
        "faults: {database}: {KILLS} SIGKILLs; {} ballots acknowledged and all found at their receipt's \
         leaf; {found_unanswered} unanswered ballots were in the log, {lost_unanswered} were not; {:.1} s",
        acked.len() - found_unanswered - lost_unanswered,
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------
// PostgreSQL going away.

/// A TCP proxy between the app and PostgreSQL that plays the database going away:
/// `down` drops every open connection and closes the port (new connections are
/// refused), `up` listens and forwards again. `cut_next_commit` cuts one connection
/// right after it forwarded the COMMIT of a transaction that appended to the log, withholding the answer: the commit happens, the
/// app cannot know.
struct Proxy {
    addr: SocketAddr,
    upstream: String,
    shared: Arc<ProxyShared>,
}

struct ProxyShared {
    /// Changed to close every open connection.
    generation: tokio::sync::watch::Sender<u64>,
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
    cut_next_commit: AtomicBool,
    commits_cut: AtomicUsize,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            upstream,
            shared: Arc::new(ProxyShared {
                generation: tokio::sync::watch::channel(0).0,
                listener: Mutex::new(None),
                cut_next_commit: AtomicBool::new(false),
                commits_cut: AtomicUsize::new(0),
            }),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, shared) = (self.upstream.clone(), self.shared.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream.clone(), shared.clone()));
            }
        });
        *self.shared.listener.lock().unwrap() = Some(task);
    }

    /// PostgreSQL is gone: open connections drop, new ones are refused.
    fn down(&self) {
        if let Some(task) = self.shared.listener.lock().unwrap().take() {
            task.abort();
        }
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// PostgreSQL is back, at the same address.
    async fn up(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the proxy cannot listen on {} again: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    fn cut_next_commit(&self) {
        self.shared.cut_next_commit.store(true, Ordering::SeqCst);
    }
}

/// Forwards one connection until either side closes or the proxy goes down.
async fn forward(client: TcpStream, upstream: String, shared: Arc<ProxyShared>) {
    let mut generation = shared.generation.subscribe();
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (client_read, mut client_write) = client.into_split();
    let (mut server_read, server_write) = server.into_split();
    // Set before a cut COMMIT is forwarded: from then on nothing reaches the client.
    let withheld = Arc::new(AtomicBool::new(false));
    let to_server = to_server(client_read, server_write, shared.clone(), withheld.clone());
    let to_client = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if withheld.load(Ordering::SeqCst) {
                continue;
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = generation.changed() => {}
        _ = to_server => {}
        _ = to_client => {}
    }
}

/// Client to server, message by message (PostgreSQL protocol 3: one untyped startup
/// message, after an optional SSL or GSS request, then typed messages), so that a
/// COMMIT can be recognised.
async fn to_server(
    client: tokio::net::tcp::OwnedReadHalf,
    mut server: tokio::net::tcp::OwnedWriteHalf,
    shared: Arc<ProxyShared>,
    withheld: Arc<AtomicBool>,
) {
    let mut client = tokio::io::BufReader::new(client);
    let mut started = false;
    // Whether the transaction under way inserted a log entry, and the prepared
    // statements that do.
    let mut appending = false;
    let mut appends: std::collections::HashSet<Vec<u8>> = Default::default();
    loop {
        let mut message = Vec::new();
        if started {
            let mut kind = [0u8; 1];
            if client.read_exact(&mut kind).await.is_err() {
                return;
            }
            message.push(kind[0]);
        }
        let mut length = [0u8; 4];
        if client.read_exact(&mut length).await.is_err() {
            return;
        }
        message.extend_from_slice(&length);
        let body_length = (u32::from_be_bytes(length) as usize).saturating_sub(4);
        let mut body = vec![0u8; body_length];
        if client.read_exact(&mut body).await.is_err() {
            return;
        }
        message.extend_from_slice(&body);
        if !started {
            // 80877103 asks for SSL, 80877104 for GSS encryption; both are answered
            // with one byte and followed by the real startup message.
            let code = body
                .get(..4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
            started = !matches!(code, Some(80_877_103 | 80_877_104));
        }
        // Only the commit of a transaction that appended to the log is cut: other
        // writers (the webhook worker handing out events) commit too.
        // The driver prepares a statement once per connection (Parse: its name, then
        // its text) and runs it by name after (Bind: a portal, then the name).
        const APPEND: &[u8] = b"INSERT INTO \"log_entries\"";
        let mut fields = body.split(|b| *b == 0);
        match message[0] {
            b'P' => {
                let name = fields.next().unwrap_or_default();
                // A name may be reused (the unnamed statement is, every time).
                if contains(&body, APPEND) {
                    appends.insert(name.to_vec());
                } else {
                    appends.remove(name);
                }
            }
            b'B' => {
                let name = fields.nth(1).unwrap_or_default();
                appending |= appends.contains(name);
            }
            b'Q' => appending |= contains(&body, APPEND),
            _ => {}
        }
        let commit = message[0] == b'Q' && body.starts_with(b"COMMIT");
        let ended = commit || (message[0] == b'Q' && body.starts_with(b"ROLLBACK"));
        let cut = commit && appending && shared.cut_next_commit.swap(false, Ordering::SeqCst);
        if ended {
            appending = false;
        }
        if cut {
            withheld.store(true, Ordering::SeqCst);
        }
        if server.write_all(&message).await.is_err() {
            return;
        }
        if cut {
            // Let PostgreSQL commit, then drop the connection with its answer unsent.
            tokio::time::sleep(Duration::from_millis(500)).await;
            shared.commits_cut.fetch_add(1, Ordering::SeqCst);
            return;
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A 503 `database-unavailable` problem with Retry-After and nothing from the driver.
fn assert_unavailable(answer: &Answer, what: &str) {
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        answer.body
    );
    assert_eq!(answer.content_type, "application/problem+json", "{what}");
    assert_eq!(
        answer.body["type"], "urn:mandaat:problem:database-unavailable",
        "{what}: {}",
        answer.body
    );
    assert!(answer.retry_after.is_some(), "{what}: no Retry-After");
    let detail = answer.body["detail"].as_str().unwrap_or_default();
    for word in [
        "sqlx",
        "error communicating",
        "Connection",
        "pool",
        "os error",
        "Query Error",
    ] {
        assert!(
            !detail.contains(word),
            "{what}: the driver speaks: {detail}"
        );
    }
    // Fails fast: the database timeout, not the 30 s request timeout.
    assert!(
        answer.took < DATABASE_TIMEOUT + Duration::from_secs(3),
        "{what}: answered after {:?}",
        answer.took
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_going_away_gets_503s_and_recovers_without_a_restart() {
    if std::env::var("MANDAAT_TEST_DATABASE_URL").is_err() {
        eprintln!(
            "faults: the PostgreSQL outage does not apply to this pass (embedded SQLite); \
             it runs in the PostgreSQL pass (MANDAAT_TEST_DATABASE_URL)"
        );
        return;
    }
    let started = Instant::now();
    let db = TestDatabase::new().await;
    let proxy = Proxy::start(db.server_address().unwrap()).await;
    let app = TestApp::spawn_on_database(db.through(proxy.addr), |config| {
        config.storage.database_timeout = DATABASE_TIMEOUT;
        config.rate_limits = mandaat::config::RateLimitConfig::OFF;
    })
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap();
    let (_, _, key_text) = app
        .raw(reqwest::Method::GET, "/api/v1/log/key", None, None)
        .await;
    let log_key = Arc::new(NoteVerifier::from_key_string(key_text.trim()).unwrap());
    let (voters, proposal) = set_up(&client, &app.base, &app.issuer, 4).await;
    let voters: Vec<Arc<Voter>> = voters.into_iter().map(Arc::new).collect();
    let auditor = app.auditor();
    let mut acked: Vec<(Hash, u64)> = Vec::new();
    let mut unanswered: Vec<(usize, Cast)> = Vec::new();

    // 1. The connection is lost after COMMIT was sent: the ballot is committed, the
    //    server cannot know it. The board gets a 503; the server must still append
    //    the next ballot after it, and the re-sent ballot gets its receipt.
    proxy.cut_next_commit();
    let lost = ballot(&proposal, &voters[0]);
    let answer = cast(&client, &app.base, &proposal, &voters[0], &lost)
        .await
        .unwrap();
    assert_eq!(proxy.shared.commits_cut.load(Ordering::SeqCst), 1);
    assert_unavailable(
        &answer,
        "a ballot whose COMMIT was answered by a lost connection",
    );
    let next = ballot(&proposal, &voters[1]);
    let answer = cast(&client, &app.base, &proposal, &voters[1], &next)
        .await
        .unwrap();
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "the ballot after a commit whose answer was lost: {}",
        answer.body
    );
    acked.push((next.leaf, check_receipt(&answer.body, &next, &log_key).0));
    let log = read_log(&client, &app.base, &auditor, &log_key).await;
    assert!(
        log.index_of.contains_key(&lost.leaf),
        "the cut COMMIT did not commit; this test did not provoke what it means to"
    );
    let (found, index) = resolve_unanswered(
        &client, &app.base, &proposal, &voters[0], &lost, &log, &log_key,
    )
    .await;
    assert!(found);
    acked.push((lost.leaf, index));

    // 2. PostgreSQL goes away while four boards cast ballots, and comes back.
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<Mutex<Vec<(usize, Cast, Answer)>>> = Default::default();
    let boards: Vec<_> = voters
        .iter()
        .enumerate()
        .map(|(n, voter)| {
            let (client, base, p, voter) = (
                client.clone(),
                app.base.clone(),
                proposal.clone(),
                voter.clone(),
            );
            let (stop, answers) = (stop.clone(), answers.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let ballot = ballot(&p, &voter);
                    let answer = cast(&client, &base, &p, &voter, &ballot)
                        .await
                        .expect("the server answers");
                    answers.lock().unwrap().push((n, ballot, answer));
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.down();
    let outage = Instant::now();
    // Readiness and a plain read say so too.
    let ready = send(
        &client,
        reqwest::Method::GET,
        &format!("{}/readyz", app.base),
        None,
        None,
    )
    .await
    .unwrap();
    assert_unavailable(&ready, "/readyz during the outage");
    let read = send(
        &client,
        reqwest::Method::GET,
        &format!("{}/api/v1/members?limit=1", app.base),
        Some(&app.admin()),
        None,
    )
    .await
    .unwrap();
    assert_unavailable(&read, "a read during the outage");
    let remaining = (DATABASE_TIMEOUT * 3).saturating_sub(outage.elapsed());
    tokio::time::sleep(remaining).await;
    proxy.up().await;
    let back = Instant::now();
    // Recovery by itself: ready again, and ballots accepted, without a restart.
    let deadline = back + Duration::from_secs(20);
    loop {
        let ready = send(
            &client,
            reqwest::Method::GET,
            &format!("{}/readyz", app.base),
            None,
            None,
        )
        .await
        .unwrap();
        if ready.status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready 20 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_after = back.elapsed();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let accepted_since: usize = answers
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, a)| a.status == StatusCode::CREATED && a.at > back)
            .count();
        if accepted_since >= voters.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for board in boards {
        tokio::time::timeout(Duration::from_secs(30), board)
            .await
            .expect("a board still waits")
            .expect("a board failed");
    }

    let answers = std::mem::take(&mut *answers.lock().unwrap());
    let accepted_after = answers
        .iter()
        .filter(|(_, _, a)| a.status == StatusCode::CREATED && a.at > back)
        .count();
    let (mut created, mut unavailable) = (0, 0);
    for (board, ballot, answer) in answers {
        if answer.status == StatusCode::CREATED {
            created += 1;
            acked.push((
                ballot.leaf,
                check_receipt(&answer.body, &ballot, &log_key).0,
            ));
        } else {
            assert_unavailable(&answer, "a ballot during the outage");
            unavailable += 1;
            unanswered.push((board, ballot));
        }
    }
    assert!(unavailable > 0, "no ballot met the outage");
    assert!(created > 0, "no ballot was accepted");
    assert!(
        accepted_after > 0,
        "no ballot was accepted after the database came back"
    );

    // 3. Nothing half-written, nothing lost: the log hashes to its checkpoint, every
    //    acknowledged ballot is at its receipt's index, every unanswered one is in it
    //    whole or not at all, and its rows agree with the log.
    let log = read_log(&client, &app.base, &auditor, &log_key).await;
    for (leaf, index) in &acked {
        assert_eq!(
            log.index_of.get(leaf),
            Some(index),
            "an acknowledged ballot is missing"
        );
    }
    let (mut found_unanswered, mut lost_unanswered) = (0, 0);
    let unanswered_count = unanswered.len();
    for (board, ballot) in unanswered {
        let (found, _) = resolve_unanswered(
            &client,
            &app.base,
            &proposal,
            &voters[board],
            &ballot,
            &log,
            &log_key,
        )
        .await;
        if found {
            found_unanswered += 1;
        } else {
            lost_unanswered += 1;
        }
    }
    let log = read_log(&client, &app.base, &auditor, &log_key).await;
    // Straight to PostgreSQL, not through the proxy.
    let server = std::env::var("MANDAAT_TEST_DATABASE_URL").unwrap();
    let server = server.split('?').next().unwrap();
    let proxied = reqwest::Url::parse(app.db.url().unwrap()).unwrap();
    let direct = Database::connect(format!(
        "{}{}",
        &server[..server.rfind('/').unwrap()],
        proxied.path()
    ))
    .await
    .unwrap();
    let ballot_entries = entity::log_entry::Entity::find()
        .filter(entity::log_entry::Column::EntryType.eq(BALLOT))
        .count(&direct)
        .await
        .unwrap();
    let ballot_rows = entity::ballot::Entity::find().count(&direct).await.unwrap();
    let nonces = entity::nonce::Entity::find().count(&direct).await.unwrap();
    let entries = entity::log_entry::Entity::find()
        .count(&direct)
        .await
        .unwrap();
    direct.close().await.unwrap();
    assert_eq!(
        entries, log.checkpoint.size,
        "entries beyond the latest checkpoint"
    );
    assert_eq!(
        ballot_rows, ballot_entries,
        "ballot rows and ballot entries differ"
    );
    assert_eq!(nonces, ballot_entries, "nonces and ballot entries differ");
    assert_eq!(
        ballot_entries as usize,
        acked.len() + unanswered_count,
        "the log holds exactly the ballots sent"
    );

    // 4. The auditor's tool agrees.
    let state = tempfile::tempdir().unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_mandaat"))
        .args(["audit", "verify", "--url", &app.base, "--token", &auditor])
        .args(["--log-key", key_text.trim(), "--state-dir"])
        .arg(state.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    eprintln!(
        "faults: PostgreSQL outage of {:.1} s: {created} ballots accepted around it, {unavailable} \
         answered 503 ({found_unanswered} of them committed before the connection dropped, \
         {lost_unanswered} not; {unanswered_count} re-sent); ready {:.1} s after the database \
         came back; {:.1} s",
        (back - outage).as_secs_f64(),
        recovered_after.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------
// SQLite's analogue: the database file locked by another process.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_locked_by_another_process_gets_503s_for_writes_only() {
    if std::env::var("MANDAAT_TEST_DATABASE_URL").is_ok() {
        eprintln!(
            "faults: the SQLite lock does not apply to this pass (PostgreSQL); it runs in the \
             SQLite pass"
        );
        return;
    }
    let app = TestApp::spawn_on_database(TestDatabase::sqlite(), |config| {
        config.storage.database_timeout = DATABASE_TIMEOUT;
    })
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap();
    let (_, _, key_text) = app
        .raw(reqwest::Method::GET, "/api/v1/log/key", None, None)
        .await;
    let log_key = NoteVerifier::from_key_string(key_text.trim()).unwrap();
    let (voters, proposal) = set_up(&client, &app.base, &app.issuer, 2).await;

    // Another process (a backup tool, an admin's sqlite3 shell) takes the write lock
    // and keeps it.
    let path = crate::helpers::storage(app.data_dir.path(), &app.db).sqlite_path();
    let other = Database::connect(format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let lock = sea_orm::TransactionTrait::begin(&other).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&lock, "CREATE TABLE held_by_another (x INTEGER)")
        .await
        .unwrap();

    let (first, second) = (ballot(&proposal, &voters[0]), ballot(&proposal, &voters[1]));
    let (a, b) = tokio::join!(
        cast(&client, &app.base, &proposal, &voters[0], &first),
        cast(&client, &app.base, &proposal, &voters[1], &second),
    );
    assert_unavailable(&a.unwrap(), "a ballot while the file is locked");
    assert_unavailable(&b.unwrap(), "a ballot queued behind it");
    // Readers go on (WAL), and the service says it is ready: it is, for reading.
    let read = send(
        &client,
        reqwest::Method::GET,
        &format!("{}/api/v1/members?limit=1", app.base),
        Some(&app.admin()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);

    // The lock is released: the same ballots are accepted, nothing was half-written.
    lock.rollback().await.unwrap();
    other.close().await.unwrap();
    for (voter, ballot) in [(&voters[0], &first), (&voters[1], &second)] {
        let answer = cast(&client, &app.base, &proposal, voter, ballot)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        let (index, _) = check_receipt(&answer.body, ballot, &log_key);
        let log = read_log(&client, &app.base, &app.auditor(), &log_key).await;
        assert_eq!(log.index_of.get(&ballot.leaf), Some(&index));
    }
}
