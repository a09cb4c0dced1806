//! The supervisor link: connect, report, reconnect every [`RECONNECT_EVERY`] while it is gone,
//! and give up after `PODINIT_UNREACHABLE_TIMEOUT` (then the init is a plain one: a held app is
//! started, or not with `PODINIT_ON_UNREACHABLE=fail`; a running one keeps running). After a
//! reconnect the supervisor's `welcome` is answered with where the app stands, since a new
//! supervisor knows nothing of what the old one was told.

use std::time::{Duration, Instant};

use super::timers::Timer;
use super::{App, Effect, InitCore, Link};
use crate::init::{EXIT_INIT_FAILURE, reap};
use crate::proto::InitMessage;
use crate::{log_error, log_info, log_warn};

pub const RECONNECT_EVERY: Duration = Duration::from_millis(200);

impl InitCore {
    /// The first input: connect, and start an app whose gate the pod's declaration opens as
    /// soon as it registers (`engine::opens_on_arrival`, written into the claim's token file
    /// by `inject`). Waiting for the welcome and release would cost such an app the claim's
    /// round trip, the supervisor's `/proc` checks included, for an answer known in advance;
    /// the supervisor follows it all the same (the welcome's replay reports it). A refused
    /// claim then stops it (`app.rs`), as a container refused ends.
    pub(super) fn boot(&mut self, fx: &mut Vec<Effect>) {
        fx.push(Effect::Connect);
        if self.start_at_once {
            log_info!(
                "{}: its pod's declaration opens its gate as it registers: starting the app \
                 while the supervisor takes the claim",
                self.name
            );
            self.start_app(fx);
        }
    }

    pub(super) fn link_up(&mut self, fx: &mut Vec<Effect>) {
        self.link = Link::Up;
        self.timers.stop(Timer::Reconnect);
        self.timers.stop(Timer::GiveUp);
        // A no-hooks bundle claims the registration on every connection until the supervisor
        // welcomes it; after that a reconnect says hello, as the supervisor knows this pid by
        // then. A claim written into a socket whose supervisor was killed before it read it
        // is lost with it: the supervisor that comes next must see it again (issue 15's chaos).
        match &self.claim {
            Some(c) => fx.push(Effect::Send(InitMessage::Claim {
                claim: c.nonce.clone(),
                token: c.token.clone(),
            })),
            None => fx.push(Effect::Send(InitMessage::Hello)),
        }
    }

    pub(super) fn connect_failed(&mut self, now: Instant) {
        match self.link {
            // The first attempt: the supervisor is unreachable from the start.
            Link::Boot => self.lost(now),
            Link::Down if !self.detached => {
                self.timers.set(Timer::Reconnect, now + RECONNECT_EVERY);
            }
            _ => {}
        }
    }

    pub(super) fn reconnect(&mut self, fx: &mut Vec<Effect>) {
        if self.link != Link::Up && !self.detached {
            fx.push(Effect::Connect);
        }
    }

    /// The link is gone (or never came up): retry, and start the give-up clock unless it runs.
    pub(super) fn lost(&mut self, now: Instant) {
        let was = self.link;
        self.link = Link::Down;
        if self.detached {
            return;
        }
        if was == Link::Down && self.timers.is_set(Timer::Reconnect) {
            return; // already retrying
        }
        log_warn!(
            "{}: supervisor at {} unreachable; retrying for {}s",
            self.name,
            self.socket.display(),
            self.unreachable_timeout.as_secs()
        );
        if !self.timers.is_set(Timer::GiveUp) {
            self.timers
                .set(Timer::GiveUp, now + self.unreachable_timeout);
        }
        self.timers.set(Timer::Reconnect, now + RECONNECT_EVERY);
    }

    /// No supervisor within the timeout (or a refusal of a running app): a plain init from now.
    pub(super) fn give_up(&mut self, fx: &mut Vec<Effect>) {
        self.detached = true;
        self.timers.stop(Timer::Reconnect);
        match self.app {
            App::Held if self.fail_if_unreachable => {
                log_error!(
                    "{}: no supervisor; not starting the app (PODINIT_ON_UNREACHABLE=fail)",
                    self.name
                );
                fx.push(Effect::Exit(EXIT_INIT_FAILURE));
            }
            App::Held => {
                log_warn!(
                    "{}: no supervisor; starting the app unsupervised (a plain init from now on)",
                    self.name
                );
                self.start_app(fx);
            }
            App::Running(pid) => {
                log_warn!(
                    "{}: no supervisor; the app keeps running under a plain init",
                    self.name
                );
                // The runtime's stop was held for the supervisor, which is gone: pass it on.
                if let Some(signo) = self.agent_stop {
                    fx.push(Effect::Forward { pid, signo });
                }
            }
            App::Exited(ended) => fx.push(Effect::Exit(self.remap.apply(reap::exit_code(ended)))),
        }
    }

    /// After `welcome`: where the app stands, for a supervisor that may know nothing of it.
    pub(super) fn replay(&self, fx: &mut Vec<Effect>) {
        match self.app {
            App::Held => {}
            App::Running(pid) => {
                fx.push(Effect::Send(InitMessage::Started { pid }));
                fx.extend(
                    self.prober
                        .verdicts_to_repeat()
                        .into_iter()
                        .map(Effect::Send),
                );
            }
            // The start report may have died with the old supervisor: repeat both.
            App::Exited(ended) => {
                if let Some(pid) = self.last_pid {
                    fx.push(Effect::Send(InitMessage::Started { pid }));
                }
                fx.push(Effect::Send(self.exited_message(ended)));
            }
        }
        if let Some(signal) = self.agent_stop {
            fx.push(Effect::Send(InitMessage::AgentStop { signal }));
        }
    }
}
