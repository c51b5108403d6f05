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
