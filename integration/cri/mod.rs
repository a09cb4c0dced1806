//! The CRI harness: per test a private containerd ([`containerd`]) with podinit deployed as
//! shipped in `oci-hooks/containerd/`, a `podinit supervise` next to it, and a CRI v1 client
//! ([`client`]); pods declared the way a kubelet (or virtual kubelet) does it: RunPodSandbox
//! on the host network with runtime handler `podinit` and the `io.podinit.*` annotations,
//! CreateContainer with a Kubernetes `command`, StartContainer, ContainerStatus polled for the
//! exit codes, StopContainer / RemoveContainer / StopPodSandbox / RemovePodSandbox at the end.
//!
//! Every container runs `/bin/sh -c` of the pod harness's `tlog` function and a body; `tlog`
//! appends `<µs> <container> <text>` to `/shared/timeline.log`, a hostPath mount of the pod's
//! own directory (`PODTEST_CONTAINER` names the container, as in `integration/pod/`).
//!
//! Layout: `$TMPDIR/podinit-cri.<pid>/` holds the images (built once per process) and one
//! `t<N>/` per test: `c/` containerd (config, root, state, sockets, runc root, log), `p/` podinit
//! (`run/podinit.sock`, `state/`, `supervisor.log`), `pods/<pod>/` (`shared/timeline.log`,
//! `logs/` the CRI container logs). `PODINIT_CRI_KEEP=1` keeps the test directories (containers
//! are cleaned all the same).

pub mod client;
pub mod containerd;
pub mod image;
// The tests; the CRI bench (bench/cri) includes this harness without them.
#[cfg(test)]
mod scenarios;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::{Debug, Write as _};
use std::fs::{self, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerState, ContainerStatus, ImageSpec, KeyValue,
    LinuxContainerConfig, LinuxContainerSecurityContext, LinuxPodSandboxConfig,
    LinuxSandboxSecurityContext, Mount, NamespaceMode, NamespaceOption, PodSandboxConfig,
    PodSandboxMetadata,
};
use serde_json::Value;

use crate::pod::{CONTAINER_ENV, SH_TLOG, TimelineEntry, now_us, parse_timeline};
use crate::support::{self, eventually, proc};
use client::Cri;
use image::BUSYBOX_IMAGE;

const PREFIX: &str = "podinit-cri.";
/// Startup of containerd (the first start on a machine is the slowest) and the image import.
const START_TIMEOUT: Duration = Duration::from_secs(60);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// `$TMPDIR/podinit-cri.<pid>`, made on first use after sweeping what killed test processes
/// left; removed at exit.
fn base_dir() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let tmp = std::env::temp_dir();
        if let Ok(entries) = fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let stale = name
                    .strip_prefix(PREFIX)
                    .and_then(|p| p.parse::<u32>().ok())
                    .is_some_and(|pid| pid == std::process::id() || !proc::alive(pid));
                if stale {
                    sweep_base(&e.path());
                }
            }
        }
        let dir = tmp.join(format!("{PREFIX}{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        // SAFETY: registering a plain extern "C" fn; it catches panics itself.
        unsafe { libc::atexit(sweep_at_exit) };
        dir
    })
}

extern "C" fn sweep_at_exit() {
    let _ = std::panic::catch_unwind(|| sweep_base(base_dir()));
}

/// Cleans every test dir under `base` (see `containerd::cleanup_dir`), then removes `base`.
fn sweep_base(base: &Path) {
    if let Ok(entries) = fs::read_dir(base) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('t') && e.path().is_dir() {
                kill_recorded_supervisor(&e.path());
                let errors = containerd::cleanup_dir(&containerd::Paths::new(&e.path()), None);
                if !errors.is_empty() {
                    eprintln!("sweeping {}: {errors:?}", e.path().display());
                }
            }
        }
    }
    if std::env::var_os("PODINIT_CRI_KEEP").is_none_or(|v| v != "1") {
        let _ = fs::remove_dir_all(base);
    }
}

/// A supervisor left by a killed test process: its pid is in `p/supervisor.pid`; killed only
/// if that process still has this test's state dir in its environment (no pid reuse victim).
fn kill_recorded_supervisor(test_dir: &Path) {
    let p = test_dir.join("p");
    let Some(pid) = fs::read_to_string(p.join("supervisor.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return;
    };
    let mark = format!("PODINIT_STATE_DIR={}", p.join("state").display());
    let env = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    if env.split(|b| *b == 0).any(|kv| kv == mark.as_bytes()) {
        containerd::stop_process(pid, None, Duration::from_secs(2));
    }
}

/// One test's containerd, supervisor and CRI client; everything stopped and removed on drop.
pub struct CriEnv {
    pub name: String,
    pub dir: PathBuf,
    pub paths: containerd::Paths,
    /// podinit's `PODINIT_SOCKET` and `PODINIT_STATE_DIR`.
    pub socket: PathBuf,
    pub state: PathBuf,
    supervisor_log: PathBuf,
    containerd: Option<Child>,
    supervisor: Option<Child>,
    pub cri: Cri,
    pods: AtomicUsize,
}

impl CriEnv {
    /// Starts the supervisor and containerd, imports the images; panics (cleaning up) if any
    /// of it fails, with containerd's log.
    pub fn start(name: &str) -> CriEnv {
        containerd::require_tools();
        let base = base_dir();
        let dir = base.join(format!("t{}", COUNTER.fetch_add(1, Ordering::SeqCst)));
        let _ = fs::remove_dir_all(&dir);
        let paths = containerd::Paths::new(&dir);
        let p = dir.join("p");
        for d in [
            p.join("run"),
            p.join("state"),
            dir.join("pods"),
            paths.dir.clone(),
        ] {
            fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        let cri = Cri::new(&paths.grpc).unwrap_or_else(|e| panic!("{e}"));
        let mut env = CriEnv {
            name: name.to_owned(),
            socket: p.join("run/podinit.sock"),
            state: p.join("state"),
            supervisor_log: p.join("supervisor.log"),
            paths,
            dir,
            containerd: None,
            supervisor: None,
            cri,
            pods: AtomicUsize::new(0),
        };
        env.start_supervisor();
        let archive = image::archive(base).unwrap_or_else(|e| panic!("building the images: {e}"));
        let podinit = Path::new(support::PODINIT);
        env.containerd = Some(containerd::spawn(
            &env.paths,
            &[
                ("PODINIT_BINARY", podinit),
                ("PODINIT_SOCKET", &env.socket),
                ("PODINIT_STATE_DIR", &env.state),
                ("PODINIT_NEXT_RUNTIME", Path::new("runc")),
            ],
        ));
        env.wait_ready(&archive);
        env
    }

    fn wait_ready(&mut self, archive: &Path) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let last = match self.cri.version() {
                Ok(_) => break,
                Err(e) => e,
            };
            if let Some(c) = self.containerd.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("containerd exited ({st}) during start-up:\n{}", self.logs());
                }
            }
            assert!(
                Instant::now() < deadline,
                "containerd not serving CRI after {START_TIMEOUT:?} ({last}):\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proc::run_ok(
            std::process::Command::new("ctr")
                .arg("-a")
                .arg(&self.paths.grpc)
                .args([
                    "-n",
                    "k8s.io",
                    "images",
                    "import",
                    "--snapshotter",
                    "overlayfs",
                ])
                .arg(archive),
            START_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        // The CRI plugin learns about imported images from containerd's events.
        let present = eventually(Duration::from_secs(20), || {
            [BUSYBOX_IMAGE, image::PAUSE_IMAGE]
                .iter()
                .all(|i| self.cri.image_present(i).unwrap_or(false))
        });
        assert!(
            present,
            "CRI does not list the imported images\n{}",
            self.logs()
        );
    }

    /// A `podinit` command with this test's `PODINIT_SOCKET` / `PODINIT_STATE_DIR`.
    pub fn podinit(&self) -> std::process::Command {
        let mut c = support::podinit();
        c.env("PODINIT_SOCKET", &self.socket)
            .env("PODINIT_STATE_DIR", &self.state);
        c
    }

    /// Starts `podinit supervise -vv` (log appended to `p/supervisor.log`) and waits for its
    /// socket.
    pub fn start_supervisor(&mut self) {
        assert!(self.supervisor.is_none(), "a supervisor is running");
        let _ = fs::remove_file(&self.socket);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.supervisor_log)
            .expect("open supervisor log");
        let child = self
            .podinit()
            .args(["supervise", "-vv"])
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn podinit supervise: {e}"));
        let _ = fs::write(self.dir.join("p/supervisor.pid"), child.id().to_string());
        self.supervisor = Some(child);
        let up = eventually(Duration::from_secs(10), || self.socket.exists());
        assert!(up, "podinit supervise made no socket\n{}", self.logs());
    }

    /// SIGKILLs the supervisor (robustness scenarios).
    pub fn kill_supervisor(&mut self) {
        if let Some(mut s) = self.supervisor.take() {
            proc::kill_wait(&mut s);
        }
    }

    /// `None` while the supervisor runs, else how it ended.
    pub fn supervisor_exit(&mut self) -> Option<String> {
        match self.supervisor.as_mut().map(|s| s.try_wait()) {
            None => Some("not started".into()),
            Some(Ok(None)) => None,
            Some(Ok(Some(st))) => Some(st.to_string()),
            Some(Err(e)) => Some(e.to_string()),
        }
    }

    /// `podinit status --json --pod SANDBOX_ID`: the pod's status document.
    pub fn pod_status(&self, sandbox_id: &str) -> Result<Value, String> {
        let what = format!("podinit status --json --pod {sandbox_id:.12}…");
        let out = proc::run(
            self.podinit()
                .args(["status", "--json", "--pod", sandbox_id]),
            Duration::from_secs(30),
        )
        .map_err(|e| format!("{what}: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or("");
            return Err(format!("{what}: {}: {first}", out.status));
        }
        serde_json::from_str(&stdout).map_err(|e| format!("{what}: {e}: {stdout:?}"))
    }

    /// Runs a pod sandbox (host network, handler `podinit`) with these annotations; `name` is
    /// unique within the test.
    pub fn run_pod(&self, name: &str, annotations: &[(&str, &str)]) -> Pod<'_> {
        self.run_pod_on(containerd::HANDLER, name, annotations)
    }

    /// [`CriEnv::run_pod`] with runtime handler `handler` (`runc` is plain runc).
    pub fn run_pod_on(&self, handler: &str, name: &str, annotations: &[(&str, &str)]) -> Pod<'_> {
        let n = self.pods.fetch_add(1, Ordering::SeqCst);
        let dir = self.dir.join("pods").join(name);
        let shared = dir.join("shared");
        let logs = dir.join("logs");
        for d in [&shared, &logs] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
            // Containers may run as any user: the timeline must be writable for them.
            fs::set_permissions(d, fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        let timeline = shared.join("timeline.log");
        fs::write(&timeline, "").expect("create timeline");
        fs::set_permissions(&timeline, fs::Permissions::from_mode(0o666)).expect("chmod");
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.to_owned(),
                uid: format!("{}-{}-{n}-{name}", self.name, std::process::id()),
                namespace: "default".into(),
                attempt: 0,
            }),
            // No hostname: a host-network pod has the node's (runc refuses one without a
            // private UTS namespace).
            log_directory: logs.display().to_string(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            linux: Some(LinuxPodSandboxConfig {
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(namespaces()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let t0_us = now_us();
        let sandbox_id = self
            .cri
            .run_pod_sandbox(config.clone(), handler)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        Pod {
            env: self,
            name: name.to_owned(),
            sandbox_id,
            config,
            shared,
            logs,
            ids: BTreeMap::new(),
            created: Vec::new(),
            seen: RefCell::new(BTreeMap::new()),
            t0_us,
        }
    }

    /// The tails of containerd's and the supervisor's logs, and the files of the state dir.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "--- podinit state dir {} ---", self.state.display());
        for f in files_under(&self.state) {
            let _ = writeln!(s, "  {}", f.display());
        }
        let _ = writeln!(
            s,
            "--- supervisor log (tail) ---\n{}",
            containerd::tail(&self.supervisor_log, 80)
        );
        let _ = writeln!(
            s,
            "--- containerd log (tail) ---\n{}",
            containerd::tail(&self.paths.log, 40)
        );
        s
    }
}

impl Drop for CriEnv {
    fn drop(&mut self) {
        let mut errors = containerd::cleanup_dir(&self.paths, self.containerd.as_mut());
        self.kill_supervisor();
        if std::env::var_os("PODINIT_CRI_KEEP").is_some_and(|v| v == "1") {
            eprintln!(
                "PODINIT_CRI_KEEP=1: {} kept in {}",
                self.name,
                self.dir.display()
            );
        } else if errors.is_empty() {
            if let Err(e) = fs::remove_dir_all(&self.dir) {
                errors.push(format!("rm -r {}: {e}", self.dir.display()));
            }
        }
        if !errors.is_empty() {
            eprintln!("{}: cleanup incomplete: {errors:?}", self.name);
        }
    }
}

/// What a kubelet sets for a host-network pod: node network, a PID namespace per container
/// (the v1.PodSpec default), the pod's IPC namespace.
fn namespaces() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Node as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// One container of a pod: `/bin/sh -c` of `tlog` and `body`, as the Kubernetes `command`.
#[derive(Clone, Debug)]
pub struct Ctr {
    pub name: String,
    pub body: String,
    pub env: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
}

impl Ctr {
    pub fn new(name: &str, body: &str) -> Ctr {
        Ctr {
            name: name.to_owned(),
            body: body.to_owned(),
            env: Vec::new(),
            annotations: Vec::new(),
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Ctr {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn annotation(mut self, k: &str, v: &str) -> Ctr {
        self.annotations.push((k.to_owned(), v.to_owned()));
        self
    }

    /// The Kubernetes `command`.
    pub fn command(&self) -> Vec<String> {
        vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("{SH_TLOG}\n{}", self.body),
        ]
    }
}

/// A running pod sandbox and its containers.
pub struct Pod<'e> {
    pub env: &'e CriEnv,
    pub name: String,
    pub sandbox_id: String,
    config: PodSandboxConfig,
    shared: PathBuf,
    logs: PathBuf,
    /// Container name → the id of its current incarnation.
    pub ids: BTreeMap<String, String>,
    /// Every container ever created in this pod: (name, id), in creation order.
    created: Vec<(String, String)>,
    /// Container id → the last ContainerStatus seen (reports survive RemoveContainer).
    seen: RefCell<BTreeMap<String, ContainerStatus>>,
    /// `now_us()` just before RunPodSandbox.
    pub t0_us: u64,
}

impl Pod<'_> {
    /// CreateContainer; the name's attempt counts its earlier incarnations.
    pub fn create(&mut self, c: &Ctr) -> String {
        let attempt = self.created.iter().filter(|(n, _)| *n == c.name).count() as u32;
        let mut envs = vec![KeyValue {
            key: CONTAINER_ENV.into(),
            value: c.name.clone(),
        }];
        envs.extend(c.env.iter().map(|(k, v)| KeyValue {
            key: k.clone(),
            value: v.clone(),
        }));
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: c.name.clone(),
                attempt,
            }),
            image: Some(ImageSpec {
                image: BUSYBOX_IMAGE.into(),
                ..Default::default()
            }),
            command: c.command(),
            envs,
            mounts: vec![Mount {
                container_path: "/shared".into(),
                host_path: self.shared.display().to_string(),
                ..Default::default()
            }],
            annotations: c.annotations.iter().cloned().collect(),
            log_path: format!("{}_{attempt}.log", c.name),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(namespaces()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = self
            .env
            .cri
            .create_container(&self.sandbox_id, config, self.config.clone())
            .unwrap_or_else(|e| panic!("{e}\n{}", self.report()));
        self.ids.insert(c.name.clone(), id.clone());
        self.created.push((c.name.clone(), id.clone()));
        id
    }

    /// StartContainer of the current `name`.
    pub fn start(&self, name: &str) -> Result<(), String> {
        self.env.cri.start_container(self.id(name))
    }

    /// CreateContainer (a failure panics: containerd creates no task yet, so only a broken
    /// harness fails it), then StartContainer (where the runtime runs: its failure is returned).
    pub fn create_start(&mut self, c: &Ctr) -> Result<(), String> {
        self.create(c);
        self.start(&c.name)
    }

    #[track_caller]
    pub fn id(&self, name: &str) -> &str {
        self.ids
            .get(name)
            .unwrap_or_else(|| panic!("pod {}: no container {name}", self.name))
    }

    /// ContainerStatus of the current `name`.
    pub fn status(&self, name: &str) -> Result<ContainerStatus, String> {
        self.status_of(self.id(name))
    }

    fn status_of(&self, id: &str) -> Result<ContainerStatus, String> {
        let s = self.env.cri.container_status(id)?;
        self.seen.borrow_mut().insert(id.to_owned(), s.clone());
        Ok(s)
    }

    /// Polls ContainerStatus until every current container in `names` exited; their exit
    /// codes, or Err naming the ones still running.
    pub fn wait_exited(
        &self,
        names: &[&str],
        timeout: Duration,
    ) -> Result<BTreeMap<String, i32>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut codes = BTreeMap::new();
            let mut running = Vec::new();
            for n in names {
                match self.status(n) {
                    Ok(s) if s.state == ContainerState::ContainerExited as i32 => {
                        codes.insert(n.to_string(), s.exit_code);
                    }
                    Ok(s) => running.push(format!("{n}: {}", state_name(s.state))),
                    Err(e) => running.push(e),
                }
            }
            if running.is_empty() {
                return Ok(codes);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not exited after {timeout:?}: {running:?} (exited: {codes:?})"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The containers' own timeline so far, sorted by time.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        let text = fs::read_to_string(self.shared.join("timeline.log")).unwrap_or_default();
        parse_timeline(&text).0
    }

    /// Waits until the timeline has `event` (`"sidecar started"` or `"started"`).
    pub fn wait_for(&self, event: &str, timeout: Duration) -> bool {
        eventually(timeout, || self.timeline().iter().any(|e| e.matches(event)))
    }

    /// How many times `container` logged exactly `text`.
    pub fn count(&self, container: &str, text: &str) -> usize {
        self.timeline()
            .iter()
            .filter(|e| e.container == container && e.text == text)
            .count()
    }

    /// StopContainer on every current container at once, with `timeout_s` (a kubelet deleting
    /// the pod); the errors.
    pub fn stop_all(&self, timeout_s: i64) -> Vec<String> {
        let ids: Vec<&str> = self.ids.values().map(String::as_str).collect();
        self.env
            .cri
            .stop_containers(&ids, timeout_s)
            .into_iter()
            .filter_map(Result::err)
            .collect()
    }

    /// The end of a pod as a kubelet does it: StopContainer (all at once) on what still
    /// runs, RemoveContainer, StopPodSandbox, RemovePodSandbox; the errors.
    pub fn remove(&mut self) -> Vec<String> {
        let mut errors = self.stop_all(10);
        for id in self.ids.values() {
            let _ = self.status_of(id);
            if let Err(e) = self.env.cri.remove_container(id) {
                errors.push(e);
            }
        }
        self.ids.clear();
        if let Err(e) = self.env.cri.stop_pod_sandbox(&self.sandbox_id) {
            errors.push(e);
        }
        if let Err(e) = self.env.cri.remove_pod_sandbox(&self.sandbox_id) {
            errors.push(e);
        }
        errors
    }

    /// Everything a failed assertion needs: the timeline, CRI's view of every container,
    /// podinit's status of this pod, the container logs, the supervisor's and containerd's.
    pub fn report(&self) -> String {
        let mut s = format!("=== pod {} (sandbox {}) ===\n", self.name, self.sandbox_id);
        let _ = writeln!(s, "timeline (ms since RunPodSandbox):");
        for e in self.timeline() {
            let rel = (e.at_us as f64 - self.t0_us as f64) / 1000.0;
            let _ = writeln!(s, "  {rel:>10.3} {:<10} {}", e.container, e.text);
        }
        let _ = writeln!(s, "CRI ContainerStatus:");
        for (name, id) in &self.created {
            let seen = self.seen.borrow().get(id).cloned();
            match self.status_of(id).or_else(|e| seen.ok_or(e)) {
                Ok(c) => {
                    let _ = writeln!(
                        s,
                        "  {name:<10} {id:.12} {} exit={} reason={:?} message={:?} \
                         started={:.3}s finished={:.3}s (after RunPodSandbox)",
                        state_name(c.state),
                        c.exit_code,
                        c.reason,
                        c.message,
                        since(c.started_at, self.t0_us),
                        since(c.finished_at, self.t0_us),
                    );
                }
                Err(e) => {
                    let _ = writeln!(s, "  {name:<10} {id:.12} {e}");
                }
            }
        }
        match self.env.pod_status(&self.sandbox_id) {
            Ok(v) => {
                let _ = writeln!(
                    s,
                    "podinit status --json --pod {}:\n{}",
                    self.sandbox_id,
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                );
            }
            Err(e) => {
                let _ = writeln!(s, "podinit status --pod {}: {e}", self.sandbox_id);
            }
        }
        for f in files_under(&self.logs) {
            let _ = writeln!(
                s,
                "--- {} (tail) ---\n{}",
                f.file_name().unwrap_or_default().to_string_lossy(),
                containerd::tail(&f, 15)
            );
        }
        s + &self.env.logs()
    }
}

/// Seconds from `t0_us` to a CRI nanosecond time (0 = never).
fn since(ns: i64, t0_us: u64) -> f64 {
    if ns == 0 {
        return f64::NAN;
    }
    (ns as f64 / 1000.0 - t0_us as f64) / 1e6
}

pub fn state_name(state: i32) -> &'static str {
    ContainerState::try_from(state).map_or("?", |s| s.as_str_name())
}

/// Collects failed checks, so one run reports every broken expectation at once, then panics
/// with all of them and the pods' reports.
#[derive(Default)]
pub struct Checks {
    fails: Vec<String>,
}

impl Checks {
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.fails.push(what());
        }
    }

    pub fn eq<T: PartialEq + Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            self.fails
                .push(format!("{what}: got {got:?}, expected {want:?}"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fails.is_empty()
    }

    pub fn fail(&mut self, what: String) {
        self.fails.push(what);
    }

    /// Panics with every failed check, then `reports` (one per pod).
    #[track_caller]
    pub fn finish(self, reports: &[&Pod<'_>]) {
        if self.fails.is_empty() {
            return;
        }
        let mut s = format!("{} check(s) failed:\n", self.fails.len());
        for f in &self.fails {
            let _ = writeln!(s, "  - {f}");
        }
        for p in reports {
            s.push('\n');
            s.push_str(&p.report());
        }
        panic!("{s}");
    }
}
