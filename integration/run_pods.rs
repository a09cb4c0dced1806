//! `podinit run` end to end, under runc and crun (crun through its hybrid-cgroup wrapper on this
//! host): the Job with a native sidecar in both creation orders, reverse-order teardown of three
//! sidecars, a sidecar that ignores SIGTERM, and pod deletion with Ctrl-C. Assertions come from
//! what the containers wrote to a shared emptyDir, the exit codes the runner reaped, and
//! status.json (kept with `--keep`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rstest::rstest;
use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn skip(runtime: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let found = Command::new(runtime)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !root || !found || !Path::new("/bin/busybox").exists() {
        eprintln!("SKIP: needs root, {runtime} and /bin/busybox");
        return true;
    }
    false
}

struct Run {
    work: PathBuf,
    out: Output,
    elapsed: Duration,
}

impl Run {
    fn status(&self) -> Value {
        let text = std::fs::read(self.work.join("state/status.json")).unwrap_or_default();
        serde_json::from_slice(&text).unwrap_or_default()
    }

    fn container(&self, name: &str) -> Value {
        let st = self.status();
        st["containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{name} not in status:\n{}", self.dump()))
    }

    fn shared(&self, volume: &str, file: &str) -> String {
        std::fs::read_to_string(self.work.join("volumes").join(volume).join(file))
            .unwrap_or_default()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    fn dump(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- supervisor.log\n{}",
            self.out.status.code(),
            self.stdout(),
            String::from_utf8_lossy(&self.out.stderr),
            std::fs::read_to_string(self.work.join("supervisor.log")).unwrap_or_default()
        )
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

fn run(runtime: &str, pod: &str, order: &str, interrupt_after: Option<&str>) -> Run {
    let work = std::env::temp_dir().join(format!(
        "podinit-runtest-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/pods")
        .join(pod);
    let t = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_podinit"))
        .args([
            "run",
            "--runtime",
            runtime,
            "--create-order",
            order,
            "--keep",
            "--timeout",
            "60",
            "--work-dir",
        ])
        .arg(&work)
        .arg(&manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("podinit run");
    if let Some(marker) = interrupt_after {
        // Pod deletion once the marker file exists (the app is up): Ctrl-C to the runner.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !work.join("volumes/shared").join(marker).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    }
    let out = child.wait_with_output().expect("podinit run output");
    Run {
        work,
        out,
        elapsed: t.elapsed(),
    }
}

#[rstest]
#[case::runc_spec("runc", "spec")]
#[case::runc_reverse("runc", "reverse")]
#[case::crun_spec("crun", "spec")]
#[case::crun_reverse("crun", "reverse")]
fn job_with_a_native_sidecar_succeeds(#[case] runtime: &str, #[case] order: &str) {
    if skip(runtime) {
        return;
    }
    let r = run(runtime, "demo-job.json", order, None);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.dump());
    assert_eq!(r.status()["phase"], "Succeeded", "{}", r.dump());
    let sidecar = r.container("sidecar");
    assert_eq!(
        (
            sidecar["exitCode"].as_i64(),
            sidecar["rawExitCode"].as_i64()
        ),
        (Some(0), Some(143)),
        "{}",
        r.dump()
    );
    assert!(
        r.stdout()
            .contains("exit codes seen by the runtime's reaper: app=0 sidecar=0"),
        "{}",
        r.dump()
    );
    // The sidecar was started before the app, whatever the creation order.
    let timeline = r.status()["timeline"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let pos = |who: &str, what: &str| {
        timeline
            .iter()
            .position(|e| e["container"] == who && e["event"] == what)
    };
    assert!(
        pos("sidecar", "started") < pos("app", "process started"),
        "{}",
        r.dump()
    );
    assert!(
        r.stdout().contains("logging 3"),
        "the sidecar tailed the app's log: {}",
        r.dump()
    );
}

#[rstest]
#[case::runc("runc")]
#[case::crun("crun")]
fn sidecars_stop_in_reverse_order_after_the_app(#[case] runtime: &str) {
    if skip(runtime) {
        return;
    }
    let r = run(runtime, "reverse-teardown.json", "reverse", None);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.dump());
    assert_eq!(
        r.shared("shared", "term"),
        "app\ns3\ns2\ns1\n",
        "{}",
        r.dump()
    );
    for s in ["s1", "s2", "s3"] {
        assert_eq!(r.container(s)["exitCode"], 0);
    }
}

#[rstest]
#[case::runc("runc")]
#[case::crun("crun")]
fn a_sidecar_ignoring_sigterm_is_killed_at_the_end_of_the_budget_and_reports_zero(
    #[case] runtime: &str,
) {
    if skip(runtime) {
        return;
    }
    let r = run(runtime, "stubborn-sidecar.json", "spec", None);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.dump());
    let s = r.container("stubborn");
    assert_eq!(
        (s["exitCode"].as_i64(), s["rawExitCode"].as_i64()),
        (Some(0), Some(137)),
        "{}",
        r.dump()
    );
    assert!(
        r.stdout().contains("stubborn=0"),
        "the runtime saw 0: {}",
        r.dump()
    );
    // A 3 s budget: generous bounds, the machine is noisy.
    assert!(
        r.elapsed >= Duration::from_millis(3000) && r.elapsed < Duration::from_secs(20),
        "{:?}\n{}",
        r.elapsed,
        r.dump()
    );
}

#[rstest]
#[case::runc("runc")]
#[case::crun("crun")]
fn ctrl_c_deletes_the_pod_apps_first_then_sidecars(#[case] runtime: &str) {
    if skip(runtime) {
        return;
    }
    let r = run(runtime, "long-running.json", "reverse", Some("server-up"));
    assert_eq!(
        r.shared("shared", "term"),
        "server\nproxy\n",
        "{}",
        r.dump()
    );
    let st = r.status();
    assert_eq!(st["reason"], "Deleted", "{}", r.dump());
    assert!(
        st["containers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["gone"] == true),
        "{}",
        r.dump()
    );
    assert_eq!(r.container("proxy")["exitCode"], 0);
}
