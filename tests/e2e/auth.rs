//! Local sign-in, sessions and logout over HTTP (docs/api.md, "Sign-in").

use reqwest::Method;
use serde_json::json;
use tabletalk_tests::{ACCESS_KEY, TestApp, json_with_status};

fn set_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[actix_web::test]
async fn the_access_key_signs_in_the_local_user() {
    let app = TestApp::spawn().await;
    let response = app
        .dev_login(&app.client, &format!("  {ACCESS_KEY}\t"))
        .await;
    let cookie = set_cookie(&response);
    assert_eq!(
        json_with_status(response, 200).await,
        json!({"success": true})
    );
    assert!(cookie.starts_with("session_token="), "{cookie}");
    let token = cookie
        .trim_start_matches("session_token=")
        .split(';')
        .next()
        .unwrap();
    assert_eq!(token.len(), 43);
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "http public_url: no Secure attribute: {cookie}"
    );

    let me = json_with_status(app.get("/auth/me").await, 200).await;
    assert_eq!(me["email"], "local@localhost");
    assert_eq!(me["name"], "Local user");
    assert_eq!(me["auth_mode"], "local");
    assert_eq!(me["avatar_url"], serde_json::Value::Null);
    assert!(
        me["user_id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .is_ok()
    );
}

#[actix_web::test]
async fn wrong_keys_are_refused_and_then_throttled() {
    let app = TestApp::spawn().await;
    let stranger = app.new_client();
    for _ in 0..10 {
        let response = app.dev_login(&stranger, "not-the-key").await;
        assert!(set_cookie(&response).is_empty());
        let body = json_with_status(response, 400).await;
        assert_eq!(
            (body["code"].as_str(), body["error"].as_str()),
            (Some("invalid_referral_key"), Some("Invalid access key"))
        );
    }
    let response = app.dev_login(&stranger, ACCESS_KEY).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((590..=600).contains(&retry_after), "{retry_after}");
    let body = json_with_status(response, 429).await;
    assert_eq!(body["code"], "too_many_attempts");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Too many failed sign-in attempts. Try again in ")
    );

    let empty = app
        .send_json(
            Method::POST,
            "/auth/dev-login",
            &json!({"referral_key": "   "}),
        )
        .await;
    assert_eq!(
        json_with_status(empty, 422).await["details"][0]["field"],
        "referral_key"
    );
    let missing = app
        .send_json(Method::POST, "/auth/dev-login", &json!({}))
        .await;
    assert_eq!(
        json_with_status(missing, 422).await["details"][0]["field"],
        "referral_key"
    );
}

#[actix_web::test]
async fn logout_ends_the_session_and_clears_the_cookie() {
    let app = TestApp::spawn().await;
    app.login().await;
    let other_device = app.new_client();
    assert_eq!(app.dev_login(&other_device, ACCESS_KEY).await.status(), 200);

    let response = app.post_empty("/auth/logout").await;
    let cookie = set_cookie(&response);
    assert_eq!(
        json_with_status(response, 200).await,
        json!({"success": true})
    );
    assert!(
        cookie.contains("session_token=;") && cookie.contains("Max-Age=0"),
        "{cookie}"
    );

    assert_eq!(
        json_with_status(app.get("/auth/me").await, 401).await["code"],
        "not_authenticated"
    );
    assert_eq!(
        json_with_status(app.post_empty("/auth/logout").await, 401).await["code"],
        "not_authenticated"
    );
    let still = other_device.get(app.url("/auth/me")).send().await.unwrap();
    assert_eq!(
        still.status(),
        200,
        "logout ends only the presented session"
    );
}

#[actix_web::test]
async fn an_unknown_token_is_refused_and_its_cookie_cleared() {
    let app = TestApp::spawn().await;
    let client = app.new_client();
    let response = client
        .get(app.url("/auth/me"))
        .header("cookie", "session_token=forged-token-value")
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(&response);
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    let body = json_with_status(response, 401).await;
    assert_eq!(
        (body["code"].as_str(), body["error"].as_str()),
        (Some("not_authenticated"), Some("Not authenticated"))
    );

    let response = client.get(app.url("/usage")).send().await.unwrap();
    assert!(
        set_cookie(&response).is_empty(),
        "no cookie presented, nothing to clear"
    );
    assert_eq!(response.status(), 401);
}

#[actix_web::test]
async fn oidc_mode_has_no_local_sign_in() {
    let app = TestApp::builder()
        .env("GOOGLE_CLIENT_ID", "client-123")
        .env("GOOGLE_CLIENT_SECRET", "secret-456")
        .env("TABLETALK__SERVER__PUBLIC_URL", "https://tabletalk.example")
        .spawn()
        .await;
    let response = app.dev_login(&app.client, ACCESS_KEY).await;
    assert_eq!(json_with_status(response, 404).await["code"], "not_found");
}

#[actix_web::test]
async fn https_public_urls_make_the_cookie_secure() {
    let app = TestApp::builder()
        .env("TABLETALK__SERVER__PUBLIC_URL", "https://tabletalk.example")
        .spawn()
        .await;
    let response = app.dev_login(&app.client, ACCESS_KEY).await;
    assert!(set_cookie(&response).contains("Secure"));
}
