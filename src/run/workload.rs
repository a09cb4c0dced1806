//! Which pod a set of manifest documents asks for: a `Pod`, the pod template of a `Job`,
//! `CronJob`, `Deployment`, `ReplicaSet`, `StatefulSet` or `DaemonSet` (one pod, as one replica
//! or one node would get), or a bare `PodSpec`. The Job's own settings that change the outcome
//! (`backoffLimit`, `activeDeadlineSeconds`) come along; the rest is checked by `fields`.

use serde_json::{Value, json};

use std::collections::BTreeMap;

use super::fields::{self, ManifestError};
use super::sidecarset::{self, Binding, SidecarSet, VIRTUAL_NODE_LABEL};
use super::sources::{Sources, namespace_of};
use super::volumes::{self, File};
use super::yaml::Document;

/// Kubernetes' default `backoffLimit`.
const DEFAULT_BACKOFF_LIMIT: u64 = 6;

/// What a Job adds to its pod: retries and a deadline over all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub backoff_limit: u64,
    pub active_deadline_seconds: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Workload {
    /// `Job test`, `Deployment web`, `PodSpec`: for messages.
    pub what: String,
    /// A Pod manifest: `metadata` (name, labels) and `spec`.
    pub pod: Value,
    pub job: Option<JobSpec>,
    /// Things the user should know about how the workload was mapped onto one local pod.
    pub notes: Vec<String>,
    /// The files of each configMap, secret, projected and downwardAPI volume, by volume name.
    pub volume_files: BTreeMap<String, Vec<File>>,
    /// A SidecarSet changed the pod.
    pub injected: bool,
    /// The pod spec's pointer in its document, for errors found after the mapping.
    spec_at: String,
}

const KINDS: &str =
    "Pod, Job, CronJob, Deployment, ReplicaSet, StatefulSet, DaemonSet, or a bare PodSpec";

/// The one workload among the documents, with the SidecarSets among them applied (as Kruise's
/// webhook does at the pod's creation), its env resolved and its projected volumes' files
/// computed from the ConfigMap and Secret documents among them (as the kubelet does).
pub fn select(docs: &[Document]) -> Result<Workload, ManifestError> {
    let mut found = Vec::new();
    let mut sources = Sources::default();
    let mut sidecar_sets = Vec::new();
    let mut bindings = Vec::new();
    for d in docs {
        match d.value.get("kind").and_then(Value::as_str) {
            Some(kind @ ("ConfigMap" | "Secret")) => {
                fields::top(
                    d,
                    &["data", "stringData", "binaryData", "type", "immutable"],
                )?;
                sources.add(d, kind)?;
            }
            Some("SidecarSet") => sidecar_sets.push(SidecarSet::parse(d)?),
            Some("SidecarSetResourceBinding") => bindings.push(Binding::parse(d)?),
            _ => found.push((d, workload(d)?)),
        }
    }
    if found.len() == 1 {
        let (d, mut w) = found.remove(0);
        if !sidecar_sets.is_empty() {
            label_as_on_a_virtual_node(&mut w);
        }
        let injection = sidecarset::apply(&mut w.pod, &sidecar_sets, &bindings)?;
        if !injection.applied.is_empty() {
            w.notes.push(format!(
                "SidecarSet {} applied: the pod as injected is what runs (--explain prints it)",
                injection.applied.join(", ")
            ));
            w.injected = true;
        }
        resolve(&mut w, d, &sources, &injection)?;
        return Ok(w);
    }
    let found: Vec<Workload> = found.into_iter().map(|(_, w)| w).collect();
    match found.len() {
        // (one workload returned above)
        0 => Err(ManifestError::plain(
            "no documents to run: podinit run needs a ".to_owned() + KINDS,
        )),
        _ => Err(ManifestError::plain(format!(
            "{} workloads ({}): podinit run runs one pod; give it one of them",
            found.len(),
            found
                .iter()
                .map(|w| w.what.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The label a virtual node puts on its pods, which the ACK document's SidecarSets select.
fn label_as_on_a_virtual_node(w: &mut Workload) {
    let Some(meta) = w.pod.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = meta.entry("labels").or_insert_with(|| json!({}));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(VIRTUAL_NODE_LABEL.into(), Value::String("true".into()));
        w.notes.push(format!(
            "the pod is labelled {VIRTUAL_NODE_LABEL}: \"true\", as a virtual node labels the pods scheduled to it"
        ));
    }
}

/// The kubelet's part: env from the ConfigMaps and Secrets, and the projected volumes' files,
/// each named at its line in the document it came from (the pod's, or a SidecarSet's).
fn resolve(
    w: &mut Workload,
    d: &Document,
    sources: &Sources,
    injection: &sidecarset::Injection,
) -> Result<(), ManifestError> {
    let ns = namespace_of(&w.pod).to_owned();
    let original = d.value.pointer(&w.spec_at).cloned().unwrap_or_default();
    let index_in = |list: &str, name: &str| {
        original
            .get(list)
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().position(|c| c["name"] == name))
    };
    let spec_at = w.spec_at.clone();
    let Some(spec) = w.pod.get_mut("spec") else {
        return Ok(());
    };
    for list in ["initContainers", "containers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let name = c["name"].as_str().unwrap_or("").to_owned();
            match injection.containers.get(&name) {
                Some(o) => sources.resolve_container_env(c, &ns, o.doc, &o.at)?,
                None => {
                    let i = index_in(list, &name).unwrap_or(0);
                    sources.resolve_container_env(c, &ns, d, &format!("{spec_at}/{list}/{i}"))?;
                }
            }
        }
    }
    let pod = volumes::PodInfo {
        namespace: &ns,
        metadata: &w.pod["metadata"],
    };
    for (i, vol) in w.pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = vol["name"].as_str().unwrap_or("").to_owned();
        let origin = match injection.volumes.get(&name) {
            Some(o) => volumes::Origin {
                doc: o.doc,
                at: o.at.clone(),
                namespaced_refs: true,
            },
            None => volumes::Origin {
                doc: d,
                at: format!("{spec_at}/volumes/{i}"),
                namespaced_refs: false,
            },
        };
        if let Some(files) = volumes::files(vol, &pod, sources, &origin)? {
            w.volume_files.insert(name, files);
        }
    }
    Ok(())
}

fn name_of(d: &Document) -> String {
    d.value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn workload(d: &Document) -> Result<Workload, ManifestError> {
    let Some(obj) = d.value.as_object() else {
        return Err(ManifestError::at(d, "", "a document must be a mapping"));
    };
    let kind = match obj.get("kind") {
        None if obj.contains_key("containers") => "PodSpec",
        None => {
            return Err(ManifestError::at(
                d,
                "",
                format!("no kind: podinit run takes a {KINDS}"),
            ));
        }
        Some(Value::String(k)) => k.as_str(),
        Some(_) => return Err(ManifestError::at(d, "/kind", "kind must be a string")),
    };
    let name = name_of(d);
    let what = if kind == "PodSpec" {
        kind.to_owned()
    } else {
        format!("{kind} {name}")
    };
    let mut notes = Vec::new();
    // (pointer of the pod template, pointer of the Job spec if any)
    let (template, job_at): (&str, Option<&str>) = match kind {
        "PodSpec" => {
            fields::pod_spec(d, "")?;
            return Ok(Workload {
                what,
                pod: json!({"metadata": {"name": "pod"}, "spec": d.value}),
                job: None,
                notes,
                volume_files: BTreeMap::new(),
                injected: false,
                spec_at: String::new(),
            });
        }
        "Pod" => {
            fields::top(d, &["spec"])?;
            fields::pod_spec(d, "/spec")?;
            return Ok(Workload {
                what,
                pod: json!({"metadata": obj.get("metadata").cloned().unwrap_or(json!({})), "spec": obj.get("spec").cloned().unwrap_or(json!({}))}),
                job: None,
                notes,
                volume_files: BTreeMap::new(),
                injected: false,
                spec_at: "/spec".into(),
            });
        }
        "Job" => ("/spec/template", Some("/spec")),
        "CronJob" => {
            notes.push(
                "CronJob: one Job from its jobTemplate, now (the schedule is not waited for)"
                    .into(),
            );
            fields::cron_job(d)?;
            (
                "/spec/jobTemplate/spec/template",
                Some("/spec/jobTemplate/spec"),
            )
        }
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => {
            fields::controller(d, kind)?;
            if let Some(r) = d.value.pointer("/spec/replicas").and_then(Value::as_u64) {
                if r != 1 {
                    notes.push(format!("{what}: replicas {r}, podinit run runs one pod"));
                }
            }
            ("/spec/template", None)
        }
        other => {
            return Err(ManifestError::at(
                d,
                "/kind",
                format!("kind {other} is not something podinit run runs (it takes a {KINDS})"),
            ));
        }
    };
    let job = match job_at {
        Some(at) => {
            fields::job(d, at)?;
            Some(job_spec(d, at)?)
        }
        None => None,
    };
    let Some(t) = d.value.pointer(template) else {
        return Err(ManifestError::at(
            d,
            "",
            format!(
                "{what} has no pod template ({})",
                &template[1..].replace('/', ".")
            ),
        ));
    };
    fields::template(d, template)?;
    let mut metadata = t.get("metadata").cloned().unwrap_or(json!({}));
    if let Some(m) = metadata.as_object_mut() {
        // A controller's pod is named after it, as `NAME-xxxxx` would be, in its namespace.
        if !m.contains_key("name") {
            m.insert(
                "name".into(),
                Value::String(if name.is_empty() { "pod".into() } else { name }),
            );
        }
        if let Some(ns) = d.value.pointer("/metadata/namespace") {
            m.entry("namespace").or_insert_with(|| ns.clone());
        }
    }
    Ok(Workload {
        what,
        pod: json!({"metadata": metadata, "spec": t.get("spec").cloned().unwrap_or(json!({}))}),
        job,
        notes,
        volume_files: BTreeMap::new(),
        injected: false,
        spec_at: format!("{template}/spec"),
    })
}

/// The Job's `backoffLimit` (default 6) and `activeDeadlineSeconds`, strict about their types.
fn job_spec(d: &Document, at: &str) -> Result<JobSpec, ManifestError> {
    let count = |field: &str| -> Result<Option<u64>, ManifestError> {
        let p = format!("{at}/{field}");
        match d.value.pointer(&p) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                ManifestError::at(d, &p, format!("{field} must be a non-negative integer"))
            }),
        }
    };
    Ok(JobSpec {
        backoff_limit: count("backoffLimit")?.unwrap_or(DEFAULT_BACKOFF_LIMIT),
        active_deadline_seconds: count("activeDeadlineSeconds")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::yaml;

    fn select_text(text: &str) -> Result<Workload, String> {
        let docs = yaml::parse("t.yaml", text).map_err(|e| e.to_string())?;
        select(&docs).map_err(|e| e.to_string())
    }

    const CONTAINERS: &str = "      containers:\n      - name: app\n        image: busybox\n";

    #[test]
    fn every_kind_gives_its_pod_template() {
        for (head, indent, kind) in [
            (
                "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  backoffLimit: 2\n  template:\n    spec:\n",
                "",
                "Job j",
            ),
            (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 3\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n",
                "",
                "Deployment d",
            ),
            (
                "kind: StatefulSet\nmetadata: {name: s}\nspec:\n  serviceName: s\n  template:\n    spec:\n",
                "",
                "StatefulSet s",
            ),
            (
                "kind: DaemonSet\nmetadata: {name: ds}\nspec:\n  template:\n    spec:\n",
                "",
                "DaemonSet ds",
            ),
            (
                "kind: ReplicaSet\nmetadata: {name: rs}\nspec:\n  template:\n    spec:\n",
                "",
                "ReplicaSet rs",
            ),
            (
                "kind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      activeDeadlineSeconds: 5\n      template:\n        spec:\n",
                "    ",
                "CronJob c",
            ),
        ] {
            let containers: String = CONTAINERS
                .lines()
                .map(|l| format!("{indent}{l}\n"))
                .collect();
            let w = select_text(&format!("{head}{containers}"))
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(w.what, kind);
            assert_eq!(w.pod["spec"]["containers"][0]["name"], "app", "{kind}");
            assert!(w.pod["metadata"]["name"].is_string(), "{kind}");
        }
        let j = select_text(&format!(
            "kind: Job\nmetadata: {{name: j}}\nspec:\n  template:\n    spec:\n{CONTAINERS}"
        ))
        .unwrap();
        assert_eq!(
            j.job,
            Some(JobSpec {
                backoff_limit: 6,
                active_deadline_seconds: None
            })
        );
        let c = select_text(&format!("kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      backoffLimit: 0\n      activeDeadlineSeconds: 5\n      template:\n        spec:\n{}", CONTAINERS.lines().map(|l| format!("    {l}\n")).collect::<String>())).unwrap();
        assert_eq!(
            c.job,
            Some(JobSpec {
                backoff_limit: 0,
                active_deadline_seconds: Some(5)
            })
        );
        let bare = select_text("containers:\n- name: a\n").unwrap();
        assert_eq!(bare.what, "PodSpec");
        let pod = select_text(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n",
        )
        .unwrap();
        assert_eq!(pod.pod["metadata"]["name"], "p");
    }

    #[test]
    fn wrong_documents_are_named_with_their_line() {
        for (text, expect) in [
            (
                "kind: Pod\nspec: {containers: [{name: a}]}\n---\nkind: Service\nmetadata: {name: s}\n",
                "t.yaml, document 2, line 4: kind Service is not something podinit run runs",
            ),
            (
                "kind: Job\nmetadata: {name: j}\nspec:\n  backoffLimit: -1\n  template: {spec: {containers: [{name: a}]}}\n",
                "line 4: backoffLimit must be a non-negative integer",
            ),
            (
                "kind: Job\nmetadata: {name: j}\nspec: {}\n",
                "Job j has no pod template (spec.template)",
            ),
            (
                "kind: Pod\nspec: {containers: [{name: a}]}\n---\nkind: Pod\nspec: {containers: [{name: b}]}\n",
                "2 workloads",
            ),
            ("- a\n- b\n", "a document must be a mapping"),
            ("metadata: {}\n", "no kind"),
            ("kind: 3\n", "line 1: kind must be a string"),
            (
                "kind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
                "no documents to run",
            ),
            (
                "kind: ConfigMap\nmetadata: {name: c}\ndatta: {a: b}\n",
                "line 3: datta: unknown field",
            ),
            (
                "kind: Pod\nspec:\n  containers:\n  - name: a\n    envFrom: [{configMapRef: {name: c}}]\n",
                "line 5: spec.containers[0].envFrom[0]: ConfigMap \"c\" is not among",
            ),
            ("", "no documents"),
        ] {
            let e = select_text(text).expect_err(text);
            assert!(e.contains(expect), "{text:?}\n got {e}\n want {expect}");
        }
    }
}
