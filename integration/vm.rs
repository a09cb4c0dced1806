//! `podinit run --vm` end to end: a real qemu (emulation on this host) boots the Debian cloud
//! kernel with podinit as the guest's PID 1 (`podinit sandbox-init`), and the pod runs under
//! runc inside. Assertions come from what the guest reported: its PID 1's own `/proc/self/exe`
//! and pid (the `up` event), the pod's status.json it sent over the control port, the timeline
//! and container output on its console, and the exit code of `podinit run --vm` (0 iff the pod
//! Succeeded and qemu ended through isa-debug-exit's success code).
//!
//! One VM at a time (a lock), each under a hard deadline; a boot takes about 10 s here.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use podinit::engine::{NoteKind, Phase};
use podinit::status::{Container, Document, Note};

use crate::support;

use support::skip::{Need, Root, program};

static ONE_VM: Mutex<()> = Mutex::new(());
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Far beyond a boot and a pod under emulation on a loaded 2-core machine.
const HARD_DEADLINE: Duration = Duration::from_secs(400);

/// Root (the initramfs carries the host's runc and kernel), qemu, runc, busybox, a kernel.
const NEEDS: &[Need] = &[
    Root,
    program("qemu-system-x86_64", "qemu-system-x86"),
    program("runc", "runc"),
    program("/bin/busybox", "busybox-static"),
    Need::BootKernel,
];

struct VmRun {
    work: PathBuf,
    code: Option<i32>,
    out: String,
}

impl VmRun {
    /// The status document the guest sent, as every reader types it; panics (with the run's
    /// output) when it is missing or does not read as one.
    fn status(&self) -> Document {
        let path = self.work.join("status.json");
        let text = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), self.out));
        Document::parse(&text).unwrap_or_else(|e| {
            panic!(
                "{}: not a status document: {e}\n{}",
                path.display(),
                self.out
            )
        })
    }

    fn container(&self, name: &str) -> Container {
        self.status()
            .container(name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in the guest's status:\n{}", self.out))
    }

    /// When `container`'s first timeline note of `kind` happened.
    fn at(&self, container: &str, kind: NoteKind) -> Duration {
        self.status()
            .timeline
            .iter()
            .find(|n| n.container.as_deref() == Some(container) && n.kind == kind)
            .and_then(Note::at_since_epoch)
            .unwrap_or_else(|| panic!("no {kind:?} for {container} in the timeline:\n{}", self.out))
    }

    fn assert_pid1_was_podinit(&self) {
        assert!(
            self.out
                .contains("vm: guest PID 1 is /sbin/podinit sandbox-init"),
            "the guest's PID 1 did not report as podinit:\n{}",
            self.out
        );
    }
}

impl Drop for VmRun {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.work);
        } else {
            eprintln!(
                "kept {} (initramfs, console.log, status.json)",
                self.work.display()
            );
        }
    }
}

/// `podinit run --vm ARGS MANIFEST`; with `interrupt_on`, SIGINT once a console line contains it.
fn boot(
    manifest: Option<&str>,
    args: &[&str],
    interrupt_on: Option<&str>,
    env: &[(&str, &str)],
) -> VmRun {
    let _one = ONE_VM.lock().unwrap_or_else(|e| e.into_inner());
    let work = std::env::temp_dir().join(format!(
        "podinit-vmtest-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&work);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_podinit"));
    cmd.args(["run", "--vm", "--keep", "--timeout", "150", "--work-dir"])
        .arg(&work)
        .args(args);
    if let Some(m) = manifest {
        cmd.arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata")
                .join(m),
        );
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("podinit run --vm");
    let pid = child.id() as i32;
    let stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
        s
    });
    let watchdog_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = watchdog_done.clone();
    std::thread::spawn(move || {
        let until = Instant::now() + HARD_DEADLINE;
        while Instant::now() < until {
            if done.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // SAFETY: SIGKILL to our own child by pid; qemu dies with it (PR_SET_PDEATHSIG).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let mut out = String::new();
    let mut interrupted = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        if let Some(marker) = interrupt_on {
            if !interrupted && line.contains(marker) {
                interrupted = true;
                // SAFETY: signalling our own child by pid.
                unsafe { libc::kill(pid, libc::SIGINT) };
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    let status = child.wait().expect("waiting for podinit run --vm");
    watchdog_done.store(true, Ordering::SeqCst);
    out.push_str(&err_reader.join().unwrap_or_default());
    VmRun {
        work,
        code: status.code(),
        out,
    }
}

/// The demo Job in spec order and app first: Succeeded, the sidecar's process before the app's,
/// the sidecar stopped after the app and reported 0, the guest's PID 1 podinit; also with the
/// guest's bundles prepared without hooks (`podinit.no-hooks=1`, their inits claim them).
#[rstest::rstest]
#[case::spec_order(&["--create-order", "spec"])]
#[case::app_first(&["--create-order", "reverse"])]
#[case::app_first_no_hooks(&["--create-order", "reverse", "--no-hooks"])]
fn the_demo_job_succeeds_in_a_vm_with_podinit_as_pid_1(#[case] args: &[&str]) {
    support::require!(NEEDS);
    let r = boot(None, args, None, &[]);
    if args.contains(&"--no-hooks") {
        assert!(
            r.out.contains(" without hooks (each init claims"),
            "{}",
            r.out
        );
    }
    assert_eq!(r.code, Some(0), "{}", r.out);
    r.assert_pid1_was_podinit();
    assert!(r.out.contains("pod test: Succeeded"), "{}", r.out);
    assert!(r.out.contains("vm: pod Succeeded"), "{}", r.out);
    let st = r.status();
    assert_eq!(st.phase, Phase::Succeeded, "{}", r.out);
    assert!(
        r.at("sidecar", NoteKind::Started) < r.at("app", NoteKind::ProcessStarted),
        "the app started before the sidecar:\n{}",
        r.out
    );
    assert!(
        r.at("app", NoteKind::Exited) <= r.at("sidecar", NoteKind::StopSignal),
        "{}",
        r.out
    );
    assert_eq!(r.container("sidecar").exit_code, Some(0), "{}", r.out);
    assert_eq!(r.container("app").exit_code, Some(0), "{}", r.out);
    // The app's output reached the sidecar through the shared emptyDir, inside the guest.
    assert!(r.out.contains("logging 3"), "{}", r.out);
}

/// An app that fails: `podinit run --vm` exits 1, the pod is Failed, the sidecar still stopped
/// with 0 after the app.
#[test]
fn a_failing_app_fails_the_pod_and_the_sidecar_still_stops_with_zero() {
    support::require!(NEEDS);
    let r = boot(Some("vm/failing-job.yaml"), &[], None, &[]);
    assert_eq!(r.code, Some(1), "{}", r.out);
    r.assert_pid1_was_podinit();
    assert_eq!(r.status().phase, Phase::Failed, "{}", r.out);
    assert_eq!(r.container("app").exit_code, Some(3), "{}", r.out);
    assert_eq!(r.container("sidecar").exit_code, Some(0), "{}", r.out);
    assert!(
        r.at("app", NoteKind::Exited) <= r.at("sidecar", NoteKind::StopSignal),
        "{}",
        r.out
    );
    assert!(r.out.contains("vm: pod Failed"), "{}", r.out);
}

/// Ctrl-C to `podinit run --vm` while the pod runs: deletion inside the guest, with grace, the
/// app stopped before the sidecar, both reported gone, the guest powered off. Delivered as
/// `delete` on the control port, or as a real Ctrl-Alt-Del through qemu's monitor, which the
/// guest kernel turns into SIGINT to PID 1 (PID 1 disabled CAD's reboot).
#[rstest::rstest]
#[case::control_port("control", "vm: deleting the pod in the guest")]
#[case::ctrl_alt_del(
    "ctrl-alt-del",
    "podinit sandbox-init: SIGINT received: deleting the pod"
)]
fn ctrl_c_deletes_the_pod_inside_the_guest_apps_first(#[case] via: &str, #[case] seen: &str) {
    support::require!(NEEDS);
    let r = boot(
        Some("pods/long-running.json"),
        &[],
        Some("server       process started"),
        &[("PODINIT_VM_DELETE", via)],
    );
    assert!(r.out.contains(seen), "{}", r.out);
    // As on a node: a deleted pod whose containers all exit 0 ends Succeeded, reason Deleted.
    assert_eq!(r.code, Some(0), "{}", r.out);
    assert!(
        r.out.contains("vm: deleting the pod in the guest"),
        "{}",
        r.out
    );
    assert!(
        r.out.contains("\"deletions\":1"),
        "PID 1 got the deletion:\n{}",
        r.out
    );
    let st = r.status();
    assert_eq!(st.phase, Phase::Succeeded, "{}", r.out);
    assert_eq!(st.reason, "Deleted", "{}", r.out);
    assert!(
        r.at("server", NoteKind::StopSignal) < r.at("proxy", NoteKind::StopSignal),
        "the sidecar was stopped before the app:\n{}",
        r.out
    );
    assert!(st.containers.iter().all(|c| c.gone), "{}", r.out);
    // Both trapped SIGTERM and exited 0: a graceful deletion, not a kill.
    assert_eq!(r.container("server").exit_code, Some(0), "{}", r.out);
    assert_eq!(r.container("proxy").exit_code, Some(0), "{}", r.out);
}

/// A manifest the agent refuses, handed to the guest unchecked: the guest reports the failure
/// and powers off (exit 1, the agent's own message on the console), it does not hang.
#[test]
fn a_broken_manifest_powers_the_guest_off_with_a_clear_failure() {
    support::require!(NEEDS);
    let r = boot(
        Some("vm/broken-pod.yaml"),
        &[],
        None,
        &[("PODINIT_VM_UNCHECKED", "1")],
    );
    assert_eq!(r.code, Some(1), "{}", r.out);
    r.assert_pid1_was_podinit();
    assert!(
        r.out.contains("comand"),
        "the agent's error names the field:\n{}",
        r.out
    );
    assert!(r.out.contains("without a pod status"), "{}", r.out);
    assert!(r.out.contains("vm: pod Failed"), "{}", r.out);
}

/// Checked on the host: the same manifest is refused before anything boots.
#[test]
fn a_broken_manifest_is_refused_before_booting() {
    support::require!(NEEDS);
    let r = boot(Some("vm/broken-pod.yaml"), &[], None, &[]);
    assert_eq!(r.code, Some(2), "{}", r.out);
    assert!(r.out.contains("comand"), "{}", r.out);
    assert!(
        !r.out.contains("vm: guest PID 1"),
        "nothing booted:\n{}",
        r.out
    );
    assert!(
        !r.work.join("initramfs.cpio").exists(),
        "nothing was built:\n{}",
        r.out
    );
}
