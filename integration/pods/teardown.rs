//! Pod scenarios about how a pod ends: sidecars stopped in reverse after the apps, grace budgets
//! and SIGKILL at their end, deletions (`podinit stop`, a runtime stopping containers, an active
//! deadline), preStop hooks, exit priorities and reported codes.

use super::*;

// ---------------------------------------------------------------------------------------------
// 5. Reverse-order teardown of three native sidecars

pod::both_orders!(s05_three_sidecars_stop_in_reverse_order);
fn s05_three_sidecars_stop_in_reverse_order(order: CreateOrder) {
    let sidecar = |name: &str| {
        json!({"name": name, "image": "busybox", "restartPolicy": "Always",
               "startupProbe": waiting_probe("/dev/shm/ready")})
    };
    let out = pod("s05-reverse-teardown")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 15,
            "initContainers": [sidecar("s1"), sidecar("s2"), sidecar("s3")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("s1", &sidecar_body("0.3")))
        .add(Container::script("s2", &sidecar_body("0.3")))
        .add(Container::script("s3", &sidecar_body("0.3")))
        .add(Container::script("app", &app_body("sleep 0.1", 0)))
        .run(order);

    out.assert_order(&[
        "s1 started",
        "s2 started",
        "s3 started",
        "app started",
        "app exiting",
        "s3 got TERM",
        "s3 exiting",
        "s2 got TERM",
        "s2 exiting",
        "s1 got TERM",
        "s1 exiting",
    ]);
    assert_after(&out, "app exiting", "s3 got TERM", 300.0);
    // Each sidecar exits 300 ms after its TERM: the next TERM came after that exit.
    assert_after(&out, "s3 got TERM", "s2 got TERM", 300.0);
    assert_after(&out, "s2 got TERM", "s1 got TERM", 300.0);
    assert_reaped(&out, &[("s1", 0), ("s2", 0), ("s3", 0), ("app", 0)]);
    for s in ["s1", "s2", "s3"] {
        assert_stopped_sidecar(&out, s, 0);
        assert_eq!(count(&out, s, "got TERM"), 1, "{out}");
    }
    assert_phase(&out, "Succeeded");
}

// ---------------------------------------------------------------------------------------------
// 6. A sidecar that ignores SIGTERM is killed when the grace budget ends, and reports 0

pod::both_orders!(s06_stubborn_sidecar_killed_at_budget_end);
fn s06_stubborn_sidecar_killed_at_budget_end(order: CreateOrder) {
    let out = pod("s06-stubborn")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 3,
            "initContainers": [{"name": "stubborn", "image": "busybox",
                                "restartPolicy": "Always",
                                "startupProbe": waiting_probe("/dev/shm/ready")}],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "stubborn",
            "trap '' TERM; tlog started; touch /dev/shm/ready; while :; do sleep 0.05; done",
        ))
        .add(Container::script("app", &app_body("sleep 0.1", 0)))
        .run(order);

    out.assert_order(&["stubborn started", "app started", "app exiting"]);
    // From the app's exit to the sidecar's death, both as the agent reaped them.
    let app_gone = out.timings["app"]["exited_at_us"];
    let sidecar_gone = out.timings["stubborn"]["exited_at_us"];
    let secs = (sidecar_gone - app_gone) / 1e6;
    assert!(
        (2.5..=8.0).contains(&secs),
        "stubborn sidecar died {secs:.2} s after the app, expected about the 3 s budget\n{out}"
    );
    assert_reaped(&out, &[("stubborn", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "stubborn", 137);
    assert_phase(&out, "Succeeded");
}

// ---------------------------------------------------------------------------------------------
// 7. A failing app: pod Failed, sidecars still stopped in order with exit 0

pod::both_orders!(s07_failing_app_fails_pod_sidecars_still_zero);
fn s07_failing_app_fails_pod_sidecars_still_zero(order: CreateOrder) {
    let sidecar = |name: &str| {
        json!({"name": name, "image": "busybox", "restartPolicy": "Always",
               "startupProbe": waiting_probe("/dev/shm/ready")})
    };
    let out = pod("s07-failing-app")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [sidecar("s1"), sidecar("s2")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("s1", &sidecar_body("0.2")))
        .add(Container::script("s2", &sidecar_body("0.2")))
        .add(Container::script("app", &app_body("sleep 0.1", 3)))
        .run(order);

    out.assert_order(&[
        "s1 started",
        "s2 started",
        "app started",
        "app exiting",
        "s2 got TERM",
        "s2 exiting",
        "s1 got TERM",
    ]);
    assert_after(&out, "app exiting", "s2 got TERM", 300.0);
    assert_after(&out, "s2 got TERM", "s1 got TERM", 200.0);
    assert_eq!(
        count(&out, "app", "started"),
        1,
        "restartPolicy Never\n{out}"
    );
    assert_reaped(&out, &[("s1", 0), ("s2", 0), ("app", 3)]);
    assert_stopped_sidecar(&out, "s1", 0);
    assert_stopped_sidecar(&out, "s2", 0);
    assert_eq!(st(&out, "app").exit_code, Some(3), "{out}");
    assert_eq!(st(&out, "app").raw_exit_code, Some(3), "{out}");
    assert_phase(&out, "Failed");
}

// ---------------------------------------------------------------------------------------------
// 9. Pod deletion: `podinit stop --grace 10`

pod::both_orders!(s09_pod_deletion_apps_first_then_sidecars_in_reverse);
fn s09_pod_deletion_apps_first_then_sidecars_in_reverse(order: CreateOrder) {
    // The app dies of its SIGTERM (143) after logging it, 200 ms later.
    let app = "trap 'tlog got TERM; sleep 0.2; trap - TERM; kill -TERM $$' TERM\n\
               tlog started; while :; do sleep 0.05; done";
    let running = long_running_pod("s09-pod-deletion", 30, app, order);
    // Each init, once its app ran for 100 ms without events, drops its start-up pages; the
    // stop below then proves that a settled init still stops its app and reports.
    for name in ["s1", "s2", "app"] {
        assert_settles(&running, name);
    }
    let t = Instant::now();
    stop(&running, 10);
    let out = running.finish();

    out.assert_order(&[
        "s1 started",
        "s2 started",
        "app started",
        "harness stop requested",
        "app got TERM",
        "s2 got TERM",
        "s2 exiting",
        "s1 got TERM",
        "s1 exiting",
    ]);
    assert_after(&out, "app got TERM", "s2 got TERM", 200.0);
    assert_after(&out, "s2 got TERM", "s1 got TERM", 200.0);
    assert_eq!(count(&out, "app", "started"), 1, "nothing restarts\n{out}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the stop took {:?}, everything exited on TERM\n{out}",
        t.elapsed()
    );
    assert_reaped(&out, &[("s1", 0), ("s2", 0), ("app", 143)]);
    assert_stopped_sidecar(&out, "s1", 0);
    assert_stopped_sidecar(&out, "s2", 0);
    assert_eq!(st(&out, "app").exit_code, Some(143), "{out}");
    assert_eq!(st(&out, "app").raw_exit_code, Some(143), "{out}");
    assert_phase(&out, "Failed");
}

/// A `restartPolicy: Always` pod of native sidecars s1, s2 (`sidecar_body`) and `app`, started
/// in `order` and running once the app logged `started`.
fn long_running_pod(name: &str, grace: u64, app: &str, order: CreateOrder) -> RunningPod {
    let test = pod(name)
        .spec(json!({
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": grace,
            "initContainers": [native_sidecar("s1"), native_sidecar("s2")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("s1", &sidecar_body("0.2")))
        .add(Container::script("s2", &sidecar_body("0.2")))
        .add(Container::script("app", app));
    let running = test.start(order);
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "app did not start: {:?}",
        running.timeline()
    );
    running
}

/// The container's init drops its start-up pages: its resident set falls at least 400 kB below
/// its peak (about 0.8-0.9 MB measured, `BENCHMARKS.md`).
fn assert_settles(running: &RunningPod, name: &str) {
    let pid = running.pid(name).expect("the container has an init pid");
    let kb = |field| support::status_kb(pid, field);
    assert!(
        support::eventually(Duration::from_secs(10), || {
            matches!((kb("VmRSS"), kb("VmHWM")), (Some(rss), Some(hwm)) if rss + 400 <= hwm)
        }),
        "the init of {name} (pid {pid}) kept its start-up pages: VmRSS {:?} kB, VmHWM {:?} kB",
        kb("VmRSS"),
        kb("VmHWM")
    );
}

// ---------------------------------------------------------------------------------------------
// 14. Pod deleted during initialization

pod::both_orders!(s14_pod_deleted_during_initialization);
fn s14_pod_deleted_during_initialization(order: CreateOrder) {
    // A startup probe that never succeeds, and says so in the timeline.
    let probe = format!("{}; exit 1", pod::log_line("startup probe failed"));
    let test = pod("s14-deleted-during-init")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 30,
            "initContainers": [{"name": "sidecar", "image": "busybox",
                                "restartPolicy": "Always",
                                "startupProbe": {"exec": {"command": ["sh", "-c", &probe]},
                                                 "periodSeconds": 1,
                                                 "failureThreshold": 1000}}],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", &sidecar_body("0")))
        .add(Container::script("app", &app_body("", 0)));
    let running = test.start(order);
    for event in ["sidecar started", "sidecar startup probe failed"] {
        assert!(
            running.wait_for(event, Duration::from_secs(15)),
            "no {event:?}: {:?}",
            running.timeline()
        );
    }
    // Both created: the app is registered and held at its gate.
    let held = wait_status(&running, Duration::from_secs(15), |s| {
        container_state(s, "app").is_some_and(|c| c["state"] == "waiting")
    });
    assert!(held, "app not held at the gate: {:?}", running.status());
    let t = Instant::now();
    stop(&running, 3);
    let out = running.finish();

    assert!(
        out.events_of("app").is_empty(),
        "the app's process ran\n{out}"
    );
    // (The first probe may run before the shell logs `started`.)
    out.assert_order(&[
        "sidecar started",
        "harness stop requested",
        "sidecar got TERM",
    ]);
    out.assert_order(&["sidecar startup probe failed", "harness stop requested"]);
    assert_eq!(st(&out, "sidecar").restart_count, 0, "{out}");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "deleting the pod took {:?}\n{out}",
        t.elapsed()
    );
    assert_eq!(st(&out, "app").reason, "NeverStarted", "{out}");
    assert_eq!(st(&out, "app").state, ContainerState::Terminated, "{out}");
    assert!(!st(&out, "app").started, "{out}");
    // The app's init ended with the code the supervisor gave it; nothing left running.
    let app_code = st(&out, "app").exit_code;
    assert!(app_code.is_some_and(|c| c != 0), "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", app_code.unwrap())]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Failed");
}

pod::both_orders!(x02_second_stop_shortens_the_grace);
/// SPEC 1: a later `podinit stop` with a smaller grace shortens the deadline: a sidecar that
/// ignores SIGTERM is killed about 3 s after `stop --grace 3`, not 30 s after the first stop.
fn x02_second_stop_shortens_the_grace(order: CreateOrder) {
    let test = pod("x02-stop-shortens")
        .spec(json!({
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "initContainers": [native_sidecar("stubborn")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "stubborn",
            "trap 'tlog got TERM, ignoring it' TERM; tlog started; touch /dev/shm/ready\n\
             while :; do sleep 0.05; done",
        ))
        .add(Container::script(
            "app",
            "trap 'tlog got TERM; exit 0' TERM; tlog started; while :; do sleep 0.05; done",
        ));
    let running = test.start(order);
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "{:?}",
        running.timeline()
    );
    stop(&running, 30);
    assert!(
        running.wait_for("stubborn got TERM, ignoring it", Duration::from_secs(10)),
        "{:?}",
        running.timeline()
    );
    running.mark("second stop");
    let second = pod::now_us() as f64;
    let o = running.podinit(&["stop", "--grace", "3"]);
    assert!(o.status.success(), "{o:?}");
    let out = running.finish();

    out.assert_order(&[
        "app got TERM",
        "stubborn got TERM, ignoring it",
        "harness second stop",
    ]);
    let secs = (out.timings["stubborn"]["exited_at_us"] - second) / 1e6;
    assert!(
        (2.5..=8.0).contains(&secs),
        "stubborn sidecar died {secs:.2} s after `stop --grace 3`\n{out}"
    );
    assert_reaped(&out, &[("stubborn", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "stubborn", 137);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x03_sidecar_exiting_nonzero_on_term_reports_zero);
/// SPEC 3: a sidecar that exits non-zero on its teardown SIGTERM is reported 0 (raw code kept)
/// and not restarted.
fn x03_sidecar_exiting_nonzero_on_term_reports_zero(order: CreateOrder) {
    let out = pod("x03-sidecar-exit-1")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [native_sidecar("sidecar")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "sidecar",
            "trap 'tlog got TERM; exit 1' TERM; tlog started; touch /dev/shm/ready\n\
             while :; do sleep 0.05; done",
        ))
        .add(Container::script("app", &app_body("sleep 0.1", 0)))
        .run(order);
    out.assert_order(&["sidecar started", "app exiting", "sidecar got TERM"]);
    assert_eq!(
        count(&out, "sidecar", "started"),
        1,
        "restarted in teardown\n{out}"
    );
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 1);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x08_eci_exit_priority_orders_sidecar_stops);
/// SPEC 2: ECI exit priority orders the sidecar stops (higher first, each after the previous
/// exited), also for a stop-only `ECI_CONTAINER_TYPE=sidecar` container, which starts with the
/// apps (not before them) and is never restarted.
fn x08_eci_exit_priority_orders_sidecar_stops(order: CreateOrder) {
    let eci = |name: &str, env: &[(&str, &str)]| {
        env.iter().fold(
            Container::script(name, &sidecar_body("0.3")),
            |c, (k, v)| c.env(k, v),
        )
    };
    let out = pod("x08-eci-exit-priority")
        .pod_annotation("io.podinit.pod-containers", "proxy,app,logger,metrics")
        .pod_annotation("io.kubernetes.pod.terminationGracePeriod", "15")
        .add(eci(
            "proxy",
            &[
                ("ECI_SIDECAR_CONTAINER", "true"),
                ("ECI_CONTAINER_EXIT_PRIORITY", "-100"),
            ],
        ))
        .add(
            Container::script("app", &app_body("sleep 0.2", 0))
                .annotation("io.podinit.restart-policy", "Never"),
        )
        .add(eci(
            "logger",
            &[
                ("ECI_CONTAINER_TYPE", "sidecar"),
                ("ECI_CONTAINER_EXIT_PRIORITY", "0"),
            ],
        ))
        .add(eci(
            "metrics",
            &[
                ("ECI_SIDECAR_CONTAINER", "true"),
                ("ECI_CONTAINER_EXIT_PRIORITY", "100"),
            ],
        ))
        .run(order);
    out.assert_order(&[
        "app exiting",
        "metrics got TERM",
        "metrics exiting",
        "logger got TERM",
        "logger exiting",
        "proxy got TERM",
    ]);
    assert_after(&out, "app exiting", "metrics got TERM", 300.0);
    assert_after(&out, "metrics got TERM", "logger got TERM", 300.0);
    assert_after(&out, "logger got TERM", "proxy got TERM", 300.0);
    for s in ["proxy", "logger", "metrics"] {
        assert_eq!(count(&out, s, "started"), 1, "{out}");
        assert_stopped_sidecar(&out, s, 0);
    }
    assert_reaped(
        &out,
        &[("proxy", 0), ("app", 0), ("logger", 0), ("metrics", 0)],
    );
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x09_eci_ignore_exit_code);
/// SPEC 2: `ECI_CONTAINER_IGNORE_EXIT_CODE=true` reports an app's exit 3 as 0 (raw code kept),
/// so the Job succeeds.
fn x09_eci_ignore_exit_code(order: CreateOrder) {
    let out = pod("x09-eci-ignore-exit")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [native_sidecar("sidecar")],
            "containers": [{"name": "app", "image": "busybox",
                            "env": [{"name": "ECI_CONTAINER_IGNORE_EXIT_CODE", "value": "true"}]}],
        }))
        .add(Container::script("sidecar", &sidecar_body("0")))
        .add(
            Container::script("app", &app_body("", 3))
                .env("ECI_CONTAINER_IGNORE_EXIT_CODE", "true"),
        )
        .run(order);
    out.assert_order(&[
        "sidecar started",
        "app started",
        "app exiting",
        "sidecar got TERM",
    ]);
    assert_eq!(st(&out, "app").exit_code, Some(0), "{out}");
    assert_eq!(st(&out, "app").raw_exit_code, Some(3), "{out}");
    // As the runtime sees it, like a stopped sidecar: the init exits with the reported code.
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x20_runtime_stopping_every_container_is_a_deletion_in_order);
/// Issue 9 finding 5: a kubelet deletes a pod with StopContainer on every container at once —
/// here `runc kill TERM` on each, the sidecars first. The inits report the runtime's signal
/// instead of passing it on, so the teardown order still holds: the app's TERM first, the
/// sidecars after it exited, in reverse order; nothing restarts; every code is 0.
fn x20_runtime_stopping_every_container_is_a_deletion_in_order(order: CreateOrder) {
    let app = "trap 'tlog got TERM; sleep 0.2; tlog exiting; exit 0' TERM\n\
               tlog started; while :; do sleep 0.05; done";
    let running = long_running_pod("x20-runtime-deletes", 20, app, order);
    running.mark("runtime stops every container");
    for name in ["s1", "s2", "app"] {
        let id = running.id(name).to_owned();
        let k = running.runc(&["kill", &id, "TERM"]);
        assert!(k.status.success(), "runc kill {name}: {k:?}");
    }
    let out = running.finish();
    out.assert_order(&[
        "app started",
        "harness runtime stops every container",
        "app got TERM",
        "app exiting",
        "s2 got TERM",
        "s2 exiting",
        "s1 got TERM",
    ]);
    assert_after(&out, "app got TERM", "s2 got TERM", 200.0);
    for name in ["s1", "s2", "app"] {
        assert_eq!(count(&out, name, "started"), 1, "{name} restarted\n{out}");
    }
    assert_reaped(&out, &[("s1", 0), ("s2", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "s1", 0);
    assert_stopped_sidecar(&out, "s2", 0);
    let reason = out.status_json.as_ref().map(|s| s["reason"].clone());
    assert_eq!(reason, Some(json!("Deleted")), "{out}");
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x21_runtime_stopping_one_sidecar_stops_it_alone);
/// Issue 9 finding 5: `runc kill SIDECAR TERM` while the app runs (the first half of an
/// in-place upgrade) stops that sidecar alone, after the window in which a deletion's other
/// stops would have come; it is not restarted, keeps its own exit code, and the app is not
/// touched. The Job then completes as usual.
fn x21_runtime_stopping_one_sidecar_stops_it_alone(order: CreateOrder) {
    let test = pod("x21-runtime-stops-sidecar")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 20,
            "initContainers": [native_sidecar("s")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "s",
            "trap 'tlog got TERM; exit 3' TERM; tlog started; touch /dev/shm/ready\n\
             while :; do sleep 0.05; done",
        ))
        .add(Container::script(
            "app",
            &app_body(
                "trap 'tlog got TERM' TERM; while [ ! -e /shared/go ]; do sleep 0.05; done",
                0,
            ),
        ));
    let running = test.start(order);
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "{:?}",
        running.timeline()
    );
    running.mark("runc kill s TERM");
    let id = running.id("s").to_owned();
    let k = running.runc(&["kill", &id, "TERM"]);
    assert!(k.status.success(), "runc kill: {k:?}");
    assert!(
        running.wait_for("s got TERM", Duration::from_secs(10)),
        "{:?}",
        running.timeline()
    );
    assert!(
        wait_status(&running, Duration::from_secs(10), |st| {
            container_state(st, "s").is_some_and(|c| c["state"] == "terminated")
        }),
        "the sidecar must end, not restart: {:?}",
        running.status()
    );
    std::fs::write(running.shared_dir().join("go"), b"").unwrap();
    let out = running.finish();
    out.assert_order(&["harness runc kill s TERM", "s got TERM", "app exiting"]);
    let waited = gap_ms(&out, "harness runc kill s TERM", "s got TERM");
    assert!(
        (700.0..10_000.0).contains(&waited),
        "the sidecar's stop waits about a second for a deletion's other stops, waited {waited} ms\n{out}"
    );
    assert_eq!(count(&out, "s", "started"), 1, "restarted\n{out}");
    assert_eq!(
        count(&out, "app", "got TERM"),
        0,
        "the app was touched\n{out}"
    );
    assert_reaped(&out, &[("s", 3), ("app", 0)]);
    assert_eq!(st(&out, "s").exit_code, Some(3), "{out}");
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x25_active_deadline_fails_the_pod_with_deadline_exceeded);
/// Issue 11, pod deadlines: a Job whose app outlives `activeDeadlineSeconds` is torn down with
/// grace (the app's TERM first, then the sidecar's) and fails with `DeadlineExceeded`, though
/// the app exits 0 on its TERM.
fn x25_active_deadline_fails_the_pod_with_deadline_exceeded(order: CreateOrder) {
    let out = pod("x25-active-deadline")
        .spec(json!({
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 2,
            "terminationGracePeriodSeconds": 10,
            "initContainers": [native_sidecar("sidecar")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", &sidecar_body("0")))
        .add(Container::script(
            "app",
            "trap 'tlog got TERM; sleep 0.3; tlog exiting; exit 0' TERM\n\
             tlog started; while :; do sleep 0.05; done",
        ))
        .run(order);
    out.assert_order(&[
        "sidecar started",
        "app started",
        "app got TERM",
        "app exiting",
        "sidecar got TERM",
    ]);
    let since_start = gap_ms(&out, "sidecar started", "app got TERM");
    assert!(
        (1000.0..8000.0).contains(&since_start),
        "TERM {since_start} ms after the first start, the deadline is 2 s from registration\n{out}"
    );
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    let reason = out.status_json.as_ref().map(|s| s["reason"].clone());
    assert_eq!(reason, Some(json!("DeadlineExceeded")), "{out}");
    assert_phase(&out, "Failed");
}

pod::both_orders!(x29_adopted_daemons_get_the_stop_signal_before_sigkill);
/// Issue 11, adopted daemons at the container's end (tini#229): the app starts a daemon that
/// traps TERM and exits; the daemon, now the init's, gets SIGTERM and time to finish instead
/// of the kernel's SIGKILL when the init exits. A second daemon ignores TERM and is SIGKILLed
/// when the grace (the kubelet's 2 s minimum for an app that ended by itself) is over.
fn x29_adopted_daemons_get_the_stop_signal_before_sigkill(order: CreateOrder) {
    let out = pod("x29-adopted-daemons")
        .spec(json!({
            "restartPolicy": "Never",
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "app",
            "( trap 'tlog daemon got TERM; sleep 0.2; tlog daemon done; exit 0' TERM\n\
               while :; do sleep 0.05; done ) &\n\
             ( trap 'tlog stubborn got TERM' TERM\n\
               while :; do sleep 0.05; done ) &\n\
             sleep 0.2; tlog exiting; exit 0",
        ))
        .run(order);
    out.assert_order(&["app exiting", "app daemon got TERM", "app daemon done"]);
    assert_eq!(count(&out, "app", "stubborn got TERM"), 1, "{out}");
    // The container ends once the stubborn daemon is SIGKILLed, its grace after the TERM.
    let exited_us = out.timings["app"]["exited_at_us"];
    let term_us = at(&out, "app stubborn got TERM") as f64;
    let after_term_ms = (exited_us - term_us) / 1000.0;
    assert!(
        (1000.0..10_000.0).contains(&after_term_ms),
        "the container ended {after_term_ms:.0} ms after the stubborn daemon's TERM (grace 2 s)\n{out}"
    );
    assert_reaped(&out, &[("app", 0)]);
    assert_phase(&out, "Succeeded");
}

/// e2e L24/L132 ("should respect termination grace period seconds with long-running preStop
/// hook", "should mark pod as failed if any of the prestop hook in regular container has
/// exceeded its termination grace period seconds"): pod deleted with a 4 s grace while the
/// app's preStop would take 20 s and the app and sidecar s2 ignore SIGTERM. The preStop gets
/// the whole grace and is cut there. Then the ordering gives way to the budget, as in the
/// kubelet (`killContainer`: `waitForTurn` returns when the grace is over, then every container
/// gets StopContainer with the 2 s minimum): the app and both sidecars get their stop signal
/// together, and the two that ignore it are SIGKILLed 2 s later (137; the pod Failed), s1
/// stops at once. The kubelet reports s2 as 137/Error; podinit as 0 with `rawExitCode` 137
/// (SPEC 3: a sidecar stopped by the pod succeeds).
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x41_pre_stop_outliving_the_grace_is_cut_then_everyone_stops_with_the_minimum(
    #[case] order: CreateOrder,
) {
    pod::require!();
    let stubborn = "trap 'tlog got TERM' TERM\n\
                    tlog started; touch /dev/shm/ready\n\
                    while :; do sleep 0.05; done";
    let test = pod("x41-prestop-outlives-grace")
        .timeout(Duration::from_secs(40))
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 4,
            "initContainers": [native_sidecar("s1"), native_sidecar("s2")],
            "containers": [{"name": "app", "image": "busybox",
                            "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c",
                                format!("{}; sleep 20; {}",
                                        pod::log_line("preStop started"),
                                        pod::log_line("preStop finished"))]}}}}],
        }))
        .add(Container::script("s1", &sidecar_body("0")))
        .add(Container::script("s2", stubborn))
        .add(Container::script("app", stubborn));
    let running = test.start(order);
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "app did not start: {:?}",
        running.timeline()
    );
    running.mark("delete requested");
    let out_stop = running.podinit(&["stop"]);
    assert!(out_stop.status.success(), "podinit stop: {out_stop:?}");
    let out = running.finish();
    out.assert_order(&[
        "harness delete requested",
        "app preStop started",
        "app got TERM",
    ]);
    out.assert_order(&["app preStop started", "s2 got TERM"]);
    out.assert_order(&["app preStop started", "s1 got TERM", "s1 exiting"]);
    assert_eq!(count(&out, "app", "preStop finished"), 0, "{out}");
    // Nobody's stop signal before the grace is over (the preStop had all of it), everyone's
    // right after.
    for who in ["app", "s2", "s1"] {
        let ms = gap_ms(&out, "app preStop started", &format!("{who} got TERM"));
        assert!(
            (3500.0..8000.0).contains(&ms),
            "{who}'s stop signal came {ms:.0} ms after the preStop began (grace 4 s)\n{out}"
        );
    }
    // Then the 2 s minimum before SIGKILL for the two that ignore it, from the stop signal as
    // the supervisor sent it: a `got TERM` line comes up to 50 ms (the trap waits out the
    // `sleep 0.05`) and a few forks later, which under load can eat the 200 ms of slack.
    for who in ["app", "s2"] {
        let exited_ms = out.timings[who]["exited_at_us"] / 1000.0;
        let term_ms = status_event_ms(&out, Some(who), NoteKind::StopSignal) as f64;
        let ms = exited_ms - term_ms;
        assert!(
            (1800.0..6000.0).contains(&ms),
            "{who} ended {ms:.0} ms after its TERM (SIGKILL after the 2 s minimum)\n{out}"
        );
    }
    // s2's init exits 0 for the runtime too (its app's SIGKILL is in `rawExitCode`), as in s06.
    assert_reaped(&out, &[("s1", 0), ("s2", 0), ("app", 137)]);
    assert_eq!(st(&out, "app").exit_code, Some(137), "{out}");
    assert_stopped_sidecar(&out, "s2", 137);
    assert_stopped_sidecar(&out, "s1", 0);
    assert_phase(&out, "Failed");
}

pod::both_orders!(x42_failing_pre_stop_in_teardown_does_not_stop_the_stop);
/// e2e L129's family (a restartable init container's stop going wrong in teardown must not
/// change the pod's outcome): a sidecar whose preStop fails (exit 1) still gets its stop
/// signal right after, and the Job succeeds. The kubelet records FailedPreStopHook and kills
/// the container all the same (`killContainer` → `executePreStopHook` ignores the result).
fn x42_failing_pre_stop_in_teardown_does_not_stop_the_stop(order: CreateOrder) {
    let mut sidecar = native_sidecar("sidecar");
    sidecar["lifecycle"] = json!({"preStop": {"exec": {"command": ["sh", "-c",
        format!("{}; exit 1", pod::log_line("preStop failing"))]}}});
    let t = Instant::now();
    let out = pod("x42-prestop-fails")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 20,
            "initContainers": [sidecar],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", &sidecar_body("0")))
        .add(Container::script("app", &app_body("sleep 0.2", 0)))
        .run(order);
    out.assert_order(&[
        "sidecar started",
        "app started",
        "app exiting",
        "sidecar preStop failing",
        "sidecar got TERM",
        "sidecar exiting",
    ]);
    let after_ms = gap_ms(&out, "sidecar preStop failing", "sidecar got TERM");
    assert!(
        after_ms < 3000.0,
        "the stop signal came {after_ms:.0} ms after the failed preStop\n{out}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "the pod waited out its grace ({:?})\n{out}",
        t.elapsed()
    );
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x43_readiness_goes_on_during_pre_stop_liveness_does_not);
/// e2e L27 ("should execute readiness probe while in preStop, but not liveness") and P22/P23
/// (the same for a native sidecar): a pod deleted while a native sidecar's and the app's
/// preStops (3 s) run. From the stop on, neither's liveness probe runs any more, their
/// readiness probes go on and, failing once the preStop began draining, turn each unready —
/// status.json says `ready: false` and the pod not Ready while both still run — before their
/// stop signals.
fn x43_readiness_goes_on_during_pre_stop_liveness_does_not(order: CreateOrder) {
    let probe = |kind: &str, check: &str| {
        json!({"exec": {"command": ["sh", "-c", format!("{}; {check}", pod::log_line(kind))]},
               "periodSeconds": 1, "failureThreshold": 1})
    };
    let probed = |name: &str| {
        json!({"name": name, "image": "busybox",
            "readinessProbe": probe("readiness probed", "test ! -f /dev/shm/draining"),
            "livenessProbe": probe("liveness probed", "true"),
            "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c",
                format!("touch /dev/shm/draining; {}; sleep 3; {}",
                        pod::log_line("preStop draining"),
                        pod::log_line("preStop done"))]}}}})
    };
    let mut proxy = probed("proxy");
    proxy["restartPolicy"] = json!("Always");
    let body = "trap 'tlog got TERM; exit 0' TERM\ntlog started; while :; do sleep 0.05; done";
    let test = pod("x43-readiness-in-prestop")
        .timeout(Duration::from_secs(40))
        .spec(json!({
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 15,
            "initContainers": [proxy],
            "containers": [probed("app")],
        }))
        .add(Container::script("proxy", body))
        .add(Container::script("app", body));
    let running = test.start(order);
    let both = |want: bool, state: Option<&'static str>| {
        move |s: &Value| {
            ["proxy", "app"].iter().all(|n| {
                container_state(s, n)
                    .is_some_and(|c| c["ready"] == want && state.is_none_or(|st| c["state"] == st))
            })
        }
    };
    assert!(
        wait_status(&running, Duration::from_secs(15), both(true, None)),
        "the containers never became ready: {:?}",
        running.status()
    );
    running.mark("delete requested");
    let out_stop = running.podinit(&["stop"]);
    assert!(out_stop.status.success(), "podinit stop: {out_stop:?}");
    // Unready while both still run their preStop (status.json, as an agent reads it).
    let unready_in_pre_stop = wait_status(&running, Duration::from_secs(3), |s| {
        both(false, Some("running"))(s)
            && s["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .is_some_and(|c| c["status"] == "False")
    });
    let out = running.finish();
    assert!(
        unready_in_pre_stop,
        "never unready during the preStops\n{out}"
    );
    for name in ["proxy", "app"] {
        out.assert_order(&[
            "harness delete requested",
            &format!("{name} preStop draining"),
            &format!("{name} preStop done"),
            &format!("{name} got TERM"),
        ]);
        let draining = at(&out, &format!("{name} preStop draining"));
        let term = at(&out, &format!("{name} got TERM"));
        let during = |kind: &str| {
            out.timeline
                .iter()
                .filter(|e| e.container == name && e.text == kind)
                .filter(|e| e.at_us > draining + 200_000 && e.at_us < term)
                .count()
        };
        assert!(
            during("readiness probed") >= 2,
            "{name}: readiness was not probed during the 3 s preStop\n{out}"
        );
        assert_eq!(
            during("liveness probed"),
            0,
            "{name}: liveness ran during the preStop\n{out}"
        );
    }
    assert_reaped(&out, &[("proxy", 0), ("app", 0)]);
}

pod::both_orders!(x44_the_teardown_cause_reaches_pre_stop_and_the_sidecar);
/// Issue 11 item 6, the teardown cause handed to the containers: a Job whose app exits 3. The
/// sidecar's preStop sees the cause in its environment, and its TERM trap reads the teardown
/// file (rewritten with its stop signal) to say why it stops and what the app exited with —
/// what a log sidecar flushing needs. The app's own preStop never runs (it exited by itself).
fn x44_the_teardown_cause_reaches_pre_stop_and_the_sidecar(order: CreateOrder) {
    let mut sidecar = native_sidecar("sidecar");
    sidecar["lifecycle"] = json!({"preStop": {"exec": {"command": ["sh", "-c",
    // The handler's own shell expands the environment the init handed it.
    pod::log_line("preStop cause @").replace(
        '@',
        "'\"$PODINIT_TEARDOWN_CAUSE codes $PODINIT_APP_EXIT_CODES\"'",
    )]}}});
    let out = pod("x44-teardown-cause")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [sidecar],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "sidecar",
            "trap '. /.podinit/run/teardown; tlog flushing: $PODINIT_TEARDOWN_CAUSE $PODINIT_APP_EXIT_CODES; exit 0' TERM\n\
             tlog started; touch /dev/shm/ready\n\
             while :; do sleep 0.05; done",
        ))
        .add(Container::script("app", &app_body("sleep 0.2", 3)))
        .run(order);
    out.assert_order(&[
        "sidecar started",
        "app started",
        "app exiting",
        "sidecar preStop cause AppFailed codes app=3",
        "sidecar flushing: AppFailed app=3",
    ]);
    assert_reaped(&out, &[("sidecar", 0), ("app", 3)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Failed");
}

pod::both_orders!(x46_sleep_pre_stop_holds_the_signal_and_skips_an_exited_container);
/// e2e H13, H15, H16 (the sleep handler as preStop): on deletion, `napper`'s `sleep 2` preStop
/// holds its stop signal about 2 s, `zero`'s `sleep 0` not at all; in a Job, `done`'s
/// preStop `sleep 20` never runs because its app already exited — the Job ends at once.
fn x46_sleep_pre_stop_holds_the_signal_and_skips_an_exited_container(order: CreateOrder) {
    let sleeper = |name: &str, seconds: u64| {
        json!({"name": name, "image": "busybox",
               "lifecycle": {"preStop": {"sleep": {"seconds": seconds}}}})
    };
    let body = "trap 'tlog got TERM; exit 0' TERM; tlog started; while :; do sleep 0.05; done";
    let test = pod("x46-sleep-prestop")
        .timeout(Duration::from_secs(40))
        .spec(json!({
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 20,
            "containers": [sleeper("napper", 2), sleeper("zero", 0)],
        }))
        .add(Container::script("napper", body))
        .add(Container::script("zero", body));
    let running = test.start(order.clone());
    for name in ["napper", "zero"] {
        assert!(
            running.wait_for(&format!("{name} started"), Duration::from_secs(15)),
            "{name} did not start: {:?}",
            running.timeline()
        );
    }
    stop(&running, 20);
    let out = running.finish();
    let napped = gap_ms(&out, "harness stop requested", "napper got TERM");
    assert!(
        (1800.0..6000.0).contains(&napped),
        "napper's stop signal came {napped:.0} ms after the stop (preStop sleep 2 s)\n{out}"
    );
    let zero = gap_ms(&out, "harness stop requested", "zero got TERM");
    assert!(
        zero < 1500.0,
        "zero's stop signal came {zero:.0} ms after the stop (preStop sleep 0)\n{out}"
    );
    assert_reaped(&out, &[("napper", 0), ("zero", 0)]);

    // H15: a container that exited by itself gets no preStop at the end.
    let t = Instant::now();
    let job = pod("x46-sleep-prestop-done")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 30,
            "containers": [sleeper("done", 20)],
        }))
        .add(Container::script("done", &app_body("sleep 0.1", 0)))
        .run(order);
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "the Job waited for a preStop of an exited container ({:?})\n{job}",
        t.elapsed()
    );
    assert_reaped(&job, &[("done", 0)]);
    assert_phase(&job, "Succeeded");
}

pod::both_orders!(x33_a_sidecar_grace_reserve_lets_the_log_sidecar_flush);
/// Issue 11 item 6, grace for log sidecars: with `io.podinit.sidecar-grace-reserve: 3` and a
/// 6 s deletion, an app that ignores SIGTERM is killed 3 s in (not at 6 s), and the log sidecar,
/// signalled once the app is gone, has the budget's last 3 s to flush (2 s here) and exits 0 by
/// itself, not SIGKILLed. The pod is Failed (the app's 137).
fn x33_a_sidecar_grace_reserve_lets_the_log_sidecar_flush(order: CreateOrder) {
    let test = pod("x33-sidecar-reserve")
        .timeout(Duration::from_secs(60))
        .pod_annotation("io.podinit.sidecar-grace-reserve", "3")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 6,
            "initContainers": [native_sidecar("log")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "log",
            "trap 'tlog got TERM; sleep 2; tlog flushed; exit 0' TERM\n\
             tlog started; touch /dev/shm/ready\n\
             while :; do sleep 0.05; done",
        ))
        .add(Container::script(
            "app",
            "trap 'tlog ignoring TERM' TERM\ntlog started\nwhile :; do sleep 0.05; done",
        ));
    let running = test.start(order);
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "{:?}",
        running.timeline()
    );
    stop(&running, 6);
    let out = running.finish();
    let killed_after = gap_ms(&out, "harness stop requested", "log got TERM");
    assert!(
        (2500.0..5000.0).contains(&killed_after),
        "the app's part of the budget is 6 - 3 s: the log sidecar's signal came {killed_after:.0} ms after the stop\n{out}"
    );
    out.assert_order(&["app ignoring TERM", "log got TERM", "log flushed"]);
    assert_stopped_sidecar(&out, "log", 0);
    assert_eq!(st(&out, "app").raw_exit_code, Some(137), "{out}");
    assert_reaped(&out, &[("log", 0), ("app", 137)]);
    assert_phase(&out, "Failed");
}

pod::both_orders!(x34_eci_exit_priority_stops_every_container_stage_by_stage);
/// Issue 11 item 6, ECI exit priority on every container, stage by stage: apps `a1` (10) and
/// `a2` (0), log sidecar `log` (-5), grace 2 s. Each takes 1.5 s to exit after its signal; each
/// stage's signal waits for the stage before it to exit and has the whole 2 s, so all three
/// exit by themselves, 4.5 s in all, past the 2 s grace (as ECI documents), none SIGKILLed.
fn x34_eci_exit_priority_stops_every_container_stage_by_stage(order: CreateOrder) {
    let body = "trap 'tlog got TERM; sleep 1.5; tlog exiting; exit 0' TERM\n\
                tlog started; touch /dev/shm/ready\n\
                while :; do sleep 0.05; done";
    let test = pod("x34-eci-exit-stages")
        .timeout(Duration::from_secs(60))
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 2,
            "containers": [
                {"name": "a1", "image": "busybox"},
                {"name": "a2", "image": "busybox"},
                {"name": "log", "image": "busybox"},
            ],
        }))
        .add(Container::script("a1", body).env("ECI_CONTAINER_EXIT_PRIORITY", "10"))
        .add(Container::script("a2", body).env("ECI_CONTAINER_EXIT_PRIORITY", "0"))
        .add(
            Container::script("log", body)
                .env("ECI_SIDECAR_CONTAINER", "true")
                .env("ECI_CONTAINER_EXIT_PRIORITY", "-5"),
        );
    let running = test.start(order);
    for c in ["a1", "a2", "log"] {
        assert!(
            running.wait_for(&format!("{c} started"), Duration::from_secs(15)),
            "{:?}",
            running.timeline()
        );
    }
    stop(&running, 2);
    let out = running.finish();
    out.assert_order(&[
        "a1 got TERM",
        "a1 exiting",
        "a2 got TERM",
        "a2 exiting",
        "log got TERM",
        "log exiting",
    ]);
    assert_after(&out, "a1 got TERM", "a2 got TERM", 1400.0);
    assert_after(&out, "a2 got TERM", "log got TERM", 1400.0);
    for c in ["a1", "a2", "log"] {
        assert_eq!(
            st(&out, c).raw_exit_code,
            Some(0),
            "{c} was not killed\n{out}"
        );
    }
    assert_reaped(&out, &[("a1", 0), ("a2", 0), ("log", 0)]);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x52_a_sidecar_pre_stop_outliving_the_grace_leaves_the_job_succeeded);
/// e2e L133 ("should mark pod as succeeded if any of the prestop hook in restartable init
/// containers have exceeded its termination grace period seconds"): the app of a Job exits 0;
/// the sidecar's preStop would take 30 s and its process ignores SIGTERM; with a 3 s grace the
/// preStop is cut, the sidecar is signalled then SIGKILLed 2 s later, and the pod is Succeeded
/// (a sidecar's end never counts).
fn x52_a_sidecar_pre_stop_outliving_the_grace_leaves_the_job_succeeded(order: CreateOrder) {
    let test = pod("x52-sidecar-prestop-outlives")
        .timeout(Duration::from_secs(40))
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 3,
            "initContainers": [{"name": "s", "image": "busybox", "restartPolicy": "Always",
                "startupProbe": waiting_probe("/dev/shm/ready"),
                "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c",
                    format!("{}; sleep 30; {}", pod::log_line("preStop started"),
                            pod::log_line("preStop finished"))]}}}}],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "s",
            "trap 'tlog got TERM' TERM\ntlog started; touch /dev/shm/ready\nwhile :; do sleep 0.05; done",
        ))
        .add(Container::script("app", &app_body(":", 0)));
    let out = test.run(order);
    out.assert_order(&["app exiting", "s preStop started", "s got TERM"]);
    assert_eq!(count(&out, "s", "preStop finished"), 0, "{out}");
    let cut = gap_ms(&out, "s preStop started", "s got TERM");
    assert!(
        (2500.0..6000.0).contains(&cut),
        "the preStop was cut {cut:.0} ms after it began (grace 3 s)\n{out}"
    );
    assert_stopped_sidecar(&out, "s", 137);
    assert_reaped(&out, &[("s", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(hooks_s06_stubborn_sidecar_killed);
fn hooks_s06_stubborn_sidecar_killed(order: CreateOrder) {
    pod::hooks(|| s06_stubborn_sidecar_killed_at_budget_end(order))
}

pod::both_orders!(hooks_s09_pod_deletion);
fn hooks_s09_pod_deletion(order: CreateOrder) {
    pod::hooks(|| s09_pod_deletion_apps_first_then_sidecars_in_reverse(order))
}
