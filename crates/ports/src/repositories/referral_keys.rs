use async_trait::async_trait;

use crate::{ReferralKey, RepositoryError, Timestamp, UserId};

/// Stores single-use invitation keys.
#[async_trait]
pub trait ReferralKeyRepository: Send + Sync + 'static {
    /// Stores new unused keys, all or none.
    ///
    /// # Errors
    /// `Constraint` when a key already exists; `Unavailable`.
    async fn create(
        &self,
        keys: &[String],
        created_by: Option<UserId>,
        now: Timestamp,
    ) -> Result<(), RepositoryError>;

    /// Every key, oldest first; only unused ones when `unused_only`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn list(&self, unused_only: bool) -> Result<Vec<ReferralKey>, RepositoryError>;
}
