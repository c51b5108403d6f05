//! DataFusion's only remote object store: every read of a remote dataset is a range request sent through the
//! [`GuardedFetcher`]. The store knows exactly the objects of one query (or one load) and nothing else; object
//! metadata comes from what was recorded when the dataset was added, so planning sends no request at all.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    self, CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    PutResult,
};
use futures_util::stream::{self, BoxStream, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue, IF_MATCH, RANGE};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use url::Url;

use super::ranges::{Part, RangeCache};
use super::tails::{Tail, TailCache};
use crate::fetch::GuardedFetcher;
use crate::files::cache::hex;
use crate::files::validators::Validators;

/// The registry key of the store: tables are registered as `tabletalk-remote://datasets/<object path>`.
pub const STORE_URL: &str = "tabletalk-remote://datasets";

/// One remote file as recorded when its dataset was added.
#[derive(Debug, Clone)]
pub struct RemoteObject {
    /// The dataset's name, for error messages.
    pub table: String,
    pub url: Url,
    pub etag: Option<String>,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// Why a remote read failed; travels inside DataFusion's error chain to the engine's error classification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreFailure {
    #[error("the file at {url} has changed")]
    Changed { url: String },
    #[error("dataset '{table}' could not be read: {reason}")]
    Unavailable { table: String, reason: String },
    /// The server ignored the `Range` header.
    #[error("dataset '{table}': the server does not answer range requests")]
    RangeUnsupported { table: String },
}

/// The object path of a remote file's content: a digest of URL and version, so the footer-metadata cache is
/// keyed by `(url, version)` and never mixes up two datasets.
pub fn object_path(url: &str, version: &str) -> String {
    format!(
        "d/{}",
        hex(&Sha256::digest(format!("{url}\n{version}").as_bytes()))
    )
}

/// The guarded store of one query or load.
#[derive(Debug)]
pub struct GuardedStore {
    fetcher: GuardedFetcher,
    timeout: Duration,
    objects: HashMap<String, RemoteObject>,
    /// Per object: the URL that answered (after redirects) and the client pinned to its checked addresses.
    pinned: Mutex<HashMap<String, (Url, reqwest::Client)>>,
    /// Footers kept on disk for every process, and what this store has read of them.
    tails: Arc<TailCache>,
    tails_read: Mutex<HashMap<String, Option<Tail>>>,
    /// Ranges read before, by this or another process.
    ranges: Arc<RangeCache>,
}

impl fmt::Display for GuardedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GuardedStore")
    }
}

fn failure(failure: StoreFailure) -> object_store::Error {
    object_store::Error::Generic {
        store: "tabletalk",
        source: Box::new(failure),
    }
}

fn not_supported(operation: &str) -> object_store::Error {
    object_store::Error::NotImplemented {
        operation: operation.to_owned(),
        implementer: "GuardedStore (read-only)".to_owned(),
    }
}

impl GuardedStore {
    pub fn new(
        fetcher: GuardedFetcher,
        timeout: Duration,
        objects: Vec<(String, RemoteObject)>,
        tails: Arc<TailCache>,
        ranges: Arc<RangeCache>,
    ) -> Self {
        Self {
            fetcher,
            timeout,
            objects: objects.into_iter().collect(),
            pinned: Mutex::new(HashMap::new()),
            tails,
            tails_read: Mutex::new(HashMap::new()),
            ranges,
        }
    }

    /// The kept tail of an object: from disk the first time, then from memory.
    async fn tail(&self, key: &str, size: u64) -> Option<Tail> {
        if let Some(known) = self
            .tails_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return known.clone();
        }
        let tail = self.tails.get(key, size).await;
        self.tails_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), tail.clone());
        tail
    }

    /// Offers fetched bytes to the kept tails (only an object's last bytes are kept).
    async fn keep(&self, key: &str, size: u64, range: &Range<u64>, bytes: &Bytes) {
        if range.end == size {
            self.tails.offer(key, size, range, bytes).await;
            self.tails_read
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(key);
        }
    }

    /// The bytes of `range`: from the kept footer when it holds them, else fetched (only the part before the kept
    /// footer, when the range ends inside it).
    async fn read(
        &self,
        key: &str,
        object: &RemoteObject,
        range: &Range<u64>,
    ) -> Result<Bytes, StoreFailure> {
        let size = object.size;
        if let Some(tail) = self.tail(key, size).await {
            if let Some(bytes) = tail.slice(range) {
                return Ok(bytes);
            }
            if range.start < tail.start && range.end > tail.start {
                let head = self
                    .fetch_kept(key, object, &(range.start..tail.start))
                    .await?;
                let rest = tail.slice(&(tail.start..range.end)).unwrap_or_default();
                let mut joined = BytesMut::with_capacity(head.len() + rest.len());
                joined.extend_from_slice(&head);
                joined.extend_from_slice(&rest);
                let bytes = joined.freeze();
                self.keep(key, size, range, &bytes).await;
                return Ok(bytes);
            }
        }
        let bytes = self.fetch_kept(key, object, range).await?;
        self.keep(key, size, range, &bytes).await;
        Ok(bytes)
    }

    /// `range` from the kept pieces that cover it, only the gaps between them fetched (and kept for the next reader).
    async fn fetch_kept(
        &self,
        key: &str,
        object: &RemoteObject,
        range: &Range<u64>,
    ) -> Result<Bytes, StoreFailure> {
        let parts = self.ranges.parts(key, range).await;
        if let [Part::Kept(bytes)] = parts.as_slice() {
            return Ok(bytes.clone());
        }
        let mut joined =
            BytesMut::with_capacity(usize::try_from(range.end - range.start).unwrap_or(0));
        for part in parts {
            match part {
                Part::Kept(bytes) => joined.extend_from_slice(&bytes),
                Part::Gap(gap) => {
                    let bytes = self.fetch(key, object, &gap).await?;
                    self.ranges.put(key, &gap, &bytes).await;
                    joined.extend_from_slice(&bytes);
                }
            }
        }
        Ok(joined.freeze())
    }

    fn object(&self, location: &Path) -> object_store::Result<&RemoteObject> {
        self.objects
            .get(location.as_ref())
            .ok_or_else(|| object_store::Error::NotFound {
                path: location.to_string(),
                source: "not a dataset of this query".into(),
            })
    }

    fn meta(location: &Path, object: &RemoteObject) -> ObjectMeta {
        ObjectMeta {
            location: location.clone(),
            last_modified: object.last_modified,
            size: object.size,
            e_tag: object.etag.clone(),
            version: None,
        }
    }

    /// One range request; the first goes through the guard (redirects included), later ones reuse its pinned
    /// client and final URL.
    async fn fetch(
        &self,
        key: &str,
        object: &RemoteObject,
        range: &Range<u64>,
    ) -> Result<Bytes, StoreFailure> {
        let unavailable = |reason: String| StoreFailure::Unavailable {
            table: object.table.clone(),
            reason,
        };
        let mut headers = HeaderMap::new();
        let spec = format!("bytes={}-{}", range.start, range.end.saturating_sub(1));
        headers.insert(
            RANGE,
            HeaderValue::from_str(&spec).map_err(|e| unavailable(e.to_string()))?,
        );
        if let Some(etag) = Validators::strong_etag(object.etag.as_deref())
            && let Ok(value) = HeaderValue::from_str(etag)
        {
            headers.insert(IF_MATCH, value);
        }
        let pinned = self
            .pinned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        let mut response = None;
        if let Some((url, client)) = pinned {
            match client.get(url).headers(headers.clone()).send().await {
                Ok(answer) if !answer.status().is_redirection() => response = Some(answer),
                Ok(_) => {}
                Err(error) => {
                    return Err(unavailable(
                        crate::fetch::FetchError::from_transport(&error, self.timeout).to_string(),
                    ));
                }
            }
        }
        let response = if let Some(answer) = response {
            answer
        } else {
            let fetched = self
                .fetcher
                .send(Method::GET, &object.url, headers, self.timeout)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            self.pinned
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.to_owned(), (fetched.final_url, fetched.pinned));
            fetched.response
        };
        let status = response.status();
        let whole_file = range.start == 0 && range.end >= object.size;
        match status {
            StatusCode::PARTIAL_CONTENT => {}
            StatusCode::OK if whole_file => {}
            StatusCode::OK => {
                return Err(StoreFailure::RangeUnsupported {
                    table: object.table.clone(),
                });
            }
            StatusCode::PRECONDITION_FAILED => {
                return Err(StoreFailure::Changed {
                    url: object.url.to_string(),
                });
            }
            other => return Err(unavailable(format!("HTTP {}", other.as_u16()))),
        }
        let body = response.bytes().await.map_err(|e| {
            unavailable(crate::fetch::FetchError::from_transport(&e, self.timeout).to_string())
        })?;
        self.fetcher
            .received(tabletalk_ports::FetchKind::Range, body.len());
        let expected = usize::try_from(range.end - range.start).unwrap_or(usize::MAX);
        if body.len() != expected {
            return Err(unavailable(format!(
                "expected {expected} bytes, got {}",
                body.len()
            )));
        }
        Ok(body)
    }
}

#[async_trait]
impl ObjectStore for GuardedStore {
    async fn put_opts(
        &self,
        _location: &Path,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(not_supported("put"))
    }

    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(not_supported("put_multipart"))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let object = self.object(location)?;
        let meta = Self::meta(location, object);
        let size = object.size;
        let range = match options.range {
            None => 0..size,
            Some(GetRange::Bounded(r)) => r.start..r.end.min(size),
            Some(GetRange::Offset(start)) => start..size,
            Some(GetRange::Suffix(n)) => size.saturating_sub(n)..size,
        };
        if options.head {
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                meta,
                range: 0..size,
                attributes: object_store::Attributes::default(),
            });
        }
        if range.start >= range.end {
            return Err(object_store::Error::Generic {
                store: "tabletalk",
                source: format!("empty range {range:?} of {size} bytes").into(),
            });
        }
        let bytes = self
            .read(location.as_ref(), object, &range)
            .await
            .map_err(failure)?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream::once(async move { Ok(bytes) }).boxed()),
            meta,
            range,
            attributes: object_store::Attributes::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        locations.map(|_| Err(not_supported("delete"))).boxed()
    }

    fn list(&self, _prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        stream::once(async { Err(not_supported("list")) }).boxed()
    }

    async fn list_with_delimiter(
        &self,
        _prefix: Option<&Path>,
    ) -> object_store::Result<ListResult> {
        Err(not_supported("list_with_delimiter"))
    }

    async fn copy_opts(
        &self,
        _from: &Path,
        _to: &Path,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(not_supported("copy"))
    }
}
