use async_trait::async_trait;

use crate::{ConversationId, Dataset, RepositoryError};

/// Stores the datasets attached to conversations (metadata only; content lives in files).
#[async_trait]
pub trait DatasetRepository: Send + Sync + 'static {
    /// Stores a new dataset.
    ///
    /// # Errors
    /// `Constraint` when the conversation does not exist, the name is taken (case-insensitively) or the URL is
    /// already attached; `Unavailable`.
    async fn insert(&self, dataset: &Dataset) -> Result<(), RepositoryError>;

    /// The conversation's datasets ordered by `(created_at, id)`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn list_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<Dataset>, RepositoryError>;
}
