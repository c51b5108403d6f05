//! Conversation endpoints (create, list, detail, rename, pin, delete, delete all) with ownership, ordering, counts,
//! preview and cascades.

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_ports::contract::url_dataset;
use tabletalk_ports::{
    CallKind, Conversation, ConversationId, ExecutionOutcome, ExecutionResult, Identity,
    LlmProvider, Message, MessageRole, SqlExecution, Timestamp, TokenUsage, TraceStep, UsageId,
    UserId,
};
use tabletalk_tests::{TestApp, json_with_status};

fn now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}

async fn local_user_id(app: &TestApp) -> UserId {
    let me = json_with_status(app.get("/auth/me").await, 200).await;
    me["user_id"].as_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn create_returns_201_with_an_empty_untitled_conversation() {
    let app = TestApp::spawn().await;
    app.login().await;
    let body = json_with_status(app.post_empty("/conversations").await, 201).await;
    assert_eq!(body["title"], "");
    assert_eq!(body["is_pinned"], false);
    assert_eq!(body["created_at"], body["updated_at"]);
    let created_at = body["created_at"].as_str().unwrap();
    assert_eq!(created_at.len(), 24);
    assert!(created_at.ends_with('Z'));
    assert_eq!(
        body["id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .unwrap()
            .get_version_num(),
        7
    );

    let detail = json_with_status(
        app.get(&format!("/conversations/{}", body["id"].as_str().unwrap()))
            .await,
        200,
    )
    .await;
    assert_eq!(detail["messages"], json!([]));
    assert_eq!(detail["datasets"], json!([]));
    assert_eq!(detail["share_token"], Value::Null);
}

#[actix_web::test]
async fn the_list_puts_pinned_first_then_the_most_recently_updated() {
    let app = TestApp::spawn().await;
    app.login().await;
    let first = app.create_conversation().await;
    let second = app.create_conversation().await;
    let third = app.create_conversation().await;
    let pin = app
        .send_json(
            Method::PATCH,
            &format!("/conversations/{first}/pin"),
            &json!({"is_pinned": true}),
        )
        .await;
    let pinned = json_with_status(pin, 200).await;
    assert_eq!(pinned["is_pinned"], true);
    // Renaming `second` makes it the most recently updated of the unpinned ones.
    let rename = app
        .send_json(
            Method::PATCH,
            &format!("/conversations/{second}"),
            &json!({"title": "  Sales  "}),
        )
        .await;
    let renamed = json_with_status(rename, 200).await;
    assert_eq!(renamed["title"], "Sales");
    assert!(renamed["updated_at"].as_str().unwrap() >= pinned["updated_at"].as_str().unwrap());

    let list = json_with_status(app.get("/conversations").await, 200).await;
    let ids: Vec<&str> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str(), third.as_str()]);
    let item = &list["conversations"][1];
    assert_eq!(item["title"], "Sales");
    assert_eq!(
        (
            item["message_count"].as_u64(),
            item["dataset_count"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(item["last_message_preview"], Value::Null);
    assert_eq!(item["is_pinned"], false);
}

#[actix_web::test]
async fn titles_are_validated_with_details() {
    let app = TestApp::spawn().await;
    app.login().await;
    let id = app.create_conversation().await;
    let path = format!("/conversations/{id}");
    for bad in [String::new(), "   ".to_owned(), "x".repeat(101)] {
        let body = json_with_status(
            app.send_json(Method::PATCH, &path, &json!({"title": bad}))
                .await,
            422,
        )
        .await;
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["details"][0]["field"], "title");
        assert!(
            body["details"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let hundred = "é".repeat(100);
    let body = json_with_status(
        app.send_json(Method::PATCH, &path, &json!({"title": hundred}))
            .await,
        200,
    )
    .await;
    assert_eq!(body["title"].as_str().unwrap().chars().count(), 100);
    let body = json_with_status(
        app.send_json(
            Method::PATCH,
            &format!("{path}/pin"),
            &json!({"is_pinned": "yes"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["details"][0]["field"], "is_pinned");
    let body = json_with_status(
        app.send_json(Method::PATCH, &format!("{path}/pin"), &json!({}))
            .await,
        422,
    )
    .await;
    assert_eq!(body["details"][0]["field"], "is_pinned");
    let stored = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(
        stored["title"].as_str().unwrap().chars().count(),
        100,
        "failed updates changed nothing"
    );
}

#[actix_web::test]
async fn other_users_conversations_are_forbidden_and_unknown_ones_not_found() {
    let app = TestApp::spawn().await;
    app.login().await;
    let repos = app.repositories();
    let other = Identity {
        issuer: "https://issuer.example".into(),
        subject: "bob".into(),
        email: "bob@example.com".into(),
        name: "Bob".into(),
        avatar_url: None,
    };
    let bob = repos.users.sign_in(&other, now()).await.unwrap();
    let bobs = Conversation::new(bob.id, now());
    repos.conversations.create(&bobs).await.unwrap();
    let path = format!("/conversations/{}", bobs.id);

    for response in [
        app.get(&path).await,
        app.send_json(Method::PATCH, &path, &json!({"title": "mine now"}))
            .await,
        app.send_json(
            Method::PATCH,
            &format!("{path}/pin"),
            &json!({"is_pinned": true}),
        )
        .await,
        app.delete(&path).await,
    ] {
        let body = json_with_status(response, 403).await;
        assert_eq!(
            (body["code"].as_str(), body["error"].as_str()),
            (Some("forbidden"), Some("Not authorized"))
        );
    }
    assert!(
        json_with_status(app.get("/conversations").await, 200).await["conversations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let deleted = json_with_status(app.delete("/conversations").await, 200).await;
    assert_eq!(deleted, json!({"success": true, "deleted_count": 0}));
    assert_eq!(
        repos
            .conversations
            .find(bobs.id)
            .await
            .unwrap()
            .unwrap()
            .title,
        "",
        "Bob's conversation untouched"
    );

    for missing in [
        "/conversations/01936f7e-2c1a-7b3e-9d40-5a8e0c2f4b11",
        "/conversations/not-a-uuid",
        "/conversations/01936F7E2C1A7B3E9D405A8E0C2F4B11",
    ] {
        let body = json_with_status(app.get(missing).await, 404).await;
        assert_eq!(
            (body["code"].as_str(), body["error"].as_str()),
            (
                Some("conversation_not_found"),
                Some("Conversation not found")
            )
        );
    }
}

async fn seed(app: &TestApp, conversation: ConversationId, user: UserId) {
    let repos = app.repositories();
    let mut question = Message::user(conversation, "How many rows?", now());
    question.created_at = now();
    repos.messages.append(&question).await.unwrap();
    let mut answer = Message::user(conversation, "a".repeat(150), now());
    answer.role = MessageRole::Assistant;
    answer.sql_executions = vec![SqlExecution {
        query: "SELECT 1".into(),
        outcome: ExecutionOutcome::Succeeded(ExecutionResult {
            columns: vec!["1".into()],
            rows: vec![vec![json!(1)]],
            total_rows: 1,
            execution_ms: 1.0,
            limit_applied: false,
        }),
    }];
    answer.trace = vec![TraceStep::Text("hi".into())];
    answer.input_tokens = 12;
    answer.output_tokens = 3;
    repos.messages.append(&answer).await.unwrap();
    repos
        .datasets
        .insert(&url_dataset(
            conversation,
            "sales",
            "https://data.example/sales.parquet",
            now(),
        ))
        .await
        .unwrap();
    let usage = TokenUsage {
        id: UsageId::new(),
        user_id: user,
        conversation_id: Some(conversation),
        message_id: Some(answer.id),
        call_kind: CallKind::Chat,
        provider: LlmProvider::Gemini,
        model_name: "gemini-2.5-flash".into(),
        input_tokens: 12,
        output_tokens: 3,
        estimated: false,
        cost: 0.0,
        timestamp: now(),
    };
    repos.token_usage.record(&usage).await.unwrap();
}

#[actix_web::test]
async fn detail_and_list_come_from_the_database() {
    let app = TestApp::spawn().await;
    app.login().await;
    let user = local_user_id(&app).await;
    let id = app.create_conversation().await;
    seed(&app, id.parse().unwrap(), user).await;

    let detail = json_with_status(app.get(&format!("/conversations/{id}")).await, 200).await;
    let messages = detail["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        (messages[0]["role"].as_str(), messages[1]["role"].as_str()),
        (Some("user"), Some("assistant"))
    );
    assert_eq!(messages[1]["token_count"], 15);
    assert_eq!(messages[1]["status"], "complete");
    let sql: Value = serde_json::from_str(
        messages[1]["sql_query"]
            .as_str()
            .expect("sql_query is a JSON-encoded string"),
    )
    .unwrap();
    assert_eq!(
        sql,
        json!([{"query": "SELECT 1", "columns": ["1"], "rows": [[1]], "total_rows": 1, "error": null,
                "execution_time_ms": 1.0, "limit_applied": false}])
    );
    assert_eq!(
        messages[1]["tool_call_trace"],
        json!([{"type": "text", "content": "hi"}])
    );
    let dataset = &detail["datasets"][0];
    assert_eq!(
        (
            dataset["name"].as_str(),
            dataset["source"].as_str(),
            dataset["status"].as_str()
        ),
        (Some("sales"), Some("url"), Some("ready"))
    );
    let decoded = |key: &str| -> Value {
        serde_json::from_str(dataset[key].as_str().expect("a JSON-encoded string")).unwrap()
    };
    assert_eq!(
        decoded("schema_json"),
        json!([{"name": "amount", "type": "DOUBLE", "nullable": true, "sample_values": ["1.5", "9"],
                "column_stats": {"null_count": 0, "min": 1.5, "max": 9.0}}])
    );
    assert_eq!(
        decoded("column_descriptions"),
        json!({"amount": "in euros"})
    );

    let list = json_with_status(app.get("/conversations").await, 200).await;
    let item = &list["conversations"][0];
    assert_eq!(
        (
            item["message_count"].as_u64(),
            item["dataset_count"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(item["last_message_preview"], "a".repeat(100));
}

#[actix_web::test]
async fn deleting_cascades_to_messages_and_datasets_but_keeps_usage() {
    let app = TestApp::spawn().await;
    app.login().await;
    let user = local_user_id(&app).await;
    let doomed = app.create_conversation().await;
    let also_doomed = app.create_conversation().await;
    seed(&app, doomed.parse().unwrap(), user).await;
    seed(&app, also_doomed.parse().unwrap(), user).await;
    let repos = app.repositories();

    assert_eq!(
        json_with_status(app.delete(&format!("/conversations/{doomed}")).await, 200).await,
        json!({"success": true})
    );
    let doomed_id: ConversationId = doomed.parse().unwrap();
    assert!(
        repos
            .messages
            .list_for_conversation(doomed_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        repos
            .datasets
            .list_for_conversation(doomed_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        json_with_status(app.get(&format!("/conversations/{doomed}")).await, 404).await["code"],
        "conversation_not_found"
    );
    assert_eq!(
        json_with_status(app.delete(&format!("/conversations/{doomed}")).await, 404).await["code"],
        "conversation_not_found"
    );

    let deleted = json_with_status(app.delete("/conversations").await, 200).await;
    assert_eq!(deleted, json!({"success": true, "deleted_count": 1}));
    let also_id: ConversationId = also_doomed.parse().unwrap();
    assert!(
        repos
            .messages
            .list_for_conversation(also_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        repos
            .datasets
            .list_for_conversation(also_id)
            .await
            .unwrap()
            .is_empty()
    );

    let usage = json_with_status(app.get("/usage").await, 200).await;
    assert_eq!(
        usage["tokens_used"], 30,
        "token usage outlives the conversations"
    );
}

/// Bulk delete and bulk pin act on the caller's conversations among the ids and skip the rest silently (unknown,
/// malformed, another user's); bulk pin leaves `updated_at` alone; 1..50 ids or 422.
#[actix_web::test]
async fn bulk_delete_and_pin_touch_only_the_callers_conversations() {
    let app = TestApp::spawn().await;
    app.login().await;
    let repos = app.repositories();
    let mine = [
        app.create_conversation().await,
        app.create_conversation().await,
        app.create_conversation().await,
    ];
    let (bob, _) = app.other_user_token("bob").await;
    let bobs = Conversation::new(bob, now());
    repos.conversations.create(&bobs).await.unwrap();
    let unknown = ConversationId::new().to_string();
    let before: Vec<Value> = {
        let list = json_with_status(app.get("/conversations").await, 200).await;
        list["conversations"].as_array().unwrap().clone()
    };

    let pinned = app
        .send_json(
            Method::POST,
            "/conversations/bulk-pin",
            &json!({"ids": [mine[0], mine[1], bobs.id.to_string(), unknown, "not-an-id", mine[0]]}),
        )
        .await;
    assert_eq!(json_with_status(pinned, 200).await, json!({"updated": 2}));
    let list = json_with_status(app.get("/conversations").await, 200).await;
    let items = list["conversations"].as_array().unwrap();
    let by_id = |id: &str| items.iter().find(|c| c["id"] == id).unwrap().clone();
    for id in &mine[..2] {
        assert_eq!(by_id(id)["is_pinned"], true);
        let old = before.iter().find(|c| c["id"] == id.as_str()).unwrap();
        assert_eq!(
            by_id(id)["updated_at"],
            old["updated_at"],
            "bulk pin keeps updated_at"
        );
    }
    assert_eq!(by_id(&mine[2])["is_pinned"], false);
    assert!(
        !repos
            .conversations
            .find(bobs.id)
            .await
            .unwrap()
            .unwrap()
            .is_pinned
    );
    let unpinned = app
        .send_json(
            Method::POST,
            "/conversations/bulk-pin",
            &json!({"ids": [mine[0]], "is_pinned": false}),
        )
        .await;
    assert_eq!(json_with_status(unpinned, 200).await, json!({"updated": 1}));

    let deleted = app
        .send_json(
            Method::POST,
            "/conversations/bulk-delete",
            &json!({"ids": [mine[0], mine[2], bobs.id.to_string(), unknown]}),
        )
        .await;
    assert_eq!(json_with_status(deleted, 200).await, json!({"deleted": 2}));
    let list = json_with_status(app.get("/conversations").await, 200).await;
    let left: Vec<&str> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(left, [mine[1].as_str()]);
    assert!(
        repos.conversations.find(bobs.id).await.unwrap().is_some(),
        "Bob's conversation stays"
    );

    let too_many: Vec<String> = (0..51).map(|_| ConversationId::new().to_string()).collect();
    for (path, body) in [
        ("/conversations/bulk-delete", json!({"ids": []})),
        ("/conversations/bulk-delete", json!({"ids": too_many})),
        ("/conversations/bulk-pin", json!({"ids": []})),
    ] {
        let refused = json_with_status(app.send_json(Method::POST, path, &body).await, 422).await;
        assert_eq!(
            refused["details"][0]["message"], "Provide 1-50 conversation IDs",
            "{path}"
        );
    }
    let unauthenticated = app
        .new_client()
        .post(app.url("/conversations/bulk-delete"))
        .json(&json!({"ids": [mine[1]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}
