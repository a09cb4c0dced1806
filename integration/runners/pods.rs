//! `podinit run` end to end, under runc and crun (crun through its hybrid-cgroup wrapper on this
//! host): the Job with a native sidecar in both creation orders, the ACS document's
//! `test-sidecar.yaml` as saved from the document (both declarations, both orders), manifest
//! errors with their file and line, reverse-order teardown of three
//! sidecars, a sidecar that ignores SIGTERM, and pod deletion with Ctrl-C; the ACK document's
//! SidecarSet example (cross-namespace ConfigMap, stdlog) and its refusal without the
//! ResourceBinding; ConfigMap/Secret/projected volumes and their errors. Assertions come from
//! what the containers wrote to a shared emptyDir, the exit codes the runner reaped, and
//! status.json (kept with `--keep`). Without root, the runtime or /bin/busybox a test prints
//! `SKIP` and passes, or fails under `PODINIT_REQUIRE_ALL=1` (`support::skip`).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use podinit::engine::{NoteKind, Phase};
use podinit::plan::Kind;
use podinit::status::{Container, Document};
use rstest::rstest;
use serde_json::Value;
use support::skip::{Need, Root, program};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// What a test running `podinit run` on `runtime` needs: root, the runtime (runc or crun, each
/// its own Debian package) and the host's busybox.
fn needs(runtime: &str) -> [Need<'_>; 3] {
    [
        Root,
        program(runtime, runtime),
        program("/bin/busybox", "busybox-static"),
    ]
}

struct Run {
    work: PathBuf,
    out: Output,
    elapsed: Duration,
}

impl Run {
    /// The run's status.json as the typed document every reader shares; panics (with the
    /// dump) when it is missing or does not read as one.
    fn status(&self) -> Document {
        let path = self.work.join("state/status.json");
        let text = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), self.dump()));
        Document::parse(&text).unwrap_or_else(|e| {
            panic!(
                "{}: not a status document: {e}\n{}",
                path.display(),
                self.dump()
            )
        })
    }

    fn container(&self, name: &str) -> Container {
        self.status()
            .container(name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in status:\n{}", self.dump()))
    }

    /// The position of the first timeline note of `kind` for `container`.
    fn note_at(&self, container: &str, kind: NoteKind) -> Option<usize> {
        self.status()
            .timeline
            .iter()
            .position(|n| n.container.as_deref() == Some(container) && n.kind == kind)
    }

    fn shared(&self, volume: &str, file: &str) -> String {
        std::fs::read_to_string(self.work.join("volumes").join(volume).join(file))
            .unwrap_or_default()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    /// The Job rule: exit 0, Succeeded, the sidecar started before the app's process (whatever
    /// the creation order) and stopped with SIGTERM, reported 0 to podinit and to the runtime.
    fn assert_job_succeeded_with_the_sidecar_first_and_zero(&self) {
        assert_eq!(self.out.status.code(), Some(0), "{}", self.dump());
        assert_eq!(self.status().phase, Phase::Succeeded, "{}", self.dump());
        let sidecar = self.container("sidecar");
        assert_eq!(
            (sidecar.exit_code, sidecar.raw_exit_code),
            (Some(0), Some(143)),
            "{}",
            self.dump()
        );
        assert!(
            self.stdout()
                .contains("exit codes seen by the runtime's reaper: app=0 sidecar=0"),
            "{}",
            self.dump()
        );
        let sidecar_started = self.note_at("sidecar", NoteKind::Started);
        assert!(
            sidecar_started.is_some()
                && sidecar_started < self.note_at("app", NoteKind::ProcessStarted),
            "{}",
            self.dump()
        );
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
    run_with(runtime, pod, order, interrupt_after, &[])
}

fn run_with(
    runtime: &str,
    pod: &str,
    order: &str,
    interrupt_after: Option<&str>,
    extra: &[&str],
) -> Run {
    let work = std::env::temp_dir().join(format!(
        "podinit-runtest-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
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
        .args(extra)
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
    support::require!(&needs(runtime));
    let r = run(runtime, "pods/demo-job.json", order, None);
    r.assert_job_succeeded_with_the_sidecar_first_and_zero();
    assert!(
        r.stdout().contains("logging 3"),
        "the sidecar tailed the app's log: {}",
        r.dump()
    );
}

/// `podinit run` (issue 13): by default, and with `--no-hooks`, every bundle (each with a pid
/// namespace of its own) is injected without hooks, so no OCI hook runs in `create`; each
/// container's init claims its registration, and the Job behaves as with hooks, in both
/// creation orders (without hooks nothing else registers a container, so the Job's statuses
/// are the claims'). `--hooks` keeps the hook channel: podinit's hooks and no claim.
#[rstest]
#[case::runc_spec("runc", "spec", &[], true)]
#[case::runc_reverse("runc", "reverse", &[], true)]
#[case::crun_reverse("crun", "reverse", &[], true)]
#[case::runc_reverse_no_hooks("runc", "reverse", &["--no-hooks"], true)]
#[case::runc_spec_hooks("runc", "spec", &["--hooks"], false)]
#[case::runc_reverse_hooks("runc", "reverse", &["--hooks"], false)]
fn a_job_run_without_hooks_succeeds_with_its_inits_claiming(
    #[case] runtime: &str,
    #[case] order: &str,
    #[case] flags: &[&str],
    #[case] claims: bool,
) {
    support::require!(&needs(runtime));
    let r = run_with(runtime, "pods/demo-job.json", order, None, flags);
    r.assert_job_succeeded_with_the_sidecar_first_and_zero();
    let header = if claims {
        format!("runtime {runtime} without hooks")
    } else {
        format!("runtime {runtime} with OCI hooks")
    };
    assert!(r.stdout().contains(&header), "{header:?}: {}", r.dump());
    for name in ["sidecar", "app"] {
        let path = r.work.join("bundles").join(name).join("config.json");
        let config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let hooks = config["hooks"].as_object().cloned().unwrap_or_default();
        let hooked = !hooks
            .values()
            .all(|stage| stage.as_array().is_none_or(|l| l.is_empty()));
        let claim_mount = config["mounts"].as_array().is_some_and(|ms| {
            ms.iter().any(|m| {
                m["destination"]
                    .as_str()
                    .is_some_and(|d| d.contains("claim"))
            })
        });
        assert_eq!(
            (hooked, claim_mount),
            (!claims, claims),
            "{name}'s bundle: (hooks, claim mount), hooks {hooks:?}\n{}",
            r.dump()
        );
    }
}

#[rstest]
#[case::runc("runc")]
#[case::crun("crun")]
fn sidecars_stop_in_reverse_order_after_the_app(#[case] runtime: &str) {
    support::require!(&needs(runtime));
    let r = run(runtime, "pods/reverse-teardown.json", "reverse", None);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.dump());
    assert_eq!(
        r.shared("shared", "term"),
        "app\ns3\ns2\ns1\n",
        "{}",
        r.dump()
    );
    for s in ["s1", "s2", "s3"] {
        assert_eq!(r.container(s).exit_code, Some(0));
    }
}

#[rstest]
#[case::runc("runc")]
#[case::crun("crun")]
fn a_sidecar_ignoring_sigterm_is_killed_at_the_end_of_the_budget_and_reports_zero(
    #[case] runtime: &str,
) {
    support::require!(&needs(runtime));
    let r = run(runtime, "pods/stubborn-sidecar.json", "spec", None);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.dump());
    let s = r.container("stubborn");
    assert_eq!(
        (s.exit_code, s.raw_exit_code),
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
    support::require!(&needs(runtime));
    let r = run(
        runtime,
        "pods/long-running.json",
        "reverse",
        Some("server-up"),
    );
    assert_eq!(
        r.shared("shared", "term"),
        "server\nproxy\n",
        "{}",
        r.dump()
    );
    let st = r.status();
    assert_eq!(st.reason, "Deleted", "{}", r.dump());
    assert!(st.containers.iter().all(|c| c.gone), "{}", r.dump());
    assert_eq!(r.container("proxy").exit_code, Some(0));
}

/// The ACS document's Job, saved from the document as is (YAML, its registry's busybox image),
/// in both declarations: the sidecar starts first, gets SIGTERM once the app is done, reports 0.
#[rstest]
#[case::native_spec("acs/native/test-sidecar.yaml", "spec")]
#[case::native_reverse("acs/native/test-sidecar.yaml", "reverse")]
#[case::is_sidecar_spec("acs/is-sidecar/test-sidecar.yaml", "spec")]
#[case::is_sidecar_reverse("acs/is-sidecar/test-sidecar.yaml", "reverse")]
fn the_acs_documents_job_runs_as_saved(#[case] manifest: &str, #[case] order: &str) {
    support::require!(&needs("runc"));
    let r = run("runc", manifest, order, None);
    r.assert_job_succeeded_with_the_sidecar_first_and_zero();
    assert_eq!(
        r.container("sidecar").kind,
        Some(Kind::Sidecar),
        "{}",
        r.dump()
    );
    assert_eq!(r.container("app").exit_code, Some(0), "{}", r.dump());
    // `touch /var/logs.txt` worked: each container has its own writable busybox root.
    assert!(!r.stdout().contains("No such file"), "{}", r.dump());
}

/// `podinit run` with manifest text on standard input (`-`) or in files; it must fail before
/// running anything, naming the source, the document and the line.
fn run_text(files: &[(&str, &str)], stdin: Option<&str>) -> (Option<i32>, String) {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!(
        "podinit-runtext-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_podinit"));
    cmd.arg("run").current_dir(&dir);
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
        cmd.arg(name);
    }
    if stdin.is_some() {
        cmd.arg("-");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("podinit run");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[rstest]
#[case::yaml_syntax(&[("bad.yaml", "kind: Pod\nspec:\n  containers:\n  - name: a\n   image: busybox\n")], None, "bad.yaml: line 5, column 4:")]
#[case::duplicate_key(&[("dup.yaml", "kind: Pod\nkind: Job\n")], None, "dup.yaml: line 2, column 1: mapping key \"kind\" already defined")]
#[case::unknown_field(&[], Some("---\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    imagePullPolcy: Always\n"), "<stdin>, document 1, line 7: spec.containers[0].imagePullPolcy: unknown field")]
#[case::unsupported_field(&[("a.yaml", "kind: Pod\nspec:\n  containers: [{name: a}]\n"), ("b.yaml", "# two\n---\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      hostNetwork: true\n      containers: [{name: a}]\n")], None, "b.yaml, document 1, line 8: spec.template.spec.hostNetwork: is not supported by podinit run")]
#[case::unknown_kind(&[("svc.yaml", "kind: Job\nspec: {template: {spec: {containers: [{name: a}]}}}\n---\napiVersion: v1\nkind: Service\n")], None, "svc.yaml, document 2, line 5: kind Service is not something podinit run runs")]
#[case::two_workloads(&[("a.yaml", "kind: Pod\nmetadata: {name: one}\nspec: {containers: [{name: a}]}\n")], Some("{\"kind\": \"Job\", \"metadata\": {\"name\": \"two\"}, \"spec\": {\"template\": {\"spec\": {\"containers\": [{\"name\": \"a\"}]}}}}"), "2 workloads (Pod one, Job two)")]
#[case::restart_rules_without_a_policy(&[("r.yaml", "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: busybox\n    restartPolicyRules: [{action: Restart, exitCodes: {operator: In, values: [42]}}]\n")], None, "container \"a\": annotation io.podinit.pod-spec: spec.containers[0].restartPolicy: Required value: must specify restartPolicy when restart rules are used")]
#[case::bad_start_timeout(&[("t.yaml", "kind: Pod\nmetadata:\n  annotations: {io.podinit.start-timeout: soon}\nspec:\n  containers:\n  - name: a\n    image: busybox\n")], None, "io.podinit.start-timeout: expected a duration")]
#[case::image(&[("img.yaml", "kind: Pod\nspec:\n  containers:\n  - name: web\n    image: nginx:1.27\n")], None, "container web: image \"nginx:1.27\" is not available offline")]
fn manifest_errors_name_the_source_document_and_line(
    #[case] files: &[(&str, &str)],
    #[case] stdin: Option<&str>,
    #[case] want: &str,
) {
    let (code, stderr) = run_text(files, stdin);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(want), "got {stderr}\nwant {want}");
}

#[test]
fn a_failed_job_pod_is_retried_up_to_its_backoff_limit() {
    support::require!(&needs("runc"));
    let r = run("runc", "jobs/backoff.yaml", "spec", None);
    assert_eq!(r.out.status.code(), Some(1), "{}", r.dump());
    let out = r.stdout();
    assert_eq!(out.matches("pod flaky: Failed").count(), 2, "{}", r.dump());
    assert!(
        out.contains(
            "Job flaky: pod failed; the Job creates a new one in 10s (retry 1 of backoffLimit 1)"
        ) && out
            .contains("Job flaky: backoffLimit 1 reached: the Job failed (BackoffLimitExceeded)"),
        "{}",
        r.dump()
    );
    assert!(r.elapsed >= Duration::from_secs(10), "{:?}", r.elapsed);
    let _ = std::fs::remove_dir_all(format!("{}-attempt-1", r.work.display()));
}

/// KEP-5307 through `podinit run`: the Job's app exits 42, its rule `In [42]` restarts it in
/// place (the Job's backoffLimit 0 is never reached), run 2 exits 0.
#[test]
fn a_retriable_exit_code_is_restarted_in_place_by_its_rule() {
    support::require!(&needs("runc"));
    let r = run("runc", "jobs/retriable.yaml", "spec", None);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.dump());
    assert!(
        r.stdout().contains("pod trainer: Succeeded"),
        "{}",
        r.dump()
    );
    assert_eq!(r.container("app").restart_count, 1, "{}", r.dump());
    assert_eq!(r.container("app").exit_code, Some(0), "{}", r.dump());
}

#[test]
fn a_jobs_active_deadline_ends_it() {
    support::require!(&needs("runc"));
    let r = run("runc", "jobs/deadline.yaml", "spec", None);
    assert_eq!(r.out.status.code(), Some(1), "{}", r.dump());
    assert!(
        r.stdout()
            .contains("Job slow: activeDeadlineSeconds reached: the Job failed (DeadlineExceeded)"),
        "{}",
        r.dump()
    );
    // Deleted as the kubelet deletes at a deadline: SIGTERM first, not a kill.
    assert_eq!(r.container("app").exit_code, Some(143), "{}", r.dump());
    assert!(
        r.elapsed >= Duration::from_secs(3) && r.elapsed < Duration::from_secs(30),
        "{:?}\n{}",
        r.elapsed,
        r.dump()
    );
}

/// A ConfigMap and a Secret given with the Job feed its env: the sidecar's `__IS_SIDECAR__`
/// (through `envFrom`), so the supervisor treats it as one, and the app's token (`secretKeyRef`).
#[test]
fn env_comes_from_the_config_map_and_secret_documents() {
    support::require!(&needs("runc"));
    let r = run("runc", "sources/job-env-from-sources.yaml", "reverse", None);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.dump());
    assert_eq!(r.shared("shared", "app"), "token=hello\n", "{}", r.dump());
    let sidecar = r.container("sidecar");
    assert_eq!(
        (sidecar.kind, sidecar.exit_code),
        (Some(Kind::Sidecar), Some(0)),
        "{}",
        r.dump()
    );
}

/// Every JSON path of `v` (array elements as `[]`), for comparing shapes.
fn json_paths(v: &Value, at: String, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                json_paths(x, format!("{at}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for x in a {
                json_paths(x, format!("{at}[]"), out);
            }
        }
        _ => {
            out.insert(at);
        }
    }
}

/// `podinit status --format k8s` of a finished pod (from its status file: the supervisor is
/// gone) is a core/v1 PodStatus: it deserializes into the Kubernetes API's own type and
/// serializes back with the same fields, so every field exists in the API with its type.
#[test]
fn the_status_as_a_kubernetes_pod_status() {
    support::require!(&needs("runc"));
    let r = run("runc", "pods/demo-job.json", "reverse", None);
    r.assert_job_succeeded_with_the_sidecar_first_and_zero();
    let out = Command::new(env!("CARGO_BIN_EXE_podinit"))
        .args([
            "status",
            "--format",
            "k8s",
            "--pod",
            "default",
            "--state-dir",
        ])
        .arg(r.work.join("state"))
        .arg("--socket")
        .arg(r.work.join("gone.sock"))
        .stdin(Stdio::null())
        .output()
        .expect("podinit status");
    assert!(out.status.success(), "{out:?}");
    let ours: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let api: k8s_openapi::api::core::v1::PodStatus = serde_json::from_value(ours.clone())
        .unwrap_or_else(|e| panic!("not a core/v1 PodStatus: {e}\n{ours:#}"));
    let back = serde_json::to_value(&api).unwrap();
    let (mut a, mut b) = (Default::default(), Default::default());
    json_paths(&ours, String::new(), &mut a);
    json_paths(&back, String::new(), &mut b);
    assert_eq!(a, b, "fields the API does not have, or lost\n{ours:#}");
    assert_eq!(api.phase.as_deref(), Some("Succeeded"));
    let init = api.init_container_statuses.unwrap_or_default();
    assert_eq!(init.len(), 1, "{ours:#}");
    assert_eq!(init[0].name, "sidecar");
    let t = init[0].state.as_ref().and_then(|s| s.terminated.as_ref());
    assert_eq!(
        t.map(|t| (t.exit_code, t.reason.as_deref(), t.signal)),
        Some((0, Some("Completed"), None)),
        "sidecar reported 0, with a kubelet reason and no signal beside the 0\n{ours:#}"
    );
    let apps = api.container_statuses.unwrap_or_default();
    assert_eq!(apps[0].name, "app");
    let t = apps[0].state.as_ref().and_then(|s| s.terminated.as_ref());
    assert_eq!(
        t.map(|t| (t.exit_code, t.reason.as_deref())),
        Some((0, Some("Completed")))
    );
    let types: Vec<String> = api
        .conditions
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.type_)
        .collect();
    assert_eq!(
        types,
        [
            "PodReadyToStartContainers",
            "Initialized",
            "ContainersReady",
            "Ready"
        ]
    );
}

/// `podinit run FILES...` with the manifests of `testdata/`, under runc, kept in a work dir;
/// `until`: once this file of the work dir contains this text, Ctrl-C (pod deletion).
fn run_files(files: &[&str], until: Option<(&str, &str)>) -> Run {
    let work = std::env::temp_dir().join(format!(
        "podinit-runvol-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let t = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_podinit"))
        .args([
            "run",
            "--explain",
            "--keep",
            "--timeout",
            "60",
            "--work-dir",
        ])
        .arg(&work)
        .args(files.iter().map(|f| testdata.join(f)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("podinit run");
    if let Some((file, text)) = until {
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline
            && !std::fs::read_to_string(work.join(file)).is_ok_and(|s| s.contains(text))
        {
            std::thread::sleep(Duration::from_millis(50));
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

/// `TIMESTAMP STREAM F|P CONTENT` with an RFC 3339 timestamp, as containerd writes a log line.
fn cri_fields(line: &str) -> Option<(&str, &str, &str)> {
    let mut p = line.splitn(4, ' ');
    let (ts, stream, tag, content) = (p.next()?, p.next()?, p.next()?, p.next()?);
    let b = ts.as_bytes();
    let zone_ok = ts.ends_with('Z') || (b.len() > 6 && matches!(b[b.len() - 6], b'+' | b'-'));
    (b.len() >= 20 && b[4] == b'-' && b[10] == b'T' && b[13] == b':' && zone_ok)
        .then_some((stream, tag, content))
}

/// The ACK document's example as saved (ConfigMap in kube-system, SidecarSet, its
/// ResourceBinding, the echo-server Deployment; busybox for http-echo): the filebeat sidecar is
/// injected before the app, prints the cross-namespace ConfigMap through its subPath mount and
/// follows the app's standard error through the stdlog volume, live, in the CRI log format.
#[test]
fn the_ack_sidecarset_example_shows_the_configmap_and_the_apps_output_through_stdlog() {
    support::require!(&needs("runc"));
    let r = run_files(
        &[
            "ack/filebeat-config.yaml",
            "ack/sidecarset.yaml",
            "ack/sidecarset-resourcebinding.yaml",
            "ack/echo-server.yaml",
        ],
        Some(("logs/filebeat.log", "Server is listening on :8080")),
    );
    let out = r.stdout();
    assert!(
        out.contains("the pod is labelled serverless.alibabacloud.com/virtual-node: \"true\"")
            && out.contains("SidecarSet filebeat-sidecarset applied")
            && out.contains("\"kruise.io/sidecarset-injected-list\": \"filebeat-sidecarset\""),
        "{}",
        r.dump()
    );
    let filebeat = std::fs::read_to_string(r.work.join("logs/filebeat.log")).unwrap_or_default();
    // The ConfigMap's filebeat.yml (`|-`: no final newline, so what follows shares its last
    // line; tail's own messages on stderr may come anywhere).
    assert!(
        filebeat.contains("filebeat.inputs:\n- type: log\n")
            && filebeat.contains("        logs_path: \"/var/log/std/\"\n")
            && filebeat.contains(
                "  password: ${ELASTICSEARCH_PASSWORD}  # Not effective. Do not modify. Use directly."
            ),
        "{filebeat}\n{}",
        r.dump()
    );
    // The app's stdlog file holds its start line as containerd would write it, and the sidecar
    // printed exactly that line, read through the stdlog volume.
    let app_log = std::fs::read_to_string(r.work.join("stdlog/echo-server/0.log")).unwrap();
    let app_lines: Vec<_> = app_log.lines().filter_map(cri_fields).collect();
    assert!(
        matches!(app_lines[..], [("stderr", "F", content)] if content.ends_with(" Server is listening on :8080")),
        "{app_log}"
    );
    assert!(
        filebeat.contains(&format!("{}\n", app_log.trim_end())),
        "{app_log}\n{filebeat}"
    );
    let own = std::fs::read_to_string(r.work.join("stdlog/filebeat/0.log")).unwrap();
    assert!(
        own.lines()
            .filter_map(cri_fields)
            .find(|(stream, _, _)| *stream == "stdout")
            == Some(("stdout", "F", "filebeat.inputs:")),
        "{own}"
    );
    let sidecar = r.container("filebeat");
    assert_eq!(
        (sidecar.kind, sidecar.exit_code),
        (Some(Kind::Sidecar), Some(0)),
        "{}",
        r.dump()
    );
    assert!(
        r.note_at("filebeat", NoteKind::Started)
            < r.note_at("echo-server", NoteKind::ProcessStarted),
        "{}",
        r.dump()
    );
    // A Deployment's pod runs until deleted: Ctrl-C, not Succeeded.
    assert_eq!(r.out.status.code(), Some(1), "{}", r.dump());
}

/// Without the SidecarSetResourceBinding, the SidecarSet's cross-namespace ConfigMap is refused
/// before anything runs, naming the SidecarSet, the volume, the object and the missing grant.
#[test]
fn the_ack_sidecarset_is_refused_without_its_resource_binding() {
    let r = run_files(
        &[
            "ack/filebeat-config.yaml",
            "ack/sidecarset.yaml",
            "ack/echo-server.yaml",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&r.out.stderr).into_owned();
    assert_eq!(r.out.status.code(), Some(2), "{}", r.dump());
    assert!(
        stderr.contains("sidecarset.yaml, document 1, line 43: spec.volumes[0].configMap.name: SidecarSet filebeat-sidecarset cannot inject volume \"config\" into the pod (namespace default): ConfigMap kube-system/filebeat-config is in another namespace and no SidecarSetResourceBinding in namespace kube-system grants it"),
        "{stderr}"
    );
    assert!(!r.work.join("bundles").exists(), "{}", r.dump());
}

/// ConfigMap, Secret, projected and optional volumes as the app sees them: items and paths,
/// defaultMode and an item's mode (by `stat`), a subPath file mount, base64 decoded, read-only.
#[test]
fn config_map_and_secret_volumes_as_the_container_sees_them() {
    support::require!(&needs("runc"));
    let r = run_files(&["volumes/config-and-secret.yaml"], None);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.dump());
    assert_eq!(
        r.shared("shared", "report"),
        "/config/conf/app.conf 600\n/config/other.conf 440\n/etc/app.conf 600\nmode=fast\n\
         token=hello user=bob\nprojected: x=1 bob volumes\n0\nread-only\n",
        "{}",
        r.dump()
    );
}

#[rstest]
#[case::missing_key(
    "kind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n---\nkind: Pod\nspec:\n  containers: [{name: a}]\n  volumes:\n  - name: conf\n    configMap:\n      name: cfg\n      items:\n      - {key: nokey, path: x}\n",
    "line 13: spec.volumes[0].configMap.items[0].key: volume \"conf\": MountVolume.SetUp failed: configmap default/cfg references non-existent config key: nokey"
)]
#[case::missing_secret(
    "kind: Pod\nspec:\n  containers: [{name: a}]\n  volumes:\n  - name: sec\n    secret: {secretName: creds}\n",
    "line 6: spec.volumes[0].secret: volume \"sec\": MountVolume.SetUp failed: secret \"creds\" not found in namespace default"
)]
#[case::other_namespace(
    "kind: ConfigMap\nmetadata: {name: cfg, namespace: kube-system}\ndata: {a: b}\n---\nkind: Pod\nspec:\n  containers: [{name: a}]\n  volumes:\n  - name: conf\n    configMap: {name: cfg}\n",
    "configmap \"cfg\" not found in namespace default"
)]
#[case::namespaced_name_in_a_pod(
    "kind: Pod\nspec:\n  containers: [{name: a}]\n  volumes:\n  - name: conf\n    configMap: {name: kube-system/cfg}\n",
    "ConfigMap name \"kube-system/cfg\" is not a valid name"
)]
fn volume_errors_name_the_volume_the_object_and_the_key(#[case] text: &str, #[case] want: &str) {
    let (code, stderr) = run_text(&[("v.yaml", text)], None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(want), "got {stderr}\nwant {want}");
}

/// One stdlog file per incarnation: a sidecar's first run in `0.log`, its restart in `1.log`,
/// read by the app through the stdlog volume.
#[test]
fn each_incarnation_of_a_container_has_its_own_stdlog_file() {
    support::require!(&needs("runc"));
    let r = run_files(&["stdlog/restarted-sidecar.yaml"], None);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.dump());
    let log = |f: &str| std::fs::read_to_string(r.work.join("stdlog").join(f)).unwrap_or_default();
    let contents = |text: String| -> Vec<(String, String, String)> {
        text.lines()
            .filter_map(cri_fields)
            .map(|(s, t, c)| (s.to_owned(), t.to_owned(), c.to_owned()))
            .collect()
    };
    let line = |s: &str, c: &str| (s.to_owned(), "F".to_owned(), c.to_owned());
    assert_eq!(
        contents(log("sidecar/0.log")),
        [line("stdout", "first")],
        "{}",
        r.dump()
    );
    assert_eq!(
        contents(log("sidecar/1.log")),
        [line("stdout", "second")],
        "{}",
        r.dump()
    );
    assert_eq!(
        contents(log("app/0.log")),
        [line("stderr", "to-stderr")],
        "{}",
        r.dump()
    );
    assert_eq!(
        r.shared("shared", "seen"),
        log("sidecar/1.log"),
        "{}",
        r.dump()
    );
    assert_eq!(r.container("sidecar").restart_count, 1, "{}", r.dump());
}

/// A Pod's `metadata.annotations` reach every container, as an agent's pod annotation
/// pass-through does: BCI's ignore-exit-code list makes the failing app report 0 (the Job
/// Succeeded, podinit run exits 0), and a bad `io.podinit.needs-sidecars` is refused before
/// anything runs, naming the annotation.
#[test]
fn the_pods_metadata_annotations_reach_its_containers() {
    support::require!(&needs("runc"));
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bci\n  annotations:\n    \
               bci.virtual-kubelet.io/bci-ignore-exit-code-containers: app\n\
               spec:\n  restartPolicy: Never\n  containers:\n  - name: app\n    image: busybox\n    \
               command: [sh, -c, 'exit 3']\n";
    let (code, stderr) = run_text(&[("bci.yaml", pod)], None);
    assert_eq!(code, Some(0), "{stderr}");
    let bad = pod.replace(
        "bci.virtual-kubelet.io/bci-ignore-exit-code-containers: app",
        "io.podinit.needs-sidecars: app=ghost",
    );
    let (code, stderr) = run_text(&[("bad.yaml", &bad)], None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("io.podinit.needs-sidecars") && stderr.contains("no container ghost"),
        "{stderr}"
    );
}
