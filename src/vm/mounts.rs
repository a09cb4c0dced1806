//! The sandbox PID 1's file systems: what a VM's init must mount before anything else runs, and
//! the move off the initramfs root.
//!
//! Why the move: the initramfs is the kernel's `rootfs` mount, which can never be unmounted or
//! pivoted away, so runc's `pivot_root` into a container's root fails on it ("pivot_root .:
//! invalid argument"). Like busybox's `switch_root`, PID 1 moves every file to a tmpfs (copy, then
//! delete, so memory is not held twice), moves `/proc` and `/dev` along, makes the tmpfs `/`
//! (`mount --move` + `chroot`) and carries on in the same process.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};

#[derive(Debug)]
pub struct MountError {
    pub what: String,
    pub source: std::io::Error,
}

impl std::fmt::Display for MountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl std::error::Error for MountError {}

fn err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> MountError {
    let what = what.into();
    move |source| MountError { what, source }
}

fn nix_err(what: impl Into<String>) -> impl FnOnce(nix::Error) -> MountError {
    let what = what.into();
    move |e| MountError {
        what,
        source: std::io::Error::from(e),
    }
}

struct Mount {
    fstype: &'static str,
    target: &'static str,
    flags: MsFlags,
    data: Option<&'static str>,
    /// The kernel option without which it fails, for the message.
    needs: &'static str,
}

const NOSUID_NODEV_NOEXEC: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// Before anything else: the console's device nodes and `/proc` (for the command line).
const EARLY: &[Mount] = &[
    Mount {
        fstype: "devtmpfs",
        target: "/dev",
        flags: MsFlags::MS_NOSUID,
        data: Some("mode=0755"),
        needs: "CONFIG_DEVTMPFS",
    },
    Mount {
        fstype: "proc",
        target: "/proc",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
        needs: "CONFIG_PROC_FS",
    },
];

/// After the move to the tmpfs root: what runc and the pod's containers expect of a host.
const LATE: &[Mount] = &[
    Mount {
        fstype: "sysfs",
        target: "/sys",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
        needs: "CONFIG_SYSFS",
    },
    Mount {
        fstype: "cgroup2",
        target: "/sys/fs/cgroup",
        flags: NOSUID_NODEV_NOEXEC,
        data: Some("nsdelegate"),
        needs: "CONFIG_CGROUPS (cgroup v2)",
    },
    Mount {
        fstype: "devpts",
        target: "/dev/pts",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NOEXEC),
        data: Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
        needs: "CONFIG_UNIX98_PTYS",
    },
    Mount {
        fstype: "tmpfs",
        target: "/dev/shm",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=1777"),
        needs: "CONFIG_TMPFS",
    },
    Mount {
        fstype: "tmpfs",
        target: "/run",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=0755"),
        needs: "CONFIG_TMPFS",
    },
    Mount {
        fstype: "tmpfs",
        target: "/tmp",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=1777"),
        needs: "CONFIG_TMPFS",
    },
];

fn mount_all(table: &[Mount]) -> Result<(), MountError> {
    for m in table {
        fs::create_dir_all(m.target).map_err(err(format!("creating {}", m.target)))?;
        mount(Some(m.fstype), m.target, Some(m.fstype), m.flags, m.data).map_err(nix_err(
            format!(
                "mounting {} on {} (the kernel needs {})",
                m.fstype, m.target, m.needs
            ),
        ))?;
    }
    Ok(())
}

pub fn early() -> Result<(), MountError> {
    mount_all(EARLY)
}

pub fn late() -> Result<(), MountError> {
    mount_all(LATE)?;
    // What a shell user and the OCI runtimes expect in /dev besides the nodes devtmpfs makes.
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        if fs::symlink_metadata(link).is_err() {
            std::os::unix::fs::symlink(target, link).map_err(err(format!("creating {link}")))?;
        }
    }
    Ok(())
}

/// Is `/` the kernel's initial rootfs (the initramfs)? `/proc/self/mountinfo`'s root entry then
/// has the file system type `rootfs`.
pub fn root_is_initramfs() -> Result<bool, MountError> {
    let info =
        fs::read_to_string("/proc/self/mountinfo").map_err(err("reading /proc/self/mountinfo"))?;
    Ok(root_fstype(&info) == Some("rootfs"))
}

/// The file system type of the mount at `/` in a mountinfo text (the last `/` entry wins: a
/// later mount hides an earlier one).
fn root_fstype(mountinfo: &str) -> Option<&str> {
    mountinfo
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some("/"))
        .filter_map(|l| l.split(" - ").nth(1)?.split(' ').next())
        .next_back()
}

/// Where the new root is assembled before it becomes `/`.
const NEW_ROOT: &str = "/.podinit-root";

/// Move everything to a tmpfs and make it the root. The kernel mounts (`/proc`, `/dev`) move
/// with it; everything else is copied and deleted as it goes.
pub fn leave_initramfs() -> Result<(), MountError> {
    let new_root = Path::new(NEW_ROOT);
    fs::create_dir_all(new_root).map_err(err(format!("creating {NEW_ROOT}")))?;
    mount(
        Some("tmpfs"),
        new_root,
        Some("tmpfs"),
        MsFlags::empty(),
        Some("mode=0755"),
    )
    .map_err(nix_err(format!(
        "mounting a tmpfs on {NEW_ROOT} (the kernel needs CONFIG_TMPFS)"
    )))?;
    let kernel_mounts = ["proc", "dev"];
    for entry in fs::read_dir("/").map_err(err("reading /"))? {
        let entry = entry.map_err(err("reading /"))?;
        let name = entry.file_name();
        let path = Path::new("/").join(&name);
        if path == new_root || kernel_mounts.iter().any(|m| name == *m) {
            continue;
        }
        move_tree(&path, &new_root.join(&name))?;
    }
    for m in kernel_mounts {
        let from = Path::new("/").join(m);
        let to = new_root.join(m);
        fs::create_dir_all(&to).map_err(err(format!("creating {}", to.display())))?;
        mount(
            Some(&from),
            &to,
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .map_err(nix_err(format!(
            "moving {} to {}",
            from.display(),
            to.display()
        )))?;
    }
    std::env::set_current_dir(new_root).map_err(err(format!("entering {NEW_ROOT}")))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(nix_err(format!("moving {NEW_ROOT} to /")))?;
    nix::unistd::chroot(".").map_err(nix_err("chroot into the new root"))?;
    std::env::set_current_dir("/").map_err(err("entering the new /"))?;
    Ok(())
}

/// Copy `from` to `to` (same type, mode, contents, link target), then remove `from`.
fn move_tree(from: &Path, to: &Path) -> Result<(), MountError> {
    let meta = fs::symlink_metadata(from).map_err(err(format!("reading {}", from.display())))?;
    let kind = meta.file_type();
    let what = || format!("moving {} to the new root", from.display());
    if kind.is_dir() {
        fs::create_dir(to).map_err(err(what()))?;
        let mut children: Vec<PathBuf> = Vec::new();
        for entry in fs::read_dir(from).map_err(err(what()))? {
            children.push(entry.map_err(err(what()))?.path());
        }
        for child in children {
            let name = child.file_name().unwrap_or_default().to_owned();
            move_tree(&child, &to.join(name))?;
        }
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(err(what()))?;
        fs::remove_dir(from).map_err(err(what()))?;
    } else if kind.is_symlink() {
        let target = fs::read_link(from).map_err(err(what()))?;
        std::os::unix::fs::symlink(target, to).map_err(err(what()))?;
        fs::remove_file(from).map_err(err(what()))?;
    } else if kind.is_file() {
        // fs::copy keeps the permission bits.
        fs::copy(from, to).map_err(err(what()))?;
        fs::remove_file(from).map_err(err(what()))?;
    } else if kind.is_char_device() || kind.is_block_device() || kind.is_fifo() {
        let path = CString::new(to.as_os_str().as_encoded_bytes()).map_err(|_| MountError {
            what: what(),
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        })?;
        // SAFETY: a NUL-terminated path we own; mode and device number from the old node.
        let rc = unsafe { libc::mknod(path.as_ptr(), meta.mode(), meta.rdev() as libc::dev_t) };
        if rc != 0 {
            return Err(MountError {
                what: what(),
                source: std::io::Error::last_os_error(),
            });
        }
        fs::remove_file(from).map_err(err(what()))?;
    }
    // Sockets cannot be in an initramfs; nothing else exists.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initramfs_root_is_recognised_in_mountinfo() {
        // A guest's mountinfo right after the early mounts (6.1 cloud kernel).
        let guest = "1 1 0:2 / / rw - rootfs rootfs rw,size=113988k,nr_inodes=28497\n\
                     17 1 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw,size=113992k,mode=755\n\
                     18 1 0:17 / /proc rw,nosuid,nodev,noexec - proc proc rw\n";
        assert_eq!(root_fstype(guest), Some("rootfs"));
        let moved = "1 1 0:2 / / rw - rootfs rootfs rw\n\
                     20 1 0:18 / / rw - tmpfs tmpfs rw,mode=755\n";
        assert_eq!(root_fstype(moved), Some("tmpfs"));
        assert_eq!(root_fstype("garbage\n\n"), None);
    }

    #[test]
    fn a_tree_moves_with_its_kinds_and_modes() {
        let base = std::env::temp_dir().join(format!("podinit-move-tree-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let from = base.join("from");
        fs::create_dir_all(from.join("bin")).unwrap();
        fs::write(from.join("bin/tool"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(from.join("bin/tool"), fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::symlink("tool", from.join("bin/alias")).unwrap();
        fs::set_permissions(from.join("bin"), fs::Permissions::from_mode(0o711)).unwrap();
        move_tree(&from, &base.join("to")).unwrap();
        assert!(!from.exists());
        let to = base.join("to");
        assert_eq!(fs::read(to.join("bin/tool")).unwrap(), b"#!/bin/sh\n");
        assert_eq!(
            fs::metadata(to.join("bin/tool")).unwrap().mode() & 0o7777,
            0o750
        );
        assert_eq!(fs::metadata(to.join("bin")).unwrap().mode() & 0o7777, 0o711);
        assert_eq!(
            fs::read_link(to.join("bin/alias")).unwrap(),
            Path::new("tool")
        );
        fs::remove_dir_all(&base).unwrap();
    }
}
