//! The domain's event bus: use cases publish what happened for a user; delivery (the WebSocket) subscribes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use tabletalk_ports::{ConversationId, UserId};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

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

/// An in-process bus: one bounded broadcast channel per user with a client connected. An event wakes only its
/// user's subscribers, so a turn's stream of tokens costs the same whether ten or ten thousand other sockets are
/// open; a subscriber that falls behind loses the oldest events (and learns it from `RecvError::Lagged`) instead of
/// growing memory; a user's channel goes away with the last subscription.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    channels: Arc<Channels>,
}

#[derive(Debug)]
struct Channels {
    capacity: usize,
    by_user: Mutex<HashMap<UserId, broadcast::Sender<Arc<DomainEvent>>>>,
}

impl Channels {
    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, broadcast::Sender<Arc<DomainEvent>>>> {
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        self.by_user.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl InProcessBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            channels: Arc::new(Channels {
                capacity: capacity.max(1),
                by_user: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Every event for `user` published from now on, until the subscription is dropped.
    pub fn subscribe(&self, user: UserId) -> Subscription {
        let receiver = self
            .channels
            .lock()
            .entry(user)
            .or_insert_with(|| broadcast::channel(self.channels.capacity).0)
            .subscribe();
        Subscription {
            receiver,
            user,
            channels: Arc::clone(&self.channels),
        }
    }

    /// Live subscriptions, all users together.
    pub fn subscriber_count(&self) -> usize {
        self.channels
            .lock()
            .values()
            .map(broadcast::Sender::receiver_count)
            .sum()
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, event: DomainEvent) {
        // No subscriber is not an error: nobody is listening right now.
        if let Some(sender) = self.channels.lock().get(&event.user_id) {
            let _ = sender.send(Arc::new(event));
        }
    }
}

/// One user's events; dropping it unsubscribes, and the last one of a user removes the user's channel.
#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<DomainEvent>>,
    user: UserId,
    channels: Arc<Channels>,
}

impl Subscription {
    /// The next event; `Lagged` when the subscriber fell more than the bus's capacity behind.
    pub async fn recv(&mut self) -> Result<Arc<DomainEvent>, RecvError> {
        self.receiver.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Result<Arc<DomainEvent>, TryRecvError> {
        self.receiver.try_recv()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.channels.lock();
        // Under the lock no subscription can be added meanwhile; this one is still counted until it is dropped.
        if channels
            .get(&self.user)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            channels.remove(&self.user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(user: UserId) -> DomainEvent {
        DomainEvent {
            user_id: user,
            conversation_id: ConversationId::new(),
            kind: "chat_token",
            payload: serde_json::Map::new(),
        }
    }

    #[test]
    fn events_reach_only_their_users_subscribers_and_channels_go_with_them() {
        let bus = InProcessBus::new(8);
        let (alice, bob) = (UserId::new(), UserId::new());
        let mut first = bus.subscribe(alice);
        let mut second = bus.subscribe(alice);
        let mut other = bus.subscribe(bob);
        bus.emit(
            alice,
            ConversationId::new(),
            "chat_token",
            json!({"token": "hi"}),
        );
        assert_eq!(first.try_recv().map(|e| e.user_id), Ok(alice));
        assert_eq!(second.try_recv().map(|e| e.user_id), Ok(alice));
        assert_eq!(other.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(bus.subscriber_count(), 3);
        drop(first);
        bus.publish(event(alice));
        assert_eq!(second.try_recv().map(|e| e.user_id), Ok(alice));
        drop((second, other));
        assert_eq!(bus.subscriber_count(), 0);
        assert!(bus.channels.lock().is_empty());
        // Nobody listening: dropped, not kept.
        bus.publish(event(alice));
        let mut late = bus.subscribe(alice);
        assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
    }
}
