//! A running container's life outside teardown: started, postStart, probes, exits, restarts with
//! backoff, and the two things that end a pod on their own (Job complete, init failed).

use std::time::Duration;

use super::container::{BackOff, Life, RestartAfter, RestartDue, Run};
use super::status::ContainerState;
use super::timers::Timer;
use super::{
    Action, Engine, ExitDetails, ExitStatus, HandlerKind, NoteKind, ProbeKind, Reason,
    TeardownCause, Time,
};
use crate::plan::restart::Verdict;
use crate::plan::{Kind, RestartPolicy};
use crate::signal::Signal;

impl Engine {
    pub(super) fn on_process_started(&mut self, now: Time, name: &str, out: &mut Vec<Action>) {
        let Some(i) = self.registered(now, name, "process start") else {
            return;
        };
        let c = &mut self.containers[i];
        let Life::Running(run) = &mut c.life else {
            self.note(
                now,
                Some(name),
                NoteKind::Ignored,
                "ignored process start: not expected now",
            );
            return;
        };
        if run.process {
            return; // repeated after a reconnect: nothing new
        }
        run.process = true;
        c.ran = true;
        c.started_at = Some(now);
        c.reason = Reason::Running;
        c.message.clear();
        self.note(now, Some(name), NoteKind::ProcessStarted, "process started");
        let c = &mut self.containers[i];
        let has_post_start = c.plan.as_ref().is_some_and(|p| p.post_start.is_some());
        if has_post_start {
            // Kubernetes runs postStart right after the start; the container is not started
            // until it completes.
            out.push(Action::RunHandler {
                name: name.to_owned(),
                handler: HandlerKind::PostStart,
            });
        } else {
            if let Some(run) = c.run_mut() {
                run.post_start_done = true;
            }
            c.start_returned = true;
            self.after_post_start(now, i, out);
        }
    }

    fn after_post_start(&mut self, now: Time, i: usize, out: &mut Vec<Action>) {
        let in_teardown = self.teardown.is_some();
        let c = &mut self.containers[i];
        let p = c.plan.as_ref();
        let has_probes = p.is_some_and(|p| {
            p.startup_probe.is_some() || p.readiness_probe.is_some() || p.liveness_probe.is_some()
        });
        // Without a readiness probe a started container is ready (kubelet prober default).
        let no_readiness = p.is_some_and(|p| p.readiness_probe.is_none());
        let Life::Running(run) = &mut c.life else {
            return;
        };
        if has_probes && !run.probing && !in_teardown {
            run.probing = true;
            out.push(Action::StartProbes {
                name: c.name.clone(),
            });
        }
        if c.refresh_started() {
            if let Some(run) = c.run_mut().filter(|r| r.started && no_readiness) {
                run.ready = true;
                c.refresh_started();
            }
            let name = c.name.clone();
            if self.containers[i].started() {
                self.note(now, Some(&name), NoteKind::Started, "started");
            }
        }
    }

    pub(super) fn on_handler_done(
        &mut self,
        now: Time,
        name: &str,
        handler: HandlerKind,
        ok: bool,
        out: &mut Vec<Action>,
    ) {
        let Some(i) = self.registered(now, name, "handler result") else {
            return;
        };
        match handler {
            HandlerKind::PostStart => {
                let Some(run) = self.containers[i].run_mut().filter(|r| r.process) else {
                    return;
                };
                if run.post_start_done {
                    return;
                }
                if ok {
                    run.post_start_done = true;
                }
                self.containers[i].start_returned = true;
                if ok {
                    self.after_post_start(now, i, out);
                } else if self.teardown.is_some() {
                    // Nothing restarts in teardown, and the container's stop waits for its turn
                    // (a sidecar's for the apps): a stop for restart now would jump the order
                    // (issue 15 finding 6).
                    self.containers[i].message = "postStart hook failed".into();
                    self.note(
                        now,
                        Some(name),
                        NoteKind::PostStartFailed,
                        "postStart failed during teardown",
                    );
                } else {
                    // kubelet: FailedPostStartHook → kill, then the restart policy decides.
                    self.containers[i].message = "postStart hook failed".into();
                    self.note(
                        now,
                        Some(name),
                        NoteKind::PostStartFailed,
                        "postStart failed: stopping the container",
                    );
                    self.stop_for_restart(now, i, None, RestartAfter::Policy, out);
                }
            }
            HandlerKind::PreStop => {
                // A preStop result for a run that is over changes nothing.
                if let Some(run) = self.containers[i].run_mut() {
                    run.pre_stop = super::container::PreStop::Done;
                }
                self.note(
                    now,
                    Some(name),
                    NoteKind::PreStopEnded,
                    if ok { "preStop done" } else { "preStop failed" },
                );
            }
        }
    }

    pub(super) fn on_probe(
        &mut self,
        now: Time,
        name: &str,
        probe: ProbeKind,
        ok: bool,
        out: &mut Vec<Action>,
    ) {
        let Some(i) = self.registered(now, name, "probe result") else {
            return;
        };
        let c = &self.containers[i];
        let Some(run) = c.run().filter(|r| r.process) else {
            return; // a late result from a process that is gone
        };
        // A container being stopped (teardown, or a kill for a restart) is still probed for
        // readiness, as by the kubelet; a late startup or liveness result changes nothing.
        let stopping = self.teardown.is_some() || run.stopping();
        if stopping && probe != ProbeKind::Readiness {
            return;
        }
        let plan = self.containers[i].plan.clone();
        let Some(plan) = plan else { return };
        match (probe, ok) {
            (ProbeKind::Startup, true) => {
                if let Some(run) = self.containers[i].run_mut() {
                    run.startup_ok = true;
                }
                self.after_post_start(now, i, out);
            }
            (ProbeKind::Startup, false) => {
                self.containers[i].startup_failures += 1;
                // kubelet: a startup failure kills and restarts, never fails the pod
                // (k/k#120234, k/e#4880), with the probe's own grace where it has one.
                self.containers[i].message = "startup probe failed".into();
                self.note(
                    now,
                    Some(name),
                    NoteKind::StartupProbeFailed,
                    "startup probe failed: restarting",
                );
                let grace = plan
                    .startup_probe
                    .as_ref()
                    .and_then(|p| p.termination_grace_period_seconds);
                self.stop_for_restart(
                    now,
                    i,
                    grace.map(Duration::from_secs),
                    RestartAfter::Policy,
                    out,
                );
            }
            (ProbeKind::Readiness, ready) => {
                let c = &mut self.containers[i];
                let Some(run) = c.run_mut() else { return };
                if run.started && run.ready != ready {
                    run.ready = ready;
                    c.refresh_started();
                    let sidecar = c.is_sidecar();
                    self.note(
                        now,
                        Some(name),
                        NoteKind::ReadinessChanged,
                        if ready { "ready" } else { "not ready" },
                    );
                    if sidecar && !ready {
                        self.on_sidecar_lost(now, name, out);
                    }
                }
            }
            (ProbeKind::Liveness, true) => {}
            (ProbeKind::Liveness, false) => {
                self.containers[i].message = "liveness probe failed".into();
                self.note(
                    now,
                    Some(name),
                    NoteKind::LivenessProbeFailed,
                    "liveness probe failed: restarting",
                );
                let grace = plan
                    .liveness_probe
                    .as_ref()
                    .and_then(|p| p.termination_grace_period_seconds);
                self.stop_for_restart(
                    now,
                    i,
                    grace.map(Duration::from_secs),
                    RestartAfter::Policy,
                    out,
                );
            }
        }
    }

    /// Stop a container outside teardown; its exit then goes through the restart policy.
    /// preStop first, as on every kill the kubelet makes (`solo_stop.rs`).
    pub(super) fn stop_for_restart(
        &mut self,
        now: Time,
        i: usize,
        grace: Option<Duration>,
        restart: RestartAfter,
        out: &mut Vec<Action>,
    ) {
        let grace = grace
            .unwrap_or_else(|| self.grace())
            .max(self.cfg.min_stop_timeout);
        let c = &mut self.containers[i];
        let signal = c.plan.as_ref().map_or(Signal::SIGTERM, |p| p.stop_signal);
        let Some(run) = c.run_mut().filter(|r| !r.stopping()) else {
            return;
        };
        if run.probing {
            run.probing = false;
            out.push(Action::StopProbes {
                name: c.name.clone(),
                keep_readiness: true,
            });
        }
        self.begin_solo_stop(i, now + grace, signal, Some(restart));
    }

    pub(super) fn on_exited(
        &mut self,
        now: Time,
        name: &str,
        status: ExitStatus,
        mut details: ExitDetails,
        out: &mut Vec<Action>,
    ) {
        let Some(i) = self.registered(now, name, "exit") else {
            return;
        };
        // The run ends here: its probes, handlers and stop go with it. Every way out below
        // sets the container's next life (BackOff or Terminated).
        let run = match std::mem::replace(&mut self.containers[i].life, Life::Terminated) {
            Life::Running(run) => run,
            other => {
                self.containers[i].life = other;
                self.note(
                    now,
                    Some(name),
                    NoteKind::Ignored,
                    "ignored exit: the container is not running",
                );
                return;
            }
        };
        let in_teardown = self.teardown.is_some();
        let raw = status.raw_code();
        // The init caps the message already; an engine fed from a journal or another init
        // version holds to the same bound.
        if let Some(m) = &mut details.message {
            if m.len() > super::MAX_TERMINATION_MESSAGE {
                *m = super::cap_message(m).to_owned();
            }
        }
        let c = &mut self.containers[i];
        c.last_exit = Some(status);
        c.last_reason = Some(super::termination_reason(
            raw,
            c.reported_code(raw, in_teardown),
            details.oom_killed,
        ));
        let oom_killed = details.oom_killed;
        c.last_details = details;
        c.finished_at = Some(now);
        // A stop under way ends here; what it left of its grace goes to the leftovers.
        let exit_kill_at = run
            .signaled
            .map(|s| s.kill_at)
            .or(run.solo_stop.map(|st| st.deadline));
        let restart_after = run.restart_after_stop();
        let after_kill = restart_after.is_some();
        let operator_restart = restart_after == Some(RestartAfter::AtOnce);
        c.start_returned = true;
        if run.probing {
            out.push(Action::StopProbes {
                name: name.to_owned(),
                keep_readiness: false,
            });
        }
        let kind = c.plan.as_ref().map_or(Kind::App, |p| p.kind);
        let verdict = match &c.plan {
            None => Verdict {
                restart: false,
                rule: None,
            },
            // A kill podinit made (failed probe or postStart): the kubelet restarts unless the
            // policy is Never, and does not read the rules (the exit code is the kill's, not
            // the app's; k/k computePodActions).
            Some(p) if after_kill => Verdict {
                restart: p.restart != RestartPolicy::Never,
                rule: None,
            },
            Some(p) => p.restart_verdict(raw),
        };
        let matched = verdict.rule.and_then(|r| {
            c.plan
                .as_ref()
                .and_then(|p| p.restart_rules.get(r))
                .map(|rule| format!("restartPolicyRules[{r}] ({}) matched", rule.describe()))
        });
        let mut how = match status {
            ExitStatus::Code(code) => format!("exited with code {code}"),
            ExitStatus::Signal(sig) => format!("killed by signal {sig} ({raw})"),
        };
        if oom_killed && raw != 0 {
            how += ": OOMKilled (the kernel's OOM killer acted in its memory cgroup)";
        } else if oom_killed {
            how += " (the kernel's OOM killer killed a process of it)";
        }
        self.note(now, Some(name), NoteKind::Exited, how);
        if in_teardown {
            self.terminate(now, i, raw, exit_kill_at, out);
            return;
        }
        if let Some(a) = self.containers[i].agent_stop {
            // Stopped by the runtime: it ends here; a new one of the name is a new create.
            let c = &mut self.containers[i];
            if c.message.is_empty() {
                c.message = format!("stopped by the runtime with signal {}", a.signal);
            }
            self.terminate(now, i, raw, exit_kill_at, out);
            return;
        }
        if operator_restart {
            // Asked for: at once, and not a crash (the backoff stays where it was).
            let c = &mut self.containers[i];
            c.life = Life::BackOff(BackOff {
                restart: RestartDue::At(now),
                exit_kill_at,
            });
            c.reason = Reason::Restarting;
            self.note(
                now,
                Some(name),
                NoteKind::RestartScheduled,
                "restart in 0s (requested)",
            );
            return;
        }
        if let Some(m) = matched {
            self.note(now, Some(name), NoteKind::RestartRuleMatched, m);
        }
        let restarts = match kind {
            // An init container that succeeded is done, whatever its rules say (the kubelet
            // moves on at exit 0); a failure its policy and rules do not restart fails the pod.
            Kind::Init if raw == 0 => {
                self.containers[i].passed = true;
                false
            }
            Kind::Init if !verdict.restart => {
                self.terminate(now, i, raw, exit_kill_at, out);
                self.init_failed = true;
                self.start_teardown(now, TeardownCause::InitFailed, None);
                return;
            }
            _ => verdict.restart,
        };
        if !restarts {
            self.terminate(now, i, raw, exit_kill_at, out);
            return;
        }
        let delay = {
            let cfg = self.cfg.backoff;
            self.containers[i].backoff.next(&cfg, now)
        };
        let c = &mut self.containers[i];
        c.life = Life::BackOff(BackOff {
            restart: RestartDue::At(now + delay),
            exit_kill_at,
        });
        c.reason = if delay.is_zero() {
            Reason::Restarting
        } else {
            Reason::CrashLoopBackOff
        };
        self.note(
            now,
            Some(name),
            NoteKind::RestartScheduled,
            format!("restart in {}s", delay.as_secs()),
        );
    }

    /// The container is done for good: report its code and tell its init to exit.
    /// `stop_kill_at` is the SIGKILL deadline of the stop under way when its process exited.
    pub(super) fn terminate(
        &mut self,
        now: Time,
        i: usize,
        raw: i32,
        stop_kill_at: Option<Time>,
        out: &mut Vec<Action>,
    ) {
        let leftover_grace = self.leftover_grace(now, stop_kill_at);
        let code = self.record_termination(now, i, raw);
        out.push(Action::Finish {
            name: self.containers[i].name.clone(),
            exit_code: code,
            leftover_grace,
        });
    }

    /// How long processes left in a container at its end (daemons its init adopted) get
    /// between the stop signal and SIGKILL: the rest of the container's grace when a stop was
    /// under way, else the kubelet's minimum stop window (an app that ended by itself leaves
    /// its children the same short grace a stop would have).
    pub(super) fn leftover_grace(&self, now: Time, stop_kill_at: Option<Time>) -> Duration {
        let deadline = stop_kill_at.or(self.teardown.as_ref().map(|t| t.deadline));
        match deadline {
            Some(kill_at) => kill_at.saturating_sub(now),
            None => self.cfg.min_stop_timeout,
        }
    }

    /// Record the final state of a container; returns the code reported for it.
    fn record_termination(&mut self, now: Time, i: usize, raw: i32) -> i32 {
        let in_teardown = self.teardown.is_some();
        let c = &mut self.containers[i];
        let code = c.reported_code(raw, in_teardown);
        c.life = Life::Terminated;
        c.exit_code = Some(code);
        c.start_returned = true;
        c.finished_at.get_or_insert(now);
        c.reason = super::termination_reason(raw, code, c.last_details.oom_killed).into();
        if code != raw && c.message.is_empty() {
            c.message = format!("exit code {raw} reported as {code}");
        }
        // The kubelet appends the app's termination message to the runtime's own
        // (`convertToKubeContainerStatus`).
        if let Some(m) = c.last_details.message.as_deref().filter(|m| !m.is_empty()) {
            if c.message.is_empty() {
                c.message = m.to_owned();
            } else {
                c.message = format!("{}: {m}", c.message);
            }
        }
        self.dirty = true;
        code
    }

    pub(super) fn on_gone(&mut self, now: Time, name: &str) {
        let Some(i) = self.find(name) else { return };
        if self.containers[i].gone || self.containers[i].id.is_none() {
            return;
        }
        if self.containers[i].state() != ContainerState::Terminated {
            // Removed behind our back (runtime kill/delete): nothing can restart it in place.
            let raw = self.containers[i]
                .last_exit
                .map_or(128 + Signal::SIGKILL.number(), ExitStatus::raw_code);
            if self.containers[i].last_exit.is_none() && self.containers[i].ran {
                self.containers[i].last_exit = Some(ExitStatus::Signal(Signal::SIGKILL.number()));
            }
            if self.containers[i].process_running() {
                // What the init saw at an earlier exit is not about this run.
                self.containers[i].last_details = ExitDetails::default();
            }
            self.containers[i].message =
                "the container ended without reporting through podinit".into();
            // Its init is gone already: there is no one to tell, only the record to keep.
            self.record_termination(now, i, raw);
        }
        self.containers[i].gone = true;
        self.note(now, Some(name), NoteKind::Gone, "gone");
    }

    pub(super) fn fire_restarts(&mut self, now: Time, out: &mut Vec<Action>) {
        for i in 0..self.containers.len() {
            let Life::BackOff(b) = self.containers[i].life else {
                continue;
            };
            let held = b.restart == RestartDue::HeldForSidecars;
            if !held && !self.is_due(Timer::Restart(i), now) {
                continue;
            }
            // An app that needs sidecars restarts only once they are all up (`regate.rs`);
            // until then no timer, the sidecars' events bring it back here.
            let missing = self.missing_sidecars(i);
            let c = &mut self.containers[i];
            if !missing.is_empty() {
                c.life = Life::BackOff(BackOff {
                    restart: RestartDue::HeldForSidecars,
                    ..b
                });
                c.reason = Reason::WaitingForSidecar;
                c.message = format!(
                    "waiting for sidecar {} to be started and ready",
                    missing.join(", ")
                );
                if !held {
                    let name = c.name.clone();
                    let note = format!("restart held: {}", c.message);
                    self.note(now, Some(&name), NoteKind::RestartHeld, note);
                }
                continue;
            }
            c.life = Life::Running(Run::default());
            c.restart_count += 1;
            c.reason = Reason::Restarting;
            let name = c.name.clone();
            out.push(Action::Restart { name: name.clone() });
            self.note(now, Some(&name), NoteKind::Restarting, "restarting");
        }
    }

    /// Job pods: once no app is running and none will restart, the sidecars are stopped.
    pub(super) fn check_job_complete(&mut self, now: Time) {
        let mut apps = self
            .containers
            .iter()
            .filter(|c| c.kind() == Some(Kind::App))
            .peekable();
        if apps.peek().is_none() {
            return;
        }
        let apps_done = apps.all(|c| c.state() == ContainerState::Terminated);
        // A container known only by name may be an app still to come.
        let unknown_pending = self.containers.iter().any(|c| c.plan.is_none());
        // An app the runtime stopped is being replaced or deleted: the agent says which
        // (`agent_stop.rs`), the Job is not complete because of it.
        let stopped_by_agent = self
            .containers
            .iter()
            .any(|c| c.kind() == Some(Kind::App) && c.agent_stop.is_some());
        if apps_done && !unknown_pending && !stopped_by_agent {
            self.start_teardown(now, TeardownCause::JobComplete, None);
        }
    }
}
