//! Saved images for `podinit run`: an OCI image layout directory, an OCI archive (`podman save
//! --format oci-archive`) or a docker archive (`docker save`, `podman save`). Index, manifest
//! and config are `oci-spec`'s image types; every blob is checked against its descriptor's
//! sha256 digest and size (a docker archive's layers against the config's diff_ids); the
//! linux/amd64 manifest is picked from an index; layers are applied in order with their
//! whiteouts into a root filesystem cached per manifest digest (`rootfs`), which each container
//! gets a writable copy of. The image's config becomes the process as the kubelet and
//! containerd make it (`process`, `user`).

pub mod blobs;
pub mod docker;
pub mod layout;
pub mod process;
pub mod rootfs;
pub mod unpack;
pub mod user;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use oci_spec::image::{Arch, ImageConfiguration, Os};

use blobs::Source;

/// What is wrong with a saved image; the caller adds the container, reference and path.
#[derive(Debug)]
pub enum Error {
    Io {
        path: PathBuf,
        error: io::Error,
    },
    /// Not an image podinit reads, or a file of it that does not parse.
    Format(String),
    MissingBlob {
        digest: String,
    },
    Size {
        digest: String,
        expected: u64,
        found: u64,
    },
    Digest {
        expected: String,
        found: String,
    },
    /// No linux/amd64 image; what the image offers.
    Platform {
        found: Vec<String>,
    },
    /// A layer entry refused or failed; the layer's digest and the entry's path.
    Layer {
        digest: String,
        entry: String,
        problem: String,
    },
}

impl Error {
    pub fn io(path: &Path, error: io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, error } => write!(f, "{}: {error}", path.display()),
            Error::Format(m) => f.write_str(m),
            Error::MissingBlob { digest } => {
                write!(f, "blob {digest} is missing from the image")
            }
            Error::Size {
                digest,
                expected,
                found,
            } => write!(
                f,
                "blob {digest} has {found} bytes where its descriptor says {expected}: the image is damaged"
            ),
            Error::Digest { expected, found } => write!(
                f,
                "blob {expected} has the digest {found}: the image is damaged or was altered"
            ),
            Error::Platform { found } => write!(
                f,
                "no linux/amd64 image in it (it has {}); podinit runs linux/amd64 images",
                if found.is_empty() {
                    "none".to_owned()
                } else {
                    found.join(", ")
                }
            ),
            Error::Layer {
                digest,
                entry,
                problem,
            } => write!(f, "layer {digest}, entry {entry:?}: {problem}"),
        }
    }
}

impl std::error::Error for Error {}

/// How a layer's content is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// An OCI layer: the stored bytes against its descriptor's digest and size.
    Blob { size: u64 },
    /// A docker-archive layer: the uncompressed tar against the config's diff_id.
    DiffId,
}

#[derive(Debug, Clone)]
pub struct Layer {
    /// The file inside the image (`blobs/sha256/…`, `<id>/layer.tar`).
    pub name: String,
    pub digest: String,
    pub check: Check,
}

/// An image read up to its layers: everything but the layers is checked.
pub struct Loaded {
    pub path: PathBuf,
    pub source: Source,
    /// The cache key of its root filesystem: the manifest's digest (OCI) or the config's
    /// (a docker archive, which has no manifest digest).
    pub key: String,
    pub config: ImageConfiguration,
    pub layers: Vec<Layer>,
}

/// Read the image at `path` (a directory or a tarball); `reference` picks one of several
/// images it holds by the names it records for them.
pub fn load(path: &Path, reference: &str) -> Result<Loaded, Error> {
    let source = Source::open(path)?;
    let (key, config, layers) = if source.exists("oci-layout") && source.exists("index.json") {
        layout::load(&source, reference)?
    } else if source.exists("manifest.json") {
        docker::load(&source, reference)?
    } else {
        return Err(Error::Format(format!(
            "{} is neither an OCI image layout (oci-layout, index.json, blobs/) nor a docker \
             archive (manifest.json)",
            path.display()
        )));
    };
    check_platform(&config)?;
    Ok(Loaded {
        path: path.to_path_buf(),
        source,
        key,
        config,
        layers,
    })
}

/// The names the images saved at `path` record (OCI annotations, docker RepoTags),
/// normalized: how `--image-store` finds an image by reference.
pub fn names(path: &Path) -> Result<Vec<String>, Error> {
    let source = Source::open(path)?;
    if source.exists("oci-layout") && source.exists("index.json") {
        let bytes = source.read_small("index.json")?.unwrap_or_default();
        let index: oci_spec::image::ImageIndex = json("index.json", &bytes)?;
        Ok(index.manifests().iter().flat_map(layout::names).collect())
    } else if source.exists("manifest.json") {
        docker::names(&source)
    } else {
        Ok(Vec::new())
    }
}

/// Whether `path` looks like a saved image rather than a root filesystem directory.
pub fn is_saved_image(path: &Path) -> bool {
    path.is_file() || path.join("oci-layout").is_file() || path.join("manifest.json").is_file()
}

fn check_platform(config: &ImageConfiguration) -> Result<(), Error> {
    if *config.os() == Os::Linux && *config.architecture() == Arch::Amd64 {
        return Ok(());
    }
    Err(Error::Platform {
        found: vec![format!(
            "{}/{} (its config)",
            config.os(),
            config.architecture()
        )],
    })
}

/// Parse JSON with the file's name in the error.
pub(crate) fn json<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Format(format!("{what}: not valid: {e}")))
}

/// Docker's reference normalization, enough to compare what a manifest says with what an
/// archive records: `nginx` → `docker.io/library/nginx:latest`; a digest is kept.
pub fn normalize(reference: &str) -> String {
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let (repo, tag) = match last.rfind(':') {
        Some(i) => (&name[..name.len() - last.len() + i], Some(&last[i + 1..])),
        None => (name, None),
    };
    let first = repo.split('/').next().unwrap_or(repo);
    let has_registry =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let repo = if has_registry {
        repo.to_owned()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    let repo = repo.replacen("index.docker.io/", "docker.io/", 1);
    match (tag, digest) {
        (_, Some(d)) => match tag {
            Some(t) => format!("{repo}:{t}@{d}"),
            None => format!("{repo}@{d}"),
        },
        (Some(t), None) => format!("{repo}:{t}"),
        (None, None) => format!("{repo}:latest"),
    }
}

#[cfg(test)]
mod tests;
