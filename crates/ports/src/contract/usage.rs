use super::{Repositories, at, owner};
use crate::{
    CallKind, ConversationId, Identity, LlmProvider, Timestamp, TokenUsage, UsageId, UserId,
};

pub(super) async fn record_usage(
    repos: &Repositories,
    user: UserId,
    conversation: Option<ConversationId>,
    tokens: i64,
    when: Timestamp,
) {
    let usage = TokenUsage {
        id: UsageId::new(),
        user_id: user,
        conversation_id: conversation,
        message_id: None,
        call_kind: CallKind::Chat,
        provider: LlmProvider::Gemini,
        model_name: "gemini-2.5-flash".to_owned(),
        input_tokens: tokens - tokens / 4,
        output_tokens: tokens / 4,
        estimated: false,
        cost: 0.0,
        timestamp: when,
    };
    repos.token_usage.record(&usage).await.unwrap();
}

/// `entries_since` returns only the user's rows strictly after the bound, oldest first.
pub async fn usage_window_is_exclusive_and_oldest_first(repos: Repositories) {
    let alice = repos
        .users
        .sign_in(&Identity::local_user(), at(0))
        .await
        .unwrap()
        .id;
    let bob = repos
        .users
        .sign_in(
            &Identity {
                subject: "bob".to_owned(),
                ..Identity::local_user()
            },
            at(0),
        )
        .await
        .unwrap()
        .id;
    record_usage(&repos, alice, None, 300, at(30)).await;
    record_usage(&repos, alice, None, 100, at(10)).await;
    record_usage(&repos, alice, None, 200, at(20)).await;
    record_usage(&repos, bob, None, 999, at(25)).await;

    let entries = repos
        .token_usage
        .entries_since(alice, at(10))
        .await
        .unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.timestamp, e.tokens))
            .collect::<Vec<_>>(),
        vec![(at(20), 200), (at(30), 300)]
    );
    assert_eq!(
        repos
            .token_usage
            .window_totals(alice, at(10))
            .await
            .unwrap(),
        (500, Some(at(20)))
    );
    assert_eq!(
        repos
            .token_usage
            .window_totals(alice, at(30))
            .await
            .unwrap(),
        (0, None)
    );
    assert!(
        repos
            .token_usage
            .entries_since(UserId::new(), at(0))
            .await
            .unwrap()
            .is_empty()
    );
}

/// The health check answers.
pub async fn ping_answers(repos: Repositories) {
    repos.health.ping().await.unwrap();
}

/// Settings do not exist until saved; a save replaces the row; each user has their own; an unknown user is refused.
pub async fn settings_are_created_then_replaced(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let bob = owner(&repos, "bob").await;
    assert_eq!(repos.settings.find(alice).await.unwrap(), None);
    let first = crate::UserSettings {
        user_id: alice,
        dev_mode: false,
        selected_model: Some("gemini-2.5-pro".to_owned()),
        tools_allow: vec!["load_dataset".to_owned()],
        tools_deny: vec!["create_chart".to_owned(), "execute_sql".to_owned()],
        updated_at: at(1),
    };
    repos.settings.save(&first).await.unwrap();
    assert_eq!(
        repos.settings.find(alice).await.unwrap(),
        Some(first.clone())
    );
    let second = crate::UserSettings {
        dev_mode: true,
        selected_model: None,
        tools_deny: Vec::new(),
        updated_at: at(2),
        ..first
    };
    repos.settings.save(&second).await.unwrap();
    assert_eq!(repos.settings.find(alice).await.unwrap(), Some(second));
    assert_eq!(repos.settings.find(bob).await.unwrap(), None);
    let stranger = crate::UserSettings::initial(crate::UserId::new(), at(3));
    assert!(matches!(
        repos.settings.save(&stranger).await,
        Err(crate::RepositoryError::Constraint(_))
    ));
}
