//! From one bundle's `config.json` (as a JSON value, so nothing of the agent's is lost) to its
//! container plan and what it declares about the rest of the pod.

use std::collections::BTreeMap;

use serde_json::Value;

use super::decide::{self, Ctx, Role};
use super::dialect::{self, Env};
use super::k8s::{self, PodSpec};
use super::keys::*;
use super::pod_key::{PodIdentity, identify};
use super::{ContainerPlan, PlanError, PlanErrorKind, PodDeclaration, Source, Sources};

/// One bundle to classify.
pub struct BundleInput<'a> {
    pub config: &'a Value,
    /// Used when no annotation names the container (the bundle directory or the container id).
    pub fallback_name: &'a str,
}

/// Why podinit leaves a container alone; `Display` is the text `podinit explain` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// The pod's pause container, marked by this annotation (`sandbox_marker`).
    Sandbox { annotation: &'static str },
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ignored::Sandbox { annotation } => write!(
                f,
                "annotation {annotation}=sandbox: the pod's pause container is not managed"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Classified {
    /// The pod's sandbox (pause) container: podinit leaves it alone.
    Ignored { name: String, reason: Ignored },
    Container {
        plan: Box<ContainerPlan>,
        pod: PodDeclaration,
        /// The pod it belongs to (`pod_key.rs`): its supervisor-side engine, journal and status.
        pod_key: PodIdentity,
    },
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
            reason: Ignored::Sandbox { annotation: key },
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

/// The container's plan: each decision in `decide/`, in the order their errors and notes have
/// always come.
fn build_plan(d: &Declared<'_>) -> Result<ContainerPlan, PlanError> {
    let ctx = Ctx {
        name: d.name,
        annotations: d.annotations,
        spec: d.spec.map(|(s, _, _)| s),
        entry: d.spec.map(|(_, c, r)| (c, r)),
    };
    let spec_env: Vec<(String, String)> = ctx
        .container()
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
        ctx.name,
    )?;
    let mut notes = dialect.notes.clone();

    let own_restart = decide::restart::own(&ctx)?;
    let (kind, reason) = decide::kind::kind(&ctx, &own_restart, &dialect, &mut notes)?;
    let start = decide::slot::start_slot(&ctx, kind.value, &dialect, &mut notes)?;
    let probes = decide::probes::probes(&ctx, kind.value, &mut notes)?;
    let gate_on = decide::gate::gate_on(kind.value, start.value, probes.readiness.is_some());
    let restart = decide::restart::policy(
        &ctx,
        kind.value,
        &kind.source,
        &own_restart,
        &dialect,
        &mut notes,
    )?;
    decide::restart::rules_note(&ctx, &own_restart.rules, restart.value, &mut notes);
    let stop_signal = decide::stop::stop_signal(&ctx)?;
    let grace = decide::stop::grace_seconds(&ctx)?;
    let ignore_exit_code =
        decide::exit::ignore_exit_code(&ctx, dialect.ignore_exit_code, &mut notes);
    let sidecar_reserve_seconds = decide::pod::sidecar_reserve(&ctx, &mut notes)?;
    let needs_sidecars = decide::pod::needs_sidecars(&ctx, kind.value, &mut notes)?;
    let active_deadline_seconds = decide::pod::active_deadline(&ctx, &mut notes)?;
    let start_timeout = decide::pod::start_timeout(&ctx, &mut notes)?;
    let termination_message = decide::exit::termination_message(&ctx)?;

    Ok(ContainerPlan {
        name: ctx.name.to_owned(),
        kind: kind.value,
        reason,
        start: start.value,
        gate_on,
        restart: restart.value,
        restart_rules: own_restart.rules,
        start_timeout,
        exit_priority: dialect.exit_priority,
        ignore_exit_code,
        counts_for_ready: !dialect.ignore_ready,
        startup_probe: probes.startup,
        readiness_probe: probes.readiness,
        liveness_probe: probes.liveness,
        post_start: probes.post_start,
        pre_stop: probes.pre_stop,
        stop_signal: stop_signal.value,
        grace_seconds: grace.as_ref().map(|g| g.value),
        sidecar_reserve_seconds,
        needs_sidecars,
        active_deadline_seconds,
        termination_message,
        sources: Sources {
            kind: kind.source,
            start: start.source,
            restart: restart.source,
            stop_signal: stop_signal.source,
            grace: grace.map(|g| g.source),
        },
        notes,
    })
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
