//! What every pod of one test process shares, built once: a busybox rootfs and the `runc spec`
//! template, under `$TMPDIR/podinit-pt.<pid>/`. Removed at process exit (`atexit`, which the
//! test harness reaches whether tests pass or fail); a directory left by a test process that
//! was killed is swept (its containers deleted, its netns removed) by the next one.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::proc::{alive, run, run_ok};

pub const BUSYBOX: &str = "/bin/busybox";
const PREFIX: &str = "podinit-pt.";
/// File in each pod directory naming its network namespace, for sweeping.
pub const NETNS_FILE: &str = "netns";
/// runc `--root` inside each pod directory.
pub const RUNC_ROOT: &str = "runc-root";
const CMD_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Base {
    /// `$TMPDIR/podinit-pt.<pid>`: the rootfs, the template and one `p<N>` dir per pod.
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    /// `config.json` as `runc spec` writes it.
    pub template: Value,
}

static BASE: OnceLock<Result<Base, String>> = OnceLock::new();

/// The process-wide base, built on first use (panics if it cannot be built).
pub fn base() -> &'static Base {
    match BASE.get_or_init(build) {
        Ok(b) => b,
        Err(e) => panic!("pod harness: cannot build the shared rootfs: {e}"),
    }
}

fn build() -> Result<Base, String> {
    let tmp = std::env::temp_dir();
    sweep_stale(&tmp);
    let dir = tmp.join(format!("{PREFIX}{}", std::process::id()));
    if dir.exists() {
        sweep_base(&dir); // a previous process with our pid
    }
    fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    // SAFETY: registering a plain extern "C" fn; it catches panics itself.
    unsafe { libc::atexit(cleanup_at_exit) };

    let rootfs = dir.join("rootfs");
    build_rootfs(&rootfs).map_err(|e| format!("rootfs {}: {e}", rootfs.display()))?;

    let tdir = dir.join("template");
    fs::create_dir_all(&tdir).map_err(|e| e.to_string())?;
    run_ok(
        Command::new("runc").arg("spec").arg("--bundle").arg(&tdir),
        CMD_TIMEOUT,
    )?;
    let text = fs::read(tdir.join("config.json")).map_err(|e| format!("runc spec: {e}"))?;
    let template = serde_json::from_slice(&text).map_err(|e| format!("runc spec: {e}"))?;
    Ok(Base {
        dir,
        rootfs,
        template,
    })
}

/// Empty files in the rootfs that tests bind-mount host files onto.
pub const MOUNT_POINTS: &[&str] = &["etc/filebeat.yml"];

/// `bin/busybox` plus a symlink per applet, the usual mount points, a world-writable `/tmp`,
/// `/shared` (the pod's bind mount), `/etc/passwd`/`/etc/group` with root and uid 1000, and
/// the empty `MOUNT_POINTS` files.
pub fn build_rootfs(rootfs: &Path) -> std::io::Result<()> {
    for d in ["bin", "dev", "etc", "proc", "root", "shared", "sys", "tmp"] {
        fs::create_dir_all(rootfs.join(d))?;
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::copy(BUSYBOX, rootfs.join("bin/busybox"))?;
    fs::set_permissions(
        rootfs.join("bin/busybox"),
        fs::Permissions::from_mode(0o755),
    )?;
    let list = Command::new(BUSYBOX).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        // `busybox --list` names busybox itself: linking it would replace the binary.
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        symlink("busybox", rootfs.join("bin").join(applet))?;
    }
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         user:x:1000:1000:user:/tmp:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
    )?;
    fs::write(rootfs.join("etc/hosts"), "127.0.0.1 localhost\n")?;
    // Mount points for bind-mounted host files (`Container::bind_host_file`): the rootfs is
    // read-only and shared by every pod, so runc must not have to create them.
    for f in MOUNT_POINTS {
        fs::write(rootfs.join(f), "")?;
    }
    Ok(())
}

extern "C" fn cleanup_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(Ok(b)) = BASE.get() {
            sweep_base(&b.dir);
        }
    });
}

/// Base dirs of test processes that no longer exist.
fn sweep_stale(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !alive(pid) {
            sweep_base(&e.path());
        }
    }
}

/// Cleans every pod dir left in `base` (containers, netns), then removes `base`.
fn sweep_base(base: &Path) {
    if let Ok(entries) = fs::read_dir(base) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('p') && e.path().is_dir() {
                let _ = sweep_pod_dir(&e.path());
            }
        }
    }
    let _ = fs::remove_dir_all(base);
}

/// Force-deletes the runc containers of a pod dir and its netns; returns what could not be
/// cleaned (the dir itself is left to the caller).
pub fn sweep_pod_dir(pod: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    let root = pod.join(RUNC_ROOT);
    if root.exists() {
        for id in runc_list(&root).unwrap_or_default() {
            let _ = run(
                Command::new("runc")
                    .arg("--root")
                    .arg(&root)
                    .args(["delete", "-f", &id]),
                CMD_TIMEOUT,
            );
        }
        match runc_list(&root) {
            Ok(left) if left.is_empty() => {}
            Ok(left) => errors.push(format!("runc containers left: {left:?}")),
            Err(e) => errors.push(e),
        }
    }
    if let Ok(ns) = fs::read_to_string(pod.join(NETNS_FILE)) {
        if let Err(e) = netns_del(ns.trim()) {
            errors.push(e);
        }
    }
    errors
}

/// Container ids known to `runc --root ROOT`.
pub fn runc_list(root: &Path) -> Result<Vec<String>, String> {
    let out = run_ok(
        Command::new("runc")
            .arg("--root")
            .arg(root)
            .args(["list", "-q"]),
        CMD_TIMEOUT,
    )?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// Whether `ip netns list` names `name`.
pub fn netns_exists(name: &str) -> bool {
    Path::new(super::NETNS_DIR).join(name).exists()
}

/// `ip netns del`, fine if it is already gone.
pub fn netns_del(name: &str) -> Result<(), String> {
    if name.is_empty() || !netns_exists(name) {
        return Ok(());
    }
    let _guard = super::NETNS_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    run_ok(Command::new("ip").args(["netns", "del", name]), CMD_TIMEOUT).map(drop)
}
