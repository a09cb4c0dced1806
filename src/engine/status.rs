//! The pod status the engine keeps: what `podinit status` and `status.json` show. Times are engine
//! times (the driver's monotonic clock); the driver maps them to wall-clock when it writes.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    pub reason: String,
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

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    #[serde(serialize_with = "ser_ms_plain")]
    pub at: Duration,
    pub container: Option<String>,
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
