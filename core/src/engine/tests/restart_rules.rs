//! KEP-5307: a container's own `restartPolicy` and `restartPolicyRules` decide its restart after
//! each exit (the kubelet's `ContainerShouldRestart`), and the pod's phase follows as the
//! kubelet's `getPhase` has it with `ContainerRestartRules`: Running while a container will
//! restart, then Succeeded or Failed from the apps' last runs.

use rstest::rstest;
use serde_json::{Value, json};

use super::*;

fn rule(op: &str, values: &[i32]) -> Value {
    json!({"action": "Restart", "exitCodes": {"operator": op, "values": values}})
}

/// A pod of one app with `fields`, under the pod policy `policy`.
fn one(policy: &str, fields: Value) -> Pod {
    let mut app = json!({"name": "app"});
    app.as_object_mut()
        .expect("object")
        .extend(fields.as_object().expect("object").clone());
    let mut pod = Pod::new(json!({"restartPolicy": policy, "containers": [app]}));
    pod.register("app");
    pod.run("app");
    pod
}

/// Feed `codes` as the app's successive exits, running it again after every restart (the backoff
/// elapses in between); return the restart count and the pod's phase once it finished, if it did.
fn exits(pod: &mut Pod, codes: &[i32]) -> (u32, Option<Phase>) {
    for &code in codes {
        let mut out = pod.exit("app", code);
        out.extend(pod.advance(secs(301)));
        if out.iter().any(|a| a == "restart app") {
            pod.run("app");
        } else {
            assert!(out.contains(&format!("finish app {code}")), "{out:?}");
        }
    }
    let restarts = pod.status("app").restart_count;
    if pod.status("app").state != ContainerState::Terminated {
        return (restarts, None);
    }
    let out = pod.gone("app");
    let phase = out
        .iter()
        .find_map(|a| a.strip_prefix("pod "))
        .map(str::to_owned);
    let phase = match phase.as_deref() {
        Some("Succeeded") => Phase::Succeeded,
        Some("Failed") => Phase::Failed,
        other => panic!("no pod end after the app is gone: {other:?} {out:?}"),
    };
    (restarts, Some(phase))
}

// One case per rule, from the KEP's examples and the kubelet's e2e "Container Restart Rules".
#[rstest]
// The KEP's example: restartPolicy Never, Restart on exit code 42.
#[case::in_match_restarts("Never", json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", &[42])]}), &[42, 0], 1, Some(Phase::Succeeded))]
#[case::in_miss_is_not_restarted("Never", json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", &[42])]}), &[1], 0, Some(Phase::Failed))]
#[case::in_match_again_and_again("Never", json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", &[42, 88])]}), &[42, 88, 42, 3], 3, Some(Phase::Failed))]
#[case::not_in_restarts_failures("Never", json!({"restartPolicy": "Never", "restartPolicyRules": [rule("NotIn", &[0])]}), &[3, 7, 0], 2, Some(Phase::Succeeded))]
#[case::first_match_wins("Never", json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", &[5]), rule("NotIn", &[0, 5])]}), &[5, 6, 0], 2, Some(Phase::Succeeded))]
#[case::no_match_falls_back_to_the_container_policy("Never", json!({"restartPolicy": "OnFailure", "restartPolicyRules": [rule("In", &[42])]}), &[3, 0], 1, Some(Phase::Succeeded))]
#[case::a_rule_on_zero_restarts_success("Never", json!({"restartPolicy": "OnFailure", "restartPolicyRules": [rule("In", &[0])]}), &[0, 0, 4], 3, None)]
#[case::container_always_in_a_never_pod("Never", json!({"restartPolicy": "Always"}), &[0, 1, 0], 3, None)]
#[case::container_on_failure_in_a_never_pod("Never", json!({"restartPolicy": "OnFailure"}), &[1, 0], 1, Some(Phase::Succeeded))]
#[case::container_never_in_an_always_pod("Always", json!({"restartPolicy": "Never"}), &[0], 0, Some(Phase::Succeeded))]
#[case::container_never_in_an_always_pod_failing("Always", json!({"restartPolicy": "Never"}), &[1], 0, Some(Phase::Failed))]
#[case::container_never_in_an_on_failure_pod("OnFailure", json!({"restartPolicy": "Never"}), &[2], 0, Some(Phase::Failed))]
#[case::no_own_policy_follows_the_pod("OnFailure", json!({}), &[2, 0], 1, Some(Phase::Succeeded))]
fn the_container_rule_decides_the_restart(
    #[case] pod_policy: &str,
    #[case] fields: Value,
    #[case] codes: &[i32],
    #[case] restarts: u32,
    #[case] end: Option<Phase>,
) {
    let mut pod = one(pod_policy, fields);
    assert_eq!(exits(&mut pod, codes), (restarts, end));
}

#[test]
fn the_matching_rule_is_named_in_the_timeline() {
    let mut pod = one(
        "Never",
        json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", &[5]), rule("NotIn", &[0])]}),
    );
    exits(&mut pod, &[9]);
    let events: Vec<String> = pod
        .engine
        .status()
        .timeline
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.contains("restartPolicyRules[1]") && e.contains("NotIn [0]")),
        "{events:?}"
    );
}

/// getPhase with ContainerRestartRules: a container that will restart keeps the pod Running,
/// under a Never pod too; the Job completes only once the app ends for good.
#[test]
fn a_never_pod_stays_running_while_a_rule_restarts_its_app() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "initContainers": [{"name": "s", "restartPolicy": "Always"}],
        "containers": [{"name": "app", "restartPolicy": "Never", "restartPolicyRules": [rule("In", &[42])]}]
    }));
    pod.register_all(&["app", "s"]);
    pod.run("s");
    pod.run("app");
    assert_eq!(pod.exit("app", 42), s(&["restart app"]));
    assert_eq!(pod.engine.phase(), Phase::Running);
    pod.run("app");
    assert_eq!(
        pod.exit("app", 42),
        s(&[]),
        "the backoff holds the second restart"
    );
    assert_eq!(pod.status("app").state, ContainerState::BackOff);
    assert_eq!(
        pod.engine.phase(),
        Phase::Running,
        "no teardown while the app will restart"
    );
    assert_eq!(pod.advance(secs(10)), s(&["restart app"]));
    pod.run("app");
    assert_eq!(pod.exit("app", 0), s(&["finish app 0", "signal s 15"]));
    assert_eq!(pod.killed_by("s", 15), s(&["finish s 0"]));
    pod.gone("s");
    assert_eq!(pod.gone("app"), s(&["pod Succeeded"]));
    assert_eq!(pod.status("app").restart_count, 2);
}

/// The KEP's retry-init: an init container with its own policy and rules in a Never pod.
#[rstest]
#[case::rule_restarts_until_success(json!({"restartPolicy": "Never", "restartPolicyRules": [rule("NotIn", &[0])]}), &[1, 2], true)]
#[case::on_failure_restarts_until_success(json!({"restartPolicy": "OnFailure"}), &[1], true)]
#[case::rule_miss_fails_the_pod(json!({"restartPolicy": "Never", "restartPolicyRules": [rule("In", &[42])]}), &[3], false)]
#[case::own_never_fails_the_pod(json!({"restartPolicy": "Never"}), &[3], false)]
fn an_init_container_follows_its_own_rule(
    #[case] fields: Value,
    #[case] failures: &[i32],
    #[case] app_runs: bool,
) {
    let mut init = json!({"name": "migrate"});
    init.as_object_mut()
        .expect("object")
        .extend(fields.as_object().expect("object").clone());
    let mut pod = Pod::new(
        json!({"restartPolicy": "Never", "initContainers": [init], "containers": [{"name": "app"}]}),
    );
    pod.register_all(&["app", "migrate"]);
    pod.run("migrate");
    for &code in failures {
        let mut out = pod.exit("migrate", code);
        out.extend(pod.advance(secs(301)));
        if !app_runs {
            assert!(out.contains(&format!("finish migrate {code}")), "{out:?}");
            assert!(
                out.contains(&"finish app 1".to_owned()),
                "the app never starts: {out:?}"
            );
            return;
        }
        assert!(out.contains(&"restart migrate".to_owned()), "{out:?}");
        pod.run("migrate");
    }
    // Exit 0 completes an init container whatever its rules say.
    assert_eq!(
        pod.exit("migrate", 0),
        s(&["finish migrate 0", "release app"])
    );
    assert_eq!(pod.status("migrate").restart_count, failures.len() as u32);
}

/// A kill podinit makes (a failed liveness probe) restarts unless the container's policy is
/// Never; the rules are not read for it (kubelet computePodActions).
#[rstest]
#[case::own_never_ignores_a_matching_rule(json!({"restartPolicy": "Never", "restartPolicyRules": [rule("NotIn", &[0])]}), 143, false)]
#[case::on_failure_restarts_a_clean_exit(json!({"restartPolicy": "OnFailure"}), 0, true)]
#[case::pod_policy_never(json!({}), 143, false)]
fn a_probe_kill_follows_the_policy_only(
    #[case] fields: Value,
    #[case] code: i32,
    #[case] restarts: bool,
) {
    let mut fields = fields;
    fields["livenessProbe"] = json!({"exec": {"command": ["true"]}});
    let mut pod = one("Never", fields);
    assert_eq!(
        pod.probe("app", ProbeKind::Liveness, false),
        s(&["unprobe app but readiness", "signal app 15"])
    );
    let out = pod.exit("app", code);
    assert_eq!(out.contains(&"restart app".to_owned()), restarts, "{out:?}");
}
