//! Pod scenarios about a running pod: probe timing and liveness on native sidecars, HTTP
//! handlers, day-2 operations on the control socket, exit reasons and termination messages.

use super::*;

// ---------------------------------------------------------------------------------------------
// Issue 11 items 4 and 5: exit reasons, termination messages, a clean slate

/// `podinit status --format k8s` of the pod's final status document (the CLI's own mapping).
fn k8s_status(out: &PodOutcome) -> Value {
    let doc = out
        .status()
        .unwrap_or_else(|| panic!("no status.json\n{out}"));
    podinit::k8s_status::pod_status(&doc)
}

fn k8s_container<'a>(status: &'a Value, list: &str, name: &str) -> &'a Value {
    status[list]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {list}: {status:#}"))
}

pod::both_orders!(x26_oom_killed_app_reports_oom_killed);
/// Issue 11, OOMKilled: an app under a 32 MiB memory limit allocates 200 MiB; the kernel's OOM
/// killer kills the allocating process and the container reports `OOMKilled` with exit code
/// 137 (status.json, the k8s status and the timeline), the pod Failed, the sidecar still
/// stopped after the app. The app's shell saw 137 from its pipeline: the kill happened.
/// The pipeline runs in a subshell at `oom_score_adj` 1000: the kernel can OOM-kill again
/// while the killed `tail`'s pages are still charged (seen in dmesg, a few runs in a hundred),
/// and at 0 its next victim was the biggest process left, the container's init; at 1000 it is
/// the subshell or `head`, and the shell that logs the result survives.
fn x26_oom_killed_app_reports_oom_killed(order: CreateOrder) {
    let out = pod("x26-oom-killed")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "initContainers": [native_sidecar("sidecar")],
            "containers": [{"name": "app", "image": "busybox",
                            "resources": {"limits": {"memory": "32Mi"}}}],
        }))
        .add(Container::script("sidecar", &sidecar_body("0")))
        .add(
            Container::script(
                "app",
                "tlog started\n\
                 (echo 1000 > /proc/self/oom_score_adj; head -c 200m /dev/zero | tail); rc=$?\n\
                 tlog \"pipeline ended $rc\"; exit $rc",
            )
            .memory_limit(32 << 20),
        )
        .run(order);
    out.assert_order(&[
        "sidecar started",
        "app started",
        "app pipeline ended 137",
        "sidecar got TERM",
    ]);
    assert_reaped(&out, &[("sidecar", 0), ("app", 137)]);
    assert_eq!(st(&out, "app").reason, "OOMKilled", "{out}");
    assert_eq!(st(&out, "app").exit_code, Some(137), "{out}");
    assert_eq!(st(&out, "sidecar").reason, "Completed", "{out}");
    assert!(
        status_events(&out, "app")
            .iter()
            .any(|e| e.contains("OOMKilled")),
        "the timeline names the OOM kill\n{out}"
    );
    let k8s = k8s_status(&out);
    let t = &k8s_container(&k8s, "containerStatuses", "app")["state"]["terminated"];
    assert_eq!(t["reason"], "OOMKilled", "{k8s:#}");
    assert_eq!(t["exitCode"], 137, "{k8s:#}");
    assert_phase(&out, "Failed");
}

pod::both_orders!(x27_termination_messages_reach_the_status);
/// Issue 11, termination messages: one app writes `/dev/termination-log` (the default path,
/// created empty by the init) and exits 0, another writes its own `terminationMessagePath` and
/// exits 3; a third, `FallbackToLogsOnError`, fails with an empty file and reports its
/// output's last lines. Each message is in status.json and in the k8s `terminated.message`.
fn x27_termination_messages_reach_the_status(order: CreateOrder) {
    let out = pod("x27-termination-message")
        .spec(json!({
            "restartPolicy": "Never",
            "containers": [
                {"name": "done", "image": "busybox"},
                {"name": "failed", "image": "busybox",
                 "terminationMessagePath": "/dev/shm/why",
                 "terminationMessagePolicy": "File"},
                {"name": "crashed", "image": "busybox",
                 "terminationMessagePolicy": "FallbackToLogsOnError"},
            ],
        }))
        .add(Container::script(
            "done",
            "test -f /dev/termination-log && tlog found the file\n\
             printf 'all 3 files converted' > /dev/termination-log; tlog wrote; exit 0",
        ))
        .add(Container::script(
            "failed",
            "printf 'bad config: line 7\\n' > /dev/shm/why; tlog wrote; exit 3",
        ))
        .add(Container::script(
            "crashed",
            "echo 'loading'; echo 'panic: no database' >&2; tlog wrote; exit 2",
        ))
        .run(order);
    assert_eq!(count(&out, "done", "found the file"), 1, "{out}");
    assert_reaped(&out, &[("done", 0), ("failed", 3), ("crashed", 2)]);
    assert_eq!(st(&out, "done").message, "all 3 files converted", "{out}");
    assert_eq!(st(&out, "failed").message, "bad config: line 7\n", "{out}");
    assert_eq!(st(&out, "failed").reason, "Error", "{out}");
    let crashed = st(&out, "crashed").message;
    assert!(
        crashed.contains("loading\n") && crashed.ends_with("panic: no database\n"),
        "the output's tail: {crashed:?}\n{out}"
    );
    let k8s = k8s_status(&out);
    let msg = |name: &str| {
        k8s_container(&k8s, "containerStatuses", name)["state"]["terminated"]["message"].clone()
    };
    assert_eq!(msg("done"), "all 3 files converted", "{k8s:#}");
    assert_eq!(msg("failed"), "bad config: line 7\n", "{k8s:#}");
    assert_eq!(msg("crashed"), json!(crashed), "{k8s:#}");
    assert_phase(&out, "Failed");
}

pod::both_orders!(x45_probe_timing_initial_delay_after_startup_and_timeout);
/// e2e P01, P10, P17 (probe timing on native sidecars): three sidecars and an app. `delayed`'s
/// readiness probe does not
/// run before its `initialDelaySeconds` (3 s) and the app is not ready until then; `gated`'s
/// readiness probe (period 30 s) runs at once when its startup probe passes, not a period
/// later; `slow`'s exec readiness probe outlives its 1 s timeout and the app never turns ready.
/// Nobody restarts.
fn x45_probe_timing_initial_delay_after_startup_and_timeout(order: CreateOrder) {
    let logged =
        |text: &str, then: &str| json!(["sh", "-c", format!("{}; {then}", pod::log_line(text))]);
    let app = |name: &str| json!({"name": name, "image": "busybox", "restartPolicy": "Always"});
    let mut delayed = app("delayed");
    delayed["readinessProbe"] = json!({"exec": {"command": logged("readiness probed", "true")},
                                       "initialDelaySeconds": 3, "periodSeconds": 1});
    let mut gated = app("gated");
    gated["startupProbe"] = json!({"exec": {"command": ["test", "-f", "/dev/shm/up"]},
                                   "periodSeconds": 1, "failureThreshold": 30});
    gated["readinessProbe"] = json!({"exec": {"command": logged("readiness probed", "true")},
                                     "periodSeconds": 30});
    let mut slow = app("slow");
    slow["readinessProbe"] = json!({"exec": {"command": logged("readiness probed", "sleep 5")},
                                    "timeoutSeconds": 1, "periodSeconds": 1});
    let running_body = "trap 'exit 0' TERM; tlog started; while :; do sleep 0.05; done";
    let test = pod("x45-probe-timing")
        .timeout(Duration::from_secs(40))
        .spec(json!({
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 5,
            "initContainers": [delayed, gated, slow],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("delayed", running_body))
        .add(Container::script(
            "gated",
            // `up` logged before the file exists: the startup probe, then readiness at once, may
            // run between the two (once 4 ms before a `tlog up` placed after the touch).
            "trap 'exit 0' TERM; tlog started; sleep 1; tlog up; touch /dev/shm/up\n\
             while :; do sleep 0.05; done",
        ))
        .add(Container::script("slow", running_body))
        .add(Container::script("app", running_body));
    let running = test.start(order);
    let ready = |name: &'static str| {
        move |s: &Value| container_state(s, name).is_some_and(|c| c["ready"] == true)
    };
    assert!(
        wait_status(&running, Duration::from_secs(20), ready("delayed")),
        "delayed never became ready: {:?}",
        running.status()
    );
    assert!(
        wait_status(&running, Duration::from_secs(10), ready("gated")),
        "gated never became ready: {:?}",
        running.status()
    );
    // Give `slow` several periods to (wrongly) turn ready.
    std::thread::sleep(Duration::from_secs(3));
    let slow_ready = running
        .status()
        .and_then(|s| container_state(&s, "slow").map(|c| c["ready"].clone()));
    stop(&running, 5);
    let out = running.finish();
    assert_eq!(
        slow_ready,
        Some(json!(false)),
        "a timed-out probe is a failure\n{out}"
    );
    assert!(count(&out, "slow", "readiness probed") >= 2, "{out}");
    let first_probe = gap_ms(&out, "delayed started", "delayed readiness probed");
    assert!(
        (2500.0..6000.0).contains(&first_probe),
        "delayed's first readiness probe came {first_probe:.0} ms after its start (initialDelaySeconds 3)\n{out}"
    );
    let after_startup = gap_ms(&out, "gated up", "gated readiness probed");
    assert!(
        (0.0..3500.0).contains(&after_startup),
        "gated's readiness probe came {after_startup:.0} ms after it came up (startup period 1 s, readiness at once)\n{out}"
    );
    for name in ["delayed", "gated", "slow", "app"] {
        assert_eq!(st(&out, name).restart_count, 0, "{name}\n{out}");
    }
}

pod::both_orders!(x32_operator_restart_and_signal_one_container);
/// Issue 11 item 6, day-2 operations on the control socket: `podinit restart proxy` stops the
/// sidecar's process (its TERM trap runs) and starts it again with the app untouched;
/// `podinit restart app` does the same to an app under `restartPolicy: Never`; unknown
/// containers and bad signals are refused; `podinit signal app HUP` reaches the app's process,
/// whose trap exits 0: the Job completes, the sidecar is stopped, Succeeded.
fn x32_operator_restart_and_signal_one_container(order: CreateOrder) {
    let running = proxy_and_hup_app(pod("x32-restart-signal")).start(order);
    let runs = |name: &str| runs_so_far(&running, name);
    let ok = |args: &[&str]| {
        running.mark(&args.join(" "));
        let out = running.podinit(args);
        assert!(
            out.status.success(),
            "podinit {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "{:?}",
        running.timeline()
    );
    ok(&["restart", "proxy"]);
    assert!(
        support::eventually(Duration::from_secs(15), || runs("proxy") == 2),
        "the proxy did not start again: {:?}",
        running.timeline()
    );
    assert_eq!(runs("app"), 1, "the app was touched");
    ok(&["restart", "app"]);
    assert!(
        support::eventually(Duration::from_secs(15), || runs("app") == 2),
        "the app did not start again: {:?}",
        running.timeline()
    );
    let refused = running.podinit(&["restart", "nope"]);
    let why = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(refused.status.code(), Some(1), "{why}");
    assert!(why.contains("no container \"nope\""), "{why}");
    let bad = running.podinit(&["signal", "app", "NOPE"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    ok(&["signal", "app", "HUP"]);
    let out = running.finish();
    let first = |text: &str| at(&out, text);
    let events: Vec<&pod::TimelineEntry> = out
        .timeline
        .iter()
        .filter(|e| e.container == "proxy" && e.text == "started")
        .collect();
    assert_eq!(events.len(), 2, "{out}");
    assert!(
        first("proxy got TERM") < events[1].at_us,
        "the restart's TERM came before the second start\n{out}"
    );
    assert!(
        first("app got HUP") > first("harness signal app HUP"),
        "{out}"
    );
    assert_eq!(count(&out, "app", "got TERM"), 1, "{out}");
    assert_eq!(
        count(&out, "proxy", "got TERM"),
        2,
        "restart, then teardown\n{out}"
    );
    assert_eq!(st(&out, "proxy").restart_count, 1, "{out}");
    assert_eq!(st(&out, "app").restart_count, 1, "{out}");
    assert_eq!(st(&out, "app").exit_code, Some(0), "{out}");
    assert_reaped(&out, &[("proxy", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

/// A native sidecar serving HTTP on 127.0.0.1:8080 from busybox httpd (`/dev/shm/www`, CGI
/// scripts run by /bin/sh: /dev/shm is noexec), `/healthz` present, `/cgi-bin/local.sh` a 302
/// to `/healthz`, `/cgi-bin/away.sh` a 302 to another host; `first_run` is shell run
/// once, in its first run only (a marker in /dev/shm survives its restarts).
fn web_sidecar_body(first_run: &str) -> String {
    format!(
        "trap 'tlog got TERM; exit 0' TERM\n\
         mkdir -p /dev/shm/www/cgi-bin\n\
         echo ok >/dev/shm/www/healthz\n\
         echo '*.sh:/bin/sh' >/dev/shm/httpd.conf\n\
         cat >/dev/shm/www/cgi-bin/echo.sh <<'CGI'\n\
         echo \"{now} $SERVER $QUERY_STRING\" >>/shared/timeline.log\n\
         printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n\
         CGI\n\
         printf '%s\\n' 'printf \"HTTP/1.1 302 Found\\r\\nLocation: /healthz\\r\\n\\r\\n\"' \
           >/dev/shm/www/cgi-bin/local.sh\n\
         printf '%s\\n' 'printf \"HTTP/1.1 302 Found\\r\\nLocation: http://example.invalid/healthz\\r\\n\\r\\n\"' \
           >/dev/shm/www/cgi-bin/away.sh\n\
         httpd -f -p 127.0.0.1:8080 -h /dev/shm/www -c /dev/shm/httpd.conf &\n\
         until wget -q -O /dev/null http://127.0.0.1:8080/healthz; do sleep 0.05; done\n\
         tlog started; touch /dev/shm/ready\n\
         if [ ! -e /dev/shm/ran ]; then touch /dev/shm/ran; {first_run}; fi\n\
         while :; do sleep 0.05; done",
        now = pod::SH_NOW_US
    )
}

/// e2e P05, P06, P08, P11, P12, P13 (liveness probes, the sidecar variants): an httpGet
/// liveness probe on `/healthz` restarts the sidecar once the file is gone (P05) and never while
/// it is there (P08); a local redirect is followed to the missing file and restarts it (P12); a
/// redirect to another host is a success, not followed (P13); a tcpSocket probe on a listening port never restarts it (P06); an exec probe that
/// outlives its `timeoutSeconds` counts as failed and restarts it (P11). Observed 6 s; then the
/// app exits and the Job succeeds.
#[rstest]
#[case::http_restarted(json!({"httpGet": {"path": "/healthz", "port": 8080}}), "rm /dev/shm/www/healthz", true)]
#[case::http_not_restarted(json!({"httpGet": {"path": "/healthz", "port": 8080}}), ":", false)]
#[case::http_local_redirect_followed(json!({"httpGet": {"path": "/cgi-bin/local.sh", "port": 8080}}), "rm /dev/shm/www/healthz", true)]
#[case::http_other_host_redirect_not_followed(json!({"httpGet": {"path": "/cgi-bin/away.sh", "port": 8080}}), "rm /dev/shm/www/healthz", false)]
#[case::tcp_not_restarted(json!({"tcpSocket": {"port": 8080}}), ":", false)]
#[case::exec_timeout_restarted(json!({"exec": {"command": ["sh", "-c", "test ! -e /dev/shm/slow || sleep 10"]}, "timeoutSeconds": 1}), "touch /dev/shm/slow", true)]
fn x48_liveness_probes_on_a_native_sidecar(
    #[case] probe: Value,
    #[case] first_run: &str,
    #[case] restarted: bool,
) {
    pod::require!();
    let mut liveness = probe;
    liveness["periodSeconds"] = json!(1);
    liveness["failureThreshold"] = json!(1);
    // The restarted sidecar must not fail again: its first run alone breaks the probe.
    let first_run = format!("{first_run}; sleep 4; rm -f /dev/shm/slow");
    let test = pod("x48-liveness")
        .timeout(Duration::from_secs(60))
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "initContainers": [{"name": "web", "image": "busybox", "restartPolicy": "Always",
                                "startupProbe": waiting_probe("/dev/shm/ready"),
                                "livenessProbe": liveness}],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("web", &web_sidecar_body(&first_run)))
        .add(Container::script("app", &app_body("sleep 6", 0)));
    let out = test.run(CreateOrder::Spec);
    let restarts = st(&out, "web").restart_count;
    if restarted {
        assert!(
            restarts >= 1,
            "the failing liveness probe did not restart it\n{out}"
        );
        assert!(count(&out, "web", "got TERM") >= 1, "{out}");
    } else {
        assert_eq!(restarts, 0, "a passing liveness probe restarted it\n{out}");
        assert_eq!(count(&out, "web", "started"), 1, "{out}");
    }
    assert_reaped(&out, &[("web", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x49_http_hooks_reach_their_handler);
/// e2e H03, H05 (regular container) and H09, H11 (restartable init container): httpGet
/// postStart and preStop hooks reach the handler. A native sidecar `handler` serves
/// `/cgi-bin/echo.sh`, which logs its query; the app and a second sidecar `hooked` have
/// postStart and preStop httpGet hooks on it. Each hook is received once; the preStops only
/// after the deletion; `handler` (declared first) outlives them all.
fn x49_http_hooks_reach_their_handler(order: CreateOrder) {
    let hooks = |who: &str| {
        let get = |msg: String| json!({"httpGet": {"path": format!("/cgi-bin/echo.sh?msg={msg}"), "port": 8080}});
        json!({"postStart": get(format!("{who}-poststart")), "preStop": get(format!("{who}-prestop"))})
    };
    let test = pod("x49-http-hooks")
        .timeout(Duration::from_secs(60))
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "initContainers": [
                {"name": "handler", "image": "busybox", "restartPolicy": "Always",
                 "startupProbe": waiting_probe("/dev/shm/ready")},
                {"name": "hooked", "image": "busybox", "restartPolicy": "Always",
                 "lifecycle": hooks("sidecar")},
            ],
            "containers": [{"name": "app", "image": "busybox", "lifecycle": hooks("app")}],
        }))
        .add(Container::script("handler", &web_sidecar_body(":")).env("SERVER", "handler"))
        .add(Container::script("hooked", &sidecar_body("0")))
        .add(Container::script(
            "app",
            "trap 'tlog got TERM; exit 0' TERM\ntlog started\nwhile :; do sleep 0.05; done",
        ));
    let running = test.start(order);
    assert!(
        running.wait_for("handler msg=app-poststart", Duration::from_secs(20)),
        "the app's postStart never reached the handler: {:?}",
        running.timeline()
    );
    stop(&running, 5);
    let out = running.finish();
    for msg in [
        "sidecar-poststart",
        "app-poststart",
        "sidecar-prestop",
        "app-prestop",
    ] {
        assert_eq!(
            count(&out, "handler", &format!("msg={msg}")),
            1,
            "{msg} received once\n{out}"
        );
    }
    out.assert_order(&["handler msg=sidecar-poststart", "app started"]);
    out.assert_order(&["harness stop requested", "handler msg=app-prestop"]);
    out.assert_order(&["harness stop requested", "handler msg=sidecar-prestop"]);
    out.assert_order(&["handler msg=app-prestop", "handler got TERM"]);
    out.assert_order(&["handler msg=sidecar-prestop", "handler got TERM"]);
    assert_reaped(&out, &[("handler", 0), ("hooked", 0), ("app", 0)]);
}
