use async_trait::async_trait;

use crate::{ConversationId, Message, MessageId, RepositoryError, TokenUsage};

/// Stores the messages of conversations.
#[async_trait]
pub trait MessageRepository: Send + Sync + 'static {
    /// Appends a message and moves the conversation's `updated_at` to the message's `created_at`, in one
    /// transaction.
    ///
    /// # Errors
    /// `Constraint` when the conversation does not exist or the id is taken; `Unavailable`.
    async fn append(&self, message: &Message) -> Result<(), RepositoryError>;

    /// Deletes one message of one conversation. Returns whether it was there.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<bool, RepositoryError>;

    /// Redo (docs/api.md, "Chat"), in one transaction: deletes the assistant message `answer` and the user message
    /// `question` of `conversation`, appends `replacement` and moves `updated_at` to its `created_at`. Returns
    /// `false`, changing nothing, when either message is no longer there.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn replace_exchange(
        &self,
        conversation: ConversationId,
        answer: MessageId,
        question: MessageId,
        replacement: &Message,
    ) -> Result<bool, RepositoryError>;

    /// Starts a chat turn (docs/api.md, "Chat"), in one transaction: appends the user message, moves
    /// `updated_at`, and sets the title to `title` when it is empty. Returns `true` when the title was set.
    ///
    /// # Errors
    /// `Constraint` when the conversation does not exist; `Unavailable`.
    async fn append_user_message(
        &self,
        message: &Message,
        title: &str,
    ) -> Result<bool, RepositoryError>;

    /// Ends a chat turn (docs/api.md, "Chat"), in one transaction: the assistant message (when given, and only if its
    /// conversation still exists), the turn's token-usage row (its conversation unlinked when the conversation is
    /// gone), and the conversation's `updated_at`. Returns whether the message was stored.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn finish_turn(
        &self,
        message: Option<&Message>,
        usage: Option<&TokenUsage>,
    ) -> Result<bool, RepositoryError>;

    /// The conversation's messages ordered by `(created_at, id)`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn list_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<Message>, RepositoryError>;

    /// The conversation's newest `limit` messages, ordered by `(created_at, id)` like the whole list. A chat turn
    /// reads only these, so its cost does not grow with the conversation's length.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn list_recent(
        &self,
        conversation: ConversationId,
        limit: usize,
    ) -> Result<Vec<Message>, RepositoryError> {
        let mut all = self.list_for_conversation(conversation).await?;
        all.drain(..all.len().saturating_sub(limit));
        Ok(all)
    }
}
