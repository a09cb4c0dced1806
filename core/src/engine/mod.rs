//! The lifecycle engine: a deterministic state machine with no syscalls and no clock of its own.
//! Drivers feed it [`Event`]s with the current time and carry out the [`Action`]s it returns; they
//! ask [`Engine::poll_timeout`] when to call [`Engine::handle_timeout`] next.
//!
//! # The driver contract
//!
//! The supervisor (`src/supervisor/`) is the driver; a test is one too (`tests.rs`, on a fake
//! clock). What the engine asks of it:
//!
//! - **Inputs.** [`Engine::handle_event`] for each thing that happened (a registration, a
//!   report from a container's init, an operator's request, a stop), [`Engine::handle_timeout`]
//!   when a deadline came. Each returns the actions that follow, and each is `#[must_use]`.
//! - **Time.** `now` is one monotonic clock of the driver's choosing (the supervisor's
//!   `CLOCK_MONOTONIC`), the same for every call, and does not go back: inputs are handed over
//!   in the order they happened, an event and a timeout at different instants not interleaved
//!   out of order. The engine keeps the latest `now` it saw; what it schedules counts from it.
//! - **Timers.** After every input ask [`Engine::poll_timeout`] again (any input may set, move
//!   or clear a deadline) and call [`Engine::handle_timeout`] once that time has come; `None`
//!   means no wake-up at all until the next event. A call before the deadline fires nothing; a
//!   late one fires everything due by its `now`, at that `now`. After `handle_timeout(now)` the
//!   next deadline is `None` or after `now` (the sequence fuzz checks it), so a driver that
//!   loops on it cannot spin. Every deadline is in one table (`timers.rs`).
//! - **Actions.** Carry out every action, in order, before the next input:
//!   - [`Action::ReleaseGate`], [`Action::Restart`]: let the container's init exec its process
//!     (again), then report [`Event::ProcessStarted`] (or [`Event::ProcessExited`]);
//!   - [`Action::RunHandler`]: run the handler, report [`Event::HandlerDone`] when it returns;
//!   - [`Action::StartProbes`], [`Action::StopProbes`]: start or stop the init's prober; it
//!     reports [`Event::ProbeResult`] on transitions only;
//!   - [`Action::Teardown`]: hand the report to the init (before its preStop and its signal);
//!   - [`Action::Signal`], [`Action::Kill`]: deliver to the container's process (the init passes
//!     it on; SIGKILL takes everything left in it). A container whose init cannot be reached
//!     gets it another way (the supervisor's pidfd fallback): the engine does not ask twice;
//!   - [`Action::Finish`]: the init exits with `exit_code`; what is left in the container gets
//!     the stop signal and `leftover_grace`, then SIGKILL. Nothing of that container follows;
//!   - [`Action::StatusChanged`]: write the status (`Engine::status`) when convenient;
//!   - [`Action::PodFinished`]: the pod is over, with its phase (once).
//! - **Reports back.** [`Event::ProcessExited`] for every exit of a started process, and
//!   [`Event::Gone`] once the container's init is gone (it exited, or the runtime deleted it):
//!   the pod finishes only when every registered container is gone.
//! - **Questions first.** [`Engine::check_registration`] before a registration is tracked or
//!   journalled, [`Engine::check_operation`] before an operator's request: both are pure, and
//!   the events re-check (a journal replays them without the question).
//! - **Restarts of the driver.** The engine's state is a function of its inputs and their
//!   times: journal each input with its `now` before handing it over, and rebuild a fresh engine
//!   with [`Engine::replay`] in the same order. A replay fires the timers that fell due between
//!   two inputs at their own deadlines and drops every action (they were carried out when the
//!   inputs first came); the driver then finds out what became of the world (which inits are
//!   still there, feeding [`Event::Gone`] for the others) and goes on.
//!
//! Where things happen:
//! - a container's life (held, running with its probes, handlers and stop, back-off,
//!   terminated): `container.rs`
//! - the start gate (init sequence, sidecars first, launch priorities): `gate.rs`
//! - exits, restarts and backoff: `lifecycle.rs`
//! - teardown (preStop, who gets SIGTERM when, the shared grace budget, SIGKILL): `teardown.rs`
//! - stops that come from the runtime (`runc kill`, CRI StopContainer): `agent_stop.rs`
//! - one container stopped alone (probe kills, runtime stops): preStop first, `solo_stop.rs`
//! - every deadline, for `poll_timeout` and `handle_timeout` alike: `timers.rs`
//! - pod phase and status, reasons and the timeline's kinds: `status.rs` and [`Engine::status`]

mod agent_stop;
mod backoff;
mod conditions;
mod container;
mod exit_reason;
mod gate;
mod lifecycle;
mod operator_ops;
mod regate;
#[cfg(test)]
mod registration_tests;
#[cfg(test)]
mod sequence_fuzz;
mod solo_stop;
mod start_wait;
mod status;
mod teardown;
mod teardown_report;
#[cfg(test)]
mod tests;
mod timers;

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use backoff::{Backoff, BackoffConfig};
pub use conditions::{CONDITION_TYPES, PodCondition};
pub use exit_reason::{
    MAX_TERMINATION_MESSAGE, TerminationReason, cap_message, termination_reason,
};
pub use gate::opens_on_arrival;
pub use operator_ops::{Operation, OperationRefused};
pub use status::{
    ContainerState, ContainerStatus, NoteKind, Phase, PodStatus, Reason, TIMELINE_MAX,
    TimelineEntry,
};
pub use teardown_report::{AppExit, TeardownReason, TeardownReport};

use crate::plan::{ContainerPlan, Kind, PodDeclaration};
use crate::signal::Signal;
use container::Container;

/// Engine time: the driver's monotonic clock, from an epoch of its choosing.
pub type Time = Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub backoff: BackoffConfig,
    /// `terminationGracePeriodSeconds` when no container declares one (Kubernetes: 30 s).
    pub default_grace: Duration,
    /// Every container gets at least this long between its stop signal and SIGKILL
    /// (kubelet `minimumGracePeriodInSeconds`).
    pub min_stop_timeout: Duration,
    /// A stop with a grace at or below this skips preStop and ordering (kubelet force-kill).
    pub force_grace: Duration,
    /// For pods that declare neither a pod spec nor `io.podinit.pod-containers`: a gate opens
    /// only once no container has registered for this long, so a serial creator has time to
    /// create the sidecars it will create after the app.
    pub settle: Duration,
    /// A sidecar stopped by the runtime while other containers run waits this long for the rest
    /// of the pod's stops: a kubelet or agent deleting a pod stops every container at once, and
    /// the sidecar must then wait for the apps (`agent_stop.rs`).
    pub agent_stop_window: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            backoff: BackoffConfig::default(),
            default_grace: Duration::from_secs(30),
            min_stop_timeout: Duration::from_secs(2),
            force_grace: Duration::from_secs(1),
            settle: Duration::from_secs(1),
            agent_stop_window: Duration::from_secs(1),
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The shell convention: the code, or 128 + signal.
    pub fn raw_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

/// What a container's init observed when its process ended, besides the status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitDetails {
    /// The kernel's OOM killer killed a process of the container during this run (its memory
    /// cgroup's `oom_kill` counter rose between the start and the exit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
    /// The termination message: the file at `terminationMessagePath`, or the tail of the
    /// output under `FallbackToLogsOnError`; capped as the kubelet caps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ExitDetails {
    pub fn is_empty(&self) -> bool {
        !self.oom_killed && self.message.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HandlerKind {
    PostStart,
    PreStop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProbeKind {
    Startup,
    Readiness,
    Liveness,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "event")]
pub enum Event {
    /// A container was created (hook `createRuntime`/`prestart`) with its plan. The pod's
    /// declaration comes once, with the pod's first registration; the later ones name it by
    /// `pod_digest` (`plan::declaration::digest`). Journals of older supervisors have the
    /// declaration in every registration and no digest.
    Registered {
        id: String,
        plan: Box<ContainerPlan>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pod: Option<PodDeclaration>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pod_digest: Option<String>,
    },
    /// The container's process was exec'd after its gate opened (or after a restart).
    ProcessStarted { name: String },
    HandlerDone {
        name: String,
        handler: HandlerKind,
        ok: bool,
    },
    /// A probe crossed its threshold (the prober reports transitions, not every run).
    ProbeResult {
        name: String,
        probe: ProbeKind,
        ok: bool,
    },
    ProcessExited {
        name: String,
        status: ExitStatus,
        /// What the container's init saw at the exit besides the status (an older init sends
        /// none of it).
        #[serde(default, skip_serializing_if = "ExitDetails::is_empty")]
        details: ExitDetails,
    },
    /// The container's init is gone (it exited, or the runtime deleted the container).
    Gone { name: String },
    /// Pod deletion: SIGTERM to the supervisor or `podinit stop [--grace]`.
    StopRequested { grace: Option<Duration> },
    /// A stop signal reached the container's init from outside podinit (the runtime's `kill`:
    /// CRI StopContainer, a kubelet deleting the pod, an operator's `runc kill`).
    AgentStop { name: String, signal: Signal },
    /// `podinit restart CONTAINER` (`operator_ops.rs`).
    RestartRequested { name: String },
    /// `podinit signal CONTAINER SIGNAL` (`operator_ops.rs`).
    SignalRequested { name: String, signal: Signal },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum Action {
    /// Let the held process exec (first start).
    ReleaseGate {
        name: String,
    },
    /// Start the process again in place (its backoff delay has passed).
    Restart {
        name: String,
    },
    RunHandler {
        name: String,
        handler: HandlerKind,
    },
    StartProbes {
        name: String,
    },
    /// Stop the container's probes; with `keep_readiness` only startup and liveness: a
    /// container being stopped keeps its readiness probe until its process is gone, so it goes
    /// unready while its preStop and its stop signal run (kubelet prober `worker.doProbe`: while
    /// the pod terminates, liveness and startup are skipped, readiness goes on; e2e "should
    /// execute readiness probe while in preStop, but not liveness").
    StopProbes {
        name: String,
        keep_readiness: bool,
    },
    /// Tell the container why its pod ends (`teardown_report.rs`): at its first teardown
    /// step, before its preStop, and again with its stop signal.
    Teardown {
        name: String,
        report: TeardownReport,
    },
    Signal {
        name: String,
        signal: Signal,
    },
    /// SIGKILL everything left in the container.
    Kill {
        name: String,
    },
    /// The container is done: its init exits with this code and nothing in it runs again.
    /// Processes still left in it get the stop signal and `leftover_grace` before SIGKILL.
    Finish {
        name: String,
        exit_code: i32,
        #[serde(default)]
        leftover_grace: Duration,
    },
    StatusChanged,
    /// Every container is gone: the supervisor exits with the pod's result.
    PodFinished {
        phase: Phase,
    },
}

/// Why the pod is being torn down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeardownCause {
    /// No app running and none will restart.
    JobComplete,
    /// A regular init container failed under `restartPolicy: Never`.
    InitFailed,
    Deleted,
    /// The pod ran longer than its `activeDeadlineSeconds`: Failed, teardown with grace.
    DeadlineExceeded,
    /// A container waited at its start gate past its `io.podinit.start-timeout` under
    /// `io.podinit.on-start-timeout: fail`: Failed, teardown with grace.
    StartTimeout,
}

#[derive(Debug, Clone, PartialEq)]
struct Teardown {
    cause: TeardownCause,
    started: Time,
    /// The end of the grace budget: every preStop is over by then, and under the shared budget
    /// every sidecar is killed then (at least `min_stop_timeout` after its signal).
    deadline: Time,
    /// The grace the budget was made of (shortened by a later, shorter stop): each ECI exit
    /// stage gets this much from its stop signal.
    grace: Duration,
    /// When the apps (and running regular init containers) are killed under the shared
    /// budget: `deadline` less the sidecars' reserve (`io.podinit.sidecar-grace-reserve`).
    apps_deadline: Time,
    /// ECI exit priorities are declared: containers stop in stages, each with the whole grace.
    staged: bool,
    /// Grace at or below `Config::force_grace`: no preStop, no ordering.
    forced: bool,
}

impl TeardownCause {
    /// The pod's `reason` in the status while it ends so.
    pub fn reason(self) -> &'static str {
        match self {
            TeardownCause::JobComplete => "JobComplete",
            TeardownCause::InitFailed => "InitContainerFailed",
            TeardownCause::Deleted => "Deleted",
            TeardownCause::DeadlineExceeded => "DeadlineExceeded",
            TeardownCause::StartTimeout => "StartTimeout",
        }
    }
}

/// What [`Engine::check_registration`] says about a registration it would take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// A container the pod has not seen, or a new incarnation of one that is gone.
    New,
    /// The same container id again (a hook that ran twice): nothing changes.
    Again,
}

/// What a registration says of its pod's declaration ([`Engine::check_registration`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declares<'a> {
    /// The digest of the declaration it was made with; `None` in journals of older supervisors.
    pub digest: Option<&'a str>,
    /// The declaration itself comes with it.
    pub brought: bool,
}

/// Why the engine would not take a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The pod has a live container of that name under another id.
    StillAlive {
        name: String,
        id: String,
        existing: String,
    },
    /// The registration names a declaration other than the one the pod has.
    OtherDeclaration {
        name: String,
        id: String,
        theirs: String,
        ours: String,
        /// The container whose registration brought the pod's declaration.
        by: String,
    },
    /// The registration names its declaration by digest, and the pod has none yet: the
    /// registrant must send it.
    NoDeclaration { name: String, id: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::StillAlive { name, id, existing } => write!(
                f,
                "container {name:?} ({id}) cannot join the pod: its container {existing} of that \
                 name is still alive; delete {existing} first, or give a different pod its own \
                 sandbox id or io.podinit.pod annotation"
            ),
            Refusal::OtherDeclaration {
                name,
                id,
                theirs,
                ours,
                by,
            } => write!(
                f,
                "container {name:?} ({id}) cannot join the pod: its pod declaration ({theirs}) is \
                 not the one the pod's container {by:?} brought ({ours}); every container of a \
                 pod must carry the same io.podinit.pod-spec (or io.podinit.pod-containers) \
                 annotation: recreate the pod with one declaration, or give this container a \
                 pod of its own (io.podinit.pod)"
            ),
            Refusal::NoDeclaration { name, id } => write!(
                f,
                "container {name:?} ({id}): the pod's declaration is not known yet; send it \
                 with the registration (`pod_spec` or `pod`)"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// The longest grace budget a stop can ask for (the plan's own bound on seconds): a client's
/// `stop --grace 18446744073709551615` must not overflow the clock (issue 15 finding 7).
pub const MAX_GRACE: Duration = Duration::from_secs(crate::plan::MAX_SECONDS as u64);

/// The exit code the runtime sees for a container that ends without ever starting its process
/// (still held at the gate when the pod ended). Sidecars report 0 like any stopped sidecar.
pub const NEVER_STARTED_EXIT_CODE: i32 = 1;

/// Cloned by the sequence fuzz, to try a timeout on a copy without disturbing the run.
#[derive(Clone)]
pub struct Engine {
    cfg: Config,
    containers: Vec<Container>,
    /// Some container declared the whole pod (pod spec or name list).
    pod_declared: bool,
    /// The digest of the pod's declaration and the container whose registration brought it:
    /// every later registration names the same (`Declares`).
    declaration: Option<(String, String)>,
    last_registration: Option<Time>,
    /// The latest time the driver gave us: timers at or before it have been handled.
    now: Time,
    teardown: Option<Teardown>,
    init_failed: bool,
    /// When the pod's first container registered: `activeDeadlineSeconds` counts from here
    /// (the kubelet counts from the pod's start time).
    started: Option<Time>,
    finished: bool,
    timeline: VecDeque<TimelineEntry>,
    /// `conditions.rs`, in `CONDITION_TYPES` order once the first event was handled.
    conditions: Vec<PodCondition>,
    /// Which container's start-wait deadline failed the pod, and what held it.
    start_timeout_failure: Option<String>,
    dirty: bool,
}

impl Engine {
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            containers: Vec::new(),
            pod_declared: false,
            declaration: None,
            last_registration: None,
            now: Time::ZERO,
            teardown: None,
            init_failed: false,
            started: None,
            finished: false,
            timeline: VecDeque::new(),
            conditions: Vec::new(),
            start_timeout_failure: None,
            dirty: false,
        }
    }

    #[must_use = "the driver must carry out every action, in order"]
    pub fn handle_event(&mut self, now: Time, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        self.now = self.now.max(now);
        match event {
            Event::Registered {
                id,
                plan,
                pod,
                pod_digest,
            } => self.on_registered(now, id, *plan, pod, pod_digest),
            Event::ProcessStarted { name } => self.on_process_started(now, &name, &mut out),
            Event::HandlerDone { name, handler, ok } => {
                self.on_handler_done(now, &name, handler, ok, &mut out)
            }
            Event::ProbeResult { name, probe, ok } => {
                self.on_probe(now, &name, probe, ok, &mut out)
            }
            Event::ProcessExited {
                name,
                status,
                details,
            } => {
                self.on_exited(now, &name, status, details, &mut out);
                if self
                    .find(&name)
                    .is_some_and(|i| self.containers[i].is_sidecar())
                {
                    self.on_sidecar_lost(now, &name, &mut out);
                }
            }
            Event::Gone { name } => self.on_gone(now, &name),
            Event::StopRequested { grace } => self.on_stop_requested(now, grace),
            Event::AgentStop { name, signal } => self.on_agent_stop(now, &name, signal, &mut out),
            Event::RestartRequested { name } => self.on_restart_requested(now, &name, &mut out),
            Event::SignalRequested { name, signal } => {
                self.on_signal_requested(now, &name, signal, &mut out)
            }
        }
        self.reconcile(now, &mut out);
        out
    }

    /// One journalled input replayed into a fresh engine: the timers that fell due before it
    /// fire first, at their own deadlines, so the state matches the live engine's (which
    /// handled them when they came). The loop ends because every handled timeout leaves the
    /// next deadline ahead of it (issue 15 finding 1).
    pub fn replay(&mut self, t: Time, event: Event) {
        // The actions were carried out when the inputs first came (that is what the journal
        // records): a replay only rebuilds the state.
        while let Some(due) = self.poll_timeout().filter(|d| *d <= t) {
            let _ = self.handle_timeout(due);
        }
        let _ = self.handle_event(t, event);
    }

    #[must_use = "the driver must carry out every action, in order"]
    pub fn handle_timeout(&mut self, now: Time) -> Vec<Action> {
        let mut out = Vec::new();
        self.now = self.now.max(now);
        self.fire_due(now, &mut out);
        self.reconcile(now, &mut out);
        out
    }

    /// When the engine next needs [`Engine::handle_timeout`], if ever: the earliest deadline of
    /// the timer table (`timers.rs`). Nothing pending = `None`: an idle pod causes no wake-ups.
    #[must_use = "the driver must call handle_timeout at this time"]
    pub fn poll_timeout(&self) -> Option<Time> {
        self.deadlines().map(|(t, _)| t).min()
    }

    /// The plan the engine holds for a container (what its init needs to run it).
    pub fn plan(&self, name: &str) -> Option<ContainerPlan> {
        self.find(name)
            .and_then(|i| self.containers[i].plan.clone())
    }

    /// The container's init reported a process of it: that init speaks the protocol (a
    /// driver can expect it to reconnect rather than signal it directly).
    pub fn has_reported(&self, name: &str) -> bool {
        self.find(name).is_some_and(|i| self.containers[i].ran)
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    pub fn phase(&self) -> Phase {
        if self.finished || self.teardown.is_some() && self.all_terminated() {
            return self.final_phase();
        }
        let app_started = self
            .containers
            .iter()
            .any(|c| c.kind() == Some(Kind::App) && c.gate_released);
        if app_started {
            Phase::Running
        } else {
            Phase::Pending
        }
    }

    pub fn status(&self) -> PodStatus {
        PodStatus {
            timeline: self.timeline.clone(),
            ..self.status_head()
        }
    }

    /// The status without its timeline (empty), for a driver that reads the timeline in place
    /// ([`Engine::timeline`]) rather than copy up to `TIMELINE_MAX` entries at every write.
    pub fn status_head(&self) -> PodStatus {
        let (reason, message) = match &self.teardown {
            None => (String::new(), String::new()),
            Some(td) => {
                let reason = td.cause.reason();
                let budget = td.deadline.saturating_sub(td.started).as_secs();
                let budget = format!("teardown with a grace budget of {budget}s");
                let message = match &self.start_timeout_failure {
                    Some(why) => format!("{why}; {budget}"),
                    None => budget,
                };
                (reason.to_owned(), message)
            }
        };
        PodStatus {
            phase: self.phase(),
            reason,
            message,
            containers: self.containers.iter().map(Container::status).collect(),
            conditions: self.conditions.clone(),
            timeline: VecDeque::new(),
        }
    }

    pub fn timeline(&self) -> &VecDeque<TimelineEntry> {
        &self.timeline
    }

    /// One container's status, without building the pod's.
    pub fn container_status(&self, name: &str) -> Option<ContainerStatus> {
        self.find(name).map(|i| self.containers[i].status())
    }

    fn note(
        &mut self,
        now: Time,
        container: Option<&str>,
        kind: NoteKind,
        event: impl Into<String>,
    ) {
        if self.timeline.len() == TIMELINE_MAX {
            self.timeline.pop_front();
        }
        self.timeline.push_back(TimelineEntry {
            at: now,
            container: container.map(str::to_owned),
            kind,
            event: event.into(),
        });
        self.dirty = true;
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.containers.iter().position(|c| c.name == name)
    }

    /// The container an event is about, if it is registered; otherwise the event is recorded and
    /// dropped (a stale or forged report must not disturb the pod).
    fn registered(&mut self, now: Time, name: &str, what: &str) -> Option<usize> {
        match self.find(name) {
            Some(i) if self.containers[i].id.is_some() => Some(i),
            _ => {
                self.note(
                    now,
                    Some(name),
                    NoteKind::Ignored,
                    format!("ignored {what}: no such registered container"),
                );
                None
            }
        }
    }

    /// When the pod's `activeDeadlineSeconds` runs out, if it declares one.
    fn active_deadline(&self) -> Option<Time> {
        let secs = self
            .containers
            .iter()
            .filter_map(|c| c.plan.as_ref().and_then(|p| p.active_deadline_seconds))
            .min()?;
        Some(self.started? + Duration::from_secs(secs))
    }

    fn grace(&self) -> Duration {
        self.containers
            .iter()
            .filter_map(|c| c.plan.as_ref().and_then(|p| p.grace_seconds))
            .max()
            .map_or(self.cfg.default_grace, Duration::from_secs)
    }

    fn all_terminated(&self) -> bool {
        self.containers
            .iter()
            .filter(|c| c.id.is_some())
            .all(|c| c.state() == ContainerState::Terminated)
    }

    /// Pod phase from app containers only (kubelet `getPhase`; sidecar codes never count).
    fn final_phase(&self) -> Phase {
        let deadline = self.teardown.as_ref().is_some_and(|t| {
            matches!(
                t.cause,
                TeardownCause::DeadlineExceeded | TeardownCause::StartTimeout
            )
        });
        if self.init_failed || deadline {
            return Phase::Failed;
        }
        let apps: Vec<&Container> = self
            .containers
            .iter()
            .filter(|c| c.kind() == Some(Kind::App))
            .collect();
        if !apps.is_empty() && apps.iter().all(|c| c.ran && c.exit_code == Some(0)) {
            Phase::Succeeded
        } else {
            Phase::Failed
        }
    }

    /// Everything that follows from the current state: gates to open, restarts that are due,
    /// teardown progress, the end of the pod. Runs after every event and timeout.
    fn reconcile(&mut self, now: Time, out: &mut Vec<Action>) {
        if self.teardown.is_none() {
            self.fire_restarts(now, out);
            self.open_gates(now, out);
            self.refresh_gate_messages(now);
            self.advance_solo_stops(now, out);
            self.check_job_complete(now);
        }
        if self.teardown.is_some() {
            self.advance_teardown(now, out);
        }
        self.update_conditions(now);
        if self.dirty {
            self.dirty = false;
            out.push(Action::StatusChanged);
        }
    }
}
