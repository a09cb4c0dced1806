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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageError {
    pub container: String,
    pub reference: String,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "container {}: image {:?} is not available offline; podinit run pulls nothing. \
             It runs any image whose repository's last path element is busybox (any registry, \
             any tag, e.g. docker.io/library/busybox:1.36) on the host's static busybox, or a \
             root filesystem directory given as the image (an absolute or ./ path)",
            self.container, self.reference
        )
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

/// Resolve a container's image: a directory path first (a path is never a registry reference
/// when it starts with `/` or `.`), then busybox by name.
pub fn resolve(container: &str, reference: &str) -> Result<Image, ImageError> {
    let as_path = Path::new(reference);
    let looks_like_path = reference.starts_with('/') || reference.starts_with('.');
    if looks_like_path && as_path.is_dir() {
        return Ok(Image::Rootfs(as_path.to_path_buf()));
    }
    if !looks_like_path && repository_name(reference) == "busybox" {
        return Ok(Image::Busybox);
    }
    Err(ImageError {
        container: container.to_owned(),
        reference: reference.to_owned(),
    })
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
            assert_eq!(resolve("c", r), Ok(Image::Busybox), "{r}");
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
            let e = resolve("app", r).expect_err(r).to_string();
            assert!(
                e.contains(&format!("image {r:?}"))
                    && e.contains("container app")
                    && e.contains("busybox")
                    && e.contains("directory"),
                "{e}"
            );
        }
        assert_eq!(resolve("c", "/"), Ok(Image::Rootfs("/".into())));
    }
}
