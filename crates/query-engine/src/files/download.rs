//! Streaming a whole remote file to disk through the SSRF guard: size cap enforced while streaming (whatever
//! `Content-Length` said), SHA-256 on the way, progress reported for long downloads, gzip expanded afterwards.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use tabletalk_ports::{LoadError, LoadErrorKind, ProgressSink};
use tokio::io::AsyncWriteExt;
use url::Url;

use super::cache::hex;
use super::validators::Validators;
use crate::fetch::GuardedFetcher;

/// Progress starts after this long, and is then reported at most this often.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What a finished download recorded.
#[derive(Debug, Clone)]
pub struct Downloaded {
    pub size: u64,
    pub sha256: String,
    pub validators: Validators,
}

pub(crate) fn storage_error(error: &std::io::Error) -> LoadError {
    tracing::error!(%error, "dataset storage failed");
    LoadError::new(LoadErrorKind::Storage, "Could not store the dataset file")
}

/// `File is too large (<n> MB). Maximum supported size is <max> MB.`
pub(crate) fn too_large(bytes: u64, max: u64) -> LoadError {
    const MB: f64 = 1_048_576.0;
    #[allow(clippy::cast_precision_loss, reason = "a size shown with one decimal")]
    let message = format!(
        "File is too large ({:.1} MB). Maximum supported size is {} MB.",
        bytes as f64 / MB,
        max / 1_048_576
    );
    LoadError::new(LoadErrorKind::FileTooLarge, message)
}

pub(crate) fn unreachable(error: &crate::fetch::FetchError) -> LoadError {
    let kind = match error.code() {
        "url_blocked" => LoadErrorKind::Blocked,
        "unsupported_url_scheme" => LoadErrorKind::UnsupportedScheme,
        _ => LoadErrorKind::Unreachable,
    };
    LoadError::new(kind, error.to_string())
}

pub(crate) fn http_status(status: StatusCode) -> LoadError {
    LoadError::new(
        LoadErrorKind::Unreachable,
        format!("Could not access URL (HTTP {})", status.as_u16()),
    )
}

/// Downloads `url` into `to`.
///
/// # Errors
/// `Blocked`/`Unreachable` from the guard, an HTTP status ≥ 400, `FileTooLarge`, `Storage`.
pub async fn download(
    fetcher: &GuardedFetcher,
    url: &Url,
    timeout: Duration,
    max_bytes: u64,
    progress: &ProgressSink,
    to: &Path,
) -> Result<Downloaded, LoadError> {
    let reply = fetcher
        .send(Method::GET, url, HeaderMap::new(), timeout)
        .await
        .map_err(|e| unreachable(&e))?;
    let mut response = reply.response;
    if !response.status().is_success() {
        return Err(http_status(response.status()));
    }
    let validators = Validators::from_headers(response.headers());
    let total = response.content_length();
    if let Some(length) = total.filter(|l| *l > max_bytes) {
        return Err(too_large(length, max_bytes));
    }
    let mut file = tokio::fs::File::create(to)
        .await
        .map_err(|e| storage_error(&e))?;
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let started = Instant::now();
    let mut last_report: Option<Instant> = None;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(error) => {
                return Err(unreachable(&crate::fetch::FetchError::from_transport(
                    &error, timeout,
                )));
            }
        };
        fetcher.received(tabletalk_ports::FetchKind::Download, chunk.len());
        received += chunk.len() as u64;
        if received > max_bytes {
            return Err(too_large(received, max_bytes));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| storage_error(&e))?;
        let now = Instant::now();
        if now.duration_since(started) >= PROGRESS_AFTER
            && last_report.is_none_or(|at| now.duration_since(at) >= PROGRESS_EVERY)
        {
            last_report = Some(now);
            progress(received, total);
        }
    }
    file.flush().await.map_err(|e| storage_error(&e))?;
    file.sync_all().await.map_err(|e| storage_error(&e))?;
    if last_report.is_some() {
        progress(received, total);
    }
    Ok(Downloaded {
        size: received,
        sha256: hex(&hasher.finalize()),
        validators,
    })
}

/// Expands a gzip file into `to`, refusing output beyond `max_bytes` (a decompression bomb).
///
/// # Errors
/// `InvalidFile` when the data is not gzip, `FileTooLarge` beyond the cap, `Storage`.
pub async fn gunzip(from: &Path, to: &Path, max_bytes: u64) -> Result<(), LoadError> {
    let from = from.to_owned();
    let to = to.to_owned();
    tokio::task::spawn_blocking(move || {
        let input = std::fs::File::open(&from).map_err(|e| storage_error(&e))?;
        let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(input));
        let mut output =
            std::io::BufWriter::new(std::fs::File::create(&to).map_err(|e| storage_error(&e))?);
        let mut buffer = vec![0_u8; 1 << 16];
        let mut written: u64 = 0;
        loop {
            let read = decoder
                .read(&mut buffer)
                .map_err(|_| LoadError::new(LoadErrorKind::InvalidFile, "Not a valid gzip file"))?;
            if read == 0 {
                break;
            }
            written += read as u64;
            if written > max_bytes {
                return Err(too_large(written, max_bytes));
            }
            output
                .write_all(&buffer[..read])
                .map_err(|e| storage_error(&e))?;
        }
        output.flush().map_err(|e| storage_error(&e))
    })
    .await
    .map_err(|_| LoadError::new(LoadErrorKind::Storage, "decompression task failed"))?
}
