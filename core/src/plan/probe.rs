//! Kubernetes `Probe` and `LifecycleHandler` turned into what the in-container init runs, with the
//! kubelet's defaults filled in and every number range-checked.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::k8s::{self, ContainerPort, IntOrString};
use super::values::{ValueError, check_seconds};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSpec {
    pub action: ProbeAction,
    pub initial_delay_seconds: u64,
    pub timeout_seconds: u64,
    pub period_seconds: u64,
    pub success_threshold: u32,
    pub failure_threshold: u32,
    /// `probe.terminationGracePeriodSeconds` (startup/liveness kills), where set.
    pub termination_grace_period_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ProbeAction {
    Exec { command: Vec<String> },
    TcpSocket { host: Option<String>, port: u16 },
    HttpGet(HttpGet),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpGet {
    pub host: Option<String>,
    pub port: u16,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Handler {
    Exec { command: Vec<String> },
    HttpGet(HttpGet),
    Sleep { seconds: u64 },
}

/// Why a Kubernetes `Probe` or `LifecycleHandler` was refused; the caller names the container
/// and the annotation or field. Displays as the messages always read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    UnknownNamedPort {
        name: String,
    },
    PortOutOfRange {
        port: i64,
    },
    UnsupportedScheme {
        scheme: String,
    },
    LineBreak,
    EmptyCommand,
    ThresholdOutOfRange {
        field: &'static str,
        n: i64,
    },
    Seconds {
        field: &'static str,
        error: ValueError,
    },
    SecondsBelow {
        field: &'static str,
        min: u64,
    },
    Grpc,
    /// Not exactly one action; `several`: more than one, else none.
    ProbeActions {
        several: bool,
    },
    SuccessThresholdNotOne,
    TcpHandler,
    HandlerActions {
        several: bool,
    },
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |several: bool| if several { "several" } else { "none" };
        match self {
            ProbeError::UnknownNamedPort { name } => {
                write!(f, "named port {name:?} is not among the container's ports")
            }
            ProbeError::PortOutOfRange { port } => {
                write!(f, "port {port} is out of range (1 to 65535)")
            }
            ProbeError::UnsupportedScheme { scheme } => {
                write!(f, "httpGet scheme {scheme:?} is not supported (only HTTP)")
            }
            ProbeError::LineBreak => {
                f.write_str("httpGet path and headers must not contain line breaks")
            }
            ProbeError::EmptyCommand => f.write_str("exec.command is empty"),
            ProbeError::ThresholdOutOfRange { field, n } => {
                write!(f, "{field} {n} is out of range (1 to 1000000)")
            }
            ProbeError::Seconds { field, error } => write!(f, "{field}: {error}"),
            ProbeError::SecondsBelow { field, min } => write!(f, "{field} must be at least {min}"),
            ProbeError::Grpc => f.write_str(
                "grpc probes are not supported by podinit; use exec, tcpSocket or httpGet",
            ),
            ProbeError::ProbeActions { several } => write!(
                f,
                "a probe needs exactly one of exec, tcpSocket or httpGet; it has {}",
                count(*several)
            ),
            ProbeError::SuccessThresholdNotOne => {
                f.write_str("successThreshold must be 1 for startup and liveness probes")
            }
            ProbeError::TcpHandler => f.write_str(
                "tcpSocket lifecycle handlers are deprecated in Kubernetes and not supported; use exec, httpGet or sleep",
            ),
            ProbeError::HandlerActions { several } => write!(
                f,
                "a lifecycle handler needs exactly one of exec, httpGet or sleep; it has {}",
                count(*several)
            ),
        }
    }
}

impl std::error::Error for ProbeError {}

fn port(p: &IntOrString, ports: &[ContainerPort]) -> Result<u16, ProbeError> {
    let n = match p {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => match s.parse::<i64>() {
            Ok(n) => n,
            Err(_) => ports
                .iter()
                .find(|cp| cp.name.as_deref() == Some(s.as_str()))
                .map(|cp| cp.container_port)
                .ok_or_else(|| ProbeError::UnknownNamedPort { name: s.clone() })?,
        },
    };
    u16::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ProbeError::PortOutOfRange { port: n })
}

fn http_get(h: &k8s::HttpGetAction, ports: &[ContainerPort]) -> Result<HttpGet, ProbeError> {
    if let Some(scheme) = &h.scheme {
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(ProbeError::UnsupportedScheme {
                scheme: scheme.clone(),
            });
        }
    }
    let path = h.path.clone().unwrap_or_else(|| "/".into());
    if path.contains(['\r', '\n'])
        || h.http_headers
            .iter()
            .any(|x| format!("{}{}", x.name, x.value).contains(['\r', '\n']))
    {
        return Err(ProbeError::LineBreak);
    }
    Ok(HttpGet {
        host: h.host.clone().filter(|s| !s.is_empty()),
        port: port(&h.port, ports)?,
        path: if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        },
        headers: h
            .http_headers
            .iter()
            .map(|x| (x.name.clone(), x.value.clone()))
            .collect(),
    })
}

fn exec(e: &k8s::ExecAction) -> Result<Vec<String>, ProbeError> {
    if e.command.is_empty() {
        return Err(ProbeError::EmptyCommand);
    }
    Ok(e.command.clone())
}

fn threshold(field: &'static str, v: Option<i64>, default: u32) -> Result<u32, ProbeError> {
    match v {
        None => Ok(default),
        Some(n) if (1..=1_000_000).contains(&n) => Ok(n as u32),
        Some(n) => Err(ProbeError::ThresholdOutOfRange { field, n }),
    }
}

fn seconds(field: &'static str, v: Option<i64>, default: u64, min: u64) -> Result<u64, ProbeError> {
    let n = match v {
        None => return Ok(default),
        Some(n) => check_seconds(n).map_err(|error| ProbeError::Seconds { field, error })?,
    };
    if n < min {
        return Err(ProbeError::SecondsBelow { field, min });
    }
    Ok(n)
}

/// `is_liveness_or_startup`: Kubernetes requires successThreshold 1 for those.
pub fn probe_from_k8s(
    p: &k8s::Probe,
    ports: &[ContainerPort],
    must_succeed_once: bool,
) -> Result<ProbeSpec, ProbeError> {
    if p.grpc.is_some() {
        return Err(ProbeError::Grpc);
    }
    let mut actions = Vec::new();
    if let Some(e) = &p.exec {
        actions.push(ProbeAction::Exec { command: exec(e)? });
    }
    if let Some(t) = &p.tcp_socket {
        actions.push(ProbeAction::TcpSocket {
            host: t.host.clone().filter(|s| !s.is_empty()),
            port: port(&t.port, ports)?,
        });
    }
    if let Some(h) = &p.http_get {
        actions.push(ProbeAction::HttpGet(http_get(h, ports)?));
    }
    let action = match actions.len() {
        1 => actions.remove(0),
        n => return Err(ProbeError::ProbeActions { several: n > 1 }),
    };
    let success_threshold = threshold("successThreshold", p.success_threshold, 1)?;
    if must_succeed_once && success_threshold != 1 {
        return Err(ProbeError::SuccessThresholdNotOne);
    }
    Ok(ProbeSpec {
        action,
        initial_delay_seconds: seconds("initialDelaySeconds", p.initial_delay_seconds, 0, 0)?,
        timeout_seconds: seconds("timeoutSeconds", p.timeout_seconds, 1, 1)?,
        period_seconds: seconds("periodSeconds", p.period_seconds, 10, 1)?,
        success_threshold,
        failure_threshold: threshold("failureThreshold", p.failure_threshold, 3)?,
        termination_grace_period_seconds: match p.termination_grace_period_seconds {
            None => None,
            Some(n) => Some(seconds("terminationGracePeriodSeconds", Some(n), 0, 1)?),
        },
    })
}

pub fn handler_from_k8s(
    h: &k8s::LifecycleHandler,
    ports: &[ContainerPort],
) -> Result<Handler, ProbeError> {
    if h.tcp_socket.is_some() {
        return Err(ProbeError::TcpHandler);
    }
    let mut handlers = Vec::new();
    if let Some(e) = &h.exec {
        handlers.push(Handler::Exec { command: exec(e)? });
    }
    if let Some(g) = &h.http_get {
        handlers.push(Handler::HttpGet(http_get(g, ports)?));
    }
    if let Some(s) = &h.sleep {
        handlers.push(Handler::Sleep {
            seconds: seconds("sleep.seconds", Some(s.seconds), 0, 0)?,
        });
    }
    match handlers.len() {
        1 => Ok(handlers.remove(0)),
        n => Err(ProbeError::HandlerActions { several: n > 1 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn probe(json: &str) -> Result<ProbeSpec, String> {
        let p: k8s::Probe = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let ports = [ContainerPort {
            name: Some("http".into()),
            container_port: 8080,
        }];
        probe_from_k8s(&p, &ports, false).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_kubelets() {
        let p = probe(r#"{"exec":{"command":["true"]}}"#).unwrap();
        assert_eq!(
            (
                p.timeout_seconds,
                p.period_seconds,
                p.success_threshold,
                p.failure_threshold
            ),
            (1, 10, 1, 3)
        );
    }

    #[rstest]
    #[case::tcp_int(r#"{"tcpSocket":{"port":80}}"#, true)]
    #[case::tcp_string_number(r#"{"tcpSocket":{"port":"81"}}"#, true)]
    #[case::http_named_port(r#"{"httpGet":{"port":"http","path":"healthz"}}"#, true)]
    #[case::unknown_named_port(r#"{"httpGet":{"port":"admin"}}"#, false)]
    #[case::port_zero(r#"{"tcpSocket":{"port":0}}"#, false)]
    #[case::port_huge(r#"{"tcpSocket":{"port":70000}}"#, false)]
    #[case::grpc(r#"{"grpc":{"port":9000}}"#, false)]
    #[case::no_action(r#"{"periodSeconds":5}"#, false)]
    #[case::two_actions(r#"{"exec":{"command":["true"]},"tcpSocket":{"port":1}}"#, false)]
    #[case::empty_command(r#"{"exec":{"command":[]}}"#, false)]
    #[case::period_zero(r#"{"exec":{"command":["true"]},"periodSeconds":0}"#, false)]
    #[case::period_string(r#"{"exec":{"command":["true"]},"periodSeconds":"ten"}"#, false)]
    #[case::negative_delay(r#"{"exec":{"command":["true"]},"initialDelaySeconds":-1}"#, false)]
    #[case::huge_threshold(
        r#"{"exec":{"command":["true"]},"failureThreshold":99999999999}"#,
        false
    )]
    #[case::https(r#"{"httpGet":{"port":443,"scheme":"HTTPS"}}"#, false)]
    #[case::header_injection(r#"{"httpGet":{"port":80,"path":"/\r\nX: y"}}"#, false)]
    fn probes(#[case] json: &str, #[case] ok: bool) {
        assert_eq!(probe(json).is_ok(), ok, "{json}: {:?}", probe(json));
    }

    /// Each refusal's words, as they were when the errors were strings.
    #[rstest]
    #[case::grpc(
        r#"{"grpc":{"port":9000}}"#,
        "grpc probes are not supported by podinit; use exec, tcpSocket or httpGet"
    )]
    #[case::none(
        r#"{"periodSeconds":5}"#,
        "a probe needs exactly one of exec, tcpSocket or httpGet; it has none"
    )]
    #[case::several(
        r#"{"exec":{"command":["true"]},"tcpSocket":{"port":1}}"#,
        "a probe needs exactly one of exec, tcpSocket or httpGet; it has several"
    )]
    #[case::named_port(
        r#"{"httpGet":{"port":"admin"}}"#,
        "named port \"admin\" is not among the container's ports"
    )]
    #[case::port(r#"{"tcpSocket":{"port":0}}"#, "port 0 is out of range (1 to 65535)")]
    #[case::period(
        r#"{"exec":{"command":["true"]},"periodSeconds":0}"#,
        "periodSeconds must be at least 1"
    )]
    #[case::delay(
        r#"{"exec":{"command":["true"]},"initialDelaySeconds":-1}"#,
        "initialDelaySeconds: -1 seconds is out of range (0 to 31536000)"
    )]
    #[case::threshold(
        r#"{"exec":{"command":["true"]},"failureThreshold":0}"#,
        "failureThreshold 0 is out of range (1 to 1000000)"
    )]
    #[case::scheme(
        r#"{"httpGet":{"port":443,"scheme":"HTTPS"}}"#,
        "httpGet scheme \"HTTPS\" is not supported (only HTTP)"
    )]
    fn refusals_read_as_before(#[case] json: &str, #[case] text: &str) {
        assert_eq!(probe(json).unwrap_err(), text);
    }

    #[test]
    fn liveness_needs_success_threshold_one() {
        let p: k8s::Probe =
            serde_json::from_str(r#"{"exec":{"command":["true"]},"successThreshold":2}"#).unwrap();
        assert!(probe_from_k8s(&p, &[], true).is_err());
        assert!(probe_from_k8s(&p, &[], false).is_ok());
    }

    #[rstest]
    #[case::sleep(r#"{"sleep":{"seconds":3}}"#, Some(Handler::Sleep { seconds: 3 }))]
    #[case::exec(r#"{"exec":{"command":["sh","-c","x"]}}"#, Some(Handler::Exec { command: vec!["sh".into(), "-c".into(), "x".into()] }))]
    #[case::tcp(r#"{"tcpSocket":{"port":80}}"#, None)]
    #[case::none(r#"{}"#, None)]
    #[case::negative_sleep(r#"{"sleep":{"seconds":-5}}"#, None)]
    fn handlers(#[case] json: &str, #[case] want: Option<Handler>) {
        let h: k8s::LifecycleHandler = serde_json::from_str(json).unwrap();
        assert_eq!(handler_from_k8s(&h, &[]).ok(), want);
    }
}
