//! Agent endpoints as the user writes them (`HOST:PORT`, `[IPV6]:PORT`, `unix:PATH`) and the gRPC
//! channels to them.

use std::{net::Ipv6Addr, time::Duration};

use tonic::{
    transport::{Channel, Endpoint},
    Code,
};

use crate::failure::{error_chain, format_seconds, HostFailure};

/// The agent's default port, used when an endpoint names only a host.
pub const DEFAULT_PORT: u16 = 50051;

/// One agent of the fleet: the endpoint as the user wrote it (the label in every output line) and how to
/// reach it.
#[derive(Debug, Clone)]
pub struct Host {
    pub label: String,
    endpoint: Endpoint,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("empty endpoint")]
    Empty,
    #[error("\"{0}\": unix: needs a socket path")]
    EmptyPath(String),
    #[error("\"{0}\": write IPv6 endpoints as [ADDRESS]:PORT")]
    BareIpv6(String),
    #[error("\"{endpoint}\": \"{port}\" is not a port number")]
    BadPort { endpoint: String, port: String },
    #[error("\"{0}\" is not HOST:PORT, [IPV6]:PORT or unix:PATH")]
    Malformed(String),
}

impl Host {
    pub fn parse(text: &str) -> Result<Self, EndpointError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(EndpointError::Empty);
        }
        let endpoint = match text.strip_prefix("unix:") {
            Some(path) => unix_endpoint(text, path)?,
            None => tcp_endpoint(text)?,
        };
        Ok(Self {
            label: text.to_owned(),
            endpoint,
        })
    }

    /// Connects, failing with UNAVAILABLE (and what went wrong) if the agent cannot be reached in time.
    pub async fn connect(&self, timeout: Duration) -> Result<Channel, HostFailure> {
        let endpoint = self.endpoint.clone().connect_timeout(timeout);
        match tokio::time::timeout(timeout, endpoint.connect()).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(error)) => {
                // tonic's own text ("transport error") says nothing; the causes say what happened.
                let cause = std::error::Error::source(&error)
                    .map_or_else(|| error.to_string(), error_chain);
                Err(HostFailure::new(
                    Code::Unavailable,
                    format!("cannot connect to {}: {cause}", self.label),
                ))
            }
            Err(_) => Err(HostFailure::new(
                Code::Unavailable,
                format!(
                    "cannot connect to {}: no connection within {} s",
                    self.label,
                    format_seconds(timeout)
                ),
            )),
        }
    }
}

fn unix_endpoint(text: &str, path: &str) -> Result<Endpoint, EndpointError> {
    // tonic connects over a UnixStream itself for "unix:" endpoints (and uses a placeholder authority).
    let path = path.strip_prefix("//").unwrap_or(path);
    if path.is_empty() {
        return Err(EndpointError::EmptyPath(text.to_owned()));
    }
    Endpoint::from_shared(format!("unix:{path}"))
        .map_err(|_| EndpointError::Malformed(text.to_owned()))
}

fn tcp_endpoint(text: &str) -> Result<Endpoint, EndpointError> {
    let authority = authority_with_port(text)?;
    Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|_| EndpointError::Malformed(text.to_owned()))
}

/// `HOST:PORT` as given; `HOST` or `[IPV6]` get the default port.
fn authority_with_port(text: &str) -> Result<String, EndpointError> {
    if text.parse::<Ipv6Addr>().is_ok() {
        return Err(EndpointError::BareIpv6(text.to_owned()));
    }
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (address, after) = rest
                .split_once(']')
                .ok_or_else(|| EndpointError::Malformed(text.to_owned()))?;
            if address.parse::<Ipv6Addr>().is_err() {
                return Err(EndpointError::Malformed(text.to_owned()));
            }
            match after {
                "" => (format!("[{address}]"), None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (format!("[{address}]"), Some(port)),
                    None => return Err(EndpointError::Malformed(text.to_owned())),
                },
            }
        }
        None => match text.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (text.to_owned(), None),
        },
    };
    let host_ok = !host.is_empty() && !host.contains(['/', '@', '?', '#', ' ']);
    if !host_ok {
        return Err(EndpointError::Malformed(text.to_owned()));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| EndpointError::BadPort {
                endpoint: text.to_owned(),
                port: port.to_owned(),
            })?,
    };
    Ok(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_authorities() {
        assert_eq!(
            authority_with_port("127.0.0.1:50051").unwrap(),
            "127.0.0.1:50051"
        );
        assert_eq!(
            authority_with_port("agent-7.lab:6000").unwrap(),
            "agent-7.lab:6000"
        );
        assert_eq!(authority_with_port("[::1]:50051").unwrap(), "[::1]:50051");
        assert_eq!(
            authority_with_port("[2001:db8::1]").unwrap(),
            "[2001:db8::1]:50051"
        );
        assert_eq!(authority_with_port("agent-7").unwrap(), "agent-7:50051");
    }

    #[test]
    fn bad_tcp_endpoints() {
        assert_eq!(
            authority_with_port("::1").unwrap_err(),
            EndpointError::BareIpv6("::1".into())
        );
        assert!(matches!(
            authority_with_port("host:http"),
            Err(EndpointError::BadPort { .. })
        ));
        assert!(matches!(
            authority_with_port("host:0"),
            Err(EndpointError::BadPort { .. })
        ));
        assert!(matches!(
            authority_with_port("host:1:2"),
            Err(EndpointError::BadPort { .. })
        ));
        assert!(matches!(
            authority_with_port("[::1"),
            Err(EndpointError::Malformed(_))
        ));
        assert!(matches!(
            authority_with_port("[nope]:1"),
            Err(EndpointError::Malformed(_))
        ));
        assert!(matches!(
            authority_with_port("[::1]x"),
            Err(EndpointError::Malformed(_))
        ));
        assert!(matches!(
            authority_with_port(":50051"),
            Err(EndpointError::Malformed(_))
        ));
        assert!(matches!(
            authority_with_port("http://x:1"),
            Err(EndpointError::Malformed(_)) | Err(EndpointError::BadPort { .. })
        ));
    }

    #[test]
    fn host_labels_are_kept_as_written() {
        assert_eq!(
            Host::parse("unix:/tmp/x/agent.sock").unwrap().label,
            "unix:/tmp/x/agent.sock"
        );
        assert_eq!(Host::parse(" 10.0.0.1:1 ").unwrap().label, "10.0.0.1:1");
        assert_eq!(
            Host::parse("unix:").unwrap_err(),
            EndpointError::EmptyPath("unix:".into())
        );
        assert_eq!(Host::parse("").unwrap_err(), EndpointError::Empty);
    }

    #[tokio::test]
    async fn missing_unix_socket_is_unavailable() {
        let directory = tempfile::tempdir().unwrap();
        let label = format!("unix:{}", directory.path().join("absent.sock").display());
        let failure = Host::parse(&label)
            .unwrap()
            .connect(Duration::from_secs(2))
            .await
            .unwrap_err();
        assert_eq!(failure.code, Code::Unavailable);
        assert!(
            failure
                .message
                .starts_with(&format!("cannot connect to {label}: ")),
            "{}",
            failure.message
        );
        assert!(
            failure.message.contains("No such file"),
            "{}",
            failure.message
        );
    }
}
