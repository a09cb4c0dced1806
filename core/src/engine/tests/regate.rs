//! Re-gating (`io.podinit.needs-sidecars`, `engine/regate.rs`): one case per rule.

use super::*;

/// Native sidecar `proxy` (with a readiness probe when `readiness`), apps `app` (needs proxy
/// with `policy`) and `other` (needs nothing); restartPolicy as given. All running.
fn pod_needing(policy: &str, restart: &str, readiness: bool) -> Pod {
    let mut proxy = json!({"name": "proxy", "restartPolicy": "Always"});
    if readiness {
        proxy["readinessProbe"] = json!({"exec": {"command": ["ready"]}});
    }
    let mut pod = Pod::new(json!({
        "metadata": {"annotations": {"io.podinit.needs-sidecars": format!("app=proxy:{policy}")}},
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 10,
            "initContainers": [proxy],
            "containers": [{"name": "app"}, {"name": "other"}]
        }
    }));
    pod.register_all(&["proxy", "app", "other"]);
    pod.run("proxy");
    if readiness {
        pod.probe("proxy", ProbeKind::Readiness, true);
    }
    pod.run("app");
    pod.run("other");
    pod
}

#[rstest]
#[case::never("Never")]
#[case::always("Always")]
fn a_lost_sidecar_stops_the_app_and_restarts_it_once_the_sidecar_is_back(#[case] restart: &str) {
    let mut pod = pod_needing("restart", restart, false);
    assert_eq!(
        pod.exit("proxy", 1),
        s(&["restart proxy", "signal app 15"]),
        "the app that needs it is stopped, the other app is not"
    );
    // The app exits from its signal before the proxy is back: held, whatever its policy.
    assert_eq!(pod.exit("app", 143), s(&[]));
    let st = pod.status("app");
    assert_eq!(st.state, ContainerState::BackOff);
    assert!(
        st.message.contains("waiting for sidecar proxy"),
        "{}",
        st.message
    );
    assert_eq!(pod.advance(secs(600)), s(&[]), "no timer brings it back");
    assert_eq!(pod.run("proxy"), s(&["restart app"]));
    assert_eq!(pod.status("app").restart_count, 1);
    assert_eq!(pod.status("other").restart_count, 0);
}

#[test]
fn a_sidecar_turning_unready_stops_the_app_until_it_is_ready_again() {
    let mut pod = pod_needing("restart", "Never", true);
    assert_eq!(
        pod.probe("proxy", ProbeKind::Readiness, false),
        s(&["signal app 15"])
    );
    assert_eq!(pod.exit("app", 143), s(&[]));
    assert_eq!(
        pod.probe("proxy", ProbeKind::Readiness, true),
        s(&["restart app"])
    );
}

#[test]
fn hold_leaves_the_app_running_and_holds_only_its_restart() {
    let mut pod = pod_needing("hold", "Always", false);
    assert_eq!(
        pod.exit("proxy", 1),
        s(&["restart proxy"]),
        "the app is left alone"
    );
    // The app crashes while the proxy is down: its restart waits for the proxy.
    assert_eq!(pod.exit("app", 2), s(&[]));
    assert_eq!(pod.run("proxy"), s(&["restart app"]));
}

#[test]
fn a_held_restart_after_the_sidecar_is_back_keeps_the_backoff() {
    let mut pod = pod_needing("hold", "Always", false);
    pod.exit("app", 2); // first crash: at once
    pod.run("app");
    // Second crash: 10 s of backoff, the proxy up all along: the backoff decides.
    assert_eq!(pod.exit("app", 2), s(&[]));
    assert_eq!(pod.advance(secs(10)), s(&["restart app"]));
}

#[test]
fn a_held_app_ends_at_teardown_without_starting() {
    let mut pod = pod_needing("restart", "Never", false);
    pod.exit("proxy", 1);
    pod.exit("app", 143);
    let out = pod.stop(None);
    assert!(out.contains(&"finish app 143".to_owned()), "{out:?}");
    assert!(!out.contains(&"restart app".to_owned()), "{out:?}");
}

#[test]
fn nothing_is_re_gated_in_teardown() {
    let mut pod = pod_needing("restart", "Never", false);
    pod.stop(None);
    // The apps were signalled at t0; the proxy's exit now stops nobody a second time.
    let out = pod.exit("proxy", 0);
    assert!(!out.iter().any(|a| a.starts_with("signal app")), "{out:?}");
}

#[rstest]
#[case::unknown_sidecar("app=nope", "no container nope")]
#[case::not_a_sidecar("app=other", "other (needed by app) is not a sidecar")]
#[case::sidecar_needing("proxy=other", "proxy is a sidecar")]
#[case::unknown_app("ghost=proxy", "no container ghost")]
fn needs_naming_the_wrong_containers_are_refused(#[case] raw: &str, #[case] want: &str) {
    let spec = json!({
        "metadata": {"annotations": {"io.podinit.needs-sidecars": raw}},
        "spec": {
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
            "containers": [{"name": "app"}, {"name": "other"}]
        }
    });
    let text = plan_error(&spec, "app");
    assert!(
        text.contains(want) && text.contains("io.podinit.needs-sidecars"),
        "{text}"
    );
}
