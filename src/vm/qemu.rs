//! The machine `podinit run --vm` boots: which kernel, which accelerator, which qemu command line.
//!
//! Measured here (SPEC section 6): `-M pc` boots the Debian cloud kernel under emulation in
//! 2.5–3.7 s; `-M microvm` hung at timer calibration; KVM may exist and still not boot (a hang
//! after "Probing EDD", or "failed to set MSR"), so KVM counts as working only once a guest's
//! PID 1 has said so over the control port, and a failed try is remembered (see [`KvmVerdict`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::initramfs::GUEST_PODINIT;

/// qemu's `isa-debug-exit` I/O port (its default).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// How long a KVM guest may take to report its PID 1 before emulation is used instead. A KVM
/// boot takes well under a second; emulation needs the 2.5–3.7 s measured.
pub const KVM_BOOT_PROOF: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "KVM",
            Accel::Tcg => "emulation (TCG)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelChoice {
    Auto,
    Kvm,
    Tcg,
}

impl AccelChoice {
    pub fn parse(s: &str) -> Option<AccelChoice> {
        match s {
            "auto" => Some(AccelChoice::Auto),
            "kvm" => Some(AccelChoice::Kvm),
            "tcg" => Some(AccelChoice::Tcg),
            _ => None,
        }
    }
}

/// The newest Debian cloud kernel in `/boot`, else the newest kernel there.
pub fn find_kernel() -> Result<PathBuf, String> {
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("vmlinuz-"))
                })
                .collect()
        })
        .unwrap_or_default();
    kernels.sort_by(|a, b| version_order(a, b));
    let cloud = kernels
        .iter()
        .rev()
        .find(|p| p.to_string_lossy().ends_with("-cloud-amd64"));
    cloud.or(kernels.last()).cloned().ok_or_else(|| {
        "no kernel in /boot for the VM: install the Debian cloud kernel \
         (apt-get install --no-install-recommends linux-image-cloud-amd64) or pass --kernel PATH"
            .to_string()
    })
}

/// `vmlinuz-6.1.0-9-…` before `vmlinuz-6.1.0-57-…`: numbers compared as numbers.
fn version_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    fn key(p: &Path) -> Vec<(u64, String)> {
        p.to_string_lossy()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .map(|part| (part.parse().unwrap_or(0), part.to_string()))
            .collect()
    }
    key(a).cmp(&key(b))
}

pub fn find_qemu() -> Result<PathBuf, String> {
    find_on_path("qemu-system-x86_64").ok_or_else(|| {
        "qemu-system-x86_64 not found: install it (apt-get install --no-install-recommends qemu-system-x86)"
            .to_string()
    })
}

pub fn find_on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// What this host's KVM did last time: a try that did not boot is remembered per host kernel,
/// so only the first `podinit run --vm` pays for the proof.
pub struct KvmVerdict {
    file: PathBuf,
    host: String,
}

impl KvmVerdict {
    pub fn new() -> Self {
        let dir = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|| PathBuf::from("/var/tmp"));
        let host = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        KvmVerdict {
            file: dir.join("podinit").join("kvm-does-not-boot"),
            host,
        }
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    /// Did KVM fail to boot a guest on this host kernel before?
    pub fn known_broken(&self) -> bool {
        std::fs::read_to_string(&self.file).is_ok_and(|s| s.trim() == self.host)
    }

    pub fn remember_broken(&self) {
        if let Some(dir) = self.file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&self.file, format!("{}\n", self.host));
    }

    pub fn forget(&self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

impl Default for KvmVerdict {
    fn default() -> Self {
        Self::new()
    }
}

/// Can this process use KVM at all (the device exists and opens)?
pub fn kvm_device_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

pub struct Machine<'a> {
    pub kernel: &'a Path,
    pub initramfs: &'a Path,
    pub memory_mib: u64,
    pub cpus: u32,
    pub accel: Accel,
    /// The host's end of the guest's second serial port (qemu connects to it).
    pub control_socket: &'a Path,
    /// The host's end of qemu's QMP monitor (qemu connects to it): Ctrl-Alt-Del for the guest.
    pub monitor_socket: &'a Path,
    /// `podinit.*` words for the guest's PID 1.
    pub podinit_words: Vec<String>,
}

/// The kernel command line: a quiet serial console, panic → reboot → qemu exits (-no-reboot),
/// podinit as `rdinit` with `sandbox-init` as its argument (the words after `--`).
pub fn kernel_cmdline(words: &[String]) -> String {
    let mut line = String::from("console=ttyS0 quiet loglevel=3 panic=-1 rdinit=");
    line.push_str(GUEST_PODINIT);
    for w in words {
        line.push(' ');
        line.push_str(w);
    }
    line.push_str(" -- sandbox-init");
    line
}

pub fn args(m: &Machine<'_>) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |s: &str| a.push(s.into());
    push("-M");
    push("pc");
    push("-accel");
    push(match m.accel {
        Accel::Kvm => "kvm",
        Accel::Tcg => "tcg",
    });
    if m.accel == Accel::Kvm {
        push("-cpu");
        push("host");
    }
    push("-m");
    push(&format!("{}M", m.memory_mib));
    push("-smp");
    push(&m.cpus.to_string());
    // No default devices (VGA, NIC, floppy, monitor): the pod needs two serial ports.
    push("-nodefaults");
    push("-display");
    push("none");
    push("-no-reboot");
    push("-chardev");
    push("stdio,id=console,signal=off");
    push("-serial");
    push("chardev:console");
    push("-chardev");
    a.push(format!("socket,id=control,path={}", m.control_socket.display()).into());
    a.push("-chardev".into());
    a.push(format!("socket,id=monitor,path={}", m.monitor_socket.display()).into());
    let mut push = |s: &str| a.push(s.into());
    push("-mon");
    push("chardev=monitor,mode=control");
    push("-serial");
    push("chardev:control");
    push("-device");
    push(&format!(
        "isa-debug-exit,iobase=0x{DEBUG_EXIT_PORT:x},iosize=0x04"
    ));
    push("-kernel");
    a.push(m.kernel.into());
    a.push("-initrd".into());
    a.push(m.initramfs.into());
    a.push("-append".into());
    a.push(kernel_cmdline(&m.podinit_words).into());
    a
}

/// QMP: leave capability negotiation (required before any command), one line.
pub const QMP_HELLO: &[u8] = b"{\"execute\":\"qmp_capabilities\"}\n";

/// QMP: press Ctrl-Alt-Del on the guest's keyboard. Its kernel (with CAD disabled by PID 1)
/// sends PID 1 SIGINT.
pub const QMP_CTRL_ALT_DEL: &[u8] = b"{\"execute\":\"send-key\",\"arguments\":{\"keys\":[\
{\"type\":\"qcode\",\"data\":\"ctrl\"},{\"type\":\"qcode\",\"data\":\"alt\"},\
{\"type\":\"qcode\",\"data\":\"delete\"}]}}\n";

/// `256M`, `1G`, `512` (MiB) → MiB.
pub fn parse_memory(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 'M' | 'm') => (&s[..i], 1),
        (i, 'G' | 'g') => (&s[..i], 1024),
        _ => (s, 1),
    };
    let n: u64 = num.parse().ok()?;
    let mib = n.checked_mul(mult)?;
    (64..=1 << 20).contains(&mib).then_some(mib)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("256M", Some(256))]
    #[case("1G", Some(1024))]
    #[case("512", Some(512))]
    #[case("32M", None)]
    #[case("lots", None)]
    #[case("", None)]
    #[case("99999999999G", None)]
    fn memory_sizes(#[case] s: &str, #[case] want: Option<u64>) {
        assert_eq!(parse_memory(s), want);
    }

    #[test]
    fn kernels_sort_by_version_numbers() {
        let mut v = [
            PathBuf::from("/boot/vmlinuz-6.1.0-57-cloud-amd64"),
            PathBuf::from("/boot/vmlinuz-6.1.0-9-cloud-amd64"),
        ];
        v.sort_by(|a, b| version_order(a, b));
        assert!(v[1].to_string_lossy().contains("-57-"));
    }

    #[test]
    fn the_command_line_ends_with_the_init_argument() {
        let line = kernel_cmdline(&["podinit.control=/dev/ttyS1".into()]);
        assert!(line.contains("rdinit=/sbin/podinit podinit.control=/dev/ttyS1"));
        assert!(line.ends_with(" -- sandbox-init"));
        let words = crate::vm::cmdline::words(&line);
        assert!(
            !words.iter().any(|w| w == "sandbox-init"),
            "init's argument is not the kernel's"
        );
    }
}
