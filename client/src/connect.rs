//! Agent endpoints as the user writes them (`HOST:PORT`, `[IPV6]:PORT`, `unix:PATH`), how the CLI
//! proves itself to them (TLS, client certificate, bearer token), and the connections to them
//! (`channel.rs`).

use std::{net::Ipv6Addr, path::Path, path::PathBuf, time::Duration};

use tonic::{
    metadata::AsciiMetadataValue,
    transport::{Certificate, ClientTlsConfig, Endpoint, Identity},
    Code,
};

use crate::channel::AgentChannel;
use crate::failure::{error_chain, format_seconds, HostFailure};
use crate::socket_call::SocketConnection;

/// The agent's default port, used when an endpoint names only a host.
pub const DEFAULT_PORT: u16 = 50051;

/// One agent of the fleet: the endpoint as the user wrote it (the label in every output line) and how to
/// reach it.
#[derive(Debug, Clone)]
pub struct Host {
    pub label: String,
    target: Target,
    /// The host's own TLS and token (from the inventory), instead of the command line's. One command
    /// per process: loaded once, it lives as long as the process, which keeps `Host` cheap to clone.
    security: Option<&'static ClientSecurity>,
}

#[derive(Debug, Clone)]
enum Target {
    /// The plaintext endpoint (boxed: tonic's `Endpoint` is large), and `HOST:PORT` for the
    /// `https://` form under TLS.
    Tcp {
        endpoint: Box<Endpoint>,
        authority: String,
    },
    /// The socket's path, dialled without tonic's `Channel` (`channel.rs`).
    Unix(PathBuf),
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
        let target = match text.strip_prefix("unix:") {
            Some(path) => Target::Unix(unix_socket(text, path)?),
            None => {
                let authority = authority_with_port(text)?;
                Target::Tcp {
                    endpoint: Box::new(tcp_endpoint(text, "http", &authority)?),
                    authority,
                }
            }
        };
        Ok(Self {
            label: text.to_owned(),
            target,
            security: None,
        })
    }

    /// This host under another label (its inventory name), with its own security settings.
    pub fn named(mut self, label: &str, security: Option<&'static ClientSecurity>) -> Self {
        self.label = label.to_owned();
        self.security = security;
        self
    }

    /// The host's own security settings, if the inventory gave it any.
    pub fn own_security(&self) -> Option<&'static ClientSecurity> {
        self.security
    }

    /// The security settings that apply to this host: its own, else `fallback` (the command line's).
    pub fn security<'a>(&self, fallback: &'a ClientSecurity) -> &'a ClientSecurity {
        self.security.unwrap_or(fallback)
    }

    /// Whether the host is reached over TCP (and so may need TLS), not a unix socket.
    pub fn is_tcp(&self) -> bool {
        matches!(self.target, Target::Tcp { .. })
    }

    /// Connects, failing with UNAVAILABLE (and what went wrong) if the agent cannot be reached in time.
    /// TCP endpoints use TLS when `security` has it; unix sockets never do (the agent serves them
    /// plaintext).
    pub async fn connect(
        &self,
        timeout: Duration,
        security: &ClientSecurity,
    ) -> Result<AgentChannel, HostFailure> {
        let (endpoint, authority) = match &self.target {
            Target::Unix(socket) => {
                return match tokio::time::timeout(timeout, AgentChannel::unix(socket)).await {
                    Ok(Ok(channel)) => Ok(channel),
                    Ok(Err(error)) => Err(self.unix_connect_failure(error.as_ref())),
                    Err(_) => Err(self.no_connection_within(timeout)),
                };
            }
            Target::Tcp {
                endpoint,
                authority,
            } => (endpoint, authority),
        };
        let endpoint = match &self.security(security).tls {
            Some(tls) => tcp_endpoint(&self.label, "https", authority)
                .map_err(|error| HostFailure::new(Code::InvalidArgument, error.to_string()))?
                .tls_config(tls.clone())
                .map_err(|error| {
                    HostFailure::new(
                        Code::InvalidArgument,
                        format!("TLS for {}: {}", self.label, error_chain(&error)),
                    )
                })?,
            None => Endpoint::clone(endpoint),
        };
        let endpoint = endpoint.connect_timeout(timeout);
        match tokio::time::timeout(timeout, endpoint.connect()).await {
            Ok(Ok(channel)) => Ok(AgentChannel::Tcp(channel)),
            Ok(Err(error)) => {
                // tonic's own text ("transport error") says nothing; the causes say what happened.
                let cause = std::error::Error::source(&error)
                    .map_or_else(|| error.to_string(), error_chain);
                Err(HostFailure::new(
                    Code::Unavailable,
                    format!("cannot connect to {}: {cause}", self.label),
                ))
            }
            Err(_) => Err(self.no_connection_within(timeout)),
        }
    }

    /// As [`Host::connect`], for a command whose calls all go to this host, one after the other: a unix
    /// socket is then called with blocking reads and writes (`socket_call/`), which need no runtime IO.
    pub async fn connect_alone(
        &self,
        timeout: Duration,
        security: &ClientSecurity,
    ) -> Result<AgentChannel, HostFailure> {
        match &self.target {
            Target::Unix(socket) => SocketConnection::connect(socket, timeout)
                .map(AgentChannel::Socket)
                .map_err(|error| self.unix_connect_failure(&error)),
            Target::Tcp { .. } => self.connect(timeout, security).await,
        }
    }

    fn unix_connect_failure(&self, error: &(dyn std::error::Error + 'static)) -> HostFailure {
        HostFailure::new(
            Code::Unavailable,
            format!(
                "cannot connect to {}: {}{}",
                self.label,
                error_chain(error),
                unix_socket_hint(error).unwrap_or_default()
            ),
        )
    }

    fn no_connection_within(&self, timeout: Duration) -> HostFailure {
        HostFailure::new(
            Code::Unavailable,
            format!(
                "cannot connect to {}: no connection within {} s",
                self.label,
                format_seconds(timeout)
            ),
        )
    }
}

/// What the two usual failures on a unix socket mean for an operator: nobody listens there, or the
/// socket is not open to this user.
fn unix_socket_hint(error: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    Some(" (is nsfleet-agent running and serving this socket?)")
                }
                std::io::ErrorKind::PermissionDenied => {
                    Some(" (the agent's socket admits root and the agent's --socket-group only)")
                }
                _ => None,
            };
        }
        current = error.source();
    }
    None
}

/// The socket's path in `unix:PATH` or `unix://PATH`.
fn unix_socket(text: &str, path: &str) -> Result<PathBuf, EndpointError> {
    let path = path.strip_prefix("//").unwrap_or(path);
    if path.is_empty() {
        return Err(EndpointError::EmptyPath(text.to_owned()));
    }
    Ok(PathBuf::from(path))
}

fn tcp_endpoint(text: &str, scheme: &str, authority: &str) -> Result<Endpoint, EndpointError> {
    Endpoint::from_shared(format!("{scheme}://{authority}"))
        .map_err(|_| EndpointError::Malformed(text.to_owned()))
}

/// How the CLI proves itself to agents and checks that they are who they claim: TLS with a CA (and a
/// client certificate for mTLS), and a bearer token sent with every call.
#[derive(Debug, Clone, Default)]
pub struct ClientSecurity {
    pub tls: Option<ClientTlsConfig>,
    /// Whether `tls` presents a client certificate.
    pub client_certificate: bool,
    /// `Bearer TOKEN`, ready for the `authorization` metadata.
    pub authorization: Option<AsciiMetadataValue>,
}

/// The security options as given on the command line or in the environment.
#[derive(Debug, Clone, Default)]
pub struct SecurityOptions {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    /// The token itself, from `NSFLEET_TOKEN` (never a flag: command lines are visible to every user).
    pub token: Option<String>,
    /// The environment variable `token` came from, for messages; `NSFLEET_TOKEN` if not set.
    pub token_variable: Option<String>,
    /// The name the agent's certificate must carry, when it is not the endpoint's host.
    pub server_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{option} {path}: {source}")]
    Read {
        option: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{option} {path}: not a PEM file (no \"-----BEGIN\" line)")]
    NotPem { option: &'static str, path: PathBuf },
    #[error("--cert and --key go together")]
    HalfIdentity,
    #[error("--cert/--key need --ca: the agent's certificate must be checked too")]
    IdentityWithoutCa,
    #[error("{0}: the token is empty")]
    EmptyToken(String),
    #[error("{0}: a token is printable ASCII without spaces")]
    MalformedToken(String),
    #[error("give either --token-file or NSFLEET_TOKEN, not both")]
    TwoTokens,
}

impl SecurityOptions {
    pub fn load(&self) -> Result<ClientSecurity, SecurityError> {
        let client_certificate = self.cert.is_some();
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(Identity::from_pem(
                read_pem("--cert", cert)?,
                read_pem("--key", key)?,
            )),
            (None, None) => None,
            _ => return Err(SecurityError::HalfIdentity),
        };
        let tls = match (&self.ca, identity) {
            (Some(ca), identity) => {
                let mut config = ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(read_pem("--ca", ca)?));
                if let Some(name) = &self.server_name {
                    config = config.domain_name(name.clone());
                }
                Some(match identity {
                    Some(identity) => config.identity(identity),
                    None => config,
                })
            }
            (None, Some(_)) => return Err(SecurityError::IdentityWithoutCa),
            (None, None) => None,
        };
        let token = match (&self.token_file, &self.token) {
            (Some(_), Some(_)) => return Err(SecurityError::TwoTokens),
            (Some(path), None) => {
                let text = std::fs::read_to_string(path).map_err(|source| SecurityError::Read {
                    option: "--token-file",
                    path: path.clone(),
                    source,
                })?;
                Some((format!("--token-file {}", path.display()), text))
            }
            (None, Some(token)) => Some((
                self.token_variable
                    .clone()
                    .unwrap_or_else(|| "NSFLEET_TOKEN".to_owned()),
                token.clone(),
            )),
            (None, None) => None,
        };
        let authorization = token
            .map(|(source, token)| bearer(&source, token.trim()))
            .transpose()?;
        Ok(ClientSecurity {
            tls,
            client_certificate,
            authorization,
        })
    }
}

fn bearer(source: &str, token: &str) -> Result<AsciiMetadataValue, SecurityError> {
    if token.is_empty() {
        return Err(SecurityError::EmptyToken(source.to_owned()));
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(SecurityError::MalformedToken(source.to_owned()));
    }
    let mut value: AsciiMetadataValue = format!("Bearer {token}")
        .parse()
        .map_err(|_| SecurityError::MalformedToken(source.to_owned()))?;
    // Keeps the token out of debug output and HTTP/2 header compression tables.
    value.set_sensitive(true);
    Ok(value)
}

fn read_pem(option: &'static str, path: &Path) -> Result<Vec<u8>, SecurityError> {
    let bytes = std::fs::read(path).map_err(|source| SecurityError::Read {
        option,
        path: path.to_path_buf(),
        source,
    })?;
    if !bytes.windows(11).any(|window| window == b"-----BEGIN ") {
        return Err(SecurityError::NotPem {
            option,
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
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

    #[test]
    fn security_options_need_matching_pieces() {
        let directory = tempfile::tempdir().unwrap();
        let pem = directory.path().join("a.pem");
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let der = directory.path().join("a.der");
        std::fs::write(&der, [0x30, 0x82]).unwrap();
        let token = directory.path().join("token");
        std::fs::write(&token, "s3cret-token\n").unwrap();

        let loaded = SecurityOptions {
            ca: Some(pem.clone()),
            token_file: Some(token.clone()),
            ..Default::default()
        }
        .load()
        .unwrap();
        assert!(loaded.tls.is_some());
        assert_eq!(
            loaded.authorization.unwrap().to_str().unwrap(),
            "Bearer s3cret-token"
        );
        let half = SecurityOptions {
            ca: Some(pem.clone()),
            cert: Some(pem.clone()),
            ..Default::default()
        };
        assert!(matches!(half.load(), Err(SecurityError::HalfIdentity)));
        let no_ca = SecurityOptions {
            cert: Some(pem.clone()),
            key: Some(pem.clone()),
            ..Default::default()
        };
        assert!(matches!(
            no_ca.load(),
            Err(SecurityError::IdentityWithoutCa)
        ));
        let not_pem = SecurityOptions {
            ca: Some(der),
            ..Default::default()
        };
        assert!(matches!(not_pem.load(), Err(SecurityError::NotPem { .. })));
        let both = SecurityOptions {
            token_file: Some(token),
            token: Some("x".into()),
            ..Default::default()
        };
        assert!(matches!(both.load(), Err(SecurityError::TwoTokens)));
        for bad in ["", "  ", "two words", "tab\tbed", "ünïcode"] {
            let options = SecurityOptions {
                token: Some(bad.into()),
                ..Default::default()
            };
            assert!(options.load().is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn missing_unix_socket_is_unavailable() {
        let directory = tempfile::tempdir().unwrap();
        let label = format!("unix:{}", directory.path().join("absent.sock").display());
        let host = Host::parse(&label).unwrap();
        let security = ClientSecurity::default();
        for failure in [
            host.connect(Duration::from_secs(2), &security).await,
            host.connect_alone(Duration::from_secs(2), &security).await,
        ]
        .map(Result::unwrap_err)
        {
            assert_eq!(failure.code, Code::Unavailable);
            assert!(
                failure
                    .message
                    .starts_with(&format!("cannot connect to {label}: ")),
                "{}",
                failure.message
            );
            assert!(
                failure.message.contains("No such file")
                    && failure.message.contains("is nsfleet-agent running"),
                "{}",
                failure.message
            );
        }
    }
}
