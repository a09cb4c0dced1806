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
    /// An engine input at engine time `t_ms`.
    Input { t_ms: u64, event: Event },
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

pub fn input(t: Duration, event: &Event) -> Record {
    Record::Input {
        t_ms: t.as_millis() as u64,
        event: event.clone(),
    }
}
