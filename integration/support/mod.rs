//! Helpers shared by the integration tests: running with a deadline ([`proc`]), reading a
//! child's output line by line, reading `/proc`, and skipping a test whose prerequisites are
//! missing ([`skip`], the only way a test skips).

pub mod proc;
pub mod skip;
pub mod sockets;

/// `support::require!(NEEDS)` at the top of a test (`NEEDS`: a `&[skip::Need]`): when one is
/// missing, prints `SKIP <test>: <why>` and returns, or fails the test under
/// `PODINIT_REQUIRE_ALL=1` ([`skip::skip_unless`]).
macro_rules! require {
    ($needs:expr) => {
        if $crate::support::skip::skip_unless(&$crate::support::skip::this_test(), $needs) {
            return;
        }
    };
}
pub(crate) use require;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// The podinit under test: `PODINIT_BIN` when it is set as the tests are built (`PODINIT_BIN=PATH
/// cargo test ...`: cargo rebuilds the tests when it changes), else the debug build of this
/// crate. CI sets it to run the pod scenarios once more against the release binary.
pub const PODINIT: &str = match option_env!("PODINIT_BIN") {
    Some(path) => path,
    None => env!("CARGO_BIN_EXE_podinit"),
};

/// A `podinit` command with no `PODINIT_*` variable from the caller's environment, and stdin
/// from /dev/null (so it never takes over the terminal of whoever runs the tests).
pub fn podinit() -> Command {
    podinit_as(PODINIT)
}

/// [`podinit`] run through `program`: a symlink or copy of it (`tini`, `docker-init`, ...).
pub fn podinit_as(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    c.stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PODINIT_") {
            c.env_remove(k);
        }
    }
    c
}

/// A spawned init that, if the test ends before it does (a failed assertion), is killed
/// together with its app's process group, so no app outlives the test holding its pipes.
pub struct Guarded(pub Child);

impl std::ops::Deref for Guarded {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Guarded {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            for kid in children_of(self.0.id()) {
                // SAFETY: kill takes plain integers. The app leads its own process group.
                unsafe {
                    libc::kill(-(kid as i32), libc::SIGKILL);
                    libc::kill(kid as i32, libc::SIGKILL);
                }
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub trait SpawnGuarded {
    fn spawn_guarded(&mut self) -> Guarded;
}

impl SpawnGuarded for Command {
    fn spawn_guarded(&mut self) -> Guarded {
        Guarded(
            self.spawn()
                .unwrap_or_else(|e| panic!("spawn {self:?}: {e}")),
        )
    }
}

/// The direct children of `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Waits for `child` at most `timeout`; kills it (and says so) if it is still running.
pub fn wait_deadline(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    proc::wait_timeout(child, timeout).unwrap_or_else(|| {
        proc::kill_wait(child);
        panic!("{what}: still running after {timeout:?}, killed")
    })
}

/// [`proc::run`], panicking where it returns an error (spawn failure, time-out).
pub fn run(cmd: &mut Command, timeout: Duration) -> Output {
    proc::run(cmd, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// The lines a child writes to its stdout, as they come.
pub struct Lines {
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    pub fn new(stdout: ChildStdout) -> Lines {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The next line, or a panic naming what was expected and everything seen so far.
    pub fn expect(&mut self, expected: &str, timeout: Duration) {
        match self.rx.recv_timeout(timeout) {
            Ok(line) if line == expected => self.seen.push(line),
            Ok(line) => panic!(
                "expected line {expected:?}, got {line:?} (before: {:?})",
                self.seen
            ),
            Err(RecvTimeoutError::Timeout) => panic!(
                "no line {expected:?} within {timeout:?} (before: {:?})",
                self.seen
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "stdout closed before {expected:?} (before: {:?})",
                self.seen
            ),
        }
    }

    /// Any line arriving within `timeout`.
    pub fn next_within(&mut self, timeout: Duration) -> Option<String> {
        self.rx.recv_timeout(timeout).ok()
    }
}

/// The state letter of `/proc/PID/stat` (`R`, `S`, `T`, `Z`, …), `None` once the pid is gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: the state follows the last ')'.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`, ...); None once the process is gone.
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `cond` every 5 ms until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The `Sig*`, `Cap*`, `Uid`, `Gid` and `Groups` lines of a `/proc/PID/status` text, plus
/// `NoNewPrivs` and `Seccomp`: what must be identical with and without podinit.
pub fn identity_lines(status: &str) -> Vec<String> {
    const KEYS: [&str; 14] = [
        "Uid:",
        "Gid:",
        "Groups:",
        "SigBlk:",
        "SigIgn:",
        "SigCgt:",
        "CapInh:",
        "CapPrm:",
        "CapEff:",
        "CapBnd:",
        "CapAmb:",
        "NoNewPrivs:",
        "Seccomp:",
        "Seccomp_filters:",
    ];
    status
        .lines()
        .filter(|l| KEYS.iter().any(|k| l.starts_with(k)))
        .map(str::to_owned)
        .collect()
}
