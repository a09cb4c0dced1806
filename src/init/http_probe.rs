//! An httpGet probe or handler as the kubelet's prober does it (`pkg/probe/http`): a status
//! from 200 to 399 is success; a redirect to the same host name is followed (at most 10, then
//! failure), so a local redirect to a failing path fails; a redirect to another host is not
//! followed and counts as success (the kubelet's "Probe terminated redirects" warning, which
//! podinit logs). One deadline covers the request and every redirect. No TLS: a redirect to
//! `https` is not followed (success, with the same warning).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::plan::HttpGet;

const MAX_REDIRECTS: usize = 10;
/// The response head read at most: the status line and the headers up to `Location`.
const MAX_HEAD: usize = 16 * 1024;

/// Where a response leads.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    /// A same-host redirect: the next request's port and path.
    Follow {
        port: u16,
        path: String,
    },
    /// A redirect podinit does not follow: success, with why.
    Unfollowed(String),
}

/// Run the GET, following local redirects; `connect` opens the connection (the init's own
/// resolution rules).
pub fn get(
    h: &HttpGet,
    timeout: Duration,
    connect: impl Fn(&str, u16, Duration) -> Option<TcpStream>,
) -> bool {
    let host = h.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    let deadline = Instant::now() + timeout;
    let (mut port, mut path) = (h.port, h.path.clone());
    for _ in 0..=MAX_REDIRECTS {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let Some(head) = request(&host, port, &path, &h.headers, left, &connect) else {
            return false;
        };
        match outcome(&head, &host, port, &path) {
            Outcome::Success => return true,
            Outcome::Failure => return false,
            Outcome::Follow {
                port: p,
                path: next,
            } => (port, path) = (p, next),
            Outcome::Unfollowed(why) => {
                eprintln!("podinit: http probe {host}:{port}{path}: {why}; counted as success");
                return true;
            }
        }
    }
    eprintln!(
        "podinit: http probe {host}:{}{}: more than {MAX_REDIRECTS} redirects",
        h.port, h.path
    );
    false
}

fn request(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
    connect: &impl Fn(&str, u16, Duration) -> Option<TcpStream>,
) -> Option<Vec<u8>> {
    let mut s = connect(host, port, timeout)?;
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/podinit\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).ok()?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while head.len() < MAX_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(head)
}

/// What the response head `head` to `GET host:port path` means.
fn outcome(head: &[u8], host: &str, port: u16, path: &str) -> Outcome {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut status = lines.next().unwrap_or("").split_whitespace();
    let code = match (
        status.next(),
        status.next().and_then(|c| c.parse::<u16>().ok()),
    ) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => code,
        _ => return Outcome::Failure,
    };
    match code {
        200..=299 => Outcome::Success,
        300..=399 => {
            let location = lines.take_while(|l| !l.is_empty()).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("location")
                    .then(|| v.trim().to_owned())
            });
            match location {
                // The kubelet's client hands back a 3xx without Location as is: success.
                None => Outcome::Success,
                Some(loc) => redirect(&loc, host, port, path),
            }
        }
        _ => Outcome::Failure,
    }
}

/// Where `Location: loc` leads from `host:port path`.
fn redirect(loc: &str, host: &str, port: u16, path: &str) -> Outcome {
    if let Some(rest) = loc.strip_prefix("http://") {
        let (authority, p) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        // `name`, `name:port`, `[v6]` or `[v6]:port`.
        let (name, port_text) = match authority.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((name, rest)) => (name, rest.strip_prefix(':')),
                None => return Outcome::Unfollowed(format!("redirect to {loc:?}: bad host")),
            },
            None => match authority.rsplit_once(':') {
                Some((name, p)) => (name, Some(p)),
                None => (authority, None),
            },
        };
        let new_port = match port_text.map(str::parse::<u16>) {
            None => 80,
            Some(Ok(p)) => p,
            Some(Err(_)) => return Outcome::Unfollowed(format!("redirect to {loc:?}: bad port")),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !name.eq_ignore_ascii_case(host) {
            return Outcome::Unfollowed(format!("redirect to another host, {loc:?}, not followed"));
        }
        return Outcome::Follow {
            port: new_port,
            path: p.to_owned(),
        };
    }
    if loc.contains("://") || loc.starts_with("//") {
        return Outcome::Unfollowed(format!("redirect to {loc:?} not followed (http only)"));
    }
    let next = if loc.starts_with('/') {
        loc.to_owned()
    } else {
        // Relative to the current path's directory (RFC 3986 merge, without dot segments).
        let path = path.split(['?', '#']).next().unwrap_or("/");
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{loc}", if dir.is_empty() { "/" } else { dir })
    };
    Outcome::Follow { port, path: next }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn follow(port: u16, path: &str) -> Outcome {
        Outcome::Follow {
            port,
            path: path.into(),
        }
    }

    #[rstest]
    #[case(b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), Outcome::Success)]
    #[case(b"HTTP/1.0 204 x\r\n\r\n".as_slice(), Outcome::Success)]
    #[case(b"HTTP/1.1 404 Not Found\r\n\r\n".as_slice(), Outcome::Failure)]
    #[case(b"HTTP/1.1 500 x\r\n\r\n".as_slice(), Outcome::Failure)]
    #[case(b"HTTP/1.1 302 Found\r\n\r\n".as_slice(), Outcome::Success)]
    #[case(b"HTTP/1.1 302 Found\r\nLocation: /bad\r\n\r\n".as_slice(), follow(8080, "/bad"))]
    #[case(b"HTTP/1.1 301 x\r\nlocation:   next\r\n\r\n".as_slice(), follow(8080, "/a/next"))]
    #[case(b"HTTP/1.1 307 x\r\nLocation: http://127.0.0.1:9090/x?y=1\r\n\r\n".as_slice(), follow(9090, "/x?y=1"))]
    #[case(b"HTTP/1.1 307 x\r\nLocation: http://127.0.0.1\r\n\r\n".as_slice(), follow(80, "/"))]
    #[case(b"HTTP/1.1 307 x\r\nLocation: HTTP://127.0.0.1:1/z\r\n\r\n".as_slice(), Outcome::Unfollowed("redirect to \"HTTP://127.0.0.1:1/z\" not followed (http only)".into()))]
    #[case(b"garbage".as_slice(), Outcome::Failure)]
    #[case(b"".as_slice(), Outcome::Failure)]
    #[case(b"HTTP/1.1 abc\r\n".as_slice(), Outcome::Failure)]
    #[case(b"\xff\xfe HTTP/1.1 200".as_slice(), Outcome::Failure)]
    fn responses(#[case] head: &[u8], #[case] want: Outcome) {
        assert_eq!(outcome(head, "127.0.0.1", 8080, "/a/b?q"), want);
    }

    #[rstest]
    #[case("http://example.com/x")]
    #[case("http://localhost:8080/x")]
    #[case("https://127.0.0.1/x")]
    #[case("//example.com/x")]
    #[case("ftp://127.0.0.1/x")]
    #[case("http://127.0.0.1:99999/x")]
    #[case("http://[::1/x")]
    #[case("http://[::1]:8080/x")]
    fn other_hosts_and_schemes_are_not_followed(#[case] loc: &str) {
        assert!(
            matches!(redirect(loc, "127.0.0.1", 80, "/"), Outcome::Unfollowed(_)),
            "{loc}"
        );
    }

    /// A server answering each connection with the next canned response.
    fn serve(responses: Vec<&'static [u8]>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for r in responses {
                let (mut c, _) = l.accept().unwrap();
                let mut buf = [0u8; 1024];
                let n = c.read(&mut buf).unwrap();
                let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                seen.push(req.lines().next().unwrap_or("").to_owned());
                c.write_all(r).unwrap();
            }
            seen
        });
        (port, t)
    }

    fn probe(port: u16) -> HttpGet {
        HttpGet {
            host: None,
            port,
            path: "/healthz".into(),
            headers: vec![],
        }
    }

    fn connect(host: &str, port: u16, timeout: Duration) -> Option<TcpStream> {
        let addr = format!("{host}:{port}").parse().ok()?;
        TcpStream::connect_timeout(&addr, timeout).ok()
    }

    #[test]
    fn a_local_redirect_is_followed_to_its_status() {
        let (port, server) = serve(vec![
            b"HTTP/1.1 302 Found\r\nLocation: /bad\r\n\r\n",
            b"HTTP/1.1 500 Oops\r\n\r\n",
        ]);
        assert!(!get(&probe(port), Duration::from_secs(5), connect));
        assert_eq!(
            server.join().unwrap(),
            ["GET /healthz HTTP/1.1", "GET /bad HTTP/1.1"]
        );
    }

    #[test]
    fn a_redirect_to_another_host_is_success_without_following() {
        let (port, server) = serve(vec![
            b"HTTP/1.1 302 Found\r\nLocation: http://example.invalid/\r\n\r\n",
        ]);
        assert!(get(&probe(port), Duration::from_secs(5), connect));
        assert_eq!(server.join().unwrap().len(), 1);
    }

    #[test]
    fn a_redirect_loop_fails_after_ten() {
        let (port, server) = serve(vec![b"HTTP/1.1 302 Found\r\nLocation: /again\r\n\r\n"; 11]);
        assert!(!get(&probe(port), Duration::from_secs(5), connect));
        assert_eq!(server.join().unwrap().len(), 11);
    }
}
