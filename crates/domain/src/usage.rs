//! The rolling 24-hour token budget (docs/api.md, "Usage"), computed from the stored usage rows at every check.

use std::sync::Arc;
use std::time::Duration;

use tabletalk_ports::{
    Clock, RepositoryError, Timestamp, TokenUsageRepository, UsageEntry, UserId,
};

/// The budget window.
pub const WINDOW: Duration = Duration::from_hours(24);

/// A user's budget at one instant; every field of `GET /usage`.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageStatus {
    pub tokens_used: i64,
    pub token_limit: i64,
    pub remaining: i64,
    pub usage_percent: f64,
    pub resets_in_seconds: u64,
    pub window_reset_at: Timestamp,
    pub warning_threshold_pct: u8,
}

impl UsageStatus {
    /// A turn or auxiliary call may start (exactly the limit is blocked).
    pub fn allowed(&self) -> bool {
        self.tokens_used < self.token_limit
    }

    /// The warning threshold is reached.
    pub fn warning(&self) -> bool {
        self.usage_percent >= f64::from(self.warning_threshold_pct)
    }
}

/// Computes the budget from the rows inside the window (`timestamp > now − 24 h`), oldest first.
pub fn budget_status(
    entries: &[UsageEntry],
    now: Timestamp,
    limit: i64,
    warning_threshold_pct: u8,
) -> UsageStatus {
    let used: i64 = entries.iter().map(|e| e.tokens).sum();
    if used < limit {
        return under_limit(
            used,
            entries.first().map(|e| e.timestamp),
            now,
            limit,
            warning_threshold_pct,
        );
    }
    let resets_in_seconds = seconds_until_under_limit(entries, now, used, limit);
    let window_reset_at = now + Duration::from_secs(resets_in_seconds);
    status(
        used,
        limit,
        resets_in_seconds,
        window_reset_at,
        warning_threshold_pct,
    )
}

/// The budget when `used` is below the limit: nothing to wait for, the window ends with the oldest row.
fn under_limit(
    used: i64,
    oldest: Option<Timestamp>,
    now: Timestamp,
    limit: i64,
    warning_threshold_pct: u8,
) -> UsageStatus {
    let window_reset_at = oldest.map_or(now + WINDOW, |oldest| oldest + WINDOW);
    status(used, limit, 0, window_reset_at, warning_threshold_pct)
}

fn status(
    used: i64,
    limit: i64,
    resets_in_seconds: u64,
    window_reset_at: Timestamp,
    warning_threshold_pct: u8,
) -> UsageStatus {
    #[expect(
        clippy::cast_precision_loss,
        reason = "token counts stay far below 2^52"
    )]
    let percent = used as f64 * 100.0 / limit as f64;
    UsageStatus {
        tokens_used: used,
        token_limit: limit,
        remaining: (limit - used).max(0),
        usage_percent: (percent * 100.0).round() / 100.0,
        resets_in_seconds,
        window_reset_at,
        warning_threshold_pct,
    }
}

/// Walks the rows oldest first, subtracting each, until the sum drops below the limit; that row's exit from
/// the window is when the user may continue.
fn seconds_until_under_limit(entries: &[UsageEntry], now: Timestamp, used: i64, limit: i64) -> u64 {
    let mut remaining = used;
    for entry in entries {
        remaining -= entry.tokens;
        if remaining < limit {
            let wait_ms = (entry.timestamp + WINDOW).millis_since(now);
            return u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1);
        }
    }
    // Unreachable with a positive limit: removing every row brings the sum to zero.
    1
}

/// Reading the budget failed.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// Reads users' budgets.
pub struct UsageService {
    usage: Arc<dyn TokenUsageRepository>,
    clock: Arc<dyn Clock>,
    limit: i64,
    warning_threshold_pct: u8,
}

impl std::fmt::Debug for UsageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageService")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl UsageService {
    pub fn new(
        usage: Arc<dyn TokenUsageRepository>,
        clock: Arc<dyn Clock>,
        limit: i64,
        warning_threshold_pct: u8,
    ) -> Self {
        Self {
            usage,
            clock,
            limit,
            warning_threshold_pct,
        }
    }

    /// The user's budget now: two aggregates while under the limit, the rows only when the time until tokens come
    /// back must be worked out.
    pub async fn status(&self, user: UserId) -> Result<UsageStatus, UsageError> {
        let now = self.clock.now();
        let since = now - WINDOW;
        let (tokens, oldest) = self.usage.window_totals(user, since).await?;
        if tokens < self.limit {
            return Ok(under_limit(
                tokens,
                oldest,
                now,
                self.limit,
                self.warning_threshold_pct,
            ));
        }
        let entries = self.usage.entries_since(user, since).await?;
        Ok(budget_status(
            &entries,
            now,
            self.limit,
            self.warning_threshold_pct,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_unix_millis(1_767_225_600_000).unwrap() + Duration::from_secs(seconds)
    }

    fn entry(seconds: u64, tokens: i64) -> UsageEntry {
        UsageEntry {
            timestamp: at(seconds),
            tokens,
        }
    }

    #[test]
    fn under_the_limit_nothing_resets_and_the_window_ends_with_the_oldest_row() {
        let status = budget_status(&[entry(0, 1_000), entry(60, 250)], at(120), 5_000, 80);
        assert_eq!(
            (
                status.tokens_used,
                status.remaining,
                status.resets_in_seconds
            ),
            (1_250, 3_750, 0)
        );
        assert!((status.usage_percent - 25.0).abs() < f64::EPSILON);
        assert_eq!(status.window_reset_at, at(0) + WINDOW);
        assert!(status.allowed() && !status.warning());
    }

    #[test]
    fn at_the_limit_the_user_waits_until_enough_rows_leave_the_window() {
        // 3,000 + 2,000 + 1,000 = 6,000 ≥ 5,000: dropping the first row leaves 3,000 < 5,000.
        let entries = [entry(0, 3_000), entry(100, 2_000), entry(200, 1_000)];
        let now = at(3_600);
        let status = budget_status(&entries, now, 5_000, 80);
        assert!(!status.allowed() && status.warning());
        assert_eq!(status.remaining, 0);
        assert!((status.usage_percent - 120.0).abs() < f64::EPSILON);
        assert_eq!(status.resets_in_seconds, 24 * 3600 - 3_600);
        assert_eq!(
            status.window_reset_at,
            now + Duration::from_secs(status.resets_in_seconds)
        );

        let exactly = budget_status(&[entry(0, 2_500), entry(10, 2_500)], at(20), 5_000, 80);
        assert!(!exactly.allowed(), "exactly the limit is blocked");
        assert_eq!(exactly.resets_in_seconds, 24 * 3600 - 20);
    }

    #[test]
    fn no_rows_means_a_full_window_ahead_and_percent_has_two_decimals() {
        let empty = budget_status(&[], at(0), 5_000, 80);
        assert_eq!(empty.window_reset_at, at(0) + WINDOW);
        let third = budget_status(&[entry(0, 1)], at(0), 3_000, 80);
        assert!((third.usage_percent - 0.03).abs() < 1e-9);
    }
}
