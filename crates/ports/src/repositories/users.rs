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

    /// The user with this id.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached; `Corrupt` when the row cannot be read.
    async fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError>;
}
