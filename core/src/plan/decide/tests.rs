//! One case per rule of each decision, with the source it cites (the whole-bundle tables are
//! `plan/tests.rs`).

use std::collections::BTreeMap;

use rstest::rstest;
use serde_json::{Value, json};

use super::super::dialect::{self, Env, EnvDialect};
use super::super::k8s::{PodSpec, parse_pod_spec};
use super::super::{GateOn, Kind, RestartPolicy, Source, StartSlot};
use super::*;

/// Runs `f` on container `c`'s declarations: these annotations, env and (if any) pod spec.
fn with_ctx<T>(
    annotations: Value,
    env: &[&str],
    spec: Option<Value>,
    f: impl FnOnce(&Ctx<'_>, &EnvDialect) -> T,
) -> T {
    let annotations: BTreeMap<String, String> = serde_json::from_value(annotations).unwrap();
    let spec: Option<PodSpec> = spec.map(|s| parse_pod_spec(&s.to_string()).unwrap());
    let entry = spec.as_ref().and_then(|s| {
        let init = s
            .init_containers
            .iter()
            .position(|c| c.name == "c")
            .map(|i| (&s.init_containers[i], Role::Init(i)));
        init.or_else(|| {
            s.containers
                .iter()
                .position(|c| c.name == "c")
                .map(|i| (&s.containers[i], Role::Regular(i)))
        })
    });
    let process: Vec<String> = env.iter().map(|s| s.to_string()).collect();
    let dialect = dialect::read(
        &Env {
            process: &process,
            spec: &[],
        },
        "c",
    )
    .unwrap();
    let ctx = Ctx {
        name: "c",
        annotations: &annotations,
        spec: spec.as_ref(),
        entry,
    };
    f(&ctx, &dialect)
}

fn kind_of(annotations: Value, env: &[&str], spec: Option<Value>) -> (Kind, Source) {
    with_ctx(annotations, env, spec, |ctx, d| {
        let own = restart::own(ctx).unwrap();
        let (k, _) = kind::kind(ctx, &own, d, &mut Vec::new()).unwrap();
        (k.value, k.source)
    })
}

#[rstest]
#[case::annotation_wins_over_the_spec(json!({"io.podinit.kind": "app"}), &[], Some(json!({"initContainers": [{"name": "c"}], "containers": [{"name": "a"}]})), Kind::App, Source::annotation("io.podinit.kind"))]
#[case::native_sidecar(json!({}), &[], Some(json!({"initContainers": [{"name": "c", "restartPolicy": "Always"}], "containers": [{"name": "a"}]})), Kind::Sidecar, Source::spec_field("spec.initContainers[0].restartPolicy"))]
#[case::init_entry_over_env(json!({}), &["__IS_SIDECAR__=true"], Some(json!({"initContainers": [{"name": "x"}, {"name": "c"}], "containers": [{"name": "a"}]})), Kind::Init, Source::spec_field("spec.initContainers[1]"))]
#[case::env_dialect(json!({}), &["ECI_CONTAINER_TYPE=sidecar"], Some(json!({"containers": [{"name": "c"}]})), Kind::Sidecar, Source::env("ECI_CONTAINER_TYPE"))]
#[case::spec_app(json!({}), &[], Some(json!({"containers": [{"name": "a"}, {"name": "c"}]})), Kind::App, Source::spec_field("spec.containers[1]"))]
#[case::default_app(json!({}), &[], None, Kind::App, Source::Default)]
fn kind_rules(
    #[case] annotations: Value,
    #[case] env: &[&str],
    #[case] spec: Option<Value>,
    #[case] kind: Kind,
    #[case] source: Source,
) {
    assert_eq!(kind_of(annotations, env, spec), (kind, source));
}

fn slot_of(
    kind: Kind,
    annotations: Value,
    env: &[&str],
    spec: Option<Value>,
) -> (StartSlot, Source) {
    with_ctx(annotations, env, spec, |ctx, d| {
        let s = slot::start_slot(ctx, kind, d, &mut Vec::new()).unwrap();
        (s.value, s.source)
    })
}

#[rstest]
#[case::index_annotation(Kind::Init, json!({"io.podinit.index": "3"}), &[], None, StartSlot::Init { index: 3 }, Source::annotation("io.podinit.index"))]
#[case::init_position(Kind::Init, json!({}), &[], Some(json!({"initContainers": [{"name": "x"}, {"name": "c"}], "containers": [{"name": "a"}]})), StartSlot::Init { index: 1 }, Source::spec_field("spec.initContainers[1]"))]
#[case::init_first_by_default(Kind::Init, json!({}), &[], None, StartSlot::Init { index: 0 }, Source::Default)]
#[case::annotated_sidecar_is_native(Kind::Sidecar, json!({"io.podinit.kind": "sidecar"}), &[], None, StartSlot::Init { index: 0 }, Source::Default)]
#[case::env_sidecar_starts_first(Kind::Sidecar, json!({}), &["__IS_SIDECAR__=true"], None, StartSlot::Regular { priority: 0, early: true }, Source::Default)]
#[case::stop_only_sidecar_is_not_early(Kind::Sidecar, json!({}), &["KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT=true"], None, StartSlot::Regular { priority: 0, early: false }, Source::Default)]
#[case::spec_sidecar_is_regular(Kind::Sidecar, json!({"io.podinit.kind": "sidecar"}), &[], Some(json!({"containers": [{"name": "c"}]})), StartSlot::Regular { priority: 0, early: true }, Source::Default)]
#[case::launch_priority(Kind::App, json!({}), &["VCI_CONTAINER_LAUNCH_PRIORITY=4"], None, StartSlot::Regular { priority: 4, early: false }, Source::env("VCI_CONTAINER_LAUNCH_PRIORITY"))]
fn slot_rules(
    #[case] kind: Kind,
    #[case] annotations: Value,
    #[case] env: &[&str],
    #[case] spec: Option<Value>,
    #[case] start: StartSlot,
    #[case] source: Source,
) {
    assert_eq!(slot_of(kind, annotations, env, spec), (start, source));
}

#[rstest]
#[case::init_waits_for_exit_zero(Kind::Init, StartSlot::Init { index: 0 }, true, GateOn::ExitZero)]
#[case::native_sidecar_started_even_with_readiness(Kind::Sidecar, StartSlot::Init { index: 1 }, true, GateOn::Started)]
#[case::regular_with_readiness_is_ready(Kind::Sidecar, StartSlot::Regular { priority: 0, early: true }, true, GateOn::Ready)]
#[case::regular_app_with_readiness_is_ready(Kind::App, StartSlot::Regular { priority: 5, early: false }, true, GateOn::Ready)]
#[case::regular_without_readiness_is_started(Kind::App, StartSlot::Regular { priority: 0, early: false }, false, GateOn::Started)]
fn gate_rules(
    #[case] kind: Kind,
    #[case] start: StartSlot,
    #[case] readiness: bool,
    #[case] want: GateOn,
) {
    assert_eq!(gate::gate_on(kind, start, readiness), want);
}

fn restart_of(annotations: Value, env: &[&str], spec: Option<Value>) -> (RestartPolicy, Source) {
    with_ctx(annotations, env, spec, |ctx, d| {
        let own = restart::own(ctx).unwrap();
        let (k, _) = kind::kind(ctx, &own, d, &mut Vec::new()).unwrap();
        let r = restart::policy(ctx, k.value, &k.source, &own, d, &mut Vec::new()).unwrap();
        (r.value, r.source)
    })
}

#[rstest]
#[case::annotation_first(json!({"io.podinit.restart-policy": "Never"}), &["__IS_SIDECAR__=true"], None, RestartPolicy::Never, Source::annotation("io.podinit.restart-policy"))]
#[case::own_policy_over_the_pods(json!({}), &[], Some(json!({"restartPolicy": "Always", "containers": [{"name": "c", "restartPolicy": "OnFailure"}]})), RestartPolicy::OnFailure, Source::spec_field("spec.containers[0].restartPolicy"))]
#[case::own_policy_over_env_sidecar(json!({}), &["__IS_SIDECAR__=true"], Some(json!({"containers": [{"name": "c", "restartPolicy": "Never"}]})), RestartPolicy::Never, Source::spec_field("spec.containers[0].restartPolicy"))]
#[case::sidecar_restarts_always(json!({}), &["__IS_SIDECAR__=true"], Some(json!({"restartPolicy": "Never", "containers": [{"name": "c"}]})), RestartPolicy::Always, Source::env("__IS_SIDECAR__"))]
#[case::stop_only_sidecar_follows_the_pod(json!({}), &["ECI_CONTAINER_TYPE=sidecar"], Some(json!({"restartPolicy": "Never", "containers": [{"name": "c"}]})), RestartPolicy::Never, Source::spec_field("restartPolicy"))]
#[case::kubernetes_default(json!({}), &[], None, RestartPolicy::Always, Source::Default)]
fn restart_rules(
    #[case] annotations: Value,
    #[case] env: &[&str],
    #[case] spec: Option<Value>,
    #[case] policy: RestartPolicy,
    #[case] source: Source,
) {
    assert_eq!(restart_of(annotations, env, spec), (policy, source));
}

#[rstest]
#[case::annotation_over_spec(json!({"io.podinit.stop-signal": "quit"}), Some(json!({"containers": [{"name": "c", "lifecycle": {"stopSignal": "SIGINT"}}]})), "SIGQUIT", Source::annotation("io.podinit.stop-signal"))]
#[case::spec_lifecycle(json!({}), Some(json!({"containers": [{"name": "c", "lifecycle": {"stopSignal": "SIGINT"}}]})), "SIGINT", Source::spec_field("c.lifecycle.stopSignal"))]
#[case::sigterm_by_default(json!({}), None, "SIGTERM", Source::Default)]
fn stop_signal_rules(
    #[case] annotations: Value,
    #[case] spec: Option<Value>,
    #[case] name: &str,
    #[case] source: Source,
) {
    let got = with_ctx(annotations, &[], spec, |ctx, _| {
        stop::stop_signal(ctx).unwrap()
    });
    assert_eq!(
        (got.value.name().unwrap_or_default(), got.source),
        (name, source)
    );
}

#[rstest]
#[case::annotation_over_spec(json!({"io.kubernetes.pod.terminationGracePeriod": "7"}), Some(json!({"terminationGracePeriodSeconds": 30, "containers": [{"name": "c"}]})), Some((7, Source::annotation("io.kubernetes.pod.terminationGracePeriod"))))]
#[case::spec(json!({}), Some(json!({"terminationGracePeriodSeconds": 30, "containers": [{"name": "c"}]})), Some((30, Source::spec_field("c.terminationGracePeriodSeconds"))))]
#[case::none_declared(json!({}), None, None)]
fn grace_rules(
    #[case] annotations: Value,
    #[case] spec: Option<Value>,
    #[case] want: Option<(u64, Source)>,
) {
    let got = with_ctx(annotations, &[], spec, |ctx, _| {
        stop::grace_seconds(ctx).unwrap()
    });
    assert_eq!(got.map(|g| (g.value, g.source)), want);
}
