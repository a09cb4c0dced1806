//! A private containerd per test: its own root, state, grpc and ttrpc sockets, `opt` path,
//! plugin dir, runc `Root` and empty CNI dirs under the test's directory, configured with the
//! shipped `oci-hooks/containerd/config.toml` fragment (only BinaryName's path changed, and a
//! private runc `Root` added), and the podinit settings in its environment (containerd's
//! environment is what its shims, and through them the runtime front, inherit).
//!
//! Cleanup ([`cleanup_dir`]) works from the directory alone, so the same code runs from a
//! test's Drop guard (also on panic) and for directories left by a killed test process:
//! containerd stopped, the containers killed and deleted with runc, the shims killed (they
//! outlive containerd; containerd 1.6 puts their sockets in /run/containerd/s/ whatever the
//! config says, and only their `-address` argument ties them to this instance), mounts left
//! by killed shims detached, then the directory removed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::proc::{self, alive};

/// The shipped runtime handler fragment and front script, deployed as they are.
pub const FRAGMENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/oci-hooks/containerd/config.toml"
);
pub const FRONT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/oci-hooks/containerd/podinit-runc"
);
/// The runtime handler the fragment defines: inject's default, so no hooks in these bundles
/// (each container has a pid namespace of its own; issue 13).
pub const HANDLER: &str = "podinit";
/// The same fragment a second time, as an operator deploys the hookless front (issue 13): the
/// handler renamed, BinaryName a symlink `podinit-runc` to a podinit binary whose
/// `podinit.conf` beside it says `PODINIT_NO_HOOKS=1` (see [`NoHooksFront`]).
pub const NO_HOOKS_HANDLER: &str = "podinit-nohooks";
/// And a third time with `PODINIT_HOOKS=1` in that `podinit.conf`: the OCI hook channel, which
/// the default no longer takes for CRI's containers.
pub const HOOKS_HANDLER: &str = "podinit-hooks";
/// Where containerd 1.6 puts shim sockets, whatever its config says.
const SHIM_SOCKETS: &str = "/run/containerd/s";

/// The paths of one private containerd, all under `<test dir>/c`.
#[derive(Clone, Debug)]
pub struct Paths {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub grpc: PathBuf,
    pub runc_root: PathBuf,
    pub log: PathBuf,
    /// The no-hooks front's directory: `podinit`, `podinit.conf`, `podinit-runc` → podinit.
    pub no_hooks_front: PathBuf,
    /// The same with `PODINIT_HOOKS=1`.
    pub hooks_front: PathBuf,
}

impl Paths {
    pub fn new(test_dir: &Path) -> Paths {
        let dir = test_dir.join("c");
        Paths {
            config: dir.join("config.toml"),
            grpc: dir.join("grpc.sock"),
            runc_root: dir.join("runc"),
            log: dir.join("containerd.log"),
            no_hooks_front: dir.join("nohooks"),
            hooks_front: dir.join("hooks"),
            dir,
        }
    }
}

/// Fails (never skips) when what the CRI tests drive is not here, naming what to install.
pub fn require_tools() {
    use crate::support::skip::{Root, program, require_or_fail};
    require_or_fail(
        "the CRI tests (containerd, runc and busybox images)",
        &[
            Root,
            program("containerd", "containerd"),
            program("ctr", "containerd"),
            program("containerd-shim-runc-v2", "containerd"),
            program("runc", "runc"),
            program("tar", "tar"),
            program("sha256sum", "coreutils"),
            program(crate::pod::BUSYBOX, "busybox-static"),
        ],
    );
}

/// containerd's config: a private base, then the shipped fragment with BinaryName pointed at
/// the repo's front script and a private runc `Root` added.
pub fn config(p: &Paths) -> String {
    let fragment = fs::read_to_string(FRAGMENT).unwrap_or_else(|e| panic!("read {FRAGMENT}: {e}"));
    let binary_lines = fragment
        .lines()
        .filter(|l| l.trim_start().starts_with("BinaryName"))
        .count();
    assert_eq!(
        binary_lines, 1,
        "{FRAGMENT}: expected exactly one BinaryName line, the one this test rewrites"
    );
    let handler = |binary: &Path| -> String {
        fragment
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("BinaryName") {
                    let indent = &l[..l.len() - l.trim_start().len()];
                    format!(
                        "{indent}BinaryName = \"{}\"\n{indent}Root = \"{}\"\n",
                        binary.display(),
                        p.runc_root.display()
                    )
                } else {
                    format!("{l}\n")
                }
            })
            .collect()
    };
    let table = format!("runtimes.{HANDLER}]");
    let renamed = |front: &Path, name: &str| {
        let copy = handler(&front.join("podinit-runc"))
            .replace(&table, &format!("runtimes.{name}]"))
            .replace(
                &format!("runtimes.{HANDLER}.options]"),
                &format!("runtimes.{name}.options]"),
            );
        assert!(
            copy.contains(name),
            "{FRAGMENT}: expected the table [...runtimes.{HANDLER}], the one this test copies"
        );
        copy
    };
    let fragment = format!(
        "{}\n# ---- the same, as the hookless front (integration/cri/containerd.rs) ----\n{}\
         \n# ---- and as a front with hooks ----\n{}",
        handler(Path::new(FRONT)),
        renamed(&p.no_hooks_front, NO_HOOKS_HANDLER),
        renamed(&p.hooks_front, HOOKS_HANDLER),
    );
    let d = |name: &str| p.dir.join(name).display().to_string();
    format!(
        r#"# Private containerd of one podinit CRI test (integration/cri/containerd.rs).
version = 2
root = "{root}"
state = "{state}"
plugin_dir = "{plugins}"
# Snapshotters that cannot work on this ext4 root only slow the start down.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "{grpc}"

[ttrpc]
  address = "{ttrpc}"

[debug]
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # This host's root lacks CAP_SYS_RESOURCE: it may not lower an oom_score_adj.
  restrict_oom_score_adj = true
  # Port 0: several test containerds run at once.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{runc_root}"

  # Empty: the pods use the host network, which needs no CNI.
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"

# ---- oci-hooks/containerd/config.toml, as shipped but for BinaryName and Root ----
{fragment}"#,
        root = d("root"),
        state = d("state"),
        plugins = d("plugins"),
        grpc = p.grpc.display(),
        ttrpc = d("ttrpc.sock"),
        opt = d("opt"),
        pause = super::image::PAUSE_IMAGE,
        runc_root = p.runc_root.display(),
        cni_bin = d("cni/bin"),
        cni_conf = d("cni/conf"),
    )
}

/// Writes the config and the empty dirs, and spawns containerd with `env` (plus PATH).
pub fn spawn(p: &Paths, env: &[(&str, &Path)]) -> Child {
    for d in [
        "root", "state", "plugins", "opt", "cni/bin", "cni/conf", "runc",
    ] {
        let d = p.dir.join(d);
        fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
    }
    NoHooksFront::install(&p.no_hooks_front, "PODINIT_NO_HOOKS=1");
    NoHooksFront::install(&p.hooks_front, "PODINIT_HOOKS=1");
    fs::write(&p.config, config(p)).unwrap_or_else(|e| panic!("write config: {e}"));
    let log = fs::File::create(&p.log).unwrap_or_else(|e| panic!("create log: {e}"));
    let mut cmd = Command::new("containerd");
    cmd.arg("--config").arg(&p.config);
    // Only what the shims and the runtime front need: nothing of the caller's PODINIT_*.
    cmd.env_clear();
    cmd.env(
        "PATH",
        std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup log"))
        .stderr(log);
    cmd.spawn().unwrap_or_else(|e| {
        panic!("spawn containerd: {e} (install the Debian package `containerd`)")
    })
}

/// The hookless front as an operator installs it without a shell: `podinit` (a hard link to
/// the tested binary, a copy across file systems), `podinit.conf` beside it with
/// `PODINIT_NO_HOOKS=1` (the front reads the file next to its canonical binary), and the
/// multi-call symlink `podinit-runc` → `podinit` as containerd's BinaryName. The front with
/// hooks is the same with `PODINIT_HOOKS=1`.
pub struct NoHooksFront;

impl NoHooksFront {
    fn install(dir: &Path, conf: &str) {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let bin = dir.join("podinit");
        let tested = Path::new(crate::support::PODINIT);
        if fs::hard_link(tested, &bin).is_err() {
            fs::copy(tested, &bin)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", tested.display(), bin.display()));
        }
        fs::write(dir.join("podinit.conf"), format!("{conf}\n"))
            .unwrap_or_else(|e| panic!("write {}/podinit.conf: {e}", dir.display()));
        std::os::unix::fs::symlink("podinit", dir.join("podinit-runc"))
            .unwrap_or_else(|e| panic!("symlink {}/podinit-runc: {e}", dir.display()));
    }
}

/// The last `n` lines of a file (for failure messages).
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Pids of processes whose command line has `needle` as one argument, and `name` as argv[0]'s
/// file name.
fn pids_with_arg(name: &str, needle: &str) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
            let argv0_ok = args.first().is_some_and(|a| {
                Path::new(std::ffi::OsStr::new(&*String::from_utf8_lossy(a)))
                    .file_name()
                    .is_some_and(|f| f == name)
            });
            argv0_ok && args.contains(&needle.as_bytes())
        })
        .collect()
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(pid as i32, sig) };
}

/// SIGTERM, up to `grace` to exit, then SIGKILL. `child` is reaped when given.
pub fn stop_process(pid: u32, child: Option<&mut Child>, grace: Duration) {
    signal(pid, libc::SIGTERM);
    match child {
        Some(c) => {
            if proc::wait_timeout(c, grace).is_none() {
                proc::kill_wait(c);
            }
        }
        None => {
            let deadline = Instant::now() + grace;
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            signal(pid, libc::SIGKILL);
        }
    }
}

/// Everything of the containerd under `p.dir`, from the directory alone (see the module
/// doc). `containerd` is the running daemon when the caller owns it. Returns what it could not
/// clean.
pub fn cleanup_dir(p: &Paths, containerd: Option<&mut Child>) -> Vec<String> {
    let mut errors = Vec::new();
    let t = Duration::from_secs(20);
    // 1. containerd, so it restarts nothing while we kill.
    match containerd {
        Some(c) => {
            if let Ok(None) = c.try_wait() {
                stop_process(c.id(), Some(c), Duration::from_secs(5));
            }
        }
        None => {
            for pid in pids_with_arg("containerd", &p.config.display().to_string()) {
                stop_process(pid, None, Duration::from_secs(5));
            }
        }
    }
    // 2. The containers (pause ones too), by runc's private root: the shim runs runc with
    //    `--root <Root>/<namespace>`.
    let root = p.runc_root.join("k8s.io");
    let runc = || {
        let mut c = Command::new("runc");
        c.arg("--root").arg(&root);
        c
    };
    if root.is_dir() {
        match crate::pod::runc_list(&root) {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = proc::run_ok(runc().args(["delete", "--force", &id]), t) {
                        errors.push(e);
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    // 3. The shims of this containerd; then their sockets nobody listens on any more.
    let shims = pids_with_arg("containerd-shim-runc-v2", &p.grpc.display().to_string());
    for pid in &shims {
        signal(*pid, libc::SIGKILL);
    }
    if !shims.is_empty() {
        let _ = crate::support::eventually(Duration::from_secs(5), || {
            shims.iter().all(|pid| !alive(*pid))
        });
        remove_dead_shim_sockets();
    }
    // 4. Mounts a killed shim left (rootfs overlays, the sandbox's /dev/shm), deepest first.
    for m in mounts_under(&p.dir) {
        let c = std::ffi::CString::new(m.as_os_str().as_encoded_bytes()).expect("no NUL");
        // SAFETY: a valid C string; MNT_DETACH cannot block on a busy mount.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
            errors.push(format!(
                "umount {}: {}",
                m.display(),
                std::io::Error::last_os_error()
            ));
        }
    }
    errors
}

/// Mount points at or below `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mount_path)
        .filter(|m| m.starts_with(dir))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    v.dedup();
    v
}

/// mountinfo escapes space, tab, newline and backslash as `\NNN` (octal).
fn unescape_mount_path(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let n = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(n);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(String::from_utf8_lossy(&out).into_owned())
}

/// Removes the files in /run/containerd/s/ that no live unix socket is bound to (shims that
/// were SIGKILLed do not remove theirs). Any containerd's live shims are untouched.
fn remove_dead_shim_sockets() {
    let live = fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let Ok(entries) = fs::read_dir(SHIM_SOCKETS) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let p = path.display().to_string();
        if !live
            .lines()
            .any(|l| l.split_whitespace().nth(7) == Some(p.as_str()))
        {
            let _ = fs::remove_file(&path);
        }
    }
}
