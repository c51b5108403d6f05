//! Archive end to end: the flag and its list filters, archive-all, archived conversations still readable,
//! searchable and exportable, unarchive on send, and other users' ids.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_ports::fakes::{ScriptedCall, ScriptedLlm};
use tabletalk_ports::{FinishReason, LlmEvent};
use tabletalk_tests::{TestApp, json_with_status};

use crate::chat::send;

async fn listed(app: &TestApp, query: &str) -> Vec<String> {
    json_with_status(app.get(&format!("/conversations{query}")).await, 200).await["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn archive(app: &TestApp, id: &str, is_archived: Value) -> reqwest::Response {
    app.send_json(
        Method::PATCH,
        &format!("/conversations/{id}/archive"),
        &json!({ "is_archived": is_archived }),
    )
    .await
}

#[actix_web::test]
async fn archived_conversations_leave_the_list_and_come_back_on_send() {
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(ScriptedCall::Stream(vec![
        Ok(LlmEvent::TextDelta("Back.".to_owned())),
        Ok(LlmEvent::Finished {
            reason: FinishReason::Stop,
            provider_state: None,
        }),
    ]));
    let app = TestApp::builder().llm(llm).spawn().await;
    app.login().await;
    let first = app.create_conversation().await;
    let second = app.create_conversation().await;
    json_with_status(send(&app, &first, "needle in the archive").await, 200).await;
    // Wait for the turn to end so the next send is accepted.
    for _ in 0..100 {
        let detail = json_with_status(app.get(&format!("/conversations/{first}")).await, 200).await;
        if detail["messages"].as_array().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let archived = json_with_status(archive(&app, &first, json!(true)).await, 200).await;
    assert_eq!(archived["is_archived"], true);
    assert_eq!(archived["id"], first.as_str());
    assert_eq!(listed(&app, "").await, vec![second.clone()]);
    assert_eq!(listed(&app, "?archived=false").await, vec![second.clone()]);
    assert_eq!(listed(&app, "?archived=true").await, vec![first.clone()]);
    let bad = json_with_status(app.get("/conversations?archived=maybe").await, 422).await;
    assert_eq!(bad["details"][0]["field"], "archived");

    // Still readable, searchable and exportable.
    let detail = json_with_status(app.get(&format!("/conversations/{first}")).await, 200).await;
    assert_eq!(detail["is_archived"], true);
    let found = json_with_status(app.get("/conversations/search?q=needle").await, 200).await;
    assert_eq!(found["results"][0]["conversation_id"], first.as_str());
    let exported = app.get(&format!("/conversations/{first}/export")).await;
    assert_eq!(exported.status(), 200);

    for body in [json!("yes"), json!(null)] {
        let refused = json_with_status(archive(&app, &second, body).await, 422).await;
        assert_eq!(refused["code"], "validation_failed");
    }
    let (_, bob) = app.other_user_token("bob").await;
    let foreign = app
        .new_client()
        .patch(app.url(&format!("/conversations/{first}/archive")))
        .header("Cookie", format!("session_token={bob}"))
        .json(&json!({"is_archived": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let missing = archive(&app, "00000000-0000-7000-8000-000000000000", json!(true)).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        listed(&app, "?archived=true").await,
        vec![first.clone()],
        "nothing changed"
    );

    // Sending a message brings it back.
    json_with_status(send(&app, &first, "and again").await, 200).await;
    assert_eq!(listed(&app, "?archived=true").await, Vec::<String>::new());
    let mut back = listed(&app, "").await;
    back.sort();
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    assert_eq!(back, both);

    let all = json_with_status(app.post_empty("/conversations/archive-all").await, 200).await;
    assert_eq!(all, json!({"archived": 2}));
    let again = json_with_status(app.post_empty("/conversations/archive-all").await, 200).await;
    assert_eq!(again, json!({"archived": 0}));
    assert!(listed(&app, "").await.is_empty());
    // Deleting all takes the archived ones too.
    json_with_status(app.delete("/conversations").await, 200).await;
    assert!(listed(&app, "?archived=true").await.is_empty());
    app.stop().await;
}
