//! Assistants end to end: the life cycle, the owner rules between two users, conversations started from one (their
//! datasets loading in the background, their setup on the wire of a real OpenAI-compatible adapter), deleting an
//! assistant under its conversations, and every refused input leaving nothing behind.

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_ports::fakes::ScriptedLlm;
use tabletalk_tests::file_server::{FileServer, ServedFile};
use tabletalk_tests::scripted_server::{Chunk, Reply, ScriptedServer};
use tabletalk_tests::ws_client::connect;
use tabletalk_tests::{TestApp, json_with_status};

use crate::chat::{WAIT, send};
use crate::datasets::parquet_bytes;
use crate::llm_openai::{chunk, client, stream_body};
use crate::tool_access::deny_for;
use crate::transfer::outcomes;

async fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, path, body).await
}

/// `method path` with `body` as the user holding session `token`.
async fn as_user(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app
        .new_client()
        .request(method, app.url(path))
        .header("Cookie", format!("session_token={token}"))
        .header("Origin", app.base.clone());
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

#[actix_web::test]
async fn the_life_cycle_with_the_owner_rules_between_two_users() {
    let app = TestApp::builder()
        .llm(std::sync::Arc::new(ScriptedLlm::default()))
        .env("TABLETALK__LLM__MODEL", "m-a")
        .env("TABLETALK__LLM__MODELS", "m-a, m-b")
        .spawn()
        .await;
    app.login().await;
    let created = json_with_status(
        post(
            &app,
            "/assistants",
            &json!({"name": "  Sales analyst ", "description": "Knows sales",
                    "instructions": "The fiscal year starts in April.", "model": "m-b",
                    "temperature": 0.3, "tools": ["execute_sql", "create_chart", "execute_sql"],
                    "datasets": [{"url": "https://data.example:443/sales.parquet#top", "name": "sales",
                                  "column_descriptions": {"amount": "in euros"}}]}),
        )
        .await,
        201,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "Sales analyst");
    assert_eq!(created["model"], "m-b");
    assert_eq!(created["temperature"], 0.3);
    assert_eq!(created["tools"], json!(["execute_sql", "create_chart"]));
    assert_eq!(
        created["datasets"],
        json!([{"url": "https://data.example/sales.parquet", "name": "sales",
                "column_descriptions": {"amount": "in euros"}}])
    );
    assert_eq!(
        (created["is_owner"].clone(), created["is_shared"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(created["created_at"], created["updated_at"]);

    let listed = json_with_status(app.get("/assistants").await, 200).await;
    assert_eq!(listed["assistants"], json!([created]));
    assert_eq!(
        json_with_status(app.get(&format!("/assistants/{id}")).await, 200).await,
        created
    );

    // A partial change: the given fields only; `null` clears the model.
    let changed = json_with_status(
        app.send_json(
            Method::PATCH,
            &format!("/assistants/{id}"),
            &json!({"description": "Knows sales and returns", "model": null}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["description"], "Knows sales and returns");
    assert_eq!(changed["model"], Value::Null);
    for kept in [
        "name",
        "instructions",
        "temperature",
        "tools",
        "datasets",
        "created_at",
    ] {
        assert_eq!(changed[kept], created[kept], "{kept}");
    }

    // Bob: Alice's unshared assistant does not exist for him.
    let (_, bob) = app.other_user_token("bob").await;
    let not_found = |response: Value| {
        assert_eq!(response["code"], "assistant_not_found");
        assert_eq!(response["error"], "Assistant not found");
    };
    for (method, path, body) in [
        (Method::GET, format!("/assistants/{id}"), None),
        (
            Method::PATCH,
            format!("/assistants/{id}"),
            Some(json!({"name": "Mine"})),
        ),
        (Method::DELETE, format!("/assistants/{id}"), None),
        (
            Method::PUT,
            format!("/assistants/{id}/share"),
            Some(json!({"is_shared": true})),
        ),
        (
            Method::POST,
            "/conversations".to_owned(),
            Some(json!({"assistant_id": id})),
        ),
    ] {
        not_found(
            json_with_status(as_user(&app, &bob, method, &path, body.as_ref()).await, 404).await,
        );
    }
    let bobs = json_with_status(
        as_user(&app, &bob, Method::GET, "/assistants", None).await,
        200,
    )
    .await;
    assert_eq!(bobs["assistants"], json!([]));

    // Shared: Bob sees and uses it, never changes it.
    let shared = json_with_status(
        app.send_json(
            Method::PUT,
            &format!("/assistants/{id}/share"),
            &json!({"is_shared": true}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(shared["is_shared"], true);
    let seen = json_with_status(
        as_user(&app, &bob, Method::GET, &format!("/assistants/{id}"), None).await,
        200,
    )
    .await;
    assert_eq!(
        (seen["is_owner"].clone(), seen["name"].clone()),
        (json!(false), json!("Sales analyst"))
    );
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("/assistants/{id}"),
            Some(json!({"name": "Mine"})),
        ),
        (Method::DELETE, format!("/assistants/{id}"), None),
        (
            Method::PUT,
            format!("/assistants/{id}/share"),
            Some(json!({"is_shared": false})),
        ),
    ] {
        let refused = json_with_status(
            as_user(&app, &bob, method.clone(), &path, body.as_ref()).await,
            403,
        )
        .await;
        assert_eq!(refused["code"], "not_assistant_owner", "{method} {path}");
    }
    let bobs_conversation = json_with_status(
        as_user(
            &app,
            &bob,
            Method::POST,
            "/conversations",
            Some(&json!({"assistant_id": id})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(bobs_conversation["assistant_id"], json!(id));
    let bobs_id = bobs_conversation["id"].as_str().unwrap().to_owned();
    let own = json_with_status(app.get(&format!("/assistants/{id}")).await, 200).await;
    assert_eq!(
        own["name"], "Sales analyst",
        "Bob's attempts changed nothing"
    );

    // Unshared again: gone for Bob, his conversation stays his.
    json_with_status(
        app.send_json(
            Method::PUT,
            &format!("/assistants/{id}/share"),
            &json!({"is_shared": false}),
        )
        .await,
        200,
    )
    .await;
    json_with_status(
        as_user(&app, &bob, Method::GET, &format!("/assistants/{id}"), None).await,
        404,
    )
    .await;
    let his = json_with_status(
        as_user(
            &app,
            &bob,
            Method::GET,
            &format!("/conversations/{bobs_id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(his["assistant_id"], json!(id));

    // Alice starts one too, then deletes the assistant: the conversations keep working with their copy.
    let mine = json_with_status(
        post(&app, "/conversations", &json!({"assistant_id": id})).await,
        201,
    )
    .await;
    let mine_id = mine["id"].as_str().unwrap().to_owned();
    let list = json_with_status(app.get("/conversations").await, 200).await;
    assert_eq!(list["conversations"][0]["assistant_id"], json!(id));
    json_with_status(app.delete(&format!("/assistants/{id}")).await, 200).await;
    not_found(json_with_status(app.get(&format!("/assistants/{id}")).await, 404).await);
    not_found(json_with_status(app.delete(&format!("/assistants/{id}")).await, 404).await);
    let detail = json_with_status(app.get(&format!("/conversations/{mine_id}")).await, 200).await;
    assert_eq!(detail["assistant_id"], json!(id));
    assert_eq!(detail["datasets"].as_array().unwrap().len(), 1);
    let preview = json_with_status(
        post(
            &app,
            &format!("/conversations/{mine_id}/prompt-preview"),
            &json!({"content": "hi"}),
        )
        .await,
        200,
    )
    .await;
    assert!(
        preview["system_prompt"]
            .as_str()
            .unwrap()
            .contains("The fiscal year starts in April."),
        "the copied instructions still apply"
    );
    assert_eq!(preview["tools"], json!(["execute_sql", "create_chart"]));
    not_found(
        json_with_status(
            post(&app, "/conversations", &json!({"assistant_id": id})).await,
            404,
        )
        .await,
    );
    not_found(
        json_with_status(
            post(&app, "/conversations", &json!({"assistant_id": "nope"})).await,
            404,
        )
        .await,
    );

    // Without a body, with `{}` and with an empty JSON body a conversation still starts empty.
    let plain = json_with_status(app.post_empty("/conversations").await, 201).await;
    assert_eq!(plain["assistant_id"], Value::Null);
    json_with_status(post(&app, "/conversations", &json!({})).await, 201).await;
    let empty_json = app
        .raw(
            Method::POST,
            "/conversations",
            &[("Content-Type", "application/json")],
            Vec::new(),
        )
        .await;
    json_with_status(empty_json, 201).await;
    let anonymous = app
        .new_client()
        .get(app.url("/assistants"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    app.stop().await;
}

#[actix_web::test]
async fn every_bad_input_is_refused_with_its_field_and_nothing_is_stored() {
    let app = TestApp::builder()
        .llm(std::sync::Arc::new(ScriptedLlm::default()))
        .env("TABLETALK__LLM__MODEL", "m-a")
        .env("TABLETALK__LLM__MODELS", "m-a, m-b")
        .spawn()
        .await;
    app.login().await;
    deny_for(&app, &[], &["load_dataset"]).await;
    let url = |i: usize| json!({"url": format!("https://data.example/{i}.csv")});
    let cases = [
        (json!({}), "name", "is required"),
        (
            json!({"name": "   "}),
            "name",
            "must be 1 to 100 characters",
        ),
        (
            json!({"name": "x".repeat(101)}),
            "name",
            "must be 1 to 100 characters",
        ),
        (
            json!({"name": "A", "description": "d".repeat(501)}),
            "description",
            "must be at most 500 characters",
        ),
        (
            json!({"name": "A", "instructions": "i".repeat(10_001)}),
            "instructions",
            "must be at most 10000 characters",
        ),
        (
            json!({"name": "A", "model": "gpt-9"}),
            "model",
            "Unknown model 'gpt-9'. Available: m-a, m-b",
        ),
        (
            json!({"name": "A", "temperature": 2.5}),
            "temperature",
            "must be a number from 0 to 2",
        ),
        (
            json!({"name": "A", "temperature": "hot"}),
            "temperature",
            "",
        ),
        (
            json!({"name": "A", "tools": ["execute_sql", "load_dataset"]}),
            "tools",
            "The tool 'load_dataset' is not available to you. Available: execute_sql, create_chart, suggest_followups",
        ),
        (
            json!({"name": "A", "tools": ["rm_rf"]}),
            "tools",
            "The tool 'rm_rf' is not available to you. Available: execute_sql, create_chart, suggest_followups",
        ),
        (
            json!({"name": "A", "datasets": [{"url": "ftp://data.example/x.csv"}]}),
            "datasets[0].url",
            "Unsupported URL scheme 'ftp'. Only HTTP and HTTPS URLs are supported.",
        ),
        (
            json!({"name": "A", "datasets": [url(0), {"url": "https://user:pw@data.example/x.csv"}]}),
            "datasets[1].url",
            "URLs with embedded credentials are not supported.",
        ),
        (
            json!({"name": "A", "datasets": [url(0), url(0)]}),
            "datasets[1].url",
            "This URL is already among the assistant's datasets",
        ),
        (
            json!({"name": "A", "datasets": [{"url": "https://data.example/x.csv", "name": "bad name!"}]}),
            "datasets[0].name",
            "",
        ),
        (
            json!({"name": "A", "datasets": (0..21).map(url).collect::<Vec<_>>()}),
            "datasets",
            "at most 20 datasets per assistant",
        ),
        (
            json!({"name": "A", "datasets": [url(0), {"url": "http://127.0.0.1:9/x.csv"}]}),
            "datasets[1].url",
            "",
        ),
        (
            json!({"name": "A", "datasets": [{"url": "http://169.254.169.254/latest"}]}),
            "datasets[0].url",
            "",
        ),
    ];
    for (body, field, message) in &cases {
        let refused = json_with_status(post(&app, "/assistants", body).await, 422).await;
        assert_eq!(refused["code"], "validation_failed", "{body}");
        assert_eq!(refused["details"][0]["field"], *field, "{body}");
        if !message.is_empty() {
            assert_eq!(refused["details"][0]["message"], *message, "{body}");
        }
    }
    let blocked = json_with_status(
        post(
            &app,
            "/assistants",
            &json!({"name": "A", "datasets": [{"url": "http://10.0.0.1/x.csv"}]}),
        )
        .await,
        422,
    )
    .await;
    let reason = blocked["details"][0]["message"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(
        reason.contains("private") || reason.contains("not allowed") || reason.contains("blocked"),
        "{reason}"
    );
    assert_eq!(
        json_with_status(app.get("/assistants").await, 200).await["assistants"],
        json!([]),
        "nothing was stored"
    );

    // A refused change leaves the stored assistant as it was.
    let stored = json_with_status(
        post(
            &app,
            "/assistants",
            &json!({"name": "Kept", "temperature": 1}),
        )
        .await,
        201,
    )
    .await;
    let id = stored["id"].as_str().unwrap();
    for body in [
        json!({"name": "Renamed", "model": "gpt-9"}),
        json!({"name": "Renamed", "datasets": [{"url": "http://127.0.0.1:9/x.csv"}]}),
        json!({"temperature": -1}),
    ] {
        json_with_status(
            app.send_json(Method::PATCH, &format!("/assistants/{id}"), &body)
                .await,
            422,
        )
        .await;
    }
    assert_eq!(
        json_with_status(app.get(&format!("/assistants/{id}")).await, 200).await,
        stored
    );
    let share = json_with_status(
        app.send_json(
            Method::PUT,
            &format!("/assistants/{id}/share"),
            &json!({"is_shared": "yes"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(share["details"][0]["field"], "is_shared");
    app.stop().await;
}

/// One streamed Chat Completions answer saying `text`.
fn answer(text: &str) -> Reply {
    let body = stream_body(
        &[
            chunk(&json!({"role": "assistant", "content": text}), None),
            chunk(&json!({}), Some("stop")),
        ],
        None,
    );
    Reply::sse(vec![Chunk::Bytes(body)])
}

/// A conversation from an assistant: its datasets load in the background with their wished names and
/// descriptions; the model request on the wire carries the instructions, the assistant's model and temperature
/// and exactly the tools both the assistant and the user have; a plain conversation of the same user does not.
#[actix_web::test]
async fn a_conversation_from_an_assistant_sends_its_setup_to_the_model() {
    let server = ScriptedServer::start();
    server.reply(answer("Revenue is up."));
    server.reply(answer("Hello."));
    let files = FileServer::start().await;
    let sales = files.put("/sales.parquet", ServedFile::new(parquet_bytes(40, 40)));
    let missing = format!("{}/missing.csv", files.base);
    let app = TestApp::builder()
        .llm(std::sync::Arc::new(client(&server, Some("sk-test"))))
        .env("TABLETALK__LLM__MODEL", "m-a")
        .env("TABLETALK__LLM__MODELS", "m-a, m-b")
        .env("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32")
        .spawn()
        .await;
    app.login().await;
    let mut socket = connect(&app.base, &app.session_token().await)
        .await
        .unwrap();
    let assistant = json_with_status(
        post(
            &app,
            "/assistants",
            &json!({"name": "Sales analyst", "instructions": "The fiscal year starts in April.",
                    "model": "m-b", "temperature": 0.7,
                    "tools": ["execute_sql", "load_dataset", "create_chart"],
                    "datasets": [{"url": sales, "name": "sales",
                                  "column_descriptions": {"amount": "Net amount in euros", "gone": "x"}},
                                 {"url": missing}]}),
        )
        .await,
        201,
    )
    .await;
    // Denied after the assistant was made: the turn offers only what the user still has.
    deny_for(&app, &[], &["load_dataset"]).await;
    let started = json_with_status(
        post(
            &app,
            "/conversations",
            &json!({"assistant_id": assistant["id"]}),
        )
        .await,
        201,
    )
    .await;
    let id = started["id"].as_str().unwrap().to_owned();
    let outcomes = outcomes(&mut socket, &id, 2).await;
    let kinds: Vec<&str> = outcomes
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["dataset_loaded", "dataset_error"]);
    let detail = json_with_status(app.get(&format!("/conversations/{id}")).await, 200).await;
    let datasets = detail["datasets"].as_array().unwrap();
    assert_eq!(datasets[0]["name"], "sales");
    assert_eq!(datasets[0]["status"], "ready");
    assert_eq!(datasets[1]["status"], "error");
    let descriptions = json_with_status(
        app.get(&format!(
            "/conversations/{id}/datasets/{}/column-descriptions",
            datasets[0]["id"].as_str().unwrap()
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(
        descriptions["descriptions"],
        json!({"amount": "Net amount in euros"}),
        "descriptions of columns the file lacks are dropped"
    );

    json_with_status(send(&app, &id, "How is revenue?").await, 200).await;
    socket.until("chat_complete", WAIT).await;
    let plain = app.create_conversation().await;
    json_with_status(send(&app, &plain, "hi").await, 200).await;
    socket.until("chat_complete", WAIT).await;

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let tools = |body: &Value| -> Vec<String> {
        body["tools"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let from_assistant = &requests[0].body;
    assert_eq!(from_assistant["model"], "m-b");
    assert_eq!(from_assistant["temperature"], 0.7);
    assert_eq!(tools(from_assistant), ["execute_sql", "create_chart"]);
    let system = from_assistant["messages"][0]["content"].as_str().unwrap();
    assert_eq!(from_assistant["messages"][0]["role"], "system");
    assert!(
        system.contains("## Instructions for this conversation\nThe fiscal year starts in April."),
        "{system}"
    );
    assert!(
        system.contains("sales"),
        "the assistant's table is in the prompt"
    );
    assert!(
        system.contains("Net amount in euros"),
        "with its column description"
    );

    let ordinary = &requests[1].body;
    assert_eq!(ordinary["model"], "m-a");
    assert!(ordinary.get("temperature").is_none(), "{ordinary}");
    assert_eq!(
        tools(ordinary),
        ["execute_sql", "create_chart", "suggest_followups"]
    );
    assert!(
        !ordinary["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("fiscal year")
    );
    app.stop().await;
    files.stop().await;
}
