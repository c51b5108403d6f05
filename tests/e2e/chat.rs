//! Chat turns end to end: the real app (SQLite, DataFusion) with a scripted port-level model or the Gemini adapter
//! against a wire-level fake, and real WebSocket clients on `/ws`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::Stream;
use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_ports::fakes::{ScriptedCall, ScriptedLlm};
use tabletalk_ports::{
    FinishReason, LlmClient, LlmError, LlmEvent, LlmMessage, LlmProvider, LlmRequest, LlmStream,
    TokenCounts, ToolCall, ToolMode,
};
use tabletalk_tests::ws_client::{WsClient, connect};
use tabletalk_tests::{TestApp, json_with_status};

pub(crate) const WAIT: Duration = Duration::from_secs(10);
const CSV: &str = "city,population\nParis,2100000\nLyon,513000\nNice,342000\n";

#[expect(
    clippy::unnecessary_wraps,
    reason = "a script is a list of stream items"
)]
fn text(t: &str) -> Result<LlmEvent, LlmError> {
    Ok(LlmEvent::TextDelta(t.to_owned()))
}

#[expect(
    clippy::unnecessary_wraps,
    reason = "a script is a list of stream items"
)]
fn call(name: &str, args: &Value) -> Result<LlmEvent, LlmError> {
    Ok(LlmEvent::ToolCall(ToolCall {
        id: None,
        name: name.to_owned(),
        arguments: args.to_string(),
    }))
}

fn done() -> Vec<Result<LlmEvent, LlmError>> {
    vec![
        Ok(LlmEvent::Usage(TokenCounts {
            input: 100,
            output: 20,
            thoughts: 5,
        })),
        Ok(LlmEvent::Finished {
            reason: FinishReason::Stop,
            provider_state: None,
        }),
    ]
}

fn stream(mut items: Vec<Result<LlmEvent, LlmError>>) -> ScriptedCall {
    items.extend(done());
    ScriptedCall::Stream(items)
}

/// A model that streams `tokens` text chunks slowly (for stop, 409 and deletion tests), then finishes.
pub(crate) struct SlowLlm {
    pub(crate) tokens: usize,
    pub(crate) pause: Duration,
    pub(crate) requests: Mutex<usize>,
}

struct Slow {
    left: usize,
    pause: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stream for Slow {
    type Item = Result<LlmEvent, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let pause = self.pause;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(pause)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        self.left -= 1;
        Poll::Ready(Some(text("tick ")))
    }
}

#[async_trait]
impl LlmClient for SlowLlm {
    fn provider(&self) -> LlmProvider {
        LlmProvider::Gemini
    }

    async fn stream(&self, _request: &LlmRequest) -> Result<LlmStream, LlmError> {
        *self.requests.lock().unwrap() += 1;
        Ok(Box::pin(Slow {
            left: self.tokens,
            pause: self.pause,
            sleep: None,
        }))
    }
}

pub(crate) async fn app_with(
    llm: Arc<dyn LlmClient>,
    env: &[(&str, &str)],
) -> (TestApp, String, WsClient) {
    let mut builder = TestApp::builder().llm(llm);
    for (key, value) in env {
        builder = builder.env(key, value);
    }
    let app = builder.spawn().await;
    app.login().await;
    let conversation = app.create_conversation().await;
    let token = app.session_token().await;
    let socket = connect(&app.base, &token).await.unwrap();
    (app, conversation, socket)
}

pub(crate) async fn send(app: &TestApp, conversation: &str, content: &str) -> reqwest::Response {
    app.send_json(
        Method::POST,
        &format!("/conversations/{conversation}/messages"),
        &json!({"content": content}),
    )
    .await
}

async fn upload_cities(app: &TestApp, conversation: &str) {
    let form = reqwest::multipart::Form::new().text("name", "cities").part(
        "file",
        reqwest::multipart::Part::bytes(CSV.as_bytes().to_vec()).file_name("cities.csv"),
    );
    let response = app
        .client
        .post(app.url(&format!("/conversations/{conversation}/datasets/upload")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    json_with_status(response, 201).await;
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub(crate) async fn messages(app: &TestApp, conversation: &str) -> Vec<Value> {
    json_with_status(
        app.get(&format!("/conversations/{conversation}")).await,
        200,
    )
    .await["messages"]
        .as_array()
        .unwrap()
        .clone()
}

#[actix_web::test]
async fn a_plain_answer_streams_persists_and_counts_tokens() {
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(stream(vec![text("Hello "), text("world.")]))
        .then(stream(vec![text("Again.")]));
    let (app, conversation, mut socket) = app_with(llm.clone(), &[]).await;
    let accepted = json_with_status(
        send(&app, &conversation, "  Say   hello\nplease ").await,
        200,
    )
    .await;
    assert_eq!(accepted["status"], "processing");
    let events = socket.until("usage_update", WAIT).await;
    assert_eq!(
        kinds(&events),
        [
            "conversation_title_updated",
            "chat_token",
            "chat_token",
            "chat_complete",
            "usage_update"
        ]
    );
    assert_eq!(events[0]["title"], "Say hello please");
    let complete = &events[3];
    assert_eq!(complete["message_id"], accepted["message_id"]);
    assert_eq!(complete["conversation_id"], conversation);
    assert_eq!(complete["content"], "Hello world.");
    assert_eq!(complete["status"], "complete");
    assert_eq!(complete["sql_query"], Value::Null);
    assert_eq!(complete["sql_executions"], json!([]));
    assert_eq!(
        (
            complete["input_tokens"].as_i64(),
            complete["output_tokens"].as_i64()
        ),
        (Some(100), Some(20))
    );
    assert_eq!(events[4]["tokens_used"], 120);

    let stored = messages(&app, &conversation).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["id"], accepted["user_message_id"]);
    assert_eq!(stored[1]["id"], accepted["message_id"]);
    assert_eq!(stored[1]["content"], "Hello world.");
    assert_eq!(stored[1]["token_count"], 120);
    let usage = json_with_status(
        app.get(&format!("/conversations/{conversation}/token-usage"))
            .await,
        200,
    )
    .await;
    assert_eq!(usage["total_tokens"], 120);
    assert_eq!(usage["request_count"], 1);
    let sent = &llm.requests()[0];
    assert!(sent.system.contains("DataFusion"));
    assert!(sent.system.contains("No datasets yet"));
    assert_eq!(sent.tools.len(), 4);
    // The turn is released before `chat_complete` goes out: sending right away is accepted.
    json_with_status(send(&app, &conversation, "once more").await, 200).await;
    assert_eq!(
        socket.until("chat_complete", WAIT).await.last().unwrap()["content"],
        "Again."
    );
    app.stop().await;
}

#[actix_web::test]
async fn tool_calls_run_queries_fix_failures_and_respect_the_caps() {
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(stream(vec![call(
        "execute_sql",
        &json!({"query": "SELECT count(*) AS n FROM citys"}),
    )]))
    .then(stream(vec![call(
        "execute_sql",
        &json!({"query": "SELECT count(*) AS n FROM cities"}),
    )]))
    .then(stream(vec![
        call(
            "create_chart",
            &json!({"chart_type": "bar", "title": "Cities", "x_column": "n"}),
        ),
        call(
            "suggest_followups",
            &json!({"suggestions": ["Which is largest?", " ", "Which is largest?"]}),
        ),
    ]))
    .then(stream(vec![text("There are 3 cities.")]));
    let (app, conversation, mut socket) = app_with(llm.clone(), &[]).await;
    upload_cities(&app, &conversation).await;
    json_with_status(send(&app, &conversation, "How many cities?").await, 200).await;
    let events = socket.until("chat_complete", WAIT).await;
    let names: Vec<String> = kinds(&events)
        .into_iter()
        .filter(|k| k != "dataset_loaded" && k != "dataset_profiled")
        .collect();
    assert_eq!(
        names,
        [
            "conversation_title_updated",
            "tool_call_start",
            "query_progress",
            "tool_call_start",
            "query_progress",
            "tool_call_start",
            "chart_spec",
            "tool_call_start",
            "followup_suggestions",
            "chat_token",
            "chat_complete"
        ]
    );
    let complete = events.last().unwrap();
    let executions = complete["sql_executions"].as_array().unwrap();
    assert_eq!(executions.len(), 2);
    assert!(
        executions[0]["error"]
            .as_str()
            .unwrap()
            .contains("Tables in this conversation: cities")
    );
    assert_eq!(executions[1]["rows"], json!([[3]]));
    assert_eq!(
        events.iter().find(|e| e["type"] == "chart_spec").unwrap()["execution_index"],
        1
    );
    assert_eq!(
        events
            .iter()
            .find(|e| e["type"] == "followup_suggestions")
            .unwrap()["suggestions"],
        json!(["Which is largest?"])
    );
    // The failed query's result told the model which tables exist; the corrected one returned rows.
    let requests = llm.requests();
    let LlmMessage::ToolResults { results } = &requests[1].messages.last().unwrap() else {
        panic!("tool results")
    };
    let first: Value = serde_json::from_str(&results[0].content).unwrap();
    assert_eq!(first["ok"], false);
    assert_eq!(first["tables"], json!({"cities": ["city", "population"]}));
    assert!(requests[3].system.contains("### cities (3 rows"));
    let history = json_with_status(app.get("/query-history?source=llm").await, 200).await;
    assert_eq!(history["total"], 2);
    let stored = messages(&app, &conversation).await;
    let sql: Vec<Value> = serde_json::from_str(stored[1]["sql_query"].as_str().unwrap()).unwrap();
    assert_eq!(sql.len(), 2);
    app.stop().await;
}

#[actix_web::test]
async fn the_sql_failure_cap_and_the_tool_call_cap() {
    let bad = |n: u32| {
        call(
            "execute_sql",
            &json!({"query": format!("SELECT nope{n} FROM cities")}),
        )
    };
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(stream(vec![bad(1), bad(2), bad(3), bad(4), bad(5), bad(6)]))
        .then(stream(vec![text("I could not query that.")]));
    let (app, conversation, mut socket) = app_with(llm.clone(), &[]).await;
    upload_cities(&app, &conversation).await;
    json_with_status(send(&app, &conversation, "Break it").await, 200).await;
    let events = socket.until("chat_complete", WAIT).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "query_progress")
            .count(),
        3,
        "only 3 failing queries run"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "tool_call_start")
            .count(),
        5,
        "the 6th call is not run"
    );
    let requests = llm.requests();
    let LlmMessage::ToolResults { results } = requests[1].messages.last().unwrap() else {
        panic!("tool results")
    };
    let parsed: Vec<Value> = results
        .iter()
        .map(|r| serde_json::from_str(&r.content).unwrap())
        .collect();
    assert!(
        parsed[2]["instruction"]
            .as_str()
            .unwrap()
            .starts_with("Do not run more SQL")
    );
    assert_eq!(
        parsed[3]["error"],
        "Query not run: 3 queries already failed in this answer."
    );
    assert_eq!(
        parsed[5]["error"],
        "Tool call limit reached (5 per answer). Answer now with the information you already have."
    );
    assert!(
        requests[1].tools.is_empty(),
        "after the cap the model must answer in text"
    );
    assert_eq!(requests[1].tool_mode, ToolMode::None);
    assert_eq!(events.last().unwrap()["content"], "I could not query that.");
    app.stop().await;
}

#[actix_web::test]
async fn stop_keeps_the_partial_answer_and_a_second_send_is_refused_meanwhile() {
    let llm = Arc::new(SlowLlm {
        tokens: 200,
        pause: Duration::from_millis(20),
        requests: Mutex::new(0),
    });
    let (app, conversation, mut socket) = app_with(llm.clone(), &[]).await;
    json_with_status(send(&app, &conversation, "Talk slowly").await, 200).await;
    socket.until("chat_token", WAIT).await;
    let busy = json_with_status(send(&app, &conversation, "again").await, 409).await;
    assert_eq!(busy["code"], "turn_in_progress");
    let stopped = json_with_status(
        app.post_empty(&format!("/conversations/{conversation}/stop"))
            .await,
        200,
    )
    .await;
    assert_eq!(stopped, json!({"success": true, "stopped": true}));
    let events = socket.until("chat_complete", WAIT).await;
    let complete = events.last().unwrap();
    assert_eq!(complete["status"], "stopped");
    let content = complete["content"].as_str().unwrap();
    assert!(
        content.starts_with("tick") && content.len() < 200 * 5,
        "partial: {} chars",
        content.len()
    );
    let stored = messages(&app, &conversation).await;
    assert_eq!(stored[1]["status"], "stopped");
    assert_eq!(stored[1]["content"], complete["content"]);
    assert!(
        stored[1]["token_count"].as_i64().unwrap() > 0,
        "estimated tokens are recorded"
    );
    let idle = json_with_status(
        app.post_empty(&format!("/conversations/{conversation}/stop"))
            .await,
        200,
    )
    .await;
    assert_eq!(idle["stopped"], false);
    app.stop().await;
}

#[actix_web::test]
async fn stop_cancels_a_running_query() {
    let llm = Arc::new(ScriptedLlm::default());
    let slow = "SELECT count(*) FROM cities, generate_series(1, 2000000000) AS g";
    llm.then(stream(vec![call("execute_sql", &json!({"query": slow}))]));
    let (app, conversation, mut socket) =
        app_with(llm.clone(), &[("TABLETALK__QUERY__TIMEOUT", "120s")]).await;
    upload_cities(&app, &conversation).await;
    json_with_status(send(&app, &conversation, "Slow please").await, 200).await;
    socket.until("query_progress", WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    json_with_status(
        app.post_empty(&format!("/conversations/{conversation}/stop"))
            .await,
        200,
    )
    .await;
    let events = socket.until("chat_complete", WAIT).await;
    let complete = events.last().unwrap();
    assert_eq!(complete["status"], "stopped");
    assert_eq!(complete["sql_executions"][0]["error"], "Stopped by user");
    assert!(
        // The query alone would run for minutes (timeout 120 s): a stop that waited for it misses this bound.
        started.elapsed() < Duration::from_secs(30),
        "the stop did not wait for the query"
    );
    app.stop().await;
}

#[actix_web::test]
async fn every_socket_of_the_user_gets_every_event_and_nobody_else_does() {
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(stream(vec![text("Hi")]));
    let (app, conversation, mut first) = app_with(llm, &[]).await;
    let mut second = connect(&app.base, &app.session_token().await)
        .await
        .unwrap();
    let (_, stranger_token) = app.other_user_token("mallory").await;
    let mut stranger = connect(&app.base, &stranger_token).await.unwrap();
    assert_eq!(connect(&app.base, "not-a-session").await.unwrap_err(), 401);
    json_with_status(send(&app, &conversation, "Hello").await, 200).await;
    let a = first.until("usage_update", WAIT).await;
    let b = second.until("usage_update", WAIT).await;
    assert_eq!(kinds(&a), kinds(&b));
    assert_eq!(a.last().unwrap()["type"], "usage_update");
    assert!(
        stranger
            .next_event(Duration::from_millis(500))
            .await
            .is_none(),
        "another user's socket gets nothing"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_closed_socket_unsubscribes_even_when_no_event_comes() {
    let llm = Arc::new(ScriptedLlm::default());
    let (app, _conversation, first) = app_with(llm, &[]).await;
    let (_, stranger_token) = app.other_user_token("mallory").await;
    let stranger = connect(&app.base, &stranger_token).await.unwrap();
    assert_eq!(app.events.subscriber_count(), 2);
    // Nobody publishes anything for either user: only the sockets' ends can release their subscriptions.
    drop((first, stranger));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.events.subscriber_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.events.subscriber_count(), 0);
    app.stop().await;
}

#[actix_web::test]
async fn a_slow_consumer_is_disconnected_with_1013() {
    let big = "x".repeat(16 * 1024);
    let mut items: Vec<Result<LlmEvent, LlmError>> = (0..1200).map(|_| text(&big)).collect();
    items.extend(done());
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(ScriptedCall::Stream(items));
    let (app, conversation, mut socket) =
        app_with(llm, &[("TABLETALK__WEBSOCKET__SEND_QUEUE", "16")]).await;
    json_with_status(send(&app, &conversation, "Flood me").await, 200).await;
    // Not reading: the server's writes block, the bounded queue overflows, and the connection is closed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut received = 0;
    while let Some(event) = socket.next_event(Duration::from_secs(5)).await {
        if event["type"] == "chat_token" {
            received += 1;
        }
    }
    assert_eq!(socket.closed, Some(1013));
    assert!(
        received < 1200,
        "the slow socket lost its events ({received})"
    );
    // The turn itself was unaffected. Without the socket nothing announces its end: wait for the stored answer.
    let mut stored = messages(&app, &conversation).await;
    for _ in 0..100 {
        if stored.len() > 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        stored = messages(&app, &conversation).await;
    }
    assert_eq!(
        stored[1]["content"].as_str().unwrap().len(),
        1200 * big.len()
    );
    app.stop().await;
}

#[actix_web::test]
async fn budget_exceeded_refuses_the_turn_with_events() {
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(ScriptedCall::Stream(vec![
        text("Hello"),
        Ok(LlmEvent::Usage(TokenCounts {
            input: 900,
            output: 200,
            thoughts: 0,
        })),
        Ok(LlmEvent::Finished {
            reason: FinishReason::Stop,
            provider_state: None,
        }),
    ]));
    let (app, conversation, mut socket) =
        app_with(llm, &[("TABLETALK__BUDGET__TOKEN_LIMIT", "1000")]).await;
    json_with_status(send(&app, &conversation, "first").await, 200).await;
    let first = socket.until("rate_limit_warning", WAIT).await;
    let warning = first.last().unwrap();
    assert_eq!(
        warning["daily_limit_reached"], true,
        "the turn crossed the limit: {first:?}"
    );
    let refused = app
        .send_json(
            Method::POST,
            &format!("/conversations/{conversation}/messages"),
            &json!({"content": "second"}),
        )
        .await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("retry-after").is_some());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "token_budget_exceeded");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Daily token limit reached. Try again in")
    );
    let events = socket.until("rate_limit_exceeded", WAIT).await;
    assert_eq!(
        kinds(&events),
        ["rate_limit_warning", "rate_limit_exceeded"]
    );
    assert_eq!(events[0]["remaining_tokens"], 0);
    assert_eq!(
        messages(&app, &conversation).await.len(),
        2,
        "the refused message is not stored"
    );
    app.stop().await;
}

#[actix_web::test]
async fn deleting_the_conversation_mid_turn_cancels_it_and_keeps_the_tokens() {
    let llm = Arc::new(SlowLlm {
        tokens: 500,
        pause: Duration::from_millis(10),
        requests: Mutex::new(0),
    });
    let (app, first, mut socket) = app_with(llm, &[]).await;
    // Delete deletes one conversation, Delete all all of them: both cancel the running turn.
    let second = app.create_conversation().await;
    for (conversation, path) in [
        (first.clone(), format!("/conversations/{first}")),
        (second, "/conversations".to_owned()),
    ] {
        json_with_status(send(&app, &conversation, "Talk").await, 200).await;
        socket.until("chat_token", WAIT).await;
        json_with_status(app.delete(&path).await, 200).await;
        let later = socket.until("usage_update", WAIT).await;
        assert!(
            later
                .iter()
                .all(|e| e["type"] == "chat_token" || e["type"] == "usage_update"),
            "{path}: {:?}",
            kinds(&later)
        );
        assert_eq!(
            later.last().unwrap()["type"],
            "usage_update",
            "tokens spent are still recorded"
        );
    }
    let usage = json_with_status(app.get("/usage").await, 200).await;
    assert!(usage["tokens_used"].as_i64().unwrap() > 0);
    app.stop().await;
}

#[actix_web::test]
async fn no_model_configured_answers_503_and_bad_content_422() {
    let app = TestApp::spawn().await;
    app.login().await;
    let conversation = app.create_conversation().await;
    let none = json_with_status(send(&app, &conversation, "hi").await, 503).await;
    assert_eq!(none["code"], "llm_not_configured");
    let blank = json_with_status(send(&app, &conversation, "   ").await, 422).await;
    assert_eq!(blank["details"][0]["field"], "content");
    let plain = app.get("/ws").await;
    assert_eq!(json_with_status(plain, 400).await["code"], "bad_request");
    app.stop().await;
}

#[actix_web::test]
async fn a_tool_turn_through_the_gemini_adapter_against_its_wire_format() {
    use secrecy::SecretString;
    use tabletalk_adapters_gemini::{GeminiClient, GeminiSettings};
    use tabletalk_llm_http::CallTimeouts;
    use tabletalk_tests::scripted_server::{Chunk, Reply, ScriptedServer, sse_events};

    let server = ScriptedServer::start();
    let chunk = |parts: Value, usage: bool| {
        let mut body =
            json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}]});
        if usage {
            body["candidates"][0]["finishReason"] = json!("STOP");
            body["usageMetadata"] = json!({"promptTokenCount": 400, "candidatesTokenCount": 30, "thoughtsTokenCount": 10});
        }
        body
    };
    server.reply(Reply::sse(vec![Chunk::Bytes(sse_events(
        &[chunk(
            json!([{"functionCall": {"name": "execute_sql", "args": {"query": "SELECT max(population) AS biggest FROM cities"}}, "thoughtSignature": "c2ln"}]),
            true,
        )],
        "\n",
    ))]));
    server.reply(Reply::sse(vec![Chunk::Bytes(sse_events(
        &[chunk(
            json!([{"text": "The biggest city has 2,100,000 people."}]),
            true,
        )],
        "\n",
    ))]));
    let gemini = GeminiClient::new(GeminiSettings {
        base_url: server.base.clone(),
        api_key: SecretString::from("gm-key"),
        connect_timeout: Duration::from_secs(2),
        timeouts: CallTimeouts {
            idle: Duration::from_secs(5),
            call: Duration::from_secs(20),
        },
    })
    .unwrap();
    let (app, conversation, mut socket) = app_with(Arc::new(gemini), &[]).await;
    upload_cities(&app, &conversation).await;
    json_with_status(send(&app, &conversation, "Biggest city?").await, 200).await;
    let events = socket.until("chat_complete", WAIT).await;
    let complete = events.last().unwrap();
    assert_eq!(
        complete["content"],
        "The biggest city has 2,100,000 people."
    );
    assert_eq!(complete["sql_executions"][0]["rows"], json!([[2_100_000]]));
    assert_eq!(complete["input_tokens"], 800);
    assert_eq!(
        complete["output_tokens"], 80,
        "thoughts are part of the output count"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let second = &requests[1].body;
    let contents = second["contents"].as_array().unwrap();
    let replayed = &contents[contents.len() - 2];
    assert_eq!(replayed["role"], "model");
    assert_eq!(
        replayed["parts"][0]["thoughtSignature"], "c2ln",
        "the model content is replayed verbatim"
    );
    let response = &contents[contents.len() - 1]["parts"][0]["functionResponse"];
    assert_eq!(response["name"], "execute_sql");
    assert_eq!(response["response"]["output"]["ok"], true);
    assert!(
        second["systemInstruction"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .contains("### cities")
    );
    app.stop().await;
}

#[actix_web::test]
async fn the_oldest_socket_is_replaced_and_oversized_frames_close_the_connection() {
    let llm = Arc::new(ScriptedLlm::default());
    let (app, _conversation, mut first) = app_with(
        llm,
        &[("TABLETALK__WEBSOCKET__MAX_CONNECTIONS_PER_USER", "1")],
    )
    .await;
    let mut second = connect(&app.base, &app.session_token().await)
        .await
        .unwrap();
    assert!(first.next_event(WAIT).await.is_none());
    assert_eq!(first.closed, Some(4002), "the older connection makes room");
    second.send_text(&"x".repeat(5 * 1024)).await;
    assert!(second.next_event(WAIT).await.is_none());
    assert_eq!(second.closed, Some(1008));
    app.stop().await;
}

#[actix_web::test]
async fn a_context_the_provider_finds_too_long_is_trimmed_once_then_the_turn_fails() {
    let too_long = || {
        ScriptedCall::Refuse(LlmError::InvalidRequest {
            status: 400,
            message: "The input token count (1200000) exceeds the maximum number of tokens allowed"
                .to_owned(),
        })
    };
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(too_long()).then(too_long());
    let (app, conversation, mut socket) = app_with(llm.clone(), &[]).await;
    json_with_status(send(&app, &conversation, "Hello").await, 200).await;
    let events = socket.until("chat_error", WAIT).await;
    let error = events.last().unwrap();
    assert_eq!(error["code"], "context_too_large");
    assert_eq!(
        error["error"],
        "Conversation context too large. Try starting a new conversation."
    );
    assert_eq!(llm.requests().len(), 2, "one retry with a trimmed context");
    assert_eq!(
        events.iter().filter(|e| e["type"] == "chat_error").count(),
        1
    );
    assert_eq!(
        messages(&app, &conversation).await.len(),
        1,
        "no answer text, no stored assistant message"
    );
    app.stop().await;
}
