//! One container as the engine tracks it.

use super::status::{ContainerState, ContainerStatus, Reason};
use super::{Backoff, ExitDetails, ExitStatus, TerminationReason, Time};
use crate::plan::{ContainerPlan, GateOn, Kind, StartSlot};
use crate::signal::Signal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreStop {
    #[default]
    NotRun,
    Running,
    Done,
}

/// Where a container is in its life. Each state carries what only it has: leaving a state drops
/// its data (an exit drops the run's probes, handlers and stop), nothing is cleared by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Life {
    /// Declared by a sibling's pod spec or name list, not created yet.
    Expected,
    /// Created, its process held at the start gate.
    Held(Held),
    /// Gate released (or restarted): the process runs or is being started.
    Running(Run),
    /// Exited; a restart comes.
    BackOff(BackOff),
    /// Done for good (or ended without ever starting).
    Terminated,
}

impl Life {
    /// The state as the status reports it.
    pub fn state(&self) -> ContainerState {
        match self {
            Life::Expected => ContainerState::Expected,
            Life::Held(_) => ContainerState::Waiting,
            Life::Running(_) => ContainerState::Running,
            Life::BackOff(_) => ContainerState::BackOff,
            Life::Terminated => ContainerState::Terminated,
        }
    }
}

/// A container held at its start gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// When its gate began to hold it (its registration): the start-wait deadline counts from
    /// here (`start_wait.rs`).
    pub since: Time,
    /// Its start-wait deadline passed (the outcome was applied once).
    pub start_wait_passed: bool,
    /// `on-start-timeout: start`: its gate opens whatever holds it.
    pub gate_forced: bool,
}

impl Held {
    pub fn since(now: Time) -> Self {
        Self {
            since: now,
            start_wait_passed: false,
            gate_forced: false,
        }
    }
}

/// One run of the container's process, from its gate release (or restart) to its exit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Run {
    /// Its process was reported started (before that, the start is under way).
    pub process: bool,
    /// Its postStart finished (or it has none). Only with `process`.
    pub post_start_done: bool,
    /// Its startup probe succeeded.
    pub startup_ok: bool,
    /// Running, postStart done, startup probe passed (KEP-753 "started").
    pub started: bool,
    /// Only while `started`.
    pub ready: bool,
    /// Its probes were started and not stopped.
    pub probing: bool,
    /// It was told the pod's teardown ([`super::Action::Teardown`]) at its first step.
    pub told_teardown: bool,
    pub pre_stop: PreStop,
    /// Being stopped alone: preStop first, then the signal (`solo_stop.rs`).
    pub solo_stop: Option<SoloStop>,
    /// Its stop signal went out (alone or in teardown).
    pub signaled: Option<Signaled>,
}

impl Run {
    /// A stop of it is under way (decided, or signalled).
    pub fn stopping(&self) -> bool {
        self.signaled.is_some() || self.solo_stop.is_some()
    }

    /// What the exit of this run leads to when podinit stopped it for a restart.
    pub fn restart_after_stop(&self) -> Option<RestartAfter> {
        self.solo_stop.and_then(|s| s.restart)
    }
}

/// The stop signal was sent; SIGKILL follows at `kill_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signaled {
    pub at: Time,
    pub kill_at: Time,
    /// SIGKILL was sent.
    pub killed: bool,
}

/// A stop of this container alone, outside teardown (`solo_stop.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoloStop {
    /// SIGKILL no earlier than this (the grace from the stop's decision).
    pub deadline: Time,
    pub signal: Signal,
    /// Podinit stops it to restart it; `None` for the runtime's stop (`agent_stop.rs`).
    pub restart: Option<RestartAfter>,
}

/// How the exit of a container podinit stopped for a restart restarts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartAfter {
    /// A failed probe or postStart: the restart policy decides, without its rules (the exit
    /// code is the kill's, not the app's; k/k computePodActions).
    Policy,
    /// `podinit restart`, or a sidecar it needs was lost (`regate.rs`): at once, whatever its
    /// policy, and not counted as a crash.
    AtOnce,
}

/// Exited, waiting to start again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackOff {
    pub restart: RestartDue,
    /// The SIGKILL deadline of the stop under way when the process exited: what is left of it
    /// goes to the processes left in the container if it ends from here.
    pub exit_kill_at: Option<Time>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartDue {
    /// At this time (the backoff delay).
    At(Time),
    /// Due, but it waits for the sidecars it needs (`regate.rs`): no timer, their events bring
    /// it back.
    HeldForSidecars,
}

/// A stop signal the runtime sent this container (see `agent_stop.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentStop {
    pub at: Time,
    pub signal: Signal,
    /// Decided: the container stops by itself, not as part of a pod deletion.
    pub alone: bool,
}

#[derive(Debug, Clone)]
pub struct Container {
    pub name: String,
    /// Set once the container registered (its bundle was created).
    pub id: Option<String>,
    /// `None` for a container known only by name (`io.podinit.pod-containers`).
    pub plan: Option<ContainerPlan>,
    pub life: Life,
    /// The gate was released once; restarts do not wait at the gate again.
    pub gate_released: bool,
    /// The container reached its gate condition once ([`GateOn`]): containers behind it in the
    /// start sequence may go. Sticky, as in Kubernetes (a sidecar restarting later does not
    /// hold back containers that already started).
    pub passed: bool,
    /// Its process ran at least once.
    pub ran: bool,
    pub restart_count: u32,
    pub backoff: Backoff,
    pub last_exit: Option<ExitStatus>,
    /// What the init saw at the last exit (OOM kill, termination message).
    pub last_details: ExitDetails,
    /// The last run's `terminated.reason` (for `lastState` once the container runs again).
    pub last_reason: Option<TerminationReason>,
    pub exit_code: Option<i32>,
    pub reason: Reason,
    pub message: String,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    /// The runtime stopped it: it never restarts in place (a new incarnation is a new create).
    pub agent_stop: Option<AgentStop>,
    /// Its first start returned: the process started and its postStart (if any) finished or
    /// failed, or it ended. Containers declared after it in the same start slot wait for this,
    /// as the kubelet starts regular containers one by one, each after the last one's postStart.
    pub start_returned: bool,
    pub gone: bool,
    /// Startup probe failures the prober reported (each is failureThreshold checks in a row).
    pub startup_failures: u32,
}

impl Container {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            id: None,
            plan: None,
            life: Life::Expected,
            gate_released: false,
            passed: false,
            ran: false,
            restart_count: 0,
            backoff: Backoff::default(),
            last_exit: None,
            last_details: ExitDetails::default(),
            last_reason: None,
            exit_code: None,
            reason: Reason::None,
            message: String::new(),
            started_at: None,
            finished_at: None,
            agent_stop: None,
            start_returned: false,
            gone: false,
            startup_failures: 0,
        }
    }

    pub fn state(&self) -> ContainerState {
        self.life.state()
    }

    pub fn run(&self) -> Option<&Run> {
        match &self.life {
            Life::Running(r) => Some(r),
            _ => None,
        }
    }

    pub fn run_mut(&mut self) -> Option<&mut Run> {
        match &mut self.life {
            Life::Running(r) => Some(r),
            _ => None,
        }
    }

    pub fn held(&self) -> Option<&Held> {
        match &self.life {
            Life::Held(h) => Some(h),
            _ => None,
        }
    }

    /// Its process runs (reported started, not exited).
    pub fn process_running(&self) -> bool {
        self.run().is_some_and(|r| r.process)
    }

    pub fn started(&self) -> bool {
        self.run().is_some_and(|r| r.started)
    }

    pub fn ready(&self) -> bool {
        self.run().is_some_and(|r| r.ready)
    }

    /// `on-start-timeout: start` opened its gate.
    pub fn gate_forced(&self) -> bool {
        self.held().is_some_and(|h| h.gate_forced)
    }

    pub fn kind(&self) -> Option<Kind> {
        self.plan.as_ref().map(|p| p.kind)
    }

    pub fn slot(&self) -> Option<StartSlot> {
        self.plan.as_ref().map(|p| p.start)
    }

    pub fn is_sidecar(&self) -> bool {
        self.kind() == Some(Kind::Sidecar)
    }

    /// Recompute `started`/`ready`/`passed` from what has been observed.
    pub fn refresh_started(&mut self) -> bool {
        let Some(plan) = &self.plan else { return false };
        let Life::Running(run) = &mut self.life else {
            return false;
        };
        let was = (run.started, self.passed);
        run.started =
            run.process && run.post_start_done && (plan.startup_probe.is_none() || run.startup_ok);
        if !run.started {
            run.ready = false;
        }
        let reached = match plan.gate_on {
            GateOn::ExitZero => false, // set on exit 0
            GateOn::Started => run.started,
            GateOn::Ready => run.started && run.ready,
        };
        self.passed |= reached;
        was != (run.started, self.passed)
    }

    /// The code the runtime and the status report for an exit with `raw`.
    pub fn reported_code(&self, raw: i32, in_teardown: bool) -> i32 {
        let Some(plan) = &self.plan else { return raw };
        if plan.ignore_exit_code || (in_teardown && plan.kind == Kind::Sidecar) {
            0
        } else {
            raw
        }
    }

    pub fn status(&self) -> ContainerStatus {
        ContainerStatus {
            name: self.name.clone(),
            id: self.id.clone(),
            kind: self.kind(),
            state: self.state(),
            started: self.started(),
            ready: self.ready(),
            restart_count: self.restart_count,
            exit_code: self.exit_code,
            raw_exit_code: self.last_exit.map(ExitStatus::raw_code),
            signal: match self.last_exit {
                Some(ExitStatus::Signal(s)) => Some(s),
                _ => None,
            },
            init_container: matches!(self.slot(), Some(StartSlot::Init { .. })),
            reason: self.reason,
            message: self.message.clone(),
            last_reason: self.last_reason,
            last_message: self.last_details.message.clone(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            gone: self.gone,
        }
    }
}
