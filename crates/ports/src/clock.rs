//! The clock port: services ask it for "now" so tests can move time.

use crate::Timestamp;

/// Where services read the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, millisecond precision.
    fn now(&self) -> Timestamp;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(chrono::Utc::now())
    }
}
