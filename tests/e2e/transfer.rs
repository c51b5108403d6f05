//! Import, export (JSON and HTML) and fork end to end: the real app with a fixture file server for the datasets
//! that load in the background, and a WebSocket for their events.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_ports::{
    ConversationId, ExecutionOutcome, ExecutionResult, Message, MessageRole, SqlExecution,
    Timestamp,
};
use tabletalk_tests::file_server::{FileServer, ServedFile};
use tabletalk_tests::ws_client::{WsClient, connect};
use tabletalk_tests::{TestApp, json_with_status};

use crate::datasets::parquet_bytes;

const WAIT: Duration = Duration::from_secs(15);

async fn app() -> (TestApp, WsClient) {
    let app = TestApp::builder()
        .env("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32")
        .env("TABLETALK__SERVER__MAX_JSON_BODY", "2KiB")
        .env("TABLETALK__SERVER__MAX_LARGE_JSON_BODY", "64KiB")
        .spawn()
        .await;
    app.login().await;
    let token = app.session_token().await;
    let socket = connect(&app.base, &token).await.unwrap();
    (app, socket)
}

async fn import(app: &TestApp, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, "/conversations/import", body)
        .await
}

async fn detail(app: &TestApp, id: &str) -> Value {
    json_with_status(app.get(&format!("/conversations/{id}")).await, 200).await
}

/// The next `n` dataset outcome events (`dataset_loaded` / `dataset_error`) of `conversation`.
pub(crate) async fn outcomes(socket: &mut WsClient, conversation: &str, n: usize) -> Vec<Value> {
    let mut seen = Vec::new();
    while seen.len() < n {
        let event = socket.next_event(WAIT).await.expect("a dataset event");
        if event["conversation_id"] == conversation
            && matches!(
                event["type"].as_str(),
                Some("dataset_loaded" | "dataset_error")
            )
        {
            seen.push(event);
        }
    }
    seen
}

#[actix_web::test]
async fn imports_are_validated_with_chatdfs_messages_and_store_nothing_when_refused() {
    let (app, _socket) = app().await;
    let cases = [
        (json!({"title": 5}), "title", "title must be a string"),
        (
            json!({"messages": {}}),
            "messages",
            "messages must be an array",
        ),
        (
            json!({"datasets": "x"}),
            "datasets",
            "datasets must be an array",
        ),
        (
            json!({"datasets": vec![json!({"url": "https://a.example/x.csv"}); 51]}),
            "datasets",
            "datasets array exceeds maximum of 50 items",
        ),
        (
            json!({"messages": [7]}),
            "messages[0]",
            "messages[0] must be an object",
        ),
        (
            json!({"messages": [{"role": "user", "content": "ok"}, {"role": "system", "content": "x"}]}),
            "messages[1].role",
            "messages[1].role must be 'user' or 'assistant'",
        ),
        (
            json!({"messages": [{"role": "user", "content": ["x"]}]}),
            "messages[0].content",
            "messages[0].content must be a string",
        ),
        (
            json!({"datasets": [null]}),
            "datasets[0]",
            "datasets[0] must be an object",
        ),
        (
            json!({"datasets": [{"name": "x"}]}),
            "datasets[0].url",
            "datasets[0].url is required and must be a string",
        ),
        (
            json!({"datasets": [{"url": "file:///etc/passwd"}]}),
            "datasets[0].url",
            "datasets[0].url must be an http or https URL",
        ),
        (
            json!({"datasets": [{"url": "https://user:pw@data.example/x.csv"}]}),
            "datasets[0].url",
            "URLs with embedded credentials are not supported.",
        ),
    ];
    for (body, field, message) in cases {
        let refused = json_with_status(import(&app, &body).await, 422).await;
        assert_eq!(refused["code"], "validation_failed", "{body}");
        assert_eq!(refused["details"][0]["field"], field, "{body}");
        assert_eq!(refused["details"][0]["message"], message, "{body}");
    }
    let too_many = json!({"messages": vec![json!({"role": "user", "content": "x"}); 1001]});
    let refused = json_with_status(import(&app, &too_many).await, 422).await;
    assert_eq!(
        refused["details"][0]["message"],
        "messages array exceeds maximum of 1000 items"
    );
    let syntax = app
        .raw(
            Method::POST,
            "/conversations/import",
            &[],
            b"{\"title\": ".to_vec(),
        )
        .await;
    assert_eq!(json_with_status(syntax, 400).await["code"], "invalid_json");
    let text = app
        .raw(
            Method::POST,
            "/conversations/import",
            &[("Content-Type", "text/plain")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(text.status(), 415);

    // Imports may be larger than other bodies (here 2 KiB), up to their own limit (64 KiB).
    let big =
        json!({"title": "big", "messages": [{"role": "user", "content": "x".repeat(20_000)}]});
    json_with_status(import(&app, &big).await, 201).await;
    let huge = json!({"messages": [{"role": "user", "content": "x".repeat(70_000)}]});
    assert_eq!(
        json_with_status(import(&app, &huge).await, 413).await["code"],
        "payload_too_large"
    );
    let rename_too_big = app
        .send_json(
            Method::POST,
            "/conversations/bulk-pin",
            &json!({"ids": ["x".repeat(3000)]}),
        )
        .await;
    assert_eq!(
        rename_too_big.status(),
        413,
        "other endpoints keep the small limit"
    );

    let list = json_with_status(app.get("/conversations").await, 200).await;
    assert_eq!(
        list["conversations"].as_array().unwrap().len(),
        1,
        "only the big import"
    );
    let anonymous = app
        .new_client()
        .post(app.url("/conversations/import"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    app.stop().await;
}

#[actix_web::test]
async fn imported_datasets_load_in_the_background_in_order_and_report_each_outcome() {
    let (app, mut socket) = app().await;
    let files = FileServer::start().await;
    let sales = files.put(
        "/sales.parquet",
        ServedFile::new(parquet_bytes(500, 100)).trickle(Duration::from_millis(400)),
    );
    let missing = format!("{}/missing.parquet", files.base);
    let body = json!({
        "conversation": {"title": "From chatDF"},
        "messages": [
            {"role": "user", "content": "How much?", "timestamp": "2026-01-02T03:04:05+02:00"},
            {"role": "assistant", "content": "Plenty.", "created_at": "not a time",
             "sql_query": "SELECT SUM(amount) FROM sales", "reasoning": "sum it"}
        ],
        "datasets": [
            {"url": sales, "name": "sales", "row_count": 999_999, "schema_json": "[]",
             "column_descriptions": "{\"amount\": \"in euros\", \"ghost\": \"gone\"}"},
            {"url": format!("{sales}#again"), "name": "dupe"},
            {"url": missing, "name": "select"},
            {"url": "http://10.1.2.3/data.csv"}
        ]
    });
    let created = json_with_status(import(&app, &body).await, 201).await;
    assert_eq!(created["title"], "From chatDF");
    let id = created["id"].as_str().unwrap().to_owned();

    // Nothing was fetched before the answer: every dataset is still loading.
    let stored = detail(&app, &id).await;
    let names: Vec<&str> = stored["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["sales", "table1", "table2"],
        "duplicates dropped, bad names numbered"
    );
    assert!(
        stored["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "loading")
    );
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages[0]["created_at"], "2026-01-02T01:04:05.000Z");
    assert_eq!(
        (
            messages[0]["status"].as_str(),
            messages[0]["token_count"].as_i64()
        ),
        (Some("complete"), Some(0))
    );
    assert_eq!(messages[1]["reasoning"], "sum it");
    let executions: Value =
        serde_json::from_str(messages[1]["sql_query"].as_str().unwrap()).unwrap();
    assert_eq!(executions[0]["query"], "SELECT SUM(amount) FROM sales");
    assert_eq!(executions[0]["rows"], Value::Null);
    assert_eq!(executions[0]["error"], Value::Null);

    let events = outcomes(&mut socket, &id, 3).await;
    assert_eq!(events[0]["type"], "dataset_loaded");
    assert_eq!(events[0]["conversation_id"], id);
    assert_eq!(events[0]["dataset"]["name"], "sales");
    assert_eq!(
        events[0]["dataset"]["row_count"], 500,
        "supplied counts are not trusted"
    );
    assert_eq!(
        events[0]["dataset"]["column_descriptions"],
        "{\"amount\":\"in euros\"}"
    );
    assert_eq!(events[1]["type"], "dataset_error");
    assert_eq!(events[1]["code"], "url_unreachable");
    assert!(
        events[1]["error"].as_str().unwrap().contains("404"),
        "{}",
        events[1]
    );
    assert_eq!(events[2]["type"], "dataset_error");
    assert_eq!(events[2]["code"], "url_blocked");

    let after = detail(&app, &id).await;
    let statuses: Vec<&str> = after["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ready", "error", "error"]);
    assert_eq!(after["datasets"][1]["error_message"], events[1]["error"]);
    let total = json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{id}/query"),
            &json!({"sql": "SELECT COUNT(*) AS n FROM sales"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(total["rows"][0][0], 500);
    assert!(
        files
            .requests()
            .iter()
            .all(|r| !r.path.contains("10.1.2.3")),
        "the blocked address was never contacted"
    );
    files.stop().await;
    app.stop().await;
}

/// A message with every stored field an export carries.
fn answer(conversation: ConversationId, at: Timestamp) -> Message {
    let mut m = Message::user(conversation, "Paris is the largest.\nLyon follows.", at);
    m.role = MessageRole::Assistant;
    m.reasoning = Some("compare populations".to_owned());
    m.sql_executions = vec![
        SqlExecution {
            query: "SELECT city FROM cities ORDER BY population DESC".to_owned(),
            outcome: ExecutionOutcome::Succeeded(ExecutionResult {
                columns: vec!["city".to_owned()],
                rows: vec![vec![json!("Paris")], vec![json!("Lyon")]],
                total_rows: 2,
                execution_ms: 3.5,
                limit_applied: false,
            }),
        },
        SqlExecution {
            query: "SELECT nope FROM cities".to_owned(),
            outcome: ExecutionOutcome::Failed {
                error: "Column nope does not exist.".to_owned(),
            },
        },
    ];
    m
}

#[actix_web::test]
async fn an_export_imports_back_to_the_same_conversation() {
    let (app, mut socket) = app().await;
    let files = FileServer::start().await;
    let url = files.put("/sales.parquet", ServedFile::new(parquet_bytes(50, 50)));
    let id = app.create_conversation().await;
    let conversation: ConversationId = id.parse().unwrap();
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
    json_with_status(
        app.send_json(
            Method::PATCH,
            &format!(
                "/conversations/{id}/datasets/{}/column-descriptions",
                detail(&app, &id).await["datasets"][0]["id"]
                    .as_str()
                    .unwrap()
            ),
            &json!({"descriptions": {"amount": "in euros"}}),
        )
        .await,
        200,
    )
    .await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"a,b\n1,2\n".to_vec()).file_name("local.csv"),
    );
    let uploaded = app
        .client
        .post(app.url(&format!("/conversations/{id}/datasets/upload")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    json_with_status(uploaded, 201).await;
    let repos = app.repositories();
    let t = Timestamp::from_unix_millis(1_767_225_600_000).unwrap();
    repos
        .messages
        .append(&Message::user(conversation, "Which city is largest?", t))
        .await
        .unwrap();
    repos
        .messages
        .append(&answer(conversation, t + Duration::from_secs(2)))
        .await
        .unwrap();
    json_with_status(
        app.send_json(
            Method::PATCH,
            &format!("/conversations/{id}"),
            &json!({"title": "Cities"}),
        )
        .await,
        200,
    )
    .await;

    let response = app.get(&format!("/conversations/{id}/export")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"conversation-{id}.json\"").as_str()
    );
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let exported: Value = response.json().await.unwrap();
    assert_eq!(exported["format"], "tabletalk.conversation.v1");
    assert_eq!(exported["title"], "Cities");
    assert_eq!(exported["conversation"]["id"], id);
    assert_eq!(
        exported["datasets"].as_array().unwrap().len(),
        1,
        "uploads are left out"
    );
    assert_eq!(
        exported["datasets"][0]["column_descriptions"],
        "{\"amount\":\"in euros\"}"
    );

    let copy = json_with_status(import(&app, &exported).await, 201).await;
    assert_eq!(copy["title"], "Cities");
    let copy_id = copy["id"].as_str().unwrap();
    let events = outcomes(&mut socket, copy_id, 1).await;
    assert_eq!(events[0]["type"], "dataset_loaded", "{}", events[0]);
    let original = detail(&app, &id).await;
    let imported = detail(&app, copy_id).await;
    let fields = |d: &Value| -> Vec<Value> {
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                json!([
                    m["role"],
                    m["content"],
                    m["created_at"],
                    m["sql_query"],
                    m["reasoning"]
                ])
            })
            .collect()
    };
    assert_eq!(fields(&imported), fields(&original));
    let dataset = |d: &Value| {
        let first = &d["datasets"][0];
        json!([
            first["name"],
            first["url"],
            first["row_count"],
            first["schema_json"],
            first["column_descriptions"],
            first["status"]
        ])
    };
    assert_eq!(dataset(&imported), dataset(&original));
    assert_eq!(imported["datasets"].as_array().unwrap().len(), 1);
    files.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn the_html_export_is_one_inert_page_with_everything_escaped() {
    let (app, _socket) = app().await;
    let id = app.create_conversation().await;
    let conversation: ConversationId = id.parse().unwrap();
    let hostile_title = "<script>alert('title')</script>";
    json_with_status(
        app.send_json(
            Method::PATCH,
            &format!("/conversations/{id}"),
            &json!({"title": hostile_title}),
        )
        .await,
        200,
    )
    .await;
    let repos = app.repositories();
    let t = Timestamp::from_unix_millis(1_767_225_600_000).unwrap();
    let mut question = Message::user(
        conversation,
        "<img src=x onerror=alert(1)>\nsecond line & more",
        t,
    );
    question.role = MessageRole::User;
    let mut reply = answer(conversation, t + Duration::from_secs(1));
    reply.sql_executions[0].query =
        "SELECT '</code></pre><script>steal()</script>' AS x".to_owned();
    repos.messages.append(&question).await.unwrap();
    repos.messages.append(&reply).await.unwrap();
    let mut dataset = tabletalk_ports::contract::url_dataset(
        conversation,
        "sales",
        "https://data.example/x.csv?q=\"><script>bad()</script>",
        t,
    );
    dataset.row_count = 12;
    dataset.column_count = 3;
    repos.datasets.insert(&dataset).await.unwrap();

    let response = app.get(&format!("/conversations/{id}/export/html")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"conversation-{id}.html\"").as_str()
    );
    let page = response.text().await.unwrap();
    // Every element is one the page itself writes, and none loads anything.
    let ours: [&str; 20] = [
        "!doctype", "html", "head", "meta", "title", "style", "body", "h1", "h2", "ul", "li",
        "strong", "span", "div", "section", "time", "pre", "code", "br", "footer",
    ];
    for tag in page
        .split('<')
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap())
    {
        let name = tag
            .trim_start_matches('/')
            .split([' ', '\n'])
            .next()
            .unwrap()
            .to_lowercase();
        assert!(ours.contains(&name.as_str()), "unexpected element <{tag}>");
        assert!(
            !tag.contains("src=") && !tag.contains("href="),
            "no resource in <{tag}>"
        );
    }
    assert!(!page.contains("@import") && !page.contains("url("));
    assert!(page.contains("&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;"));
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;<br>\nsecond line &amp; more"));
    assert!(page.contains("&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;steal()&lt;/script&gt;"));
    assert!(
        page.contains("SELECT nope FROM cities"),
        "every statement is shown"
    );
    assert!(
        !page.contains("\"columns\""),
        "never the raw execution JSON"
    );
    assert!(page.contains("12 rows, 3 columns"));
    assert!(
        page.contains("https://data.example/x.csv?q=&quot;&gt;&lt;script&gt;bad()&lt;/script&gt;")
    );
    assert!(page.contains(">You<") && page.contains(">Assistant<"));
    assert!(page.contains("Exported from Tabletalk"));
    assert!(page.contains("prefers-color-scheme:dark") && page.contains("@media print"));

    let (_, bob) = app.other_user_token("bob").await;
    for path in [
        format!("/conversations/{id}/export"),
        format!("/conversations/{id}/export/html"),
    ] {
        let foreign = app
            .new_client()
            .get(app.url(&path))
            .header("Cookie", format!("session_token={bob}"))
            .send()
            .await
            .unwrap();
        assert_eq!(json_with_status(foreign, 403).await["code"], "forbidden");
        let unknown = json_with_status(
            app.get(&path.replace(&id, &ConversationId::new().to_string()))
                .await,
            404,
        )
        .await;
        assert_eq!(unknown["code"], "conversation_not_found");
    }
    app.stop().await;
}
