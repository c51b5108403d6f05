//! Conversations that come from somewhere else or go somewhere else (docs/api.md, "Import", "Fork", "Export"):
//! import of chatDF's shape and our own export, fork of a conversation up to a message, and the snapshot an export
//! renders. New conversations are written in one transaction with all their messages and datasets; datasets that
//! still need their content load in the background afterwards.

mod fork;
mod import;
mod start;

use std::sync::Arc;

use tabletalk_ports::{
    Clock, ConversationId, ConversationRepository, DatasetRepository, MessageRepository, UserId,
};

pub use import::{ImportError, ImportedConversation, ImportedDataset, ImportedMessage};

use crate::datasets::DatasetService;
use crate::{ConversationDetail, ConversationError, ConversationService};

/// A conversation as an export renders it.
#[derive(Debug, Clone)]
pub struct Exported {
    pub detail: ConversationDetail,
    pub exported_at: tabletalk_ports::Timestamp,
}

/// Limits an import is held to.
#[derive(Debug, Clone, Copy)]
pub struct TransferSettings {
    /// `datasets.max_per_conversation`.
    pub max_datasets: u32,
}

/// Imports, forks and exports conversations.
pub struct ConversationTransfer {
    conversations: Arc<ConversationService>,
    conversation_store: Arc<dyn ConversationRepository>,
    messages: Arc<dyn MessageRepository>,
    dataset_store: Arc<dyn DatasetRepository>,
    datasets: Arc<DatasetService>,
    clock: Arc<dyn Clock>,
    settings: TransferSettings,
}

/// The stores and services a transfer works with.
#[expect(
    missing_debug_implementations,
    reason = "trait objects of ports are not Debug"
)]
pub struct TransferParts {
    pub conversations: Arc<ConversationService>,
    pub conversation_store: Arc<dyn ConversationRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub dataset_store: Arc<dyn DatasetRepository>,
    pub datasets: Arc<DatasetService>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ConversationTransfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationTransfer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ConversationTransfer {
    pub fn new(parts: TransferParts, settings: TransferSettings) -> Self {
        Self {
            conversations: parts.conversations,
            conversation_store: parts.conversation_store,
            messages: parts.messages,
            dataset_store: parts.dataset_store,
            datasets: parts.datasets,
            clock: parts.clock,
            settings,
        }
    }

    /// Export: the conversation with its messages and datasets, and when it was taken.
    ///
    /// # Errors
    /// Ownership; `Storage`.
    pub async fn export(
        &self,
        user: UserId,
        id: ConversationId,
    ) -> Result<Exported, ConversationError> {
        Ok(Exported {
            detail: self.conversations.detail(user, id).await?,
            exported_at: self.clock.now(),
        })
    }
}

/// `n` fresh message ids in ascending order, so copies stored with equal timestamps keep their order.
fn ordered_ids(n: usize) -> Vec<tabletalk_ports::MessageId> {
    let mut ids: Vec<_> = (0..n).map(|_| tabletalk_ports::MessageId::new()).collect();
    ids.sort_unstable();
    ids
}
