//! The supervisor's write-ahead journal: every engine input, and every container's init pid,
//! appended as one JSON line before it is acted on. A supervisor that was SIGKILLed and started
//! again replays it into a fresh engine (the engine is deterministic and its time is
//! CLOCK_MONOTONIC, shared across restarts) and carries on with the same pod. One journal per pod
//! (`<state-dir>/pods/<pod>/journal.jsonl`); a finished pod's ends with [`Record::Finished`].
//!
//! Appends are single `write(2)`s on an O_APPEND file: they survive the supervisor's death (the
//! page cache is the kernel's), which is the failure this is for; a host crash ends the sandbox.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::{Event, Phase};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "record")]
pub enum Record {
    /// A container's init process, as the createRuntime hook reported it.
    /// `start_time` (from /proc/PID/stat) tells a restarted supervisor whether `pid` is still
    /// that process and not a stranger that reused the number.
    Init {
        name: String,
        id: String,
        pid: i32,
        bundle: String,
        start_time: Option<u64>,
    },
    /// An engine input at engine time `t_ns` (nanoseconds of CLOCK_MONOTONIC). Journals
    /// written before had `t_ms` only: milliseconds let replay fire a timer after an event
    /// that came after it within the same millisecond (issue 15 finding 7), so new records
    /// carry the full resolution, and old ones are still read.
    Input {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        t_ns: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        t_ms: Option<u64>,
        event: Event,
    },
    /// The pod finished: the last record. A restarted supervisor leaves such a pod alone, and a
    /// new registration with its key starts a fresh pod.
    Finished { phase: Phase },
}

pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// The journal in a pod's directory, and the records it holds already.
    pub fn open(pod_dir: &Path) -> std::io::Result<(Self, Vec<Record>)> {
        let path = pod_dir.join(super::layout::JOURNAL_FILE);
        let mut records = Vec::new();
        if let Ok(f) = File::open(&path) {
            for (n, line) in BufReader::new(f).lines().enumerate() {
                let line = line?;
                match serde_json::from_str::<Record>(&line) {
                    Ok(r) => records.push(r),
                    // A torn last line (killed mid-write) is expected; anything else is logged.
                    Err(e) => crate::log_warn!("{}: line {} skipped: {e}", path.display(), n + 1),
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok((Self { file, path }, records))
    }

    pub fn append(&mut self, record: &Record) {
        // Invariant: records hold only serializable data (strings, numbers, plans).
        let mut line = serde_json::to_vec(record).expect("journal records serialize");
        line.push(b'\n');
        if let Err(e) = self.file.write_all(&line) {
            crate::log_error!(
                "{}: cannot append ({e}); a restarted supervisor would lose this step",
                self.path.display()
            );
        }
    }
}

/// Monotonic nanoseconds fit in a u64 for 584 years of uptime; beyond that (never) saturate.
pub fn input(t: Duration, event: &Event) -> Record {
    Record::Input {
        t_ns: Some(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)),
        t_ms: None,
        event: event.clone(),
    }
}

/// The engine time of an input record: `t_ns`, else an old journal's `t_ms`; `None` for a
/// record with neither (or a millisecond count that does not fit in a `Duration`'s u64 of
/// seconds, which never comes from a real clock), which replay skips.
pub fn input_time(t_ns: Option<u64>, t_ms: Option<u64>) -> Option<Duration> {
    match (t_ns, t_ms) {
        (Some(ns), _) => Some(Duration::from_nanos(ns)),
        (None, Some(ms)) => Some(Duration::from_millis(ms)),
        (None, None) => None,
    }
}
