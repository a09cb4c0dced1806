//! `ConfigMap` and `Secret` documents given next to the workload, and the env they feed:
//! `valueFrom.configMapKeyRef` / `secretKeyRef` and `envFrom`, resolved into plain `value`s of
//! the pod spec before anything runs, so the supervisor sees them as the kubelet's container
//! would (an `__IS_SIDECAR__` from a ConfigMap counts too). The volumes they feed are
//! `volumes.rs`. Objects are namespaced: a pod sees the ones of its own namespace.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::fields::{ManifestError, field_path};
use super::yaml::Document;

/// The data of one ConfigMap or Secret: key → bytes (a Secret's and a `binaryData` value may
/// be any bytes; env needs UTF-8, files do not).
pub type Data = BTreeMap<String, Vec<u8>>;

/// A namespace when a manifest names none, as kubectl's default context has it.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The namespace of a document (`metadata.namespace`, else `default`).
pub fn namespace_of(v: &Value) -> &str {
    v.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
}

/// The data of every ConfigMap and Secret, by (kind, namespace, name).
#[derive(Debug, Default, Clone)]
pub struct Sources {
    data: BTreeMap<(String, String, String), Data>,
}

impl Sources {
    /// Read one ConfigMap or Secret document (`data`; a Secret's `data` is base64 and its
    /// `stringData` wins, as the API server merges them; a ConfigMap's `binaryData` is base64).
    pub fn add(&mut self, d: &Document, kind: &str) -> Result<(), ManifestError> {
        let Some(name) = d.value.pointer("/metadata/name").and_then(Value::as_str) else {
            return Err(ManifestError::at(
                d,
                "/metadata",
                format!("a {kind} needs metadata.name"),
            ));
        };
        let mut out = BTreeMap::new();
        let fields: &[(&str, bool)] = if kind == "Secret" {
            &[("data", true), ("stringData", false)]
        } else {
            &[("data", false), ("binaryData", true)]
        };
        for &(field, base64) in fields {
            let Some(map) = d.value.get(field).filter(|v| !v.is_null()) else {
                continue;
            };
            let Some(map) = map.as_object() else {
                return Err(ManifestError::at(
                    d,
                    &format!("/{field}"),
                    format!("{field} must be a mapping"),
                ));
            };
            for (k, v) in map {
                let at = format!("/{field}/{k}");
                let Some(s) = v.as_str() else {
                    return Err(ManifestError::at(
                        d,
                        &at,
                        format!("{}: must be a string", field_path(&at)),
                    ));
                };
                let value = if base64 {
                    decode_base64(s).ok_or_else(|| {
                        ManifestError::at(d, &at, format!("{}: not base64", field_path(&at)))
                    })?
                } else {
                    s.as_bytes().to_vec()
                };
                out.insert(k.clone(), value);
            }
        }
        let ns = namespace_of(&d.value);
        if self
            .data
            .insert((kind.to_owned(), ns.to_owned(), name.to_owned()), out)
            .is_some()
        {
            return Err(ManifestError::at(
                d,
                "/metadata/name",
                format!("{kind} {ns}/{name} is given twice"),
            ));
        }
        Ok(())
    }

    /// The data of the `kind` object `name` in namespace `ns`, if it was given.
    pub fn get(&self, kind: &str, ns: &str, name: &str) -> Option<&Data> {
        self.data
            .get(&(kind.to_owned(), ns.to_owned(), name.to_owned()))
    }

    /// Replace every container's `valueFrom` config/secret references and `envFrom` with plain
    /// `env` values, from the objects of namespace `ns`. `at` is the pod spec's pointer in `d`,
    /// for errors.
    pub fn resolve_env(
        &self,
        spec: &mut Value,
        ns: &str,
        d: &Document,
        at: &str,
    ) -> Result<(), ManifestError> {
        for list in ["initContainers", "containers"] {
            let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) else {
                continue;
            };
            for (i, c) in cs.iter_mut().enumerate() {
                self.resolve_container_env(c, ns, d, &format!("{at}/{list}/{i}"))?;
            }
        }
        Ok(())
    }

    /// `resolve_env` for one container, found at `cat` in `d` (a SidecarSet's container is
    /// named at its line in the SidecarSet).
    pub fn resolve_container_env(
        &self,
        c: &mut Value,
        ns: &str,
        d: &Document,
        cat: &str,
    ) -> Result<(), ManifestError> {
        let mut env: Vec<Value> = Vec::new();
        // envFrom first: an `env` entry of the same name wins, as in Kubernetes.
        for (j, from) in c
            .get("envFrom")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let fat = format!("{cat}/envFrom/{j}");
            let prefix = from.get("prefix").and_then(Value::as_str).unwrap_or("");
            let (kind, r) = match (from.get("configMapRef"), from.get("secretRef")) {
                (Some(r), None) => ("ConfigMap", r),
                (None, Some(r)) => ("Secret", r),
                _ => {
                    return Err(ManifestError::at(
                        d,
                        &fat,
                        format!("{}: needs one of configMapRef, secretRef", field_path(&fat)),
                    ));
                }
            };
            if let Some(data) = self.lookup(kind, ns, r, d, &fat)? {
                for (k, v) in data {
                    let v = text(v, d, &fat, kind, k)?;
                    env.push(json!({"name": format!("{prefix}{k}"), "value": v}));
                }
            }
        }
        for (j, e) in c
            .get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(from) = e.get("valueFrom").filter(|v| !v.is_null()) else {
                env.push(e.clone());
                continue;
            };
            let eat = format!("{cat}/env/{j}/valueFrom");
            let (kind, r) = match (from.get("configMapKeyRef"), from.get("secretKeyRef")) {
                (Some(r), None) => ("ConfigMap", r),
                (None, Some(r)) => ("Secret", r),
                _ => {
                    return Err(ManifestError::at(
                        d,
                        &eat,
                        format!(
                            "{}: podinit run resolves configMapKeyRef and secretKeyRef only",
                            field_path(&eat)
                        ),
                    ));
                }
            };
            let key = r.get("key").and_then(Value::as_str).ok_or_else(|| {
                ManifestError::at(d, &eat, format!("{}: needs a key", field_path(&eat)))
            })?;
            let optional = r.get("optional").and_then(Value::as_bool).unwrap_or(false);
            let Some(data) = self.lookup(kind, ns, r, d, &eat)? else {
                continue;
            };
            match data.get(key) {
                        Some(v) => env.push(json!({"name": e.get("name").cloned().unwrap_or(Value::Null), "value": text(v, d, &eat, kind, key)?})),
                        None if optional => {}
                        None => return Err(ManifestError::at(d, &eat, format!("{}: {kind} has no key {key:?}", field_path(&eat)))),
                    }
        }
        // Later entries win; keep the first position of each name, as the kubelet's env.
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut merged: Vec<Value> = Vec::new();
        for e in env {
            let name = e
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            match seen.get(&name) {
                Some(&k) => merged[k] = e,
                None => {
                    seen.insert(name, merged.len());
                    merged.push(e);
                }
            }
        }
        if let Some(obj) = c.as_object_mut() {
            obj.remove("envFrom");
            if !merged.is_empty() {
                obj.insert("env".into(), Value::Array(merged));
            }
        }
        Ok(())
    }

    /// The data a reference names; `None` when it is missing and `optional: true`.
    fn lookup(
        &self,
        kind: &str,
        ns: &str,
        r: &Value,
        d: &Document,
        at: &str,
    ) -> Result<Option<&Data>, ManifestError> {
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        match self.get(kind, ns, name) {
            Some(data) => Ok(Some(data)),
            None if r.get("optional").and_then(Value::as_bool) == Some(true) => Ok(None),
            None => Err(ManifestError::at(
                d,
                at,
                format!(
                    "{}: {kind} {name:?} is not among the documents given to podinit run (namespace {ns}; add its manifest, or mark the reference optional)",
                    field_path(at)
                ),
            )),
        }
    }
}

/// A value as env text: env is UTF-8, a Secret's bytes need not be.
fn text(v: &[u8], d: &Document, at: &str, kind: &str, key: &str) -> Result<String, ManifestError> {
    String::from_utf8(v.to_vec()).map_err(|_| {
        ManifestError::at(
            d,
            at,
            format!(
                "{}: {kind} key {key:?} is not UTF-8 text, so it cannot be an env value (mount it as a volume)",
                field_path(at)
            ),
        )
    })
}

/// Standard base64 with optional padding (what `kubectl create secret` writes); `None` if not.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be padding zeros, and a single leftover character is no byte at all.
    (bits < 6 && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::yaml;

    #[test]
    fn base64_as_kubectl_writes_it() {
        assert_eq!(decode_base64("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode_base64("aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode_base64("").as_deref(), Some(&b""[..]));
        for bad in ["a", "aGVsbG8*", "aGVsbG9="] {
            assert_eq!(decode_base64(bad), None, "{bad}");
        }
    }

    fn sources(text: &str) -> Result<(Sources, Vec<Document>), String> {
        let docs = yaml::parse("s.yaml", text).map_err(|e| e.to_string())?;
        let mut s = Sources::default();
        for d in &docs {
            let kind = d.value["kind"].as_str().unwrap_or("").to_owned();
            if kind == "ConfigMap" || kind == "Secret" {
                s.add(d, &kind).map_err(|e| e.to_string())?;
            }
        }
        Ok((s, docs))
    }

    const DOCS: &str = "kind: ConfigMap\nmetadata: {name: cfg}\ndata: {MODE: fast, __IS_SIDECAR__: \"true\"}\n---\nkind: Secret\nmetadata: {name: s}\ndata: {TOKEN: aGVsbG8=}\nstringData: {USER: bob}\n---\nkind: Pod\nspec:\n  containers:\n  - name: a\n";

    fn resolve(container_tail: &str) -> Result<Value, String> {
        let (s, docs) = sources(&format!("{DOCS}{container_tail}"))?;
        let mut spec = docs[2].value["spec"].clone();
        s.resolve_env(&mut spec, "default", &docs[2], "/spec")
            .map_err(|e| e.to_string())?;
        Ok(spec["containers"][0]["env"].clone())
    }

    #[test]
    fn env_from_config_maps_and_secrets() {
        let env = resolve("    envFrom: [{configMapRef: {name: cfg}}, {secretRef: {name: s}, prefix: S_}]\n    env:\n    - {name: MODE, value: slow}\n    - name: T\n      valueFrom: {secretKeyRef: {name: s, key: TOKEN}}\n    - name: O\n      valueFrom: {configMapKeyRef: {name: nope, key: x, optional: true}}\n").unwrap();
        assert_eq!(
            env,
            json!([{"name": "MODE", "value": "slow"}, {"name": "__IS_SIDECAR__", "value": "true"},
                   {"name": "S_TOKEN", "value": "hello"}, {"name": "S_USER", "value": "bob"},
                   {"name": "T", "value": "hello"}])
        );
    }

    #[test]
    fn binary_secret_data_is_no_env_value() {
        let (s, docs) = sources("kind: Secret\nmetadata: {name: b}\ndata: {A: /w==}\n---\nkind: Pod\nspec:\n  containers:\n  - name: a\n    envFrom: [{secretRef: {name: b}}]\n").unwrap();
        assert_eq!(s.get("Secret", "default", "b").unwrap()["A"], [0xff]);
        let mut spec = docs[1].value["spec"].clone();
        let e = s
            .resolve_env(&mut spec, "default", &docs[1], "/spec")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 9: spec.containers[0].envFrom[0]: Secret key \"A\" is not UTF-8 text"),
            "{e}"
        );
    }

    #[test]
    fn missing_sources_and_keys_are_named_with_their_line() {
        for (tail, want) in [
            (
                "    env:\n    - name: X\n      valueFrom: {configMapKeyRef: {name: other, key: a}}\n",
                "line 16: spec.containers[0].env[0].valueFrom: ConfigMap \"other\" is not among the documents",
            ),
            (
                "    env:\n    - name: X\n      valueFrom: {configMapKeyRef: {name: cfg, key: nokey}}\n",
                "line 16: spec.containers[0].env[0].valueFrom: ConfigMap has no key \"nokey\"",
            ),
            (
                "    env:\n    - name: X\n      valueFrom: {fieldRef: {fieldPath: metadata.name}}\n",
                "resolves configMapKeyRef and secretKeyRef only",
            ),
            (
                "    envFrom: [{secretRef: {name: gone}}]\n",
                "line 14: spec.containers[0].envFrom[0]: Secret \"gone\"",
            ),
            (
                "    envFrom: [{}]\n",
                "needs one of configMapRef, secretRef",
            ),
        ] {
            let e = resolve(tail).expect_err(tail);
            assert!(e.contains(want), "{tail}\n got {e}\n want {want}");
        }
        for (bad, want) in [
            (
                "kind: Secret\nmetadata: {name: s}\ndata: {A: '***'}\n",
                "line 3: data.A: not base64",
            ),
            (
                "kind: ConfigMap\nmetadata: {name: c}\ndata: {A: 1}\n",
                "line 3: data.A: must be a string",
            ),
            (
                "kind: ConfigMap\ndata: {}\n",
                "a ConfigMap needs metadata.name",
            ),
            (
                "kind: ConfigMap\nmetadata: {name: c}\n---\nkind: ConfigMap\nmetadata: {name: c}\n",
                "line 5: ConfigMap default/c is given twice",
            ),
        ] {
            let e = sources(bad).expect_err(bad);
            assert!(e.contains(want), "{bad}\n got {e}\n want {want}");
        }
    }
}
