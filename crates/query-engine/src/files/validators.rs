//! The change-detection validators of a remote file (`ETag`, `Last-Modified`, size) and the version string
//! derived from them (docs/architecture.md, "Storage", `datasets.version`).

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, HeaderMap, LAST_MODIFIED};
use tabletalk_ports::Timestamp;

/// Validators as a server sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<Timestamp>,
    /// The whole file's size: `Content-Length` of a full answer, or the total of a `Content-Range`.
    pub size: Option<u64>,
}

fn header<'a>(headers: &'a HeaderMap, name: &reqwest::header::HeaderName) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Parses an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|at| Timestamp::from_datetime(at.with_timezone(&chrono::Utc)))
}

impl Validators {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let range_total = header(headers, &CONTENT_RANGE)
            .and_then(|r| r.rsplit('/').next())
            .and_then(|t| t.parse::<u64>().ok());
        let size = range_total.or_else(|| {
            if headers.contains_key(CONTENT_RANGE) {
                None
            } else {
                header(headers, &CONTENT_LENGTH).and_then(|l| l.parse().ok())
            }
        });
        Self {
            etag: header(headers, &ETAG)
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
            last_modified: header(headers, &LAST_MODIFIED).and_then(http_date),
            size,
        }
    }

    /// `etag:<etag>`, else `size:<n>;mtime:<ts>`, else `sha256:<hex>` of the content when known.
    pub fn version(&self, sha256: Option<&str>) -> String {
        if let Some(etag) = &self.etag {
            return format!("etag:{etag}");
        }
        match (self.size, self.last_modified, sha256) {
            (Some(size), Some(modified), _) => format!("size:{size};mtime:{modified}"),
            (_, _, Some(sha)) => format!("sha256:{sha}"),
            (size, _, None) => format!(
                "size:{}",
                size.map_or_else(|| "unknown".to_owned(), |s| s.to_string())
            ),
        }
    }

    /// A strong `ETag` usable in `If-Match`.
    pub fn strong_etag(etag: Option<&str>) -> Option<&str> {
        etag.filter(|e| !e.starts_with("W/"))
    }
}
