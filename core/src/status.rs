//! The status document (`status.json`, `podinit status --format json`) as its readers see it:
//! the engine's [`PodStatus`](crate::engine::PodStatus) with wall-clock times (RFC 3339
//! strings), the pod's key, whether the supervisor is done with it, and its warnings.
//!
//! The supervisor writes the document from pieces it keeps between writes, not through these
//! types (`src/supervisor/status_file.rs`: a container's object is serialized again only when it
//! changed); a test there checks that what it writes reads back as a [`Document`]. Fields a
//! newer podinit adds are ignored, and the ones an older one did not write have their defaults,
//! so a reader keeps working across an upgrade of the supervisor.

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
    fn a_document_without_its_phase_is_refused_by_name() {
        let e = Document::parse(br#"{"containers": []}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `phase`"), "{e}");
    }
}
