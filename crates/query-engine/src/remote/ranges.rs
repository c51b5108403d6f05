//! Byte ranges of remote Parquet files kept on disk, so a query that runs again reads its column chunks from here
//! instead of the network (docs/architecture.md, "Query isolation"). Ranges are kept per object (a digest of the URL
//! and the dataset's stored version: its `ETag` or `Last-Modified`), so every conversation that uses the same URL at
//! the same version shares them, and a refresh that finds a new version reads fresh bytes under a new object.
//!
//! A read is assembled from the kept pieces that cover it, and only the gaps between them are fetched (and kept in
//! turn): the Parquet reader merges the column chunks it wants into requests that differ with the columns a query
//! names and the row groups its filters keep, so keeping ranges only by their exact offsets fetched the same bytes
//! again and again (TPC-H over HTTP: 5.6× the column chunks the 22 queries name, and as much again on every later
//! run; docs/benchmarks.md). Pieces never overlap, so each byte of an object is fetched once while it is kept.
//!
//! Files are `<dir>/<object digest>/<start>-<end>`, written under a temporary name and renamed, so the server and the
//! query workers, which all read and write here, never see half a piece. Each process remembers the pieces it has
//! listed and lists an object's directory again only when a read finds a gap. The directory is capped; the least
//! recently written go first.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use bytes::{Bytes, BytesMut};

use crate::page_cache::in_memory;

/// A piece longer than this is not kept (column chunks of well-sized row groups stay far below).
const MAX_RANGE_BYTES: u64 = 256 << 20;

/// The kept ranges of remote objects.
#[derive(Debug)]
pub struct RangeCache {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes this process wrote since it last measured the directory.
    written: AtomicU64,
    /// The pieces of each object this process knows of, by start: their ends.
    known: Mutex<HashMap<String, BTreeMap<u64, u64>>>,
}

/// A part to read from a piece file.
struct PieceRead {
    path: PathBuf,
    piece_length: u64,
    offset: u64,
    length: usize,
}

impl PieceRead {
    /// The piece's file, if it is still the piece listed (a trimmed piece is gone).
    fn open(self) -> Option<OpenPiece> {
        let file = std::fs::File::open(&self.path).ok()?;
        if file.metadata().ok()?.len() != self.piece_length {
            return None;
        }
        Some(OpenPiece {
            file,
            offset: self.offset,
            length: self.length,
        })
    }
}

/// A part of an opened piece file.
struct OpenPiece {
    file: std::fs::File,
    offset: u64,
    length: usize,
}

impl OpenPiece {
    fn in_memory(&self) -> bool {
        let part = self.offset..self.offset + self.length as u64;
        in_memory(&self.file, std::slice::from_ref(&part))
    }

    /// Blocks when the part is not in memory.
    fn read(self) -> Option<Bytes> {
        let mut bytes = BytesMut::zeroed(self.length);
        self.file.read_exact_at(&mut bytes, self.offset).ok()?;
        Some(bytes.freeze())
    }
}

/// Each part with its bytes when kept and still there (`(part, kept, bytes)`).
fn read_parts(
    opened: Vec<(Range<u64>, bool, Option<OpenPiece>)>,
) -> Vec<(Range<u64>, bool, Option<Bytes>)> {
    opened
        .into_iter()
        .map(|(part, kept, piece)| (part, kept, piece.and_then(OpenPiece::read)))
        .collect()
}

/// What the kept pieces hold of a range: its parts in order, each kept bytes or a gap to fetch.
#[derive(Debug, PartialEq, Eq)]
pub enum Part {
    Kept(Bytes),
    Gap(Range<u64>),
}

impl RangeCache {
    /// Ranges under `dir` (created when first written), at most `max_bytes` of them; 0 keeps nothing.
    pub fn new(dir: PathBuf, max_bytes: u64) -> Self {
        Self {
            dir,
            max_bytes,
            written: AtomicU64::new(0),
            known: Mutex::new(HashMap::new()),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub const fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn object_dir(&self, object: &str) -> PathBuf {
        // Object paths are `d/<hex digest>`: the digest names the directory.
        self.dir.join(object.rsplit('/').next().unwrap_or(object))
    }

    /// `range` of `object` as kept pieces and the gaps between them, in order (one gap: nothing kept).
    pub async fn parts(&self, object: &str, range: &Range<u64>) -> Vec<Part> {
        if self.max_bytes == 0 || range.is_empty() {
            return vec![Part::Gap(range.clone())];
        }
        let mut plan = self.plan(object, range);
        if plan.iter().any(|(_, kept)| !kept) {
            // Another process may have kept what this one has not seen yet.
            self.list(object).await;
            plan = self.plan(object, range);
        }
        let opened: Vec<(Range<u64>, bool, Option<OpenPiece>)> = plan
            .into_iter()
            .map(|(part, kept)| {
                let read = kept.then(|| self.piece_read(object, &part)).flatten();
                let kept = read.is_some();
                (part, kept, read.and_then(PieceRead::open))
            })
            .collect();
        // The pieces are opened here (files of a directory just listed); parts whose pages are in memory are read
        // here too (`page_cache`), otherwise every kept part is read in one blocking task: a hop to the blocking pool per open, seek and read made a warm remote query up to a
        // quarter slower than an upload.
        let read = if opened
            .iter()
            .all(|(_, _, piece)| piece.as_ref().is_none_or(OpenPiece::in_memory))
        {
            read_parts(opened)
        } else {
            match tokio::task::spawn_blocking(move || read_parts(opened)).await {
                Ok(read) => read,
                Err(_) => return vec![Part::Gap(range.clone())],
            }
        };
        read.into_iter()
            .map(|(part, kept, bytes)| {
                if let Some(bytes) = bytes {
                    return Part::Kept(bytes);
                }
                if kept {
                    // Trimmed meanwhile: forget what was listed and fetch the part.
                    self.forget(object);
                }
                Part::Gap(part)
            })
            .fold(Vec::new(), |mut parts, part| {
                match (parts.last_mut(), part) {
                    (Some(Part::Gap(last)), Part::Gap(next)) if last.end == next.start => {
                        last.end = next.end;
                    }
                    (_, part) => parts.push(part),
                }
                parts
            })
    }

    /// `range` cut at the known pieces: `(part, kept)` in order, a kept part lying within one piece.
    fn plan(&self, object: &str, range: &Range<u64>) -> Vec<(Range<u64>, bool)> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let pieces = known.get(object);
        let mut plan: Vec<(Range<u64>, bool)> = Vec::new();
        let mut cursor = range.start;
        while cursor < range.end {
            // The piece holding `cursor`: the last one starting at or before it, if it reaches past it.
            let holding = pieces.and_then(|p| {
                p.range(..=cursor)
                    .next_back()
                    .filter(|(_, end)| **end > cursor)
                    .map(|(start, end)| (*start, *end))
            });
            let (end, kept) = if let Some((_, end)) = holding {
                (end.min(range.end), true)
            } else {
                let next = pieces
                    .and_then(|p| p.range(cursor + 1..).next().map(|(start, _)| *start))
                    .unwrap_or(range.end);
                (next.min(range.end), false)
            };
            match plan.last_mut() {
                Some((last, false)) if !kept => last.end = end,
                _ => plan.push((cursor..end, kept)),
            }
            cursor = end;
        }
        plan
    }

    /// Reads the pieces of `object` this process has not seen from its directory.
    async fn list(&self, object: &str) {
        let Ok(mut entries) = tokio::fs::read_dir(self.object_dir(object)).await else {
            return;
        };
        let mut pieces = BTreeMap::new();
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name();
            let Some((start, end)) = name.to_str().and_then(|n| n.split_once('-')) else {
                continue;
            };
            if let (Ok(start), Ok(end)) = (start.parse::<u64>(), end.parse::<u64>())
                && start < end
            {
                pieces.insert(start, end);
            }
        }
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(object.to_owned(), pieces);
    }

    fn forget(&self, object: &str) {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(object);
    }

    /// Where `part` of `object` lies in the kept piece holding it.
    fn piece_read(&self, object: &str, part: &Range<u64>) -> Option<PieceRead> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let (start, end) = known.get(object)?.range(..=part.start).next_back()?;
        Some(PieceRead {
            path: self.object_dir(object).join(format!("{start}-{end}")),
            piece_length: end - start,
            offset: part.start - start,
            length: usize::try_from(part.end - part.start).ok()?,
        })
    }

    /// Keeps `bytes` as `range` of `object`, a gap [`Self::parts`] reported. Best effort: a failed write only means
    /// the next reader fetches again.
    pub async fn put(&self, object: &str, range: &Range<u64>, bytes: &Bytes) {
        let length = bytes.len() as u64;
        if self.max_bytes == 0 || length != range.end - range.start || length > MAX_RANGE_BYTES {
            return;
        }
        let dir = self.object_dir(object);
        if tokio::fs::create_dir_all(&dir).await.is_err() {
            return;
        }
        let path = dir.join(format!("{}-{}", range.start, range.end));
        let temporary = dir.join(format!(
            ".{}-{}.{}",
            range.start,
            range.end,
            std::process::id()
        ));
        if tokio::fs::write(&temporary, bytes).await.is_ok()
            && tokio::fs::rename(&temporary, &path).await.is_ok()
        {
            self.known
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(object.to_owned())
                .or_default()
                .insert(range.start, range.end);
            // Measuring the directory costs a listing: done once an eighth of the cap was written here.
            let written = self.written.fetch_add(length, Ordering::Relaxed) + length;
            if written >= self.max_bytes / 8 {
                self.written.store(0, Ordering::Relaxed);
                self.trim().await;
            }
        } else {
            let _ = tokio::fs::remove_file(&temporary).await;
        }
    }

    /// Removes the oldest pieces while the directory holds more than its cap (down to three quarters of it).
    pub async fn trim(&self) {
        let mut kept = Vec::new();
        let mut total = 0;
        let mut dirs = vec![self.dir.clone()];
        while let Some(dir) = dirs.pop() {
            let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
                continue;
            };
            while let Ok(Some(entry)) = entries.next_entry().await {
                let Ok(meta) = entry.metadata().await else {
                    continue;
                };
                if meta.is_dir() {
                    dirs.push(entry.path());
                } else {
                    total += meta.len();
                    kept.push((meta.modified().ok(), meta.len(), entry.path()));
                }
            }
        }
        if total <= self.max_bytes {
            return;
        }
        kept.sort();
        let target = self.max_bytes / 4 * 3;
        for (_, length, path) in kept {
            if total <= target {
                break;
            }
            if tokio::fs::remove_file(&path).await.is_ok() {
                total -= length;
            }
        }
        // Other processes find out when a read fails; this one starts over.
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
