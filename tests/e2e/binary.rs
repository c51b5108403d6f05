//! The real `tabletalk` binary as a user runs it: no configuration, bad configuration, restarts, migrate.

use serde_json::{Value, json};

use crate::process::Binary;

pub(crate) async fn sign_in(base: &str, key: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let response = client
        .post(format!("{base}/auth/dev-login"))
        .json(&json!({"referral_key": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    client
}

#[actix_web::test]
async fn runs_with_no_configuration_and_stops_on_sigterm() {
    let binary = Binary::new();
    let server = binary.start(&[]).await;
    let key = server.access_key();
    assert_eq!(key.len(), 32, "24 random bytes, base64url");
    assert!(
        server
            .stderr_text()
            .contains("Tabletalk is running in local mode. Open http://127.0.0.1:")
    );
    assert!(
        binary.dir().join("tabletalk.db").is_file(),
        "database created in the working directory"
    );
    assert!(binary.dir().join("tabletalk-data/uploads").is_dir());

    let client = reqwest::Client::new();
    let health: Value = client
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let wrong = client
        .post(format!("{}/auth/dev-login", server.base))
        .json(&json!({"referral_key": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["code"],
        "invalid_referral_key"
    );

    let signed_in = sign_in(&server.base, &key).await;
    let me: Value = signed_in
        .get(format!("{}/auth/me", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "local@localhost");

    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
}

#[actix_web::test]
async fn data_survives_a_restart() {
    let binary = Binary::new();
    let server = binary.start(&[]).await;
    let client = sign_in(&server.base, &server.access_key()).await;
    let created: Value = client
        .post(format!("{}/conversations", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let rename = client
        .patch(format!("{}/conversations/{id}", server.base))
        .json(&json!({"title": "Keep me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rename.status(), 200);
    assert!(server.terminate().success());

    let restarted = binary.start(&[]).await;
    // Cookies are not port-specific, so the old client presents its session to the new process: sessions
    // survive restarts even though the generated key changed.
    let list: Value = client
        .get(format!("{}/conversations", restarted.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["conversations"][0]["id"], id.as_str());
    let client = sign_in(&restarted.base, &restarted.access_key()).await;
    let list: Value = client
        .get(format!("{}/conversations", restarted.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["conversations"][0]["id"], id.as_str());
    assert_eq!(list["conversations"][0]["title"], "Keep me");
}

/// Starts the binary with `env`, expects exit code 2 with `expected` on stderr and nothing created; the binary's
/// directory stays for further runs.
pub(crate) fn refused_at_start(env: &[(&str, &str)], expected: &str) -> Binary {
    let binary = Binary::new();
    let output = binary.run(&[], env);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(expected), "{stderr}");
    assert!(
        !binary.dir().join("tabletalk.db").exists(),
        "nothing is created before the configuration is valid"
    );
    binary
}

#[test]
fn invalid_configuration_exits_2_naming_the_key() {
    let binary = refused_at_start(
        &[("TABLETALK__QUERY__TIMEOUT", "abc")],
        "configuration error: query.timeout (env TABLETALK__QUERY__TIMEOUT)",
    );

    std::fs::write(binary.dir().join("t.toml"), "[server]\nprot = 80\n").unwrap();
    let output = binary.run(&["--config", "t.toml", "config", "check"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("server.prot (file t.toml): unknown key")
    );
}

#[test]
fn config_check_prints_sources_and_masks_secrets() {
    let binary = Binary::new();
    let output = binary.run(
        &["config", "check"],
        &[
            ("GEMINI_API_KEY", "gm-secret-123"),
            ("TABLETALK__QUERY__TIMEOUT", "90s"),
        ],
    );
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("gm-secret-123"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("llm.api_key") && l.contains("***")),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("query.timeout")
            && l.contains("90s")
            && l.contains("env TABLETALK__QUERY__TIMEOUT")),
        "{stdout}"
    );
}

#[test]
fn migrate_is_idempotent_and_revert_round_trips() {
    let binary = Binary::new();
    let run = |args: &[&str]| {
        let output = binary.run(args, &[]);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert!(run(&["migrate"]).starts_with("applied migrations "));
    let before = std::fs::read(binary.dir().join("tabletalk.db")).unwrap();
    assert_eq!(run(&["migrate"]), "database is up to date");
    assert_eq!(
        std::fs::read(binary.dir().join("tabletalk.db")).unwrap(),
        before,
        "an up-to-date database is unchanged"
    );
    assert!(run(&["migrate", "--revert"]).starts_with("reverted migration "));
    assert!(run(&["migrate"]).starts_with("applied migrations "));
    let help = run(&["--help"]);
    for command in ["serve", "migrate", "config"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn referral_keys_are_created_and_listed_by_the_cli() {
    let binary = Binary::new();
    let output = binary.run(&["referral", "create", "--count", "3"], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(created.len(), 3);
    assert!(created.iter().all(|k| {
        k.len() == 22
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }));

    let listed = binary.run(&["referral", "list", "--unused"], &[]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    for key in &created {
        let line = listed
            .lines()
            .find(|l| l.starts_with(key.as_str()))
            .expect("every new key is listed");
        assert!(line.ends_with("\t-\t-"), "unused: {line}");
    }
    let refused = binary.run(&["referral", "create", "--count", "0"], &[]);
    assert_eq!(refused.status.code(), Some(2));
}

#[actix_web::test]
async fn a_process_killed_mid_turn_leaves_no_half_written_answer() {
    use std::time::Duration;

    use tabletalk_tests::scripted_server::{Chunk, Reply, ScriptedServer, sse_events};

    let gemini = ScriptedServer::start();
    let slow = || {
        let first = sse_events(
            &[
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Partial answer "}]}, "index": 0}]}),
            ],
            "\n",
        );
        Reply::sse(vec![
            Chunk::Bytes(first),
            Chunk::Pause(Duration::from_secs(30)),
        ])
    };
    for _ in 0..3 {
        gemini.reply(slow());
    }
    let binary = Binary::new();
    let env = [
        ("TABLETALK__LLM__PROVIDER", "gemini"),
        ("TABLETALK__LLM__API_KEY", "gm-key"),
        ("TABLETALK__LLM__BASE_URL", gemini.base.as_str()),
    ];
    let server = binary.start(&env).await;
    let client = sign_in(&server.base, &server.access_key()).await;
    let mut conversations = Vec::new();
    for n in 0..3 {
        let created: Value = client
            .post(format!("{}/conversations", server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        let sent = client
            .post(format!("{}/conversations/{id}/messages", server.base))
            .json(&json!({"content": format!("question {n}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);
        conversations.push(id);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gemini.requests().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the turns did not reach the model"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.kill_hard();

    let restarted = binary.start(&env).await;
    let client = sign_in(&restarted.base, &restarted.access_key()).await;
    for id in conversations {
        let detail: Value = client
            .get(format!("{}/conversations/{id}", restarted.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let messages = detail["messages"].as_array().unwrap();
        assert_eq!(
            messages.len(),
            1,
            "only the user message survives: {messages:?}"
        );
        assert_eq!(messages[0]["role"], "user");
    }
}

/// A stop cuts off an import's background loads; after the restart those datasets are errors that say so (not
/// `loading` forever), and a refresh loads them.
#[actix_web::test]
async fn loads_cut_off_by_a_stop_are_errors_after_the_restart() {
    use std::time::Duration;
    use tabletalk_tests::file_server::{FileServer, ServedFile};

    let files = FileServer::start().await;
    let url = files.put(
        "/slow.parquet",
        ServedFile::new(crate::datasets::parquet_bytes(100, 100)).trickle(Duration::from_secs(30)),
    );
    let binary = Binary::new();
    let env = [("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32")];
    let server = binary.start(&env).await;
    let client = sign_in(&server.base, &server.access_key()).await;
    let created: Value = client
        .post(format!("{}/conversations/import", server.base))
        .json(&json!({"title": "Cut off", "datasets": [{"url": url, "name": "slow"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(server.terminate().success());

    let restarted = binary.start(&env).await;
    let client = sign_in(&restarted.base, &restarted.access_key()).await;
    let detail = |client: reqwest::Client, base: String, id: String| async move {
        client
            .get(format!("{base}/conversations/{id}"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let after = detail(client.clone(), restarted.base.clone(), id.clone()).await;
    let dataset = &after["datasets"][0];
    assert_eq!(dataset["status"], "error");
    assert_eq!(
        dataset["error_message"],
        tabletalk_domain::datasets::INTERRUPTED_LOAD
    );
    files.put(
        "/slow.parquet",
        ServedFile::new(crate::datasets::parquet_bytes(100, 100)),
    );
    let refreshed: Value = client
        .post(format!(
            "{}/conversations/{id}/datasets/{}/refresh",
            restarted.base,
            dataset["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refreshed["row_count"], 100, "{refreshed}");
    let after = detail(client.clone(), restarted.base.clone(), id.clone()).await;
    assert_eq!(after["datasets"][0]["status"], "ready");
    assert!(restarted.terminate().success());
    files.stop().await;
}

/// The real binary describes itself: `/openapi.json` is the document the code generates, the reference page works
/// offline, and a session's responses (successes and errors) match what the document says.
#[actix_web::test]
async fn the_binary_serves_its_openapi_document_and_answers_by_it() {
    let binary = Binary::new();
    let server = binary.start(&[]).await;
    let base = &server.base;
    let anonymous = reqwest::Client::new();
    let doc: Value = anonymous
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc, tabletalk_http_api::openapi_document());
    assert_eq!(doc["openapi"], "3.1.0");
    let page = anonymous
        .get(format!("{base}/api-docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains("/conversations/{conversation_id}/query"));
    assert!(!html.contains("<script") && !html.contains("src=\"http"));

    let conformance = tabletalk_tests::conformance::Conformance::new(doc);
    let client = sign_in(base, &server.access_key()).await;
    let check = |method: &'static str, route: &'static str, response: reqwest::Response| {
        let conformance = &conformance;
        async move {
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = response.bytes().await.unwrap();
            conformance.check(method, Some(route), status, &content_type, &body);
            (
                status,
                serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            )
        }
    };
    let (_, created) = check(
        "POST",
        "/conversations",
        client
            .post(format!("{base}/conversations"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    for (route, path) in [
        ("/conversations", "/conversations".to_owned()),
        (
            "/conversations/{conversation_id}",
            format!("/conversations/{id}"),
        ),
        ("/usage", "/usage".to_owned()),
        ("/settings", "/settings".to_owned()),
        ("/auth/me", "/auth/me".to_owned()),
        ("/saved-queries", "/saved-queries".to_owned()),
        ("/query-history", "/query-history?limit=5".to_owned()),
        (
            "/conversations/search",
            "/conversations/search?q=anything".to_owned(),
        ),
        ("/health", "/health".to_owned()),
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        let (status, _) = check("GET", route, response).await;
        assert_eq!(status, 200, "{path}");
    }
    // Errors are documented too: a malformed body, no datasets, an unknown id, no session.
    let (status, _) = check(
        "POST",
        "/conversations/{conversation_id}/query",
        client
            .post(format!("{base}/conversations/{id}/query"))
            .json(&json!({"sql": 5}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = check(
        "POST",
        "/conversations/{conversation_id}/query",
        client
            .post(format!("{base}/conversations/{id}/query"))
            .json(&json!({"sql": "SELECT 1"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = check(
        "GET",
        "/conversations/{conversation_id}",
        client
            .get(format!(
                "{base}/conversations/00000000-0000-7000-8000-000000000000"
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = check(
        "GET",
        "/usage",
        anonymous.get(format!("{base}/usage")).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(conformance.violations(), Vec::<String>::new());
    assert!(server.terminate().success());
}
