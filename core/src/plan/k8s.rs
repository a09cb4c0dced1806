//! The parts of Kubernetes core/v1 that podinit reads: a `PodSpec` subset, `Probe` and
//! `LifecycleHandler`. Unknown fields are ignored (the agent's spec carries far more than we need);
//! wrong types are errors that name the JSON path, so the caller can say which annotation was bad.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub init_containers: Vec<Container>,
    #[serde(default)]
    pub containers: Vec<Container>,
    pub restart_policy: Option<String>,
    pub termination_grace_period_seconds: Option<i64>,
    pub active_deadline_seconds: Option<i64>,
    /// `metadata.annotations` when the annotation held a whole Pod (vendor pod annotations
    /// such as BCI's live there).
    #[serde(skip)]
    pub pod_annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub restart_policy: Option<String>,
    /// KEP-5307 (`restart.rs` validates them as the API server does).
    pub restart_policy_rules: Option<Vec<ContainerRestartRule>>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
    pub startup_probe: Option<Probe>,
    pub readiness_probe: Option<Probe>,
    pub liveness_probe: Option<Probe>,
    pub lifecycle: Option<Lifecycle>,
    pub termination_message_path: Option<String>,
    pub termination_message_policy: Option<String>,
}

/// `ContainerRestartRule`: the fields are optional here so a missing one is the API server's
/// `Required value` error, not a JSON error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRestartRule {
    pub action: Option<String>,
    pub exit_codes: Option<RestartRuleOnExitCodes>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RestartRuleOnExitCodes {
    pub operator: Option<String>,
    /// Wider than the API's int32 so an out-of-range value is named, not a decode error.
    #[serde(default)]
    pub values: Vec<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EnvVar {
    pub name: String,
    /// `valueFrom` (secrets, field refs) cannot be resolved here; such vars are skipped.
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: Option<String>,
    pub container_port: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    pub post_start: Option<LifecycleHandler>,
    pub pre_stop: Option<LifecycleHandler>,
    /// Kubernetes 1.33 `ContainerStopSignals`.
    pub stop_signal: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub exec: Option<ExecAction>,
    pub http_get: Option<HttpGetAction>,
    pub tcp_socket: Option<TcpSocketAction>,
    pub grpc: Option<Value>,
    pub initial_delay_seconds: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub period_seconds: Option<i64>,
    pub success_threshold: Option<i64>,
    pub failure_threshold: Option<i64>,
    pub termination_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleHandler {
    pub exec: Option<ExecAction>,
    pub http_get: Option<HttpGetAction>,
    pub tcp_socket: Option<TcpSocketAction>,
    pub sleep: Option<SleepAction>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExecAction {
    #[serde(default)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpGetAction {
    pub path: Option<String>,
    pub port: IntOrString,
    pub host: Option<String>,
    pub scheme: Option<String>,
    #[serde(default)]
    pub http_headers: Vec<HttpHeader>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TcpSocketAction {
    pub port: IntOrString,
    pub host: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SleepAction {
    pub seconds: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    String(String),
}

/// Accepts a bare PodSpec or a whole Pod object (`kind: Pod`, or anything with a `spec`), because
/// agents and `podinit run` hold one or the other.
pub fn parse_pod_spec(text: &str) -> Result<PodSpec, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let (spec, annotations) = match value.get("spec") {
        Some(spec) if value.get("containers").is_none() => (
            spec.clone(),
            value.pointer("/metadata/annotations").cloned(),
        ),
        _ => (value, None),
    };
    let mut parsed: PodSpec =
        serde_json::from_value(spec).map_err(|e| format!("not a Kubernetes PodSpec: {e}"))?;
    if let Some(a) = annotations.filter(|a| !a.is_null()) {
        parsed.pod_annotations = serde_json::from_value(a)
            .map_err(|e| format!("metadata.annotations is not a map of strings: {e}"))?;
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_and_bare_spec_are_both_accepted() {
        let bare = r#"{"containers":[{"name":"app"}]}"#;
        let pod = r#"{"kind":"Pod","spec":{"containers":[{"name":"app"}]}}"#;
        assert_eq!(parse_pod_spec(bare).unwrap().containers[0].name, "app");
        assert_eq!(parse_pod_spec(pod).unwrap().containers[0].name, "app");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = parse_pod_spec(r#"{"containers":"app"}"#).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
        let err = parse_pod_spec(
            r#"{"containers":[{"name":"a","readinessProbe":{"periodSeconds":"x"}}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
    }
}
