//! The SQL runner's queries in flight, by conversation, so deleting a conversation stops its queries at once
//! (their worker processes are killed when the engine's future is dropped; docs/architecture.md).

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::{Mutex, PoisonError};
use std::task::Poll;

use tabletalk_ports::ConversationId;

use crate::chat::{Cancel, CancelReason};

/// Queries running per conversation.
#[derive(Debug, Default)]
pub(crate) struct RunningQueries {
    by_conversation: Mutex<HashMap<ConversationId, Vec<Cancel>>>,
}

/// Takes the query's token out of the registry when it ends, however it ends.
struct Registration<'a> {
    registry: &'a RunningQueries,
    conversation: ConversationId,
    cancel: Cancel,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut running = self
            .registry
            .by_conversation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(tokens) = running.get_mut(&self.conversation) {
            tokens.retain(|t| !t.same_turn(&self.cancel));
            if tokens.is_empty() {
                running.remove(&self.conversation);
            }
        }
    }
}

impl RunningQueries {
    /// Runs `query` for `conversation`; `None` when the conversation was deleted first (the query is dropped).
    pub(crate) async fn run<T>(
        &self,
        conversation: ConversationId,
        query: impl Future<Output = T>,
    ) -> Option<T> {
        let cancel = Cancel::default();
        self.by_conversation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(conversation)
            .or_default()
            .push(cancel.clone());
        let _registration = Registration {
            registry: self,
            conversation,
            cancel: cancel.clone(),
        };
        let mut query = pin!(query);
        let mut cancelled = pin!(cancel.cancelled());
        std::future::poll_fn(|context| {
            if let Poll::Ready(output) = query.as_mut().poll(context) {
                return Poll::Ready(Some(output));
            }
            if cancelled.as_mut().poll(context).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// Stops every query of a conversation that is being deleted.
    pub(crate) fn conversation_deleted(&self, conversation: ConversationId) {
        let running = self
            .by_conversation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for cancel in running.get(&conversation).into_iter().flatten() {
            cancel.cancel(CancelReason::Deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_deleted_conversation_drops_its_queries_and_only_its_own() {
        let registry = RunningQueries::default();
        let doomed = ConversationId::new();
        let other = ConversationId::new();
        let never = std::future::pending::<()>();
        let slow = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            7
        };
        let (stopped, finished, ()) = tokio::join!(
            registry.run(doomed, never),
            registry.run(other, slow),
            async {
                tokio::task::yield_now().await;
                registry.conversation_deleted(doomed);
            }
        );
        assert_eq!(stopped, None);
        assert_eq!(finished, Some(7));
        assert!(
            registry.by_conversation.lock().unwrap().is_empty(),
            "finished queries leave the registry"
        );
    }
}
