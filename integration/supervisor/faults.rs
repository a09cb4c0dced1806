//! Faults around the supervisor (issue 15 deliverable 5), each with the outcome
//! docs/reliability.md ("Failure modes") defines: real runc Job pods on a shared
//! `podinit supervise` whose state dir is a small tmpfs of this test's own.
//!
//! | test | fault | outcome checked |
//! |---|---|---|
//! | f01 | the state dir fills up while the app runs | the pod ends in memory, `podinit status` says so (warnings), the log names the journal and "free space"; once there is space the journal and status.json catch up; a restart replays nothing |
//! | f02 | the state dir is remounted read-only while the app runs | the same, with "remount it read-write"; a supervisor started on the read-only dir refuses, naming it |
//! | f03 | the journal's last record cut mid-write while no supervisor runs | the restarted one says it dropped a partial record, the pod ends with the runtime's statuses |
//! | f04 | a finished pod's status.json replaced by garbage | `podinit status` without a supervisor names the file and what to do; a supervisor start rewrites it from the journal |
//! | f05 | `<state>/sock` removed under a running pod | the pod ends with the runtime's statuses; the supervisor says so and listens again |
//! | f06 | a `--exit-with-pod` supervisor SIGKILLed after its pod ended, before it exited (the state dir such a kill leaves) | the restarted one exits at once with the pod's result; once a result was reported, a new one waits for a pod |

use crate::pod;
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use podinit::engine::Phase;
use podinit::status::Document;
use serde_json::{Value, json};

use pod::{Container, CreateOrder, PodOutcome, PodTest, RunningPod, SharedSupervisor};

/// A tmpfs of this test at `at`, unmounted (lazily: a listening socket pins it) when dropped,
/// also when the test fails.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mount a tmpfs on {}", at.display());
        Tmpfs(at.to_path_buf())
    }

    fn remount(&self, opt: &str) {
        remount(&self.0, opt);
    }

    /// Writes a file until the tmpfs is full.
    fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=4k"])
            .arg(format!("of={}", filler.display()))
            .stderr(std::process::Stdio::null())
            .status();
        filler
    }
}

fn remount(at: &Path, opt: &str) {
    let ok = Command::new("mount")
        .args(["-o", &format!("remount,{opt}")])
        .arg(at)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mount -o remount,{opt} {}", at.display());
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn job(name: &str, work_s: &str) -> PodTest {
    job_exiting(name, work_s, 0)
}

fn job_exiting(name: &str, work_s: &str, app_exit: i32) -> PodTest {
    PodTest::new(name)
        .timeout(Duration::from_secs(30))
        .cmd_timeout(Duration::from_secs(10))
        .supervisor_timeout(Duration::from_secs(15))
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "initContainers": [{"name": "sidecar", "image": "busybox", "restartPolicy": "Always",
                                "startupProbe": pod::waiting_probe("/dev/shm/ready")}],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "sidecar",
            "trap 'tlog got TERM; exit 0' TERM; tlog started; touch /dev/shm/ready\n\
             while :; do sleep 0.05; done",
        ))
        .add(Container::script(
            "app",
            &format!("tlog started\nsleep {work_s}\ntlog exiting\nexit {app_exit}"),
        ))
}

/// The only pod's status document, as the supervisor answers it.
fn status(sup: &SharedSupervisor) -> Document {
    let out = sup.podinit(&["status", "--json"]);
    assert!(
        out.status.success(),
        "podinit status: {out:?}\n{}",
        sup.log()
    );
    Document::parse(&out.stdout).unwrap_or_else(|e| panic!("not a status document: {e}: {out:?}"))
}

/// Every container's exit as the runtime saw it is what `doc` reports; Succeeded.
#[track_caller]
fn assert_runtime_agrees(out: &PodOutcome, doc: &Document, log: &str) {
    for name in ["sidecar", "app"] {
        let reported = doc.container(name).and_then(|c| c.exit_code);
        assert_eq!(
            out.exit_code(name),
            reported,
            "{name}: runtime vs podinit\n{doc:?}\n{out}\n--- supervisor\n{log}"
        );
    }
    assert_eq!(doc.phase, Phase::Succeeded, "{doc:?}\n{log}");
    assert!(out.cleanup.is_clean(), "{out}");
}

fn pod_file(sup: &SharedSupervisor, name: &str) -> PathBuf {
    sup.state_dir().join("pods/default").join(name)
}

/// The status document in `path`; `None` while it is missing or not one (mid-repair).
fn read_status(path: &Path) -> Option<Document> {
    Document::parse(&std::fs::read(path).ok()?).ok()
}

/// A state dir broken (`break_it`) while the app runs and repaired after the pod ended: the pod
/// ends in memory, says why its files are behind, and they catch up after the repair.
fn broken_then_repaired(
    name: &str,
    break_it: impl FnOnce(&Tmpfs) -> Box<dyn FnOnce()>,
    said: &str,
) {
    let mut tmpfs = None;
    let mut sup = SharedSupervisor::start_with(name, |state| {
        tmpfs = Some(Tmpfs::mount(state, "1m"));
    });
    let tmpfs = tmpfs.expect("mounted");
    // The harness waits for the pod's status.json to say finished, which it cannot while
    // broken: it is asked over the socket instead, so the harness's wait is short.
    let running: RunningPod = job(name, "1.5")
        .supervisor_timeout(Duration::from_millis(300))
        .on(&sup)
        .start(CreateOrder::Spec);
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "{}",
        sup.log()
    );
    let repair = break_it(&tmpfs);
    let out = running.finish();
    assert!(
        support::eventually(Duration::from_secs(10), || status(&sup).finished),
        "the pod did not finish: {:?}\n{out}\n--- supervisor\n{}",
        status(&sup),
        sup.log()
    );
    let live = status(&sup);
    let log = sup.log();
    // Which file fails first is the file system's choice (a tmpfs appends into a page it has
    // already): the journal, status.json, or both; each line names its file and the remedy.
    let journal_failed = log.contains("journal.jsonl: cannot append");
    assert!(
        (journal_failed || log.contains("status.json (")) && log.contains(said),
        "the log does not name the file and the remedy {said:?}\n{log}"
    );
    assert!(
        !live.warnings.is_empty(),
        "status does not say its files are behind: {live:?}"
    );
    assert_runtime_agrees(&out, &live, &log);

    repair();
    // Any wake-up writes what waits; a status request is one.
    assert!(
        support::eventually(Duration::from_secs(5), || {
            let _ = status(&sup);
            read_status(&pod_file(&sup, "status.json")).is_some_and(|d| d.finished)
        }),
        "status.json did not catch up\n{}",
        sup.log()
    );
    let recovered = if journal_failed {
        "appends work again"
    } else {
        "is written again"
    };
    assert!(sup.log().contains(recovered), "{}", sup.log());
    let journal = std::fs::read_to_string(pod_file(&sup, "journal.jsonl")).unwrap();
    assert!(
        journal
            .trim_end()
            .lines()
            .last()
            .unwrap_or("")
            .contains("\"finished\""),
        "the journal does not end with the pod's end:\n{journal}"
    );
    // A restarted supervisor finds the finished pod and replays nothing.
    sup.restart();
    let after = status(&sup);
    assert_runtime_agrees(&out, &after, &sup.log());
    assert!(after.warnings.is_empty(), "{after:?}");
    drop(sup);
}

#[test]
fn f01_full_state_dir_keeps_the_pod_in_memory_until_there_is_space() {
    pod::require!();
    broken_then_repaired(
        "f01-full",
        |t| {
            let filler = t.fill();
            Box::new(move || {
                let _ = std::fs::remove_file(filler);
            })
        },
        "free space in",
    );
}

#[test]
fn f02_read_only_state_dir_keeps_the_pod_in_memory_until_writable() {
    pod::require!();
    broken_then_repaired(
        "f02-ro",
        |t| {
            t.remount("ro");
            let at = t.0.clone();
            Box::new(move || remount(&at, "rw"))
        },
        "read-only file system: remount it read-write",
    );
}

#[test]
fn f02b_a_supervisor_started_on_a_read_only_state_dir_refuses_naming_it() {
    pod::require!();
    let mut tmpfs = None;
    let mut sup = SharedSupervisor::start_with("f02b-ro", |state| {
        tmpfs = Some(Tmpfs::mount(state, "1m"));
    });
    let tmpfs = tmpfs.expect("mounted");
    sup.kill();
    tmpfs.remount("ro");
    let out = support::run(&mut sup.supervise_cmd(), Duration::from_secs(10));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&sup.state_dir().display().to_string())
            && err.contains("remount it read-write"),
        "{err}"
    );
    tmpfs.remount("rw");
    sup.restart();
}

#[test]
fn f03_a_journal_cut_mid_record_is_replayed_up_to_the_last_complete_one() {
    pod::require!();
    let mut sup = SharedSupervisor::start("f03-cut");
    let running = job("f03-cut", "2").on(&sup).start(CreateOrder::Spec);
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "{}",
        sup.log()
    );
    // The record cut must be one a kill can tear: the last one, whose input was not answered
    // yet or is reported again by its init (here the app's start). Cutting the app's
    // registration instead — acknowledged before runc went on, so never torn by a kill — lost
    // the container in 1 of 6 runs when the supervisor was killed before the start arrived.
    let path = pod_file(&sup, "journal.jsonl");
    let last_is_the_apps_start = || {
        std::fs::read_to_string(&path).is_ok_and(|t| {
            t.lines().last().is_some_and(|l| {
                l.to_ascii_lowercase().contains("processstarted") && l.contains("\"app\"")
            })
        })
    };
    assert!(
        support::eventually(Duration::from_secs(10), last_is_the_apps_start),
        "the journal's last record is not the app's start\n{}",
        std::fs::read_to_string(&path).unwrap_or_default()
    );
    sup.kill();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
    sup.restart();
    let out = running.finish();
    let log = sup.log();
    assert!(
        log.contains("dropped a partial last record"),
        "the restart does not say it dropped the partial record\n{log}"
    );
    let doc = out.status().expect("status");
    assert_runtime_agrees(&out, &doc, &log);
    // The journal is whole again: every line a record.
    let text = std::fs::read_to_string(&path).unwrap();
    for (n, line) in text.lines().enumerate() {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "line {} is not a record: {line:?}",
            n + 1
        );
    }
}

#[test]
fn f04_a_garbage_status_file_is_named_and_rewritten_from_the_journal() {
    pod::require!();
    let mut sup = SharedSupervisor::start("f04-garbage");
    let out = job("f04-garbage", "0.2").on(&sup).run(CreateOrder::Spec);
    let good = out.status().expect("status");
    assert_runtime_agrees(&out, &good, &sup.log());
    sup.kill();
    let file = pod_file(&sup, "status.json");
    std::fs::write(&file, b"\x00garbage{").unwrap();
    let no_sup = sup.podinit(&["status"]);
    let err = String::from_utf8_lossy(&no_sup.stderr);
    assert_eq!(no_sup.status.code(), Some(1), "{no_sup:?}");
    assert!(
        err.contains(&file.display().to_string())
            && err.contains("unreadable")
            && err.contains("journal.jsonl")
            && err.contains("podinit supervise"),
        "{err}"
    );
    sup.restart();
    // Answered once the restart has resumed the state dir (its sockets are bound before).
    let _ = sup.podinit(&["status"]);
    let rewritten = read_status(&file).unwrap_or_else(|| panic!("not rewritten\n{}", sup.log()));
    assert_runtime_agrees(&out, &rewritten, &sup.log());
    assert!(rewritten.finished);
    assert!(
        sup.log().contains("rewritten from the journal"),
        "{}",
        sup.log()
    );
}

#[test]
fn f05_the_socket_dir_removed_under_a_running_pod_loses_no_status() {
    pod::require!();
    let sup = SharedSupervisor::start("f05-sock");
    let running = job("f05-sock", "1.5").on(&sup).start(CreateOrder::Spec);
    assert!(
        running.wait_for("app started", Duration::from_secs(15)),
        "{}",
        sup.log()
    );
    let sock_dir = sup.state_dir().join("sock");
    std::fs::remove_dir_all(&sock_dir).unwrap();
    let out = running.finish();
    let doc = out.status().expect("status");
    assert_runtime_agrees(&out, &doc, &sup.log());
    let log = sup.log();
    assert!(
        log.contains("init.sock was removed; listening there again"),
        "{log}"
    );
    assert!(
        std::os::unix::net::UnixStream::connect(sock_dir.join("init.sock")).is_ok(),
        "no socket again\n{log}"
    );
}

/// A `--exit-with-pod` supervisor (a one-pod sandbox's PID 1, or `podinit run`'s) SIGKILLed in
/// the instant between its pod's end and its own exit leaves a state dir with a finished pod
/// whose result nobody received; restarted, it used to wait forever for a pod that never
/// comes. Produced here from a real pod's state dir, cut the way such a kill leaves it.
#[test]
fn f06_a_restarted_exit_with_pod_supervisor_exits_with_the_result_its_predecessor_owed() {
    pod::require!();
    let mut sup = SharedSupervisor::start("f06-owed");
    let out = job_exiting("f06-owed", "0.2", 3)
        .on(&sup)
        .run(CreateOrder::Spec);
    let doc = out.status().expect("status");
    assert_eq!(doc.phase, Phase::Failed, "{doc:?}\n{}", sup.log());
    sup.kill();
    let journal = pod_file(&sup, "journal.jsonl");
    let reported = pod_file(&sup, "result-reported");
    assert!(
        reported.exists(),
        "a shared supervisor's finished pod is marked reported\n{}",
        sup.log()
    );
    let exit_with_pod = |what: &str| {
        let mut cmd = sup.supervise_cmd();
        cmd.arg("--exit-with-pod");
        let run = support::proc::run(&mut cmd, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let log = String::from_utf8_lossy(&run.stderr).into_owned();
        assert_eq!(
            run.status.code(),
            Some(1),
            "{what}: exits with the Failed pod's result\n{log}"
        );
        assert!(
            log.contains("did not exit with its result"),
            "{what}: {log}"
        );
        assert!(reported.exists(), "{what}: marked reported at the exit");
        let status = read_status(&pod_file(&sup, "status.json")).expect("status.json");
        assert_eq!(
            (status.phase, status.finished),
            (Phase::Failed, true),
            "{what}: {status:?}"
        );
    };

    // Killed after the app's exit was journalled, before the pod's end was.
    let text = std::fs::read_to_string(&journal).unwrap();
    let last = text.trim_end().rfind('\n').expect("more than one record");
    assert!(text[last..].contains("finished"), "{text}");
    std::fs::write(&journal, &text[..=last]).unwrap();
    std::fs::remove_file(&reported).unwrap();
    exit_with_pod("journal without its final record");

    // Killed after the final record, before the exit.
    std::fs::remove_file(&reported).unwrap();
    exit_with_pod("final record, not reported");

    // Reported: a new sandbox on this state dir waits for its own pod, and a SIGTERM ends it.
    let mut cmd = sup.supervise_cmd();
    let log_path = sup.dir().join("f06-waiting.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut waiting = cmd
        .arg("--exit-with-pod")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let still = waiting.try_wait().unwrap().is_none();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(waiting.id() as i32, libc::SIGTERM) };
    let ended = support::proc::wait_timeout(&mut waiting, Duration::from_secs(10));
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    if ended.is_none() {
        support::proc::kill_wait(&mut waiting);
    }
    assert!(still, "a reported result is not reported again\n{text}");
    assert_eq!(ended.and_then(|s| s.code()), Some(0), "{text}");
}
