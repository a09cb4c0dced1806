//! Registration without OCI hooks (`podinit inject --no-hooks`, issue 13): a createRuntime hook
//! costs `runc create` ~5 ms of fork/exec/wait, so `inject` writes the registration the hook
//! would send as a **pending claim** in the supervisor's state dir, and the container's init,
//! once it runs as PID 1 of the container, claims it over the containers' socket. The supervisor
//! then follows the init through the pidfd it opens for the claiming peer, which also ends the
//! container when the init exits (what poststop did).
//!
//! What makes a claim safe (a container must not be able to act as another one, issue 15):
//! - **unguessable and one-shot**: a 256-bit token from getrandom(2), compared in constant time;
//!   the pending claim file is removed when a claim succeeds, so a replay finds nothing;
//! - **only the container sees it**: the token is in `BUNDLE/podinit-claim-NONCE/token`, bind
//!   mounted at [`crate::proto::CONTAINER_CLAIM_DIR`] into that container alone (0700, its
//!   user's); its init reads it and unlinks it before the app exists, and keeps it in a
//!   non-dumpable process. It is never in `process.env` (CRI exec would hand it on) nor in
//!   `config.json`;
//! - **bound to the container** ([`check`]): the peer (`SO_PEERCRED`) must run as the
//!   container's user, be PID 1 of a pid namespace of its own (`NSpid` in `/proc/PID/status`),
//!   have started after `inject` wrote the claim, not be any registered container's init, and
//!   its mount table must show *this* claim's directory at `/.podinit/claim` (the runtime built
//!   that mount namespace from this bundle's config). A token copied into another container
//!   fails the last rule.
//!
//! What the token file may add is not a right: `start-at-once` ([`Token::start_at_once`]) lets
//! the init start its app while the supervisor takes the claim, where the pod's declaration
//! opens the container's gate anyway; it orders only the container's own start.
//!
//! The checks are pure (this file); `src/supervisor/claims.rs` reads `/proc` and the state dir.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::{ContainerPlan, PodDeclaration, PodKey};

/// The bundle's claim directory is `podinit-claim-NONCE` (the nonce names the pending claim; it
/// is not secret).
pub const DIR_PREFIX: &str = "podinit-claim-";
pub const TOKEN_FILE: &str = "token";
/// Hex digits of a nonce (64 bits) and of a token (256 bits).
pub const NONCE_HEX: usize = 16;
pub const TOKEN_HEX: usize = 64;

/// What `inject` leaves for the supervisor: the hook's registration without a pid, and what
/// the claiming peer must match. Its pod's declaration is not in it: [`encode`] writes the
/// declaration on the file's second line, which the supervisor reads only for the claim that
/// brings it to its pod (`supervisor/claims.rs`), so a claim costs the same whatever the pod's
/// size (in the claim, even unparsed, serde scanned the whole declaration: ~58 kB and ~120 µs
/// of every claim in a pod of 64 containers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingClaim {
    pub id: String,
    pub bundle: String,
    pub plan: Box<ContainerPlan>,
    /// `plan::declaration::digest` of the pod's declaration; absent in the claims of an older
    /// `inject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_digest: Option<String>,
    pub pod_key: PodKey,
    pub token: String,
    /// The host uid the container's process runs as (after the user namespace's mapping).
    pub uid: u32,
    /// CLOCK_BOOTTIME when `inject` wrote the claim, in ns.
    pub created_ns: u64,
}

/// A pending claim's file: the claim on one line, its pod's declaration on the next (compact
/// JSON has no raw newline, so the first one ends the claim).
pub fn encode(claim: &PendingClaim, pod: &PodDeclaration) -> Vec<u8> {
    // Invariant: a claim holds strings, numbers and plans, a declaration JSON values: both
    // serialize.
    let mut out = serde_json::to_vec(claim).expect("a pending claim serializes");
    out.push(b'\n');
    serde_json::to_writer(&mut out, pod).expect("a pod declaration serializes");
    out.push(b'\n');
    out
}

/// A claim file read by [`decode`]: the claim, and its pod's declaration still text.
pub struct Decoded<'a> {
    pub claim: PendingClaim,
    pub pod: Declaration<'a>,
}

/// Where a claim file's declaration is.
pub enum Declaration<'a> {
    /// The file's second line.
    Line(&'a [u8]),
    /// The claim's own `pod` field: one line, as an older `inject` wrote it.
    Inline(&'a [u8]),
}

impl Declaration<'_> {
    pub fn parse(&self) -> Result<PodDeclaration, serde_json::Error> {
        #[derive(Deserialize)]
        struct Inline {
            pod: PodDeclaration,
        }
        match self {
            Declaration::Line(text) => serde_json::from_slice(text),
            Declaration::Inline(text) => serde_json::from_slice::<Inline>(text).map(|i| i.pod),
        }
    }
}

/// The claim of a claim file; its declaration is only located.
pub fn decode(text: &[u8]) -> Result<Decoded<'_>, serde_json::Error> {
    let (head, rest) = match text.iter().position(|b| *b == b'\n') {
        Some(n) => (&text[..n], &text[n + 1..]),
        None => (text, &[][..]),
    };
    let claim = serde_json::from_slice(head)?;
    let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
    let pod = if rest.is_empty() {
        Declaration::Inline(head)
    } else {
        Declaration::Line(rest)
    };
    Ok(Decoded { claim, pod })
}

/// `<state-dir>/claims/`: root's, 0700, never mounted into a container.
pub fn claims_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("claims")
}

/// `None` for a nonce that is not [`NONCE_HEX`] lowercase hex digits (it becomes a file name).
pub fn claim_file(state_dir: &Path, nonce: &str) -> Option<PathBuf> {
    is_hex(nonce, NONCE_HEX).then(|| claims_dir(state_dir).join(format!("{nonce}.json")))
}

pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `len` random bytes as lowercase hex, from getrandom(2) (blocking until the pool is ready).
pub fn random_hex(len: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`, which we own.
        let n = unsafe {
            libc::getrandom(
                buf[filled..].as_mut_ptr().cast::<libc::c_void>(),
                len - filled,
                0,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        filled += n as usize;
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Equal without an early exit, so the time taken says nothing of where a guess went wrong.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// What the container's init reads in its claim directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub nonce: String,
    pub token: String,
    /// The app may start before the claim is answered: the pod's declaration opens its gate
    /// the moment it registers (`engine::opens_on_arrival`) and it needs nothing of its plan
    /// before its start ([`starts_ahead_of_plan`]). Not secret, and no right: the supervisor's
    /// gate orders a container's own start, and a container that lies here only starts its
    /// own app early.
    pub start_at_once: bool,
}

/// The token file's last word when the app starts at once.
const AT_ONCE: &str = "start-at-once";

/// The token file's text: `NONCE TOKEN`, then `start-at-once` where it applies.
pub fn token_file_text(nonce: &str, token: &str, start_at_once: bool) -> String {
    if start_at_once {
        format!("{nonce} {token} {AT_ONCE}\n")
    } else {
        format!("{nonce} {token}\n")
    }
}

pub fn parse_token_file(text: &str) -> Option<Token> {
    let mut words = text.split_whitespace();
    let (nonce, token) = (words.next()?, words.next()?);
    let start_at_once = match words.next() {
        None => false,
        Some(AT_ONCE) => true,
        Some(_) => return None,
    };
    (words.next().is_none() && is_hex(nonce, NONCE_HEX) && is_hex(token, TOKEN_HEX)).then(|| {
        Token {
            nonce: nonce.to_owned(),
            token: token.to_owned(),
            start_at_once,
        }
    })
}

/// Whether a container's init can start its app before the supervisor's welcome brings the
/// plan: what the first run needs from the plan is the termination message's file and policy
/// (the file is looked at before the run, and `FallbackToLogsOnError` relays the app's output
/// from its start), so only a plan with Kubernetes' defaults there can, the init assuming them.
pub fn starts_ahead_of_plan(plan: &ContainerPlan, pod: &PodDeclaration) -> bool {
    plan.termination_message == crate::plan::TerminationMessage::default()
        && crate::engine::opens_on_arrival(plan, pod)
}

/// For the container's init: the claim in `dir` (the container's `/.podinit/claim`), read and
/// unlinked, so nothing started after this (the app, a `runc exec`) finds it. `None` when there
/// is none (a hooked bundle). An unlink that fails is logged and the claim still used: it is
/// one-shot, so what is left is worthless once the init claimed.
pub fn take_token(dir: &Path) -> Option<Token> {
    let path = dir.join(TOKEN_FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    if let Err(e) = std::fs::remove_file(&path) {
        crate::log_warn!(
            "{}: cannot remove the claim token after reading it: {e}",
            path.display()
        );
    }
    let parsed = parse_token_file(&text);
    if parsed.is_none() {
        crate::log_warn!("{}: not a podinit claim token; ignored", path.display());
    }
    parsed
}

/// Write `bytes` to `path` through a temp file and rename, mode `mode`, owned by `owner`.
pub fn write_private(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> std::io::Result<()> {
    let tmp = path.with_extension("podinit-tmp");
    let write = || -> std::io::Result<()> {
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// CLOCK_BOOTTIME in ns: the clock of `/proc/PID/stat`'s start time.
pub fn boottime_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map(|t| std::time::Duration::from(t).as_nanos() as u64)
        .unwrap_or(0)
}

/// What the supervisor found out about the claiming peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    /// `NSpid` of `/proc/PID/status`: its pid in each namespace, outermost first.
    pub ns_pids: Vec<i32>,
    /// Its start (`/proc/PID/stat` field 22) in ns of CLOCK_BOOTTIME.
    pub start_ns: Option<u64>,
    /// The root (source) of the mount at `/.podinit/claim` in its mount table.
    pub claim_mount_root: Option<String>,
    /// It is already the init of a registered container.
    pub registered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    WrongUser {
        expected: u32,
        peer: u32,
    },
    /// Not in a pid namespace below the supervisor's.
    SharedPidNamespace,
    /// In a pid namespace of its own, but not its PID 1.
    NotPidOne(i32),
    StartedBeforeClaim,
    NoClaimMount,
    /// Its `/.podinit/claim` is another bundle's claim directory.
    OtherContainer(String),
    AlreadyRegistered,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::WrongUser { expected, peer } => write!(
                f,
                "the claiming process runs as uid {peer}, the container's user is uid {expected}"
            ),
            Refusal::SharedPidNamespace => write!(
                f,
                "the claiming process shares the supervisor's pid namespace; only a container's \
                 PID 1 may claim (use hooks for containers without a pid namespace of their own)"
            ),
            Refusal::NotPidOne(p) => write!(
                f,
                "the claiming process is pid {p} of its pid namespace, not the container's PID 1"
            ),
            Refusal::StartedBeforeClaim => write!(
                f,
                "the claiming process started before inject wrote the claim: it is not this \
                 container's init"
            ),
            Refusal::NoClaimMount => write!(
                f,
                "the claiming process has no {} mount: it is not a container inject prepared",
                crate::proto::CONTAINER_CLAIM_DIR
            ),
            Refusal::OtherContainer(root) => write!(
                f,
                "the claiming process's {} is {root}, another container's: a container cannot \
                 claim another's registration",
                crate::proto::CONTAINER_CLAIM_DIR
            ),
            Refusal::AlreadyRegistered => write!(
                f,
                "the claiming process is already the init of a registered container"
            ),
        }
    }
}

/// Whether `peer` is the init of the container `claim` (named by `nonce`) was written for.
/// `tick_ns`: the start time's resolution (one clock tick), which rounds it down.
pub fn check(claim: &PendingClaim, nonce: &str, peer: &Peer, tick_ns: u64) -> Result<(), Refusal> {
    if peer.uid != claim.uid {
        return Err(Refusal::WrongUser {
            expected: claim.uid,
            peer: peer.uid,
        });
    }
    match peer.ns_pids.as_slice() {
        [] | [_] => return Err(Refusal::SharedPidNamespace),
        [.., 1] => {}
        [.., p] => return Err(Refusal::NotPidOne(*p)),
    }
    match peer.start_ns {
        Some(start) if start.saturating_add(tick_ns) >= claim.created_ns => {}
        _ => return Err(Refusal::StartedBeforeClaim),
    }
    let ours = format!("{DIR_PREFIX}{nonce}");
    match &peer.claim_mount_root {
        None => return Err(Refusal::NoClaimMount),
        Some(root) if root.rsplit('/').next() == Some(ours.as_str()) => {}
        Some(root) => return Err(Refusal::OtherContainer(root.clone())),
    }
    if peer.registered {
        return Err(Refusal::AlreadyRegistered);
    }
    Ok(())
}

/// `NSpid:` of a `/proc/PID/status` text.
pub fn ns_pids(status: &str) -> Vec<i32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|rest| {
            rest.split_whitespace()
                .map_while(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The root field (4th) of the last mount at `mount_point` in a `/proc/PID/mountinfo` text.
pub fn mount_root(mountinfo: &str, mount_point: &str) -> Option<String> {
    mountinfo.lines().rev().find_map(|l| {
        let mut f = l.split(' ');
        let root = f.nth(3)?;
        (f.next()? == mount_point).then(|| root.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const NONCE: &str = "0123456789abcdef";

    fn claim() -> PendingClaim {
        claim_and_pod().0
    }

    fn claim_and_pod() -> (PendingClaim, PodDeclaration) {
        let config = serde_json::json!({"process": {"args": ["sh"]},
            "annotations": {"io.podinit.container-name": "app"}});
        let input = crate::plan::BundleInput {
            config: &config,
            fallback_name: "app",
        };
        let Ok(crate::plan::Classified::Container { plan, pod, pod_key }) =
            crate::plan::classify_bundle(&input)
        else {
            panic!("a plain app container")
        };
        let claim = PendingClaim {
            id: "pod-app".into(),
            bundle: "/b/app".into(),
            plan,
            pod_digest: Some(crate::plan::declaration::digest(&pod)),
            pod_key: pod_key.key,
            token: "a".repeat(TOKEN_HEX),
            uid: 1000,
            created_ns: 5_000_000_000,
        };
        (claim, pod)
    }

    fn peer() -> Peer {
        Peer {
            uid: 1000,
            ns_pids: vec![4242, 1],
            start_ns: Some(5_100_000_000),
            claim_mount_root: Some(format!("/tmp/pod/bundles/app/{DIR_PREFIX}{NONCE}")),
            registered: false,
        }
    }

    /// One case per rule of [`check`].
    #[rstest]
    #[case::the_containers_init(peer(), Ok(()))]
    #[case::another_user(Peer { uid: 0, ..peer() }, Err(Refusal::WrongUser { expected: 1000, peer: 0 }))]
    #[case::the_supervisors_pid_namespace(Peer { ns_pids: vec![4242], ..peer() }, Err(Refusal::SharedPidNamespace))]
    #[case::no_nspid_line(Peer { ns_pids: vec![], ..peer() }, Err(Refusal::SharedPidNamespace))]
    #[case::not_pid_one(Peer { ns_pids: vec![4242, 7], ..peer() }, Err(Refusal::NotPidOne(7)))]
    #[case::nested_pid_one(Peer { ns_pids: vec![4242, 9, 1], ..peer() }, Ok(()))]
    #[case::started_before_the_claim(Peer { start_ns: Some(4_000_000_000), ..peer() }, Err(Refusal::StartedBeforeClaim))]
    #[case::within_one_tick(Peer { start_ns: Some(4_990_000_000), ..peer() }, Ok(()))]
    #[case::start_unknown(Peer { start_ns: None, ..peer() }, Err(Refusal::StartedBeforeClaim))]
    #[case::no_claim_mount(Peer { claim_mount_root: None, ..peer() }, Err(Refusal::NoClaimMount))]
    #[case::another_containers_claim_dir(
        Peer { claim_mount_root: Some(format!("/b/other/{DIR_PREFIX}fedcba9876543210")), ..peer() },
        Err(Refusal::OtherContainer(format!("/b/other/{DIR_PREFIX}fedcba9876543210"))))]
    #[case::a_prefix_is_not_the_dir(
        Peer { claim_mount_root: Some(format!("/b/{DIR_PREFIX}{NONCE}0")), ..peer() },
        Err(Refusal::OtherContainer(format!("/b/{DIR_PREFIX}{NONCE}0"))))]
    #[case::bundle_on_its_own_filesystem(Peer { claim_mount_root: Some(format!("/{DIR_PREFIX}{NONCE}")), ..peer() }, Ok(()))]
    #[case::already_an_init(Peer { registered: true, ..peer() }, Err(Refusal::AlreadyRegistered))]
    fn claim_rules(#[case] peer: Peer, #[case] want: Result<(), Refusal>) {
        assert_eq!(check(&claim(), NONCE, &peer, 10_000_000), want);
    }

    #[rstest]
    #[case::good(&format!("{NONCE} {}\n", "b".repeat(TOKEN_HEX)), true)]
    #[case::short_token(&format!("{NONCE} {}", "b".repeat(TOKEN_HEX - 1)), false)]
    #[case::upper_case(&format!("{NONCE} {}", "B".repeat(TOKEN_HEX)), false)]
    #[case::path_in_nonce(&format!("../../etc/x {}", "b".repeat(TOKEN_HEX)), false)]
    #[case::starts_at_once(&format!("{NONCE} {} start-at-once\n", "b".repeat(TOKEN_HEX)), true)]
    #[case::extra_word(&format!("{NONCE} {} x", "b".repeat(TOKEN_HEX)), false)]
    #[case::a_word_after_start_at_once(
        &format!("{NONCE} {} start-at-once x", "b".repeat(TOKEN_HEX)), false)]
    #[case::start_at_once_in_the_token_place(&format!("{NONCE} start-at-once"), false)]
    #[case::empty("", false)]
    #[case::binary("\u{0}\u{7f}", false)]
    fn token_files(#[case] text: &str, #[case] ok: bool) {
        assert_eq!(parse_token_file(text).is_some(), ok, "{text:?}");
    }

    #[test]
    fn a_claim_file_is_the_claim_then_its_declaration() {
        let (claim, pod) = claim_and_pod();
        let text = encode(&claim, &pod);
        assert_eq!(text.iter().filter(|b| **b == b'\n').count(), 2, "two lines");
        let decoded = decode(&text).unwrap();
        assert_eq!(decoded.claim, claim);
        assert!(matches!(decoded.pod, Declaration::Line(_)));
        assert_eq!(decoded.pod.parse().unwrap(), pod);
    }

    /// An older inject wrote one line, the declaration in the claim's `pod` field and no
    /// digest: it is still a claim, its declaration still found.
    #[test]
    fn a_one_line_claim_of_an_older_inject_is_read() {
        let (claim, pod) = claim_and_pod();
        let mut old = serde_json::to_value(&claim).unwrap();
        old.as_object_mut().unwrap().remove("pod_digest");
        old["pod"] = serde_json::to_value(&pod).unwrap();
        let text = old.to_string().into_bytes();
        let decoded = decode(&text).unwrap();
        assert_eq!(decoded.claim.pod_digest, None);
        assert_eq!(decoded.claim.plan, claim.plan);
        assert!(matches!(decoded.pod, Declaration::Inline(_)));
        assert_eq!(decoded.pod.parse().unwrap(), pod);
    }

    /// Hostile claim files: an error (the claim is refused), never a panic; a declaration
    /// that is not one fails only when it is parsed.
    #[rstest]
    #[case::empty(b"", false, false)]
    #[case::a_newline(b"\n", false, false)]
    #[case::two_objects(b"{}\n{}", false, false)]
    #[case::not_json(b"\xff\xfe\n{}", false, false)]
    #[case::head_then_garbage(b"HEAD\n{\"no\": ", true, false)]
    #[case::head_then_a_blank_line(b"HEAD\n\n", true, false)]
    #[case::head_then_a_number(b"HEAD\n7\n", true, false)]
    #[case::head_then_pod(b"HEAD\nPOD\n", true, true)]
    #[case::head_then_pod_without_newline(b"HEAD\nPOD", true, true)]
    fn hostile_claim_files(#[case] text: &[u8], #[case] is_claim: bool, #[case] has_pod: bool) {
        let (claim, pod) = claim_and_pod();
        let head = serde_json::to_vec(&claim).unwrap();
        let pod = serde_json::to_vec(&pod).unwrap();
        let mut file = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix(b"HEAD") {
                file.extend_from_slice(&head);
                rest = r;
            } else if let Some(r) = rest.strip_prefix(b"POD") {
                file.extend_from_slice(&pod);
                rest = r;
            } else {
                file.push(rest[0]);
                rest = &rest[1..];
            }
        }
        match decode(&file) {
            Ok(d) => {
                assert!(is_claim, "{:?} is no claim", String::from_utf8_lossy(&file));
                assert_eq!(d.claim, claim);
                assert_eq!(d.pod.parse().is_ok(), has_pod);
            }
            Err(_) => assert!(!is_claim),
        }
    }

    #[test]
    fn nonces_that_are_not_hex_name_no_file() {
        let state = Path::new("/run/p");
        assert!(claim_file(state, NONCE).is_some());
        for bad in ["../../../etc/passw", "0123456789ABCDEF", "0123", ""] {
            assert_eq!(claim_file(state, bad), None, "{bad}");
        }
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let a = random_hex(32).unwrap();
        let b = random_hex(32).unwrap();
        assert!(is_hex(&a, TOKEN_HEX) && is_hex(&b, TOKEN_HEX));
        assert_ne!(a, b);
        assert!(tokens_equal(&a, &a.clone()));
        assert!(!tokens_equal(&a, &b));
        assert!(!tokens_equal(&a, &a[..TOKEN_HEX - 1]));
        let mut flipped = a.clone().into_bytes();
        flipped[TOKEN_HEX - 1] = if flipped[TOKEN_HEX - 1] == b'0' {
            b'1'
        } else {
            b'0'
        };
        assert!(!tokens_equal(&a, std::str::from_utf8(&flipped).unwrap()));
    }

    #[test]
    fn proc_texts() {
        let status = "Name:\tpodinit\nTgid:\t4242\nNSpid:\t4242\t1\nNSpgid:\t4242\t1\n";
        assert_eq!(ns_pids(status), vec![4242, 1]);
        assert_eq!(ns_pids("Name:\tx\n"), Vec::<i32>::new());
        let mountinfo = "\
22 1 0:21 / / rw - overlay overlay rw\n\
40 22 8:1 /tmp/b/app/podinit-claim-0123456789abcdef /.podinit/claim rw,nosuid - ext4 /dev/sda1 rw\n\
41 22 0:30 / /.podinit/run rw - tmpfs tmpfs rw\n";
        assert_eq!(
            mount_root(mountinfo, "/.podinit/claim").as_deref(),
            Some("/tmp/b/app/podinit-claim-0123456789abcdef")
        );
        assert_eq!(mount_root(mountinfo, "/.podinit/sock"), None);
    }

    #[test]
    fn the_init_takes_the_token_and_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("podinit-claim-take-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = random_hex(32).unwrap();
        write_private(
            &dir.join(TOKEN_FILE),
            token_file_text(NONCE, &token, true).as_bytes(),
            0o400,
            None,
        )
        .unwrap();
        let taken = Token {
            nonce: NONCE.to_owned(),
            token,
            start_at_once: true,
        };
        assert_eq!(take_token(&dir), Some(taken));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        assert_eq!(take_token(&dir), None, "a second read finds nothing");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
