//! Writes to the state dir that can fail (a full disk, a read-only remount, a removed
//! directory): what the error means for the operator, and logging it once per failure streak
//! instead of once per write (a full disk under a busy pod would flood the log).

use std::path::Path;

use crate::{log_error, log_info};

/// What to do about a failed write in `dir`, for the log line that names the path.
pub fn remedy(e: &std::io::Error, dir: &Path) -> String {
    let dir = dir.display();
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => format!("free space in {dir}"),
        Some(libc::EROFS) => format!("{dir} is on a read-only file system: remount it read-write"),
        Some(libc::ENOENT) => format!("{dir} was removed: create it again"),
        Some(libc::EACCES) | Some(libc::EPERM) => {
            format!("the supervisor may not write {dir}: check its owner and mode")
        }
        _ => format!("check {dir}"),
    }
}

/// Whether writes of one file are failing, so the first failure and the recovery are logged and
/// the writes in between are not.
#[derive(Debug, Default)]
pub struct Health {
    failing: Option<String>,
}

impl Health {
    /// A write failed; logs `what` (which names the path and the remedy) if it worked before.
    pub fn failed(&mut self, what: String) {
        if self.failing.is_none() {
            log_error!("supervise: {what}");
        }
        self.failing = Some(what);
    }

    /// A write worked; logs `what` if it failed before.
    pub fn worked(&mut self, what: impl FnOnce() -> String) {
        if self.failing.take().is_some() {
            log_info!("supervise: {}", what());
        }
    }

    /// The last failure, while writes fail.
    pub fn failure(&self) -> Option<&str> {
        self.failing.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_errno_gets_its_remedy() {
        let dir = Path::new("/s");
        let e = |n| std::io::Error::from_raw_os_error(n);
        assert_eq!(remedy(&e(libc::ENOSPC), dir), "free space in /s");
        assert!(remedy(&e(libc::EROFS), dir).contains("remount it read-write"));
        assert!(remedy(&e(libc::ENOENT), dir).contains("was removed"));
        assert!(remedy(&e(libc::EACCES), dir).contains("owner and mode"));
        assert_eq!(remedy(&e(libc::EIO), dir), "check /s");
    }

    #[test]
    fn a_failure_streak_is_one_failure_until_a_write_works() {
        let mut h = Health::default();
        h.failed("a".into());
        h.failed("b".into());
        assert_eq!(h.failure(), Some("b"));
        h.worked(|| "back".into());
        assert_eq!(h.failure(), None);
    }
}
