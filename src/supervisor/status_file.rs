//! `<state-dir>/status.json`: the pod status with wall-clock times, written atomically (temp file
//! + rename) on every change, so a reader never sees half a document.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::engine::PodStatus;

/// Engine times are CLOCK_MONOTONIC; `offset` maps them to the wall clock.
#[derive(Clone, Copy)]
pub struct Clock {
    wall_minus_mono: Duration,
}

impl Clock {
    pub fn new(mono_now: Duration) -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            wall_minus_mono: wall.saturating_sub(mono_now),
        }
    }

    pub fn wall(&self, mono: Duration) -> Duration {
        self.wall_minus_mono + mono
    }
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-23T11:42:07.123Z`.
pub fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

pub fn to_json(status: &PodStatus, clock: Clock) -> Value {
    // Invariant: PodStatus is plain data.
    let mut v = serde_json::to_value(status).expect("status serializes");
    let convert = |x: &mut Value| {
        if let Some(ms) = x.as_u64() {
            *x = Value::String(rfc3339(clock.wall(Duration::from_millis(ms))));
        }
    };
    if let Some(cs) = v.get_mut("containers").and_then(Value::as_array_mut) {
        for c in cs {
            for key in ["startedAt", "finishedAt"] {
                if let Some(x) = c.get_mut(key) {
                    convert(x);
                }
            }
        }
    }
    if let Some(cs) = v.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in cs {
            if let Some(x) = c.get_mut("lastTransitionTime") {
                convert(x);
            }
        }
    }
    if let Some(es) = v.get_mut("timeline").and_then(Value::as_array_mut) {
        for e in es {
            if let Some(x) = e.get_mut("at") {
                convert(x);
            }
        }
    }
    v
}

pub fn write(state_dir: &Path, doc: &Value) -> std::io::Result<()> {
    let tmp = state_dir.join(".status.json.tmp");
    let mut bytes = serde_json::to_vec_pretty(doc).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, state_dir.join("status.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(Duration::from_millis(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(1_795_435_327)),
            "2026-11-23T12:02:07.000Z"
        );
    }
}
