use std::sync::Mutex;
use std::time::Duration;

use crate::{Clock, SystemClock, Timestamp};

const NEW_YEAR_2026_MILLIS: i64 = 1_767_225_600_000;

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// A clock standing at 2026-01-01T00:00:00.000Z.
    pub fn at_new_year() -> Self {
        Self::new(
            Timestamp::from_unix_millis(NEW_YEAR_2026_MILLIS).unwrap_or_else(|| SystemClock.now()),
        )
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = *now + by;
    }

    /// Puts the clock at `at`.
    pub fn set(&self, at: Timestamp) {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
