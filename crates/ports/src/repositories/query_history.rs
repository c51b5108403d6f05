use async_trait::async_trait;

use crate::{HistoryId, QueryHistoryEntry, QueryHistoryFilter, RepositoryError, UserId};

/// Stores the per-user query history (docs/api.md, "SQL runner and history", docs/architecture.md, "Storage",
/// `query_history`).
#[async_trait]
pub trait QueryHistoryRepository: Send + Sync + 'static {
    /// Appends an entry, then deletes the user's oldest non-starred entries beyond `max_entries`.
    ///
    /// # Errors
    /// `Constraint` when the user does not exist; `Unavailable`.
    async fn record(
        &self,
        entry: &QueryHistoryEntry,
        max_entries: u64,
    ) -> Result<(), RepositoryError>;

    /// The user's entries matching the filter, newest first, and how many match in total.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt`.
    async fn list(
        &self,
        user: UserId,
        filter: &QueryHistoryFilter,
    ) -> Result<(Vec<QueryHistoryEntry>, u64), RepositoryError>;

    /// Flips the star of `user`'s entry `id`; returns the new state, or `None` when the user has no such entry.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn toggle_star(
        &self,
        user: UserId,
        id: HistoryId,
    ) -> Result<Option<bool>, RepositoryError>;

    /// Deletes every entry of `user`, starred ones included; returns how many.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete_all(&self, user: UserId) -> Result<u64, RepositoryError>;
}
