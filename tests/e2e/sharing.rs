//! Sharing: a token opens a read-only snapshot without a session, until it is revoked; views are limited per
//! client address; only the owner shares and revokes.

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_ports::{ConversationId, Message, Timestamp};
use tabletalk_tests::{TestApp, json_with_status};

async fn public_view(app: &TestApp, token: &str) -> reqwest::Response {
    // A fresh client: no cookie, no session.
    app.new_client()
        .get(app.url(&format!("/shared/{token}")))
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_share_token_opens_a_read_only_snapshot_until_revoked() {
    let app = TestApp::builder()
        .env("TABLETALK__SERVER__FRONTEND_URL", "https://talk.example")
        .spawn()
        .await;
    app.login().await;
    let id = app.create_conversation().await;
    let conversation: ConversationId = id.parse().unwrap();
    json_with_status(
        app.send_json(
            Method::PATCH,
            &format!("/conversations/{id}"),
            &json!({"title": "Budget"}),
        )
        .await,
        200,
    )
    .await;
    let t = Timestamp::from_unix_millis(1_767_225_600_000).unwrap();
    app.repositories()
        .messages
        .append(&Message::user(conversation, "What did we spend?", t))
        .await
        .unwrap();
    let share_path = format!("/conversations/{id}/share");

    let shared = json_with_status(app.post_empty(&share_path).await, 201).await;
    let token = shared["share_token"].as_str().unwrap().to_owned();
    assert_eq!(
        token.len(),
        22,
        "16 random bytes, base64url without padding"
    );
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(
        shared["share_url"],
        format!("https://talk.example/share/{token}")
    );
    let again = json_with_status(app.post_empty(&share_path).await, 201).await;
    assert_eq!(
        again["share_token"],
        token.as_str(),
        "sharing again keeps the token"
    );
    let detail = json_with_status(app.get(&format!("/conversations/{id}")).await, 200).await;
    assert_eq!(detail["share_token"], token.as_str());
    let shared_at = detail["shared_at"].as_str().unwrap().to_owned();

    let response = public_view(&app, &token).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let view = json_with_status(response, 200).await;
    assert_eq!(view["title"], "Budget");
    assert_eq!(view["shared_at"], shared_at.as_str());
    assert_eq!(view["messages"][0]["content"], "What did we spend?");
    assert_eq!(view["datasets"], json!([]));
    let keys: Vec<&str> = view
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["datasets", "messages", "shared_at", "title"],
        "nothing that leads elsewhere"
    );
    // The snapshot is live: a later message shows.
    app.repositories()
        .messages
        .append(&Message::user(
            conversation,
            "And this month?",
            t + std::time::Duration::from_secs(5),
        ))
        .await
        .unwrap();
    let view = json_with_status(public_view(&app, &token).await, 200).await;
    assert_eq!(view["messages"].as_array().unwrap().len(), 2);
    // A share is only a view: writing through it is not a thing.
    let write = app
        .new_client()
        .post(app.url(&format!("/shared/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 405);

    let (_, bob) = app.other_user_token("bob").await;
    for method in [Method::POST, Method::DELETE] {
        let foreign = app
            .new_client()
            .request(method, app.url(&share_path))
            .header("Cookie", format!("session_token={bob}"))
            .send()
            .await
            .unwrap();
        assert_eq!(json_with_status(foreign, 403).await["code"], "forbidden");
    }
    assert_eq!(
        public_view(&app, &token).await.status(),
        200,
        "bob changed nothing"
    );
    let unknown = json_with_status(
        app.post_empty(&format!("/conversations/{}/share", ConversationId::new()))
            .await,
        404,
    )
    .await;
    assert_eq!(unknown["code"], "conversation_not_found");

    assert_eq!(
        json_with_status(app.delete(&share_path).await, 200).await,
        json!({"success": true})
    );
    json_with_status(app.delete(&share_path).await, 200).await;
    let gone = json_with_status(public_view(&app, &token).await, 404).await;
    assert_eq!(
        (gone["code"].as_str(), gone["error"].as_str()),
        (
            Some("shared_conversation_not_found"),
            Some("Shared conversation not found")
        )
    );
    let detail = json_with_status(app.get(&format!("/conversations/{id}")).await, 200).await;
    assert_eq!(
        (&detail["share_token"], &detail["shared_at"]),
        (&Value::Null, &Value::Null)
    );
    let renewed = json_with_status(app.post_empty(&share_path).await, 201).await;
    assert_ne!(
        renewed["share_token"],
        token.as_str(),
        "a new share gets a new token"
    );
    app.stop().await;
}

#[actix_web::test]
async fn shared_views_are_limited_per_client_address() {
    let app = TestApp::builder()
        .env("TABLETALK__SERVER__TRUST_FORWARDED_HEADERS", "true")
        .spawn()
        .await;
    app.login().await;
    let id = app.create_conversation().await;
    let shared = json_with_status(
        app.post_empty(&format!("/conversations/{id}/share")).await,
        201,
    )
    .await;
    let token = shared["share_token"].as_str().unwrap();
    let view = |address: &'static str, token: String| {
        let client = app.new_client();
        let url = app.url(&format!("/shared/{token}"));
        async move {
            client
                .get(url)
                .header("X-Forwarded-For", address)
                .send()
                .await
                .unwrap()
        }
    };
    // Guesses count like views, so a token cannot be found by trying at speed.
    for _ in 0..30 {
        assert_eq!(view("203.0.113.7", "guess".to_owned()).await.status(), 404);
    }
    for _ in 0..30 {
        assert_eq!(view("203.0.113.7", token.to_owned()).await.status(), 200);
    }
    let limited = view("203.0.113.7", token.to_owned()).await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        json_with_status(limited, 429).await["code"],
        "too_many_requests"
    );
    assert_eq!(
        view("198.51.100.1", token.to_owned()).await.status(),
        200,
        "other addresses are unaffected"
    );
    app.stop().await;
}
