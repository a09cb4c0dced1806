//! What the managed init measures around each run of the app, for its `exited` report: whether
//! the OOM killer acted during the run (the container's `memory.events` counter before and
//! after), and the Kubernetes termination message (the file the app wrote, or with
//! `FallbackToLogsOnError` the tail of its output, relayed through [`Tee`]).

use std::path::Path;

use super::core::ExitDetails;
use super::tee::{Stream, Tee};
use super::{oom, reap, termination};
use crate::log_warn;
use crate::plan::TerminationMessage;
use crate::sys::wait::Ended;

#[derive(Default)]
pub struct RunWatch {
    /// The container's OOM counter, looked up before the first start (`None` inside: no
    /// memory cgroup visible).
    oom: Option<Option<oom::Counter>>,
    /// The counter and the message file as the current run found them.
    oom_before: Option<oom::Reading>,
    message_file_before: Option<termination::Snapshot>,
    /// The app's output relay, for `FallbackToLogsOnError` only.
    tee: Option<Tee>,
}

impl RunWatch {
    /// Finds the OOM counter ahead of the first run, while the init waits for its welcome
    /// and release: the search (`/proc/self/cgroup`, then the candidate files) is then off
    /// the path from the release to the app. The first run still reads the counter itself
    /// when it starts, so nothing that ran in the container meanwhile counts for it.
    pub fn locate_ahead(&mut self) {
        if self.oom.is_none() {
            self.oom = Some(oom::Counter::locate().map(|(counter, _)| counter));
        }
    }

    /// Before a run: the OOM counter and the termination-message file as they are now, and the
    /// relay set up the first time it is needed (`watch` registers its pipes with the loop).
    pub fn before_run(
        &mut self,
        message: Option<&TerminationMessage>,
        name: &str,
        watch: impl FnOnce(&Tee) -> nix::Result<()>,
    ) {
        self.oom_before = match &self.oom {
            Some(counter) => counter.as_ref().and_then(oom::Counter::read),
            None => {
                let found = oom::Counter::locate();
                self.oom = Some(found.as_ref().map(|(counter, _)| counter.clone()));
                found.map(|(_, reading)| reading)
            }
        };
        self.message_file_before = message.and_then(|m| termination::prepare(Path::new(&m.path)));
        let fallback = message.is_some_and(|m| m.fallback_to_logs);
        if fallback && self.tee.is_none() && Tee::applies() {
            self.tee = Tee::new()
                .and_then(|tee| watch(&tee).map(|()| tee))
                .map_err(|e| {
                    log_warn!(
                        "{name}: cannot relay the app's output for FallbackToLogsOnError ({}): \
                         a failed run's message will be empty",
                        e.desc()
                    )
                })
                .ok();
        }
        if let Some(tee) = &mut self.tee {
            tee.tail.clear();
        }
    }

    /// The app's stdout and stderr, when they go through the relay.
    pub fn output(&self) -> Option<[std::os::fd::RawFd; 2]> {
        self.tee.as_ref().map(Tee::child_fds)
    }

    /// One of the relay's pipes is readable.
    pub fn relay(&mut self, stream: Stream) {
        if let Some(tee) = &mut self.tee {
            tee.drain(stream);
        }
    }

    /// After a run: whether the OOM killer acted during it, and its termination message.
    pub fn after_run(&mut self, tm: Option<&TerminationMessage>, ended: Ended) -> ExitDetails {
        // The app's last words may still sit in the pipes.
        if let Some(tee) = &mut self.tee {
            tee.drain_all();
        }
        let now = self
            .oom
            .as_ref()
            .and_then(Option::as_ref)
            .and_then(oom::Counter::read);
        let oom_killed = oom::oom_killed(self.oom_before, now);
        let message = tm.and_then(|tm| {
            let file = termination::read_if_changed(Path::new(&tm.path), self.message_file_before);
            let tail = self.tee.as_ref().map(|t| &t.tail);
            termination::message(file, tm.fallback_to_logs, reap::exit_code(ended), tail)
        });
        ExitDetails {
            oom_killed,
            message,
        }
    }
}
