//! `Engine::check_registration`: the question the supervisor asks before it tracks or journals a
//! registration, so a refused container is never supervised under another's name.

use rstest::rstest;
use serde_json::json;

use super::*;
use crate::plan::k8s::parse_pod_spec;
use crate::plan::{declaration, plans_from_pod_spec};

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
    let _ = e.handle_event(
        Duration::ZERO,
        Event::Registered {
            id: id.into(),
            plan: Box::new(plan),
            pod_digest: Some(declaration::digest(&pod)),
            pod: Some(pod),
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
                let _ = e.handle_event(Duration::ZERO, Event::Gone { name: n.into() });
            }
            Some((i, n)) => register(&mut e, i, n),
            None => unreachable!(),
        }
    }
    let before = e.status();
    let (mine, pod) = plan(name);
    let digest = declaration::digest(&pod);
    let declares = Declares {
        digest: Some(&digest),
        brought: false,
    };
    let got = match e.check_registration(id, &mine, declares) {
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

/// The two-app pod with a third app: another declaration.
fn other_declaration() -> PodDeclaration {
    let spec = json!({"restartPolicy": "Never",
        "containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]});
    PodDeclaration::Spec {
        containers: plans_from_pod_spec(&parse_pod_spec(&spec.to_string()).expect("spec"))
            .expect("valid test pod"),
    }
}

/// The pod's declaration comes once: a registration that names it by digest is taken once the
/// pod has it, asked for when it has none, and refused when it names another one (the error
/// names the container, its id and the container that brought the pod's).
#[rstest]
#[case::first_brings_it(&[], true, false, Ok(Registration::New))]
#[case::first_names_it_only(&[], false, false, Err("not known yet"))]
#[case::later_names_it(&["a-1 a"], false, false, Ok(Registration::New))]
#[case::later_brings_it_again(&["a-1 a"], true, false, Ok(Registration::New))]
#[case::later_names_another(&["a-1 a"], false, true, Err("brought"))]
#[case::later_brings_another(&["a-1 a"], true, true, Err("brought"))]
#[case::only_older_journal(&["legacy a-1 a"], false, false, Err("not known yet"))]
#[case::older_journal_then_brought(&["legacy a-1 a"], true, false, Ok(Registration::New))]
fn the_declaration_comes_once(
    #[case] history: &[&str],
    #[case] brought: bool,
    #[case] other: bool,
    #[case] want: Result<Registration, &str>,
) {
    let mut e = Engine::new(Config::default());
    for h in history {
        match h.split(' ').collect::<Vec<_>>()[..] {
            ["legacy", id, n] => {
                let (plan, pod) = plan(n);
                let _ = e.handle_event(
                    Duration::ZERO,
                    Event::Registered {
                        id: id.into(),
                        plan: Box::new(plan),
                        pod: Some(pod),
                        pod_digest: None,
                    },
                );
            }
            [id, n] => register(&mut e, id, n),
            _ => unreachable!(),
        }
    }
    let (mine, pod) = plan("b");
    let digest = declaration::digest(&if other { other_declaration() } else { pod });
    let declares = Declares {
        digest: Some(&digest),
        brought,
    };
    let before = e.status();
    match (e.check_registration("b-1", &mine, declares), want) {
        (Ok(got), Ok(want)) => assert_eq!(got, want),
        (Err(r), Err(text)) => {
            let msg = r.to_string();
            assert!(msg.contains(text) && msg.contains("\"b\" (b-1)"), "{msg}");
            if text == "brought" {
                assert!(msg.contains(&digest) && msg.contains("\"a\""), "{msg}");
            }
        }
        (got, want) => panic!("got {got:?}, want {want:?}"),
    }
    assert_eq!(e.status(), before, "asking changed the engine");
}

/// A registration with another declaration that reaches the engine anyway (a journal written
/// by hand, or by a supervisor that did not ask) is noted and ignored: the foreign declaration
/// adds no container and changes no plan.
#[test]
fn a_foreign_declaration_is_ignored_not_merged() {
    let mut e = Engine::new(Config::default());
    register(&mut e, "a-1", "a");
    let before = e.plan("b");
    let pod = other_declaration();
    let (mine, _) = plan("b");
    let _ = e.handle_event(
        Duration::ZERO,
        Event::Registered {
            id: "b-1".into(),
            plan: Box::new(mine),
            pod_digest: Some(declaration::digest(&pod)),
            pod: Some(pod),
        },
    );
    assert_eq!(e.plan("b"), before);
    let status = e.status();
    assert!(
        status.containers.iter().all(|c| c.name != "c"),
        "{status:?}"
    );
    let b = status.containers.iter().find(|c| c.name == "b").unwrap();
    assert_eq!(b.state, ContainerState::Expected, "{b:?}");
    assert!(
        status
            .timeline
            .iter()
            .any(|t| t.kind == NoteKind::RegistrationRefused && t.container.as_deref() == Some("b")),
        "{:?}",
        status.timeline
    );
}
