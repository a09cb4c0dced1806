//! `podinit exec` under a supervisor: the container's init holds its app at the **start gate**
//! until the supervisor releases it, runs the container's probes and lifecycle handlers inside the
//! container, restarts the app in place, stops it on request, and exits with the code the
//! supervisor decides (0 for a sidecar it stopped). The runtime's `create`/`start` never wait for
//! any of this: the gate is here, in the container's PID 1, not in a hook.
//!
//! Supervisor unreachable (at start, or gone later): the init keeps trying to connect for
//! `PODINIT_UNREACHABLE_TIMEOUT` seconds (default 30), logging it. Then it detaches and acts as a
//! plain init: a held app is started (`PODINIT_ON_UNREACHABLE=run`, the default) or the init exits
//! 1 without starting it (`=fail`); a running app keeps running and its status is passed through.
//!
//! An app whose gate its pod's declaration opens as it registers (the claim's token file says
//! `start-at-once`) does not wait at the gate: it starts with the claim (`core/link.rs`).
//!
//! This file is the driver: epoll, the timerfd, spawning, the socket and `kill`. Every rule is
//! in the sans-IO core (`core/`, `docs/init-core.md`); the driver feeds it what happened and
//! carries out what it answers.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::epoll::{EpollEvent, EpollTimeout};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use super::bootstrap::{Booted, bootstrap};
use super::checks::{self, Started};
use super::core::{Config, Effect, ExitDetails, InitCore, Input, Launch};
use super::reap;
use super::run_watch::RunWatch;
use super::spawn::{ChildSetup, Prepared};
use super::tee::Stream;
use super::{EventLoop, InitOptions, TOKEN_SIGNALS, signals};
use crate::framing::Deframer;
use crate::proto::{self, InitMessage, SupervisorMessage};
use crate::sys;
use crate::sys::wait::Ended;
use crate::{log_debug, log_error, log_info, log_warn};

const TOKEN_SOCKET: u64 = 1;
const TOKEN_TIMER: u64 = 2;
const TOKEN_STDOUT: u64 = 3;
const TOKEN_STDERR: u64 = 4;

/// The socket to use, if this init is managed: `PODINIT_SOCKET`, else the directory `inject`
/// mounts into every managed container (when the socket is there, or a claim waits).
pub fn socket_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PODINIT_SOCKET") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from(proto::CONTAINER_SOCK_DIR).join(proto::INIT_SOCKET_NAME);
    // A no-hooks bundle's init has a registration to claim: managed even while the socket is
    // not there (a supervisor restarting), so PODINIT_ON_UNREACHABLE decides, not a plain run.
    let claim = std::path::Path::new(proto::CONTAINER_CLAIM_DIR).join(crate::claim::TOKEN_FILE);
    (p.exists() || claim.exists()).then_some(p)
}

struct Link {
    stream: UnixStream,
    inbuf: Deframer,
}

struct Driver<'a> {
    opts: &'a InitOptions,
    core: InitCore,
    el: EventLoop,
    timerfd: TimerFd,
    setup: ChildSetup,
    prepared: Prepared,
    socket: PathBuf,
    link: Option<Link>,
    /// The core's [`Effect::Exit`]: the loop returns it.
    finish: Option<i32>,
    /// Start-up pages dropped (see `run`).
    settled: bool,
    /// What each run of the app is measured by (OOM kills, its termination message).
    watch: RunWatch,
}

pub fn run(opts: &InitOptions, socket: PathBuf) -> i32 {
    // The start-up the plain init has too; the app is held, so nothing is spawned yet. Unlike
    // the plain init, the fds it inherited stay: every restart of the app gets them again.
    let Booted {
        event_loop: el,
        prepared,
        setup,
        parent_already_gone,
    } = match bootstrap(opts) {
        Ok(b) => b,
        Err(e) => {
            log_error!("{e}");
            return e.exit_code();
        }
    };
    // Before the socket exists: the app must never reach it through us (`prctl.rs`).
    if let Err(e) = sys::prctl::set_not_dumpable() {
        log_warn!(
            "cannot make the init non-dumpable ({}): the app could take its socket",
            e.desc()
        );
    }
    // Non-dumpable already, so the token is out of the app's reach from the moment it is read.
    let claim = crate::claim::take_token(std::path::Path::new(proto::CONTAINER_CLAIM_DIR));
    let timerfd = match TimerFd::new(
        ClockId::CLOCK_MONOTONIC,
        TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
    ) {
        Ok(t) => t,
        Err(e) => {
            log_error!("timerfd: {}", e.desc());
            return super::EXIT_INIT_FAILURE;
        }
    };
    if let Err(e) = el.add(timerfd.as_fd(), TOKEN_TIMER) {
        log_error!("epoll: {}", e.desc());
        return super::EXIT_INIT_FAILURE;
    }
    let unreachable_timeout = std::env::var("PODINIT_UNREACHABLE_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(30), Duration::from_secs);
    let fail_if_unreachable =
        std::env::var("PODINIT_ON_UNREACHABLE").is_ok_and(|v| v.trim() == "fail");
    if setup.start_dir.is_none() {
        // Nothing runs yet: leaving now is as good as before.
        let _ = nix::unistd::chdir("/");
    }
    let name = prepared.name().to_owned();
    let core = InitCore::new(Config {
        name: name.clone(),
        program: name,
        socket: socket.clone(),
        unreachable_timeout,
        fail_if_unreachable,
        remap: opts.remap.clone(),
        claim,
    });
    let mut d = Driver {
        opts,
        core,
        el,
        timerfd,
        setup,
        prepared,
        socket,
        link: None,
        finish: None,
        settled: false,
        watch: RunWatch::default(),
    };
    d.feed(Input::Boot);
    if let Some(signo) = parent_already_gone {
        // `-p`: the parent died before the prctl; the signal it would have sent arrives now.
        d.feed(Input::Signal(signo));
    }
    d.run()
}

fn launch_of(started: Started, what: &str, name: &str) -> Launch {
    match started {
        Started::Child(pid) => Launch::Child(pid),
        Started::Sleep(d) => Launch::Sleep(d),
        Started::Failed(why) => {
            log_debug!("{name}: {what} could not run: {why}");
            Launch::Failed
        }
    }
}

impl Driver<'_> {
    /// One input to the core, and its effects carried out in order. An effect whose outcome
    /// the core needs (a spawn, a connection, a reap) feeds it back at once, before the next
    /// effect: the core sees the world as the effects change it.
    fn feed(&mut self, input: Input) {
        for effect in self.core.handle(Instant::now(), input) {
            self.execute(effect);
        }
    }

    fn execute(&mut self, effect: Effect) {
        match effect {
            Effect::Connect => self.connect(),
            Effect::Send(msg) => self.send(msg),
            Effect::SpawnApp => self.start_app(),
            Effect::StartProbe {
                kind,
                action,
                timeout,
            } => {
                let started = checks::start_probe(&action, timeout, &self.setup);
                let launch = launch_of(started, &format!("{kind:?} probe"), self.core.name());
                self.feed(Input::ProbeLaunched { kind, launch });
            }
            Effect::RunHandler { kind, handler } => {
                let launch = match checks::start_handler(&handler, &self.setup) {
                    Started::Failed(why) => {
                        log_warn!(
                            "{}: {kind:?} handler failed to start: {why}",
                            self.core.name()
                        );
                        Launch::Failed
                    }
                    started => launch_of(started, "handler", self.core.name()),
                };
                self.feed(Input::HandlerLaunched { kind, launch });
            }
            Effect::Forward { pid, signo } => self.forward(pid, signo),
            Effect::Kill { pid, signo } => {
                let _ = sys::signal::kill(pid, signo);
            }
            Effect::KillAll { app } => kill_all(app),
            Effect::SignalLeftovers(signo) => signal_leftovers(signo),
            Effect::Reap => self.reap(),
            Effect::RecordTeardown(report) => {
                super::teardown_note::record(self.core.name(), &report)
            }
            Effect::Exit(code) => self.finish = Some(code),
        }
    }

    fn run(&mut self) -> i32 {
        let mut events = [EpollEvent::empty(); 8];
        // From here on the init does not bail out: whatever fails is logged and the loop goes
        // on, since the container's PID 1 dying kills the app with it.
        // The claim (or hello) went out at boot: what the first run needs is looked up while
        // the supervisor answers.
        self.watch.locate_ahead();
        loop {
            if let Some(code) = self.finish {
                log_info!("{}: exiting with {code}", self.core.name());
                return code;
            }
            self.arm_timer();
            // Once the app runs and no handler is under way, the first 100 ms without events
            // end start-up: drop its pages as the plain init does (about a megabyte per
            // container that a long-lived init never runs again; `super::settle`). One time-out,
            // never a periodic one.
            let settling =
                !self.settled && self.core.app_pid().is_some() && !self.core.handlers_busy();
            let timeout = if settling {
                EpollTimeout::from(super::SETTLED_MS)
            } else {
                EpollTimeout::NONE
            };
            let n = match self.el.wait_at_most(&mut events, timeout) {
                Ok(n) => n,
                Err(e) => {
                    log_error!("epoll_wait: {}", e.desc());
                    return super::EXIT_INIT_FAILURE;
                }
            };
            if n == 0 {
                self.settled = true;
                if let Some(pid) = self.core.app_pid() {
                    super::settle(|| self.forward(pid, 0));
                }
                continue;
            }
            for ev in &events[..n] {
                match ev.data() {
                    TOKEN_SIGNALS => self.on_signals(),
                    TOKEN_SOCKET => self.on_socket(),
                    TOKEN_TIMER => self.on_timer(),
                    TOKEN_STDOUT => self.watch.relay(Stream::Stdout),
                    TOKEN_STDERR => self.watch.relay(Stream::Stderr),
                    _ => {}
                }
            }
        }
    }

    // ----- the supervisor link --------------------------------------------------------------

    fn connect(&mut self) {
        let stream = match UnixStream::connect(&self.socket) {
            Ok(s) => s,
            Err(e) => {
                log_debug!(
                    "{}: cannot connect to {}: {e}",
                    self.core.name(),
                    self.socket.display()
                );
                return self.feed(Input::ConnectFailed);
            }
        };
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        if stream.set_nonblocking(true).is_err()
            || self.el.add(stream.as_fd(), TOKEN_SOCKET).is_err()
        {
            return self.feed(Input::ConnectFailed);
        }
        self.link = Some(Link {
            stream,
            inbuf: Deframer::new(proto::MAX_LINE),
        });
        log_debug!(
            "{}: connected to {}",
            self.core.name(),
            self.socket.display()
        );
        self.feed(Input::LinkUp);
    }

    fn send(&mut self, msg: InitMessage) {
        let Some(link) = &mut self.link else { return };
        if let Err(e) = (&link.stream).write_all(&proto::encode(&msg)) {
            log_warn!(
                "{}: lost the supervisor while reporting: {e}",
                self.core.name()
            );
            // Closing the fd removes it from the epoll set.
            self.link = None;
            self.feed(Input::SendFailed(msg));
        }
    }

    fn on_socket(&mut self) {
        let mut chunk = [0u8; 8192];
        let mut closed = false;
        let mut lines = Vec::new();
        if let Some(link) = &mut self.link {
            loop {
                match (&link.stream).read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => link.inbuf.push(&chunk[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            while let Some(line) = link.inbuf.next_line() {
                match line {
                    Ok(line) => lines.push(line),
                    Err(e) => {
                        log_warn!("{}: the supervisor sent {e}", self.core.name());
                        closed = true;
                        break;
                    }
                }
            }
        }
        for line in lines {
            match proto::decode::<SupervisorMessage>(&line) {
                Ok(msg) => self.feed(Input::Supervisor(msg)),
                Err(e) => log_warn!(
                    "{}: ignored a message from the supervisor: {e}",
                    self.core.name()
                ),
            }
        }
        if closed && self.link.is_some() {
            self.link = None;
            self.feed(Input::LinkDown);
        }
    }

    // ----- the app ----------------------------------------------------------------------------

    fn start_app(&mut self) {
        let el = &self.el;
        let message = self.core.termination_message();
        self.watch
            .before_run(message.as_deref(), self.core.name(), |tee| {
                el.add(tee.read_fd(Stream::Stdout), TOKEN_STDOUT)?;
                el.add(tee.read_fd(Stream::Stderr), TOKEN_STDERR)
            });
        let output = self.watch.output();
        match super::spawn::spawn_with_output(&self.prepared, &self.setup, output) {
            Ok(pid) => {
                log_info!(
                    "{}: started {} as pid {pid}",
                    self.core.name(),
                    self.prepared.name()
                );
                // A restart ran the spawn path again: settle again once it is quiet.
                self.settled = false;
                self.feed(Input::AppStarted { pid });
            }
            Err(e) => {
                log_error!("{}: {e}", self.core.name());
                self.app_ended(Ended::Exited(e.exit_code()));
            }
        }
    }

    fn app_ended(&mut self, ended: Ended) {
        let details = if self.core.wants_exit_details() {
            self.watch
                .after_run(self.core.termination_message().as_deref(), ended)
        } else {
            ExitDetails::default()
        };
        self.feed(Input::AppEnded { ended, details });
    }

    // ----- signals and reaping ----------------------------------------------------------------

    fn forward(&self, pid: libc::pid_t, signo: i32) {
        let target = signals::forward_target(pid, self.opts.kill_process_group);
        if let Err(e) = sys::signal::kill(target, signo) {
            log_debug!(
                "{}: signal {signo} to {target}: {}",
                self.core.name(),
                e.desc()
            );
        }
    }

    fn on_signals(&mut self) {
        // SAFETY: getpid cannot fail and touches no memory.
        let self_pid = unsafe { libc::getpid() } as u32;
        let mut reap_now = false;
        let mut forward = Vec::new();
        let _ = self.el.drain_signals(|info| {
            let received = signals::Received::from(info);
            match signals::action(received, self_pid) {
                signals::Action::Reap => reap_now = true,
                signals::Action::Forward => forward.push(received.signo),
                signals::Action::Drop => {}
            }
        });
        for signo in forward {
            self.feed(Input::Signal(signo));
        }
        if reap_now {
            self.reap();
        }
    }

    /// Every ended child to the core (the app's end with what the driver observed about it,
    /// after the others, as they came in one batch); then, while a sweep is on, whether any
    /// process is left.
    fn reap(&mut self) {
        let app = self.core.app_pid();
        let mut others = Vec::new();
        let mut app_end = None;
        if let Err(e) = reap::reap_each(|pid, ended| {
            if Some(pid) == app {
                app_end = Some(ended);
            } else {
                others.push((pid, ended));
            }
        }) {
            log_warn!(
                "{}: waitpid failed ({}); what is left is reaped at the next SIGCHLD",
                self.core.name(),
                e.desc()
            );
        }
        for (pid, ended) in others {
            self.feed(Input::Reaped { pid, ended });
        }
        if let Some(ended) = app_end {
            self.app_ended(ended);
        }
        if self.core.sweeping() {
            self.feed(Input::Leftovers {
                left: sys::wait::has_children(),
            });
        }
    }

    // ----- timers -----------------------------------------------------------------------------

    fn arm_timer(&self) {
        match self.core.poll_timeout() {
            None => {
                let _ = self.timerfd.unset();
            }
            Some(at) => {
                // A zero expiration would disarm the timer: use at least a nanosecond.
                let left = at
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_nanos(1));
                let _ = self.timerfd.set(
                    Expiration::OneShot(TimeSpec::from_duration(left)),
                    TimerSetTimeFlags::empty(),
                );
            }
        }
    }

    fn on_timer(&mut self) {
        let mut buf = [0u8; 8];
        // SAFETY: reading 8 bytes into an 8-byte buffer from our own non-blocking timerfd.
        let _ = unsafe {
            libc::read(
                self.timerfd.as_fd().as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        self.feed(Input::Timeout);
    }
}

/// Every process of the container but the init: as PID 1 of its pid namespace `kill(-1)`
/// reaches them all; otherwise the init's children (orphans it adopted as subreaper).
fn signal_leftovers(signo: i32) {
    // SAFETY: getpid cannot fail and touches no memory.
    let me = unsafe { libc::getpid() };
    if me == 1 {
        let _ = sys::signal::kill(-1, signo);
        return;
    }
    let list =
        std::fs::read_to_string(format!("/proc/self/task/{me}/children")).unwrap_or_default();
    for pid in list.split_whitespace().filter_map(|p| p.parse().ok()) {
        let _ = sys::signal::kill(pid, signo);
    }
}

/// SIGKILL everything left in the container: as PID 1 of its pid namespace, `kill(-1)` reaches
/// every other process in it; otherwise the app's process group and the app.
fn kill_all(app: Option<libc::pid_t>) {
    // SAFETY: getpid cannot fail and touches no memory.
    if unsafe { libc::getpid() } == 1 {
        let _ = sys::signal::kill(-1, libc::SIGKILL);
    } else if let Some(pid) = app {
        let _ = sys::signal::kill(-pid, libc::SIGKILL);
        let _ = sys::signal::kill(pid, libc::SIGKILL);
    }
}
