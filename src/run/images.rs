//! What an image reference becomes without a registry: `podinit run` works offline, so a
//! reference it cannot resolve locally is an error naming it, never a silent substitute.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    /// The rootfs built from the host's static busybox.
    Busybox,
    /// A directory used as the root filesystem as it is.
    Rootfs(PathBuf),
    /// A saved image (an OCI layout directory, an OCI archive or a docker archive), unpacked
    /// by `image`.
    Saved(PathBuf),
}

/// Where saved images come from: `--image NAME=PATH` (first) and `--image-store DIR`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub named: Vec<(String, PathBuf)>,
    pub store: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageError {
    pub container: String,
    pub reference: String,
    /// What is wrong beyond "not available offline" (a path that is not there …).
    pub problem: Option<String>,
    /// `--image-store`'s directory and the names found in it.
    pub store: Option<(PathBuf, Vec<String>)>,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.problem {
            return write!(
                f,
                "container {}: image {:?}: {p}",
                self.container, self.reference
            );
        }
        write!(
            f,
            "container {}: image {:?} is not available offline; podinit run pulls nothing. \
             Give a saved copy with --image {}=PATH (an OCI image layout directory, an OCI \
             archive or a docker archive, as podman save or docker save write them) or \
             --image-store DIR (a directory of such images, found by the names they record). \
             Any image whose repository's last path element is busybox (any registry, any tag, \
             e.g. docker.io/library/busybox:1.36) runs on the host's static busybox, and a \
             root filesystem directory can be given as the image (an absolute or ./ path)",
            self.container, self.reference, self.reference
        )?;
        if let Some((dir, names)) = &self.store {
            write!(
                f,
                "; the image store {} has {}",
                dir.display(),
                if names.is_empty() {
                    "no named image".to_owned()
                } else {
                    names.join(", ")
                }
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ImageError {}

/// The repository's last path element of a reference: `registry:5000/a/busybox:1.28@sha256:…`
/// → `busybox`. The tag is what follows the last `:` after the last `/` (a registry port comes
/// before a `/`).
pub fn repository_name(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last)
}

/// A path given as an image: a saved image (a tarball, or a directory with `oci-layout` or
/// `manifest.json`), else a root filesystem directory.
fn at_path(path: &Path) -> Option<Image> {
    if crate::run::image::is_saved_image(path) {
        Some(Image::Saved(path.to_path_buf()))
    } else if path.is_dir() {
        Some(Image::Rootfs(path.to_path_buf()))
    } else {
        None
    }
}

/// Resolve a container's image: `--image` first, then a path (a path is never a registry
/// reference when it starts with `/` or `.`), then `--image-store`, then busybox by name.
pub fn resolve(container: &str, reference: &str, sources: &Sources) -> Result<Image, ImageError> {
    let err = |problem: Option<String>, store| ImageError {
        container: container.to_owned(),
        reference: reference.to_owned(),
        problem,
        store,
    };
    let looks_like_path = reference.starts_with('/') || reference.starts_with('.');
    let wanted = (!looks_like_path).then(|| crate::run::image::normalize(reference));
    for (name, path) in &sources.named {
        if name == reference || wanted.as_ref() == Some(&crate::run::image::normalize(name)) {
            return at_path(path).ok_or_else(|| {
                err(
                    Some(format!(
                        "--image {name}={}: no such file or directory",
                        path.display()
                    )),
                    None,
                )
            });
        }
    }
    if looks_like_path {
        if let Some(image) = at_path(Path::new(reference)) {
            return Ok(image);
        }
    }
    let mut listed = None;
    if let (Some(store), Some(wanted)) = (&sources.store, &wanted) {
        let mut names = Vec::new();
        let entries = std::fs::read_dir(store).map_err(|e| {
            err(
                Some(format!("--image-store {}: {e}", store.display())),
                None,
            )
        })?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if !crate::run::image::is_saved_image(&path) {
                continue;
            }
            // An unreadable file in the store is not this image; the listing shows it.
            match crate::run::image::names(&path) {
                Ok(n) if n.contains(wanted) => return Ok(Image::Saved(path)),
                Ok(n) => names.extend(n),
                Err(e) => names.push(format!("({}: {e})", path.display())),
            }
        }
        listed = Some((store.clone(), names));
    }
    if !looks_like_path && repository_name(reference) == "busybox" {
        return Ok(Image::Busybox);
    }
    Err(err(None, listed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_by_its_repository_name_from_any_registry() {
        for r in [
            "busybox",
            "busybox:1.28",
            "docker.io/library/busybox:latest",
            "registry-cn-hangzhou.ack.aliyuncs.com/ack-demo/busybox:1.28",
            "localhost:5000/busybox",
            "quay.io/x/busybox@sha256:0123",
            "quay.io/x/busybox:1.36@sha256:0123",
        ] {
            assert_eq!(
                resolve("c", r, &Sources::default()),
                Ok(Image::Busybox),
                "{r}"
            );
        }
    }

    #[test]
    fn anything_else_is_an_error_naming_the_reference_and_the_options() {
        for r in [
            "nginx",
            "busybox-extras:1",
            "busybox/nginx:1",
            "elastic/filebeat:7.17.0",
            "localhost:5000/busyboxx",
            "/nonexistent/rootfs",
            "./busybox",
            "",
        ] {
            let e = resolve("app", r, &Sources::default())
                .expect_err(r)
                .to_string();
            assert!(
                e.contains(&format!("image {r:?}"))
                    && e.contains("container app")
                    && e.contains("busybox")
                    && e.contains("directory"),
                "{e}"
            );
        }
        assert_eq!(
            resolve("c", "/", &Sources::default()),
            Ok(Image::Rootfs("/".into()))
        );
    }
}
