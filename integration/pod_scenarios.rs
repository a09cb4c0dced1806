//! End-to-end scenarios: real runc containers of one pod under `podinit supervise`, created one
//! after the other by the serial agent (`integration/pod/`), each scenario in both creation
//! orders (declaration order and reverse). What is asserted comes from the containers' own
//! timeline (`tlog` lines with microsecond wall-clock times), from the exit codes the agent reaped
//! as the containers' subreaper, and from `status.json`; SPEC sections 2, 3 and 6.
//!
//! Timing trick: where "B happened after A *exited*" matters, A logs a line and then sleeps a known
//! time before it exits, so B's own log line must come at least that long after A's line.
//!
//! Probes that gate a start use a *waiting* exec probe (`until test -f F; do sleep 0.01; done`,
//! long timeout) where only the order matters: it succeeds as soon as the container made the file,
//! without waiting for the next probe period (1 s minimum). Scenario 4 uses a plain periodic probe.
//!
//! Every pod runs `podinit supervise -vv`: a failing assertion prints the whole outcome (timeline,
//! status.json, supervisor log, agent log); `PODTEST_DUMP=1` prints it for passing tests too.
//! Without root, runc, ip, python3 or /bin/busybox each test prints `SKIP` and passes, or fails
//! under `PODINIT_REQUIRE_ALL=1` (`pod::skip`); the hostile-input checks (s13) need none of them.
//!
//! | test | what |
//! |---|---|
//! | s01 | ACS document Job, native sidecar: started before the app, SIGTERM after the app exited, 0/0, Succeeded |
//! | s02 | the same Job with `__IS_SIDECAR__=true` on a container declared after the app (readiness-gated) |
//! | s03a/b | ACK filebeat (`ECI_SIDECAR_CONTAINER`) reading a read-only bind-mounted host file; env only (1 s settle rule) / `io.podinit.pod-containers` |
//! | s04 | init container, then a startupProbe-gated native sidecar (1.5 s), then the app |
//! | s05 | three native sidecars stopped s3, s2, s1, each after the later one exited |
//! | s06 | a sidecar ignoring SIGTERM is SIGKILLed when the 3 s budget ends; reported 0, raw 137 |
//! | s07 | an app exiting 3: Failed, supervisor exit 1, sidecars still stopped in order with 0 |
//! | s08 | a sidecar crashing once is restarted at once, alone; the app untouched |
//! | s09 | `podinit stop --grace 10`: app SIGTERM first, then the sidecars in reverse; app 143, Failed |
//! | s10 | ECI launch priority with a tcpSocket readiness probe: the app starts once the port is open |
//! | s11 | an NVIDIA prestart/createRuntime hook stays first after inject, runs, and the pod succeeds |
//! | s12a/b | supervisor SIGKILLed and restarted while the app runs / after it exited meanwhile |
//! | s13a/b/c | hostile input: hook with garbage stdin, inject on a bad config.json, explain naming a bad annotation |
//! | s14 | pod deleted while a sidecar fails its startup probe: the held app ends NeverStarted |
//! | x01-x11 | more of SPEC 3/6: app SIGKILLed (process / whole container), a second stop shortening the grace, non-zero sidecar exit in teardown, failed init container, postStart/preStop, startup-probe and liveness restarts, a late declared app, ECI exit priority and ignore-exit-code, OnFailure |
//! | x30, x30b, x30c | KEP-5307 restart rules (the node e2e `Container Restart Rules`): a Never app restarted by its rule `In [42]` then Succeeded (restartCount 1); an exit no rule matches, or the app's own Never in an Always pod, is not restarted, Failed; the app's own Always in a Never pod is restarted |
//! | x31 | the start-wait deadline (`io.podinit.start-timeout` 1500ms): `fail` fails the pod with StartTimeout naming the blocker, `start` starts the app anyway, `wait` keeps it held with the status (and `podinit status`) naming the deadline and the proxy's startup probe |
//! | x40-x42 | from the e2e catalogue (docs/e2e-catalogue.md): a sidecar exiting 0 on its own is restarted; an app's preStop outliving the grace is cut, then every container stops with the 2 s minimum; a failing preStop in teardown does not hold the stop |
//! | x45, x46 | probe timing on native sidecars (initialDelaySeconds, readiness at once after startup, an exec probe's timeout); the sleep preStop (2 s, 0 s, skipped for an exited container) |
//! | x32 | day-2 operations: `podinit restart` of a sidecar and of an app (the other untouched), refusals, `podinit signal app HUP` |
//! | x33, x34 | grace for log sidecars: the sidecars' grace reserve (the app killed early, the log sidecar flushes); ECI exit priority on every container, stage by stage, each stage the whole grace |
//! | x35 | re-gating: an app that needs its proxy is stopped when the proxy crashes and started again after it |
//! | x48, x49, x52 | from the e2e catalogue: liveness probes on a native sidecar (httpGet, tcpSocket, an exec probe outliving its timeout); httpGet postStart / preStop hooks reaching a handler sidecar; a sidecar's preStop outliving the grace leaves the Job Succeeded |
//! | x47 | a regular init container failing under OnFailure or Always beside (or before) a native sidecar: restarted with backoff, the sidecar runs in parallel (or never starts), the pod Pending |
//! | x44 | the teardown cause (AppFailed, app=3) in the sidecar's preStop environment and in the teardown file its TERM trap reads |
//! | x43 | probes while stopping: readiness goes on during the preStop (the sidecar and the app turn unready), liveness does not |
//! | hooks_* | s01, s04, s06, s08, s09, s11, x01b, x04 with bundles injected `--hooks` (podinit's OCI hooks register each container; every other test takes inject's default, no hooks: each init claims its registration); `PODTEST_INJECT=hooks` runs the whole file so, `PODTEST_INJECT=no-hooks` with explicit `--no-hooks` |

mod pod;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rstest::rstest;
use serde_json::{Value, json};

use pod::{Container, CreateOrder, PodOutcome, PodTest, RunningPod, SupervisorExit, waiting_probe};

const PODINIT: &str = pod::PODINIT;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A pod with the settings every scenario shares: a verbose supervisor (its log is in the
/// failure dump) and timeouts short enough that a hung product fails the test in seconds.
fn pod(name: &str) -> PodTest {
    PodTest::new(name)
        .supervisor_args(&["-vv"])
        .timeout(Duration::from_secs(25))
        .cmd_timeout(Duration::from_secs(10))
        .supervisor_timeout(Duration::from_secs(10))
}

/// A sidecar body: logs `started`, makes `/dev/shm/ready` (per container: `/dev/shm` is the
/// container's own tmpfs), then runs until SIGTERM, which it logs, waits `term_sleep` seconds and
/// logs `exiting` before exiting 0.
fn sidecar_body(term_sleep: &str) -> String {
    format!(
        "trap 'tlog got TERM; sleep {term_sleep}; tlog exiting; exit 0' TERM\n\
         tlog started; touch /dev/shm/ready\n\
         while :; do sleep 0.05; done"
    )
}

/// An app body: logs `started`, runs `work` (shell), logs `exiting`, then sleeps 0.3 s and exits
/// with `code`: whatever happens 300 ms or more after `exiting` happened after the app exited.
fn app_body(work: &str, code: i32) -> String {
    format!("tlog started\n{work}\ntlog exiting; sleep 0.3; exit {code}")
}

/// Timeline time (µs) of the first entry `event` names; panics with the dump if absent.
#[track_caller]
fn at(out: &PodOutcome, event: &str) -> u64 {
    out.first(event)
        .unwrap_or_else(|| panic!("no timeline entry {event:?}\n{out}"))
        .at_us
}

/// Milliseconds from event `a` to event `b` (negative if b came first).
#[track_caller]
fn gap_ms(out: &PodOutcome, a: &str, b: &str) -> f64 {
    (at(out, b) as f64 - at(out, a) as f64) / 1000.0
}

/// Asserts `b` came at least `min_ms` after `a` (both from the containers' timeline).
#[track_caller]
fn assert_after(out: &PodOutcome, a: &str, b: &str, min_ms: f64) {
    let g = gap_ms(out, a, b);
    assert!(
        g >= min_ms,
        "{b:?} came {g:.1} ms after {a:?}, expected at least {min_ms} ms\n{out}"
    );
}

/// How many times the container logged exactly `text`.
fn count(out: &PodOutcome, container: &str, text: &str) -> usize {
    out.events_of(container)
        .iter()
        .filter(|t| **t == text)
        .count()
}

/// `status.json` field `field` of container `name`.
#[track_caller]
fn st(out: &PodOutcome, name: &str, field: &str) -> Value {
    out.container_status(name)[field].clone()
}

/// The agent reaped exactly these codes, nothing is unfinished, and nothing was left behind.
#[track_caller]
fn assert_reaped(out: &PodOutcome, expected: &[(&str, i32)]) {
    for (name, code) in expected {
        assert_eq!(
            out.exit_code(name),
            Some(*code),
            "agent-reaped exit code of {name}\n{out}"
        );
    }
    assert_eq!(out.exit_codes.len(), expected.len(), "{out}");
    assert!(out.unfinished.is_empty(), "unfinished containers\n{out}");
    assert!(out.agent_errors.is_empty(), "agent errors\n{out}");
    assert!(out.notes.is_empty(), "harness notes\n{out}");
    assert!(
        out.cleanup.containers_after_agent.is_empty(),
        "containers left after the agent's runc delete\n{out}"
    );
    assert!(out.cleanup.is_clean(), "cleanup\n{out}");
    for (name, pid) in &out.pids {
        assert!(!pod::alive(*pid), "{name}'s init {pid} still exists\n{out}");
    }
    let log = out.supervisor_log();
    assert!(!log.contains("panicked"), "the supervisor panicked\n{out}");
    for (name, text) in &out.logs {
        assert!(!text.contains("panicked at"), "{name}: a panic\n{out}");
    }
}

/// Pod phase and supervisor exit: Succeeded ↔ 0, Failed ↔ 1.
#[track_caller]
fn assert_phase(out: &PodOutcome, phase: &str) {
    assert_eq!(out.phase(), Some(phase), "phase\n{out}");
    let code = if phase == "Succeeded" { 0 } else { 1 };
    assert_eq!(
        out.supervisor_exit,
        SupervisorExit::Exited(code),
        "supervisor exit\n{out}"
    );
}

/// A sidecar the pod stopped: reported 0, and its raw code.
#[track_caller]
fn assert_stopped_sidecar(out: &PodOutcome, name: &str, raw: i32) {
    assert_eq!(st(out, name, "kind"), "sidecar", "{out}");
    assert_eq!(
        st(out, name, "exitCode"),
        0,
        "{name}: reported exitCode\n{out}"
    );
    assert_eq!(
        st(out, name, "rawExitCode"),
        raw,
        "{name}: rawExitCode\n{out}"
    );
    assert_eq!(st(out, name, "state"), "terminated", "{out}");
}

/// Milliseconds since the epoch of an RFC 3339 UTC time as `status.json` writes them
/// (`2024-05-01T12:00:00.123Z`).
fn rfc3339_ms(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let ms: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms)
}

/// The time (ms) of the first event of `status.json`'s timeline for `container` (None: pod-level)
/// of kind `kind` (the engine's `NoteKind`, as the JSON has it).
#[track_caller]
fn status_event_ms(out: &PodOutcome, container: Option<&str>, kind: &str) -> i64 {
    let tl = out
        .status_json
        .as_ref()
        .and_then(|s| s["timeline"].as_array())
        .unwrap_or_else(|| panic!("status.json has no timeline\n{out}"));
    tl.iter()
        .find(|e| e["container"].as_str() == container && e["kind"] == kind)
        .and_then(|e| rfc3339_ms(e["at"].as_str()?))
        .unwrap_or_else(|| {
            panic!("status timeline: no {container:?} event of kind {kind:?}\n{out}")
        })
}

/// One field (`kind`, `event`) of `status.json`'s timeline entries for `container`, in order.
fn status_timeline(out: &PodOutcome, container: &str, field: &str) -> Vec<String> {
    out.status_json
        .as_ref()
        .and_then(|s| s["timeline"].as_array())
        .map(|tl| {
            tl.iter()
                .filter(|e| e["container"] == container)
                .filter_map(|e| e[field].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The kinds of `status.json`'s timeline events for `container`, in order.
fn status_kinds(out: &PodOutcome, container: &str) -> Vec<String> {
    status_timeline(out, container, "kind")
}

/// The texts of `status.json`'s timeline events for `container`, in order.
fn status_events(out: &PodOutcome, container: &str) -> Vec<String> {
    status_timeline(out, container, "event")
}

/// Waits until `status.json` satisfies `pred`.
fn wait_status(p: &RunningPod, timeout: Duration, pred: impl Fn(&Value) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if p.status().is_some_and(|s| pred(&s)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn container_state<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

#[track_caller]
fn stop(p: &RunningPod, grace: u64) {
    p.mark("stop requested");
    let out = p.podinit(&["stop", "--grace", &grace.to_string()]);
    assert!(
        out.status.success(),
        "podinit stop: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// 1. ACS document Job, native sidecar (initContainers, restartPolicy Always)

/// The Job of the ACS sidecar document, native declaration: the sidecar tails the log the app
/// writes. Sidecar started before the app; SIGTERM to the sidecar only after the app exited;
/// both reaped 0; Succeeded.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s01_acs_native_sidecar_job(#[case] order: CreateOrder) {
    if pod::skip("s01_acs_native_sidecar_job") {
        return;
    }
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
    assert_eq!(st(&out, "app", "exitCode"), 0, "{out}");
    assert_eq!(st(&out, "app", "kind"), "app", "{out}");
    assert_phase(&out, "Succeeded");
}

// ---------------------------------------------------------------------------------------------
// 2. ACS document Job, `__IS_SIDECAR__=true` on a regular container declared after the app

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s02_acs_is_sidecar_env_job(#[case] order: CreateOrder) {
    if pod::skip("s02_acs_is_sidecar_env_job") {
        return;
    }
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
    let sidecar_up = status_event_ms(out, Some("filebeat"), "processStarted");
    let app_released = status_event_ms(out, Some("echo-server"), "gateReleased");
    assert!(sidecar_up <= app_released, "{out}");
    out.assert_order(&["echo-server exiting", "filebeat got TERM"]);
    assert_after(out, "echo-server exiting", "filebeat got TERM", 300.0);
    assert_reaped(out, &[("filebeat", 0), ("echo-server", 0)]);
    assert_stopped_sidecar(out, "filebeat", 0);
    assert_phase(out, "Succeeded");
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s03a_ack_filebeat_env_only_settle_rule(#[case] order: CreateOrder) {
    if pod::skip("s03a_ack_filebeat_env_only_settle_rule") {
        return;
    }
    let out = filebeat_pod("s03a-filebeat-settle", false).run(order);
    check_filebeat(&out);
    // Settle rule: no gate opens before 1 s without a new registration (ms-rounded times).
    let last_registered = status_event_ms(&out, Some("filebeat"), "registered")
        .max(status_event_ms(&out, Some("echo-server"), "registered"));
    let first_release = status_event_ms(&out, Some("filebeat"), "gateReleased");
    assert!(
        first_release - last_registered >= 998,
        "a gate opened {} ms after the last registration, before the 1 s settle time\n{out}",
        first_release - last_registered
    );
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s03b_ack_filebeat_pod_containers(#[case] order: CreateOrder) {
    if pod::skip("s03b_ack_filebeat_pod_containers") {
        return;
    }
    let out = filebeat_pod("s03b-filebeat-declared", true).run(order);
    check_filebeat(&out);
    // Readiness gate: the app started after the filebeat printed its config.
    out.assert_order(&["filebeat config printed", "echo-server started"]);
    // Declared pod: no settle delay.
    let last_registered = status_event_ms(&out, Some("filebeat"), "registered")
        .max(status_event_ms(&out, Some("echo-server"), "registered"));
    let app_released = status_event_ms(&out, Some("echo-server"), "gateReleased");
    assert!(
        app_released - last_registered < 900,
        "the app waited {} ms after the last registration in a declared pod\n{out}",
        app_released - last_registered
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Init sequence: init container, then a probe-gated native sidecar, then the app

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s04_init_sequence_init_then_sidecar_then_app(#[case] order: CreateOrder) {
    if pod::skip("s04_init_sequence_init_then_sidecar_then_app") {
        return;
    }
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
    assert_eq!(st(&out, "init", "kind"), "init", "{out}");
    assert_eq!(st(&out, "init", "exitCode"), 0, "{out}");
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

// ---------------------------------------------------------------------------------------------
// 5. Reverse-order teardown of three native sidecars

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s05_three_sidecars_stop_in_reverse_order(#[case] order: CreateOrder) {
    if pod::skip("s05_three_sidecars_stop_in_reverse_order") {
        return;
    }
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

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s06_stubborn_sidecar_killed_at_budget_end(#[case] order: CreateOrder) {
    if pod::skip("s06_stubborn_sidecar_killed_at_budget_end") {
        return;
    }
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

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s07_failing_app_fails_pod_sidecars_still_zero(#[case] order: CreateOrder) {
    if pod::skip("s07_failing_app_fails_pod_sidecars_still_zero") {
        return;
    }
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
    assert_eq!(st(&out, "app", "exitCode"), 3, "{out}");
    assert_eq!(st(&out, "app", "rawExitCode"), 3, "{out}");
    assert_phase(&out, "Failed");
}

// ---------------------------------------------------------------------------------------------
// 8. A sidecar that crashes once is restarted alone; the app is untouched

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s08_crashed_sidecar_restarted_alone(#[case] order: CreateOrder) {
    if pod::skip("s08_crashed_sidecar_restarted_alone") {
        return;
    }
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
    assert_eq!(st(&out, "sidecar", "restartCount"), 1, "{out}");
    assert_eq!(st(&out, "app", "restartCount"), 0, "{out}");
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
// 9. Pod deletion: `podinit stop --grace 10`

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s09_pod_deletion_apps_first_then_sidecars_in_reverse(#[case] order: CreateOrder) {
    if pod::skip("s09_pod_deletion_apps_first_then_sidecars_in_reverse") {
        return;
    }
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
    assert_eq!(st(&out, "app", "exitCode"), 143, "{out}");
    assert_eq!(st(&out, "app", "rawExitCode"), 143, "{out}");
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
// 10. ECI launch priority with a tcpSocket readiness probe

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s10_eci_launch_priority_waits_for_tcp_readiness(#[case] order: CreateOrder) {
    if pod::skip("s10_eci_launch_priority_waits_for_tcp_readiness") {
        return;
    }
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

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s11_gpu_bundle_keeps_nvidia_prestart_hook_first(#[case] order: CreateOrder) {
    if pod::skip("s11_gpu_bundle_keeps_nvidia_prestart_hook_first") {
        return;
    }
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
        .position(|e| e == "exited")
        .unwrap_or_else(|| panic!("no exit of the app in status.json\n{out}"));
    let restarted: Vec<_> = app_events[exited..]
        .iter()
        .filter(|e| *e == "processStarted")
        .collect();
    assert!(
        restarted.is_empty(),
        "the app's init reported a process start after the app exited: {restarted:?}\n{out}"
    );
    assert_eq!(count(&out, "sidecar", "started"), 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_eq!(st(&out, "app", "exitCode"), 0, "{out}");
    assert_eq!(st(&out, "app", "rawExitCode"), 0, "{out}");
    assert_phase(&out, "Succeeded");
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s12a_supervisor_killed_and_restarted_while_app_runs(#[case] order: CreateOrder) {
    if pod::skip("s12a_supervisor_killed_and_restarted_while_app_runs") {
        return;
    }
    supervisor_restart(order, false);
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s12b_supervisor_restarted_after_app_exited_meanwhile(#[case] order: CreateOrder) {
    if pod::skip("s12b_supervisor_restarted_after_app_exited_meanwhile") {
        return;
    }
    supervisor_restart(order, true);
}

// ---------------------------------------------------------------------------------------------
// 13. Hostile inputs (no runtime needed)

/// Runs podinit with `stdin` and no `PODINIT_*` from our environment but these; panics if it
/// hangs for 10 s.
fn podinit_with(args: &[&str], stdin: &[u8], env: &[(&str, &Path)]) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(PODINIT);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PODINIT_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn podinit");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data); // podinit may stop reading early
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("podinit {args:?} still running after 10 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = writer.join();
    child.wait_with_output().unwrap()
}

/// A fresh scratch dir, unique in this process (cases run in parallel).
fn scratch(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("podinit-s13-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[track_caller]
fn assert_clean_failure(what: &str, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{what}: exited 0\nstderr: {stderr}");
    assert_ne!(out.status.code(), Some(101), "{what}: panic exit\n{stderr}");
    assert!(
        out.status.code().is_some(),
        "{what}: killed by a signal: {:?}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{what}: panicked\n{stderr}");
    assert!(!stderr.trim().is_empty(), "{what}: no message");
    stderr
}

#[rstest]
#[case::garbage(b"garbage{\x00\xff".to_vec())]
#[case::empty(Vec::new())]
#[case::not_an_object(b"[1, 2, 3]".to_vec())]
#[case::wrong_types(br#"{"ociVersion": 1, "id": ["x"], "pid": "one", "bundle": 7}"#.to_vec())]
#[case::huge(vec![b'{'; 4 << 20])]
fn s13a_hook_with_garbage_stdin_fails_cleanly(#[case] stdin: Vec<u8>) {
    let dir = scratch("hook");
    let sock = dir.join("no-supervisor.sock");
    let out = podinit_with(
        &["hook", "createRuntime"],
        &stdin,
        &[("PODINIT_SOCKET", &sock), ("PODINIT_STATE_DIR", &dir)],
    );
    let stderr = assert_clean_failure("podinit hook createRuntime", &out);
    assert!(
        stderr.contains("state"),
        "the message does not say the OCI state is at fault: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[rstest]
#[case::not_json(b"{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"sh\"".to_vec())]
#[case::binary(b"\x7fELF\x02\x01\x01\x00\x00\x00garbage\xff\xfe".to_vec())]
#[case::json_not_an_object(b"[\"not\", \"a\", \"config\"]\n".to_vec())]
#[case::empty(Vec::new())]
fn s13b_inject_refuses_bad_config_unchanged(#[case] content: Vec<u8>) {
    let dir = scratch("inject");
    let config = dir.join("config.json");
    std::fs::write(&config, &content).unwrap();
    let out = podinit_with(
        &["inject", dir.to_str().unwrap()],
        b"",
        &[
            ("PODINIT_SOCKET", &dir.join("ctl.sock")),
            ("PODINIT_STATE_DIR", &dir.join("state")),
        ],
    );
    let stderr = assert_clean_failure("podinit inject", &out);
    assert!(stderr.contains("config.json"), "{stderr}");
    assert_eq!(
        std::fs::read(&config).unwrap(),
        content,
        "config.json changed"
    );
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["config.json"], "inject left files behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[rstest]
#[case::probe_not_json("io.podinit.startup-probe", "{not json")]
#[case::probe_wrong_type("io.podinit.readiness-probe", r#"{"periodSeconds": "ten"}"#)]
#[case::unknown_kind("io.podinit.kind", "daemon")]
#[case::pod_spec_not_json("io.podinit.pod-spec", "{\"containers\": [")]
#[case::pod_spec_wrong_type("io.podinit.pod-spec", r#"{"containers": "app"}"#)]
#[case::negative_index("io.podinit.index", "-3")]
fn s13c_explain_names_the_bad_annotation(#[case] key: &str, #[case] value: &str) {
    let dir = scratch("explain");
    let config = json!({
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"], "env": ["PATH=/bin"], "cwd": "/"},
        "root": {"path": "rootfs"},
        "annotations": {"io.podinit.container-name": "web", key: value},
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    for json_flag in [false, true] {
        let mut args = vec!["explain"];
        if json_flag {
            args.push("--json");
        }
        let d = dir.to_str().unwrap().to_owned();
        args.push(&d);
        let out = podinit_with(&args, b"", &[]);
        let stderr = assert_clean_failure("podinit explain", &out);
        assert!(
            stderr.contains(key),
            "podinit {args:?}: the message does not name {key}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// 14. Pod deleted during initialization

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn s14_pod_deleted_during_initialization(#[case] order: CreateOrder) {
    if pod::skip("s14_pod_deleted_during_initialization") {
        return;
    }
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
    assert_eq!(st(&out, "sidecar", "restartCount"), 0, "{out}");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "deleting the pod took {:?}\n{out}",
        t.elapsed()
    );
    assert_eq!(st(&out, "app", "reason"), "NeverStarted", "{out}");
    assert_eq!(st(&out, "app", "state"), "terminated", "{out}");
    assert_eq!(st(&out, "app", "started"), json!(false), "{out}");
    // The app's init ended with the code the supervisor gave it; nothing left running.
    let app_code = st(&out, "app", "exitCode").as_i64().map(|c| c as i32);
    assert!(app_code.is_some_and(|c| c != 0), "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", app_code.unwrap())]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Failed");
}

// ---------------------------------------------------------------------------------------------

#[test]
fn rfc3339_parser() {
    assert_eq!(rfc3339_ms("1970-01-01T00:00:00.000Z"), Some(0));
    assert_eq!(rfc3339_ms("1970-01-02T00:00:01.5Z"), Some(86_401_500));
    assert_eq!(
        rfc3339_ms("2024-03-01T12:00:00.123Z"),
        Some(1_709_294_400_123)
    );
    assert_eq!(rfc3339_ms("garbage"), None);
}

// ---------------------------------------------------------------------------------------------
// Extra SPEC 3 / 6 checks beyond the scenario list

fn native_sidecar(name: &str) -> Value {
    json!({"name": name, "image": "busybox", "restartPolicy": "Always",
           "startupProbe": waiting_probe("/dev/shm/ready")})
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
    assert_eq!(st(&out, "app", "rawExitCode"), 137, "{out}");
    assert_eq!(st(&out, "app", "exitCode"), 137, "{out}");
    assert_phase(&out, "Failed");
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x01a_app_process_sigkilled_fails_pod(#[case] order: CreateOrder) {
    if pod::skip("x01a_app_process_sigkilled_fails_pod") {
        return;
    }
    app_sigkilled(order, false);
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x01b_app_container_killed_by_runtime_fails_pod(#[case] order: CreateOrder) {
    if pod::skip("x01b_app_container_killed_by_runtime_fails_pod") {
        return;
    }
    app_sigkilled(order, true);
}

/// SPEC 1: a later `podinit stop` with a smaller grace shortens the deadline: a sidecar that
/// ignores SIGTERM is killed about 3 s after `stop --grace 3`, not 30 s after the first stop.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x02_second_stop_shortens_the_grace(#[case] order: CreateOrder) {
    if pod::skip("x02_second_stop_shortens_the_grace") {
        return;
    }
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

/// SPEC 3: a sidecar that exits non-zero on its teardown SIGTERM is reported 0 (raw code kept)
/// and not restarted.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x03_sidecar_exiting_nonzero_on_term_reports_zero(#[case] order: CreateOrder) {
    if pod::skip("x03_sidecar_exiting_nonzero_on_term_reports_zero") {
        return;
    }
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

/// SPEC 3: a regular init container failing under restartPolicy Never fails the pod; the
/// sidecar and the app behind it never start (NeverStarted); every container ends. The sidecar
/// and the app are created 0.5 s late: in declaration order, after the init container failed
/// (the outcome must not depend on the creation order).
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x04_failed_init_container_fails_pod_nothing_starts(#[case] order: CreateOrder) {
    if pod::skip("x04_failed_init_container_fails_pod_nothing_starts") {
        return;
    }
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
    assert_eq!(st(&out, "init", "exitCode"), 4, "{out}");
    assert_eq!(st(&out, "sidecar", "reason"), "NeverStarted", "{out}");
    assert_eq!(st(&out, "app", "reason"), "NeverStarted", "{out}");
    let app_code = st(&out, "app", "exitCode").as_i64().unwrap_or(0) as i32;
    assert_ne!(app_code, 0, "{out}");
    assert_reaped(&out, &[("init", 4), ("sidecar", 0), ("app", app_code)]);
    assert_phase(&out, "Failed");
}

/// SPEC 3: a sidecar is started only once its postStart finished (the app waits for it); at
/// teardown every container's preStop runs, and its stop signal comes after its preStop.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x05_post_start_gates_and_pre_stop_runs_first(#[case] order: CreateOrder) {
    if pod::skip("x05_post_start_gates_and_pre_stop_runs_first") {
        return;
    }
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
    assert_after(&out, "sidecar started", "app started", 500.0);
    assert_eq!(count(&out, "sidecar", "preStop done"), 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

/// SPEC 3: a sidecar that fails its startupProbe is restarted (never fails the pod); the app
/// waits for the restarted one to be started.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x06_sidecar_failing_startup_probe_is_restarted(#[case] order: CreateOrder) {
    if pod::skip("x06_sidecar_failing_startup_probe_is_restarted") {
        return;
    }
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
    assert_eq!(st(&out, "sidecar", "restartCount"), 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

/// SPEC 3: a Job's apps are done when no app runs and none will — an app the pod spec declares
/// but the agent has not created yet is still to come. `worker` exits at once; `uploader` is
/// created 0.5 s later (after the worker exited, in declaration order) and must still run.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x07_job_waits_for_a_declared_app_created_late(#[case] order: CreateOrder) {
    if pod::skip("x07_job_waits_for_a_declared_app_created_late") {
        return;
    }
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

/// SPEC 2: ECI exit priority orders the sidecar stops (higher first, each after the previous
/// exited), also for a stop-only `ECI_CONTAINER_TYPE=sidecar` container, which starts with the
/// apps (not before them) and is never restarted.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x08_eci_exit_priority_orders_sidecar_stops(#[case] order: CreateOrder) {
    if pod::skip("x08_eci_exit_priority_orders_sidecar_stops") {
        return;
    }
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

/// SPEC 2: `ECI_CONTAINER_IGNORE_EXIT_CODE=true` reports an app's exit 3 as 0 (raw code kept),
/// so the Job succeeds.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x09_eci_ignore_exit_code(#[case] order: CreateOrder) {
    if pod::skip("x09_eci_ignore_exit_code") {
        return;
    }
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
    assert_eq!(st(&out, "app", "exitCode"), 0, "{out}");
    assert_eq!(st(&out, "app", "rawExitCode"), 3, "{out}");
    // As the runtime sees it, like a stopped sidecar: the init exits with the reported code.
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

/// SPEC 3: under restartPolicy OnFailure an app that fails is restarted (the sidecar is not
/// touched) and the Job succeeds when it exits 0.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x10_on_failure_app_restarted_until_success(#[case] order: CreateOrder) {
    if pod::skip("x10_on_failure_app_restarted_until_success") {
        return;
    }
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
    assert_eq!(st(&out, "app", "restartCount"), 1, "{out}");
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
       rm /dev/shm/ready; touch /dev/shm/sick; tlog sick\n\
     fi\n\
     while :; do sleep 0.05; done";

/// SPEC 3: a sidecar that fails liveness is restarted alone; the app keeps running.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x11_sidecar_failing_liveness_restarted_alone(#[case] order: CreateOrder) {
    if pod::skip("x11_sidecar_failing_liveness_restarted_alone") {
        return;
    }
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
    assert_eq!(st(&out, "sidecar", "restartCount"), 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
    assert_phase(&out, "Succeeded");
}

/// Issue 9 finding 5: a kubelet deletes a pod with StopContainer on every container at once —
/// here `runc kill TERM` on each, the sidecars first. The inits report the runtime's signal
/// instead of passing it on, so the teardown order still holds: the app's TERM first, the
/// sidecars after it exited, in reverse order; nothing restarts; every code is 0.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x20_runtime_stopping_every_container_is_a_deletion_in_order(#[case] order: CreateOrder) {
    if pod::skip("x20_runtime_stopping_every_container_is_a_deletion_in_order") {
        return;
    }
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

/// Issue 9 finding 5: `runc kill SIDECAR TERM` while the app runs (the first half of an
/// in-place upgrade) stops that sidecar alone, after the window in which a deletion's other
/// stops would have come; it is not restarted, keeps its own exit code, and the app is not
/// touched. The Job then completes as usual.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x21_runtime_stopping_one_sidecar_stops_it_alone(#[case] order: CreateOrder) {
    if pod::skip("x21_runtime_stopping_one_sidecar_stops_it_alone") {
        return;
    }
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
    assert_eq!(st(&out, "s", "exitCode"), 3, "{out}");
    assert_phase(&out, "Succeeded");
}

/// A lifecycle handler that sleeps `sleep` seconds, then logs `text` to the timeline.
fn logging_handler(text: &str, sleep: &str) -> Value {
    json!({"exec": {"command": ["sh", "-c", format!("sleep {sleep}; {}", pod::log_line(text))]}})
}

/// Issue 11, the kubelet's order and hooks: a liveness kill runs the container's preStop before
/// the stop signal (kubelet `killContainer`, e2e "should call prestop when killing a pod"
/// family), and the restarted process gets its own preStop on the next kill.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x22_liveness_kill_runs_pre_stop_first(#[case] order: CreateOrder) {
    if pod::skip("x22_liveness_kill_runs_pre_stop_first") {
        return;
    }
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
    assert_eq!(st(&out, "sidecar", "restartCount"), 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

/// Issue 11: regular containers start one by one in declaration order, each after the
/// previous one's postStart returned (kubelet `startContainer`; Istio's
/// holdApplicationUntilProxyStarts relies on it), whatever order they are created in.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x23_apps_start_in_order_after_each_post_start(#[case] order: CreateOrder) {
    if pod::skip("x23_apps_start_in_order_after_each_post_start") {
        return;
    }
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

/// Issue 11, verified vendor dialects: Volcengine VCI's `VCI_CONTAINER_LAUNCH_PRIORITY` orders
/// app containers as ECI's does (the app waits for the higher one to be Ready), and Baidu BCI's
/// pod annotation `bci.virtual-kubelet.io/bci-ignore-exit-code-containers` makes the listed
/// container report success: its exit 5 does not fail the Job.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x24_vci_launch_priority_and_bci_ignored_exit_code(#[case] order: CreateOrder) {
    if pod::skip("x24_vci_launch_priority_and_bci_ignored_exit_code") {
        return;
    }
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
    assert_eq!(st(&out, "helper", "exitCode"), 0, "{out}");
    assert_eq!(st(&out, "helper", "rawExitCode"), 5, "{out}");
    assert_phase(&out, "Succeeded");
}

/// Issue 11, pod deadlines: a Job whose app outlives `activeDeadlineSeconds` is torn down with
/// grace (the app's TERM first, then the sidecar's) and fails with `DeadlineExceeded`, though
/// the app exits 0 on its TERM.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x25_active_deadline_fails_the_pod_with_deadline_exceeded(#[case] order: CreateOrder) {
    if pod::skip("x25_active_deadline_fails_the_pod_with_deadline_exceeded") {
        return;
    }
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

// ---------------------------------------------------------------------------------------------
// Issue 11 items 4 and 5: exit reasons, termination messages, a clean slate

/// `podinit status --format k8s` of the pod's final status document (the CLI's own mapping).
fn k8s_status(out: &PodOutcome) -> Value {
    let doc = out
        .status_json
        .as_ref()
        .unwrap_or_else(|| panic!("no status.json\n{out}"));
    podinit::k8s_status::pod_status(doc)
}

fn k8s_container<'a>(status: &'a Value, list: &str, name: &str) -> &'a Value {
    status[list]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {list}: {status:#}"))
}

/// Issue 11, OOMKilled: an app under a 32 MiB memory limit allocates 200 MiB; the kernel's OOM
/// killer kills the allocating process and the container reports `OOMKilled` with exit code
/// 137 (status.json, the k8s status and the timeline), the pod Failed, the sidecar still
/// stopped after the app. The app's shell saw 137 from its pipeline: the kill happened.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x26_oom_killed_app_reports_oom_killed(#[case] order: CreateOrder) {
    if pod::skip("x26_oom_killed_app_reports_oom_killed") {
        return;
    }
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
                 head -c 200m /dev/zero | tail; rc=$?\n\
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
    assert_eq!(st(&out, "app", "reason"), "OOMKilled", "{out}");
    assert_eq!(st(&out, "app", "exitCode"), 137, "{out}");
    assert_eq!(st(&out, "sidecar", "reason"), "Completed", "{out}");
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

/// Issue 11, termination messages: one app writes `/dev/termination-log` (the default path,
/// created empty by the init) and exits 0, another writes its own `terminationMessagePath` and
/// exits 3; a third, `FallbackToLogsOnError`, fails with an empty file and reports its
/// output's last lines. Each message is in status.json and in the k8s `terminated.message`.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x27_termination_messages_reach_the_status(#[case] order: CreateOrder) {
    if pod::skip("x27_termination_messages_reach_the_status") {
        return;
    }
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
    assert_eq!(
        st(&out, "done", "message"),
        "all 3 files converted",
        "{out}"
    );
    assert_eq!(
        st(&out, "failed", "message"),
        "bad config: line 7\n",
        "{out}"
    );
    assert_eq!(st(&out, "failed", "reason"), "Error", "{out}");
    let crashed = st(&out, "crashed", "message");
    let crashed = crashed.as_str().unwrap_or_default();
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

/// Issue 11, a clean slate: a sidecar's first run leaves a background listener on port 7070
/// (in a subshell that traps TERM) and exits 1. Before the restart in place the leftover gets
/// SIGTERM, and the second run binds the same port.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x28_restart_in_place_starts_from_a_clean_slate(#[case] order: CreateOrder) {
    if pod::skip("x28_restart_in_place_starts_from_a_clean_slate") {
        return;
    }
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
    assert_eq!(st(&out, "sidecar", "restartCount"), 1, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

/// Issue 11, adopted daemons at the container's end (tini#229): the app starts a daemon that
/// traps TERM and exits; the daemon, now the init's, gets SIGTERM and time to finish instead
/// of the kernel's SIGKILL when the init exits. A second daemon ignores TERM and is SIGKILLed
/// when the grace (the kubelet's 2 s minimum for an app that ended by itself) is over.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x29_adopted_daemons_get_the_stop_signal_before_sigkill(#[case] order: CreateOrder) {
    if pod::skip("x29_adopted_daemons_get_the_stop_signal_before_sigkill") {
        return;
    }
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

/// KEP-5307 (Kubernetes 1.35 container restart rules), the KEP's example and the node e2e
/// "should restart container on rule match": a Job pod with restartPolicy Never whose app has
/// its own `restartPolicy: Never` and a rule Restart `In [42]`. Run 1 exits 42 and is restarted
/// in place by the rule (the sidecar is untouched), run 2 exits 0: Succeeded, restartCount 1.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x30_restart_rule_restarts_a_never_app_on_exit_code_42(#[case] order: CreateOrder) {
    if pod::skip("x30_restart_rule_restarts_a_never_app_on_exit_code_42") {
        return;
    }
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
    assert_eq!(st(&out, "app", "restartCount"), 1, "{out}");
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
    if pod::skip("x30b_restart_rule_mismatch_is_not_restarted") {
        return;
    }
    let out = pod("x30b-restart-rule-mismatch")
        .spec(json!({
            "restartPolicy": pod_policy,
            "containers": [{"name": "app", "image": "busybox",
                "restartPolicy": "Never", "restartPolicyRules": rules}],
        }))
        .add(Container::script("app", &app_body("", code)))
        .run(order);
    assert_eq!(count(&out, "app", "started"), 1, "{out}");
    assert_eq!(st(&out, "app", "restartCount"), 0, "{out}");
    assert_reaped(&out, &[("app", code)]);
    assert_phase(&out, "Failed");
}

/// KEP-5307, the node e2e "should restart container on container-level restart policy
/// Always": a Never pod whose app has its own Always is restarted after it exits 1; run 2
/// keeps running until the pod is deleted.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x30c_own_always_restarts_in_a_never_pod(#[case] order: CreateOrder) {
    if pod::skip("x30c_own_always_restarts_in_a_never_pod") {
        return;
    }
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
    assert_eq!(st(&out, "app", "restartCount"), 1, "{out}");
    assert_reaped(&out, &[("app", 0)]);
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
    if pod::skip("x31_start_wait_deadline_fails_starts_or_waits") {
        return;
    }
    // Short sleeps, so the TERM trap runs at once (a shell runs it after its foreground
    // command); 60 of them take at least 3 s.
    let ticks = if then == "wait" { 60 } else { 1_000_000 };
    let proxy = format!(
        "trap 'tlog got TERM; exit 0' TERM\n\
         tlog started; n=0; while [ $n -lt {ticks} ]; do sleep 0.05; n=$((n+1)); done\n\
         touch /dev/shm/ready; tlog ready\n\
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
    let held_ms = status_event_ms(&out, Some("app"), "startWaitTimeout")
        - status_event_ms(&out, Some("app"), "registered");
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
            assert_eq!(st(&out, "app", "reason"), "NeverStarted", "{out}");
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
    if pod::skip("x40_sidecar_exiting_zero_on_its_own_is_restarted") {
        return;
    }
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
    assert_eq!(st(&out, "sidecar", "restartCount"), 1, "{out}");
    assert_eq!(st(&out, "app", "restartCount"), 0, "{out}");
    assert_reaped(&out, &[("sidecar", 0), ("app", 0)]);
    assert_stopped_sidecar(&out, "sidecar", 0);
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
    if pod::skip("x41_pre_stop_outliving_the_grace_is_cut_then_everyone_stops_with_the_minimum") {
        return;
    }
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
    // Then the 2 s minimum before SIGKILL for the two that ignore it.
    for who in ["app", "s2"] {
        let exited_us = out.timings[who]["exited_at_us"];
        let term_us = at(&out, &format!("{who} got TERM")) as f64;
        let ms = (exited_us - term_us) / 1000.0;
        assert!(
            (1800.0..6000.0).contains(&ms),
            "{who} ended {ms:.0} ms after its TERM (SIGKILL after the 2 s minimum)\n{out}"
        );
    }
    // s2's init exits 0 for the runtime too (its app's SIGKILL is in `rawExitCode`), as in s06.
    assert_reaped(&out, &[("s1", 0), ("s2", 0), ("app", 137)]);
    assert_eq!(st(&out, "app", "exitCode"), 137, "{out}");
    assert_stopped_sidecar(&out, "s2", 137);
    assert_stopped_sidecar(&out, "s1", 0);
    assert_phase(&out, "Failed");
}

/// e2e L129's family (a restartable init container's stop going wrong in teardown must not
/// change the pod's outcome): a sidecar whose preStop fails (exit 1) still gets its stop
/// signal right after, and the Job succeeds. The kubelet records FailedPreStopHook and kills
/// the container all the same (`killContainer` → `executePreStopHook` ignores the result).
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x42_failing_pre_stop_in_teardown_does_not_stop_the_stop(#[case] order: CreateOrder) {
    if pod::skip("x42_failing_pre_stop_in_teardown_does_not_stop_the_stop") {
        return;
    }
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

/// e2e L27 ("should execute readiness probe while in preStop, but not liveness") and P22/P23
/// (the same for a native sidecar): a pod deleted while a native sidecar's and the app's
/// preStops (3 s) run. From the stop on, neither's liveness probe runs any more, their
/// readiness probes go on and, failing once the preStop began draining, turn each unready —
/// status.json says `ready: false` and the pod not Ready while both still run — before their
/// stop signals.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x43_readiness_goes_on_during_pre_stop_liveness_does_not(#[case] order: CreateOrder) {
    if pod::skip("x43_readiness_goes_on_during_pre_stop_liveness_does_not") {
        return;
    }
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

/// Issue 11 item 6, the teardown cause handed to the containers: a Job whose app exits 3. The
/// sidecar's preStop sees the cause in its environment, and its TERM trap reads the teardown
/// file (rewritten with its stop signal) to say why it stops and what the app exited with —
/// what a log sidecar flushing needs. The app's own preStop never runs (it exited by itself).
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x44_the_teardown_cause_reaches_pre_stop_and_the_sidecar(#[case] order: CreateOrder) {
    if pod::skip("x44_the_teardown_cause_reaches_pre_stop_and_the_sidecar") {
        return;
    }
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

/// e2e P01, P10, P17 (probe timing on native sidecars): three sidecars and an app. `delayed`'s
/// readiness probe does not
/// run before its `initialDelaySeconds` (3 s) and the app is not ready until then; `gated`'s
/// readiness probe (period 30 s) runs at once when its startup probe passes, not a period
/// later; `slow`'s exec readiness probe outlives its 1 s timeout and the app never turns ready.
/// Nobody restarts.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x45_probe_timing_initial_delay_after_startup_and_timeout(#[case] order: CreateOrder) {
    if pod::skip("x45_probe_timing_initial_delay_after_startup_and_timeout") {
        return;
    }
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
        assert_eq!(st(&out, name, "restartCount"), 0, "{name}\n{out}");
    }
}

/// e2e H13, H15, H16 (the sleep handler as preStop): on deletion, `napper`'s `sleep 2` preStop
/// holds its stop signal about 2 s, `zero`'s `sleep 0` not at all; in a Job, `done`'s
/// preStop `sleep 20` never runs because its app already exited — the Job ends at once.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x46_sleep_pre_stop_holds_the_signal_and_skips_an_exited_container(#[case] order: CreateOrder) {
    if pod::skip("x46_sleep_pre_stop_holds_the_signal_and_skips_an_exited_container") {
        return;
    }
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
    if pod::skip("x47_a_failing_init_container_restarts_beside_a_running_sidecar") {
        return;
    }
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

/// A Job of a native sidecar `proxy` (its `sidecar_body`) and an app that logs `started`,
/// exits 143 on TERM and 0 on HUP; grace 5 s.
fn proxy_and_hup_app(test: PodTest) -> PodTest {
    test.timeout(Duration::from_secs(60))
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "initContainers": [native_sidecar("proxy")],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("proxy", &sidecar_body("0")))
        .add(Container::script(
            "app",
            "trap 'tlog got TERM; exit 143' TERM\n\
             trap 'tlog got HUP; exit 0' HUP\n\
             tlog started\n\
             while :; do sleep 0.05; done",
        ))
}

/// How many times `name` has logged `started` so far.
fn runs_so_far(running: &RunningPod, name: &str) -> usize {
    running
        .timeline()
        .iter()
        .filter(|e| e.container == name && e.text == "started")
        .count()
}

/// Issue 11 item 6, day-2 operations on the control socket: `podinit restart proxy` stops the
/// sidecar's process (its TERM trap runs) and starts it again with the app untouched;
/// `podinit restart app` does the same to an app under `restartPolicy: Never`; unknown
/// containers and bad signals are refused; `podinit signal app HUP` reaches the app's process,
/// whose trap exits 0: the Job completes, the sidecar is stopped, Succeeded.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x32_operator_restart_and_signal_one_container(#[case] order: CreateOrder) {
    if pod::skip("x32_operator_restart_and_signal_one_container") {
        return;
    }
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
    assert_eq!(st(&out, "proxy", "restartCount"), 1, "{out}");
    assert_eq!(st(&out, "app", "restartCount"), 1, "{out}");
    assert_eq!(st(&out, "app", "exitCode"), 0, "{out}");
    assert_reaped(&out, &[("proxy", 0), ("app", 0)]);
    assert_phase(&out, "Succeeded");
}

/// Issue 11 item 6, grace for log sidecars: with `io.podinit.sidecar-grace-reserve: 3` and a
/// 6 s deletion, an app that ignores SIGTERM is killed 3 s in (not at 6 s), and the log sidecar,
/// signalled once the app is gone, has the budget's last 3 s to flush (2 s here) and exits 0 by
/// itself, not SIGKILLed. The pod is Failed (the app's 137).
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x33_a_sidecar_grace_reserve_lets_the_log_sidecar_flush(#[case] order: CreateOrder) {
    if pod::skip("x33_a_sidecar_grace_reserve_lets_the_log_sidecar_flush") {
        return;
    }
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
    assert_eq!(st(&out, "app", "rawExitCode"), 137, "{out}");
    assert_reaped(&out, &[("log", 0), ("app", 137)]);
    assert_phase(&out, "Failed");
}

/// Issue 11 item 6, ECI exit priority on every container, stage by stage: apps `a1` (10) and
/// `a2` (0), log sidecar `log` (-5), grace 2 s. Each takes 1.5 s to exit after its signal; each
/// stage's signal waits for the stage before it to exit and has the whole 2 s, so all three
/// exit by themselves, 4.5 s in all, past the 2 s grace (as ECI documents), none SIGKILLed.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x34_eci_exit_priority_stops_every_container_stage_by_stage(#[case] order: CreateOrder) {
    if pod::skip("x34_eci_exit_priority_stops_every_container_stage_by_stage") {
        return;
    }
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
        assert_eq!(st(&out, c, "rawExitCode"), 0, "{c} was not killed\n{out}");
    }
    assert_reaped(&out, &[("a1", 0), ("a2", 0), ("log", 0)]);
    assert_phase(&out, "Succeeded");
}

/// Issue 11 item 6, re-gating: with `io.podinit.needs-sidecars: app=proxy:restart`, a crash of
/// the proxy (SIGKILL through `podinit signal`) stops the app too, and the app starts again
/// only after the proxy has started again; the Job then completes (the app exits 0 on HUP).
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x35_an_app_needing_its_sidecar_is_restarted_after_it(#[case] order: CreateOrder) {
    if pod::skip("x35_an_app_needing_its_sidecar_is_restarted_after_it") {
        return;
    }
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
    assert!(
        app[1] > proxy[1],
        "the app started again only after the proxy did\n{out}"
    );
    assert_eq!(st(&out, "app", "restartCount"), 1, "{out}");
    assert_eq!(st(&out, "proxy", "restartCount"), 1, "{out}");
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
         t=$(adjtimex | grep tv_); set -- $t\n\
         echo \"$2$(printf %06d \"$4\") $SERVER $QUERY_STRING\" >>/shared/timeline.log\n\
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
         while :; do sleep 0.05; done"
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
    if pod::skip("x48_liveness_probes_on_a_native_sidecar") {
        return;
    }
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
    let restarts = st(&out, "web", "restartCount").as_u64().unwrap_or(0);
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

/// e2e H03, H05 (regular container) and H09, H11 (restartable init container): httpGet
/// postStart and preStop hooks reach the handler. A native sidecar `handler` serves
/// `/cgi-bin/echo.sh`, which logs its query; the app and a second sidecar `hooked` have
/// postStart and preStop httpGet hooks on it. Each hook is received once; the preStops only
/// after the deletion; `handler` (declared first) outlives them all.
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x49_http_hooks_reach_their_handler(#[case] order: CreateOrder) {
    if pod::skip("x49_http_hooks_reach_their_handler") {
        return;
    }
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

/// e2e L133 ("should mark pod as succeeded if any of the prestop hook in restartable init
/// containers have exceeded its termination grace period seconds"): the app of a Job exits 0;
/// the sidecar's preStop would take 30 s and its process ignores SIGTERM; with a 3 s grace the
/// preStop is cut, the sidecar is signalled then SIGKILLed 2 s later, and the pod is Succeeded
/// (a sidecar's end never counts).
#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn x52_a_sidecar_pre_stop_outliving_the_grace_leaves_the_job_succeeded(#[case] order: CreateOrder) {
    if pod::skip("x52_a_sidecar_pre_stop_outliving_the_grace_leaves_the_job_succeeded") {
        return;
    }
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

// ---------------------------------------------------------------------------------------------
// The same scenarios with bundles injected `--hooks` (issue 13): every other test here takes
// inject's default, where no OCI hook runs, each container's init claims its registration and
// the supervisor sees every end through the init's pidfd; these keep the hook channel (the
// createRuntime registration, poststop's end) covered: the gate, restarts, teardown and a
// container the runtime killed come out the same. The whole file runs this way with
// `PODTEST_INJECT=hooks`, and with explicit `--no-hooks` with `PODTEST_INJECT=no-hooks`.

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn hooks_s01_acs_native_sidecar_job(#[case] order: CreateOrder) {
    pod::hooks(|| s01_acs_native_sidecar_job(order))
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn hooks_s11_nvidia_and_podinit_hooks(#[case] order: CreateOrder) {
    pod::hooks(|| s11_gpu_bundle_keeps_nvidia_prestart_hook_first(order))
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn hooks_s04_init_sequence(#[case] order: CreateOrder) {
    pod::hooks(|| s04_init_sequence_init_then_sidecar_then_app(order))
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn hooks_s06_stubborn_sidecar_killed(#[case] order: CreateOrder) {
    pod::hooks(|| s06_stubborn_sidecar_killed_at_budget_end(order))
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn hooks_s08_crashed_sidecar_restarted(#[case] order: CreateOrder) {
    pod::hooks(|| s08_crashed_sidecar_restarted_alone(order))
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn hooks_s09_pod_deletion(#[case] order: CreateOrder) {
    pod::hooks(|| s09_pod_deletion_apps_first_then_sidecars_in_reverse(order))
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn hooks_x01b_container_killed_by_runtime(#[case] order: CreateOrder) {
    pod::hooks(|| x01b_app_container_killed_by_runtime_fails_pod(order))
}

#[rstest]
#[case::spec(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn hooks_x04_failed_init_container(#[case] order: CreateOrder) {
    pod::hooks(|| x04_failed_init_container_fails_pod_nothing_starts(order))
}
