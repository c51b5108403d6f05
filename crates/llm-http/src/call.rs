//! One streaming call: send with a first-byte timeout, map a refusal through the provider's error mapper, then
//! read the body through the provider's parser.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use tabletalk_ports::{LlmError, LlmEvent, LlmStream};
use tokio::time::{Instant, timeout_at};

use crate::{EventParser, ReadFailure, Timeouts, parse_stream};

/// Limits of one call.
#[derive(Debug, Clone, Copy)]
pub struct CallTimeouts {
    /// Longest silence while waiting for the response or the next byte.
    pub idle: Duration,
    /// Longest whole call.
    pub call: Duration,
}

/// The HTTP client of an LLM adapter: connect timeout, and no redirects — the providers never redirect, and a
/// redirect would carry the key to another host.
pub fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Maps a refused call (status, body, `Retry-After`) onto the port's error.
pub type ErrorMapper = fn(u16, &str, Option<Duration>) -> LlmError;

fn read_failure(failure: ReadFailure) -> LlmError {
    match failure {
        ReadFailure::Idle(after) => LlmError::Timeout {
            message: format!("no data for {} s", after.as_secs_f32()),
            before_first_byte: false,
        },
        ReadFailure::Deadline => LlmError::Timeout {
            message: "the call took too long".to_owned(),
            before_first_byte: false,
        },
        ReadFailure::Body(message) => LlmError::BadResponse {
            message: format!("the stream broke off: {message}"),
        },
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// Sends `request` and returns its event stream. Nothing of the response arriving within the idle timeout, a
/// connection failure, or a non-success status is an `Err` here (retryable as the error says); everything
/// after the status line comes through the stream.
pub async fn start_stream<P>(
    request: reqwest::RequestBuilder,
    timeouts: CallTimeouts,
    parser: P,
    map_error: ErrorMapper,
) -> Result<LlmStream, LlmError>
where
    P: EventParser<Item = LlmEvent, Error = LlmError>,
{
    let deadline = Instant::now() + timeouts.call;
    let first_byte_by = (Instant::now() + timeouts.idle).min(deadline);
    let response = match timeout_at(first_byte_by, request.send()).await {
        Err(_) => {
            return Err(LlmError::Timeout {
                message: "no response".to_owned(),
                before_first_byte: true,
            });
        }
        // Without the URL: it names the endpoint only, but messages reach users and need no internals.
        Ok(Err(error)) => {
            return Err(LlmError::Unavailable {
                status: None,
                message: error.without_url().to_string(),
            });
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if !status.is_success() {
        let hint = retry_after(&response);
        let read_by = first_byte_by.max(Instant::now() + Duration::from_secs(5));
        let body = timeout_at(read_by, response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        tracing::debug!(
            status = status.as_u16(),
            "the LLM provider refused the call"
        );
        return Err(map_error(status.as_u16(), &body, hint));
    }
    let timeouts = Timeouts {
        idle: timeouts.idle,
        deadline,
    };
    Ok(Box::pin(parse_stream(
        response.bytes_stream(),
        parser,
        timeouts,
        read_failure,
    )))
}
