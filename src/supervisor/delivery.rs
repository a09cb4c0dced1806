//! How a signal the engine decides reaches a container's init (issue 15 finding 3).
//!
//! Connected: over the link (`signal` / `kill`), so the init signals its app, reports the exit
//! and exits with the code the engine decides (0 for a sidecar stopped in teardown).
//!
//! Not connected, but the init speaks the protocol (it said hello to this supervisor, or the
//! pod's journal holds a report from it): the command waits in the init's outbox for at most
//! [`RECONNECT_WAIT`]. `podinit exec` retries every 200 ms while the supervisor is away (a
//! restarted supervisor, a lost link), so it is back long before that; a real signal through
//! the pidfd would instead kill the init itself, and the runtime would see 137 where status
//! says 0. Once the wait is over and it still has not connected (it gave up and became a plain
//! init after `PODINIT_UNREACHABLE_TIMEOUT`, or it hangs), the queued signals are sent to it
//! through its pidfd, so a SIGKILL is late by at most the wait, never lost.
//!
//! Not connected and never heard from (the hook channels where the container's init is not
//! podinit, or a container created but not started yet): the signal goes through the pidfd at
//! once, as nobody would ever read the outbox.

use std::time::Duration;

use super::pod::Member;
use super::{Supervisor, monotonic_now};
use crate::proto::SupervisorMessage;
use crate::sys::pidfd;
use crate::{log_info, log_warn};

/// How long a signal waits for an init that will reconnect (15 of its 200 ms retries).
pub const RECONNECT_WAIT: Duration = Duration::from_secs(3);

fn as_message(signal: i32) -> SupervisorMessage {
    if signal == libc::SIGKILL {
        SupervisorMessage::Kill
    } else {
        SupervisorMessage::Signal { signal }
    }
}

/// The signal a queued message stands for, if it is one.
fn signal_of(msg: &SupervisorMessage) -> Option<i32> {
    match msg {
        SupervisorMessage::Kill => Some(libc::SIGKILL),
        SupervisorMessage::Signal { signal } => Some(*signal),
        _ => None,
    }
}

impl Supervisor {
    /// Signal a container by the rule in this file's header.
    pub(super) fn signal(&mut self, member: &Member, signal: i32) {
        let reported = self
            .pods
            .get(&member.pod)
            .is_some_and(|p| p.engine.has_reported(&member.name));
        let Some(init) = self.inits.get_mut(member) else {
            log_warn!("supervise: no init for {member}; dropped signal {signal}");
            return;
        };
        if init.conn.is_some() {
            self.send_to(member, as_message(signal));
            return;
        }
        if (init.spoke || reported) && init.pidfd.is_some() {
            init.outbox.push(as_message(signal));
            if init.fallback_at.is_none() {
                init.fallback_at = Some(monotonic_now() + RECONNECT_WAIT);
            }
            log_info!(
                "supervise: {member} is not connected; signal {signal} waits up to {}s for its init to reconnect",
                RECONNECT_WAIT.as_secs()
            );
            return;
        }
        self.signal_through_pidfd(member, signal);
    }

    fn signal_through_pidfd(&self, member: &Member, signal: i32) {
        if let Some(fd) = self.inits.get(member).and_then(|i| i.pidfd.as_ref()) {
            if let Err(e) = pidfd::send_signal(fd, signal) {
                log_warn!("supervise: cannot signal {member}: {e}");
            }
        }
    }

    /// The earliest time a queued signal stops waiting for its init.
    pub(super) fn next_fallback(&self) -> Option<Duration> {
        self.inits.values().filter_map(|i| i.fallback_at).min()
    }

    /// Inits that did not reconnect in time get their queued signals for real.
    pub(super) fn fire_fallbacks(&mut self, now: Duration) {
        let due: Vec<Member> = self
            .inits
            .iter()
            .filter(|(_, i)| i.fallback_at.is_some_and(|t| t <= now))
            .map(|(m, _)| m.clone())
            .collect();
        for member in due {
            let Some(init) = self.inits.get_mut(&member) else {
                continue;
            };
            init.fallback_at = None;
            if init.conn.is_some() {
                continue;
            }
            let mut signals = Vec::new();
            init.outbox.retain(|m| match signal_of(m) {
                Some(s) => {
                    signals.push(s);
                    false
                }
                None => true,
            });
            log_warn!(
                "supervise: {member}'s init did not reconnect within {}s; signals {signals:?} sent through its pidfd",
                RECONNECT_WAIT.as_secs()
            );
            for s in signals {
                self.signal_through_pidfd(&member, s);
            }
        }
    }
}
