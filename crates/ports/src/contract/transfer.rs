//! Writing a whole conversation at once (fork, import), redo's exchange, and sharing.

use super::conversations::url_dataset;
use super::{Repositories, at, conversation, owner};
use crate::{Conversation, Message, MessageRole, RepositoryError};

/// A conversation arrives with its messages and datasets, all or nothing: a conflict in the last dataset leaves
/// no conversation behind.
pub async fn a_conversation_is_stored_with_its_contents_or_not_at_all(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let mut copy = Conversation::new(alice, at(1));
    "Fork of sales".clone_into(&mut copy.title);
    copy.next_table_number = 4;
    let question = Message::user(copy.id, "how many?", at(1));
    let mut answer = Message::user(copy.id, "three", at(2));
    answer.role = MessageRole::Assistant;
    let data = url_dataset(copy.id, "table3", "https://data.example/a.parquet", at(1));
    repos
        .conversations
        .create_with_contents(
            &copy,
            &[question.clone(), answer.clone()],
            std::slice::from_ref(&data),
        )
        .await
        .unwrap();
    assert_eq!(
        repos.conversations.find(copy.id).await.unwrap(),
        Some(copy.clone())
    );
    assert_eq!(
        repos.messages.list_for_conversation(copy.id).await.unwrap(),
        [question, answer]
    );
    assert_eq!(
        repos.datasets.list_for_conversation(copy.id).await.unwrap(),
        [data]
    );

    let broken = Conversation::new(alice, at(3));
    let first = url_dataset(broken.id, "sales", "https://data.example/a.parquet", at(3));
    let clash = url_dataset(broken.id, "SALES", "https://data.example/b.parquet", at(3));
    let outcome = repos
        .conversations
        .create_with_contents(
            &broken,
            &[Message::user(broken.id, "hi", at(3))],
            &[first, clash],
        )
        .await;
    assert!(
        matches!(outcome, Err(RepositoryError::Constraint(_))),
        "{outcome:?}"
    );
    assert_eq!(repos.conversations.find(broken.id).await.unwrap(), None);
    assert!(
        repos
            .messages
            .list_for_conversation(broken.id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Redo's exchange: both messages go and the replacement comes in one step, or nothing changes when one of them
/// is already gone.
pub async fn an_exchange_is_replaced_whole_or_not_at_all(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let c = conversation(&repos, alice, 1).await;
    let question = Message::user(c.id, "how many?", at(2));
    let mut answer = Message::user(c.id, "three", at(3));
    answer.role = MessageRole::Assistant;
    repos.messages.append(&question).await.unwrap();
    repos.messages.append(&answer).await.unwrap();

    let again = Message::user(c.id, "how many?", at(9));
    assert!(
        repos
            .messages
            .replace_exchange(c.id, answer.id, question.id, &again)
            .await
            .unwrap()
    );
    assert_eq!(
        repos.messages.list_for_conversation(c.id).await.unwrap(),
        std::slice::from_ref(&again)
    );
    assert_eq!(
        repos
            .conversations
            .find(c.id)
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        at(9)
    );

    let late = Message::user(c.id, "late", at(10));
    assert!(
        !repos
            .messages
            .replace_exchange(c.id, answer.id, again.id, &late)
            .await
            .unwrap(),
        "the answer is gone already"
    );
    assert_eq!(
        repos.messages.list_for_conversation(c.id).await.unwrap(),
        [again]
    );
}

/// Sharing keeps the first token, unsharing is idempotent, and a token finds only its conversation.
pub async fn shares_keep_their_first_token_until_revoked(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let c = conversation(&repos, alice, 1).await;
    let other = conversation(&repos, alice, 2).await;

    let shared = repos
        .conversations
        .share(c.id, "token-one", at(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shared.share_token.as_deref(), Some("token-one"));
    assert_eq!(shared.shared_at, Some(at(5)));
    let again = repos
        .conversations
        .share(c.id, "token-two", at(6))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.share_token.as_deref(),
        Some("token-one"),
        "the existing token stays"
    );
    assert_eq!(again.shared_at, Some(at(5)));
    assert!(matches!(
        repos
            .conversations
            .share(other.id, "token-one", at(7))
            .await,
        Err(RepositoryError::Constraint(_))
    ));
    assert_eq!(
        repos
            .conversations
            .find_shared("token-one")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(c.id)
    );
    assert_eq!(
        repos.conversations.find_shared("token-two").await.unwrap(),
        None
    );
    assert!(
        repos
            .conversations
            .share(crate::ConversationId::new(), "x", at(8))
            .await
            .unwrap()
            .is_none()
    );

    assert!(repos.conversations.unshare(c.id).await.unwrap());
    assert!(
        repos.conversations.unshare(c.id).await.unwrap(),
        "idempotent"
    );
    assert_eq!(
        repos.conversations.find_shared("token-one").await.unwrap(),
        None
    );
    let cleared = repos.conversations.find(c.id).await.unwrap().unwrap();
    assert_eq!((cleared.share_token, cleared.shared_at), (None, None));
    assert!(
        !repos
            .conversations
            .unshare(crate::ConversationId::new())
            .await
            .unwrap()
    );
}

/// At start-up, loads a stop cut off become errors; every other dataset stays as it was.
pub async fn interrupted_loads_become_errors(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let c = conversation(&repos, alice, 1).await;
    let ready = url_dataset(c.id, "ready", "https://data.example/a.parquet", at(1));
    let mut loading = url_dataset(c.id, "loading", "https://data.example/b.parquet", at(1));
    loading.status = crate::DatasetStatus::Loading;
    loading.version = None;
    loading.loaded_at = None;
    repos.datasets.insert(&ready).await.unwrap();
    repos.datasets.insert(&loading).await.unwrap();

    assert_eq!(
        repos
            .datasets
            .fail_interrupted_loads("cut off")
            .await
            .unwrap(),
        1
    );
    let after = repos.datasets.list_for_conversation(c.id).await.unwrap();
    assert_eq!(after[0], ready);
    assert_eq!(after[1].status, crate::DatasetStatus::Error);
    assert_eq!(after[1].error_message.as_deref(), Some("cut off"));
    assert_eq!(
        repos
            .datasets
            .fail_interrupted_loads("cut off")
            .await
            .unwrap(),
        0
    );
}
