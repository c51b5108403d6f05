use async_trait::async_trait;

use crate::{RepositoryError, UserId, UserSettings};

/// Stores each user's settings row.
#[async_trait]
pub trait SettingsRepository: Send + Sync + 'static {
    /// The user's settings, `None` before the first save.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt`.
    async fn find(&self, user: UserId) -> Result<Option<UserSettings>, RepositoryError>;

    /// Creates or replaces the user's settings row.
    ///
    /// # Errors
    /// `Constraint` when the user does not exist; `Unavailable`.
    async fn save(&self, settings: &UserSettings) -> Result<(), RepositoryError>;
}
