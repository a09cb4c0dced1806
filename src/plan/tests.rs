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
        (only_spec.grace_seconds, only_spec.stop_signal.number),
        (Some(10), libc::SIGINT)
    );
    let config = bundle(
        json!({"io.podinit.pod-spec": spec.to_string(), "io.kubernetes.pod.terminationGracePeriod": "5", "io.podinit.stop-signal": "QUIT"}),
        &[],
    );
    let p = plan(config);
    assert_eq!(
        (p.grace_seconds, p.stop_signal.name.as_str()),
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
#[case::init_restart_never(with_spec(json!({"initContainers":[{"name":"c","restartPolicy":"Never"}],"containers":[{"name":"a"}]}), &[]), PlanErrorKind::InvalidValue, "restartPolicy")]
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
    assert_eq!(e.source, "annotation io.podinit.pod");
    let pause = json!({"annotations": {"io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-id": "../x"}});
    assert!(matches!(
        classify(pause).unwrap(),
        Classified::Ignored { .. }
    ));
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
