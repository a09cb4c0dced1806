//! The init's one timer table, after quinn-proto's `connection/timer.rs`: one slot per timer,
//! set and stopped by name, and the next deadline is the `min` of the slots. A timer is set at
//! most once (setting it again moves it), so nothing can fire twice.

use std::time::Instant;

use crate::engine::{HandlerKind, ProbeKind};

/// Every timer of the init. The derived order breaks ties between timers due at the same
/// instant (the order they fire in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// The next run of this probe.
    Probe(ProbeKind),
    /// This probe's run is over its `timeoutSeconds`: killed, a failure.
    ProbeTimeout(ProbeKind),
    /// A `sleep` handler is done.
    Sleep(HandlerKind),
    /// Try the supervisor's socket again.
    Reconnect,
    /// `PODINIT_UNREACHABLE_TIMEOUT` is over: detach (`give_up`).
    GiveUp,
    /// The sweep of leftovers reached its deadline (`leftovers.rs`).
    Sweep,
}

const PROBES: [ProbeKind; 3] = [
    ProbeKind::Startup,
    ProbeKind::Readiness,
    ProbeKind::Liveness,
];
const HANDLERS: [HandlerKind; 2] = [HandlerKind::PostStart, HandlerKind::PreStop];
const COUNT: usize = 2 * PROBES.len() + HANDLERS.len() + 3;

impl Timer {
    fn slot(self) -> usize {
        let probe = |k: ProbeKind| match k {
            ProbeKind::Startup => 0,
            ProbeKind::Readiness => 1,
            ProbeKind::Liveness => 2,
        };
        let handler = |k: HandlerKind| match k {
            HandlerKind::PostStart => 0,
            HandlerKind::PreStop => 1,
        };
        match self {
            Timer::Probe(k) => probe(k),
            Timer::ProbeTimeout(k) => PROBES.len() + probe(k),
            Timer::Sleep(k) => 2 * PROBES.len() + handler(k),
            Timer::Reconnect => COUNT - 3,
            Timer::GiveUp => COUNT - 2,
            Timer::Sweep => COUNT - 1,
        }
    }

    fn all() -> impl Iterator<Item = Timer> {
        let probes = PROBES.into_iter().map(Timer::Probe);
        let timeouts = PROBES.into_iter().map(Timer::ProbeTimeout);
        let sleeps = HANDLERS.into_iter().map(Timer::Sleep);
        probes
            .chain(timeouts)
            .chain(sleeps)
            .chain([Timer::Reconnect, Timer::GiveUp, Timer::Sweep])
    }
}

#[derive(Debug, Default)]
pub struct TimerTable {
    at: [Option<Instant>; COUNT],
}

impl TimerTable {
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.at[timer.slot()] = Some(at);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.at[timer.slot()] = None;
    }

    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.at[timer.slot()]
    }

    pub fn is_set(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    /// What the driver arms its timerfd to.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// Stops and returns every timer due at `now`, earliest first (ties in [`Timer`] order).
    pub fn take_expired(&mut self, now: Instant) -> Vec<Timer> {
        let mut due: Vec<(Instant, Timer)> = Timer::all()
            .filter_map(|t| self.get(t).filter(|at| *at <= now).map(|at| (at, t)))
            .collect();
        due.sort();
        for (_, t) in &due {
            self.stop(*t);
        }
        due.into_iter().map(|(_, t)| t).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_timer_has_its_own_slot() {
        let slots: HashSet<usize> = Timer::all().map(Timer::slot).collect();
        assert_eq!(slots.len(), COUNT);
        assert!(slots.iter().all(|s| *s < COUNT));
    }

    #[test]
    fn the_next_deadline_is_the_min_and_expired_fire_in_deadline_order() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        assert_eq!(table.next_timeout(), None);
        table.set(Timer::Sweep, t0 + Duration::from_secs(1));
        table.set(Timer::GiveUp, t0 + Duration::from_secs(3));
        table.set(
            Timer::Probe(ProbeKind::Liveness),
            t0 + Duration::from_secs(1),
        );
        table.set(Timer::Reconnect, t0 + Duration::from_secs(2));
        // Setting again moves the timer instead of adding one.
        table.set(Timer::GiveUp, t0 + Duration::from_millis(500));
        assert_eq!(table.next_timeout(), Some(t0 + Duration::from_millis(500)));
        assert_eq!(
            table.take_expired(t0 + Duration::from_secs(1)),
            vec![
                Timer::GiveUp,
                Timer::Probe(ProbeKind::Liveness),
                Timer::Sweep
            ]
        );
        assert_eq!(table.next_timeout(), Some(t0 + Duration::from_secs(2)));
        table.stop(Timer::Reconnect);
        assert_eq!(table.next_timeout(), None);
    }
}
