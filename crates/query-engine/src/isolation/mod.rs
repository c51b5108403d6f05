//! Query isolation: every query runs in a worker process of its own (the `tabletalk` binary re-executed as
//! `tabletalk worker`), so a runaway plan can always be stopped by killing its process, and a crash or an
//! allocation beyond the cap ends that one query only. `pool` is the server's side, `worker` the process's main
//! loop, `protocol` what crosses the pipes between them, `memory` the allocation cap.

#[cfg(all(feature = "test-hooks", debug_assertions))]
pub(crate) mod hooks;
pub(crate) mod memory;
pub mod pool;
pub(crate) mod protocol;
pub mod worker;
