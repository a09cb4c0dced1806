//! One container as the engine tracks it.

use super::status::{ContainerState, ContainerStatus};
use super::{Backoff, ExitDetails, ExitStatus, TerminationReason, Time};
use crate::plan::{ContainerPlan, GateOn, Kind, StartSlot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreStop {
    NotRun,
    Running,
    Done,
}

/// A stop of this container alone, outside teardown (`solo_stop.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoloStop {
    /// SIGKILL no earlier than this (the grace from the stop's decision).
    pub deadline: Time,
    pub signal: i32,
}

/// A stop signal the runtime sent this container (see `agent_stop.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentStop {
    pub at: Time,
    pub signal: i32,
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
    pub state: ContainerState,
    /// The gate was released once; restarts do not wait at the gate again.
    pub gate_released: bool,
    /// The container reached its gate condition once ([`GateOn`]): containers behind it in the
    /// start sequence may go. Sticky, as in Kubernetes (a sidecar restarting later does not
    /// hold back containers that already started).
    pub passed: bool,
    pub process_running: bool,
    pub post_start_done: bool,
    pub startup_ok: bool,
    pub started: bool,
    pub ready: bool,
    pub probing: bool,
    /// It was told the pod's teardown ([`super::Action::Teardown`]) at its first step.
    pub told_teardown: bool,
    /// Its process ran at least once.
    pub ran: bool,
    pub restart_count: u32,
    pub backoff: Backoff,
    pub restart_at: Option<Time>,
    pub last_exit: Option<ExitStatus>,
    /// What the init saw at the last exit (OOM kill, termination message).
    pub last_details: ExitDetails,
    /// The last run's `terminated.reason` (for `lastState` once the container runs again).
    pub last_reason: Option<TerminationReason>,
    pub exit_code: Option<i32>,
    pub reason: String,
    pub message: String,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    pub pre_stop: PreStop,
    pub signaled_at: Option<Time>,
    pub kill_at: Option<Time>,
    /// The SIGKILL deadline of the stop under way when the process last exited.
    pub exit_kill_at: Option<Time>,
    pub killed: bool,
    /// A stop outside teardown (failed probe or postStart): the exit leads to the restart policy.
    pub stopping_for_restart: bool,
    /// Stopped for `podinit restart`: the exit restarts it at once, whatever its policy.
    pub operator_restart: bool,
    /// Stopped because a sidecar it needs was lost (`regate.rs`): the exit restarts it.
    pub regate_restart: bool,
    /// Its restart is due but waits for the sidecars it needs (`regate.rs`).
    pub held_for_sidecars: bool,
    /// The runtime stopped it: it never restarts in place (a new incarnation is a new create).
    pub agent_stop: Option<AgentStop>,
    /// Being stopped alone: preStop first, then the signal (`solo_stop.rs`).
    pub solo_stop: Option<SoloStop>,
    /// Its first start returned: the process started and its postStart (if any) finished or
    /// failed, or it ended. Containers declared after it in the same start slot wait for this,
    /// as the kubelet starts regular containers one by one, each after the last one's postStart.
    pub start_returned: bool,
    pub gone: bool,
}

impl Container {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            id: None,
            plan: None,
            state: ContainerState::Expected,
            gate_released: false,
            passed: false,
            process_running: false,
            post_start_done: false,
            startup_ok: false,
            started: false,
            ready: false,
            probing: false,
            told_teardown: false,
            ran: false,
            restart_count: 0,
            backoff: Backoff::default(),
            restart_at: None,
            last_exit: None,
            last_details: ExitDetails::default(),
            last_reason: None,
            exit_code: None,
            reason: String::new(),
            message: String::new(),
            started_at: None,
            finished_at: None,
            pre_stop: PreStop::NotRun,
            signaled_at: None,
            kill_at: None,
            exit_kill_at: None,
            killed: false,
            stopping_for_restart: false,
            operator_restart: false,
            regate_restart: false,
            held_for_sidecars: false,
            agent_stop: None,
            solo_stop: None,
            start_returned: false,
            gone: false,
        }
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
        let was = (self.started, self.passed);
        self.started = self.process_running
            && self.post_start_done
            && (plan.startup_probe.is_none() || self.startup_ok);
        if !self.started {
            self.ready = false;
        }
        let reached = match plan.gate_on {
            GateOn::ExitZero => false, // set on exit 0
            GateOn::Started => self.started,
            GateOn::Ready => self.started && self.ready,
        };
        self.passed |= reached;
        was != (self.started, self.passed)
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
            state: self.state,
            started: self.started,
            ready: self.ready,
            restart_count: self.restart_count,
            exit_code: self.exit_code,
            raw_exit_code: self.last_exit.map(ExitStatus::raw_code),
            signal: match self.last_exit {
                Some(ExitStatus::Signal(s)) => Some(s),
                _ => None,
            },
            init_container: matches!(self.slot(), Some(StartSlot::Init { .. })),
            reason: self.reason.clone(),
            message: self.message.clone(),
            last_reason: self.last_reason,
            last_message: self.last_details.message.clone(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            gone: self.gone,
        }
    }
}
