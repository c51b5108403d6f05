//! `GET /metrics` end to end: the bearer token, the 404 when disabled, and the counters moving after a chat turn,
//! SQL queries (run and cached), a remote dataset's range reads and an open WebSocket.

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;
use tabletalk_ports::fakes::ScriptedLlm;
use tabletalk_tests::file_server::{FileServer, ServedFile};
use tabletalk_tests::ws_client::connect;
use tabletalk_tests::{TestApp, json_with_status};

use crate::chat::{WAIT, send};
use crate::datasets::parquet_bytes;
use crate::helpers::answer;

const TOKEN: &str = "scrape-token-0123456789";

async fn scrape(app: &TestApp) -> String {
    let response = app
        .new_client()
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.unwrap()
}

/// The value of the sample named exactly `series` (name and labels as exposed; every one checked here counts whole
/// things), 0 when absent.
fn sample(text: &str, series: &str) -> i64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |value| value.trim().parse().unwrap())
}

#[actix_web::test]
async fn a_scrape_needs_the_token_and_shows_the_counters_moving() {
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(answer("Hello.", 40, 2));
    let app = TestApp::builder()
        .llm(llm)
        .env("TABLETALK__OBSERVABILITY__METRICS_TOKEN", TOKEN)
        .env("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32")
        .spawn()
        .await;
    for authorization in [None, Some("Bearer wrong-token-0123456789"), Some(TOKEN)] {
        let mut request = app.new_client().get(app.url("/metrics"));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let refused = json_with_status(request.send().await.unwrap(), 401).await;
        assert_eq!(refused["code"], "not_authenticated");
    }
    let before = scrape(&app).await;
    app.login().await;
    let id = app.create_conversation().await;
    let socket = connect(&app.base, &app.session_token().await)
        .await
        .unwrap();
    let mut socket = socket;

    json_with_status(send(&app, &id, "hi").await, 200).await;
    socket.until("chat_complete", WAIT).await;

    let files = FileServer::start().await;
    let url = files.put("/sales.parquet", ServedFile::new(parquet_bytes(500, 100)));
    json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{id}/datasets"),
            &json!({"url": url, "name": "sales"}),
        )
        .await,
        201,
    )
    .await;
    // A CSV by URL is downloaded whole into the file cache.
    let csv = files.put(
        "/cities.csv",
        ServedFile::new(b"city,n\nParis,1\nLyon,2\n".to_vec()),
    );
    json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{id}/datasets"),
            &json!({"url": csv, "name": "cities"}),
        )
        .await,
        201,
    )
    .await;
    let added = scrape(&app).await;
    assert!(sample(&added, "tabletalk_file_cache_bytes") > 0, "{added}");
    assert!(
        sample(&added, "tabletalk_fetch_bytes_total{kind=\"download\"}")
            > sample(&before, "tabletalk_fetch_bytes_total{kind=\"download\"}")
    );
    let query =
        json!({"sql": "SELECT category, SUM(amount) AS total FROM sales GROUP BY category"});
    for _ in 0..2 {
        json_with_status(
            app.send_json(Method::POST, &format!("/conversations/{id}/query"), &query)
                .await,
            200,
        )
        .await;
    }
    let failed = app
        .send_json(
            Method::POST,
            &format!("/conversations/{id}/query"),
            &json!({"sql": "SELECT nope FROM sales"}),
        )
        .await;
    assert_eq!(failed.status(), 400);

    let after = scrape(&app).await;
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(moved("tabletalk_chat_turns_total{outcome=\"complete\"}"), 1);
    assert_eq!(moved("tabletalk_chat_turn_duration_seconds_count"), 1);
    assert_eq!(
        moved("tabletalk_llm_calls_total{kind=\"chat\",outcome=\"success\",provider=\"gemini\"}"),
        1
    );
    assert_eq!(
        moved(
            "tabletalk_llm_tokens_total{direction=\"input\",kind=\"chat\",model=\"gemini-2.5-flash\",provider=\"gemini\"}"
        ),
        40,
        "{after}"
    );
    assert_eq!(
        moved("tabletalk_queries_total{outcome=\"success\",source=\"sql_panel\"}"),
        1
    );
    assert_eq!(
        moved("tabletalk_queries_total{outcome=\"cached\",source=\"sql_panel\"}"),
        1
    );
    assert_eq!(
        moved("tabletalk_queries_total{outcome=\"error\",source=\"sql_panel\"}"),
        1
    );
    assert_eq!(
        moved("tabletalk_query_duration_seconds_count{source=\"sql_panel\"}"),
        3
    );
    let range = "tabletalk_fetch_bytes_total{kind=\"range\"}";
    // Its column chunks were fetched once, by the automatic profile or by the first query, whichever came first (the
    // other reads them from the range cache); both run in worker processes.
    assert!(
        sample(&after, range) > sample(&before, range),
        "range reads made in worker processes are counted"
    );
    assert_eq!(
        moved(
            "tabletalk_http_requests_total{method=\"POST\",route=\"/conversations/{conversation_id}/query\",status=\"200\"}"
        ),
        2,
        "routes are patterns, never ids"
    );
    assert_eq!(sample(&after, "tabletalk_ws_connections"), 1);
    assert!(after.contains("tabletalk_query_queue_depth 0"), "{after}");
    assert!(after.contains("tabletalk_queries_running 0"), "{after}");
    drop(socket);
    files.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn disabled_metrics_answer_404() {
    let app = TestApp::builder()
        .env("TABLETALK__OBSERVABILITY__METRICS_ENABLED", "false")
        .spawn()
        .await;
    let refused = json_with_status(app.get("/metrics").await, 404).await;
    assert_eq!(refused["code"], "not_found");
    app.stop().await;
}
