//! The files of the pod's `configMap`, `secret`, `projected` and `downwardAPI` volumes, as the
//! kubelet's atomic writer lays them out (every key, or the `items` key → path; `defaultMode`,
//! an item's `mode`; a Secret's bytes decoded), computed from the ConfigMap and Secret documents
//! before anything runs, then written into the pod's volume directory, which every container
//! mounting the volume gets read-only (the kubelet mounts these volume types read-only).
//! A missing object or key is the kubelet's `MountVolume.SetUp failed` (the pod would stay
//! ContainerCreating), unless the reference is `optional: true`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

use super::fields::{ManifestError, field_path};
use super::sources::Sources;
use super::yaml::Document;

/// The CSI driver of ACK/ACS's stdlog volume: every container's standard output and error.
pub const STDLOG_DRIVER: &str = "stdlogplugin.csi.alibabacloud.com";

/// `defaultMode` when none is given (0644), as the API server defaults it.
const DEFAULT_MODE: u32 = 0o644;

/// One file of a projected volume: its path inside the volume, its content and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub data: Vec<u8>,
    pub mode: u32,
}

/// Where a volume comes from, for its references and errors.
pub struct Origin<'a> {
    pub doc: &'a Document,
    /// The volume's pointer in `doc`.
    pub at: String,
    /// `namespace/name` references are allowed (a SidecarSet's volume whose references its
    /// SidecarSetResourceBindings granted; checked when the SidecarSet is applied).
    pub namespaced_refs: bool,
}

/// The pod a volume belongs to: its namespace and metadata (for downwardAPI items).
pub struct PodInfo<'a> {
    pub namespace: &'a str,
    pub metadata: &'a Value,
}

/// Whether `vol` is the stdlog CSI volume.
pub fn is_stdlog(vol: &Value) -> bool {
    vol.pointer("/csi/driver").and_then(Value::as_str) == Some(STDLOG_DRIVER)
}

/// The files of volume `vol`; `None` for a volume that is a directory of its own (emptyDir,
/// hostPath, stdlog).
pub fn files(
    vol: &Value,
    pod: &PodInfo,
    sources: &Sources,
    origin: &Origin,
) -> Result<Option<Vec<File>>, ManifestError> {
    let name = vol.get("name").and_then(Value::as_str).unwrap_or("");
    let v = Volume {
        name,
        pod,
        sources,
        origin,
    };
    let mut out = BTreeMap::new();
    if let Some(cm) = vol.get("configMap") {
        let mode = v.mode(cm.get("defaultMode"), "configMap/defaultMode", DEFAULT_MODE)?;
        v.object("ConfigMap", cm, "name", "configMap", mode, &mut out)?;
    } else if let Some(s) = vol.get("secret") {
        let mode = v.mode(s.get("defaultMode"), "secret/defaultMode", DEFAULT_MODE)?;
        v.object("Secret", s, "secretName", "secret", mode, &mut out)?;
    } else if let Some(dw) = vol.get("downwardAPI") {
        let mode = v.mode(
            dw.get("defaultMode"),
            "downwardAPI/defaultMode",
            DEFAULT_MODE,
        )?;
        v.downward(dw, "downwardAPI", mode, &mut out)?;
    } else if let Some(p) = vol.get("projected") {
        let mode = v.mode(p.get("defaultMode"), "projected/defaultMode", DEFAULT_MODE)?;
        for (i, src) in p
            .get("sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("projected/sources/{i}");
            if let Some(cm) = src.get("configMap") {
                v.object(
                    "ConfigMap",
                    cm,
                    "name",
                    &format!("{at}/configMap"),
                    mode,
                    &mut out,
                )?;
            } else if let Some(s) = src.get("secret") {
                v.object("Secret", s, "name", &format!("{at}/secret"), mode, &mut out)?;
            } else if let Some(dw) = src.get("downwardAPI") {
                v.downward(dw, &format!("{at}/downwardAPI"), mode, &mut out)?;
            }
        }
    } else if let Some(csi) = vol.get("csi") {
        if !is_stdlog(vol) {
            return Err(v.error(
                "csi/driver",
                format!(
                    "csi driver {:?}: podinit run has the stdlog volume only (driver {STDLOG_DRIVER})",
                    csi.get("driver").and_then(Value::as_str).unwrap_or("")
                ),
            ));
        }
        return Ok(None);
    } else {
        return Ok(None);
    }
    Ok(Some(
        out.into_iter()
            .map(|(path, (data, mode))| File { path, data, mode })
            .collect(),
    ))
}

struct Volume<'a> {
    name: &'a str,
    pod: &'a PodInfo<'a>,
    sources: &'a Sources,
    origin: &'a Origin<'a>,
}

impl Volume<'_> {
    fn error(&self, rel: &str, message: String) -> ManifestError {
        let at = format!("{}/{rel}", self.origin.at);
        ManifestError::at(
            self.origin.doc,
            &at,
            format!("{}: volume {:?}: {message}", field_path(&at), self.name),
        )
    }

    fn mode(&self, v: Option<&Value>, rel: &str, default: u32) -> Result<u32, ManifestError> {
        match v {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .filter(|m| *m <= 0o777)
                .map(|m| m as u32)
                .ok_or_else(|| {
                    self.error(
                        rel,
                        "a mode is a number from 0 to 0777 (octal in YAML, decimal in JSON)".into(),
                    )
                }),
        }
    }

    /// A ConfigMap or Secret reference (`name_field` names it): every key, or its `items`.
    fn object(
        &self,
        kind: &str,
        r: &Value,
        name_field: &str,
        rel: &str,
        mode: u32,
        out: &mut BTreeMap<String, (Vec<u8>, u32)>,
    ) -> Result<(), ManifestError> {
        let reference = r.get(name_field).and_then(Value::as_str).unwrap_or("");
        let (ns, name) = match reference.split_once('/') {
            Some((ns, name)) if self.origin.namespaced_refs => (ns, name),
            Some(_) => {
                return Err(self.error(
                    &format!("{rel}/{name_field}"),
                    format!(
                        "{kind} name {reference:?} is not a valid name: a namespace/name reference \
                         is accepted only in a volume a SidecarSet injects, granted by a \
                         SidecarSetResourceBinding"
                    ),
                ));
            }
            None => (self.pod.namespace, reference),
        };
        let optional = r.get("optional").and_then(Value::as_bool).unwrap_or(false);
        let lower = kind.to_lowercase();
        let Some(data) = self.sources.get(kind, ns, name) else {
            if optional {
                return Ok(());
            }
            return Err(self.error(
                rel,
                format!(
                    "MountVolume.SetUp failed: {lower} {name:?} not found in namespace {ns}; on a \
                     cluster the pod would stay ContainerCreating. Give podinit run the {kind}'s \
                     manifest, or mark the volume optional: true"
                ),
            ));
        };
        let items = r.get("items").and_then(Value::as_array);
        let Some(items) = items.filter(|i| !i.is_empty()) else {
            for (k, v) in data {
                out.insert(k.clone(), (v.clone(), mode));
            }
            return Ok(());
        };
        for (i, item) in items.iter().enumerate() {
            let iat = format!("{rel}/items/{i}");
            let key = item.get("key").and_then(Value::as_str).unwrap_or("");
            let path = self.path(item, &iat)?;
            let mode = self.mode(item.get("mode"), &format!("{iat}/mode"), mode)?;
            match data.get(key) {
                Some(v) => {
                    out.insert(path, (v.clone(), mode));
                }
                None if optional => {}
                None => {
                    let what = if kind == "Secret" { "secret" } else { "config" };
                    return Err(self.error(
                        &format!("{iat}/key"),
                        format!(
                            "MountVolume.SetUp failed: {lower} {ns}/{name} references non-existent \
                             {what} key: {key}; on a cluster the pod would stay ContainerCreating. \
                             Fix the key, or mark the volume optional: true"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// An item's `path`: relative, inside the volume.
    fn path(&self, item: &Value, iat: &str) -> Result<String, ManifestError> {
        let path = item.get("path").and_then(Value::as_str).unwrap_or("");
        if path.is_empty() || path.starts_with('/') || path.split('/').any(|p| p == "..") {
            return Err(self.error(
                &format!("{iat}/path"),
                format!("path {path:?} must be relative and must not contain '..'"),
            ));
        }
        Ok(path.trim_end_matches('/').to_owned())
    }

    /// downwardAPI items: the pod's name, namespace, labels and annotations (`fieldRef`).
    fn downward(
        &self,
        dw: &Value,
        rel: &str,
        mode: u32,
        out: &mut BTreeMap<String, (Vec<u8>, u32)>,
    ) -> Result<(), ManifestError> {
        for (i, item) in dw
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let iat = format!("{rel}/items/{i}");
            let path = self.path(item, &iat)?;
            let mode = self.mode(item.get("mode"), &format!("{iat}/mode"), mode)?;
            let field = item
                .pointer("/fieldRef/fieldPath")
                .and_then(Value::as_str)
                .unwrap_or("");
            let value = downward_field(self.pod, field).ok_or_else(|| {
                self.error(
                    &format!("{iat}/fieldRef"),
                    format!(
                        "fieldPath {field:?}: podinit run has metadata.name, metadata.namespace, \
                         metadata.labels, metadata.annotations (and ['key'] of these two)"
                    ),
                )
            })?;
            out.insert(path, (value.into_bytes(), mode));
        }
        Ok(())
    }
}

/// A downwardAPI `fieldPath`'s content, as the kubelet writes it (`key="value"` lines, sorted,
/// for a whole map).
fn downward_field(pod: &PodInfo, field: &str) -> Option<String> {
    let meta = pod.metadata;
    let map = |name: &str| -> BTreeMap<String, String> {
        meta.get(name)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
            .collect()
    };
    match field {
        "metadata.name" => Some(meta.get("name")?.as_str()?.to_owned()),
        "metadata.namespace" => Some(pod.namespace.to_owned()),
        "metadata.labels" | "metadata.annotations" => Some(
            map(&field["metadata.".len()..])
                .iter()
                .map(|(k, v)| format!("{k}={}\n", Value::String(v.clone())))
                .collect(),
        ),
        _ => {
            let (which, rest) = field.split_once("['")?;
            let key = rest.strip_suffix("']")?;
            match which {
                "metadata.labels" => map("labels").get(key).cloned().or(Some(String::new())),
                "metadata.annotations" => {
                    map("annotations").get(key).cloned().or(Some(String::new()))
                }
                _ => None,
            }
        }
    }
}

/// Write a volume's files under `dir` (created), each with its mode.
pub fn write(dir: &Path, files: &[File]) -> Result<(), String> {
    let ctx = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    std::fs::create_dir_all(dir).map_err(|e| ctx(dir, e))?;
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ctx(parent, e))?;
        }
        std::fs::write(&path, &f.data).map_err(|e| ctx(&path, e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))
            .map_err(|e| ctx(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::yaml;

    const SOURCES: &str = "kind: ConfigMap\nmetadata: {name: cfg}\ndata: {a.conf: A, b.conf: B}\n---\nkind: Secret\nmetadata: {name: s, namespace: other}\ndata: {token: aGVsbG8=}\n---\n";

    fn volume(vol: &str, namespaced: bool) -> Result<Option<Vec<File>>, String> {
        let docs = yaml::parse("v.yaml", &format!("{SOURCES}{vol}")).unwrap();
        let mut s = Sources::default();
        for d in &docs[..2] {
            let kind = d.value["kind"].as_str().unwrap().to_owned();
            s.add(d, &kind).unwrap();
        }
        let meta = serde_json::json!({"name": "p", "labels": {"app": "x", "a": "b\"c"}});
        let pod = PodInfo {
            namespace: "default",
            metadata: &meta,
        };
        let origin = Origin {
            doc: &docs[2],
            at: String::new(),
            namespaced_refs: namespaced,
        };
        files(&docs[2].value, &pod, &s, &origin).map_err(|e| e.to_string())
    }

    fn file(path: &str, data: &str, mode: u32) -> File {
        File {
            path: path.into(),
            data: data.as_bytes().to_vec(),
            mode,
        }
    }

    #[test]
    fn keys_items_and_modes_as_the_kubelet_writes_them() {
        assert_eq!(
            volume("name: c\nconfigMap: {name: cfg}\n", false).unwrap(),
            Some(vec![file("a.conf", "A", 0o644), file("b.conf", "B", 0o644)])
        );
        assert_eq!(
            volume("name: c\nconfigMap:\n  name: cfg\n  defaultMode: 0400\n  items:\n  - {key: b.conf, path: sub/b}\n  - {key: a.conf, path: a, mode: 0600}\n", false).unwrap(),
            Some(vec![file("a", "A", 0o600), file("sub/b", "B", 0o400)])
        );
        assert_eq!(
            volume("name: s\nsecret: {secretName: other/s}\n", true).unwrap(),
            Some(vec![file("token", "hello", 0o644)])
        );
        assert_eq!(
            volume("name: p\nprojected:\n  defaultMode: 0440\n  sources:\n  - configMap: {name: cfg, items: [{key: a.conf, path: a}]}\n  - secret: {name: gone, optional: true}\n  - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}, {path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: app, fieldRef: {fieldPath: \"metadata.labels['app']\"}}]}\n", false).unwrap(),
            Some(vec![file("a", "A", 0o440), file("app", "x", 0o440), file("labels", "a=\"b\\\"c\"\napp=\"x\"\n", 0o440), file("name", "p", 0o440)])
        );
        assert_eq!(
            volume("name: c\nconfigMap: {name: nope, optional: true}\n", false).unwrap(),
            Some(vec![])
        );
        assert_eq!(volume("name: e\nemptyDir: {}\n", false).unwrap(), None);
        assert_eq!(
            volume(
                &format!("name: l\ncsi: {{driver: {STDLOG_DRIVER}}}\n"),
                false
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn missing_objects_keys_and_bad_paths_are_the_kubelets_errors_with_their_line() {
        for (vol, want) in [
            (
                "name: c\nconfigMap: {name: nope}\n",
                "line 10: configMap: volume \"c\": MountVolume.SetUp failed: configmap \"nope\" not found in namespace default",
            ),
            (
                "name: c\nconfigMap:\n  name: cfg\n  items:\n  - {key: nokey, path: x}\n",
                "line 13: configMap.items[0].key: volume \"c\": MountVolume.SetUp failed: configmap default/cfg references non-existent config key: nokey",
            ),
            (
                "name: s\nsecret: {secretName: s}\n",
                "secret \"s\" not found in namespace default",
            ),
            (
                "name: s\nsecret:\n  secretName: other/s\n",
                "line 11: secret.secretName: volume \"s\": Secret name \"other/s\" is not a valid name",
            ),
            (
                "name: c\nconfigMap: {name: cfg, items: [{key: a.conf, path: ../x}]}\n",
                "path \"../x\" must be relative",
            ),
            (
                "name: c\nconfigMap: {name: cfg, defaultMode: 1000}\n",
                "a mode is a number from 0 to 0777",
            ),
            (
                "name: c\ncsi: {driver: x.csi.io}\n",
                "csi driver \"x.csi.io\"",
            ),
            (
                "name: d\ndownwardAPI: {items: [{path: x, fieldRef: {fieldPath: status.podIP}}]}\n",
                "fieldPath \"status.podIP\"",
            ),
        ] {
            let e = volume(vol, false).expect_err(vol);
            assert!(e.contains(want), "{vol}\n got {e}\n want {want}");
        }
    }

    #[test]
    fn files_are_written_with_their_modes() {
        let dir = std::env::temp_dir().join(format!("podinit-volumes-test-{}", std::process::id()));
        write(&dir, &[file("a", "A", 0o400), file("d/b", "B", 0o640)]).unwrap();
        let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode("a"), mode("d/b")), (0o400, 0o640));
        assert_eq!(std::fs::read_to_string(dir.join("d/b")).unwrap(), "B");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
