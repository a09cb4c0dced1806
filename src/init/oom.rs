//! OOM kills, read from the container's memory cgroup the way runtimes read them: cgroup v2
//! `memory.events` (`oom_kill N`), cgroup v1 `memory.oom_control` (`oom_kill N` since Linux
//! 4.13; `under_oom 1` on older kernels), compared between the start and the end of each run.
//!
//! Why the init and not the supervisor: the init reaps the app, so it reads the counter at the
//! moment it learns of the exit, and it sees the container's own cgroup at the root of its
//! `/sys/fs/cgroup` mount (runc, crun and every CRI runtime mount it there; runc's v1 layout
//! bind-mounts the container's cgroup of each controller, v2 a cgroup namespace's root). The
//! supervisor would have to map a host pid to a host cgroup path through the cgroup driver
//! (systemd slices or cgroupfs), which is not visible from where it may run (a sandbox VM's
//! agent, a nested runtime), and would race the init's report. The cost is two small reads per
//! run, off the signal path. Not covered: a container whose `/sys/fs/cgroup` is not mounted
//! (nothing to read: the exit reports `Error` as before), and an OOM kill of the init itself
//! (`memory.oom.group`): it cannot report, and the supervisor records the container as gone.

use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `memory.events`
    V2,
    /// `memory/memory.oom_control`
    V1,
}

/// One read of the counter file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// `oom_kill N`; absent on v1 before Linux 4.13.
    pub kills: Option<u64>,
    /// v1 `under_oom 1`: the cgroup is out of memory right now.
    pub under_oom: bool,
}

/// The files that may hold the container's counter, best first, from `/proc/self/cgroup`: the
/// init's own cgroup under the mount root (a host, or a cgroup namespace where it is `/`),
/// then the mount root itself (runc without a cgroup namespace mounts the container's cgroup
/// there, while `/proc/self/cgroup` still names the host path). v2 before v1: on a hybrid host
/// the unified hierarchy has no memory controller and its files are absent.
pub fn candidates(proc_self_cgroup: &str) -> Vec<(PathBuf, Version)> {
    let root = Path::new(CGROUP_ROOT);
    let mut out = Vec::new();
    let mut v1 = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if id == "0" && controllers.is_empty() {
            out.push((root.join(rel).join("memory.events"), Version::V2));
        } else if controllers.split(',').any(|c| c == "memory") {
            v1.push((
                root.join("memory").join(rel).join("memory.oom_control"),
                Version::V1,
            ));
        }
    }
    out.push((root.join("memory.events"), Version::V2));
    out.extend(v1);
    out.push((root.join("memory/memory.oom_control"), Version::V1));
    out.dedup();
    out
}

/// `oom_kill N` (both versions) and `under_oom 1` (v1) from a counter file's text.
pub fn parse(text: &str) -> Option<Reading> {
    let mut kills = None;
    let mut under_oom = false;
    let mut any = false;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(key), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        match key {
            "oom_kill" => {
                kills = value.parse().ok();
                any = true;
            }
            "under_oom" => {
                under_oom = value == "1";
                any = true;
            }
            "oom" | "oom_kill_disable" | "max" | "high" | "low" => any = true,
            _ => {}
        }
    }
    any.then_some(Reading { kills, under_oom })
}

/// Whether the run between `before` and `after` saw an OOM kill: the counter rose; without a
/// counter (v1 before 4.13), the cgroup was still under OOM when the app ended.
pub fn oom_killed(before: Option<Reading>, after: Option<Reading>) -> bool {
    match (before.and_then(|r| r.kills), after) {
        (Some(b), Some(Reading { kills: Some(a), .. })) => a > b,
        (_, Some(r)) => r.kills.is_none() && r.under_oom,
        (_, None) => false,
    }
}

/// The container's counter file, found once per init.
#[derive(Debug, Clone)]
pub struct Counter {
    path: PathBuf,
}

impl Counter {
    /// The first candidate that reads as a counter file, with that reading (a first run's
    /// "before" when the search is made at its start: the file is not read twice); `None`
    /// when the container has no memory cgroup mounted.
    pub fn locate() -> Option<(Counter, Reading)> {
        let own = crate::sys::procfs::read("/proc/self/cgroup").unwrap_or_default();
        candidates(&own).into_iter().find_map(|(path, _)| {
            let text = crate::sys::procfs::read(&path).ok()?;
            parse(&text).map(|reading| (Counter { path }, reading))
        })
    }

    pub fn read(&self) -> Option<Reading> {
        parse(&crate::sys::procfs::read(&self.path).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[rstest]
    #[case::v2_cgroup_namespace("0::/\n", vec![
        (p("/sys/fs/cgroup/memory.events"), Version::V2),
        (p("/sys/fs/cgroup/memory/memory.oom_control"), Version::V1),
    ])]
    #[case::v2_host_path("0::/kubepods/pod1/c1\n", vec![
        (p("/sys/fs/cgroup/kubepods/pod1/c1/memory.events"), Version::V2),
        (p("/sys/fs/cgroup/memory.events"), Version::V2),
        (p("/sys/fs/cgroup/memory/memory.oom_control"), Version::V1),
    ])]
    #[case::v1_runc_without_cgroup_namespace("4:memory:/process_api/x/c1\n0::/c1\n", vec![
        (p("/sys/fs/cgroup/c1/memory.events"), Version::V2),
        (p("/sys/fs/cgroup/memory.events"), Version::V2),
        (p("/sys/fs/cgroup/memory/process_api/x/c1/memory.oom_control"), Version::V1),
        (p("/sys/fs/cgroup/memory/memory.oom_control"), Version::V1),
    ])]
    #[case::v1_combined_controllers("7:memory,hugetlb:/\n", vec![
        (p("/sys/fs/cgroup/memory.events"), Version::V2),
        (p("/sys/fs/cgroup/memory/memory.oom_control"), Version::V1),
    ])]
    #[case::garbage("nonsense\n::\n", vec![
        (p("/sys/fs/cgroup/memory.events"), Version::V2),
        (p("/sys/fs/cgroup/memory/memory.oom_control"), Version::V1),
    ])]
    fn where_to_look(#[case] proc_self_cgroup: &str, #[case] expected: Vec<(PathBuf, Version)>) {
        assert_eq!(candidates(proc_self_cgroup), expected);
    }

    #[rstest]
    #[case::v2("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n", Some(Reading { kills: Some(2), under_oom: false }))]
    #[case::v1("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n", Some(Reading { kills: Some(1), under_oom: false }))]
    #[case::v1_before_4_13("oom_kill_disable 1\nunder_oom 1\n", Some(Reading { kills: None, under_oom: true }))]
    #[case::not_a_counter_file("hello\n", None)]
    #[case::empty("", None)]
    fn readings(#[case] text: &str, #[case] expected: Option<Reading>) {
        assert_eq!(parse(text), expected);
    }

    const fn r(kills: Option<u64>, under_oom: bool) -> Option<Reading> {
        Some(Reading { kills, under_oom })
    }

    #[rstest]
    #[case::counter_rose(r(Some(0), false), r(Some(1), false), true)]
    #[case::counter_unchanged(r(Some(4), false), r(Some(4), false), false)]
    #[case::an_earlier_run_was_killed(r(Some(1), false), r(Some(1), false), false)]
    #[case::no_baseline_but_a_counter(None, r(Some(3), false), false)]
    #[case::old_v1_still_under_oom(r(None, false), r(None, true), true)]
    #[case::old_v1_not_under_oom(r(None, false), r(None, false), false)]
    #[case::unreadable_at_the_end(r(Some(0), false), None, false)]
    fn decisions(
        #[case] before: Option<Reading>,
        #[case] after: Option<Reading>,
        #[case] expected: bool,
    ) {
        assert_eq!(oom_killed(before, after), expected);
    }
}
