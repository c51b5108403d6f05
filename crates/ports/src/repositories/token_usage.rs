use async_trait::async_trait;

use crate::{ConversationId, RepositoryError, Timestamp, TokenUsage, UsageEntry, UserId};

/// Stores token usage; rows outlive the conversations they belong to.
#[async_trait]
pub trait TokenUsageRepository: Send + Sync + 'static {
    /// Stores one usage row.
    ///
    /// # Errors
    /// `Constraint` when the user does not exist; `Unavailable`.
    async fn record(&self, usage: &TokenUsage) -> Result<(), RepositoryError>;

    /// The user's rows with `timestamp > since`, oldest first.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn entries_since(
        &self,
        user: UserId,
        since: Timestamp,
    ) -> Result<Vec<UsageEntry>, RepositoryError>;

    /// `(tokens, oldest)` of the user's rows with `timestamp > since`: their sum and the oldest timestamp. All a
    /// budget check under the limit needs, so a busy user's every turn does not read a day of rows.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn window_totals(
        &self,
        user: UserId,
        since: Timestamp,
    ) -> Result<(i64, Option<Timestamp>), RepositoryError> {
        let entries = self.entries_since(user, since).await?;
        Ok((
            entries.iter().map(|e| e.tokens).sum(),
            entries.first().map(|e| e.timestamp),
        ))
    }

    /// `(input, output, cost, rows)` summed over a conversation's rows.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn totals_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<(i64, i64, f64, i64), RepositoryError>;
}
