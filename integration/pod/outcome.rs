//! What a pod run produced: exit codes the agent reaped, the timeline, the supervisor's status,
//! logs, and what cleanup found. `Display` dumps all of it, for assertion messages.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use podinit::status::Document;
use serde_json::Value;

/// One line of `/shared/timeline.log`: `<micros since the epoch> <container> <text>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at_us: u64,
    pub container: String,
    pub text: String,
}

impl TimelineEntry {
    /// Whether `event` names this entry: its text alone (`"started"`) or `"<container> <text>"`
    /// (`"sidecar started"`).
    pub fn matches(&self, event: &str) -> bool {
        self.text == event
            || event
                .strip_prefix(self.container.as_str())
                .and_then(|rest| rest.strip_prefix(' '))
                == Some(self.text.as_str())
    }
}

/// Parses timeline text; entries sorted by time (ties keep file order, which is append
/// order), plus the lines that did not parse.
pub fn parse_timeline(text: &str) -> (Vec<TimelineEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.splitn(3, ' ');
        let at = parts.next().and_then(|t| t.parse::<u64>().ok());
        let container = parts.next().filter(|c| !c.is_empty());
        match (at, container) {
            (Some(at_us), Some(container)) => entries.push(TimelineEntry {
                at_us,
                container: container.to_owned(),
                text: parts.next().unwrap_or("").to_owned(),
            }),
            _ => bad.push(line.to_owned()),
        }
    }
    entries.sort_by_key(|e| e.at_us);
    (entries, bad)
}

/// Whether every event occurred in `timeline`, and the first occurrences are in this order
/// (strictly); see `TimelineEntry::matches`.
pub fn order_of(timeline: &[TimelineEntry], events: &[&str]) -> bool {
    let mut last = None;
    for ev in events {
        let Some(i) = timeline.iter().position(|e| e.matches(ev)) else {
            return false;
        };
        if last.is_some_and(|l| i <= l) {
            return false;
        }
        last = Some(i);
    }
    true
}

/// How the supervisor ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupervisorExit {
    /// Bare mode: there was none.
    NotStarted,
    Exited(i32),
    /// Died of this signal (not sent by the harness's timeout).
    Signaled(i32),
    /// Still running when the harness's wait ended: the harness SIGKILLed it.
    KilledAfterTimeout,
}

/// What cleanup found; `is_clean()` when nothing was left behind.
#[derive(Clone, Debug, Default)]
pub struct CleanupReport {
    /// `runc list` after the agent's own `runc delete`s, before the harness force-deleted.
    pub containers_after_agent: Vec<String>,
    /// `runc list` after the harness's `runc kill -a` / `runc delete -f`.
    pub containers_left: Vec<String>,
    /// The netns still exists after `ip netns del`.
    pub netns_left: bool,
    pub errors: Vec<String>,
}

impl CleanupReport {
    pub fn is_clean(&self) -> bool {
        self.containers_left.is_empty() && !self.netns_left && self.errors.is_empty()
    }
}

/// Everything a pod run produced.
#[derive(Debug)]
pub struct PodOutcome {
    /// The pod's unique name (test name, pid, counter); also the netns name.
    pub pod: String,
    /// Container name → runc container id.
    pub ids: BTreeMap<String, String>,
    /// Container name → exit code reaped by the agent (128+signal for a signal death).
    pub exit_codes: BTreeMap<String, i32>,
    /// Containers without an exit code, and why: `timeout`, `create failed`, `start failed`.
    pub unfinished: BTreeMap<String, String>,
    /// The order the agent created the containers in.
    pub create_order: Vec<String>,
    /// Errors the agent reported (failed/timed-out runtime commands, …).
    pub agent_errors: Vec<String>,
    /// Failed creates the agent retried (`PodTest::create_retries`).
    pub create_retried: Vec<String>,
    /// Container name → container init pid (from runc's pid file).
    pub pids: BTreeMap<String, u32>,
    /// Agent timings per container: `create_ms`, `start_ms`, `delete_ms`, `exited_at_us`.
    pub timings: BTreeMap<String, BTreeMap<String, f64>>,
    /// Timeline entries, sorted by time.
    pub timeline: Vec<TimelineEntry>,
    /// `<state-dir>/status.json` after the supervisor ended (`None` in bare mode or if missing).
    pub status_json: Option<Value>,
    pub supervisor_exit: SupervisorExit,
    /// Wall-clock micros when the agent was started (timeline entries are relative to this in
    /// the dump).
    pub t0_us: u64,
    /// From agent start to the supervisor's end.
    pub elapsed: Duration,
    /// File name → content: `<container>.out/.err`, `_supervisor.out/.err` and `_agent.err`
    /// (the agent's progress; `_` keeps them apart from any container's name).
    pub logs: BTreeMap<String, String>,
    /// File name → content of the pod's host dir (`PodTest::host_file`, and what host hooks
    /// wrote there) after the run.
    pub host_files: BTreeMap<String, Vec<u8>>,
    /// Harness observations: unparsable timeline lines, the agent killed on timeout, …
    pub notes: Vec<String>,
    pub cleanup: CleanupReport,
    pub netns: String,
    pub runc_root: PathBuf,
}

impl PodOutcome {
    /// The exit code the agent reaped for `name`.
    pub fn exit_code(&self, name: &str) -> Option<i32> {
        self.exit_codes.get(name).copied()
    }

    /// The first timeline entry that `event` names (see `TimelineEntry::matches`).
    pub fn first(&self, event: &str) -> Option<&TimelineEntry> {
        self.timeline.iter().find(|e| e.matches(event))
    }

    /// Whether every event occurred, and the first occurrences are in this order (strictly).
    pub fn order_of(&self, events: &[&str]) -> bool {
        order_of(&self.timeline, events)
    }

    /// `order_of`, or a panic with the whole outcome.
    #[track_caller]
    pub fn assert_order(&self, events: &[&str]) {
        assert!(
            self.order_of(events),
            "events not in order {events:?}\n{self}"
        );
    }

    /// The timeline texts of one container, in order.
    pub fn events_of(&self, container: &str) -> Vec<&str> {
        self.timeline
            .iter()
            .filter(|e| e.container == container)
            .map(|e| e.text.as_str())
            .collect()
    }

    /// `status.json` as the typed document every reader shares (`podinit_core::status`);
    /// panics (with the dump) when the supervisor wrote a status that does not read as one.
    #[track_caller]
    pub fn status(&self) -> Option<Document> {
        let json = self.status_json.as_ref()?;
        Some(
            serde_json::from_value(json.clone())
                .unwrap_or_else(|e| panic!("status.json is not a status document: {e}\n{self}")),
        )
    }

    /// `status.json`'s `phase`.
    pub fn phase(&self) -> Option<&str> {
        self.status_json.as_ref()?.get("phase")?.as_str()
    }

    /// The supervisor's stdout and stderr.
    pub fn supervisor_log(&self) -> String {
        let get = |k: &str| self.logs.get(k).map_or("", String::as_str);
        format!("{}{}", get("_supervisor.out"), get("_supervisor.err"))
    }

    /// A file of the pod's host dir after the run, as text (empty if absent).
    pub fn host_file(&self, name: &str) -> String {
        self.host_files
            .get(name)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }

    /// What the container wrote to stdout (its `<name>.out`).
    pub fn stdout(&self, name: &str) -> &str {
        self.logs
            .get(&format!("{name}.out"))
            .map_or("", String::as_str)
    }

    /// What the container (and runc, for it) wrote to stderr.
    pub fn stderr(&self, name: &str) -> &str {
        self.logs
            .get(&format!("{name}.err"))
            .map_or("", String::as_str)
    }
}

impl fmt::Display for PodOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "=== pod {} ({:?}) ===", self.pod, self.elapsed)?;
        writeln!(f, "create order: {:?}", self.create_order)?;
        writeln!(f, "exit codes: {:?}", self.exit_codes)?;
        if !self.unfinished.is_empty() {
            writeln!(f, "unfinished: {:?}", self.unfinished)?;
        }
        for e in &self.create_retried {
            writeln!(f, "create retried after: {e}")?;
        }
        if !self.agent_errors.is_empty() {
            writeln!(f, "agent errors:")?;
            for e in &self.agent_errors {
                writeln!(f, "  {e}")?;
            }
        }
        writeln!(f, "supervisor: {:?}", self.supervisor_exit)?;
        writeln!(f, "timeline (ms since agent start):")?;
        for e in &self.timeline {
            let rel = e.at_us as f64 / 1000.0 - self.t0_us as f64 / 1000.0;
            writeln!(f, "  {rel:>10.3} {:<12} {}", e.container, e.text)?;
        }
        match &self.status_json {
            Some(s) => writeln!(
                f,
                "status.json:\n{}",
                serde_json::to_string_pretty(s).unwrap_or_default()
            )?,
            None => writeln!(f, "status.json: none")?,
        }
        for (name, text) in &self.logs {
            if !text.trim().is_empty() {
                writeln!(f, "--- {name} ---\n{}", text.trim_end())?;
            }
        }
        for (name, content) in &self.host_files {
            let text = String::from_utf8_lossy(content);
            writeln!(f, "--- host file {name} ---\n{}", text.trim_end())?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        writeln!(f, "cleanup: {:?}", self.cleanup)
    }
}
