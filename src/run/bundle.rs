//! From a Kubernetes Pod manifest to one OCI bundle per container, the way a sandbox agent
//! would: `command`/`args`/`env`/`volumeMounts` (emptyDir, hostPath; configMap, secret,
//! projected and downwardAPI as the directories `volumes.rs` fills, read-only; the stdlog
//! volume as the pod's log directory), `securityContext`
//! runAsUser/runAsGroup, a shared network namespace, and the pod spec annotation on every
//! container. The config is written as JSON directly (the shape `runc spec` produces); `argv`,
//! `env`, `cwd` and `user` come from the image's config where it has one (`image::process`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::plan::keys;

/// One container of the pod, as the manifest declares it.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// `command` and `args` as declared; `argv` is them merged with the image's Entrypoint and
    /// Cmd (`image::process`), busybox's (`Cmd ["sh"]`) until a saved image's config applies.
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub argv: Vec<String>,
    /// The container's own env (`NAME=value`); `env` is it over the image's and PATH.
    pub declared_env: Vec<String>,
    pub env: Vec<String>,
    pub mounts: Vec<(String, PathBuf, bool)>,
    /// `runAsUser` / `runAsGroup` (the container's, else the pod's), before the image's User.
    pub run_as: (Option<u32>, Option<u32>),
    pub user: (u32, u32),
    pub init: bool,
    /// `workingDir` as declared; `cwd` is it, else the image's WorkingDir, else `/`.
    pub working_dir: Option<String>,
    pub cwd: String,
}

#[derive(Debug, Clone)]
pub struct PodManifest {
    pub name: String,
    /// `spec.hostname`, else the pod's name, as the kubelet sets it.
    pub hostname: String,
    /// The PodSpec as JSON.
    pub spec: Value,
    /// What goes into `io.podinit.pod-spec`: the PodSpec, or, when the Pod has
    /// `metadata.annotations`, a whole Pod with them, so the pod-level annotations podinit and
    /// the vendors read (`io.podinit.sidecar-grace-reserve`, `io.podinit.needs-sidecars`,
    /// `io.podinit.start-timeout`, BCI's ignore-exit-code list) reach every container, as an
    /// agent's pod annotation pass-through would.
    pub declared: Value,
    /// initContainers first, then containers: the declaration order.
    pub containers: Vec<ContainerSpec>,
}

fn strings(v: Option<&Value>) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "expected strings".to_owned())
            })
            .collect(),
        Some(_) => Err("expected an array of strings".into()),
    }
}

/// Parse a Pod (`kind: Pod`) or a bare PodSpec given as JSON text (tests; `podinit run` reads
/// its inputs through `yaml` and `workload` and calls `parse_pod`).
pub fn parse_manifest(text: &str, volumes_dir: &Path) -> Result<PodManifest, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    parse_pod(&v, volumes_dir)
}

/// A Pod (`metadata`, `spec`) or a bare PodSpec. `volumes_dir` holds the pod's emptyDirs.
pub fn parse_pod(v: &Value, volumes_dir: &Path) -> Result<PodManifest, String> {
    let (name, spec) = match v.get("spec") {
        Some(spec) if v.get("containers").is_none() => {
            let name = v
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("pod")
                .to_owned();
            (name, spec.clone())
        }
        _ => ("pod".to_owned(), v.clone()),
    };
    let declared = match v.pointer("/metadata/annotations") {
        Some(a) if v.get("spec").is_some() && a.as_object().is_some_and(|m| !m.is_empty()) => {
            serde_json::json!({"metadata": {"annotations": a}, "spec": spec})
        }
        _ => spec.clone(),
    };
    // Validate through the plan module first: bad declarations fail here, before any container.
    let parsed = crate::plan::k8s::parse_pod_spec(&declared.to_string())
        .map_err(|e| format!("spec: {e}"))?;
    // Every container's plan too (restartPolicyRules as the API server checks them, probes,
    // kinds): what a hook would refuse at create is refused before anything runs.
    crate::plan::plans_from_pod_spec(&parsed).map_err(|e| e.to_string())?;
    let mut volumes = std::collections::BTreeMap::new();
    for vol in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let vname = vol
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a volume has no name")?;
        let projected = ["configMap", "secret", "projected", "downwardAPI"]
            .iter()
            .any(|t| vol.get(*t).is_some());
        let path = if vol.get("emptyDir").is_some() || projected {
            volumes_dir.join(vname)
        } else if let Some(p) = vol.pointer("/hostPath/path").and_then(Value::as_str) {
            PathBuf::from(p)
        } else if super::volumes::is_stdlog(vol) {
            stdlog_dir(volumes_dir)
        } else {
            return Err(format!(
                "volume {vname}: podinit run has emptyDir, hostPath, configMap, secret, projected, downwardAPI and the stdlog csi volume"
            ));
        };
        // The kubelet mounts the volumes it writes from API objects read-only.
        volumes.insert(vname.to_owned(), (path, projected));
    }
    let pod_user = (
        spec.pointer("/securityContext/runAsUser")
            .and_then(Value::as_u64),
        spec.pointer("/securityContext/runAsGroup")
            .and_then(Value::as_u64),
    );
    let mut containers = Vec::new();
    for (list, init) in [("initContainers", true), ("containers", false)] {
        for c in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .ok_or(format!("a {list} entry has no name"))?
                .to_owned();
            let ctx = |e: String| format!("container {name}: {e}");
            let image = c
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or("busybox")
                .to_owned();
            let command = strings(c.get("command")).map_err(|e| ctx(format!("command: {e}")))?;
            let args = strings(c.get("args")).map_err(|e| ctx(format!("args: {e}")))?;
            let mut declared_env = Vec::new();
            for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
                if let (Some(k), Some(val)) = (
                    e.get("name").and_then(Value::as_str),
                    e.get("value").and_then(Value::as_str),
                ) {
                    declared_env.push(format!("{k}={val}"));
                }
            }
            let mut mounts = Vec::new();
            for m in c
                .get("volumeMounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let vname = m
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ctx("a volumeMount has no name".into()))?;
                let dest = m
                    .get("mountPath")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ctx(format!("volumeMount {vname} has no mountPath")))?;
                let (mut source, always_ro) = volumes
                    .get(vname)
                    .cloned()
                    .ok_or_else(|| ctx(format!("volumeMount {vname}: no such volume")))?;
                if let Some(sub) = m.get("subPath").and_then(Value::as_str) {
                    if sub.split('/').any(|p| p == "..") {
                        return Err(ctx(format!(
                            "volumeMount {vname}: subPath {sub:?} leaves the volume"
                        )));
                    }
                    source = source.join(sub);
                }
                let ro = always_ro || m.get("readOnly").and_then(Value::as_bool).unwrap_or(false);
                mounts.push((dest.to_owned(), source, ro));
            }
            let id = |key: &str, pod: Option<u64>| -> Result<Option<u32>, String> {
                c.pointer(&format!("/securityContext/{key}"))
                    .and_then(Value::as_u64)
                    .or(pod)
                    .map(|v| u32::try_from(v).map_err(|_| ctx(format!("{key} out of range"))))
                    .transpose()
            };
            let run_as = (id("runAsUser", pod_user.0)?, id("runAsGroup", pod_user.1)?);
            let working_dir = match c.get("workingDir") {
                None | Some(Value::Null) => None,
                Some(Value::String(d)) if d.starts_with('/') => Some(d.clone()),
                Some(_) => return Err(ctx("workingDir must be an absolute path".into())),
            };
            let mut spec = ContainerSpec {
                name,
                image,
                command,
                args,
                argv: Vec::new(),
                declared_env,
                env: Vec::new(),
                mounts,
                user: (run_as.0.unwrap_or(0), run_as.1.or(run_as.0).unwrap_or(0)),
                run_as,
                init,
                working_dir,
                cwd: String::new(),
            };
            // The busybox image's config until a saved image's replaces it.
            crate::run::image::process::apply(
                &mut spec,
                &crate::run::image::process::ImageProcess::busybox(),
            )?;
            containers.push(spec);
        }
    }
    if containers.is_empty() {
        return Err("the pod has no containers".into());
    }
    let hostname = spec
        .get("hostname")
        .and_then(Value::as_str)
        .unwrap_or(&name)
        .to_owned();
    Ok(PodManifest {
        name,
        hostname,
        spec,
        declared,
        containers,
    })
}

/// Where the pod's stdlog directory is (`<container>/<restartCount>.log`, CRI format): next to
/// its volumes, whether or not a container mounts it.
pub fn stdlog_dir(volumes_dir: &Path) -> PathBuf {
    volumes_dir.parent().unwrap_or(volumes_dir).join("stdlog")
}

/// The `config.json` of one container: runc's default spec, plus the pod's netns, mounts, user,
/// and the annotations podinit reads.
/// `writable_root`: the container's own root filesystem (busybox) rather than a shared directory.
pub fn config(
    pod: &PodManifest,
    c: &ContainerSpec,
    (rootfs, writable_root): (&Path, bool),
    netns: Option<&Path>,
) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}),
    ];
    for (dest, source, ro) in &c.mounts {
        let mut options = vec!["rbind", "nosuid", "nodev"];
        if *ro {
            options.push("ro");
        }
        mounts.push(json!({"destination": dest, "type": "bind", "source": source.to_string_lossy(), "options": options}));
    }
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    namespaces.push(match netns {
        Some(p) => json!({"type": "network", "path": p.to_string_lossy()}),
        None => json!({"type": "network"}),
    });
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": c.user.0, "gid": c.user.1},
            "args": c.argv,
            "env": c.env,
            "cwd": c.cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": rootfs.to_string_lossy(), "readonly": !writable_root},
        "hostname": pod.hostname,
        "mounts": mounts,
        "annotations": {
            keys::CONTAINER_NAME: c.name,
            keys::POD_SPEC: pod.declared.to_string(),
        },
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": namespaces,
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// A busybox root filesystem from the host's static busybox (Debian `busybox-static`), one per
/// container and writable, as a container's own image layer is: the ACS document's sidecar
/// does `touch /var/logs.txt` in its root filesystem.
/// The host's static busybox (Debian `busybox-static`).
pub fn host_busybox() -> Result<PathBuf, String> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| {
            "image busybox needs the host's static busybox (apt-get install busybox-static)".into()
        })
}

/// The applets `busybox --list` names, to link to it; busybox itself is left out (linking it
/// would replace the binary with a loop).
pub fn busybox_applets(busybox: &Path) -> Result<Vec<String>, String> {
    let list = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| format!("{} --list: {e}", busybox.display()))?;
    Ok(String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
        .map(String::from)
        .collect())
}

/// `/etc/passwd` of a busybox root: root and nobody.
pub const BUSYBOX_PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n";

pub fn busybox_rootfs(rootfs: &Path) -> Result<PathBuf, String> {
    let rootfs = rootfs.to_path_buf();
    let busybox = host_busybox()?;
    let bin = rootfs.join("bin");
    // The directories of the busybox image (`docker run busybox ls /`).
    for d in [
        "bin", "proc", "dev", "sys", "tmp", "etc", "root", "home", "usr", "var",
    ] {
        std::fs::create_dir_all(rootfs.join(d))
            .map_err(|e| format!("{}: {e}", rootfs.display()))?;
    }
    std::fs::copy(&busybox, bin.join("busybox"))
        .map_err(|e| format!("copying {}: {e}", busybox.display()))?;
    for applet in busybox_applets(&bin.join("busybox"))? {
        let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
    }
    std::fs::write(rootfs.join("etc/passwd"), BUSYBOX_PASSWD).map_err(|e| e.to_string())?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")
        .map_err(|e| e.to_string())?;
    Ok(rootfs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_maps_command_env_and_volumes() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "job"}, "spec": {
            "volumes": [{"name": "shared", "emptyDir": {}}, {"name": "cfg", "hostPath": {"path": "/etc"}}],
            "initContainers": [{"name": "log", "restartPolicy": "Always", "image": "busybox", "args": ["sh", "-c", "sleep 1000"]}],
            "containers": [{"name": "app", "command": ["sh"], "args": ["-c", "exit 0"],
                "env": [{"name": "A", "value": "1"}, {"name": "S", "valueFrom": {"secretKeyRef": {}}}],
                "volumeMounts": [{"name": "shared", "mountPath": "/shared"}, {"name": "cfg", "mountPath": "/etc/hosts", "subPath": "hosts", "readOnly": true}]}]
        }});
        let m = parse_manifest(&pod.to_string(), Path::new("/v")).unwrap();
        assert_eq!(m.name, "job");
        assert_eq!(
            m.containers
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["log", "app"]
        );
        let app = &m.containers[1];
        assert_eq!(app.argv, ["sh", "-c", "exit 0"]);
        assert!(
            app.env.contains(&"A=1".to_owned()) && !app.env.iter().any(|e| e.starts_with("S="))
        );
        assert_eq!(
            app.mounts[0],
            ("/shared".into(), PathBuf::from("/v/shared"), false)
        );
        assert_eq!(
            app.mounts[1],
            ("/etc/hosts".into(), PathBuf::from("/etc/hosts"), true)
        );
        let cfg = config(&m, app, (Path::new("/r"), false), Some(Path::new("/ns")));
        assert_eq!(cfg["annotations"]["io.podinit.container-name"], "app");
        assert_eq!(cfg["linux"]["namespaces"][4]["path"], "/ns");
    }

    #[test]
    fn api_object_volumes_are_read_only_and_stdlog_is_the_pods_log_directory() {
        let pod = json!({"volumes": [{"name": "c", "configMap": {"name": "c"}}, {"name": "s", "secret": {"secretName": "s"}},
                {"name": "l", "csi": {"driver": crate::run::volumes::STDLOG_DRIVER}}],
            "containers": [{"name": "a", "volumeMounts": [{"name": "c", "mountPath": "/c", "readOnly": false},
                {"name": "s", "mountPath": "/t", "subPath": "token"}, {"name": "l", "mountPath": "/var/log/std"}]}]});
        let m = parse_manifest(&pod.to_string(), Path::new("/w/volumes")).unwrap();
        assert_eq!(
            m.containers[0].mounts,
            [
                ("/c".into(), PathBuf::from("/w/volumes/c"), true),
                ("/t".into(), PathBuf::from("/w/volumes/s/token"), true),
                ("/var/log/std".into(), PathBuf::from("/w/stdlog"), false),
            ]
        );
    }

    #[test]
    fn unsupported_or_hostile_manifests_are_refused() {
        for bad in [
            json!({"containers": [{"name": "a", "volumeMounts": [{"name": "x", "mountPath": "/x"}]}]}),
            json!({"volumes": [{"name": "c", "nfs": {"server": "s"}}], "containers": [{"name": "a"}]}),
            json!({"volumes": [{"name": "e", "emptyDir": {}}], "containers": [{"name": "a", "volumeMounts": [{"name": "e", "mountPath": "/e", "subPath": "../../etc"}]}]}),
            json!({"containers": []}),
            json!({"containers": "a"}),
        ] {
            assert!(
                parse_manifest(&bad.to_string(), Path::new("/v")).is_err(),
                "{bad}"
            );
        }
        assert!(parse_manifest("{nope", Path::new("/v")).is_err());
    }

    #[test]
    fn a_restart_rule_the_api_server_refuses_is_refused_before_anything_runs() {
        let pod = json!({"restartPolicy": "Never", "containers": [{"name": "a",
            "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]}]});
        let err = parse_manifest(&pod.to_string(), Path::new("/v")).unwrap_err();
        assert!(
            err.contains("container \"a\"")
                && err.contains("spec.containers[0].restartPolicy")
                && err.contains("must specify restartPolicy when restart rules are used"),
            "{err}"
        );
    }
}
