//! An image's root filesystem: unpacked once per manifest digest under the cache directory
//! (the run's work dir), read-only from then on; each container gets its own writable copy,
//! as the busybox root is one per container.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Error, Loaded, unpack};

/// The unpacked root of `image` under `cache`, unpacking it the first time.
pub fn unpacked(image: &Loaded, cache: &Path) -> Result<PathBuf, Error> {
    let dir = cache.join(image.key.replace(':', "-"));
    let rootfs = dir.join("rootfs");
    if rootfs.is_dir() {
        return Ok(rootfs);
    }
    let partial = dir.join("rootfs.partial");
    let io = |p: &Path, e: std::io::Error| Error::io(p, e);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| io(&partial, e))?;
    }
    std::fs::create_dir_all(&partial).map_err(|e| io(&partial, e))?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io(&partial, e))?;
    for layer in &image.layers {
        if let Err(e) = unpack::apply_layer(&image.source, layer, &partial) {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    }
    // Complete or absent: a failed run never leaves half a root to be reused.
    std::fs::rename(&partial, &rootfs).map_err(|e| io(&rootfs, e))?;
    Ok(rootfs)
}

/// Copy the tree at `src` to `dst` (which must not exist; its parents are created): files, directories, symlinks and
/// fifos with their modes and owners; hard links stay hard links.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<(), String> {
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let mut links = HashMap::new();
    copy(src, dst, &mut links)
}

fn copy(src: &Path, dst: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> Result<(), String> {
    let ctx = |e: std::io::Error| format!("copying {} to {}: {e}", src.display(), dst.display());
    let m = std::fs::symlink_metadata(src).map_err(ctx)?;
    let ft = m.file_type();
    if ft.is_dir() {
        std::fs::create_dir(dst).map_err(ctx)?;
        for e in std::fs::read_dir(src).map_err(ctx)? {
            let e = e.map_err(ctx)?;
            copy(&e.path(), &dst.join(e.file_name()), links)?;
        }
    } else if ft.is_symlink() {
        let target = std::fs::read_link(src).map_err(ctx)?;
        std::os::unix::fs::symlink(target, dst).map_err(ctx)?;
    } else if m.nlink() > 1 && links.contains_key(&(m.dev(), m.ino())) {
        std::fs::hard_link(&links[&(m.dev(), m.ino())], dst).map_err(ctx)?;
        return Ok(());
    } else if ft.is_file() {
        std::fs::copy(src, dst).map_err(ctx)?;
        if m.nlink() > 1 {
            links.insert((m.dev(), m.ino()), dst.to_path_buf());
        }
    } else {
        use std::os::unix::fs::FileTypeExt;
        if !ft.is_fifo() {
            return Ok(()); // sockets and devices: unpack creates none
        }
        nix::unistd::mkfifo(dst, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .map_err(|e| ctx(e.into()))?;
    }
    // Owner first: chown clears set-id bits, which the mode then restores.
    std::os::unix::fs::lchown(dst, Some(m.uid()), Some(m.gid())).map_err(ctx)?;
    if !ft.is_symlink() {
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(m.mode() & 0o7777))
            .map_err(ctx)?;
    }
    Ok(())
}
