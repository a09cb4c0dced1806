//! OpenKruise `SidecarSet` documents (apps.kruise.io/v1alpha1) applied to the pod as Kruise's
//! pod-creation webhook applies them, for the features of Kruise ≤ 1.3 (the ones the ACK
//! virtual-node document lists as supported): the selector (the pod carries the virtual node's
//! `serverless.alibabacloud.com/virtual-node: "true"` label), `namespace`, containers with
//! `podInjectPolicy`, `shareVolumePolicy` and `transferEnv`, initContainers, volumes merged by
//! name. The rules follow openkruise/kruise v1.3.0, pkg/webhook/pod/mutating/sidecarset.go
//! (`sidecarsetMutatingPod`, `buildSidecars`, `mergeSidecarContainers`) and
//! pkg/control/sidecarcontrol/util.go (`PodMatchedSidecarSet`, `GetInjectedVolumeMountsAndEnvs`,
//! `GetSidecarTransferEnvs`); each function below names the one it follows.
//!
//! ACK's own addition: a SidecarSet's ConfigMap/Secret volume may name `namespace/name` in
//! another namespace when a `SidecarSetResourceBinding` (sidecarset.alibabacloud.com/v1alpha1)
//! in that namespace names the SidecarSet as a subject and the object as a resourceRef; without
//! one the pod is refused.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::fields::{self, ManifestError, Use, field_path};
use super::sources::namespace_of;
use super::yaml::Document;

/// The label a virtual node puts on the pods scheduled to it, which the ACK document's
/// SidecarSets select.
pub const VIRTUAL_NODE_LABEL: &str = "serverless.alibabacloud.com/virtual-node";

/// Kruise's `SidecarEnvKey`: every injected container carries `IS_INJECTED=true`.
const INJECTED_ENV: &str = "IS_INJECTED";

/// Kruise's `SidecarSetListAnnotation`.
const INJECTED_LIST_ANNOTATION: &str = "kruise.io/sidecarset-injected-list";

const SPEC: &[(&str, Use)] = &[
    ("selector", Use::Handled),
    ("namespace", Use::Handled),
    ("namespaceSelector", Use::Handled),
    ("containers", Use::Handled),
    ("initContainers", Use::Handled),
    ("volumes", Use::Handled),
    ("injectionStrategy", Use::Handled),
    // Updates of running pods and revision history: a local pod is created once.
    ("updateStrategy", Use::Ignored),
    ("revisionHistoryLimit", Use::Ignored),
    ("imagePullSecrets", Use::Ignored),
    ("patchPodMetadata", Use::Unsupported),
];

const SIDECAR_CONTAINER: &[(&str, Use)] = &[
    ("podInjectPolicy", Use::Handled),
    ("shareVolumePolicy", Use::Handled),
    ("transferEnv", Use::Handled),
    ("upgradeStrategy", Use::Handled),
];

const TRANSFER_ENV: &[(&str, Use)] = &[
    ("sourceContainerName", Use::Handled),
    ("sourceContainerNameFrom", Use::Handled),
    ("envName", Use::Handled),
    ("envNames", Use::Handled),
];

/// One SidecarSet document, checked.
pub struct SidecarSet<'a> {
    pub doc: &'a Document,
    pub name: String,
}

/// One SidecarSetResourceBinding: in `namespace`, these SidecarSets may read these objects.
pub struct Binding {
    namespace: String,
    sidecar_sets: BTreeSet<String>,
    /// (kind, name)
    resources: BTreeSet<(String, String)>,
}

impl<'a> SidecarSet<'a> {
    pub fn parse(d: &'a Document) -> Result<Self, ManifestError> {
        fields::top(d, &["spec"])?;
        let name = d
            .value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .ok_or_else(|| ManifestError::at(d, "/metadata", "a SidecarSet needs metadata.name"))?
            .to_owned();
        fields::check(d, "/spec", SPEC)?;
        fields::check(
            d,
            "/spec/injectionStrategy",
            &[("paused", Use::Handled), ("revision", Use::Unsupported)],
        )?;
        for s in ["/spec/selector", "/spec/namespaceSelector"] {
            selector_fields(d, s)?;
        }
        let mut volumes = BTreeSet::new();
        fields::each_of(d, "/spec/volumes", |v| fields::volume(d, v))?;
        for v in d
            .value
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            volumes.insert(
                v.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            );
        }
        for list in ["initContainers", "containers"] {
            let at = format!("/spec/{list}");
            fields::each_of(d, &at, |c| {
                fields::container(d, c, SIDECAR_CONTAINER)?;
                fields::check(
                    d,
                    &format!("{c}/shareVolumePolicy"),
                    &[("type", Use::Handled)],
                )?;
                fields::check(
                    d,
                    &format!("{c}/upgradeStrategy"),
                    &[
                        ("upgradeType", Use::Only("\"ColdUpgrade\"")),
                        ("hotUpgradeEmptyImage", Use::Ignored),
                    ],
                )?;
                fields::each_of(d, &format!("{c}/transferEnv"), |t| {
                    fields::check(d, t, TRANSFER_ENV)?;
                    fields::check(
                        d,
                        &format!("{t}/sourceContainerNameFrom"),
                        &[("fieldRef", Use::Handled)],
                    )
                })?;
                let c_value = d.value.pointer(c).cloned().unwrap_or_default();
                one_of(
                    d,
                    &format!("{c}/podInjectPolicy"),
                    &c_value["podInjectPolicy"],
                    &["BeforeAppContainer", "AfterAppContainer"],
                )?;
                one_of(
                    d,
                    &format!("{c}/shareVolumePolicy/type"),
                    &c_value["shareVolumePolicy"]["type"],
                    &["enabled", "disabled"],
                )?;
                // Kruise validates the sidecars with the SidecarSet's volumes as a pod spec: a
                // mount names one of them (the webhook dereferences it unchecked).
                for (i, m) in c_value["volumeMounts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let vname = m.get("name").and_then(Value::as_str).unwrap_or("");
                    if !volumes.contains(vname) {
                        let at = format!("{c}/volumeMounts/{i}/name");
                        return Err(ManifestError::at(
                            d,
                            &at,
                            format!(
                                "{}: {vname:?} is not one of the SidecarSet's volumes",
                                field_path(&at)
                            ),
                        ));
                    }
                }
                Ok(())
            })?;
        }
        Ok(SidecarSet { doc: d, name })
    }

    fn spec(&self) -> &Value {
        &self.doc.value["spec"]
    }

    /// `PodMatchedSidecarSet`: the SidecarSet's `namespace` (if set) is the pod's, and its
    /// selector is non-empty and matches the pod's labels. `namespaceSelector` (Kruise 1.4)
    /// matches the namespace's `kubernetes.io/metadata.name` label, the one label every
    /// namespace has.
    fn matches(&self, pod_ns: &str, labels: &BTreeMap<String, String>) -> bool {
        let spec = self.spec();
        if let Some(ns) = spec.get("namespace").and_then(Value::as_str) {
            if !ns.is_empty() && ns != pod_ns {
                return false;
            }
        }
        if let Some(sel) = spec.get("namespaceSelector").filter(|s| !s.is_null()) {
            let ns_labels =
                BTreeMap::from([("kubernetes.io/metadata.name".to_owned(), pod_ns.to_owned())]);
            if !selector_matches(sel, &ns_labels) {
                return false;
            }
        }
        match spec.get("selector") {
            Some(sel) if !selector_is_empty(sel) => selector_matches(sel, labels),
            _ => false,
        }
    }

    fn paused(&self) -> bool {
        self.spec()
            .pointer("/injectionStrategy/paused")
            .and_then(Value::as_bool)
            == Some(true)
    }
}

impl Binding {
    pub fn parse(d: &Document) -> Result<Self, ManifestError> {
        fields::top(d, &["spec"])?;
        fields::check(
            d,
            "/spec",
            &[("subjects", Use::Handled), ("resourceRefs", Use::Handled)],
        )?;
        let mut sidecar_sets = BTreeSet::new();
        let mut resources = BTreeSet::new();
        for (list, kinds) in [
            ("subjects", &["SidecarSet"][..]),
            ("resourceRefs", &["ConfigMap", "Secret"][..]),
        ] {
            let at = format!("/spec/{list}");
            fields::each_of(d, &at, |e| {
                fields::check(
                    d,
                    e,
                    &[
                        ("kind", Use::Handled),
                        ("name", Use::Handled),
                        ("apiVersion", Use::Ignored),
                    ],
                )
            })?;
            for (i, e) in d
                .value
                .pointer(&at)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let kind = e.get("kind").and_then(Value::as_str).unwrap_or("");
                let name = e
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                if !kinds.contains(&kind) {
                    let at = format!("{at}/{i}/kind");
                    return Err(ManifestError::at(
                        d,
                        &at,
                        format!(
                            "{}: kind {kind:?} must be {}",
                            field_path(&at),
                            kinds.join(" or ")
                        ),
                    ));
                }
                if list == "subjects" {
                    sidecar_sets.insert(name);
                } else {
                    resources.insert((kind.to_owned(), name));
                }
            }
        }
        Ok(Binding {
            namespace: namespace_of(&d.value).to_owned(),
            sidecar_sets,
            resources,
        })
    }

    fn grants(&self, sidecar_set: &str, kind: &str, ns: &str, name: &str) -> bool {
        self.namespace == ns
            && self.sidecar_sets.contains(sidecar_set)
            && self.resources.contains(&(kind.to_owned(), name.to_owned()))
    }
}

fn selector_fields(d: &Document, at: &str) -> Result<(), ManifestError> {
    fields::check(
        d,
        at,
        &[
            ("matchLabels", Use::Handled),
            ("matchExpressions", Use::Handled),
        ],
    )?;
    fields::each_of(d, &format!("{at}/matchExpressions"), |e| {
        fields::check(
            d,
            e,
            &[
                ("key", Use::Handled),
                ("operator", Use::Handled),
                ("values", Use::Handled),
            ],
        )?;
        let op = d
            .value
            .pointer(&format!("{e}/operator"))
            .cloned()
            .unwrap_or_default();
        one_of(
            d,
            &format!("{e}/operator"),
            &op,
            &["In", "NotIn", "Exists", "DoesNotExist"],
        )?;
        if op.is_null() {
            return Err(ManifestError::at(
                d,
                e,
                format!("{}: needs an operator", field_path(e)),
            ));
        }
        Ok(())
    })
}

fn one_of(d: &Document, at: &str, v: &Value, allowed: &[&str]) -> Result<(), ManifestError> {
    match v {
        Value::Null => Ok(()),
        Value::String(s) if allowed.contains(&s.as_str()) => Ok(()),
        _ => Err(ManifestError::at(
            d,
            at,
            format!(
                "{}: {v} is not one of {}",
                field_path(at),
                allowed.join(", ")
            ),
        )),
    }
}

fn selector_is_empty(sel: &Value) -> bool {
    let n = |k: &str| {
        sel.get(k)
            .and_then(|v| {
                v.as_object()
                    .map(|o| o.len())
                    .or(v.as_array().map(Vec::len))
            })
            .unwrap_or(0)
    };
    n("matchLabels") == 0 && n("matchExpressions") == 0
}

/// A metav1.LabelSelector against labels: every matchLabels pair, every expression.
fn selector_matches(sel: &Value, labels: &BTreeMap<String, String>) -> bool {
    let pairs_match = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let exprs_match = sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let have = labels.get(key);
            match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => have.is_some_and(|v| values.contains(&v.as_str())),
                "NotIn" => have.is_none_or(|v| !values.contains(&v.as_str())),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        });
    pairs_match && exprs_match
}

/// Where an injected container or volume came from: the SidecarSet's document and its pointer.
pub struct Injected<'a> {
    pub doc: &'a Document,
    pub at: String,
    pub sidecar_set: String,
}

/// What applying the SidecarSets did.
#[derive(Default)]
pub struct Injection<'a> {
    /// Injected container name → its origin.
    pub containers: BTreeMap<String, Injected<'a>>,
    /// Injected volume name → its origin.
    pub volumes: BTreeMap<String, Injected<'a>>,
    /// The SidecarSets applied, by name.
    pub applied: Vec<String>,
}

fn env_of(c: &Value) -> Vec<Value> {
    c.get("env")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn name_of(v: &Value) -> &str {
    v.get("name").and_then(Value::as_str).unwrap_or("")
}

/// util.MergeEnvVar / MergeVolumeMounts / MergeVolumes: append what the original lacks by `key`.
fn merge_by(original: &mut Vec<Value>, additional: Vec<Value>, key: &str) {
    let mut have: BTreeSet<String> = original
        .iter()
        .map(|v| v[key].as_str().unwrap_or("").to_owned())
        .collect();
    for v in additional {
        if have.insert(v[key].as_str().unwrap_or("").to_owned()) {
            original.push(v);
        }
    }
}

/// `GetSidecarTransferEnvs`: the env entries named by `transferEnv`, copied from the pod's
/// (original) containers.
fn transfer_envs(sidecar: &Value, pod: &Value) -> Vec<Value> {
    let mut in_pod: BTreeMap<(String, String), Value> = BTreeMap::new();
    for c in pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for e in env_of(c) {
            in_pod.insert((name_of(c).to_owned(), name_of(&e).to_owned()), e);
        }
    }
    let mut out = Vec::new();
    for t in sidecar
        .get("transferEnv")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // A sorted set of names, as Kruise's `sets.NewString(...).List()`.
        let mut names = BTreeSet::new();
        if let Some(n) = t
            .get("envName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            names.insert(n.to_owned());
        }
        for n in t
            .get("envNames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            names.insert(n.to_owned());
        }
        let mut source = t
            .get("sourceContainerName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if let Some(path) = t
            .pointer("/sourceContainerNameFrom/fieldRef/fieldPath")
            .and_then(Value::as_str)
        {
            match container_name_from(path, pod) {
                Some(s) => source = s,
                // Kruise logs the failure and skips this entry.
                None => continue,
            }
        }
        for n in names {
            if let Some(e) = in_pod.get(&(source.clone(), n)) {
                out.push(e.clone());
            }
        }
    }
    out
}

/// `ExtractContainerNameFromFieldPath`: `metadata.labels['k']`, `metadata.annotations['k']`,
/// `metadata.name`, `metadata.namespace` of the pod.
fn container_name_from(path: &str, pod: &Value) -> Option<String> {
    let meta = &pod["metadata"];
    match path {
        "metadata.name" => meta.get("name")?.as_str().map(str::to_owned),
        "metadata.namespace" => Some(namespace_of(pod).to_owned()),
        _ => {
            let (map, rest) = path.split_once("['")?;
            let key = rest.strip_suffix("']")?;
            let field = map.strip_prefix("metadata.")?;
            meta.get(field)?.get(key)?.as_str().map(str::to_owned)
        }
    }
}

/// `GetInjectedVolumeMountsAndEnvs`: with `shareVolumePolicy.type: enabled`, every volumeMount
/// of the pod's (not injected) app containers, and the env their `subPathExpr` uses.
fn shared_mounts(sidecar: &Value, pod: &Value) -> (Vec<Value>, Vec<Value>) {
    if sidecar
        .pointer("/shareVolumePolicy/type")
        .and_then(Value::as_str)
        != Some("enabled")
    {
        return (Vec::new(), Vec::new());
    }
    let (mut mounts, mut envs) = (Vec::new(), Vec::new());
    for c in pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let env = env_of(c);
        if env
            .iter()
            .any(|e| name_of(e) == INJECTED_ENV && e["value"] == "true")
        {
            continue;
        }
        for m in c
            .get("volumeMounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            mounts.push(m.clone());
            // $(NAME) references in subPathExpr: copy the container's env entry NAME.
            let expr = m.get("subPathExpr").and_then(Value::as_str).unwrap_or("");
            let mut rest = expr;
            while let Some(i) = rest.find("$(") {
                let Some(j) = rest[i..].find(')') else { break };
                let var = &rest[i + 2..i + j];
                if let Some(e) = env.iter().find(|e| name_of(e) == var) {
                    envs.push(e.clone());
                }
                rest = &rest[i + j..];
            }
        }
    }
    (mounts, envs)
}

/// Apply every matching SidecarSet to `pod` (a Pod manifest: metadata + spec), in name order
/// as Kruise lists them; refuse a cross-namespace reference no binding grants.
pub fn apply<'a>(
    pod: &mut Value,
    sets: &[SidecarSet<'a>],
    bindings: &[Binding],
) -> Result<Injection<'a>, ManifestError> {
    let mut injection = Injection::default();
    let pod_ns = namespace_of(pod).to_owned();
    let labels: BTreeMap<String, String> = pod
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
        .collect();
    let mut order: Vec<&SidecarSet> = sets.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let original = pod.clone();
    let (mut inits, mut sidecars, mut volumes) = (Vec::new(), Vec::new(), Vec::new());
    for set in order {
        if set.paused() || !set.matches(&pod_ns, &labels) {
            continue;
        }
        injection.applied.push(set.name.clone());
        let spec = set.spec();
        let set_volumes: BTreeMap<&str, (usize, &Value)> = spec
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, v)| (name_of(v), (i, v)))
            .collect();
        let used = |c: &Value, volumes: &mut Vec<(Value, Injected<'a>)>| {
            for m in c
                .get("volumeMounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some((i, v)) = set_volumes.get(name_of(m)) {
                    volumes.push((
                        (*v).clone(),
                        Injected {
                            doc: set.doc,
                            at: format!("/spec/volumes/{i}"),
                            sidecar_set: set.name.clone(),
                        },
                    ));
                }
            }
        };
        for (i, c) in spec
            .get("initContainers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut c = c.clone();
            let mut env = env_of(&c);
            env.push(json!({"name": INJECTED_ENV, "value": "true"}));
            // For initContainers v1.3 appends the transferred env without merging.
            env.extend(transfer_envs(&c, &original));
            set_field(&mut c, "env", env);
            used(&c, &mut volumes);
            inits.push((
                strip_sidecar_fields(c),
                Injected {
                    doc: set.doc,
                    at: format!("/spec/initContainers/{i}"),
                    sidecar_set: set.name.clone(),
                },
            ));
        }
        for (i, c) in spec
            .get("containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut c = c.clone();
            let (shared, shared_env) = shared_mounts(&c, &original);
            let mut transferred = transfer_envs(&c, &original);
            merge_by(&mut transferred, shared_env, "name");
            used(&c, &mut volumes);
            let mut mounts = c
                .get("volumeMounts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            merge_by(&mut mounts, shared, "mountPath");
            if !mounts.is_empty() {
                set_field(&mut c, "volumeMounts", mounts);
            }
            let mut env = env_of(&c);
            env.push(json!({"name": INJECTED_ENV, "value": "true"}));
            merge_by(&mut env, transferred, "name");
            set_field(&mut c, "env", env);
            let after =
                c.get("podInjectPolicy").and_then(Value::as_str) == Some("AfterAppContainer");
            sidecars.push((
                strip_sidecar_fields(c),
                after,
                Injected {
                    doc: set.doc,
                    at: format!("/spec/containers/{i}"),
                    sidecar_set: set.name.clone(),
                },
            ));
        }
    }
    if injection.applied.is_empty() {
        return Ok(injection);
    }
    let spec = pod
        .get_mut("spec")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ManifestError::plain("the pod has no spec"))?;
    // 1. initContainers, sorted by name, after the pod's own.
    inits.sort_by(|a, b| name_of(&a.0).cmp(name_of(&b.0)));
    let mut pod_inits = spec
        .get("initContainers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (c, origin) in inits {
        injection.containers.insert(name_of(&c).to_owned(), origin);
        pod_inits.push(c);
    }
    if !pod_inits.is_empty() {
        spec.insert("initContainers".into(), Value::Array(pod_inits));
    }
    // 2. mergeSidecarContainers: a sidecar named like a pod container replaces it in place;
    // the others go before (BeforeAppContainer, the default) or after the app containers.
    let mut containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (mut before, mut after_list) = (Vec::new(), Vec::new());
    for (c, after, origin) in sidecars {
        injection.containers.insert(name_of(&c).to_owned(), origin);
        if let Some(existing) = containers.iter_mut().find(|o| name_of(o) == name_of(&c)) {
            *existing = c;
        } else if after {
            after_list.push(c);
        } else {
            before.push(c);
        }
    }
    before.extend(containers);
    before.extend(after_list);
    spec.insert("containers".into(), Value::Array(before));
    // 3. util.MergeVolumes: a pod volume of the same name wins.
    let mut pod_volumes = spec
        .get("volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut have: BTreeSet<String> = pod_volumes.iter().map(|v| name_of(v).to_owned()).collect();
    for (v, origin) in volumes {
        if have.insert(name_of(&v).to_owned()) {
            check_grants(&v, &origin, &pod_ns, bindings)?;
            injection.volumes.insert(name_of(&v).to_owned(), origin);
            pod_volumes.push(v);
        }
    }
    if !pod_volumes.is_empty() {
        spec.insert("volumes".into(), Value::Array(pod_volumes));
    }
    // 5. annotations.
    if let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        let ann = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(ann) = ann.as_object_mut() {
            ann.insert(
                INJECTED_LIST_ANNOTATION.into(),
                Value::String(injection.applied.join(",")),
            );
        }
    }
    Ok(injection)
}

fn set_field(c: &mut Value, field: &str, v: Vec<Value>) {
    if let Some(o) = c.as_object_mut() {
        o.insert(field.into(), Value::Array(v));
    }
}

/// The SidecarContainer fields that are not a core/v1 Container's.
fn strip_sidecar_fields(mut c: Value) -> Value {
    if let Some(o) = c.as_object_mut() {
        for (k, _) in SIDECAR_CONTAINER {
            o.remove(*k);
        }
    }
    c
}

/// ACK: a `namespace/name` ConfigMap or Secret in another namespace than the pod's needs a
/// SidecarSetResourceBinding there naming the SidecarSet and the object.
fn check_grants(
    vol: &Value,
    origin: &Injected,
    pod_ns: &str,
    bindings: &[Binding],
) -> Result<(), ManifestError> {
    let mut refs: Vec<(&str, &str, String)> = Vec::new();
    if let Some(n) = vol.pointer("/configMap/name").and_then(Value::as_str) {
        refs.push(("ConfigMap", n, format!("{}/configMap/name", origin.at)));
    }
    if let Some(n) = vol.pointer("/secret/secretName").and_then(Value::as_str) {
        refs.push(("Secret", n, format!("{}/secret/secretName", origin.at)));
    }
    for (i, s) in vol
        .pointer("/projected/sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (field, kind) in [("configMap", "ConfigMap"), ("secret", "Secret")] {
            if let Some(n) = s
                .get(field)
                .and_then(|o| o.get("name"))
                .and_then(Value::as_str)
            {
                refs.push((
                    kind,
                    n,
                    format!("{}/projected/sources/{i}/{field}/name", origin.at),
                ));
            }
        }
    }
    for (kind, reference, at) in refs {
        let Some((ns, name)) = reference.split_once('/') else {
            continue;
        };
        if ns == pod_ns
            || bindings
                .iter()
                .any(|b| b.grants(&origin.sidecar_set, kind, ns, name))
        {
            continue;
        }
        return Err(ManifestError::at(
            origin.doc,
            &at,
            format!(
                "{}: SidecarSet {} cannot inject volume {:?} into the pod (namespace {pod_ns}): \
                 {kind} {ns}/{name} is in another namespace and no SidecarSetResourceBinding in \
                 namespace {ns} grants it (one with subjects [{{kind: SidecarSet, name: {}}}] and \
                 resourceRefs [{{kind: {kind}, name: {name}}}]); the platform refuses such a pod. \
                 Give podinit run the binding's manifest",
                field_path(&at),
                origin.sidecar_set,
                name_of(vol),
                origin.sidecar_set,
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
