//! The pod's network namespace, made without iproute2: a child unshares a new netns and brings
//! `lo` up (runc only does that for namespaces it creates itself), the parent bind-mounts the
//! child's `/proc/PID/ns/net` onto a file the containers' configs point at.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

pub struct NetNs {
    pub path: PathBuf,
}

/// Bring the loopback interface up in the current network namespace.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: a plain datagram socket, used only for the two ioctls below and closed after.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data; all-zero is valid. The name fits in IFNAMSIZ.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own; fd is ours.
    let rc = unsafe {
        let mut rc = libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req);
        if rc == 0 {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            rc = libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &mut req);
        }
        rc
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: closing the socket we opened.
    unsafe { libc::close(fd) };
    if rc < 0 { Err(err) } else { Ok(()) }
}

impl NetNs {
    pub fn create(path: &Path) -> Result<Self, String> {
        std::fs::write(path, b"").map_err(|e| format!("{}: {e}", path.display()))?;
        let (r, w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
        let (r2, w2) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
        // SAFETY: the child only makes system calls (unshare, ioctl, write, read) and _exits.
        match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
            nix::unistd::ForkResult::Child => {
                // Close our copies of the parent's ends, or the read below never sees EOF.
                drop(r);
                drop(w2);
                let ok = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).is_ok()
                    && loopback_up().is_ok();
                let _ = nix::unistd::write(&w, if ok { b"1" } else { b"0" });
                let mut b = [0u8; 1];
                let _ = nix::unistd::read(&r2, &mut b); // wait until the parent bind-mounted us
                // SAFETY: leave without running the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(w);
                drop(r2);
                let mut b = [0u8; 1];
                let got = nix::unistd::read(&r, &mut b).unwrap_or(0);
                let result = if got == 1 && b[0] == b'1' {
                    let src = format!("/proc/{}/ns/net", child.as_raw());
                    nix::mount::mount(
                        Some(src.as_str()),
                        path,
                        None::<&str>,
                        MsFlags::MS_BIND,
                        None::<&str>,
                    )
                    .map_err(|e| {
                        format!("bind-mounting the pod netns onto {}: {e}", path.display())
                    })
                } else {
                    Err("could not create a network namespace with a loopback interface".to_owned())
                };
                drop(w2);
                let _ = nix::sys::wait::waitpid(child, None);
                result.map(|()| NetNs {
                    path: path.to_path_buf(),
                })
            }
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_file(&self.path);
    }
}
