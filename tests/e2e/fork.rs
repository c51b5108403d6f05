//! Fork: copies of the messages up to the chosen one and of every dataset; an upload is shared by both
//! conversations and outlives the deletion of either.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_ports::{ConversationId, Message, MessageId, MessageRole, Timestamp};
use tabletalk_tests::file_server::{FileServer, ServedFile};
use tabletalk_tests::{TestApp, json_with_status};

use crate::datasets::parquet_bytes;

async fn detail(app: &TestApp, id: &str) -> Value {
    json_with_status(app.get(&format!("/conversations/{id}")).await, 200).await
}

async fn count_rows(app: &TestApp, conversation: &str, table: &str) -> reqwest::Response {
    app.send_json(
        Method::POST,
        &format!("/conversations/{conversation}/query"),
        &json!({"sql": format!("SELECT COUNT(*) AS n FROM {table}")}),
    )
    .await
}

#[actix_web::test]
async fn a_fork_copies_messages_up_to_one_and_shares_uploads_with_its_origin() {
    let app = TestApp::builder()
        .env("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32")
        .spawn()
        .await;
    app.login().await;
    let files = FileServer::start().await;
    let url = files.put("/sales.parquet", ServedFile::new(parquet_bytes(40, 40)));
    let id = app.create_conversation().await;
    let conversation: ConversationId = id.parse().unwrap();
    json_with_status(
        app.send_json(
            Method::PATCH,
            &format!("/conversations/{id}"),
            &json!({"title": "Sales"}),
        )
        .await,
        200,
    )
    .await;
    json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{id}/datasets"),
            &json!({"url": url}),
        )
        .await,
        201,
    )
    .await;
    let form = reqwest::multipart::Form::new().text("name", "local").part(
        "file",
        reqwest::multipart::Part::bytes(b"a,b\n1,2\n3,4\n".to_vec()).file_name("local.csv"),
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
    let mut stored = Vec::new();
    for (i, text) in ["first?", "first!", "second?", "second!"]
        .iter()
        .enumerate()
    {
        let mut m = Message::user(conversation, *text, t + Duration::from_secs(i as u64));
        if i % 2 == 1 {
            m.role = MessageRole::Assistant;
            m.input_tokens = 10;
            m.output_tokens = 3;
        }
        repos.messages.append(&m).await.unwrap();
        stored.push(m);
    }

    let forked = json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{id}/fork"),
            &json!({"message_id": stored[1].id.to_string()}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(forked["title"], "Fork of Sales");
    let fork_id = forked["id"].as_str().unwrap().to_owned();
    let original = detail(&app, &id).await;
    let fork = detail(&app, &fork_id).await;
    let messages = fork["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    for (copy, source) in messages
        .iter()
        .zip(original["messages"].as_array().unwrap())
    {
        assert_ne!(copy["id"], source["id"], "copies get new ids");
        for field in [
            "role",
            "content",
            "status",
            "created_at",
            "token_count",
            "sql_query",
        ] {
            assert_eq!(copy[field], source[field], "{field}");
        }
    }
    let datasets = |d: &Value| -> Vec<Value> {
        d["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                json!([
                    d["name"],
                    d["url"],
                    d["source"],
                    d["status"],
                    d["schema_json"],
                    d["row_count"]
                ])
            })
            .collect()
    };
    assert_eq!(datasets(&fork), datasets(&original));
    assert_eq!(datasets(&fork).len(), 2);
    let usage = json_with_status(
        app.get(&format!("/conversations/{fork_id}/token-usage"))
            .await,
        200,
    )
    .await;
    assert_eq!(
        usage["request_count"], 0,
        "token usage stays with the original"
    );

    // The automatic name counter came along: the next dataset does not reuse `table1`.
    let other = files.put("/other.parquet", ServedFile::new(parquet_bytes(5, 5)));
    let added = json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{fork_id}/datasets"),
            &json!({"url": other}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(added["dataset"]["name"], "table2");

    // One upload file serves both; deleting the original keeps it for the fork, and the fork's deletion ends it.
    let upload_dir = app.config.storage.upload_dir.clone();
    assert_eq!(std::fs::read_dir(&upload_dir).unwrap().count(), 1);
    json_with_status(app.delete(&format!("/conversations/{id}")).await, 200).await;
    assert_eq!(std::fs::read_dir(&upload_dir).unwrap().count(), 1);
    let rows = json_with_status(count_rows(&app, &fork_id, "local").await, 200).await;
    assert_eq!(rows["rows"][0][0], 2);
    json_with_status(app.delete(&format!("/conversations/{fork_id}")).await, 200).await;
    assert_eq!(std::fs::read_dir(&upload_dir).unwrap().count(), 0);
    files.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn forks_need_a_message_of_that_conversation_and_its_owner() {
    let app = TestApp::spawn().await;
    app.login().await;
    let id = app.create_conversation().await;
    let elsewhere = app.create_conversation().await;
    let t = Timestamp::from_unix_millis(1_767_225_600_000).unwrap();
    let repos = app.repositories();
    let mine = Message::user(id.parse().unwrap(), "hello", t);
    let theirs = Message::user(elsewhere.parse().unwrap(), "elsewhere", t);
    repos.messages.append(&mine).await.unwrap();
    repos.messages.append(&theirs).await.unwrap();
    let path = format!("/conversations/{id}/fork");
    let fork = |message: String| {
        let body = json!({"message_id": message});
        let path = path.clone();
        let app = &app;
        async move { app.send_json(Method::POST, &path, &body).await }
    };
    for missing in [
        theirs.id.to_string(),
        MessageId::new().to_string(),
        "nope".to_owned(),
    ] {
        let body = json_with_status(fork(missing.clone()).await, 404).await;
        assert_eq!(body["code"], "message_not_found", "{missing}");
    }
    let no_field = json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{id}/fork"),
            &json!({}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(no_field["details"][0]["field"], "message_id");

    let (_, bob) = app.other_user_token("bob").await;
    let foreign = app
        .new_client()
        .post(app.url(&format!("/conversations/{id}/fork")))
        .header("Cookie", format!("session_token={bob}"))
        .json(&json!({"message_id": mine.id.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(foreign, 403).await["code"], "forbidden");
    let list = json_with_status(app.get("/conversations").await, 200).await;
    assert_eq!(
        list["conversations"].as_array().unwrap().len(),
        2,
        "no fork was made"
    );

    let untitled = json_with_status(fork(mine.id.to_string()).await, 201).await;
    assert_eq!(untitled["title"], "Forked conversation");
    app.stop().await;
}

/// A dataset still loading when its conversation is forked loads in both: each conversation gets its own
/// `dataset_loaded` and ends `ready`.
#[actix_web::test]
async fn a_fork_of_a_dataset_still_loading_loads_its_own_copy() {
    let app = TestApp::builder()
        .env("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32")
        .spawn()
        .await;
    app.login().await;
    let token = app.session_token().await;
    let mut socket = tabletalk_tests::ws_client::connect(&app.base, &token)
        .await
        .unwrap();
    let files = FileServer::start().await;
    let url = files.put(
        "/slow.parquet",
        ServedFile::new(parquet_bytes(30, 30)).trickle(Duration::from_millis(500)),
    );
    let imported = json_with_status(
        app.send_json(
            Method::POST,
            "/conversations/import",
            &json!({"title": "Slow", "messages": [{"role": "user", "content": "hi"}],
                    "datasets": [{"url": url, "name": "slow"}]}),
        )
        .await,
        201,
    )
    .await;
    let id = imported["id"].as_str().unwrap().to_owned();
    let message = detail(&app, &id).await["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let forked = json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{id}/fork"),
            &json!({"message_id": message}),
        )
        .await,
        201,
    )
    .await;
    let fork_id = forked["id"].as_str().unwrap().to_owned();
    assert_eq!(
        detail(&app, &fork_id).await["datasets"][0]["status"],
        "loading"
    );

    let mut loaded = std::collections::BTreeSet::new();
    while loaded.len() < 2 {
        let event = socket
            .next_event(Duration::from_secs(15))
            .await
            .expect("both loads finish");
        if event["type"] == "dataset_loaded" {
            loaded.insert(event["conversation_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(loaded, [id.clone(), fork_id.clone()].into_iter().collect());
    for conversation in [&id, &fork_id] {
        let dataset = &detail(&app, conversation).await["datasets"][0];
        assert_eq!(
            (dataset["status"].as_str(), dataset["row_count"].as_i64()),
            (Some("ready"), Some(30))
        );
    }
    files.stop().await;
    app.stop().await;
}
