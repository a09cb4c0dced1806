//! Pod scenarios about something dying and what comes back: crashed and unhealthy sidecars
//! restarted alone, restart policies and KEP-5307 restart rules, apps killed, re-gating, and the
//! supervisor itself SIGKILLed and restarted mid-pod.

use super::*;

// ---------------------------------------------------------------------------------------------
// 8. A sidecar that crashes once is restarted alone; the app is untouched

pod::both_orders!(s08_crashed_sidecar_restarted_alone);
fn s08_crashed_sidecar_restarted_alone(order: CreateOrder) {
    // Run 1 crashes (exit 1) once the app runs; run 2 stays up. The app waits for run 2.
    let sidecar = sidecar_ending_its_first_run("tlog crashing; exit 1");
    let app = app_body(
        &format!("{WAIT_FOR_SIDECAR_AGAIN}\ntlog saw the sidecar again"),
        0,
    );
    let out = pod("s08-sidecar-crash")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [{"name": "sidecar", "image": "busybox",
                                "restartPolicy": "Always",
                                "startupProbe": waiting_probe("/dev/shm/ready")}],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", &sidecar))
        .add(Container::script("app", &app))
        .run(order);

    out.assert_order(&[
        "sidecar run 1",
        "app started",
        "sidecar crashing",
        "sidecar run 2",
        "sidecar up again",
        "app saw the sidecar again",
        "app exiting",
        "sidecar got TERM",
    ]);
    // The first restart is immediate (no 10 s backoff).
    let restart_ms = gap_ms(&out, "sidecar crashing", "sidecar run 2");
    assert!(
        restart_ms < 3000.0,
        "first restart took {restart_ms:.0} ms\n{out}"
    );
    assert_eq!(
        count(&out, "app", "started"),
        1,
        "the app was touched\n{out}"
    );
    assert_eq!(count(&out, "sidecar", "run 3"), 0, "{out}");
    assert_eq!(st(&out, "sidecar").restart_count, 1, "{out}");
    assert_eq!(st(&out, "app").restart_count, 0, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

/// A sidecar whose first run ends with `end` (shell) once the app runs (`run 1`, then `run 2`
/// logs `up again` and stays up until SIGTERM); each run logs `run N`.
fn sidecar_ending_its_first_run(end: &str) -> String {
    format!(
        "echo run >> /shared/sidecar-runs; n=$(wc -l < /shared/sidecar-runs)\n\
         tlog \"run $n\"\n\
         if [ \"$n\" = 1 ]; then\n\
           touch /dev/shm/ready\n\
           until grep -q ' app started$' /shared/timeline.log; do sleep 0.02; done\n\
           {end}\n\
         fi\n\
         trap 'tlog got TERM; exit 0' TERM\n\
         tlog up again; while :; do sleep 0.05; done"
    )
}

/// App work: wait (up to 8 s) until the sidecar's second run is up.
const WAIT_FOR_SIDECAR_AGAIN: &str = "i=0; until grep -q ' sidecar up again$' /shared/timeline.log; do\n\
       i=$((i+1)); [ $i -gt 400 ] && { tlog gave up waiting; break; }; sleep 0.02; done";

// ---------------------------------------------------------------------------------------------
// 12. The supervisor SIGKILLed and restarted mid-pod

/// `restart_after_app_exit`: the new supervisor comes up only after the app exited (its exit
/// status must survive in the container's init); otherwise while the app still runs.
fn supervisor_restart(order: CreateOrder, restart_after_app_exit: bool) {
    let test = pod(if restart_after_app_exit {
        "s12b-supervisor-restart"
    } else {
        "s12a-supervisor-restart"
    })
    .spec(json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 10,
        "initContainers": [{"name": "sidecar", "image": "busybox", "restartPolicy": "Always",
                            "startupProbe": waiting_probe("/dev/shm/ready")}],
        "containers": [{"name": "app", "image": "busybox"}],
    }))
    .add(Container::script("sidecar", &sidecar_body("0")))
    // `echo` first: a builtin, no fork, so even a run killed within a millisecond leaves a line.
    .add(Container::script(
        "app",
        &format!("echo app-process-run\n{}", app_body("sleep 2", 0)),
    ));
    let mut running = test.start(order);
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "app did not start: {:?}",
        running.timeline()
    );
    running.kill_supervisor();
    running.mark("supervisor killed");
    if restart_after_app_exit {
        assert!(
            running.wait_for("app exiting", Duration::from_secs(10)),
            "{:?}",
            running.timeline()
        );
        std::thread::sleep(Duration::from_millis(600)); // the app has exited
    } else {
        std::thread::sleep(Duration::from_millis(300));
    }
    running.restart_supervisor();
    running.mark("supervisor restarted");
    let out = running.finish();

    let mut order = vec![
        "sidecar started",
        "app started",
        "harness supervisor killed",
        "harness supervisor restarted",
        "app exiting",
        "sidecar got TERM",
    ];
    if restart_after_app_exit {
        order.swap(3, 4);
    }
    out.assert_order(&order);
    assert_after(&out, "app exiting", "sidecar got TERM", 300.0);
    // The app ran once (restartPolicy Never): not started again after the supervisor came back,
    // by the containers' own account and by the process starts the inits reported.
    assert_eq!(count(&out, "app", "started"), 1, "{out}");
    assert_eq!(
        out.stdout("app").matches("app-process-run").count(),
        1,
        "the app's process ran more than once\n{out}"
    );
    let app_events = status_kinds(&out, "app");
    let exited = app_events
        .iter()
        .position(|e| *e == NoteKind::Exited)
        .unwrap_or_else(|| panic!("no exit of the app in status.json\n{out}"));
    let restarted: Vec<_> = app_events[exited..]
        .iter()
        .filter(|e| **e == NoteKind::ProcessStarted)
        .collect();
    assert!(
        restarted.is_empty(),
        "the app's init reported a process start after the app exited: {restarted:?}\n{out}"
    );
    assert_eq!(count(&out, "sidecar", "started"), 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_eq!(st(&out, "app").exit_code, Some(0), "{out}");
    assert_eq!(st(&out, "app").raw_exit_code, Some(0), "{out}");
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(s12a_supervisor_killed_and_restarted_while_app_runs);
fn s12a_supervisor_killed_and_restarted_while_app_runs(order: CreateOrder) {
    supervisor_restart(order, false);
}

pod::both_orders!(s12b_supervisor_restarted_after_app_exited_meanwhile);
fn s12b_supervisor_restarted_after_app_exited_meanwhile(order: CreateOrder) {
    supervisor_restart(order, true);
}

/// SPEC 6: an app killed by SIGKILL — its process (`process`), or its whole container through
/// the runtime (`runc kill`, as an OOM kill of the container would) — fails the pod; the sidecars
/// are still stopped in reverse order and report 0.
fn app_sigkilled(order: CreateOrder, whole_container: bool) {
    let app = if whole_container {
        "tlog started; while :; do sleep 0.05; done".to_owned()
    } else {
        app_body("sleep 0.1; kill -KILL $$", 0)
    };
    let test = pod("x01-app-sigkill")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [native_sidecar("s1"), native_sidecar("s2")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("s1", &sidecar_body("0.2")))
        .add(Container::script("s2", &sidecar_body("0.2")))
        .add(Container::script("app", &app));
    let running = test.start(order);
    if whole_container {
        assert!(
            running.wait_for("app started", Duration::from_secs(15)),
            "{:?}",
            running.timeline()
        );
        running.mark("runc kill app KILL");
        let id = running.id("app").to_owned();
        let k = running.runc(&["kill", &id, "KILL"]);
        assert!(k.status.success(), "runc kill: {k:?}");
    }
    let out = running.finish();
    out.assert_order(&[
        "s1 started",
        "s2 started",
        "app started",
        "s2 got TERM",
        "s2 exiting",
        "s1 got TERM",
    ]);
    assert_after(&out, "s2 got TERM", "s1 got TERM", 200.0);
    assert_reaped(&out, &[("s1", 0), ("s2", 0), ("app", 137)]);
    assert_stopped_sidecar(&out, "s1", 0);
    assert_stopped_sidecar(&out, "s2", 0);
    assert_eq!(st(&out, "app").raw_exit_code, Some(137), "{out}");
    assert_eq!(st(&out, "app").exit_code, Some(137), "{out}");
    assert_phase(&out, "Failed");
}

pod::both_orders!(x01a_app_process_sigkilled_fails_pod);
fn x01a_app_process_sigkilled_fails_pod(order: CreateOrder) {
    app_sigkilled(order, false);
}

pod::both_orders!(x01b_app_container_killed_by_runtime_fails_pod);
fn x01b_app_container_killed_by_runtime_fails_pod(order: CreateOrder) {
    app_sigkilled(order, true);
}

pod::both_orders!(x06_sidecar_failing_startup_probe_is_restarted);
/// SPEC 3: a sidecar that fails its startupProbe is restarted (never fails the pod); the app
/// waits for the restarted one to be started.
fn x06_sidecar_failing_startup_probe_is_restarted(order: CreateOrder) {
    // Run 1 never makes the file its probe waits for (the probe times out after 1 s, and one
    // failure restarts the sidecar); run 2 makes it.
    let sidecar = "trap 'tlog got TERM; exit 0' TERM\n\
         echo run >> /shared/sidecar-runs; n=$(wc -l < /shared/sidecar-runs); tlog \"run $n\"\n\
         [ \"$n\" -ge 2 ] && touch /shared/ready\n\
         while :; do sleep 0.05; done";
    let out = pod("x06-startup-probe-fails")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [{"name": "sidecar", "image": "busybox", "restartPolicy": "Always",
                                "startupProbe": {
                                    "exec": {"command": ["sh", "-c",
                                        "until test -f /shared/ready; do sleep 0.01; done"]},
                                    "timeoutSeconds": 1, "periodSeconds": 1,
                                    "failureThreshold": 1}}],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", sidecar))
        .add(Container::script("app", &app_body("", 0)))
        .run(order);
    // Run 1 is stopped (SIGTERM) for its failed probe, run 2 at the end of the Job.
    assert_eq!(
        out.events_of("sidecar"),
        ["run 1", "got TERM", "run 2", "got TERM"],
        "{out}"
    );
    out.assert_order(&["sidecar run 2", "app started", "app exiting"]);
    let last_term = out
        .timeline
        .iter()
        .rfind(|e| e.matches("sidecar got TERM"))
        .unwrap()
        .at_us;
    assert!(last_term >= at(&out, "app exiting") + 300_000, "{out}");
    assert_eq!(st(&out, "sidecar").restart_count, 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x10_on_failure_app_restarted_until_success);
/// SPEC 3: under restartPolicy OnFailure an app that fails is restarted (the sidecar is not
/// touched) and the Job succeeds when it exits 0.
fn x10_on_failure_app_restarted_until_success(order: CreateOrder) {
    let app = "echo run >> /shared/app-runs; n=$(wc -l < /shared/app-runs); tlog \"run $n\"\n\
               [ \"$n\" = 1 ] && { tlog failing; exit 1; }\n\
               tlog exiting; sleep 0.3; exit 0";
    let out = pod("x10-on-failure")
        .spec(json!({
            "restartPolicy": "OnFailure",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [native_sidecar("sidecar")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", &sidecar_body("0")))
        .add(Container::script("app", app))
        .run(order);
    assert_eq!(
        out.events_of("app"),
        ["run 1", "failing", "run 2", "exiting"],
        "{out}"
    );
    out.assert_order(&[
        "sidecar started",
        "app run 1",
        "app exiting",
        "sidecar got TERM",
    ]);
    assert_after(&out, "app exiting", "sidecar got TERM", 300.0);
    assert_eq!(count(&out, "sidecar", "started"), 1, "{out}");
    assert_eq!(st(&out, "app").restart_count, 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

/// A sidecar whose run 1 turns sick (`/dev/shm/sick`, not ready) once the app runs; run 2 is
/// healthy. Runs are counted in `/shared/sidecar-runs`; the restart is in place (same /dev/shm).
const SICK_ONCE_SIDECAR: &str = "trap 'tlog got TERM; exit 0' TERM\n\
     echo run >> /shared/sidecar-runs; n=$(wc -l < /shared/sidecar-runs); tlog \"run $n\"\n\
     rm -f /dev/shm/sick; touch /dev/shm/ready\n\
     if [ \"$n\" = 1 ]; then\n\
       until grep -q ' app started$' /shared/timeline.log; do sleep 0.02; done\n\
       tlog sick; rm /dev/shm/ready; touch /dev/shm/sick\n\
     fi\n\
     while :; do sleep 0.05; done";

pod::both_orders!(x11_sidecar_failing_liveness_restarted_alone);
/// SPEC 3: a sidecar that fails liveness is restarted alone; the app keeps running.
fn x11_sidecar_failing_liveness_restarted_alone(order: CreateOrder) {
    // Run 1 turns sick once the app runs; run 2 is healthy. The restart is in place (same
    // /dev/shm): run 1 removes its startup marker, so the startup probe of run 2 (and only then
    // liveness) waits until run 2 cleared the sick marker.
    let sidecar = SICK_ONCE_SIDECAR;
    let app = app_body(
        "i=0; until grep -q ' sidecar run 2$' /shared/timeline.log; do\n\
           i=$((i+1)); [ $i -gt 400 ] && { tlog gave up waiting; break; }; sleep 0.02; done\n\
         tlog saw run 2",
        0,
    );
    let out = pod("x11-liveness")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [{"name": "sidecar", "image": "busybox", "restartPolicy": "Always",
                                "startupProbe": waiting_probe("/dev/shm/ready"),
                                "livenessProbe": {"exec": {"command": ["sh", "-c",
                                                   "! test -f /dev/shm/sick"]},
                                                  "periodSeconds": 1, "failureThreshold": 1}}],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", sidecar))
        .add(Container::script("app", &app))
        .run(order);
    out.assert_order(&[
        "sidecar run 1",
        "app started",
        "sidecar sick",
        "sidecar got TERM",
        "sidecar run 2",
        "app saw run 2",
        "app exiting",
    ]);
    assert_eq!(
        count(&out, "app", "started"),
        1,
        "the app was touched\n{out}"
    );
    assert_eq!(st(&out, "sidecar").restart_count, 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x22_liveness_kill_runs_pre_stop_first);
/// Issue 11, the kubelet's order and hooks: a liveness kill runs the container's preStop before
/// the stop signal (kubelet `killContainer`, e2e "should call prestop when killing a pod"
/// family), and the restarted process gets its own preStop on the next kill.
fn x22_liveness_kill_runs_pre_stop_first(order: CreateOrder) {
    // Run 1 turns sick once the app runs; run 2 is healthy.
    let sidecar = SICK_ONCE_SIDECAR;
    let app = app_body(
        "until grep -q ' sidecar run 2$' /shared/timeline.log; do sleep 0.02; done",
        0,
    );
    let out = pod("x22-liveness-prestop")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [{"name": "sidecar", "image": "busybox", "restartPolicy": "Always",
                                "startupProbe": waiting_probe("/dev/shm/ready"),
                                "livenessProbe": {"exec": {"command": ["sh", "-c",
                                                   "! test -f /dev/shm/sick"]},
                                                  "periodSeconds": 1, "failureThreshold": 1},
                                "lifecycle": {"preStop": logging_handler("preStop done", "0.3")}}],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", sidecar))
        .add(Container::script("app", &app))
        .run(order);
    out.assert_order(&[
        "sidecar run 1",
        "sidecar sick",
        "sidecar preStop done",
        "sidecar got TERM",
        "sidecar run 2",
        "app exiting",
    ]);
    assert_after(&out, "sidecar sick", "sidecar got TERM", 300.0);
    // The second kill (teardown) runs run 2's own preStop.
    assert_eq!(count(&out, "sidecar", "got TERM"), 2, "{out}");
    assert_eq!(
        count(&out, "sidecar", "preStop done"),
        2,
        "one per kill\n{out}"
    );
    assert_eq!(st(&out, "sidecar").restart_count, 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x28_restart_in_place_starts_from_a_clean_slate);
/// Issue 11, a clean slate: a sidecar's first run leaves a background listener on port 7070
/// (in a subshell that traps TERM) and exits 1. Before the restart in place the leftover gets
/// SIGTERM, and the second run binds the same port.
fn x28_restart_in_place_starts_from_a_clean_slate(order: CreateOrder) {
    let sidecar = "echo run >> /shared/sidecar-runs; n=$(wc -l < /shared/sidecar-runs)\n\
         tlog \"run $n\"\n\
         listen() { nc -l -p 7070 >/dev/null 2>>/shared/nc.err & pid=$!; sleep 0.3;\n\
           if kill -0 $pid 2>/dev/null; then tlog \"bound the port\"; else tlog \"bind failed\"; fi; }\n\
         if [ \"$n\" = 1 ]; then\n\
           ( trap 'tlog child got TERM; exit 0' TERM; listen; wait ) &\n\
           until grep -q ' sidecar bound the port$' /shared/timeline.log; do sleep 0.02; done\n\
           touch /dev/shm/ready\n\
           until grep -q ' app started$' /shared/timeline.log; do sleep 0.02; done\n\
           tlog crashing; exit 1\n\
         fi\n\
         listen\n\
         trap 'tlog got TERM; exit 0' TERM\n\
         while :; do sleep 0.05; done";
    let app = app_body(
        "i=0; until grep -qE ' sidecar (bind failed|bound the port)$' /shared/timeline.log \\\n\
           && [ $(grep -cE ' sidecar (bind failed|bound the port)$' /shared/timeline.log) -ge 2 ]; do\n\
           i=$((i+1)); [ $i -gt 400 ] && { tlog gave up waiting; break; }; sleep 0.02; done",
        0,
    );
    let out = pod("x28-clean-slate")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [native_sidecar("sidecar")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", sidecar))
        .add(Container::script("app", &app))
        .run(order);
    out.assert_order(&[
        "sidecar run 1",
        "sidecar bound the port",
        "app started",
        "sidecar crashing",
        "sidecar child got TERM",
        "sidecar run 2",
        "app exiting",
        "sidecar got TERM",
    ]);
    assert_eq!(count(&out, "sidecar", "bound the port"), 2, "{out}");
    assert_eq!(count(&out, "sidecar", "bind failed"), 0, "{out}");
    assert_eq!(count(&out, "app", "gave up waiting"), 0, "{out}");
    assert_eq!(st(&out, "sidecar").restart_count, 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x30_restart_rule_restarts_a_never_app_on_exit_code_42);
/// KEP-5307 (Kubernetes 1.35 container restart rules), the KEP's example and the node e2e
/// "should restart container on rule match": a Job pod with restartPolicy Never whose app has
/// its own `restartPolicy: Never` and a rule Restart `In [42]`. Run 1 exits 42 and is restarted
/// in place by the rule (the sidecar is untouched), run 2 exits 0: Succeeded, restartCount 1.
fn x30_restart_rule_restarts_a_never_app_on_exit_code_42(order: CreateOrder) {
    let app = "echo run >> /shared/app-runs; n=$(wc -l < /shared/app-runs); tlog \"run $n\"\n\
               [ \"$n\" = 1 ] && { tlog retriable; exit 42; }\n\
               tlog exiting; sleep 0.3; exit 0";
    let rules = json!([{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]);
    let out = pod("x30-restart-rules")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [native_sidecar("sidecar")],
            "containers": [{"name": "app", "image": "busybox",
                "restartPolicy": "Never", "restartPolicyRules": rules}],
        }))
        .add(Container::script("sidecar", &sidecar_body("0")))
        .add(Container::script("app", app))
        .run(order);
    assert_eq!(
        out.events_of("app"),
        ["run 1", "retriable", "run 2", "exiting"],
        "{out}"
    );
    out.assert_order(&[
        "sidecar started",
        "app run 1",
        "app run 2",
        "sidecar got TERM",
    ]);
    assert_after(&out, "app exiting", "sidecar got TERM", 300.0);
    assert_eq!(count(&out, "sidecar", "started"), 1, "{out}");
    assert_eq!(st(&out, "app").restart_count, 1, "{out}");
    assert!(
        status_events(&out, "app")
            .iter()
            .any(|e| e.contains("restartPolicyRules[0]") && e.contains("In [42]")),
        "the rule that restarted the app is in the timeline\n{out}"
    );
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

/// KEP-5307, the node e2e "Container Restart Rules" cases of a container not restarted: "should
/// not restart container on rule mismatch, container restart policy Never" (a Never pod, the
/// app's own Never and a rule `In [42]`, exit 3) and "... on container-level restart policy
/// Never" (an Always pod, the app's own Never, exit 1). The app runs once; the pod is Failed.
#[rstest]
#[case::rule_mismatch_spec("Never", json!([{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]), 3, CreateOrder::Spec)]
#[case::rule_mismatch_reverse("Never", json!([{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]), 3, CreateOrder::Reverse)]
#[case::own_never_in_always_pod_spec("Always", json!(null), 1, CreateOrder::Spec)]
#[case::own_never_in_always_pod_reverse("Always", json!(null), 1, CreateOrder::Reverse)]
fn x30b_restart_rule_mismatch_is_not_restarted(
    #[case] pod_policy: &str,
    #[case] rules: Value,
    #[case] code: i32,
    #[case] order: CreateOrder,
) {
    pod::require!();
    let out = pod("x30b-restart-rule-mismatch")
        .spec(json!({
            "restartPolicy": pod_policy,
            "containers": [{"name": "app", "image": "busybox",
                "restartPolicy": "Never", "restartPolicyRules": rules}],
        }))
        .add(Container::script("app", &app_body("", code)))
        .run(order);
    assert_eq!(count(&out, "app", "started"), 1, "{out}");
    assert_eq!(st(&out, "app").restart_count, 0, "{out}");
    assert_reaped(&out, &[("app", code)]);
    assert_phase(&out, "Failed");
}

pod::both_orders!(x30c_own_always_restarts_in_a_never_pod);
/// KEP-5307, the node e2e "should restart container on container-level restart policy
/// Always": a Never pod whose app has its own Always is restarted after it exits 1; run 2
/// keeps running until the pod is deleted.
fn x30c_own_always_restarts_in_a_never_pod(order: CreateOrder) {
    let app = "trap 'tlog got TERM; exit 0' TERM\n\
               echo run >> /shared/app-runs; n=$(wc -l < /shared/app-runs); tlog \"run $n\"\n\
               [ \"$n\" = 1 ] && exit 1\n\
               while :; do sleep 0.05; done";
    let running = pod("x30c-own-always")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "app", "image": "busybox", "restartPolicy": "Always"}],
        }))
        .add(Container::script("app", app))
        .start(order);
    assert!(
        running.wait_for("app run 2", Duration::from_secs(15)),
        "the app was not restarted: {:?}",
        running.timeline()
    );
    stop(&running, 5);
    let out = running.finish();
    assert_eq!(
        out.events_of("app"),
        ["run 1", "run 2", "got TERM"],
        "{out}"
    );
    assert_eq!(st(&out, "app").restart_count, 1, "{out}");
    assert_reaped(&out, &[("app", 0)]);
}

// ---------------------------------------------------------------------------------------------
// Ported from the Kubernetes node e2e catalogue (docs/e2e-catalogue.md), entries "not yet" before

/// e2e L57/L78 ("should restart a restartable init container after the regular container
/// started"): a native sidecar that exits 0 on its own — not a crash — is restarted all the
/// same (kubelet: a restartable init container is restarted whatever its exit code and the
/// pod's restartPolicy), alone; the app is untouched and the Job still succeeds.
#[rstest]
#[case::never_spec("Never", CreateOrder::Spec)]
#[case::never_reverse("Never", CreateOrder::Reverse)]
#[case::on_failure_spec("OnFailure", CreateOrder::Spec)]
#[case::on_failure_reverse("OnFailure", CreateOrder::Reverse)]
fn x40_sidecar_exiting_zero_on_its_own_is_restarted(
    #[case] policy: &str,
    #[case] order: CreateOrder,
) {
    pod::require!();
    let sidecar = sidecar_ending_its_first_run("tlog done by itself; exit 0");
    let app = app_body(WAIT_FOR_SIDECAR_AGAIN, 0);
    let out = pod("x40-sidecar-exit-zero")
        .spec(json!({
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": 10,
            "initContainers": [native_sidecar("sidecar")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", &sidecar))
        .add(Container::script("app", &app))
        .run(order);
    out.assert_order(&[
        "sidecar run 1",
        "app started",
        "sidecar done by itself",
        "sidecar run 2",
        "sidecar up again",
        "app exiting",
        "sidecar got TERM",
    ]);
    assert_eq!(count(&out, "app", "gave up waiting"), 0, "{out}");
    assert_eq!(
        count(&out, "app", "started"),
        1,
        "the app was touched\n{out}"
    );
    assert_eq!(st(&out, "sidecar").restart_count, 1, "{out}");
    assert_eq!(st(&out, "app").restart_count, 0, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

/// e2e L84-L89 ("an Init container before / after restartable init container fails": the Pod
/// keeps running Pending, the init container's restartCount grows; a restartable init container
/// declared before it runs in parallel with it, one declared after it never starts; L105-L110
/// the same under Always): under `restartPolicy: OnFailure` or `Always` a regular init container that always exits 1 is restarted with
/// the backoff (at once, then 10 s); the app never starts; the pod stays Pending until it is
/// deleted.
#[rstest]
#[case::on_failure_sidecar_first_spec("OnFailure", true, CreateOrder::Spec)]
#[case::on_failure_sidecar_first_reverse("OnFailure", true, CreateOrder::Reverse)]
#[case::on_failure_init_first_spec("OnFailure", false, CreateOrder::Spec)]
#[case::on_failure_init_first_reverse("OnFailure", false, CreateOrder::Reverse)]
#[case::always_sidecar_first("Always", true, CreateOrder::Reverse)]
#[case::always_init_first("Always", false, CreateOrder::Spec)]
fn x47_a_failing_init_container_restarts_beside_a_running_sidecar(
    #[case] policy: &str,
    #[case] sidecar_first: bool,
    #[case] order: CreateOrder,
) {
    pod::require!();
    let test = pod("x47-init-fails-beside-sidecar")
        .timeout(Duration::from_secs(60))
        .spec(json!({
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": 5,
            "initContainers": if sidecar_first {
                json!([native_sidecar("sidecar"), {"name": "init", "image": "busybox"}])
            } else {
                json!([{"name": "init", "image": "busybox"}, native_sidecar("sidecar")])
            },
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", &sidecar_body("0")))
        .add(Container::script("init", "tlog failing; exit 1"))
        .add(Container::script("app", "tlog started; exit 0"));
    let running = test.start(order);
    let restarted_twice = wait_status(&running, Duration::from_secs(30), |s| {
        container_state(s, "init").is_some_and(|c| c["restartCount"].as_u64() >= Some(2))
    });
    let mid = running.status();
    // restartCount 2 is the third run's start; its first line may still be on its way (a stop
    // right away once cut it off under load): wait for it before stopping.
    support::eventually(Duration::from_secs(10), || {
        running
            .timeline()
            .iter()
            .filter(|e| e.container == "init" && e.text == "failing")
            .count()
            >= 3
    });
    stop(&running, 5);
    let out = running.finish();
    assert!(restarted_twice, "init did not restart twice\n{out}");
    let mid = mid.expect("a status while the init container failed");
    assert_eq!(mid["phase"], "Pending", "{mid:#}");
    let sidecar = container_state(&mid, "sidecar").expect("sidecar status");
    if sidecar_first {
        assert_eq!(
            (sidecar["state"].clone(), sidecar["started"].clone()),
            (json!("running"), json!(true)),
            "the sidecar runs in parallel with the failing init container\n{mid:#}"
        );
        assert_eq!(
            count(&out, "sidecar", "started"),
            1,
            "the sidecar restarted\n{out}"
        );
    } else {
        assert_eq!(sidecar["started"], false, "{mid:#}");
        assert_eq!(
            count(&out, "sidecar", "started"),
            0,
            "the sidecar started\n{out}"
        );
    }
    assert_eq!(count(&out, "app", "started"), 0, "the app started\n{out}");
    assert!(count(&out, "init", "failing") >= 3, "{out}");
    // The backoff: the second restart waited about 10 s after the first.
    let runs: Vec<u64> = out
        .timeline
        .iter()
        .filter(|e| e.container == "init" && e.text == "failing")
        .map(|e| e.at_us)
        .collect();
    let second_wait_ms = (runs[2] - runs[1]) as f64 / 1000.0;
    assert!(
        (8000.0..20000.0).contains(&second_wait_ms),
        "the second restart came {second_wait_ms:.0} ms after the first (backoff 10 s)\n{out}"
    );
}

pod::both_orders!(x35_an_app_needing_its_sidecar_is_restarted_after_it);
/// Issue 11 item 6, re-gating: with `io.podinit.needs-sidecars: app=proxy:restart`, a crash of
/// the proxy (SIGKILL through `podinit signal`) stops the app too, and the app starts again
/// only after the proxy has started again; the Job then completes (the app exits 0 on HUP).
fn x35_an_app_needing_its_sidecar_is_restarted_after_it(order: CreateOrder) {
    let test = pod("x35-regate").pod_annotation("io.podinit.needs-sidecars", "app=proxy:restart");
    let running = proxy_and_hup_app(test).start(order);
    let runs = |name: &str| runs_so_far(&running, name);
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "{:?}",
        running.timeline()
    );
    running.mark("proxy killed");
    let out = running.podinit(&["signal", "proxy", "KILL"]);
    assert!(out.status.success(), "podinit signal: {out:?}");
    assert!(
        support::eventually(Duration::from_secs(20), || runs("app") == 2),
        "the app did not start again: {:?}",
        running.timeline()
    );
    let out = running.podinit(&["signal", "app", "HUP"]);
    assert!(out.status.success(), "podinit signal: {out:?}");
    let out = running.finish();
    let starts = |name: &str| -> Vec<u64> {
        out.timeline
            .iter()
            .filter(|e| e.container == name && e.text == "started")
            .map(|e| e.at_us)
            .collect()
    };
    let (proxy, app) = (starts("proxy"), starts("app"));
    assert_eq!((proxy.len(), app.len()), (2, 2), "{out}");
    assert!(
        at(&out, "app got TERM") > at(&out, "harness proxy killed"),
        "{out}"
    );
    // The supervisor's own order, not the lines: the restart in place keeps /dev/shm, so run 2's
    // startup probe finds the marker run 1 left (SIGKILL cleaned nothing) and passes at once,
    // and nothing orders the proxy's second `started` line before the app's (30-50 ms apart,
    // the app's TERM trap waiting out its `sleep 0.05`).
    let notes = out.status().map(|d| d.timeline).unwrap_or_default();
    let second = |name: &str, kind: NoteKind| {
        notes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.container.as_deref() == Some(name) && n.kind == kind)
            .nth(1)
            .map(|(i, _)| i)
    };
    let (proxy_back, app_back) = (
        second("proxy", NoteKind::Started),
        second("app", NoteKind::ProcessStarted),
    );
    assert!(
        proxy_back.is_some() && app_back.is_some() && proxy_back < app_back,
        "the app started again only after the proxy did (status timeline positions: proxy \
         started {proxy_back:?}, app process started {app_back:?})\n{out}"
    );
    assert_eq!(st(&out, "app").restart_count, 1, "{out}");
    assert_eq!(st(&out, "proxy").restart_count, 1, "{out}");
    assert_reaped(&out, &[("proxy", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(hooks_s08_crashed_sidecar_restarted);
fn hooks_s08_crashed_sidecar_restarted(order: CreateOrder) {
    pod::hooks(|| s08_crashed_sidecar_restarted_alone(order))
}

pod::both_orders!(hooks_x01b_container_killed_by_runtime);
fn hooks_x01b_container_killed_by_runtime(order: CreateOrder) {
    pod::hooks(|| x01b_app_container_killed_by_runtime_fails_pod(order))
}
