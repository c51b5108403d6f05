//! Admission: at most `capacity` queries run at once, at most `per_owner` of them for one owner, and the waiting
//! ones are served round-robin by owner (one queue per owner, owners taking turns), so one user's burst of slow
//! queries never starves the others. Up to `queue_capacity` queries wait, each for at most `queue_timeout`;
//! anything beyond is refused at once (`Busy`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tabletalk_ports::{QueryError, QueryOwner};
use tokio::sync::oneshot;

/// The limits admission enforces.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionLimits {
    pub capacity: usize,
    pub per_owner: usize,
    pub queue_capacity: usize,
    pub queue_timeout: Duration,
}

#[derive(Debug, Default)]
struct Owner {
    running: usize,
    /// Each waiter is woken by a message once it holds a slot.
    waiters: VecDeque<oneshot::Sender<()>>,
}

#[derive(Debug, Default)]
struct State {
    running: usize,
    waiting: usize,
    owners: HashMap<QueryOwner, Owner>,
    /// Owners with waiters, in the order they get their next turn.
    turns: VecDeque<QueryOwner>,
}

impl State {
    fn forget_if_idle(&mut self, owner: QueryOwner) {
        if self
            .owners
            .get(&owner)
            .is_some_and(|o| o.running == 0 && o.waiters.is_empty())
        {
            self.owners.remove(&owner);
        }
    }

    /// Hands free slots to waiters, one owner's turn at a time.
    fn dispatch(&mut self, limits: AdmissionLimits) {
        let mut unserved_turns = self.turns.len();
        while self.running < limits.capacity && unserved_turns > 0 {
            let Some(owner) = self.turns.pop_front() else {
                break;
            };
            let Some(entry) = self.owners.get_mut(&owner) else {
                unserved_turns = self.turns.len();
                continue;
            };
            if entry.running >= limits.per_owner {
                self.turns.push_back(owner);
                unserved_turns -= 1;
                continue;
            }
            let mut granted = false;
            while let Some(waiter) = entry.waiters.pop_front() {
                self.waiting -= 1;
                // A waiter that gave up has dropped its receiver; the slot goes to the next one.
                if waiter.send(()).is_ok() {
                    granted = true;
                    break;
                }
            }
            if granted {
                entry.running += 1;
                self.running += 1;
            }
            if entry.waiters.is_empty() {
                self.forget_if_idle(owner);
            } else {
                self.turns.push_back(owner);
            }
            unserved_turns = self.turns.len();
        }
    }
}

#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    state: Mutex<State>,
}

/// A running slot; dropping it frees the slot for the next owner in turn.
#[derive(Debug)]
pub struct Slot<'a> {
    admission: &'a Admission,
    owner: QueryOwner,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        self.admission.release(&mut state, self.owner);
    }
}

/// A queued request. Dropped without its slot (the wait ran out, or the caller went away), it leaves the queue;
/// a slot that reached it at that very moment is handed on.
struct Waiting<'a> {
    admission: &'a Admission,
    owner: QueryOwner,
    receiver: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Some(mut receiver) = self.receiver.take() else {
            return;
        };
        let mut state = self.admission.lock();
        receiver.close();
        if receiver.try_recv().is_ok() {
            self.admission.release(&mut state, self.owner);
            return;
        }
        if let Some(entry) = state.owners.get_mut(&self.owner) {
            let before = entry.waiters.len();
            entry.waiters.retain(|w| !w.is_closed());
            let gone = before - entry.waiters.len();
            state.waiting -= gone;
            state.forget_if_idle(self.owner);
        }
    }
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Self {
        Self {
            limits: AdmissionLimits {
                capacity: limits.capacity.max(1),
                per_owner: limits.per_owner.max(1),
                ..limits
            },
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn release(&self, state: &mut State, owner: QueryOwner) {
        state.running -= 1;
        if let Some(entry) = state.owners.get_mut(&owner) {
            entry.running -= 1;
        }
        state.forget_if_idle(owner);
        state.dispatch(self.limits);
    }

    /// A running slot for `owner`: at once when one is free and the owner is under its cap, else after waiting
    /// for its turn.
    pub async fn enter(&self, owner: QueryOwner) -> Result<Slot<'_>, QueryError> {
        let receiver = {
            let mut state = self.lock();
            let State {
                running,
                waiting,
                owners,
                turns,
            } = &mut *state;
            let entry = owners.entry(owner).or_default();
            if *running < self.limits.capacity && entry.running < self.limits.per_owner {
                entry.running += 1;
                *running += 1;
                return Ok(Slot {
                    admission: self,
                    owner,
                });
            }
            if *waiting >= self.limits.queue_capacity {
                state.forget_if_idle(owner);
                return Err(QueryError::Busy);
            }
            let (sender, receiver) = oneshot::channel();
            entry.waiters.push_back(sender);
            *waiting += 1;
            if !turns.contains(&owner) {
                turns.push_back(owner);
            }
            receiver
        };
        let mut waiting = Waiting {
            admission: self,
            owner,
            receiver: Some(receiver),
        };
        let Some(receiver) = waiting.receiver.as_mut() else {
            return Err(QueryError::Busy);
        };
        match tokio::time::timeout(self.limits.queue_timeout, receiver).await {
            Ok(Ok(())) => {
                waiting.receiver = None;
                Ok(Slot {
                    admission: self,
                    owner,
                })
            }
            // The wait ran out: `waiting` leaves the queue (or hands on a slot that just arrived).
            _ => Err(QueryError::Busy),
        }
    }

    /// (running, waiting).
    pub fn load(&self) -> (usize, usize) {
        let state = self.lock();
        (state.running, state.waiting)
    }
}
