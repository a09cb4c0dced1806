//! A probe's host to addresses, without `getaddrinfo`: an IP literal, `localhost`, or a name
//! from the container's `/etc/hosts`. Nothing else is looked up.
//!
//! Why: `ToSocketAddrs` on a name calls glibc's `getaddrinfo`, which is ~200 KB of the static
//! binary (NSS, the DNS stub resolver) on a path that, in a pod, only ever sees the pod's own
//! addresses (Kubernetes' default host is the pod IP; `localhost` and `/etc/hosts` cover the
//! rest). A DNS name is refused with a message that says so, rather than resolved half-way.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where the names come from inside the container.
pub const HOSTS_FILE: &str = "/etc/hosts";

/// A hosts file larger than this is not read (a pod's is a few lines).
const HOSTS_MAX: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Not an IP literal, not `localhost`, not in the hosts file.
    NotLocal { host: String },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::NotLocal { host } => write!(
                f,
                "probe host {host:?} is not an IP address, localhost or an {HOSTS_FILE} entry: \
                 podinit does not resolve DNS names (use an IP address, or omit host for the \
                 pod IP)"
            ),
        }
    }
}

/// The addresses to try for `host:port`, in order, reading the hosts file only for a name.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    resolve_with(host, port, || read_hosts(HOSTS_FILE))
}

/// [`resolve`] with the hosts file's text from `hosts` (called only for a name).
pub fn resolve_with(
    host: &str,
    port: u16,
    hosts: impl FnOnce() -> Option<String>,
) -> Result<Vec<SocketAddr>, ResolveError> {
    let to_addrs = |ips: Vec<IpAddr>| {
        ips.into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect()
    };
    if let Some(ip) = ip_literal(host) {
        return Ok(to_addrs(vec![ip]));
    }
    if !is_hostname(host) {
        return Err(ResolveError::NotLocal { host: host.into() });
    }
    let found = hosts().map(|text| lookup(&text, host)).unwrap_or_default();
    if !found.is_empty() {
        return Ok(to_addrs(found));
    }
    if host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost.") {
        return Ok(to_addrs(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]));
    }
    Err(ResolveError::NotLocal { host: host.into() })
}

/// `10.0.0.1`, `::1` or `[::1]`.
fn ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) if bare.len() != host.len() => None, // `[1.2.3.4]` is no literal
        Ok(ip) => Some(ip),
        Err(_) => None,
    }
}

/// Letters, digits, `-`, `_` and dots, at most 253 bytes: what a hosts file can name.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Every address the hosts file gives `name` (case-insensitive, as the resolver compares), in
/// file order, without repeats. A line is `ADDRESS NAME [ALIAS]...`, `#` starts a comment; a
/// line whose address does not parse is skipped, as glibc's files backend does.
pub fn lookup(hosts: &str, name: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_ascii_whitespace();
        let Some(ip) = words.next().and_then(|a| a.parse::<IpAddr>().ok()) else {
            continue;
        };
        if words.any(|w| w.eq_ignore_ascii_case(name)) && !found.contains(&ip) {
            found.push(ip);
        }
    }
    found
}

fn read_hosts(path: &str) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(HOSTS_MAX)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const HOSTS: &str = "# comment line\n\
        127.0.0.1\tlocalhost\n\
        ::1 localhost ip6-localhost ip6-loopback\n\
        10.1.2.3   pod-7  pod-7.ns.svc.cluster.local # the pod\n\
        not-an-ip  broken\n\
        10.9.9.9\n\
        10.1.2.4 POD-8\n\
        10.1.2.3 pod-7\n\
        fe80::1%eth0 scoped\n";

    fn ips(v: &[&str]) -> Vec<IpAddr> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[rstest]
    #[case::literal_v4("10.0.0.1", &["10.0.0.1"])]
    #[case::literal_v6("::1", &["::1"])]
    #[case::bracketed_v6("[fd00::2]", &["fd00::2"])]
    #[case::hosts_entry_all_lines_no_repeats("pod-7", &["10.1.2.3"])]
    #[case::hosts_alias("pod-7.ns.svc.cluster.local", &["10.1.2.3"])]
    #[case::hosts_names_ignore_case("pod-8", &["10.1.2.4"])]
    #[case::localhost_from_the_file_both_families("localhost", &["127.0.0.1", "::1"])]
    #[case::localhost_any_case("LocalHost", &["127.0.0.1", "::1"])]
    fn resolves_literals_localhost_and_hosts_entries(#[case] host: &str, #[case] want: &[&str]) {
        let got = resolve_with(host, 80, || Some(HOSTS.into())).unwrap();
        let want: Vec<SocketAddr> = ips(want).into_iter().map(|ip| (ip, 80).into()).collect();
        assert_eq!(got, want);
    }

    #[rstest]
    #[case::dns_name("example.com")]
    #[case::service_name("my-svc.default.svc")]
    #[case::line_without_a_valid_address("broken")]
    #[case::empty("")]
    #[case::bracketed_v4("[10.0.0.1]")]
    #[case::unterminated_bracket("[::1")]
    #[case::space("pod 7")]
    #[case::newline("pod-7\nlocalhost")]
    #[case::comment_marker("#")]
    #[case::nul("pod-7\0")]
    #[case::scoped_v6_name("scoped")]
    #[case::too_long(&"a".repeat(254))]
    #[case::non_ascii("pöd")]
    fn refuses_everything_else(#[case] host: &str) {
        let err = resolve_with(host, 1, || Some(HOSTS.into())).unwrap_err();
        assert!(
            err.to_string().contains("does not resolve DNS names"),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("{host:?}")), "{err}");
    }

    #[test]
    fn localhost_without_a_hosts_file_is_loopback() {
        let got = resolve_with("localhost", 8080, || None).unwrap();
        assert_eq!(
            got,
            vec![
                SocketAddr::from(([127, 0, 0, 1], 8080)),
                SocketAddr::from((Ipv6Addr::LOCALHOST, 8080)),
            ]
        );
        assert!(resolve_with("pod-7", 1, || None).is_err());
    }

    #[test]
    fn a_literal_never_reads_the_hosts_file() {
        let got = resolve_with("192.168.0.1", 1, || panic!("read the hosts file"));
        assert!(got.is_ok());
    }

    #[test]
    fn hostile_hosts_files_give_nothing_or_the_valid_lines() {
        let hostile = [
            "\0\0\0".to_string(),
            "127.0.0.1".repeat(10_000),
            "300.1.1.1 big\n1.2.3.4\u{0} nul\n".into(),
            "\u{feff}1.2.3.4 bom\n".into(),
            " \t \r\n\r\n#####\n".into(),
            format!("1.2.3.4 {}\n", "x ".repeat(50_000)),
        ];
        for text in &hostile {
            for name in ["big", "nul", "bom", "x", "localhost"] {
                let _ = lookup(text, name);
            }
        }
        assert!(lookup(&hostile[2], "big").is_empty());
        assert!(lookup(&hostile[3], "bom").is_empty());
        assert_eq!(lookup(&hostile[5], "x"), ips(&["1.2.3.4"]));
        assert_eq!(lookup("1.2.3.4 a\r\n", "a"), ips(&["1.2.3.4"]));
    }
}
