//! Gemini's error bodies (google.rpc.Status) → the port's errors.

use std::time::Duration;

use serde_json::Value;
use tabletalk_ports::LlmError;

/// Messages are cut to this many characters before they reach users or logs.
const MESSAGE_CHARS: usize = 300;

fn seconds(text: &str) -> Option<Duration> {
    let number = text.trim().strip_suffix('s')?;
    number
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// `RetryInfo.retryDelay` ("1.68s"), else "Please retry in 12.5s." in the message.
fn retry_delay(error: &Value, message: &str) -> Option<Duration> {
    let details = error.get("details").and_then(Value::as_array);
    let from_details = details.into_iter().flatten().find_map(|d| {
        let is_retry_info = d
            .get("@type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"));
        if is_retry_info {
            d.get("retryDelay")
                .and_then(Value::as_str)
                .and_then(seconds)
        } else {
            None
        }
    });
    from_details.or_else(|| {
        message
            .split("retry in ")
            .nth(1)
            .and_then(|rest| seconds(rest.trim_end_matches('.')))
    })
}

/// A per-day quota will not come back within any retry window: report the real wait so the caller gives up.
fn is_daily_quota(error: &Value) -> bool {
    error
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|d| {
            d.get("violations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|v| {
                    v.get("quotaId")
                        .and_then(Value::as_str)
                        .is_some_and(|id| id.contains("PerDay"))
                })
        })
}

fn cut(message: &str) -> String {
    message.chars().take(MESSAGE_CHARS).collect()
}

/// The `error` object of a body: `{"error": …}` or the non-SSE variant `[{"error": …}]`.
pub(crate) fn error_object(body: &Value) -> Option<&Value> {
    body.get("error")
        .or_else(|| body.as_array()?.first()?.get("error"))
}

/// Maps a failed response (status, body, `Retry-After`) onto the port's error.
pub(crate) fn from_response(status: u16, body: &str, retry_after: Option<Duration>) -> LlmError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = error_object(&parsed).cloned().unwrap_or(Value::Null);
    let message = cut(error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or(body)
        .trim());
    let message = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        message
    };
    match status {
        429 => {
            let hint = if is_daily_quota(&error) {
                Some(Duration::from_hours(24))
            } else {
                retry_delay(&error, &message)
            };
            LlmError::RateLimited {
                status,
                retry_after: hint.or(retry_after),
                message,
            }
        }
        500 | 502 | 503 | 504 => LlmError::Unavailable {
            status: Some(status),
            message,
        },
        408 => LlmError::Timeout {
            message,
            before_first_byte: true,
        },
        _ => LlmError::InvalidRequest { status, message },
    }
}

/// An `{"error": …}` object arriving inside the stream.
pub(crate) fn from_stream_error(error: &Value) -> LlmError {
    let status = error
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(500);
    from_response(
        status,
        &serde_json::json!({"error": error}).to_string(),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_carry_the_providers_delay() {
        let body = r#"{"error":{"code":429,"message":"Quota exceeded. Please retry in 9.5s.","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#;
        assert!(
            matches!(from_response(429, body, None), LlmError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_millis(1500))
        );
        let only_message = r#"{"error":{"code":429,"message":"Please retry in 12.5s.","status":"RESOURCE_EXHAUSTED"}}"#;
        assert!(
            matches!(from_response(429, only_message, None), LlmError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_millis(12_500))
        );
        let daily = r#"{"error":{"code":429,"message":"q","details":[{"violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"20s"}]}}"#;
        assert!(
            matches!(from_response(429, daily, None), LlmError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_hours(24))
        );
    }

    #[test]
    fn other_statuses_map_to_their_kind_and_messages_are_cut() {
        assert!(matches!(
            from_response(
                503,
                r#"{"error":{"message":"The model is overloaded."}}"#,
                None
            ),
            LlmError::Unavailable {
                status: Some(503),
                ..
            }
        ));
        let long = format!(
            r#"[{{"error":{{"code":400,"message":"{}","status":"INVALID_ARGUMENT"}}}}]"#,
            "x".repeat(500)
        );
        match from_response(400, &long, None) {
            LlmError::InvalidRequest {
                status: 400,
                message,
            } => assert_eq!(message.chars().count(), 300),
            other => panic!("{other:?}"),
        }
    }
}
