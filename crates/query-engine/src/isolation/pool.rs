//! The server's side of the query workers: a fixed number of pre-started worker processes, each running one job
//! at a time. A job's lease gives the worker back when the job ends normally; when the lease is dropped early
//! (timeout, stop, delete, the caller gone) or the worker crashed or grew too large, the worker is killed and a
//! replacement is started in the background. Killing is the only way to stop a CPU-bound DataFusion operator
//! that does not yield, and it returns the query's CPU and memory to the machine at once.

use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::memory::ALLOCATION_FAILED;
use super::protocol::nonblocking::{read_frame, write_frame};
use super::protocol::{Failure, Hello, Job, Output, Reply};

/// How long a new worker may take to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of a worker's stderr kept to explain its death (the first ones: a panic's message comes before its
/// backtrace).
const KEPT_STDERR_LINES: usize = 5;

/// What a worker said on stderr, for the reason of its death.
#[derive(Debug, Default)]
struct Stderr {
    first_lines: Vec<String>,
    /// Rust's allocation-failure message was among them: the allocation cap stopped the query.
    allocation_failed: bool,
}

/// How to start a worker process.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl WorkerCommand {
    /// This very executable with its hidden `worker` subcommand (the `tabletalk` binary).
    ///
    /// # Errors
    /// When the running executable's path cannot be read.
    pub fn this_executable() -> io::Result<Self> {
        Ok(Self {
            program: std::env::current_exe()?,
            args: vec!["worker".to_owned()],
        })
    }
}

/// One started worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    /// What the worker wrote to stderr (forwarded to the log as it comes).
    stderr: Arc<Mutex<Stderr>>,
    stderr_reader: JoinHandle<()>,
}

impl Worker {
    fn id(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    fn kill(&mut self) {
        // SIGKILL: nothing inside the worker can delay it. The exit is reaped by tokio (kill_on_drop).
        let _ = self.child.start_kill();
    }

    /// Why the worker died, read after its stdout closed.
    async fn death(&mut self) -> Failure {
        let status = tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await;
        // Its stderr closes with it: wait for the last lines, which say whether an allocation failed.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.stderr_reader).await;
        let said = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        if said.allocation_failed {
            return Failure::MemoryExceeded;
        }
        let how = match status {
            Ok(Ok(status)) => status.to_string(),
            _ => "no exit status".to_owned(),
        };
        Failure::Internal {
            reason: format!(
                "the query worker stopped unexpectedly ({how}): {}",
                said.first_lines.join(" / ")
            ),
        }
    }
}

/// What every lease and the engine share.
struct PoolInner {
    command: WorkerCommand,
    hello: Hello,
    runtime: tokio::runtime::Handle,
    idle_sender: mpsc::UnboundedSender<Worker>,
    idle: tokio::sync::Mutex<mpsc::UnboundedReceiver<Worker>>,
    /// Workers started and not yet killed (idle or leased).
    live: AtomicUsize,
    /// Set when the engine goes away: no more replacements.
    closed: AtomicBool,
    /// The last attempt to start a worker failed.
    failing: AtomicBool,
    /// Where the bytes the workers fetched are reported.
    telemetry: Arc<dyn tabletalk_ports::Telemetry>,
}

/// The pool of query workers.
#[derive(Clone)]
pub(crate) struct WorkerPool {
    inner: Arc<PoolInner>,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("program", &self.inner.command.program)
            .field("live", &self.inner.live.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

async fn start(inner: &PoolInner) -> io::Result<Worker> {
    let mut child = Command::new(&inner.command.program)
        .args(&inner.command.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let missing = || io::Error::other("the worker's pipes are missing");
    let mut stdin = child.stdin.take().ok_or_else(missing)?;
    let mut stdout = child.stdout.take().ok_or_else(missing)?;
    let stderr_pipe = child.stderr.take().ok_or_else(missing)?;
    let pid = child.id().unwrap_or(0);
    let stderr = Arc::new(Mutex::new(Stderr::default()));
    let kept = stderr.clone();
    let stderr_reader = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr_pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::warn!(worker = pid, "{line}");
            let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.allocation_failed |= line.contains(ALLOCATION_FAILED);
            if kept.first_lines.len() < KEPT_STDERR_LINES {
                kept.first_lines.push(line);
            }
        }
    });
    let handshake = async {
        write_frame(&mut stdin, &inner.hello).await?;
        match read_frame::<Reply>(&mut stdout).await? {
            Reply::Ready => Ok(()),
            Reply::Done { .. } => Err(io::Error::other("the worker answered before its first job")),
        }
    };
    match tokio::time::timeout(START_TIMEOUT, handshake).await {
        Ok(Ok(())) => Ok(Worker {
            child,
            stdin,
            stdout,
            stderr,
            stderr_reader,
        }),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(io::Error::other("the worker did not get ready in time")),
    }
}

/// Starts one worker in the background and adds it to the idle ones, retrying with a growing pause while starting
/// fails (a missing executable, no processes left).
fn start_replacement(inner: &Arc<PoolInner>) {
    if inner.closed.load(Ordering::SeqCst) {
        return;
    }
    let inner = inner.clone();
    let runtime = inner.runtime.clone();
    runtime.spawn(async move {
        let mut pause = Duration::from_millis(100);
        while !inner.closed.load(Ordering::SeqCst) {
            match start(&inner).await {
                Ok(worker) => {
                    inner.failing.store(false, Ordering::SeqCst);
                    inner.live.fetch_add(1, Ordering::SeqCst);
                    if inner.idle_sender.send(worker).is_err() {
                        inner.live.fetch_sub(1, Ordering::SeqCst);
                    }
                    return;
                }
                Err(error) => {
                    inner.failing.store(true, Ordering::SeqCst);
                    tracing::error!(%error, program = %inner.command.program.display(), "cannot start a query worker");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
}

impl WorkerPool {
    /// Starts `size` workers in the background on `runtime`.
    pub(crate) fn start(
        command: WorkerCommand,
        hello: Hello,
        size: usize,
        runtime: tokio::runtime::Handle,
        telemetry: Arc<dyn tabletalk_ports::Telemetry>,
    ) -> Self {
        let (idle_sender, idle) = mpsc::unbounded_channel();
        let inner = Arc::new(PoolInner {
            command,
            hello,
            runtime,
            idle_sender,
            idle: tokio::sync::Mutex::new(idle),
            live: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            failing: AtomicBool::new(false),
            telemetry,
        });
        for _ in 0..size.max(1) {
            start_replacement(&inner);
        }
        Self { inner }
    }

    /// An idle worker, waiting at most `wait` for one (after a kill, its replacement is on its way).
    pub(crate) async fn lease(&self, wait: Duration) -> Result<Lease, Failure> {
        let mut idle = self.inner.idle.lock().await;
        match tokio::time::timeout(wait, idle.recv()).await {
            Ok(Some(worker)) => Ok(Lease {
                worker: Some(worker),
                pool: self.inner.clone(),
            }),
            _ => Err(Failure::Internal {
                reason: "no query worker is available".to_owned(),
            }),
        }
    }

    /// Workers running now (idle or busy).
    pub(crate) fn live(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }

    /// Whether the last attempt to start a worker failed.
    pub(crate) fn failing(&self) -> bool {
        self.inner.failing.load(Ordering::SeqCst)
    }

    /// Stops every idle worker and starts no more; busy ones die with their leases.
    pub(crate) fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        if let Ok(mut idle) = self.inner.idle.try_lock() {
            idle.close();
            while let Ok(mut worker) = idle.try_recv() {
                worker.kill();
                self.inner.live.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// One worker lent to one job. Dropped before the job's reply was read, it kills the worker.
pub(crate) struct Lease {
    worker: Option<Worker>,
    pool: Arc<PoolInner>,
}

impl Lease {
    /// Sends the job and waits for its reply. The worker goes back to the pool only after a clean reply; a dead or
    /// bloated worker is replaced.
    pub(crate) async fn run(mut self, job: &Job) -> Result<Output, Failure> {
        let Some(worker) = self.worker.as_mut() else {
            return Err(Failure::Internal {
                reason: "the lease has no worker".to_owned(),
            });
        };
        let sent = Instant::now();
        let exchange = async {
            write_frame(&mut worker.stdin, job).await?;
            read_frame::<Reply>(&mut worker.stdout).await
        };
        match exchange.await {
            Ok(Reply::Done {
                outcome,
                recycle,
                fetched_bytes,
            }) => {
                self.pool
                    .telemetry
                    .fetched(tabletalk_ports::FetchKind::Range, fetched_bytes);
                if let Ok(output) = &outcome {
                    // What isolation adds to a query: the round trip minus the worker's own execution time
                    // (bench/isolation.py reads these lines; docs/benchmarks.md).
                    tracing::debug!(
                        target: "tabletalk::query_worker",
                        round_trip_us = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX),
                        execution_us = (output.execution_ms * 1000.0).round(),
                        "query answered by its worker"
                    );
                }
                if recycle {
                    tracing::debug!(worker = worker.id(), "replacing a query worker that grew");
                } else if let Some(worker) = self.worker.take()
                    && let Err(mpsc::error::SendError(mut worker)) =
                        self.pool.idle_sender.send(worker)
                {
                    worker.kill();
                    self.pool.live.fetch_sub(1, Ordering::SeqCst);
                }
                outcome
            }
            Ok(Reply::Ready) => Err(Failure::Internal {
                reason: "the query worker answered out of turn".to_owned(),
            }),
            Err(_) => Err(worker.death().await),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            worker.kill();
            self.pool.live.fetch_sub(1, Ordering::SeqCst);
            start_replacement(&self.pool);
        }
    }
}
