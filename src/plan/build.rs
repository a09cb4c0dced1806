//! From one bundle's `config.json` (as a JSON value, so nothing of the agent's is lost) to its
//! container plan and what it declares about the rest of the pod.

use std::collections::BTreeMap;

use serde_json::Value;

use super::dialect::{self, Env, SidecarStyle};
use super::k8s::{self, PodSpec};
use super::keys::*;
use super::pod_key::{PodIdentity, identify};
use super::probe::{handler_from_k8s, probe_from_k8s};
use super::restart;
use super::values::{check_seconds, parse_int_in, parse_signal};
use super::{
    ContainerPlan, GateOn, Kind, PlanError, PlanErrorKind, PodDeclaration, RestartPolicy, Source,
    StartSlot, StopSignal, TerminationMessage,
};

/// One bundle to classify.
pub struct BundleInput<'a> {
    pub config: &'a Value,
    /// Used when no annotation names the container (the bundle directory or the container id).
    pub fallback_name: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Classified {
    /// The pod's sandbox (pause) container: podinit leaves it alone.
    Ignored { name: String, reason: String },
    Container {
        plan: Box<ContainerPlan>,
        pod: PodDeclaration,
        /// The pod it belongs to (`pod_key.rs`): its supervisor-side engine, journal and status.
        pod_key: PodIdentity,
    },
}

/// Where a container sits in the pod spec.
#[derive(Clone, Copy)]
enum Role {
    Init(usize),
    Regular(usize),
}

struct Declared<'a> {
    name: &'a str,
    annotations: &'a BTreeMap<String, String>,
    process_env: &'a [String],
    spec: Option<(&'a PodSpec, &'a k8s::Container, Role)>,
}

/// The annotation that marks `config` as a pod's sandbox (pause) container, if one does:
/// containerd's `io.kubernetes.cri.container-type=sandbox` or CRI-O's
/// `io.kubernetes.cri-o.ContainerType=sandbox`. Such a bundle is left exactly as it is by
/// `inject`, the runtime front and every hook (issue 9 finding 3: a wrapped pause never ran).
pub fn sandbox_marker(config: &Value) -> Option<&'static str> {
    let annotations = config.get("annotations")?;
    [CRI_CONTAINER_TYPE, CRIO_CONTAINER_TYPE]
        .into_iter()
        .find(|k| annotations.get(*k).and_then(Value::as_str) == Some("sandbox"))
}

pub fn classify_bundle(input: &BundleInput<'_>) -> Result<Classified, PlanError> {
    let fallback = input.fallback_name;
    let invalid = |field: Option<&str>, msg: String| {
        PlanError::new(
            PlanErrorKind::InvalidJson,
            fallback,
            Source::config(field),
            msg,
        )
    };
    if !input.config.is_object() {
        return Err(invalid(None, "the top level is not a JSON object".into()));
    }
    let annotations =
        string_map(input.config.get("annotations")).map_err(|m| invalid(Some("annotations"), m))?;
    let process_env = string_list(input.config.pointer("/process/env"))
        .map_err(|m| invalid(Some("process.env"), m))?;

    let mut notes = Vec::new();
    let name = [
        CONTAINER_NAME,
        CRI_CONTAINER_NAME,
        KUBE_CONTAINER_NAME,
        CRIO_CONTAINER_NAME,
    ]
    .iter()
    .find_map(|k| {
        annotations
            .get(*k)
            .filter(|v| !v.is_empty())
            .map(|v| (v.clone(), *k))
    });
    let name = match name {
        Some((n, key)) => {
            notes.push(format!("name from annotation {key}"));
            n
        }
        None => {
            notes.push(format!(
                "no container-name annotation ({CONTAINER_NAME}, {CRI_CONTAINER_NAME}, {CRIO_CONTAINER_NAME}): named {fallback:?} after the bundle/container id"
            ));
            fallback.to_owned()
        }
    };

    if let Some(key) = sandbox_marker(input.config) {
        return Ok(Classified::Ignored {
            name,
            reason: format!("annotation {key}=sandbox: the pod's pause container is not managed"),
        });
    }

    let pod_key = identify(&annotations, &name)?;

    let spec =
        match annotations.get(POD_SPEC) {
            None => None,
            Some(text) => Some(k8s::parse_pod_spec(text).map_err(|m| {
                PlanError::new(PlanErrorKind::InvalidJson, &name, Source::PodSpec, m)
            })?),
        };

    let (mut plan, pod) = match &spec {
        Some(spec) => {
            let siblings = plans_from_pod_spec(spec)?;
            let (entry, role) = find_in_spec(spec, &name).ok_or_else(|| {
                PlanError::new(
                    PlanErrorKind::NotInPodSpec,
                    &name,
                    Source::PodSpec,
                    "the pod spec has no initContainers or containers entry with this name; \
                     check the container-name annotation",
                )
            })?;
            let declared = Declared {
                name: &name,
                annotations: &annotations,
                process_env: &process_env,
                spec: Some((spec, entry, role)),
            };
            (
                build_plan(&declared)?,
                PodDeclaration::Spec {
                    containers: siblings,
                },
            )
        }
        None => {
            let declared = Declared {
                name: &name,
                annotations: &annotations,
                process_env: &process_env,
                spec: None,
            };
            let pod = match annotations.get(POD_CONTAINERS) {
                Some(list) => {
                    let names: Vec<String> = list
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if !names.contains(&name) {
                        return Err(PlanError::new(
                            PlanErrorKind::NotInPodSpec,
                            &name,
                            Source::annotation(POD_CONTAINERS),
                            format!("the list {list:?} does not name this container"),
                        ));
                    }
                    PodDeclaration::Names { names }
                }
                None => PodDeclaration::Unknown,
            };
            (build_plan(&declared)?, pod)
        }
    };
    notes.append(&mut plan.notes);
    plan.notes = notes;
    Ok(Classified::Container {
        plan: Box::new(plan),
        pod,
        pod_key,
    })
}

/// The plan of every container of a pod spec, from the spec alone (no annotations, no
/// `process.env`): what podinit knows of a sibling before its own bundle registers.
pub fn plans_from_pod_spec(spec: &PodSpec) -> Result<Vec<ContainerPlan>, PlanError> {
    let empty = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    let entries = spec
        .init_containers
        .iter()
        .enumerate()
        .map(|(i, c)| (c, Role::Init(i)));
    let entries = entries.chain(
        spec.containers
            .iter()
            .enumerate()
            .map(|(i, c)| (c, Role::Regular(i))),
    );
    let mut plans = Vec::new();
    for (c, role) in entries {
        // The API server's field path: a nameless container has only its position to be named
        // by (a fuzz campaign found the error naming nothing at all).
        let at = match role {
            Role::Init(i) => format!("initContainers[{i}]"),
            Role::Regular(i) => format!("containers[{i}]"),
        };
        if c.name.is_empty() {
            return Err(PlanError::new(
                PlanErrorKind::InvalidValue,
                &at,
                Source::PodSpec,
                format!("{at}.name is empty: every container of a pod spec needs a name"),
            ));
        }
        if !seen.insert(c.name.as_str()) {
            return Err(PlanError::new(
                PlanErrorKind::InvalidValue,
                &c.name,
                Source::PodSpec,
                format!(
                    "{at}.name {:?} is taken by an earlier container: container names in a pod spec must be unique",
                    c.name
                ),
            ));
        }
        plans.push(build_plan(&Declared {
            name: &c.name,
            annotations: &empty,
            process_env: &[],
            spec: Some((spec, c, role)),
        })?);
    }
    Ok(plans)
}

fn find_in_spec<'a>(spec: &'a PodSpec, name: &str) -> Option<(&'a k8s::Container, Role)> {
    let init = spec
        .init_containers
        .iter()
        .position(|c| c.name == name)
        .map(|i| (&spec.init_containers[i], Role::Init(i)));
    init.or_else(|| {
        spec.containers
            .iter()
            .position(|c| c.name == name)
            .map(|i| (&spec.containers[i], Role::Regular(i)))
    })
}

fn build_plan(d: &Declared<'_>) -> Result<ContainerPlan, PlanError> {
    let name = d.name;
    let ann = |k: &str| d.annotations.get(k).map(String::as_str);
    let err =
        |kind: PlanErrorKind, source: Source, msg: String| PlanError::new(kind, name, source, msg);
    let ann_src = Source::annotation;
    let spec_src = |field: &str| Source::spec_field(format!("{name}.{field}"));
    let (spec, entry, role) = match d.spec {
        Some((s, c, r)) => (Some(s), Some(c), Some(r)),
        None => (None, None, None),
    };
    let spec_env: Vec<(String, String)> = entry
        .map(|c| {
            c.env
                .iter()
                .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
                .collect()
        })
        .unwrap_or_default();
    let dialect = dialect::read(
        &Env {
            process: d.process_env,
            spec: &spec_env,
        },
        name,
    )?;
    let mut notes = dialect.notes.clone();

    // The container's own restartPolicy and restartPolicyRules (KEP-5307), as the API server
    // validates them; an initContainers entry with Always is a native sidecar.
    let own_restart = match (entry, role) {
        (Some(c), Some(r)) => {
            let (base, init) = match r {
                Role::Init(i) => (format!("spec.initContainers[{i}]"), true),
                Role::Regular(i) => (format!("spec.containers[{i}]"), false),
            };
            restart::validate(c, &base, init).map_err(|e| {
                let kind = if e.message.starts_with("Too many") {
                    PlanErrorKind::OutOfRange
                } else {
                    PlanErrorKind::InvalidValue
                };
                err(kind, Source::spec_field(e.path), e.message)
            })?
        }
        _ => restart::ContainerRestart::default(),
    };
    let own_restart_src = match role {
        Some(Role::Init(i)) => format!("spec.initContainers[{i}]"),
        Some(Role::Regular(i)) => format!("spec.containers[{i}]"),
        None => String::new(),
    };

    // Kind: annotation > pod-spec structure > env dialect > default.
    let native_sidecar = match (role, entry) {
        (Some(Role::Init(i)), Some(_)) => {
            Some((own_restart.policy == Some(RestartPolicy::Always), i))
        }
        _ => None,
    };
    let (kind, reason) = if let Some(k) = ann(KIND) {
        let kind = match k {
            "init" => Kind::Init,
            "sidecar" => Kind::Sidecar,
            "app" => Kind::App,
            other => {
                return Err(err(
                    PlanErrorKind::InvalidValue,
                    ann_src(KIND),
                    format!("unknown kind {other:?} (expected init, sidecar or app)"),
                ));
            }
        };
        (kind, format!("annotation {KIND}={k}"))
    } else if let Some((true, i)) = native_sidecar {
        (
            Kind::Sidecar,
            format!("pod spec initContainers[{i}] has restartPolicy: Always (native sidecar)"),
        )
    } else if let Some((false, i)) = native_sidecar {
        (
            Kind::Init,
            format!("pod spec initContainers[{i}] (regular init container)"),
        )
    } else if let Some((_, why)) = &dialect.sidecar {
        (Kind::Sidecar, why.clone())
    } else if let Some(Role::Regular(i)) = role {
        (
            Kind::App,
            format!("pod spec containers[{i}] with no sidecar declaration"),
        )
    } else {
        (Kind::App, "no init or sidecar declaration (annotation, pod spec or env dialect): an app container".to_owned())
    };
    if native_sidecar.is_some() && dialect.sidecar.is_some() {
        notes.push(format!(
            "{} ignored: an initContainers entry keeps its place in the init sequence",
            dialect.sidecar.as_ref().map_or("", |s| &s.1)
        ));
    }

    // Start slot.
    let index = match ann(INDEX) {
        Some(raw) => Some(
            parse_int_in(raw, 0, 10_000)
                .map_err(|m| err(PlanErrorKind::InvalidValue, ann_src(INDEX), m))?
                as u32,
        ),
        None => None,
    };
    let in_init_sequence = match kind {
        Kind::Init => true,
        // A sidecar is native (init sequence) unless it is a regular container of the spec, or an
        // env-dialect sidecar of an annotation-only pod.
        Kind::Sidecar => match role {
            Some(Role::Init(_)) => true,
            Some(Role::Regular(_)) => false,
            None => ann(KIND).is_some(),
        },
        Kind::App => false,
    };
    let launch_priority = dialect.launch_priority.as_ref().map(|(p, _)| *p);
    let start = if in_init_sequence {
        let index = match (index, role) {
            (Some(i), _) => i,
            (None, Some(Role::Init(i))) => i as u32,
            _ => {
                notes.push(format!(
                    "no annotation {INDEX}: placed first in the init sequence (index 0)"
                ));
                0
            }
        };
        if let Some((_, why)) = &dialect.launch_priority {
            notes.push(format!(
                "{why} ignored: init containers start in declaration order"
            ));
        }
        StartSlot::Init { index }
    } else {
        let early = kind == Kind::Sidecar
            && (matches!(dialect.sidecar, Some((SidecarStyle::StartsFirst, _)))
                || (ann(KIND).is_some() && dialect.sidecar.is_none()));
        if let Some((_, why)) = &dialect.launch_priority {
            notes.push(format!("launch priority from {why}"));
        }
        StartSlot::Regular {
            priority: launch_priority.unwrap_or(0),
            early,
        }
    };

    // Probes and handlers: annotation > pod spec.
    let ports = entry.map(|c| c.ports.as_slice()).unwrap_or(&[]);
    let probe = |key: &str,
                 from_spec: Option<&k8s::Probe>,
                 field: &str,
                 once: bool|
     -> Result<_, PlanError> {
        if let Some(raw) = ann(key) {
            let p: k8s::Probe = serde_json::from_str(raw).map_err(|e| {
                err(
                    PlanErrorKind::InvalidJson,
                    ann_src(key),
                    format!("not a Kubernetes Probe: {e}"),
                )
            })?;
            return probe_from_k8s(&p, ports, once)
                .map(Some)
                .map_err(|m| err(PlanErrorKind::InvalidValue, ann_src(key), m));
        }
        match from_spec {
            Some(p) => probe_from_k8s(p, ports, once)
                .map(Some)
                .map_err(|m| err(PlanErrorKind::InvalidValue, spec_src(field), m)),
            None => Ok(None),
        }
    };
    let handler = |key: &str,
                   from_spec: Option<&k8s::LifecycleHandler>,
                   field: &str|
     -> Result<_, PlanError> {
        if let Some(raw) = ann(key) {
            let h: k8s::LifecycleHandler = serde_json::from_str(raw).map_err(|e| {
                err(
                    PlanErrorKind::InvalidJson,
                    ann_src(key),
                    format!("not a Kubernetes LifecycleHandler: {e}"),
                )
            })?;
            return handler_from_k8s(&h, ports)
                .map(Some)
                .map_err(|m| err(PlanErrorKind::InvalidValue, ann_src(key), m));
        }
        match from_spec {
            Some(h) => handler_from_k8s(h, ports)
                .map(Some)
                .map_err(|m| err(PlanErrorKind::InvalidValue, spec_src(field), m)),
            None => Ok(None),
        }
    };
    let lifecycle = entry.and_then(|c| c.lifecycle.as_ref());
    let startup_probe = probe(
        STARTUP_PROBE,
        entry.and_then(|c| c.startup_probe.as_ref()),
        "startupProbe",
        true,
    )?;
    let readiness_probe = probe(
        READINESS_PROBE,
        entry.and_then(|c| c.readiness_probe.as_ref()),
        "readinessProbe",
        false,
    )?;
    let liveness_probe = probe(
        LIVENESS_PROBE,
        entry.and_then(|c| c.liveness_probe.as_ref()),
        "livenessProbe",
        true,
    )?;
    let post_start = handler(
        POST_START,
        lifecycle.and_then(|l| l.post_start.as_ref()),
        "lifecycle.postStart",
    )?;
    let pre_stop = handler(
        PRE_STOP,
        lifecycle.and_then(|l| l.pre_stop.as_ref()),
        "lifecycle.preStop",
    )?;
    let (startup_probe, readiness_probe, liveness_probe, post_start, pre_stop) = if kind
        == Kind::Init
    {
        // Kubernetes rejects probes and lifecycle on regular init containers (istio/istio#52245).
        if startup_probe.is_some()
            || readiness_probe.is_some()
            || liveness_probe.is_some()
            || post_start.is_some()
            || pre_stop.is_some()
        {
            notes.push("probes and lifecycle handlers ignored: Kubernetes allows them only on sidecars and apps".into());
        }
        (None, None, None, None, None)
    } else {
        (
            startup_probe,
            readiness_probe,
            liveness_probe,
            post_start,
            pre_stop,
        )
    };

    let gate_on = match (kind, start) {
        (Kind::Init, _) => GateOn::ExitZero,
        // KEP-753: readiness does not gate the init sequence; started (+startupProbe) does.
        (_, StartSlot::Init { .. }) => GateOn::Started,
        // ECI: a container waits for the higher-priority ones to be Ready where they have a
        // readiness probe; env-dialect sidecars gate the apps the same way.
        (_, StartSlot::Regular { .. }) if readiness_probe.is_some() => GateOn::Ready,
        _ => GateOn::Started,
    };

    // Restart policy: annotation > kind rule > pod spec > Kubernetes default (Always).
    let pod_policy = match spec.and_then(|s| s.restart_policy.as_deref()) {
        None => RestartPolicy::Always,
        Some(raw) => RestartPolicy::parse(raw).ok_or_else(|| {
            err(
                PlanErrorKind::InvalidValue,
                Source::spec_field("restartPolicy"),
                format!("expected Always, OnFailure or Never, got {raw:?}"),
            )
        })?,
    };
    let restart = if let Some(raw) = ann(RESTART_POLICY) {
        notes.push(format!("restart policy from annotation {RESTART_POLICY}"));
        RestartPolicy::parse(raw).ok_or_else(|| {
            err(
                PlanErrorKind::InvalidValue,
                ann_src(RESTART_POLICY),
                format!("expected Always, OnFailure or Never, got {raw:?}"),
            )
        })?
    } else if let Some(own) = own_restart
        .policy
        .filter(|_| !(kind == Kind::Sidecar && ann(KIND).is_some()))
    {
        // The pod spec's word on this container outranks an env dialect's "always restarts".
        if own != pod_policy && kind != Kind::Sidecar {
            notes.push(format!(
                "restart policy {own:?} from pod spec {own_restart_src}.restartPolicy (overrides the pod's {pod_policy:?})"
            ));
        } else if kind == Kind::Sidecar && native_sidecar.is_none() && own != RestartPolicy::Always
        {
            notes.push(format!(
                "restart policy {own:?} from pod spec {own_restart_src}.restartPolicy (the sidecar declaration would restart it always)"
            ));
        }
        own
    } else if kind == Kind::Sidecar && !matches!(dialect.sidecar, Some((SidecarStyle::StopOnly, _)))
    {
        RestartPolicy::Always
    } else {
        pod_policy
    };
    let restart_rules = own_restart.rules;
    if !restart_rules.is_empty() {
        let list: Vec<String> = restart_rules
            .iter()
            .enumerate()
            .map(|(i, r)| format!("[{i}] {}", r.describe()))
            .collect();
        notes.push(format!(
            "restartPolicyRules from pod spec {own_restart_src}, first match wins: {}; else {restart:?}",
            list.join("; ")
        ));
    }

    let stop_signal = match (
        ann(STOP_SIGNAL),
        lifecycle.and_then(|l| l.stop_signal.as_deref()),
    ) {
        (Some(raw), _) => parse_signal(raw)
            .map_err(|m| err(PlanErrorKind::InvalidValue, ann_src(STOP_SIGNAL), m))?,
        (None, Some(raw)) => parse_signal(raw).map_err(|m| {
            err(
                PlanErrorKind::InvalidValue,
                spec_src("lifecycle.stopSignal"),
                m,
            )
        })?,
        (None, None) => (libc::SIGTERM, "SIGTERM".to_owned()),
    };
    let stop_signal = StopSignal {
        number: stop_signal.0,
        name: stop_signal.1,
    };

    let grace_seconds = match (
        ann(GRACE),
        spec.and_then(|s| s.termination_grace_period_seconds),
    ) {
        (Some(raw), _) => {
            let n: i64 = raw.trim().parse().map_err(|_| {
                let kind = if raw.trim().chars().all(|c| c.is_ascii_digit() || c == '-')
                    && !raw.trim().is_empty()
                {
                    PlanErrorKind::OutOfRange
                } else {
                    PlanErrorKind::InvalidValue
                };
                err(
                    kind,
                    ann_src(GRACE),
                    format!("expected whole seconds, got {raw:?}"),
                )
            })?;
            Some(check_seconds(n).map_err(|m| err(PlanErrorKind::OutOfRange, ann_src(GRACE), m))?)
        }
        (None, Some(n)) => Some(check_seconds(n).map_err(|m| {
            err(
                PlanErrorKind::OutOfRange,
                spec_src("terminationGracePeriodSeconds"),
                m,
            )
        })?),
        (None, None) => None,
    };

    // Baidu BCI: a pod annotation listing the containers that report success, on the
    // container's own annotations (an agent copies pod annotations there) or the Pod's.
    let bci = super::pod_level::lookup(BCI_IGNORE_EXIT_CODE, ann(BCI_IGNORE_EXIT_CODE), spec);
    let mut ignore_exit_code = dialect.ignore_exit_code;
    if let Some((list, source)) = bci {
        if list.split(',').map(str::trim).any(|n| n == name) {
            ignore_exit_code = true;
            notes.push(format!("exit code reported as 0 ({source} lists {name})"));
        }
    }

    let sidecar_reserve_seconds =
        match super::sidecar_reserve::read(name, ann(SIDECAR_GRACE_RESERVE), spec)? {
            Some((n, source)) => {
                notes.push(format!(
                    "at teardown the sidecars keep the last {n}s of the grace budget: apps are \
                     killed {n}s before its end ({source})"
                ));
                Some(n)
            }
            None => None,
        };

    let needs_sidecars = super::regate::read(name, kind, ann(NEEDS_SIDECARS), spec)?;
    if let Some(n) = &needs_sidecars {
        notes.push(format!(
            "needs {} for its whole life: {}",
            n.sidecars.join(", "),
            match n.on_loss {
                super::SidecarLoss::Restart => "stopped when one exits or turns unready, started again once all are started and ready",
                super::SidecarLoss::Hold => "its restarts wait until they are all started and ready",
            }
        ));
    }

    // The API server's rule (ValidatePodSpec): 1 to 2147483647 seconds.
    let active_deadline_seconds = match spec.and_then(|s| s.active_deadline_seconds) {
        None => None,
        Some(n) if (1..=i64::from(i32::MAX)).contains(&n) => {
            notes.push(format!(
                "the pod fails with DeadlineExceeded {n}s after it started (pod spec activeDeadlineSeconds)"
            ));
            // Invariant: 1..=i32::MAX fits u64.
            Some(n as u64)
        }
        Some(n) => {
            return Err(err(
                PlanErrorKind::OutOfRange,
                Source::spec_field("activeDeadlineSeconds"),
                format!("must be between 1 and {}, got {n}", i32::MAX),
            ));
        }
    };

    let start_timeout =
        super::start_wait::read(d.annotations, spec, &mut notes).map_err(|(source, m)| {
            let kind = if m.contains("out of range") {
                PlanErrorKind::OutOfRange
            } else {
                PlanErrorKind::InvalidValue
            };
            err(kind, source, m)
        })?;

    let termination_message = termination_message(entry)
        .map_err(|(field, m)| err(PlanErrorKind::InvalidValue, spec_src(field), m))?;

    Ok(ContainerPlan {
        name: name.to_owned(),
        kind,
        reason,
        start,
        gate_on,
        restart,
        restart_rules,
        start_timeout,
        exit_priority: dialect.exit_priority,
        ignore_exit_code,
        counts_for_ready: !dialect.ignore_ready,
        startup_probe,
        readiness_probe,
        liveness_probe,
        post_start,
        pre_stop,
        stop_signal,
        grace_seconds,
        sidecar_reserve_seconds,
        needs_sidecars,
        active_deadline_seconds,
        termination_message,
        notes,
    })
}

/// `terminationMessagePath` and `terminationMessagePolicy` as the API server defaults and
/// validates them: empty means the default; the policy is `File` or `FallbackToLogsOnError`;
/// the path is absolute (a relative one is taken from the container's root, where the init
/// reads it).
fn termination_message(
    entry: Option<&k8s::Container>,
) -> Result<TerminationMessage, (&'static str, String)> {
    let mut tm = TerminationMessage::default();
    let Some(c) = entry else { return Ok(tm) };
    match c.termination_message_policy.as_deref() {
        None | Some("") | Some("File") => {}
        Some("FallbackToLogsOnError") => tm.fallback_to_logs = true,
        Some(other) => {
            return Err((
                "terminationMessagePolicy",
                format!("supported values: \"File\", \"FallbackToLogsOnError\"; got {other:?}"),
            ));
        }
    }
    match c.termination_message_path.as_deref() {
        None | Some("") => {}
        Some(p) if p.contains('\0') => {
            return Err((
                "terminationMessagePath",
                "must not contain a NUL byte".into(),
            ));
        }
        Some(p) if p.starts_with('/') => tm.path = p.to_owned(),
        Some(p) => tm.path = format!("/{p}"),
    }
    Ok(tm)
}

fn string_map(v: Option<&Value>) -> Result<BTreeMap<String, String>, String> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    if v.is_null() {
        return Ok(BTreeMap::new());
    }
    let obj = v.as_object().ok_or("expected an object of strings")?;
    obj.iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|s| (k.clone(), s.to_owned()))
                .ok_or_else(|| format!("the value of {k:?} is not a string"))
        })
        .collect()
}

fn string_list(v: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(v) = v else { return Ok(Vec::new()) };
    if v.is_null() {
        return Ok(Vec::new());
    }
    let arr = v.as_array().ok_or("expected an array of strings")?;
    arr.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_owned)
                .ok_or_else(|| "expected an array of strings".to_owned())
        })
        .collect()
}
