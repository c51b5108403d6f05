//! Conversation use cases (create, list, detail, rename, pin, delete, search, share; docs/api.md,
//! "Conversations") with the ownership rule: a conversation is visible and changeable only by the user who owns
//! it (a shared conversation is also readable, through its token, by anyone).

mod search;
mod sharing;

pub use search::{MatchedIn, SearchQuery, SearchResult, snippet};
pub use sharing::SharedViewError;

use std::sync::Arc;

use tabletalk_ports::{
    Clock, Conversation, ConversationId, ConversationRepository, ConversationSummary,
    ConversationTitle, Dataset, DatasetRepository, Message, MessageRepository, RepositoryError,
    UserId,
};

use crate::rate_window::RateWindow;

/// A conversation use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("conversation not found")]
    NotFound,
    /// The conversation belongs to another user.
    #[error("conversation belongs to another user")]
    Forbidden,
    /// The operating system gave no random bytes for a token.
    #[error("no randomness for a share token")]
    Randomness(#[source] getrandom::Error),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// A conversation with its messages and datasets, each in `(created_at, id)` order.
#[derive(Debug, Clone)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
    pub datasets: Vec<Dataset>,
}

/// Creates, lists, reads, renames, pins and deletes conversations.
pub struct ConversationService {
    conversations: Arc<dyn ConversationRepository>,
    messages: Arc<dyn MessageRepository>,
    datasets: Arc<dyn DatasetRepository>,
    clock: Arc<dyn Clock>,
    shared_views: RateWindow,
}

impl std::fmt::Debug for ConversationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationService")
            .finish_non_exhaustive()
    }
}

impl ConversationService {
    pub fn new(
        conversations: Arc<dyn ConversationRepository>,
        messages: Arc<dyn MessageRepository>,
        datasets: Arc<dyn DatasetRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            conversations,
            messages,
            datasets,
            clock,
            shared_views: RateWindow::new(sharing::VIEWS_PER_WINDOW, sharing::VIEW_WINDOW),
        }
    }

    /// Search: the owner's messages and titles containing the text, newest first, at most the query's limit.
    ///
    /// # Errors
    /// `Storage`.
    pub async fn search(
        &self,
        owner: UserId,
        query: &SearchQuery,
    ) -> Result<Vec<SearchResult>, ConversationError> {
        let contents = self
            .conversations
            .search_messages(owner, query.text(), query.limit())
            .await?;
        let titles = self
            .conversations
            .search_titles(owner, query.text(), query.limit())
            .await?;
        Ok(search::merge(query, contents, titles))
    }

    /// Create: a new, empty, untitled conversation.
    pub async fn create(&self, owner: UserId) -> Result<Conversation, ConversationError> {
        let conversation = Conversation::new(owner, self.clock.now());
        self.conversations.create(&conversation).await?;
        Ok(conversation)
    }

    /// List: the owner's conversations (the archived ones when `archived`, else the others), pinned first, then
    /// most recently updated.
    pub async fn list(
        &self,
        owner: UserId,
        archived: bool,
    ) -> Result<Vec<ConversationSummary>, ConversationError> {
        Ok(self.conversations.list_for_owner(owner, archived).await?)
    }

    /// Archive or unarchive one conversation; `updated_at` stays.
    pub async fn set_archived(
        &self,
        user: UserId,
        id: ConversationId,
        archived: bool,
    ) -> Result<Conversation, ConversationError> {
        self.owned(user, id).await?;
        self.conversations
            .set_archived(id, archived)
            .await?
            .ok_or(ConversationError::NotFound)
    }

    /// Archive all: every conversation of the owner not archived yet; returns how many.
    pub async fn archive_all(&self, owner: UserId) -> Result<u64, ConversationError> {
        Ok(self.conversations.archive_all(owner).await?)
    }

    /// The conversation, if `user` owns it: 404 before 403, as docs/api.md orders the checks.
    pub async fn owned(
        &self,
        user: UserId,
        id: ConversationId,
    ) -> Result<Conversation, ConversationError> {
        match self.conversations.find(id).await? {
            None => Err(ConversationError::NotFound),
            Some(c) if c.user_id != user => Err(ConversationError::Forbidden),
            Some(c) => Ok(c),
        }
    }

    /// Detail: the conversation with its messages and datasets.
    pub async fn detail(
        &self,
        user: UserId,
        id: ConversationId,
    ) -> Result<ConversationDetail, ConversationError> {
        let conversation = self.owned(user, id).await?;
        let messages = self.messages.list_for_conversation(id).await?;
        let datasets = self.datasets.list_for_conversation(id).await?;
        Ok(ConversationDetail {
            conversation,
            messages,
            datasets,
        })
    }

    /// Rename: sets the title and `updated_at`.
    pub async fn rename(
        &self,
        user: UserId,
        id: ConversationId,
        title: &ConversationTitle,
    ) -> Result<Conversation, ConversationError> {
        self.owned(user, id).await?;
        self.conversations
            .rename(id, title, self.clock.now())
            .await?
            .ok_or(ConversationError::NotFound)
    }

    /// Pin: sets the pin flag and `updated_at` (idempotent).
    pub async fn set_pinned(
        &self,
        user: UserId,
        id: ConversationId,
        pinned: bool,
    ) -> Result<Conversation, ConversationError> {
        self.owned(user, id).await?;
        self.conversations
            .set_pinned(id, pinned, self.clock.now())
            .await?
            .ok_or(ConversationError::NotFound)
    }

    /// Delete: deletes the conversation with its messages and datasets; usage rows stay, unlinked.
    pub async fn delete(&self, user: UserId, id: ConversationId) -> Result<(), ConversationError> {
        self.owned(user, id).await?;
        if self.conversations.delete(id).await? {
            Ok(())
        } else {
            Err(ConversationError::NotFound)
        }
    }

    /// Bulk pin: sets the pin flag of those of `ids` that `owner` owns (others are skipped), without moving
    /// `updated_at`; returns how many were the owner's.
    pub async fn set_pinned_many(
        &self,
        owner: UserId,
        ids: &[ConversationId],
        pinned: bool,
    ) -> Result<u64, ConversationError> {
        Ok(self
            .conversations
            .set_pinned_many(owner, ids, pinned)
            .await?)
    }

    /// Delete all: deletes every conversation of `owner`; returns their ids.
    pub async fn delete_all(
        &self,
        owner: UserId,
    ) -> Result<Vec<ConversationId>, ConversationError> {
        Ok(self.conversations.delete_all_for_owner(owner).await?)
    }
}

#[cfg(test)]
mod tests {
    use tabletalk_ports::fakes::{InMemoryStore, ManualClock};
    use tabletalk_ports::{Identity, UserRepository};

    use super::*;

    #[tokio::test]
    async fn only_the_owner_reaches_a_conversation_and_unknown_ids_are_not_found() {
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(ManualClock::at_new_year());
        let service =
            ConversationService::new(store.clone(), store.clone(), store.clone(), clock.clone());
        let alice = store
            .sign_in(&Identity::local_user(), clock.now())
            .await
            .unwrap()
            .id;
        let mallory = store
            .sign_in(
                &Identity {
                    subject: "mallory".to_owned(),
                    ..Identity::local_user()
                },
                clock.now(),
            )
            .await
            .unwrap()
            .id;
        let c = service.create(alice).await.unwrap();
        let title = ConversationTitle::parse("mine").unwrap();

        assert!(matches!(
            service.detail(mallory, c.id).await,
            Err(ConversationError::Forbidden)
        ));
        assert!(matches!(
            service.rename(mallory, c.id, &title).await,
            Err(ConversationError::Forbidden)
        ));
        assert!(matches!(
            service.delete(mallory, c.id).await,
            Err(ConversationError::Forbidden)
        ));
        assert!(service.delete_all(mallory).await.unwrap().is_empty());
        assert!(matches!(
            service.detail(alice, ConversationId::new()).await,
            Err(ConversationError::NotFound)
        ));
        assert_eq!(
            service
                .detail(alice, c.id)
                .await
                .unwrap()
                .conversation
                .title,
            "",
            "untouched by mallory"
        );
    }
}
