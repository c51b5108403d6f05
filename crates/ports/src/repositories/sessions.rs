use async_trait::async_trait;

use crate::{RepositoryError, Session, SessionId, Timestamp, TokenHash};

/// Stores sign-in sessions by the hash of their token.
#[async_trait]
pub trait SessionRepository: Send + Sync + 'static {
    /// Stores a new session.
    ///
    /// # Errors
    /// `Constraint` when the token hash already exists or the user does not; `Unavailable` when the store
    /// cannot be reached.
    async fn create(&self, session: &Session) -> Result<(), RepositoryError>;

    /// The session whose token hashes to `hash`, expired or not.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached; `Corrupt` when the row cannot be read.
    async fn find_by_token_hash(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<Session>, RepositoryError>;

    /// Moves the session's expiry (sliding expiry). Returns whether the session still existed.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn extend(
        &self,
        id: SessionId,
        expires_at: Timestamp,
        extended_at: Timestamp,
    ) -> Result<bool, RepositoryError>;

    /// Deletes one session. Returns whether it existed.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn delete(&self, id: SessionId) -> Result<bool, RepositoryError>;

    /// Deletes every session with `expires_at <= now`; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn delete_expired(&self, now: Timestamp) -> Result<u64, RepositoryError>;
}
