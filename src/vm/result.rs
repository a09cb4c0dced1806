//! What the guest's PID 1 tells the host, and what the host may ask of it, over the control port
//! (the guest's second serial port). One JSON object per line guest → host; one word per line
//! host → guest. A line the other side does not understand is reported and skipped, never fatal:
//! the result must get through.

use serde::{Deserialize, Serialize};

/// Guest → host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum GuestEvent {
    /// PID 1 runs: mounts done, the root moved, the agent about to start. The host's proof that
    /// the accelerator boots a kernel.
    #[serde(rename_all = "camelCase")]
    Up {
        /// `/proc/uptime` when PID 1 started (the kernel's boot time, as seen from inside).
        uptime_ms: u64,
        /// When the re-executed PID 1 started on the new root (the move off the initramfs in
        /// between); equal to `uptime_ms` when there was nothing to move.
        moved_ms: u64,
        /// And when the agent was about to start (PID 1's own set-up in between).
        ready_ms: u64,
        init: InitInfo,
    },
    Result(SandboxResult),
}

/// Who PID 1 is: the proof that podinit, not a shell, was the guest's init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitInfo {
    pub pid: i32,
    /// `/proc/1/exe` and the command PID 1 runs (`sandbox-init`).
    pub exe: String,
    pub command: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxResult {
    /// The pod's phase from its status.json (`Succeeded`, `Failed`, ...), or `Failed` when the
    /// sandbox could not run it (then `error` says why).
    pub phase: String,
    pub agent_exit: Option<i32>,
    /// Deletion requests PID 1 received.
    pub deletions: u8,
    pub error: Option<String>,
    pub uptime_ms: u64,
    /// The pod's status.json as the supervisor wrote it, when there is one.
    pub status: Option<serde_json::Value>,
}

impl SandboxResult {
    pub fn succeeded(&self) -> bool {
        self.phase == "Succeeded" && self.error.is_none()
    }

    /// The byte written to qemu's `isa-debug-exit`, which exits with `(byte << 1) | 1`. Success
    /// is 0 (qemu exits 1) and everything else odd bytes from 1 up, so qemu's own exit 0 — a
    /// guest that panicked, rebooted under `-no-reboot`, or powered off without a word — never
    /// reads as a Succeeded pod.
    pub fn debug_exit_byte(&self) -> u8 {
        if self.succeeded() {
            DEBUG_EXIT_SUCCEEDED
        } else if self.error.is_some() {
            DEBUG_EXIT_SANDBOX_ERROR
        } else {
            DEBUG_EXIT_POD_FAILED
        }
    }
}

pub const DEBUG_EXIT_SUCCEEDED: u8 = 0;
pub const DEBUG_EXIT_POD_FAILED: u8 = 1;
pub const DEBUG_EXIT_SANDBOX_ERROR: u8 = 2;

/// qemu's exit status for a byte written to `isa-debug-exit`.
pub fn qemu_exit_status(byte: u8) -> i32 {
    (i32::from(byte) << 1) | 1
}

/// Host → guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCommand {
    /// Delete the pod (graceful; the second one forced), as SIGTERM to PID 1.
    Delete,
    /// SIGKILL the agent.
    Kill,
}

impl HostCommand {
    pub fn parse(line: &str) -> Option<HostCommand> {
        match line.trim() {
            "delete" => Some(HostCommand::Delete),
            "kill" => Some(HostCommand::Kill),
            _ => None,
        }
    }

    pub fn line(self) -> &'static [u8] {
        match self {
            HostCommand::Delete => b"delete\n",
            HostCommand::Kill => b"kill\n",
        }
    }
}

/// One line → a guest event; lines that are not ours (a serial port may carry noise at boot)
/// are `None`.
pub fn parse_event(line: &str) -> Option<GuestEvent> {
    let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    if !line.starts_with('{') {
        return None;
    }
    serde_json::from_str(line).ok()
}

pub fn event_line(event: &GuestEvent) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail.
    let mut line = serde_json::to_vec(event).expect("a GuestEvent always serializes");
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn result(phase: &str, error: Option<&str>) -> SandboxResult {
        SandboxResult {
            phase: phase.into(),
            agent_exit: Some(0),
            deletions: 0,
            error: error.map(String::from),
            uptime_ms: 1,
            status: None,
        }
    }

    #[rstest]
    #[case::succeeded("Succeeded", None, 1)]
    #[case::failed_pod("Failed", None, 3)]
    #[case::sandbox_error_even_if_succeeded("Succeeded", Some("mount failed"), 5)]
    #[case::unknown_phase("Running", None, 3)]
    fn qemu_exit_never_zero_and_only_one_for_success(
        #[case] phase: &str,
        #[case] error: Option<&str>,
        #[case] qemu: i32,
    ) {
        assert_eq!(
            qemu_exit_status(result(phase, error).debug_exit_byte()),
            qemu
        );
    }

    #[test]
    fn events_round_trip_one_per_line() {
        let up = GuestEvent::Up {
            uptime_ms: 2500,
            moved_ms: 2550,
            ready_ms: 2600,
            init: InitInfo {
                pid: 1,
                exe: "/sbin/podinit".into(),
                command: "sandbox-init".into(),
                version: "0.1.0".into(),
            },
        };
        let line = event_line(&up);
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        assert_eq!(parse_event(std::str::from_utf8(&line).unwrap()), Some(up));
        let r = GuestEvent::Result(result("Succeeded", None));
        assert_eq!(
            parse_event(std::str::from_utf8(&event_line(&r)).unwrap()),
            Some(r)
        );
    }

    #[rstest]
    #[case::noise("\u{0}\u{0}garbage")]
    #[case::other_json("{\"event\":\"reboot\"}")]
    #[case::truncated("{\"event\":\"up\",\"uptimeMs\":")]
    #[case::empty("")]
    fn foreign_lines_are_skipped(#[case] line: &str) {
        assert_eq!(parse_event(line), None);
    }

    #[rstest]
    #[case("delete\n", Some(HostCommand::Delete))]
    #[case("kill\r\n", Some(HostCommand::Kill))]
    #[case("reboot", None)]
    fn host_commands(#[case] line: &str, #[case] want: Option<HostCommand>) {
        assert_eq!(HostCommand::parse(line), want);
    }
}
