//! Concurrency: at most `max_concurrency` queries run; up to `queue_capacity` more wait (first come, first served)
//! for at most `queue_timeout`; anything beyond is refused at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tabletalk_ports::QueryError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub(crate) struct Admission {
    slots: Arc<Semaphore>,
    max_concurrency: usize,
    waiting: AtomicUsize,
    queue_capacity: usize,
    queue_timeout: Duration,
}

/// Holds a running slot; counts the waiter while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Admission {
    pub(crate) fn new(
        max_concurrency: usize,
        queue_capacity: usize,
        queue_timeout: Duration,
    ) -> Self {
        let max_concurrency = max_concurrency.max(1);
        Self {
            slots: Arc::new(Semaphore::new(max_concurrency)),
            max_concurrency,
            waiting: AtomicUsize::new(0),
            queue_capacity,
            queue_timeout,
        }
    }

    pub(crate) async fn enter(&self) -> Result<OwnedSemaphorePermit, QueryError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue_capacity {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(QueryError::Busy);
        }
        let _waiting = Waiting(&self.waiting);
        // tokio's semaphore hands out permits in request order, which makes the queue FIFO.
        match tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(QueryError::Busy),
        }
    }

    /// (running, waiting).
    pub(crate) fn load(&self) -> (usize, usize) {
        (
            self.max_concurrency - self.slots.available_permits(),
            self.waiting.load(Ordering::SeqCst),
        )
    }
}
