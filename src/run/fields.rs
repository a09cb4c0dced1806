//! Which fields of a manifest `podinit run` honours, which it may leave aside because they do
//! not change how one pod runs on one machine (scheduling, service accounts, resource requests),
//! and which it refuses because leaving them aside would change the outcome (`hostNetwork`,
//! `envFrom`, `valueFrom`, a Job's `completions` ...). Anything else is an unknown field, as
//! kubectl's strict field validation has it: a typo such as `restartPolcy` is never ignored.
//! Every error names the document, the line and the field.

use std::fmt;

use serde_json::Value;

use super::yaml::Document;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// `FILE, document N, line L`, when the error is about one place.
    pub at: Option<String>,
    pub message: String,
}

impl ManifestError {
    pub fn at(d: &Document, pointer: &str, message: impl Into<String>) -> Self {
        ManifestError {
            at: Some(d.at(pointer)),
            message: message.into(),
        }
    }

    pub fn plain(message: impl Into<String>) -> Self {
        ManifestError {
            at: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ManifestError {}

/// How `podinit run` treats a field.
#[derive(Clone, Copy)]
pub enum Use {
    /// Read and applied.
    Handled,
    /// Meaningless for one local pod; left aside.
    Ignored,
    /// Would change the outcome; refused unless empty (null, false, `[]`, `{}`).
    Unsupported,
    /// Refused unless its value is this one (the Kubernetes default), as JSON text.
    Only(&'static str),
}
use Use::*;

/// `/spec/containers/0/env` → `spec.containers[0].env`, as kubectl names fields.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Number(_) | Value::Bool(true) => false,
    }
}

/// Check the mapping at `pointer` (absent is fine) against `table`.
pub fn check(d: &Document, pointer: &str, table: &[(&str, Use)]) -> Result<(), ManifestError> {
    check_in(d, pointer, &[table])
}

/// `check` against the union of `tables`.
fn check_in(d: &Document, pointer: &str, tables: &[&[(&str, Use)]]) -> Result<(), ManifestError> {
    let Some(v) = d.value.pointer(pointer) else {
        return Ok(());
    };
    let Some(obj) = v.as_object() else {
        if v.is_null() {
            return Ok(());
        }
        let name = if pointer.is_empty() {
            "the document".to_owned()
        } else {
            field_path(pointer)
        };
        return Err(ManifestError::at(
            d,
            pointer,
            format!("{name} must be a mapping"),
        ));
    };
    for (key, value) in obj {
        let p = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
        let found = tables.iter().flat_map(|t| t.iter()).find(|(k, _)| k == key);
        let refused = match found.map(|(_, u)| *u) {
            Some(Handled | Ignored) => continue,
            Some(Unsupported) if is_empty(value) => continue,
            Some(Only(json)) if serde_json::from_str::<Value>(json).is_ok_and(|v| v == *value) => {
                continue;
            }
            Some(Unsupported) => "is not supported by podinit run".to_owned(),
            Some(Only(json)) => format!("is supported by podinit run only as {json}"),
            None => "unknown field".to_owned(),
        };
        return Err(ManifestError::at(
            d,
            &p,
            format!("{}: {refused}", field_path(&p)),
        ));
    }
    Ok(())
}

fn each(
    d: &Document,
    pointer: &str,
    f: impl Fn(&str) -> Result<(), ManifestError>,
) -> Result<(), ManifestError> {
    match d.value.pointer(pointer) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(a)) => (0..a.len()).try_for_each(|i| f(&format!("{pointer}/{i}"))),
        Some(_) => Err(ManifestError::at(
            d,
            pointer,
            format!("{} must be a list", field_path(pointer)),
        )),
    }
}

const OBJECT: &[(&str, Use)] = &[
    ("apiVersion", Ignored),
    ("kind", Handled),
    ("metadata", Handled),
    ("status", Ignored),
];

/// The document's own top level: `apiVersion`, `kind`, `metadata`, `status`, plus `extra`.
pub fn top(d: &Document, extra: &[&str]) -> Result<(), ManifestError> {
    let mut table: Vec<(&str, Use)> = OBJECT.to_vec();
    table.extend(extra.iter().map(|k| (*k, Handled)));
    check(d, "", &table)
}

const POD_SPEC: &[(&str, Use)] = &[
    ("containers", Handled),
    ("initContainers", Handled),
    ("volumes", Handled),
    ("restartPolicy", Handled),
    ("terminationGracePeriodSeconds", Handled),
    ("securityContext", Handled),
    ("activeDeadlineSeconds", Handled),
    ("hostname", Handled),
    // Scheduling, identity and cluster plumbing: nothing of it exists on one machine.
    ("nodeSelector", Ignored),
    ("nodeName", Ignored),
    ("affinity", Ignored),
    ("tolerations", Ignored),
    ("schedulerName", Ignored),
    ("schedulingGates", Ignored),
    ("priorityClassName", Ignored),
    ("priority", Ignored),
    ("preemptionPolicy", Ignored),
    ("topologySpreadConstraints", Ignored),
    ("serviceAccountName", Ignored),
    ("serviceAccount", Ignored),
    ("automountServiceAccountToken", Ignored),
    ("imagePullSecrets", Ignored),
    ("dnsPolicy", Ignored),
    ("dnsConfig", Ignored),
    ("enableServiceLinks", Ignored),
    ("readinessGates", Ignored),
    ("runtimeClassName", Ignored),
    ("overhead", Ignored),
    ("os", Ignored),
    ("resourceClaims", Ignored),
    ("resources", Ignored),
    ("setHostnameAsFQDN", Ignored),
    ("subdomain", Ignored),
    ("hostUsers", Ignored),
    ("hostNetwork", Unsupported),
    ("hostPID", Unsupported),
    ("hostIPC", Unsupported),
    ("shareProcessNamespace", Unsupported),
    ("hostAliases", Unsupported),
    ("ephemeralContainers", Unsupported),
];

/// Both security contexts: the user is applied; the LSM and seccomp settings tighten a sandbox
/// that a local test run does not need (runc's default profile applies), `runAsNonRoot` is a
/// check podinit run does not make.
const SECURITY: &[(&str, Use)] = &[
    ("runAsUser", Handled),
    ("runAsGroup", Handled),
    ("seLinuxOptions", Ignored),
    ("seccompProfile", Ignored),
    ("appArmorProfile", Ignored),
    ("windowsOptions", Ignored),
    ("runAsNonRoot", Unsupported),
];

const POD_SECURITY: &[(&str, Use)] = &[
    ("fsGroupChangePolicy", Ignored),
    ("seLinuxChangePolicy", Ignored),
    ("supplementalGroupsPolicy", Ignored),
    ("fsGroup", Unsupported),
    ("supplementalGroups", Unsupported),
    ("sysctls", Unsupported),
];

const CONTAINER: &[(&str, Use)] = &[
    ("name", Handled),
    ("image", Handled),
    ("command", Handled),
    ("args", Handled),
    ("env", Handled),
    ("volumeMounts", Handled),
    ("securityContext", Handled),
    ("restartPolicy", Handled),
    // KEP-5307; validated by the plan as the API server does (`plan/restart.rs`).
    ("restartPolicyRules", Handled),
    ("startupProbe", Handled),
    ("readinessProbe", Handled),
    ("livenessProbe", Handled),
    ("lifecycle", Handled),
    ("workingDir", Handled),
    // Requests and limits are not enforced locally; ports need no publishing in the pod's netns.
    ("ports", Ignored),
    ("resources", Ignored),
    ("resizePolicy", Ignored),
    ("imagePullPolicy", Ignored),
    ("terminationMessagePath", Ignored),
    ("terminationMessagePolicy", Ignored),
    ("stdin", Ignored),
    ("stdinOnce", Ignored),
    ("envFrom", Handled),
    ("volumeDevices", Unsupported),
    ("tty", Unsupported),
];

const CONTAINER_SECURITY: &[(&str, Use)] = &[
    ("procMount", Ignored),
    ("allowPrivilegeEscalation", Ignored),
    ("readOnlyRootFilesystem", Ignored),
    ("privileged", Unsupported),
    ("capabilities", Unsupported),
];

const RESTART_RULE: &[(&str, Use)] = &[("action", Handled), ("exitCodes", Handled)];

const RESTART_RULE_EXIT_CODES: &[(&str, Use)] = &[("operator", Handled), ("values", Handled)];

// `valueFrom` and `envFrom` are resolved from the ConfigMap/Secret documents (`sources.rs`),
// which names any reference it cannot resolve.
const ENV: &[(&str, Use)] = &[
    ("name", Handled),
    ("value", Handled),
    ("valueFrom", Handled),
];

const ENV_FROM: &[(&str, Use)] = &[
    ("configMapRef", Handled),
    ("secretRef", Handled),
    ("prefix", Handled),
];

const VOLUME_MOUNT: &[(&str, Use)] = &[
    ("name", Handled),
    ("mountPath", Handled),
    ("subPath", Handled),
    ("readOnly", Handled),
    ("mountPropagation", Ignored),
    ("recursiveReadOnly", Ignored),
    ("subPathExpr", Unsupported),
];

const VOLUME: &[(&str, Use)] = &[
    ("name", Handled),
    ("emptyDir", Handled),
    ("hostPath", Handled),
    ("configMap", Handled),
    ("secret", Handled),
    ("projected", Handled),
    ("downwardAPI", Handled),
    // The stdlog volume; `volumes.rs` refuses any other driver.
    ("csi", Handled),
];

const CONFIG_MAP_VOLUME: &[(&str, Use)] = &[
    ("name", Handled),
    ("items", Handled),
    ("defaultMode", Handled),
    ("optional", Handled),
];

const SECRET_VOLUME: &[(&str, Use)] = &[
    ("secretName", Handled),
    ("items", Handled),
    ("defaultMode", Handled),
    ("optional", Handled),
];

const KEY_TO_PATH: &[(&str, Use)] = &[("key", Handled), ("path", Handled), ("mode", Handled)];

const PROJECTION: &[(&str, Use)] = &[
    ("configMap", Handled),
    ("secret", Handled),
    ("downwardAPI", Handled),
    ("serviceAccountToken", Unsupported),
    ("clusterTrustBundle", Unsupported),
    ("podCertificate", Unsupported),
];

const PROJECTED_OBJECT: &[(&str, Use)] =
    &[("name", Handled), ("items", Handled), ("optional", Handled)];

const DOWNWARD_ITEM: &[(&str, Use)] = &[
    ("path", Handled),
    ("fieldRef", Handled),
    ("mode", Handled),
    ("resourceFieldRef", Unsupported),
];

const CSI_VOLUME: &[(&str, Use)] = &[
    ("driver", Handled),
    ("readOnly", Handled),
    ("volumeAttributes", Ignored),
    ("fsType", Ignored),
    ("nodePublishSecretRef", Ignored),
];

/// One volume at `v`: its type and, for the types podinit run projects, their fields.
pub fn volume(d: &Document, v: &str) -> Result<(), ManifestError> {
    check(d, v, VOLUME).map_err(|mut e| {
        if e.message.ends_with(": unknown field") {
            e.message = e.message.replace(
                ": unknown field",
                ": this volume type is not supported by podinit run (it has emptyDir, hostPath, \
                 configMap, secret, projected, downwardAPI and the stdlog csi volume)",
            );
        }
        e
    })?;
    let items = |at: &str, table| each(d, &format!("{at}/items"), |i| check(d, i, table));
    let downward = |at: &str| -> Result<(), ManifestError> {
        check(d, at, &[("items", Handled), ("defaultMode", Handled)])?;
        each(d, &format!("{at}/items"), |i| {
            check(d, i, DOWNWARD_ITEM)?;
            check(
                d,
                &format!("{i}/fieldRef"),
                &[("fieldPath", Handled), ("apiVersion", Ignored)],
            )
        })
    };
    check(d, &format!("{v}/configMap"), CONFIG_MAP_VOLUME)?;
    items(&format!("{v}/configMap"), KEY_TO_PATH)?;
    check(d, &format!("{v}/secret"), SECRET_VOLUME)?;
    items(&format!("{v}/secret"), KEY_TO_PATH)?;
    downward(&format!("{v}/downwardAPI"))?;
    check(d, &format!("{v}/csi"), CSI_VOLUME)?;
    check(
        d,
        &format!("{v}/projected"),
        &[("sources", Handled), ("defaultMode", Handled)],
    )?;
    each(d, &format!("{v}/projected/sources"), |s| {
        check(d, s, PROJECTION)?;
        for kind in ["configMap", "secret"] {
            check(d, &format!("{s}/{kind}"), PROJECTED_OBJECT)?;
            items(&format!("{s}/{kind}"), KEY_TO_PATH)?;
        }
        downward(&format!("{s}/downwardAPI"))
    })
}

/// One container at `c`: its fields, security context, env and mounts.
pub fn container(d: &Document, c: &str, extra: &[(&str, Use)]) -> Result<(), ManifestError> {
    check_in(d, c, &[CONTAINER, extra])?;
    check_in(
        d,
        &format!("{c}/securityContext"),
        &[SECURITY, CONTAINER_SECURITY],
    )?;
    each(d, &format!("{c}/restartPolicyRules"), |r| {
        check(d, r, RESTART_RULE)?;
        check(d, &format!("{r}/exitCodes"), RESTART_RULE_EXIT_CODES)
    })?;
    each(d, &format!("{c}/env"), |e| check(d, e, ENV))?;
    each(d, &format!("{c}/envFrom"), |e| check(d, e, ENV_FROM))?;
    each(d, &format!("{c}/volumeMounts"), |m| {
        check(d, m, VOLUME_MOUNT)
    })
}

/// A PodSpec at `at`: its fields, its containers', their env and mounts, and its volumes.
pub fn pod_spec(d: &Document, at: &str) -> Result<(), ManifestError> {
    check(d, at, POD_SPEC)?;
    check_in(
        d,
        &format!("{at}/securityContext"),
        &[SECURITY, POD_SECURITY],
    )?;
    for list in ["initContainers", "containers"] {
        each(d, &format!("{at}/{list}"), |c| container(d, c, &[]))?;
    }
    each(d, &format!("{at}/volumes"), |v| volume(d, v))
}

/// Each entry of the list at `pointer` (absent is fine).
pub fn each_of(
    d: &Document,
    pointer: &str,
    f: impl Fn(&str) -> Result<(), ManifestError>,
) -> Result<(), ManifestError> {
    each(d, pointer, f)
}

/// A pod template (`metadata`, `spec`) at `at`.
pub fn template(d: &Document, at: &str) -> Result<(), ManifestError> {
    check(d, at, &[("metadata", Handled), ("spec", Handled)])?;
    pod_spec(d, &format!("{at}/spec"))
}

const JOB: &[(&str, Use)] = &[
    ("template", Handled),
    ("backoffLimit", Handled),
    ("activeDeadlineSeconds", Handled),
    ("selector", Ignored),
    ("manualSelector", Ignored),
    ("ttlSecondsAfterFinished", Ignored),
    ("parallelism", Ignored),
    ("podReplacementPolicy", Ignored),
    ("completions", Only("1")),
    ("completionMode", Only("\"NonIndexed\"")),
    ("suspend", Unsupported),
    ("podFailurePolicy", Unsupported),
    ("backoffLimitPerIndex", Unsupported),
    ("maxFailedIndexes", Unsupported),
    ("successPolicy", Unsupported),
    ("managedBy", Unsupported),
];

/// A Job's spec at `at` (a Job's `/spec`, a CronJob's `/spec/jobTemplate/spec`).
pub fn job(d: &Document, at: &str) -> Result<(), ManifestError> {
    if at == "/spec" {
        top(d, &["spec"])?;
    }
    check(d, at, JOB)
}

pub fn cron_job(d: &Document) -> Result<(), ManifestError> {
    top(d, &["spec"])?;
    check(
        d,
        "/spec",
        &[
            ("jobTemplate", Handled),
            // podinit run starts the one Job now: the schedule and its history do not apply.
            ("schedule", Ignored),
            ("timeZone", Ignored),
            ("concurrencyPolicy", Ignored),
            ("startingDeadlineSeconds", Ignored),
            ("successfulJobsHistoryLimit", Ignored),
            ("failedJobsHistoryLimit", Ignored),
            ("suspend", Unsupported),
        ],
    )?;
    check(
        d,
        "/spec/jobTemplate",
        &[("metadata", Ignored), ("spec", Handled)],
    )
}

/// A Deployment, ReplicaSet, StatefulSet or DaemonSet: one pod from its template.
pub fn controller(d: &Document, kind: &str) -> Result<(), ManifestError> {
    top(d, &["spec"])?;
    let mut table = vec![
        ("template", Handled),
        ("selector", Ignored),
        ("minReadySeconds", Ignored),
        ("revisionHistoryLimit", Ignored),
    ];
    table.extend_from_slice(match kind {
        "Deployment" => &[
            ("replicas", Ignored),
            ("strategy", Ignored),
            ("progressDeadlineSeconds", Ignored),
            ("paused", Ignored),
        ][..],
        "ReplicaSet" => &[("replicas", Ignored)][..],
        "StatefulSet" => &[
            ("replicas", Ignored),
            ("serviceName", Ignored),
            ("podManagementPolicy", Ignored),
            ("updateStrategy", Ignored),
            ("persistentVolumeClaimRetentionPolicy", Ignored),
            ("ordinals", Ignored),
            ("volumeClaimTemplates", Unsupported),
        ][..],
        _ => &[("updateStrategy", Ignored)][..],
    });
    check(d, "/spec", &table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::yaml;

    fn pod(text: &str) -> Result<(), String> {
        let docs = yaml::parse("p.yaml", text).map_err(|e| e.to_string())?;
        top(&docs[0], &["spec"])
            .and_then(|()| pod_spec(&docs[0], "/spec"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn field_paths_read_as_kubectl_writes_them() {
        assert_eq!(
            field_path("/spec/containers/0/env/1/valueFrom"),
            "spec.containers[0].env[1].valueFrom"
        );
        assert_eq!(
            field_path("/metadata/annotations/a~1b"),
            "metadata.annotations.a/b"
        );
    }

    #[test]
    fn behaviour_changing_and_unknown_fields_are_named_with_their_line() {
        let head = "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n";
        for (tail, want) in [
            (
                "    envFrom: {configMapRef: {name: c}}\n",
                "line 6: spec.containers[0].envFrom must be a list",
            ),
            (
                "    envFrom: [{configMapRef: {name: c}, prefx: A}]\n",
                "line 6: spec.containers[0].envFrom[0].prefx: unknown field",
            ),
            (
                "    volumeDevices: [{name: d, devicePath: /dev/x}]\n",
                "line 6: spec.containers[0].volumeDevices: is not supported by podinit run",
            ),
            (
                "    restartPolcy: Always\n",
                "line 6: spec.containers[0].restartPolcy: unknown field",
            ),
            (
                "  hostNetwork: true\n",
                "line 6: spec.hostNetwork: is not supported",
            ),
            (
                "    securityContext: {privileged: true}\n",
                "line 6: spec.containers[0].securityContext.privileged",
            ),
            (
                "  volumes:\n  - name: c\n    nfs: {server: s, path: /}\n",
                "line 8: spec.volumes[0].nfs: this volume type is not supported",
            ),
            (
                "  volumes:\n  - name: c\n    configMap: {name: c, items: [{key: a, path: b, mod: 1}]}\n",
                "line 8: spec.volumes[0].configMap.items[0].mod: unknown field",
            ),
            (
                "  volumes:\n  - name: c\n    projected:\n      sources:\n      - serviceAccountToken: {path: t}\n",
                "line 10: spec.volumes[0].projected.sources[0].serviceAccountToken: is not supported",
            ),
            (
                "    volumeMounts: {name: x}\n",
                "line 6: spec.containers[0].volumeMounts must be a list",
            ),
            (
                "    env: [x]\n",
                "spec.containers[0].env[0] must be a mapping",
            ),
            ("status2: {}\n", "line 6: status2: unknown field"),
            // The KEP's draft YAML nests the condition under `when:`; the API has none.
            (
                "    restartPolicy: Never\n    restartPolicyRules:\n    - action: Restart\n      when: {exitCodes: {operator: In, values: [42]}}\n",
                "line 9: spec.containers[0].restartPolicyRules[0].when: unknown field",
            ),
            (
                "    restartPolicyRules: [{action: Restart, exitCodes: {operator: In, value: [42]}}]\n",
                "spec.containers[0].restartPolicyRules[0].exitCodes.value: unknown field",
            ),
            (
                "    restartPolicyRules: {action: Restart}\n",
                "spec.containers[0].restartPolicyRules must be a list",
            ),
        ] {
            let e = pod(&format!("{head}{tail}")).expect_err(tail);
            assert!(e.contains(want), "{tail}\n got {e}\n want {want}");
            assert!(e.starts_with("p.yaml, document 1, line "), "{e}");
        }
        // Defaults and harmless fields pass.
        pod(&format!("{head}    restartPolicy: Never\n    restartPolicyRules: [{{action: Restart, exitCodes: {{operator: In, values: [42]}}}}]\n")).unwrap();
        pod(&format!("{head}    resources: {{limits: {{cpu: 1}}}}\n    tty: false\n    envFrom: []\n  hostNetwork: false\n  nodeSelector: {{a: b}}\n  volumes:\n  - {{name: e, emptyDir: {{}}}}\n")).unwrap();
    }

    #[test]
    fn job_fields_that_change_the_outcome_are_refused() {
        let job = |spec: &str| -> Result<(), String> {
            let docs = yaml::parse("j.yaml", &format!("kind: Job\nspec:\n{spec}")).unwrap();
            job(&docs[0], "/spec").map_err(|e| e.to_string())
        };
        assert!(job("  completions: 1\n  completionMode: NonIndexed\n  backoffLimit: 1\n").is_ok());
        assert!(
            job("  completions: 3\n")
                .unwrap_err()
                .contains("line 3: spec.completions: is supported by podinit run only as 1")
        );
        assert!(
            job("  suspend: true\n")
                .unwrap_err()
                .contains("spec.suspend")
        );
        assert!(
            job("  podFailurePolicy: {rules: []}\n")
                .unwrap_err()
                .contains("spec.podFailurePolicy")
        );
    }
}
