//! Reading the small generated files of `/proc` and cgroupfs on the start path of every
//! container (the claim's `/proc/PID/{status,stat,mountinfo}`, a peer's cgroup, the init's OOM
//! counter). `std::fs::read_to_string` sizes its buffer from `fstat`, which says 0 for these,
//! so it reads them in 32-, 32-, 64-, 128-byte steps: nine `read(2)`s for a container's
//! `mountinfo`, each one regenerating text in the kernel. One buffer that fits them reads
//! them in one call, and a second that returns 0.

use std::io::Read;
use std::path::Path;

/// Big enough for a container's `mountinfo` (~3 KiB with podinit's mounts), `status` (~1.4
/// KiB) and a cgroup v1 `/proc/PID/cgroup`; larger files take further reads.
const FIRST_READ: usize = 16 * 1024;

/// The whole file as text; bytes that are not UTF-8 are an error, as with `read_to_string`.
pub fn read(path: impl AsRef<Path>) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; FIRST_READ];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_files_whole() {
        let status = read("/proc/self/status").unwrap();
        assert!(
            status.starts_with("Name:") && status.contains("\nNSpid:"),
            "{status}"
        );
        let mountinfo = read("/proc/self/mountinfo").unwrap();
        assert_eq!(
            mountinfo,
            std::fs::read_to_string("/proc/self/mountinfo").unwrap()
        );
    }

    #[test]
    fn files_larger_than_the_first_read_are_read_to_the_end() {
        let dir = std::env::temp_dir().join(format!("podinit-procfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big");
        let text: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        assert!(text.len() > FIRST_READ * 2);
        std::fs::write(&path, &text).unwrap();
        assert_eq!(read(&path).unwrap(), text);
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read(&path).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_file_is_not_found() {
        let e = read("/proc/self/no-such-file").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
