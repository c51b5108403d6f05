//! The object store of a query's local files (uploads, cached downloads): DataFusion's `LocalFileSystem`, except
//! that the byte ranges a Parquet scan asks for are read into buffers that are not zeroed first.
//!
//! `object_store`'s local reads allocate each range's buffer, fill it with zeros and then read the file over them:
//! the zeroing was 4.6 % of an H2O-style group-by's CPU (uncompressed pages, so the ranges are the whole columns)
//! and a share of every scan (docs/benchmarks.md, "Local reads"). `Read::read_to_end` into a buffer with the range's
//! capacity reads straight into the spare capacity. Everything else — metadata, whole-file reads of text formats,
//! listing — is `LocalFileSystem`'s.
//!
//! Ranges whose pages are already in memory (a dataset in use; see `page_cache`) are copied on the scan's own
//! thread; only the others go to the blocking pool, so a cold disk never stalls the engine's threads. The hop to the
//! pool made every column-chunk read a thread wake and sent the scan's task back through the runtime's queue, and
//! partitions with the same rows then finished up to 70 ms apart in TPC-H Q1 (of about 160 ms), the query waiting for
//! the last: read in place, they finish within a row group of each other, and TPC-H SF1 takes 0.92× the time
//! (docs/benchmarks.md, "Reads in place").

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use futures_util::stream::BoxStream;

use crate::page_cache::in_memory;

/// The registry key DataFusion resolves local paths to.
pub(crate) const LOCAL_URL: &str = "file://";

/// `LocalFileSystem` with range reads that do not zero their buffers.
#[derive(Debug, Default)]
pub struct LocalFiles {
    inner: LocalFileSystem,
}

impl fmt::Display for LocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalFiles")
    }
}

fn generic(source: std::io::Error, path: &std::path::Path) -> object_store::Error {
    if source.kind() == std::io::ErrorKind::NotFound {
        return object_store::Error::NotFound {
            path: path.to_string_lossy().into_owned(),
            source: Box::new(source),
        };
    }
    object_store::Error::Generic {
        store: "LocalFiles",
        source: Box::new(source),
    }
}

/// Reads each range of the file in full, or fails: a range past the file's end is an error, as it is for
/// `LocalFileSystem`.
fn read_ranges(
    mut file: File,
    path: &std::path::Path,
    ranges: &[Range<u64>],
) -> object_store::Result<Vec<Bytes>> {
    ranges
        .iter()
        .map(|range| {
            let wanted = range.end.saturating_sub(range.start);
            let capacity = usize::try_from(wanted).map_err(|e| object_store::Error::Generic {
                store: "LocalFiles",
                source: Box::new(e),
            })?;
            file.seek(SeekFrom::Start(range.start))
                .map_err(|e| generic(e, path))?;
            let mut buffer = Vec::with_capacity(capacity);
            (&mut file)
                .take(wanted)
                .read_to_end(&mut buffer)
                .map_err(|e| generic(e, path))?;
            if buffer.len() != capacity {
                return Err(object_store::Error::Generic {
                    store: "LocalFiles",
                    source: format!(
                        "{}: range {range:?} ends past the file's {} bytes read",
                        path.display(),
                        range.start + buffer.len() as u64
                    )
                    .into(),
                });
            }
            Ok(Bytes::from(buffer))
        })
        .collect()
}

#[async_trait]
impl ObjectStore for LocalFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let path: PathBuf = self.inner.path_to_filesystem(location)?;
        let file = File::open(&path).map_err(|e| generic(e, &path))?;
        if in_memory(&file, ranges) {
            return read_ranges(file, &path, ranges);
        }
        let ranges = ranges.to_vec();
        // Reads that wait for the disk: off the engine's threads, as `LocalFileSystem` does.
        tokio::task::spawn_blocking(move || read_ranges(file, &path, &ranges))
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "LocalFiles",
                source: Box::new(e),
            })?
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
