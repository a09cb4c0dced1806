//! `Engine::check_registration`: the question the supervisor asks before it tracks or journals a
//! registration, so a refused container is never supervised under another's name.

use rstest::rstest;
use serde_json::json;

use super::*;
use crate::plan::k8s::parse_pod_spec;
use crate::plan::plans_from_pod_spec;

/// A plan of the two-app pod, as its pod spec gives it.
fn plan(name: &str) -> (ContainerPlan, PodDeclaration) {
    let spec = json!({"restartPolicy": "Never", "containers": [{"name": "a"}, {"name": "b"}]});
    let containers = plans_from_pod_spec(&parse_pod_spec(&spec.to_string()).expect("spec"))
        .expect("valid test pod");
    let mine = containers
        .iter()
        .find(|c| c.name == name)
        .expect("in the spec");
    (mine.clone(), PodDeclaration::Spec { containers })
}

fn register(e: &mut Engine, id: &str, name: &str) {
    let (plan, pod) = plan(name);
    e.handle_event(
        Duration::ZERO,
        Event::Registered {
            id: id.into(),
            plan: Box::new(plan),
            pod,
        },
    );
}

#[derive(Debug, PartialEq)]
enum Want {
    New,
    Again,
    Refused,
}

/// `history`: registrations (`id name`) and `gone NAME` before the question.
#[rstest]
#[case::empty_pod(&[], "a-2", "a", Want::New)]
#[case::declared_not_created(&["a-1 a"], "b-1", "b", Want::New)]
#[case::same_id_again(&["a-1 a"], "a-1", "a", Want::Again)]
#[case::other_id_while_alive(&["a-1 a"], "a-2", "a", Want::Refused)]
#[case::other_id_after_gone(&["a-1 a", "gone a"], "a-2", "a", Want::New)]
fn check_registration(
    #[case] history: &[&str],
    #[case] id: &str,
    #[case] name: &str,
    #[case] want: Want,
) {
    let mut e = Engine::new(Config::default());
    for h in history {
        match h.split_once(' ') {
            Some(("gone", n)) => {
                e.handle_event(Duration::ZERO, Event::Gone { name: n.into() });
            }
            Some((i, n)) => register(&mut e, i, n),
            None => unreachable!(),
        }
    }
    let before = e.status();
    let got = match e.check_registration(id, &plan(name).0) {
        Ok(Registration::New) => Want::New,
        Ok(Registration::Again) => Want::Again,
        Err(r) => {
            let msg = r.to_string();
            assert!(
                msg.contains(name) && msg.contains(id) && msg.contains("a-1"),
                "{msg}"
            );
            Want::Refused
        }
    };
    assert_eq!(got, want);
    assert_eq!(e.status(), before, "asking changed the engine");
}
