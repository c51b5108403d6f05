//! Events per client address in a sliding window: `max` events within `window` lock the address out until the
//! oldest leaves the window. Failed local sign-ins (ten in ten minutes) and views of shared conversations use it.
//! In memory only (docs/architecture.md, "Storage").

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tabletalk_ports::Timestamp;

/// Above this many tracked addresses, stale ones are swept so rotating addresses cannot grow the map forever.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug)]
pub(crate) struct RateWindow {
    max: usize,
    window: Duration,
    events: Mutex<HashMap<String, VecDeque<Timestamp>>>,
}

impl RateWindow {
    pub(crate) fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            events: Mutex::default(),
        }
    }

    /// `Some(seconds)` until the client may try again, or `None` when it may try now.
    pub(crate) fn locked_for(&self, client: &str, now: Timestamp) -> Option<u64> {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let recent = events.get_mut(client)?;
        prune(recent, now, self.window);
        if recent.len() < self.max {
            return None;
        }
        let oldest = *recent.front()?;
        let leaves_at = oldest + self.window;
        let wait_ms = leaves_at.millis_since(now).max(1);
        Some(u64::try_from(wait_ms).unwrap_or(1).div_ceil(1000))
    }

    pub(crate) fn record(&self, client: &str, now: Timestamp) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if events.len() > SWEEP_ABOVE {
            events.retain(|_, recent| {
                prune(recent, now, self.window);
                !recent.is_empty()
            });
        }
        let recent = events.entry(client.to_owned()).or_default();
        prune(recent, now, self.window);
        recent.push_back(now);
    }
}

fn prune(recent: &mut VecDeque<Timestamp>, now: Timestamp, window: Duration) {
    while recent.front().is_some_and(|&at| at + window <= now) {
        recent.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_000_000_000 + seconds * 1000).unwrap()
    }

    #[test]
    fn ten_failures_lock_until_the_oldest_leaves_the_window() {
        let throttle = RateWindow::new(10, Duration::from_mins(10));
        for i in 0..10 {
            assert_eq!(throttle.locked_for("1.2.3.4", at(i)), None);
            throttle.record("1.2.3.4", at(i));
        }
        assert_eq!(throttle.locked_for("1.2.3.4", at(10)), Some(590));
        assert_eq!(
            throttle.locked_for("5.6.7.8", at(10)),
            None,
            "other addresses are unaffected"
        );
        assert_eq!(throttle.locked_for("1.2.3.4", at(599)), Some(1));
        assert_eq!(
            throttle.locked_for("1.2.3.4", at(600)),
            None,
            "the oldest failure left the window"
        );
    }
}
