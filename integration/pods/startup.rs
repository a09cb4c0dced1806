//! Pod scenarios about how a pod comes up: start order (native sidecars before the apps,
//! init containers, launch priorities, readiness and startup gates, postStart), a late app, the
//! start-wait deadline, bundles with hooks of their own.

use super::*;

// ---------------------------------------------------------------------------------------------
// 1. ACS document Job, native sidecar (initContainers, restartPolicy Always)

pod::both_orders!(s01_acs_native_sidecar_job);
/// The Job of the ACS sidecar document, native declaration: the sidecar tails the log the app
/// writes. Sidecar started before the app; SIGTERM to the sidecar only after the app exited;
/// both reaped 0; Succeeded.
fn s01_acs_native_sidecar_job(order: CreateOrder) {
    let out = pod("s01-acs-native")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [{
                "name": "sidecar", "image": "busybox", "restartPolicy": "Always",
                "command": ["sh", "-c", "touch /var/logs.txt && tail -F /var/logs.txt"],
                "startupProbe": waiting_probe("/dev/shm/ready"),
            }],
            "containers": [{
                "name": "app", "image": "busybox",
                "command": ["sh", "-c",
                    "for i in $(seq 1 10);do echo \"logging\" >> /var/logs.txt; sleep 1; done"],
            }],
        }))
        .add(Container::script(
            "sidecar",
            "trap 'tlog got TERM; exit 0' TERM\n\
             tlog started; touch /shared/logs.txt /dev/shm/ready\n\
             tail -F /shared/logs.txt & wait",
        ))
        .add(Container::script(
            "app",
            &app_body(
                "for i in 1 2 3; do echo logging >> /shared/logs.txt; sleep 0.05; done",
                0,
            ),
        ))
        .run(order);

    out.assert_order(&[
        "sidecar started",
        "app started",
        "app exiting",
        "sidecar got TERM",
    ]);
    // The app exits 300 ms after `exiting`: the TERM came after the app's exit.
    assert_after(&out, "app exiting", "sidecar got TERM", 300.0);
    assert_eq!(count(&out, "app", "started"), 1, "{out}");
    assert_eq!(count(&out, "sidecar", "started"), 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_eq!(st(&out, "app").exit_code, Some(0), "{out}");
    assert_eq!(st(&out, "app").kind, Some(Kind::App), "{out}");
    assert_phase(&out, "Succeeded");
}

// ---------------------------------------------------------------------------------------------
// 2. ACS document Job, `__IS_SIDECAR__=true` on a regular container declared after the app

pod::both_orders!(s02_acs_is_sidecar_env_job);
fn s02_acs_is_sidecar_env_job(order: CreateOrder) {
    let out = pod("s02-acs-is-sidecar")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "containers": [
                {"name": "app", "image": "busybox"},
                {"name": "sidecar", "image": "busybox",
                 "env": [{"name": "__IS_SIDECAR__", "value": "true"}],
                 // Env-dialect sidecars gate on readiness (ECI/ACS semantics).
                 "readinessProbe": waiting_probe("/dev/shm/ready")},
            ],
        }))
        .add(Container::script("app", &app_body("sleep 0.1", 0)))
        .add(Container::script("sidecar", &sidecar_body("0")).env("__IS_SIDECAR__", "true"))
        .run(order);

    out.assert_order(&[
        "sidecar started",
        "app started",
        "app exiting",
        "sidecar got TERM",
    ]);
    assert_after(&out, "app exiting", "sidecar got TERM", 300.0);
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

// ---------------------------------------------------------------------------------------------
// 3. ACK filebeat sidecar (ECI_SIDECAR_CONTAINER=true) reading a bind-mounted config file

const FILEBEAT_YML: &str = "filebeat.inputs:\n- type: log\n  paths:\n    - /var/log/echo/*.log\noutput.console:\n  pretty: true\n";

/// The ACK virtual-node example: `filebeat` (`ECI_SIDECAR_CONTAINER=true`, `cat
/// /etc/filebeat.yml && sleep 36000`, the config a read-only bind mount of a host file) and a
/// non-root echo-server-like job (`io.podinit.restart-policy: Never`). No pod spec: with `pod_containers` the pod declares its
/// containers (`io.podinit.pod-containers`) and the filebeat gates on its readiness probe;
/// without, only env: the settle rule holds every gate until no container registered for 1 s.
fn filebeat_pod(name: &str, pod_containers: bool) -> PodTest {
    let mut filebeat = Container::script(
        "filebeat",
        "trap 'tlog got TERM; exit 0' TERM\n\
         tlog started; cat /etc/filebeat.yml && tlog config printed && touch /dev/shm/ready\n\
         sleep 36000 & wait",
    )
    .env("ECI_SIDECAR_CONTAINER", "true")
    .bind_host_file("filebeat.yml", "/etc/filebeat.yml", true);
    let app = Container::script(
        "echo-server",
        &app_body(
            "echo \"hello world\"; test -w /etc/filebeat.yml && tlog config writable",
            0,
        ),
    )
    .user(65532, 65532)
    // A Job: without a pod spec the app would get the Kubernetes default, Always.
    .annotation("io.podinit.restart-policy", "Never");
    let mut p = pod(name).host_file("filebeat.yml", FILEBEAT_YML.as_bytes(), 0o644);
    if pod_containers {
        filebeat = filebeat.annotation(
            "io.podinit.readiness-probe",
            &waiting_probe("/dev/shm/ready").to_string(),
        );
        p = p.pod_annotation("io.podinit.pod-containers", "filebeat,echo-server");
    }
    p.add(filebeat).add(app)
}

fn check_filebeat(out: &PodOutcome) {
    assert_eq!(out.stdout("filebeat"), FILEBEAT_YML, "{out}");
    assert!(out.stdout("echo-server").contains("hello world"), "{out}");
    assert_eq!(count(out, "echo-server", "started"), 1, "{out}");
    // The sidecar's process started before the app's gate opened (supervisor's view).
    let sidecar_up = status_event_ms(out, Some("filebeat"), NoteKind::ProcessStarted);
    let app_released = status_event_ms(out, Some("echo-server"), NoteKind::GateReleased);
    assert!(sidecar_up <= app_released, "{out}");
    out.assert_order(&["echo-server exiting", "filebeat got TERM"]);
    assert_after(out, "echo-server exiting", "filebeat got TERM", 300.0);
    assert_reaped(out, &[("filebeat", 0), ("echo-server", 0)]);
    assert_stopped_sidecar(out, "filebeat", 0);
    assert_phase(out, "Succeeded");
}

pod::both_orders!(s03a_ack_filebeat_env_only_settle_rule);
fn s03a_ack_filebeat_env_only_settle_rule(order: CreateOrder) {
    let out = filebeat_pod("s03a-filebeat-settle", false).run(order);
    check_filebeat(&out);
    // Settle rule: no gate opens before 1 s without a new registration (ms-rounded times).
    let last_registered = status_event_ms(&out, Some("filebeat"), NoteKind::Registered).max(
        status_event_ms(&out, Some("echo-server"), NoteKind::Registered),
    );
    let first_release = status_event_ms(&out, Some("filebeat"), NoteKind::GateReleased);
    assert!(
        first_release - last_registered >= 998,
        "a gate opened {} ms after the last registration, before the 1 s settle time\n{out}",
        first_release - last_registered
    );
}

pod::both_orders!(s03b_ack_filebeat_pod_containers);
fn s03b_ack_filebeat_pod_containers(order: CreateOrder) {
    let out = filebeat_pod("s03b-filebeat-declared", true).run(order);
    check_filebeat(&out);
    // Readiness gate: the app started after the filebeat printed its config.
    out.assert_order(&["filebeat config printed", "echo-server started"]);
    // Declared pod: no settle delay.
    let last_registered = status_event_ms(&out, Some("filebeat"), NoteKind::Registered).max(
        status_event_ms(&out, Some("echo-server"), NoteKind::Registered),
    );
    let app_released = status_event_ms(&out, Some("echo-server"), NoteKind::GateReleased);
    assert!(
        app_released - last_registered < 900,
        "the app waited {} ms after the last registration in a declared pod\n{out}",
        app_released - last_registered
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Init sequence: init container, then a probe-gated native sidecar, then the app

pod::both_orders!(s04_init_sequence_init_then_sidecar_then_app);
fn s04_init_sequence_init_then_sidecar_then_app(order: CreateOrder) {
    let out = pod("s04-init-sequence")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [
                {"name": "init", "image": "busybox"},
                {"name": "sidecar", "image": "busybox", "restartPolicy": "Always",
                 "startupProbe": {"exec": {"command": ["test", "-f", "/dev/shm/ready"]},
                                  "periodSeconds": 1, "failureThreshold": 30}},
            ],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "init",
            "tlog started; echo from-init > /shared/init-data; sleep 0.2; tlog done; exit 0",
        ))
        .add(Container::script(
            "sidecar",
            "trap 'tlog got TERM; exit 0' TERM\n\
             tlog started; sleep 1.5; tlog ready file made; touch /dev/shm/ready\n\
             while :; do sleep 0.05; done",
        ))
        .add(Container::script(
            "app",
            &app_body("tlog \"read $(cat /shared/init-data)\"", 0),
        ))
        .run(order);

    out.assert_order(&[
        "init done",
        "sidecar started",
        "sidecar ready file made",
        "app started",
        "app read from-init",
        "app exiting",
        "sidecar got TERM",
    ]);
    // The init's process exits after `done`; the sidecar waited for it.
    assert_after(&out, "init done", "sidecar started", 0.0);
    // The app waited for the startup probe: at least the 1.5 s before the file existed.
    assert_after(&out, "sidecar started", "app started", 1500.0);
    assert_after(&out, "app exiting", "sidecar got TERM", 300.0);
    assert_eq!(count(&out, "init", "started"), 1, "{out}");
    assert_reaped(&out, &[("init", 0), ("sidecar", 0), ("app", 0)]);
    assert_eq!(st(&out, "init").kind, Some(Kind::Init), "{out}");
    assert_eq!(st(&out, "init").exit_code, Some(0), "{out}");
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

// ---------------------------------------------------------------------------------------------
// 10. ECI launch priority with a tcpSocket readiness probe

pod::both_orders!(s10_eci_launch_priority_waits_for_tcp_readiness);
fn s10_eci_launch_priority_waits_for_tcp_readiness(order: CreateOrder) {
    let proxy_env = [
        ("ECI_CONTAINER_LAUNCH_PRIORITY", "100"),
        ("ECI_SIDECAR_CONTAINER", "true"),
    ];
    let out = pod("s10-eci-priority")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "containers": [
                {"name": "app", "image": "busybox",
                 "env": [{"name": "ECI_CONTAINER_LAUNCH_PRIORITY", "value": "0"}]},
                {"name": "proxy", "image": "busybox",
                 "env": proxy_env.iter().map(|(k, v)| json!({"name": k, "value": v}))
                     .collect::<Vec<_>>(),
                 "readinessProbe": {"tcpSocket": {"port": 15000}, "periodSeconds": 1,
                                    "timeoutSeconds": 1, "failureThreshold": 30}},
            ],
        }))
        .add(
            Container::script(
                "app",
                &app_body(
                    "if r=$(nc -w 2 127.0.0.1 15000 </dev/null) && [ \"$r\" = pong ]; then\n\
                       tlog \"connected: $r\"\n\
                     else tlog connect failed; fi",
                    0,
                ),
            )
            .env("ECI_CONTAINER_LAUNCH_PRIORITY", "0"),
        )
        .add(proxy_env.iter().fold(
            Container::script(
                "proxy",
                "trap 'tlog got TERM; exit 0' TERM\n\
                     tlog started; sleep 1\n\
                     tlog listening; nc -ll -p 15000 -e echo pong & wait",
            ),
            |c, (k, v)| c.env(k, v),
        ))
        .run(order);

    out.assert_order(&[
        "proxy started",
        "proxy listening",
        "app started",
        "app connected: pong",
        "app exiting",
        "proxy got TERM",
    ]);
    assert!(out.first("app connect failed").is_none(), "{out}");
    assert_after(&out, "proxy started", "app started", 1000.0);
    assert_after(&out, "app exiting", "proxy got TERM", 300.0);
    assert_reaped(&out, &[("proxy", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "proxy", 0);
    assert_phase(&out, "Succeeded");
}

// ---------------------------------------------------------------------------------------------
// 11. GPU-style bundle: an NVIDIA prestart hook is kept first and still runs

/// A host script standing in for `nvidia-container-runtime-hook`: records the OCI state it got
/// on stdin in the pod's host dir and adds a line to the pod's timeline (host clock).
const FAKE_NVIDIA_HOOK: &str = "#!/bin/sh\n\
    PATH=/usr/sbin:/usr/bin:/sbin:/bin\n\
    dir=${0%/*}\n\
    state=$(cat)\n\
    echo \"$1 $state\" >> \"$dir/nvidia-hook.log\"\n\
    echo \"$(date +%s%6N) nvidia-hook $1 ran\" >> \"$dir/../shared/timeline.log\"\n";

pod::both_orders!(s11_gpu_bundle_keeps_nvidia_prestart_hook_first);
fn s11_gpu_bundle_keeps_nvidia_prestart_hook_first(order: CreateOrder) {
    let trainer = Container::script("trainer", &app_body("sleep 0.1", 0))
        .env("NVIDIA_VISIBLE_DEVICES", "all")
        .env("NVIDIA_DRIVER_CAPABILITIES", "compute,utility")
        .edit_in_pod(|cfg, paths| {
            let hook = paths.host_file("nvidia-container-runtime-hook");
            cfg["hooks"] = json!({
                "prestart": [{"path": hook, "args": ["nvidia-container-runtime-hook", "prestart"]}],
                "createRuntime": [{"path": hook,
                                   "args": ["nvidia-container-runtime-hook", "createRuntime"]}],
            });
        });
    let test = pod("s11-gpu-hook")
        .host_file(
            "nvidia-container-runtime-hook",
            FAKE_NVIDIA_HOOK.as_bytes(),
            0o755,
        )
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [{"name": "log-agent", "image": "busybox",
                                "restartPolicy": "Always",
                                "startupProbe": waiting_probe("/dev/shm/ready")}],
            "containers": [{"name": "trainer", "image": "busybox",
                            "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]}],
        }))
        .add(Container::script("log-agent", &sidecar_body("0")))
        .add(trainer);
    let running = test.start(order);
    // The bundle as inject left it (the pod dir goes away with the outcome).
    let config_path = running.paths().dir.join("bundles/trainer/config.json");
    let config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    let out = running.finish();

    let hooks = &config["hooks"];
    let hook_path = |h: &Value| h["path"].as_str().unwrap_or("").to_owned();
    let prestart = hooks["prestart"].as_array().expect("hooks.prestart");
    assert!(
        hook_path(&prestart[0]).ends_with("/nvidia-container-runtime-hook"),
        "inject moved the NVIDIA prestart hook: {hooks:#}"
    );
    assert_eq!(prestart[0]["args"][1], "prestart", "{hooks:#}");
    let create_runtime = hooks["createRuntime"].as_array().expect("createRuntime");
    assert!(
        hook_path(&create_runtime[0]).ends_with("/nvidia-container-runtime-hook"),
        "inject did not keep the NVIDIA createRuntime hook first: {hooks:#}"
    );
    let is_podinit = |h: &Value| h["args"][1] == "hook";
    let podinit_hooks = |stage: &str| {
        hooks[stage]
            .as_array()
            .map(|a| a.iter().filter(|h| is_podinit(h)).count())
            .unwrap_or(0)
    };
    // Without hooks (the default for this bundle, or `--no-hooks`): the NVIDIA hooks alone,
    // in their places.
    let ours = usize::from(test.inject() == pod::Inject::Hooks);
    assert!(
        ours == 0 || is_podinit(create_runtime.last().unwrap()),
        "podinit's createRuntime hook is not last: {hooks:#}"
    );
    assert_eq!(
        podinit_hooks("createRuntime") + podinit_hooks("prestart"),
        ours,
        "{hooks:#}"
    );

    // The hook ran for the trainer, with its OCI state, before the trainer's process started.
    let log = out.host_file("nvidia-hook.log");
    let trainer_id = &out.ids["trainer"];
    for stage in ["prestart", "createRuntime"] {
        assert!(
            log.lines()
                .any(|l| l.starts_with(&format!("{stage} ")) && l.contains(trainer_id.as_str())),
            "the NVIDIA {stage} hook did not run for {trainer_id}\n{out}"
        );
        out.assert_order(&[&format!("nvidia-hook {stage} ran"), "trainer started"]);
    }
    out.assert_order(&[
        "log-agent started",
        "trainer started",
        "trainer exiting",
        "log-agent got TERM",
    ]);
    assert_reaped(&out, &[("log-agent", 0), ("trainer", 0)]);
    assert_stopped_sidecar(&out, "log-agent", 0);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x04_failed_init_container_fails_pod_nothing_starts);
/// SPEC 3: a regular init container failing under restartPolicy Never fails the pod; the
/// sidecar and the app behind it never start (NeverStarted); every container ends. The sidecar
/// and the app are created 0.5 s late: in declaration order, after the init container failed
/// (the outcome must not depend on the creation order).
fn x04_failed_init_container_fails_pod_nothing_starts(order: CreateOrder) {
    let late = Duration::from_millis(500);
    let out = pod("x04-init-fails")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [{"name": "init", "image": "busybox"}, native_sidecar("sidecar")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("init", "tlog started; exit 4"))
        .add(Container::script("sidecar", &sidecar_body("0")).create_delay(late))
        .add(Container::script("app", &app_body("", 0)).create_delay(late))
        .run(order);
    assert_eq!(out.events_of("init"), ["started"], "{out}");
    assert!(out.events_of("sidecar").is_empty(), "{out}");
    assert!(out.events_of("app").is_empty(), "{out}");
    assert_eq!(st(&out, "init").exit_code, Some(4), "{out}");
    assert_eq!(st(&out, "sidecar").reason, "NeverStarted", "{out}");
    assert_eq!(st(&out, "app").reason, "NeverStarted", "{out}");
    let app_code = st(&out, "app").exit_code.unwrap_or(0);
    assert_ne!(app_code, 0, "{out}");
    assert_reaped(&out, &[("init", 4), ("sidecar", 0), ("app", app_code)]);
    assert_phase(&out, "Failed");
}

pod::both_orders!(x05_post_start_gates_and_pre_stop_runs_first);
/// SPEC 3: a sidecar is started only once its postStart finished (the app waits for it); at
/// teardown every container's preStop runs, and its stop signal comes after its preStop.
fn x05_post_start_gates_and_pre_stop_runs_first(order: CreateOrder) {
    let handler = logging_handler;
    let test = pod("x05-handlers").spec(json!({
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 10,
        "initContainers": [{"name": "sidecar", "image": "busybox", "restartPolicy": "Always",
                            "lifecycle": {"postStart": handler("postStart done", "0.5"),
                                          "preStop": handler("preStop done", "0.3")}}],
        "containers": [{"name": "app", "image": "busybox",
                        "lifecycle": {"preStop": handler("preStop done", "0.3")}}],
    }));
    let test = test
        .add(Container::script("sidecar", &sidecar_body("0")))
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
    stop(&running, 10);
    let out = running.finish();
    out.assert_order(&[
        "sidecar started",
        "sidecar postStart done",
        "app started",
        "harness stop requested",
        "app preStop done",
        "app got TERM",
        "sidecar got TERM",
    ]);
    out.assert_order(&[
        "harness stop requested",
        "sidecar preStop done",
        "sidecar got TERM",
    ]);
    // As in x23: the postStart sleeps 0.5 s from its own start, which races the sidecar's first
    // log line (about 515 ms apart unloaded); the order above shows the app waited for it.
    assert_after(&out, "sidecar started", "app started", 300.0);
    assert_eq!(count(&out, "sidecar", "preStop done"), 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x07_job_waits_for_a_declared_app_created_late);
/// SPEC 3: a Job's apps are done when no app runs and none will — an app the pod spec declares
/// but the agent has not created yet is still to come. `worker` exits at once; `uploader` is
/// created 0.5 s later (after the worker exited, in declaration order) and must still run.
fn x07_job_waits_for_a_declared_app_created_late(order: CreateOrder) {
    let out = pod("x07-late-app")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [native_sidecar("sidecar")],
            "containers": [{"name": "worker", "image": "busybox"},
                           {"name": "uploader", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", &sidecar_body("0")))
        .add(Container::script(
            "worker",
            "tlog started; tlog exiting; exit 0",
        ))
        .add(
            Container::script("uploader", &app_body("sleep 0.1", 0))
                .create_delay(Duration::from_millis(500)),
        )
        .run(order);
    out.assert_order(&["sidecar started", "worker started", "sidecar got TERM"]);
    out.assert_order(&[
        "sidecar started",
        "uploader started",
        "uploader exiting",
        "sidecar got TERM",
    ]);
    assert_after(&out, "uploader exiting", "sidecar got TERM", 300.0);
    assert_reaped(&out, &[("sidecar", 0), ("worker", 0), ("uploader", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x23_apps_start_in_order_after_each_post_start);
/// Issue 11: regular containers start one by one in declaration order, each after the
/// previous one's postStart returned (kubelet `startContainer`; Istio's
/// holdApplicationUntilProxyStarts relies on it), whatever order they are created in.
fn x23_apps_start_in_order_after_each_post_start(order: CreateOrder) {
    let out = pod("x23-apps-in-order")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "containers": [
                {"name": "proxy", "image": "busybox",
                 "lifecycle": {"postStart": logging_handler("postStart done", "0.5")}},
                {"name": "app", "image": "busybox"}
            ],
        }))
        .add(Container::script("proxy", &app_body("sleep 1.5", 0)))
        .add(Container::script("app", &app_body("sleep 0.1", 0)))
        .run(order);
    out.assert_order(&["proxy started", "proxy postStart done", "app started"]);
    // The postStart sleeps 0.5 s from its own start, which races the proxy's first log line.
    assert_after(&out, "proxy started", "app started", 300.0);
    assert_reaped(&out, &[("proxy", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

pod::both_orders!(x24_vci_launch_priority_and_bci_ignored_exit_code);
/// Issue 11, verified vendor dialects: Volcengine VCI's `VCI_CONTAINER_LAUNCH_PRIORITY` orders
/// app containers as ECI's does (the app waits for the higher one to be Ready), and Baidu BCI's
/// pod annotation `bci.virtual-kubelet.io/bci-ignore-exit-code-containers` makes the listed
/// container report success: its exit 5 does not fail the Job.
fn x24_vci_launch_priority_and_bci_ignored_exit_code(order: CreateOrder) {
    let out = pod("x24-vci-bci")
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "containers": [
                {"name": "app", "image": "busybox"},
                {"name": "helper", "image": "busybox",
                 "env": [{"name": "VCI_CONTAINER_LAUNCH_PRIORITY", "value": "10"}],
                 "readinessProbe": waiting_probe("/dev/shm/ready")},
            ],
        }))
        .pod_annotation(
            "bci.virtual-kubelet.io/bci-ignore-exit-code-containers",
            "helper",
        )
        .add(Container::script("app", &app_body("sleep 0.2", 0)))
        .add(
            Container::script(
                "helper",
                // "ready" is logged before the probe can see the file: the app may start at once.
                "tlog started; sleep 0.5; tlog ready; touch /dev/shm/ready\n\
                 until grep -q ' app exiting$' /shared/timeline.log; do sleep 0.02; done\n\
                 sleep 0.5; exit 5",
            )
            .env("VCI_CONTAINER_LAUNCH_PRIORITY", "10"),
        )
        .run(order);
    out.assert_order(&[
        "helper started",
        "helper ready",
        "app started",
        "app exiting",
    ]);
    assert_after(&out, "helper started", "app started", 500.0);
    assert_reaped(&out, &[("helper", 0), ("app", 0)]);
    assert_eq!(st(&out, "helper").exit_code, Some(0), "{out}");
    assert_eq!(st(&out, "helper").raw_exit_code, Some(5), "{out}");
    assert_phase(&out, "Succeeded");
}

/// The start-wait deadline (issue 11 item 6, beyond the kubelet): a native sidecar `proxy`
/// whose startup probe waits for `/dev/shm/ready`, which it makes only after 3 s (`wait`) or
/// never; the app carries `io.podinit.start-timeout` and `io.podinit.on-start-timeout`.
/// `fail`: at 1.5 s the pod fails with StartTimeout, naming the app and the proxy's probe, the
/// app never runs, the proxy is stopped. `start`: the app starts at 1.5 s anyway, exits 0, the
/// Job succeeds. `wait`: the app's status says, while it is held, that the deadline passed and
/// what holds it; it starts once the proxy is ready.
#[rstest]
#[case::fail_spec("fail", CreateOrder::Spec)]
#[case::fail_reverse("fail", CreateOrder::Reverse)]
#[case::start_spec("start", CreateOrder::Spec)]
#[case::start_reverse("start", CreateOrder::Reverse)]
#[case::wait_spec("wait", CreateOrder::Spec)]
#[case::wait_reverse("wait", CreateOrder::Reverse)]
fn x31_start_wait_deadline_fails_starts_or_waits(#[case] then: &str, #[case] order: CreateOrder) {
    pod::require!();
    // Short sleeps, so the TERM trap runs at once (a shell runs it after its foreground
    // command); 60 of them take at least 3 s.
    let ticks = if then == "wait" { 60 } else { 1_000_000 };
    let proxy = format!(
        "trap 'tlog got TERM; exit 0' TERM\n\
         tlog started; n=0; while [ $n -lt {ticks} ]; do sleep 0.05; n=$((n+1)); done\n\
         tlog ready; touch /dev/shm/ready\n\
         while :; do sleep 0.05; done"
    );
    let test = pod(&format!("x31-start-wait-{then}"))
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "initContainers": [native_sidecar("proxy")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("proxy", &proxy))
        .add(
            Container::script("app", &app_body("", 0))
                .annotation("io.podinit.start-timeout", "1500ms")
                .annotation("io.podinit.on-start-timeout", then),
        );
    let blocker = "waiting for sidecar proxy: its startupProbe has not passed yet";
    let running = test.start(order);
    if then == "wait" {
        let held = wait_status(&running, Duration::from_secs(10), |s| {
            container_state(s, "app").is_some_and(|c| {
                c["state"] == "waiting"
                    && c["message"].as_str().is_some_and(|m| {
                        m.starts_with(blocker)
                            && m.ends_with(
                                "(start-wait timeout of 1500ms passed; on-start-timeout: wait)",
                            )
                    })
            })
        });
        assert!(
            held,
            "the held app's status never named the deadline and the blocker: {:?}",
            running.status()
        );
        let table = running.podinit(&["status"]);
        let table = String::from_utf8_lossy(&table.stdout);
        assert!(
            table.contains(&format!("Waiting at the start gate: {blocker}")),
            "podinit status names the blocker:\n{table}"
        );
    }
    let out = running.finish();
    let held_ms = status_event_ms(&out, Some("app"), NoteKind::StartWaitTimeout)
        - status_event_ms(&out, Some("app"), NoteKind::Registered);
    assert!(
        (1400..5000).contains(&held_ms),
        "the deadline fell {held_ms} ms after the app's registration (1500 ms)\n{out}"
    );
    let note = status_events(&out, "app")
        .into_iter()
        .find(|e| e.starts_with("start-wait timeout"))
        .unwrap_or_default();
    assert!(
        note.contains(blocker) && note.contains(&format!("on-start-timeout: {then}")),
        "{note}\n{out}"
    );
    match then {
        "fail" => {
            assert_eq!(count(&out, "app", "started"), 0, "the app never ran\n{out}");
            assert_eq!(st(&out, "app").reason, "NeverStarted", "{out}");
            let status = out.status_json.as_ref().expect("status.json");
            assert_eq!(status["reason"], "StartTimeout", "{out}");
            let message = status["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with(&format!(
                    "container app waited 1500ms at its start gate, {blocker}"
                )),
                "{message}\n{out}"
            );
            assert_eq!(count(&out, "proxy", "got TERM"), 1, "{out}");
            assert_reaped(&out, &[("proxy", 0), ("app", 1)]);
            assert_phase(&out, "Failed");
        }
        "start" => {
            assert_eq!(
                count(&out, "proxy", "ready"),
                0,
                "the proxy never got ready\n{out}"
            );
            out.assert_order(&[
                "proxy started",
                "app started",
                "app exiting",
                "proxy got TERM",
            ]);
            assert_reaped(&out, &[("proxy", 0), ("app", 0)]);
            assert_phase(&out, "Succeeded");
        }
        _ => {
            out.assert_order(&[
                "proxy started",
                "proxy ready",
                "app started",
                "proxy got TERM",
            ]);
            assert_after(&out, "proxy started", "app started", 3000.0);
            assert_reaped(&out, &[("proxy", 0), ("app", 0)]);
            assert_phase(&out, "Succeeded");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The same scenarios with bundles injected `--hooks` (issue 13): every other test here takes
// inject's default, where no OCI hook runs, each container's init claims its registration and
// the supervisor sees every end through the init's pidfd; these keep the hook channel (the
// createRuntime registration, poststop's end) covered: the gate, restarts, teardown and a
// container the runtime killed come out the same. Every scenario runs this way with
// `PODTEST_INJECT=hooks`, and with explicit `--no-hooks` with `PODTEST_INJECT=no-hooks`.

pod::both_orders!(hooks_s01_acs_native_sidecar_job);
fn hooks_s01_acs_native_sidecar_job(order: CreateOrder) {
    pod::hooks(|| s01_acs_native_sidecar_job(order))
}

pod::both_orders!(hooks_s11_nvidia_and_podinit_hooks);
fn hooks_s11_nvidia_and_podinit_hooks(order: CreateOrder) {
    pod::hooks(|| s11_gpu_bundle_keeps_nvidia_prestart_hook_first(order))
}

pod::both_orders!(hooks_s04_init_sequence);
fn hooks_s04_init_sequence(order: CreateOrder) {
    pod::hooks(|| s04_init_sequence_init_then_sidecar_then_app(order))
}

pod::both_orders!(hooks_x04_failed_init_container);
fn hooks_x04_failed_init_container(order: CreateOrder) {
    pod::hooks(|| x04_failed_init_container_fails_pod_nothing_starts(order))
}
