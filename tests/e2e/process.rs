//! Running the real `tabletalk` binary as a process, in its own working directory.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The binary, built from `crates/server/src/main.rs` by this package.
fn executable() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tabletalk-under-test"))
}

/// A working directory to run the binary in, with an empty environment (only `PATH`).
pub struct Binary {
    dir: TempDir,
}

impl Binary {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(executable());
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }

    /// Runs a command to completion.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().unwrap()
    }

    /// Starts `tabletalk` (serve) on a free port and waits until `/health` answers.
    pub async fn start(&self, env: &[(&str, &str)]) -> RunningBinary {
        self.start_on(free_port(), env).await
    }

    /// Starts `tabletalk` (serve) on `port` (for configurations that name their own URL).
    pub async fn start_on(&self, port: u16, env: &[(&str, &str)]) -> RunningBinary {
        let port = port.to_string();
        let mut env = env.to_vec();
        env.push(("TABLETALK__SERVER__PORT", &port));
        let mut child = self
            .command(&[], &env)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let running = RunningBinary {
            child,
            stderr,
            base: format!("http://127.0.0.1:{port}"),
        };
        running.wait_until_healthy().await;
        running
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `tabletalk` process; killed when dropped.
pub struct RunningBinary {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    pub base: String,
}

impl RunningBinary {
    async fn wait_until_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            if client
                .get(format!("{}/health", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "tabletalk did not become healthy; stderr:\n{}",
            self.stderr_text()
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's living children now (its query workers).
    pub fn children(&self) -> std::collections::BTreeSet<u32> {
        let parent = self.pid();
        let mut children = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // `pid (comm) state ppid …`; comm may hold spaces, so read after its closing parenthesis.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent)
                && fields.first() != Some(&"Z")
            {
                children.insert(pid);
            }
        }
        children
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// The access key from the start-up line.
    pub fn access_key(&self) -> String {
        let text = self.stderr_text();
        let line = text
            .lines()
            .find(|l| l.contains("sign in with access key: "))
            .expect("access-key line on stderr");
        line.rsplit("access key: ")
            .next()
            .unwrap()
            .trim()
            .to_owned()
    }

    /// SIGKILL: the process dies wherever it is.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(self) -> std::process::ExitStatus {
        self.terminate_timed().0
    }

    /// Sends SIGTERM and waits for the exit status; also how long the exit took.
    pub fn terminate_timed(mut self) -> (std::process::ExitStatus, Duration) {
        let sent = Instant::now();
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, sent.elapsed());
            }
            assert!(
                Instant::now() < deadline,
                "tabletalk did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
