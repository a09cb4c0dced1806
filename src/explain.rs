//! `podinit explain BUNDLE`: how one bundle is classified and why, what gates its start, when it
//! is stopped, how it restarts and how its exit code is reported.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::plan::{
    self, BundleInput, Classified, ContainerPlan, GateOn, Kind, PlanError, PodDeclaration, Source,
    StartSlot,
};

#[derive(Debug)]
pub enum ExplainError {
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    NotJson {
        path: PathBuf,
        error: serde_json::Error,
    },
    Plan(PlanError),
}

impl fmt::Display for ExplainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExplainError::Read { path, error } => {
                write!(f, "{}: cannot read: {error}", path.display())
            }
            ExplainError::NotJson { path, error } => write!(
                f,
                "{}: not valid JSON: {error}; fix or regenerate the bundle's config.json",
                path.display()
            ),
            ExplainError::Plan(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ExplainError {}

/// `BUNDLE` may be the bundle directory or its `config.json`.
pub fn config_path(bundle: &Path) -> PathBuf {
    if bundle.is_dir() {
        bundle.join("config.json")
    } else {
        bundle.to_path_buf()
    }
}

/// The bundle's directory name, used as the container name when no annotation gives one.
pub fn fallback_name(bundle: &Path) -> String {
    let dir = if bundle.is_dir() {
        bundle
    } else {
        bundle.parent().unwrap_or(bundle)
    };
    let abs = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    abs.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "container".into())
}

pub fn classify_path(bundle: &Path) -> Result<Classified, ExplainError> {
    let path = config_path(bundle);
    let text = std::fs::read(&path).map_err(|error| ExplainError::Read {
        path: path.clone(),
        error,
    })?;
    let config: Value = serde_json::from_slice(&text).map_err(|error| ExplainError::NotJson {
        path: path.clone(),
        error,
    })?;
    let fallback = fallback_name(bundle);
    plan::classify_bundle(&BundleInput {
        config: &config,
        fallback_name: &fallback,
    })
    .map_err(ExplainError::Plan)
}

fn condition(gate: GateOn) -> &'static str {
    match gate {
        GateOn::ExitZero => "exited with code 0",
        GateOn::Started => "started (running, postStart done, startupProbe passed)",
        GateOn::Ready => "started and Ready",
    }
}

fn waits_for(plan: &ContainerPlan, pod: &PodDeclaration) -> Vec<String> {
    match pod {
        PodDeclaration::Spec { containers } => containers
            .iter()
            .filter(|c| c.name != plan.name && c.start.key() < plan.start.key())
            .map(|c| format!("{} ({}) {}", c.name, c.kind.as_str(), condition(c.gate_on)))
            .collect(),
        PodDeclaration::Names { names } => names
            .iter()
            .filter(|n| **n != plan.name)
            .map(|n| {
                format!("{n} registered, and passed if it comes earlier in the start sequence")
            })
            .collect(),
        PodDeclaration::Unknown => {
            vec!["no pod declaration: the registered containers earlier in the start sequence, once no container has registered for the settle time (1s)".into()]
        }
    }
}

fn stop_order(plan: &ContainerPlan, pod: &PodDeclaration) -> String {
    match plan.kind {
        Kind::App => match (plan.exit_priority, plan.sidecar_reserve_seconds) {
            (Some(p), _) => format!(
                "gets its stop signal once its preStop is done and every app with an exit \
                 priority above {p} has exited; its stage has the whole grace"
            ),
            (None, Some(r)) if r > 0 => format!(
                "gets its stop signal at teardown start, once its preStop is done; SIGKILL {r}s \
                 before the grace budget ends (the sidecars' reserve)"
            ),
            _ => "gets its stop signal at teardown start, once its preStop is done".into(),
        },
        Kind::Init => {
            "stopped at once if still running at teardown; sidecars do not wait for it".into()
        }
        Kind::Sidecar => {
            let after: Vec<&str> = match pod {
                PodDeclaration::Spec { containers } => containers
                    .iter()
                    .filter(|c| {
                        c.kind == Kind::Sidecar
                            && c.name != plan.name
                            && c.start.key() > plan.start.key()
                    })
                    .map(|c| c.name.as_str())
                    .collect(),
                _ => Vec::new(),
            };
            match plan.exit_priority {
                Some(p) => format!(
                    "after every app has exited and after sidecars with an exit priority above {p}"
                ),
                None if after.is_empty() => {
                    "after every app has exited (reverse start order among sidecars)".into()
                }
                None => format!(
                    "after every app has exited and after {} (reverse start order)",
                    after.join(", ")
                ),
            }
        }
    }
}

/// A decision's source as data, with the text explain's sentences use for it.
fn source_json(source: &Source) -> Value {
    let mut v = serde_json::to_value(source).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("text".into(), source.to_string().into());
    }
    v
}

/// The explanation as one JSON object (`--json`).
pub fn to_json(classified: &Classified) -> Value {
    let (plan, pod, pod_key) = match classified {
        Classified::Ignored { name, reason } => {
            return json!({ "name": name, "ignored": true, "reason": reason.to_string() });
        }
        Classified::Container { plan, pod, pod_key } => (plan, pod, pod_key),
    };
    let start = match plan.start {
        StartSlot::Init { index } => format!("init sequence position {index}"),
        StartSlot::Regular { priority, early } => {
            format!(
                "regular containers, launch priority {priority}{}",
                if early {
                    ", before the apps of that priority"
                } else {
                    ""
                }
            )
        }
    };
    let pod_source = match pod {
        PodDeclaration::Spec { containers } => {
            json!({ "source": "io.podinit.pod-spec", "containers": containers.iter().map(|c| &c.name).collect::<Vec<_>>() })
        }
        PodDeclaration::Names { names } => {
            json!({ "source": "io.podinit.pod-containers", "containers": names })
        }
        PodDeclaration::Unknown => json!({ "source": "none", "containers": [] }),
    };
    json!({
        "name": plan.name,
        "kind": plan.kind.as_str(),
        "reason": plan.reason,
        // The same provenance as data: `reason` says it for a person, `sources.kind` for a tool.
        "sources": {
            "kind": source_json(&plan.sources.kind),
            "start": source_json(&plan.sources.start),
            "restartPolicy": source_json(&plan.sources.restart),
            "stopSignal": source_json(&plan.sources.stop_signal),
            "graceSeconds": plan.sources.grace.as_ref().map(source_json),
        },
        "start": start,
        "gateOn": plan.gate_on,
        "gateOnMeans": condition(plan.gate_on),
        "waitsFor": waits_for(plan, pod),
        "stopOrder": stop_order(plan, pod),
        "restartPolicy": plan.restart,
        "restartPolicyRules": plan.restart_rules,
        "startTimeout": plan.start_timeout,
        "startTimeoutMeans": match &plan.start_timeout {
            Some(t) => format!("{} ({})", t.describe(), t.source),
            None => "none: the start gate holds it as long as it takes (io.podinit.start-timeout)".to_owned(),
        },
        "restartRulesMean": plan.restart_rules.iter().map(|r| r.describe()).collect::<Vec<_>>(),
        "exitCode": if plan.ignore_exit_code { "reported as 0 (ECI_CONTAINER_IGNORE_EXIT_CODE), real code in the message" }
            else if plan.kind == Kind::Sidecar { "reported as 0 when stopped by podinit in teardown; real code kept as rawExitCode" }
            else { "reported as the process ended (128+signal for a signal death)" },
        "countsForReady": plan.counts_for_ready,
        "stopSignal": plan.stop_signal.name(),
        "graceSeconds": plan.grace_seconds,
        "sidecarGraceReserveSeconds": plan.sidecar_reserve_seconds,
        "needsSidecars": plan.needs_sidecars,
        "activeDeadlineSeconds": plan.active_deadline_seconds,
        "terminationMessage": {
            "path": plan.termination_message.path,
            "policy": plan.termination_message.policy(),
            "means": if plan.termination_message.fallback_to_logs {
                "the file's last 4 KiB after each run; if empty after a failed run, the last 80 lines (2 KiB) of output"
            } else {
                "the file's last 4 KiB after each run, when the run wrote it"
            },
        },
        "probes": { "startup": plan.startup_probe, "readiness": plan.readiness_probe, "liveness": plan.liveness_probe },
        "lifecycle": { "postStart": plan.post_start, "preStop": plan.pre_stop },
        "exitPriority": plan.exit_priority,
        "pod": pod_source,
        "podKey": { "key": pod_key.key.as_str(), "from": pod_key.reason() },
        "notes": plan.notes,
    })
}

/// The explanation for a person.
pub fn to_text(classified: &Classified) -> String {
    let v = to_json(classified);
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    if v.get("ignored").is_some() {
        return format!("{}: ignored\n  why: {}\n", s("name"), s("reason"));
    }
    let mut out = format!(
        "{}: {}\n  why: {}\n  start: {}\n",
        s("name"),
        s("kind"),
        s("reason"),
        s("start")
    );
    out += &format!("  others may start after it has: {}\n", s("gateOnMeans"));
    let waits: Vec<&str> = v["waitsFor"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if waits.is_empty() {
        out += "  waits for: nothing (first in the start sequence)\n";
    } else {
        out += "  waits for:\n";
        for w in waits {
            out += &format!("    - {w}\n");
        }
    }
    out += &format!("  start-wait timeout: {}\n", s("startTimeoutMeans"));
    out += &format!("  stop: {} with {}\n", s("stopOrder"), s("stopSignal"));
    out += &format!("  restart: {}\n", v["restartPolicy"].as_str().unwrap_or(""));
    let rules: Vec<&str> = v["restartRulesMean"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !rules.is_empty() {
        out += "  restart rules (restartPolicyRules, first match wins, else the restart policy):\n";
        for (i, r) in rules.iter().enumerate() {
            out += &format!("    [{i}] {r}\n");
        }
    }
    out += &format!("  exit code: {}\n", s("exitCode"));
    out += &format!(
        "  termination message: {} ({}): {}\n",
        v["terminationMessage"]["path"].as_str().unwrap_or(""),
        v["terminationMessage"]["policy"].as_str().unwrap_or(""),
        v["terminationMessage"]["means"].as_str().unwrap_or("")
    );
    for (label, key) in [
        ("startupProbe", "startup"),
        ("readinessProbe", "readiness"),
        ("livenessProbe", "liveness"),
    ] {
        if !v["probes"][key].is_null() {
            out += &format!("  {label}: {}\n", v["probes"][key]);
        }
    }
    for (label, key) in [("postStart", "postStart"), ("preStop", "preStop")] {
        if !v["lifecycle"][key].is_null() {
            out += &format!("  {label}: {}\n", v["lifecycle"][key]);
        }
    }
    out += &format!(
        "  pod declared by: {}\n",
        v["pod"]["source"].as_str().unwrap_or("")
    );
    out += &format!(
        "  pod key: {} ({})\n",
        v["podKey"]["key"].as_str().unwrap_or(""),
        v["podKey"]["from"].as_str().unwrap_or("")
    );
    for n in v["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        out += &format!("  note: {n}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::{BundleInput, classify_bundle};

    #[test]
    fn restart_rules_are_shown_with_the_policy_they_fall_back_to() {
        let spec = json!({"restartPolicy": "Always", "containers": [{"name": "trainer",
            "restartPolicy": "Never",
            "restartPolicyRules": [
                {"action": "Restart", "exitCodes": {"operator": "In", "values": [42, 88]}},
                {"action": "Restart", "exitCodes": {"operator": "NotIn", "values": [0, 1]}}]}]});
        let config = json!({"annotations": {
            "io.podinit.container-name": "trainer",
            "io.podinit.pod-spec": spec.to_string(),
        }});
        let classified = classify_bundle(&BundleInput {
            config: &config,
            fallback_name: "b",
        })
        .expect("valid");
        let text = to_text(&classified);
        assert!(text.contains("  restart: Never\n"), "{text}");
        assert!(
            text.contains("    [0] Restart if the exit code is In [42, 88]\n")
                && text.contains("    [1] Restart if the exit code is NotIn [0, 1]\n"),
            "{text}"
        );
        assert!(
            text.contains("spec.containers[0].restartPolicy (overrides the pod's Always)"),
            "the provenance is a note: {text}"
        );
        let v = to_json(&classified);
        assert!(
            text.contains("  start-wait timeout: none"),
            "no deadline is said: {text}"
        );
        assert_eq!(
            v["restartPolicyRules"],
            json!([{"operator": "In", "values": [42, 88]}, {"operator": "NotIn", "values": [0, 1]}])
        );
    }

    /// `--json` says where each main decision came from as data, next to the old sentences.
    #[test]
    fn sources_are_structured_next_to_the_reason() {
        let spec = json!({"terminationGracePeriodSeconds": 12,
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
            "containers": [{"name": "app"}]});
        let config = json!({"annotations": {
            "io.podinit.container-name": "proxy",
            "io.podinit.stop-signal": "SIGQUIT",
            "io.podinit.pod-spec": spec.to_string(),
        }});
        let classified = classify_bundle(&BundleInput {
            config: &config,
            fallback_name: "b",
        })
        .expect("valid");
        let v = to_json(&classified);
        assert_eq!(
            v["reason"],
            "pod spec initContainers[0] has restartPolicy: Always (native sidecar)"
        );
        assert_eq!(
            v["sources"],
            json!({
                "kind": {"kind": "podSpecField", "path": "spec.initContainers[0].restartPolicy",
                    "text": "annotation io.podinit.pod-spec: spec.initContainers[0].restartPolicy"},
                "start": {"kind": "podSpecField", "path": "spec.initContainers[0]",
                    "text": "annotation io.podinit.pod-spec: spec.initContainers[0]"},
                "restartPolicy": {"kind": "podSpecField", "path": "spec.initContainers[0].restartPolicy",
                    "text": "annotation io.podinit.pod-spec: spec.initContainers[0].restartPolicy"},
                "stopSignal": {"kind": "annotation", "key": "io.podinit.stop-signal",
                    "text": "annotation io.podinit.stop-signal"},
                "graceSeconds": {"kind": "podSpecField", "path": "proxy.terminationGracePeriodSeconds",
                    "text": "annotation io.podinit.pod-spec: proxy.terminationGracePeriodSeconds"},
            })
        );

        let config = json!({"process": {"env": ["__IS_SIDECAR__=true"]},
            "annotations": {"io.podinit.container-name": "log"}});
        let v = to_json(
            &classify_bundle(&BundleInput {
                config: &config,
                fallback_name: "b",
            })
            .expect("valid"),
        );
        assert_eq!(v["reason"], "env __IS_SIDECAR__=true (process.env)");
        assert_eq!(
            v["sources"]["kind"],
            json!({"kind": "env", "name": "__IS_SIDECAR__", "text": "env __IS_SIDECAR__"})
        );
        assert_eq!(v["sources"]["restartPolicy"], v["sources"]["kind"]);
        assert_eq!(
            v["sources"]["stopSignal"],
            json!({"kind": "default", "text": "default"})
        );
        assert_eq!(v["sources"]["graceSeconds"], Value::Null);
    }

    #[test]
    fn the_start_wait_deadline_is_shown_with_its_outcome_and_source() {
        let pod = json!({"kind": "Pod", "metadata": {"annotations": {"io.podinit.start-timeout": "1m30s"}},
            "spec": {"containers": [{"name": "app"}]}});
        let config = json!({"annotations": {
            "io.podinit.container-name": "app",
            "io.podinit.on-start-timeout": "fail",
            "io.podinit.pod-spec": pod.to_string(),
        }});
        let classified = classify_bundle(&BundleInput {
            config: &config,
            fallback_name: "b",
        })
        .expect("valid");
        let text = to_text(&classified);
        assert!(
            text.contains("  start-wait timeout: 90s, then fail the pod (StartTimeout) (annotation io.podinit.pod-spec: metadata.annotations io.podinit.start-timeout; annotation io.podinit.on-start-timeout)\n"),
            "{text}"
        );
        assert_eq!(
            to_json(&classified)["startTimeout"],
            json!({"millis": 90000, "onTimeout": "fail", "source": "annotation io.podinit.pod-spec: metadata.annotations io.podinit.start-timeout; annotation io.podinit.on-start-timeout"})
        );
    }
}
