//! The probe of docs/api.md, "Datasets": `HEAD`, or a 4 KiB range `GET` when the server refuses `HEAD`.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT_RANGES, CONTENT_TYPE, HeaderMap, HeaderValue, RANGE};
use reqwest::{Method, StatusCode};
use tabletalk_ports::LoadError;
use url::Url;

use crate::fetch::GuardedFetcher;
use crate::files::download::{http_status, unreachable};
use crate::files::validators::Validators;

/// What the probe learned.
#[derive(Debug, Clone)]
pub struct Probe {
    pub validators: Validators,
    pub content_type: Option<String>,
    pub ranges: bool,
    /// The first bytes, when the probe was a range `GET`.
    pub head: Option<Bytes>,
    pub not_modified: bool,
}

/// A range `GET` of `bytes=<spec>`; `Ok(None)` when the server answered the whole file instead.
///
/// # Errors
/// Guard and transport errors; an HTTP status ≥ 400.
pub async fn range_get(
    fetcher: &GuardedFetcher,
    url: &Url,
    spec: &str,
    timeout: Duration,
    limit: usize,
) -> Result<(StatusCode, HeaderMap, Bytes), LoadError> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("bytes={spec}")) {
        headers.insert(RANGE, value);
    }
    let reply = fetcher
        .send(Method::GET, url, headers, timeout)
        .await
        .map_err(|e| unreachable(&e))?;
    let mut response = reply.response;
    let status = response.status();
    if status.as_u16() >= 400 {
        return Err(http_status(status));
    }
    let answer_headers = response.headers().clone();
    // Read at most `limit` bytes even when the server ignores the range and sends the whole file.
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                fetcher.received(tabletalk_ports::FetchKind::Probe, chunk.len());
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => {
                return Err(unreachable(&crate::fetch::FetchError::from_transport(
                    &error, timeout,
                )));
            }
        }
    }
    body.truncate(limit);
    Ok((status, answer_headers, Bytes::from(body)))
}

/// Probes `url`, optionally conditionally (refresh).
///
/// # Errors
/// Guard and transport errors; an HTTP status ≥ 400 (`Could not access URL (HTTP <status>)`).
pub async fn probe(
    fetcher: &GuardedFetcher,
    url: &Url,
    timeout: Duration,
    conditional: HeaderMap,
) -> Result<Probe, LoadError> {
    let reply = fetcher
        .send(Method::HEAD, url, conditional.clone(), timeout)
        .await
        .map_err(|e| unreachable(&e))?;
    let status = reply.response.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(Probe {
            validators: Validators::from_headers(reply.response.headers()),
            content_type: None,
            ranges: false,
            head: None,
            not_modified: true,
        });
    }
    if matches!(status.as_u16(), 403 | 405 | 501) {
        let (status, headers, body) = range_get(fetcher, url, "0-4095", timeout, 4096).await?;
        return Ok(Probe {
            validators: Validators::from_headers(&headers),
            content_type: header(&headers, &CONTENT_TYPE),
            ranges: status == StatusCode::PARTIAL_CONTENT,
            head: Some(body),
            not_modified: false,
        });
    }
    if status.as_u16() >= 400 {
        return Err(http_status(status));
    }
    let headers = reply.response.headers();
    Ok(Probe {
        validators: Validators::from_headers(headers),
        content_type: header(headers, &CONTENT_TYPE),
        ranges: header(headers, &ACCEPT_RANGES).is_some_and(|v| v.eq_ignore_ascii_case("bytes")),
        head: None,
        not_modified: false,
    })
}

fn header(headers: &HeaderMap, name: &reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
