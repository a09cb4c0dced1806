//! The pod's teardown, as the supervisor tells it (`engine::TeardownReport`): written to
//! [`CONTAINER_TEARDOWN_FILE`] for the app and the sidecar to read (a log sidecar flushing says
//! why it stops), and put in the init's own environment, which every handler and probe it
//! spawns from then on inherits — so each preStop sees `PODINIT_TEARDOWN_CAUSE` and
//! `PODINIT_APP_EXIT_CODES`.

use std::path::Path;

use crate::engine::TeardownReport;
use crate::log_debug;
use crate::proto::{CONTAINER_RUN_DIR, CONTAINER_TEARDOWN_FILE};

pub fn record(name: &str, report: &TeardownReport) {
    for (key, value) in report.env() {
        // SAFETY: the in-container init is single-threaded (one epoll loop, children are
        // separate processes), so nothing reads the environment while it changes.
        unsafe { std::env::set_var(key, value) };
    }
    if let Err(e) = write(Path::new(CONTAINER_TEARDOWN_FILE), &report.file_text()) {
        // Without `podinit inject`'s tmpfs (the hook channels, a bundle an older podinit
        // prepared) there is nowhere to write; the handlers still have the environment.
        log_debug!("{name}: cannot write {CONTAINER_TEARDOWN_FILE}: {e}");
    }
}

/// Whole or not at all: a reader never sees half a file (temp file + rename).
fn write(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = Path::new(CONTAINER_RUN_DIR).join(".teardown.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
