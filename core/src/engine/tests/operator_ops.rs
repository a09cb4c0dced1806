//! `podinit restart` and `podinit signal` (`engine/operator_ops.rs`): one case per rule.

use super::*;
use crate::engine::operator_ops::{Operation, OperationRefused};

impl Pod {
    fn restart(&mut self, name: &str) -> Vec<String> {
        self.ev(Event::RestartRequested { name: name.into() })
    }

    fn signal(&mut self, name: &str, signal: Signal) -> Vec<String> {
        self.ev(Event::SignalRequested {
            name: name.into(),
            signal,
        })
    }

    fn check(&self, name: &str, op: Operation) -> Result<(), OperationRefused> {
        self.engine.check_operation(name, op)
    }
}

#[rstest]
#[case::never_app("Never", "app")]
#[case::on_failure_app("OnFailure", "app")]
#[case::sidecar("Never", "s1")]
fn a_requested_restart_stops_then_starts_the_container_whatever_its_policy(
    #[case] policy: &str,
    #[case] name: &str,
) {
    let mut spec = job_two_sidecars();
    spec["restartPolicy"] = json!(policy);
    let mut pod = Pod::new(spec);
    pod.register_all(&["s1", "s2", "app"]);
    pod.run("s1");
    pod.run("s2");
    pod.run("app");
    assert_eq!(pod.restart(name), s(&[&format!("signal {name} 15")]));
    // Even an exit code 0 under Never restarts it: the operator asked.
    assert_eq!(pod.exit(name, 0), s(&[&format!("restart {name}")]));
    pod.run(name);
    let st = pod.status(name);
    assert_eq!((st.restart_count, st.state), (1, ContainerState::Running));
    for other in ["s1", "s2", "app"].iter().filter(|o| **o != name) {
        assert_eq!(pod.status(other).restart_count, 0, "{other} untouched");
    }
}

#[test]
fn a_requested_restart_runs_pre_stop_first_and_kills_after_the_grace() {
    let mut pod = Pod::new(json!({
        "terminationGracePeriodSeconds": 5,
        "initContainers": [{"name": "s", "restartPolicy": "Always",
            "lifecycle": {"preStop": {"exec": {"command": ["flush"]}}}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    pod.run("app");
    assert_eq!(pod.restart("s"), s(&["prestop s"]));
    assert_eq!(
        pod.handler("s", HandlerKind::PreStop, true),
        s(&["signal s 15"])
    );
    assert_eq!(pod.advance(secs(5)), s(&["kill s"]));
    assert_eq!(pod.killed_by("s", 9), s(&["restart s"]));
}

#[test]
fn a_requested_restart_is_not_a_crash_for_the_backoff() {
    let mut pod = running_job();
    assert_eq!(
        pod.exit("s1", 1),
        s(&["restart s1"]),
        "first crash: at once"
    );
    pod.run("s1");
    pod.restart("s1");
    assert_eq!(
        pod.exit("s1", 143),
        s(&["restart s1"]),
        "requested: at once"
    );
    pod.run("s1");
    // The second crash waits 10 s, as it would have without the requested restart (20 s if
    // that had counted).
    assert_eq!(pod.exit("s1", 1), s(&[]));
    assert_eq!(pod.advance(secs(10)), s(&["restart s1"]));
}

#[test]
fn a_requested_restart_cuts_a_backoff_short() {
    let mut pod = running_job();
    pod.exit("s1", 1);
    pod.run("s1");
    assert_eq!(pod.exit("s1", 1), s(&[]), "waits 10 s");
    assert_eq!(pod.restart("s1"), s(&["restart s1"]));
    assert_eq!(
        pod.advance(secs(10)),
        s(&[]),
        "and not again at the end of it"
    );
}

#[test]
fn a_teardown_during_a_requested_restart_ends_the_container() {
    let mut pod = running_job();
    pod.restart("app");
    // The app exits from the restart's signal after the pod was deleted: nothing restarts.
    pod.stop(Some(30));
    let out = pod.exit("app", 143);
    assert!(!out.contains(&"restart app".to_string()), "{out:?}");
    assert!(out.contains(&"finish app 143".to_string()), "{out:?}");
}

#[rstest]
#[case::unknown("nope", "no container \"nope\" (its containers: s1, s2, app)")]
#[case::held_at_the_gate("app", "container app has not started yet")]
#[case::not_created("s2", "container s2 has not been created yet")]
fn a_restart_or_signal_of_a_container_not_running_is_refused(
    #[case] name: &str,
    #[case] want: &str,
) {
    let mut pod = Pod::new(job_two_sidecars());
    pod.register_all(&["s1", "app"]);
    for op in [Operation::Restart, Operation::Signal(Signal::SIGHUP)] {
        let why = pod.check(name, op).expect_err("refused").to_string();
        assert!(why.contains(want), "{op:?}: {why}");
    }
    // The same event from a journal changes nothing.
    assert_eq!(pod.restart(name), s(&[]));
    assert_eq!(pod.signal(name, Signal::SIGHUP), s(&[]));
}

#[test]
fn a_finished_container_is_not_restarted_in_place() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "initContainers": [{"name": "s", "restartPolicy": "Always"}],
        "containers": [{"name": "a"}, {"name": "b"}]
    }));
    pod.register_all(&["s", "a", "b"]);
    pod.run("s");
    pod.run("a");
    pod.run("b");
    pod.exit("a", 3);
    let why = pod.check("a", Operation::Restart).expect_err("finished");
    assert_eq!(
        why,
        OperationRefused::Finished {
            name: "a".into(),
            exit_code: Some(3)
        }
    );
    assert!(why.to_string().contains("(exit code 3)"), "{why}");
}

#[test]
fn a_pod_in_teardown_takes_signals_but_no_restart() {
    let mut pod = Pod::new(json!({
        "terminationGracePeriodSeconds": 30,
        "initContainers": [{"name": "s", "restartPolicy": "Always"}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    pod.run("app");
    pod.stop(None);
    assert_eq!(
        pod.check("s", Operation::Restart),
        Err(OperationRefused::PodStopping)
    );
    assert_eq!(pod.signal("s", Signal::SIGHUP), s(&["signal s 1"]));
    pod.exit("app", 0);
    pod.exit("s", 0);
    pod.gone("app");
    assert_eq!(pod.gone("s"), s(&["pod Succeeded"]));
    assert_eq!(
        pod.check("s", Operation::Signal(Signal::SIGHUP)),
        Err(OperationRefused::PodFinished)
    );
}

#[test]
fn a_second_restart_while_the_first_stops_it_is_refused() {
    let mut pod = running_job();
    pod.restart("s1");
    assert_eq!(
        pod.check("s1", Operation::Restart),
        Err(OperationRefused::Stopping { name: "s1".into() })
    );
    assert_eq!(pod.restart("s1"), s(&[]), "no second signal");
    // A signal still goes through (the process is still there).
    assert_eq!(pod.signal("s1", Signal::SIGUSR1), s(&["signal s1 10"]));
}

#[test]
fn a_signal_reaches_the_running_process_and_changes_nothing_else() {
    let mut pod = running_job();
    assert_eq!(pod.signal("s1", Signal::SIGHUP), s(&["signal s1 1"]));
    let st = pod.status("s1");
    assert_eq!((st.state, st.restart_count), (ContainerState::Running, 0));
    // If the process exits from it, the restart policy decides as for any exit.
    assert_eq!(pod.exit("s1", 129), s(&["restart s1"]));
}
