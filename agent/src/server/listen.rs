use std::fmt;
use std::net::SocketAddr;
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
        value
            .parse()
            .map(Self::Tcp)
            .map_err(|_| format!("{value:?} is neither HOST:PORT (an IP address and port) nor unix:PATH"))
    }
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
        assert!(!"0.0.0.0:50051".parse::<ListenAddr>().expect("any").is_local());
        assert!("[::1]:50051".parse::<ListenAddr>().expect("v6").is_local());
        assert_eq!("unix:/tmp/a.sock".parse::<ListenAddr>(), Ok(ListenAddr::Unix("/tmp/a.sock".into())));
        assert!("unix:".parse::<ListenAddr>().is_err());
        assert!("localhost:50051".parse::<ListenAddr>().is_err());
    }
}
