//! Sessions and messages around the chat: logging out closes that session's sockets, deleting one message,
//! redo, and fork during a turn.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tabletalk_ports::Clock as _;
use tabletalk_tests::json_with_status;
use tabletalk_tests::ws_client::connect;

use crate::chat::{SlowLlm, WAIT, app_with, messages, send};
use tabletalk_ports::fakes::ScriptedLlm;

/// Logging out closes that session's sockets at once with 4001 — long before the next heartbeat would notice —
/// and leaves the user's other sessions connected.
#[actix_web::test]
async fn logging_out_closes_that_sessions_sockets_at_once() {
    let llm = Arc::new(ScriptedLlm::default());
    let (app, _conversation, mut other_session) =
        app_with(llm, &[("TABLETALK__WEBSOCKET__HEARTBEAT_INTERVAL", "300s")]).await;
    let token = app.session_token().await;
    let mut first = connect(&app.base, &token).await.unwrap();
    let mut second = connect(&app.base, &token).await.unwrap();

    let response = app
        .new_client()
        .post(app.url("/auth/logout"))
        .header("Cookie", format!("session_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The heartbeat that would also notice is minutes away: only the logout can close these within WAIT.
    assert!(first.next_event(WAIT).await.is_none());
    assert!(second.next_event(WAIT).await.is_none());
    assert_eq!((first.closed, second.closed), (Some(4001), Some(4001)));
    assert!(
        other_session
            .next_event(Duration::from_millis(300))
            .await
            .is_none()
    );
    assert_eq!(
        other_session.closed, None,
        "another session stays connected"
    );
    app.stop().await;
}

/// Deleting a message removes exactly that message of that conversation; a running turn, an unknown, malformed or
/// foreign message id and another user's conversation are refused with their codes.
#[actix_web::test]
async fn a_message_is_deleted_only_from_its_own_idle_conversation() {
    let llm = Arc::new(SlowLlm {
        tokens: 200,
        pause: Duration::from_millis(20),
        requests: Mutex::new(0),
    });
    let (app, conversation, mut socket) = app_with(llm, &[]).await;
    let other = app.create_conversation().await;
    json_with_status(send(&app, &other, "elsewhere").await, 200).await;
    socket.until("chat_complete", WAIT).await;
    json_with_status(send(&app, &conversation, "Talk slowly").await, 200).await;
    socket.until("chat_token", WAIT).await;
    let question = messages(&app, &conversation).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = |c: &str, m: &str| format!("/conversations/{c}/messages/{m}");

    let busy = json_with_status(app.delete(&path(&conversation, &question)).await, 409).await;
    assert_eq!(busy["code"], "turn_in_progress");
    app.post_empty(&format!("/conversations/{conversation}/stop"))
        .await;
    socket.until("chat_complete", WAIT).await;

    let foreign = messages(&app, &other).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = tabletalk_ports::MessageId::new().to_string();
    for missing in [foreign.as_str(), "not-an-id", unknown.as_str()] {
        let body = json_with_status(app.delete(&path(&conversation, missing)).await, 404).await;
        assert_eq!(
            (body["code"].as_str(), body["error"].as_str()),
            (
                Some("message_not_found"),
                Some("Message not found in this conversation")
            ),
            "{missing}"
        );
    }
    let done = json_with_status(app.delete(&path(&conversation, &question)).await, 200).await;
    assert_eq!(done, json!({"success": true}));
    let left = messages(&app, &conversation).await;
    assert_eq!(left.len(), 1, "the answer stays");
    assert_eq!(left[0]["role"], "assistant");
    assert_eq!(
        messages(&app, &other).await.len(),
        2,
        "the other conversation is untouched"
    );
    let again = json_with_status(app.delete(&path(&conversation, &question)).await, 404).await;
    assert_eq!(again["code"], "message_not_found");

    let (_, bob) = app.other_user_token("bob").await;
    let forbidden = app
        .new_client()
        .delete(app.url(&path(&conversation, left[0]["id"].as_str().unwrap())))
        .header("Cookie", format!("session_token={bob}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    assert_eq!(messages(&app, &conversation).await.len(), 1);
    app.stop().await;
}

fn slow(tokens: usize) -> Arc<SlowLlm> {
    Arc::new(SlowLlm {
        tokens,
        pause: Duration::from_millis(20),
        requests: Mutex::new(0),
    })
}

fn id_of(message: &serde_json::Value) -> String {
    message["id"].as_str().unwrap().to_owned()
}

/// Redo checks the message first (unknown 404, a user message or an answer with no question before it 400), then
/// replaces the exchange with a new copy of the question at the end and answers it again.
#[actix_web::test]
async fn redo_replaces_the_exchange_and_answers_again() {
    let llm = slow(3);
    let (app, conversation, mut socket) = app_with(llm.clone(), &[]).await;
    json_with_status(send(&app, &conversation, "Count the rows").await, 200).await;
    socket.until("chat_complete", WAIT).await;
    let before = messages(&app, &conversation).await;
    let (question, answer) = (id_of(&before[0]), id_of(&before[1]));
    let redo = |c: &str, m: &str| {
        let path = format!("/conversations/{c}/messages/{m}/redo");
        let app = &app;
        async move { app.post_empty(&path).await }
    };

    let unknown = tabletalk_ports::MessageId::new().to_string();
    for missing in [unknown.as_str(), "not-an-id"] {
        let body = json_with_status(redo(&conversation, missing).await, 404).await;
        assert_eq!(body["code"], "message_not_found");
    }
    let user_message = json_with_status(redo(&conversation, &question).await, 400).await;
    assert_eq!(
        (
            user_message["code"].as_str(),
            user_message["error"].as_str()
        ),
        (
            Some("not_assistant_message"),
            Some("Can only redo assistant messages")
        )
    );
    let lonely: tabletalk_ports::ConversationId = app.create_conversation().await.parse().unwrap();
    let mut orphan = tabletalk_ports::Message::user(
        lonely,
        "an answer to nothing",
        tabletalk_ports::SystemClock.now(),
    );
    orphan.role = tabletalk_ports::MessageRole::Assistant;
    app.repositories().messages.append(&orphan).await.unwrap();
    let no_question =
        json_with_status(redo(&lonely.to_string(), &orphan.id.to_string()).await, 400).await;
    assert_eq!(
        (no_question["code"].as_str(), no_question["error"].as_str()),
        (
            Some("no_preceding_user_message"),
            Some("No preceding user message found")
        )
    );
    let (_, bob) = app.other_user_token("bob").await;
    let foreign = app
        .new_client()
        .post(app.url(&format!(
            "/conversations/{conversation}/messages/{answer}/redo"
        )))
        .header("Cookie", format!("session_token={bob}"))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert_eq!(
        messages(&app, &conversation).await,
        before,
        "no refusal changed anything"
    );

    let accepted = json_with_status(redo(&conversation, &answer).await, 200).await;
    assert_eq!(accepted["status"], "processing");
    let complete = socket.until("chat_complete", WAIT).await;
    assert_eq!(
        complete.last().unwrap()["message_id"],
        accepted["message_id"]
    );
    let after = messages(&app, &conversation).await;
    assert_eq!(after.len(), 2);
    assert_eq!(
        id_of(&after[0]),
        accepted["user_message_id"].as_str().unwrap()
    );
    assert_eq!(after[0]["content"], "Count the rows");
    assert_eq!(id_of(&after[1]), accepted["message_id"].as_str().unwrap());
    assert!(
        after
            .iter()
            .all(|m| id_of(m) != question && id_of(m) != answer)
    );
    assert!(
        after[0]["created_at"].as_str() > before[1]["created_at"].as_str(),
        "appended at the end"
    );
    assert_eq!(*llm.requests.lock().unwrap(), 2);
    app.stop().await;
}

/// While a turn runs, redo is refused (409) and changes nothing; a fork copies what is stored and is a
/// conversation of its own that can start its own turn.
#[actix_web::test]
async fn during_a_turn_redo_is_refused_and_a_fork_takes_what_is_stored() {
    let (app, conversation, mut socket) = app_with(slow(40), &[]).await;
    json_with_status(send(&app, &conversation, "first").await, 200).await;
    socket.until("chat_complete", WAIT).await;
    json_with_status(send(&app, &conversation, "second").await, 200).await;
    socket.until("chat_token", WAIT).await;
    let stored = messages(&app, &conversation).await;
    assert_eq!(
        stored.len(),
        3,
        "the running turn's answer is not stored yet"
    );

    let busy = json_with_status(
        app.post_empty(&format!(
            "/conversations/{conversation}/messages/{}/redo",
            id_of(&stored[1])
        ))
        .await,
        409,
    )
    .await;
    assert_eq!(busy["code"], "turn_in_progress");
    assert_eq!(messages(&app, &conversation).await, stored);

    let fork = json_with_status(
        app.send_json(
            reqwest::Method::POST,
            &format!("/conversations/{conversation}/fork"),
            &json!({"message_id": id_of(&stored[2])}),
        )
        .await,
        201,
    )
    .await;
    let fork_id = fork["id"].as_str().unwrap();
    let copied = messages(&app, fork_id).await;
    let contents: Vec<&str> = copied
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents[0], "first");
    assert_eq!(contents[2], "second");
    assert_eq!(copied.len(), 3);
    json_with_status(send(&app, fork_id, "in the fork").await, 200).await;

    socket.until("chat_complete", WAIT).await;
    socket.until("chat_complete", WAIT).await;
    assert_eq!(messages(&app, &conversation).await.len(), 4);
    assert_eq!(messages(&app, fork_id).await.len(), 5);
    app.stop().await;
}

/// Without a model, redo is refused after its message checks and nothing is deleted.
#[actix_web::test]
async fn redo_without_a_model_changes_nothing() {
    let app = tabletalk_tests::TestApp::spawn().await;
    app.login().await;
    let conversation = app.create_conversation().await;
    let id: tabletalk_ports::ConversationId = conversation.parse().unwrap();
    let now = tabletalk_ports::SystemClock.now();
    let question = tabletalk_ports::Message::user(id, "q", now);
    let mut answer = tabletalk_ports::Message::user(id, "a", now + Duration::from_millis(5));
    answer.role = tabletalk_ports::MessageRole::Assistant;
    let repos = app.repositories();
    repos.messages.append(&question).await.unwrap();
    repos.messages.append(&answer).await.unwrap();
    let refused = json_with_status(
        app.post_empty(&format!(
            "/conversations/{conversation}/messages/{}/redo",
            answer.id
        ))
        .await,
        503,
    )
    .await;
    assert_eq!(refused["code"], "llm_not_configured");
    assert_eq!(messages(&app, &conversation).await.len(), 2);
    app.stop().await;
}
