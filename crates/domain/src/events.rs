//! The domain's events and their bus: use cases publish what happened for a user as typed [`DomainEvent`]s;
//! delivery (the WebSocket) subscribes and chooses the wire shape.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value};
use tabletalk_ports::{
    ConversationId, Dataset, DatasetId, LoadError, MessageId, MessageStatus, SqlExecution,
    TraceStep, UserId,
};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::UsageStatus;

/// What happened in a conversation, for its owner's clients (docs/api.md, "WebSocket"). Payloads are domain
/// values; the delivery layer chooses the wire shape.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    /// A chunk of answer text; an empty chunk keeps the client waiting while a model call is retried.
    ChatToken {
        message_id: MessageId,
        token: String,
    },
    ReasoningToken {
        message_id: MessageId,
        token: String,
    },
    /// The model's reasoning ended and the answer text begins.
    ReasoningComplete {
        message_id: MessageId,
    },
    /// A tool call begins; `args` are the model's arguments as it sent them.
    ToolCallStarted {
        message_id: MessageId,
        tool: String,
        args: Map<String, Value>,
    },
    /// The turn's `query_number`-th statement is running.
    QueryProgress {
        message_id: MessageId,
        query_number: u32,
    },
    /// A validated chart over the execution at `execution_index` (the model's specification as sent).
    ChartSpec {
        message_id: MessageId,
        execution_index: Option<usize>,
        spec: Map<String, Value>,
    },
    FollowupSuggestions {
        message_id: MessageId,
        suggestions: Vec<String>,
    },
    /// The turn ended with an answer (complete or stopped) and it is stored.
    ChatComplete(Box<CompletedTurn>),
    /// The turn failed.
    ChatError {
        message_id: MessageId,
        failure: TurnFailure,
    },
    /// The user's budget after a turn's usage was recorded.
    UsageUpdate(UsageStatus),
    /// The user's budget passed the warning threshold.
    RateLimitWarning(UsageStatus),
    /// A message was refused because the budget is spent.
    RateLimitExceeded {
        resets_in_seconds: u64,
    },
    /// The conversation got its title from its first message.
    TitleUpdated {
        title: String,
    },
    /// Bytes of a dataset download so far.
    DatasetProgress {
        url: String,
        bytes_loaded: u64,
        total_bytes: Option<u64>,
    },
    DatasetLoaded(Box<Dataset>),
    /// A dataset loading in the background (import, fork) failed; it is stored with status `error`.
    DatasetFailed {
        dataset_id: DatasetId,
        error: LoadError,
    },
    /// Column profiles computed in the background after a dataset was added.
    DatasetProfiled {
        dataset_id: DatasetId,
        profiles: Vec<crate::datasets::ColumnProfile>,
    },
}

/// A finished answer as its clients are told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedTurn {
    pub message_id: MessageId,
    pub content: String,
    pub status: MessageStatus,
    /// Every statement run, with all kept rows (as stored).
    pub sql_executions: Vec<SqlExecution>,
    /// Rows of each execution the event itself carries.
    pub rows_shown: usize,
    pub reasoning: Option<String>,
    pub trace: Vec<TraceStep>,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// Why a turn failed, worded for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnFailure {
    pub kind: TurnFailureKind,
    pub message: String,
    /// A short technical detail (`HTTP 503 after 3 retries`).
    pub details: Option<String>,
}

/// How a turn failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnFailureKind {
    /// Something of ours failed.
    Internal,
    /// The model provider kept failing while retried.
    ProviderUnavailable,
    /// The model provider refused or answered with an error.
    ProviderError,
    /// The conversation no longer fits the model's context, even trimmed.
    ContextTooLarge,
}

/// One event with whom it is for.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub user_id: UserId,
    pub conversation_id: ConversationId,
    pub event: DomainEvent,
}

/// Publishes events; never blocks and never fails the use case that publishes.
pub trait EventBus: Send + Sync + 'static {
    fn publish(&self, event: Published);

    /// Publishes `event` for `user`'s clients.
    fn emit(&self, user: UserId, conversation: ConversationId, event: DomainEvent) {
        self.publish(Published {
            user_id: user,
            conversation_id: conversation,
            event,
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
    by_user: Mutex<HashMap<UserId, broadcast::Sender<Arc<Published>>>>,
}

impl Channels {
    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, broadcast::Sender<Arc<Published>>>> {
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
    fn publish(&self, event: Published) {
        // No subscriber is not an error: nobody is listening right now.
        if let Some(sender) = self.channels.lock().get(&event.user_id) {
            let _ = sender.send(Arc::new(event));
        }
    }
}

/// One user's events; dropping it unsubscribes, and the last one of a user removes the user's channel.
#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<Published>>,
    user: UserId,
    channels: Arc<Channels>,
}

impl Subscription {
    /// The next event; `Lagged` when the subscriber fell more than the bus's capacity behind.
    pub async fn recv(&mut self) -> Result<Arc<Published>, RecvError> {
        self.receiver.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Result<Arc<Published>, TryRecvError> {
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

    fn token() -> DomainEvent {
        DomainEvent::ChatToken {
            message_id: MessageId::new(),
            token: "hi".to_owned(),
        }
    }

    fn event(user: UserId) -> Published {
        Published {
            user_id: user,
            conversation_id: ConversationId::new(),
            event: token(),
        }
    }

    #[test]
    fn events_reach_only_their_users_subscribers_and_channels_go_with_them() {
        let bus = InProcessBus::new(8);
        let (alice, bob) = (UserId::new(), UserId::new());
        let mut first = bus.subscribe(alice);
        let mut second = bus.subscribe(alice);
        let mut other = bus.subscribe(bob);
        bus.emit(alice, ConversationId::new(), token());
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
