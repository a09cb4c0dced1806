//! `podinit supervise`: the supervisor of every pod on the machine (PID 1 of the sandbox, or a
//! child subreaper). One thread, one epoll loop over a signalfd, the two listening sockets, the
//! client connections and a pidfd per container init; the epoll timeout is the earliest deadline
//! of any pod's engine, so nothing polls. Each pod (keyed by its sandbox id, `plan::identify`)
//! has its own engine, journal and status file (`pod.rs`, laid out as `layout.rs` says); this
//! file routes events to the right pod and carries out its actions: who gets SIGTERM is decided
//! in `engine/teardown.rs`, and sent from here ([`Supervisor::execute`]) to the container's init.
//!
//! Lifetime: the supervisor keeps running when pods finish; SIGTERM or `podinit stop` without a
//! pod deletes every pod and exits once they are gone (at once when there is none). With
//! `exit_with_pod` (a one-pod sandbox) it exits with the first pod's result once that pod
//! finished, after deleting any other pod.

mod admission;
mod claims;
mod conn;
mod control;
mod delivery;
mod disk;
mod journal;
pub mod layout;
pub mod listing;
mod pod;
mod status_file;

use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use crate::engine::{self, Action, ContainerState, Event, ExitDetails, Phase};
use crate::plan::PodKey;
use crate::proto::{self, InitMessage, SupervisorMessage};
use crate::sys::pidfd;
use crate::{log_debug, log_error, log_info, log_warn};
use conn::{Conn, ConnError, Side};
use layout::{Layout, MAX_FINISHED_PODS};
use pod::{Member, Pod, Resumed};
use status_file::Clock;

pub use status_file::rfc3339;

pub struct Options {
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub engine: engine::Config,
    /// A one-pod sandbox: exit with the first pod's result once it finished
    /// (`--exit-with-pod`, `PODINIT_EXIT_WITH_POD`).
    pub exit_with_pod: bool,
}

const TOKEN_SIGNAL: u64 = 0;
const TOKEN_CONTROL: u64 = 1;
const TOKEN_INIT: u64 = 2;
const FIRST_DYNAMIC_TOKEN: u64 = 16;

/// How long a status change waits for the next before status.json is rewritten: a started
/// container's init reports `started` a fraction of a millisecond after its release, and
/// each write renders the whole pod (issue 13: two writes per container made a 64-container
/// start quadratic). Control replies never wait for it (they are held for the write, which
/// then happens at once); a status that fails to write is retried on events, not on a timer.
const STATUS_SETTLE: Duration = Duration::from_millis(5);

/// A registered container's init, as the supervisor tracks it (keyed by [`Member`]).
struct Init {
    id: String,
    pid: i32,
    pidfd: Option<OwnedFd>,
    pidfd_token: u64,
    conn: Option<u64>,
    /// Commands for an init that has not connected yet.
    outbox: Vec<SupervisorMessage>,
    /// It said hello to this supervisor: it is `podinit exec` and reconnects when its link is
    /// lost (`delivery.rs`).
    spoke: bool,
    /// A signal waits in the outbox for the init to reconnect until then (`delivery.rs`).
    fallback_at: Option<Duration>,
}

pub struct Supervisor {
    cfg: engine::Config,
    /// The live pods. A pod leaves this map when it finishes; its directory stays.
    pods: BTreeMap<PodKey, Pod>,
    /// Finished pods whose last records or status wait in memory for the disk (full or
    /// read-only), written at every loop iteration until they are on disk.
    retiring: Vec<Pod>,
    epoll: Epoll,
    signals: SignalFd,
    control: UnixListener,
    init_listener: UnixListener,
    conns: HashMap<u64, Conn>,
    /// Connections with output queued while an event is handled, written when it is
    /// ([`Self::flush_conns`]).
    to_flush: Vec<u64>,
    pidfd_tokens: HashMap<u64, Member>,
    inits: HashMap<Member, Init>,
    next_token: u64,
    clock: Clock,
    layout: Layout,
    socket: PathBuf,
    init_socket: PathBuf,
    exit_with_pod: bool,
    /// The first pod that finished and its result (what `exit_with_pod` exits with).
    first_result: Option<(PodKey, i32)>,
    /// Control replies waiting for this iteration's status writes (`control.rs`).
    held_replies: Vec<(u64, Vec<u8>)>,
    /// When the status changes waiting since the first of them are written ([`STATUS_SETTLE`]).
    status_due: Option<Duration>,
    /// Every pod is being deleted: no new registration, exit once none is left.
    shutting_down: bool,
    exit_code: Option<i32>,
}

/// CLOCK_MONOTONIC: the engine's time, shared by a restarted supervisor.
pub fn monotonic_now() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(Duration::from)
        .unwrap_or_default()
}

pub fn run(opts: Options) -> i32 {
    match Supervisor::start(opts) {
        Ok(mut s) => s.run(),
        Err(e) => {
            log_error!("supervise: {e}");
            1
        }
    }
}

fn listen(path: &Path, mode: u32) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let l = UnixListener::bind(path).map_err(|e| {
        std::io::Error::new(e.kind(), format!("{}: cannot listen: {e}", path.display()))
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// A start-up failure in the state dir, naming the path and what to do (the journalled pods
/// are untouched: nothing was written).
fn at(path: &Path, e: std::io::Error) -> std::io::Error {
    let remedy = disk::remedy(&e, path);
    std::io::Error::new(
        e.kind(),
        format!(
            "{}: {e}; {remedy}, then start the supervisor again (the pods journalled there resume)",
            path.display()
        ),
    )
}

/// The containers' socket in `<state-dir>/sock/`, the directory made first.
fn listen_for_inits(init_socket: &Path) -> std::io::Result<UnixListener> {
    let sock_dir = init_socket.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(sock_dir).map_err(|e| at(sock_dir, e))?;
    std::fs::set_permissions(sock_dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| at(sock_dir, e))?;
    // Any container may connect; what it may do is decided by its peer pid.
    listen(init_socket, 0o666).map_err(|e| at(sock_dir, e))
}

/// The process start time (field 22 of /proc/PID/stat): a pid plus this names one process.
fn start_time(pid: i32) -> Option<u64> {
    let stat = crate::sys::procfs::read(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = stat.rsplit_once(')')?.1;
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

impl Supervisor {
    fn start(opts: Options) -> std::io::Result<Self> {
        let state = opts.state_dir.as_path();
        std::fs::create_dir_all(state).map_err(|e| at(state, e))?;
        // Containers get only the sock/ directory, read-only; the rest stays the supervisor's.
        std::fs::set_permissions(state, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| at(state, e))?;
        if std::process::id() != 1 {
            // Orphans of the pods end up here, not on the host's init.
            if let Err(e) = crate::sys::prctl::set_child_subreaper() {
                log_warn!("supervise: cannot become a child subreaper: {e}");
            }
        }
        let mut mask = SigSet::empty();
        for s in [
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGCHLD,
            Signal::SIGHUP,
            Signal::SIGPIPE,
        ] {
            mask.add(s);
        }
        mask.thread_block().map_err(std::io::Error::from)?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        let control = listen(&opts.socket, 0o600)?;
        let sock_dir = opts.state_dir.join("sock");
        let init_socket = sock_dir.join(proto::INIT_SOCKET_NAME);
        let init_listener = listen_for_inits(&init_socket)?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        epoll.add(
            signals.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, TOKEN_SIGNAL),
        )?;
        epoll.add(
            control.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, TOKEN_CONTROL),
        )?;
        epoll.add(
            init_listener.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, TOKEN_INIT),
        )?;
        let layout = Layout::new(&opts.state_dir);
        layout
            .migrate_single_pod_journal()
            .map_err(|e| at(state, e))?;
        std::fs::create_dir_all(layout.pods_dir()).map_err(|e| at(&layout.pods_dir(), e))?;
        let now = monotonic_now();
        let mut s = Self {
            cfg: opts.engine,
            pods: BTreeMap::new(),
            retiring: Vec::new(),
            epoll,
            signals,
            control,
            init_listener,
            conns: HashMap::new(),
            to_flush: Vec::new(),
            pidfd_tokens: HashMap::new(),
            inits: HashMap::new(),
            next_token: FIRST_DYNAMIC_TOKEN,
            clock: Clock::new(now),
            layout,
            socket: opts.socket,
            init_socket,
            exit_with_pod: opts.exit_with_pod,
            first_result: None,
            held_replies: Vec::new(),
            status_due: None,
            shutting_down: false,
            exit_code: None,
        };
        // Everything that needed privileges (sockets, state dir, subreaper) is done; resuming
        // writes only in the state dir, which is ours. Dropped before that work, so a client
        // that found the sockets finds a supervisor that already runs unprivileged.
        if nix::unistd::geteuid().is_root() {
            if let Err(e) = crate::sys::privileges::keep_only(&[caps::Capability::CAP_KILL]) {
                log_warn!("supervise: cannot drop capabilities: {e}");
            }
        }
        s.resume_pods();
        log_info!(
            "supervise: listening on {} (control) and {} (containers){}",
            s.socket.display(),
            s.init_socket.display(),
            if s.exit_with_pod {
                "; exits with the first pod"
            } else {
                ""
            }
        );
        Ok(s)
    }

    /// Carry on with the unfinished pods a previous supervisor left in the state dir; finished
    /// ones stay on disk for `podinit status` and are never replayed.
    fn resume_pods(&mut self) {
        // Finished pods whose result no supervisor passed on: a `--exit-with-pod` predecessor
        // was killed between the pod's end and its own exit (pod.rs, `result_reported`).
        let mut unreported = Vec::new();
        for key in self.layout.pod_keys() {
            let dir = self.layout.pod_dir(&key);
            let (mut pod, inits) =
                match Pod::resume(dir.clone(), key.clone(), self.cfg.clone(), self.clock) {
                    Ok(Resumed::Live(pod, inits)) => (pod, inits),
                    Ok(Resumed::Finished {
                        phase: Some(phase),
                        reported: false,
                    }) => {
                        unreported.push((key, phase));
                        continue;
                    }
                    Ok(Resumed::Finished { .. }) => continue,
                    Err(e) => {
                        log_error!("supervise: cannot resume the pod in {}: {e}", dir.display());
                        continue;
                    }
                };
            pod.write_status(self.clock);
            self.pods.insert(key.clone(), *pod);
            let mut gone = Vec::new();
            for init in inits {
                let alive =
                    start_time(init.pid).is_some() && start_time(init.pid) == init.start_time;
                let fd = if alive {
                    pidfd::open(init.pid).ok()
                } else {
                    None
                };
                let member = Member {
                    pod: key.clone(),
                    name: init.name,
                };
                if fd.is_none() {
                    gone.push(member.name.clone());
                }
                self.track_init(member, init.id, init.pid, fd);
            }
            for name in gone {
                self.feed(&key, Event::Gone { name });
            }
            let actions = self
                .pods
                .get_mut(&key)
                .map(|p| p.engine.handle_timeout(monotonic_now()))
                .unwrap_or_default();
            self.execute(&key, actions);
        }
        self.layout
            .prune(MAX_FINISHED_PODS, &|k| self.pods.contains_key(k));
        self.write_dirty_statuses();
        self.report_unreported(unreported);
    }

    /// A finished pod whose result was never passed on is the result a `--exit-with-pod`
    /// supervisor owes: it exits with it (deleting any other pod first), as its predecessor
    /// would have. Without `--exit-with-pod`, status.json is the report: mark it so.
    fn report_unreported(&mut self, unreported: Vec<(PodKey, Phase)>) {
        if !self.exit_with_pod {
            for (key, _) in &unreported {
                Pod::result_reported(&self.layout.pod_dir(key));
            }
            return;
        }
        let Some((key, phase)) = unreported.into_iter().next() else {
            return;
        };
        log_warn!(
            "supervise: pod {key} finished ({phase:?}) but the previous supervisor did not exit with its result; exiting with it"
        );
        self.first_result = Some((key, proto::phase_exit_code(phase)));
        self.shut_down(None);
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn track_init(&mut self, member: Member, id: String, pid: i32, fd: Option<OwnedFd>) {
        let token = self.token();
        if let Some(fd) = &fd {
            if let Err(e) = self
                .epoll
                .add(fd.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, token))
            {
                log_error!("supervise: cannot watch the init of {member}: {e}");
            }
            self.pidfd_tokens.insert(token, member.clone());
        }
        let old = self.inits.insert(
            member,
            Init {
                id,
                pid,
                pidfd: fd,
                pidfd_token: token,
                conn: None,
                outbox: Vec::new(),
                spoke: false,
                fallback_at: None,
            },
        );
        if let Some(old) = old {
            self.forget_init(old);
        }
    }

    fn forget_init(&mut self, old: Init) {
        if let Some(fd) = old.pidfd {
            let _ = self.epoll.delete(fd.as_fd());
        }
        self.pidfd_tokens.remove(&old.pidfd_token);
        if let Some(c) = old.conn {
            self.drop_conn(c, "replaced");
        }
    }

    /// The earliest deadline of any pod, or of a signal waiting for its init: one timer for
    /// the whole machine.
    fn next_deadline(&self) -> Option<Duration> {
        self.pods
            .values()
            .filter_map(|p| p.engine.poll_timeout())
            .chain(self.next_fallback())
            .chain(self.status_due)
            .min()
    }

    fn run(&mut self) -> i32 {
        let mut events = vec![EpollEvent::empty(); 64];
        loop {
            if let Some(code) = self.exit_code {
                self.cleanup();
                if let Some((key, _)) = &self.first_result {
                    // The last step: from here a restart must not report the pod again.
                    Pod::result_reported(&self.layout.pod_dir(key));
                }
                return code;
            }
            let timeout = match self.next_deadline() {
                None => EpollTimeout::NONE,
                Some(due) => {
                    let left = due.saturating_sub(monotonic_now());
                    // Round up: waking a millisecond early would just loop once more.
                    let ms = left.as_micros().div_ceil(1000);
                    EpollTimeout::try_from(ms.min(i32::MAX as u128) as u64)
                        .unwrap_or(EpollTimeout::NONE)
                }
            };
            let n = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    log_error!("supervise: epoll_wait failed: {e}");
                    return 1;
                }
            };
            let mut ready: Vec<EpollEvent> = events.iter().take(n).copied().collect();
            ready.sort_by_key(|ev| admission::priority(self, ev.data()));
            for ev in ready {
                self.dispatch(ev.data(), ev.events());
                self.flush_conns();
            }
            self.fire_timers();
            self.settle_statuses();
            self.send_held_replies();
            self.flush_conns();
            self.keep_init_socket();
        }
    }

    /// The containers' socket was removed under the running pods (`rm -r <state>/sock`): the
    /// connected inits go on over their links, so their statuses still arrive; listen again at
    /// the same path for the containers created from now on. Noticed at the next wake-up (one
    /// stat(2) per loop iteration, no timer of its own).
    fn keep_init_socket(&mut self) {
        if self.init_socket.exists() {
            return;
        }
        let listener = match listen_for_inits(&self.init_socket) {
            Ok(l) => l,
            Err(e) => {
                log_error!(
                    "supervise: the containers' socket is gone and cannot be made again: {e}"
                );
                return;
            }
        };
        let _ = self.epoll.delete(self.init_listener.as_fd());
        if let Err(e) = self.epoll.add(
            listener.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, TOKEN_INIT),
        ) {
            log_error!(
                "supervise: cannot watch the new {}: {e}",
                self.init_socket.display()
            );
            return;
        }
        self.init_listener = listener;
        log_warn!(
            "supervise: {} was removed; listening there again. Containers created before keep \
             their links, but one whose link drops cannot reconnect (its mount holds the removed \
             directory) and goes on unsupervised",
            self.init_socket.display()
        );
    }

    /// Every pod whose next deadline has come.
    fn fire_timers(&mut self) {
        let now = monotonic_now();
        self.fire_fallbacks(now);
        let keys: Vec<PodKey> = self.pods.keys().cloned().collect();
        for key in keys {
            let actions = self.pods.get_mut(&key).and_then(|p| p.handle_due(now));
            if let Some(actions) = actions {
                self.execute(&key, actions);
            }
        }
    }

    /// Once per loop iteration: every changed status, and whatever waits for the disk.
    /// The end of a loop iteration: status changes wait [`STATUS_SETTLE`] for the ones that
    /// follow, unless a control reply waits for them or a write failed before (then it is
    /// retried now, as every iteration did before, and never on a timer of its own).
    fn settle_statuses(&mut self) {
        let waiting = self
            .pods
            .values()
            .chain(&self.retiring)
            .any(|p| p.status_dirty && !p.status_failing());
        let now = monotonic_now();
        let due = self.status_due.is_some_and(|d| d <= now);
        let all = !waiting || due || !self.held_replies.is_empty();
        if all {
            self.status_due = None;
        } else {
            self.status_due.get_or_insert(now + STATUS_SETTLE);
        }
        // Failing ones are tried again now either way; the journals' backlogs too.
        self.write_statuses(all);
    }

    fn write_dirty_statuses(&mut self) {
        self.write_statuses(true);
    }

    /// Every pod's journal backlog, and its status.json if it changed: all of them, or only
    /// those whose last write failed.
    fn write_statuses(&mut self, all: bool) {
        let clock = self.clock;
        for pod in self.pods.values_mut().chain(&mut self.retiring) {
            pod.flush_journal();
            if pod.status_dirty && (all || pod.status_failing()) {
                pod.write_status(clock);
            }
        }
        self.retiring.retain(|p| !p.is_on_disk());
    }

    fn cleanup(&mut self) {
        self.write_dirty_statuses();
        for pod in &self.retiring {
            log_error!(
                "supervise: exiting while pod {} is not all on disk in {}: {}",
                pod.key,
                pod.dir().display(),
                pod.journal_backlog().unwrap_or("its status.json is stale")
            );
        }
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(&self.init_socket);
    }

    fn dispatch(&mut self, token: u64, flags: EpollFlags) {
        match token {
            TOKEN_SIGNAL => self.on_signals(),
            TOKEN_CONTROL => self.accept(Side::Control),
            TOKEN_INIT => self.accept(Side::Init),
            t if self.pidfd_tokens.contains_key(&t) => {
                let member = self.pidfd_tokens[&t].clone();
                self.on_init_gone(&member);
            }
            t => self.on_conn(t, flags),
        }
    }

    fn on_signals(&mut self) {
        while let Ok(Some(info)) = self.signals.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) => {
                    log_info!(
                        "supervise: signal {}: deleting every pod ({})",
                        info.ssi_signo,
                        self.pods.len()
                    );
                    self.shut_down(None);
                }
                Ok(Signal::SIGCHLD) => {
                    // As PID 1 or subreaper, orphans of the pods are ours to reap; their exit
                    // codes reach the engine through the container's init, not from here.
                    while let Ok(Some(_)) = crate::sys::wait::wait_nohang(-1) {}
                }
                _ => {}
            }
        }
    }

    /// Delete every pod; exit once none is left (at once when there is none). A later call with
    /// a smaller grace shortens the deadlines, as for one pod.
    fn shut_down(&mut self, grace: Option<Duration>) {
        self.shutting_down = true;
        let keys: Vec<PodKey> = self.pods.keys().cloned().collect();
        for key in keys {
            self.feed(&key, Event::StopRequested { grace });
        }
        self.exit_when_done();
    }

    fn exit_when_done(&mut self) {
        if self.shutting_down && self.pods.is_empty() && self.exit_code.is_none() {
            let code = if self.exit_with_pod {
                self.first_result.as_ref().map_or(0, |(_, code)| *code)
            } else {
                0
            };
            log_info!("supervise: no pod left; exiting with {code}");
            self.exit_code = Some(code);
        }
    }

    fn on_init_gone(&mut self, member: &Member) {
        if let Some(init) = self.inits.get_mut(member) {
            if let Some(fd) = init.pidfd.take() {
                let _ = self.epoll.delete(fd.as_fd());
            }
            init.fallback_at = None;
            self.pidfd_tokens.remove(&init.pidfd_token);
            if let Some(c) = init.conn.take() {
                self.drop_conn(c, "its container is gone");
            }
        }
        self.feed(
            &member.pod,
            Event::Gone {
                name: member.name.clone(),
            },
        );
    }

    fn drop_conn(&mut self, token: u64, why: &str) {
        if let Some(mut conn) = self.conns.remove(&token) {
            // What was queued for it (a refusal, the reply that ends it) goes out if the
            // socket takes it now; nothing waits for a closed connection.
            let _ = conn.flush();
            let _ = self.epoll.delete(conn.stream.as_fd());
            if let Some(member) = &conn.container {
                if let Some(init) = self.inits.get_mut(member) {
                    if init.conn == Some(token) {
                        init.conn = None;
                    }
                }
                log_info!("supervise: connection of {member} closed: {why}");
            } else {
                log_debug!("supervise: connection closed: {why}");
            }
        }
    }

    fn on_conn(&mut self, token: u64, flags: EpollFlags) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if flags.contains(EpollFlags::EPOLLOUT) && !conn.flush_due {
            conn.flush_due = true;
            self.to_flush.push(token);
        }
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let side = conn.side;
        let (lines, end) = match conn.read_lines() {
            Ok(lines) => (lines, None),
            Err(ConnError::Closed) => (Vec::new(), Some("closed by the peer".to_owned())),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        for line in lines {
            if !self.conns.contains_key(&token) {
                return;
            }
            match side {
                Side::Control => self.on_control_line(token, &line),
                Side::Init => self.on_init_line(token, &line),
            }
        }
        if let Some(why) = end {
            // A client that half-closed after its request still gets the answer, after the
            // status files as always.
            if self.held_replies.iter().any(|(t, _)| *t == token) {
                self.write_dirty_statuses();
                self.send_held_replies();
            }
            self.drop_conn(token, &why);
        }
    }

    /// Writes what was queued, one write per connection; what a socket does not take waits
    /// for EPOLLOUT, asked for only while it waits.
    fn flush_conns(&mut self) {
        for token in std::mem::take(&mut self.to_flush) {
            let Some(conn) = self.conns.get_mut(&token) else {
                continue;
            };
            conn.flush_due = false;
            if let Err(e) = conn.flush() {
                let why = e.to_string();
                self.drop_conn(token, &why);
                continue;
            }
            if let Some(out) = conn.interest_change() {
                let flags = if out {
                    EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT
                } else {
                    EpollFlags::EPOLLIN
                };
                let mut ev = EpollEvent::new(flags, token);
                let _ = self.epoll.modify(conn.stream.as_fd(), &mut ev);
            }
        }
    }

    fn send_bytes(&mut self, token: u64, bytes: &[u8]) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        conn.queue(bytes);
        if !conn.flush_due {
            conn.flush_due = true;
            self.to_flush.push(token);
        }
    }

    fn on_init_line(&mut self, token: u64, line: &[u8]) {
        let msg: InitMessage = match proto::decode(line) {
            Ok(m) => m,
            Err(e) => {
                self.drop_conn(token, &format!("protocol error: {e}"));
                return;
            }
        };
        if let Err(e) = crate::ranges::init(&msg) {
            self.drop_conn(token, &format!("protocol error: {e}"));
            return;
        }
        let bound = self.conns.get(&token).and_then(|c| c.container.clone());
        let Some(member) = bound else {
            match msg {
                InitMessage::Hello => self.hello(token),
                InitMessage::Claim {
                    claim,
                    token: secret,
                } => self.claim(token, &claim, &secret),
                _ => self.drop_conn(token, "first message was not hello"),
            }
            return;
        };
        let name = member.name;
        let event = match msg {
            InitMessage::Hello | InitMessage::Claim { .. } => return,
            InitMessage::Started { pid: _ } => Event::ProcessStarted { name },
            InitMessage::Exited {
                status,
                oom_killed,
                message,
            } => Event::ProcessExited {
                name,
                status,
                details: ExitDetails {
                    oom_killed,
                    message,
                },
            },
            InitMessage::HandlerDone { handler, ok } => Event::HandlerDone { name, handler, ok },
            InitMessage::Probe { probe, ok } => Event::ProbeResult { name, probe, ok },
            InitMessage::AgentStop { signal } => {
                // ranges::init refused any other number above.
                let Some(signal) = crate::signal::Signal::new(signal) else {
                    return;
                };
                Event::AgentStop { name, signal }
            }
        };
        self.feed(&member.pod, event);
    }

    /// Identify an init by its peer pid, across every pod: it acts for the container whose
    /// registered init it is, never for the container (or pod) it claims to be.
    fn hello(&mut self, token: u64) {
        let Some(conn) = self.conns.get(&token) else {
            return;
        };
        match getsockopt(&conn.stream, PeerCredentials) {
            Ok(cred) => self.welcome(token, cred.pid()),
            Err(e) => self.drop_conn(token, &format!("no peer credentials: {e}")),
        }
    }

    /// A hello (or a claim just taken) from `pid`, the connection's peer as the kernel gave
    /// it: the connection becomes its container's link.
    fn welcome(&mut self, token: u64, pid: i32) {
        let Some(member) = self
            .inits
            .iter()
            .find(|(_, i)| i.pid == pid && i.pidfd.is_some())
            .map(|(m, _)| m.clone())
        else {
            self.drop_conn(
                token,
                &format!("peer pid {pid} is not the init of any registered container"),
            );
            return;
        };
        let old = self
            .inits
            .get_mut(&member)
            .and_then(|i| i.conn.replace(token));
        if let Some(old) = old.filter(|o| *o != token) {
            self.drop_conn(old, "the init connected again");
            if let Some(i) = self.inits.get_mut(&member) {
                i.conn = Some(token);
            }
        }
        if let Some(c) = self.conns.get_mut(&token) {
            c.container = Some(member.clone());
        }
        let Some(engine) = self.pods.get(&member.pod).map(|p| &p.engine) else {
            return;
        };
        // This container's status only: the pod's would cost O(containers) per hello.
        let status = engine.container_status(&member.name);
        let Some(plan) = engine.plan(&member.name) else {
            return;
        };
        let name = member.name.clone();
        self.send_bytes(
            token,
            &proto::encode(&SupervisorMessage::Welcome {
                name: name.clone(),
                plan: Box::new(plan),
            }),
        );
        let outbox = self
            .inits
            .get_mut(&member)
            .map(|i| {
                i.spoke = true;
                i.fallback_at = None;
                std::mem::take(&mut i.outbox)
            })
            .unwrap_or_default();
        // Only signals queued (they waited for this reconnect, `delivery.rs`): the init still
        // needs to hear where its container stands first.
        let only_signals = outbox.iter().all(|m| {
            matches!(
                m,
                SupervisorMessage::Signal { .. } | SupervisorMessage::Kill
            )
        });
        if only_signals {
            // A reconnect (or a restarted supervisor): tell the init where its container stands.
            if let Some(c) = status {
                match c.state {
                    // BackOff: the engine's restart timer sends Restart when the delay is over.
                    ContainerState::Running => {
                        self.send_bytes(token, &proto::encode(&SupervisorMessage::Release));
                    }
                    ContainerState::Terminated => {
                        let code = c.exit_code.unwrap_or(engine::NEVER_STARTED_EXIT_CODE);
                        self.send_bytes(
                            token,
                            // Its stop ended before this connection: no grace is left.
                            &proto::encode(&SupervisorMessage::Finish {
                                exit_code: code,
                                leftover_grace_ms: None,
                            }),
                        );
                    }
                    ContainerState::Waiting
                    | ContainerState::Expected
                    | ContainerState::BackOff => {}
                }
            }
        }
        for m in outbox {
            self.send_bytes(token, &proto::encode(&m));
        }
        log_info!("supervise: {member} connected (pid {pid})");
    }

    /// Journal an input in its pod, hand it to the pod's engine, carry out what it decides.
    fn feed(&mut self, key: &PodKey, event: Event) {
        let now = monotonic_now();
        let Some(pod) = self.pods.get_mut(key) else {
            log_debug!("supervise: pod {key} is gone; dropped {event:?}");
            return;
        };
        let actions = pod.handle_event(now, event);
        self.execute(key, actions);
    }

    fn send_to(&mut self, member: &Member, msg: SupervisorMessage) {
        let Some(init) = self.inits.get_mut(member) else {
            log_warn!("supervise: no init for {member}; dropped {msg:?}");
            return;
        };
        match init.conn {
            Some(token) => {
                let bytes = proto::encode(&msg);
                self.send_bytes(token, &bytes);
            }
            None => init.outbox.push(msg),
        }
    }

    fn execute(&mut self, key: &PodKey, actions: Vec<Action>) {
        let member = |name: String| Member {
            pod: key.clone(),
            name,
        };
        for action in actions {
            log_debug!("supervise: pod {key}: {action:?}");
            match action {
                Action::ReleaseGate { name } => {
                    self.send_to(&member(name), SupervisorMessage::Release)
                }
                Action::Restart { name } => self.send_to(&member(name), SupervisorMessage::Restart),
                Action::RunHandler { name, handler } => {
                    self.send_to(&member(name), SupervisorMessage::RunHandler { handler })
                }
                Action::StartProbes { name } => {
                    self.send_to(&member(name), SupervisorMessage::StartProbes)
                }
                Action::Teardown { name, report } => {
                    self.send_to(&member(name), SupervisorMessage::Teardown { report })
                }
                Action::StopProbes {
                    name,
                    keep_readiness,
                } => self.send_to(
                    &member(name),
                    SupervisorMessage::StopProbes { keep_readiness },
                ),
                Action::Signal { name, signal } => self.signal(&member(name), signal.number()),
                Action::Kill { name } => self.signal(&member(name), libc::SIGKILL),
                Action::Finish {
                    name,
                    exit_code,
                    leftover_grace,
                } => self.send_to(
                    &member(name),
                    SupervisorMessage::Finish {
                        exit_code,
                        leftover_grace_ms: Some(leftover_grace.as_millis() as u64),
                    },
                ),
                Action::StatusChanged => {
                    if let Some(p) = self.pods.get_mut(key) {
                        p.status_dirty = true;
                    }
                }
                Action::PodFinished { phase } => self.finish_pod(key, phase),
            }
        }
    }

    /// Every container of the pod is gone: journal the end, keep its status, forget it.
    fn finish_pod(&mut self, key: &PodKey, phase: Phase) {
        let Some(mut pod) = self.pods.remove(key) else {
            return;
        };
        log_info!("supervise: pod {key} finished: {phase:?}");
        pod.finish(phase, self.clock);
        self.drop_unclaimed(key);
        if !pod.is_on_disk() {
            self.retiring.push(pod);
        }
        let members: Vec<Member> = self
            .inits
            .keys()
            .filter(|m| m.pod == *key)
            .cloned()
            .collect();
        for m in members {
            if let Some(init) = self.inits.remove(&m) {
                self.forget_init(init);
            }
        }
        self.layout
            .prune(MAX_FINISHED_PODS, &|k| self.pods.contains_key(k));
        // Reported now, unless it is the result a `--exit-with-pod` supervisor exits with: that
        // one is marked as the last step before the exit (`run`).
        if !(self.exit_with_pod && self.first_result.is_none()) {
            Pod::result_reported(&self.layout.pod_dir(key));
        }
        if self.first_result.is_none() {
            self.first_result = Some((key.clone(), proto::phase_exit_code(phase)));
            if self.exit_with_pod {
                if !self.pods.is_empty() {
                    log_warn!(
                        "supervise: --exit-with-pod: the first pod finished; deleting the {} other pod(s) before exiting",
                        self.pods.len()
                    );
                }
                self.shut_down(None);
            }
        }
        self.exit_when_done();
    }
}
