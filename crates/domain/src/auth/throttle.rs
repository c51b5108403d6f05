//! Failed local sign-ins per client address: ten within ten minutes lock the address out until the oldest
//! failure leaves the window. In memory only (docs/architecture.md, "Storage").

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tabletalk_ports::Timestamp;

const MAX_FAILURES: usize = 10;
const WINDOW: Duration = Duration::from_mins(10);
/// Above this many tracked addresses, stale ones are swept so rotating addresses cannot grow the map forever.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<Timestamp>>>,
}

impl LoginThrottle {
    /// `Some(seconds)` until the client may try again, or `None` when it may try now.
    pub(crate) fn locked_for(&self, client: &str, now: Timestamp) -> Option<u64> {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let recent = failures.get_mut(client)?;
        prune(recent, now);
        if recent.len() < MAX_FAILURES {
            return None;
        }
        let oldest = *recent.front()?;
        let leaves_at = oldest + WINDOW;
        let wait_ms = leaves_at.millis_since(now).max(1);
        Some(u64::try_from(wait_ms).unwrap_or(1).div_ceil(1000))
    }

    pub(crate) fn record_failure(&self, client: &str, now: Timestamp) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, recent| {
                prune(recent, now);
                !recent.is_empty()
            });
        }
        let recent = failures.entry(client.to_owned()).or_default();
        prune(recent, now);
        recent.push_back(now);
    }
}

fn prune(recent: &mut VecDeque<Timestamp>, now: Timestamp) {
    while recent.front().is_some_and(|&at| at + WINDOW <= now) {
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
        let throttle = LoginThrottle::default();
        for i in 0..10 {
            assert_eq!(throttle.locked_for("1.2.3.4", at(i)), None);
            throttle.record_failure("1.2.3.4", at(i));
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
