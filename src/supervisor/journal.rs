//! The supervisor's write-ahead journal: every engine input, and every container's init pid,
//! appended as one JSON line before it is acted on. A supervisor that was SIGKILLed and started
//! again replays it into a fresh engine (the engine is deterministic and its time is
//! CLOCK_MONOTONIC, shared across restarts) and carries on with the same pod. One journal per pod
//! (`<state-dir>/pods/<pod>/journal.jsonl`); a finished pod's ends with [`Record::Finished`].
//!
//! Appends are single `write(2)`s on an O_APPEND file: they survive the supervisor's death (the
//! page cache is the kernel's), which is the failure this is for; a host crash ends the sandbox.
//! An append that fails (a full disk, a read-only file system) keeps the record in memory, in
//! order, and it is written before the next one (docs/reliability.md, "Failure modes").

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::disk::{self, Health};
use crate::engine::{Event, Phase};
use crate::log_warn;

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
    path: PathBuf,
    /// Bytes not in the file yet, in order: the rest of a record a write cut short (a full
    /// disk) and every record after it. Written before anything else at the next append or
    /// [`Journal::flush`], so the file never has a hole: it is whole, or behind.
    pending: Vec<u8>,
    /// How many records `pending` holds (the first may be a part).
    pending_records: usize,
    health: Health,
}

/// What [`Journal::open`] found besides the records.
#[derive(Debug, Default, PartialEq)]
pub struct Opened {
    /// The bytes after the last complete record, dropped: a supervisor died mid-write.
    pub dropped_partial: Option<usize>,
    /// Lines that were not a record (1-based), skipped.
    pub skipped_lines: Vec<usize>,
}

impl Journal {
    /// The journal in a pod's directory, the complete records it holds already, and what was
    /// not a record. A last line without its newline is what a supervisor killed mid-write (or
    /// a disk that filled) leaves: it is cut off the file, so the next record starts a line of
    /// its own instead of gluing onto it (which lost that record at the next restart).
    pub fn open(pod_dir: &Path) -> std::io::Result<(Self, Vec<Record>, Opened)> {
        let path = pod_dir.join(super::layout::JOURNAL_FILE);
        let mut journal = Self {
            path,
            pending: Vec::new(),
            pending_records: 0,
            health: Health::default(),
        };
        let mut records = Vec::new();
        let mut opened = Opened::default();
        let bytes = match std::fs::read(&journal.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let lines = bytes[..complete]
            .strip_suffix(b"\n")
            .map(|b| b.split(|c| *c == b'\n'));
        for (n, line) in lines.into_iter().flatten().enumerate() {
            match serde_json::from_slice::<Record>(line) {
                Ok(r) => records.push(r),
                Err(e) => {
                    log_warn!(
                        "{}: line {} is not a journal record ({e}); skipped: replay goes on \
                         without it",
                        journal.path.display(),
                        n + 1
                    );
                    opened.skipped_lines.push(n + 1);
                }
            }
        }
        if complete < bytes.len() {
            let cut = bytes.len() - complete;
            opened.dropped_partial = Some(cut);
            let dropped = OpenOptions::new()
                .write(true)
                .open(&journal.path)
                .and_then(|f| f.set_len(complete as u64));
            match dropped {
                Ok(()) => log_warn!(
                    "{}: dropped a partial last record ({cut} bytes after the last complete \
                     one, at byte {complete}): a supervisor died while writing it; replayed up \
                     to the last complete record",
                    journal.path.display()
                ),
                Err(e) => {
                    // Cannot cut it (read-only?): end it instead, so it stays one bad line.
                    journal.pending.push(b'\n');
                    log_warn!(
                        "{}: a partial last record ({cut} bytes) is ignored; it cannot be cut \
                         off ({e}), so the next append ends its line first",
                        journal.path.display()
                    );
                }
            }
        }
        // Created now, so a pod directory always has its journal.
        if let Err(e) = journal.flush_io() {
            let what = journal.failure_text(&e);
            journal.health.failed(what);
        }
        Ok((journal, records, opened))
    }

    pub fn append(&mut self, record: &Record) {
        self.stage(record);
        self.flush();
    }

    /// Queues a record for the next [`Self::append`] or [`Self::flush`] to write with its
    /// own: for a record that is always followed by another at once (an init, then its
    /// registration), one open and one write instead of two.
    pub fn stage(&mut self, record: &Record) {
        // Invariant: records hold only serializable data (strings, numbers, plans).
        serde_json::to_writer(&mut self.pending, record).expect("journal records serialize");
        self.pending.push(b'\n');
        self.pending_records += 1;
    }

    /// Writes what is pending, if anything; logs the first failure of a streak and the recovery.
    pub fn flush(&mut self) {
        if self.pending.is_empty() && self.health.failure().is_none() {
            return;
        }
        let records = self.pending_records;
        match self.flush_io() {
            Ok(()) => self.health.worked(|| {
                format!(
                    "{}: appends work again; the {records} record(s) kept in memory are written",
                    self.path.display()
                )
            }),
            Err(e) => {
                let what = self.failure_text(&e);
                self.health.failed(what);
            }
        }
    }

    /// Opened for each write (O_APPEND, closed after): no descriptor keeps the state dir busy
    /// (a remount read-only is refused while a file is open for writing) or writes into a file
    /// someone removed or replaced.
    fn flush_io(&mut self) -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        while !self.pending.is_empty() {
            match file.write(&self.pending) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let done = self.pending[..n].iter().filter(|b| **b == b'\n').count();
                    self.pending_records = self.pending_records.saturating_sub(done);
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending_records = 0;
        Ok(())
    }

    fn failure_text(&self, e: &std::io::Error) -> String {
        let dir = self.path.parent().unwrap_or(Path::new("/"));
        format!(
            "{}: cannot append ({e}); {} record(s) kept in memory and written once appends \
             work again (a supervisor restarted before then loses them); {}",
            self.path.display(),
            self.pending_records,
            disk::remedy(e, dir)
        )
    }

    /// Why the journal cannot be written (records may be waiting in memory), while it cannot.
    pub fn backlog(&self) -> Option<&str> {
        self.health.failure()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::layout::JOURNAL_FILE;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("podinit-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn stop(grace: u64) -> Record {
        input(
            Duration::from_secs(grace),
            &Event::StopRequested {
                grace: Some(Duration::from_secs(grace)),
            },
        )
    }

    /// A supervisor killed mid-write leaves a last line without its newline. Replay goes up to
    /// the last complete record and says it dropped the rest; the record appended next is whole
    /// at the next restart (before, it was glued onto the partial line and lost with it).
    #[test]
    fn a_record_cut_mid_write_is_dropped_and_the_next_one_survives() {
        let dir = scratch("cut");
        let (mut j, _, _) = Journal::open(&dir).unwrap();
        j.append(&stop(1));
        j.append(&stop(2));
        let path = dir.join(JOURNAL_FILE);
        let whole = std::fs::read(&path).unwrap();
        let cut = &whole[..whole.len() - 10];
        std::fs::write(&path, cut).unwrap();

        let (mut j, records, opened) = Journal::open(&dir).unwrap();
        assert_eq!(records, [stop(1)]);
        let first_len = whole.iter().position(|b| *b == b'\n').unwrap() + 1;
        assert_eq!(
            opened,
            Opened {
                dropped_partial: Some(cut.len() - first_len),
                skipped_lines: vec![],
            }
        );
        assert_eq!(std::fs::read(&path).unwrap().len(), first_len);
        j.append(&stop(3));
        let (_, records, opened) = Journal::open(&dir).unwrap();
        assert_eq!(
            (records, opened),
            (vec![stop(1), stop(3)], Opened::default())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_line_that_is_not_a_record_is_skipped_and_named() {
        let dir = scratch("garbage");
        let line = |r: &Record| format!("{}\n", serde_json::to_string(r).unwrap());
        std::fs::write(
            dir.join(JOURNAL_FILE),
            format!("{}{{oops\n{}", line(&stop(1)), line(&stop(2))),
        )
        .unwrap();
        let (_, records, opened) = Journal::open(&dir).unwrap();
        assert_eq!(records, [stop(1), stop(2)]);
        assert_eq!(opened.skipped_lines, [2]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Appends to a full disk (/dev/full answers ENOSPC) wait in memory, in order, and say so;
    /// once the disk takes them, they are all written before the next record: no hole.
    #[test]
    fn appends_to_a_full_disk_wait_in_memory_and_are_written_in_order() {
        let dir = scratch("full");
        let path = dir.join(JOURNAL_FILE);
        let (mut j, _, _) = Journal::open(&dir).unwrap();
        j.append(&stop(1));
        let before = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/dev/full", &path).unwrap();
        j.append(&stop(2));
        j.append(&stop(3));
        let why = j
            .backlog()
            .expect("a backlog while the disk is full")
            .to_owned();
        assert!(
            why.contains(&path.display().to_string())
                && why.contains("2 record(s) kept in memory")
                && why.contains("free space in"),
            "{why}"
        );
        // Space again: the file is back (what was written before is still there).
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, &before).unwrap();
        j.flush();
        assert_eq!(j.backlog(), None);
        j.append(&stop(4));
        let (_, records, opened) = Journal::open(&dir).unwrap();
        assert_eq!(records, [stop(1), stop(2), stop(3), stop(4)]);
        assert_eq!(opened, Opened::default());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
