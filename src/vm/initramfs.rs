//! What goes into the guest: built from the host's own files, so a fresh machine needs only its
//! packages (busybox-static, runc, the cloud kernel, qemu) — no image to download.
//!
//! `/sbin/podinit` (the kernel's `rdinit`), `/bin/busybox` with its applets (the guest's shell
//! and what `podinit run` builds the containers' root from), the OCI runtime at its host path
//! with the shared libraries `ldd` names, `/dev/console` (without it the kernel starts PID 1
//! with fds 0-2 closed), a minimal `/etc`, and the pod's manifests under `/pod`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::cpio::Archive;

/// Where podinit sits in the guest; the kernel command line's `rdinit`.
pub const GUEST_PODINIT: &str = "/sbin/podinit";

pub struct Contents {
    pub podinit: PathBuf,
    pub busybox: PathBuf,
    /// The OCI runtime's binary, found on the host's `PATH`; it keeps its path in the guest.
    pub runtime: PathBuf,
    /// (file name under `/pod`, bytes).
    pub pods: Vec<(String, Vec<u8>)>,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("building the initramfs: {}: {e}", path.display()))
}

/// The files a dynamic executable loads, as `ldd` lists them (its loader included); none for a
/// static one.
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("ldd {}: {e} (install libc-bin)", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // "not a dynamic executable": nothing to add.
        return Ok(Vec::new());
    }
    Ok(parse_ldd(&text))
}

/// `ldd`'s lines: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)`,
/// `/lib64/ld-linux-x86-64.so.2 (0x...)`, `linux-vdso.so.1 (0x...)` (in the kernel: skipped).
fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.trim().split(' ').next()?,
                None => l.split(' ').next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

fn cpio_err(e: super::cpio::CpioError) -> String {
    e.to_string()
}

/// podinit for the guest without its debug sections: a debug build's are tens of MiB, which the
/// kernel unpacks into the guest's RAM before anything runs (an 83 MiB initramfs failed with
/// "Initramfs unpacking failed: write error" in 256 MiB). binutils' `objcopy` when it is there;
/// else the binary as it is.
fn without_debug_info(path: &Path) -> Result<Vec<u8>, String> {
    static COPIES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let copy = std::env::temp_dir().join(format!("podinit-guest-{}-{n}", std::process::id()));
    let stripped = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(path)
        .arg(&copy)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let bytes = if stripped { read(&copy) } else { read(path) };
    let _ = std::fs::remove_file(&copy);
    bytes
}

pub fn build(c: &Contents) -> Result<Vec<u8>, String> {
    let mut a = Archive::new();
    for (dir, mode) in [
        ("/bin", 0o755),
        ("/sbin", 0o755),
        ("/usr/bin", 0o755),
        ("/usr/sbin", 0o755),
        ("/etc", 0o755),
        ("/dev", 0o755),
        ("/proc", 0o555),
        ("/sys", 0o555),
        ("/run", 0o755),
        ("/tmp", 0o1777),
        ("/root", 0o700),
        ("/var/tmp", 0o1777),
        ("/pod", 0o755),
    ] {
        a.dir(dir, mode).map_err(cpio_err)?;
    }
    a.char_device("/dev/console", 0o600, 5, 1)
        .map_err(cpio_err)?;
    a.char_device("/dev/null", 0o666, 1, 3).map_err(cpio_err)?;
    a.file(GUEST_PODINIT, 0o755, &without_debug_info(&c.podinit)?)
        .map_err(cpio_err)?;
    a.file("/bin/busybox", 0o755, &read(&c.busybox)?)
        .map_err(cpio_err)?;
    for applet in crate::run::bundle::busybox_applets(&c.busybox)? {
        let link = format!("/bin/{applet}");
        if !a.contains(&link) {
            a.symlink(&link, "busybox").map_err(cpio_err)?;
        }
    }
    let runtime = c.runtime.to_string_lossy();
    if !a.contains(&runtime) {
        a.file(&runtime, 0o755, &read(&c.runtime)?)
            .map_err(cpio_err)?;
    }
    for lib in shared_libraries(&c.runtime)? {
        let name = lib.to_string_lossy();
        if !a.contains(&name) {
            // The content of what the path resolves to, under the path ld.so looks for.
            a.file(&name, 0o755, &read(&lib)?).map_err(cpio_err)?;
        }
    }
    for (path, text) in [
        ("/etc/passwd", crate::run::bundle::BUSYBOX_PASSWD),
        ("/etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"),
        ("/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"),
    ] {
        a.file(path, 0o644, text.as_bytes()).map_err(cpio_err)?;
    }
    for (name, bytes) in &c.pods {
        a.file(&format!("/pod/{name}"), 0o644, bytes)
            .map_err(cpio_err)?;
    }
    Ok(a.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_lines_become_paths() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibseccomp.so.2 => /lib/x86_64-linux-gnu/libseccomp.so.2 (0x00007f6d)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6d)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f6d)\n\
                   \tlibgone.so.1 => not found\n";
        assert_eq!(
            parse_ldd(out),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libseccomp.so.2"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }
}
