//! The query worker: the `tabletalk` binary re-executed as `tabletalk worker` by the server. It reads a `Hello`,
//! answers `Ready`, then runs one job at a time and answers each with a `Reply` (see `protocol`).
//!
//! Three rules keep a worker disposable:
//! - it owns nothing the server needs: the server can SIGKILL it at any instant (timeout, stop, delete,
//!   shutdown) and start another;
//! - any panic aborts the process, so a half-unwound engine never runs another query;
//! - a thread of its own reads stdin, and the process exits as soon as stdin closes, so a worker never outlives
//!   its server, even one killed with SIGKILL, and even while a query keeps the other threads busy.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use tabletalk_ports::{
    CallKind, FetchKind, Gauges, LlmCallEnd, QueryEnd, QueryOrigin, Telemetry, TurnEnd,
};

use super::memory;
use super::protocol::{Hello, Job, Output, Reply, read_frame, write_frame};
use crate::engine::execute::{RemoteAccess, execute};
use crate::engine::file_caches::FileCaches;
use crate::fetch::{AddressPolicy, Cidr, FetchSettings, GuardedFetcher};
use crate::remote::TailCache;

/// Counts the range bytes this worker's jobs fetch, so each reply can carry its job's share.
#[derive(Debug, Default)]
struct FetchedBytes(AtomicU64);

impl FetchedBytes {
    /// What was counted since the last call.
    fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

impl Telemetry for FetchedBytes {
    fn http_request(&self, _: &str, _: &str, _: u16, _: Duration) {}
    fn turn_finished(&self, _: TurnEnd, _: Option<Duration>) {}
    fn llm_call(&self, _: &str, _: CallKind, _: LlmCallEnd) {}
    fn llm_tokens(&self, _: &str, _: &str, _: CallKind, _: u64, _: u64) {}
    fn query_finished(&self, _: QueryOrigin, _: QueryEnd, _: Duration) {}
    fn fetched(&self, _: FetchKind, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }
    fn websockets_changed(&self, _: i64) {}
    fn websocket_events_dropped(&self, _: &'static str, _: u64) {}
    fn render(&self, _: Gauges) -> String {
        String::new()
    }
}

fn access(hello: &Hello, range_bytes: Arc<FetchedBytes>) -> io::Result<RemoteAccess> {
    let allowed_cidrs = hello
        .allowed_cidrs
        .iter()
        .map(|c| c.parse::<Cidr>().map_err(io::Error::other))
        .collect::<io::Result<Vec<_>>>()?;
    let fetcher = GuardedFetcher::new(FetchSettings {
        policy: AddressPolicy {
            allow_private_networks: hello.allow_private_networks,
            allowed_hosts: hello.allowed_hosts.clone(),
            allowed_cidrs,
        },
        user_agent: hello.user_agent.clone(),
    })
    .with_telemetry(range_bytes);
    Ok(RemoteAccess {
        fetcher,
        probe_timeout: Duration::from_millis(hello.probe_timeout_ms),
        file_caches: FileCaches::new("TabletalkWorker"),
        tails: Arc::new(TailCache::new(hello.footers_dir.clone())),
        ranges: Arc::new(crate::remote::RangeCache::new(
            hello.ranges_dir.clone(),
            hello.ranges_max_bytes,
        )),
    })
}

/// Resident memory of this process (`VmRSS`), in bytes.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Reads jobs until stdin closes, then ends the process whatever its other threads are doing.
fn read_jobs(jobs: &mpsc::SyncSender<Job>) -> ! {
    let mut input = io::stdin().lock();
    loop {
        match read_frame::<Job>(&mut input) {
            Ok(job) => {
                if jobs.send(job).is_err() {
                    std::process::exit(0);
                }
            }
            Err(_) => std::process::exit(0),
        }
    }
}

fn fail(message: &str) -> ExitCode {
    let _ = writeln!(io::stderr().lock(), "tabletalk worker: {message}");
    ExitCode::FAILURE
}

/// Runs the worker on this process's stdin and stdout.
pub fn serve_stdio() -> ExitCode {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::abort();
    }));
    let hello: Hello = match read_frame(&mut io::stdin().lock()) {
        Ok(hello) => hello,
        Err(error) => return fail(&format!("no greeting from the server: {error}")),
    };
    let fetched = Arc::new(FetchedBytes::default());
    let access = match access(&hello, fetched.clone()) {
        Ok(access) => access,
        Err(error) => return fail(&format!("bad greeting: {error}")),
    };
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("tabletalk-worker")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start a runtime: {error}")),
    };
    let (jobs, next_job) = mpsc::sync_channel::<Job>(1);
    std::thread::spawn(move || read_jobs(&jobs));
    let mut output = io::stdout().lock();
    if write_frame(&mut output, &Reply::Ready).is_err() {
        return ExitCode::SUCCESS;
    }
    let ready_resident = resident_bytes();
    for job in next_job {
        // A worker holding more than a query's memory limit beyond what it held when ready is replaced after its
        // job: allocators rarely give freed memory back. Not sooner: a replacement starts cold (heap, footer cache),
        // which cost 10–37 % on the benchmark's heavy queries when workers that grew by 256 or 512 MiB were
        // replaced (docs/benchmarks.md, "Query isolation").
        let recycle_above = job.memory_limit;
        // The whole query, tracked by DataFusion's pool or not, allocates at most its memory limit (the pool gets
        // 90 % of it: `engine::execute`).
        let allowance = usize::try_from(job.memory_limit).unwrap_or(usize::MAX);
        memory::limit_to(memory::allocated().saturating_add(allowance));
        let outcome = runtime.block_on(execute(job, &access));
        memory::unlimited();
        let reply = Reply::Done {
            outcome: outcome.map(Output::from),
            recycle: resident_bytes().saturating_sub(ready_resident) > recycle_above,
            fetched_bytes: fetched.take(),
        };
        if write_frame(&mut output, &reply).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}
