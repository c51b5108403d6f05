//! Sessions and messages around the chat: logging out closes that session's sockets, and deleting one message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
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
