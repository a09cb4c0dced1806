//! The engine's operation-sequence fuzz (issue 15 deliverable 2): random but deterministic
//! sequences of inputs and clock steps on a pod of two sidecars and an app, checking after
//! every step the invariants the bugs of issue 15 broke, and a kill-and-replay mode: at a
//! random step a fresh engine is rebuilt from the inputs so far, as a restarted supervisor does
//! from its journal (`Engine::replay`), and must hold the same state.
//!
//! The invariants, after every input (event or timeout):
//! - every action names a container the pod knows;
//! - nothing names a container incarnation after its `Finish` (so one `Finish` at most);
//! - no `Restart` in teardown;
//! - in teardown, a sidecar's stop signal only once every app exited, unless the stop is
//!   forced or the budget is used up (a signal the input asked for aside);
//! - the pod finishes once, and Succeeded only if every app exited 0;
//! - after `handle_timeout(t)`, for a `t` at a deadline or any other time, the next deadline is
//!   none or after `t`.
//!
//! Deterministic: `PODINIT_FUZZ_SEED=N` replays one seed (printed on failure), else a fixed
//! range; `PODINIT_FUZZ_SEQUENCES` sets how many (default 400, a second or so).

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::plan::{BundleInput, Classified, classify_bundle, declaration};
use crate::rng::Rng;

const NAMES: [&str; 3] = ["s1", "s2", "app"];

/// The fuzz pod; `variant` 1 adds a sidecars' grace reserve, 2 ECI exit priorities (the
/// staged teardown), 3 an app that needs both sidecars for its whole life (re-gating), 4
/// KEP-5307 restart rules and a start-wait deadline that starts anyway, 5 one that fails.
fn declarations(variant: u64) -> Vec<(ContainerPlan, PodDeclaration)> {
    let mut spec = json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "initContainers": [
            {"name": "s1", "restartPolicy": "Always",
             "startupProbe": {"exec": {"command": ["true"]}}},
            {"name": "s2", "restartPolicy": "Always",
             "lifecycle": {"postStart": {"exec": {"command": ["true"]}},
                           "preStop": {"exec": {"command": ["true"]}}}}
        ],
        "containers": [{"name": "app", "readinessProbe": {"exec": {"command": ["true"]}}}]
    });
    match variant {
        1 => {
            spec = json!({
                "metadata": {"annotations": {"io.podinit.sidecar-grace-reserve": "3"}},
                "spec": spec,
            })
        }
        2 => {
            // s1 -1, s2 0, app 1.
            let priority = |p: &str| json!([{"name": "ECI_CONTAINER_EXIT_PRIORITY", "value": p}]);
            spec["initContainers"][0]["env"] = priority("-1");
            spec["initContainers"][1]["env"] = priority("0");
            spec["containers"][0]["env"] = priority("1");
        }
        3 => {
            spec = json!({
                "metadata": {"annotations": {"io.podinit.needs-sidecars": "app=s1+s2:restart"}},
                "spec": spec,
            })
        }
        4 => {
            // KEP-5307 rules on the app, and a start-wait deadline that starts it anyway.
            spec["containers"][0]["restartPolicy"] = json!("Never");
            spec["containers"][0]["restartPolicyRules"] = json!([
                {"action": "Restart", "exitCodes": {"operator": "In", "values": [1, 2]}},
                {"action": "Restart", "exitCodes": {"operator": "NotIn", "values": [0, 3]}}]);
            spec = json!({
                "metadata": {"annotations": {"io.podinit.start-timeout": "300ms",
                                             "io.podinit.on-start-timeout": "start"}},
                "spec": spec,
            })
        }
        5 => {
            // A start-wait deadline that fails the pod.
            spec = json!({
                "metadata": {"annotations": {"io.podinit.start-timeout": "1s",
                                             "io.podinit.on-start-timeout": "fail"}},
                "spec": spec,
            })
        }
        _ => {}
    }
    NAMES
        .iter()
        .map(|name| {
            let config = json!({ "annotations": {
                "io.podinit.pod-spec": spec.to_string(),
                "io.podinit.container-name": name,
            }});
            match classify_bundle(&BundleInput {
                config: &config,
                fallback_name: name,
            }) {
                Ok(Classified::Container { plan, pod, .. }) => (*plan, pod),
                other => panic!("fuzz pod: {other:?}"),
            }
        })
        .collect()
}

fn random_event(
    rng: &mut Rng,
    decl: &[(ContainerPlan, PodDeclaration)],
    incarnation: u64,
) -> Event {
    let i = rng.below64(NAMES.len() as u64) as usize;
    let name = NAMES[i].to_owned();
    match rng.below64(12) {
        0 => {
            // The pod's declaration brought with its digest, named by its digest only, as an
            // older supervisor journalled it (no digest), or another declaration (which the
            // engine must keep out of the pod).
            let (plan, pod) = decl[i].clone();
            let (pod, pod_digest) = match rng.below64(6) {
                0 | 1 => {
                    let d = declaration::digest(&pod);
                    (Some(pod), Some(d))
                }
                2 | 3 => (None, Some(declaration::digest(&pod))),
                4 => (Some(pod), None),
                _ => (
                    Some(PodDeclaration::Unknown),
                    Some(declaration::digest(&PodDeclaration::Unknown)),
                ),
            };
            Event::Registered {
                id: format!("{name}-{incarnation}"),
                plan: Box::new(plan),
                pod,
                pod_digest,
            }
        }
        1 | 2 => Event::ProcessStarted { name },
        3 => Event::ProcessExited {
            name,
            status: match rng.below64(3) {
                0 => ExitStatus::Code(0),
                1 => ExitStatus::Code(1),
                _ => ExitStatus::Signal(9),
            },
            details: ExitDetails {
                oom_killed: rng.below64(4) == 0,
                message: None,
            },
        },
        4 => Event::Gone { name },
        5 => Event::HandlerDone {
            name,
            handler: if rng.below64(2) == 0 {
                HandlerKind::PostStart
            } else {
                HandlerKind::PreStop
            },
            ok: rng.below64(4) != 0,
        },
        6 => Event::ProbeResult {
            name,
            probe: if rng.below64(2) == 0 {
                ProbeKind::Startup
            } else {
                ProbeKind::Readiness
            },
            ok: rng.below64(4) != 0,
        },
        7 => Event::StopRequested {
            grace: match rng.below64(3) {
                0 => None,
                1 => Some(Duration::from_secs(rng.below64(10))),
                _ => Some(Duration::from_secs(u64::MAX)),
            },
        },
        8 => Event::AgentStop {
            name,
            signal: Signal::SIGTERM,
        },
        // The operator's day-2 requests, unchecked (as a journal replays them).
        9 => Event::RestartRequested { name },
        10 => Event::SignalRequested {
            name,
            signal: Signal::SIGHUP,
        },
        _ => Event::ProcessStarted { name },
    }
}

/// What the actions so far said, for the invariants that span steps.
#[derive(Default)]
struct Watch {
    /// Ids of the container incarnations that got their `Finish`.
    finished: HashSet<String>,
    pod_finished: bool,
}

impl Watch {
    /// The actions of one input, checked against what came before; `in_teardown` is whether
    /// the pod was being torn down before the input.
    /// `asked` is whether the input could ask for a signal itself (`podinit signal`, a stop
    /// from the runtime that the engine says again over the link).
    fn check(
        &mut self,
        engine: &Engine,
        now: Time,
        in_teardown: bool,
        asked: bool,
        actions: &[Action],
        at: &str,
    ) {
        let status = engine.status();
        for a in actions {
            if let (Action::Signal { name, .. }, Some(td), false) = (a, &engine.teardown, asked) {
                // Teardown: a sidecar's stop signal waits until every app exited, unless the
                // stop is forced or the whole budget is used up.
                let sidecar = engine
                    .find(name)
                    .is_some_and(|i| engine.containers[i].is_sidecar());
                let app_running = engine.containers.iter().any(|c| {
                    c.kind() == Some(crate::plan::Kind::App) && c.state() == ContainerState::Running
                });
                assert!(
                    !(sidecar && app_running && !td.forced && now < td.deadline),
                    "{at}: {a:?} while an app runs, before the end of the budget: {:?}",
                    status.containers
                );
            }
            let name = match a {
                Action::ReleaseGate { name }
                | Action::Restart { name }
                | Action::RunHandler { name, .. }
                | Action::StartProbes { name }
                | Action::StopProbes { name, .. }
                | Action::Teardown { name, .. }
                | Action::Signal { name, .. }
                | Action::Kill { name }
                | Action::Finish { name, .. } => Some(name),
                Action::StatusChanged | Action::PodFinished { .. } => None,
            };
            if let Some(n) = name {
                let c = status.containers.iter().find(|c| &c.name == n);
                let Some(c) = c else {
                    panic!("{at}: {a:?} for an unknown container")
                };
                // An incarnation is done at its Finish: its init exits, nothing may follow.
                let id = c.id.clone().unwrap_or_default();
                assert!(
                    !self.finished.contains(&id),
                    "{at}: {a:?} after the Finish of {n} ({id})"
                );
                if matches!(a, Action::Finish { .. }) {
                    self.finished.insert(id);
                }
            }
            assert!(
                !(in_teardown && matches!(a, Action::Restart { .. })),
                "{at}: {a:?} during teardown"
            );
            if let Action::PodFinished { phase } = a {
                assert!(!self.pod_finished, "{at}: the pod finished twice");
                self.pod_finished = true;
                // Succeeded only if every app exited 0 (kubelet `getPhase`).
                let apps_ok = status
                    .containers
                    .iter()
                    .filter(|c| c.kind == Some(crate::plan::Kind::App))
                    .all(|c| c.exit_code == Some(0));
                assert!(
                    *phase != Phase::Succeeded || apps_ok,
                    "{at}: Succeeded with an app that did not exit 0: {:?}",
                    status.containers
                );
            }
        }
    }
}

/// Advance the clock to `to`, handling every timer at its own deadline (as the replay does).
fn advance(
    engine: &mut Engine,
    watch: &mut Watch,
    now: &mut Time,
    to: Time,
    seed: u64,
    step: usize,
) {
    let mut fired = 0;
    while let Some(due) = engine.poll_timeout().filter(|d| *d <= to) {
        let due = due.max(*now);
        let in_teardown = !engine.status().reason.is_empty();
        let actions = engine.handle_timeout(due);
        let at = format!("seed {seed} step {step} timeout {due:?}");
        watch.check(engine, due, in_teardown, false, &actions, &at);
        *now = due;
        fired += 1;
        let next = engine.poll_timeout();
        assert!(
            next.is_none_or(|n| n > due),
            "seed {seed} step {step}: after the timeout at {due:?} the next deadline {next:?} is not ahead"
        );
        assert!(fired < 10_000, "seed {seed} step {step}: unbounded timers");
    }
    *now = (*now).max(to);
}

/// A driver calls `handle_timeout` when it wakes, which may be at any time, late or early:
/// after `handle_timeout(t)` the next deadline is none or after `t` (else the driver would spin
/// or sleep past a due timer). Tried on copies, at the clock and a little after it, so the run
/// itself (and its replay) keeps firing timers at their own deadlines.
fn late_timeouts_leave_the_next_deadline_ahead(engine: &Engine, now: Time, seed: u64, step: usize) {
    // Its own stream: the sequence a seed makes stays what it was without these checks.
    let rng = &mut Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ (step as u64) | 1);
    let late = [
        Duration::from_nanos(rng.below64(1_000_000)),
        Duration::from_millis(rng.below64(5_000)),
    ];
    for t in [now, now + late[0], now + late[1]] {
        let mut copy = engine.clone();
        let _ = copy.handle_timeout(t);
        let next = copy.poll_timeout();
        assert!(
            next.is_none_or(|n| n > t),
            "seed {seed} step {step}: after handle_timeout({t:?}) the next deadline {next:?} is not ahead: {:?}",
            copy.deadlines().collect::<Vec<_>>()
        );
    }
}

fn run_sequence(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let decl = declarations(seed % 6);
    let mut engine = Engine::new(Config::default());
    let mut now = Time::ZERO;
    let mut inputs: Vec<(Time, Event)> = Vec::new();
    let mut watch = Watch::default();
    let steps = 20 + rng.below64(60) as usize;
    let replay_at = rng.below64(steps as u64) as usize;
    for step in 0..steps {
        if rng.below64(3) == 0 {
            // Nanosecond steps too: the journal keeps them (finding 7).
            let by = match rng.below64(3) {
                0 => Duration::from_nanos(rng.below64(2_000_000)),
                1 => Duration::from_millis(rng.below64(3_000)),
                _ => Duration::from_secs(rng.below64(400)),
            };
            let to = now + by;
            advance(&mut engine, &mut watch, &mut now, to, seed, step);
            late_timeouts_leave_the_next_deadline_ahead(&engine, now, seed, step);
            continue;
        }
        let event = random_event(&mut rng, &decl, step as u64);
        let in_teardown = !engine.status().reason.is_empty();
        let asked = matches!(
            event,
            Event::SignalRequested { .. } | Event::AgentStop { .. }
        );
        inputs.push((now, event.clone()));
        let actions = engine.handle_event(now, event);
        late_timeouts_leave_the_next_deadline_ahead(&engine, now, seed, step);
        watch.check(
            &engine,
            now,
            in_teardown,
            asked,
            &actions,
            &format!("seed {seed} step {step}"),
        );
        if step == replay_at {
            // The supervisor is SIGKILLed here and started again from its journal.
            // Through the journal's encoding: what a restarted supervisor reads back.
            let mut replayed = Engine::new(Config::default());
            for (t, e) in inputs.iter() {
                let line = serde_json::to_vec(e).expect("an event serializes");
                let read: Event = serde_json::from_slice(&line).expect("and reads back");
                replayed.replay(*t, read);
            }
            assert_eq!(
                serde_json::to_value(replayed.status()).ok(),
                serde_json::to_value(engine.status()).ok(),
                "seed {seed} step {step}: the replayed engine differs from the live one"
            );
            assert_eq!(
                replayed.poll_timeout(),
                engine.poll_timeout(),
                "seed {seed}"
            );
        }
    }
}

#[test]
// The test's own knobs (a seed to replay, a longer run), not the engine's input.
#[allow(clippy::disallowed_methods)]
fn random_operation_sequences_keep_the_invariants_and_replay_to_the_same_state() {
    let one = std::env::var("PODINIT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let count = std::env::var("PODINIT_FUZZ_SEQUENCES")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(400);
    let seeds: Vec<u64> = match one {
        Some(s) => vec![s],
        None => (1..=count).collect(),
    };
    for seed in seeds {
        let outcome = std::panic::catch_unwind(|| run_sequence(seed));
        if let Err(e) = outcome {
            eprintln!(
                "sequence fuzz failed at seed {seed}: PODINIT_FUZZ_SEED={seed} reproduces it"
            );
            std::panic::resume_unwind(e);
        }
    }
}

/// The variants carry what they are for (a renamed key would make them plain pods).
#[test]
fn the_fuzz_variants_declare_rules_and_deadlines() {
    use crate::plan::start_wait::OnStartTimeout;
    let app = |v| declarations(v).pop().expect("app").0;
    let four = app(4);
    assert_eq!(four.restart_rules.len(), 2);
    assert_eq!(
        four.start_timeout.map(|t| (t.millis, t.on_timeout)),
        Some((300, OnStartTimeout::Start))
    );
    assert_eq!(
        app(5).start_timeout.map(|t| t.on_timeout),
        Some(OnStartTimeout::Fail)
    );
}
