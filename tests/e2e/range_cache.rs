//! The range cache of remote Parquet files: reads are assembled from the kept pieces, only the gaps between them are
//! fetched, pieces kept by another process are found, wrong lengths are not kept, and the directory stays capped.

use std::ops::Range;

use bytes::Bytes;
use tabletalk_query_engine::remote::{Part, RangeCache};

fn assembled(parts: &[Part]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Kept(bytes) => out.extend_from_slice(bytes),
            Part::Gap(_) => return None,
        }
    }
    Some(out)
}

#[tokio::test]
async fn reads_are_assembled_from_kept_pieces_and_only_gaps_are_fetched() {
    let dir = std::env::temp_dir().join(format!(
        "tabletalk-ranges-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let object: Vec<u8> = (0..20_000_u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let slice = |r: &Range<u64>| {
        Bytes::copy_from_slice(
            &object[usize::try_from(r.start).unwrap()..usize::try_from(r.end).unwrap()],
        )
    };
    let cache = RangeCache::new(dir.join("ranges"), 1 << 20);
    assert_eq!(
        cache.parts("d/abc", &(0..1000)).await,
        vec![Part::Gap(0..1000)]
    );
    cache.put("d/abc", &(0..1000), &slice(&(0..1000))).await;
    cache
        .put("d/abc", &(3000..4000), &slice(&(3000..4000)))
        .await;
    // Within a piece, across pieces with the gap between them, and past the last one.
    assert_eq!(
        assembled(&cache.parts("d/abc", &(10..990)).await).unwrap(),
        &object[10..990]
    );
    assert_eq!(
        cache.parts("d/abc", &(500..5000)).await,
        vec![
            Part::Kept(slice(&(500..1000))),
            Part::Gap(1000..3000),
            Part::Kept(slice(&(3000..4000))),
            Part::Gap(4000..5000),
        ]
    );
    assert_eq!(
        cache.parts("d/abd", &(0..1000)).await,
        vec![Part::Gap(0..1000)],
        "another version"
    );
    // Another process's pieces are found when a read meets a gap.
    let other = RangeCache::new(dir.join("ranges"), 1 << 20);
    other
        .put("d/abc", &(1000..3000), &slice(&(1000..3000)))
        .await;
    assert_eq!(
        assembled(&cache.parts("d/abc", &(0..4000)).await).unwrap(),
        &object[0..4000]
    );
    cache.put("d/abc", &(5000..5010), &slice(&(0..5))).await;
    assert_eq!(
        cache.parts("d/abc", &(5000..5010)).await,
        vec![Part::Gap(5000..5010)],
        "wrong length: not kept"
    );

    // The directory stays capped, newest kept; a trimmed piece is fetched again.
    let small = RangeCache::new(dir.join("small"), 4096);
    for i in 0..10_u64 {
        let range = i * 1000..(i + 1) * 1000;
        small.put("d/abc", &range, &slice(&range)).await;
    }
    small.trim().await;
    let mut total = 0;
    for entry in std::fs::read_dir(dir.join("small").join("abc")).unwrap() {
        total += entry.unwrap().metadata().unwrap().len();
    }
    assert!(total <= 4096, "capped: {total}");
    assert!(
        assembled(&small.parts("d/abc", &(9000..10_000)).await).is_some(),
        "the newest stay"
    );
    assert_eq!(
        small.parts("d/abc", &(0..1000)).await,
        vec![Part::Gap(0..1000)]
    );
    let off = RangeCache::new(dir.join("off"), 0);
    off.put("d/abc", &(0..1000), &slice(&(0..1000))).await;
    assert_eq!(
        off.parts("d/abc", &(0..1000)).await,
        vec![Part::Gap(0..1000)]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Kept parts read in place when their pages are in memory and in the blocking pool when they were dropped from the
/// page cache: the same bytes either way.
#[tokio::test]
async fn kept_parts_read_the_same_in_memory_and_from_disk() {
    use rustix::fs::{Advice, fadvise};
    use tabletalk_query_engine::page_cache::in_memory;

    let dir = tempfile::tempdir().unwrap();
    let object: Vec<u8> = (0..(3_u32 << 20))
        .map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap())
        .collect();
    let cache = RangeCache::new(dir.path().join("ranges"), 64 << 20);
    for range in [0..(1_u64 << 20), (1 << 20)..(3 << 20)] {
        let bytes = Bytes::copy_from_slice(
            &object[usize::try_from(range.start).unwrap()..usize::try_from(range.end).unwrap()],
        );
        cache.put("d/abc", &range, &bytes).await;
    }
    let pieces: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path().join("ranges").join("abc"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(pieces.len(), 2, "{pieces:?}");
    let wanted = 4096..(3_u64 << 20) - 7;
    for evicted in [true, false] {
        for piece in &pieces {
            let file = std::fs::File::open(piece).unwrap();
            let whole = 0..file.metadata().unwrap().len();
            if evicted {
                file.sync_all().unwrap();
                fadvise(&file, 0, None, Advice::DontNeed).unwrap();
            }
            assert_eq!(
                in_memory(&file, std::slice::from_ref(&whole)),
                !evicted,
                "{piece:?}"
            );
        }
        let parts = cache.parts("d/abc", &wanted).await;
        assert_eq!(parts.len(), 2, "evicted {evicted}: one part per piece");
        assert_eq!(
            assembled(&parts).unwrap(),
            &object[4096..(3 << 20) - 7],
            "evicted {evicted}"
        );
    }
}
