//! Webhooks as a council's receiver sees them: a small HTTP server in this process
//! that records every request and answers as each test scripts it. Signatures are
//! checked here with HMAC-SHA256 written out in the test, never with the server's code.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use mandaat::domain::member::Sector;

use crate::helpers::{Checked, TestApp, TestDatabase, assert_problem};
use crate::observability::sample;
use crate::voting::{Open, board, cast, close, draft_and_open, electorate, resolution, spec};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    json: Value,
    /// What it answered (0: it kept the request hanging).
    answered: u16,
}

/// What the receiver answers next: a status, or no answer for a long time.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    Hang,
}

struct Plan {
    script: VecDeque<Answer>,
    otherwise: u16,
}

struct Receiver {
    base: String,
    log: Arc<Mutex<Vec<Received>>>,
    plan: Arc<Mutex<Plan>>,
}

impl Receiver {
    async fn start() -> Receiver {
        use poem::listener::{Acceptor, Listener};
        let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let address = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let plan = Arc::new(Mutex::new(Plan {
            script: VecDeque::new(),
            otherwise: 200,
        }));
        let (kept, planned) = (log.clone(), plan.clone());
        let endpoint = poem::endpoint::make(move |request: poem::Request| {
            let (log, plan) = (kept.clone(), planned.clone());
            async move {
                let header = |name: &str| request.header(name).unwrap_or_default().to_owned();
                let (path, id, timestamp, signature) = (
                    request.uri().path().to_owned(),
                    header("webhook-id"),
                    header("webhook-timestamp"),
                    header("webhook-signature"),
                );
                let body = request.into_body().into_string().await.unwrap();
                let answer = {
                    let mut plan = plan.lock().unwrap();
                    let otherwise = plan.otherwise;
                    plan.script.pop_front().unwrap_or(Answer::Status(otherwise))
                };
                let answered = match answer {
                    Answer::Status(status) => status,
                    Answer::Hang => 0,
                };
                log.lock().unwrap().push(Received {
                    path,
                    id,
                    timestamp,
                    signature,
                    json: serde_json::from_str(&body).unwrap_or(Value::Null),
                    body,
                    answered,
                });
                if let Answer::Hang = answer {
                    tokio::time::sleep(Duration::from_secs(120)).await;
                }
                poem::Response::builder()
                    .status(poem::http::StatusCode::from_u16(answered.max(200)).unwrap())
                    .body("ok")
            }
        });
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
        Receiver {
            base: format!("http://{address}"),
            log,
            plan,
        }
    }

    /// Answers these first, then `otherwise` to everything.
    fn answer(&self, script: &[Answer], otherwise: u16) {
        let mut plan = self.plan.lock().unwrap();
        plan.script = script.iter().copied().collect();
        plan.otherwise = otherwise;
    }

    fn log(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (at most 30 s, a guard against a hang, not a speed test) until `done`.
    async fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..600 {
            let log = self.log();
            if done(&log) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver never saw {what}: {:#?}", self.log());
    }
}

/// The Standard Webhooks check, written out: HMAC-SHA256 with the secret's decoded
/// bytes over `id.timestamp.body`, base64, one of the space-separated `v1,` values.
fn verifies(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

/// An app that may call the receiver on 127.0.0.1 and retries after milliseconds;
/// its clock runs with real time (and jumps when a test advances it).
async fn app() -> TestApp {
    TestApp::spawn_on_database(TestDatabase::new().await, allow_local).await
}

fn allow_local(config: &mut mandaat::Config) {
    config.webhooks.allow_private = true;
    config.webhooks.retry_base = Duration::from_millis(20);
    // Many requests in a burst from one admin token are not what is tested.
    config.rate_limits = mandaat::config::RateLimitConfig::OFF;
}

/// Subscribes `url` to `events`; the id and the secret.
async fn subscribe(
    app: &TestApp,
    url: &str,
    events: &[&str],
    sector: Option<&str>,
) -> (Uuid, String) {
    let mut body = json!({"url": url, "events": events, "description": "PO-Raad, resultaten"});
    if let Some(sector) = sector {
        body["sector"] = json!(sector);
    }
    let (status, created) = app.post("/api/v1/webhooks", &app.admin(), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(STANDARD.decode(&secret[6..]).unwrap().len(), 32);
    (
        created["webhook"]["id"].as_str().unwrap().parse().unwrap(),
        secret,
    )
}

async fn subscribe_to_openings_and_closes(app: &TestApp, receiver: &Receiver) -> (Uuid, String) {
    let url = format!("{}/hook", receiver.base);
    subscribe(app, &url, &["proposal.opened", "proposal.closed"], None).await
}

async fn po_proposal(app: &TestApp, title: &str) -> Open {
    draft_and_open(
        app,
        &spec(
            app,
            title,
            resolution(),
            electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
        ),
    )
    .await
}

async fn step(app: &TestApp, p: &Open, what: &str) {
    let (status, body) = app
        .post(
            &format!("/api/v1/proposals/{}/{what}", p.id),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
}

async fn deliveries(app: &TestApp, base: &str, webhook: Uuid) -> Value {
    let response = app
        .client
        .get(format!("{base}/api/v1/webhooks/{webhook}/deliveries"))
        .bearer_auth(app.admin())
        .checked()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn types(log: &[Received]) -> Vec<String> {
    log.iter()
        .map(|r| r.json["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A council hears a proposal open, close and be finalised, signed, with the outcome
/// and links to the result and the certified entry; the other sector's council hears
/// nothing of it; nothing about a ballot is ever sent.
#[tokio::test]
async fn a_council_receives_signed_events_of_its_sector_and_never_a_ballot() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let all = [
        "proposal.opened",
        "proposal.closed",
        "proposal.finalized",
        "proposal.withdrawn",
        "key.registered",
        "key.revoked",
    ];
    let (_, po_secret) = subscribe(&app, &format!("{}/po", receiver.base), &all, Some("PO")).await;
    let (_, vo_secret) = subscribe(&app, &format!("{}/vo", receiver.base), &all, Some("VO")).await;
    let (closed_only, closed_secret) = subscribe(
        &app,
        &format!("{}/closed", receiver.base),
        &["proposal.closed"],
        None,
    )
    .await;

    let voters = [
        board(&app, 301, Some(400), None).await,
        board(&app, 302, Some(700), None).await,
    ];
    let p = po_proposal(&app, "Snappet: privacy-eisen").await;
    for voter in &voters {
        let (status, body) = cast(&app, &p, voter, json!({"vote": "yes"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    close(&app, &p).await;
    let closed = receiver
        .wait_until("the close at /closed", |log| {
            log.iter().any(|r| r.path == "/closed")
        })
        .await;
    step(&app, &p, "finalize").await;
    let withdrawn = po_proposal(&app, "Teruggetrokken").await;
    step(&app, &withdrawn, "withdraw").await;

    let log = receiver
        .wait_until("every PO event", |log| {
            types(&only(log, "/po"))
                .iter()
                .any(|t| t == "proposal.withdrawn")
        })
        .await;
    let po = only(&log, "/po");
    assert_eq!(
        types(&po),
        [
            "key.registered",
            "key.registered",
            "proposal.opened",
            "proposal.closed",
            "proposal.finalized",
            "proposal.opened",
            "proposal.withdrawn"
        ],
        "{po:#?}"
    );
    for r in &po {
        assert!(verifies(&po_secret, r), "{r:#?}");
        assert!(!verifies(&vo_secret, r), "{r:#?}");
        assert_eq!(r.json["id"], r.id, "webhook-id is the payload's id");
        assert!(r.id.starts_with("evt_") && !r.id.contains('.'), "{}", r.id);
        assert!(r.timestamp.parse::<i64>().is_ok(), "{}", r.timestamp);
        // Nothing of a ballot: no choice, no ballot hash, no turnout.
        for word in ["ballot", "choice", "vote", "turnout"] {
            assert!(!r.body.contains(word), "{word} in {}", r.body);
        }
    }
    // Each event once, with its own id.
    let mut ids: Vec<&str> = po.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), po.len());

    let finalized = &po[4].json["data"];
    assert_eq!(finalized["proposal"]["id"], p.id.to_string());
    assert_eq!(finalized["proposal"]["sectors"], json!(["PO"]));
    assert_eq!(finalized["outcome"], "adopted", "{finalized}");
    let certified = finalized["log_index"].as_u64().unwrap();
    assert_eq!(
        finalized["links"]["certified_result"],
        format!(
            "/api/v1/log/entries?start={certified}&end={}",
            certified + 1
        )
    );
    // The links lead where they say: the result, and the certified result's entry.
    let (status, result) = app
        .get(
            finalized["links"]["result"].as_str().unwrap(),
            &app.council(Sector::Po),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["outcome"], "adopted");
    let (status, entries) = app
        .get(
            finalized["links"]["certified_result"].as_str().unwrap(),
            &app.auditor(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    assert!(
        entries.to_string().contains("mandaat.result.v1"),
        "{entries}"
    );
    let key = &po[0].json["data"];
    assert_eq!(key["member"]["id"], voters[0].id.to_string());
    assert_eq!(key["key"]["key_id"], voters[0].key.key_id());

    // The VO council heard nothing of PO boards and proposals.
    assert!(only(&log, "/vo").is_empty(), "{log:#?}");
    // The close-only subscription got the close, within seconds of it.
    let closed = only(&closed, "/closed");
    assert_eq!(types(&closed), ["proposal.closed"]);
    assert!(verifies(&closed_secret, &closed[0]));
    assert_eq!(
        closed[0].json["data"]["links"]["result"],
        format!("/api/v1/proposals/{}/result", p.id)
    );
    let page = deliveries(&app, &app.base, closed_only).await;
    assert_eq!(page["total"], 1, "{page}");
    let delivery = &page["items"][0];
    assert_eq!(delivery["state"], "delivered");
    assert_eq!(delivery["event_id"], closed[0].id);
    assert_eq!(delivery["history"][0]["status"], 200);
}

fn only(log: &[Received], path: &str) -> Vec<Received> {
    log.iter().filter(|r| r.path == path).cloned().collect()
}

/// A receiver that fails twice gets the event a third time (same id, fresh
/// timestamp, valid signature), and the events after it wait their turn: order holds.
#[tokio::test]
async fn failed_deliveries_are_retried_and_order_holds() {
    let app = app().await;
    let receiver = Receiver::start().await;
    receiver.answer(&[Answer::Status(500), Answer::Status(503)], 200);
    let (webhook, secret) = subscribe_to_openings_and_closes(&app, &receiver).await;
    board(&app, 311, Some(500), None).await;
    let first = po_proposal(&app, "Eerste").await;
    let second = po_proposal(&app, "Tweede").await;
    // Closing moves the server's clock 15 days on, which would end the retries'
    // window: close once the openings are through.
    receiver
        .wait_until("both openings delivered", |log| {
            log.iter().filter(|r| r.answered == 200).count() == 2
        })
        .await;
    close(&app, &first).await;

    let log = receiver
        .wait_until("three events delivered", |log| {
            log.iter().filter(|r| r.answered == 200).count() == 3
        })
        .await;
    // The first event three times (500, 503, 200), then the others in commit order.
    assert_eq!(
        log.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 503, 200, 200, 200],
        "{log:#?}"
    );
    assert!(
        log[..3]
            .iter()
            .all(|r| r.id == log[0].id && r.body == log[0].body)
    );
    assert!(log.iter().all(|r| verifies(&secret, r)));
    let opened = |r: &Received| {
        r.json["data"]["proposal"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        log[2..]
            .iter()
            .map(|r| (r.json["type"].as_str().unwrap(), opened(r)))
            .collect::<Vec<_>>(),
        [
            ("proposal.opened", first.id.to_string()),
            ("proposal.opened", second.id.to_string()),
            ("proposal.closed", first.id.to_string()),
        ]
    );

    let page = deliveries(&app, &app.base, webhook).await;
    assert_eq!(page["total"], 3);
    // Newest event first: the first one is last, with its three attempts.
    let retried = &page["items"][2];
    assert_eq!(retried["attempts"], 3, "{page}");
    let statuses: Vec<&Value> = retried["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(503), &json!(200)]);
    assert!(
        retried["history"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{retried}"
    );

    let (status, _, text) = app
        .raw(Method::GET, "/metrics", Some(&app.admin()), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sample(
            &text,
            "mandaat_webhook_failures_total",
            &[("reason", "status")]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "mandaat_webhook_deliveries_total", &[]),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "mandaat_webhook_pending_deliveries", &[]),
        Some(0.0)
    );
}

/// The server stops while a delivery is on its way (the receiver has not answered);
/// an event is committed while the receiver is down. After a restart on the same data
/// both arrive, the interrupted one again under the same id: nothing is lost.
#[tokio::test]
async fn a_restart_in_the_middle_loses_no_event() {
    let mut app = app().await;
    let receiver = Receiver::start().await;
    receiver.answer(&[Answer::Hang], 503);
    let (webhook, secret) = subscribe_to_openings_and_closes(&app, &receiver).await;
    board(&app, 321, Some(500), None).await;
    let p = po_proposal(&app, "Herstart").await;
    receiver
        .wait_until("the opening, unanswered", |log| !log.is_empty())
        .await;
    close(&app, &p).await;
    app.stop().await;

    receiver.answer(&[], 200);
    let mut config = app.restart_config();
    allow_local(&mut config);
    config.clock = mandaat::clock::SharedClock(app.clock.clone());
    let restarted = mandaat::Application::build(config).await.unwrap();
    let base = format!("http://{}", restarted.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(restarted.run_until(async {
        let _ = stopped.await;
    }));

    let log = receiver
        .wait_until("both events delivered", |log| {
            log.iter().filter(|r| r.answered == 200).count() == 2
        })
        .await;
    let delivered: Vec<&Received> = log.iter().filter(|r| r.answered == 200).collect();
    assert_eq!(
        delivered
            .iter()
            .map(|r| r.json["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["proposal.opened", "proposal.closed"],
        "{log:#?}"
    );
    // The opening was sent before the restart and again after it, under one id.
    assert_eq!(log[0].id, delivered[0].id);
    assert!(delivered.iter().all(|r| verifies(&secret, r)));
    let page = deliveries(&app, &base, webhook).await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "delivered"),
        "{page}"
    );
    let _ = stop.send(());
}

/// A receiver that keeps failing for a day disables its subscription, and the
/// secretariat reads why; enabled again, the queued event goes out; a delivery can
/// be sent again by hand, under its own id.
#[tokio::test]
async fn a_failing_subscription_is_disabled_with_its_reason_and_recovers() {
    let app = app().await;
    let receiver = Receiver::start().await;
    receiver.answer(&[], 500);
    let (webhook, secret) = subscribe(
        &app,
        &format!("{}/hook", receiver.base),
        &["proposal.opened"],
        None,
    )
    .await;
    board(&app, 331, Some(500), None).await;
    po_proposal(&app, "Altijd 500").await;
    receiver
        .wait_until("a few failed attempts", |log| log.len() >= 3)
        .await;
    // A day passes for the server.
    app.clock.advance(chrono::Duration::hours(25));
    let path = format!("/api/v1/webhooks/{webhook}");
    let mut disabled = Value::Null;
    for _ in 0..600 {
        let (status, body) = app.get(&path, &app.admin()).await;
        assert_eq!(status, StatusCode::OK);
        if body["enabled"] == false {
            disabled = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reason = disabled["disabled_reason"]
        .as_str()
        .expect("disabled, with a reason");
    assert!(
        reason.contains("proposal.opened") && reason.contains("500"),
        "{reason}"
    );
    assert!(disabled["disabled_at"].is_string());
    let attempts_while_failing = receiver.log().len();
    let (_, _, text) = app
        .raw(Method::GET, "/metrics", Some(&app.admin()), None)
        .await;
    assert_eq!(
        sample(&text, "mandaat_webhook_subscriptions_disabled_total", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "mandaat_webhook_pending_deliveries", &[]),
        Some(1.0)
    );

    // Fixed and enabled again: the queued event goes out.
    receiver.answer(&[], 200);
    let (status, body) = app
        .patch(&path, &app.admin(), &json!({"enabled": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["enabled"], true);
    assert!(body.get("disabled_reason").is_none(), "{body}");
    let log = receiver
        .wait_until("the event, delivered", |log| {
            log.iter().any(|r| r.answered == 200)
        })
        .await;
    assert_eq!(log.len(), attempts_while_failing + 1);
    let first = log.last().unwrap().clone();

    // Sent again by hand: the same id and body, a signature over a new timestamp.
    let page = deliveries(&app, &app.base, webhook).await;
    let delivery = page["items"][0]["id"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::minutes(5));
    let (status, body) = app
        .post(
            &format!("{path}/deliveries/{delivery}/redeliver"),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let log = receiver
        .wait_until("the redelivery", |log| {
            log.len() == attempts_while_failing + 2
        })
        .await;
    let again = log.last().unwrap();
    assert_eq!((&again.id, &again.body), (&first.id, &first.body));
    assert_ne!(again.timestamp, first.timestamp);
    assert!(verifies(&secret, again));

    // Another subscription's delivery is not this one's.
    let (status, body) = app
        .post(
            &format!(
                "/api/v1/webhooks/{}/deliveries/{delivery}/redeliver",
                Uuid::new_v4()
            ),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}

/// A receiver that answers 410 Gone wants no more events: its subscription is
/// disabled at once, without a retry, and says why.
#[tokio::test]
async fn a_receiver_that_answers_410_gone_is_disabled_at_once() {
    let app = app().await;
    let receiver = Receiver::start().await;
    receiver.answer(&[Answer::Status(410)], 200);
    let (webhook, _) = subscribe_to_openings_and_closes(&app, &receiver).await;
    board(&app, 341, Some(500), None).await;
    po_proposal(&app, "Weg").await;
    let path = format!("/api/v1/webhooks/{webhook}");
    let mut disabled = Value::Null;
    for _ in 0..600 {
        let (status, body) = app.get(&path, &app.admin()).await;
        assert_eq!(status, StatusCode::OK);
        if body["enabled"] == false {
            disabled = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reason = disabled["disabled_reason"]
        .as_str()
        .expect("disabled, with a reason");
    assert!(reason.contains("410 Gone"), "{reason}");
    let log = receiver.log();
    assert_eq!(log.len(), 1, "no retry after 410: {log:#?}");
    assert!(reason.contains(&log[0].id), "the event is named: {reason}");
    let page = deliveries(&app, &app.base, webhook).await;
    assert_eq!(
        page["items"][0]["state"], "pending",
        "kept for an enable: {page}"
    );
    assert_eq!(page["items"][0]["history"][0]["status"], 410);
}

/// Targets are checked: http(s) only, and in production no loopback, private or
/// link-local address, however the host is spelled. Only admins manage webhooks.
#[tokio::test]
async fn targets_that_could_reach_the_servers_own_network_are_refused() {
    let app = TestApp::spawn().await;
    for url in [
        "http://127.0.0.1:9000/hook",
        "http://localhost:9000/hook",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:192.168.1.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.org/hook",
        "https://user:secret@example.org/hook",
        "not a url",
    ] {
        let (status, body) = app
            .post(
                "/api/v1/webhooks",
                &app.admin(),
                &json!({"url": url, "events": ["proposal.closed"]}),
            )
            .await;
        assert_problem(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "webhook-target-refused",
        );
    }
    let (status, body) = app
        .post(
            "/api/v1/webhooks",
            &app.admin(),
            &json!({"url": "http://127.0.0.1/x", "events": []}),
        )
        .await;
    assert_problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    );
    let (status, body) = app
        .post(
            "/api/v1/webhooks",
            &app.admin(),
            &json!({"url": "http://127.0.0.1/x", "events": ["ballot.cast"]}),
        )
        .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "malformed-body");
    for token in [app.council(Sector::Po), app.auditor()] {
        let (status, body) = app.get("/api/v1/webhooks", &token).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let (status, list) = app.get("/api/v1/webhooks", &app.admin()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"], json!([]));
}

/// The secretariat's side: list, read, change and delete; the secret is shown once.
#[tokio::test]
async fn subscriptions_are_listed_changed_and_deleted_and_the_secret_shown_once() {
    let app = app().await;
    let (id, secret) = subscribe(
        &app,
        "http://127.0.0.1:9/po",
        &["proposal.closed", "proposal.finalized"],
        Some("PO"),
    )
    .await;
    let path = format!("/api/v1/webhooks/{id}");
    let (status, one) = app.get(&path, &app.admin()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["sector"], "PO");
    assert_eq!(
        one["events"],
        json!(["proposal.closed", "proposal.finalized"])
    );
    assert_eq!(one["enabled"], true);
    assert!(!one.to_string().contains(&secret[6..]), "{one}");
    let (_, list) = app.get("/api/v1/webhooks", &app.admin()).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret[6..]));

    let (status, changed) = app
        .patch(
            &path,
            &app.admin(),
            &json!({"events": ["proposal.opened"], "description": "VO-raad", "enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["events"], json!(["proposal.opened"]));
    assert_eq!(changed["enabled"], false);
    assert!(
        changed["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("disabled by"),
        "{changed}"
    );
    let (status, body) = app
        .patch(&path, &app.admin(), &json!({"sector": "VO"}))
        .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "malformed-body");

    let (status, _, _) = app
        .raw(Method::DELETE, &path, Some(&app.admin()), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get(&path, &app.admin()).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}
