//! The state dir on disk, shared by the supervisor (writes) and `podinit status`/`stop` (read it
//! when the supervisor is gone):
//!
//! ```text
//! <state-dir>/sock/init.sock           the containers' socket (bind-mounted read-only)
//! <state-dir>/pods/<pod>/journal.jsonl the pod's write-ahead journal; a finished pod's ends with
//!                                      {"record":"finished",...}
//! <state-dir>/pods/<pod>/status.json   the pod's status, replaced atomically on every change
//! <state-dir>/status.json              symlink to the newest pod's status.json (one-pod users)
//! <state-dir>/archive/<pod>@<ms>/      an older pod of a key that registered again
//! <state-dir>/claims/<nonce>.json       a registration `inject --no-hooks` left for an init to claim
//! ```
//!
//! At most [`MAX_FINISHED_PODS`] finished pods are kept (in `pods/` and `archive/` together, the
//! newest by the time their status was last written); live pods are never removed.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::plan::PodKey;

pub const MAX_FINISHED_PODS: usize = 64;
pub const STATUS_FILE: &str = "status.json";
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// Present once a finished pod's result was passed on (`Pod::result_reported`).
pub const REPORTED_FILE: &str = "result-reported";

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn pods_dir(&self) -> PathBuf {
        self.root.join("pods")
    }

    pub fn pod_dir(&self, key: &PodKey) -> PathBuf {
        self.pods_dir().join(key.as_str())
    }

    pub fn archive_dir(&self) -> PathBuf {
        self.root.join("archive")
    }

    pub fn status_link(&self) -> PathBuf {
        self.root.join(STATUS_FILE)
    }

    /// The pods that have a directory, in key order. Entries that are not valid keys (nothing
    /// podinit wrote) are skipped.
    pub fn pod_keys(&self) -> Vec<PodKey> {
        let mut keys: Vec<PodKey> = std::fs::read_dir(self.pods_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| PodKey::parse(&e.file_name().to_string_lossy()).ok())
            .collect();
        keys.sort();
        keys
    }

    /// A pod's status.json, or what is wrong with it, naming the file.
    pub fn read_status(&self, key: &PodKey) -> Result<Value, String> {
        let path = self.pod_dir(key).join(STATUS_FILE);
        super::pod::read_status(&path).map_err(|e| format!("{}: unreadable: {e}", path.display()))
    }

    /// Point `<state-dir>/status.json` at this pod's (a relative symlink, replaced by rename so a
    /// reader never finds it missing).
    pub fn link_status(&self, key: &PodKey) -> std::io::Result<()> {
        let tmp = self.root.join(".status.json.link");
        let _ = std::fs::remove_file(&tmp);
        let target = Path::new("pods").join(key.as_str()).join(STATUS_FILE);
        std::os::unix::fs::symlink(target, &tmp)?;
        std::fs::rename(&tmp, self.status_link())
    }

    /// Move a finished pod's directory out of the way so its key starts a fresh pod.
    pub fn archive(&self, key: &PodKey) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(self.archive_dir())?;
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        // '@' is not in a key's charset: an archive name never looks like a key.
        let mut to = self.archive_dir().join(format!("{key}@{ms}"));
        let mut n = 0;
        while to.exists() {
            n += 1;
            to = self.archive_dir().join(format!("{key}@{ms}.{n}"));
        }
        std::fs::rename(self.pod_dir(key), &to)?;
        Ok(to)
    }

    /// Remove the oldest finished pod directories beyond `keep`; `live` pods are never touched.
    pub fn prune(&self, keep: usize, live: &dyn Fn(&PodKey) -> bool) {
        let finished = self
            .pod_keys()
            .into_iter()
            .filter(|k| !live(k))
            .map(|k| self.pod_dir(&k));
        let archived = std::fs::read_dir(self.archive_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path());
        let mut dirs: Vec<(SystemTime, PathBuf)> = finished
            .chain(archived)
            .map(|d| (last_written(&d), d))
            .collect();
        if dirs.len() <= keep {
            return;
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
        for (_, dir) in dirs.into_iter().skip(keep) {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                crate::log_warn!("supervise: cannot remove old pod {}: {e}", dir.display());
            }
        }
    }

    /// A journal from a supervisor that served one pod at the top of the state dir becomes the
    /// default pod's, so an upgrade in the middle of a pod carries on with it.
    pub fn migrate_single_pod_journal(&self) -> std::io::Result<()> {
        let old = self.root.join(JOURNAL_FILE);
        if !old.exists() {
            return Ok(());
        }
        let dir = self.pod_dir(&PodKey::default_pod());
        if dir.exists() {
            return Ok(());
        }
        std::fs::create_dir_all(&dir)?;
        std::fs::rename(old, dir.join(JOURNAL_FILE))
    }
}

/// When a pod dir last changed: its status file's mtime, else the directory's.
fn last_written(dir: &Path) -> SystemTime {
    std::fs::metadata(dir.join(STATUS_FILE))
        .or_else(|_| std::fs::metadata(dir))
        .and_then(|m| m.modified())
        .unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> Layout {
        let dir =
            std::env::temp_dir().join(format!("podinit-layout-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Layout::new(&dir)
    }

    fn key(s: &str) -> PodKey {
        PodKey::parse(s).unwrap()
    }

    fn make_pod(l: &Layout, k: &str, mtime_s: u64) {
        let d = l.pod_dir(&key(k));
        std::fs::create_dir_all(&d).unwrap();
        let f = std::fs::File::create(d.join(STATUS_FILE)).unwrap();
        f.set_modified(UNIX_EPOCH + std::time::Duration::from_secs(mtime_s))
            .unwrap();
    }

    #[test]
    fn prune_keeps_the_newest_finished_and_every_live_pod() {
        let l = scratch("prune");
        for i in 0..6 {
            make_pod(&l, &format!("p{i}"), 1_000 + i);
        }
        // p0 is the oldest but live.
        l.prune(3, &|k| k.as_str() == "p0");
        let left: Vec<String> = l.pod_keys().iter().map(|k| k.to_string()).collect();
        assert_eq!(left, ["p0", "p3", "p4", "p5"]);
        let _ = std::fs::remove_dir_all(l.root());
    }

    #[test]
    fn archive_frees_the_key_and_the_link_follows_the_newest() {
        let l = scratch("archive");
        make_pod(&l, "default", 1_000);
        l.link_status(&key("default")).unwrap();
        let to = l.archive(&key("default")).unwrap();
        assert!(to.join(STATUS_FILE).exists());
        assert!(l.pod_keys().is_empty());
        make_pod(&l, "default", 2_000);
        std::fs::write(
            l.pod_dir(&key("default")).join(STATUS_FILE),
            b"{\"phase\":\"Running\"}",
        )
        .unwrap();
        let via_link: Value =
            serde_json::from_slice(&std::fs::read(l.status_link()).unwrap()).unwrap();
        assert_eq!(via_link["phase"], "Running");
        // Archived pods count against the bound too.
        l.prune(1, &|_| false);
        assert!(std::fs::read_dir(l.archive_dir()).unwrap().next().is_none());
        assert_eq!(l.pod_keys(), [key("default")]);
        let _ = std::fs::remove_dir_all(l.root());
    }

    #[test]
    fn entries_that_are_not_keys_are_ignored() {
        let l = scratch("junk");
        std::fs::create_dir_all(l.pods_dir().join(".tmp")).unwrap();
        std::fs::write(l.pods_dir().join("file"), b"").unwrap();
        make_pod(&l, "ok", 1);
        assert_eq!(l.pod_keys(), [key("ok")]);
        let _ = std::fs::remove_dir_all(l.root());
    }
}
