//! What `podinit status` answers, from status documents — the supervisor's live ones, or the
//! files in the state dir when the supervisor is gone; both go through here, so the two answers
//! are the same. No I/O.

use serde_json::Value;

use crate::plan::PodKey;
use crate::proto::{ContainerSummary, PodSummary};

/// One pod's document, or the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The pod asked for, or the only pod there is.
    pub status: Option<Value>,
    pub pods: Vec<PodSummary>,
}

pub fn summary(key: &PodKey, doc: &Value) -> PodSummary {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    PodSummary {
        pod: key.to_string(),
        phase: s(&doc["phase"]),
        finished: doc["finished"].as_bool().unwrap_or(false),
        containers: doc["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| ContainerSummary {
                name: s(&c["name"]),
                state: s(&c["state"]),
            })
            .collect(),
    }
}

/// `docs`: every pod known, in key order. With `want`, that pod's document (an error naming the
/// known pods when there is none); without, the list, and the document when there is exactly one
/// pod (so a one-pod sandbox sees what it always saw).
pub fn answer(docs: Vec<(PodKey, Value)>, want: Option<&PodKey>) -> Result<Answer, String> {
    let pods: Vec<PodSummary> = docs.iter().map(|(k, d)| summary(k, d)).collect();
    let status = match want {
        Some(key) => match docs.into_iter().find(|(k, _)| k == key) {
            Some((_, doc)) => Some(doc),
            None => {
                let known: Vec<&str> = pods.iter().map(|p| p.pod.as_str()).collect();
                return Err(format!(
                    "no pod {key} (known: {}); `podinit status` lists them",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        },
        None if docs.len() == 1 => docs.into_iter().next().map(|(_, d)| d),
        None => None,
    };
    Ok(Answer { status, pods })
}

/// The list for a person: one line per pod.
pub fn table(pods: &[PodSummary]) -> String {
    let mut out = format!(
        "{:<24} {:<10} {:<9} CONTAINERS\n",
        "POD", "PHASE", "FINISHED"
    );
    for p in pods {
        let containers: Vec<String> = p
            .containers
            .iter()
            .map(|c| format!("{}={}", c.name, c.state))
            .collect();
        out += &format!(
            "{:<24} {:<10} {:<9} {}\n",
            p.pod,
            p.phase,
            if p.finished { "yes" } else { "no" },
            containers.join(" ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(key: &str, phase: &str) -> (PodKey, Value) {
        (
            PodKey::parse(key).unwrap(),
            json!({"pod": key, "phase": phase, "finished": phase != "Running",
                "containers": [{"name": "app", "state": "running"}]}),
        )
    }

    #[test]
    fn one_pod_is_shown_whole() {
        let a = answer(vec![doc("default", "Running")], None).unwrap();
        assert_eq!(a.status.unwrap()["pod"], "default");
        assert_eq!(a.pods.len(), 1);
    }

    #[test]
    fn several_pods_are_listed_and_one_is_chosen_by_key() {
        let docs = vec![doc("a", "Succeeded"), doc("b", "Running")];
        let a = answer(docs.clone(), None).unwrap();
        assert_eq!(a.status, None);
        assert_eq!(
            table(&a.pods),
            "POD                      PHASE      FINISHED  CONTAINERS\n\
             a                        Succeeded  yes       app=running\n\
             b                        Running    no        app=running\n"
        );
        let b = answer(docs.clone(), Some(&PodKey::parse("b").unwrap())).unwrap();
        assert_eq!(b.status.unwrap()["phase"], "Running");
        let e = answer(docs, Some(&PodKey::parse("c").unwrap())).unwrap_err();
        assert!(e.contains("no pod c (known: a, b)"), "{e}");
    }

    #[test]
    fn no_pods() {
        let a = answer(Vec::new(), None).unwrap();
        assert_eq!((a.status, a.pods.len()), (None, 0));
    }
}
