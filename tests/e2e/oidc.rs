//! OpenID Connect sign-in through the real HTTP surface, the real OIDC adapter, and a fake provider that speaks
//! the protocol on 127.0.0.1 (docs/api.md, "Sign-in").

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use serde_json::{Value, json};
use tabletalk_tests::fake_oidc::{FakeOidc, TokenFault};
use tabletalk_tests::{TestApp, json_with_status};

async fn setup(extra: &[(&str, &str)]) -> (TestApp, FakeOidc) {
    let fake = FakeOidc::start();
    let mut builder = TestApp::builder().oidc(&fake);
    for (key, value) in extra {
        builder = builder.env(key, value);
    }
    (builder.spawn().await, fake)
}

async fn referral_keys(app: &TestApp, keys: &[&str]) {
    let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    let now = tabletalk_ports::Clock::now(&tabletalk_ports::SystemClock);
    app.repositories()
        .referral_keys
        .create(&keys, None, now)
        .await
        .unwrap();
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// `POST /auth/google`, then the provider's `/authorize`: the callback URL the browser would be sent to.
async fn authorize(app: &TestApp, body: Option<Value>) -> String {
    let request = app.client.post(app.url("/auth/google"));
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let started = json_with_status(request.send().await.unwrap(), 200).await;
    let redirect_url = started["redirect_url"].as_str().unwrap().to_owned();
    let at_provider = app.new_client().get(&redirect_url).send().await.unwrap();
    assert_eq!(at_provider.status(), 302, "{:?}", at_provider.text().await);
    let callback = location(&at_provider);
    assert!(
        callback.starts_with(&app.url("/auth/google/callback?")),
        "{callback}"
    );
    callback
}

async fn callback(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.get(url).send().await.unwrap()
}

async fn sign_in(app: &TestApp, referral_key: Option<&str>) -> reqwest::Response {
    let url = authorize(app, Some(json!({ "referral_key": referral_key }))).await;
    callback(app, &url).await
}

fn assert_signed_in(app: &TestApp, response: &reqwest::Response) {
    assert_eq!(response.status(), 302);
    assert_eq!(location(response), app.url("/"));
    let cookie = cookies(response).join("\n");
    assert!(cookie.starts_with("session_token="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
}

async fn assert_rejected(app: &TestApp, response: reqwest::Response, reason: &str) {
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response),
        app.url(&format!("/sign-in?error={reason}"))
    );
    assert!(
        cookies(&response).is_empty(),
        "no session without a verified sign-in"
    );
    assert_eq!(app.get("/auth/me").await.status(), 401);
}

#[actix_web::test]
async fn a_first_sign_in_needs_a_referral_key_and_a_returning_user_does_not() {
    let (app, _fake) = setup(&[]).await;
    referral_keys(&app, &["invite-1"]).await;

    let response = sign_in(&app, Some("  invite-1  ")).await;
    assert_signed_in(&app, &response);
    let me = json_with_status(app.get("/auth/me").await, 200).await;
    assert_eq!(
        (
            me["email"].as_str(),
            me["name"].as_str(),
            me["auth_mode"].as_str()
        ),
        (Some("ada@example.com"), Some("Ada Lovelace"), Some("oidc"))
    );
    let keys = app.repositories().referral_keys.list(false).await.unwrap();
    assert_eq!(
        keys[0].used_by_email.as_deref(),
        Some("ada@example.com"),
        "the key is consumed"
    );

    referral_keys(&app, &["invite-2"]).await;
    let returning = app.new_client();
    let url = authorize(&app, Some(json!({"referral_key": "invite-2"}))).await;
    let response = returning.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response),
        app.url("/"),
        "returning users need no key"
    );
    let again: Value = returning
        .get(app.url("/auth/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["user_id"], me["user_id"]);
    let unused = app.repositories().referral_keys.list(true).await.unwrap();
    assert_eq!(
        unused.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
        ["invite-2"],
        "a returning user's key stays unused"
    );
}

#[actix_web::test]
async fn new_users_without_a_valid_key_are_turned_away() {
    let (app, fake) = setup(&[]).await;
    referral_keys(&app, &["invite-1"]).await;
    assert_rejected(&app, sign_in(&app, None).await, "referral_key_required").await;
    assert_rejected(
        &app,
        sign_in(&app, Some("no-such-key")).await,
        "invalid_referral_key",
    )
    .await;

    assert_signed_in(&app, &sign_in(&app, Some("invite-1")).await);
    app.post_empty("/auth/logout").await;
    fake.set_account("subject-2", "bob@example.com");
    assert_rejected(
        &app,
        sign_in(&app, Some("invite-1")).await,
        "invalid_referral_key",
    )
    .await;
    let users = app
        .repositories()
        .users
        .find_by_identity(&fake.issuer, "subject-2")
        .await
        .unwrap();
    assert!(users.is_none(), "a refused sign-in stores no user");
}

#[actix_web::test]
async fn without_required_referrals_anyone_verified_may_join() {
    let (app, _fake) = setup(&[("TABLETALK__AUTH__REQUIRE_REFERRAL", "false")]).await;
    assert_signed_in(&app, &sign_in(&app, None).await);
}

#[actix_web::test]
async fn state_must_match_and_is_single_use() {
    let (app, _fake) = setup(&[("TABLETALK__AUTH__REQUIRE_REFERRAL", "false")]).await;
    let url = authorize(&app, None).await;
    let forged = url.replace("state=", "state=x");
    assert_rejected(&app, callback(&app, &forged).await, "oauth_error").await;
    let without_state = url.split("&state=").next().unwrap().to_owned();
    assert_rejected(&app, callback(&app, &without_state).await, "oauth_error").await;

    assert_signed_in(&app, &callback(&app, &url).await);
    app.post_empty("/auth/logout").await;
    assert_rejected(&app, callback(&app, &url).await, "oauth_error").await;
}

#[actix_web::test]
async fn a_cancelled_sign_in_discards_its_state() {
    let (app, _fake) = setup(&[("TABLETALK__AUTH__REQUIRE_REFERRAL", "false")]).await;
    let url = authorize(&app, None).await;
    let state = url.split("state=").nth(1).unwrap().to_owned();
    let cancelled = app.url(&format!(
        "/auth/google/callback?error=access_denied&state={state}"
    ));
    assert_rejected(&app, callback(&app, &cancelled).await, "oauth_error").await;
    assert_rejected(&app, callback(&app, &url).await, "oauth_error").await;
}

#[actix_web::test]
async fn every_bad_id_token_is_refused() {
    let (app, fake) = setup(&[("TABLETALK__AUTH__REQUIRE_REFERRAL", "false")]).await;
    for fault in [
        TokenFault::WrongNonce,
        TokenFault::WrongAudience,
        TokenFault::WrongIssuer,
        TokenFault::Expired,
        TokenFault::UnknownKid,
        TokenFault::AlgNone,
        TokenFault::Hs256,
        TokenFault::InvalidGrant,
    ] {
        fake.set_fault(fault);
        let response = sign_in(&app, None).await;
        assert_eq!(
            location(&response),
            app.url("/sign-in?error=oauth_error"),
            "{fault:?}"
        );
        assert_rejected(&app, response, "oauth_error").await;
    }
    fake.set_fault(TokenFault::None);
    assert_signed_in(&app, &sign_in(&app, None).await);
}

#[actix_web::test]
async fn rotated_keys_are_fetched_when_an_unknown_kid_appears() {
    let (app, fake) = setup(&[("TABLETALK__AUTH__REQUIRE_REFERRAL", "false")]).await;
    fake.set_fault(TokenFault::UnknownKid);
    let url = authorize(&app, None).await;
    let fetched_before = fake.jwks_requests();
    fake.publish_rotated_key();
    assert_signed_in(&app, &callback(&app, &url).await);
    assert_eq!(
        fake.jwks_requests(),
        fetched_before + 1,
        "one re-fetch of the keys"
    );
}

#[actix_web::test]
async fn email_rules_are_enforced() {
    let (app, fake) = setup(&[
        ("TABLETALK__AUTH__REQUIRE_REFERRAL", "false"),
        ("TABLETALK__AUTH__ALLOWED_EMAIL_DOMAINS", "Example.com"),
    ])
    .await;
    fake.set_fault(TokenFault::EmailUnverified);
    assert_rejected(&app, sign_in(&app, None).await, "email_not_verified").await;
    fake.set_fault(TokenFault::None);
    fake.set_account("subject-9", "mallory@elsewhere.org");
    assert_rejected(&app, sign_in(&app, None).await, "email_domain_not_allowed").await;
    fake.set_account("subject-10", "grace@EXAMPLE.com");
    fake.set_fault(TokenFault::EmailOnlyInUserinfo);
    assert_signed_in(&app, &sign_in(&app, None).await);
    let me = json_with_status(app.get("/auth/me").await, 200).await;
    assert_eq!(
        me["email"], "grace@EXAMPLE.com",
        "taken from userinfo when the ID token lacks it"
    );
}

#[actix_web::test]
async fn logout_and_expiry_end_oidc_sessions() {
    let (app, _fake) = setup(&[("TABLETALK__AUTH__REQUIRE_REFERRAL", "false")]).await;
    assert_signed_in(&app, &sign_in(&app, None).await);
    assert_eq!(
        json_with_status(app.post_empty("/auth/logout").await, 200).await,
        json!({"success": true})
    );
    assert_eq!(app.get("/auth/me").await.status(), 401);

    assert_signed_in(&app, &sign_in(&app, None).await);
    let mut raw = SqliteConnection::establish(&app.database_path().display().to_string()).unwrap();
    raw.batch_execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000Z'")
        .unwrap();
    let response = app.get("/auth/me").await;
    assert!(
        cookies(&response).join("").contains("Max-Age=0"),
        "the expired cookie is cleared"
    );
    assert_eq!(
        json_with_status(response, 401).await["code"],
        "not_authenticated"
    );
}

#[actix_web::test]
async fn an_unreachable_provider_is_reported_until_it_answers() {
    let fake = FakeOidc::start();
    fake.set_discovery_fails(true);
    let app = TestApp::builder().oidc(&fake).spawn().await;
    let body = json_with_status(app.post_empty("/auth/google").await, 502).await;
    assert_eq!(body["code"], "oidc_unavailable");
    let ready = json_with_status(app.get("/ready").await, 503).await;
    assert_eq!(ready["details"]["identity_provider"], "error");

    fake.set_discovery_fails(false);
    let started = json_with_status(app.post_empty("/auth/google").await, 200).await;
    let url = started["redirect_url"].as_str().unwrap();
    for part in [
        "response_type=code",
        "code_challenge_method=S256",
        "code_challenge=",
        "nonce=",
        "state=",
        "scope=openid",
    ] {
        assert!(url.contains(part), "{part} missing: {url}");
    }
    assert_eq!(
        json_with_status(app.get("/ready").await, 200).await["status"],
        "ready"
    );
    assert_eq!(
        json_with_status(app.dev_login(&app.client, "whatever-key-123456").await, 404).await["code"],
        "not_found"
    );
}

#[actix_web::test]
async fn local_mode_has_no_oidc_routes() {
    let app = TestApp::spawn().await;
    let body = json_with_status(app.post_empty("/auth/google").await, 400).await;
    assert_eq!(body["code"], "oidc_not_configured");
    assert_eq!(
        json_with_status(app.get("/auth/google/callback?code=a&state=b").await, 404).await["code"],
        "not_found"
    );
    let too_long = app
        .send_json(
            reqwest::Method::POST,
            "/auth/google",
            &json!({"referral_key": "k".repeat(257)}),
        )
        .await;
    assert_eq!(
        json_with_status(too_long, 422).await["code"],
        "validation_failed"
    );
}
