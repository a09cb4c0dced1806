//! Kubernetes prober semantics for one container, as the kubelet's prober worker applies them:
//! a probe's verdict changes only after `successThreshold` consecutive successes or
//! `failureThreshold` consecutive failures, and only a change is reported (the supervisor
//! counts reports, not runs). The startup probe gates the others: readiness and liveness begin
//! (after their own `initialDelaySeconds`) once it has succeeded, and it stops then.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::Effect;
use super::timers::{Timer, TimerTable};
use crate::engine::ProbeKind;
use crate::plan::{ContainerPlan, ProbeSpec};
use crate::proto::InitMessage;

struct Probe {
    spec: ProbeSpec,
    /// The pid of the run under way; at most one run per probe at a time.
    running: Option<libc::pid_t>,
    successes: u32,
    failures: u32,
    /// The last verdict reported; `None` until the first.
    reported: Option<bool>,
}

#[derive(Default)]
pub struct Prober {
    probes: BTreeMap<ProbeKind, Probe>,
    /// The runs under way, for routing a reaped pid to its probe.
    pids: HashMap<libc::pid_t, ProbeKind>,
    /// This run's startup probe succeeded (it is stopped then, its entry gone).
    startup_passed: bool,
}

/// How a probe run (or a handler) came out of its start (`checks.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// A child process; its exit status is the result.
    Child(libc::pid_t),
    /// Nothing to wait for: success after this long (a `sleep` handler; a probe's is at once).
    Sleep(Duration),
    /// Could not even start: a failure.
    Failed,
}

impl Prober {
    /// The app runs: every probe of `plan` is armed, all but startup behind it when it has one.
    pub fn start(&mut self, plan: &ContainerPlan, now: Instant, timers: &mut TimerTable) {
        let specs = [
            (ProbeKind::Startup, &plan.startup_probe),
            (ProbeKind::Readiness, &plan.readiness_probe),
            (ProbeKind::Liveness, &plan.liveness_probe),
        ];
        let has_startup = plan.startup_probe.is_some();
        self.startup_passed = false;
        for (kind, spec) in specs {
            let Some(spec) = spec else { continue };
            self.probes.insert(
                kind,
                Probe {
                    spec: spec.clone(),
                    running: None,
                    successes: 0,
                    failures: 0,
                    reported: None,
                },
            );
            // All other probes wait until the startup probe succeeded (kubelet).
            if kind == ProbeKind::Startup || !has_startup {
                let delay = Duration::from_secs(spec.initial_delay_seconds);
                timers.set(Timer::Probe(kind), now + delay);
            }
        }
    }

    /// Every probe stops; runs under way are killed.
    pub fn stop_all(&mut self, timers: &mut TimerTable, fx: &mut Vec<Effect>) {
        self.stop_where(|_| true, timers, fx);
    }

    /// The container is being stopped: startup and liveness end, readiness goes on until the
    /// app is gone (kubelet prober: a terminating container turns unready).
    pub fn stop_but_readiness(&mut self, timers: &mut TimerTable, fx: &mut Vec<Effect>) {
        self.stop_where(
            |k| matches!(k, ProbeKind::Startup | ProbeKind::Liveness),
            timers,
            fx,
        );
    }

    fn stop_where(
        &mut self,
        stopped: impl Fn(ProbeKind) -> bool,
        timers: &mut TimerTable,
        fx: &mut Vec<Effect>,
    ) {
        let mut killed: Vec<libc::pid_t> = self
            .pids
            .iter()
            .filter(|(_, k)| stopped(**k))
            .map(|(pid, _)| *pid)
            .collect();
        killed.sort_unstable();
        for pid in killed {
            self.pids.remove(&pid);
            fx.push(Effect::Kill {
                pid,
                signo: libc::SIGKILL,
            });
        }
        self.probes.retain(|k, _| !stopped(*k));
        if stopped(ProbeKind::Startup) {
            self.startup_passed = false;
        }
        for kind in [
            ProbeKind::Startup,
            ProbeKind::Readiness,
            ProbeKind::Liveness,
        ] {
            if stopped(kind) {
                timers.stop(Timer::Probe(kind));
                timers.stop(Timer::ProbeTimeout(kind));
            }
        }
    }

    /// The verdicts a new supervisor must hear again after a reconnect: a report sent into a
    /// link whose supervisor was killed is lost with it, and a probe reports only changes,
    /// so a startup success lost that way held the pod's apps at the gate for ever (the chaos
    /// test, seed 3298844397). The startup success and the readiness verdict are states, safe
    /// to hear twice; a liveness failure is an order to restart, so it is not repeated.
    pub fn verdicts_to_repeat(&self) -> Vec<InitMessage> {
        let startup = self.startup_passed.then_some((ProbeKind::Startup, true));
        let readiness = self
            .probes
            .get(&ProbeKind::Readiness)
            .and_then(|p| p.reported)
            .map(|ok| (ProbeKind::Readiness, ok));
        startup
            .into_iter()
            .chain(readiness)
            .map(|(probe, ok)| InitMessage::Probe { probe, ok })
            .collect()
    }

    /// `Timer::Probe(kind)` fired: run it, unless a run is still under way.
    pub fn due(&self, kind: ProbeKind, fx: &mut Vec<Effect>) {
        let Some(p) = self.probes.get(&kind) else {
            return;
        };
        if p.running.is_some() {
            return;
        }
        fx.push(Effect::StartProbe {
            kind,
            action: p.spec.action.clone(),
            timeout: Duration::from_secs(p.spec.timeout_seconds),
        });
    }

    /// The driver started (or failed to start) the run [`Prober::due`] asked for.
    pub fn launched(
        &mut self,
        kind: ProbeKind,
        launch: Launch,
        now: Instant,
        timers: &mut TimerTable,
        fx: &mut Vec<Effect>,
    ) {
        let Some(p) = self.probes.get_mut(&kind) else {
            return;
        };
        match launch {
            Launch::Child(pid) => {
                p.running = Some(pid);
                self.pids.insert(pid, kind);
                let timeout = Duration::from_secs(p.spec.timeout_seconds);
                timers.set(Timer::ProbeTimeout(kind), now + timeout);
            }
            Launch::Sleep(_) => self.result(kind, true, now, timers, fx),
            Launch::Failed => self.result(kind, false, now, timers, fx),
        }
    }

    /// A reaped pid: the result of a probe run if it was one (false when it was not ours).
    pub fn reaped(
        &mut self,
        pid: libc::pid_t,
        ok: bool,
        now: Instant,
        timers: &mut TimerTable,
        fx: &mut Vec<Effect>,
    ) -> bool {
        let Some(kind) = self.pids.remove(&pid) else {
            return false;
        };
        self.result(kind, ok, now, timers, fx);
        true
    }

    /// `Timer::ProbeTimeout(kind)`: the run is killed and counts as a failure.
    pub fn timed_out(
        &mut self,
        kind: ProbeKind,
        now: Instant,
        timers: &mut TimerTable,
        fx: &mut Vec<Effect>,
    ) {
        let Some(pid) = self.probes.get(&kind).and_then(|p| p.running) else {
            return;
        };
        fx.push(Effect::Kill {
            pid,
            signo: libc::SIGKILL,
        });
        self.pids.remove(&pid);
        self.result(kind, false, now, timers, fx)
    }

    fn result(
        &mut self,
        kind: ProbeKind,
        ok: bool,
        now: Instant,
        timers: &mut TimerTable,
        fx: &mut Vec<Effect>,
    ) {
        let Some(p) = self.probes.get_mut(&kind) else {
            return;
        };
        p.running = None;
        if ok {
            p.successes += 1;
            p.failures = 0;
        } else {
            p.failures += 1;
            p.successes = 0;
        }
        let verdict = if p.successes >= p.spec.success_threshold {
            Some(true)
        } else if p.failures >= p.spec.failure_threshold {
            Some(false)
        } else {
            None
        };
        let period = Duration::from_secs(p.spec.period_seconds);
        let report = verdict.filter(|v| p.reported != Some(*v));
        if let Some(v) = report {
            p.reported = Some(v);
        }
        timers.stop(Timer::ProbeTimeout(kind));
        if let Some(ok) = report {
            fx.push(Effect::Send(InitMessage::Probe { probe: kind, ok }));
        }
        match (kind, report) {
            // A startup probe stops once it succeeded; the others begin.
            (ProbeKind::Startup, Some(true)) => {
                self.startup_passed = true;
                self.probes.remove(&ProbeKind::Startup);
                for (k, p) in &self.probes {
                    let delay = Duration::from_secs(p.spec.initial_delay_seconds);
                    timers.set(Timer::Probe(*k), now + delay);
                }
            }
            // Startup/liveness failure: the supervisor stops the container for a restart; the
            // failed kind stops here, readiness goes on while it is stopped.
            (ProbeKind::Startup | ProbeKind::Liveness, Some(false)) => {
                self.stop_but_readiness(timers, fx)
            }
            _ => timers.set(Timer::Probe(kind), now + period),
        }
    }
}
