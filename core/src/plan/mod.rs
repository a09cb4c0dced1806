//! The pod plan: what each container is (init / sidecar / app), what gates its start, how it
//! restarts, how it stops and how its exit code is reported — derived from every declaration
//! dialect of SPEC section 2. Pure data and parsing: no syscalls, no I/O beyond what the caller
//! hands in.
//!
//! Precedence (highest first), shown by `podinit explain`:
//! 1. per-container `io.podinit.*` annotations (the agent's explicit word),
//! 2. the pod spec annotation `io.podinit.pod-spec` (structure: initContainers / restartPolicy,
//!    probes, lifecycle, grace),
//! 3. env dialects (`__IS_SIDECAR__`, `ECI_*`, `KRUISE_*`), read from `process.env` first and the
//!    spec's `env` second (process.env is what the container really runs with),
//! 4. Kubernetes defaults.
//!
//! Env dialects only refine *regular* containers: an `initContainers` entry stays an init container
//! (or native sidecar) whatever its env says, as in Kubernetes.

mod build;
mod decide;
pub mod declaration;
mod dialect;
mod error;
pub mod k8s;
mod pod_key;
mod pod_level;
mod probe;
mod regate;
pub mod restart;
mod sidecar_reserve;
mod source;
pub mod start_wait;
mod stop_signal;
#[cfg(test)]
mod tests;
mod values;

use serde::{Deserialize, Serialize};

use crate::signal::Signal;

pub use build::{
    BundleInput, Classified, Ignored, classify_bundle, plans_from_pod_spec, sandbox_marker,
};
pub use error::{PlanError, PlanErrorKind};
pub use pod_key::{
    DEFAULT_POD_KEY, MAX_POD_KEY_LEN, POD_KEY_ANNOTATIONS, PodIdentity, PodKey, PodKeyError,
    identify,
};
pub use probe::{Handler, HttpGet, ProbeAction, ProbeError, ProbeSpec};
/// The Kubernetes `Probe` / `LifecycleHandler` parsers on their own, for the fuzz targets
/// (`fuzz/`); the product reaches them through the pod spec.
#[doc(hidden)]
pub use probe::{handler_from_k8s, probe_from_k8s};
pub use regate::{NeedsSidecars, SidecarLoss};
pub use source::{Source, Sources};
pub use values::MAX_SECONDS;

/// Annotation and env names podinit understands, in one place so docs, explain and tests agree.
pub mod keys {
    pub const POD_SPEC: &str = "io.podinit.pod-spec";
    pub const POD_CONTAINERS: &str = "io.podinit.pod-containers";
    pub const CONTAINER_NAME: &str = "io.podinit.container-name";
    pub const CRI_CONTAINER_NAME: &str = "io.kubernetes.cri.container-name";
    pub const CRIO_CONTAINER_NAME: &str = "io.kubernetes.cri-o.ContainerName";
    /// The kubelet's container label; CRI-O copies it into every container's annotations.
    pub const KUBE_CONTAINER_NAME: &str = "io.kubernetes.container.name";
    pub const CRI_CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";
    pub const CRIO_CONTAINER_TYPE: &str = "io.kubernetes.cri-o.ContainerType";
    /// The pod a container belongs to (see `pod_key.rs`): containerd, CRI-O, then podinit's own.
    pub const CRI_SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";
    pub const CRIO_SANDBOX_ID: &str = "io.kubernetes.cri-o.SandboxID";
    pub const POD: &str = "io.podinit.pod";
    pub const KIND: &str = "io.podinit.kind";
    pub const INDEX: &str = "io.podinit.index";
    pub const STARTUP_PROBE: &str = "io.podinit.startup-probe";
    pub const READINESS_PROBE: &str = "io.podinit.readiness-probe";
    pub const LIVENESS_PROBE: &str = "io.podinit.liveness-probe";
    pub const POST_START: &str = "io.podinit.post-start";
    pub const PRE_STOP: &str = "io.podinit.pre-stop";
    pub const RESTART_POLICY: &str = "io.podinit.restart-policy";
    pub const STOP_SIGNAL: &str = "io.podinit.stop-signal";
    pub const GRACE: &str = "io.kubernetes.pod.terminationGracePeriod";
    pub const SIDECAR_GRACE_RESERVE: &str = "io.podinit.sidecar-grace-reserve";
    pub const NEEDS_SIDECARS: &str = "io.podinit.needs-sidecars";
    pub const LOG_LEVEL: &str = "io.podinit.log-level";
    /// The start-wait deadline (`start_wait.rs`): on the container, or in the Pod's
    /// `metadata.annotations` for every container.
    pub const START_TIMEOUT: &str = "io.podinit.start-timeout";
    pub const ON_START_TIMEOUT: &str = "io.podinit.on-start-timeout";

    pub const ENV_IS_SIDECAR: &str = "__IS_SIDECAR__";
    pub const ENV_ECI_SIDECAR: &str = "ECI_SIDECAR_CONTAINER";
    pub const ENV_ECI_TYPE: &str = "ECI_CONTAINER_TYPE";
    pub const ENV_ECI_IGNORE_EXIT: &str = "ECI_CONTAINER_IGNORE_EXIT_CODE";
    pub const ENV_ECI_LAUNCH: &str = "ECI_CONTAINER_LAUNCH_PRIORITY";
    pub const ENV_ECI_EXIT: &str = "ECI_CONTAINER_EXIT_PRIORITY";
    pub const ENV_KRUISE_SIDECAR: &str = "KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT";
    pub const ENV_KRUISE_PRIORITY: &str = "KRUISE_CONTAINER_PRIORITY";
    /// Volcengine VCI: ECI's launch priority under its own name, for app containers
    /// (https://volcengine.com/docs/6460/1323115).
    pub const ENV_VCI_LAUNCH: &str = "VCI_CONTAINER_LAUNCH_PRIORITY";
    /// Baidu BCI, a pod annotation: the listed containers report success
    /// (https://cloud.baidu.com/doc/BCI/s/Mm7lmxteo).
    pub const BCI_IGNORE_EXIT_CODE: &str = "bci.virtual-kubelet.io/bci-ignore-exit-code-containers";
    pub const ENV_IGNORE_READY: &str = "__IGNORE_READY__";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Init,
    Sidecar,
    App,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Init => "init",
            Kind::Sidecar => "sidecar",
            Kind::App => "app",
        }
    }
}

/// Where a container sits in the start sequence. A container's gate opens once every container
/// with a smaller slot has passed its own gate condition ([`GateOn`]); equal slots start together.
///
/// Init slots (the `initContainers` sequence, native sidecars included) come before every regular
/// slot. Regular slots order by launch priority (higher first, ECI/Kruise), and at equal priority
/// an env-dialect sidecar (`early`) comes before the apps ("starts before the regular containers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "sequence")]
pub enum StartSlot {
    Init { index: u32 },
    Regular { priority: i32, early: bool },
}

impl StartSlot {
    /// A total order key: smaller starts first.
    pub fn key(self) -> (u8, i64, u8) {
        match self {
            StartSlot::Init { index } => (0, i64::from(index), 0),
            StartSlot::Regular { priority, early } => (1, -i64::from(priority), u8::from(!early)),
        }
    }
}

/// What a container must reach before the containers behind it in the start sequence may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GateOn {
    /// Regular init container: exited with code 0 (KEP-753, kubelet `computeInitContainerActions`).
    ExitZero,
    /// Process running, postStart done, startupProbe succeeded if any (kubelet `isContainerStarted`).
    Started,
    /// Started, and readinessProbe succeeded (ECI launch-priority semantics, env-dialect sidecars).
    Ready,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Always" => Some(Self::Always),
            "OnFailure" => Some(Self::OnFailure),
            "Never" => Some(Self::Never),
            _ => None,
        }
    }
}

/// Where the app leaves its termination message, and what stands in for an empty one
/// (`terminationMessagePath`, `terminationMessagePolicy`; the API's defaults
/// `/dev/termination-log` and `File`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminationMessage {
    pub path: String,
    /// `FallbackToLogsOnError`: a failed run with an empty file reports its output's tail.
    pub fallback_to_logs: bool,
}

pub const DEFAULT_TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";

impl Default for TerminationMessage {
    fn default() -> Self {
        Self {
            path: DEFAULT_TERMINATION_MESSAGE_PATH.to_owned(),
            fallback_to_logs: false,
        }
    }
}

impl TerminationMessage {
    /// The API's token for the policy.
    pub fn policy(&self) -> &'static str {
        if self.fallback_to_logs {
            "FallbackToLogsOnError"
        } else {
            "File"
        }
    }
}

/// Everything podinit needs to know about one container, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPlan {
    pub name: String,
    pub kind: Kind,
    /// Which declaration decided the kind (e.g. `env __IS_SIDECAR__=true`).
    pub reason: String,
    pub start: StartSlot,
    pub gate_on: GateOn,
    /// Effective restart policy of this container (sidecars: `Always`; regular init containers
    /// restart only after a failure, and not under `Never`).
    pub restart: RestartPolicy,
    /// KEP-5307 `restartPolicyRules`, in order: the first whose exit codes match restarts the
    /// container, whatever `restart` says (`restart.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_rules: Vec<restart::RestartRule>,
    /// How long the start gate may hold it, and what then (`start_wait.rs`); `None`: as long
    /// as it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timeout: Option<start_wait::StartTimeout>,
    /// ECI `ECI_CONTAINER_EXIT_PRIORITY`: higher stops first among sidecars; equal stop together.
    pub exit_priority: Option<i32>,
    /// ECI `ECI_CONTAINER_IGNORE_EXIT_CODE`: report 0 whatever the code (the raw one is kept).
    pub ignore_exit_code: bool,
    /// ACS `__IGNORE_READY__`: not counted for pod readiness.
    pub counts_for_ready: bool,
    pub startup_probe: Option<ProbeSpec>,
    pub readiness_probe: Option<ProbeSpec>,
    pub liveness_probe: Option<ProbeSpec>,
    pub post_start: Option<Handler>,
    pub pre_stop: Option<Handler>,
    #[serde(with = "stop_signal")]
    pub stop_signal: Signal,
    /// The pod's `terminationGracePeriodSeconds`, where this container's declarations give it.
    pub grace_seconds: Option<u64>,
    /// `io.podinit.sidecar-grace-reserve`: the part of the grace budget kept for the sidecars at
    /// teardown (the apps are killed that much earlier). Not with ECI exit priorities, whose
    /// stages each get the whole grace (`engine/teardown.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_reserve_seconds: Option<u64>,
    /// `io.podinit.needs-sidecars`: the sidecars this app needs for its whole life, and what a
    /// loss of one does to it (`plan/regate.rs`, `engine/regate.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_sidecars: Option<NeedsSidecars>,
    /// The pod's `activeDeadlineSeconds`: how long the pod may run, from its first container's
    /// registration, before it is failed with `DeadlineExceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<u64>,
    /// Absent in a plan from an older podinit: the API's defaults.
    #[serde(default)]
    pub termination_message: TerminationMessage,
    /// Where the main decisions came from, as data (`explain --json`); absent in a plan from
    /// an older podinit.
    #[serde(default)]
    pub sources: Sources,
    /// Every other decision, with the declaration it came from, for `podinit explain`.
    pub notes: Vec<String>,
}

/// What a container's declarations say about the rest of the pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "source")]
pub enum PodDeclaration {
    /// From `io.podinit.pod-spec`: the plan of every container of the pod.
    Spec { containers: Vec<ContainerPlan> },
    /// From `io.podinit.pod-containers`: the names only.
    Names { names: Vec<String> },
    /// Nothing: the pod is whatever registers (see the engine's settle rule).
    Unknown,
}
