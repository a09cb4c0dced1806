//! Chaos (issue 15 deliverable 4): Job pods of real runc containers — a native sidecar and an
//! app, the demo pod's shape — whose `podinit supervise` is SIGKILLed at a uniformly random
//! moment of the pod's life and started again on the same state dir and socket. The moment is
//! drawn over the pod's measured duration (one uninterrupted run per shape first), so the kill
//! falls in registration, the gate, the steady state, the teardown or around the last exit in
//! proportion to how long each lasts.
//!
//! Checked for every pod: each container's exit status as the runtime saw it (the agent reaps
//! the container inits `runc create` started, as their subreaper) equals the `exitCode` podinit
//! reports in status.json; the app ran once and exited with the code drawn; the phase is
//! Succeeded iff the app exited 0 and the supervisor exits with it; nothing is left running (no
//! runc container, no container init). A failed `runc create` (its createRuntime hook found no
//! supervisor, in the instant between the kill and the restart) is retried, as a kubelet does.
//! With inject's default (no hooks, issue 13) nothing fails the create: each init presents its
//! claim to whichever supervisor answers until one welcomes it.
//!
//! Deterministic per seed (the shapes, create orders and kill moments; the machine's timing is
//! not): `PODINIT_CHAOS_SEED=N` replays a run, `PODINIT_CHAOS_PODS=N` sets how many pods (default
//! 8, about 25 s here: a CI run of well under a minute). The ≥ 100-pod campaign and its figure are in
//! docs/reliability.md.

use crate::pod;

use std::time::{Duration, Instant};

use serde_json::json;

use pod::{Container, CreateOrder, PodOutcome, PodTest, SupervisorExit, waiting_probe};

const DEFAULT_SEED: u64 = 0xC4A0_5EED;
const DEFAULT_PODS: usize = 8;
/// The sidecar's SIGTERM-to-SIGKILL budget when it ignores SIGTERM.
const GRACE_S: u64 = 2;

/// splitmix64: deterministic, no dependency, every draw of a run from the one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

fn env_number(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    let parsed = match raw.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => raw.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={raw:?}: not a number ({e})")))
}

/// What a pod of the run is: drawn from the seed.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// The sidecar ignores SIGTERM: the pod SIGKILLs it when the grace is over.
    stubborn: bool,
    app_code: i32,
}

#[derive(Debug)]
struct Draw {
    shape: Shape,
    reverse: bool,
    /// Where in the pod's measured duration the SIGKILL falls, in [0, 1); None: not killed.
    kill_at: Option<f64>,
}

impl Draw {
    fn of(rng: &mut Rng) -> Draw {
        Draw {
            shape: Shape {
                stubborn: rng.chance(0.5),
                app_code: if rng.chance(0.7) { 0 } else { 3 },
            },
            reverse: rng.chance(0.5),
            kill_at: Some(rng.unit()),
        }
    }
}

fn job(name: &str, shape: Shape) -> PodTest {
    let sidecar = if shape.stubborn {
        "trap '' TERM; tlog started; touch /dev/shm/ready; while :; do sleep 0.05; done"
    } else {
        "trap 'tlog got TERM; exit 0' TERM; tlog started; touch /dev/shm/ready\n\
         while :; do sleep 0.05; done"
    };
    PodTest::new(name)
        .supervisor_args(&["-vv"])
        .timeout(Duration::from_secs(30))
        .cmd_timeout(Duration::from_secs(10))
        .supervisor_timeout(Duration::from_secs(15))
        .create_retries(3)
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": GRACE_S,
            "initContainers": [{"name": "sidecar", "image": "busybox", "restartPolicy": "Always",
                                "startupProbe": waiting_probe("/dev/shm/ready")}],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script("sidecar", sidecar))
        // `echo` is a builtin: even a run killed at once leaves its mark, so a second run shows.
        .add(Container::script(
            "app",
            &format!(
                "echo app-process-run\ntlog started\nsleep 0.5\ntlog exiting\nexit {}",
                shape.app_code
            ),
        ))
}

/// Everything wrong with one pod's outcome; empty when the runtime and podinit agree, the
/// phase is right and nothing is left.
fn problems(out: &PodOutcome, shape: Shape) -> Vec<String> {
    let mut p = Vec::new();
    let status = out.status_json.as_ref();
    if status.is_none_or(|s| s["finished"] != true) {
        p.push("status.json missing or not finished".to_owned());
    }
    for name in ["sidecar", "app"] {
        let runtime = out.exit_code(name);
        let reported = status
            .and_then(|s| s["containers"].as_array())
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .and_then(|c| c["exitCode"].as_i64());
        match (runtime, reported) {
            (Some(r), Some(s)) if i64::from(r) == s => {}
            (None, _) => p.push(format!(
                "{name}: lost: the runtime has no exit ({})",
                out.unfinished.get(name).map_or("?", String::as_str)
            )),
            (Some(r), s) => p.push(format!(
                "{name}: wrong: the runtime saw {r}, status.json says {s:?}"
            )),
        }
    }
    let expected_app = Some(shape.app_code);
    if out.exit_code("app") != expected_app {
        p.push(format!(
            "app: exited {:?}, its script exits {}",
            out.exit_code("app"),
            shape.app_code
        ));
    }
    if out.exit_code("sidecar") != Some(0) {
        p.push(format!(
            "sidecar: exited {:?}, a stopped sidecar reports 0",
            out.exit_code("sidecar")
        ));
    }
    let runs = out.stdout("app").matches("app-process-run").count();
    if runs != 1 {
        p.push(format!("app: ran {runs} times (restartPolicy Never)"));
    }
    let (phase, code) = if out.exit_code("app") == Some(0) {
        ("Succeeded", 0)
    } else {
        ("Failed", 1)
    };
    if out.phase() != Some(phase) {
        p.push(format!("phase {:?}, expected {phase}", out.phase()));
    }
    if out.supervisor_exit != SupervisorExit::Exited(code) {
        p.push(format!(
            "supervisor ended {:?}, expected Exited({code})",
            out.supervisor_exit
        ));
    }
    if !out.cleanup.containers_after_agent.is_empty() || !out.cleanup.is_clean() {
        p.push(format!("left behind: {:?}", out.cleanup));
    }
    for (name, pid) in &out.pids {
        if pod::alive(*pid) {
            p.push(format!("{name}: init {pid} still exists"));
        }
    }
    p.extend(out.agent_errors.iter().map(|e| format!("agent: {e}")));
    p.extend(out.notes.iter().map(|n| format!("harness: {n}")));
    if out.supervisor_log().contains("panicked") {
        p.push("the supervisor panicked".to_owned());
    }
    p
}

struct Result {
    pod: usize,
    draw: Draw,
    killed_after: Option<Duration>,
    /// Creates retried because their hook found no supervisor.
    retried: usize,
    problems: Vec<String>,
    dump: String,
}

/// Runs one pod; kills and restarts its supervisor `kill_at` of `duration` after the start.
fn run_one(i: usize, draw: Draw, duration: Duration) -> (Result, Duration) {
    let order = if draw.reverse {
        CreateOrder::Reverse
    } else {
        CreateOrder::Spec
    };
    let mut running = job(&format!("chaos-{i}"), draw.shape).start(order);
    let started = Instant::now();
    let mut killed_after = None;
    if let Some(frac) = draw.kill_at {
        std::thread::sleep(duration.mul_f64(frac));
        let at = started.elapsed();
        running.mark("supervisor killed");
        // Ended on its own already (the pod was over): nothing to restart.
        if running.kill_supervisor() {
            killed_after = Some(at);
            running.restart_supervisor();
            running.mark("supervisor restarted");
        }
    }
    let out = running.finish();
    let problems = problems(&out, draw.shape);
    let dump = if problems.is_empty() {
        String::new()
    } else {
        out.to_string()
    };
    let result = Result {
        pod: i,
        draw,
        killed_after,
        retried: out.create_retried.len(),
        problems,
        dump,
    };
    (result, out.elapsed)
}

#[test]
fn chaos_supervisor_sigkilled_at_a_random_moment_loses_no_status() {
    pod::require!();
    let seed = env_number("PODINIT_CHAOS_SEED").unwrap_or(DEFAULT_SEED);
    let pods = env_number("PODINIT_CHAOS_PODS").map_or(DEFAULT_PODS, |n| n as usize);
    eprintln!("chaos: seed {seed} (PODINIT_CHAOS_SEED={seed} replays it), {pods} pods");
    let began = Instant::now();
    let mut rng = Rng(seed);

    // The duration of each shape's pod, from one uninterrupted run (itself checked too).
    let mut results = Vec::new();
    let duration = |stubborn: bool, results: &mut Vec<Result>| {
        let draw = Draw {
            shape: Shape {
                stubborn,
                app_code: 0,
            },
            reverse: false,
            kill_at: None,
        };
        let (r, d) = run_one(results.len(), draw, Duration::ZERO);
        results.push(r);
        d
    };
    let polite = duration(false, &mut results);
    let stubborn = duration(true, &mut results);
    eprintln!(
        "chaos: measured pod durations: {polite:?} (sidecar stops on SIGTERM), {stubborn:?} (sidecar ignores it)"
    );

    for _ in 0..pods {
        let draw = Draw::of(&mut rng);
        let d = if draw.shape.stubborn {
            stubborn
        } else {
            polite
        };
        let (r, _) = run_one(results.len(), draw, d);
        eprintln!(
            "chaos: pod {}: {:?}: killed {}, {} create(s) retried — {}",
            r.pod,
            r.draw,
            r.killed_after
                .map_or("never (it had ended)".to_owned(), |t| format!(
                    "after {t:?}"
                )),
            r.retried,
            if r.problems.is_empty() {
                "ok".to_owned()
            } else {
                r.problems.join("; ")
            }
        );
        results.push(r);
    }

    let bad: Vec<&Result> = results.iter().filter(|r| !r.problems.is_empty()).collect();
    let killed = results.iter().filter(|r| r.killed_after.is_some()).count();
    let retried: usize = results.iter().map(|r| r.retried).sum();
    eprintln!(
        "chaos: {} pods ({} calibration), {killed} supervisors SIGKILLed and restarted, {retried} creates retried, {} with a lost or wrong status, seed {seed}, {:?}",
        results.len(),
        results.len() - pods,
        bad.len(),
        began.elapsed()
    );
    for r in bad.iter().take(3) {
        eprintln!("--- pod {} ({:?}) ---\n{}", r.pod, r.draw, r.dump);
    }
    assert!(
        bad.is_empty(),
        "{} of {} pods went wrong (PODINIT_CHAOS_SEED={seed}): {:?}",
        bad.len(),
        results.len(),
        bad.iter().map(|r| (r.pod, &r.problems)).collect::<Vec<_>>()
    );
}
