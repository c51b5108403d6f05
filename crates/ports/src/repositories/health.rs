use async_trait::async_trait;

use crate::RepositoryError;

/// Liveness of the database behind the repositories.
#[async_trait]
pub trait DatabaseHealth: Send + Sync + 'static {
    /// Runs a trivial query.
    ///
    /// # Errors
    /// `Unavailable` when the database does not answer.
    async fn ping(&self) -> Result<(), RepositoryError>;
}
