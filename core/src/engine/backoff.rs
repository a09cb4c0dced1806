//! Per-container restart backoff, as the kubelet does it: first restart at once, then 10 s, 20 s,
//! 40 s … capped at 300 s; after 600 s (2 × max) without trouble the sequence starts over
//! (client-go `flowcontrol.Backoff.hasExpired`, kubelet `backOffPeriod`/`MaxContainerBackOff`).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    pub initial: Duration,
    pub max: Duration,
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(300),
            reset_after: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    last_delay: Option<Duration>,
    last_at: Option<Duration>,
}

impl Backoff {
    /// The delay before the restart that follows an exit at `now`.
    pub fn next(&mut self, cfg: &BackoffConfig, now: Duration) -> Duration {
        if self
            .last_at
            .is_some_and(|at| now.saturating_sub(at) > cfg.reset_after)
        {
            self.last_delay = None;
        }
        let delay = match self.last_delay {
            None => Duration::ZERO,
            Some(d) if d.is_zero() => cfg.initial.min(cfg.max),
            Some(d) => d.saturating_mul(2).min(cfg.max),
        };
        self.last_delay = Some(delay);
        self.last_at = Some(now);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_sequence_with_cap_and_reset() {
        let cfg = BackoffConfig::default();
        let mut b = Backoff::default();
        let mut now = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..8 {
            let d = b.next(&cfg, now);
            seen.push(d.as_secs());
            now += d + Duration::from_secs(1);
        }
        assert_eq!(seen, [0, 10, 20, 40, 80, 160, 300, 300]);
        // 600 s of quiet: back to an immediate restart.
        assert_eq!(b.next(&cfg, now + Duration::from_secs(601)), Duration::ZERO);
    }
}
