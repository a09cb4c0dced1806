//! The pod status the engine keeps: what `podinit status` and `status.json` show. Times are engine
//! times (the driver's monotonic clock); the driver maps them to wall-clock when it writes.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::TerminationReason;
use crate::plan::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Phase {
    /// The API's token, as the document has it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ContainerState {
    /// Declared by a sibling's pod spec or name list, not created yet.
    Expected,
    /// Created, its process held at the start gate.
    Waiting,
    /// Gate released: the process runs (or is being started).
    Running,
    /// Exited; a restart is scheduled.
    BackOff,
    /// Exited for good (or ended without ever starting).
    Terminated,
}

impl ContainerState {
    /// The word the document has (`backOff`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Expected => "expected",
            ContainerState::Waiting => "waiting",
            ContainerState::Running => "running",
            ContainerState::BackOff => "backOff",
            ContainerState::Terminated => "terminated",
        }
    }
}

/// Why a container is in its state, as `status.json` words it: the kubelet's tokens where it has
/// one (`Running`, `CrashLoopBackOff`, `Completed`, `Error`, `OOMKilled`), podinit's own where
/// the kubelet has none (a container held at podinit's start gate). Serialized as the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reason {
    /// Not created yet: no reason (the empty string).
    #[default]
    None,
    /// Created, held at the start gate.
    HeldAtGate,
    /// Its gate opened: the process is being started.
    Starting,
    Running,
    /// Its restart is due now (no backoff delay), or was asked for.
    Restarting,
    /// Its restart waits out a backoff delay.
    CrashLoopBackOff,
    /// Its restart is due and waits for the sidecars it needs (`regate.rs`).
    WaitingForSidecar,
    /// It ended for good: how its last run ended.
    Terminated(TerminationReason),
    /// Declared, and the pod ended before it was created.
    NeverCreated,
    /// The pod ended while it was held at its start gate.
    NeverStarted,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::None => "",
            Reason::HeldAtGate => "Waiting at the start gate",
            Reason::Starting => "Starting",
            Reason::Running => "Running",
            Reason::Restarting => "Restarting",
            Reason::CrashLoopBackOff => "CrashLoopBackOff",
            Reason::WaitingForSidecar => "WaitingForSidecar",
            Reason::Terminated(t) => t.as_str(),
            Reason::NeverCreated => "NeverCreated",
            Reason::NeverStarted => "NeverStarted",
        }
    }
}

impl From<TerminationReason> for Reason {
    fn from(t: TerminationReason) -> Self {
        Reason::Terminated(t)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Tests and callers compare with the token.
impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: String,
    pub id: Option<String>,
    pub kind: Option<Kind>,
    pub state: ContainerState,
    pub started: bool,
    pub ready: bool,
    pub restart_count: u32,
    /// The code reported for the container (0 for a sidecar stopped in teardown, or with
    /// `ECI_CONTAINER_IGNORE_EXIT_CODE`).
    pub exit_code: Option<i32>,
    /// What the process really ended with (128+signal for a signal death).
    pub raw_exit_code: Option<i32>,
    /// The signal that killed the process, when a signal did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// An `initContainers` entry (regular init container or native sidecar): Kubernetes
    /// reports it under `initContainerStatuses`.
    pub init_container: bool,
    pub reason: Reason,
    pub message: String,
    /// How the last run ended (`OOMKilled`, `Error`, `Completed`, `Stopped`): the kubelet's
    /// `lastState.terminated.reason` while the container runs again or waits to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reason: Option<super::TerminationReason>,
    /// The last run's termination message (`terminationMessagePath`, or the output's tail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message: Option<String>,
    #[serde(serialize_with = "ser_ms")]
    pub started_at: Option<Duration>,
    #[serde(serialize_with = "ser_ms")]
    pub finished_at: Option<Duration>,
    /// The container's init process is gone (the driver saw it end).
    pub gone: bool,
}

/// What a timeline entry records, for whoever reads the timeline by machine (the tests, a
/// dashboard): its `kind` in the JSON. `event` keeps the words for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NoteKind {
    /// An input about a container the engine does not take (unregistered, not expected now,
    /// refused operation): recorded and dropped.
    Ignored,
    Registered,
    /// A registration the engine would not take (`Refusal`).
    RegistrationRefused,
    GateReleased,
    ProcessStarted,
    /// Running, postStart done, startup probe passed.
    Started,
    /// Became ready or unready.
    ReadinessChanged,
    PostStartFailed,
    StartupProbeFailed,
    LivenessProbeFailed,
    PreStopStarted,
    /// A preStop returned (done or failed).
    PreStopEnded,
    /// Its process ended (code or signal, OOM kill).
    Exited,
    /// A restartPolicyRules entry decided the exit.
    RestartRuleMatched,
    /// A restart was scheduled (with its delay).
    RestartScheduled,
    /// A due restart waits for the sidecars the container needs.
    RestartHeld,
    Restarting,
    /// `podinit restart`.
    RestartRequested,
    /// `podinit signal`.
    SignalRequested,
    /// A sidecar an app needs was lost: the app is stopped until it is back.
    SidecarLost,
    /// A stop signal from podinit (alone or in teardown), with when SIGKILL follows.
    StopSignal,
    /// SIGKILL at the end of the grace.
    Killed,
    /// A stop signal from the runtime.
    RuntimeStop,
    /// The runtime stopped every container: the pod is being deleted.
    PodDeletedByRuntime,
    /// A sidecar stopped by the runtime, whose pod did not follow, stops alone.
    StoppingAlone,
    /// A start-wait deadline passed, with its outcome.
    StartWaitTimeout,
    TeardownStarted,
    /// A second stop shortened the grace budget.
    GraceShortened,
    /// A container held at its gate when the pod ended.
    EndedWithoutStarting,
    /// Its init is gone.
    Gone,
    PodFinished,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    #[serde(serialize_with = "ser_ms_plain")]
    pub at: Duration,
    pub container: Option<String>,
    pub kind: NoteKind,
    pub event: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub phase: Phase,
    pub reason: String,
    pub message: String,
    pub containers: Vec<ContainerStatus>,
    /// `conditions.rs`: the kubelet's four pod conditions with their last transition times.
    pub conditions: Vec<super::PodCondition>,
    pub timeline: VecDeque<TimelineEntry>,
}

/// Enough to follow a pod's story; older entries are dropped so memory stays bounded.
pub const TIMELINE_MAX: usize = 1000;

fn ser_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&(d.as_millis() as u64)),
        None => s.serialize_none(),
    }
}

fn ser_ms_plain<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}
