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

use std::collections::{BTreeMap, HashMap};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::epoll::{EpollEvent, EpollTimeout};
use nix::sys::signal::SigmaskHow;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use super::checks::{self, Started};
use super::leftovers::{self, Stage, Step};
use super::oom;
use super::reap::{self, Describe};
use super::spawn::{ChildSetup, Prepared};
use super::tee::{Stream, Tee};
use super::{EventLoop, InitOptions, TOKEN_SIGNALS, pristine, signals, termination};
use crate::engine::{ExitStatus, HandlerKind, ProbeKind};
use crate::plan::{ContainerPlan, ProbeSpec};
use crate::proto::{self, InitMessage, SupervisorMessage};
use crate::sys;
use crate::sys::wait::Ended;
use crate::{log_debug, log_error, log_info, log_warn};

const TOKEN_SOCKET: u64 = 1;
const TOKEN_TIMER: u64 = 2;
const TOKEN_STDOUT: u64 = 3;
const TOKEN_STDERR: u64 = 4;
const RECONNECT_EVERY: Duration = Duration::from_millis(200);

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum App {
    Held,
    Running(libc::pid_t),
    Exited(Ended),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Probe(ProbeKind),
    ProbeTimeout(ProbeKind),
    Sleep(HandlerKind),
    Reconnect,
    GiveUp,
    Sweep,
}

/// What waits for the processes left by the app's last run (`leftovers.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterSweep {
    Restart,
    Finish(i32),
}

#[derive(Debug, Clone, Copy)]
struct Sweep {
    then: AfterSweep,
    stage: Stage,
    deadline: Instant,
}

/// Measured at the start of a run, compared at its end.
#[derive(Debug, Default)]
struct RunBaseline {
    oom: Option<oom::Reading>,
    message_file: Option<termination::Snapshot>,
}

struct Probe {
    spec: ProbeSpec,
    running: Option<(libc::pid_t, Instant)>,
    successes: u32,
    failures: u32,
    reported: Option<bool>,
}

struct Link {
    stream: UnixStream,
    inbuf: Vec<u8>,
}

struct Managed<'a> {
    opts: &'a InitOptions,
    el: EventLoop,
    timerfd: TimerFd,
    timers: BTreeMap<(Instant, Timer), ()>,
    setup: ChildSetup,
    prepared: Prepared,
    socket: PathBuf,
    link: Option<Link>,
    /// Gave up on the supervisor: a plain init from here on.
    detached: bool,
    unreachable_timeout: Duration,
    fail_if_unreachable: bool,
    name: String,
    plan: Option<ContainerPlan>,
    app: App,
    /// The pid of the app's latest run, for reports repeated after a reconnect.
    last_pid: Option<libc::pid_t>,
    handlers: HashMap<libc::pid_t, HandlerKind>,
    probes: BTreeMap<ProbeKind, Probe>,
    probe_pids: HashMap<libc::pid_t, ProbeKind>,
    finish: Option<i32>,
    /// A stop signal from the runtime, reported to the supervisor instead of passed on; kept
    /// to report it again after a reconnect, and to pass it on if the supervisor is lost.
    agent_stop: Option<i32>,
    /// Start-up pages dropped (see `run`).
    settled: bool,
    /// The container's OOM counter, looked up at the first start (`None` inside: no memory
    /// cgroup visible).
    oom: Option<Option<oom::Counter>>,
    baseline: RunBaseline,
    /// The last exit's OOM verdict and termination message, for reports repeated after a
    /// reconnect.
    exit_details: (bool, Option<String>),
    sweep: Option<Sweep>,
    /// The app's output relay, for `FallbackToLogsOnError` only (`tee.rs`).
    tee: Option<Tee>,
    /// The registration to claim (nonce, token) of a no-hooks bundle, until it is sent.
    claim: Option<(String, String)>,
}

fn status_of(ended: Ended) -> ExitStatus {
    match ended {
        Ended::Exited(c) => ExitStatus::Code(c),
        Ended::Signaled { signo, .. } => ExitStatus::Signal(signo),
    }
}

pub fn run(opts: &InitOptions, socket: PathBuf) -> i32 {
    let original_mask = match signals::blocked_set().thread_swap_mask(SigmaskHow::SIG_SETMASK) {
        Ok(m) => m,
        Err(e) => {
            log_error!("sigprocmask: {}", e.desc());
            return super::EXIT_INIT_FAILURE;
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
    // SAFETY: getpid cannot fail and touches no memory.
    if opts.subreaper || unsafe { libc::getpid() } != 1 {
        if let Err(e) = sys::prctl::set_child_subreaper() {
            log_warn!(
                "cannot register as child subreaper ({}): orphans will not be reaped by podinit",
                e.desc()
            );
        }
    }
    let setup = ChildSetup {
        mask: original_mask,
        pristine: pristine::Pristine::get(),
        take_terminal: ChildSetup::init_owns_terminal(),
        // The app, its restarts, probes and handlers start in the init's start directory; the
        // init itself is in `/` before any of them exists (`leave_start_dir`).
        start_dir: super::spawn::leave_start_dir(),
    };
    let path = std::env::var_os("PATH");
    let prepared = match Prepared::new(&opts.command, path.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            log_error!("{e}");
            return e.exit_code();
        }
    };
    let el = match EventLoop::new(&signals::blocked_set()) {
        Ok(el) => el,
        Err(e) => {
            log_error!("signalfd/epoll: {}", e.desc());
            return super::EXIT_INIT_FAILURE;
        }
    };
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
    let mut m = Managed {
        opts,
        el,
        timerfd,
        timers: BTreeMap::new(),
        setup,
        prepared,
        socket,
        link: None,
        detached: false,
        unreachable_timeout,
        fail_if_unreachable,
        name,
        plan: None,
        app: App::Held,
        last_pid: None,
        handlers: HashMap::new(),
        probes: BTreeMap::new(),
        probe_pids: HashMap::new(),
        finish: None,
        agent_stop: None,
        settled: false,
        oom: None,
        baseline: RunBaseline::default(),
        exit_details: (false, None),
        sweep: None,
        tee: None,
        claim,
    };
    m.connect();
    if m.link.is_none() {
        m.lost(Instant::now());
    }
    m.run()
}

impl Managed<'_> {
    fn run(&mut self) -> i32 {
        let mut events = [EpollEvent::empty(); 8];
        loop {
            if let Some(code) = self.finish {
                log_info!("{}: exiting with {code}", self.name);
                return code;
            }
            self.arm_timer();
            // Once the app runs and no handler is under way, the first 100 ms without events
            // end start-up: drop its pages as the plain init does (about a megabyte per
            // container that a long-lived init never runs again; `super::settle`). One time-out,
            // never a periodic one.
            let settling =
                !self.settled && matches!(self.app, App::Running(_)) && self.handlers.is_empty();
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
                if let App::Running(pid) = self.app {
                    super::settle(|| self.forward(pid, 0));
                }
                continue;
            }
            for ev in &events[..n] {
                match ev.data() {
                    TOKEN_SIGNALS => self.on_signals(),
                    TOKEN_SOCKET => self.on_socket(),
                    TOKEN_TIMER => self.on_timers(),
                    TOKEN_STDOUT => self.relay(Stream::Stdout),
                    TOKEN_STDERR => self.relay(Stream::Stderr),
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
                    self.name,
                    self.socket.display()
                );
                return;
            }
        };
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        if stream.set_nonblocking(true).is_err()
            || self.el.add(stream.as_fd(), TOKEN_SOCKET).is_err()
        {
            return;
        }
        self.link = Some(Link {
            stream,
            inbuf: Vec::new(),
        });
        self.cancel(Timer::Reconnect);
        self.cancel(Timer::GiveUp);
        // A no-hooks bundle's first connection claims the registration; every later one
        // (a reconnect) says hello, as the supervisor knows this pid by then.
        match self.claim.take() {
            Some((claim, token)) => {
                self.send(&InitMessage::Claim {
                    claim: claim.clone(),
                    token: token.clone(),
                });
                if self.link.is_none() {
                    self.claim = Some((claim, token)); // not sent: the next connection
                }
            }
            None => self.send(&InitMessage::Hello),
        }
        log_debug!("{}: connected to {}", self.name, self.socket.display());
    }

    fn lost(&mut self, now: Instant) {
        if self.detached {
            return;
        }
        if let Some(link) = self.link.take() {
            // Closing the fd removes it from the epoll set.
            drop(link);
        }
        log_warn!(
            "{}: supervisor at {} unreachable; retrying for {}s",
            self.name,
            self.socket.display(),
            self.unreachable_timeout.as_secs()
        );
        if !self.timers.keys().any(|(_, t)| *t == Timer::GiveUp) {
            self.schedule(now + self.unreachable_timeout, Timer::GiveUp);
        }
        self.schedule(now + RECONNECT_EVERY, Timer::Reconnect);
    }

    fn give_up(&mut self) {
        self.detached = true;
        self.cancel(Timer::Reconnect);
        match self.app {
            App::Held if self.fail_if_unreachable => {
                log_error!(
                    "{}: no supervisor; not starting the app (PODINIT_ON_UNREACHABLE=fail)",
                    self.name
                );
                self.finish = Some(super::EXIT_INIT_FAILURE);
            }
            App::Held => {
                log_warn!(
                    "{}: no supervisor; starting the app unsupervised (a plain init from now on)",
                    self.name
                );
                self.start_app();
            }
            App::Running(pid) => {
                log_warn!(
                    "{}: no supervisor; the app keeps running under a plain init",
                    self.name
                );
                // The runtime's stop was held for the supervisor, which is gone: pass it on.
                if let Some(signo) = self.agent_stop {
                    self.forward(pid, signo);
                }
            }
            App::Exited(ended) => self.finish = Some(self.opts.remap.apply(reap::exit_code(ended))),
        }
    }

    fn send(&mut self, msg: &InitMessage) {
        let Some(link) = &mut self.link else { return };
        if let Err(e) = (&link.stream).write_all(&proto::encode(msg)) {
            log_warn!("{}: lost the supervisor while reporting: {e}", self.name);
            self.lost(Instant::now());
        }
    }

    fn on_socket(&mut self) {
        let mut chunk = [0u8; 8192];
        let mut closed = false;
        if let Some(link) = &mut self.link {
            loop {
                match (&link.stream).read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => link.inbuf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
        }
        let mut lines = Vec::new();
        if let Some(link) = &mut self.link {
            while let Some(pos) = link.inbuf.iter().position(|b| *b == b'\n') {
                lines.push(link.inbuf.drain(..=pos).take(pos).collect::<Vec<u8>>());
            }
            if link.inbuf.len() > proto::MAX_LINE {
                closed = true;
            }
        }
        for line in lines {
            match proto::decode::<SupervisorMessage>(&line) {
                Ok(msg) => self.on_message(msg),
                Err(e) => log_warn!("{}: ignored a message from the supervisor: {e}", self.name),
            }
        }
        if closed && self.finish.is_none() {
            self.lost(Instant::now());
        }
    }

    fn on_message(&mut self, msg: SupervisorMessage) {
        log_debug!("{}: supervisor says {msg:?}", self.name);
        match msg {
            // A claim refused (`claim.rs`): a decision, not an unreachable supervisor. As a
            // refused createRuntime registration fails the create, the app does not run.
            SupervisorMessage::Refused { error } => {
                log_error!(
                    "{}: the supervisor refused this container: {error}; not starting the app",
                    self.name
                );
                match self.app {
                    App::Held => {
                        self.detached = true;
                        self.cancel(Timer::Reconnect);
                        self.cancel(Timer::GiveUp);
                        self.finish = Some(super::EXIT_INIT_FAILURE);
                    }
                    _ => self.give_up(),
                }
            }
            SupervisorMessage::Welcome { name, plan } => {
                self.name = name;
                self.plan = Some(*plan);
                // After a reconnect, say where we stand; the engine ignores what it knew.
                match self.app {
                    App::Held => {}
                    App::Running(pid) => self.send(&InitMessage::Started { pid }),
                    // The start report may have died with the old supervisor: repeat both.
                    App::Exited(ended) => {
                        if let Some(pid) = self.last_pid {
                            self.send(&InitMessage::Started { pid });
                        }
                        self.send(&self.exited_message(ended));
                    }
                }
                if let Some(signal) = self.agent_stop {
                    self.send(&InitMessage::AgentStop { signal });
                }
            }
            // Release opens the gate of a held app, and only that: after a reconnect the
            // supervisor repeats it, and an app that ran and exited must not run again.
            SupervisorMessage::Release => {
                if self.app == App::Held {
                    self.start_app();
                }
            }
            // A restart in place starts from a clean slate: what the last run left goes first.
            SupervisorMessage::Restart => match self.app {
                App::Running(_) => {}
                _ if self.sweep.is_some() => {}
                App::Held => self.start_app(),
                App::Exited(_) => {
                    self.begin_sweep(AfterSweep::Restart, libc::SIGTERM, leftovers::RESTART_GRACE)
                }
            },
            // postStart and probes concern a running app (a replayed start report may ask for
            // them after the app is gone); preStop is asked at teardown, whatever runs.
            SupervisorMessage::RunHandler {
                handler: HandlerKind::PostStart,
            } if !matches!(self.app, App::Running(_)) => {
                self.send(&InitMessage::HandlerDone {
                    handler: HandlerKind::PostStart,
                    ok: false,
                });
            }
            SupervisorMessage::RunHandler { handler } => self.run_handler(handler),
            SupervisorMessage::StartProbes if !matches!(self.app, App::Running(_)) => {}
            SupervisorMessage::StartProbes => self.start_probes(),
            SupervisorMessage::StopProbes { keep_readiness } => {
                if keep_readiness {
                    self.stop_probes_but_readiness();
                } else {
                    self.stop_probes();
                }
            }
            SupervisorMessage::Signal { signal } => {
                if let App::Running(pid) = self.app {
                    self.forward(pid, signal);
                }
            }
            SupervisorMessage::Kill => self.kill_all(),
            SupervisorMessage::Teardown { report } => {
                super::teardown_note::record(&self.name, &report)
            }
            SupervisorMessage::Finish {
                exit_code,
                leftover_grace_ms,
            } => {
                self.stop_probes();
                if matches!(self.app, App::Running(_)) {
                    self.kill_all();
                    self.finish = Some(exit_code);
                    return;
                }
                // Adopted daemons get the stop signal and the rest of the grace (an older
                // supervisor gives none: SIGKILL at once, as it always was).
                let grace = Duration::from_millis(leftover_grace_ms.unwrap_or(0));
                let signal = self
                    .plan
                    .as_ref()
                    .map_or(libc::SIGTERM, |p| p.stop_signal.number);
                match &mut self.sweep {
                    Some(sweep) => {
                        sweep.then = AfterSweep::Finish(exit_code);
                        sweep.deadline = sweep.deadline.min(Instant::now() + grace);
                        self.advance_sweep();
                    }
                    None => self.begin_sweep(AfterSweep::Finish(exit_code), signal, grace),
                }
            }
        }
    }

    // ----- the app ----------------------------------------------------------------------------

    fn start_app(&mut self) {
        self.take_baseline();
        let output = self.tee.as_ref().map(Tee::child_fds);
        match super::spawn::spawn_with_output(&self.prepared, &self.setup, output) {
            Ok(pid) => {
                log_info!(
                    "{}: started {} as pid {pid}",
                    self.name,
                    self.prepared.name()
                );
                self.app = App::Running(pid);
                self.last_pid = Some(pid);
                // A restart ran the spawn path again: settle again once it is quiet.
                self.settled = false;
                self.send(&InitMessage::Started { pid });
            }
            Err(e) => {
                log_error!("{}: {e}", self.name);
                let ended = Ended::Exited(e.exit_code());
                self.app_ended(ended);
            }
        }
    }

    fn app_ended(&mut self, ended: Ended) {
        log_info!(
            "{}: {} {}",
            self.name,
            self.prepared.name(),
            Describe(ended)
        );
        self.app = App::Exited(ended);
        self.stop_probes();
        if self.detached {
            self.finish = Some(self.opts.remap.apply(reap::exit_code(ended)));
            return;
        }
        self.exit_details = self.observe_exit(ended);
        // The supervisor decides: restart, or finish with a code.
        self.send(&self.exited_message(ended));
    }

    fn exited_message(&self, ended: Ended) -> InitMessage {
        InitMessage::Exited {
            status: status_of(ended),
            oom_killed: self.exit_details.0,
            message: self.exit_details.1.clone(),
        }
    }

    /// Before a run: the OOM counter and the termination-message file as they are now.
    fn take_baseline(&mut self) {
        let counter = self.oom.get_or_insert_with(oom::Counter::locate);
        self.baseline.oom = counter.as_ref().and_then(oom::Counter::read);
        self.baseline.message_file = self
            .plan
            .as_ref()
            .and_then(|p| termination::prepare(std::path::Path::new(&p.termination_message.path)));
        let fallback = self
            .plan
            .as_ref()
            .is_some_and(|p| p.termination_message.fallback_to_logs);
        if fallback && self.tee.is_none() && Tee::applies() {
            self.tee = self.start_tee();
        }
        if let Some(tee) = &mut self.tee {
            tee.tail.clear();
        }
    }

    fn start_tee(&self) -> Option<Tee> {
        let tee = Tee::new()
            .and_then(|tee| {
                self.el.add(tee.read_fd(Stream::Stdout), TOKEN_STDOUT)?;
                self.el.add(tee.read_fd(Stream::Stderr), TOKEN_STDERR)?;
                Ok(tee)
            })
            .map_err(|e| {
                log_warn!(
                    "{}: cannot relay the app's output for FallbackToLogsOnError ({}): \
                     a failed run's message will be empty",
                    self.name,
                    e.desc()
                )
            })
            .ok()?;
        Some(tee)
    }

    fn relay(&mut self, stream: Stream) {
        if let Some(tee) = &mut self.tee {
            tee.drain(stream);
        }
    }

    /// After a run: whether the OOM killer acted during it, and its termination message.
    fn observe_exit(&mut self, ended: Ended) -> (bool, Option<String>) {
        // The app's last words may still sit in the pipes.
        if let Some(tee) = &mut self.tee {
            tee.drain_all();
        }
        let now = self
            .oom
            .as_ref()
            .and_then(Option::as_ref)
            .and_then(oom::Counter::read);
        let oom_killed = oom::oom_killed(self.baseline.oom, now);
        let message = self.plan.as_ref().and_then(|p| {
            let tm = &p.termination_message;
            let file = termination::read_if_changed(
                std::path::Path::new(&tm.path),
                self.baseline.message_file,
            );
            let tail = self.tee.as_ref().map(|t| &t.tail);
            termination::message(file, tm.fallback_to_logs, reap::exit_code(ended), tail)
        });
        (oom_killed, message)
    }

    // ----- what a run leaves behind (`leftovers.rs`) ------------------------------------------

    /// Signal what the last run left, then restart or exit once it is gone (at once when
    /// nothing is left: one `waitid`).
    fn begin_sweep(&mut self, then: AfterSweep, signal: i32, grace: Duration) {
        self.reap();
        if !sys::wait::has_children() {
            self.after_sweep(then);
            return;
        }
        log_info!(
            "{}: processes left by the last run get signal {signal}, SIGKILL in {} ms",
            self.name,
            grace.as_millis()
        );
        self.signal_leftovers(signal);
        self.sweep = Some(Sweep {
            then,
            stage: Stage::Signaled,
            deadline: Instant::now() + grace,
        });
        self.advance_sweep();
    }

    fn advance_sweep(&mut self) {
        let Some(sweep) = self.sweep else { return };
        let now = Instant::now();
        match leftovers::step(sweep.stage, sys::wait::has_children(), now, sweep.deadline) {
            Step::Proceed => {
                self.sweep = None;
                self.cancel(Timer::Sweep);
                self.after_sweep(sweep.then);
            }
            Step::WaitUntil(at) => self.schedule(at, Timer::Sweep),
            Step::Kill => {
                log_info!(
                    "{}: processes left by the last run outlived their grace: SIGKILL",
                    self.name
                );
                self.signal_leftovers(libc::SIGKILL);
                let deadline = now + leftovers::KILL_WAIT;
                self.sweep = Some(Sweep {
                    stage: Stage::Killed,
                    deadline,
                    ..sweep
                });
                self.schedule(deadline, Timer::Sweep);
            }
        }
    }

    fn after_sweep(&mut self, then: AfterSweep) {
        match then {
            AfterSweep::Restart => self.start_app(),
            AfterSweep::Finish(code) => self.finish = Some(code),
        }
    }

    /// Every process of the container but the init: as PID 1 of its pid namespace `kill(-1)`
    /// reaches them all; otherwise the init's children (orphans it adopted as subreaper).
    fn signal_leftovers(&self, signo: i32) {
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

    fn forward(&self, pid: libc::pid_t, signo: i32) {
        let target = signals::forward_target(pid, self.opts.kill_process_group);
        if let Err(e) = sys::signal::kill(target, signo) {
            log_debug!("{}: signal {signo} to {target}: {}", self.name, e.desc());
        }
    }

    /// SIGKILL everything left in the container: as PID 1 of its pid namespace, `kill(-1)` reaches
    /// every other process in it; otherwise the app's process group and the app.
    fn kill_all(&self) {
        // SAFETY: getpid cannot fail and touches no memory.
        if unsafe { libc::getpid() } == 1 {
            let _ = sys::signal::kill(-1, libc::SIGKILL);
        } else if let App::Running(pid) = self.app {
            let _ = sys::signal::kill(-pid, libc::SIGKILL);
            let _ = sys::signal::kill(pid, libc::SIGKILL);
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
            if self.link.is_some() && self.is_stop_signal(signo) {
                // From outside podinit's channel (the supervisor signals a connected init over
                // the socket, never with kill): the runtime is stopping this container. Passing
                // it on now would let the app's exit read as a crash to restart, and a sidecar
                // stopped with its pod would go before the apps (issue 9 finding 5).
                log_info!(
                    "{}: stop signal {signo} from the runtime; the supervisor orders it",
                    self.name
                );
                self.agent_stop.get_or_insert(signo);
                self.send(&InitMessage::AgentStop { signal: signo });
                continue;
            }
            match self.app {
                App::Running(pid) => self.forward(pid, signo),
                // The runtime signals a container whose app never started: end it, unstarted.
                App::Held
                    if matches!(
                        signo,
                        libc::SIGTERM | libc::SIGINT | libc::SIGHUP | libc::SIGQUIT
                    ) =>
                {
                    log_info!(
                        "{}: signal {signo} before the app started; exiting",
                        self.name
                    );
                    self.finish = Some(128 + signo);
                }
                _ => {}
            }
        }
        if reap_now {
            self.reap();
        }
    }

    /// SIGTERM and SIGINT (what `runc kill` and a terminal send), and the container's own stop
    /// signal (what CRI StopContainer sends when the image or the spec names one).
    fn is_stop_signal(&self, signo: i32) -> bool {
        signo == libc::SIGTERM
            || signo == libc::SIGINT
            || self
                .plan
                .as_ref()
                .is_some_and(|p| p.stop_signal.number == signo)
    }

    fn reap(&mut self) {
        let main = match self.app {
            App::Running(pid) => pid,
            _ => 0,
        };
        let mut others = Vec::new();
        let ended = reap::reap_all(if main > 0 { main } else { -2 }, |pid, e| {
            others.push((pid, e))
        })
        .unwrap_or(None);
        for (pid, e) in others {
            let ok = e == Ended::Exited(0);
            if let Some(h) = self.handlers.remove(&pid) {
                self.handler_done(h, ok);
            } else if let Some(kind) = self.probe_pids.remove(&pid) {
                self.probe_result(kind, ok);
            }
        }
        if let Some(e) = ended {
            self.app_ended(e);
        }
        if self.sweep.is_some() {
            self.advance_sweep();
        }
    }

    // ----- handlers ---------------------------------------------------------------------------

    fn run_handler(&mut self, kind: HandlerKind) {
        let handler = self.plan.as_ref().and_then(|p| match kind {
            HandlerKind::PostStart => p.post_start.clone(),
            HandlerKind::PreStop => p.pre_stop.clone(),
        });
        let Some(handler) = handler else {
            self.send(&InitMessage::HandlerDone {
                handler: kind,
                ok: true,
            });
            return;
        };
        match checks::start_handler(&handler, &self.setup) {
            Started::Child(pid) => {
                self.handlers.insert(pid, kind);
            }
            Started::Sleep(d) => self.schedule(Instant::now() + d, Timer::Sleep(kind)),
            Started::Failed(why) => {
                log_warn!("{}: {kind:?} handler failed to start: {why}", self.name);
                self.send(&InitMessage::HandlerDone {
                    handler: kind,
                    ok: false,
                });
            }
        }
    }

    fn handler_done(&mut self, kind: HandlerKind, ok: bool) {
        log_debug!(
            "{}: {kind:?} handler {}",
            self.name,
            if ok { "succeeded" } else { "failed" }
        );
        self.send(&InitMessage::HandlerDone { handler: kind, ok });
    }

    // ----- probes (Kubernetes prober semantics, per container) ----------------------------------

    fn start_probes(&mut self) {
        let Some(plan) = &self.plan else { return };
        let now = Instant::now();
        let specs = [
            (ProbeKind::Startup, &plan.startup_probe),
            (ProbeKind::Readiness, &plan.readiness_probe),
            (ProbeKind::Liveness, &plan.liveness_probe),
        ];
        let has_startup = plan.startup_probe.is_some();
        let mut due = Vec::new();
        for (kind, spec) in specs {
            if let Some(spec) = spec {
                self.probes.insert(
                    kind,
                    Probe {
                        spec: spec.clone(),
                        running: None,
                        successes: 0,
                        failures: 0,
                        reported: None,
                    },
                );
                // All other probes wait until the startup probe succeeded (kubelet).
                if kind == ProbeKind::Startup || !has_startup {
                    due.push((now + Duration::from_secs(spec.initial_delay_seconds), kind));
                }
            }
        }
        for (at, kind) in due {
            self.schedule(at, Timer::Probe(kind));
        }
    }

    fn stop_probes(&mut self) {
        for (pid, _) in self.probe_pids.drain() {
            let _ = sys::signal::kill(pid, libc::SIGKILL);
        }
        self.probes.clear();
        self.timers
            .retain(|(_, t), _| !matches!(t, Timer::Probe(_) | Timer::ProbeTimeout(_)));
    }

    /// The container is being stopped: startup and liveness end, readiness goes on until the
    /// app is gone (kubelet prober: a terminating container turns unready).
    fn stop_probes_but_readiness(&mut self) {
        let stopped = |k: &ProbeKind| matches!(k, ProbeKind::Startup | ProbeKind::Liveness);
        self.probe_pids.retain(|pid, kind| {
            if stopped(kind) {
                let _ = sys::signal::kill(*pid, libc::SIGKILL);
            }
            !stopped(kind)
        });
        self.probes.retain(|k, _| !stopped(k));
        self.timers.retain(
            |(_, t), _| !matches!(t, Timer::Probe(k) | Timer::ProbeTimeout(k) if stopped(k)),
        );
    }

    fn run_probe(&mut self, kind: ProbeKind) {
        let Some(p) = self.probes.get(&kind) else {
            return;
        };
        if p.running.is_some() {
            return;
        }
        let timeout = Duration::from_secs(p.spec.timeout_seconds);
        let action = p.spec.action.clone();
        match checks::start_probe(&action, timeout, &self.setup) {
            Started::Child(pid) => {
                let now = Instant::now();
                if let Some(p) = self.probes.get_mut(&kind) {
                    p.running = Some((pid, now));
                }
                self.probe_pids.insert(pid, kind);
                self.schedule(now + timeout, Timer::ProbeTimeout(kind));
            }
            Started::Sleep(_) => self.probe_result(kind, true),
            Started::Failed(why) => {
                log_debug!("{}: {kind:?} probe could not run: {why}", self.name);
                self.probe_result(kind, false);
            }
        }
    }

    fn probe_result(&mut self, kind: ProbeKind, ok: bool) {
        let Some(p) = self.probes.get_mut(&kind) else {
            return;
        };
        p.running = None;
        if ok {
            p.successes += 1;
            p.failures = 0;
        } else {
            p.failures += 1;
            p.successes = 0;
        }
        let verdict = if p.successes >= p.spec.success_threshold {
            Some(true)
        } else if p.failures >= p.spec.failure_threshold {
            Some(false)
        } else {
            None
        };
        let period = Duration::from_secs(p.spec.period_seconds);
        let report = verdict.filter(|v| p.reported != Some(*v));
        if let Some(v) = report {
            p.reported = Some(v);
        }
        self.cancel(Timer::ProbeTimeout(kind));
        if let Some(v) = report {
            self.send(&InitMessage::Probe { probe: kind, ok: v });
        }
        match (kind, report) {
            // A startup probe stops once it succeeded; the others begin.
            (ProbeKind::Startup, Some(true)) => {
                self.probes.remove(&ProbeKind::Startup);
                let now = Instant::now();
                let later: Vec<(ProbeKind, u64)> = self
                    .probes
                    .iter()
                    .map(|(k, p)| (*k, p.spec.initial_delay_seconds))
                    .collect();
                for (k, delay) in later {
                    self.schedule(now + Duration::from_secs(delay), Timer::Probe(k));
                }
            }
            // Startup/liveness failure: the supervisor stops the container for a restart; the
            // failed kind stops here, readiness goes on while it is stopped.
            (ProbeKind::Startup | ProbeKind::Liveness, Some(false)) => {
                self.stop_probes_but_readiness()
            }
            _ => self.schedule(Instant::now() + period, Timer::Probe(kind)),
        }
    }

    // ----- timers -----------------------------------------------------------------------------

    fn schedule(&mut self, at: Instant, timer: Timer) {
        self.cancel(timer);
        self.timers.insert((at, timer), ());
    }

    fn cancel(&mut self, timer: Timer) {
        self.timers.retain(|(_, t), _| *t != timer);
    }

    fn arm_timer(&self) {
        match self.timers.keys().next() {
            None => {
                let _ = self.timerfd.unset();
            }
            Some((at, _)) => {
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

    fn on_timers(&mut self) {
        let mut buf = [0u8; 8];
        // SAFETY: reading 8 bytes into an 8-byte buffer from our own non-blocking timerfd.
        let _ = unsafe {
            libc::read(
                self.timerfd.as_fd().as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        let now = Instant::now();
        let due: Vec<Timer> = self
            .timers
            .keys()
            .filter(|(at, _)| *at <= now)
            .map(|(_, t)| *t)
            .collect();
        self.timers.retain(|(at, _), _| *at > now);
        for t in due {
            match t {
                Timer::Probe(kind) => self.run_probe(kind),
                Timer::ProbeTimeout(kind) => {
                    if let Some((pid, _)) = self.probes.get(&kind).and_then(|p| p.running) {
                        let _ = sys::signal::kill(pid, libc::SIGKILL);
                        self.probe_pids.remove(&pid);
                        self.probe_result(kind, false);
                    }
                }
                Timer::Sleep(kind) => self.handler_done(kind, true),
                Timer::Reconnect => {
                    self.connect();
                    if self.link.is_none() && !self.detached {
                        self.schedule(now + RECONNECT_EVERY, Timer::Reconnect);
                    }
                }
                Timer::GiveUp => {
                    if self.link.is_none() {
                        self.give_up();
                    }
                }
                Timer::Sweep => self.advance_sweep(),
            }
        }
    }
}
