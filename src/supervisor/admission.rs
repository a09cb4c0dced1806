//! Which connections the supervisor takes, and in what order (issue 15 finding 5).
//!
//! A container that floods the containers' socket with connections must not starve the hooks
//! (whose round trip is bounded by 2 s) or another container's init:
//! - each wake-up accepts at most [`ACCEPT_PER_WAKEUP`] connections per listener (epoll is
//!   level-triggered: the rest wake the next iteration), and the loop serves the signalfd and
//!   the control socket first, the containers' listener last ([`priority`]);
//! - a new init connection is read at once: `podinit exec` sends `hello` right after
//!   `connect()`, so a real init is identified before any eviction can pick it;
//! - at most [`MAX_UNIDENTIFIED_PER_PEER`] unidentified connections per peer, the peer being the
//!   cgroup of the connecting process (one per container under runc and crun, so forking does
//!   not multiply it; its pid where the cgroup cannot be read): past that the peer's own
//!   oldest one is dropped, so a flooder only churns its own connections;
//! - at [`conn::MAX_CONNECTIONS`], the oldest unidentified connection of the peer holding the
//!   most is dropped.

use std::collections::HashMap;
use std::os::fd::AsFd;

use nix::sys::epoll::{EpollEvent, EpollFlags};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use super::conn::{self, Conn, Side};
use super::{Supervisor, TOKEN_CONTROL, TOKEN_INIT, TOKEN_SIGNAL};
use crate::log_warn;

pub const ACCEPT_PER_WAKEUP: usize = 32;
pub const MAX_UNIDENTIFIED_PER_PEER: usize = 16;

/// Who is connecting, for the per-peer limit: a hash of `/proc/PID/cgroup` (world-readable,
/// one cgroup per container), else of the pid.
fn peer_of(stream: &std::os::unix::net::UnixStream) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match getsockopt(stream, PeerCredentials) {
        Ok(cred) => match crate::sys::procfs::read(format!("/proc/{}/cgroup", cred.pid())) {
            Ok(cgroup) => cgroup.hash(&mut h),
            Err(_) => cred.pid().hash(&mut h),
        },
        Err(_) => 0u8.hash(&mut h),
    }
    h.finish()
}

/// Dispatch order within one wake-up: signals, then the control socket and its connections,
/// then the containers' connections and pidfds, the containers' listener last.
pub fn priority(s: &Supervisor, token: u64) -> u8 {
    match token {
        TOKEN_SIGNAL => 0,
        TOKEN_CONTROL => 1,
        TOKEN_INIT => 4,
        t => match s.conns.get(&t).map(|c| c.side) {
            Some(Side::Control) => 2,
            _ => 3,
        },
    }
}

impl Supervisor {
    pub(super) fn accept(&mut self, side: Side) {
        for _ in 0..ACCEPT_PER_WAKEUP {
            let listener = if side == Side::Control {
                &self.control
            } else {
                &self.init_listener
            };
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    log_warn!("supervise: accept failed: {e}");
                    return;
                }
            };
            let peer = if side == Side::Init {
                let peer = peer_of(&stream);
                self.limit_peer(peer);
                Some(peer)
            } else {
                None
            };
            if self.conns.len() >= conn::MAX_CONNECTIONS {
                self.evict_one();
            }
            let token = self.token();
            let conn = match Conn::new(stream, side, token, peer) {
                Ok(c) => c,
                Err(e) => {
                    log_warn!("supervise: cannot set up a connection: {e}");
                    continue;
                }
            };
            if let Err(e) = self.epoll.add(
                conn.stream.as_fd(),
                EpollEvent::new(EpollFlags::EPOLLIN, token),
            ) {
                log_warn!("supervise: cannot watch a connection: {e}");
                continue;
            }
            self.conns.insert(token, conn);
            if side == Side::Init {
                // Its hello is usually there already: identified now, never evicted.
                self.on_conn(token, EpollFlags::EPOLLIN);
            }
        }
    }

    /// Unidentified connections per peer.
    fn unidentified(&self) -> HashMap<u64, Vec<(u64, u64)>> {
        let mut by_peer: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
        for (t, c) in &self.conns {
            if let (None, Some(p)) = (&c.container, c.peer) {
                by_peer.entry(p).or_default().push((c.serial, *t));
            }
        }
        by_peer
    }

    /// A peer at its limit loses its own oldest unidentified connection.
    fn limit_peer(&mut self, peer: u64) {
        let Some(mut mine) = self.unidentified().remove(&peer) else {
            return;
        };
        if mine.len() >= MAX_UNIDENTIFIED_PER_PEER {
            mine.sort_unstable();
            self.drop_conn(
                mine[0].1,
                "too many unidentified connections from one peer; its oldest dropped",
            );
        }
    }

    /// At the connection limit: the oldest unidentified connection of the peer that holds the
    /// most (an unidentified control connection counts as its own peer).
    pub(super) fn evict_one(&mut self) {
        let mut by_peer = self.unidentified();
        for (t, c) in &self.conns {
            if c.container.is_none() && c.peer.is_none() {
                by_peer.insert(u64::MAX - *t, vec![(c.serial, *t)]);
            }
        }
        let victim = by_peer
            .into_values()
            .max_by_key(|v| v.len())
            .and_then(|v| v.into_iter().min());
        if let Some((_, t)) = victim {
            self.drop_conn(
                t,
                "connection limit reached; oldest unidentified connection of the busiest peer dropped",
            );
        }
    }
}
