use async_trait::async_trait;

use crate::{Assistant, AssistantId, RepositoryError, UserId};

/// Stores assistants. Who may see or change one is the domain's rule; this port finds and writes rows.
#[async_trait]
pub trait AssistantRepository: Send + Sync + 'static {
    /// Stores a new assistant.
    ///
    /// # Errors
    /// `Constraint` when the owner does not exist or the id is taken; `Unavailable`.
    async fn create(&self, assistant: &Assistant) -> Result<(), RepositoryError>;

    /// The assistant with this id, whoever owns it.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt`.
    async fn find(&self, id: AssistantId) -> Result<Option<Assistant>, RepositoryError>;

    /// The user's own assistants and every shared one, most recently updated first (then id descending).
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt`.
    async fn list_visible(&self, user: UserId) -> Result<Vec<Assistant>, RepositoryError>;

    /// Replaces every field but the id, the owner and `created_at`; `false` when the assistant does not exist.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn update(&self, assistant: &Assistant) -> Result<bool, RepositoryError>;

    /// Deletes an assistant (conversations started from it keep what they copied); `false` when it did not exist.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete(&self, id: AssistantId) -> Result<bool, RepositoryError>;
}
