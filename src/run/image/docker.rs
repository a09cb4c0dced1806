//! A docker archive (`docker save`, `podman save --format docker-archive`): `manifest.json`
//! names each image's config and layer tars; the config's file name is its digest and its
//! `rootfs.diff_ids` are the layers' digests.

use oci_spec::image::ImageConfiguration;
use serde::Deserialize;

use super::blobs::{Source, clean_name, sha256};
use super::{Check, Error, Layer, json, normalize};

/// One entry of `manifest.json` (docker's format; oci-spec has no type for it).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

pub fn names(source: &Source) -> Result<Vec<String>, Error> {
    let bytes = source.read_small("manifest.json")?.unwrap_or_default();
    let entries: Vec<Entry> = json("manifest.json", &bytes)?;
    Ok(entries
        .iter()
        .flat_map(|e| e.repo_tags.iter().flatten())
        .map(|t| normalize(t))
        .collect())
}

pub fn load(
    source: &Source,
    reference: &str,
) -> Result<(String, ImageConfiguration, Vec<Layer>), Error> {
    let bytes = source.read_small("manifest.json")?.unwrap_or_default();
    let entries: Vec<Entry> = json("manifest.json", &bytes)?;
    let wanted = normalize(reference);
    let tags = |e: &Entry| -> Vec<String> { e.repo_tags.clone().unwrap_or_default() };
    let entry = match entries
        .iter()
        .find(|e| tags(e).iter().any(|t| normalize(t) == wanted))
    {
        Some(e) => e,
        None if entries.len() == 1 => &entries[0],
        None => {
            let all: Vec<String> = entries.iter().flat_map(tags).collect();
            return Err(Error::Format(format!(
                "manifest.json holds {} images and none is tagged {reference} (it has {})",
                entries.len(),
                all.join(", ")
            )));
        }
    };
    let config_name = clean_name(&entry.config)
        .ok_or_else(|| Error::Format(format!("manifest.json: config {:?}", entry.config)))?;
    let config_bytes = source
        .read_small(&config_name)?
        .ok_or_else(|| Error::MissingBlob {
            digest: config_name.clone(),
        })?;
    let found = sha256(&config_bytes);
    // `<hex>.json` (docker ≤ 24, podman) or `blobs/sha256/<hex>` (docker ≥ 25).
    let stem = config_name.rsplit('/').next().unwrap_or(&config_name);
    let hex = stem.strip_suffix(".json").unwrap_or(stem);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let expected = format!("sha256:{hex}");
        if found != expected {
            return Err(Error::Digest { expected, found });
        }
    }
    let config: ImageConfiguration = json(&format!("image config {config_name}"), &config_bytes)?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != entry.layers.len() {
        return Err(Error::Format(format!(
            "manifest.json lists {} layers, the config's rootfs.diff_ids {}",
            entry.layers.len(),
            diff_ids.len()
        )));
    }
    let mut layers = Vec::new();
    for (l, diff_id) in entry.layers.iter().zip(diff_ids) {
        let name =
            clean_name(l).ok_or_else(|| Error::Format(format!("manifest.json: layer {l:?}")))?;
        if !diff_id.starts_with("sha256:") {
            return Err(Error::Format(format!(
                "diff_id {diff_id}: podinit checks sha256 digests only"
            )));
        }
        if !source.exists(&name) {
            return Err(Error::MissingBlob {
                digest: format!("{diff_id} ({name})"),
            });
        }
        layers.push(Layer {
            name,
            digest: diff_id.clone(),
            check: Check::DiffId,
        });
    }
    Ok((found, config, layers))
}
