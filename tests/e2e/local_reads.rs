//! Local range reads: `in_memory` tells a file whose pages were just dropped from the page cache from one just read,
//! and `LocalFiles` returns the same bytes either way — read in place when in memory, in the blocking pool when not
//! — with an error, not a short buffer, for a range past the file's end.

use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;

use bytes::Bytes;
use datafusion::object_store::ObjectStore;
use datafusion::object_store::path::Path;
use rustix::fs::{Advice, fadvise};
use tabletalk_query_engine::engine::LocalFiles;
use tabletalk_query_engine::page_cache::in_memory;

/// 8 MiB that differ from byte to byte, so a range read at the wrong offset cannot match.
fn contents() -> Vec<u8> {
    (0..8_u32 << 20)
        .map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap())
        .collect()
}

fn written(dir: &tempfile::TempDir, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join("data.bin");
    let mut file = File::create(&path).unwrap();
    file.write_all(bytes).unwrap();
    // Only clean pages can be dropped from the cache.
    file.sync_all().unwrap();
    path
}

/// Asks the kernel to drop the file's pages from the page cache (they are clean, so it does).
fn evict(path: &std::path::Path) {
    let file = File::open(path).unwrap();
    fadvise(&file, 0, None, Advice::DontNeed).unwrap();
}

fn ranges() -> Vec<Range<u64>> {
    vec![
        0..1,
        4096..1_000_000,
        3_000_000..3_000_000,
        5_000_000..8 << 20,
    ]
}

async fn read(path: &std::path::Path, ranges: &[Range<u64>]) -> Vec<Bytes> {
    let location = Path::from_filesystem_path(path).unwrap();
    LocalFiles::default()
        .get_ranges(&location, ranges)
        .await
        .unwrap()
}

fn expected(bytes: &[u8], ranges: &[Range<u64>]) -> Vec<Vec<u8>> {
    ranges
        .iter()
        .map(|r| bytes[usize::try_from(r.start).unwrap()..usize::try_from(r.end).unwrap()].to_vec())
        .collect()
}

#[test]
fn a_file_is_in_memory_once_read_and_not_after_its_pages_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = contents();
    let path = written(&dir, &bytes);
    evict(&path);
    let file = File::open(&path).unwrap();
    assert!(
        !in_memory(&file, &ranges()),
        "pages just dropped read as cached"
    );
    // The last 2 MiB read back. (Each negative check probes pages no probe touched before: a missed probe may start
    // the kernel's read-ahead there.)
    let mut reader = File::open(&path).unwrap();
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(6 << 20)).unwrap();
    reader.read_to_end(&mut Vec::new()).unwrap();
    assert!(in_memory(
        &file,
        std::slice::from_ref(&((6 << 20)..(8 << 20)))
    ));
    assert!(
        !in_memory(&file, std::slice::from_ref(&((2 << 20)..(8 << 20)))),
        "a range whose start was dropped"
    );
    assert!(
        !in_memory(&file, &[(6 << 20)..(8 << 20), (3 << 20)..(4 << 20)]),
        "one range of two dropped"
    );
    File::open(&path)
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap();
    assert!(
        in_memory(&file, &ranges()),
        "a file just read reads as not cached"
    );
    assert!(in_memory(&file, &[]), "no range has nothing to wait for");
}

#[tokio::test]
async fn ranges_read_the_same_bytes_in_place_and_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = contents();
    let path = written(&dir, &bytes);
    evict(&path);
    let from_disk = read(&path, &ranges()).await;
    let file = File::open(&path).unwrap();
    let mut all = Vec::new();
    File::open(&path).unwrap().read_to_end(&mut all).unwrap();
    assert!(in_memory(&file, &ranges()));
    let in_place = read(&path, &ranges()).await;
    let want = expected(&bytes, &ranges());
    for (name, got) in [("from disk", &from_disk), ("in place", &in_place)] {
        assert_eq!(got.len(), want.len(), "{name}");
        for (range, (g, w)) in ranges().iter().zip(got.iter().zip(&want)) {
            assert_eq!(g.as_ref(), w.as_slice(), "{name}: range {range:?}");
        }
    }
}

#[tokio::test]
async fn a_range_past_the_end_or_a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = contents();
    let path = written(&dir, &bytes);
    File::open(&path)
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap();
    let location = Path::from_filesystem_path(&path).unwrap();
    // Nothing past the end is in memory, so such a range always goes to the blocking pool; it fails there whole.
    let past = [0..10, (8 << 20) - 5..(8 << 20) + 5];
    assert!(!in_memory(&File::open(&path).unwrap(), &past));
    let error = LocalFiles::default()
        .get_ranges(&location, &past)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("past the file"), "{error}");
    let missing = dir.path().join("missing.bin");
    let missing = Path::from(missing.to_string_lossy().trim_start_matches('/'));
    let error = LocalFiles::default()
        .get_ranges(&missing, std::slice::from_ref(&(0..1)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, datafusion::object_store::Error::NotFound { .. }),
        "{error}"
    );
}
