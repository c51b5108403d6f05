use async_trait::async_trait;

use crate::{ConversationId, Message, RepositoryError};

/// Stores the messages of conversations.
#[async_trait]
pub trait MessageRepository: Send + Sync + 'static {
    /// Appends a message and moves the conversation's `updated_at` to the message's `created_at`, in one
    /// transaction.
    ///
    /// # Errors
    /// `Constraint` when the conversation does not exist or the id is taken; `Unavailable`.
    async fn append(&self, message: &Message) -> Result<(), RepositoryError>;

    /// The conversation's messages ordered by `(created_at, id)`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn list_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<Message>, RepositoryError>;
}
