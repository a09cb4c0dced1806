//! Where an image's files are read from: an OCI layout or a docker-archive directory as it is,
//! or a saved tarball indexed once (name → offset and size) and read in place, so a large
//! archive is never copied before its layers are unpacked. Every blob is read through
//! [`Verified`], which hashes and counts what passes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::Error;

pub enum Source {
    Dir(PathBuf),
    Tar {
        file: PathBuf,
        /// Regular files by their cleaned name: (offset of the content, size).
        entries: HashMap<String, (u64, u64)>,
    },
}

/// A name inside an image (`blobs/sha256/…`, `manifest.json`, a docker-archive layer), with
/// `./` and duplicate slashes removed; `None` when it is absolute or climbs with `..`.
pub fn clean_name(name: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

impl Source {
    /// A directory, or an uncompressed tarball (`podman save`, `docker save`) indexed here.
    pub fn open(path: &Path) -> Result<Source, Error> {
        if path.is_dir() {
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let io = |e: io::Error| Error::io(path, e);
        let mut f = File::open(path).map_err(io)?;
        let mut magic = [0u8; 2];
        let n = f.read(&mut magic).map_err(io)?;
        if n == 2 && magic == [0x1f, 0x8b] {
            return Err(Error::Format(format!(
                "{} is gzip-compressed: decompress it first (gunzip), as podman load does",
                path.display()
            )));
        }
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut entries = HashMap::new();
        let mut links = Vec::new();
        let mut archive = tar::Archive::new(f);
        for entry in archive.entries_with_seek().map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.path().map_err(io)?.to_string_lossy().into_owned();
            let Some(name) = clean_name(&name) else {
                continue;
            };
            let kind = entry.header().entry_type();
            if kind.is_file() {
                entries.insert(name, (entry.raw_file_position(), entry.size()));
            } else if kind.is_symlink() || kind.is_hard_link() {
                // docker save links a layer it saved already; the target is read in place.
                if let Ok(Some(target)) = entry.link_name() {
                    let target = target.to_string_lossy().into_owned();
                    let target = if kind.is_symlink() {
                        let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
                        dir.join(target).to_string_lossy().into_owned()
                    } else {
                        target
                    };
                    links.push((name, target));
                }
            }
        }
        for (name, target) in links {
            if let Some(t) = lexical(&target).and_then(|t| entries.get(&t).copied()) {
                entries.insert(name, t);
            }
        }
        Ok(Source::Tar {
            file: path.to_path_buf(),
            entries,
        })
    }

    pub fn exists(&self, name: &str) -> bool {
        match self {
            Source::Dir(d) => d.join(name).is_file(),
            Source::Tar { entries, .. } => entries.contains_key(name),
        }
    }

    /// The file `name`, or `None` when the image has no such file.
    pub fn read(&self, name: &str) -> Result<Option<Box<dyn Read + '_>>, Error> {
        match self {
            Source::Dir(d) => {
                let path = d.join(name);
                match File::open(&path) {
                    Ok(f) => Ok(Some(Box::new(f))),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::io(&path, e)),
                }
            }
            Source::Tar { file, entries } => {
                let Some(&(offset, size)) = entries.get(name) else {
                    return Ok(None);
                };
                let mut f = File::open(file).map_err(|e| Error::io(file, e))?;
                f.seek(SeekFrom::Start(offset))
                    .map_err(|e| Error::io(file, e))?;
                Ok(Some(Box::new(f.take(size))))
            }
        }
    }

    /// A small JSON file read whole (index.json, manifest.json …).
    pub fn read_small(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let Some(r) = self.read(name)? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        r.take(MAX_JSON + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(Path::new(name), e))?;
        if buf.len() as u64 > MAX_JSON {
            return Err(Error::Format(format!(
                "{name} is larger than {MAX_JSON} bytes"
            )));
        }
        Ok(Some(buf))
    }
}

/// index.json, manifests and configs are small; anything larger is not one.
pub const MAX_JSON: u64 = 4 << 20;

/// `a/b/../c` → `a/c`, refusing to climb above the top.
fn lexical(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// A reader that hashes (sha256) and counts every byte read through it.
pub struct Verified<R> {
    inner: R,
    hash: Sha256,
    count: u64,
}

impl<R: Read> Verified<R> {
    pub fn new(inner: R) -> Self {
        Verified {
            inner,
            hash: Sha256::new(),
            count: 0,
        }
    }

    /// Reads what is left, then returns `sha256:<hex>` and the byte count.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let hex: String = self
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((format!("sha256:{hex}"), self.count))
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let v = Verified::new(bytes);
    // Reading from a slice cannot fail.
    v.finish().map(|(d, _)| d).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_escapes_refused() {
        assert_eq!(
            clean_name("./blobs//sha256/ab"),
            Some("blobs/sha256/ab".into())
        );
        assert_eq!(clean_name("../x"), None);
        assert_eq!(clean_name("/etc/passwd"), None);
        assert_eq!(lexical("a/../b/c"), Some("b/c".into()));
        assert_eq!(lexical("../b"), None);
    }

    #[test]
    fn sha256_of_empty() {
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
