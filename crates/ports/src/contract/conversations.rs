use super::{Repositories, at, conversation, owner};
use crate::{
    ColumnSchema, ColumnStats, Compression, ConversationId, ConversationTitle, Dataset,
    DatasetFormat, DatasetId, DatasetSource, DatasetStatus, ExecutionOutcome, ExecutionResult,
    Message, MessageRole, RepositoryError, SqlExecution, Timestamp, TraceStep,
};

/// A ready URL dataset named `name`.
pub fn url_dataset(
    conversation: ConversationId,
    name: &str,
    url: &str,
    created: Timestamp,
) -> Dataset {
    Dataset {
        id: DatasetId::new(),
        conversation_id: conversation,
        name: name.to_owned(),
        source: DatasetSource::Url,
        url: url.to_owned(),
        upload_id: None,
        format: DatasetFormat::Parquet,
        compression: Compression::None,
        status: DatasetStatus::Ready,
        error_message: None,
        row_count: 3,
        column_count: 2,
        columns: vec![ColumnSchema {
            name: "amount".to_owned(),
            sql_type: "DOUBLE".to_owned(),
            nullable: true,
            sample_values: vec!["1.5".to_owned(), "9".to_owned()],
            stats: ColumnStats {
                null_count: Some(0),
                min: Some(serde_json::json!(1.5)),
                max: Some(serde_json::json!(9.0)),
                unique_count: None,
            },
        }],
        column_descriptions: [("amount".to_owned(), "in euros".to_owned())].into(),
        file_size_bytes: Some(1024),
        etag: Some("\"abc\"".to_owned()),
        last_modified: None,
        version: Some("etag:\"abc\"".to_owned()),
        created_at: created,
        loaded_at: Some(created),
    }
}

/// Lists are pinned first, then most recently updated, then id descending; counts and the 100-character
/// preview of the newest message come with each item; other users' conversations never appear.
pub async fn list_orders_pinned_then_recent_with_counts_and_preview(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let bob = owner(&repos, "bob").await;
    let old = conversation(&repos, alice, 1).await;
    let pinned = conversation(&repos, alice, 2).await;
    let recent = conversation(&repos, alice, 3).await;
    let tie = conversation(&repos, alice, 3).await;
    conversation(&repos, bob, 4).await;

    repos
        .conversations
        .set_pinned(pinned.id, true, at(2))
        .await
        .unwrap()
        .unwrap();
    let long_text = "ü".repeat(150);
    repos
        .messages
        .append(&Message::user(old.id, "first", at(5)))
        .await
        .unwrap();
    repos
        .messages
        .append(&Message::user(old.id, long_text.as_str(), at(6)))
        .await
        .unwrap();
    repos
        .datasets
        .insert(&url_dataset(
            recent.id,
            "sales",
            "https://data.example/s.parquet",
            at(3),
        ))
        .await
        .unwrap();

    let list = repos
        .conversations
        .list_for_owner(alice, false)
        .await
        .unwrap();
    let ids: Vec<_> = list.iter().map(|s| s.conversation.id).collect();
    // `old` was touched last by its messages (t0+6), `tie` and `recent` share t0+3 and are ordered by id.
    assert_eq!(ids, vec![pinned.id, old.id, tie.id, recent.id]);
    assert!(tie.id > recent.id);

    let old_summary = &list[1];
    assert_eq!(old_summary.message_count, 2);
    assert_eq!(old_summary.conversation.updated_at, at(6));
    assert_eq!(
        old_summary.last_message_preview.as_deref(),
        Some("ü".repeat(100).as_str())
    );
    assert_eq!(list[3].dataset_count, 1);
    assert_eq!(list[3].last_message_preview, None);
    assert_eq!(list[0].message_count, 0);
}

/// Rename and pin set `updated_at`; both answer `None` for an unknown conversation.
pub async fn rename_and_pin_report_missing_conversations(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let c = conversation(&repos, alice, 1).await;
    let title = ConversationTitle::parse("Quarterly sales").unwrap();

    let renamed = repos
        .conversations
        .rename(c.id, &title, at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (renamed.title.as_str(), renamed.updated_at),
        ("Quarterly sales", at(10))
    );
    let pinned = repos
        .conversations
        .set_pinned(c.id, true, at(20))
        .await
        .unwrap()
        .unwrap();
    assert!(pinned.is_pinned);
    assert_eq!(pinned.updated_at, at(20));
    assert_eq!(repos.conversations.find(c.id).await.unwrap(), Some(pinned));

    let missing = ConversationId::new();
    assert_eq!(
        repos
            .conversations
            .rename(missing, &title, at(30))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        repos
            .conversations
            .set_pinned(missing, true, at(30))
            .await
            .unwrap(),
        None
    );
    assert_eq!(repos.conversations.find(missing).await.unwrap(), None);
}

/// Deleting a conversation removes its messages and datasets; its token usage stays, unlinked.
pub async fn deleting_a_conversation_cascades_and_keeps_usage(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let doomed = conversation(&repos, alice, 1).await;
    let kept = conversation(&repos, alice, 2).await;
    repos
        .messages
        .append(&Message::user(doomed.id, "hello", at(3)))
        .await
        .unwrap();
    repos
        .messages
        .append(&Message::user(kept.id, "still here", at(4)))
        .await
        .unwrap();
    repos
        .datasets
        .insert(&url_dataset(
            doomed.id,
            "t1",
            "https://d.example/a.csv",
            at(3),
        ))
        .await
        .unwrap();
    super::usage::record_usage(&repos, alice, Some(doomed.id), 500, at(5)).await;

    assert!(repos.conversations.delete(doomed.id).await.unwrap());
    assert!(!repos.conversations.delete(doomed.id).await.unwrap());
    assert_eq!(repos.conversations.find(doomed.id).await.unwrap(), None);
    assert!(
        repos
            .messages
            .list_for_conversation(doomed.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        repos
            .datasets
            .list_for_conversation(doomed.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        repos
            .messages
            .list_for_conversation(kept.id)
            .await
            .unwrap()
            .len(),
        1
    );

    let usage = repos.token_usage.entries_since(alice, at(0)).await.unwrap();
    assert_eq!(
        usage.iter().map(|e| e.tokens).sum::<i64>(),
        500,
        "usage survives the conversation"
    );
}

/// Deleting all conversations touches only the owner's.
pub async fn delete_all_only_touches_the_owner(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let bob = owner(&repos, "bob").await;
    let a1 = conversation(&repos, alice, 1).await;
    let a2 = conversation(&repos, alice, 2).await;
    let b1 = conversation(&repos, bob, 3).await;
    repos
        .messages
        .append(&Message::user(a1.id, "x", at(4)))
        .await
        .unwrap();
    repos
        .datasets
        .insert(&url_dataset(a1.id, "t1", "https://d.example/a.csv", at(4)))
        .await
        .unwrap();

    let mut deleted = repos
        .conversations
        .delete_all_for_owner(alice)
        .await
        .unwrap();
    deleted.sort();
    let mut expected = vec![a1.id, a2.id];
    expected.sort();
    assert_eq!(deleted, expected);
    assert!(
        repos
            .conversations
            .list_for_owner(alice, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        repos
            .messages
            .list_for_conversation(a1.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        repos
            .datasets
            .list_for_conversation(a1.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        repos
            .conversations
            .find(b1.id)
            .await
            .unwrap()
            .map(|c| c.user_id),
        Some(bob)
    );
    assert!(
        repos
            .conversations
            .delete_all_for_owner(alice)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Appending stores the message, moves `updated_at`, and keeps `(created_at, id)` order; a message for an
/// unknown conversation is refused.
pub async fn appending_a_message_touches_the_conversation(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let c = conversation(&repos, alice, 1).await;
    let later = Message::user(c.id, "later", at(9));
    let mut answer = Message::user(c.id, "answer", at(5));
    answer.role = MessageRole::Assistant;
    answer.input_tokens = 10;
    answer.output_tokens = 5;
    answer.sql_executions = vec![
        SqlExecution {
            query: "SELECT 1 AS one".to_owned(),
            outcome: ExecutionOutcome::Succeeded(ExecutionResult {
                columns: vec!["one".to_owned()],
                rows: vec![vec![serde_json::Value::from(1)]],
                total_rows: 1,
                execution_ms: 12.5,
                limit_applied: true,
            }),
        },
        SqlExecution {
            query: "SELECT nope".to_owned(),
            outcome: ExecutionOutcome::Failed {
                error: "Column nope does not exist.".to_owned(),
            },
        },
    ];
    answer.trace = vec![
        TraceStep::Reasoning("thinking".to_owned()),
        TraceStep::ToolCall {
            tool: "execute_sql".to_owned(),
            args: serde_json::json!({"query": "SELECT 1 AS one"}),
            result: "{\"ok\":true}".to_owned(),
        },
        TraceStep::Text("hi".to_owned()),
    ];
    answer.model = Some("gemini-2.5-flash".to_owned());
    let earlier = Message::user(c.id, "earlier", at(5));

    repos.messages.append(&later).await.unwrap();
    repos.messages.append(&answer).await.unwrap();
    repos.messages.append(&earlier).await.unwrap();

    let stored = repos.messages.list_for_conversation(c.id).await.unwrap();
    let expected_order = if answer.id < earlier.id {
        [&answer, &earlier, &later]
    } else {
        [&earlier, &answer, &later]
    };
    assert_eq!(stored.iter().collect::<Vec<_>>(), expected_order);
    assert_eq!(
        stored.iter().find(|m| m.id == answer.id),
        Some(&answer),
        "every field round-trips"
    );
    let recent = repos.messages.list_recent(c.id, 2).await.unwrap();
    assert_eq!(recent.iter().collect::<Vec<_>>(), expected_order[1..]);
    assert_eq!(
        repos.messages.list_recent(c.id, 10).await.unwrap(),
        stored,
        "a limit beyond the count gives everything"
    );
    // `updated_at` follows the most recently appended message, even when it is older.
    assert_eq!(
        repos
            .conversations
            .find(c.id)
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        at(5)
    );

    let orphan = Message::user(ConversationId::new(), "nobody home", at(10));
    assert!(matches!(
        repos.messages.append(&orphan).await,
        Err(RepositoryError::Constraint(_))
    ));
}

/// Names are unique per conversation regardless of case, URLs are unique per conversation, and both rules
/// are local to one conversation.
pub async fn dataset_names_and_urls_are_unique_per_conversation(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let c = conversation(&repos, alice, 1).await;
    let other = conversation(&repos, alice, 2).await;
    let first = url_dataset(c.id, "Sales", "https://d.example/a.parquet", at(3));
    repos.datasets.insert(&first).await.unwrap();

    let same_name = url_dataset(c.id, "SALES", "https://d.example/b.parquet", at(4));
    assert!(matches!(
        repos.datasets.insert(&same_name).await,
        Err(RepositoryError::Constraint(_))
    ));
    let same_url = url_dataset(c.id, "sales2", "https://d.example/a.parquet", at(4));
    assert!(matches!(
        repos.datasets.insert(&same_url).await,
        Err(RepositoryError::Constraint(_))
    ));
    repos
        .datasets
        .insert(&url_dataset(
            other.id,
            "sales",
            "https://d.example/a.parquet",
            at(4),
        ))
        .await
        .unwrap();

    assert_eq!(
        repos.datasets.list_for_conversation(c.id).await.unwrap(),
        vec![first]
    );
}

/// `set_pinned_many` pins only the owner's conversations among the ids, counts them, and leaves `updated_at` alone.
pub async fn bulk_pin_touches_only_the_owners_and_keeps_updated_at(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let bob = owner(&repos, "bob").await;
    let a1 = conversation(&repos, alice, 1).await;
    let a2 = conversation(&repos, alice, 2).await;
    let b1 = conversation(&repos, bob, 3).await;
    let ids = [a1.id, b1.id, ConversationId::new()];
    assert_eq!(
        repos
            .conversations
            .set_pinned_many(alice, &ids, true)
            .await
            .unwrap(),
        1
    );
    let found = |id| {
        let repos = repos.clone();
        async move { repos.conversations.find(id).await.unwrap().unwrap() }
    };
    let pinned = found(a1.id).await;
    assert!(pinned.is_pinned);
    assert_eq!(pinned.updated_at, a1.updated_at);
    assert!(!found(a2.id).await.is_pinned);
    assert!(!found(b1.id).await.is_pinned);
    assert_eq!(
        repos
            .conversations
            .set_pinned_many(alice, &[a1.id, a2.id], false)
            .await
            .unwrap(),
        2
    );
    assert!(!found(a1.id).await.is_pinned);
}

/// `delete` removes one message of one conversation: the same id under another conversation is not found.
pub async fn deleting_a_message_removes_only_that_message(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let c = conversation(&repos, alice, 1).await;
    let other = conversation(&repos, alice, 2).await;
    let first = Message::user(c.id, "first", at(3));
    let second = Message::user(c.id, "second", at(4));
    repos.messages.append(&first).await.unwrap();
    repos.messages.append(&second).await.unwrap();
    assert!(!repos.messages.delete(other.id, first.id).await.unwrap());
    assert!(repos.messages.delete(c.id, first.id).await.unwrap());
    assert!(!repos.messages.delete(c.id, first.id).await.unwrap());
    assert_eq!(
        repos.messages.list_for_conversation(c.id).await.unwrap(),
        [second]
    );
}

/// Archived conversations leave the default list and make up the archived one; the flag leaves `updated_at` alone;
/// archive-all touches only the owner's and counts only those it changed; unknown ids answer `None`.
pub async fn archiving_splits_the_list_and_touches_only_the_owners(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let bob = owner(&repos, "bob").await;
    let first = conversation(&repos, alice, 1).await;
    let second = conversation(&repos, alice, 2).await;
    let theirs = conversation(&repos, bob, 3).await;
    let c = &repos.conversations;
    let archived = c.set_archived(first.id, true).await.unwrap().unwrap();
    assert!(archived.is_archived);
    assert_eq!(archived.updated_at, first.updated_at);
    assert_eq!(c.find(first.id).await.unwrap().unwrap(), archived);
    let ids = |list: Vec<crate::ConversationSummary>| -> Vec<ConversationId> {
        list.iter().map(|s| s.conversation.id).collect()
    };
    assert_eq!(
        ids(c.list_for_owner(alice, false).await.unwrap()),
        vec![second.id]
    );
    assert_eq!(
        ids(c.list_for_owner(alice, true).await.unwrap()),
        vec![first.id]
    );
    assert_eq!(
        c.archive_all(alice).await.unwrap(),
        1,
        "only the one not archived yet"
    );
    assert_eq!(
        ids(c.list_for_owner(alice, true).await.unwrap()),
        vec![second.id, first.id]
    );
    assert!(c.list_for_owner(alice, false).await.unwrap().is_empty());
    assert!(!c.find(theirs.id).await.unwrap().unwrap().is_archived);
    assert_eq!(
        ids(c.list_for_owner(bob, false).await.unwrap()),
        vec![theirs.id]
    );
    let back = c.set_archived(first.id, false).await.unwrap().unwrap();
    assert!(!back.is_archived);
    assert_eq!(
        c.set_archived(ConversationId::new(), true).await.unwrap(),
        None
    );
}
