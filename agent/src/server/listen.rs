use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

/// Where the agent accepts calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl ListenAddr {
    /// The listener when none is given: [`nsfleet_proto::DEFAULT_AGENT_SOCKET`].
    pub fn default_socket() -> Self {
        Self::Unix(PathBuf::from(nsfleet_proto::DEFAULT_AGENT_SOCKET))
    }

    /// Loopback and unix sockets are reachable only from this host; anything else is the network.
    pub fn is_local(&self) -> bool {
        match self {
            Self::Tcp(addr) => addr.ip().is_loopback(),
            Self::Unix(_) => true,
        }
    }
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if let Some(path) = value.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a path, e.g. unix:/run/nsfleet/agent.sock".into());
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if let Some(port) = localhost_port(value) {
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("{value:?}: {port:?} is not a port number"))?;
            return Ok(Self::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, port))));
        }
        value.parse().map(Self::Tcp).map_err(|_| {
            format!("{value:?} is neither IP:PORT, [IPV6]:PORT, localhost:PORT nor unix:PATH (other host names are not resolved)")
        })
    }
}

/// The port of `localhost:PORT`. `localhost` is loopback by definition (RFC 6761), so it needs no
/// resolver, and /etc/hosts cannot turn it into an exposed address. It is the IPv4 loopback: one
/// `--listen` is one socket, every host has 127.0.0.1 (IPv6 may be disabled), and it is the client's
/// default host. `--listen '[::1]:PORT'` adds IPv6. Other names are refused rather than resolved: what a
/// name resolves to can change between starts, and where a root API listens should not.
fn localhost_port(value: &str) -> Option<&str> {
    let (host, port) = value.rsplit_once(':')?;
    host.eq_ignore_ascii_case("localhost").then_some(port)
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_and_unix_and_knows_what_is_local() {
        let tcp: ListenAddr = "127.0.0.1:50051".parse().expect("tcp");
        assert!(tcp.is_local());
        assert!(!"0.0.0.0:50051"
            .parse::<ListenAddr>()
            .expect("any")
            .is_local());
        assert!("[::1]:50051".parse::<ListenAddr>().expect("v6").is_local());
        assert_eq!(
            "unix:/tmp/a.sock".parse::<ListenAddr>(),
            Ok(ListenAddr::Unix("/tmp/a.sock".into()))
        );
        assert!("unix:".parse::<ListenAddr>().is_err());
    }

    #[test]
    fn localhost_is_the_ipv4_loopback_and_other_names_are_refused() {
        let localhost: ListenAddr = "localhost:50051".parse().expect("localhost");
        assert_eq!(
            localhost,
            ListenAddr::Tcp("127.0.0.1:50051".parse().expect("addr"))
        );
        assert!(localhost.is_local());
        assert!("LocalHost:7"
            .parse::<ListenAddr>()
            .expect("any case")
            .is_local());
        assert!("localhost:http".parse::<ListenAddr>().is_err());
        assert!("localhost:65536".parse::<ListenAddr>().is_err());
        assert!("localhost".parse::<ListenAddr>().is_err());
        let error = "example.com:50051".parse::<ListenAddr>().unwrap_err();
        assert!(error.contains("not resolved"), "{error}");
    }
}
