//! The process-wide allocation cap. Every allocation of the binary goes through a counting allocator; the server
//! never sets a limit, a query worker sets one for the length of each job. DataFusion's memory pool only sees the
//! buffers its operators reserve; this cap also covers what it does not see (string functions, decoders, row
//! encodings), so one query cannot take the machine's memory. An allocation over the cap fails, Rust aborts the
//! worker ("memory allocation of N bytes failed"), and the server reports `query_memory_exceeded`.

use std::alloc::System;

use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Bytes allocated now, by every thread of the process.
pub(crate) fn allocated() -> usize {
    ALLOCATOR.allocated()
}

/// Lets the process allocate at most `bytes` in all (at least what it holds now).
pub(crate) fn limit_to(bytes: usize) {
    // Lowering the limit fails only when more than `bytes` is allocated already; then the current amount is the cap.
    if ALLOCATOR.set_limit(bytes).is_err() {
        let _ = ALLOCATOR.set_limit(allocated());
    }
}

/// No cap.
pub(crate) fn unlimited() {
    let _ = ALLOCATOR.set_limit(usize::MAX);
}

/// The message Rust's allocation-failure handler prints before it aborts.
pub(crate) const ALLOCATION_FAILED: &str = "memory allocation of ";
