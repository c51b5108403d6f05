//! The domain's event bus: use cases publish what happened for a user; delivery (the WebSocket) subscribes.

use std::sync::Arc;

use serde_json::Value;
use tabletalk_ports::{ConversationId, UserId};
use tokio::sync::broadcast;

/// One event for one user's clients: `kind` is the wire `type`, `payload` the other keys (websocket.md §4–5).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    pub user_id: UserId,
    pub conversation_id: ConversationId,
    pub kind: &'static str,
    pub payload: serde_json::Map<String, Value>,
}

/// Publishes events; never blocks and never fails the use case that publishes.
pub trait EventBus: Send + Sync + 'static {
    fn publish(&self, event: DomainEvent);

    /// Publishes `kind` with the keys of the JSON object `payload` (anything else carries no keys).
    fn emit(&self, user: UserId, conversation: ConversationId, kind: &'static str, payload: Value) {
        let payload = match payload {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        self.publish(DomainEvent {
            user_id: user,
            conversation_id: conversation,
            kind,
            payload,
        });
    }
}

/// An in-process bus: a bounded broadcast channel. A subscriber that falls behind loses the oldest events (and
/// learns it from `RecvError::Lagged`) instead of growing memory.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<Arc<DomainEvent>>,
}

impl InProcessBus {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<DomainEvent>> {
        self.sender.subscribe()
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, event: DomainEvent) {
        // No subscriber is not an error: nobody is listening right now.
        let _ = self.sender.send(Arc::new(event));
    }
}
