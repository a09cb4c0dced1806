//! The status document (`status.json`, `podinit status --format json`) as its readers see it:
//! the engine's [`PodStatus`](crate::engine::PodStatus) with wall-clock times (RFC 3339
//! strings), the pod's key, whether the supervisor is done with it, and its warnings.
//!
//! The supervisor writes the document from pieces it keeps between writes, not through these
//! types (`src/supervisor/status_file.rs`: a container's object is serialized again only when it
//! changed); a test there checks that what it writes reads back as a [`Document`]. Fields a
//! newer podinit adds are ignored, and the ones an older one did not write have their defaults,
//! so a reader keeps working across an upgrade of the supervisor.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::{ContainerState, NoteKind, Phase};
use crate::plan::Kind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub phase: Phase,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub timeline: Vec<Note>,
    /// The pod's key (`pods/<key>/` in the state dir).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The supervisor is done with the pod: this is its last status.
    #[serde(default)]
    pub finished: bool,
    /// Why the journal or status.json is behind, while it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One container's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub kind: Option<Kind>,
    pub state: ContainerState,
    #[serde(default)]
    pub started: bool,
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub restart_count: u32,
    /// The code reported for the container (0 for a sidecar stopped in teardown).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// What the process really ended with (128+signal for a signal death).
    #[serde(default)]
    pub raw_exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(default)]
    pub init_container: bool,
    /// The kubelet's token (`Running`, `CrashLoopBackOff`, `Completed`) or podinit's own.
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub gone: bool,
}

/// One of the kubelet's pod conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    /// `"True"` or `"False"`.
    pub status: String,
    #[serde(default)]
    pub reason: String,
    pub last_transition_time: String,
}

/// A timeline entry: `kind` for machines, `event` for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    /// RFC 3339 UTC with milliseconds.
    pub at: String,
    #[serde(default)]
    pub container: Option<String>,
    pub kind: NoteKind,
    pub event: String,
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

/// The time `rfc3339` writes (`2026-11-23T11:42:07.123Z`), since the epoch; `None` for
/// anything else (another offset, no `Z`, out-of-range fields). Fractions past milliseconds
/// are dropped.
pub fn parse_rfc3339(s: &str) -> Option<Duration> {
    let (date, time) = s.strip_suffix('Z')?.split_once('T')?;
    let num = |x: &str| {
        x.parse::<u64>()
            .ok()
            .filter(|_| x.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut d = date.splitn(3, '-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let (hh, mm, ss) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let ms = if frac.is_empty() {
        0
    } else {
        num(frac)?;
        format!("{frac:0<3}")[..3].parse::<u64>().ok()?
    };
    // Days from civil (Howard Hinnant's algorithm), the inverse of `rfc3339`'s.
    let (y, m, day) = (y as i64, m as i64, day as i64);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    Some(Duration::from_millis(
        ((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms,
    ))
}

impl Note {
    /// When it happened, since the epoch (`None` if `at` is not what the supervisor writes).
    pub fn at_since_epoch(&self) -> Option<Duration> {
        parse_rfc3339(&self.at)
    }
}

impl Document {
    /// The document in `bytes` (status.json's content).
    pub fn parse(bytes: &[u8]) -> Result<Document, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The container named `name`.
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_an_older_writer_left_out_take_their_defaults_and_new_ones_are_ignored() {
        let doc = Document::parse(
            br#"{"phase": "Running", "someday": 1,
                 "containers": [{"name": "app", "state": "backOff", "restartCount": 2}],
                 "timeline": [{"at": "2026-11-23T11:42:07.123Z", "container": null,
                               "kind": "podFinished", "event": "pod finished: Succeeded"}]}"#,
        )
        .unwrap();
        let app = doc.container("app").unwrap();
        assert_eq!(
            (app.state, app.restart_count, app.ready),
            (ContainerState::BackOff, 2, false)
        );
        assert_eq!(doc.timeline[0].kind, NoteKind::PodFinished);
        assert!(!doc.finished && doc.warnings.is_empty() && doc.conditions.is_empty());
    }

    #[test]
    fn times_read_back_as_written() {
        for ms in [0, 951_782_400_123, 1_795_435_327_000, 1_795_435_327_999] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_rfc3339(&rfc3339(d)), Some(d), "{}", rfc3339(d));
        }
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:00.5Z"),
            Some(Duration::from_millis(1_714_564_800_500))
        );
        for bad in [
            "",
            "2024-05-01T12:00:00",
            "2024-13-01T00:00:00Z",
            "2024-05-01T12:00:+1Z",
            "x",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_document_without_its_phase_is_refused_by_name() {
        let e = Document::parse(br#"{"containers": []}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `phase`"), "{e}");
    }
}
