//! The app and the supervisor's orders about it: the start gate (`release` opens only a held
//! app), restarts in place (after the sweep of what the last run left), signals, and the end
//! (`finish`, or the runtime stopping a container whose app never started).

use std::time::{Duration, Instant};

use super::sweep::{AfterSweep, Next, Phase, Sweep};
use super::timers::Timer;
use super::{App, Effect, ExitDetails, InitCore, Link};
use crate::engine::{ExitStatus, HandlerKind};
use crate::init::{EXIT_INIT_FAILURE, leftovers, reap};
use crate::proto::{InitMessage, SupervisorMessage};
use crate::sys::wait::Ended;
use crate::{log_debug, log_error, log_info};

fn status_of(ended: Ended) -> ExitStatus {
    match ended {
        Ended::Exited(c) => ExitStatus::Code(c),
        Ended::Signaled { signo, .. } => ExitStatus::Signal(signo),
    }
}

impl InitCore {
    pub(super) fn on_message(
        &mut self,
        msg: SupervisorMessage,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        log_debug!("{}: supervisor says {msg:?}", self.name);
        match msg {
            // A claim refused (`claim.rs`): a decision, not an unreachable supervisor. As a
            // refused createRuntime registration fails the create, the container ends, its app
            // unstarted, or stopped if it started at once (`link.rs`, `boot`). A refusal after
            // a reconnect (the claim was welcomed before) leaves a running app to a plain init.
            SupervisorMessage::Refused { error } => {
                let ends = self.claim.is_some() || self.app == App::Held;
                let (stop, then) = match self.app {
                    App::Held => (None, "; not starting the app"),
                    App::Running(pid) if ends => {
                        (Some(pid), "; stopping the app it started at once")
                    }
                    _ => (None, ""),
                };
                log_error!(
                    "{}: the supervisor refused this container: {error}{then}",
                    self.name
                );
                if ends {
                    self.end_refused(stop, fx);
                } else {
                    self.give_up(fx);
                }
            }
            SupervisorMessage::Welcome { name, plan } => {
                // Registered: the claim is used up, every later connection says hello.
                self.claim = None;
                self.name = name;
                self.plan = Some(*plan);
                // After a reconnect, say where we stand; the engine ignores what it knew.
                self.replay(fx);
            }
            // Release opens the gate of a held app, and only that: after a reconnect the
            // supervisor repeats it, and an app that ran and exited must not run again.
            SupervisorMessage::Release => {
                if self.app == App::Held {
                    self.start_app(fx);
                }
            }
            // A restart in place starts from a clean slate: what the last run left goes first.
            SupervisorMessage::Restart => match self.app {
                App::Running(_) => {}
                _ if self.sweep.is_some() => {}
                App::Held => self.start_app(fx),
                App::Exited(_) => self.begin_sweep(
                    AfterSweep::Restart,
                    libc::SIGTERM,
                    leftovers::RESTART_GRACE,
                    fx,
                ),
            },
            // postStart and probes concern a running app (a replayed start report may ask for
            // them after the app is gone); preStop is asked at teardown, whatever runs.
            SupervisorMessage::RunHandler {
                handler: HandlerKind::PostStart,
            } if !matches!(self.app, App::Running(_)) => {
                self.handlers.refuse(HandlerKind::PostStart, fx)
            }
            SupervisorMessage::RunHandler { handler } => {
                let declared = self.plan.as_ref().and_then(|p| match handler {
                    HandlerKind::PostStart => p.post_start.as_ref(),
                    HandlerKind::PreStop => p.pre_stop.as_ref(),
                });
                self.handlers.run(handler, declared, fx);
            }
            SupervisorMessage::StartProbes => {
                if let (App::Running(_), Some(plan)) = (self.app, &self.plan) {
                    self.prober.start(plan, now, &mut self.timers);
                }
            }
            SupervisorMessage::StopProbes { keep_readiness } => {
                if keep_readiness {
                    self.prober.stop_but_readiness(&mut self.timers, fx);
                } else {
                    self.prober.stop_all(&mut self.timers, fx);
                }
            }
            SupervisorMessage::Signal { signal } => {
                if let App::Running(pid) = self.app {
                    fx.push(Effect::Forward { pid, signo: signal });
                }
            }
            SupervisorMessage::Kill => fx.push(Effect::KillAll {
                app: self.app_pid(),
            }),
            SupervisorMessage::Teardown { report } => fx.push(Effect::RecordTeardown(report)),
            SupervisorMessage::Finish {
                exit_code,
                leftover_grace_ms,
            } => self.finish(exit_code, leftover_grace_ms, now, fx),
        }
    }

    /// Nothing in the container runs again: a running app is killed with everything else at
    /// once; after an exit, adopted daemons get the stop signal and the rest of the grace (an
    /// older supervisor gives none: SIGKILL at once, as it always was).
    fn finish(&mut self, code: i32, grace_ms: Option<u64>, now: Instant, fx: &mut Vec<Effect>) {
        self.prober.stop_all(&mut self.timers, fx);
        if let App::Running(pid) = self.app {
            fx.push(Effect::KillAll { app: Some(pid) });
            fx.push(Effect::Exit(code));
            return;
        }
        let grace = Duration::from_millis(grace_ms.unwrap_or(0));
        let signal = self
            .plan
            .as_ref()
            .map_or(libc::SIGTERM, |p| p.stop_signal.number());
        match &mut self.sweep {
            Some(sweep) => {
                sweep.then = AfterSweep::Finish(code);
                if let Phase::Waiting { deadline, .. } = &mut sweep.phase {
                    *deadline = (*deadline).min(now + grace);
                }
                fx.push(Effect::Reap);
            }
            None => self.begin_sweep(AfterSweep::Finish(code), signal, grace, fx),
        }
    }

    /// A refused claim: nothing more of the supervisor, and the container ends (1).
    fn end_refused(&mut self, app: Option<libc::pid_t>, fx: &mut Vec<Effect>) {
        self.detached = true;
        self.timers.stop(Timer::Reconnect);
        self.timers.stop(Timer::GiveUp);
        self.prober.stop_all(&mut self.timers, fx);
        if app.is_some() {
            fx.push(Effect::KillAll { app });
        }
        fx.push(Effect::Exit(EXIT_INIT_FAILURE));
    }

    pub(super) fn start_app(&mut self, fx: &mut Vec<Effect>) {
        fx.push(Effect::SpawnApp);
    }

    pub(super) fn app_started(&mut self, pid: libc::pid_t, fx: &mut Vec<Effect>) {
        self.app = App::Running(pid);
        self.last_pid = Some(pid);
        fx.push(Effect::Send(InitMessage::Started { pid }));
    }

    pub(super) fn app_ended(&mut self, ended: Ended, details: ExitDetails, fx: &mut Vec<Effect>) {
        log_info!("{}: {} {}", self.name, self.program, reap::Describe(ended));
        self.app = App::Exited(ended);
        self.prober.stop_all(&mut self.timers, fx);
        if self.detached {
            fx.push(Effect::Exit(self.remap.apply(reap::exit_code(ended))));
            return;
        }
        self.exit_details = details;
        // The supervisor decides: restart, or finish with a code.
        fx.push(Effect::Send(self.exited_message(ended)));
    }

    pub(super) fn exited_message(&self, ended: Ended) -> InitMessage {
        InitMessage::Exited {
            status: status_of(ended),
            oom_killed: self.exit_details.oom_killed,
            message: self.exit_details.message.clone(),
        }
    }

    pub(super) fn on_signal(&mut self, signo: i32, fx: &mut Vec<Effect>) {
        if self.link == Link::Up && self.is_stop_signal(signo) {
            // From outside podinit's channel (the supervisor signals a connected init over
            // the socket, never with kill): the runtime is stopping this container. Passing
            // it on now would let the app's exit read as a crash to restart, and a sidecar
            // stopped with its pod would go before the apps (issue 9 finding 5).
            log_info!(
                "{}: stop signal {signo} from the runtime; the supervisor orders it",
                self.name
            );
            self.agent_stop.get_or_insert(signo);
            fx.push(Effect::Send(InitMessage::AgentStop { signal: signo }));
            return;
        }
        match self.app {
            App::Running(pid) => fx.push(Effect::Forward { pid, signo }),
            // The runtime signals a container whose app never started: end it, unstarted.
            App::Held
                if matches!(
                    signo,
                    libc::SIGTERM | libc::SIGINT | libc::SIGHUP | libc::SIGQUIT
                ) =>
            {
                log_info!(
                    "{}: signal {signo} before the app started; exiting",
                    self.name
                );
                fx.push(Effect::Exit(128 + signo));
            }
            _ => {}
        }
    }

    /// SIGTERM and SIGINT (what `runc kill` and a terminal send), and the container's own stop
    /// signal (what CRI StopContainer sends when the image or the spec names one).
    fn is_stop_signal(&self, signo: i32) -> bool {
        signo == libc::SIGTERM
            || signo == libc::SIGINT
            || self
                .plan
                .as_ref()
                .is_some_and(|p| p.stop_signal.number() == signo)
    }

    // ----- the sweep (`sweep.rs`) -------------------------------------------------------------

    fn begin_sweep(
        &mut self,
        then: AfterSweep,
        signal: i32,
        grace: Duration,
        fx: &mut Vec<Effect>,
    ) {
        self.sweep = Some(Sweep {
            then,
            phase: Phase::Asking { signal, grace },
        });
        fx.push(Effect::Reap);
    }

    pub(super) fn sweep_answer(&mut self, left: bool, now: Instant, fx: &mut Vec<Effect>) {
        let Some(mut sweep) = self.sweep else { return };
        let first = matches!(sweep.phase, Phase::Asking { .. });
        match sweep.answer(left, now) {
            Next::Done => {
                self.sweep = None;
                self.timers.stop(Timer::Sweep);
                match sweep.then {
                    AfterSweep::Restart => self.start_app(fx),
                    AfterSweep::Finish(code) => fx.push(Effect::Exit(code)),
                }
            }
            Next::WaitUntil(at) => {
                self.sweep = Some(sweep);
                self.timers.set(Timer::Sweep, at);
            }
            Next::Signal(signo) => {
                if first {
                    log_info!(
                        "{}: processes left by the last run get signal {signo}, SIGKILL in {} ms",
                        self.name,
                        sweep
                            .deadline()
                            .map_or(0, |d| d.saturating_duration_since(now).as_millis())
                    );
                } else {
                    log_info!(
                        "{}: processes left by the last run outlived their grace: SIGKILL",
                        self.name
                    );
                }
                fx.push(Effect::SignalLeftovers(signo));
                self.sweep = Some(sweep);
                if first {
                    // Just signalled: they are still there; SIGKILL at once if there is no grace.
                    self.sweep_answer(true, now, fx);
                } else if let Some(at) = sweep.deadline() {
                    self.timers.set(Timer::Sweep, at);
                }
            }
        }
    }
}
