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
//! under `PODINIT_REQUIRE_ALL=1` (`pod::require!`, which `pod::both_orders!` stamps into both
//! creation orders of a scenario); the hostile-input checks (s13) need none of them.
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
//! | hooks_* | s01, s04, s06, s08, s09, s11, x01b, x04 with bundles injected `--hooks` (podinit's OCI hooks register each container; every other test takes inject's default, no hooks: each init claims its registration); `PODTEST_INJECT=hooks` runs every scenario so, `PODTEST_INJECT=no-hooks` with explicit `--no-hooks` |

mod harness;
mod hostile;
mod recovery;
mod startup;
mod steady;
mod teardown;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rstest::rstest;
use serde_json::{Value, json};

use crate::{pod, support};
use pod::{Container, CreateOrder, PodOutcome, PodTest, RunningPod, SupervisorExit, waiting_probe};
use podinit::engine::{ContainerState, NoteKind};
use podinit::plan::Kind;
use podinit::status::Note;

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

/// Container `name`'s entry of `status.json`, typed; panics (with the dump) if absent.
#[track_caller]
fn st(out: &PodOutcome, name: &str) -> podinit::status::Container {
    out.status()
        .and_then(|doc| doc.container(name).cloned())
        .unwrap_or_else(|| panic!("no status for container {name:?}\n{out}"))
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
    let c = st(out, name);
    assert_eq!(c.kind, Some(Kind::Sidecar), "{out}");
    assert_eq!(c.exit_code, Some(0), "{name}: reported exitCode\n{out}");
    assert_eq!(c.raw_exit_code, Some(raw), "{name}: rawExitCode\n{out}");
    assert_eq!(c.state, ContainerState::Terminated, "{out}");
}

/// The time of the first event of `status.json`'s timeline for `container` (None: pod-level)
/// of kind `kind`, in ms since the epoch.
#[track_caller]
fn status_event_ms(out: &PodOutcome, container: Option<&str>, kind: NoteKind) -> i64 {
    let doc = out
        .status()
        .unwrap_or_else(|| panic!("no status.json\n{out}"));
    doc.timeline
        .iter()
        .find(|n| n.container.as_deref() == container && n.kind == kind)
        .and_then(Note::at_since_epoch)
        .map(|at| at.as_millis() as i64)
        .unwrap_or_else(|| {
            panic!("status timeline: no {container:?} event of kind {kind:?}\n{out}")
        })
}

/// `status.json`'s timeline entries for `container`, in order.
fn status_notes(out: &PodOutcome, container: &str) -> Vec<Note> {
    out.status()
        .map(|doc| {
            doc.timeline
                .into_iter()
                .filter(|n| n.container.as_deref() == Some(container))
                .collect()
        })
        .unwrap_or_default()
}

/// The kinds of `status.json`'s timeline events for `container`, in order.
fn status_kinds(out: &PodOutcome, container: &str) -> Vec<NoteKind> {
    status_notes(out, container)
        .into_iter()
        .map(|n| n.kind)
        .collect()
}

/// The texts of `status.json`'s timeline events for `container`, in order.
fn status_events(out: &PodOutcome, container: &str) -> Vec<String> {
    status_notes(out, container)
        .into_iter()
        .map(|n| n.event)
        .collect()
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

// ---------------------------------------------------------------------------------------------
// Pods and bodies several modules' scenarios share

/// A native sidecar declaration gated by a waiting startup probe on `/dev/shm/ready`.
fn native_sidecar(name: &str) -> Value {
    json!({"name": name, "image": "busybox", "restartPolicy": "Always",
           "startupProbe": waiting_probe("/dev/shm/ready")})
}

/// A lifecycle handler that sleeps `sleep` seconds, then logs `text` to the timeline.
fn logging_handler(text: &str, sleep: &str) -> Value {
    json!({"exec": {"command": ["sh", "-c", format!("sleep {sleep}; {}", pod::log_line(text))]}})
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
