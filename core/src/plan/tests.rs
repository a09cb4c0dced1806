//! The plan's rules as tables: one case per dialect, per precedence rule, and per hostile input.

use rstest::rstest;
use serde_json::{Value, json};

use super::*;

fn classify(config: Value) -> Result<Classified, PlanError> {
    classify_bundle(&BundleInput {
        config: &config,
        fallback_name: "bundle-dir",
    })
}

fn plan(config: Value) -> ContainerPlan {
    match classify(config).expect("valid declarations") {
        Classified::Container { plan, .. } => *plan,
        Classified::Ignored { .. } => panic!("unexpectedly ignored"),
    }
}

/// A bundle named `c` with these annotations and `process.env`.
fn bundle(annotations: Value, env: &[&str]) -> Value {
    let mut ann = annotations;
    ann.as_object_mut()
        .expect("annotations object")
        .entry("io.podinit.container-name")
        .or_insert(json!("c"));
    json!({ "ociVersion": "1.0.2", "process": { "args": ["sh"], "env": env }, "annotations": ann })
}

fn with_spec(spec: Value, env: &[&str]) -> Value {
    bundle(json!({ "io.podinit.pod-spec": spec.to_string() }), env)
}

#[rstest]
#[case::default_app(bundle(json!({}), &[]), Kind::App, StartSlot::Regular { priority: 0, early: false }, RestartPolicy::Always)]
#[case::is_sidecar(bundle(json!({}), &["__IS_SIDECAR__=true"]), Kind::Sidecar, StartSlot::Regular { priority: 0, early: true }, RestartPolicy::Always)]
#[case::eci_sidecar(bundle(json!({}), &["ECI_SIDECAR_CONTAINER=TRUE"]), Kind::Sidecar, StartSlot::Regular { priority: 0, early: true }, RestartPolicy::Always)]
#[case::eci_type_stop_only(bundle(json!({}), &["ECI_CONTAINER_TYPE=sidecar"]), Kind::Sidecar, StartSlot::Regular { priority: 0, early: false }, RestartPolicy::Always)]
#[case::kruise_stop_only(with_spec(json!({"restartPolicy":"Never","containers":[{"name":"c"}]}), &["KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT=true"]), Kind::Sidecar, StartSlot::Regular { priority: 0, early: false }, RestartPolicy::Never)]
#[case::eci_launch_priority(bundle(json!({}), &["ECI_CONTAINER_LAUNCH_PRIORITY=-7"]), Kind::App, StartSlot::Regular { priority: -7, early: false }, RestartPolicy::Always)]
#[case::kruise_priority(bundle(json!({}), &["KRUISE_CONTAINER_PRIORITY=3"]), Kind::App, StartSlot::Regular { priority: 3, early: false }, RestartPolicy::Always)]
#[case::native_sidecar(with_spec(json!({"restartPolicy":"Never","initContainers":[{"name":"x"},{"name":"c","restartPolicy":"Always"}],"containers":[{"name":"a"}]}), &[]), Kind::Sidecar, StartSlot::Init { index: 1 }, RestartPolicy::Always)]
#[case::regular_init(with_spec(json!({"restartPolicy":"OnFailure","initContainers":[{"name":"c"}],"containers":[{"name":"a"}]}), &[]), Kind::Init, StartSlot::Init { index: 0 }, RestartPolicy::OnFailure)]
#[case::spec_app(with_spec(json!({"restartPolicy":"Never","containers":[{"name":"c"}]}), &[]), Kind::App, StartSlot::Regular { priority: 0, early: false }, RestartPolicy::Never)]
#[case::env_from_spec_only(with_spec(json!({"containers":[{"name":"c","env":[{"name":"__IS_SIDECAR__","value":"true"}]}]}), &[]), Kind::Sidecar, StartSlot::Regular { priority: 0, early: true }, RestartPolicy::Always)]
#[case::annotation_init(bundle(json!({"io.podinit.kind":"init","io.podinit.index":"2"}), &[]), Kind::Init, StartSlot::Init { index: 2 }, RestartPolicy::Always)]
#[case::annotation_sidecar(bundle(json!({"io.podinit.kind":"sidecar","io.podinit.index":"1"}), &[]), Kind::Sidecar, StartSlot::Init { index: 1 }, RestartPolicy::Always)]
#[case::annotation_restart_policy(bundle(json!({"io.podinit.restart-policy":"OnFailure"}), &[]), Kind::App, StartSlot::Regular { priority: 0, early: false }, RestartPolicy::OnFailure)]
fn dialects(
    #[case] config: Value,
    #[case] kind: Kind,
    #[case] start: StartSlot,
    #[case] restart: RestartPolicy,
) {
    let p = plan(config);
    assert_eq!(
        (p.kind, p.start, p.restart),
        (kind, start, restart),
        "{}",
        p.reason
    );
    assert!(!p.reason.is_empty());
}

/// Precedence: annotations > pod spec structure > env dialect > defaults.
#[rstest]
#[case::kind_annotation_beats_spec_and_env(
    bundle(json!({"io.podinit.kind":"app","io.podinit.pod-spec": json!({"initContainers":[{"name":"c","restartPolicy":"Always"}],"containers":[{"name":"a"}]}).to_string()}), &["__IS_SIDECAR__=true"]),
    Kind::App, "annotation io.podinit.kind")]
#[case::spec_init_beats_env(with_spec(json!({"initContainers":[{"name":"c"}],"containers":[{"name":"a"}]}), &["__IS_SIDECAR__=true"]), Kind::Init, "initContainers[0]")]
#[case::process_env_beats_spec_env(with_spec(json!({"containers":[{"name":"c","env":[{"name":"__IS_SIDECAR__","value":"true"}]}]}), &["__IS_SIDECAR__=false"]), Kind::App, "containers[0]")]
#[case::env_refines_spec_regular(with_spec(json!({"containers":[{"name":"a"},{"name":"c"}]}), &["ECI_SIDECAR_CONTAINER=true"]), Kind::Sidecar, "ECI_SIDECAR_CONTAINER")]
#[case::starting_marker_beats_stop_only(bundle(json!({}), &["ECI_CONTAINER_TYPE=sidecar", "__IS_SIDECAR__=true"]), Kind::Sidecar, "__IS_SIDECAR__")]
fn precedence(#[case] config: Value, #[case] kind: Kind, #[case] reason_mentions: &str) {
    let p = plan(config);
    assert_eq!(p.kind, kind, "{}", p.reason);
    assert!(
        p.reason.contains(reason_mentions),
        "reason {:?} should mention {reason_mentions}",
        p.reason
    );
}

#[test]
fn probe_annotation_beats_spec_probe() {
    let spec = json!({"containers":[{"name":"c","readinessProbe":{"tcpSocket":{"port":1}}}]});
    let config = bundle(
        json!({"io.podinit.pod-spec": spec.to_string(), "io.podinit.readiness-probe": r#"{"tcpSocket":{"port":2}}"#}),
        &[],
    );
    let p = plan(config);
    assert_eq!(
        p.readiness_probe.map(|p| p.action),
        Some(ProbeAction::TcpSocket {
            host: None,
            port: 2
        })
    );
}

#[test]
fn grace_annotation_beats_spec_and_stop_signal_annotation_beats_spec() {
    let spec = json!({"terminationGracePeriodSeconds": 10, "containers":[{"name":"c","lifecycle":{"stopSignal":"SIGINT"}}]});
    let only_spec = plan(with_spec(spec.clone(), &[]));
    assert_eq!(
        (only_spec.grace_seconds, only_spec.stop_signal),
        (Some(10), crate::signal::Signal::SIGINT)
    );
    let config = bundle(
        json!({"io.podinit.pod-spec": spec.to_string(), "io.kubernetes.pod.terminationGracePeriod": "5", "io.podinit.stop-signal": "QUIT"}),
        &[],
    );
    let p = plan(config);
    assert_eq!(
        (p.grace_seconds, p.stop_signal.name().unwrap_or_default()),
        (Some(5), "SIGQUIT")
    );
}

#[test]
fn env_sidecar_with_readiness_gates_on_ready_but_native_sidecar_does_not() {
    let probe = json!({"tcpSocket":{"port":80}});
    let env_sidecar = plan(with_spec(
        json!({"containers":[{"name":"c","readinessProbe":probe}]}),
        &["__IS_SIDECAR__=true"],
    ));
    assert_eq!(env_sidecar.gate_on, GateOn::Ready);
    let native = plan(with_spec(
        json!({"initContainers":[{"name":"c","restartPolicy":"Always","readinessProbe":probe}],"containers":[{"name":"a"}]}),
        &[],
    ));
    assert_eq!(native.gate_on, GateOn::Started);
}

#[test]
fn eci_flags_are_carried() {
    let p = plan(bundle(
        json!({}),
        &[
            "ECI_CONTAINER_IGNORE_EXIT_CODE=true",
            "__IGNORE_READY__=true",
            "ECI_CONTAINER_EXIT_PRIORITY=9",
        ],
    ));
    assert!(p.ignore_exit_code && !p.counts_for_ready);
    assert_eq!(p.exit_priority, Some(9));
}

#[test]
fn regular_init_containers_drop_probes_and_say_so() {
    let p = plan(with_spec(
        json!({"initContainers":[{"name":"c","readinessProbe":{"tcpSocket":{"port":1}}}],"containers":[{"name":"a"}]}),
        &[],
    ));
    assert!(p.readiness_probe.is_none());
    assert!(p.notes.iter().any(|n| n.contains("ignored")));
}

#[rstest]
#[case::cri(json!({"io.kubernetes.cri.container-type": "sandbox"}))]
#[case::crio(json!({"io.kubernetes.cri-o.ContainerType": "sandbox"}))]
fn pause_containers_are_ignored(#[case] annotations: Value) {
    assert!(matches!(
        classify(bundle(annotations, &[])),
        Ok(Classified::Ignored { .. })
    ));
}

#[test]
fn the_name_falls_back_to_the_bundle_and_says_so() {
    let p = plan(json!({"process": {"env": []}}));
    assert_eq!(p.name, "bundle-dir");
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("no container-name annotation"))
    );
}

#[test]
fn pod_declarations() {
    let spec = json!({"initContainers":[{"name":"s","restartPolicy":"Always"}],"containers":[{"name":"c"}]});
    match classify(with_spec(spec, &[])).unwrap() {
        Classified::Container {
            pod: PodDeclaration::Spec { containers },
            ..
        } => assert_eq!(containers.len(), 2),
        other => panic!("{other:?}"),
    }
    match classify(bundle(
        json!({"io.podinit.pod-containers": " s , c ,"}),
        &[],
    ))
    .unwrap()
    {
        Classified::Container {
            pod: PodDeclaration::Names { names },
            ..
        } => assert_eq!(names, ["s", "c"]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        classify(bundle(json!({}), &[])).unwrap(),
        Classified::Container {
            pod: PodDeclaration::Unknown,
            ..
        }
    ));
}

/// Hostile inputs: a clear error naming the declaration at fault and the container, never a panic.
#[rstest]
#[case::config_not_object(json!([1, 2]), PlanErrorKind::InvalidJson, "config.json")]
#[case::annotations_not_strings(json!({"annotations": {"io.podinit.container-name": "c", "x": 5}}), PlanErrorKind::InvalidJson, "annotations")]
#[case::env_not_strings(json!({"process": {"env": [1]}, "annotations": {"io.podinit.container-name": "c"}}), PlanErrorKind::InvalidJson, "process.env")]
#[case::pod_spec_not_json(bundle(json!({"io.podinit.pod-spec": "{nope"}), &[]), PlanErrorKind::InvalidJson, "io.podinit.pod-spec")]
#[case::pod_spec_wrong_type(bundle(json!({"io.podinit.pod-spec": r#"{"containers":"c"}"#}), &[]), PlanErrorKind::InvalidJson, "io.podinit.pod-spec")]
#[case::not_in_spec(with_spec(json!({"containers":[{"name":"other"}]}), &[]), PlanErrorKind::NotInPodSpec, "io.podinit.pod-spec")]
#[case::duplicate_names(with_spec(json!({"containers":[{"name":"c"},{"name":"c"}]}), &[]), PlanErrorKind::InvalidValue, "io.podinit.pod-spec")]
#[case::init_restart_bogus(with_spec(json!({"initContainers":[{"name":"c","restartPolicy":"Sometimes"}],"containers":[{"name":"a"}]}), &[]), PlanErrorKind::InvalidValue, "restartPolicy")]
#[case::pod_restart_bogus(with_spec(json!({"restartPolicy":"Sometimes","containers":[{"name":"c"}]}), &[]), PlanErrorKind::InvalidValue, "restartPolicy")]
#[case::unknown_kind(bundle(json!({"io.podinit.kind": "daemon"}), &[]), PlanErrorKind::InvalidValue, "io.podinit.kind")]
#[case::negative_index(bundle(json!({"io.podinit.kind": "init", "io.podinit.index": "-1"}), &[]), PlanErrorKind::InvalidValue, "io.podinit.index")]
#[case::huge_index(bundle(json!({"io.podinit.index": "99999999999999999999"}), &[]), PlanErrorKind::InvalidValue, "io.podinit.index")]
#[case::priority_range(bundle(json!({}), &["ECI_CONTAINER_LAUNCH_PRIORITY=1001"]), PlanErrorKind::OutOfRange, "ECI_CONTAINER_LAUNCH_PRIORITY")]
#[case::priority_text(bundle(json!({}), &["KRUISE_CONTAINER_PRIORITY=high"]), PlanErrorKind::InvalidValue, "KRUISE_CONTAINER_PRIORITY")]
#[case::exit_priority_range(bundle(json!({}), &["ECI_CONTAINER_EXIT_PRIORITY=-2000"]), PlanErrorKind::OutOfRange, "ECI_CONTAINER_EXIT_PRIORITY")]
#[case::bool_garbage(bundle(json!({}), &["__IS_SIDECAR__=yes"]), PlanErrorKind::InvalidValue, "__IS_SIDECAR__")]
#[case::eci_type_garbage(bundle(json!({}), &["ECI_CONTAINER_TYPE=daemon"]), PlanErrorKind::InvalidValue, "ECI_CONTAINER_TYPE")]
#[case::grace_huge(bundle(json!({"io.kubernetes.pod.terminationGracePeriod": "99999999999999999999999"}), &[]), PlanErrorKind::OutOfRange, "terminationGracePeriod")]
#[case::grace_negative(bundle(json!({"io.kubernetes.pod.terminationGracePeriod": "-1"}), &[]), PlanErrorKind::OutOfRange, "terminationGracePeriod")]
#[case::grace_text(bundle(json!({"io.kubernetes.pod.terminationGracePeriod": "soon"}), &[]), PlanErrorKind::InvalidValue, "terminationGracePeriod")]
#[case::spec_grace_huge(with_spec(json!({"terminationGracePeriodSeconds": 9_000_000_000_i64, "containers":[{"name":"c"}]}), &[]), PlanErrorKind::OutOfRange, "terminationGracePeriodSeconds")]
#[case::probe_not_json(bundle(json!({"io.podinit.liveness-probe": "exec: true"}), &[]), PlanErrorKind::InvalidJson, "io.podinit.liveness-probe")]
#[case::probe_wrong_type(bundle(json!({"io.podinit.readiness-probe": r#"{"periodSeconds":"ten","exec":{"command":["true"]}}"#}), &[]), PlanErrorKind::InvalidJson, "io.podinit.readiness-probe")]
#[case::probe_grpc(bundle(json!({"io.podinit.startup-probe": r#"{"grpc":{"port":1}}"#}), &[]), PlanErrorKind::InvalidValue, "io.podinit.startup-probe")]
#[case::spec_probe_bad(with_spec(json!({"containers":[{"name":"c","livenessProbe":{"periodSeconds":5}}]}), &[]), PlanErrorKind::InvalidValue, "livenessProbe")]
#[case::handler_two_actions(bundle(json!({"io.podinit.pre-stop": r#"{"sleep":{"seconds":1},"exec":{"command":["x"]}}"#}), &[]), PlanErrorKind::InvalidValue, "io.podinit.pre-stop")]
#[case::handler_not_object(bundle(json!({"io.podinit.post-start": "[]"}), &[]), PlanErrorKind::InvalidJson, "io.podinit.post-start")]
#[case::stop_signal_unknown(bundle(json!({"io.podinit.stop-signal": "SIGBOGUS"}), &[]), PlanErrorKind::InvalidValue, "io.podinit.stop-signal")]
#[case::restart_policy_unknown(bundle(json!({"io.podinit.restart-policy": "always"}), &[]), PlanErrorKind::InvalidValue, "io.podinit.restart-policy")]
#[case::name_list_without_self(bundle(json!({"io.podinit.pod-containers": "a,b"}), &[]), PlanErrorKind::NotInPodSpec, "io.podinit.pod-containers")]
fn hostile_declarations(#[case] config: Value, #[case] kind: PlanErrorKind, #[case] names: &str) {
    let err = classify(config).expect_err("must be refused");
    assert_eq!(err.kind, kind, "{err}");
    let text = err.to_string();
    assert!(text.contains(names), "{text:?} should name {names}");
    assert!(
        text.contains("\"c\"") || text.contains("bundle-dir"),
        "{text:?} should name the container"
    );
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = classify(bundle(json!({"io.podinit.pod-spec": deep}), &[])).unwrap_err();
    assert_eq!(err.kind, PlanErrorKind::InvalidJson);
}

/// The pod key travels with the classification (the hook sends it); a pause container is ignored
/// before its sandbox id is looked at, so a strange id there never fails the sandbox's creation.
#[rstest]
#[case::containerd(json!({"io.kubernetes.cri.sandbox-id": "abc123"}), "abc123")]
#[case::crio(json!({"io.kubernetes.cri-o.SandboxID": "def456"}), "def456")]
#[case::podinit(json!({"io.podinit.pod": "job-7"}), "job-7")]
#[case::default(json!({}), "default")]
fn classification_names_the_pod(#[case] annotations: Value, #[case] key: &str) {
    match classify(bundle(annotations, &[])).unwrap() {
        Classified::Container { pod_key, .. } => assert_eq!(pod_key.key.as_str(), key),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_pod_key_names_the_annotation_and_container() {
    let e = classify(bundle(json!({"io.podinit.pod": "../etc"}), &[])).unwrap_err();
    assert_eq!(e.container, "c");
    assert_eq!(e.source.to_string(), "annotation io.podinit.pod");
    let pause = json!({"annotations": {"io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-id": "../x"}});
    let Classified::Ignored { reason, .. } = classify(pause).unwrap() else {
        panic!("the pause container is managed");
    };
    assert_eq!(
        reason,
        crate::plan::Ignored::Sandbox {
            annotation: "io.kubernetes.cri.container-type"
        }
    );
    assert_eq!(
        reason.to_string(),
        "annotation io.kubernetes.cri.container-type=sandbox: the pod's pause container is not managed"
    );
}

/// Baidu BCI's pod annotation lists the containers that report success: on the container's
/// annotations (an agent copies pod annotations there) or in a whole Pod's metadata.
#[rstest]
#[case::listed_on_the_container(bundle(json!({"bci.virtual-kubelet.io/bci-ignore-exit-code-containers": "log, c"}), &[]), true)]
#[case::not_listed(bundle(json!({"bci.virtual-kubelet.io/bci-ignore-exit-code-containers": "log,cc"}), &[]), false)]
#[case::in_the_pods_metadata(bundle(json!({"io.podinit.pod-spec": json!({
    "kind": "Pod",
    "metadata": {"annotations": {"bci.virtual-kubelet.io/bci-ignore-exit-code-containers": "c"}},
    "spec": {"containers": [{"name": "c"}]}}).to_string()}), &[]), true)]
fn bci_ignore_exit_code_containers(#[case] config: Value, #[case] ignored: bool) {
    let p = plan(config);
    assert_eq!(p.ignore_exit_code, ignored);
    assert_eq!(p.notes.iter().any(|n| n.contains("bci-ignore")), ignored);
}

#[test]
fn a_pods_metadata_annotations_must_be_strings() {
    let config = bundle(
        json!({"io.podinit.pod-spec": json!({"kind": "Pod",
            "metadata": {"annotations": {"x": 1}}, "spec": {"containers": [{"name": "c"}]}}).to_string()}),
        &[],
    );
    let e = classify(config).unwrap_err().to_string();
    assert!(
        e.contains("metadata.annotations") && e.contains("io.podinit.pod-spec"),
        "{e}"
    );
}

#[test]
fn vci_launch_priority_orders_app_containers() {
    let p = plan(bundle(json!({}), &["VCI_CONTAINER_LAUNCH_PRIORITY=10"]));
    assert_eq!(
        p.start,
        StartSlot::Regular {
            priority: 10,
            early: false
        }
    );
}

#[rstest]
#[case::one(1, true)]
#[case::max(2147483647, true)]
#[case::zero(0, false)]
#[case::negative(-5, false)]
#[case::past_int32(2147483648, false)]
fn active_deadline_seconds_is_checked_as_the_api_server_does(#[case] n: i64, #[case] ok: bool) {
    let config = with_spec(
        json!({"activeDeadlineSeconds": n, "containers": [{"name": "c"}]}),
        &[],
    );
    match classify(config) {
        Ok(Classified::Container { plan, .. }) => {
            assert!(ok, "{n} accepted");
            assert_eq!(plan.active_deadline_seconds, Some(n as u64));
        }
        Ok(Classified::Ignored { .. }) => panic!("ignored"),
        Err(e) => {
            assert!(!ok, "{n} refused: {e}");
            assert!(e.to_string().contains("activeDeadlineSeconds"), "{e}");
        }
    }
}

#[rstest]
#[case::defaults(json!({}), Some(("/dev/termination-log", false)))]
#[case::empty_means_default(json!({"terminationMessagePath": "", "terminationMessagePolicy": ""}), Some(("/dev/termination-log", false)))]
#[case::file(json!({"terminationMessagePath": "/tmp/msg", "terminationMessagePolicy": "File"}), Some(("/tmp/msg", false)))]
#[case::fallback(json!({"terminationMessagePolicy": "FallbackToLogsOnError"}), Some(("/dev/termination-log", true)))]
#[case::relative_from_the_root(json!({"terminationMessagePath": "var/msg"}), Some(("/var/msg", false)))]
#[case::unknown_policy(json!({"terminationMessagePolicy": "Logs"}), None)]
#[case::policy_wrong_type(json!({"terminationMessagePolicy": 3}), None)]
fn termination_message_fields_are_read_and_checked(
    #[case] fields: serde_json::Value,
    #[case] expected: Option<(&str, bool)>,
) {
    let mut c = json!({"name": "c"});
    c.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    let spec = json!({"containers": [c]});
    let config = json!({"annotations": {
        "io.podinit.pod-spec": spec.to_string(),
        "io.podinit.container-name": "c",
    }});
    let got = classify_bundle(&BundleInput {
        config: &config,
        fallback_name: "c",
    });
    match (got, expected) {
        (Ok(Classified::Container { plan, .. }), Some((path, fallback))) => {
            assert_eq!(plan.termination_message.path, path);
            assert_eq!(plan.termination_message.fallback_to_logs, fallback);
        }
        (Err(e), None) => {
            let e = e.to_string();
            assert!(
                e.contains("terminationMessagePolicy") || e.contains("invalid type"),
                "{e}"
            );
        }
        (other, _) => panic!("unexpected {other:?}"),
    }
}

/// A pod spec whose container `c` (regular, or the first init container) carries `fields`.
fn restart_spec(init: bool, fields: Value) -> Value {
    let mut c = json!({"name": "c"});
    c.as_object_mut()
        .expect("object")
        .extend(fields.as_object().expect("object").clone());
    let spec = if init {
        json!({"restartPolicy": "Never", "initContainers": [c], "containers": [{"name": "a"}]})
    } else {
        json!({"restartPolicy": "Never", "containers": [{"name": "a"}, c]})
    };
    with_spec(spec, &[])
}

fn rule(op: &str, values: Value) -> Value {
    json!({"action": "Restart", "exitCodes": {"operator": op, "values": values}})
}

// KEP-5307 validation, one case per API server rule (validateContainerRestartPolicy,
// validateInitContainerRestartPolicy), with the field path and the API server's words.
#[rstest]
#[case::rules_need_a_policy(false, json!({"restartPolicyRules": [rule("In", json!([42]))]}), "spec.containers[1].restartPolicy", "Required value: must specify restartPolicy when restart rules are used")]
#[case::init_rules_need_a_policy(true, json!({"restartPolicyRules": [rule("In", json!([42]))]}), "spec.initContainers[0].restartPolicy", "Required value")]
#[case::policy_unknown(false, json!({"restartPolicy": "always"}), "spec.containers[1].restartPolicy", r#"Unsupported value: "always": supported values: "Always", "Never", "OnFailure""#)]
#[case::policy_empty(false, json!({"restartPolicy": ""}), "spec.containers[1].restartPolicy", "Unsupported value: \"\"")]
#[case::sidecar_rules_forbidden(true, json!({"restartPolicy": "Always", "restartPolicyRules": [rule("In", json!([1]))]}), "spec.initContainers[0].restartPolicyRules", "Forbidden: restartPolicyRules are not allowed for init containers with restart policy Always")]
#[case::too_many_rules(false, json!({"restartPolicy": "Never", "restartPolicyRules": vec![rule("In", json!([1])); 21]}), "spec.containers[1].restartPolicyRules", "Too many: 21: must have at most 20 items")]
#[case::action_unknown(false, json!({"restartPolicy": "Never", "restartPolicyRules": [{"action": "RestartPod", "exitCodes": {"operator": "In", "values": [1]}}]}), "spec.containers[1].restartPolicyRules[0].action", r#"Unsupported value: "RestartPod": supported values: "Restart""#)]
#[case::action_missing(false, json!({"restartPolicy": "Never", "restartPolicyRules": [{"exitCodes": {"operator": "In", "values": [1]}}]}), "restartPolicyRules[0].action", r#"Unsupported value: """#)]
#[case::action_lowercase(false, json!({"restartPolicy": "Never", "restartPolicyRules": [{"action": "restart", "exitCodes": {"operator": "In", "values": [1]}}]}), "restartPolicyRules[0].action", "\"restart\"")]
#[case::exit_codes_missing(false, json!({"restartPolicy": "Never", "restartPolicyRules": [{"action": "Restart"}]}), "spec.containers[1].restartPolicyRules[0].exitCodes", "Required value: must be specified")]
#[case::operator_unknown(false, json!({"restartPolicy": "Never", "restartPolicyRules": [rule("Exists", json!([1]))]}), "spec.containers[1].restartPolicyRules[0].exitCodes.operator", r#"Unsupported value: "Exists": supported values: "In", "NotIn""#)]
#[case::operator_case(false, json!({"restartPolicy": "Never", "restartPolicyRules": [rule("in", json!([1]))]}), "exitCodes.operator", "\"in\"")]
#[case::second_rule_is_named(false, json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", json!([1])), rule("Equals", json!([2]))]}), "restartPolicyRules[1].exitCodes.operator", "Unsupported value")]
#[case::too_many_values(false, json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", json!((0..256).collect::<Vec<i32>>()))]}), "restartPolicyRules[0].exitCodes.values", "Too many: 256: must have at most 255 items")]
#[case::value_past_int32(true, json!({"restartPolicy": "OnFailure", "restartPolicyRules": [rule("In", json!([1, 4_294_967_338_i64]))]}), "spec.initContainers[0].restartPolicyRules[0].exitCodes.values[1]", "Invalid value: 4294967338")]
fn restart_rules_are_validated_as_the_api_server_does(
    #[case] init: bool,
    #[case] fields: Value,
    #[case] path: &str,
    #[case] message: &str,
) {
    let err = classify(restart_spec(init, fields)).expect_err("must be refused");
    let text = err.to_string();
    assert!(text.starts_with("container \"c\": "), "{text}");
    assert!(
        err.source.to_string().contains(path),
        "{text:?} should name the field {path}"
    );
    assert!(
        err.message.contains(message),
        "{text:?} should say {message:?}"
    );
}

#[rstest]
#[case::not_a_list(json!({"restartPolicy": "Never", "restartPolicyRules": {"action": "Restart"}}))]
#[case::values_not_numbers(json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", json!(["42"]))]}))]
#[case::value_fraction(json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", json!([4.2]))]}))]
#[case::unknown_sibling_fields_accepted(json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", json!([1]))], "x": 1, "restartPolicyRules2": 0}))]
fn malformed_restart_rules_are_json_errors_or_accepted_extras(#[case] fields: Value) {
    // Wrong JSON types never reach validation: the pod spec annotation is not a PodSpec. An
    // unknown sibling field is the agent's business (the spec carries far more than podinit
    // reads), so the last case is accepted.
    let extras_only = fields.get("x").is_some();
    match classify(restart_spec(false, fields)) {
        Err(e) => {
            assert!(!extras_only, "{e}");
            assert_eq!(e.kind, PlanErrorKind::InvalidJson, "{e}");
            assert!(e.to_string().contains("io.podinit.pod-spec"), "{e}");
        }
        Ok(_) => assert!(extras_only, "a malformed rule was accepted"),
    }
}

#[rstest]
// The KEP's example: a regular container restarted only on exit code 42 in a Never pod.
#[case::kep_regular_in_42(false, json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", json!([42]))]}), Kind::App, RestartPolicy::Never, 1)]
#[case::container_always_in_never_pod(false, json!({"restartPolicy": "Always"}), Kind::App, RestartPolicy::Always, 0)]
#[case::container_on_failure_in_never_pod(false, json!({"restartPolicy": "OnFailure"}), Kind::App, RestartPolicy::OnFailure, 0)]
// With ContainerRestartRules an init container may say Never or OnFailure (the KEP's retry-init).
#[case::init_on_failure(true, json!({"restartPolicy": "OnFailure"}), Kind::Init, RestartPolicy::OnFailure, 0)]
#[case::kep_init_not_in_0(true, json!({"restartPolicy": "Never", "restartPolicyRules": [rule("NotIn", json!([0]))]}), Kind::Init, RestartPolicy::Never, 1)]
#[case::native_sidecar_stays(true, json!({"restartPolicy": "Always"}), Kind::Sidecar, RestartPolicy::Always, 0)]
// The API server accepts duplicate values, identical rules, an empty list and negative codes.
#[case::duplicates_accepted(false, json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", json!([42, 42])), rule("In", json!([42, 42]))]}), Kind::App, RestartPolicy::Never, 2)]
#[case::empty_values_accepted(false, json!({"restartPolicy": "Never", "restartPolicyRules": [rule("NotIn", json!([]))]}), Kind::App, RestartPolicy::Never, 1)]
#[case::negative_accepted(false, json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", json!([-1, 2147483647]))]}), Kind::App, RestartPolicy::Never, 1)]
#[case::twenty_rules_accepted(false, json!({"restartPolicy": "Never", "restartPolicyRules": vec![rule("In", json!([1])); 20]}), Kind::App, RestartPolicy::Never, 20)]
#[case::null_rules_are_none(false, json!({"restartPolicy": "Never", "restartPolicyRules": null}), Kind::App, RestartPolicy::Never, 0)]
fn container_restart_fields_are_planned(
    #[case] init: bool,
    #[case] fields: Value,
    #[case] kind: Kind,
    #[case] restart: RestartPolicy,
    #[case] rules: usize,
) {
    let p = plan(restart_spec(init, fields));
    assert_eq!(
        (p.kind, p.restart, p.restart_rules.len()),
        (kind, restart, rules)
    );
    if rules > 0 {
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("restartPolicyRules from pod spec")),
            "{:?}",
            p.notes
        );
    }
}

#[test]
fn the_container_policy_beats_an_env_sidecar_but_not_the_annotations() {
    let spec = json!({"restartPolicy": "Never", "containers": [{"name": "c", "restartPolicy": "Never"}, {"name": "a"}]});
    let p = plan(with_spec(spec.clone(), &["__IS_SIDECAR__=true"]));
    assert_eq!((p.kind, p.restart), (Kind::Sidecar, RestartPolicy::Never));
    let mut config = with_spec(spec, &[]);
    config["annotations"]["io.podinit.restart-policy"] = json!("OnFailure");
    assert_eq!(plan(config).restart, RestartPolicy::OnFailure);
    // The provenance is written down for explain.
    let p = plan(restart_spec(false, json!({"restartPolicy": "Always"})));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("spec.containers[1].restartPolicy")
                && n.contains("overrides the pod's Never")),
        "{:?}",
        p.notes
    );
}

/// A whole Pod in the pod spec annotation, with these pod annotations, and the bundle's own.
fn pod_with_annotations(pod_ann: Value, own: Value) -> Value {
    let pod = json!({"kind": "Pod", "metadata": {"name": "p", "annotations": pod_ann},
        "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "c"}]}});
    let mut ann = own;
    ann["io.podinit.pod-spec"] = json!(pod.to_string());
    bundle(ann, &[])
}

#[rstest]
#[case::none(json!({}), json!({}), None)]
#[case::container_default_wait(json!({}), json!({"io.podinit.start-timeout": "3s"}), Some((3000, start_wait::OnStartTimeout::Wait)))]
#[case::container_fail(json!({}), json!({"io.podinit.start-timeout": "500ms", "io.podinit.on-start-timeout": "fail"}), Some((500, start_wait::OnStartTimeout::Fail)))]
#[case::pod_level(json!({"io.podinit.start-timeout": "1m", "io.podinit.on-start-timeout": "start"}), json!({}), Some((60_000, start_wait::OnStartTimeout::Start)))]
#[case::container_beats_pod(json!({"io.podinit.start-timeout": "1m", "io.podinit.on-start-timeout": "start"}), json!({"io.podinit.start-timeout": "2s"}), Some((2000, start_wait::OnStartTimeout::Start)))]
#[case::outcome_from_container_timeout_from_pod(json!({"io.podinit.start-timeout": "4s"}), json!({"io.podinit.on-start-timeout": "fail"}), Some((4000, start_wait::OnStartTimeout::Fail)))]
#[case::outcome_alone_does_nothing(json!({}), json!({"io.podinit.on-start-timeout": "fail"}), None)]
fn start_wait_deadlines_are_read_with_their_precedence(
    #[case] pod_ann: Value,
    #[case] own: Value,
    #[case] want: Option<(u64, start_wait::OnStartTimeout)>,
) {
    let p = plan(pod_with_annotations(pod_ann, own));
    assert_eq!(
        p.start_timeout.as_ref().map(|t| (t.millis, t.on_timeout)),
        want
    );
    if let Some(t) = &p.start_timeout {
        assert!(
            t.source.contains("io.podinit.start-timeout"),
            "{}",
            t.source
        );
    }
}

#[rstest]
#[case::bad_duration(json!({}), json!({"io.podinit.start-timeout": "3 seconds"}), PlanErrorKind::InvalidValue, "annotation io.podinit.start-timeout")]
#[case::zero(json!({}), json!({"io.podinit.start-timeout": "0s"}), PlanErrorKind::InvalidValue, "io.podinit.start-timeout")]
#[case::huge(json!({}), json!({"io.podinit.start-timeout": "999999999h"}), PlanErrorKind::OutOfRange, "io.podinit.start-timeout")]
#[case::bad_outcome(json!({}), json!({"io.podinit.start-timeout": "3s", "io.podinit.on-start-timeout": "crash"}), PlanErrorKind::InvalidValue, "io.podinit.on-start-timeout")]
#[case::bad_pod_level(json!({"io.podinit.on-start-timeout": "FAIL"}), json!({}), PlanErrorKind::InvalidValue, "metadata.annotations io.podinit.on-start-timeout")]
fn hostile_start_wait_declarations(
    #[case] pod_ann: Value,
    #[case] own: Value,
    #[case] kind: PlanErrorKind,
    #[case] names: &str,
) {
    let err = classify(pod_with_annotations(pod_ann, own)).expect_err("must be refused");
    assert_eq!(err.kind, kind, "{err}");
    let text = err.to_string();
    // A pod-level value is checked with the first container that reads it.
    assert!(
        text.contains(names) && (text.contains("\"c\"") || text.contains("\"proxy\"")),
        "{text}"
    );
}

/// A pod spec's names as the API server checks them; every refusal names the container, by its
/// position when it has no name. `nameless_with_a_rule` is the input a coverage-guided campaign
/// found refused with no container named (fuzz/ target `pod_spec`, 2026-12-02).
#[rstest]
#[case::nameless_with_a_rule(
    r#"{"restartPolicy":"NeverenvFrom","containers":[{"name":"","restartPolicyRules":[{"action":"Restart","exitCodes":{"operator":"In","values":[42]}}]}]}"#,
    "containers[0]",
    "containers[0].name is empty"
)]
#[case::nameless_init(
    r#"{"initContainers":[{"name":"a"},{"name":""}],"containers":[{"name":"c"}]}"#,
    "initContainers[1]",
    "initContainers[1].name is empty"
)]
#[case::twice_across_lists(
    r#"{"initContainers":[{"name":"c"}],"containers":[{"name":"c"}]}"#,
    "c",
    "containers[0].name \"c\" is taken by an earlier container"
)]
fn pod_spec_names_empty_or_taken_are_refused_naming_the_container(
    #[case] spec: &str,
    #[case] container: &str,
    #[case] message: &str,
) {
    let spec = k8s::parse_pod_spec(spec).expect("parses");
    let err = plans_from_pod_spec(&spec).expect_err("must be refused");
    assert_eq!(err.kind, PlanErrorKind::InvalidValue, "{err}");
    assert_eq!(err.container, container, "{err}");
    assert!(err.message.contains(message), "{err}");
    assert!(
        err.source.to_string().contains("io.podinit.pod-spec"),
        "{err}"
    );
}
