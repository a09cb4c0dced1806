//! One case per Kruise rule (v1.3.0 pod webhook), on a pod with one app container.

use rstest::rstest;
use serde_json::{Value, json};

use super::*;
use crate::run::yaml;

const POD: &str = "kind: Pod\nmetadata:\n  name: p\n  labels: {app: web, env-source: app, serverless.alibabacloud.com/virtual-node: \"true\"}\nspec:\n  initContainers:\n  - {name: setup}\n  containers:\n  - name: app\n    env: [{name: A, value: a}, {name: B, value: b}]\n    volumeMounts: [{name: data, mountPath: /data}]\n  volumes:\n  - {name: data, emptyDir: {}}\n";

/// The pod after applying the SidecarSet whose `spec` is `spec` (YAML flow), plus `bindings`.
fn inject(spec: &str, bindings: &str) -> Result<Value, String> {
    let text = format!("kind: SidecarSet\nmetadata: {{name: s}}\nspec: {spec}\n---\n{bindings}");
    let docs = yaml::parse("s.yaml", &text).map_err(|e| e.to_string())?;
    let set = SidecarSet::parse(&docs[0]).map_err(|e| e.to_string())?;
    let bindings: Vec<Binding> = docs[1..]
        .iter()
        .map(Binding::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let mut pod = yaml::parse("p.yaml", POD).unwrap()[0].value.clone();
    apply(&mut pod, &[set], &bindings).map_err(|e| e.to_string())?;
    Ok(pod)
}

fn names(pod: &Value, list: &str) -> Vec<String> {
    pod["spec"][list]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

const SEL: &str = "selector: {matchLabels: {app: web}}";

#[rstest]
#[case::match_labels(
    "{selector: {matchLabels: {app: web}}, containers: [{name: sc}]}",
    true
)]
#[case::virtual_node_label(
    "{selector: {matchLabels: {serverless.alibabacloud.com/virtual-node: \"true\"}}, containers: [{name: sc}]}",
    true
)]
#[case::labels_differ(
    "{selector: {matchLabels: {app: db}}, containers: [{name: sc}]}",
    false
)]
#[case::expr_in(
    "{selector: {matchExpressions: [{key: app, operator: In, values: [db, web]}]}, containers: [{name: sc}]}",
    true
)]
#[case::expr_not_in(
    "{selector: {matchExpressions: [{key: app, operator: NotIn, values: [web]}]}, containers: [{name: sc}]}",
    false
)]
#[case::expr_exists(
    "{selector: {matchExpressions: [{key: app, operator: Exists}]}, containers: [{name: sc}]}",
    true
)]
#[case::expr_does_not_exist(
    "{selector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}, containers: [{name: sc}]}",
    true
)]
#[case::empty_selector_matches_nothing("{selector: {}, containers: [{name: sc}]}", false)]
#[case::no_selector_matches_nothing("{containers: [{name: sc}]}", false)]
#[case::other_namespace(
    "{namespace: prod, selector: {matchLabels: {app: web}}, containers: [{name: sc}]}",
    false
)]
#[case::same_namespace(
    "{namespace: default, selector: {matchLabels: {app: web}}, containers: [{name: sc}]}",
    true
)]
#[case::namespace_selector(
    "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: default}}, selector: {matchLabels: {app: web}}, containers: [{name: sc}]}",
    true
)]
#[case::namespace_selector_other(
    "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: prod}}, selector: {matchLabels: {app: web}}, containers: [{name: sc}]}",
    false
)]
#[case::paused(
    "{injectionStrategy: {paused: true}, selector: {matchLabels: {app: web}}, containers: [{name: sc}]}",
    false
)]
fn which_pods_a_sidecarset_selects(#[case] spec: &str, #[case] injected: bool) {
    let pod = inject(spec, "").unwrap();
    assert_eq!(
        names(&pod, "containers").contains(&"sc".to_owned()),
        injected,
        "{pod}"
    );
}

#[rstest]
#[case::before_app_by_default("[{name: sc}]", &["sc", "app"])]
#[case::before_app("[{name: sc, podInjectPolicy: BeforeAppContainer}]", &["sc", "app"])]
#[case::after_app("[{name: sc, podInjectPolicy: AfterAppContainer}, {name: first}]", &["first", "app", "sc"])]
#[case::same_name_replaces_in_place("[{name: app, image: busybox:2}, {name: sc}]", &["sc", "app"])]
fn where_containers_go(#[case] containers: &str, #[case] want: &[&str]) {
    let pod = inject(&format!("{{{SEL}, containers: {containers}}}"), "").unwrap();
    assert_eq!(names(&pod, "containers"), want, "{pod}");
}

#[test]
fn a_same_named_sidecar_replaces_the_app_container_and_is_marked_injected() {
    let pod = inject(
        &format!("{{{SEL}, containers: [{{name: app, image: busybox:2}}]}}"),
        "",
    )
    .unwrap();
    let app = &pod["spec"]["containers"][0];
    assert_eq!(app["image"], "busybox:2");
    assert_eq!(
        app["env"],
        json!([{"name": "IS_INJECTED", "value": "true"}])
    );
    assert_eq!(
        pod["metadata"]["annotations"]["kruise.io/sidecarset-injected-list"],
        "s"
    );
}

#[test]
fn init_containers_go_after_the_pods_own_sorted_by_name() {
    let pod = inject(
        &format!("{{{SEL}, initContainers: [{{name: zz}}, {{name: aa}}]}}"),
        "",
    )
    .unwrap();
    assert_eq!(names(&pod, "initContainers"), ["setup", "aa", "zz"]);
    assert_eq!(
        pod["spec"]["initContainers"][1]["env"],
        json!([{"name": "IS_INJECTED", "value": "true"}])
    );
}

#[rstest]
#[case::env_names("[{sourceContainerName: app, envNames: [B, A]}]", json!([{"name": "X", "value": "x"}, {"name": "IS_INJECTED", "value": "true"}, {"name": "A", "value": "a"}, {"name": "B", "value": "b"}]))]
#[case::env_name("[{sourceContainerName: app, envName: B}]", json!([{"name": "X", "value": "x"}, {"name": "IS_INJECTED", "value": "true"}, {"name": "B", "value": "b"}]))]
#[case::sidecar_env_wins("[{sourceContainerName: app, envName: X}]", json!([{"name": "X", "value": "x"}, {"name": "IS_INJECTED", "value": "true"}]))]
#[case::source_from_a_label("[{sourceContainerNameFrom: {fieldRef: {fieldPath: \"metadata.labels['env-source']\"}}, envName: A}]", json!([{"name": "X", "value": "x"}, {"name": "IS_INJECTED", "value": "true"}, {"name": "A", "value": "a"}]))]
#[case::unknown_source("[{sourceContainerName: nope, envName: A}]", json!([{"name": "X", "value": "x"}, {"name": "IS_INJECTED", "value": "true"}]))]
fn transfer_env(#[case] transfer: &str, #[case] want: Value) {
    let pod = inject(
        &format!("{{{SEL}, containers: [{{name: sc, env: [{{name: X, value: x}}], transferEnv: {transfer}}}]}}"),
        "",
    )
    .unwrap();
    assert_eq!(pod["spec"]["containers"][0]["env"], want);
    assert!(pod["spec"]["containers"][0].get("transferEnv").is_none());
}

#[rstest]
#[case::enabled("enabled", json!([{"name": "own", "mountPath": "/own"}, {"name": "data", "mountPath": "/data"}]))]
#[case::disabled("disabled", json!([{"name": "own", "mountPath": "/own"}]))]
fn share_volume_policy(#[case] policy: &str, #[case] want: Value) {
    let pod = inject(
        &format!("{{{SEL}, containers: [{{name: sc, shareVolumePolicy: {{type: {policy}}}, volumeMounts: [{{name: own, mountPath: /own}}]}}], volumes: [{{name: own, emptyDir: {{}}}}]}}"),
        "",
    )
    .unwrap();
    assert_eq!(pod["spec"]["containers"][0]["volumeMounts"], want);
}

#[test]
fn volumes_merge_by_name_and_only_the_used_ones_come() {
    let pod = inject(
        &format!("{{{SEL}, containers: [{{name: sc, volumeMounts: [{{name: data, mountPath: /d}}, {{name: logs, mountPath: /l}}]}}], volumes: [{{name: data, hostPath: {{path: /x}}}}, {{name: logs, emptyDir: {{}}}}, {{name: unused, emptyDir: {{}}}}]}}"),
        "",
    )
    .unwrap();
    assert_eq!(
        pod["spec"]["volumes"],
        json!([{"name": "data", "emptyDir": {}}, {"name": "logs", "emptyDir": {}}])
    );
}

const CROSS: &str = "{selector: {matchLabels: {app: web}}, containers: [{name: sc, volumeMounts: [{name: cfg, mountPath: /c}]}], volumes: [{name: cfg, configMap: {name: kube-system/cfg}}]}";

#[rstest]
#[case::granted(
    "kind: SidecarSetResourceBinding\nmetadata: {name: b, namespace: kube-system}\nspec: {subjects: [{kind: SidecarSet, name: s}], resourceRefs: [{kind: ConfigMap, name: cfg}]}\n",
    None
)]
#[case::no_binding(
    "",
    Some(
        "s.yaml, document 1, line 3: spec.volumes[0].configMap.name: SidecarSet s cannot inject volume \"cfg\" into the pod (namespace default): ConfigMap kube-system/cfg is in another namespace and no SidecarSetResourceBinding in namespace kube-system grants it"
    )
)]
#[case::binding_elsewhere(
    "kind: SidecarSetResourceBinding\nmetadata: {name: b, namespace: default}\nspec: {subjects: [{kind: SidecarSet, name: s}], resourceRefs: [{kind: ConfigMap, name: cfg}]}\n",
    Some("no SidecarSetResourceBinding")
)]
#[case::other_subject(
    "kind: SidecarSetResourceBinding\nmetadata: {name: b, namespace: kube-system}\nspec: {subjects: [{kind: SidecarSet, name: t}], resourceRefs: [{kind: ConfigMap, name: cfg}]}\n",
    Some("no SidecarSetResourceBinding")
)]
#[case::other_kind(
    "kind: SidecarSetResourceBinding\nmetadata: {name: b, namespace: kube-system}\nspec: {subjects: [{kind: SidecarSet, name: s}], resourceRefs: [{kind: Secret, name: cfg}]}\n",
    Some("no SidecarSetResourceBinding")
)]
fn cross_namespace_references_need_a_binding(#[case] binding: &str, #[case] err: Option<&str>) {
    match (inject(CROSS, binding), err) {
        (Ok(pod), None) => assert_eq!(
            pod["spec"]["volumes"][1]["configMap"]["name"],
            "kube-system/cfg"
        ),
        (Err(e), Some(want)) => assert!(e.contains(want), "got {e}\nwant {want}"),
        (got, want) => panic!("got {got:?}, want {want:?}"),
    }
}

#[rstest]
#[case::unknown_field(
    "{selector: {matchLabels: {a: b}}, containers: [{name: sc, podInjectPolcy: AfterAppContainer}]}",
    "line 3: spec.containers[0].podInjectPolcy: unknown field"
)]
#[case::bad_policy(
    "{selector: {matchLabels: {a: b}}, containers: [{name: sc, podInjectPolicy: Last}]}",
    "spec.containers[0].podInjectPolicy: \"Last\" is not one of BeforeAppContainer, AfterAppContainer"
)]
#[case::hot_upgrade(
    "{containers: [{name: sc, upgradeStrategy: {upgradeType: HotUpgrade}}]}",
    "upgradeStrategy.upgradeType: is supported by podinit run only as \"ColdUpgrade\""
)]
#[case::mount_without_volume(
    "{containers: [{name: sc, volumeMounts: [{name: v, mountPath: /v}]}]}",
    "spec.containers[0].volumeMounts[0].name: \"v\" is not one of the SidecarSet's volumes"
)]
#[case::bad_operator(
    "{selector: {matchExpressions: [{key: a, operator: Has}]}}",
    "operator: \"Has\" is not one of In, NotIn, Exists, DoesNotExist"
)]
#[case::patch_metadata(
    "{patchPodMetadata: [{annotations: {a: b}}]}",
    "spec.patchPodMetadata: is not supported by podinit run"
)]
#[case::binding_kind(
    "{}\n---\nkind: SidecarSetResourceBinding\nmetadata: {name: b}\nspec: {subjects: [{kind: Deployment, name: s}]}",
    "spec.subjects[0].kind: kind \"Deployment\" must be SidecarSet"
)]
fn refused_sidecarsets_are_named_with_their_line(#[case] spec: &str, #[case] want: &str) {
    let e = inject(spec, "").unwrap_err();
    assert!(e.contains(want), "got {e}\nwant {want}");
}
