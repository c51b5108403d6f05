use async_trait::async_trait;

use crate::{RepositoryError, SavedQuery, SavedQueryId, Timestamp, UserId};

/// Stores saved queries. Every method but [`SavedQueryRepository::find_shared`] acts only on the given user's rows:
/// another user's id is the same as an unknown one.
#[async_trait]
pub trait SavedQueryRepository: Send + Sync + 'static {
    /// Stores a new saved query.
    ///
    /// # Errors
    /// `Constraint` when the user does not exist or the id is taken; `Unavailable`.
    async fn create(&self, query: &SavedQuery) -> Result<(), RepositoryError>;

    /// The user's saved queries, pinned first, then newest first.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt`.
    async fn list(&self, user: UserId) -> Result<Vec<SavedQuery>, RepositoryError>;

    /// The user's distinct non-empty folders, sorted.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn folders(&self, user: UserId) -> Result<Vec<String>, RepositoryError>;

    /// Moves a saved query into `folder` (`""`: none); `false` when the user has no such query.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn set_folder(
        &self,
        user: UserId,
        id: SavedQueryId,
        folder: &str,
    ) -> Result<bool, RepositoryError>;

    /// Flips the pin and returns the query as stored afterwards.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt`.
    async fn toggle_pin(
        &self,
        user: UserId,
        id: SavedQueryId,
    ) -> Result<Option<SavedQuery>, RepositoryError>;

    /// Shares under `token` with `shared_at = now` unless already shared (then its token stays); returns the query
    /// as stored afterwards.
    ///
    /// # Errors
    /// `Constraint` when another row has the token; `Unavailable`.
    async fn share(
        &self,
        user: UserId,
        id: SavedQueryId,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<SavedQuery>, RepositoryError>;

    /// Clears the token (idempotent); `false` when the user has no such query.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn unshare(&self, user: UserId, id: SavedQueryId) -> Result<bool, RepositoryError>;

    /// Deletes a saved query; `false` when the user has no such query.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete(&self, user: UserId, id: SavedQueryId) -> Result<bool, RepositoryError>;

    /// The saved query shared under `token`, whoever owns it.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt`.
    async fn find_shared(&self, token: &str) -> Result<Option<SavedQuery>, RepositoryError>;
}
