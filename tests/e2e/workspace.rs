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
