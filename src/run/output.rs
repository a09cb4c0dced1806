//! Container output: each container's stdout and stderr are pipes the runner reads (one thread
//! per stream: a blocking copy, no event loop to share), written as they come to
//! `logs/<container>.log` (what the container wrote, both streams) and, line by line, to the
//! pod's stdlog directory as the CRI log format containerd writes
//! (`2025-04-29T11:26:06.783205694+08:00 stdout F line`; a line longer than 16 KiB, or one the
//! stream ends without a newline, is written in `P` parts), one file per container incarnation:
//! `<container>/<restartCount>.log`, where ACK's stdlog volume shows it, so a log sidecar reads
//! the app's output live. Each line is one write(2) on an unbuffered file: a `tail -f` sees it
//! at once.
//!
//! A sidecar restarts inside its container (the same pipes), so the incarnation is the
//! container's `restartCount` in status.json when the line arrives (re-read whenever the file
//! was replaced): lines a new incarnation writes before the supervisor records its restart go
//! to the previous file.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// containerd's default `max_container_log_line_size`.
const MAX_LINE: usize = 16 * 1024;

/// Which status.json was read: (inode, mtime seconds, mtime nanoseconds).
type FileVersion = (u64, i64, i64);

/// Every container's restart count, from the supervisor's status.json.
pub struct Restarts {
    status: PathBuf,
    /// The status.json read last, and its counts.
    seen: Mutex<(Option<FileVersion>, BTreeMap<String, u32>)>,
}

impl Restarts {
    pub fn new(status: PathBuf) -> Arc<Self> {
        Arc::new(Restarts {
            status,
            seen: Mutex::default(),
        })
    }

    /// Container `name`'s restartCount now (0 before the supervisor wrote any).
    fn count(&self, name: &str) -> u32 {
        use std::os::unix::fs::MetadataExt;
        let Ok(mut seen) = self.seen.lock() else {
            return 0;
        };
        if let Ok(m) = std::fs::metadata(&self.status) {
            let key = Some((m.ino(), m.mtime(), m.mtime_nsec()));
            if seen.0 != key {
                let doc = std::fs::read(&self.status)
                    .ok()
                    .and_then(|b| crate::status::Document::parse(&b).ok());
                seen.1 = doc
                    .into_iter()
                    .flat_map(|d| d.containers)
                    .map(|c| (c.name, c.restart_count))
                    .collect();
                seen.0 = key;
            }
        }
        seen.1.get(name).copied().unwrap_or(0)
    }
}

/// The current incarnation's stdlog file of one container, shared by its two streams.
struct StdLog {
    dir: PathBuf,
    incarnation: Option<u32>,
    file: Option<File>,
}

impl StdLog {
    fn write(&mut self, incarnation: u32, line: &[u8]) {
        if self.incarnation != Some(incarnation) {
            self.incarnation = Some(incarnation);
            self.file = std::fs::create_dir_all(&self.dir)
                .and_then(|()| {
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(self.dir.join(format!("{incarnation}.log")))
                })
                .map_err(|e| crate::log_warn!("stdlog {}: {e}", self.dir.display()))
                .ok();
        }
        if let Some(f) = &mut self.file {
            let _ = f.write_all(line);
        }
    }
}

/// The copying threads of every container.
#[derive(Default)]
pub struct Capture {
    threads: Vec<JoinHandle<()>>,
}

impl Capture {
    /// Pipes for container `name`'s stdout and stderr (the write ends, for `runc create`),
    /// copied by two new threads into `raw` (created) and `stdlog/<name>/`.
    pub fn container(
        &mut self,
        name: &str,
        raw: &Path,
        stdlog: &Path,
        restarts: &Arc<Restarts>,
    ) -> Result<(OwnedFd, OwnedFd), String> {
        let raw = File::create(raw).map_err(|e| format!("{}: {e}", raw.display()))?;
        let log = Arc::new(Mutex::new(StdLog {
            dir: stdlog.join(name),
            incarnation: None,
            file: None,
        }));
        let mut ends = Vec::new();
        for stream in ["stdout", "stderr"] {
            let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| format!("pipe: {e}"))?;
            let raw = raw.try_clone().map_err(|e| e.to_string())?;
            let (log, restarts, owned) = (log.clone(), restarts.clone(), name.to_owned());
            let t = std::thread::Builder::new()
                .name(format!("{name}-{stream}"))
                .spawn(move || copy(File::from(read), raw, stream, &log, &restarts, &owned))
                .map_err(|e| format!("starting the {name} {stream} reader: {e}"))?;
            self.threads.push(t);
            ends.push(write);
        }
        let err = ends.pop().ok_or("no pipe")?;
        let out = ends.pop().ok_or("no pipe")?;
        Ok((out, err))
    }

    /// Wait for every stream to end (the containers are gone), at most `limit`: a process that
    /// escaped with a copy of a pipe must not hold the runner.
    pub fn finish(self, limit: Duration) {
        let deadline = Instant::now() + limit;
        for t in self.threads {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn copy(
    mut from: File,
    mut raw: File,
    stream: &str,
    log: &Mutex<StdLog>,
    restarts: &Restarts,
    name: &str,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    let emit = |line: &[u8], full: bool| {
        let n = restarts.count(name);
        let text = cri_line(&timestamp(SystemTime::now()), stream, full, line);
        if let Ok(mut l) = log.lock() {
            l.write(n, &text);
        }
    };
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let _ = raw.write_all(&buf[..n]);
        pending.extend_from_slice(&buf[..n]);
        loop {
            let window = &pending[..pending.len().min(MAX_LINE + 1)];
            if let Some(i) = window.iter().position(|b| *b == b'\n') {
                emit(&pending[..i], true);
                pending.drain(..=i);
            } else if pending.len() > MAX_LINE {
                emit(&pending[..MAX_LINE], false);
                pending.drain(..MAX_LINE);
            } else {
                break;
            }
        }
    }
    if !pending.is_empty() {
        emit(&pending, false);
    }
}

/// One CRI log line: `TIMESTAMP STREAM F|P CONTENT\n`.
pub fn cri_line(timestamp: &str, stream: &str, full: bool, content: &[u8]) -> Vec<u8> {
    let mut out = format!("{timestamp} {stream} {} ", if full { 'F' } else { 'P' }).into_bytes();
    out.extend_from_slice(content);
    out.push(b'\n');
    out
}

/// Go's `time.RFC3339Nano` of `t` in local time, as containerd stamps log lines.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    // libc deprecates the name time_t on musl (it changed width in musl 1.2); the type is fine.
    #[allow(deprecated)]
    let secs = d.as_secs() as libc::time_t;
    // SAFETY: an all-zero tm is valid; localtime_r writes into it and reads only `secs`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is thread-safe.
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        // SAFETY: as above.
        unsafe { libc::gmtime_r(&secs, &mut tm) };
        tm.tm_gmtoff = 0;
    }
    rfc3339_nano(
        [
            i64::from(tm.tm_year) + 1900,
            i64::from(tm.tm_mon) + 1,
            i64::from(tm.tm_mday),
            i64::from(tm.tm_hour),
            i64::from(tm.tm_min),
            i64::from(tm.tm_sec),
        ],
        d.subsec_nanos(),
        tm.tm_gmtoff,
    )
}

/// `[year, month, day, hour, minute, second]`, nanoseconds (trailing zeros dropped, as Go's
/// `.999999999` does) and the UTC offset in seconds (`Z` for none).
fn rfc3339_nano(c: [i64; 6], nanos: u32, offset: i64) -> String {
    let mut frac = format!(".{nanos:09}");
    while frac.ends_with('0') {
        frac.pop();
    }
    if frac == "." {
        frac.clear();
    }
    let zone = if offset == 0 {
        "Z".to_owned()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let m = offset.abs() / 60;
        format!("{sign}{:02}:{:02}", m / 60, m % 60)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}{zone}",
        c[0], c[1], c[2], c[3], c[4], c[5]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_as_go_formats_rfc3339_nano() {
        assert_eq!(
            rfc3339_nano([2025, 4, 29, 11, 26, 6], 783_205_694, 8 * 3600),
            "2025-04-29T11:26:06.783205694+08:00"
        );
        assert_eq!(
            rfc3339_nano([2025, 1, 2, 3, 4, 5], 120_000_000, 0),
            "2025-01-02T03:04:05.12Z"
        );
        assert_eq!(
            rfc3339_nano([2025, 1, 2, 3, 4, 5], 0, -(5 * 3600 + 30 * 60)),
            "2025-01-02T03:04:05-05:30"
        );
        let now = timestamp(SystemTime::now());
        assert!(now.len() >= 20 && now.as_bytes()[10] == b'T', "{now}");
    }

    fn lines_of(input: &[u8]) -> (Vec<u8>, String) {
        let dir = std::env::temp_dir().join(format!(
            "podinit-output-test-{}-{}",
            std::process::id(),
            input.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let restarts = Restarts::new(dir.join("status.json"));
        let mut cap = Capture::default();
        let (out, err) = cap
            .container("app", &dir.join("app.log"), &dir.join("std"), &restarts)
            .unwrap();
        File::from(out).write_all(input).unwrap();
        drop(err);
        cap.finish(Duration::from_secs(10));
        let raw = std::fs::read(dir.join("app.log")).unwrap();
        let std = std::fs::read_to_string(dir.join("std/app/0.log")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (raw, std)
    }

    #[test]
    fn a_restart_in_status_json_starts_the_next_file() {
        let dir =
            std::env::temp_dir().join(format!("podinit-output-restart-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let restarts = Restarts::new(dir.join("status.json"));
        let mut cap = Capture::default();
        let (out, err) = cap
            .container("app", &dir.join("app.log"), &dir.join("std"), &restarts)
            .unwrap();
        let mut out = File::from(out);
        out.write_all(b"first\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(dir.join("std/app/0.log")).is_ok_and(|s| s.contains("first"))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        // The supervisor replaces status.json (write, rename) when the container restarts.
        std::fs::write(
            dir.join("tmp"),
            r#"{"phase": "Running", "containers": [{"name": "app", "state": "running", "restartCount": 1}]}"#,
        )
        .unwrap();
        std::fs::rename(dir.join("tmp"), dir.join("status.json")).unwrap();
        out.write_all(b"second\n").unwrap();
        drop((out, err));
        cap.finish(Duration::from_secs(10));
        let read = |f: &str| std::fs::read_to_string(dir.join("std/app").join(f)).unwrap();
        assert!(
            read("0.log").ends_with(" stdout F first\n"),
            "{}",
            read("0.log")
        );
        assert!(
            read("1.log").ends_with(" stdout F second\n"),
            "{}",
            read("1.log")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn full_lines_partial_lines_and_the_raw_log() {
        let (raw, std) = lines_of(b"one\ntwo\nend");
        assert_eq!(raw, b"one\ntwo\nend");
        let tagged: Vec<&str> = std.lines().map(|l| l.split_once(' ').unwrap().1).collect();
        assert_eq!(tagged, ["stdout F one", "stdout F two", "stdout P end"]);
        let long = vec![b'x'; MAX_LINE + 10];
        let mut input = long.clone();
        input.push(b'\n');
        let (_, std) = lines_of(&input);
        let tags: Vec<(&str, usize)> = std
            .lines()
            .map(|l| {
                let mut p = l.splitn(4, ' ');
                let _ = p.next();
                let _ = p.next();
                (p.next().unwrap(), p.next().unwrap().len())
            })
            .collect();
        assert_eq!(tags, [("P", MAX_LINE), ("F", 10)]);
    }
}
