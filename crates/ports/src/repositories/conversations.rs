use async_trait::async_trait;

use crate::{
    Conversation, ConversationId, ConversationSummary, ConversationTitle, Dataset, Message,
    MessageMatch, RepositoryError, SearchText, Timestamp, TitleMatch, UserId,
};

/// Stores conversations. Deleting a conversation removes its messages and datasets and unlinks its token
/// usage and query history.
#[async_trait]
pub trait ConversationRepository: Send + Sync + 'static {
    /// Stores a new conversation.
    ///
    /// # Errors
    /// `Constraint` when the id exists or the owner does not; `Unavailable` when the store cannot be reached.
    async fn create(&self, conversation: &Conversation) -> Result<(), RepositoryError>;

    /// The conversation with this id, whoever owns it.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when the row cannot be read.
    async fn find(&self, id: ConversationId) -> Result<Option<Conversation>, RepositoryError>;

    /// The owner's conversations whose archive flag is `archived`, with counts and preview, pinned first, then
    /// `updated_at` descending, then id descending.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn list_for_owner(
        &self,
        owner: UserId,
        archived: bool,
    ) -> Result<Vec<ConversationSummary>, RepositoryError>;

    /// Sets the archive flag, leaving `updated_at` alone. Returns the updated conversation, or `None` when it does
    /// not exist.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn set_archived(
        &self,
        id: ConversationId,
        archived: bool,
    ) -> Result<Option<Conversation>, RepositoryError>;

    /// Archives every conversation of `owner` that is not archived yet; returns how many that was.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn archive_all(&self, owner: UserId) -> Result<u64, RepositoryError>;

    /// Sets the title and `updated_at`. Returns the updated conversation, or `None` when it does not exist.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn rename(
        &self,
        id: ConversationId,
        title: &ConversationTitle,
        now: Timestamp,
    ) -> Result<Option<Conversation>, RepositoryError>;

    /// Sets the pin flag and `updated_at`. Returns the updated conversation, or `None` when it does not exist.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn set_pinned(
        &self,
        id: ConversationId,
        pinned: bool,
        now: Timestamp,
    ) -> Result<Option<Conversation>, RepositoryError>;

    /// Sets the pin flag of those of `ids` that `owner` owns, leaving `updated_at` alone; returns how many that was.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn set_pinned_many(
        &self,
        owner: UserId,
        ids: &[ConversationId],
        pinned: bool,
    ) -> Result<u64, RepositoryError>;

    /// Deletes one conversation with its messages and datasets. Returns whether it existed.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete(&self, id: ConversationId) -> Result<bool, RepositoryError>;

    /// Deletes every conversation of `owner` (with their messages and datasets) in one transaction; returns the
    /// ids of the deleted conversations so their running turns can be cancelled.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete_all_for_owner(
        &self,
        owner: UserId,
    ) -> Result<Vec<ConversationId>, RepositoryError>;

    /// Stores a conversation together with its messages and datasets in one transaction (fork, import): all of it
    /// or nothing. Datasets that reference an upload reference an existing upload row of the same owner.
    ///
    /// # Errors
    /// `Constraint` when an id exists, the owner or an upload does not, or two datasets share a name or URL;
    /// `Unavailable`.
    async fn create_with_contents(
        &self,
        conversation: &Conversation,
        messages: &[Message],
        datasets: &[Dataset],
    ) -> Result<(), RepositoryError>;

    /// The owner's messages whose content contains `text` ignoring case ([`SearchText::matches`]), newest first
    /// (`created_at`, then id, descending), at most `limit`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn search_messages(
        &self,
        owner: UserId,
        text: &SearchText,
        limit: usize,
    ) -> Result<Vec<MessageMatch>, RepositoryError>;

    /// The owner's conversations whose title contains `text` ignoring case, most recently updated first, at most
    /// `limit`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn search_titles(
        &self,
        owner: UserId,
        text: &SearchText,
        limit: usize,
    ) -> Result<Vec<TitleMatch>, RepositoryError>;

    /// Shares the conversation under `token` and sets `shared_at = now`, unless it is already shared, in which
    /// case its existing token stays. Returns the conversation as stored afterwards, or `None` when it does not
    /// exist.
    ///
    /// # Errors
    /// `Constraint` when another conversation has the token; `Unavailable`.
    async fn share(
        &self,
        id: ConversationId,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<Conversation>, RepositoryError>;

    /// Clears the share token and `shared_at` (idempotent). Returns whether the conversation exists.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn unshare(&self, id: ConversationId) -> Result<bool, RepositoryError>;

    /// The conversation shared under `token`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt`.
    async fn find_shared(&self, token: &str) -> Result<Option<Conversation>, RepositoryError>;
}
