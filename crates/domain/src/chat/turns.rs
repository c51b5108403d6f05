//! The in-memory set of active turns (docs/api.md, "Chat"): one per conversation, a server-wide cap.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tabletalk_ports::ConversationId;

use super::cancel::{Cancel, CancelReason};

/// Why a turn could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterError {
    InProgress,
    Busy,
}

/// Active turns by conversation.
#[derive(Debug)]
pub struct ActiveTurns {
    turns: Mutex<HashMap<ConversationId, Cancel>>,
    max: usize,
}

/// Removes the registration when the turn ends, whatever the outcome.
#[derive(Debug)]
pub struct Registration<'a> {
    turns: &'a ActiveTurns,
    conversation: ConversationId,
    cancel: Cancel,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.turns.release_turn(self.conversation, &self.cancel);
    }
}

impl ActiveTurns {
    pub fn new(max: usize) -> Self {
        Self {
            turns: Mutex::new(HashMap::new()),
            max,
        }
    }

    /// Atomic test-and-set.
    pub fn register(&self, conversation: ConversationId) -> Result<Cancel, RegisterError> {
        let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
        if turns.contains_key(&conversation) {
            return Err(RegisterError::InProgress);
        }
        if turns.len() >= self.max {
            return Err(RegisterError::Busy);
        }
        let cancel = Cancel::default();
        turns.insert(conversation, cancel.clone());
        Ok(cancel)
    }

    pub fn guard(&self, conversation: ConversationId, cancel: Cancel) -> Registration<'_> {
        Registration {
            turns: self,
            conversation,
            cancel,
        }
    }

    /// Releases the conversation's registration if it is still this turn's (a newer turn keeps its own).
    pub fn release_turn(&self, conversation: ConversationId, cancel: &Cancel) {
        let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
        if turns
            .get(&conversation)
            .is_some_and(|c| c.same_turn(cancel))
        {
            turns.remove(&conversation);
        }
    }

    pub fn release(&self, conversation: ConversationId) {
        self.turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&conversation);
    }

    /// Cancels the conversation's turn; `true` when one was running.
    pub fn cancel(&self, conversation: ConversationId, reason: CancelReason) -> bool {
        let turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
        turns.get(&conversation).map(|c| c.cancel(reason)).is_some()
    }

    /// Whether a turn of the conversation is running.
    pub fn is_running(&self, conversation: ConversationId) -> bool {
        self.turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&conversation)
    }

    pub fn count(&self) -> usize {
        self.turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
