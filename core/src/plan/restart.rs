//! Kubernetes 1.35 container restart rules (KEP-5307, `ContainerRestartRules`, beta and on by
//! default): a container-level `restartPolicy` that overrides the pod's, and
//! `restartPolicyRules` evaluated in order on each exit, the first match deciding.
//!
//! Validation is the API server's (`validateContainerRestartPolicy` and
//! `validateInitContainerRestartPolicy` in `pkg/apis/core/validation`), with its messages, so a
//! pod podinit accepts is one the API server accepts and the other way round. The decision is
//! the kubelet's `ContainerShouldRestart` (`pkg/api/v1/pod`). Pure data: no I/O.

use serde::{Deserialize, Serialize};

use super::RestartPolicy;
use super::k8s;

/// At most this many rules per container (API server).
pub const MAX_RULES: usize = 20;
/// At most this many exit codes per rule (API server).
pub const MAX_EXIT_CODES: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitCodeOperator {
    In,
    NotIn,
}

/// One `restartPolicyRules` entry. `Restart` is the only action the API server accepts without
/// the alpha `RestartAllContainersOnContainerExits` gate, so it is implied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestartRule {
    pub operator: ExitCodeOperator,
    pub values: Vec<i32>,
}

impl RestartRule {
    pub fn matches(&self, code: i32) -> bool {
        let listed = self.values.contains(&code);
        match self.operator {
            ExitCodeOperator::In => listed,
            ExitCodeOperator::NotIn => !listed,
        }
    }

    /// `exit code In [42, 88]`, for explain and the timeline.
    pub fn describe(&self) -> String {
        let values: Vec<String> = self.values.iter().map(i32::to_string).collect();
        format!(
            "Restart if the exit code is {} [{}]",
            match self.operator {
                ExitCodeOperator::In => "In",
                ExitCodeOperator::NotIn => "NotIn",
            },
            values.join(", ")
        )
    }
}

/// What the restart policy and rules say about one exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub restart: bool,
    /// The rule that decided (its index), or `None` when the policy did.
    pub rule: Option<usize>,
}

/// The kubelet's `ContainerShouldRestart`: the rules in order, the first match wins (its action
/// is Restart); else the policy (the container's own, or the pod's).
pub fn decide(policy: RestartPolicy, rules: &[RestartRule], code: i32) -> Verdict {
    if let Some(i) = rules.iter().position(|r| r.matches(code)) {
        return Verdict {
            restart: true,
            rule: Some(i),
        };
    }
    let restart = match policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => code != 0,
        RestartPolicy::Never => false,
    };
    Verdict {
        restart,
        rule: None,
    }
}

impl super::ContainerPlan {
    /// Whether an exit with `code` restarts this container (its rules, then its policy).
    pub fn restart_verdict(&self, code: i32) -> Verdict {
        decide(self.restart, &self.restart_rules, code)
    }
}

/// A container's own `restartPolicy` and `restartPolicyRules`, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerRestart {
    /// `None`: the container has no policy of its own (the pod's applies).
    pub policy: Option<RestartPolicy>,
    pub rules: Vec<RestartRule>,
}

/// An API server validation error (`field.Error`): the field path
/// (`spec.containers[0].restartPolicy`), its type and detail; it displays as the API server
/// words it (`Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub kind: FieldErrorType,
    pub detail: String,
}

/// The API server's `field.ErrorType`s that these rules produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorType {
    Required,
    NotSupported,
    Forbidden,
    TooMany,
    Invalid,
}

impl FieldErrorType {
    /// The API server's words for it (`field.ErrorType.String()`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldErrorType::Required => "Required value",
            FieldErrorType::NotSupported => "Unsupported value",
            FieldErrorType::Forbidden => "Forbidden",
            FieldErrorType::TooMany => "Too many",
            FieldErrorType::Invalid => "Invalid value",
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.detail)
    }
}

fn field_err(path: String, kind: FieldErrorType, detail: impl Into<String>) -> FieldError {
    FieldError {
        path,
        kind,
        detail: detail.into(),
    }
}

/// Validate `c`'s restart fields as the API server does. `base` is its field path
/// (`spec.initContainers[1]`); `init` says it is an `initContainers` entry.
pub fn validate(
    c: &k8s::Container,
    base: &str,
    init: bool,
) -> Result<ContainerRestart, FieldError> {
    let rules_raw = c.restart_policy_rules.as_deref().unwrap_or(&[]);
    let policy_path = format!("{base}.restartPolicy");
    let Some(raw_policy) = c.restart_policy.as_deref() else {
        if !rules_raw.is_empty() {
            return Err(field_err(
                policy_path,
                FieldErrorType::Required,
                "must specify restartPolicy when restart rules are used",
            ));
        }
        return Ok(ContainerRestart::default());
    };
    let policy = RestartPolicy::parse(raw_policy).ok_or_else(|| {
        field_err(
            policy_path.clone(),
            FieldErrorType::NotSupported,
            format!("{raw_policy:?}: supported values: \"Always\", \"Never\", \"OnFailure\""),
        )
    })?;
    if init && policy == RestartPolicy::Always && !rules_raw.is_empty() {
        return Err(field_err(
            format!("{base}.restartPolicyRules"),
            FieldErrorType::Forbidden,
            "restartPolicyRules are not allowed for init containers with restart policy Always",
        ));
    }
    if rules_raw.len() > MAX_RULES {
        return Err(field_err(
            format!("{base}.restartPolicyRules"),
            FieldErrorType::TooMany,
            format!("{}: must have at most {MAX_RULES} items", rules_raw.len()),
        ));
    }
    let mut rules = Vec::with_capacity(rules_raw.len());
    for (i, r) in rules_raw.iter().enumerate() {
        let at = format!("{base}.restartPolicyRules[{i}]");
        match r.action.as_deref() {
            Some("Restart") => {}
            other => {
                return Err(field_err(
                    format!("{at}.action"),
                    FieldErrorType::NotSupported,
                    format!("{:?}: supported values: \"Restart\"", other.unwrap_or("")),
                ));
            }
        }
        let Some(ec) = &r.exit_codes else {
            return Err(field_err(
                format!("{at}.exitCodes"),
                FieldErrorType::Required,
                "must be specified",
            ));
        };
        let operator = match ec.operator.as_deref() {
            Some("In") => ExitCodeOperator::In,
            Some("NotIn") => ExitCodeOperator::NotIn,
            other => {
                return Err(field_err(
                    format!("{at}.exitCodes.operator"),
                    FieldErrorType::NotSupported,
                    format!(
                        "{:?}: supported values: \"In\", \"NotIn\"",
                        other.unwrap_or("")
                    ),
                ));
            }
        };
        if ec.values.len() > MAX_EXIT_CODES {
            return Err(field_err(
                format!("{at}.exitCodes.values"),
                FieldErrorType::TooMany,
                format!(
                    "{}: must have at most {MAX_EXIT_CODES} items",
                    ec.values.len()
                ),
            ));
        }
        // The API's type is []int32: anything wider never decodes on the API server. Duplicates
        // and identical rules are accepted there (KEP-5307: "Identical rules are not
        // forbidden"), so they are here.
        let mut values = Vec::with_capacity(ec.values.len());
        for (j, v) in ec.values.iter().enumerate() {
            let v = i32::try_from(*v).map_err(|_| {
                field_err(
                    format!("{at}.exitCodes.values[{j}]"),
                    FieldErrorType::Invalid,
                    format!("{v}: must be a 32-bit integer (the API's int32)"),
                )
            })?;
            values.push(v);
        }
        rules.push(RestartRule { operator, values });
    }
    Ok(ContainerRestart {
        policy: Some(policy),
        rules,
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn rule(operator: ExitCodeOperator, values: &[i32]) -> RestartRule {
        RestartRule {
            operator,
            values: values.to_vec(),
        }
    }

    use ExitCodeOperator::{In, NotIn};
    use RestartPolicy::{Always, Never, OnFailure};

    // One case per rule of ContainerShouldRestart (and the KEP's examples).
    #[rstest]
    #[case::in_matches_restarts(Never, vec![rule(In, &[42])], 42, true, Some(0))]
    #[case::in_misses_falls_back_to_never(Never, vec![rule(In, &[42])], 1, false, None)]
    #[case::not_in_matches_restarts(Never, vec![rule(NotIn, &[0])], 3, true, Some(0))]
    #[case::not_in_listed_falls_back(Never, vec![rule(NotIn, &[0])], 0, false, None)]
    #[case::first_match_wins(Never, vec![rule(In, &[1, 2]), rule(In, &[2])], 2, true, Some(0))]
    #[case::second_rule_when_first_misses(Never, vec![rule(In, &[1]), rule(NotIn, &[0, 1])], 7, true, Some(1))]
    #[case::no_rules_on_failure_restarts_failure(OnFailure, vec![], 1, true, None)]
    #[case::no_rules_on_failure_keeps_success(OnFailure, vec![], 0, false, None)]
    #[case::always_restarts_success(Always, vec![], 0, true, None)]
    #[case::rule_on_zero_restarts_success(OnFailure, vec![rule(In, &[0])], 0, true, Some(0))]
    #[case::empty_not_in_matches_everything(Never, vec![rule(NotIn, &[])], 0, true, Some(0))]
    #[case::empty_in_matches_nothing(Never, vec![rule(In, &[])], 0, false, None)]
    #[case::signal_death_code(Never, vec![rule(In, &[137])], 137, true, Some(0))]
    fn decision(
        #[case] policy: RestartPolicy,
        #[case] rules: Vec<RestartRule>,
        #[case] code: i32,
        #[case] restart: bool,
        #[case] by: Option<usize>,
    ) {
        assert_eq!(decide(policy, &rules, code), Verdict { restart, rule: by });
    }
}
