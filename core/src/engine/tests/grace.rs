//! Grace that fits log sidecars (issue 11 item 6): the sidecars' reserve of the shared budget
//! (`io.podinit.sidecar-grace-reserve`) and ECI's exit-priority stages, each with the whole
//! grace (`engine/teardown.rs`).

use super::*;

/// A Job pod: app `app` and native sidecar `log`, grace 10 s, the reserve as given.
fn with_reserve(reserve: &str, app_pre_stop: bool) -> Pod {
    let mut app = json!({"name": "app"});
    if app_pre_stop {
        app["lifecycle"] = json!({"preStop": {"exec": {"command": ["drain"]}}});
    }
    let mut pod = Pod::new(json!({
        "metadata": {"annotations": {"io.podinit.sidecar-grace-reserve": reserve}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [{"name": "log", "restartPolicy": "Always"}],
            "containers": [app]
        }
    }));
    pod.register_all(&["log", "app"]);
    pod.run("log");
    pod.run("app");
    pod
}

#[rstest]
// The app ignores its stop signal: killed when its part of the budget ends, 10 - R.
#[case::reserve_4("4", 6)]
// A reserve as long as the budget leaves the apps the 2 s minimum after their signal.
#[case::reserve_all("10", 2)]
#[case::reserve_over("30", 2)]
fn a_reserve_kills_the_apps_that_much_earlier(#[case] reserve: &str, #[case] app_kill: u64) {
    let mut pod = with_reserve(reserve, false);
    assert_eq!(pod.stop(None), s(&["signal app 15"]));
    assert_eq!(
        pod.advance(secs(app_kill) - Duration::from_millis(1)),
        s(&[])
    );
    assert_eq!(pod.advance(Duration::from_millis(1)), s(&["kill app"]));
    assert_eq!(
        pod.killed_by("app", 9),
        s(&["finish app 137", "signal log 15"])
    );
    // The sidecar keeps the budget's end: killed at t0 + 10 (or 2 s after its signal).
    let log_kill = 10u64.saturating_sub(app_kill).max(2);
    assert_eq!(
        pod.advance(secs(log_kill) - Duration::from_millis(1)),
        s(&[])
    );
    assert_eq!(pod.advance(Duration::from_millis(1)), s(&["kill log"]));
}

/// What the reserve is for: without one, an app taking the whole budget leaves its log sidecar
/// only the 2 s minimum, signalled together with the app's SIGKILL.
#[test]
fn without_a_reserve_the_sidecar_gets_the_minimum_at_the_budgets_end() {
    let mut pod = with_reserve("0", false);
    assert_eq!(pod.stop(None), s(&["signal app 15"]));
    assert_eq!(pod.advance(secs(10)), s(&["kill app", "signal log 15"]));
    assert_eq!(pod.advance(secs(2)), s(&["kill log"]));
}

#[test]
fn an_apps_pre_stop_is_cut_where_its_part_of_the_budget_ends() {
    let mut pod = with_reserve("4", true);
    assert_eq!(pod.stop(None), s(&["prestop app"]));
    assert_eq!(pod.advance(Duration::from_millis(5999)), s(&[]));
    assert_eq!(pod.advance(Duration::from_millis(1)), s(&["signal app 15"]));
    // SIGKILL at least 2 s after the signal, past the apps' part.
    assert_eq!(pod.advance(secs(2)), s(&["kill app"]));
}

#[test]
fn a_shorter_second_stop_keeps_the_reserve_inside_the_new_budget() {
    let mut pod = with_reserve("4", false);
    pod.stop(None); // app killed at 6 under the 10 s budget
    pod.advance(secs(1));
    // Now 7 s from t0+1: the budget ends at 8, the apps' part at 4.
    assert_eq!(pod.stop(Some(7)), s(&[]));
    assert_eq!(pod.advance(Duration::from_millis(2999)), s(&[]));
    assert_eq!(pod.advance(Duration::from_millis(1)), s(&["kill app"]));
    assert_eq!(
        pod.killed_by("app", 9),
        s(&["finish app 137", "signal log 15"])
    );
    assert_eq!(
        pod.advance(secs(4)),
        s(&["kill log"]),
        "at the new budget's end"
    );
}

#[test]
fn a_malformed_reserve_names_the_annotation() {
    let spec = json!({
        "metadata": {"annotations": {"io.podinit.sidecar-grace-reserve": "10s"}},
        "spec": {"containers": [{"name": "app"}]}
    });
    let text = plan_error(&spec, "app");
    assert!(
        text.contains("io.podinit.sidecar-grace-reserve") && text.contains("whole seconds"),
        "{text}"
    );
}

fn eci(priority: i32, sidecar: bool) -> serde_json::Value {
    let mut env =
        vec![json!({"name": "ECI_CONTAINER_EXIT_PRIORITY", "value": priority.to_string()})];
    if sidecar {
        env.push(json!({"name": "ECI_SIDECAR_CONTAINER", "value": "true"}));
    }
    json!(env)
}

/// Apps `a1` (priority 10) and `a2` (0), sidecar `log` (-5), grace 5 s, deleted at t0 = 0.
fn staged() -> Pod {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "containers": [
            {"name": "a1", "env": eci(10, false)},
            {"name": "a2", "env": eci(0, false)},
            {"name": "log", "env": eci(-5, true)}
        ]
    }));
    pod.register_all(&["a1", "a2", "log"]);
    for c in ["log", "a1", "a2"] {
        pod.run(c);
    }
    pod
}

#[test]
fn eci_exit_stages_run_one_after_the_other_each_with_the_whole_grace() {
    let mut pod = staged();
    assert_eq!(pod.stop(None), s(&["signal a1 15"]));
    // a1 takes 4 s to exit: a2's stage starts then, with its own 5 s.
    assert_eq!(pod.advance(secs(4)), s(&[]));
    assert_eq!(pod.exit("a1", 0), s(&["finish a1 0", "signal a2 15"]));
    assert_eq!(
        pod.advance(Duration::from_millis(4999)),
        s(&[]),
        "past t0 + 5"
    );
    assert_eq!(pod.advance(Duration::from_millis(1)), s(&["kill a2"]));
    assert_eq!(
        pod.killed_by("a2", 9),
        s(&["finish a2 137", "signal log 15"])
    );
    assert_eq!(
        pod.advance(secs(5)),
        s(&["kill log"]),
        "9 s + 5 s: 14 s in all"
    );
}

#[test]
fn a_stubborn_app_holds_its_stage_for_its_grace_only() {
    let mut pod = staged();
    pod.stop(None);
    assert_eq!(pod.advance(secs(5)), s(&["kill a1"]));
    assert_eq!(
        pod.killed_by("a1", 9),
        s(&["finish a1 137", "signal a2 15"])
    );
}

#[test]
fn equal_exit_priorities_stop_together() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "containers": [
            {"name": "a1", "env": eci(3, false)},
            {"name": "a2", "env": eci(3, false)},
            {"name": "a3"}
        ]
    }));
    pod.register_all(&["a1", "a2", "a3"]);
    for c in ["a1", "a2", "a3"] {
        pod.run(c);
    }
    assert_eq!(pod.stop(None), s(&["signal a1 15", "signal a2 15"]));
    pod.exit("a1", 0);
    assert_eq!(pod.exit("a2", 0), s(&["finish a2 0", "signal a3 15"]));
}

#[test]
fn a_sidecar_of_a_higher_exit_priority_still_stops_after_the_apps() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "containers": [
            {"name": "app", "env": eci(0, false)},
            {"name": "mesh", "env": eci(100, true)}
        ]
    }));
    pod.register_all(&["app", "mesh"]);
    pod.run("mesh");
    pod.run("app");
    assert_eq!(pod.stop(None), s(&["signal app 15"]));
    assert_eq!(pod.exit("app", 0), s(&["finish app 0", "signal mesh 15"]));
}

#[test]
fn a_forced_stop_ignores_the_stages_and_the_reserve() {
    let mut pod = staged();
    assert_eq!(
        pod.stop(Some(1)),
        s(&["signal a1 15", "signal a2 15", "signal log 15"])
    );
    assert_eq!(pod.advance(secs(2)), s(&["kill a1", "kill a2", "kill log"]));
}
