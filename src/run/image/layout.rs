//! An OCI image layout (a directory, or the same files in an OCI archive): `oci-layout`,
//! `index.json`, then the linux/amd64 manifest (through nested indexes), its config and layers,
//! each blob checked against its descriptor.

use std::io::Read;

use oci_spec::image::{
    Arch, Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType, OciLayout, Os,
};

use super::blobs::{MAX_JSON, Source, Verified};
use super::{Check, Error, Layer, json, normalize};

const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The annotations an image's name is recorded in (podman, skopeo, buildah; containerd, docker).
const NAME_KEYS: [&str; 2] = [
    "org.opencontainers.image.ref.name",
    "io.containerd.image.name",
];

pub fn blob_name(desc: &Descriptor) -> Result<String, Error> {
    match desc.as_digest_sha256() {
        Some(hex) => Ok(format!("blobs/sha256/{hex}")),
        None => Err(Error::Format(format!(
            "blob {}: podinit checks sha256 digests only",
            desc.digest()
        ))),
    }
}

/// A small blob (a manifest, an index, a config) read whole and checked.
pub fn read_blob(source: &Source, desc: &Descriptor) -> Result<Vec<u8>, Error> {
    let digest = desc.digest().to_string();
    if desc.size() > MAX_JSON {
        return Err(Error::Format(format!(
            "blob {digest}: {} bytes is too large for a manifest or a config",
            desc.size()
        )));
    }
    let name = blob_name(desc)?;
    let r = source.read(&name)?.ok_or_else(|| Error::MissingBlob {
        digest: digest.clone(),
    })?;
    let mut v = Verified::new(r.take(MAX_JSON + 1));
    let mut bytes = Vec::new();
    v.read_to_end(&mut bytes)
        .map_err(|e| Error::io(std::path::Path::new(&name), e))?;
    let (found, size) = v
        .finish()
        .map_err(|e| Error::io(std::path::Path::new(&name), e))?;
    check(desc, &found, size)?;
    Ok(bytes)
}

/// Size first (the cheaper tell), then the digest.
pub fn check(desc: &Descriptor, found: &str, size: u64) -> Result<(), Error> {
    let expected = desc.digest().to_string();
    if size != desc.size() {
        return Err(Error::Size {
            digest: expected,
            expected: desc.size(),
            found: size,
        });
    }
    if found != expected {
        return Err(Error::Digest {
            expected,
            found: found.to_owned(),
        });
    }
    Ok(())
}

pub fn names(desc: &Descriptor) -> Vec<String> {
    let Some(a) = desc.annotations() else {
        return Vec::new();
    };
    NAME_KEYS
        .iter()
        .filter_map(|k| a.get(*k))
        .map(|n| normalize(n))
        .collect()
}

fn is_index(desc: &Descriptor) -> bool {
    matches!(desc.media_type(), MediaType::ImageIndex)
        || desc.media_type().to_string() == DOCKER_LIST
}

fn is_manifest(desc: &Descriptor) -> bool {
    matches!(desc.media_type(), MediaType::ImageManifest)
        || desc.media_type().to_string() == DOCKER_MANIFEST
}

fn platform(desc: &Descriptor) -> Option<String> {
    desc.platform().as_ref().map(|p| {
        let mut s = format!("{}/{}", p.os(), p.architecture());
        if let Some(v) = p.variant() {
            s.push('/');
            s.push_str(v);
        }
        s
    })
}

fn amd64(desc: &Descriptor) -> Option<bool> {
    desc.platform()
        .as_ref()
        .map(|p| *p.os() == Os::Linux && *p.architecture() == Arch::Amd64)
}

/// The linux/amd64 manifest among `descs`, through nested indexes (a descriptor without a
/// platform is taken when none says linux/amd64; its config is checked later).
fn pick(source: &Source, descs: &[Descriptor], depth: u32) -> Result<Descriptor, Error> {
    if depth > 4 {
        return Err(Error::Format(
            "image indexes nested more than 4 deep".into(),
        ));
    }
    let mut found = Vec::new();
    let usable: Vec<&Descriptor> = descs
        .iter()
        .filter(|d| is_index(d) || is_manifest(d))
        .collect();
    let explicit: Vec<&&Descriptor> = usable.iter().filter(|d| amd64(d) == Some(true)).collect();
    let candidates: Vec<&Descriptor> = if explicit.is_empty() {
        usable
            .iter()
            .copied()
            .filter(|d| amd64(d).is_none())
            .collect()
    } else {
        explicit.into_iter().copied().collect()
    };
    for d in &usable {
        if let Some(p) = platform(d) {
            found.push(p);
        }
    }
    for d in candidates {
        if is_manifest(d) {
            return Ok(d.clone());
        }
        let bytes = read_blob(source, d)?;
        let index: ImageIndex = json(&format!("image index {}", d.digest()), &bytes)?;
        match pick(source, index.manifests(), depth + 1) {
            Ok(m) => return Ok(m),
            Err(Error::Platform { found: f }) => found.extend(f),
            Err(e) => return Err(e),
        }
    }
    Err(Error::Platform { found })
}

pub fn load(
    source: &Source,
    reference: &str,
) -> Result<(String, ImageConfiguration, Vec<Layer>), Error> {
    let layout = source.read_small("oci-layout")?.unwrap_or_default();
    let layout: OciLayout = json("oci-layout", &layout)?;
    if !layout.image_layout_version().starts_with("1.") {
        return Err(Error::Format(format!(
            "oci-layout: imageLayoutVersion {} (podinit reads 1.x)",
            layout.image_layout_version()
        )));
    }
    let index = source.read_small("index.json")?.unwrap_or_default();
    let index: ImageIndex = json("index.json", &index)?;
    // Several images in one layout: the one recorded under the reference, if any is.
    let wanted = normalize(reference);
    let named: Vec<Descriptor> = index
        .manifests()
        .iter()
        .filter(|d| names(d).contains(&wanted))
        .cloned()
        .collect();
    let descs = if named.is_empty() {
        index.manifests().clone()
    } else {
        named
    };
    let manifest_desc = pick(source, &descs, 0)?;
    let bytes = read_blob(source, &manifest_desc)?;
    let manifest: ImageManifest = json(&format!("manifest {}", manifest_desc.digest()), &bytes)?;
    let config_bytes = read_blob(source, manifest.config())?;
    let config: ImageConfiguration = json(
        &format!("image config {}", manifest.config().digest()),
        &config_bytes,
    )?;
    let mut layers = Vec::new();
    for l in manifest.layers() {
        let media = l.media_type().to_string();
        if media.contains("zstd") {
            return Err(Error::Format(format!(
                "layer {}: {media} layers are not supported (gzip and uncompressed are)",
                l.digest()
            )));
        }
        let name = blob_name(l)?;
        if !source.exists(&name) {
            return Err(Error::MissingBlob {
                digest: l.digest().to_string(),
            });
        }
        layers.push(Layer {
            name,
            digest: l.digest().to_string(),
            check: Check::Blob { size: l.size() },
        });
    }
    Ok((manifest_desc.digest().to_string(), config, layers))
}
