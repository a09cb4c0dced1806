//! Applying a layer to a root filesystem, as an untrusted archive: an entry is refused when its
//! path is absolute or has `..`; parent directories that are symlinks are followed the way the
//! container would see them (an absolute target starts again at the root), and one that would
//! leave the root is refused; an entry replaces what is at its path without writing through
//! it; a hard link must name a file inside; device nodes are refused (under `dev/`, which the
//! runtime mounts a tmpfs over, skipped). Whiteouts: `.wh.NAME` deletes NAME from the layers
//! below, `.wh..wh..opq` empties its directory of them.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use tar::EntryType;

use super::blobs::{Source, Verified};
use super::{Check, Error, Layer};

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
/// As the kernel's limit on symlinks followed in one lookup.
const MAX_LINKS: u32 = 40;

/// Read `layer` from `source`, apply it to `root`, then check its digest (and size): the
/// caller unpacks into a directory it throws away on an error.
pub fn apply_layer(source: &Source, layer: &Layer, root: &Path) -> Result<(), Error> {
    let r = source
        .read(&layer.name)?
        .ok_or_else(|| Error::MissingBlob {
            digest: layer.digest.clone(),
        })?;
    let io = |e: io::Error| Error::Layer {
        digest: layer.digest.clone(),
        entry: String::new(),
        problem: format!("reading the layer: {e}"),
    };
    let mut stored = Verified::new(r);
    let tar_digest = {
        let mut buffered = BufReader::new(&mut stored);
        let gzip = buffered.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
        let tar: Box<dyn Read + '_> = if gzip {
            Box::new(flate2::bufread::GzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        let mut tar = Verified::new(tar);
        apply(&mut tar::Archive::new(&mut tar), &layer.digest, root)?;
        tar.finish().map_err(io)?.0
    };
    let (found, size) = stored.finish().map_err(io)?;
    match layer.check {
        Check::Blob { size: expected } if size != expected => Err(Error::Size {
            digest: layer.digest.clone(),
            expected,
            found: size,
        }),
        Check::Blob { .. } if found != layer.digest => Err(Error::Digest {
            expected: layer.digest.clone(),
            found,
        }),
        Check::DiffId if tar_digest != layer.digest => Err(Error::Digest {
            expected: layer.digest.clone(),
            found: tar_digest,
        }),
        _ => Ok(()),
    }
}

/// Apply the entries of one layer's tar to `root`.
pub fn apply<R: Read>(
    archive: &mut tar::Archive<R>,
    digest: &str,
    root: &Path,
) -> Result<(), Error> {
    let root_user = nix::unistd::geteuid().is_root();
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(root_user);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    // What this layer put in place (and their parents): an opaque directory keeps them.
    let mut unpacked: HashSet<PathBuf> = HashSet::new();
    let fail = |entry: &str, problem: String| Error::Layer {
        digest: digest.to_owned(),
        entry: entry.to_owned(),
        problem,
    };
    let entries = archive
        .entries()
        .map_err(|e| fail("", format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| fail("", format!("not a tar archive: {e}")))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let err = |problem: String| fail(&raw, problem);
        let parts = clean(&entry.path().map_err(|e| err(e.to_string()))?).map_err(err)?;
        let Some((name, parents)) = parts.split_last() else {
            continue; // `./`: the root itself
        };
        let name_str = name.to_string_lossy();
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::Char | EntryType::Block) {
            if parts.first().is_some_and(|p| p == "dev") {
                continue;
            }
            return Err(err("a device node: podinit does not create them".into()));
        }
        if name_str == OPAQUE {
            if let Some(dir) = resolve(root, parents, false).map_err(err)? {
                opaque(&dir, &rel(root, &dir), &unpacked).map_err(|e| err(e.to_string()))?;
            }
            continue;
        }
        if name_str.starts_with(".wh..wh.") {
            continue; // aufs metadata (.wh..wh.plnk …)
        }
        if let Some(gone) = name_str.strip_prefix(WHITEOUT) {
            if gone.is_empty() || gone == "." || gone == ".." {
                return Err(err("a whiteout of no name".into()));
            }
            if let Some(dir) = resolve(root, parents, false).map_err(err)? {
                remove(&dir.join(gone)).map_err(|e| err(e.to_string()))?;
            }
            continue;
        }
        let dir = resolve(root, parents, true)
            .map_err(err)?
            .ok_or_else(|| err("its directory cannot be created".into()))?;
        let dest = dir.join(name);
        let is_dir = kind == EntryType::Directory;
        match std::fs::symlink_metadata(&dest) {
            Ok(m) if is_dir && m.is_dir() => {}
            Ok(_) => remove(&dest).map_err(|e| err(e.to_string()))?,
            Err(_) => {}
        }
        match kind {
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| err(e.to_string()))?
                    .ok_or_else(|| err("a hard link without a target".into()))?;
                let tparts = clean(&target).map_err(|p| err(format!("hard link target: {p}")))?;
                let Some((tname, tparents)) = tparts.split_last() else {
                    return Err(err("a hard link to the root".into()));
                };
                let tdir = resolve(root, tparents, false)
                    .map_err(|p| err(format!("hard link target: {p}")))?
                    .ok_or_else(|| err(format!("hard link target {target:?} does not exist")))?;
                let tpath = tdir.join(tname);
                match std::fs::symlink_metadata(&tpath) {
                    Ok(m) if !m.is_dir() => {}
                    _ => {
                        return Err(err(format!(
                            "hard link target {target:?} is not a file of the image"
                        )));
                    }
                }
                std::fs::hard_link(&tpath, &dest).map_err(|e| err(e.to_string()))?;
            }
            EntryType::Fifo => {
                let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
                nix::unistd::mkfifo(
                    &dest,
                    nix::sys::stat::Mode::from_bits_truncate(mode as libc::mode_t),
                )
                .map_err(|e| err(e.to_string()))?;
            }
            EntryType::Directory
            | EntryType::Symlink
            | EntryType::Regular
            | EntryType::Continuous
            | EntryType::GNUSparse => {
                entry.unpack(&dest).map_err(|e| err(e.to_string()))?;
            }
            _ => continue, // pax and GNU long-name headers: the tar crate applies them
        }
        let mut p = rel(root, &dest);
        loop {
            if !unpacked.insert(p.clone()) || !p.pop() {
                break;
            }
        }
    }
    Ok(())
}

/// An entry's path as normal components; `..` and absolute paths are refused.
fn clean(path: &Path) -> Result<Vec<OsString>, String> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err("the path has `..`: it would leave the root filesystem".into());
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute path: layer entries are relative to the root".into());
            }
        }
    }
    Ok(out)
}

fn rel(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root).unwrap_or(p).to_path_buf()
}

/// The directory under `root` that `parts` name, each symlink followed as inside the
/// container; missing directories are created when `create`, else `None`. A symlink whose
/// relative target climbs above the root is refused.
pub fn resolve(root: &Path, parts: &[OsString], create: bool) -> Result<Option<PathBuf>, String> {
    resolve_path(root, parts, create, true)
}

/// Like [`resolve`], the last component included: the file inside the image a path names.
pub fn resolve_file(root: &Path, path: &str) -> Result<Option<PathBuf>, String> {
    let parts: Vec<OsString> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_os_string()),
            _ => None,
        })
        .collect();
    resolve_path(root, &parts, false, false)
}

fn resolve_path(
    root: &Path,
    parts: &[OsString],
    create: bool,
    want_dir: bool,
) -> Result<Option<PathBuf>, String> {
    let mut todo: VecDeque<OsString> = parts.iter().cloned().collect();
    let mut at: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == "." || c.is_empty() {
            continue;
        }
        if c == ".." {
            if at.pop().is_none() {
                return Err("a symlink on the way leaves the root filesystem".into());
            }
            continue;
        }
        let here: PathBuf = root.join(at.iter().collect::<PathBuf>()).join(&c);
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(format!("more than {MAX_LINKS} symlinks on the way"));
                }
                let target = std::fs::read_link(&here).map_err(|e| e.to_string())?;
                if target.is_absolute() {
                    at.clear();
                }
                for (i, t) in target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(p) => Some(p.to_os_string()),
                        Component::ParentDir => Some(OsString::from("..")),
                        _ => None,
                    })
                    .enumerate()
                {
                    todo.insert(i, t);
                }
            }
            Ok(m) if m.is_dir() => at.push(c),
            Ok(_) if !want_dir && todo.is_empty() => at.push(c),
            Ok(_) => return Err(format!("{} is not a directory", rel(root, &here).display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                std::fs::create_dir(&here).map_err(|e| format!("{}: {e}", here.display()))?;
                at.push(c);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", here.display())),
        }
    }
    Ok(Some(root.join(at.iter().collect::<PathBuf>())))
}

/// Remove what is at `p` (a symlink itself, never its target); nothing there is fine.
fn remove(p: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Empty `dir` of what the layers below put there, keeping what this layer did.
fn opaque(dir: &Path, rel_dir: &Path, keep: &HashSet<PathBuf>) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let r = rel_dir.join(e.file_name());
        if !keep.contains(&r) {
            remove(&e.path())?;
        } else if e.file_type()?.is_dir() {
            opaque(&e.path(), &r, keep)?;
        }
    }
    Ok(())
}
