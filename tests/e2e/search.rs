//! `GET /conversations/search`: case-insensitive substring matches over the caller's messages and titles,
//! newest first, with snippets; the index follows imports and deletions made through the API.

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_ports::{ConversationId, Message, MessageRole, Timestamp};
use tabletalk_tests::{TestApp, json_with_status};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_767_225_600_000 + seconds * 1000).unwrap()
}

async fn search(app: &TestApp, query: &str) -> Value {
    json_with_status(
        app.get(&format!("/conversations/search?{query}")).await,
        200,
    )
    .await
}

fn message_ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message_id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn search_finds_the_callers_messages_ignoring_case_newest_first_with_snippets() {
    let app = TestApp::spawn().await;
    app.login().await;
    let repos = app.repositories();
    let sales: ConversationId = app.create_conversation().await.parse().unwrap();
    let rename = app
        .send_json(
            Method::PATCH,
            &format!("/conversations/{sales}"),
            &json!({"title": "Quarterly numbers"}),
        )
        .await;
    json_with_status(rename, 200).await;
    let long = format!("{}Revenue by REGION{}", "a".repeat(70), "b".repeat(80));
    let older = Message::user(sales, "revenue by region, please", at(1));
    let mut newer = Message::user(sales, long.clone(), at(2));
    newer.role = MessageRole::Assistant;
    let wildcard = Message::user(sales, "growth was 100% year_over_year", at(3));
    for m in [&older, &newer, &wildcard] {
        repos.messages.append(m).await.unwrap();
    }
    let (bob, bob_token) = app.other_user_token("bob").await;
    let theirs = tabletalk_ports::Conversation::new(bob, at(0));
    repos.conversations.create(&theirs).await.unwrap();
    repos
        .messages
        .append(&Message::user(
            theirs.id,
            "Revenue by region for bob",
            at(9),
        ))
        .await
        .unwrap();

    let found = search(&app, "q=%20REVENUE%20BY%20region%20").await;
    assert_eq!(found["total"], 2);
    assert_eq!(
        message_ids(&found),
        [newer.id.to_string(), older.id.to_string()]
    );
    let first = &found["results"][0];
    assert_eq!(first["conversation_id"], sales.to_string());
    assert_eq!(first["conversation_title"], "Quarterly numbers");
    assert_eq!(first["message_role"], "assistant");
    assert_eq!(first["matched"], "content");
    assert_eq!(first["created_at"], at(2).to_string());
    assert_eq!(
        first["snippet"],
        format!(
            "...{}Revenue by REGION{}...",
            "a".repeat(50),
            "b".repeat(50)
        )
    );
    assert_eq!(found["results"][1]["snippet"], "revenue by region, please");

    // `%` and `_` are literal characters, never wildcards; a two-character text works without the index.
    let literal = search(&app, "q=100%25%20year_").await;
    assert_eq!(message_ids(&literal), [wildcard.id.to_string()]);
    assert_eq!(search(&app, "q=0_y").await["total"], 0);
    assert_eq!(
        message_ids(&search(&app, "q=%25").await),
        [wildcard.id.to_string()]
    );

    // A title match points at the conversation's first message.
    let titled = search(&app, "q=quarterly").await;
    assert_eq!(titled["total"], 1);
    assert_eq!(titled["results"][0]["matched"], "title");
    assert_eq!(titled["results"][0]["message_id"], older.id.to_string());
    assert_eq!(titled["results"][0]["snippet"], "Quarterly numbers");

    // Bob finds only his own message.
    let bobs = app
        .new_client()
        .get(app.url("/conversations/search?q=revenue"))
        .header("Cookie", format!("session_token={bob_token}"))
        .send()
        .await
        .unwrap();
    let bobs = json_with_status(bobs, 200).await;
    assert_eq!(bobs["total"], 1);
    assert_eq!(bobs["results"][0]["conversation_id"], theirs.id.to_string());

    // Deleting the conversation takes its messages out of the index.
    json_with_status(app.delete(&format!("/conversations/{sales}")).await, 200).await;
    assert_eq!(search(&app, "q=revenue").await["total"], 0);
    app.stop().await;
}

#[actix_web::test]
async fn the_query_is_required_and_the_limit_clamped() {
    let app = TestApp::spawn().await;
    let anonymous = json_with_status(app.get("/conversations/search?q=x").await, 401).await;
    assert_eq!(anonymous["code"], "not_authenticated");
    app.login().await;
    for query in ["", "q=", "q=%20%20", "limit=5"] {
        let body = json_with_status(
            app.get(&format!("/conversations/search?{query}")).await,
            422,
        )
        .await;
        assert_eq!(body["code"], "validation_failed", "{query}");
        assert_eq!(
            body["details"][0]["message"],
            "Query parameter 'q' is required"
        );
    }
    let long = "x".repeat(201);
    let too_long = json_with_status(
        app.get(&format!("/conversations/search?q={long}")).await,
        422,
    )
    .await;
    assert_eq!(too_long["details"][0]["field"], "q");
    let not_a_number =
        json_with_status(app.get("/conversations/search?q=x&limit=many").await, 422).await;
    assert_eq!(not_a_number["details"][0]["field"], "limit");

    let repos = app.repositories();
    let conversation: ConversationId = app.create_conversation().await.parse().unwrap();
    for i in 0..60 {
        repos
            .messages
            .append(&Message::user(conversation, format!("needle {i}"), at(i)))
            .await
            .unwrap();
    }
    for (limit, expected) in [
        ("", 20),
        ("&limit=0", 20),
        ("&limit=-3", 20),
        ("&limit=7", 7),
        ("&limit=500", 50),
    ] {
        let body = search(&app, &format!("q=needle{limit}")).await;
        assert_eq!(body["total"], expected, "{limit}");
        assert_eq!(body["results"].as_array().unwrap().len(), expected);
    }
    let newest = search(&app, "q=needle&limit=1").await;
    assert_eq!(newest["results"][0]["snippet"], "needle 59");
    app.stop().await;
}

/// Messages that arrive through an import are searchable as soon as the import answered.
#[actix_web::test]
async fn imported_messages_are_searchable_at_once() {
    let app = TestApp::spawn().await;
    app.login().await;
    let body = json!({
        "title": "Imported",
        "messages": [
            {"role": "user", "content": "Which Zebra crossings are busiest?"},
            {"role": "assistant", "content": "The zebra on Main Street."}
        ]
    });
    let created = json_with_status(
        app.send_json(Method::POST, "/conversations/import", &body)
            .await,
        201,
    )
    .await;
    let found = search(&app, "q=zebra").await;
    assert_eq!(found["total"], 2);
    assert_eq!(found["results"][0]["conversation_id"], created["id"]);
    app.stop().await;
}
