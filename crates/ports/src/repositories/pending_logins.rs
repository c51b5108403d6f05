use async_trait::async_trait;

use crate::{PendingLogin, RepositoryError, Timestamp};

/// Stores started OIDC sign-ins until their callback.
#[async_trait]
pub trait PendingLoginRepository: Send + Sync + 'static {
    /// Stores a started sign-in.
    ///
    /// # Errors
    /// `Constraint` when the state already exists; `Unavailable`.
    async fn insert(&self, login: &PendingLogin) -> Result<(), RepositoryError>;

    /// Deletes and returns the sign-in named by `state` if it has not expired at `now`; one atomic step, so a
    /// state can be consumed once.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when the row cannot be read.
    async fn consume(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<PendingLogin>, RepositoryError>;

    /// Deletes the sign-in named by `state`, expired or not (the user cancelled).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn discard(&self, state: &str) -> Result<(), RepositoryError>;

    /// Deletes every sign-in with `expires_at <= now`; returns how many.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete_expired(&self, now: Timestamp) -> Result<u64, RepositoryError>;
}
