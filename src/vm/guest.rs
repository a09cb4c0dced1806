//! `podinit sandbox-init`: PID 1 of a pod sandbox VM (the kernel's `rdinit`).
//!
//! Starts with nothing — no `/proc`, no `PATH`, no environment of its own — and ends only by
//! powering the machine off: a PID 1 that exits panics the kernel and loses the pod's result, so
//! every way out (the pod's end, a failed mount, a bad command line, a panic) goes through
//! [`finish`]: the result on the console and the control port, `sync`, qemu's `isa-debug-exit`
//! when the command line names it, `reboot(RB_POWER_OFF)`.
//!
//! One thread, one epoll: a signalfd (SIGCHLD reaps every orphan; SIGTERM and Ctrl-Alt-Del's
//! SIGINT are deletion requests), the control port (`delete`, `kill` from the host) and the
//! deadline of [`super::core::Core`], which makes every decision.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::cmdline::{self, Agent, SandboxConfig};
use super::core::{Action, Core, Ending, Input};
use super::mounts;
use super::result::{self, GuestEvent, HostCommand, InitInfo, SandboxResult};
use crate::framing::Deframer;
use crate::sys::wait::{Ended, wait_nohang};

/// Where the built-in agent (`podinit run`) works; its status.json is under `state/`.
const WORK_DIR: &str = "/run/podinit/pod";
/// Where a vendor agent may leave the pod's status.json for PID 1 to report
/// (`PODINIT_STATUS_FILE` in its environment).
const VENDOR_STATUS: &str = "/run/podinit/status.json";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What [`finish`] needs, set once the command line is read; before that the console is the
/// only channel.
struct Report {
    control: Option<PathBuf>,
    debug_exit: Option<u16>,
}

static REPORT: OnceLock<Report> = OnceLock::new();

fn uptime_ms() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0, |s| (s * 1000.0) as u64)
}

/// Say `msg` on the console (PID 1's stdout is `/dev/console`).
fn say(msg: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "podinit sandbox-init: {msg}");
    let _ = out.flush();
}

/// The sandbox could not run its pod: a failure result, then power-off.
fn fail(error: String) -> ! {
    say(&format!("error: {error}"));
    finish(SandboxResult {
        phase: "Failed".into(),
        agent_exit: None,
        deletions: 0,
        error: Some(error),
        uptime_ms: uptime_ms(),
        status: None,
    })
}

fn open_control(path: &Path) -> std::io::Result<File> {
    let port = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    // A serial line echoes and rewrites line ends unless raw: the host would read its own
    // commands back and `\r\n` in our JSON.
    if let Ok(mut t) = nix::sys::termios::tcgetattr(port.as_fd()) {
        nix::sys::termios::cfmakeraw(&mut t);
        let _ = nix::sys::termios::tcsetattr(port.as_fd(), nix::sys::termios::SetArg::TCSANOW, &t);
    }
    Ok(port)
}

/// The end of every path: report, sync, power off. Never returns.
fn finish(result: SandboxResult) -> ! {
    let report = REPORT.get();
    // The console line is short (no status document): it is the fallback channel, and a
    // person reads it.
    let summary = serde_json::json!({
        "phase": result.phase,
        "agentExit": result.agent_exit,
        "deletions": result.deletions,
        "error": result.error,
    });
    let _ = writeln!(std::io::stdout(), "podinit-result: {summary}");
    let _ = std::io::stdout().flush();
    if let Some(path) = report.and_then(|r| r.control.as_deref()) {
        match open_control(path) {
            Ok(mut port) => {
                // O_NONBLOCK: a full serial buffer must not hang power-off; write in a loop.
                let line = result::event_line(&GuestEvent::Result(result.clone()));
                let mut at = 0;
                let give_up = Instant::now() + Duration::from_secs(10);
                while at < line.len() && Instant::now() < give_up {
                    match port.write(&line[at..]) {
                        Ok(n) => at += n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => break,
                    }
                }
                let _ = nix::sys::termios::tcdrain(port.as_fd());
            }
            Err(e) => say(&format!(
                "cannot write the result to {}: {e}",
                path.display()
            )),
        }
    }
    nix::unistd::sync();
    if let Some(port) = report.and_then(|r| r.debug_exit) {
        debug_exit(port, result.debug_exit_byte());
    }
    let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    // Power-off failed (a kernel without ACPI): PID 1 must still not exit.
    say("power-off failed; halting here");
    loop {
        nix::unistd::pause();
    }
}

/// qemu's `isa-debug-exit`: a byte written to its I/O port ends qemu with `(byte << 1) | 1`.
#[cfg(target_arch = "x86_64")]
fn debug_exit(port: u16, byte: u8) {
    // SAFETY: ioperm only changes this process's I/O permission bitmap for one port.
    if unsafe { libc::ioperm(libc::c_ulong::from(port), 1, 1) } != 0 {
        say(&format!(
            "isa-debug-exit: ioperm(0x{port:x}): {}",
            std::io::Error::last_os_error()
        ));
        return;
    }
    // SAFETY: the port was granted above; writing it touches no memory. Without the device
    // the write is ignored and power-off follows.
    unsafe {
        std::arch::asm!("out dx, al", in("dx") port, in("al") byte, options(nomem, nostack, preserves_flags));
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn debug_exit(_port: u16, _byte: u8) {}

/// Set by stage 1 for stage 2: the guest's uptime (ms) when PID 1 started.
const STAGE_ENV: &str = "PODINIT_SANDBOX_BOOT_MS";

/// Mount, leave the initramfs, re-execute; returns only when there was nothing to leave.
fn stage1() -> u64 {
    if let Err(e) = mounts::early() {
        fail(e.to_string());
    }
    let boot_ms = uptime_ms();
    // The command line is read before anything else can fail, so that a failure reaches the
    // control port.
    if let Ok(Ok(cfg)) = std::fs::read_to_string("/proc/cmdline").map(|l| cmdline::parse(&l)) {
        let _ = REPORT.set(Report {
            control: cfg.control.clone(),
            debug_exit: cfg.debug_exit,
        });
    }
    match mounts::root_is_initramfs() {
        Ok(true) => {}
        Ok(false) => return boot_ms,
        Err(e) => fail(e.to_string()),
    }
    let exe = match std::fs::read_link("/proc/self/exe") {
        Ok(p) => p,
        Err(e) => fail(format!("reading /proc/self/exe: {e}")),
    };
    if let Err(e) = mounts::leave_initramfs() {
        fail(e.to_string());
    }
    let err = Command::new(&exe)
        .arg0("podinit")
        .arg("sandbox-init")
        .env(STAGE_ENV, boot_ms.to_string())
        .exec();
    fail(format!(
        "re-executing {} from the new root: {err}",
        exe.display()
    ))
}

pub fn run() -> ! {
    let started = Instant::now();
    std::panic::set_hook(Box::new(|info| fail(format!("podinit panicked: {info}"))));
    if nix::unistd::getpid().as_raw() != 1 {
        eprintln!(
            "podinit sandbox-init: not PID 1; this is a VM's init (the kernel's rdinit). \
             To run a pod here use `podinit run`, in a VM `podinit run --vm`"
        );
        std::process::exit(2);
    }
    // Stage 1 runs from the initramfs: mounts, moves the root to a tmpfs, and re-executes the
    // binary's copy there, so neither PID 1 nor `/proc/1/exe` keeps the deleted initramfs file
    // (and its memory). Stage 2 does the rest.
    let (boot_ms, moved_ms) = match std::env::var(STAGE_ENV) {
        Ok(ms) => (ms.parse().unwrap_or(0), uptime_ms()),
        Err(_) => {
            let boot = stage1();
            (boot, boot)
        }
    };
    // SAFETY: PID 1 is single-threaded; nothing reads the environment concurrently.
    unsafe { std::env::remove_var(STAGE_ENV) };
    let cfg = match std::fs::read_to_string("/proc/cmdline") {
        Ok(line) => match cmdline::parse(&line) {
            Ok(c) => c,
            Err(e) => fail(e.to_string()),
        },
        Err(e) => fail(format!("reading /proc/cmdline: {e}")),
    };
    let _ = REPORT.set(Report {
        control: cfg.control.clone(),
        debug_exit: cfg.debug_exit,
    });
    if let Err(e) = mounts::late() {
        fail(e.to_string());
    }
    // SAFETY: PID 1 is single-threaded here; nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("PATH", PATH);
        std::env::set_var("HOME", "/root");
        if let Some(level) = &cfg.log {
            std::env::set_var("PODINIT_LOG", level);
        }
    }
    let _ = std::fs::create_dir_all("/root");
    let hostname = cfg.hostname.as_deref().unwrap_or("sandbox");
    if let Err(e) = nix::unistd::sethostname(hostname) {
        say(&format!("sethostname {hostname}: {e}"));
    }
    // Ctrl-Alt-Del becomes SIGINT to PID 1 (a deletion) instead of an instant reboot.
    if let Err(e) = nix::sys::reboot::set_cad_enabled(false) {
        say(&format!("reboot(RB_DISABLE_CAD): {e}"));
    }
    match Sandbox::new(cfg, started) {
        Ok(mut sandbox) => {
            sandbox.announce(boot_ms, moved_ms);
            let ending = sandbox.serve();
            let result = sandbox.result(ending);
            finish(result)
        }
        Err(e) => fail(e),
    }
}

struct Sandbox {
    cfg: SandboxConfig,
    started: Instant,
    core: Core,
    signals: SignalFd,
    /// The mask before PID 1 blocked its signals: what the agent starts with.
    old_mask: SigSet,
    control: Option<File>,
    control_buf: Deframer,
    agent: Option<libc::pid_t>,
    status_file: PathBuf,
}

const SIGNALS: u64 = 0;
const CONTROL: u64 = 1;

impl Sandbox {
    fn new(cfg: SandboxConfig, started: Instant) -> Result<Self, String> {
        let mut mask = SigSet::empty();
        for s in [
            Signal::SIGCHLD,
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
        ] {
            mask.add(s);
        }
        let old_mask = mask
            .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
            .map_err(|e| format!("blocking signals: {e}"))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| format!("signalfd: {e}"))?;
        let control = match &cfg.control {
            Some(path) => Some(
                open_control(path)
                    .map_err(|e| format!("opening the control port {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let status_file = match cfg.agent {
            Agent::Builtin(_) => Path::new(WORK_DIR).join("state/status.json"),
            Agent::Command(_) => PathBuf::from(VENDOR_STATUS),
        };
        Ok(Sandbox {
            core: Core::new(cfg.kill_after),
            cfg,
            started,
            signals,
            old_mask,
            control,
            // A line longer than any command is noise, dropped.
            control_buf: Deframer::new(256),
            agent: None,
            status_file,
        })
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn announce(&mut self, boot_ms: u64, moved_ms: u64) {
        let exe = std::fs::read_link("/proc/self/exe")
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let up = GuestEvent::Up {
            uptime_ms: boot_ms,
            moved_ms,
            ready_ms: uptime_ms(),
            init: InitInfo {
                pid: nix::unistd::getpid().as_raw(),
                exe,
                command: "sandbox-init".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        };
        self.send(&result::event_line(&up));
    }

    fn send(&mut self, line: &[u8]) {
        if let Some(port) = &mut self.control {
            let mut at = 0;
            while at < line.len() {
                match port.write(&line[at..]) {
                    Ok(n) => at += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        let _ = nix::sys::termios::tcdrain(port.as_fd());
                    }
                    Err(e) => {
                        say(&format!("control port: {e}"));
                        return;
                    }
                }
            }
        }
    }

    fn agent_command(&self) -> Result<Command, String> {
        let mut cmd = match &self.cfg.agent {
            Agent::Builtin(b) => {
                let mut pods = b.pods.clone();
                if pods.is_empty() {
                    let dir = Path::new(cmdline::POD_DIR);
                    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
                        .map_err(|e| format!("no pod to run: {}: {e}", dir.display()))?
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .collect();
                    found.sort();
                    if found.is_empty() {
                        return Err(format!(
                            "no pod to run: {} is empty (podinit run --vm puts the manifests there; or name them with podinit.pod=)",
                            dir.display()
                        ));
                    }
                    pods = found;
                }
                let mut cmd = Command::new("/proc/self/exe");
                cmd.arg0("podinit")
                    .args(["run", "--keep", "--work-dir", WORK_DIR, "--runtime"])
                    .arg(&b.runtime)
                    .arg("--create-order")
                    .arg(match b.order {
                        crate::run::CreateOrder::Spec => "spec",
                        crate::run::CreateOrder::Reverse => "reverse",
                        crate::run::CreateOrder::Random => "random",
                    });
                if let Some(seed) = b.seed {
                    cmd.arg("--seed").arg(seed.to_string());
                }
                if let Some(t) = b.timeout {
                    cmd.arg("--timeout").arg(t.to_string());
                }
                match b.hooks {
                    crate::inject::HookMode::NoHooks => {
                        cmd.arg("--no-hooks");
                    }
                    crate::inject::HookMode::Hooks => {
                        cmd.arg("--hooks");
                    }
                    crate::inject::HookMode::Auto => {}
                }
                cmd.args(pods);
                cmd
            }
            Agent::Command(argv) => {
                let mut cmd = Command::new(&argv[0]);
                cmd.args(&argv[1..]);
                cmd
            }
        };
        cmd.env("PODINIT_SANDBOX", "vm")
            .env("PODINIT_POD_DIR", cmdline::POD_DIR)
            .env("PODINIT_STATUS_FILE", &self.status_file)
            .stdin(Stdio::null());
        Ok(cmd)
    }

    fn start_agent(&mut self) -> Result<(), String> {
        let mut cmd = self.agent_command()?;
        let child = crate::run::spawn_unblocked(&mut cmd, &self.old_mask)
            .map_err(|e| format!("starting the agent {:?}: {e}", cmd.get_program()))?;
        // PID 1 reaps it with waitpid(-1) like every other process; the Child handle is only
        // its pid (dropping it neither waits nor kills).
        self.agent = Some(child.id() as libc::pid_t);
        Ok(())
    }

    fn apply(&mut self, actions: Vec<Action>) -> Option<Ending> {
        let mut ending = None;
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(a) = queue.pop_front() {
            match a {
                Action::TermAgent => self.signal_agent(libc::SIGTERM),
                Action::KillAgent => self.signal_agent(libc::SIGKILL),
                Action::TermAll => {
                    // SAFETY: kill(-1) signals every process PID 1 may signal but itself.
                    unsafe { libc::kill(-1, libc::SIGTERM) };
                    // Nothing may be left at all: that ends the sandbox now, not at the grace.
                    queue.extend(self.reap());
                }
                Action::KillAll => {
                    // SAFETY: as above.
                    unsafe { libc::kill(-1, libc::SIGKILL) };
                }
                Action::Finish(e) => ending = Some(e),
            }
        }
        ending
    }

    fn signal_agent(&self, signo: i32) {
        if let Some(pid) = self.agent {
            // SAFETY: plain kill(2); the agent is our child and unreaped, so the pid is its.
            unsafe { libc::kill(pid, signo) };
        }
    }

    /// Reap every child that ended; the agent's end and "nothing left" go to the core.
    fn reap(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        loop {
            match wait_nohang(-1) {
                Ok(Some((pid, status))) => {
                    if Some(pid) == self.agent {
                        self.agent = None;
                        let code = match Ended::from_raw(status) {
                            Some(Ended::Exited(c)) => c,
                            Some(Ended::Signaled { signo, .. }) => 128 + signo,
                            None => continue,
                        };
                        let now = self.now();
                        actions.extend(self.core.handle(Input::AgentExited(code), now));
                    }
                }
                Ok(None) => return actions,
                Err(Errno::ECHILD) => {
                    let now = self.now();
                    actions.extend(self.core.handle(Input::NothingLeft, now));
                    return actions;
                }
                Err(e) => {
                    say(&format!("waitpid: {e}"));
                    return actions;
                }
            }
        }
    }

    fn read_control(&mut self) -> Vec<HostCommand> {
        let mut cmds = Vec::new();
        let Some(port) = &mut self.control else {
            return cmds;
        };
        let mut buf = [0u8; 512];
        loop {
            match port.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.control_buf.push(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        while let Some(line) = self.control_buf.next_line() {
            let Ok(line) = line else {
                say("control port: ignored a line longer than any command");
                continue;
            };
            let line = String::from_utf8_lossy(&line);
            match HostCommand::parse(&line) {
                Some(c) => cmds.push(c),
                None if line.trim().is_empty() => {}
                None => say(&format!("control port: ignored {:?}", line.trim())),
            }
        }
        cmds
    }

    /// The event loop; returns when the core says the sandbox is finished.
    fn serve(&mut self) -> Ending {
        let epoll = match Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC) {
            Ok(e) => e,
            Err(e) => fail(format!("epoll_create: {e}")),
        };
        if let Err(e) = epoll.add(
            self.signals.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, SIGNALS),
        ) {
            fail(format!("epoll_ctl(signalfd): {e}"));
        }
        if let Some(port) = &self.control {
            if let Err(e) = epoll.add(port.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, CONTROL)) {
                fail(format!("epoll_ctl(control port): {e}"));
            }
        }
        let mut pending = self.core.handle(Input::AgentStarted, self.now());
        match self.start_agent() {
            Ok(()) => {}
            Err(e) => fail(e),
        }
        let mut events = [EpollEvent::empty(); 4];
        loop {
            if let Some(ending) = self.apply(std::mem::take(&mut pending)) {
                return ending;
            }
            let timeout = match self.core.next_deadline() {
                None => EpollTimeout::NONE,
                Some(at) => {
                    let left = at.saturating_sub(self.now());
                    // Round up: waking a millisecond early would find the deadline not due.
                    let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                    EpollTimeout::try_from(ms).unwrap_or(EpollTimeout::NONE)
                }
            };
            let n = match epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(Errno::EINTR) => 0,
                Err(e) => fail(format!("epoll_wait: {e}")),
            };
            for ev in &events[..n] {
                match ev.data() {
                    SIGNALS => {
                        let mut buf = [MaybeUninit::uninit(); 16];
                        let infos: Vec<u32> =
                            match crate::sys::signal::read_signalfd(self.signals.as_fd(), &mut buf)
                            {
                                Ok(infos) => infos.iter().map(|i| i.ssi_signo).collect(),
                                Err(e) => fail(format!("reading the signalfd: {e}")),
                            };
                        for signo in infos {
                            match signo as i32 {
                                libc::SIGCHLD => {}
                                libc::SIGTERM | libc::SIGINT => {
                                    say(&format!(
                                        "{} received: deleting the pod",
                                        crate::sys::signal::name(signo as i32)
                                    ));
                                    let now = self.now();
                                    pending.extend(self.core.handle(Input::DeleteRequested, now));
                                }
                                _ => {}
                            }
                        }
                        // SIGCHLD coalesces: always reap after signals.
                        pending.extend(self.reap());
                    }
                    CONTROL => {
                        for cmd in self.read_control() {
                            let input = match cmd {
                                HostCommand::Delete => Input::DeleteRequested,
                                HostCommand::Kill => Input::KillRequested,
                            };
                            let now = self.now();
                            pending.extend(self.core.handle(input, now));
                        }
                    }
                    _ => {}
                }
            }
            if self.core.next_deadline().is_some_and(|at| self.now() >= at) {
                let now = self.now();
                pending.extend(self.core.handle(Input::Timer, now));
            }
        }
    }

    fn result(&self, ending: Ending) -> SandboxResult {
        let status: Option<serde_json::Value> = std::fs::read(&self.status_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let phase = status
            .as_ref()
            .and_then(|s| s["phase"].as_str())
            .map(String::from);
        let builtin = matches!(self.cfg.agent, Agent::Builtin(_));
        let (phase, error) = match (ending.agent_exit, phase) {
            (None, _) => (
                "Failed".to_string(),
                Some("the pod was deleted before the agent started".to_string()),
            ),
            (Some(_), Some(phase)) => (phase, None),
            // Documented policy: a vendor agent that leaves no status is judged by its exit.
            (Some(0), None) if !builtin => ("Succeeded".to_string(), None),
            (Some(code), None) => (
                "Failed".to_string(),
                Some(format!(
                    "the agent exited {code} without a pod status at {} (its message is above)",
                    self.status_file.display()
                )),
            ),
        };
        SandboxResult {
            phase,
            agent_exit: ending.agent_exit,
            deletions: ending.deletions,
            error,
            uptime_ms: uptime_ms(),
            status,
        }
    }
}
