//! `podinit run MANIFEST...`: plays the sandbox agent on a developer's machine or in CI. Builds one
//! OCI bundle per container, injects them, starts a supervisor, creates and starts every
//! container with a real OCI runtime in the chosen order (one after the other, like a serial
//! agent), reaps the containers' inits as a subreaper, prints the timeline as the supervisor
//! writes it (inotify on `status.json`, no polling), cleans up, and exits 0 iff the pod Succeeded.
//! Ctrl-C is pod deletion (a second Ctrl-C forces it with a zero grace).
//! Before that, as a cluster would: SidecarSets are applied (`sidecarset`), env and the
//! configMap/secret/projected volumes' files come from the ConfigMap and Secret documents
//! (`sources`, `volumes`); each container's output is copied to `logs/` and to the pod's
//! stdlog directory in the CRI log format (`output`).

pub mod bundle;
pub mod fields;
pub mod image;
pub mod images;
pub mod inputs;
pub mod netns;
pub mod output;
pub mod sidecarset;
pub mod sources;
pub mod volumes;
pub mod workload;
pub mod yaml;

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::inject::{self, InjectOptions};
use crate::status::Document;
use crate::{log_info, log_warn};

/// The embedded default: the ACS document's Job with a native sidecar.
pub const DEMO_POD: &str = include_str!("../../testdata/pods/demo-job.json");

/// How long a deletion at `--timeout` (or a deadline) may take before everything is killed:
/// beyond the default grace of 30 s and the 2 s minimum per container of a longer stop order.
const FORCE_AFTER: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOrder {
    Spec,
    Reverse,
    Random,
}

pub struct RunOptions {
    /// Manifest files (YAML or JSON, `-` for standard input); none: the embedded demo pod.
    pub pod: Vec<PathBuf>,
    /// `runc`, `crun`, or a path to a runtime binary.
    pub runtime: String,
    pub order: CreateOrder,
    pub seed: Option<u64>,
    /// Keep the work directory (bundles, logs, status.json) for inspection.
    pub keep: bool,
    pub work_dir: Option<PathBuf>,
    /// Give up (and delete the pod) after this long.
    pub timeout: Duration,
    /// Print the pod as it runs (SidecarSets applied, env resolved) before running it.
    pub explain: bool,
    /// `--image NAME=PATH` and `--image-store DIR`.
    pub images: images::Sources,
    /// `--hooks` / `--no-hooks` for every bundle; by default `inject` picks per container (a
    /// claim by its init, no OCI hook in `runc create`, where it has a pid namespace of its own).
    pub hooks: inject::HookMode,
}

struct Runner {
    work: PathBuf,
    /// Each container's restartCount from status.json, for its stdlog file.
    restarts: std::sync::Arc<output::Restarts>,
    runtime: Vec<String>,
    socket: PathBuf,
    state_dir: PathBuf,
    started: Instant,
    hooks: inject::HookMode,
}

fn runtime_command(runtime: &str, root: &Path) -> Vec<String> {
    let root = root.to_string_lossy().into_owned();
    // crun 1.8 refuses hybrid-cgroup hosts; hiding the v2 mount in a private mount namespace
    // works (SPEC section 4).
    let hybrid = Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists();
    if (runtime == "crun" || runtime.ends_with("/crun")) && hybrid {
        return vec![
            "unshare".into(),
            "-m".into(),
            "sh".into(),
            "-c".into(),
            "umount /sys/fs/cgroup/unified 2>/dev/null; exec \"$0\" \"$@\"".into(),
            runtime.into(),
            "--root".into(),
            root,
        ];
    }
    vec![runtime.into(), "--root".into(), root]
}

/// A small xorshift for `--create-order random`: reproducible from the printed seed.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

pub fn run(opts: RunOptions) -> i32 {
    match run_inner(opts) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("podinit run: {e}");
            2
        }
    }
}

fn run_inner(opts: RunOptions) -> Result<i32, String> {
    let docs = if opts.pod.is_empty() {
        yaml::parse("demo-job.json", DEMO_POD).map_err(|e| e.to_string())?
    } else {
        inputs::read(&opts.pod)?
    };
    let w = workload::select(&docs).map_err(|e| e.to_string())?;
    for n in &w.notes {
        println!("note: {n}");
    }
    if opts.explain {
        println!(
            "the pod as it runs:\n{}",
            serde_json::to_string_pretty(&w.pod).map_err(|e| e.to_string())?
        );
    }
    let work = match &opts.work_dir {
        Some(w) => w.clone(),
        None => std::env::temp_dir().join(format!("podinit-run-{}", std::process::id())),
    };
    // A Job's deadline counts over all its pods; a pod's own activeDeadlineSeconds over one.
    let started = Instant::now();
    let job_deadline = w
        .job
        .as_ref()
        .and_then(|j| j.active_deadline_seconds)
        .map(|s| started + Duration::from_secs(s));
    let pod_deadline = w
        .pod
        .pointer("/spec/activeDeadlineSeconds")
        .and_then(serde_json::Value::as_u64)
        .map(Duration::from_secs);
    let attempts = w
        .job
        .as_ref()
        .map_or(1, |j| j.backoff_limit.saturating_add(1));
    let mut attempt = 1;
    loop {
        let now = Instant::now();
        let mut timeout = opts.timeout;
        if let Some(d) = pod_deadline {
            timeout = timeout.min(d);
        }
        if let Some(d) = job_deadline {
            timeout = timeout.min(d.saturating_duration_since(now));
        }
        let code = run_pod(&opts, &w, &work, timeout)?;
        if code == 0 {
            return Ok(0);
        }
        let Some(job) = &w.job else { return Ok(code) };
        if job_deadline.is_some_and(|d| Instant::now() >= d) {
            println!(
                "{}: activeDeadlineSeconds reached: the Job failed (DeadlineExceeded)",
                w.what
            );
            return Ok(code);
        }
        if attempt >= attempts {
            println!(
                "{}: backoffLimit {} reached: the Job failed (BackoffLimitExceeded)",
                w.what, job.backoff_limit
            );
            return Ok(code);
        }
        // The Job controller's back-off: 10 s, doubled for every failure, at most 6 min.
        let delay = Duration::from_secs(10u64.saturating_mul(1 << (attempt - 1).min(6)).min(360));
        if job_deadline.is_some_and(|d| Instant::now() + delay >= d) {
            println!(
                "{}: activeDeadlineSeconds reached before the next retry: the Job failed (DeadlineExceeded)",
                w.what
            );
            return Ok(code);
        }
        if opts.keep && work.exists() {
            let kept = PathBuf::from(format!("{}-attempt-{attempt}", work.display()));
            let _ = std::fs::remove_dir_all(&kept);
            std::fs::rename(&work, &kept).map_err(|e| format!("{}: {e}", work.display()))?;
            println!("kept attempt {attempt} in {}", kept.display());
        }
        println!(
            "{}: pod failed; the Job creates a new one in {}s (retry {attempt} of backoffLimit {})",
            w.what,
            delay.as_secs(),
            job.backoff_limit
        );
        if interrupted_within(delay) {
            println!("interrupted: no more retries");
            return Ok(code);
        }
        attempt += 1;
    }
}

/// Sleep for `d`, or less if SIGINT/SIGTERM arrives (they are blocked: `run_pod` waits for them
/// on a signalfd), so Ctrl-C during a Job's back-off ends the run.
fn interrupted_within(d: Duration) -> bool {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    if set.thread_block().is_err() {
        std::thread::sleep(d);
        return false;
    }
    let deadline = Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ts = libc::timespec {
            tv_sec: left.as_secs() as _, // time_t (deprecated as a name on musl)
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        // SAFETY: a valid signal set and timespec; no siginfo wanted.
        if unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &ts) } > 0 {
            return true;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// Run one pod to its end; 0 iff it Succeeded.
fn run_pod(
    opts: &RunOptions,
    w: &workload::Workload,
    work: &Path,
    timeout: Duration,
) -> Result<i32, String> {
    let work = work.to_path_buf();
    let volumes = work.join("volumes");
    // Everything about the input is checked before anything is created.
    let mut pod = bundle::parse_pod(&w.pod, &volumes)?;
    let mut rootfs_of = BTreeMap::new();
    // Saved images are read (index, manifest, config, checked) now; their layers later.
    let mut saved: BTreeMap<(PathBuf, String), image::Loaded> = BTreeMap::new();
    let mut configs = BTreeMap::new();
    for c in &pod.containers {
        let img = images::resolve(&c.name, &c.image, &opts.images).map_err(|e| e.to_string())?;
        if let images::Image::Saved(path) = &img {
            let key = (path.clone(), c.image.clone());
            if let std::collections::btree_map::Entry::Vacant(slot) = saved.entry(key.clone()) {
                let loaded = image::load(path, &c.image)
                    .map_err(|e| saved_error(&c.name, &c.image, path, &e))?;
                slot.insert(loaded);
            }
            configs.insert(
                c.name.clone(),
                image::process::ImageProcess::from_config(&saved[&key].config),
            );
        }
        rootfs_of.insert(c.name.clone(), img);
    }
    for c in &mut pod.containers {
        if let Some(config) = configs.get(&c.name) {
            image::process::apply(c, config)?;
        }
    }
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    for (name, files) in &w.volume_files {
        volumes::write(&volumes.join(name), files)?;
    }
    let stdlog = bundle::stdlog_dir(&volumes);
    std::fs::create_dir_all(&stdlog).map_err(|e| format!("{}: {e}", stdlog.display()))?;
    for c in &pod.containers {
        for (_, src, _) in &c.mounts {
            // An emptyDir's subPath is created on first use, as the kubelet does.
            if src.starts_with(&volumes) && !src.exists() {
                let dir = if src.extension().is_some() {
                    src.parent().unwrap_or(src)
                } else {
                    src
                };
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
        }
    }
    let binary =
        std::env::current_exe().map_err(|e| format!("cannot find the podinit binary: {e}"))?;
    let netns = netns::NetNs::create(&work.join("netns"))?;
    let runner = Runner {
        restarts: output::Restarts::new(work.join("state").join("status.json")),
        runtime: runtime_command(&opts.runtime, &work.join("runtime-root")),
        socket: work.join("podinit.sock"),
        state_dir: work.join("state"),
        work: work.clone(),
        started: Instant::now(),
        hooks: opts.hooks,
    };
    crate::sys::prctl::set_child_subreaper()
        .map_err(|e| format!("cannot become a child subreaper: {e}"))?;

    // Block the signals we wait for before any child exists, so none is lost.
    let mut mask = SigSet::empty();
    for s in [Signal::SIGCHLD, Signal::SIGINT, Signal::SIGTERM] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| format!("sigprocmask: {e}"))?;
    let mut supervisor = runner.start_supervisor(&binary, &mask)?;

    let mut ids = BTreeMap::new();
    let mut order: Vec<usize> = (0..pod.containers.len()).collect();
    match opts.order {
        CreateOrder::Spec => {}
        CreateOrder::Reverse => order.reverse(),
        CreateOrder::Random => {
            let seed = opts.seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                    | 1
            });
            println!("create order: random, seed {seed}");
            shuffle(&mut order, seed);
        }
    }
    let names: Vec<&str> = order
        .iter()
        .map(|i| pod.containers[*i].name.as_str())
        .collect();
    println!(
        "pod {}: {} containers, runtime {}{}, creating in order {}",
        pod.name,
        names.len(),
        opts.runtime,
        match opts.hooks {
            inject::HookMode::NoHooks => " without hooks (each init claims its registration)",
            inject::HookMode::Hooks => " with OCI hooks (--hooks)",
            inject::HookMode::Auto => {
                " without hooks where a container has its own pid namespace (each init claims \
                 its registration; --hooks for OCI hooks)"
            }
        },
        names.join(", ")
    );
    let mut pids: BTreeMap<i32, String> = BTreeMap::new();
    let mut failure = None;
    let mut capture = output::Capture::default();
    for i in order {
        let mut c = pod.containers[i].clone();
        let rootfs = match rootfs_of.get(&c.name) {
            Some(images::Image::Rootfs(dir)) => (dir.clone(), false),
            Some(images::Image::Saved(path)) => {
                let own = work.join("rootfs").join(&c.name);
                let prepared = saved
                    .get(&(path.clone(), c.image.clone()))
                    .ok_or_else(|| format!("container {}: image not loaded", c.name))
                    .and_then(|img| {
                        let shared = image::rootfs::unpacked(img, &work.join("images"))
                            .map_err(|e| saved_error(&c.name, &c.image, path, &e))?;
                        image::rootfs::copy_tree(&shared, &own)?;
                        // The User's names are the image's own: resolved in its /etc.
                        let user = configs.get(&c.name).and_then(|p| p.user.as_deref());
                        c.user = image::user::for_container(c.run_as, user, &own)
                            .map_err(|e| format!("container {}: {e}", c.name))?;
                        Ok(())
                    });
                match prepared {
                    Ok(()) => (own, true),
                    Err(e) => {
                        eprintln!("podinit run: {e}");
                        failure = Some(e);
                        break;
                    }
                }
            }
            _ => (
                bundle::busybox_rootfs(&work.join("rootfs").join(&c.name))?,
                true,
            ),
        };
        let id = format!("{}-{}-{}", pod.name, c.name, std::process::id());
        match runner.create_and_start(
            &pod,
            &c,
            &id,
            (&rootfs.0, rootfs.1),
            &netns.path,
            &binary,
            &mask,
            (&mut capture, &stdlog),
        ) {
            Ok(pid) => {
                pids.insert(pid, c.name.clone());
                ids.insert(c.name.clone(), id);
            }
            Err(e) => {
                eprintln!("podinit run: {e}");
                failure = Some(e);
                break;
            }
        }
    }
    if failure.is_some() {
        let _ = supervisor.kill();
    }
    let exit_codes = runner.wait(&mut supervisor, &mut pids, &mask, timeout)?;
    for id in ids.values() {
        let _ = Command::new(&runner.runtime[0])
            .args(&runner.runtime[1..])
            .args(["delete", "-f", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    // The containers are gone: their streams end.
    capture.finish(Duration::from_secs(2));
    let status = runner.state_dir.join("status.json");
    let doc = std::fs::read(&status)
        .map_err(|e| e.to_string())
        .and_then(|b| Document::parse(&b).map_err(|e| e.to_string()));
    match &doc {
        Ok(doc) => println!("\n{}", crate::cli::status_table(doc)),
        Err(e) => println!("\nno pod status: {}: {e}", status.display()),
    }
    println!(
        "exit codes seen by the runtime's reaper: {}",
        exit_codes
            .iter()
            .map(|(n, c)| format!("{n}={c}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for c in &pod.containers {
        let log = std::fs::read_to_string(work.join("logs").join(format!("{}.log", c.name)))
            .unwrap_or_default();
        if !log.trim().is_empty() {
            println!("--- {} output ---", c.name);
            for line in log
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                println!("  {line}");
            }
        }
    }
    let phase = doc.as_ref().map_or("Unknown", |d| d.phase.as_str());
    drop(netns);
    if opts.keep {
        println!("kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    println!("pod {}: {phase}", pod.name);
    Ok(if phase == "Succeeded" && failure.is_none() {
        0
    } else {
        1
    })
}

impl Runner {
    fn start_supervisor(&self, binary: &Path, mask: &SigSet) -> Result<Child, String> {
        std::fs::create_dir_all(&self.state_dir).map_err(|e| e.to_string())?;
        let log = File::create(self.work.join("supervisor.log")).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(binary);
        // The runner's supervisor serves this one pod: it exits with it, and that exit is how
        // the runner knows the pod is over.
        cmd.args(["supervise", "--exit-with-pod"])
            .env("PODINIT_SOCKET", &self.socket)
            .env("PODINIT_STATE_DIR", &self.state_dir);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        let child =
            spawn_unblocked(&mut cmd, mask).map_err(|e| format!("starting the supervisor: {e}"))?;
        // A development tool's start-up, not the supervisor's loop: wait for the socket to appear.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self
            .state_dir
            .join("sock")
            .join(crate::proto::INIT_SOCKET_NAME)
            .exists()
        {
            if Instant::now() > deadline {
                return Err(format!(
                    "the supervisor did not come up; see {}",
                    self.work.join("supervisor.log").display()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(child)
    }

    #[allow(clippy::too_many_arguments)]
    fn create_and_start(
        &self,
        pod: &bundle::PodManifest,
        c: &bundle::ContainerSpec,
        id: &str,
        rootfs: (&Path, bool),
        netns: &Path,
        binary: &Path,
        mask: &SigSet,
        (capture, stdlog): (&mut output::Capture, &Path),
    ) -> Result<i32, String> {
        let dir = self.work.join("bundles").join(&c.name);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let config = bundle::config(pod, c, rootfs, Some(netns))?;
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&config).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let prepared = inject::inject(
            &dir,
            &InjectOptions {
                binary: binary.to_path_buf(),
                socket: self.socket.clone(),
                state_dir: self.state_dir.clone(),
                log_level: std::env::var("PODINIT_LOG").ok(),
                hooks: self.hooks,
                // A claim is bound to the id the container is created with just below.
                id: id.to_owned(),
            },
        )
        .map_err(|e| e.to_string())?;
        if let inject::Outcome::Changed(chosen) | inject::Outcome::Unchanged(chosen) = &prepared {
            crate::log_debug!("run: container {}: {chosen}", c.name);
        }
        std::fs::create_dir_all(self.work.join("logs")).map_err(|e| e.to_string())?;
        // The container inherits runc's stdio: pipes the runner copies to the logs.
        let (out, err) = capture.container(
            &c.name,
            &self.work.join("logs").join(format!("{}.log", c.name)),
            stdlog,
            &self.restarts,
        )?;
        let pid_file = dir.join("pid");
        let t = Instant::now();
        let mut create = Command::new(&self.runtime[0]);
        create
            .args(&self.runtime[1..])
            .args(["create", "--bundle"])
            .arg(&dir)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(id);
        create
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let status = spawn_unblocked(&mut create, mask)
            .and_then(|mut ch| ch.wait())
            .map_err(|e| format!("{}: {e}", self.runtime[0]))?;
        // The pipes' write ends now belong to the container alone: its exit ends the copy.
        drop(create);
        if !status.success() {
            return Err(format!(
                "{} create {id} failed ({status}); see {}",
                self.runtime[0],
                self.work
                    .join("logs")
                    .join(format!("{}.log", c.name))
                    .display()
            ));
        }
        let mut start = Command::new(&self.runtime[0]);
        start
            .args(&self.runtime[1..])
            .args(["start", id])
            .stdin(Stdio::null());
        let status = spawn_unblocked(&mut start, mask)
            .and_then(|mut ch| ch.wait())
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("{} start {id} failed ({status})", self.runtime[0]));
        }
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or(format!("{id}: no pid file"))?;
        log_info!(
            "created and started {} (pid {pid}) in {:?}",
            c.name,
            t.elapsed()
        );
        Ok(pid)
    }

    /// Reap until the supervisor and every container init are gone; print the timeline as it
    /// grows. Returns the exit code of each container's init, as a containerd shim would see it.
    fn wait(
        &self,
        supervisor: &mut Child,
        pids: &mut BTreeMap<i32, String>,
        mask: &SigSet,
        timeout: Duration,
    ) -> Result<BTreeMap<String, i32>, String> {
        let sigfd = SignalFd::with_flags(mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| e.to_string())?;
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| e.to_string())?;
        inotify
            .add_watch(&self.state_dir, AddWatchFlags::IN_MOVED_TO)
            .map_err(|e| e.to_string())?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| e.to_string())?;
        epoll
            .add(sigfd.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, 0))
            .map_err(|e| e.to_string())?;
        epoll
            .add(inotify.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, 1))
            .map_err(|e| e.to_string())?;
        let sup_pid = supervisor.id() as i32;
        let mut sup_done = false;
        let mut codes = BTreeMap::new();
        let mut interrupts = 0;
        let mut timed_out = false;
        let deadline = Instant::now() + timeout;
        let mut events = [EpollEvent::empty(); 4];
        let mut printed = 0;
        loop {
            // Reap first: children may have ended before the loop began.
            while let Ok(Some((pid, raw))) = crate::sys::wait::wait_nohang(-1) {
                let code = crate::sys::wait::Ended::from_raw(raw)
                    .map_or(raw, crate::init::reap::exit_code);
                if pid == sup_pid {
                    sup_done = true;
                } else if let Some(name) = pids.remove(&pid) {
                    codes.insert(name, code);
                }
            }
            self.print_new(&mut printed);
            if sup_done && pids.is_empty() {
                return Ok(codes);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() && !timed_out {
                // A deletion, as the kubelet does at a deadline: preStop, SIGTERM, the pod's
                // grace (SIGTERM to the supervisor is pod deletion).
                timed_out = true;
                log_warn!("timeout: deleting the pod");
                let _ = crate::sys::signal::kill(sup_pid, libc::SIGTERM);
            }
            if timed_out && !sup_done && Instant::now() >= deadline + FORCE_AFTER {
                log_warn!(
                    "the pod's deletion did not end: killing the supervisor and the containers"
                );
                let _ = crate::sys::signal::kill(sup_pid, libc::SIGKILL);
                for pid in pids.keys() {
                    let _ = crate::sys::signal::kill(*pid, libc::SIGKILL);
                }
            }
            // After the supervisor is gone, give straggling inits a moment, then stop waiting.
            let wait_ms: u64 = if sup_done {
                5000
            } else if timed_out {
                // The deletion is under way; its own deadlines end it, FORCE_AFTER at the latest.
                (deadline + FORCE_AFTER)
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .clamp(1, 60_000) as u64
            } else {
                left.as_millis().clamp(1, 60_000) as u64
            };
            let n = match epoll.wait(
                &mut events,
                EpollTimeout::try_from(wait_ms).unwrap_or(EpollTimeout::NONE),
            ) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(format!("epoll_wait: {e}")),
            };
            if n == 0 && sup_done {
                for (pid, name) in pids.iter() {
                    log_warn!(
                        "{name} (pid {pid}) still running after the supervisor exited; killing it"
                    );
                    let _ = crate::sys::signal::kill(*pid, libc::SIGKILL);
                }
            }
            while let Ok(Some(info)) = sigfd.read_signal() {
                if info.ssi_signo as i32 == libc::SIGINT || info.ssi_signo as i32 == libc::SIGTERM {
                    interrupts += 1;
                    let grace = if interrupts > 1 { Some(0) } else { None };
                    println!(
                        "{} pod deletion requested{}",
                        self.stamp(),
                        if grace.is_some() { " (forced)" } else { "" }
                    );
                    let _ = crate::client::request(
                        &self.socket,
                        &crate::proto::ControlRequest::Stop {
                            grace_seconds: grace,
                            pod_key: None,
                        },
                        Duration::from_secs(2),
                    );
                }
            }
            let _ = inotify.read_events();
            // status.json in the state dir is a symlink into the pod's directory, where the
            // supervisor replaces the file: watch that directory once the link exists.
            if let Some(pod_dir) = std::fs::canonicalize(self.state_dir.join("status.json"))
                .ok()
                .and_then(|f| f.parent().map(Path::to_path_buf))
            {
                let _ = inotify.add_watch(&pod_dir, AddWatchFlags::IN_MOVED_TO);
            }
        }
    }

    fn stamp(&self) -> String {
        format!("[{:>7.3}s]", self.started.elapsed().as_secs_f64())
    }

    fn print_new(&self, printed: &mut usize) {
        let Some(doc) = std::fs::read(self.state_dir.join("status.json"))
            .ok()
            .and_then(|b| Document::parse(&b).ok())
        else {
            return;
        };
        for e in doc.timeline.iter().skip(*printed) {
            let at = e.at.as_str();
            let who = e.container.as_deref().unwrap_or("pod");
            println!("{}  {:<12} {}", at.get(11..23).unwrap_or(at), who, e.event);
        }
        *printed = (*printed).max(doc.timeline.len());
    }
}

/// A saved image's error with the container, the reference and the path it was read from.
fn saved_error(container: &str, reference: &str, path: &Path, e: &image::Error) -> String {
    format!(
        "container {container}: image {reference:?} ({}): {e}",
        path.display()
    )
}

/// Spawn with the signal mask the runner had before it blocked SIGCHLD/SIGINT/SIGTERM.
pub(crate) fn spawn_unblocked(cmd: &mut Command, mask: &SigSet) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let mask = *mask;
    // SAFETY: sigprocmask is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            mask.thread_unblock().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    cmd.spawn()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_order_is_a_permutation_reproducible_from_the_seed() {
        let mut a: Vec<u32> = (0..10).collect();
        let mut b = a.clone();
        shuffle(&mut a, 42);
        shuffle(&mut b, 42);
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_ne!(a, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn the_demo_pod_parses() {
        let m = bundle::parse_manifest(DEMO_POD, Path::new("/v")).unwrap();
        assert!(m.containers.iter().any(|c| c.init));
    }
}
