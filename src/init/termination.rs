//! The termination message (`terminationMessagePath`, `terminationMessagePolicy`), read by the
//! init after the app ended, as the kubelet reads it after the container ended.
//!
//! The kubelet bind-mounts a fresh empty file, mode 0666, at the path of every new container
//! (`kuberuntime_container.go` `makeMounts`), so what it reads is what this run wrote. The init
//! runs the app in place, with no mount of its own: it creates the file empty (0666) when it is
//! absent, and takes a run's message only if the file changed during the run (inode, size,
//! modification or change time), never truncating a file it did not create (the path may name
//! a file of the image).
//!
//! Limits, from `pkg/kubelet/container/runtime.go` and `kuberuntime_container.go`
//! (`getTerminationMessage`, `readLastStringFromContainerLogs`): the file's last 4 KiB
//! (`MaxContainerTerminationMessageLength`, read with `tail.ReadAtMost`); under
//! `FallbackToLogsOnError`, when the file is empty and the exit code is not 0, the last 80
//! lines of output (`MaxContainerTerminationMessageLogLines`) within their last 2 KiB
//! (`MaxContainerTerminationMessageLogLength`, a ring buffer).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::engine::MAX_TERMINATION_MESSAGE;

/// `MaxContainerTerminationMessageLogLines`.
pub const MAX_LOG_LINES: usize = 80;
/// `MaxContainerTerminationMessageLogLength`.
pub const MAX_LOG_BYTES: usize = 2 * 1024;

/// What the file looked like when a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

fn snapshot_of(meta: &std::fs::Metadata) -> Snapshot {
    Snapshot {
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
    }
}

/// Before a run: the file exists (created empty, 0666, if it did not, so an app of any uid can
/// write it, as it can the kubelet's), and how it looks now. `None`: no file (its directory is
/// missing or read-only); a file the app creates later still counts.
pub fn prepare(path: &Path) -> Option<Snapshot> {
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o666)
        .open(path);
    if let Ok(f) = &created {
        // The umask narrowed the mode.
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o666));
    }
    std::fs::metadata(path).ok().map(|m| snapshot_of(&m))
}

/// After a run: the file's last [`MAX_TERMINATION_MESSAGE`] bytes if the run changed it.
pub fn read_if_changed(path: &Path, before: Option<Snapshot>) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || before == Some(snapshot_of(&meta)) {
        return None;
    }
    let len = meta.len();
    let max = MAX_TERMINATION_MESSAGE as u64;
    if len > max {
        file.seek(SeekFrom::Start(len - max)).ok()?;
    }
    let mut bytes = Vec::with_capacity(len.min(max) as usize);
    file.take(max).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The run's message: the file's, or under `FallbackToLogsOnError` for a failed run with an
/// empty file, the output's tail (kubelet `convertToKubeContainerStatus`).
pub fn message(
    file: Option<String>,
    fallback_to_logs: bool,
    exit_code: i32,
    tail: Option<&LogTail>,
) -> Option<String> {
    match file {
        Some(m) if !m.is_empty() => Some(m),
        _ if fallback_to_logs && exit_code != 0 => {
            tail.map(LogTail::text).filter(|t| !t.is_empty())
        }
        // An empty file is the same as none (the kubelet reports an empty message).
        _ => None,
    }
}

/// The last [`MAX_LOG_LINES`] lines of the app's output within their last [`MAX_LOG_BYTES`]:
/// a byte ring, so memory stays at 2 KiB however much the app writes.
#[derive(Debug, Default, Clone)]
pub struct LogTail {
    ring: std::collections::VecDeque<u8>,
}

impl LogTail {
    pub fn push(&mut self, bytes: &[u8]) {
        let keep = &bytes[bytes.len().saturating_sub(MAX_LOG_BYTES)..];
        let overflow = (self.ring.len() + keep.len()).saturating_sub(MAX_LOG_BYTES);
        self.ring.drain(..overflow);
        self.ring.extend(keep);
    }

    pub fn clear(&mut self) {
        self.ring.clear();
    }

    /// The kept bytes, cut to the last [`MAX_LOG_LINES`] lines.
    pub fn text(&self) -> String {
        let bytes: Vec<u8> = self.ring.iter().copied().collect();
        let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let start = body
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, b)| **b == b'\n')
            .nth(MAX_LOG_LINES - 1)
            .map_or(0, |(i, _)| i + 1);
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn tail(s: &str) -> LogTail {
        let mut t = LogTail::default();
        t.push(s.as_bytes());
        t
    }

    #[rstest]
    #[case::file_wins(Some("bye\n"), true, 1, Some("boom\n"), Some("bye\n"))]
    #[case::file_on_success(Some("done"), false, 0, None, Some("done"))]
    #[case::empty_file_no_fallback(Some(""), false, 1, Some("boom\n"), None)]
    #[case::no_file_no_fallback(None, false, 1, Some("boom\n"), None)]
    #[case::fallback_on_error(Some(""), true, 2, Some("boom\n"), Some("boom\n"))]
    #[case::fallback_without_file(None, true, 137, Some("boom\n"), Some("boom\n"))]
    #[case::no_fallback_on_success(Some(""), true, 0, Some("fine\n"), None)]
    #[case::fallback_with_no_output(None, true, 1, Some(""), None)]
    fn which_message(
        #[case] file: Option<&str>,
        #[case] fallback: bool,
        #[case] code: i32,
        #[case] output: Option<&str>,
        #[case] expected: Option<&str>,
    ) {
        let t = output.map(tail);
        assert_eq!(
            message(file.map(str::to_owned), fallback, code, t.as_ref()).as_deref(),
            expected
        );
    }

    #[test]
    fn the_tail_keeps_the_last_80_lines() {
        let text: String = (1..=100).map(|i| format!("{i}\n")).collect();
        let t = tail(&text).text();
        assert!(t.starts_with("21\n"), "{t:?}");
        assert!(t.ends_with("100\n"));
        assert_eq!(t.lines().count(), 80);
    }

    #[test]
    fn the_tail_keeps_the_last_2_kib() {
        let mut t = LogTail::default();
        for _ in 0..100 {
            t.push(&[b'x'; 100]);
        }
        t.push(b"end");
        let text = t.text();
        assert_eq!(text.len(), MAX_LOG_BYTES);
        assert!(text.ends_with("xend"));
        let mut big = LogTail::default();
        big.push(&vec![b'y'; 10 * MAX_LOG_BYTES]);
        assert_eq!(big.text().len(), MAX_LOG_BYTES);
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "podinit-lifecycle-termination-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_run_that_wrote_the_file_has_its_message_and_one_that_did_not_has_none() {
        let dir = temp("changed");
        let path = dir.join("termination-log");
        let before = prepare(&path);
        assert!(before.is_some(), "created");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666);
        assert_eq!(read_if_changed(&path, before), None, "untouched");
        std::fs::write(&path, "bye\n").unwrap();
        assert_eq!(read_if_changed(&path, before).as_deref(), Some("bye\n"));
        // The next run starts from what the last one left: unchanged means no message.
        let again = prepare(&path);
        assert_eq!(read_if_changed(&path, again), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_long_file_gives_its_last_4_kib() {
        let dir = temp("long");
        let path = dir.join("msg");
        let before = prepare(&path);
        let mut text = "a".repeat(10_000);
        text.push_str("the end");
        std::fs::write(&path, &text).unwrap();
        let m = read_if_changed(&path, before).unwrap();
        assert_eq!(m.len(), MAX_TERMINATION_MESSAGE);
        assert!(m.ends_with("the end"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_no_file() {
        let path = Path::new("/nonexistent-podinit-dir/termination-log");
        assert_eq!(prepare(path), None);
        assert_eq!(read_if_changed(path, None), None);
    }
}
