//! `<state-dir>/status.json`: the pod status with wall-clock times, written atomically (temp file
//! + rename) on every change, so a reader never sees half a document.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::collections::VecDeque;

use serde::Serialize;
use serde_json::Value;

use crate::engine::{ContainerStatus, PodStatus, TimelineEntry};

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

/// The document's time format: one writer here, one reader for the status' readers (core).
pub use crate::status::rfc3339;

pub fn to_json(status: &PodStatus, clock: Clock) -> Value {
    // Invariant: PodStatus is plain data.
    let mut v = serde_json::to_value(status).expect("status serializes");
    if let Some(cs) = v.get_mut("containers").and_then(Value::as_array_mut) {
        for c in cs {
            container_times(c, clock);
        }
    }
    if let Some(cs) = v.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in cs {
            if let Some(x) = c.get_mut("lastTransitionTime") {
                wall_time(x, clock);
            }
        }
    }
    if let Some(es) = v.get_mut("timeline").and_then(Value::as_array_mut) {
        for e in es {
            entry_times(e, clock);
        }
    }
    v
}

/// Engine milliseconds → RFC 3339.
fn wall_time(x: &mut Value, clock: Clock) {
    if let Some(ms) = x.as_u64() {
        *x = Value::String(rfc3339(clock.wall(Duration::from_millis(ms))));
    }
}

fn container_times(c: &mut Value, clock: Clock) {
    for key in ["startedAt", "finishedAt"] {
        if let Some(x) = c.get_mut(key) {
            wall_time(x, clock);
        }
    }
}

fn entry_times(e: &mut Value, clock: Clock) {
    if let Some(x) = e.get_mut("at") {
        wall_time(x, clock);
    }
}

/// status.json's bytes as `to_vec_pretty` of the whole document makes them, from pieces kept
/// between writes: a container's object is serialized again only when its status changed, a
/// timeline entry once. Serializing the whole document at every write cost ~2.8 M
/// instructions at 64 containers, once per registration: the supervisor's CPU to start a pod
/// grew with containers² (BENCHMARKS.md, "The supervisor curve").
#[derive(Default)]
pub struct Rendered {
    containers: Vec<(ContainerStatus, Vec<u8>)>,
    timeline: VecDeque<(TimelineEntry, Vec<u8>)>,
}

/// The top-level keys whose arrays are spliced in (the head is serialized with them empty).
const CONTAINERS_AT: &[u8] = b"\n  \"containers\": []";
const TIMELINE_AT: &[u8] = b"\n  \"timeline\": []";

impl Rendered {
    /// `head`: the document as [`to_json`] (and the caller's own keys) make it, with empty
    /// `containers` and `timeline`; those come from `containers` and `timeline`.
    pub fn render(
        &mut self,
        head: &Value,
        containers: &[ContainerStatus],
        timeline: &VecDeque<TimelineEntry>,
        clock: Clock,
    ) -> Vec<u8> {
        self.containers.truncate(containers.len());
        for (i, c) in containers.iter().enumerate() {
            match self.containers.get_mut(i) {
                Some((had, _)) if had == c => {}
                Some(slot) => *slot = (c.clone(), piece(c, container_times, clock)),
                None => self
                    .containers
                    .push((c.clone(), piece(c, container_times, clock))),
            }
        }
        // The engine's timeline only grows at the back and drops at the front.
        while self
            .timeline
            .front()
            .is_some_and(|(e, _)| timeline.front() != Some(e))
        {
            self.timeline.pop_front();
        }
        self.timeline.truncate(timeline.len());
        for (i, e) in timeline.iter().enumerate() {
            match self.timeline.get_mut(i) {
                Some((had, _)) if had == e => {}
                Some(slot) => *slot = (e.clone(), piece(e, entry_times, clock)),
                None => self
                    .timeline
                    .push_back((e.clone(), piece(e, entry_times, clock))),
            }
        }
        // Invariant: a Value always serializes.
        let head = serde_json::to_vec_pretty(head).expect("status serializes");
        let arrays = [
            (
                CONTAINERS_AT,
                self.containers.iter().map(|(_, b)| b.as_slice()).collect(),
            ),
            (
                TIMELINE_AT,
                self.timeline.iter().map(|(_, b)| b.as_slice()).collect(),
            ),
        ];
        splice(&head, arrays)
    }
}

/// One array element as it sits in the document: pretty, indented for depth 2.
fn piece<T: Serialize>(x: &T, times: fn(&mut Value, Clock), clock: Clock) -> Vec<u8> {
    // Invariant: the engine's status types are plain data.
    let mut v = serde_json::to_value(x).expect("status serializes");
    times(&mut v, clock);
    let text = serde_json::to_vec_pretty(&v).expect("status serializes");
    // A JSON string holds no raw newline: every one in the text is between tokens.
    let mut out = Vec::with_capacity(text.len() + text.len() / 4);
    for (n, line) in text.split(|b| *b == b'\n').enumerate() {
        out.extend_from_slice(if n == 0 { b"    " } else { b"\n    " });
        out.extend_from_slice(line);
    }
    out
}

/// The head with each `[]` after a top-level key (in the order they come) made the array of its
/// pieces, as `to_vec_pretty` prints a non-empty one there; and the final newline.
fn splice(head: &[u8], arrays: [(&[u8], Vec<&[u8]>); 2]) -> Vec<u8> {
    let size = arrays
        .iter()
        .flat_map(|(_, ps)| ps.iter().map(|p| p.len() + 2))
        .sum::<usize>();
    let mut out = Vec::with_capacity(head.len() + size + 8);
    let mut rest = head;
    for (at, pieces) in arrays {
        let found = rest.windows(at.len()).position(|w| w == at);
        let (Some(pos), false) = (found, pieces.is_empty()) else {
            continue;
        };
        let close = pos + at.len() - 1; // the `]`
        out.extend_from_slice(&rest[..close]);
        for (n, p) in pieces.iter().enumerate() {
            out.extend_from_slice(if n == 0 { b"\n" } else { b",\n" });
            out.extend_from_slice(p);
        }
        out.extend_from_slice(b"\n  ");
        rest = &rest[close..];
    }
    out.extend_from_slice(rest);
    out.push(b'\n');
    out
}

pub fn write(state_dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = state_dir.join(".status.json.tmp");
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
