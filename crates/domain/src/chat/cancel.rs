//! Cancellation of one turn (docs/api.md, "Chat"): `stop` keeps what the turn has; deletion discards its events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Notify;

/// Why a turn was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    Stopped,
    Deleted,
}

/// A cloneable cancellation token.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    inner: Arc<(AtomicU8, Notify)>,
}

impl Cancel {
    pub fn cancel(&self, reason: CancelReason) {
        let code = match reason {
            CancelReason::Stopped => 1,
            CancelReason::Deleted => 2,
        };
        // Deletion wins over a stop: the turn must not send events for a deleted conversation.
        self.inner.0.fetch_max(code, Ordering::SeqCst);
        self.inner.1.notify_waiters();
    }

    /// Whether both handles belong to the same turn.
    pub fn same_turn(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub fn reason(&self) -> Option<CancelReason> {
        match self.inner.0.load(Ordering::SeqCst) {
            1 => Some(CancelReason::Stopped),
            2 => Some(CancelReason::Deleted),
            _ => None,
        }
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.1.notified();
            if self.reason().is_some() {
                return;
            }
            notified.await;
        }
    }
}
