//! `GET /usage`: real numbers from `token_usage` over the rolling 24-hour window.

use std::time::Duration;

use tabletalk_ports::{CallKind, LlmProvider, Timestamp, TokenUsage, UsageId, UserId};
use tabletalk_tests::{TestApp, json_with_status};

fn usage(user: UserId, tokens: i64, age: Duration) -> TokenUsage {
    TokenUsage {
        id: UsageId::new(),
        user_id: user,
        conversation_id: None,
        message_id: None,
        call_kind: CallKind::ExplainSql,
        provider: LlmProvider::Gemini,
        model_name: "gemini-2.5-flash".into(),
        input_tokens: tokens / 2,
        output_tokens: tokens - tokens / 2,
        estimated: false,
        cost: 0.0,
        timestamp: Timestamp::from_datetime(chrono::Utc::now()) - age,
    }
}

#[actix_web::test]
async fn usage_starts_at_zero_and_counts_only_the_last_24_hours() {
    let app = TestApp::builder().env("TOKEN_LIMIT", "10000").spawn().await;
    app.login().await;
    let body = json_with_status(app.get("/usage").await, 200).await;
    assert_eq!(body["tokens_used"], 0);
    assert_eq!(body["token_limit"], 10_000);
    assert_eq!(body["remaining"], 10_000);
    assert_eq!(body["resets_in_seconds"], 0);
    assert_eq!(body["usage_percent"], 0.0);
    assert_eq!(body["warning_threshold_pct"], 80);

    let me = json_with_status(app.get("/auth/me").await, 200).await;
    let user: UserId = me["user_id"].as_str().unwrap().parse().unwrap();
    let repos = app.repositories();
    repos
        .token_usage
        .record(&usage(user, 99_999, Duration::from_hours(25)))
        .await
        .unwrap();
    repos
        .token_usage
        .record(&usage(user, 2_500, Duration::from_hours(1)))
        .await
        .unwrap();

    let body = json_with_status(app.get("/usage").await, 200).await;
    assert_eq!(
        body["tokens_used"], 2_500,
        "the 25-hour-old row is outside the window"
    );
    assert_eq!(body["remaining"], 7_500);
    assert_eq!(body["usage_percent"], 25.0);
    let reset_at = body["window_reset_at"]
        .as_str()
        .unwrap()
        .parse::<Timestamp>()
        .unwrap();
    let expected = Timestamp::from_datetime(chrono::Utc::now()) + Duration::from_hours(23);
    assert!(
        reset_at.millis_since(expected).abs() < 60_000,
        "{reset_at} vs {expected}"
    );

    repos
        .token_usage
        .record(&usage(user, 8_000, Duration::from_mins(1)))
        .await
        .unwrap();
    let body = json_with_status(app.get("/usage").await, 200).await;
    assert_eq!(
        (body["tokens_used"].as_i64(), body["remaining"].as_i64()),
        (Some(10_500), Some(0))
    );
    let resets = body["resets_in_seconds"].as_u64().unwrap();
    assert!(
        (22 * 3600..=23 * 3600).contains(&resets),
        "blocked until the 2,500-token row leaves: {resets}"
    );
}
