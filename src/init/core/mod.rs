//! The rules of the managed in-container init, with no I/O (the engine's treatment, after
//! quinn-proto's `Connection`): the driver (`managed.rs`) feeds [`Input`]s with the time, the
//! core answers with [`Effect`]s the driver carries out, and [`InitCore::poll_timeout`] says
//! when to feed [`Input::Timeout`]. Nothing in here reads the clock, a file or a socket; it only
//! logs. The contract, the inputs and the effects: `docs/init-core.md`.
//!
//! - the start gate and the app ([`app`]): held until `release`, restarted in place on
//!   `restart`, stopped and finished on the supervisor's word;
//! - the supervisor link ([`link`]): connect, reconnect, give up, the claim, the replay after a
//!   reconnect;
//! - probes ([`prober`]) and lifecycle handlers ([`handlers`]);
//! - the sweep of leftovers before a restart or the exit ([`sweep`]);
//! - one timer table ([`timers`]).

mod app;
mod handlers;
mod link;
pub mod prober;
mod sweep;
pub mod timers;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::claim::Token;
use crate::engine::{HandlerKind, ProbeKind, TeardownReport};
use crate::init::reap::ExitRemap;
use crate::plan::{ContainerPlan, Handler, ProbeAction, TerminationMessage};
use crate::proto::{InitMessage, SupervisorMessage};
use crate::sys::wait::Ended;

pub use prober::Launch;
use sweep::Sweep;
use timers::{Timer, TimerTable};

/// What happened, as the driver saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The init is ready to work: first input, once.
    Boot,
    /// A message from the supervisor.
    Supervisor(SupervisorMessage),
    /// [`Effect::Connect`] succeeded: the link is up.
    LinkUp,
    /// [`Effect::Connect`] failed.
    ConnectFailed,
    /// The supervisor closed the link, or it broke.
    LinkDown,
    /// Writing this message failed; the driver dropped the link.
    SendFailed(InitMessage),
    /// [`Effect::SpawnApp`] started the app.
    AppStarted { pid: libc::pid_t },
    /// The app ended (reaped, or its spawn failed), with what the driver observed about it
    /// (asked for only when [`InitCore::wants_exit_details`]).
    AppEnded { ended: Ended, details: ExitDetails },
    /// Another child was reaped (a probe, a handler, an adopted orphan).
    Reaped { pid: libc::pid_t, ended: Ended },
    /// What [`Effect::StartProbe`] started.
    ProbeLaunched { kind: ProbeKind, launch: Launch },
    /// What [`Effect::RunHandler`] started.
    HandlerLaunched { kind: HandlerKind, launch: Launch },
    /// After a reap, while a sweep is on ([`InitCore::sweeping`]): whether any process but the
    /// init is left.
    Leftovers { left: bool },
    /// A signal for the app (one `signals::action` forwards).
    Signal(i32),
    /// [`InitCore::poll_timeout`] has passed.
    Timeout,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Connect to the supervisor's socket; answer [`Input::LinkUp`] or [`Input::ConnectFailed`].
    Connect,
    /// Write this message on the link (the core asks only while the link is up); a failed write
    /// is answered with [`Input::SendFailed`].
    Send(InitMessage),
    /// Start the app; answer [`Input::AppStarted`], or [`Input::AppEnded`] if the spawn failed.
    SpawnApp,
    /// Start one run of a probe; answer [`Input::ProbeLaunched`].
    StartProbe {
        kind: ProbeKind,
        action: ProbeAction,
        timeout: Duration,
    },
    /// Start a lifecycle handler; answer [`Input::HandlerLaunched`].
    RunHandler { kind: HandlerKind, handler: Handler },
    /// Pass a signal on to the app (its process group under `-g`).
    Forward { pid: libc::pid_t, signo: i32 },
    /// Signal one child of the init's own (a probe run).
    Kill { pid: libc::pid_t, signo: i32 },
    /// SIGKILL everything in the container: `kill(-1)` as PID 1 of its pid namespace, else the
    /// app's group and the app (`app`, when it runs).
    KillAll { app: Option<libc::pid_t> },
    /// Signal every process of the container but the init (a sweep).
    SignalLeftovers(i32),
    /// Reap now (then report [`Input::Leftovers`], as after every reap while sweeping).
    Reap,
    /// The pod's teardown report: into the environment and the teardown file.
    RecordTeardown(TeardownReport),
    /// Exit with this code. Nothing else comes from the core afterwards.
    Exit(i32),
}

/// What the driver measured about a run that ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitDetails {
    pub oom_killed: bool,
    pub message: Option<String>,
}

/// The settings the init starts with (its environment and command line).
#[derive(Debug, Clone)]
pub struct Config {
    /// The app's program name, until the supervisor's `welcome` names the container.
    pub name: String,
    /// The app's program name, for log lines.
    pub program: String,
    /// The supervisor's socket, for log lines.
    pub socket: PathBuf,
    /// `PODINIT_UNREACHABLE_TIMEOUT`.
    pub unreachable_timeout: Duration,
    /// `PODINIT_ON_UNREACHABLE=fail`.
    pub fail_if_unreachable: bool,
    /// `-e CODE`, for the exit code of a detached init.
    pub remap: ExitRemap,
    /// The registration to claim of a no-hooks bundle: its token file, which may say the app
    /// starts before the claim is answered (`claim::Token::start_at_once`).
    pub claim: Option<Token>,
}

/// The app, as the core knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum App {
    /// At its start gate: not started yet.
    Held,
    Running(libc::pid_t),
    /// Its last run ended (a restart may start it again).
    Exited(Ended),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Before the first connection attempt has answered.
    Boot,
    Up,
    Down,
}

pub struct InitCore {
    name: String,
    program: String,
    socket: PathBuf,
    unreachable_timeout: Duration,
    fail_if_unreachable: bool,
    remap: ExitRemap,
    claim: Option<Token>,
    /// At boot, the app starts along with the claim instead of after the supervisor's release
    /// (`link.rs`, `boot`).
    start_at_once: bool,
    link: Link,
    /// Gave up on the supervisor: a plain init from here on.
    detached: bool,
    plan: Option<ContainerPlan>,
    app: App,
    /// The pid of the app's latest run, for reports repeated after a reconnect.
    last_pid: Option<libc::pid_t>,
    /// The last exit's OOM verdict and termination message, for the same.
    exit_details: ExitDetails,
    /// A stop signal from the runtime, reported to the supervisor instead of passed on; kept
    /// to report it again after a reconnect, and to pass it on if the supervisor is lost.
    agent_stop: Option<i32>,
    prober: prober::Prober,
    handlers: handlers::Handlers,
    sweep: Option<Sweep>,
    timers: TimerTable,
    /// Set by [`Effect::Exit`]: the core is done.
    exited: bool,
}

impl InitCore {
    pub fn new(config: Config) -> InitCore {
        InitCore {
            name: config.name,
            program: config.program,
            socket: config.socket,
            unreachable_timeout: config.unreachable_timeout,
            fail_if_unreachable: config.fail_if_unreachable,
            remap: config.remap,
            start_at_once: config.claim.as_ref().is_some_and(|c| c.start_at_once)
                && !config.fail_if_unreachable,
            claim: config.claim,
            link: Link::Boot,
            detached: false,
            plan: None,
            app: App::Held,
            last_pid: None,
            exit_details: ExitDetails::default(),
            agent_stop: None,
            prober: prober::Prober::default(),
            handlers: handlers::Handlers::default(),
            sweep: None,
            timers: TimerTable::default(),
            exited: false,
        }
    }

    /// One input at `now`; the effects to carry out, in order.
    #[must_use]
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.exited {
            return fx;
        }
        match input {
            Input::Boot => self.boot(&mut fx),
            Input::Supervisor(msg) => self.on_message(msg, now, &mut fx),
            Input::LinkUp => self.link_up(&mut fx),
            Input::ConnectFailed => self.connect_failed(now),
            Input::LinkDown => self.lost(now),
            // A claim not written stays in `self.claim` for the next connection.
            Input::SendFailed(_) => self.lost(now),
            Input::AppStarted { pid } => self.app_started(pid, &mut fx),
            Input::AppEnded { ended, details } => self.app_ended(ended, details, &mut fx),
            Input::Reaped { pid, ended } => {
                let ok = ended == Ended::Exited(0);
                if !self.handlers.reaped(&self.name, pid, ok, &mut fx) {
                    self.prober.reaped(pid, ok, now, &mut self.timers, &mut fx);
                }
            }
            Input::ProbeLaunched { kind, launch } => {
                self.prober
                    .launched(kind, launch, now, &mut self.timers, &mut fx)
            }
            Input::HandlerLaunched { kind, launch } => {
                self.handlers
                    .launched(kind, launch, now, &mut self.timers, &mut fx)
            }
            Input::Leftovers { left } => self.sweep_answer(left, now, &mut fx),
            Input::Signal(signo) => self.on_signal(signo, &mut fx),
            Input::Timeout => {
                for timer in self.timers.take_expired(now) {
                    self.on_timer(timer, now, &mut fx);
                }
            }
        }
        // A supervisor that is not connected misses what it would have been told; the replay
        // after a reconnect (`welcome`) covers what it needs.
        if self.link != Link::Up {
            fx.retain(|e| !matches!(e, Effect::Send(_)));
        } else if self.claim.is_some() {
            // Until the claim is answered the supervisor does not know this container (an app
            // started at once may already have run and exited): the welcome's replay says it.
            fx.retain(|e| !matches!(e, Effect::Send(m) if !matches!(m, InitMessage::Claim { .. })));
        }
        if let Some(i) = fx.iter().position(|e| matches!(e, Effect::Exit(_))) {
            fx.truncate(i + 1);
            self.exited = true;
        }
        fx
    }

    /// When to feed [`Input::Timeout`] next: the earliest timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// The container's name (the supervisor's, once welcomed), for the driver's log lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plan, once the supervisor sent it.
    pub fn plan(&self) -> Option<&ContainerPlan> {
        self.plan.as_ref()
    }

    /// The termination message's settings a run of the app is measured by: the plan's, or
    /// Kubernetes' defaults for an app started ahead of its plan (`inject` says it may only
    /// where the plan has them, `claim::starts_ahead_of_plan`).
    pub fn termination_message(&self) -> Option<Cow<'_, TerminationMessage>> {
        match &self.plan {
            Some(p) => Some(Cow::Borrowed(&p.termination_message)),
            None if self.start_at_once => Some(Cow::Owned(TerminationMessage::default())),
            None => None,
        }
    }

    /// The app's pid while it runs: the reaper tells its end from the others'.
    pub fn app_pid(&self) -> Option<libc::pid_t> {
        match self.app {
            App::Running(pid) => Some(pid),
            _ => None,
        }
    }

    /// Whether [`Input::AppEnded`] should carry details (a detached init reports nothing).
    pub fn wants_exit_details(&self) -> bool {
        !self.detached
    }

    /// Whether a handler child is under way.
    pub fn handlers_busy(&self) -> bool {
        self.handlers.busy()
    }

    /// Whether a sweep waits for [`Input::Leftovers`] after each reap.
    pub fn sweeping(&self) -> bool {
        self.sweep.is_some()
    }

    fn on_timer(&mut self, timer: Timer, now: Instant, fx: &mut Vec<Effect>) {
        match timer {
            Timer::Probe(kind) => self.prober.due(kind, fx),
            Timer::ProbeTimeout(kind) => self.prober.timed_out(kind, now, &mut self.timers, fx),
            Timer::Sleep(kind) => self.handlers.slept(&self.name, kind, fx),
            Timer::Reconnect => self.reconnect(fx),
            Timer::GiveUp => {
                if self.link != Link::Up {
                    self.give_up(fx);
                }
            }
            Timer::Sweep => fx.push(Effect::Reap),
        }
    }
}
