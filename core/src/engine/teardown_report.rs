//! What a container is told when its pod's teardown reaches it: why the pod ends and what its
//! apps exited with, so a log sidecar can flush and say why it stops, and every preStop knows
//! (issue 11, "the teardown cause handed to the sidecars and to every preStop"). Sent at the
//! container's first teardown step (before its preStop runs) and again with its stop signal,
//! when the apps' codes are in. The container's init writes it to
//! [`crate::proto::CONTAINER_TEARDOWN_FILE`] and puts it in its handlers' environment.

use serde::{Deserialize, Serialize};

use super::{Engine, TeardownCause};
use crate::plan::Kind;

/// Why the pod ends, as handed to its containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TeardownReason {
    /// Every app exited 0 and none will restart.
    JobComplete,
    /// Every app exited and none will restart, one of them non-zero.
    AppFailed,
    /// A regular init container failed under `restartPolicy: Never`.
    InitFailed,
    /// `podinit stop`, SIGTERM to the supervisor, the sandbox's deletion.
    Deleted,
    /// `activeDeadlineSeconds` ran out.
    DeadlineExceeded,
    /// A container's `io.podinit.start-timeout` passed under `on-start-timeout: fail`.
    StartTimeout,
}

impl TeardownReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TeardownReason::JobComplete => "JobComplete",
            TeardownReason::AppFailed => "AppFailed",
            TeardownReason::InitFailed => "InitFailed",
            TeardownReason::Deleted => "Deleted",
            TeardownReason::DeadlineExceeded => "DeadlineExceeded",
            TeardownReason::StartTimeout => "StartTimeout",
        }
    }
}

/// An app and its reported exit code; `None` while it still runs (or never ran).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppExit {
    pub name: String,
    #[serde(default)]
    pub exit_code: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeardownReport {
    pub cause: TeardownReason,
    /// In declaration order.
    pub apps: Vec<AppExit>,
}

/// The environment variables (and the lines of the teardown file, which a shell can source).
pub const ENV_CAUSE: &str = "PODINIT_TEARDOWN_CAUSE";
pub const ENV_APP_EXIT_CODES: &str = "PODINIT_APP_EXIT_CODES";

impl TeardownReport {
    /// `PODINIT_TEARDOWN_CAUSE=AppFailed`, `PODINIT_APP_EXIT_CODES=app=3,worker=-` (`-`: still
    /// running). Container names are DNS labels and the cause a fixed token, so the values need
    /// no quoting.
    pub fn env(&self) -> [(&'static str, String); 2] {
        let codes: Vec<String> = self
            .apps
            .iter()
            .map(|a| match a.exit_code {
                Some(c) => format!("{}={c}", a.name),
                None => format!("{}=-", a.name),
            })
            .collect();
        [
            (ENV_CAUSE, self.cause.as_str().to_owned()),
            (ENV_APP_EXIT_CODES, codes.join(",")),
        ]
    }

    /// The teardown file's text: the [`env`](Self::env) pairs, one `KEY=VALUE` line each.
    pub fn file_text(&self) -> String {
        self.env()
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    }
}

impl Engine {
    /// The report for the teardown under way, if one is.
    pub(super) fn teardown_report(&self) -> Option<TeardownReport> {
        let td = self.teardown.as_ref()?;
        let apps: Vec<AppExit> = self
            .containers
            .iter()
            .filter(|c| c.kind() == Some(Kind::App))
            .map(|c| AppExit {
                name: c.name.clone(),
                exit_code: c.exit_code,
            })
            .collect();
        let cause = match td.cause {
            TeardownCause::JobComplete if apps.iter().any(|a| a.exit_code != Some(0)) => {
                TeardownReason::AppFailed
            }
            TeardownCause::JobComplete => TeardownReason::JobComplete,
            TeardownCause::InitFailed => TeardownReason::InitFailed,
            TeardownCause::Deleted => TeardownReason::Deleted,
            TeardownCause::DeadlineExceeded => TeardownReason::DeadlineExceeded,
            TeardownCause::StartTimeout => TeardownReason::StartTimeout,
        };
        Some(TeardownReport { cause, apps })
    }
}
