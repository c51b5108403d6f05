use async_trait::async_trait;

use crate::{Identity, RepositoryError, Timestamp, User, UserId};

/// Stores users.
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// Signs `identity` in: creates the user for `(issuer, subject)` if missing, otherwise updates email, name
    /// and avatar; either way sets `last_login_at = now`. Returns the stored user.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached; `Constraint` never (the pair is the upsert key).
    async fn sign_in(&self, identity: &Identity, now: Timestamp) -> Result<User, RepositoryError>;

    /// The user signed in as `(issuer, subject)`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when the row cannot be read.
    async fn find_by_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<User>, RepositoryError>;

    /// Creates the user for `identity` and consumes `referral_key` in one transaction. Returns `None` (and
    /// stores nothing) when the key does not exist or was already used.
    ///
    /// # Errors
    /// `Constraint` when a user with this identity already exists; `Unavailable`.
    async fn create_with_referral(
        &self,
        identity: &Identity,
        referral_key: &str,
        now: Timestamp,
    ) -> Result<Option<User>, RepositoryError>;

    /// The user with this id.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached; `Corrupt` when the row cannot be read.
    async fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError>;

    /// Every user, oldest first (`created_at`, then id): for the administrator's command line.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn list_all(&self) -> Result<Vec<User>, RepositoryError>;
}
