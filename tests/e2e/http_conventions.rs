//! docs/api.md, "Conventions": error bodies, status codes and their precedence, body limits, request ids, CORS, Origin
//! rule, headers.

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_tests::{TestApp, json_with_status};

fn assert_error(body: &Value, code: &str, response_request_id: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(body["request_id"], response_request_id, "{body}");
}

async fn error(response: reqwest::Response, status: u16, code: &str) -> Value {
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = json_with_status(response, status).await;
    assert_error(&body, code, &request_id);
    body
}

#[actix_web::test]
async fn unknown_routes_and_wrong_methods_answer_json_errors() {
    let app = TestApp::builder().in_memory().spawn().await;
    error(app.get("/no/such/route").await, 404, "not_found").await;

    let response = app.delete("/health").await;
    assert_eq!(response.headers()["allow"], "GET");
    error(response, 405, "method_not_allowed").await;

    let response = app
        .client
        .put(app.url("/conversations"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, POST, DELETE");
    error(response, 405, "method_not_allowed").await;
}

#[actix_web::test]
async fn body_problems_have_their_own_codes() {
    let app = TestApp::spawn().await;
    app.login().await;
    let id = app.create_conversation().await;
    let path = format!("/conversations/{id}");

    let body = error(
        app.raw(Method::PATCH, &path, &[], b"{\"title\": ".to_vec())
            .await,
        400,
        "invalid_json",
    )
    .await;
    assert_eq!(body["details"], json!({"line": 1, "column": 10}));

    let big = serde_json::to_vec(&json!({"title": "x".repeat(2 * 1024 * 1024)})).unwrap();
    error(
        app.raw(Method::PATCH, &path, &[], big).await,
        413,
        "payload_too_large",
    )
    .await;

    let headers = [("content-type", "text/plain")];
    error(
        app.raw(
            Method::PATCH,
            &path,
            &headers,
            b"{\"title\": \"x\"}".to_vec(),
        )
        .await,
        415,
        "unsupported_media_type",
    )
    .await;
    let with_charset = [("content-type", "application/json; charset=utf-8")];
    let response = app
        .raw(
            Method::PATCH,
            &path,
            &with_charset,
            b"{\"title\":\"ok\"}".to_vec(),
        )
        .await;
    assert_eq!(json_with_status(response, 200).await["title"], "ok");

    let body = error(
        app.send_json(Method::PATCH, &path, &json!({"name": "x"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["details"][0]["field"], "title");
    let body = error(
        app.send_json(Method::PATCH, &path, &json!({"title": 5}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["details"][0]["field"], "title");
}

#[actix_web::test]
async fn checks_run_in_the_documented_order() {
    let app = TestApp::spawn().await;
    let stranger = app.new_client();
    let headers = [
        ("origin", "https://evil.example"),
        ("content-type", "text/plain"),
    ];
    let mut request = stranger.post(app.url("/conversations"));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    // Origin (403) before authentication (401).
    error(request.send().await.unwrap(), 403, "origin_not_allowed").await;
    // Authentication (401) before content type (415).
    let response = stranger
        .patch(app.url("/conversations/01936f7e-2c1a-7b3e-9d40-5a8e0c2f4b11"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    error(response, 401, "not_authenticated").await;
    // Route (404) before everything.
    let response = stranger
        .post(app.url("/nowhere"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    error(response, 404, "not_found").await;
    // Validation (422) before lookup (404).
    app.login().await;
    let missing = "/conversations/01936f7e-2c1a-7b3e-9d40-5a8e0c2f4b11";
    error(
        app.send_json(Method::PATCH, missing, &json!({"title": ""}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    error(
        app.send_json(Method::PATCH, missing, &json!({"title": "fine"}))
            .await,
        404,
        "conversation_not_found",
    )
    .await;
}

#[actix_web::test]
async fn the_origin_rule_guards_state_changes() {
    let app = TestApp::spawn().await;
    app.login().await;
    for origin in ["https://evil.example", "null", "http://localhost:5174"] {
        let response = app
            .client
            .post(app.url("/conversations"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        error(response, 403, "origin_not_allowed").await;
    }
    let response = app
        .client
        .post(app.url("/auth/dev-login"))
        .header("origin", "https://evil.example")
        .json(&json!({"referral_key": tabletalk_tests::ACCESS_KEY}))
        .send()
        .await
        .unwrap();
    error(response, 403, "origin_not_allowed").await;

    let own = app.base.clone();
    for origin in [
        own.as_str(),
        "http://localhost:5173",
        "http://127.0.0.1:5173",
    ] {
        let response = app
            .client
            .post(app.url("/conversations"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{origin}");
    }
    let response = app
        .client
        .get(app.url("/conversations"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "reads are not refused by the Origin rule"
    );
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[actix_web::test]
async fn cors_allows_exactly_the_configured_origins() {
    let app = TestApp::builder()
        .in_memory()
        .env("CORS_ORIGINS", "https://app.example, http://localhost:3000")
        .spawn()
        .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/conversations"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let response = preflight("https://app.example").await.unwrap();
    assert_eq!(response.status(), 204);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(
        headers["access-control-allow-methods"],
        "GET, POST, PUT, PATCH, DELETE, OPTIONS"
    );
    assert_eq!(
        headers["access-control-allow-headers"],
        "Content-Type, X-Request-Id"
    );
    assert_eq!(headers["access-control-max-age"], "600");

    let response = preflight("http://localhost:5173").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    error(response, 403, "origin_not_allowed").await;

    let response = app
        .client
        .get(app.url("/health"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(headers["vary"], "Origin");
    assert_eq!(
        headers["access-control-expose-headers"],
        "X-Request-Id, Retry-After, Content-Disposition"
    );
}

#[actix_web::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::builder().in_memory().spawn().await;
    let response = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "trace-42.a:b_c")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42.a:b_c");
    error(response, 404, "not_found").await;

    let response = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "bad id!")
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(generated, "bad id!");
    assert_eq!(
        generated.parse::<uuid::Uuid>().unwrap().get_version_num(),
        7
    );
}

#[actix_web::test]
async fn health_and_readiness_report_the_parts() {
    let app = TestApp::spawn().await;
    let response = app.get("/health").await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body = json_with_status(response, 200).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["worker_pool"], "ok");
    assert_eq!(body["llm"], "not_configured");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["query_engine"]["queue_capacity"], 32);
    assert!(body["uptime_seconds"].as_f64().is_some());
    assert_eq!(
        json_with_status(app.get("/ready").await, 200).await,
        json!({"status": "ready"})
    );
}

#[actix_web::test]
async fn a_failing_database_degrades_health_and_hides_internals() {
    let app = TestApp::builder().in_memory().spawn().await;
    app.login().await;
    app.store().set_unavailable(true);

    let body = json_with_status(app.get("/health").await, 200).await;
    assert_eq!(
        (body["status"].as_str(), body["database"].as_str()),
        (Some("degraded"), Some("error"))
    );
    let body = error(app.get("/ready").await, 503, "not_ready").await;
    assert_eq!(
        body["details"],
        json!({"database": "error", "query_engine": "ok"})
    );

    let body = error(app.get("/conversations").await, 500, "internal_error").await;
    assert_eq!(body["error"], "Internal server error");
    assert!(
        !body.to_string().contains("in-memory"),
        "no internal text leaks: {body}"
    );
}

#[actix_web::test]
async fn workers_that_cannot_start_degrade_health_and_fail_queries_cleanly() {
    let app = TestApp::builder()
        .worker(tabletalk_query_engine::isolation::pool::WorkerCommand {
            program: app_dir_missing_program(),
            args: vec!["worker".to_owned()],
        })
        .env("TABLETALK__QUERY__TIMEOUT", "1s")
        .env("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32")
        .spawn()
        .await;
    app.login().await;
    // The first start fails at once; wait until the pool has said so.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let body = loop {
        let body = json_with_status(app.get("/health").await, 200).await;
        if body["worker_pool"] == "error" || std::time::Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(
        (
            body["status"].as_str(),
            body["worker_pool"].as_str(),
            body["query_engine"]["status"].as_str()
        ),
        (Some("degraded"), Some("error"), Some("error")),
        "{body}"
    );
    let body = error(app.get("/ready").await, 503, "not_ready").await;
    assert_eq!(
        body["details"],
        json!({"database": "ok", "query_engine": "error"})
    );
    let conversation = app.create_conversation().await;
    let files = tabletalk_tests::file_server::FileServer::start().await;
    let url = files.put(
        "/t.csv",
        tabletalk_tests::file_server::ServedFile::new(b"a\n1\n".to_vec()),
    );
    let added = app
        .send_json(
            reqwest::Method::POST,
            &format!("/conversations/{conversation}/datasets"),
            &json!({"url": url, "name": "t"}),
        )
        .await;
    assert_eq!(added.status(), 201, "adding a dataset needs no worker");
    let body = error(
        app.send_json(
            reqwest::Method::POST,
            &format!("/conversations/{conversation}/query"),
            &json!({"sql": "SELECT count(*) FROM t"}),
        )
        .await,
        500,
        "internal_error",
    )
    .await;
    assert_eq!(body["error"], "Internal server error");
}

/// A program that does not exist.
fn app_dir_missing_program() -> std::path::PathBuf {
    std::path::PathBuf::from("/nonexistent/tabletalk")
}

#[actix_web::test]
async fn health_reports_a_configured_llm() {
    let gemini = TestApp::builder()
        .env("GEMINI_API_KEY", "gm-key")
        .spawn()
        .await;
    assert_eq!(
        json_with_status(gemini.get("/health").await, 200).await["llm"],
        "configured"
    );
    let openai = TestApp::builder()
        .env("TABLETALK__LLM__PROVIDER", "openai")
        .env("TABLETALK__LLM__MODEL", "qwen2.5:7b")
        .env("TABLETALK__LLM__BASE_URL", "http://127.0.0.1:11434/v1")
        .spawn()
        .await;
    assert_eq!(
        json_with_status(openai.get("/health").await, 200).await["llm"],
        "configured"
    );
}
