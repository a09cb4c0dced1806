//! A container's init claims the registration `inject --no-hooks` left for it (`claim.rs` has
//! the rules and why): the pending claim is read from `<state-dir>/claims/NONCE.json`, the peer
//! is looked at through `/proc` (world-readable files only: the supervisor keeps CAP_KILL and
//! nothing else) with its pidfd already open, so a pid reused meanwhile is noticed, and the
//! claim file is removed once the container is registered: it serves once (its own init,
//! reconnecting after a lost link, is welcomed as a hello). The bundle's claim directory goes
//! too, before the app can start.

use std::os::fd::OwnedFd;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use super::{Supervisor, start_time};
use crate::claim::{self, Peer, PendingClaim};
use crate::plan::{PodDeclaration, declaration};
use crate::proto::{self, SupervisorMessage};
use crate::sys::{pidfd, procfs};
use crate::{log_info, log_warn};

/// One clock tick of `/proc/PID/stat`'s start time, in ns.
fn tick_ns() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(hz)) if hz > 0 => 1_000_000_000 / hz as u64,
        _ => 10_000_000,
    }
}

impl Supervisor {
    /// The first line of an init connection was a claim: register its container and welcome
    /// it, or say why not and close.
    pub(super) fn claim(&mut self, token: u64, nonce: &str, secret: &str) {
        match self.try_claim(token, nonce, secret) {
            Ok(()) => {}
            Err(why) => {
                log_warn!("supervise: claim {nonce} refused: {why}");
                let refused = SupervisorMessage::Refused { error: why.clone() };
                self.send_bytes(token, &proto::encode(&refused));
                self.drop_conn(token, &format!("claim refused: {why}"));
            }
        }
    }

    fn try_claim(&mut self, token: u64, nonce: &str, secret: &str) -> Result<(), String> {
        let path = claim::claim_file(self.layout.root(), nonce)
            .filter(|_| claim::is_hex(secret, claim::TOKEN_HEX))
            .ok_or("a malformed claim (a nonce and a token are lowercase hex)")?;
        // The peer, asked once: a re-claim is told by it, and a first claim is bound to it.
        let conn = self.conns.get(&token).ok_or("the connection is gone")?;
        let cred = getsockopt(&conn.stream, PeerCredentials)
            .map_err(|e| format!("no peer credentials: {e}"))?;
        let pid = cred.pid();
        if self.reclaimed(token, pid, nonce, &path) {
            return Ok(());
        }
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "no pending registration {nonce}: a claim serves once (this one was used \
                     already, or inject wrote it to another state dir than {})",
                    self.layout.root().display()
                ));
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let not_a_claim =
            |e: serde_json::Error| format!("{}: not a pending claim: {e}", path.display());
        let claim::Decoded {
            claim: pending,
            pod: declaration,
        } = claim::decode(&text).map_err(not_a_claim)?;
        if !claim::tokens_equal(&pending.token, secret) {
            return Err(format!(
                "the token does not match pending registration {nonce}"
            ));
        }
        let fd: OwnedFd =
            pidfd::open(pid).map_err(|e| format!("cannot watch the claiming pid {pid}: {e}"))?;
        let read = |file: &str| procfs::read(format!("/proc/{pid}/{file}"));
        let started = start_time(pid);
        let peer = Peer {
            uid: cred.uid(),
            ns_pids: read("status")
                .map(|s| claim::ns_pids(&s))
                .unwrap_or_default(),
            start_ns: started.map(|t| t.saturating_mul(tick_ns())),
            claim_mount_root: read("mountinfo")
                .ok()
                .and_then(|m| claim::mount_root(&m, proto::CONTAINER_CLAIM_DIR)),
            registered: self
                .inits
                .values()
                .any(|i| i.pid == pid && i.pidfd.is_some()),
        };
        // Read after the pidfd was opened: had the pid been reused, the pidfd would show the
        // first process gone.
        if pidfd::has_exited(&fd) {
            return Err(format!("the claiming pid {pid} exited"));
        }
        let who = format!("container {} ({})", pending.plan.name, pending.id);
        claim::check(&pending, nonce, &peer, tick_ns()).map_err(|r| {
            log_warn!(
                "supervise: {who}: a valid token came from pid {pid}, which is not its init; \
                 the token may have leaked"
            );
            format!("{who}: {r}")
        })?;
        let dir = claim_dir(&pending, nonce);
        let PendingClaim {
            id,
            bundle,
            plan,
            pod_digest,
            pod_key,
            ..
        } = pending;
        let key = pod_key.clone();
        // Every claim file carries its pod's declaration (inject wrote it whole, with its
        // digest). The pod takes, and journals, it once: a claim whose digest the pod has
        // already is registered by the digest, its declaration never read, so a claim costs
        // the same in a pod of 64 containers as in a pod of one. Otherwise (the pod's first
        // claim, a claim of an older inject without the digest, a declaration not the pod's)
        // it is parsed and digested here, and the engine decides.
        let ours = self
            .pods
            .get(&key)
            .and_then(|p| p.engine.declaration_digest())
            .map(str::to_owned);
        let declared = match pod_digest {
            Some(digest) if Some(&digest) == ours.as_ref() => {
                super::control::Brought { pod: None, digest }
            }
            _ => {
                let pod: PodDeclaration = declaration.parse().map_err(not_a_claim)?;
                let digest = declaration::digest(&pod);
                let known = Some(&digest) == ours.as_ref();
                super::control::Brought {
                    pod: (!known).then_some(pod),
                    digest,
                }
            }
        };
        let watched = super::control::Watched {
            pidfd: fd,
            start_time: started,
        };
        self.register(pod_key, id, pid, bundle, plan, declared, Some(watched))
            .map_err(|e| format!("registration refused: {}", e.message()))?;
        log_info!("supervise: {who} of pod {key} claimed by its init (pid {pid})");
        // The welcome (and the release, when the gate is open) first: the app's start waits
        // for it, not for the clean-up. Used up in the same turn of the loop, so no other
        // claim is read in between; a supervisor killed before it leaves both for
        // [`Self::reclaimed`] (registered and journalled already), and no registration is
        // lost. The init's mount of the directory is what `check` looks for, so it goes only
        // now.
        self.welcome(token, pid);
        used_up(&who, &dir, &path);
        Ok(())
    }

    /// A claim from a process that is already the init of a registered container: its claim
    /// was taken, but the welcome was lost with the link (a supervisor killed in between; the
    /// init presents its claim until welcomed). If its pending claim is gone, or still there
    /// (killed between the journal and the removal) for this very container, it is a hello:
    /// it acts for no container but its own, as any hello from its pid would. A pending claim
    /// of another container is no hello: `check` refuses it ([`Refusal::AlreadyRegistered`]).
    fn reclaimed(&mut self, token: u64, pid: i32, nonce: &str, path: &std::path::Path) -> bool {
        let Some((member, id)) = self
            .inits
            .iter()
            .find(|(_, i)| i.pid == pid && i.pidfd.is_some())
            .map(|(m, i)| (m.clone(), i.id.clone()))
        else {
            return false;
        };
        match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Ok(text) => match claim::decode(&text).map(|d| d.claim) {
                Ok(p) if p.id == id && p.pod_key == member.pod => {
                    let who = format!("container {} ({id})", member.name);
                    used_up(&who, &claim_dir(&p, nonce), path);
                }
                _ => return false,
            },
            Err(_) => return false,
        }
        log_info!(
            "supervise: container {} ({id}) of pod {}: its init (pid {pid}) claimed again after \
             a lost link; it is registered already",
            member.name,
            member.pod
        );
        self.welcome(token, pid);
        true
    }

    /// A finished pod's registrations no init claimed (a container whose create failed, or
    /// that was created and never started: no hook ever tells the supervisor about it) are
    /// removed with their claim directories, so the state dir does not keep them for ever. A
    /// claim of another pod, or that cannot be read, is left alone.
    pub(super) fn drop_unclaimed(&self, key: &crate::plan::PodKey) {
        let dir = claim::claims_dir(self.layout.root());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for path in entries.flatten().map(|e| e.path()) {
            let Some(pending) = std::fs::read(&path)
                .ok()
                .and_then(|t| claim::decode(&t).ok().map(|d| d.claim))
            else {
                continue;
            };
            if pending.pod_key != *key {
                continue;
            }
            let nonce = path
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Err(e) = std::fs::remove_file(&path) {
                log_warn!(
                    "supervise: pod {key}: cannot remove {}: {e}",
                    path.display()
                );
                continue;
            }
            let bundle_dir =
                std::path::Path::new(&pending.bundle).join(format!("{}{nonce}", claim::DIR_PREFIX));
            let _ = std::fs::remove_dir_all(&bundle_dir);
            log_info!(
                "supervise: pod {key} finished: container {} ({}) never claimed its registration; removed",
                pending.plan.name,
                pending.id
            );
        }
    }
}

/// `BUNDLE/podinit-claim-NONCE`, the directory mounted at the container's `/.podinit/claim`.
fn claim_dir(pending: &PendingClaim, nonce: &str) -> std::path::PathBuf {
    std::path::Path::new(&pending.bundle).join(format!("{}{nonce}", claim::DIR_PREFIX))
}

/// A claim taken: the bundle's claim directory goes (the init emptied it; its mount in the
/// container then shows a deleted directory, where the app can create nothing, though the
/// directory is the container user's), then the pending claim, so it serves once.
fn used_up(who: &str, dir: &std::path::Path, file: &std::path::Path) {
    if let Err(e) = std::fs::remove_dir(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            log_warn!("supervise: {who}: cannot remove {}: {e}", dir.display());
        }
    }
    if let Err(e) = std::fs::remove_file(file) {
        log_warn!(
            "supervise: {who}: cannot use up the claim {}: {e}; only its init can present it again",
            file.display()
        );
    }
}
