//! `io.podinit.needs-sidecars`: apps that need a sidecar for their whole life, not only to
//! start (a mesh proxy the app cannot reach the network without, a log agent it writes to).
//! Kubernetes gates an app's first start on its sidecars and never again; this re-gates it:
//!
//! ```text
//! io.podinit.needs-sidecars: "app=proxy:restart, worker=proxy+log:hold"
//! ```
//!
//! One entry per app, `APP=SIDECAR[+SIDECAR...][:restart|:hold]` (default `restart`):
//! `restart` — when a needed sidecar exits or stops being ready, the app is stopped (preStop,
//! stop signal, grace) and started again once every sidecar it needs is started and ready;
//! `hold` — the app is left running, but a restart of it (its own crash) waits until they are.
//! A pod-level value, on the containers' annotations or in a whole Pod's `metadata.annotations`.

use serde::{Deserialize, Serialize};

use super::dialect::{self, Env};
use super::k8s::PodSpec;
use super::keys::NEEDS_SIDECARS;
use super::{Kind, PlanError, PlanErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SidecarLoss {
    /// Stop the app when a needed sidecar is lost; start it again once they are all back.
    Restart,
    /// Leave the app running; only its restarts wait for the sidecars.
    Hold,
}

/// What one app needs, from its entry of the annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NeedsSidecars {
    pub sidecars: Vec<String>,
    pub on_loss: SidecarLoss,
}

/// Container `name`'s entry (`kind` is its own kind), checked against the pod spec where there
/// is one: every app named is an app of it, every sidecar a sidecar of it.
pub fn read(
    name: &str,
    kind: Kind,
    annotation: Option<&str>,
    spec: Option<&PodSpec>,
) -> Result<Option<NeedsSidecars>, PlanError> {
    let Some((raw, source)) = super::pod_level::lookup(NEEDS_SIDECARS, annotation, spec) else {
        return Ok(None);
    };
    let bad = |msg: String| PlanError::new(PlanErrorKind::InvalidValue, name, source.clone(), msg);
    let entries = parse(raw).map_err(bad)?;
    if let Some(spec) = spec {
        for (app, needs) in &entries {
            check_names(spec, app, &needs.sidecars).map_err(bad)?;
        }
    }
    let Some((_, mine)) = entries.into_iter().find(|(app, _)| app == name) else {
        return Ok(None);
    };
    if kind != Kind::App {
        return Err(bad(format!(
            "{name} is a {} container; only apps can need sidecars",
            kind.as_str()
        )));
    }
    Ok(Some(mine))
}

/// `APP=SIDECAR[+SIDECAR...][:policy]`, comma separated.
fn parse(raw: &str) -> Result<Vec<(String, NeedsSidecars)>, String> {
    let mut out: Vec<(String, NeedsSidecars)> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let shape = || {
            format!(
                "entry {entry:?}: expected APP=SIDECAR[+SIDECAR...][:restart|:hold], \
                 e.g. \"app=proxy:restart\""
            )
        };
        let (app, rest) = entry.split_once('=').ok_or_else(shape)?;
        let (list, policy) = match rest.split_once(':') {
            Some((list, policy)) => (list, Some(policy.trim())),
            None => (rest, None),
        };
        let on_loss = match policy {
            None | Some("restart") => SidecarLoss::Restart,
            Some("hold") => SidecarLoss::Hold,
            Some(other) => {
                return Err(format!(
                    "entry {entry:?}: unknown policy {other:?} (expected restart or hold)"
                ));
            }
        };
        let app = app.trim();
        let sidecars: Vec<String> = list
            .split('+')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if app.is_empty() || sidecars.is_empty() {
            return Err(shape());
        }
        if sidecars.iter().any(|s| s == app) {
            return Err(format!("entry {entry:?}: {app} cannot need itself"));
        }
        if out.iter().any(|(a, _)| a == app) {
            return Err(format!(
                "{app} has two entries; give one, with + between sidecars"
            ));
        }
        out.push((app.to_owned(), NeedsSidecars { sidecars, on_loss }));
    }
    if out.is_empty() {
        return Err("no entry; expected APP=SIDECAR[:restart|:hold], ...".into());
    }
    Ok(out)
}

fn check_names(spec: &PodSpec, app: &str, sidecars: &[String]) -> Result<(), String> {
    let is_sidecar = |name: &str| -> Option<bool> {
        if let Some(c) = spec.init_containers.iter().find(|c| c.name == name) {
            return Some(c.restart_policy.as_deref() == Some("Always"));
        }
        let c = spec.containers.iter().find(|c| c.name == name)?;
        let env: Vec<(String, String)> = c
            .env
            .iter()
            .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
            .collect();
        let d = dialect::read(
            &Env {
                process: &[],
                spec: &env,
            },
            name,
        )
        .ok()?;
        Some(d.sidecar.is_some())
    };
    match is_sidecar(app) {
        None => return Err(format!("the pod spec has no container {app}")),
        Some(true) => return Err(format!("{app} is a sidecar; only apps can need sidecars")),
        Some(false) if spec.init_containers.iter().any(|c| c.name == app) => {
            return Err(format!(
                "{app} is an init container; only apps can need sidecars"
            ));
        }
        Some(false) => {}
    }
    for s in sidecars {
        match is_sidecar(s) {
            None => {
                return Err(format!(
                    "the pod spec has no container {s} (needed by {app})"
                ));
            }
            Some(false) => {
                return Err(format!(
                    "{s} (needed by {app}) is not a sidecar: only a sidecar runs for the pod's \
                     whole life"
                ));
            }
            Some(true) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("app=proxy", &[("app", &["proxy"][..], SidecarLoss::Restart)])]
    #[case(" app = proxy + log : hold , w=log:restart ", &[("app", &["proxy", "log"][..], SidecarLoss::Hold), ("w", &["log"][..], SidecarLoss::Restart)])]
    fn entries_parse(#[case] raw: &str, #[case] want: &[(&str, &[&str], SidecarLoss)]) {
        let got = parse(raw).expect("valid");
        let got: Vec<(&str, Vec<&str>, SidecarLoss)> = got
            .iter()
            .map(|(a, n)| {
                (
                    a.as_str(),
                    n.sidecars.iter().map(String::as_str).collect(),
                    n.on_loss,
                )
            })
            .collect();
        let want: Vec<(&str, Vec<&str>, SidecarLoss)> =
            want.iter().map(|(a, s, p)| (*a, s.to_vec(), *p)).collect();
        assert_eq!(got, want);
    }

    #[rstest::rstest]
    #[case("", "no entry")]
    #[case("app", "expected APP=SIDECAR")]
    #[case("app=", "expected APP=SIDECAR")]
    #[case("=proxy", "expected APP=SIDECAR")]
    #[case("app=proxy:later", "unknown policy \"later\"")]
    #[case("app=app", "cannot need itself")]
    #[case("app=a,app=b", "two entries")]
    #[case("app=+:", "unknown policy")]
    #[case("app=+", "expected APP=SIDECAR")]
    fn hostile_entries_are_refused(#[case] raw: &str, #[case] want: &str) {
        let e = parse(raw).expect_err("refused");
        assert!(e.contains(want), "{raw:?}: {e}");
    }
}
