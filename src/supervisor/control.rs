//! The control socket's requests (hooks and the CLI): registration — checked against the pod's
//! engine before anything is tracked or journalled —, status and stop, each for one pod or all.

use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use serde_json::Value;

use super::pod::{Member, Pod};
use super::{Supervisor, listing, start_time};
use crate::engine::{Declares, Engine, Event, Operation, Refusal, Registration};
use crate::plan::{ContainerPlan, PodDeclaration, PodKey, declaration};
use crate::proto::{self, ControlReply, ControlRequest};
use crate::signal::Signal;
use crate::sys::pidfd;
use crate::{log_debug, log_info, log_warn};

fn refused(error: String) -> ControlReply {
    ControlReply {
        ok: false,
        error: Some(error),
        status: None,
        pods: None,
        need_declaration: false,
    }
}

fn accepted() -> ControlReply {
    ControlReply {
        ok: true,
        error: None,
        status: None,
        pods: None,
        need_declaration: false,
    }
}

/// Why a registration was not taken.
pub(super) enum NotTaken {
    Refused(String),
    /// It names the pod's declaration by digest, and the pod has none yet.
    NeedDeclaration(String),
}

impl NotTaken {
    pub(super) fn message(&self) -> &str {
        match self {
            NotTaken::Refused(e) | NotTaken::NeedDeclaration(e) => e,
        }
    }
}

impl From<String> for NotTaken {
    fn from(e: String) -> Self {
        NotTaken::Refused(e)
    }
}

/// What a registration brings of its pod's declaration.
pub(super) struct Brought {
    pub(super) pod: Option<PodDeclaration>,
    pub(super) digest: String,
}

/// A registering init the caller has looked at already (a claim, `claims.rs`): its pidfd,
/// and its start time as read after the pidfd was opened.
pub(super) struct Watched {
    pub(super) pidfd: std::os::fd::OwnedFd,
    pub(super) start_time: Option<u64>,
}

/// The declaration a registration brings (rebuilt from the spec text, or as sent) and its
/// digest, checked against the one it names; or only the digest it names.
fn brought(
    name: &str,
    pod: Option<PodDeclaration>,
    pod_spec: Option<String>,
    pod_digest: Option<String>,
) -> Result<Brought, String> {
    let pod = match (pod, pod_spec) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "container {name}: a registration brings its pod declaration as pod_spec or as \
                 pod, not both"
            ));
        }
        (Some(pod), None) => Some(pod),
        (None, Some(text)) => {
            Some(declaration::from_pod_spec(name, &text).map_err(|e| e.to_string())?)
        }
        (None, None) => None,
    };
    match (pod, pod_digest) {
        (Some(pod), named) => {
            let digest = declaration::digest(&pod);
            if let Some(named) = named.filter(|n| *n != digest) {
                return Err(format!(
                    "container {name}: pod_digest {named} is not the digest of the declaration \
                     sent ({digest}); the hook and the supervisor are different podinit \
                     versions? Install one podinit for both"
                ));
            }
            Ok(Brought {
                pod: Some(pod),
                digest,
            })
        }
        (None, Some(digest)) => Ok(Brought { pod: None, digest }),
        (None, None) => Err(format!(
            "container {name}: the registration has neither a pod declaration nor its digest \
             (pod_digest)"
        )),
    }
}

impl Supervisor {
    fn reply(&mut self, token: u64, reply: ControlReply) {
        let bytes = proto::encode(&reply);
        self.send_bytes(token, &bytes);
    }

    /// The answer to a request that was carried out: sent once this loop iteration's
    /// status.json files are written ([`Supervisor::send_held_replies`]), so a client that
    /// reads status.json after its reply (a `runc create` returned, a `podinit stop`
    /// answered) sees what it asked for. One write per iteration however many requests came.
    fn hold_reply(&mut self, token: u64, reply: ControlReply) {
        self.held_replies.push((token, proto::encode(&reply)));
    }

    pub(super) fn send_held_replies(&mut self) {
        for (token, bytes) in std::mem::take(&mut self.held_replies) {
            self.send_bytes(token, &bytes);
        }
    }

    pub(super) fn on_control_line(&mut self, token: u64, line: &[u8]) {
        // The control socket is mode 0600; check the peer too, so a mistaken chmod is not a hole.
        let peer_ok = self
            .conns
            .get(&token)
            .and_then(|c| getsockopt(&c.stream, PeerCredentials).ok())
            .is_some_and(|cred| {
                let me = nix::unistd::geteuid().as_raw();
                cred.uid() == 0 || cred.uid() == me
            });
        if !peer_ok {
            self.reply(token, refused("permission denied".into()));
            self.drop_conn(token, "control peer is not root");
            return;
        }
        let req: ControlRequest = match proto::decode(line) {
            Ok(r) => r,
            Err(e) => {
                self.reply(token, refused(e.to_string()));
                self.drop_conn(token, &e.to_string());
                return;
            }
        };
        if let Err(e) = crate::ranges::control(&req) {
            self.reply(token, refused(e.to_string()));
            return;
        }
        let reply = match req {
            ControlRequest::Register {
                id,
                pid,
                bundle,
                plan,
                pod,
                pod_spec,
                pod_digest,
                pod_key,
            } => {
                let key = pod_key.unwrap_or_else(PodKey::default_pod);
                let taken = brought(&plan.name, pod, pod_spec, pod_digest)
                    .map_err(NotTaken::Refused)
                    .and_then(|b| self.register(key, id, pid, bundle, plan, b, None));
                match taken {
                    Ok(()) => accepted(),
                    Err(NotTaken::NeedDeclaration(e)) => {
                        log_debug!("supervise: {e}: asked for it");
                        ControlReply {
                            need_declaration: true,
                            ..refused(e)
                        }
                    }
                    Err(NotTaken::Refused(e)) => {
                        log_warn!("supervise: registration refused: {e}");
                        refused(e)
                    }
                }
            }
            ControlRequest::Poststart { id } => {
                log_debug!("supervise: poststart of {id}");
                accepted()
            }
            ControlRequest::Poststop { id } => {
                let member = self
                    .inits
                    .iter()
                    .find(|(_, i)| i.id == id)
                    .map(|(m, _)| m.clone());
                if let Some(member) = member {
                    self.on_init_gone(&member);
                }
                accepted()
            }
            ControlRequest::Status { pod_key } => self.status_reply(pod_key.as_ref()),
            ControlRequest::Stop {
                grace_seconds,
                pod_key,
            } => {
                let grace = grace_seconds.map(Duration::from_secs);
                match pod_key {
                    None => {
                        log_info!("supervise: stop requested: deleting every pod");
                        self.shut_down(grace);
                        accepted()
                    }
                    Some(key) if self.pods.contains_key(&key) => {
                        log_info!("supervise: stop requested for pod {key}");
                        self.feed(&key, Event::StopRequested { grace });
                        accepted()
                    }
                    Some(key) if self.layout.pod_dir(&key).exists() => {
                        log_debug!("supervise: stop of pod {key}, which has finished already");
                        accepted()
                    }
                    Some(key) => refused(format!("no pod {key}; `podinit status` lists the pods")),
                }
            }
            ControlRequest::Restart { container, pod_key } => {
                self.operate(pod_key, &container, Operation::Restart)
            }
            ControlRequest::Signal {
                container,
                signal,
                pod_key,
            } => match Signal::new(signal) {
                Some(signal) => self.operate(pod_key, &container, Operation::Signal(signal)),
                // ranges::control refused it above; kept so the conversion cannot panic.
                None => refused(format!("signal {signal} is not a signal number (1..=64)")),
            },
        };
        self.hold_reply(token, reply);
    }

    /// `podinit restart` / `podinit signal`: asked of the pod's engine first, so a refusal is
    /// the reply and nothing is journalled; then journalled and carried out as any input.
    fn operate(&mut self, key: Option<PodKey>, container: &str, op: Operation) -> ControlReply {
        let key = match key {
            Some(key) => key,
            None => {
                let live: Vec<&PodKey> = self.pods.keys().collect();
                match live.as_slice() {
                    [one] => (*one).clone(),
                    [] => return refused("no pod is running".into()),
                    _ => {
                        let keys: Vec<String> = live.iter().map(|k| k.to_string()).collect();
                        return refused(format!(
                            "{} pods run here ({}); name one with --pod",
                            keys.len(),
                            keys.join(", ")
                        ));
                    }
                }
            }
        };
        let Some(pod) = self.pods.get(&key) else {
            return if self.layout.pod_dir(&key).exists() {
                refused(format!(
                    "pod {key} has finished; nothing in it runs any more"
                ))
            } else {
                refused(format!("no pod {key}; `podinit status` lists the pods"))
            };
        };
        if let Err(why) = pod.engine.check_operation(container, op) {
            return refused(format!("pod {key}: {why}"));
        }
        let event = match op {
            Operation::Restart => Event::RestartRequested {
                name: container.to_owned(),
            },
            Operation::Signal(signal) => Event::SignalRequested {
                name: container.to_owned(),
                signal,
            },
        };
        log_info!("supervise: pod {key}: {event:?} asked on the control socket");
        self.feed(&key, event);
        accepted()
    }

    /// Every pod known: the live ones, and the finished ones whose files are behind (full or
    /// read-only state dir), from their engines; the other finished ones from their files.
    fn status_docs(&self) -> Vec<(PodKey, Value)> {
        let mut docs: Vec<(PodKey, Value)> = self
            .pods
            .values()
            .chain(&self.retiring)
            .map(|p| (p.key.clone(), p.status_doc(self.clock)))
            .collect();
        for key in self.layout.pod_keys() {
            if !docs.iter().any(|(k, _)| *k == key) {
                match self.layout.read_status(&key) {
                    Ok(doc) => docs.push((key, doc)),
                    Err(e) => {
                        if let Some(doc) = self.rewrite_status(&key, &e) {
                            docs.push((key, doc));
                        }
                    }
                }
            }
        }
        docs.sort_by(|a, b| a.0.cmp(&b.0));
        docs
    }

    /// A finished pod's status.json that cannot be read (garbage, removed): rebuilt from its
    /// journal, which holds every input that made it.
    fn rewrite_status(&self, key: &PodKey, unreadable: &str) -> Option<Value> {
        log_warn!("supervise: {unreadable}; rebuilding it from the pod's journal");
        let dir = self.layout.pod_dir(key);
        if let Err(e) = Pod::resume(dir, key.clone(), self.cfg.clone(), self.clock) {
            log_warn!("supervise: pod {key}: cannot replay its journal: {e}");
        }
        self.layout.read_status(key).ok()
    }

    fn status_reply(&self, want: Option<&PodKey>) -> ControlReply {
        let docs = self.status_docs();
        let none_yet = docs.is_empty() && want.is_none();
        match listing::answer(docs, want) {
            Ok(answer) => ControlReply {
                ok: true,
                error: None,
                // Before any registration, the empty pod a one-pod supervisor always showed.
                status: answer.status.or_else(|| {
                    none_yet.then(|| {
                        super::status_file::to_json(
                            &Engine::new(self.cfg.clone()).status(),
                            self.clock,
                        )
                    })
                }),
                pods: Some(answer.pods),
                need_declaration: false,
            },
            Err(e) => refused(e),
        }
    }

    /// A container was created: take it into its pod, or refuse in the reply (the hook then
    /// fails the runtime's create with the reason) before anything is tracked or journalled.
    /// `watched`: the init's pidfd and start time, when the caller has them (a claim).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn register(
        &mut self,
        key: PodKey,
        id: String,
        pid: i32,
        bundle: String,
        plan: Box<ContainerPlan>,
        declared: Brought,
        watched: Option<Watched>,
    ) -> Result<(), NotTaken> {
        let member = Member {
            pod: key.clone(),
            name: plan.name.clone(),
        };
        if let Some(existing) = self.inits.get(&member) {
            if existing.id == id && existing.pid == pid {
                return Ok(()); // the hook ran twice
            }
        }
        if self.shutting_down {
            return Err(NotTaken::Refused(format!(
                "container {} ({id}) of pod {key}: the supervisor is deleting every pod and \
                 shutting down; start a new supervisor and create the container again",
                plan.name
            )));
        }
        if pid <= 0 {
            return Err(NotTaken::Refused(format!(
                "container {} ({id}) of pod {key}: the runtime gave no init pid; cannot supervise it",
                plan.name
            )));
        }
        let declares = Declares {
            digest: Some(&declared.digest),
            brought: declared.pod.is_some(),
        };
        self.check_registration(&member, &id, &plan, declares)?;
        let (fd, started) = match watched {
            Some(w) => (w.pidfd, w.start_time),
            None => {
                let fd = pidfd::open(pid).map_err(|e| {
                    format!(
                        "container {} ({id}) of pod {key}: cannot watch init pid {pid}: {e}",
                        plan.name
                    )
                })?;
                (fd, start_time(pid))
            }
        };
        let pod = self.pod_for(&key)?;
        pod.flush_journal();
        if let Some(why) = pod.journal_backlog().map(str::to_owned) {
            // Admitted unjournalled, a restarted supervisor would not know this container.
            return Err(NotTaken::Refused(format!(
                "container {} ({id}) of pod {key}: its registration cannot be journalled: \
                 {why}; then create the container again",
                plan.name
            )));
        }
        pod.record_init(&member.name, &id, pid, bundle, started);
        self.track_init(member, id.clone(), pid, Some(fd));
        self.feed(
            &key,
            Event::Registered {
                id,
                plan,
                pod: declared.pod,
                pod_digest: Some(declared.digest),
            },
        );
        Ok(())
    }

    /// The pod engine's word on a registration. A container of the same name that is still
    /// alive refuses it — unless its init has in fact exited and only the pidfd event is still
    /// queued (a stop-then-recreate in one breath): that is handled first, then asked again.
    fn check_registration(
        &mut self,
        member: &Member,
        id: &str,
        plan: &ContainerPlan,
        declares: Declares<'_>,
    ) -> Result<(), NotTaken> {
        let ask = |s: &Self| match s.pods.get(&member.pod) {
            None if !declares.brought => Err(Refusal::NoDeclaration {
                name: plan.name.clone(),
                id: id.to_owned(),
            }),
            None => Ok(Registration::New),
            Some(pod) => pod.engine.check_registration(id, plan, declares),
        };
        let refusal = match ask(self) {
            Ok(_) => return Ok(()),
            Err(r @ Refusal::NoDeclaration { .. }) => {
                return Err(NotTaken::NeedDeclaration(format!(
                    "pod {}: {r}",
                    member.pod
                )));
            }
            Err(r) => r,
        };
        let exited = self
            .inits
            .get(member)
            .is_some_and(|i| i.pidfd.as_ref().is_none_or(pidfd::has_exited));
        if exited {
            self.on_init_gone(member);
            if ask(self).is_ok() {
                return Ok(());
            }
        }
        Err(NotTaken::Refused(format!("pod {}: {refusal}", member.pod)))
    }

    /// The live pod of `key`, or a fresh one. A finished pod of that key (a default pod that ran
    /// before, a sandbox id reused) is archived first: it is never replayed onto the new one.
    fn pod_for(&mut self, key: &PodKey) -> Result<&mut Pod, String> {
        if !self.pods.contains_key(key) {
            let dir = self.layout.pod_dir(key);
            if dir.exists() {
                match self.layout.archive(key) {
                    Ok(to) => log_info!(
                        "supervise: pod {key} registers again; the finished one moved to {}",
                        to.display()
                    ),
                    Err(e) => {
                        return Err(format!(
                            "pod {key}: cannot move the finished pod's {} aside: {e}",
                            dir.display()
                        ));
                    }
                }
            }
            let pod = Pod::create(dir.clone(), key.clone(), self.cfg.clone())
                .map_err(|e| format!("pod {key}: cannot create {}: {e}", dir.display()))?;
            log_info!("supervise: pod {key}: new, in {}", pod.dir().display());
            self.pods.insert(key.clone(), pod);
            if let Some(p) = self.pods.get_mut(key) {
                p.write_status(self.clock);
            }
            if let Err(e) = self.layout.link_status(key) {
                log_warn!(
                    "supervise: cannot point {} at pod {key}: {e}",
                    self.layout.status_link().display()
                );
            }
            self.layout
                .prune(super::MAX_FINISHED_PODS, &|k| self.pods.contains_key(k));
        }
        self.pods
            .get_mut(key)
            .ok_or_else(|| format!("pod {key}: not created"))
    }
}
