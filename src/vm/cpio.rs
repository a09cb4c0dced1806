//! The initramfs archive: cpio "newc" (`070701`), the only format the kernel unpacks
//! (`Documentation/driver-api/early-userspace/buffer-format.rst`): a 110-byte ASCII header of
//! thirteen 8-digit hex fields, the NUL-terminated name, padding to 4 bytes, the data, padding to
//! 4 bytes; `TRAILER!!!` ends it. The kernel creates entries in archive order and does not make
//! missing parent directories, so [`Archive`] adds each parent before its first child.

use std::collections::BTreeSet;

const MAGIC: &[u8] = b"070701";
const TRAILER: &str = "TRAILER!!!";

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

#[derive(Debug, Default)]
pub struct Archive {
    buf: Vec<u8>,
    next_ino: u32,
    /// Every name written, so a parent is added once and a duplicate is refused.
    names: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpioError {
    /// A name that is empty, absolute after normalising, has `..`, a NUL, or was added before.
    BadName(String),
    TooLarge(String),
}

impl std::fmt::Display for CpioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CpioError::BadName(n) => write!(
                f,
                "initramfs: entry name {n:?} is empty, has '..' or NUL, or was added twice"
            ),
            CpioError::TooLarge(n) => {
                write!(f, "initramfs: {n} is larger than cpio's 4 GiB per file")
            }
        }
    }
}

impl std::error::Error for CpioError {}

fn pad4(buf: &mut Vec<u8>) {
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

/// `/usr/bin/x` → `usr/bin/x`; refuses what the kernel would place outside the root.
fn normalise(path: &str) -> Result<String, CpioError> {
    let name = path.trim_start_matches('/').trim_end_matches('/');
    let bad = name.is_empty()
        || name.contains('\0')
        || name
            .split('/')
            .any(|part| part.is_empty() || part == ".." || part == ".");
    if bad {
        return Err(CpioError::BadName(path.into()));
    }
    Ok(name.to_string())
}

impl Archive {
    pub fn new() -> Self {
        Archive {
            next_ino: 1,
            ..Default::default()
        }
    }

    fn header(&mut self, name: &str, mode: u32, size: u32, rdev: (u32, u32)) {
        let ino = self.next_ino;
        self.next_ino += 1;
        let nlink = if mode & 0o170000 == S_IFDIR { 2 } else { 1 };
        let namesize = name.len() as u32 + 1;
        self.buf.extend_from_slice(MAGIC);
        for field in [
            ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev.0, rdev.1, namesize, 0,
        ] {
            self.buf
                .extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        pad4(&mut self.buf);
    }

    fn parents(&mut self, name: &str) {
        let mut at = 0;
        while let Some(i) = name[at..].find('/') {
            let parent = &name[..at + i];
            if self.names.insert(parent.to_string()) {
                self.header(parent, S_IFDIR | 0o755, 0, (0, 0));
            }
            at += i + 1;
        }
    }

    fn entry(
        &mut self,
        path: &str,
        mode: u32,
        data: &[u8],
        rdev: (u32, u32),
    ) -> Result<(), CpioError> {
        let name = normalise(path)?;
        let size = u32::try_from(data.len()).map_err(|_| CpioError::TooLarge(path.into()))?;
        self.parents(&name);
        if !self.names.insert(name.clone()) {
            return Err(CpioError::BadName(path.into()));
        }
        self.header(&name, mode, size, rdev);
        self.buf.extend_from_slice(data);
        pad4(&mut self.buf);
        Ok(())
    }

    /// A directory; adding one that already exists (as a parent) is fine.
    pub fn dir(&mut self, path: &str, perm: u32) -> Result<(), CpioError> {
        let name = normalise(path)?;
        if self.names.contains(&name) {
            return Ok(());
        }
        self.entry(path, S_IFDIR | (perm & 0o7777), &[], (0, 0))
    }

    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<(), CpioError> {
        self.entry(path, S_IFREG | (perm & 0o7777), data, (0, 0))
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<(), CpioError> {
        self.entry(path, S_IFLNK | 0o777, target.as_bytes(), (0, 0))
    }

    pub fn char_device(
        &mut self,
        path: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> Result<(), CpioError> {
        self.entry(path, S_IFCHR | (perm & 0o7777), &[], (major, minor))
    }

    pub fn contains(&self, path: &str) -> bool {
        normalise(path).is_ok_and(|n| self.names.contains(&n))
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.header(TRAILER, 0, 0, (0, 0));
        // The kernel reads archives in 512-byte blocks when they are concatenated.
        while self.buf.len() % 512 != 0 {
            self.buf.push(0);
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader for the tests: (name, mode, rdev, data) per entry, checking every field's shape.
    type Entry = (String, u32, (u32, u32), Vec<u8>);

    fn read(mut buf: &[u8]) -> Vec<Entry> {
        let total = buf.len();
        let mut out = Vec::new();
        loop {
            let at = total - buf.len();
            assert_eq!(at % 4, 0, "entries start 4-aligned");
            assert_eq!(&buf[..6], MAGIC);
            let field = |i: usize| {
                let s = std::str::from_utf8(&buf[6 + i * 8..14 + i * 8]).unwrap();
                u32::from_str_radix(s, 16).unwrap()
            };
            let (mode, size, rdev, namesize) = (
                field(1),
                field(6) as usize,
                (field(9), field(10)),
                field(11) as usize,
            );
            let name = std::str::from_utf8(&buf[110..110 + namesize - 1])
                .unwrap()
                .to_string();
            assert_eq!(buf[110 + namesize - 1], 0);
            let data_at = (110 + namesize).div_ceil(4) * 4;
            let data = buf[data_at..data_at + size].to_vec();
            let next = (data_at + size).div_ceil(4) * 4;
            buf = &buf[next..];
            if name == TRAILER {
                assert!(buf.iter().all(|b| *b == 0));
                return out;
            }
            out.push((name, mode, rdev, data));
        }
    }

    #[test]
    fn entries_come_back_with_parents_first() {
        let mut a = Archive::new();
        a.file("/usr/sbin/runc", 0o755, b"ELF").unwrap();
        a.symlink("/bin/sh", "busybox").unwrap();
        a.char_device("/dev/console", 0o600, 5, 1).unwrap();
        a.dir("/usr", 0o755).unwrap();
        a.dir("/proc", 0o555).unwrap();
        let bytes = a.finish();
        assert_eq!(bytes.len() % 512, 0);
        let names: Vec<_> = read(&bytes)
            .into_iter()
            .map(|e| (e.0, e.1, e.2, e.3))
            .collect();
        assert_eq!(
            names,
            vec![
                ("usr".into(), S_IFDIR | 0o755, (0, 0), vec![]),
                ("usr/sbin".into(), S_IFDIR | 0o755, (0, 0), vec![]),
                (
                    "usr/sbin/runc".into(),
                    S_IFREG | 0o755,
                    (0, 0),
                    b"ELF".to_vec()
                ),
                ("bin".into(), S_IFDIR | 0o755, (0, 0), vec![]),
                (
                    "bin/sh".into(),
                    S_IFLNK | 0o777,
                    (0, 0),
                    b"busybox".to_vec()
                ),
                ("dev".into(), S_IFDIR | 0o755, (0, 0), vec![]),
                ("dev/console".into(), S_IFCHR | 0o600, (5, 1), vec![]),
                ("proc".into(), S_IFDIR | 0o555, (0, 0), vec![]),
            ]
        );
    }

    #[test]
    fn names_outside_the_root_or_twice_are_refused() {
        let mut a = Archive::new();
        for bad in [
            "",
            "/",
            "../etc/passwd",
            "a/../../b",
            "a//b",
            "a/./b",
            "nul\0",
        ] {
            assert!(a.file(bad, 0o644, b"").is_err(), "{bad:?}");
        }
        a.file("etc/hosts", 0o644, b"").unwrap();
        assert!(a.file("/etc/hosts", 0o644, b"").is_err());
        assert!(a.contains("/etc"));
    }

    #[test]
    fn odd_sizes_stay_aligned() {
        let mut a = Archive::new();
        for n in 0..9 {
            a.file(&format!("f{n}"), 0o644, &vec![b'x'; n]).unwrap();
        }
        let back = read(&a.finish());
        assert_eq!(back.len(), 9);
        assert!(back.iter().enumerate().all(|(n, e)| e.3.len() == n));
    }
}
