//! Query isolation through the real binary with two users signed in through OpenID Connect: each runaway query
//! of one user (a keyless join bomb, an endless series, a huge string, a sort past the memory limit, a panic, an
//! abort, an operator that never yields) ends with its own error and never stalls the other user's queries or
//! dataset adds; afterwards the engine answers at once, and the runaway's worker process is gone. Stop, delete
//! and SIGTERM kill the running query's worker too.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use serde_json::{Value, json};
use tabletalk_tests::fake_oidc::{CLIENT_ID, CLIENT_SECRET, FakeOidc};
use tabletalk_tests::file_server::{FileServer, ServedFile};
use tabletalk_tests::scripted_server::{Chunk, Reply, ScriptedServer, sse_events};

use crate::process::{Binary, RunningBinary, free_port};

/// Rows of the served table, as in the issue that reported the stalls.
const ROWS: i64 = 200_000;
/// The deployments' `query.timeout`.
const TIMEOUT: Duration = Duration::from_secs(6);

fn trips_parquet() -> Vec<u8> {
    let ids: Vec<i64> = (0..ROWS).collect();
    #[allow(clippy::cast_precision_loss, reason = "small test values")]
    let fares: Vec<f64> = ids.iter().map(|i| (i % 50) as f64 + 2.5).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(ids))),
        ("fare", Arc::new(Float64Array::from(fares))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

struct Deployment {
    server: RunningBinary,
    oidc: FakeOidc,
    /// The 200,000-row table and a second copy, for dataset adds.
    urls: [String; 2],
    _files: FileServer,
    _binary: Binary,
}

/// A signed-in user with a conversation holding the table as `table1`.
struct User {
    client: reqwest::Client,
    conversation: String,
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Deployment {
    async fn start(extra: &[(&str, &str)]) -> Self {
        let files = FileServer::start().await;
        let table = trips_parquet();
        let urls = [
            files.put("/trips.parquet", ServedFile::new(table.clone())),
            files.put("/trips-copy.parquet", ServedFile::new(table)),
        ];
        let oidc = FakeOidc::start();
        let binary = Binary::new();
        let port = free_port();
        let public_url = format!("http://127.0.0.1:{port}");
        let timeout = format!("{}s", TIMEOUT.as_secs());
        let mut env = vec![
            ("TABLETALK__AUTH__OIDC__ISSUER", oidc.issuer.as_str()),
            ("GOOGLE_CLIENT_ID", CLIENT_ID),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
            ("TABLETALK__SERVER__PUBLIC_URL", public_url.as_str()),
            ("TABLETALK__AUTH__REQUIRE_REFERRAL", "false"),
            ("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32"),
            ("TABLETALK__QUERY__MAX_CONCURRENCY", "2"),
            ("TABLETALK__QUERY__TIMEOUT", timeout.as_str()),
            ("TABLETALK__QUERY__MEMORY_LIMIT", "128MiB"),
        ];
        env.extend_from_slice(extra);
        let server = binary.start_on(port, &env).await;
        Self {
            server,
            oidc,
            urls,
            _files: files,
            _binary: binary,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    /// Signs a user in through the provider, and opens a conversation with the table.
    async fn user(&self, subject: &str) -> User {
        self.oidc
            .set_account(subject, &format!("{subject}@example.com"));
        let client = no_redirects();
        let started: Value = client
            .post(self.url("/auth/google"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let at_provider = no_redirects()
            .get(started["redirect_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let signed_in = client.get(location(&at_provider)).send().await.unwrap();
        assert_eq!(signed_in.status(), 302, "{subject} signs in");
        let created: Value = client
            .post(self.url("/conversations"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let user = User {
            client,
            conversation: created["id"].as_str().unwrap().to_owned(),
        };
        let (status, added) = self.add(&user, &self.urls[0]).await;
        assert_eq!(status, 201, "{added}");
        user
    }

    async fn add(&self, user: &User, url: &str) -> (u16, Value) {
        let response = user
            .client
            .post(self.url(&format!("/conversations/{}/datasets", user.conversation)))
            .json(&json!({"url": url}))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn query(&self, user: &User, sql: &str) -> (u16, Value) {
        let response = user
            .client
            .post(self.url(&format!("/conversations/{}/query", user.conversation)))
            .json(&json!({"sql": sql}))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn running_queries(&self) -> u64 {
        let health: Value = reqwest::get(self.url("/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        health["query_engine"]["running"].as_u64().unwrap()
    }

    /// Waits until `count` queries run (the runaway has reached its worker).
    async fn until_running(&self, count: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.running_queries().await < count {
            assert!(Instant::now() < deadline, "the query never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the pool is whole again with one worker replaced: the one that ran the runaway.
    async fn until_one_worker_replaced(&self, before: &BTreeSet<u32>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.server.children();
            if now.len() == before.len() && now.intersection(before).count() == before.len() - 1 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "workers {now:?}, before the runaway {before:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Whether `pid` is a living process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_owned();
            Some(state != "Z")
        })
        .unwrap_or(false)
}

/// The light work of bob that must go on while alice's runaway runs: a query, a dataset add, a preview.
async fn bob_is_served(deployment: &Deployment, bob: &User) {
    let (status, counted) = deployment
        .query(bob, "SELECT COUNT(*) AS n FROM table1")
        .await;
    assert_eq!(status, 200, "{counted}");
    assert_eq!(counted["rows"][0][0], json!(ROWS));
    let (status, added) = deployment.add(bob, &deployment.urls[1]).await;
    assert_eq!(status, 201, "{added}");
    let (status, joined) = deployment
        .query(bob, "SELECT COUNT(*) FROM table1 JOIN table2 USING (id)")
        .await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(joined["rows"][0][0], json!(ROWS));
}

/// How a runaway ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ends {
    /// It runs until the timeout kills its worker.
    KilledAtTimeout,
    /// Its worker dies under it (a crash, or an allocation over the cap) and is replaced.
    WorkerDies,
    /// DataFusion's own memory pool refuses it: the worker is fine.
    RefusedByThePool,
}

/// Runs alice's `runaway` while bob works; returns alice's answer, after checking that bob was served before it
/// came, that the runaway's worker is gone (or kept, when nothing was wrong with it) and that the engine answers
/// at once.
async fn runaway(deployment: &Deployment, sql: &str, ends: Ends) -> (u16, Value) {
    let runs_until_stopped = ends == Ends::KilledAtTimeout;
    let alice = deployment.user("alice").await;
    let bob = deployment.user("bob").await;
    let workers_before = deployment.server.children();
    assert_eq!(workers_before.len(), 2, "one worker per concurrent query");
    let alice_query = {
        let client = alice.client.clone();
        let url = deployment.url(&format!("/conversations/{}/query", alice.conversation));
        let sql = sql.to_owned();
        tokio::spawn(async move {
            let response = client
                .post(url)
                .json(&json!({"sql": sql}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        })
    };
    if runs_until_stopped {
        deployment.until_running(1).await;
        bob_is_served(deployment, &bob).await;
        assert!(
            !alice_query.is_finished(),
            "bob was served while alice's query was still running"
        );
    }
    let (status, body) = alice_query.await.unwrap();
    if ends == Ends::RefusedByThePool {
        // Nothing was wrong with the worker; it stays unless it grew by the whole limit (then it is replaced after
        // the query, to give the memory back). Either way the pool is whole.
        let deadline = Instant::now() + Duration::from_secs(10);
        while deployment.server.children().len() != workers_before.len() {
            assert!(Instant::now() < deadline, "the pool is whole again");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    } else {
        // Its worker process is gone and the pool is whole again.
        deployment.until_one_worker_replaced(&workers_before).await;
    }
    let (status_after, after) = deployment.query(&alice, "SELECT 1 AS one").await;
    assert_eq!(
        status_after, 200,
        "the engine answers after the runaway: {after}"
    );
    assert_eq!(after["rows"], json!([[1]]));
    if !runs_until_stopped {
        bob_is_served(deployment, &bob).await;
    }
    (status, body)
}

#[actix_web::test]
async fn a_keyless_join_bomb_is_refused_before_it_runs() {
    let deployment = Deployment::start(&[]).await;
    let alice = deployment.user("alice").await;
    let (status, body) = deployment
        .query(
            &alice,
            "SELECT COUNT(*) FROM table1 a, table1 b, table1 c WHERE a.fare + b.fare + c.fare < 0",
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "sql_error");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("table1 × table1 × table1")
            && message.contains("8000000000000000 row combinations")
            && message.contains("1000000000"),
        "{message}"
    );
    assert_eq!(deployment.running_queries().await, 0);
    // A keyless join whose bound is under the limit runs: 200,000 × 10 pairs.
    let (status, body) = deployment
        .query(
            &alice,
            "SELECT COUNT(*) FROM table1 a, (SELECT fare FROM table1 ORDER BY id LIMIT 10) b WHERE a.fare < b.fare",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Fares are 2.5 + id % 50; the ten smallest ids have fares 2.5..11.5: 4,000 × (0 + 1 + … + 9) pairs.
    assert_eq!(body["rows"][0][0], json!(ROWS / 50 * 45));
    // An equality condition makes it an ordinary hash join.
    let (status, body) = deployment
        .query(
            &alice,
            "SELECT COUNT(*) FROM table1 a, table1 b WHERE a.id = b.id AND a.fare + b.fare > 0",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"][0][0], json!(ROWS));
}

#[actix_web::test]
async fn a_join_bomb_past_the_planner_is_killed_at_the_timeout() {
    let deployment = Deployment::start(&[("TABLETALK__QUERY__MAX_JOIN_ROWS", "0")]).await;
    let (status, body) = runaway(
        &deployment,
        "SELECT COUNT(*) FROM table1 a, table1 b, table1 c WHERE a.fare + b.fare + c.fare < 0",
        Ends::KilledAtTimeout,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("query_timeout")),
        "{body}"
    );
}

#[actix_web::test]
async fn an_endless_series_is_killed_at_the_timeout() {
    let deployment = Deployment::start(&[]).await;
    let (status, body) = runaway(
        &deployment,
        "SELECT count(*) FROM generate_series(1, 1000000000000) WHERE value % 7 = 3",
        Ends::KilledAtTimeout,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("query_timeout")),
        "{body}"
    );
}

#[actix_web::test]
async fn an_operator_that_never_yields_is_killed_at_the_timeout() {
    let deployment = Deployment::start(&[]).await;
    let (status, body) = runaway(
        &deployment,
        "SELECT tabletalk_test_spin(600)",
        Ends::KilledAtTimeout,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("query_timeout")),
        "{body}"
    );
}

#[actix_web::test]
async fn a_huge_string_hits_the_memory_cap() {
    let deployment = Deployment::start(&[]).await;
    let (status, body) = runaway(
        &deployment,
        "SELECT length(repeat('x', 2000000000)) AS n",
        Ends::WorkerDies,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("query_memory_exceeded")),
        "{body}"
    );
    assert!(
        body["error"].as_str().unwrap().contains("128 MiB"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_sort_past_the_memory_limit_fails_alone() {
    let deployment = Deployment::start(&[]).await;
    let (status, body) = runaway(
        &deployment,
        "SELECT max(r) FROM (SELECT row_number() OVER (ORDER BY value DESC) AS r FROM generate_series(1, 50000000))",
        Ends::RefusedByThePool,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("query_memory_exceeded")),
        "{body}"
    );
}

#[actix_web::test]
async fn a_panic_or_an_abort_in_the_engine_fails_only_that_query() {
    let deployment = Deployment::start(&[]).await;
    for hook in [
        "SELECT tabletalk_test_panic()",
        "SELECT tabletalk_test_abort()",
    ] {
        let (status, body) = runaway(&deployment, hook, Ends::WorkerDies).await;
        assert_eq!(status, 500, "{hook}: {body}");
        assert_eq!(body["code"], "internal_error");
        assert_eq!(body["error"], "Internal server error");
    }
}

#[actix_web::test]
async fn sigterm_with_a_runaway_query_exits_within_the_grace_period() {
    let deployment = Deployment::start(&[("TABLETALK__SERVER__SHUTDOWN_GRACE", "2s")]).await;
    let alice = deployment.user("alice").await;
    let workers = idle_workers(&deployment).await;
    let client = alice.client.clone();
    let url = deployment.url(&format!("/conversations/{}/query", alice.conversation));
    let running = tokio::spawn(async move {
        let _ = client
            .post(url)
            .json(&json!({"sql": "SELECT tabletalk_test_spin(600)"}))
            .send()
            .await;
    });
    until_a_worker_spins(&workers).await;
    let Deployment { server, .. } = deployment;
    let (status, took) = server.terminate_timed();
    assert!(status.success(), "{status:?}");
    // The grace period plus room for a loaded 2-core machine to tear the process down.
    assert!(took < Duration::from_millis(4500), "exited after {took:?}");
    // The workers end with their server, the spinning one included.
    let deadline = Instant::now() + Duration::from_secs(2);
    while workers.iter().any(|pid| alive(*pid)) {
        assert!(Instant::now() < deadline, "a worker outlived its server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.abort();
}

/// A deployment whose model (Gemini's wire format, scripted) answers every first call with `execute_sql(sql)`.
async fn chat_deployment(sql: &str) -> (Deployment, ScriptedServer) {
    let gemini = ScriptedServer::start();
    let call = json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "execute_sql", "args": {"query": sql}}}
        ]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
    });
    for _ in 0..4 {
        gemini.reply(Reply::sse(vec![Chunk::Bytes(sse_events(
            std::slice::from_ref(&call),
            "\n",
        ))]));
    }
    let base = gemini.base.clone();
    let deployment = Deployment::start(&[
        ("TABLETALK__LLM__PROVIDER", "gemini"),
        ("TABLETALK__LLM__API_KEY", "gm-key"),
        ("TABLETALK__LLM__BASE_URL", base.as_str()),
        ("TABLETALK__QUERY__TIMEOUT", "600s"),
    ])
    .await;
    (deployment, gemini)
}

/// Sends a message whose turn runs a query that never yields.
async fn turn_with_runaway(deployment: &Deployment, user: &User) {
    let sent = user
        .client
        .post(deployment.url(&format!("/conversations/{}/messages", user.conversation)))
        .json(&json!({"content": "How many trips?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200, "{:?}", sent.text().await);
}

/// CPU time a process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fields.iter().sum()
}

/// Waits until one of `workers` is burning CPU: the spinning query has reached its worker process.
async fn until_a_worker_spins(workers: &BTreeSet<u32>) {
    let started: Vec<(u32, u64)> = workers.iter().map(|p| (*p, cpu_ticks(*p))).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    // 20 ticks are 0.2 s of CPU at the usual 100 ticks per second: more than starting up or idling takes.
    while !started
        .iter()
        .any(|(pid, ticks)| cpu_ticks(*pid) > ticks + 20)
    {
        assert!(Instant::now() < deadline, "no worker ran the query");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until one of `workers` has died, and says how long that took.
async fn until_one_gone(workers: &BTreeSet<u32>) -> Duration {
    let started = Instant::now();
    while workers.iter().all(|pid| alive(*pid)) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no worker was stopped"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

/// The deployment's workers once no query runs (the automatic profile of a new dataset is a query too).
async fn idle_workers(deployment: &Deployment) -> BTreeSet<u32> {
    while deployment.running_queries().await > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    deployment.server.children()
}

#[actix_web::test]
async fn stopping_a_turn_kills_its_running_query_within_a_second() {
    let (deployment, _gemini) = chat_deployment("SELECT tabletalk_test_spin(600)").await;
    let alice = deployment.user("alice").await;
    let before = idle_workers(&deployment).await;
    turn_with_runaway(&deployment, &alice).await;
    until_a_worker_spins(&before).await;
    let stopped = alice
        .client
        .post(deployment.url(&format!("/conversations/{}/stop", alice.conversation)))
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 200);
    let took = until_one_gone(&before).await;
    assert!(
        took < Duration::from_secs(1),
        "the worker died {took:?} after the stop"
    );
    deployment.until_one_worker_replaced(&before).await;
    assert_eq!(deployment.running_queries().await, 0);
    let (status, body) = deployment.query(&alice, "SELECT 1 AS one").await;
    assert_eq!(
        (status, body["rows"].clone()),
        (200, json!([[1]])),
        "{body}"
    );
}

#[actix_web::test]
async fn deleting_a_conversation_kills_its_running_query_within_a_second() {
    let (deployment, _gemini) = chat_deployment("SELECT tabletalk_test_spin(600)").await;
    let alice = deployment.user("alice").await;
    let before = idle_workers(&deployment).await;
    turn_with_runaway(&deployment, &alice).await;
    until_a_worker_spins(&before).await;
    let deleted = alice
        .client
        .delete(deployment.url(&format!("/conversations/{}", alice.conversation)))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let took = until_one_gone(&before).await;
    assert!(
        took < Duration::from_secs(1),
        "the worker died {took:?} after the delete"
    );
    deployment.until_one_worker_replaced(&before).await;
    assert_eq!(deployment.running_queries().await, 0);
}

#[actix_web::test]
async fn deleting_a_conversation_kills_its_sql_panel_query_within_a_second() {
    let deployment = Deployment::start(&[("TABLETALK__QUERY__TIMEOUT", "600s")]).await;
    let alice = deployment.user("alice").await;
    let before = idle_workers(&deployment).await;
    let client = alice.client.clone();
    let url = deployment.url(&format!("/conversations/{}/query", alice.conversation));
    let running = tokio::spawn(async move {
        client
            .post(url)
            .json(&json!({"sql": "SELECT tabletalk_test_spin(600)"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    until_a_worker_spins(&before).await;
    let deleted = alice
        .client
        .delete(deployment.url(&format!("/conversations/{}", alice.conversation)))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let took = until_one_gone(&before).await;
    assert!(
        took < Duration::from_secs(1),
        "the worker died {took:?} after the delete"
    );
    assert_eq!(
        running.await.unwrap(),
        404,
        "the query's conversation is gone"
    );
    deployment.until_one_worker_replaced(&before).await;
}
