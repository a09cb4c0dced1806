//! Vendor env dialects (ACS, ECI, OpenKruise) on a regular container, read from the container's
//! `process.env` first and its pod-spec `env` second.

use super::keys::*;
use super::values::{parse_bool, parse_int_in};
use super::{PlanError, PlanErrorKind, Source};

/// A dialect's word on one decision: the value, the sentence explain shows, and the variable.
pub type Said<T> = (T, String, Source);

/// The env a container's declarations are read from.
pub struct Env<'a> {
    /// `process.env` of config.json, `NAME=value` strings (what the process really gets).
    pub process: &'a [String],
    /// The container's `env` in the pod spec, where there is one.
    pub spec: &'a [(String, String)],
}

impl Env<'_> {
    /// First match wins in `process.env`, as `getenv` does.
    pub fn get(&self, name: &str) -> Option<(&str, &'static str)> {
        self.process
            .iter()
            .find_map(|kv| {
                kv.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('='))
            })
            .map(|v| (v, "process.env"))
            .or_else(|| {
                self.spec
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| (v.as_str(), "pod spec env"))
            })
    }
}

/// How an env-declared sidecar starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidecarStyle {
    /// Starts before the apps and restarts always (`__IS_SIDECAR__`, `ECI_SIDECAR_CONTAINER`).
    StartsFirst,
    /// Only stopped after the apps; starts and restarts like any regular container
    /// (`ECI_CONTAINER_TYPE=sidecar`, `KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT`).
    StopOnly,
}

#[derive(Debug, Default)]
pub struct EnvDialect {
    pub sidecar: Option<Said<SidecarStyle>>,
    pub launch_priority: Option<Said<i32>>,
    pub exit_priority: Option<i32>,
    pub ignore_exit_code: bool,
    pub ignore_ready: bool,
    pub notes: Vec<String>,
}

const PRIORITY_MIN: i64 = -1000;
const PRIORITY_MAX: i64 = 1000;

pub fn read(env: &Env<'_>, container: &str) -> Result<EnvDialect, PlanError> {
    let bad = |var: &str, msg: String| {
        PlanError::new(
            PlanErrorKind::InvalidValue,
            container,
            Source::env(var),
            msg,
        )
    };
    let flag = |var: &str| -> Result<Option<(bool, &'static str)>, PlanError> {
        match env.get(var) {
            None => Ok(None),
            Some((v, origin)) => parse_bool(v)
                .map(|b| Some((b, origin)))
                .map_err(|e| bad(var, e.to_string())),
        }
    };
    let priority = |var: &str| -> Result<Option<(i32, &'static str)>, PlanError> {
        match env.get(var) {
            None => Ok(None),
            Some((v, origin)) => parse_int_in(v, PRIORITY_MIN, PRIORITY_MAX)
                // Invariant: the range check keeps the value within i32.
                .map(|n| Some((n as i32, origin)))
                .map_err(|e| PlanError::new(e.kind(), container, Source::env(var), e.to_string())),
        }
    };

    let mut d = EnvDialect::default();
    // Order = precedence among sidecar markers: the ones that also order the start come first.
    for var in [ENV_IS_SIDECAR, ENV_ECI_SIDECAR] {
        if let Some((true, origin)) = flag(var)? {
            d.sidecar.get_or_insert((
                SidecarStyle::StartsFirst,
                format!("env {var}=true ({origin})"),
                Source::env(var),
            ));
        }
    }
    if let Some((v, origin)) = env.get(ENV_ECI_TYPE) {
        match v.trim() {
            "sidecar" => {
                d.sidecar.get_or_insert((
                    SidecarStyle::StopOnly,
                    format!("env {ENV_ECI_TYPE}=sidecar ({origin})"),
                    Source::env(ENV_ECI_TYPE),
                ));
            }
            "normal" | "" => {}
            other => {
                return Err(bad(
                    ENV_ECI_TYPE,
                    format!("expected normal or sidecar, got {other:?}"),
                ));
            }
        }
    }
    if let Some((true, origin)) = flag(ENV_KRUISE_SIDECAR)? {
        d.sidecar.get_or_insert((
            SidecarStyle::StopOnly,
            format!("env {ENV_KRUISE_SIDECAR}=true ({origin})"),
            Source::env(ENV_KRUISE_SIDECAR),
        ));
    }

    // Launch priority, highest precedence first: ECI's, Volcengine VCI's (the same meaning
    // under its own name), OpenKruise's.
    let mut launch: Option<(&str, i32, &'static str)> = None;
    for var in [ENV_ECI_LAUNCH, ENV_VCI_LAUNCH, ENV_KRUISE_PRIORITY] {
        let Some((n, origin)) = priority(var)? else {
            continue;
        };
        match launch {
            None => launch = Some((var, n, origin)),
            Some((winner, m, _)) if m != n => {
                d.notes.push(format!("{winner}={m} wins over {var}={n}"));
            }
            Some(_) => {}
        }
    }
    d.launch_priority =
        launch.map(|(var, n, o)| (n, format!("env {var}={n} ({o})"), Source::env(var)));
    if let Some((n, o)) = priority(ENV_ECI_EXIT)? {
        d.exit_priority = Some(n);
        d.notes
            .push(format!("exit priority {n} from env {ENV_ECI_EXIT} ({o})"));
    }
    if let Some((true, o)) = flag(ENV_ECI_IGNORE_EXIT)? {
        d.ignore_exit_code = true;
        d.notes.push(format!(
            "exit code reported as 0 (env {ENV_ECI_IGNORE_EXIT}=true, {o})"
        ));
    }
    if let Some((true, o)) = flag(ENV_IGNORE_READY)? {
        d.ignore_ready = true;
        d.notes.push(format!(
            "not counted for pod readiness (env {ENV_IGNORE_READY}=true, {o})"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(process: &[&str]) -> Vec<String> {
        process.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn process_env_wins_over_spec_env() {
        let p = env(&["__IS_SIDECAR__=false"]);
        let s = vec![("__IS_SIDECAR__".to_string(), "true".to_string())];
        let d = read(
            &Env {
                process: &p,
                spec: &s,
            },
            "c",
        )
        .unwrap();
        assert!(d.sidecar.is_none());
    }

    #[test]
    fn prefix_of_a_name_is_not_a_match() {
        let p = env(&["__IS_SIDECAR__X=true", "ECI_CONTAINER_TYPE_OLD=sidecar"]);
        let d = read(
            &Env {
                process: &p,
                spec: &[],
            },
            "c",
        )
        .unwrap();
        assert!(d.sidecar.is_none());
    }

    #[test]
    fn vci_priority_is_a_launch_priority_below_eci_above_kruise() {
        let p = env(&[
            "VCI_CONTAINER_LAUNCH_PRIORITY=9",
            "KRUISE_CONTAINER_PRIORITY=3",
        ]);
        let d = read(
            &Env {
                process: &p,
                spec: &[],
            },
            "app",
        )
        .unwrap();
        assert_eq!(d.launch_priority.as_ref().unwrap().0, 9);
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("VCI_CONTAINER_LAUNCH_PRIORITY=9 wins"))
        );
        let p = env(&[
            "VCI_CONTAINER_LAUNCH_PRIORITY=9",
            "ECI_CONTAINER_LAUNCH_PRIORITY=2",
        ]);
        let d = read(
            &Env {
                process: &p,
                spec: &[],
            },
            "app",
        )
        .unwrap();
        assert_eq!(d.launch_priority.unwrap().0, 2);
        let p = env(&["VCI_CONTAINER_LAUNCH_PRIORITY=1001"]);
        let e = read(
            &Env {
                process: &p,
                spec: &[],
            },
            "app",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("VCI_CONTAINER_LAUNCH_PRIORITY"),
            "{e}"
        );
    }

    #[test]
    fn eci_priority_wins_over_kruise_and_says_so() {
        let p = env(&[
            "KRUISE_CONTAINER_PRIORITY=5",
            "ECI_CONTAINER_LAUNCH_PRIORITY=7",
        ]);
        let d = read(
            &Env {
                process: &p,
                spec: &[],
            },
            "c",
        )
        .unwrap();
        assert_eq!(d.launch_priority.unwrap().0, 7);
        assert!(d.notes.iter().any(|n| n.contains("wins over")));
    }

    #[test]
    fn errors_name_the_variable_and_the_container() {
        let p = env(&["ECI_CONTAINER_LAUNCH_PRIORITY=5000"]);
        let e = read(
            &Env {
                process: &p,
                spec: &[],
            },
            "proxy",
        )
        .unwrap_err();
        assert_eq!(e.kind, PlanErrorKind::OutOfRange);
        let text = e.to_string();
        assert!(
            text.contains("ECI_CONTAINER_LAUNCH_PRIORITY") && text.contains("proxy"),
            "{text}"
        );
    }
}
