//! Retrying model calls (docs/api.md, "Chat"), the same for every provider: rate-limited and unavailable calls,
//! and timeouts before the first byte, are retried up to `llm.max_retries` times with exponential backoff and
//! jitter, honouring the provider's own delay. Only the start of a call is retried: once `stream` has returned,
//! events may already be on their way to the user, so a later failure is final.

use std::time::Duration;

use tabletalk_ports::{LlmClient, LlmError, LlmRequest, LlmStream};

/// No single wait is longer; a provider asking for more makes the call fail at once.
pub const MAX_RETRY_DELAY: Duration = Duration::from_mins(1);

/// How often a long wait is announced again.
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(10);

/// `llm.max_retries` and `llm.retry_base_delay`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
}

/// A wait before retry `attempt` (1-based), for progress events.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    pub attempt: u32,
    pub delay: Duration,
    pub cause: LlmError,
}

/// Why a call could not be started.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// Retryable failures outlasted the policy (or the provider asked for a wait over a minute).
    #[error("the provider stayed unavailable after {retries} retries: {last}")]
    Exhausted { last: LlmError, retries: u32 },
    /// A failure retrying cannot fix.
    #[error(transparent)]
    Failed(LlmError),
}

/// A factor in [0.8, 1.2) from the OS's randomness (1.0 if it has none to give).
fn jitter() -> f64 {
    let mut bytes = [0_u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 1.0;
    }
    0.8 + 0.4 * f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// `max(hint, base × 2^(attempt−1) × jitter)`, capped at a minute.
pub fn retry_delay(
    policy: &RetryPolicy,
    attempt: u32,
    hint: Option<Duration>,
    jitter: f64,
) -> Duration {
    let exponent = i32::try_from(attempt.saturating_sub(1).min(30)).unwrap_or(30);
    let backoff = policy.base_delay.as_secs_f64() * 2_f64.powi(exponent) * jitter;
    let backoff = Duration::try_from_secs_f64(backoff).unwrap_or(MAX_RETRY_DELAY);
    hint.map_or(backoff, |hint| hint.max(backoff))
        .min(MAX_RETRY_DELAY)
}

/// Starts a streaming call, retrying as the policy allows; `on_wait` hears about every wait before it starts.
pub async fn start_with_retries(
    client: &dyn LlmClient,
    request: &LlmRequest,
    policy: &RetryPolicy,
    on_wait: &(dyn Fn(&RetryNotice) + Send + Sync),
) -> Result<LlmStream, CallError> {
    let mut retries = 0;
    loop {
        let error = match client.stream(request).await {
            Ok(stream) => return Ok(stream),
            Err(error) if !error.is_retryable() => return Err(CallError::Failed(error)),
            Err(error) => error,
        };
        if retries >= policy.max_retries
            || error
                .retry_hint()
                .is_some_and(|hint| hint > MAX_RETRY_DELAY)
        {
            return Err(CallError::Exhausted {
                last: error,
                retries,
            });
        }
        retries += 1;
        let delay = retry_delay(policy, retries, error.retry_hint(), jitter());
        tracing::info!(attempt = retries, delay_ms = delay.as_millis(), %error, "retrying the LLM call");
        let notice = RetryNotice {
            attempt: retries,
            delay,
            cause: error,
        };
        // The waiting side hears at the start of the wait and every 10 s of it (keep-alives for the client).
        let mut left = delay;
        loop {
            on_wait(&notice);
            let slice = left.min(KEEP_ALIVE_EVERY);
            tokio::time::sleep(slice).await;
            left = left.saturating_sub(slice);
            if left.is_zero() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tabletalk_ports::fakes::{ScriptedCall, ScriptedLlm};
    use tabletalk_ports::{FinishReason, LlmEvent, ToolMode};

    use super::*;

    fn request() -> LlmRequest {
        LlmRequest {
            model: "m".to_owned(),
            system: String::new(),
            messages: Vec::new(),
            tools: Vec::new(),
            tool_mode: ToolMode::Auto,
            thinking: false,
            temperature: None,
            max_output_tokens: None,
        }
    }

    const POLICY: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_secs(2),
    };

    fn busy(hint: Option<Duration>) -> ScriptedCall {
        ScriptedCall::Refuse(LlmError::RateLimited {
            status: 429,
            retry_after: hint,
            message: "slow down".to_owned(),
        })
    }

    fn finished() -> ScriptedCall {
        ScriptedCall::Stream(vec![Ok(LlmEvent::Finished {
            reason: FinishReason::Stop,
            provider_state: None,
        })])
    }

    #[test]
    fn delays_grow_exponentially_respect_hints_and_are_capped() {
        assert_eq!(retry_delay(&POLICY, 1, None, 1.0), Duration::from_secs(2));
        assert_eq!(retry_delay(&POLICY, 3, None, 1.0), Duration::from_secs(8));
        assert_eq!(
            retry_delay(&POLICY, 1, None, 0.8),
            Duration::from_millis(1600)
        );
        assert_eq!(
            retry_delay(&POLICY, 1, Some(Duration::from_secs(7)), 1.2),
            Duration::from_secs(7)
        );
        assert_eq!(retry_delay(&POLICY, 10, None, 1.2), MAX_RETRY_DELAY);
        assert!((0.8..1.2).contains(&jitter()));
    }

    #[tokio::test(start_paused = true)]
    async fn retryable_failures_are_retried_with_notices_then_succeed() {
        let llm = ScriptedLlm::default();
        llm.then(busy(Some(Duration::from_secs(5))))
            .then(ScriptedCall::Refuse(LlmError::Unavailable {
                status: Some(503),
                message: "overloaded".to_owned(),
            }))
            .then(finished());
        let notices = Mutex::new(Vec::new());
        let started = tokio::time::Instant::now();
        let outcome = start_with_retries(&llm, &request(), &POLICY, &|n| {
            notices.lock().unwrap().push(n.delay);
        })
        .await;
        assert!(outcome.is_ok());
        assert_eq!(llm.requests().len(), 3);
        let waits = notices.into_inner().unwrap();
        assert_eq!(
            waits[0],
            Duration::from_secs(5),
            "the provider's hint beats a shorter backoff"
        );
        assert!(
            (Duration::from_millis(3200)..Duration::from_millis(4800)).contains(&waits[1]),
            "{waits:?}"
        );
        let waited = started.elapsed();
        // tokio's timer rounds each sleep up to a whole millisecond.
        assert!(
            waited >= waits[0] + waits[1]
                && waited <= waits[0] + waits[1] + Duration::from_millis(2),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_wait_is_announced_every_ten_seconds() {
        let llm = ScriptedLlm::default();
        llm.then(busy(Some(Duration::from_secs(25))))
            .then(finished());
        let notices = Mutex::new(Vec::new());
        let started = tokio::time::Instant::now();
        let outcome = start_with_retries(&llm, &request(), &POLICY, &|_| {
            notices.lock().unwrap().push(started.elapsed().as_secs());
        })
        .await;
        assert!(outcome.is_ok());
        assert_eq!(notices.into_inner().unwrap(), vec![0, 10, 20]);
        assert_eq!(started.elapsed(), Duration::from_secs(25));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_the_limit_and_final_errors_are_not_retried() {
        let llm = ScriptedLlm::default();
        for _ in 0..4 {
            llm.then(busy(None));
        }
        let outcome = start_with_retries(&llm, &request(), &POLICY, &|_| {}).await;
        assert!(matches!(
            outcome,
            Err(CallError::Exhausted { retries: 3, .. })
        ));
        assert_eq!(llm.requests().len(), 4, "one call plus three retries");

        let refused = ScriptedLlm::default();
        refused.then(ScriptedCall::Refuse(LlmError::InvalidRequest {
            status: 400,
            message: "bad".to_owned(),
        }));
        let outcome = start_with_retries(&refused, &request(), &POLICY, &|_| {}).await;
        assert!(matches!(
            outcome,
            Err(CallError::Failed(LlmError::InvalidRequest { .. }))
        ));
        assert_eq!(refused.requests().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hint_over_a_minute_fails_at_once() {
        let llm = ScriptedLlm::default();
        llm.then(busy(Some(Duration::from_hours(24))))
            .then(finished());
        let started = tokio::time::Instant::now();
        let outcome = start_with_retries(&llm, &request(), &POLICY, &|_| {}).await;
        assert!(matches!(
            outcome,
            Err(CallError::Exhausted { retries: 0, .. })
        ));
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
