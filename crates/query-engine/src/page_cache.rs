//! Whether a file's bytes are in the kernel's page cache, so that reading them is a copy rather than a wait for the
//! disk. Reads that would wait go to tokio's blocking pool; the others are made on the engine's own threads, which
//! saves each read a hop to the pool and keeps a scan's task from going back through the runtime's queue
//! (docs/benchmarks.md, "Reads in place"). Used by the local files' store (`engine::local_files`) and the kept
//! ranges of remote files (`remote::ranges`).

use std::fs::File;
use std::ops::Range;

/// Whether the first and last byte of every range are in the page cache: one-byte reads with `RWF_NOWAIT`, which
/// fail (`EAGAIN`) rather than wait for the disk. A file read moments ago answers yes, a cold one no; so does a file
/// system without `RWF_NOWAIT`, which then keeps every read in the blocking pool as before.
#[cfg(target_os = "linux")]
#[must_use]
pub fn in_memory(file: &File, ranges: &[Range<u64>]) -> bool {
    use rustix::io::{ReadWriteFlags, preadv2};
    use std::io::IoSliceMut;
    let mut byte = [0_u8; 1];
    let mut cached = |offset: u64| {
        matches!(
            preadv2(
                file,
                &mut [IoSliceMut::new(&mut byte)],
                offset,
                ReadWriteFlags::NOWAIT
            ),
            Ok(1)
        )
    };
    ranges
        .iter()
        .filter(|range| range.start < range.end)
        .all(|range| cached(range.start) && cached(range.end - 1))
}

/// Elsewhere every read goes to the blocking pool.
#[cfg(not(target_os = "linux"))]
#[must_use]
pub fn in_memory(_file: &File, _ranges: &[Range<u64>]) -> bool {
    false
}
