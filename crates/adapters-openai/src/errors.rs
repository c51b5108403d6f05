//! OpenAI-style error bodies → the port's errors.

use std::time::Duration;

use serde_json::Value;
use tabletalk_ports::LlmError;

const MESSAGE_CHARS: usize = 300;

/// Maps a failed response (status, body, `Retry-After`) onto the port's error.
pub(crate) fn from_response(status: u16, body: &str, retry_after: Option<Duration>) -> LlmError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let message = parsed
        .pointer("/error/message")
        .and_then(Value::as_str)
        .or_else(|| parsed.get("error").and_then(Value::as_str))
        .unwrap_or(body)
        .trim()
        .chars()
        .take(MESSAGE_CHARS)
        .collect::<String>();
    let message = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        message
    };
    match status {
        429 => LlmError::RateLimited {
            status,
            retry_after,
            message,
        },
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
