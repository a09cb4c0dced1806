//! One pod as the supervisor holds it: its own engine, journal, status file and timers. The
//! supervisor keeps one per pod key and routes every event, timeout and action to exactly one;
//! nothing here knows about other pods, sockets or pidfds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::disk::{self, Health};
use super::journal::{self, Journal, Record};
use super::layout::{REPORTED_FILE, STATUS_FILE};
use super::status_file::{self, Clock};
use crate::engine::{self, Action, Engine, Event, Phase, PodStatus};
use crate::plan::PodKey;
use crate::{log_error, log_info, log_warn};

/// A container of a pod: inits, pidfds and connections are keyed by this, so the same container
/// name in two pods never meets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Member {
    pub pod: PodKey,
    pub name: String,
}

impl std::fmt::Display for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.pod, self.name)
    }
}

/// A container's init as the journal recorded it, for the supervisor to find again.
pub struct JournalledInit {
    pub name: String,
    pub id: String,
    pub pid: i32,
    pub start_time: Option<u64>,
}

pub struct Pod {
    pub key: PodKey,
    pub engine: Engine,
    journal: Journal,
    dir: PathBuf,
    finished: bool,
    /// The engine's status changed since status.json was last written. Written once per loop
    /// iteration, after every ready event was handled and every message sent: one write per
    /// event made a 64-container teardown O(containers²) and delayed the next event (the
    /// teardown reaction reached 67 ms; BENCHMARKS.md, "Pod level").
    pub status_dirty: bool,
    /// Whether status.json can be written (a full or read-only state dir).
    status_health: Health,
    /// The pieces of status.json kept between writes (`status_file::Rendered`).
    rendered: status_file::Rendered,
}

/// What a pod directory found at start-up holds.
pub enum Resumed {
    /// An unfinished pod, replayed: the supervisor carries on with it.
    Live(Box<Pod>, Vec<JournalledInit>),
    /// The pod finished before (its journal says so, or replaying it ends it): left alone.
    /// `phase` is `None` for an empty journal (a directory nothing was recorded in).
    Finished {
        phase: Option<Phase>,
        /// Whether a supervisor passed the result on ([`Pod::result_reported`]).
        reported: bool,
    },
}

impl Pod {
    /// A new pod in `dir` (which must not hold an older pod: the caller archives it).
    pub fn create(dir: PathBuf, key: PodKey, cfg: engine::Config) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let (journal, _, _) = Journal::open(&dir)?;
        Ok(Self::with(dir, key, cfg, journal))
    }

    fn with(dir: PathBuf, key: PodKey, cfg: engine::Config, journal: Journal) -> Self {
        Self {
            key,
            engine: Engine::new(cfg),
            journal,
            dir,
            finished: false,
            status_dirty: true,
            status_health: Health::default(),
            rendered: status_file::Rendered::default(),
        }
    }

    /// The pod a previous supervisor left in `dir`, replayed into a fresh engine.
    pub fn resume(
        dir: PathBuf,
        key: PodKey,
        cfg: engine::Config,
        clock: Clock,
    ) -> std::io::Result<Resumed> {
        let (journal, records, _) = Journal::open(&dir)?;
        let status = dir.join(STATUS_FILE);
        let reported = dir.join(REPORTED_FILE).exists();
        let finished = match records.last() {
            None => {
                return Ok(Resumed::Finished {
                    phase: None,
                    reported,
                });
            }
            Some(Record::Finished { phase }) => match read_status(&status) {
                Ok(_) => {
                    return Ok(Resumed::Finished {
                        phase: Some(*phase),
                        reported,
                    });
                }
                // Rebuilt below from the journal, which holds every status it showed.
                Err(e) => Some((e, *phase)),
            },
            Some(_) => None,
        };
        let mut pod = Self::with(dir, key, cfg, journal);
        let mut inits = Vec::new();
        let mut count = 0usize;
        for r in records {
            match r {
                Record::Init { pid, .. } if crate::ranges::pid("pid", pid).is_err() => {
                    log_error!(
                        "supervise: pod {}: a journalled init with pid {pid}, skipped",
                        pod.key
                    );
                }
                Record::Init {
                    name,
                    id,
                    pid,
                    bundle: _,
                    start_time,
                } => inits.push(JournalledInit {
                    name,
                    id,
                    pid,
                    start_time,
                }),
                Record::Input { t_ns, t_ms, event } => {
                    let Some(t) = journal::input_time(t_ns, t_ms) else {
                        log_error!(
                            "supervise: pod {}: a journalled input without a time, skipped",
                            pod.key
                        );
                        continue;
                    };
                    if let Err(e) = crate::ranges::event(&event) {
                        log_error!("supervise: pod {}: journalled input skipped: {e}", pod.key);
                        continue;
                    }
                    pod.engine.replay(t, event);
                    count += 1;
                }
                // Not last (checked above): a journal someone appended to; the inputs decide.
                Record::Finished { .. } => {}
            }
        }
        if let Some((unreadable, phase)) = finished {
            pod.finished = true;
            pod.write_status(clock);
            log_warn!(
                "supervise: pod {}: {} was unreadable ({unreadable}); rewritten from the journal",
                pod.key,
                status.display()
            );
            return Ok(Resumed::Finished {
                phase: Some(phase),
                reported,
            });
        }
        if pod.engine.is_finished() {
            // It ended, but the previous supervisor died before it journalled that (or it was a
            // single-pod supervisor's journal, which had no final record): finish it now, so it
            // is never replayed onto the next pod.
            let phase = pod.engine.phase();
            pod.finish(phase, clock);
            return Ok(Resumed::Finished {
                phase: Some(phase),
                reported,
            });
        }
        log_info!(
            "supervise: pod {}: resumed from the journal ({count} inputs, {} containers)",
            pod.key,
            inits.len()
        );
        Ok(Resumed::Live(Box::new(pod), inits))
    }

    /// Staged, not written: the registration that always follows it ([`Self::handle_event`])
    /// writes both, the init first, so a replay never sees the registration without it.
    pub fn record_init(&mut self, name: &str, id: &str, pid: i32, bundle: String, st: Option<u64>) {
        self.journal.stage(&Record::Init {
            name: name.to_owned(),
            id: id.to_owned(),
            pid,
            bundle,
            start_time: st,
        });
    }

    /// Journal an input, then hand it to the engine.
    pub fn handle_event(&mut self, now: Duration, event: Event) -> Vec<Action> {
        self.journal.append(&journal::input(now, &event));
        self.engine.handle_event(now, event)
    }

    /// The timers due at `now`, if any.
    pub fn handle_due(&mut self, now: Duration) -> Option<Vec<Action>> {
        self.engine
            .poll_timeout()
            .filter(|due| *due <= now)
            .map(|_| self.engine.handle_timeout(now))
    }

    /// The pod's status document: the engine's status with wall-clock times, its key, and
    /// whether the supervisor is done with it.
    pub fn status_doc(&self, clock: Clock) -> Value {
        self.doc(clock, self.status_health.failure())
    }

    /// The document with `warnings` when the journal (or, `status_failure`, status.json) cannot
    /// be written. The file's own copy never says the file cannot be written: it just was.
    fn doc(&self, clock: Clock, status_failure: Option<&str>) -> Value {
        self.doc_of(&self.engine.status(), clock, status_failure)
    }

    fn doc_of(&self, status: &PodStatus, clock: Clock, status_failure: Option<&str>) -> Value {
        let mut doc = status_file::to_json(status, clock);
        decorate(&mut doc, &self.key, self.finished);
        let warnings: Vec<&str> = [self.journal.backlog(), status_failure]
            .into_iter()
            .flatten()
            .collect();
        if let (false, Some(o)) = (warnings.is_empty(), doc.as_object_mut()) {
            o.insert("warnings".into(), warnings.into());
        }
        doc
    }

    /// Writes status.json; when that fails it stays dirty, so every later loop iteration tries
    /// again until it works (the status itself is in memory and served over the socket).
    pub fn write_status(&mut self, clock: Clock) {
        let bytes = self.status_bytes(clock);
        let path = self.dir.join(STATUS_FILE);
        match status_file::write(&self.dir, &bytes) {
            Ok(()) => {
                self.status_dirty = false;
                self.status_health
                    .worked(|| format!("{} is written again", path.display()));
            }
            Err(e) => {
                self.status_dirty = true;
                self.status_health.failed(format!(
                    "cannot write {} ({e}); `podinit status` answers from memory meanwhile; {}",
                    path.display(),
                    disk::remedy(&e, &self.dir)
                ));
            }
        }
    }

    /// The last status.json write failed (it is retried on the next event, not on a timer).
    pub fn status_failing(&self) -> bool {
        self.status_health.failure().is_some()
    }

    /// status.json's text: `doc` without `status_failure`, pretty-printed, with its containers
    /// and timeline from the pieces kept since the last write.
    fn status_bytes(&mut self, clock: Clock) -> Vec<u8> {
        let mut head = self.engine.status_head();
        let containers = std::mem::take(&mut head.containers);
        let head = self.doc_of(&head, clock, None);
        self.rendered
            .render(&head, &containers, self.engine.timeline(), clock)
    }

    /// Writes the journal's records that wait in memory, if any.
    pub fn flush_journal(&mut self) {
        let behind = self.journal.backlog().is_some();
        self.journal.flush();
        if behind && self.journal.backlog().is_none() {
            self.status_dirty = true; // its warning goes
        }
    }

    /// Why the journal is behind, while it is.
    pub fn journal_backlog(&self) -> Option<&str> {
        self.journal.backlog()
    }

    /// Nothing of this pod waits in memory for the disk.
    pub fn is_on_disk(&self) -> bool {
        !self.status_dirty && self.journal.backlog().is_none()
    }

    /// The final record and the final status; the supervisor then forgets the pod.
    pub fn finish(&mut self, phase: Phase, clock: Clock) {
        self.finished = true;
        self.journal.append(&Record::Finished { phase });
        self.write_status(clock);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Marks the pod's result as passed on — by a shared supervisor when the pod finishes (its
    /// status.json is the report), by a `--exit-with-pod` supervisor as the last thing before
    /// it exits with that result. A restarted `--exit-with-pod` supervisor that finds a
    /// finished pod without the mark knows its predecessor died between the pod's end and its
    /// own exit, and exits with that result instead of waiting for a pod that never comes.
    pub fn result_reported(dir: &Path) {
        if let Err(e) = std::fs::write(dir.join(REPORTED_FILE), b"") {
            log_warn!(
                "supervise: cannot mark the result of the pod in {} as reported: {e}",
                dir.display()
            );
        }
    }
}

/// A status file, or why it cannot be read (missing, not JSON).
pub fn read_status(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
}

/// `pod` and `finished` on top of the engine's fields, so a status document says which pod it
/// is about and whether it can still change.
pub fn decorate(doc: &mut Value, key: &PodKey, finished: bool) {
    if let Some(o) = doc.as_object_mut() {
        o.insert("pod".into(), Value::String(key.to_string()));
        o.insert("finished".into(), Value::Bool(finished));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ExitStatus;
    use crate::plan::{PodDeclaration, k8s::parse_pod_spec, plans_from_pod_spec};

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("podinit-pod-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// One app under `Never`, run to its end through the journal.
    fn run_to_end(pod: &mut Pod) {
        let spec = parse_pod_spec(r#"{"restartPolicy":"Never","containers":[{"name":"app"}]}"#)
            .expect("spec");
        let containers = plans_from_pod_spec(&spec).expect("plans");
        let t = Duration::from_millis;
        let events = [
            Event::Registered {
                id: "app-1".into(),
                plan: Box::new(containers[0].clone()),
                pod: Some(PodDeclaration::Spec { containers }),
                pod_digest: None,
            },
            Event::ProcessStarted { name: "app".into() },
            Event::ProcessExited {
                name: "app".into(),
                status: ExitStatus::Code(0),
                details: Default::default(),
            },
            Event::Gone { name: "app".into() },
        ];
        for (i, e) in events.into_iter().enumerate() {
            pod.handle_event(t(i as u64 + 1), e);
        }
    }

    /// status.json from kept pieces is byte for byte the document `podinit status` serves,
    /// pretty-printed: as containers register, change and start, and once the timeline is full
    /// and drops its oldest entries.
    #[test]
    fn status_json_from_pieces_is_the_whole_document() {
        let dir = scratch("pieces");
        let clock = Clock::new(Duration::from_secs(5));
        let mut pod = Pod::create(
            dir.clone(),
            PodKey::default_pod(),
            engine::Config::default(),
        )
        .unwrap();
        let spec = parse_pod_spec(
            r#"{"restartPolicy":"Never","initContainers":[{"name":"sc","restartPolicy":"Always"}],
                "containers":[{"name":"a1"},{"name":"a2"},{"name":"a3"}]}"#,
        )
        .expect("spec");
        let containers = plans_from_pod_spec(&spec).expect("plans");
        let whole = |pod: &Pod| {
            let mut b = serde_json::to_vec_pretty(&pod.doc(clock, None)).unwrap();
            b.push(b'\n');
            String::from_utf8(b).unwrap()
        };
        let check = |pod: &mut Pod, step: &str| {
            let pieces = String::from_utf8(pod.status_bytes(clock)).unwrap();
            assert_eq!(pieces, whole(pod), "after {step}");
            // The readers' type holds every field the writer writes.
            let typed = crate::status::Document::parse(pieces.as_bytes())
                .unwrap_or_else(|e| panic!("after {step}: not a status Document: {e}"));
            let untyped: Value = serde_json::from_str(&pieces).unwrap();
            assert_eq!(
                serde_json::to_value(&typed).unwrap(),
                untyped,
                "after {step}"
            );
        };
        check(&mut pod, "nothing");
        let t = |ms: u64| Duration::from_millis(1000 + ms);
        let mut ms = 0;
        for (i, c) in containers.iter().enumerate().rev() {
            ms += 1;
            pod.handle_event(
                t(ms),
                Event::Registered {
                    id: format!("{}-1", c.name),
                    plan: Box::new(c.clone()),
                    pod: (i == 3).then(|| PodDeclaration::Spec {
                        containers: containers.clone(),
                    }),
                    pod_digest: None,
                },
            );
            check(&mut pod, &format!("registering {}", c.name));
        }
        for c in &containers {
            ms += 1;
            pod.handle_event(
                t(ms),
                Event::ProcessStarted {
                    name: c.name.clone(),
                },
            );
            check(&mut pod, &format!("{} started", c.name));
        }
        // Reports about no such container: one timeline entry each, past TIMELINE_MAX.
        for n in 0..engine::TIMELINE_MAX + 20 {
            ms += 1;
            pod.handle_event(
                t(ms),
                Event::ProcessStarted {
                    name: format!("ghost{n}"),
                },
            );
            if n % 97 == 0 || n + 25 > engine::TIMELINE_MAX {
                check(&mut pod, &format!("ghost {n}"));
            }
        }
        assert_eq!(pod.engine.timeline().len(), engine::TIMELINE_MAX);
        ms += 1;
        pod.handle_event(t(ms), Event::StopRequested { grace: None });
        check(&mut pod, "the stop");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A journal without the final record whose replay ends the pod (a single-pod supervisor's,
    /// or one killed between the pod's end and that record) is finished now, never resumed.
    #[test]
    fn a_pod_that_ends_when_replayed_is_finished_not_resumed() {
        let dir = scratch("replayed-end");
        let key = PodKey::default_pod();
        let clock = Clock::new(Duration::ZERO);
        let mut pod = Pod::create(dir.clone(), key.clone(), engine::Config::default()).unwrap();
        run_to_end(&mut pod);
        assert!(pod.engine.is_finished());
        drop(pod); // SIGKILLed before `finish`
        let resumed = Pod::resume(dir.clone(), key.clone(), engine::Config::default(), clock);
        assert!(matches!(
            resumed,
            Ok(Resumed::Finished {
                phase: Some(Phase::Succeeded),
                reported: false
            })
        ));
        let (_, records, _) = Journal::open(&dir).unwrap();
        assert!(matches!(
            records.last(),
            Some(Record::Finished {
                phase: Phase::Succeeded
            })
        ));
        let doc: Value =
            serde_json::from_slice(&std::fs::read(dir.join(STATUS_FILE)).unwrap()).unwrap();
        assert_eq!(
            (doc["finished"].clone(), doc["pod"].clone()),
            (true.into(), "default".into())
        );
        // And once finished, the next start leaves it alone without replaying.
        let again = Pod::resume(dir.clone(), key, engine::Config::default(), clock);
        assert!(matches!(
            again,
            Ok(Resumed::Finished {
                phase: Some(Phase::Succeeded),
                reported: false
            })
        ));
        Pod::result_reported(&dir);
        let reported = Pod::resume(
            dir.clone(),
            PodKey::default_pod(),
            engine::Config::default(),
            clock,
        );
        assert!(matches!(
            reported,
            Ok(Resumed::Finished { reported: true, .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Issue 15 finding 7: replay sees the inputs at the times the live engine saw them, to the
    /// nanosecond (with milliseconds, a timer due between an input's true time and its
    /// truncated one fired in a different order).
    #[test]
    fn a_replayed_pod_sees_its_inputs_at_full_resolution() {
        let dir = scratch("resolution");
        let key = PodKey::default_pod();
        let mut pod = Pod::create(dir.clone(), key.clone(), engine::Config::default()).unwrap();
        let spec = parse_pod_spec(r#"{"containers":[{"name":"app"}]}"#).expect("spec");
        let containers = plans_from_pod_spec(&spec).expect("plans");
        let t = Duration::from_nanos(1_000_600_123);
        pod.handle_event(
            t,
            Event::Registered {
                id: "app-1".into(),
                plan: Box::new(containers[0].clone()),
                pod: Some(PodDeclaration::Spec { containers }),
                pod_digest: None,
            },
        );
        pod.handle_event(t, Event::ProcessStarted { name: "app".into() });
        let live = pod.engine.status().timeline;
        drop(pod);
        let resumed = Pod::resume(
            dir.clone(),
            key,
            engine::Config::default(),
            Clock::new(Duration::ZERO),
        );
        let Ok(Resumed::Live(pod, _)) = resumed else {
            panic!("not resumed")
        };
        assert_eq!(pod.engine.status().timeline, live);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Journals written before nanoseconds (`t_ms`) are still replayed.
    #[test]
    fn a_millisecond_journal_is_still_read() {
        let dir = scratch("ms-journal");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(super::super::layout::JOURNAL_FILE),
            concat!(
                r#"{"record":"input","t_ms":1500,"event":{"event":"stopRequested","grace":null}}"#,
                "\n"
            ),
        )
        .unwrap();
        let (_, records, _) = Journal::open(&dir).unwrap();
        match &records[..] {
            [Record::Input { t_ns, t_ms, .. }] => assert_eq!(
                journal::input_time(*t_ns, *t_ms),
                Some(Duration::from_millis(1500))
            ),
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unfinished_pod_is_resumed_with_its_inits() {
        let dir = scratch("unfinished");
        let key = PodKey::default_pod();
        let mut pod = Pod::create(dir.clone(), key.clone(), engine::Config::default()).unwrap();
        pod.record_init("app", "app-1", 4242, "/b".into(), Some(7));
        pod.flush_journal(); // staged until then (a registration would write it)
        drop(pod);
        // Only an init record and no input yet: still a live pod.
        match Pod::resume(
            dir.clone(),
            key,
            engine::Config::default(),
            Clock::new(Duration::ZERO),
        ) {
            Ok(Resumed::Live(_, inits)) => {
                assert_eq!(
                    (inits.len(), inits[0].pid, inits[0].start_time),
                    (1, 4242, Some(7))
                )
            }
            _ => panic!("not resumed"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
