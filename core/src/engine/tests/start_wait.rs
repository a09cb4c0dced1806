//! The start-wait deadline (`io.podinit.start-timeout`, `io.podinit.on-start-timeout`) and
//! the status naming what holds a container at its start gate.

use rstest::rstest;
use serde_json::{Value, json};

use super::*;
use crate::plan::start_wait::{OnStartTimeout, StartTimeout};

const PROBE: &str = "until test -f /dev/shm/ready; do sleep 0.1; done";

/// A Job with a native sidecar `proxy` (startup probe) and an app, as a whole Pod whose
/// annotations are `ann`.
fn proxy_pod(ann: Value) -> Value {
    json!({"kind": "Pod", "metadata": {"name": "p", "annotations": ann}, "spec": {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "initContainers": [{"name": "proxy", "restartPolicy": "Always",
            "startupProbe": {"exec": {"command": ["sh", "-c", PROBE]}, "failureThreshold": 3}}],
        "containers": [{"name": "app"}]}})
}

fn timeout_ann(after: &str, then: &str) -> Value {
    json!({"io.podinit.start-timeout": after, "io.podinit.on-start-timeout": then})
}

/// The proxy runs (its startup probe not passed), the app is held.
fn held(ann: Value) -> Pod {
    let mut pod = Pod::new(proxy_pod(ann));
    pod.register_all(&["app", "proxy"]);
    assert_eq!(pod.run("proxy"), s(&["probes proxy"]));
    pod
}

fn timeline(pod: &Pod, name: &str) -> Vec<String> {
    pod.engine
        .status()
        .timeline
        .into_iter()
        .filter(|e| e.container.as_deref() == Some(name))
        .map(|e| e.event)
        .collect()
}

#[rstest]
// fail: the pod fails with StartTimeout; the app never starts, the sidecar is stopped.
#[case::fail("fail", &["unprobe proxy but readiness", "finish app 1", "signal proxy 15"])]
// start: the app's gate opens whatever holds it.
#[case::start("start", &["release app"])]
// wait: today's behaviour, with the deadline's passing on record.
#[case::wait("wait", &[])]
fn the_declared_outcome_happens_at_the_deadline(#[case] then: &str, #[case] at_deadline: &[&str]) {
    let mut pod = held(timeout_ann("3s", then));
    assert_eq!(pod.advance(Duration::from_millis(2999)), s(&[]));
    assert_eq!(pod.advance(Duration::from_millis(1)), s(at_deadline));
    let notes = timeline(&pod, "app");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("start-wait timeout of 3s passed")
                && n.contains("waiting for sidecar proxy: its startupProbe has not passed yet")
                && n.contains(&format!("on-start-timeout: {then}"))),
        "{notes:?}"
    );
    let st = pod.engine.status();
    match then {
        "fail" => {
            assert_eq!(st.reason, "StartTimeout");
            assert!(
                st.message.starts_with(
                    "container app waited 3s at its start gate, waiting for sidecar proxy"
                ),
                "{}",
                st.message
            );
            assert_eq!(pod.killed_by("proxy", 15), s(&["finish proxy 0"]));
            pod.gone("proxy");
            assert_eq!(pod.gone("app"), s(&["pod Failed"]));
        }
        "start" => {
            pod.run("app");
            assert_eq!(pod.status("app").state, ContainerState::Running);
        }
        _ => {
            let app = pod.status("app");
            assert_eq!(app.state, ContainerState::Waiting);
            assert!(
                app.message
                    .ends_with("(start-wait timeout of 3s passed; on-start-timeout: wait)"),
                "{}",
                app.message
            );
            // And the gate still opens when the proxy starts.
            assert_eq!(
                pod.probe("proxy", ProbeKind::Startup, true),
                s(&["release app"])
            );
        }
    }
}

/// A gate that opens in time makes the deadline nothing: no timer, no note.
#[test]
fn a_gate_that_opens_in_time_cancels_the_deadline() {
    let mut pod = held(timeout_ann("3s", "fail"));
    pod.advance(secs(1));
    assert_eq!(
        pod.probe("proxy", ProbeKind::Startup, true),
        s(&["release app"])
    );
    pod.run("app");
    assert_eq!(pod.engine.poll_timeout(), None, "no timer left for the app");
    assert_eq!(pod.advance(secs(10)), s(&[]));
    assert!(
        timeline(&pod, "app")
            .iter()
            .all(|n| !n.contains("start-wait"))
    );
}

/// Without an annotation the gate holds as long as it takes, and the status still says why.
#[test]
fn without_a_deadline_the_gate_holds_and_says_why() {
    let mut pod = held(json!({}));
    assert_eq!(pod.engine.poll_timeout(), None);
    assert_eq!(
        pod.status("app").message,
        "waiting for sidecar proxy: its startupProbe has not passed yet"
    );
    // Two failed startup probes (3 checks each): killed and restarted twice.
    for _ in 0..2 {
        assert_eq!(
            pod.probe("proxy", ProbeKind::Startup, false),
            s(&["unprobe proxy but readiness", "signal proxy 15"])
        );
        let out = pod.killed_by("proxy", 15);
        assert!(out.is_empty() || out == s(&["restart proxy"]), "{out:?}");
        pod.advance(secs(301));
        pod.run("proxy");
    }
    assert_eq!(
        pod.status("app").message,
        "waiting for sidecar proxy: startupProbe failed 6 times (failureThreshold 3 reached 2 times), 2 restarts"
    );
}

/// A per-container deadline (its own annotation) wins over the pod's and counts from the
/// container's own registration.
#[test]
fn the_container_deadline_counts_from_its_registration() {
    let mut pod = Pod::new(proxy_pod(timeout_ann("1h", "wait")));
    pod.register("proxy");
    pod.run("proxy");
    pod.advance(secs(10));
    let (mut plan, decl) = pod.plan_of("app");
    assert_eq!(
        plan.start_timeout.as_ref().map(|t| t.millis),
        Some(3_600_000)
    );
    plan.start_timeout = Some(StartTimeout {
        millis: 2000,
        on_timeout: OnStartTimeout::Start,
        source: "annotation io.podinit.start-timeout".into(),
    });
    pod.ev(Event::Registered {
        id: "id-app".into(),
        pod_digest: Some(crate::plan::declaration::digest(&decl)),
        plan: Box::new(plan),
        pod: Some(decl),
    });
    assert_eq!(pod.advance(Duration::from_millis(1999)), s(&[]));
    assert_eq!(pod.advance(Duration::from_millis(1)), s(&["release app"]));
}

/// What the status names as the blocker, one case per state of the first container of the
/// sequence that has not passed: an init container `migrate`, then a sidecar `proxy`.
#[rstest]
#[case::init_not_created(&["app"], &[], "waiting for init container migrate: not created yet")]
#[case::init_running(&["app", "migrate"], &["run migrate"], "waiting for init container migrate: running; it must exit 0 first")]
#[case::init_crash_looping(&["app", "migrate"], &["run migrate", "exit migrate 3", "run migrate", "exit migrate 3"], "waiting for init container migrate: exited with code 3, restarting (CrashLoopBackOff, 1 restarts so far)")]
#[case::sidecar_not_created(&["app", "migrate"], &["run migrate", "exit migrate 0"], "waiting for sidecar proxy: not created yet")]
#[case::sidecar_process_starting(&["app", "migrate", "proxy"], &["run migrate", "exit migrate 0"], "waiting for sidecar proxy: its process is starting")]
#[case::sidecar_startup_probe(&["app", "migrate", "proxy"], &["run migrate", "exit migrate 0", "run proxy"], "waiting for sidecar proxy: its startupProbe has not passed yet")]
fn the_blocker_is_named(#[case] created: &[&str], #[case] steps: &[&str], #[case] want: &str) {
    let mut pod = Pod::new(json!({
        "restartPolicy": "OnFailure",
        "initContainers": [{"name": "migrate"}, {"name": "proxy", "restartPolicy": "Always",
            "startupProbe": {"exec": {"command": ["true"]}}}],
        "containers": [{"name": "app"}]}));
    pod.register_all(created);
    for step in steps {
        match step.split_once(' ') {
            Some(("run", n)) => {
                pod.run(n);
            }
            Some(("exit", rest)) => {
                let (n, code) = rest.split_once(' ').expect("exit NAME CODE");
                pod.exit(n, code.parse().expect("code"));
            }
            _ => unreachable!("{step}"),
        }
    }
    let app = pod.status("app");
    assert_eq!(app.state, ContainerState::Waiting);
    assert_eq!(app.message, want);
}

/// The kubelet's one-by-one start: an app waits for the postStart of the one before it.
#[test]
fn an_earlier_post_start_is_named() {
    let mut pod = Pod::new(json!({"containers": [
        {"name": "first", "lifecycle": {"postStart": {"exec": {"command": ["true"]}}}},
        {"name": "second"}]}));
    pod.register_all(&["second", "first"]);
    assert_eq!(pod.run("first"), s(&["poststart first"]));
    assert_eq!(
        pod.status("second").message,
        "waiting for container first: its postStart has not returned (containers start one by one in declaration order)"
    );
}

/// Pods that declare nothing: the settle rule is the blocker.
#[test]
fn the_settle_time_is_named() {
    let mut pod = Pod::new(json!({}));
    let config = json!({"annotations": {"io.podinit.container-name": "app"}});
    let Ok(Classified::Container { plan, .. }) = classify_bundle(&BundleInput {
        config: &config,
        fallback_name: "app",
    }) else {
        panic!("a plain bundle is an app");
    };
    pod.ev(Event::Registered {
        id: "id-app".into(),
        plan,
        pod: Some(PodDeclaration::Unknown),
        pod_digest: None,
    });
    let msg = pod.status("app").message;
    assert!(
        msg.starts_with("waiting for the pod's containers to be created"),
        "{msg}"
    );
}

/// A container known only by name (`io.podinit.pod-containers`) may belong before any other.
#[test]
fn a_container_declared_by_name_only_is_named() {
    let mut pod = Pod::new(json!({}));
    let config = json!({"annotations": {"io.podinit.container-name": "app",
        "io.podinit.pod-containers": "proxy,app"}});
    let Ok(Classified::Container {
        plan, pod: decl, ..
    }) = classify_bundle(&BundleInput {
        config: &config,
        fallback_name: "app",
    })
    else {
        panic!("a named bundle is an app");
    };
    pod.ev(Event::Registered {
        id: "id-app".into(),
        pod_digest: Some(crate::plan::declaration::digest(&decl)),
        plan,
        pod: Some(decl),
    });
    assert_eq!(
        pod.status("app").message,
        "waiting for container proxy: not created yet (declared by name only)"
    );
}
