//! Deleting conversations as one use case, in the order that keeps every piece consistent: the owner check, then
//! the conversation's running chat turn and SQL-panel queries are cancelled (so nothing writes into a conversation
//! that is going away), then the rows go, then upload files no dataset uses any more.

use std::sync::Arc;

use tabletalk_ports::{ConversationId, UserId};

use crate::chat::ChatService;
use crate::datasets::{DatasetService, SqlRunner};
use crate::{ConversationError, ConversationService};

/// Deletes one or all of a user's conversations with everything that runs or lives for them.
#[derive(Debug)]
pub struct ConversationRemoval {
    conversations: Arc<ConversationService>,
    chat: Arc<ChatService>,
    sql: Arc<SqlRunner>,
    datasets: Arc<DatasetService>,
}

impl ConversationRemoval {
    pub fn new(
        conversations: Arc<ConversationService>,
        chat: Arc<ChatService>,
        sql: Arc<SqlRunner>,
        datasets: Arc<DatasetService>,
    ) -> Self {
        Self {
            conversations,
            chat,
            sql,
            datasets,
        }
    }

    /// Deletes one conversation of `user`.
    ///
    /// # Errors
    /// `NotFound` / `Forbidden` before anything is touched; `Storage` when the rows could not be deleted.
    pub async fn delete(&self, user: UserId, id: ConversationId) -> Result<(), ConversationError> {
        self.conversations.owned(user, id).await?;
        self.stop_work(id);
        self.conversations.delete(user, id).await?;
        self.remove_unreferenced_uploads(user).await;
        Ok(())
    }

    /// Deletes every conversation of `user`; returns how many went.
    ///
    /// # Errors
    /// `Storage` when the conversations could not be listed or deleted.
    pub async fn delete_all(&self, user: UserId) -> Result<usize, ConversationError> {
        for archived in [false, true] {
            for summary in self.conversations.list(user, archived).await? {
                self.stop_work(summary.conversation.id);
            }
        }
        let deleted = self.conversations.delete_all(user).await?;
        // One created between the listing and the delete has no turn yet; cancelling again costs nothing.
        for id in &deleted {
            self.stop_work(*id);
        }
        self.remove_unreferenced_uploads(user).await;
        Ok(deleted.len())
    }

    /// Deletes those of `ids` that `user` owns, each as [`ConversationRemoval::delete`] does; unknown ids and other
    /// users' conversations are skipped. Returns how many went.
    ///
    /// # Errors
    /// `Storage` when a conversation could not be read or deleted (those before it stay deleted).
    pub async fn delete_many(
        &self,
        user: UserId,
        ids: &[ConversationId],
    ) -> Result<usize, ConversationError> {
        let mut deleted = 0;
        for id in ids {
            match self.conversations.owned(user, *id).await {
                Ok(_) => {}
                Err(ConversationError::NotFound | ConversationError::Forbidden) => continue,
                Err(error) => return Err(error),
            }
            self.stop_work(*id);
            match self.conversations.delete(user, *id).await {
                Ok(()) => deleted += 1,
                // Deleted meanwhile by another request: nothing left to do.
                Err(ConversationError::NotFound | ConversationError::Forbidden) => {}
                Err(error) => return Err(error),
            }
        }
        if deleted > 0 {
            self.remove_unreferenced_uploads(user).await;
        }
        Ok(deleted)
    }

    fn stop_work(&self, id: ConversationId) {
        self.chat.conversation_deleted(id);
        self.sql.conversation_deleted(id);
    }

    /// The conversations are gone whatever happens here: a failure only leaves files for the next deletion to
    /// sweep.
    async fn remove_unreferenced_uploads(&self, user: UserId) {
        if let Err(error) = self.datasets.remove_unreferenced_uploads(user).await {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "could not remove the uploads of deleted conversations"
            );
        }
    }
}
