//! `podinit run --vm POD`: the pod in a microVM whose PID 1 is podinit.
//!
//! Builds the initramfs from this host's files, boots qemu (KVM once a guest proved it boots,
//! emulation otherwise; chosen automatically and printed), streams the guest's console — the
//! guest's `podinit run` timeline and final table — to the terminal, turns Ctrl-C into a pod
//! deletion inside the guest (`delete` on the control port; again to force), and exits 0 iff the
//! guest reported Succeeded *and* qemu ended through `isa-debug-exit` with the success byte: a
//! guest that crashed or powered off without a word never reads as a Succeeded pod.

use std::fs::File;
use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::initramfs::{self, Contents};
use super::qemu::{self, Accel, AccelChoice, KvmVerdict, Machine};
use super::result::{self, GuestEvent, HostCommand, SandboxResult};
use crate::framing::Deframer;
use crate::run::{CreateOrder, RunOptions};

pub struct VmOptions {
    pub kernel: Option<PathBuf>,
    pub memory_mib: u64,
    pub cpus: u32,
    pub accel: AccelChoice,
}

/// Beyond the pod's own `--timeout`: the boot and the teardown under emulation.
const BOOT_MARGIN: Duration = Duration::from_secs(120);

/// How Ctrl-C reaches the guest: `control` (default: `delete` on the control port) or
/// `ctrl-alt-del` (the key press through qemu's monitor, as a hypervisor's own stop would: the
/// guest kernel turns it into SIGINT to PID 1).
pub const DELETE_ENV: &str = "PODINIT_VM_DELETE";

/// Set (to 1) to hand the manifests to the guest unchecked, so the guest's own handling of a
/// broken pod can be seen (and tested); otherwise they are checked here before any boot.
pub const UNCHECKED_ENV: &str = "PODINIT_VM_UNCHECKED";

pub fn run(opts: &RunOptions, vm: &VmOptions) -> i32 {
    match run_inner(opts, vm) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("podinit run --vm: {e}");
            2
        }
    }
}

/// The manifests as files named for the guest's `/pod` (in order), standard input included.
fn collect_pods(paths: &[PathBuf]) -> Result<Vec<(String, Vec<u8>)>, String> {
    if paths.is_empty() {
        return Ok(vec![(
            "00-demo-job.json".into(),
            crate::run::DEMO_POD.as_bytes().to_vec(),
        )]);
    }
    let mut out = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        let (name, bytes) = if p.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("standard input: {e}"))?;
            ("stdin.yaml".to_string(), buf)
        } else {
            let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pod.yaml".into());
            (name, bytes)
        };
        out.push((format!("{i:02}-{name}"), bytes));
    }
    Ok(out)
}

/// The checks `podinit run` makes before it creates anything, here before the boot; returns
/// the pod's name.
fn check(files: &[PathBuf]) -> Result<String, String> {
    let docs = crate::run::inputs::read(files)?;
    let w = crate::run::workload::select(&docs).map_err(|e| e.to_string())?;
    let scratch = std::env::temp_dir().join("podinit-vm-check");
    let pod = crate::run::bundle::parse_pod(&w.pod, &scratch)?;
    for c in &pod.containers {
        match crate::run::images::resolve(&c.name, &c.image, &Default::default())
            .map_err(|e| e.to_string())?
        {
            crate::run::images::Image::Busybox => {}
            crate::run::images::Image::Rootfs(dir) | crate::run::images::Image::Saved(dir) => {
                return Err(format!(
                    "container {}: the image {} is on this host; the VM \
                     carries busybox images only (use a busybox image, or run without --vm)",
                    c.name,
                    dir.display()
                ));
            }
        }
    }
    Ok(w.pod
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or("pod")
        .to_string())
}

/// A pod name as a host name: what `sethostname` and the guest's command line accept.
fn hostname(pod: &str) -> String {
    let h: String = pod
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    if h.is_empty() { "pod".into() } else { h }
}

fn run_inner(opts: &RunOptions, vm: &VmOptions) -> Result<i32, String> {
    let work = match &opts.work_dir {
        Some(w) => w.clone(),
        None => std::env::temp_dir().join(format!("podinit-vm-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let result = boot_pod(opts, vm, &work);
    if opts.keep {
        println!(
            "vm: kept the initramfs, console log and status in {}",
            work.display()
        );
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

fn boot_pod(opts: &RunOptions, vm: &VmOptions, work: &Path) -> Result<i32, String> {
    let pods = collect_pods(&opts.pod)?;
    let pod_dir = work.join("pod");
    std::fs::create_dir_all(&pod_dir).map_err(|e| format!("{}: {e}", pod_dir.display()))?;
    let mut files = Vec::new();
    for (name, bytes) in &pods {
        let f = pod_dir.join(name);
        std::fs::write(&f, bytes).map_err(|e| format!("{}: {e}", f.display()))?;
        files.push(f);
    }
    let unchecked = std::env::var(UNCHECKED_ENV).is_ok_and(|v| v == "1");
    let pod_name = if unchecked {
        println!("vm: {UNCHECKED_ENV}=1: the manifests go to the guest unchecked");
        "pod".to_string()
    } else {
        check(&files)?
    };
    let runtime = qemu::find_on_path(&opts.runtime).ok_or_else(|| {
        format!(
            "the OCI runtime {:?} is not on PATH: install it (apt-get install {})",
            opts.runtime, opts.runtime
        )
    })?;
    let podinit =
        std::env::current_exe().map_err(|e| format!("cannot find the podinit binary: {e}"))?;
    let busybox = crate::run::bundle::host_busybox()?;
    let kernel = match &vm.kernel {
        Some(k) => k.clone(),
        None => qemu::find_kernel()?,
    };
    if std::fs::File::open(&kernel).is_err() {
        return Err(format!(
            "cannot read the kernel {} (run as root, or pass --kernel PATH)",
            kernel.display()
        ));
    }
    let qemu_bin = qemu::find_qemu()?;
    let image = initramfs::build(&Contents {
        podinit,
        busybox,
        runtime: runtime.clone(),
        pods,
    })?;
    let initramfs_path = work.join("initramfs.cpio");
    std::fs::write(&initramfs_path, &image)
        .map_err(|e| format!("{}: {e}", initramfs_path.display()))?;

    let mut words = vec![
        "podinit.control=/dev/ttyS1".to_string(),
        format!("podinit.debug-exit=0x{:x}", qemu::DEBUG_EXIT_PORT),
        format!("podinit.hostname={}", hostname(&pod_name)),
        format!("podinit.runtime={}", runtime.display()),
        format!(
            "podinit.create-order={}",
            match opts.order {
                CreateOrder::Spec => "spec",
                CreateOrder::Reverse => "reverse",
                CreateOrder::Random => "random",
            }
        ),
        format!("podinit.timeout={}", opts.timeout.as_secs()),
    ];
    if let Some(seed) = opts.seed {
        words.push(format!("podinit.seed={seed}"));
    }
    match opts.hooks {
        crate::inject::HookMode::NoHooks => words.push("podinit.no-hooks=1".into()),
        crate::inject::HookMode::Hooks => words.push("podinit.no-hooks=0".into()),
        crate::inject::HookMode::Auto => {}
    }
    if let Ok(level) = std::env::var("PODINIT_LOG") {
        words.push(format!("podinit.log={level}"));
    }

    let verdict = KvmVerdict::new();
    let (tries, why) = match vm.accel {
        AccelChoice::Tcg => (vec![Accel::Tcg], "asked for with --accel tcg".to_string()),
        AccelChoice::Kvm => (vec![Accel::Kvm], "asked for with --accel kvm".to_string()),
        AccelChoice::Auto if !qemu::kvm_device_usable() => (
            vec![Accel::Tcg],
            "/dev/kvm cannot be opened here".to_string(),
        ),
        AccelChoice::Auto if verdict.known_broken() => (
            vec![Accel::Tcg],
            format!(
                "KVM did not boot a guest on this host before (remembered in {}; --accel kvm to try again)",
                verdict.path().display()
            ),
        ),
        AccelChoice::Auto => (
            vec![Accel::Kvm, Accel::Tcg],
            "/dev/kvm opens; trying it first".to_string(),
        ),
    };
    let auto = vm.accel == AccelChoice::Auto;
    let mut why = why;
    for accel in tries {
        println!(
            "vm: {} · {} MiB · {} vCPU · {} ({why}) · initramfs {:.1} MiB",
            kernel.display(),
            vm.memory_mib,
            vm.cpus,
            accel.name(),
            image.len() as f64 / (1 << 20) as f64
        );
        let machine = Machine {
            kernel: &kernel,
            initramfs: &initramfs_path,
            memory_mib: vm.memory_mib,
            cpus: vm.cpus,
            accel,
            control_socket: &work.join("control.sock"),
            monitor_socket: &work.join("qmp.sock"),
            podinit_words: words.clone(),
        };
        let proof = (auto && accel == Accel::Kvm).then_some(qemu::KVM_BOOT_PROOF);
        match Boot::run(&qemu_bin, &machine, work, opts.timeout + BOOT_MARGIN, proof)? {
            BootEnd::NoProof => {
                verdict.remember_broken();
                why = format!(
                    "KVM did not bring up the guest's PID 1 within {} s; remembered in {}",
                    qemu::KVM_BOOT_PROOF.as_secs(),
                    verdict.path().display()
                );
            }
            BootEnd::Done(code) => return Ok(code),
        }
    }
    Err("no accelerator booted the guest".into())
}

enum BootEnd {
    /// KVM on trial did not prove itself: try the next accelerator.
    NoProof,
    Done(i32),
}

const SIGNALS: u64 = 0;
const CONSOLE: u64 = 1;
const QEMU_ERR: u64 = 2;
const LISTENER: u64 = 3;
const CONTROL: u64 = 4;
const MONITOR_LISTENER: u64 = 5;
const MONITOR: u64 = 6;

struct Boot<'a> {
    machine: &'a Machine<'a>,
    launched: Instant,
    qemu: Child,
    console_log: File,
    console_line: Deframer,
    qemu_err: Vec<u8>,
    control: Option<UnixStream>,
    control_buf: Deframer,
    monitor: Option<UnixStream>,
    with_ctrl_alt_del: bool,
    /// The guest's `up` event: (PID 1 start, moved to the new root, agent start), guest ms.
    up: Option<(u64, u64, u64)>,
    result: Option<SandboxResult>,
    console_result: Option<serde_json::Value>,
    deletions: u32,
}

fn set_nonblocking(fd: BorrowedFd<'_>) {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
}

/// Read what is there without blocking; `None` at end of file.
fn read_available(r: &mut impl Read, into: &mut Vec<u8>) -> Option<usize> {
    let mut buf = [0u8; 8192];
    let mut total = 0;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return if total == 0 { None } else { Some(total) },
            Ok(n) => {
                into.extend_from_slice(&buf[..n]);
                total += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Some(total),
        }
    }
}

impl<'a> Boot<'a> {
    fn run(
        qemu_bin: &Path,
        machine: &'a Machine<'a>,
        work: &Path,
        hard_limit: Duration,
        proof: Option<Duration>,
    ) -> Result<BootEnd, String> {
        let listen = |path: &Path| {
            let _ = std::fs::remove_file(path);
            let l = UnixListener::bind(path).map_err(|e| format!("{}: {e}", path.display()))?;
            l.set_nonblocking(true)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok::<_, String>(l)
        };
        let listener = listen(machine.control_socket)?;
        let monitor = listen(machine.monitor_socket)?;
        let with_ctrl_alt_del = match std::env::var(DELETE_ENV).as_deref() {
            Err(_) | Ok("control") => false,
            Ok("ctrl-alt-del") => true,
            Ok(other) => {
                return Err(format!(
                    "{DELETE_ENV}={other:?}: expected control or ctrl-alt-del"
                ));
            }
        };
        let mut mask = SigSet::empty();
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGCHLD] {
            mask.add(s);
        }
        let old_mask = mask
            .thread_swap_mask(SigmaskHow::SIG_BLOCK)
            .map_err(|e| format!("blocking signals: {e}"))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| format!("signalfd: {e}"))?;
        let mut cmd = Command::new(qemu_bin);
        cmd.args(qemu::args(machine))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: the terminal's Ctrl-C is ours to turn into a deletion.
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; the closure allocates nothing. qemu must not
        // outlive us (a killed `podinit run --vm` would leave a VM running).
        unsafe {
            cmd.pre_exec(|| {
                crate::sys::prctl::set_pdeathsig(libc::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let launched = Instant::now();
        let qemu = crate::run::spawn_unblocked(&mut cmd, &old_mask)
            .map_err(|e| format!("starting {}: {e}", qemu_bin.display()))?;
        let console_log = File::create(work.join("console.log"))
            .map_err(|e| format!("{}: {e}", work.join("console.log").display()))?;
        let mut boot = Boot {
            machine,
            launched,
            qemu,
            console_log,
            // Console lines past 64 KiB and control lines past 16 MiB are dropped, not kept.
            console_line: Deframer::new(1 << 16),
            qemu_err: Vec::new(),
            control: None,
            control_buf: Deframer::new(16 << 20),
            monitor: None,
            with_ctrl_alt_del: false,
            up: None,
            result: None,
            console_result: None,
            deletions: 0,
        };
        boot.with_ctrl_alt_del = with_ctrl_alt_del;
        let end = boot.serve(&signals, &listener, &monitor, hard_limit, proof);
        let _ = old_mask.thread_set_mask();
        let end = end?;
        if let Some(r) = &boot.result {
            if let Some(status) = &r.status {
                let _ = std::fs::write(
                    work.join("status.json"),
                    serde_json::to_vec_pretty(status).unwrap_or_default(),
                );
            }
        }
        Ok(end)
    }

    fn kill_qemu(&mut self) {
        let _ = self.qemu.kill();
    }

    fn send(&mut self, cmd: HostCommand) -> bool {
        match &mut self.control {
            Some(c) => c.write_all(cmd.line()).is_ok(),
            None => false,
        }
    }

    /// One deletion request to the guest: Ctrl-Alt-Del through the monitor when asked for (and
    /// connected), else `delete` on the control port.
    fn delete(&mut self) {
        if self.with_ctrl_alt_del {
            if let Some(m) = &mut self.monitor {
                if m.write_all(qemu::QMP_CTRL_ALT_DEL).is_ok() {
                    println!("vm: Ctrl-Alt-Del pressed on the guest's keyboard");
                    return;
                }
            }
        }
        self.send(HostCommand::Delete);
    }

    fn serve(
        &mut self,
        signals: &SignalFd,
        listener: &UnixListener,
        monitor: &UnixListener,
        hard_limit: Duration,
        proof: Option<Duration>,
    ) -> Result<BootEnd, String> {
        let epoll =
            Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| format!("epoll: {e}"))?;
        let interest = |t| EpollEvent::new(EpollFlags::EPOLLIN, t);
        let stdout = self.qemu.stdout.take().ok_or("qemu's stdout")?;
        let stderr = self.qemu.stderr.take().ok_or("qemu's stderr")?;
        set_nonblocking(stdout.as_fd());
        set_nonblocking(stderr.as_fd());
        let mut stdout = Some(stdout);
        let mut stderr = Some(stderr);
        let add = |fd: BorrowedFd<'_>, t| {
            epoll
                .add(fd, interest(t))
                .map_err(|e| format!("epoll_ctl: {e}"))
        };
        add(signals.as_fd(), SIGNALS)?;
        add(stdout.as_ref().map(|s| s.as_fd()).ok_or("stdout")?, CONSOLE)?;
        add(
            stderr.as_ref().map(|s| s.as_fd()).ok_or("stderr")?,
            QEMU_ERR,
        )?;
        add(listener.as_fd(), LISTENER)?;
        add(monitor.as_fd(), MONITOR_LISTENER)?;
        let hard_deadline = self.launched + hard_limit;
        let mut forced_at: Option<Instant> = None;
        let mut events = [EpollEvent::empty(); 8];
        let mut exit_status: Option<std::process::ExitStatus> = None;
        while exit_status.is_none() || stdout.is_some() {
            let now = Instant::now();
            let mut next = hard_deadline;
            if let Some(p) = proof.filter(|_| self.up.is_none()) {
                next = next.min(self.launched + p);
            }
            if let Some(f) = forced_at {
                next = next.min(f);
            }
            if exit_status.is_some() {
                // qemu is gone; drain its output, but not forever.
                next = now + Duration::from_millis(200);
            }
            let ms = next.saturating_duration_since(now).as_millis().min(60_000) as u16;
            let n = match epoll.wait(&mut events, EpollTimeout::from(ms)) {
                Ok(n) => n,
                Err(Errno::EINTR) => 0,
                Err(e) => return Err(format!("epoll_wait: {e}")),
            };
            if n == 0 && exit_status.is_some() {
                break;
            }
            for ev in &events[..n] {
                match ev.data() {
                    SIGNALS => {
                        let mut buf = [MaybeUninit::uninit(); 8];
                        let signos: Vec<u32> =
                            crate::sys::signal::read_signalfd(signals.as_fd(), &mut buf)
                                .map(|s| s.iter().map(|i| i.ssi_signo).collect())
                                .unwrap_or_default();
                        for signo in signos {
                            if signo as i32 == libc::SIGCHLD {
                                continue;
                            }
                            self.deletions += 1;
                            if self.up.is_none() || self.control.is_none() {
                                println!("vm: interrupted before the pod started: stopping the VM");
                                self.kill_qemu();
                            } else if self.deletions <= 2 {
                                println!(
                                    "vm: deleting the pod in the guest{}",
                                    if self.deletions == 1 {
                                        " (again to force)"
                                    } else {
                                        ": forced"
                                    }
                                );
                                self.delete();
                            } else {
                                println!("vm: killing the guest's agent");
                                self.send(HostCommand::Kill);
                                forced_at.get_or_insert(Instant::now() + Duration::from_secs(10));
                            }
                        }
                        if exit_status.is_none() {
                            if let Ok(Some(st)) = self.qemu.try_wait() {
                                exit_status = Some(st);
                            }
                        }
                    }
                    CONSOLE => {
                        let mut chunk = Vec::new();
                        let eof = match stdout.as_mut() {
                            Some(s) => read_available(s, &mut chunk).is_none(),
                            None => true,
                        };
                        self.console(&chunk);
                        if eof {
                            if let Some(s) = stdout.take() {
                                let _ = epoll.delete(s.as_fd());
                            }
                        }
                    }
                    QEMU_ERR => {
                        let mut chunk = Vec::new();
                        let eof = match stderr.as_mut() {
                            Some(s) => read_available(s, &mut chunk).is_none(),
                            None => true,
                        };
                        let _ = std::io::stderr().write_all(&chunk);
                        self.qemu_err.extend_from_slice(&chunk);
                        if eof {
                            if let Some(s) = stderr.take() {
                                let _ = epoll.delete(s.as_fd());
                            }
                        }
                    }
                    LISTENER => {
                        if let Ok((conn, _)) = listener.accept() {
                            let _ = conn.set_nonblocking(true);
                            let _ = epoll.add(conn.as_fd(), interest(CONTROL));
                            self.control = Some(conn);
                        }
                    }
                    CONTROL => self.read_control(),
                    MONITOR_LISTENER => {
                        if let Ok((mut conn, _)) = monitor.accept() {
                            let _ = conn.write_all(qemu::QMP_HELLO);
                            let _ = conn.set_nonblocking(true);
                            let _ = epoll.add(conn.as_fd(), interest(MONITOR));
                            self.monitor = Some(conn);
                        }
                    }
                    MONITOR => {
                        // QMP's greeting, replies and events: nothing here needs them.
                        let mut sink = Vec::new();
                        let eof = match self.monitor.as_mut() {
                            Some(m) => read_available(m, &mut sink).is_none(),
                            None => true,
                        };
                        if eof {
                            if let Some(m) = self.monitor.take() {
                                let _ = epoll.delete(m.as_fd());
                            }
                        }
                    }
                    _ => {}
                }
            }
            let now = Instant::now();
            if let Some(p) = proof {
                if self.up.is_none() && now >= self.launched + p && exit_status.is_none() {
                    self.kill_qemu();
                    let _ = self.qemu.wait();
                    return Ok(BootEnd::NoProof);
                }
            }
            if exit_status.is_none()
                && (now >= hard_deadline || forced_at.is_some_and(|f| now >= f))
            {
                println!(
                    "vm: the guest did not finish within {} s: stopping the VM",
                    hard_limit.as_secs()
                );
                self.kill_qemu();
                forced_at = None;
            }
            if exit_status.is_none() {
                if let Ok(Some(st)) = self.qemu.try_wait() {
                    exit_status = Some(st);
                }
            }
        }
        let status = match exit_status {
            Some(s) => s,
            None => self
                .qemu
                .wait()
                .map_err(|e| format!("waiting for qemu: {e}"))?,
        };
        // A KVM that failed at once (qemu's "failed to set MSR") is no proof either.
        if proof.is_some() && self.up.is_none() {
            return Ok(BootEnd::NoProof);
        }
        Ok(BootEnd::Done(self.verdict(status)))
    }

    /// Console bytes: to the terminal as they come (`\r\n` → `\n`), to console.log, and the
    /// `podinit-result:` line kept as the fallback result.
    fn console(&mut self, chunk: &[u8]) {
        let _ = self.console_log.write_all(chunk);
        let clean: Vec<u8> = chunk.iter().copied().filter(|b| *b != b'\r').collect();
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&clean);
        let _ = out.flush();
        self.console_line.push(&clean);
        while let Some(line) = self.console_line.next_line() {
            let Ok(line) = line else { continue };
            let line = String::from_utf8_lossy(&line);
            if let Some(json) = line.trim().strip_prefix("podinit-result: ") {
                self.console_result = serde_json::from_str(json).ok();
            }
        }
    }

    fn read_control(&mut self) {
        let Some(conn) = &mut self.control else {
            return;
        };
        let mut buf = Vec::new();
        let eof = read_available(conn, &mut buf).is_none();
        self.control_buf.push(&buf);
        while let Some(line) = self.control_buf.next_line() {
            let Ok(line) = line else { continue };
            match result::parse_event(&String::from_utf8_lossy(&line)) {
                Some(GuestEvent::Up {
                    uptime_ms,
                    moved_ms,
                    ready_ms,
                    init,
                }) => {
                    println!(
                        "vm: guest PID {} is {} {} (podinit {}), up at {:.2} s of guest time, \
                         on the new root at {:.2} s, agent started at {:.2} s",
                        init.pid,
                        init.exe,
                        init.command,
                        init.version,
                        uptime_ms as f64 / 1000.0,
                        moved_ms as f64 / 1000.0,
                        ready_ms as f64 / 1000.0
                    );
                    self.up = Some((uptime_ms, moved_ms, ready_ms));
                }
                Some(GuestEvent::Result(r)) => self.result = Some(r),
                None => {}
            }
        }
        if eof {
            self.control = None;
        }
    }

    /// The exit code of `podinit run --vm`: 0 iff the guest said Succeeded and qemu confirms it.
    fn verdict(&self, status: std::process::ExitStatus) -> i32 {
        let total = self.launched.elapsed();
        let qemu_code = status.code();
        let confirmed = qemu_code == Some(result::qemu_exit_status(result::DEBUG_EXIT_SUCCEEDED));
        let (phase, error) = match (&self.result, &self.console_result) {
            (Some(r), _) => (r.phase.clone(), r.error.clone()),
            (None, Some(c)) => (
                c["phase"].as_str().unwrap_or("Unknown").to_string(),
                c["error"].as_str().map(String::from),
            ),
            (None, None) => (
                "Unknown".to_string(),
                Some(format!(
                    "the guest stopped without a result (qemu {}){}",
                    match qemu_code {
                        Some(c) => format!("exited {c}"),
                        None => "was killed".into(),
                    },
                    if self.qemu_err.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", String::from_utf8_lossy(&self.qemu_err).trim())
                    }
                )),
            ),
        };
        let timing = match (self.up, &self.result) {
            (Some((up_ms, _, _)), Some(r)) => format!(
                "boot to PID 1 {:.2} s · PID 1 to end {:.2} s · total {:.2} s",
                up_ms as f64 / 1000.0,
                r.uptime_ms.saturating_sub(up_ms) as f64 / 1000.0,
                total.as_secs_f64()
            ),
            _ => format!("total {:.2} s", total.as_secs_f64()),
        };
        if let Some(e) = &error {
            println!("vm: {e}");
        }
        let succeeded = phase == "Succeeded" && error.is_none();
        if succeeded && !confirmed {
            println!(
                "vm: the guest reported Succeeded but qemu exited {qemu_code:?}, not through \
                 isa-debug-exit's success code: counted as failed"
            );
            return 1;
        }
        println!(
            "vm: pod {} ({}, {})",
            phase,
            self.machine.accel.name(),
            timing
        );
        if let (Some((up_ms, moved_ms, ready_ms)), Some(r)) = (self.up, &self.result) {
            let timings = serde_json::json!({
                "accel": self.machine.accel.name(),
                "memoryMib": self.machine.memory_mib,
                "cpus": self.machine.cpus,
                "bootToPid1Ms": up_ms,
                "pid1MovedMs": moved_ms,
                "pid1ReadyMs": ready_ms,
                "pid1ToEndMs": r.uptime_ms.saturating_sub(up_ms),
                "totalMs": total.as_millis() as u64,
                "phase": phase,
            });
            if let Some(dir) = self.machine.control_socket.parent() {
                let _ = std::fs::write(dir.join("timings.json"), timings.to_string());
            }
        }
        if succeeded { 0 } else { 1 }
    }
}
