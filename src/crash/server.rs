//! `ringex serve` and `ringex replay` as child processes of the tools: the same binary
//! (`std::env::current_exe()`, or the one a test names), on a free loopback port, driven only
//! through its standard streams, its socket and signals.
//!
//! **Readiness** is the server's own line `listening on http://ADDR` (printed once it accepts
//! connections, after the journal is replayed): the spawner blocks on it, with a bound
//! ([`Spawn::startup_timeout`]) so a server that hangs at start-up fails the tool instead of
//! hanging it. **Restart time** is from `spawn` to the first answered request.
//!
//! Both streams are drained by a thread each for the child's whole life, so a chatty server never
//! blocks on a full pipe; stderr lines are kept (the cycle reads the snapshot lines from them,
//! and a failure shows the last ones).

use super::Error;
use crate::loadgen::http;
use crate::loadgen::setup::wall_ms;
use crate::loadgen::sign::{self, Account};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How `ringex serve` is started.
#[derive(Clone, Debug)]
pub struct Spawn {
    /// The `ringex` binary.
    pub binary: PathBuf,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// `--config`, if any.
    pub config: Option<PathBuf>,
    /// `--durability`.
    pub durability: String,
    /// How long the server may take to print its `listening on` line (it replays the whole
    /// journal first).
    pub startup_timeout: Duration,
}

/// A running `ringex serve`.
pub struct Served {
    child: Child,
    /// `host:port` it listens on.
    pub address: String,
    /// When it was spawned.
    pub spawned: Instant,
    /// Wall time (Unix ms) at which its `listening on` line was read: its recovery began before.
    pub listening_wall_ms: u64,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

/// Reads `stream` line by line until it ends, handing each line to `line`.
fn drain(
    stream: impl std::io::Read + Send + 'static,
    mut line: impl FnMut(String) + Send + 'static,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for text in BufReader::new(stream).lines() {
            match text {
                Ok(text) => line(text),
                Err(_) => break,
            }
        }
    })
}

impl Spawn {
    /// The arguments of `ringex serve`.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--no-rate-limits", "--durability"])
            .arg(&self.durability)
            .arg("--data-dir")
            .arg(&self.data_dir);
        if let Some(config) = &self.config {
            command.arg("--config").arg(config);
        }
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    }

    /// Starts the server and waits for its `listening on` line.
    pub fn start(&self) -> Result<Served, Error> {
        let spawned = Instant::now();
        let mut child = self.command().spawn().map_err(|error| {
            Error::Failed(format!("cannot run {}: {error}", self.binary.display()))
        })?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&stderr);
        let stderr_reader = drain(child.stderr.take().expect("piped"), move |line| {
            kept.lock().expect("stderr lines").push(line)
        });
        let (first_line, listening) = mpsc::channel();
        let stdout_reader = drain(child.stdout.take().expect("piped"), move |line| {
            let _ = first_line.send(line);
        });
        let mut served = Served {
            child,
            address: String::new(),
            spawned,
            listening_wall_ms: 0,
            stderr,
            readers: vec![stderr_reader, stdout_reader],
        };
        let line = listening.recv_timeout(self.startup_timeout);
        match line.as_deref().map(|line| line.strip_prefix("listening on http://")) {
            Ok(Some(address)) => {
                served.address = address.trim().to_string();
                served.listening_wall_ms = wall_ms();
                Ok(served)
            }
            _ => {
                let waited = spawned.elapsed().as_secs_f64();
                let lines = served.kill();
                let last = lines.last().map_or("(nothing on stderr)", String::as_str);
                Err(Error::Failed(format!(
                    "ringex serve on {} did not start within {waited:.1} s: {last}",
                    self.data_dir.display()
                )))
            }
        }
    }
}

impl Served {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The stderr lines so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("stderr lines").clone()
    }

    /// `GET /api/v1/admin/state` signed by `admin`, and the instant its answer was read.
    pub fn admin_state(&self, admin: &Account) -> Result<(serde_json::Value, Instant), Error> {
        admin_state(&self.address, admin)
    }

    /// SIGKILL: no chance to sync or say anything. Returns its stderr lines.
    pub fn kill(mut self) -> Vec<String> {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
        self.finish()
    }

    /// SIGTERM: the server drains, syncs and exits. Returns its exit code (`None` when a signal
    /// ended it) and its stderr lines.
    pub fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        self.signal(libc::SIGTERM);
        let code = self.child.wait().ok().and_then(|status| status.code());
        (code, self.finish())
    }

    fn signal(&mut self, signal: libc::c_int) {
        // SAFETY: sending a signal to our own child, which we have not waited for yet (its pid
        // cannot have been reused).
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
    }

    /// Joins the stream readers (the pipes end with the process) and takes the stderr lines.
    fn finish(&mut self) -> Vec<String> {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        std::mem::take(&mut *self.stderr.lock().expect("stderr lines"))
    }
}

impl Drop for Served {
    /// A tool that fails half-way never leaves a server behind.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal(libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// `GET /api/v1/admin/state` on `address`, signed by `admin`, and when its answer was read.
pub fn admin_state(address: &str, admin: &Account) -> Result<(serde_json::Value, Instant), Error> {
    let request = sign::Request {
        method: "GET",
        path: "/api/v1/admin/state",
        instruction: "adminStateQuery",
        fields: &[],
        timestamp_ms: wall_ms(),
        window_ms: 10_000,
    };
    let bytes = sign::query_bytes(admin, address, &request);
    let answers = http::exchange(address, &[bytes])
        .map_err(|error| Error::Failed(format!("{address}: GET /api/v1/admin/state: {error}")))?;
    let answered = Instant::now();
    match answers[0].json() {
        Some(state) if answers[0].status == 200 => Ok((state, answered)),
        _ => Err(Error::Failed(format!("GET /api/v1/admin/state: {}", answers[0].reason()))),
    }
}

/// What `ringex replay` printed.
#[derive(Clone, Debug, PartialEq)]
pub struct Replayed {
    /// `records N`: journal records replayed.
    pub records: u64,
    /// `sequence N`: the last global sequence number.
    pub sequence: u64,
    /// `state hash H`, lowercase hex.
    pub state_hash: String,
    /// From spawn to exit.
    pub seconds: f64,
    /// The torn tail it cut, if it reported one.
    pub tail_cut: Option<String>,
}

/// Runs `ringex replay` on the spawn's data directory (and configuration).
pub fn replay(spawn: &Spawn) -> Result<Replayed, Error> {
    let started = Instant::now();
    let mut command = Command::new(&spawn.binary);
    command.arg("replay").arg("--data-dir").arg(&spawn.data_dir);
    if let Some(config) = &spawn.config {
        command.arg("--config").arg(config);
    }
    let output = command
        .output()
        .map_err(|error| Error::Failed(format!("cannot run ringex replay: {error}")))?;
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(Error::Failed(format!("ringex replay failed: {}", stderr.trim())));
    }
    let field = |prefix: &str| stdout.lines().find_map(|line| line.strip_prefix(prefix));
    let number = |prefix: &str| field(prefix).and_then(|text| text.trim().parse().ok());
    let (Some(records), Some(sequence), Some(state_hash)) =
        (number("records "), number("sequence "), field("state hash "))
    else {
        return Err(Error::Failed(format!("ringex replay printed no state: {stdout}")));
    };
    let tail_cut = stderr.lines().find(|line| line.contains("cut a torn tail")).map(str::to_string);
    Ok(Replayed { records, sequence, state_hash: state_hash.trim().to_string(), seconds, tail_cut })
}
