//! Probes and lifecycle handlers, run inside the container by its init. Each one is a child
//! process that exits 0 (success) or 1, so the init learns results the way it learns everything
//! else: by reaping. Exec actions are the command itself, with the container's credentials; TCP
//! and HTTP checks are a forked copy of the init doing one connection through the container's
//! network namespace; a sleep is a timer in the init.

use std::ffi::OsString;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::spawn::{self, ChildSetup, Prepared};
use crate::plan::{Handler, HttpGet, ProbeAction};

pub enum Started {
    /// A child process; its exit status is the result.
    Child(libc::pid_t),
    /// A sleep: the result is success once this much time has passed.
    Sleep(Duration),
    /// Could not even start: the result is failure.
    Failed(String),
}

pub fn start_probe(action: &ProbeAction, timeout: Duration, setup: &ChildSetup) -> Started {
    match action {
        ProbeAction::Exec { command } => exec(command, setup),
        ProbeAction::TcpSocket { host, port } => {
            let host = host.clone().unwrap_or_else(|| "127.0.0.1".into());
            let port = *port;
            fork_check(move || tcp(&host, port, timeout))
        }
        ProbeAction::HttpGet(h) => {
            let h = h.clone();
            fork_check(move || http(&h, timeout))
        }
    }
}

pub fn start_handler(handler: &Handler, setup: &ChildSetup) -> Started {
    match handler {
        Handler::Exec { command } => exec(command, setup),
        Handler::HttpGet(h) => {
            let h = h.clone();
            fork_check(move || http(&h, Duration::from_secs(10)))
        }
        Handler::Sleep { seconds } => Started::Sleep(Duration::from_secs(*seconds)),
    }
}

fn exec(command: &[String], setup: &ChildSetup) -> Started {
    let argv: Vec<OsString> = command.iter().map(OsString::from).collect();
    let path = std::env::var_os("PATH");
    match Prepared::new(&argv, path.as_deref()).and_then(|p| spawn::spawn(&p, setup)) {
        Ok(pid) => Started::Child(pid),
        Err(e) => Started::Failed(e.to_string()),
    }
}

/// Run `check` in a forked child that exits 0 or 1.
fn fork_check(check: impl FnOnce() -> bool) -> Started {
    // SAFETY: the init is single-threaded, so the child may allocate and use std freely; it
    // leaves only through _exit, never returning into the init's code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let ok = check();
            // SAFETY: _exit ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => Started::Child(child.as_raw()),
        Err(e) => Started::Failed(format!("fork: {}", e.desc())),
    }
}

fn connect(host: &str, port: u16, timeout: Duration) -> Option<TcpStream> {
    let addrs = (host, port).to_socket_addrs().ok()?;
    addrs
        .into_iter()
        .find_map(|a| TcpStream::connect_timeout(&a, timeout).ok())
}

pub fn tcp(host: &str, port: u16, timeout: Duration) -> bool {
    connect(host, port, timeout).is_some()
}

/// Kubernetes: a status from 200 to 399 is success; local redirects are followed
/// (`http_probe.rs`).
pub fn http(h: &HttpGet, timeout: Duration) -> bool {
    super::http_probe::get(h, timeout, connect)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn tcp_and_http_against_a_local_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = c.read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("GET /healthz HTTP/1.1"));
            c.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        });
        let h = HttpGet {
            host: None,
            port,
            path: "/healthz".into(),
            headers: vec![],
        };
        assert!(http(&h, Duration::from_secs(2)));
        server.join().unwrap();
        assert!(
            !tcp("127.0.0.1", port, Duration::from_millis(200)),
            "listener closed"
        );
    }
}
