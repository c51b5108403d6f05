//! The repository contract of `tabletalk_ports::contract`, run against SQLite (real file, production
//! migrations) and against the in-memory fakes.

use std::sync::Arc;

use tabletalk_adapters_sqlite::{SqliteDatabase, SqliteOptions};
use tabletalk_ports::contract::Repositories;
use tabletalk_ports::fakes::InMemoryStore;
use tempfile::TempDir;

fn sqlite() -> (Repositories, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let database =
        SqliteDatabase::open(&SqliteOptions::new(dir.path().join("contract.db"))).unwrap();
    database.migrate().unwrap();
    (Repositories::from_one(Arc::new(database)), dir)
}

fn in_memory() -> Repositories {
    Repositories::from_one(Arc::new(InMemoryStore::new()))
}

macro_rules! contract_tests {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let (repositories, _dir) = super::sqlite();
                    tabletalk_ports::contract::$check(repositories).await;
                }
            )*
        }

        mod in_memory {
            $(
                #[tokio::test]
                async fn $check() {
                    tabletalk_ports::contract::$check(super::in_memory()).await;
                }
            )*
        }
    };
}

contract_tests!(
    sign_in_creates_then_updates_the_user,
    sessions_round_trip_extend_and_expire,
    sessions_need_an_existing_user,
    list_orders_pinned_then_recent_with_counts_and_preview,
    rename_and_pin_report_missing_conversations,
    deleting_a_conversation_cascades_and_keeps_usage,
    delete_all_only_touches_the_owner,
    appending_a_message_touches_the_conversation,
    dataset_names_and_urls_are_unique_per_conversation,
    usage_window_is_exclusive_and_oldest_first,
    ping_answers,
    pending_logins_are_single_use_and_expire,
    referral_keys_are_single_use,
    adding_datasets_names_them_refuses_conflicts_and_shares_uploads,
    query_history_is_newest_first_capped_and_filtered,
    bulk_pin_touches_only_the_owners_and_keeps_updated_at,
    archiving_splits_the_list_and_touches_only_the_owners,
    deleting_a_message_removes_only_that_message,
    search_answers_what_a_scan_answers_after_any_change,
    titles_match_ignoring_case_with_their_first_message,
    a_conversation_is_stored_with_its_contents_or_not_at_all,
    an_exchange_is_replaced_whole_or_not_at_all,
    shares_keep_their_first_token_until_revoked,
    interrupted_loads_become_errors,
    history_stars_toggle_and_clearing_takes_everything_of_the_user,
    settings_are_created_then_replaced,
    saved_queries_are_ordered_filed_pinned_shared_and_private,
    assistants_round_trip_and_are_listed_to_owners_and_everyone_when_shared,
);
