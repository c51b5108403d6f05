//! The repository contract: behaviour every implementation of the repository ports must show. The end-to-end
//! test binary runs each check against the SQLite adapter (real file, production migrations) and against
//! [`crate::fakes::InMemoryStore`], so the fakes cannot drift from the real thing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    reason = "the contract suite is test code run by the test binary: a failed step is a failed test"
)]

mod assistants;
mod conversations;
mod datasets;
mod identity;
mod saved_queries;
mod search;
mod transfer;
mod usage;

use std::sync::Arc;
use std::time::Duration;

use crate::{
    AssistantRepository, Conversation, ConversationRepository, DatabaseHealth, DatasetRepository,
    Identity, MessageRepository, PendingLoginRepository, QueryHistoryRepository,
    ReferralKeyRepository, SavedQueryRepository, SessionRepository, SettingsRepository, Timestamp,
    TokenUsageRepository, UserId, UserRepository,
};

pub use assistants::assistants_round_trip_and_are_listed_to_owners_and_everyone_when_shared;
pub use conversations::{
    appending_a_message_touches_the_conversation,
    archiving_splits_the_list_and_touches_only_the_owners,
    bulk_pin_touches_only_the_owners_and_keeps_updated_at,
    dataset_names_and_urls_are_unique_per_conversation, delete_all_only_touches_the_owner,
    deleting_a_conversation_cascades_and_keeps_usage, deleting_a_message_removes_only_that_message,
    list_orders_pinned_then_recent_with_counts_and_preview,
    rename_and_pin_report_missing_conversations, url_dataset,
};
pub use datasets::{
    adding_datasets_names_them_refuses_conflicts_and_shares_uploads,
    history_stars_toggle_and_clearing_takes_everything_of_the_user,
    query_history_is_newest_first_capped_and_filtered,
};
pub use identity::{
    pending_logins_are_single_use_and_expire, referral_keys_are_single_use,
    sessions_need_an_existing_user, sessions_round_trip_extend_and_expire,
    sign_in_creates_then_updates_the_user,
};
pub use saved_queries::saved_queries_are_ordered_filed_pinned_shared_and_private;
pub use search::{
    search_answers_what_a_scan_answers_after_any_change,
    titles_match_ignoring_case_with_their_first_message,
};
pub use transfer::{
    a_conversation_is_stored_with_its_contents_or_not_at_all,
    an_exchange_is_replaced_whole_or_not_at_all, interrupted_loads_become_errors,
    shares_keep_their_first_token_until_revoked,
};
pub use usage::{
    ping_answers, settings_are_created_then_replaced, usage_window_is_exclusive_and_oldest_first,
};

/// One implementation of every repository port, as the contract checks see it.
#[derive(Clone)]
#[expect(
    missing_debug_implementations,
    reason = "trait objects of ports are not Debug"
)]
pub struct Repositories {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub conversations: Arc<dyn ConversationRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub datasets: Arc<dyn DatasetRepository>,
    pub token_usage: Arc<dyn TokenUsageRepository>,
    pub health: Arc<dyn DatabaseHealth>,
    pub pending_logins: Arc<dyn PendingLoginRepository>,
    pub referral_keys: Arc<dyn ReferralKeyRepository>,
    pub query_history: Arc<dyn QueryHistoryRepository>,
    pub settings: Arc<dyn SettingsRepository>,
    pub saved_queries: Arc<dyn SavedQueryRepository>,
    pub assistants: Arc<dyn AssistantRepository>,
}

impl Repositories {
    /// Every port served by one object (the SQLite adapter or the in-memory store).
    pub fn from_one<T>(store: Arc<T>) -> Self
    where
        T: UserRepository
            + SessionRepository
            + ConversationRepository
            + MessageRepository
            + DatasetRepository
            + TokenUsageRepository
            + DatabaseHealth
            + PendingLoginRepository
            + ReferralKeyRepository
            + QueryHistoryRepository
            + SettingsRepository
            + SavedQueryRepository
            + AssistantRepository,
    {
        Self {
            users: store.clone(),
            sessions: store.clone(),
            conversations: store.clone(),
            messages: store.clone(),
            datasets: store.clone(),
            token_usage: store.clone(),
            health: store.clone(),
            pending_logins: store.clone(),
            referral_keys: store.clone(),
            query_history: store.clone(),
            settings: store.clone(),
            saved_queries: store.clone(),
            assistants: store,
        }
    }
}

/// A fixed instant the checks count from.
fn t0() -> Timestamp {
    Timestamp::from_unix_millis(1_767_225_600_000).expect("valid instant")
}

/// `t0` plus some seconds.
fn at(seconds: u64) -> Timestamp {
    t0() + Duration::from_secs(seconds)
}

/// A signed-in user named `subject`.
async fn owner(repos: &Repositories, subject: &str) -> UserId {
    let identity = Identity {
        issuer: "https://issuer.example".to_owned(),
        subject: subject.to_owned(),
        email: format!("{subject}@example.com"),
        name: subject.to_owned(),
        avatar_url: None,
    };
    repos.users.sign_in(&identity, at(0)).await.unwrap().id
}

/// A new conversation of `user`, created `created` seconds after `t0`.
async fn conversation(repos: &Repositories, user: UserId, created: u64) -> Conversation {
    let conversation = Conversation::new(user, at(created));
    repos.conversations.create(&conversation).await.unwrap();
    conversation
}
