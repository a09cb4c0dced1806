//! `podinit supervise`: the pod's PID-1 supervisor. One thread, one epoll loop over a signalfd,
//! the two listening sockets, the client connections and a pidfd per container init; the epoll
//! timeout is the engine's next deadline, so nothing polls. It feeds the engine and carries out
//! its actions: who gets SIGTERM is decided in `engine/teardown.rs`, and sent from here
//! ([`Supervisor::execute`]) to the container's init.

mod conn;
mod journal;
mod status_file;

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use crate::engine::{self, Action, ContainerState, Engine, Event};
use crate::proto::{self, ControlReply, ControlRequest, InitMessage, SupervisorMessage};
use crate::sys::pidfd;
use crate::{log_debug, log_error, log_info, log_warn};
use conn::{Conn, ConnError, Side};
use journal::{Journal, Record};
use status_file::Clock;

pub use status_file::rfc3339;

pub struct Options {
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub engine: engine::Config,
}

const TOKEN_SIGNAL: u64 = 0;
const TOKEN_CONTROL: u64 = 1;
const TOKEN_INIT: u64 = 2;
const FIRST_DYNAMIC_TOKEN: u64 = 16;

/// A registered container's init, as the supervisor tracks it.
struct Init {
    id: String,
    pid: i32,
    pidfd: Option<OwnedFd>,
    pidfd_token: u64,
    conn: Option<u64>,
    /// Commands for an init that has not connected yet.
    outbox: Vec<SupervisorMessage>,
}

pub struct Supervisor {
    engine: Engine,
    epoll: Epoll,
    signals: SignalFd,
    control: UnixListener,
    init_listener: UnixListener,
    conns: HashMap<u64, Conn>,
    pidfd_tokens: HashMap<u64, String>,
    inits: HashMap<String, Init>,
    next_token: u64,
    journal: Journal,
    clock: Clock,
    state_dir: PathBuf,
    socket: PathBuf,
    init_socket: PathBuf,
    exit_code: Option<i32>,
    /// The engine's status changed since status.json was last written. Written once per loop
    /// iteration, after every ready event was handled and every message sent: one write per
    /// event made a 64-container teardown O(containers²) and delayed the next event (the
    /// teardown reaction reached 67 ms; BENCHMARKS.md, "Pod level").
    status_dirty: bool,
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

/// The process start time (field 22 of /proc/PID/stat): a pid plus this names one process.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = stat.rsplit_once(')')?.1;
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

impl Supervisor {
    fn start(opts: Options) -> std::io::Result<Self> {
        std::fs::create_dir_all(&opts.state_dir)?;
        // Containers get only the sock/ directory, read-only; the rest stays the supervisor's.
        std::fs::set_permissions(&opts.state_dir, std::fs::Permissions::from_mode(0o755))?;
        if std::process::id() != 1 {
            // Orphans of the pod end up here, not on the host's init.
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
        std::fs::create_dir_all(&sock_dir)?;
        std::fs::set_permissions(&sock_dir, std::fs::Permissions::from_mode(0o755))?;
        let init_socket = sock_dir.join(proto::INIT_SOCKET_NAME);
        // Any container may connect; what it may do is decided by its peer pid.
        let init_listener = listen(&init_socket, 0o666)?;
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
        let (journal, records) = Journal::open(&opts.state_dir)?;
        let now = monotonic_now();
        let mut s = Self {
            engine: Engine::new(opts.engine),
            epoll,
            signals,
            control,
            init_listener,
            conns: HashMap::new(),
            pidfd_tokens: HashMap::new(),
            inits: HashMap::new(),
            next_token: FIRST_DYNAMIC_TOKEN,
            journal,
            clock: Clock::new(now),
            state_dir: opts.state_dir,
            socket: opts.socket,
            init_socket,
            exit_code: None,
            status_dirty: false,
        };
        if !records.is_empty() {
            s.replay(records);
        }
        // Everything that needed privileges (sockets, state dir, subreaper) is done.
        if nix::unistd::geteuid().is_root() {
            if let Err(e) = crate::sys::privileges::keep_only(&[caps::Capability::CAP_KILL]) {
                log_warn!("supervise: cannot drop capabilities: {e}");
            }
        }
        log_info!(
            "supervise: listening on {} (control) and {} (containers)",
            s.socket.display(),
            s.init_socket.display()
        );
        Ok(s)
    }

    /// Carry on with the pod a previous supervisor left in the journal.
    fn replay(&mut self, records: Vec<Record>) {
        let mut pids: Vec<(String, String, i32, Option<u64>)> = Vec::new();
        let mut count = 0usize;
        for r in records {
            match r {
                Record::Init {
                    name,
                    id,
                    pid,
                    bundle: _,
                    start_time,
                } => pids.push((name, id, pid, start_time)),
                Record::Input { t_ms, event } => {
                    let t = Duration::from_millis(t_ms);
                    // Timers that fired before this input fire again here, so the state is the same.
                    while let Some(due) = self.engine.poll_timeout().filter(|d| *d <= t) {
                        self.engine.handle_timeout(due);
                    }
                    self.engine.handle_event(t, event);
                    count += 1;
                }
            }
        }
        log_info!(
            "supervise: resumed the pod from the journal ({count} inputs, {} containers)",
            pids.len()
        );
        let mut gone = Vec::new();
        for (name, id, pid, started) in pids {
            let alive = start_time(pid).is_some() && start_time(pid) == started;
            let fd = if alive { pidfd::open(pid).ok() } else { None };
            if fd.is_none() {
                gone.push(name.clone());
            }
            self.track_init(name, id, pid, fd);
        }
        for name in gone {
            self.feed(Event::Gone { name });
        }
        let now = monotonic_now();
        let actions = self.engine.handle_timeout(now);
        self.execute(actions);
        self.write_status();
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn track_init(&mut self, name: String, id: String, pid: i32, fd: Option<OwnedFd>) {
        let token = self.token();
        if let Some(fd) = &fd {
            if let Err(e) = self
                .epoll
                .add(fd.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, token))
            {
                log_error!("supervise: cannot watch the init of {name}: {e}");
            }
            self.pidfd_tokens.insert(token, name.clone());
        }
        let old = self.inits.insert(
            name,
            Init {
                id,
                pid,
                pidfd: fd,
                pidfd_token: token,
                conn: None,
                outbox: Vec::new(),
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

    fn run(&mut self) -> i32 {
        let mut events = vec![EpollEvent::empty(); 64];
        loop {
            if let Some(code) = self.exit_code {
                self.cleanup();
                return code;
            }
            let timeout = match self.engine.poll_timeout() {
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
            for ev in events.iter().take(n).copied().collect::<Vec<_>>() {
                self.dispatch(ev.data(), ev.events());
            }
            if n == 0
                || self
                    .engine
                    .poll_timeout()
                    .is_some_and(|d| d <= monotonic_now())
            {
                let actions = self.engine.handle_timeout(monotonic_now());
                self.execute(actions);
            }
            if self.status_dirty {
                self.write_status();
            }
        }
    }

    fn cleanup(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(&self.init_socket);
    }

    fn dispatch(&mut self, token: u64, flags: EpollFlags) {
        match token {
            TOKEN_SIGNAL => self.on_signals(),
            TOKEN_CONTROL => self.accept(Side::Control),
            TOKEN_INIT => self.accept(Side::Init),
            t if self.pidfd_tokens.contains_key(&t) => {
                let name = self.pidfd_tokens[&t].clone();
                self.on_init_gone(&name);
            }
            t => self.on_conn(t, flags),
        }
    }

    fn on_signals(&mut self) {
        while let Ok(Some(info)) = self.signals.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) => {
                    log_info!("supervise: signal {}: deleting the pod", info.ssi_signo);
                    self.feed(Event::StopRequested { grace: None });
                }
                Ok(Signal::SIGCHLD) => {
                    // As PID 1 or subreaper, orphans of the pod are ours to reap; their exit
                    // codes reach the engine through the container's init, not from here.
                    while let Ok(Some(_)) = crate::sys::wait::wait_nohang(-1) {}
                }
                _ => {}
            }
        }
    }

    fn on_init_gone(&mut self, name: &str) {
        if let Some(init) = self.inits.get_mut(name) {
            if let Some(fd) = init.pidfd.take() {
                let _ = self.epoll.delete(fd.as_fd());
            }
            self.pidfd_tokens.remove(&init.pidfd_token);
            if let Some(c) = init.conn.take() {
                self.drop_conn(c, "its container is gone");
            }
        }
        self.feed(Event::Gone {
            name: name.to_owned(),
        });
    }

    fn accept(&mut self, side: Side) {
        loop {
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
            if self.conns.len() >= conn::MAX_CONNECTIONS {
                self.evict_one();
            }
            let token = self.token();
            let conn = match Conn::new(stream, side, token) {
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
        }
    }

    /// At the connection limit: drop the oldest connection that has not identified itself.
    fn evict_one(&mut self) {
        let victim = self
            .conns
            .iter()
            .filter(|(_, c)| c.container.is_none())
            .min_by_key(|(_, c)| c.serial)
            .map(|(t, _)| *t);
        if let Some(t) = victim {
            self.drop_conn(
                t,
                "connection limit reached; oldest unidentified connection dropped",
            );
        }
    }

    fn drop_conn(&mut self, token: u64, why: &str) {
        if let Some(conn) = self.conns.remove(&token) {
            let _ = self.epoll.delete(conn.stream.as_fd());
            if let Some(name) = &conn.container {
                if let Some(init) = self.inits.get_mut(name) {
                    if init.conn == Some(token) {
                        init.conn = None;
                    }
                }
                log_info!("supervise: connection of {name} closed: {why}");
            } else {
                log_debug!("supervise: connection closed: {why}");
            }
        }
    }

    fn on_conn(&mut self, token: u64, flags: EpollFlags) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if flags.contains(EpollFlags::EPOLLOUT) {
            if let Err(e) = conn.flush() {
                let why = e.to_string();
                self.drop_conn(token, &why);
                return;
            }
            self.update_interest(token);
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
            self.drop_conn(token, &why);
        }
    }

    fn update_interest(&mut self, token: u64) {
        if let Some(conn) = self.conns.get(&token) {
            let flags = if conn.wants_write() {
                EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT
            } else {
                EpollFlags::EPOLLIN
            };
            let mut ev = EpollEvent::new(flags, token);
            let _ = self.epoll.modify(conn.stream.as_fd(), &mut ev);
        }
    }

    fn send_bytes(&mut self, token: u64, bytes: &[u8]) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if let Err(e) = conn.queue(bytes) {
            let why = e.to_string();
            self.drop_conn(token, &why);
            return;
        }
        self.update_interest(token);
    }

    fn reply(&mut self, token: u64, reply: ControlReply) {
        let bytes = proto::encode(&reply);
        self.send_bytes(token, &bytes);
    }

    fn on_control_line(&mut self, token: u64, line: &[u8]) {
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
            self.reply(
                token,
                ControlReply {
                    ok: false,
                    error: Some("permission denied".into()),
                    status: None,
                },
            );
            self.drop_conn(token, "control peer is not root");
            return;
        }
        let req: ControlRequest = match proto::decode(line) {
            Ok(r) => r,
            Err(e) => {
                self.reply(
                    token,
                    ControlReply {
                        ok: false,
                        error: Some(e.to_string()),
                        status: None,
                    },
                );
                self.drop_conn(token, &e.to_string());
                return;
            }
        };
        let reply = match req {
            ControlRequest::Register {
                id,
                pid,
                bundle,
                plan,
                pod,
            } => self.register(id, pid, bundle, plan, pod),
            ControlRequest::Poststart { id } => {
                log_debug!("supervise: poststart of {id}");
                Ok(())
            }
            ControlRequest::Poststop { id } => {
                let name = self
                    .inits
                    .iter()
                    .find(|(_, i)| i.id == id)
                    .map(|(n, _)| n.clone());
                if let Some(name) = name {
                    self.on_init_gone(&name);
                }
                Ok(())
            }
            ControlRequest::Status => {
                let doc = status_file::to_json(&self.engine.status(), self.clock);
                self.reply(
                    token,
                    ControlReply {
                        ok: true,
                        error: None,
                        status: Some(doc),
                    },
                );
                return;
            }
            ControlRequest::Stop { grace_seconds } => {
                self.feed(Event::StopRequested {
                    grace: grace_seconds.map(Duration::from_secs),
                });
                Ok(())
            }
        };
        let reply = match reply {
            Ok(()) => ControlReply {
                ok: true,
                error: None,
                status: None,
            },
            Err(e) => ControlReply {
                ok: false,
                error: Some(e),
                status: None,
            },
        };
        self.reply(token, reply);
    }

    fn register(
        &mut self,
        id: String,
        pid: i32,
        bundle: String,
        plan: Box<crate::plan::ContainerPlan>,
        pod: crate::plan::PodDeclaration,
    ) -> Result<(), String> {
        let name = plan.name.clone();
        if let Some(existing) = self.inits.get(&name) {
            if existing.id == id && existing.pid == pid {
                return Ok(()); // the hook ran twice
            }
        }
        if pid <= 0 {
            return Err(format!(
                "container {name} ({id}): the runtime gave no init pid; cannot supervise it"
            ));
        }
        let fd = pidfd::open(pid)
            .map_err(|e| format!("container {name} ({id}): cannot watch init pid {pid}: {e}"))?;
        let started = start_time(pid);
        self.journal.append(&Record::Init {
            name: name.clone(),
            id: id.clone(),
            pid,
            bundle,
            start_time: started,
        });
        self.track_init(name, id.clone(), pid, Some(fd));
        self.feed(Event::Registered { id, plan, pod });
        Ok(())
    }

    fn on_init_line(&mut self, token: u64, line: &[u8]) {
        let msg: InitMessage = match proto::decode(line) {
            Ok(m) => m,
            Err(e) => {
                self.drop_conn(token, &format!("protocol error: {e}"));
                return;
            }
        };
        let bound = self.conns.get(&token).and_then(|c| c.container.clone());
        let Some(name) = bound else {
            if msg == InitMessage::Hello {
                self.hello(token);
            } else {
                self.drop_conn(token, "first message was not hello");
            }
            return;
        };
        let event = match msg {
            InitMessage::Hello => return,
            InitMessage::Started { pid: _ } => Event::ProcessStarted { name },
            InitMessage::Exited { status } => Event::ProcessExited { name, status },
            InitMessage::HandlerDone { handler, ok } => Event::HandlerDone { name, handler, ok },
            InitMessage::Probe { probe, ok } => Event::ProbeResult { name, probe, ok },
            InitMessage::AgentStop { signal } => Event::AgentStop { name, signal },
        };
        self.feed(event);
    }

    /// Identify an init by its peer pid: it acts for the container whose registered init it is,
    /// never for the container it claims to be.
    fn hello(&mut self, token: u64) {
        let Some(conn) = self.conns.get(&token) else {
            return;
        };
        let pid = match getsockopt(&conn.stream, PeerCredentials) {
            Ok(cred) => cred.pid(),
            Err(e) => {
                self.drop_conn(token, &format!("no peer credentials: {e}"));
                return;
            }
        };
        let Some(name) = self
            .inits
            .iter()
            .find(|(_, i)| i.pid == pid && i.pidfd.is_some())
            .map(|(n, _)| n.clone())
        else {
            self.drop_conn(
                token,
                &format!("peer pid {pid} is not the init of any registered container"),
            );
            return;
        };
        let old = self
            .inits
            .get_mut(&name)
            .and_then(|i| i.conn.replace(token));
        if let Some(old) = old.filter(|o| *o != token) {
            self.drop_conn(old, "the init connected again");
            if let Some(i) = self.inits.get_mut(&name) {
                i.conn = Some(token);
            }
        }
        if let Some(c) = self.conns.get_mut(&token) {
            c.container = Some(name.clone());
        }
        let status = self.engine.status();
        let Some(plan) = self.engine.plan(&name) else {
            return;
        };
        self.send_bytes(
            token,
            &proto::encode(&SupervisorMessage::Welcome {
                name: name.clone(),
                plan: Box::new(plan),
            }),
        );
        let outbox = self
            .inits
            .get_mut(&name)
            .map(|i| std::mem::take(&mut i.outbox))
            .unwrap_or_default();
        if outbox.is_empty() {
            // A reconnect (or a restarted supervisor): tell the init where its container stands.
            if let Some(c) = status.containers.iter().find(|c| c.name == name) {
                match c.state {
                    // BackOff: the engine's restart timer sends Restart when the delay is over.
                    ContainerState::Running => {
                        self.send_bytes(token, &proto::encode(&SupervisorMessage::Release));
                    }
                    ContainerState::Terminated => {
                        let code = c.exit_code.unwrap_or(engine::NEVER_STARTED_EXIT_CODE);
                        self.send_bytes(
                            token,
                            &proto::encode(&SupervisorMessage::Finish { exit_code: code }),
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
        log_info!("supervise: {name} connected (pid {pid})");
    }

    /// Journal an input, hand it to the engine, carry out what it decides.
    fn feed(&mut self, event: Event) {
        let now = monotonic_now();
        self.journal.append(&journal::input(now, &event));
        let actions = self.engine.handle_event(now, event);
        self.execute(actions);
    }

    fn send_to(&mut self, name: &str, msg: SupervisorMessage) {
        let Some(init) = self.inits.get_mut(name) else {
            log_warn!("supervise: no init for {name}; dropped {msg:?}");
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

    /// Signal a container: through its init when it is connected (so a stopped sidecar can
    /// report and exit 0), or straight to the init through its pidfd when it is not.
    fn signal(&mut self, name: &str, signal: i32) {
        let connected = self.inits.get(name).is_some_and(|i| i.conn.is_some());
        if connected {
            let msg = if signal == libc::SIGKILL {
                SupervisorMessage::Kill
            } else {
                SupervisorMessage::Signal { signal }
            };
            self.send_to(name, msg);
        } else if let Some(fd) = self.inits.get(name).and_then(|i| i.pidfd.as_ref()) {
            if let Err(e) = pidfd::send_signal(fd, signal) {
                log_warn!("supervise: cannot signal {name}: {e}");
            }
        }
    }

    fn execute(&mut self, actions: Vec<Action>) {
        for action in actions {
            log_debug!("supervise: {action:?}");
            match action {
                Action::ReleaseGate { name } => self.send_to(&name, SupervisorMessage::Release),
                Action::Restart { name } => self.send_to(&name, SupervisorMessage::Restart),
                Action::RunHandler { name, handler } => {
                    self.send_to(&name, SupervisorMessage::RunHandler { handler })
                }
                Action::StartProbes { name } => self.send_to(&name, SupervisorMessage::StartProbes),
                Action::StopProbes { name } => self.send_to(&name, SupervisorMessage::StopProbes),
                Action::Signal { name, signal } => self.signal(&name, signal),
                Action::Kill { name } => self.signal(&name, libc::SIGKILL),
                Action::Finish { name, exit_code } => {
                    self.send_to(&name, SupervisorMessage::Finish { exit_code })
                }
                Action::StatusChanged => self.status_dirty = true,
                Action::PodFinished { phase } => {
                    log_info!("supervise: pod finished: {phase:?}");
                    self.write_status();
                    self.exit_code = Some(proto::phase_exit_code(phase));
                }
            }
        }
    }

    fn write_status(&mut self) {
        self.status_dirty = false;
        let doc = status_file::to_json(&self.engine.status(), self.clock);
        if let Err(e) = status_file::write(&self.state_dir, &doc) {
            log_error!(
                "supervise: cannot write {}/status.json: {e}",
                self.state_dir.display()
            );
        }
    }
}
