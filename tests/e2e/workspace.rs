//! The SQL workspace around the runner: query history stars and clearing.

use reqwest::Method;
use serde_json::json;
use tabletalk_ports::{HistoryId, QueryHistoryEntry, QuerySource, Timestamp, UserId};
use tabletalk_tests::{TestApp, json_with_status};

fn entry(user: UserId, second: i64, starred: bool) -> QueryHistoryEntry {
    QueryHistoryEntry {
        id: HistoryId::new(),
        user_id: user,
        conversation_id: None,
        source: QuerySource::SqlPanel,
        query: format!("SELECT {second}"),
        error_message: None,
        row_count: Some(1),
        execution_time_ms: Some(1.0),
        is_starred: starred,
        created_at: Timestamp::from_unix_millis(1_767_225_600_000 + second * 1000).unwrap(),
    }
}

#[actix_web::test]
async fn history_entries_are_starred_in_place_and_cleared_per_user() {
    let app = TestApp::spawn().await;
    app.login().await;
    let me = app.user_id().await;
    let (bob, bob_token) = app.other_user_token("bob").await;
    let repos = app.repositories();
    let plain = entry(me, 1, false);
    let starred = entry(me, 2, true);
    let theirs = entry(bob, 3, false);
    for e in [&plain, &starred, &theirs] {
        repos.query_history.record(e, 100).await.unwrap();
    }
    let star = |id: String| {
        let app = &app;
        async move {
            app.send_json(
                Method::PATCH,
                &format!("/query-history/{id}/star"),
                &json!(null),
            )
            .await
        }
    };
    let on = json_with_status(star(plain.id.to_string()).await, 200).await;
    assert_eq!(on, json!({"id": plain.id.to_string(), "is_starred": true}));
    let listed = json_with_status(app.get("/query-history?starred=true").await, 200).await;
    assert_eq!(listed["total"], 2);
    assert_eq!(listed["history"][0]["is_starred"], true, "a JSON boolean");
    let off = json_with_status(star(plain.id.to_string()).await, 200).await;
    assert_eq!(off["is_starred"], false);
    for missing in [
        theirs.id.to_string(),
        HistoryId::new().to_string(),
        "nope".to_owned(),
    ] {
        let body = json_with_status(star(missing.clone()).await, 404).await;
        assert_eq!(
            (body["code"].as_str(), body["error"].as_str()),
            (Some("history_entry_not_found"), Some("Query not found")),
            "{missing}"
        );
    }

    let cleared = json_with_status(app.delete("/query-history").await, 200).await;
    assert_eq!(cleared, json!({"success": true, "deleted": 2}));
    assert_eq!(
        json_with_status(app.get("/query-history").await, 200).await["total"],
        0
    );
    let bobs = app
        .new_client()
        .get(app.url("/query-history"))
        .header("Cookie", format!("session_token={bob_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(bobs, 200).await["total"],
        1,
        "bob's history stays"
    );
    let anonymous = app
        .new_client()
        .delete(app.url("/query-history"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    app.stop().await;
}

/// Settings start at their defaults, change field by field, refuse models `llm.models` does not list, and the
/// chosen model is the one the next chat turn calls (and records).
#[actix_web::test]
async fn the_selected_model_is_what_the_next_turn_calls() {
    use std::sync::Arc;
    use tabletalk_ports::fakes::{ScriptedCall, ScriptedLlm};
    use tabletalk_ports::{FinishReason, LlmEvent};

    let llm = Arc::new(ScriptedLlm::default());
    for _ in 0..2 {
        llm.then(ScriptedCall::Stream(vec![
            Ok(LlmEvent::TextDelta("hello".to_owned())),
            Ok(LlmEvent::Finished {
                reason: FinishReason::Stop,
                provider_state: None,
            }),
        ]));
    }
    let app = TestApp::builder()
        .llm(llm.clone())
        .env("TABLETALK__LLM__MODEL", "gemini-2.5-flash")
        .env("TABLETALK__LLM__MODELS", "gemini-2.5-flash, gemini-2.5-pro")
        .spawn()
        .await;
    app.login().await;
    let token = app.session_token().await;
    let mut socket = tabletalk_tests::ws_client::connect(&app.base, &token)
        .await
        .unwrap();
    let defaults = json_with_status(app.get("/settings").await, 200).await;
    assert_eq!(
        defaults,
        json!({"dev_mode": true, "selected_model": "gemini-2.5-flash",
               "available_models": ["gemini-2.5-flash", "gemini-2.5-pro"]})
    );
    let unknown = json_with_status(
        app.send_json(
            Method::PUT,
            "/settings",
            &json!({"selected_model": "gpt-9", "dev_mode": false}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(unknown["details"][0]["field"], "selected_model");
    assert_eq!(
        unknown["details"][0]["message"],
        "Unknown model 'gpt-9'. Available: gemini-2.5-flash, gemini-2.5-pro"
    );
    assert_eq!(
        json_with_status(app.get("/settings").await, 200).await,
        defaults,
        "nothing changed"
    );
    let typed = json_with_status(
        app.send_json(Method::PUT, "/settings", &json!({"dev_mode": "no"}))
            .await,
        422,
    )
    .await;
    assert_eq!(typed["details"][0]["field"], "dev_mode");

    let conversation = app.create_conversation().await;
    let send = || {
        let app = &app;
        let conversation = conversation.clone();
        async move {
            app.send_json(
                Method::POST,
                &format!("/conversations/{conversation}/messages"),
                &json!({"content": "hi"}),
            )
            .await
        }
    };
    json_with_status(send().await, 200).await;
    socket
        .until("chat_complete", std::time::Duration::from_secs(10))
        .await;
    let picked = json_with_status(
        app.send_json(
            Method::PUT,
            "/settings",
            &json!({"selected_model": "gemini-2.5-pro"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(picked["selected_model"], "gemini-2.5-pro");
    assert_eq!(
        picked["dev_mode"], true,
        "untouched fields keep their value"
    );
    let quiet = json_with_status(
        app.send_json(Method::PUT, "/settings", &json!({"dev_mode": false}))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (
            quiet["dev_mode"].as_bool(),
            quiet["selected_model"].as_str()
        ),
        (Some(false), Some("gemini-2.5-pro"))
    );
    json_with_status(send().await, 200).await;
    socket
        .until("chat_complete", std::time::Duration::from_secs(10))
        .await;

    let models: Vec<String> = llm.requests().iter().map(|r| r.model.clone()).collect();
    assert_eq!(models, ["gemini-2.5-flash", "gemini-2.5-pro"]);
    let detail = json_with_status(
        app.get(&format!("/conversations/{conversation}")).await,
        200,
    )
    .await;
    assert_eq!(detail["messages"].as_array().unwrap().len(), 4);
    let (_, bob) = app.other_user_token("bob").await;
    let bobs = app
        .new_client()
        .get(app.url("/settings"))
        .header("Cookie", format!("session_token={bob}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(bobs, 200).await,
        defaults,
        "settings are per user"
    );
    assert_eq!(
        app.new_client()
            .get(app.url("/settings"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    app.stop().await;
}

/// The prompt preview shows what the next turn would send — the system prompt naming the tables, the stored
/// context with its query notes, the tools and the new message — with ceil(characters / 4) estimates; it needs no
/// model and stores nothing.
#[actix_web::test]
async fn the_prompt_preview_is_what_the_next_turn_would_send() {
    use tabletalk_ports::{
        ConversationId, ExecutionOutcome, ExecutionResult, Message, MessageRole, SqlExecution,
    };
    let app = TestApp::spawn().await;
    app.login().await;
    let id = app.create_conversation().await;
    let conversation: ConversationId = id.parse().unwrap();
    let repos = app.repositories();
    let t = Timestamp::from_unix_millis(1_767_225_600_000).unwrap();
    repos
        .datasets
        .insert(&tabletalk_ports::contract::url_dataset(
            conversation,
            "sales",
            "https://data.example/sales.parquet",
            t,
        ))
        .await
        .unwrap();
    repos
        .messages
        .append(&Message::user(conversation, "How much in total?", t))
        .await
        .unwrap();
    let mut answer = Message::user(
        conversation,
        "About 42 euros.",
        t + std::time::Duration::from_secs(1),
    );
    answer.role = MessageRole::Assistant;
    answer.sql_executions = vec![SqlExecution {
        query: "SELECT sum(amount) FROM sales".to_owned(),
        outcome: ExecutionOutcome::Succeeded(ExecutionResult {
            columns: vec!["sum".to_owned()],
            rows: vec![vec![json!(42)]],
            total_rows: 1,
            execution_ms: 1.0,
            limit_applied: false,
        }),
    }];
    repos.messages.append(&answer).await.unwrap();

    let content = "And per month? 😀";
    let preview = json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{id}/prompt-preview"),
            &json!({"content": content}),
        )
        .await,
        200,
    )
    .await;
    let system = preview["system_prompt"].as_str().unwrap();
    assert!(
        system.contains("sales") && system.contains("in euros"),
        "{system}"
    );
    assert_eq!(
        preview["messages"][0],
        json!({"role": "user", "content": "How much in total?"})
    );
    let context = preview["messages"][1]["content"].as_str().unwrap();
    assert!(context.starts_with("About 42 euros."), "{context}");
    assert!(
        context.contains("SELECT sum(amount) FROM sales"),
        "the query note: {context}"
    );
    assert_eq!(preview["new_message"], content);
    let tools: Vec<&str> = preview["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"execute_sql") && tools.contains(&"create_chart"),
        "{tools:?}"
    );
    let breakdown = &preview["token_breakdown"];
    let chars = |s: &str| (s.chars().count() as u64).div_ceil(4);
    assert_eq!(breakdown["new_message"].as_u64(), Some(chars(content)));
    assert_eq!(breakdown["system_prompt"].as_u64(), Some(chars(system)));
    assert_eq!(
        breakdown["messages"][1]["tokens"].as_u64(),
        Some(chars(context))
    );
    let sum = breakdown["system_prompt"].as_u64().unwrap()
        + breakdown["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["tokens"].as_u64().unwrap())
            .sum::<u64>()
        + breakdown["tools"].as_u64().unwrap()
        + breakdown["new_message"].as_u64().unwrap();
    assert_eq!(breakdown["total"].as_u64(), Some(sum));
    assert_eq!(preview["estimated_tokens"].as_u64(), Some(sum));

    let detail = json_with_status(app.get(&format!("/conversations/{id}")).await, 200).await;
    assert_eq!(
        detail["messages"].as_array().unwrap().len(),
        2,
        "nothing stored"
    );
    let empty = json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{id}/prompt-preview"),
            &json!({"content": "  "}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(empty["details"][0]["field"], "content");
    let (_, bob) = app.other_user_token("bob").await;
    let foreign = app
        .new_client()
        .post(app.url(&format!("/conversations/{id}/prompt-preview")))
        .header("Cookie", format!("session_token={bob}"))
        .json(&json!({"content": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    app.stop().await;
}
