//! Why a container's run ended, as the kubelet words it (`terminated.reason`), and the bound on
//! the termination message that comes with it.

use serde::{Deserialize, Serialize};

/// The kubelet's `terminated.reason` tokens that podinit can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TerminationReason {
    /// Exit code 0.
    Completed,
    /// A non-zero exit reported as 0 (a sidecar stopped with its pod, an ignored exit code).
    Stopped,
    /// A non-zero exit.
    Error,
    /// The kernel's OOM killer killed a process of the container during the run.
    #[serde(rename = "OOMKilled")]
    OomKilled,
}

impl TerminationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TerminationReason::Completed => "Completed",
            TerminationReason::Stopped => "Stopped",
            TerminationReason::Error => "Error",
            TerminationReason::OomKilled => "OOMKilled",
        }
    }
}

/// The reason for a run that ended with `raw` (what the process really ended with), reported as
/// `reported`. An OOM kill names the run's end whatever code is reported (containerd's CRI sets
/// `OOMKilled` from the cgroup event alone), but a run that still exited 0 completed: its app
/// survived the kill of a child, and "Completed" is what happened to it.
pub fn termination_reason(raw: i32, reported: i32, oom_killed: bool) -> TerminationReason {
    if raw == 0 {
        TerminationReason::Completed
    } else if oom_killed {
        TerminationReason::OomKilled
    } else if reported == 0 {
        TerminationReason::Stopped
    } else {
        TerminationReason::Error
    }
}

/// The kubelet's `MaxContainerTerminationMessageLength` (`pkg/kubelet/container/runtime.go`):
/// 4 KiB per container; `getTerminationMessage` (`pkg/kubelet/kuberuntime/
/// kuberuntime_container.go`) reads it with `tail.ReadAtMost`, which keeps the last bytes.
pub const MAX_TERMINATION_MESSAGE: usize = 4 * 1024;

/// At most [`MAX_TERMINATION_MESSAGE`] bytes of `message`, its end kept (the last thing a dying
/// process wrote is the part worth reading), cut at a character boundary.
pub fn cap_message(message: &str) -> &str {
    if message.len() <= MAX_TERMINATION_MESSAGE {
        return message;
    }
    let mut start = message.len() - MAX_TERMINATION_MESSAGE;
    while !message.is_char_boundary(start) {
        start += 1;
    }
    &message[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::exit_zero(0, 0, false, TerminationReason::Completed)]
    #[case::exit_zero_after_a_child_was_oom_killed(0, 0, true, TerminationReason::Completed)]
    #[case::error(1, 1, false, TerminationReason::Error)]
    #[case::sigkill_without_oom(137, 137, false, TerminationReason::Error)]
    #[case::oom_sigkill(137, 137, true, TerminationReason::OomKilled)]
    #[case::oom_then_the_app_exited_non_zero(1, 1, true, TerminationReason::OomKilled)]
    #[case::sidecar_stopped_with_its_pod(143, 0, false, TerminationReason::Stopped)]
    #[case::sidecar_oom_killed_in_teardown(137, 0, true, TerminationReason::OomKilled)]
    fn reasons(
        #[case] raw: i32,
        #[case] reported: i32,
        #[case] oom: bool,
        #[case] expected: TerminationReason,
    ) {
        assert_eq!(termination_reason(raw, reported, oom), expected);
    }

    #[rstest]
    #[case::short("bye", "bye")]
    #[case::empty("", "")]
    fn short_messages_are_kept(#[case] m: &str, #[case] expected: &str) {
        assert_eq!(cap_message(m), expected);
    }

    #[test]
    fn long_messages_keep_their_end_at_a_char_boundary() {
        let m = format!("{}{}", "é".repeat(3000), "end");
        let capped = cap_message(&m);
        assert!(capped.len() <= MAX_TERMINATION_MESSAGE);
        assert!(capped.len() >= MAX_TERMINATION_MESSAGE - 1);
        assert!(capped.ends_with("éend"));
    }

    #[test]
    fn the_wire_token_is_the_kubelets() {
        assert_eq!(
            serde_json::to_value(TerminationReason::OomKilled).unwrap(),
            "OOMKilled"
        );
    }
}
