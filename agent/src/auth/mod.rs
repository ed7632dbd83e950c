//! Who is calling, and may they call this method.
//!
//! Three ways to be somebody: a bearer token (`authorization: Bearer ...`, checked against the SHA-256
//! digests of `--tokens`), a client certificate verified under mTLS (its subject CN is the identity), or
//! the unix socket (whose file mode and group already decided who may connect). Each identity has one
//! [`Role`]; [`methods`] says which role each gRPC method needs. Nothing here knows about tower or HTTP
//! bodies: the server's layer hands in the headers and the transport, and gets a [`Caller`] or a refusal.

mod cert;
pub mod methods;
mod tokens;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;

pub use cert::common_name;
pub use methods::Access;
pub use tokens::{token_digest, TokenFile, TokenFileError};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// List, get, ping, neighbours, health, reflection.
    Read,
    /// Everything.
    Admin,
}

impl Role {
    pub fn allows(self, access: Access) -> bool {
        match (self, access) {
            (Self::Admin, _) | (Self::Read, Access::Read) => true,
            (Self::Read, Access::Admin) => false,
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "read" => Ok(Self::Read),
            "admin" => Ok(Self::Admin),
            other => Err(format!("{other:?} is not a role (read or admin)")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Read => "read",
            Self::Admin => "admin",
        })
    }
}

/// How the connection reached the agent, as far as authentication cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A unix socket; `uid` from SO_PEERCRED where the kernel gave it.
    Unix { uid: Option<u32> },
    /// TCP, with or without TLS. `certificate_cn` is set only for a client certificate that the TLS layer
    /// verified against `--client-ca`.
    Tcp {
        peer: SocketAddr,
        certificate_cn: Option<String>,
    },
    /// No connection information: treated as an unauthenticated network caller, never as local.
    Unknown,
}

impl Transport {
    /// The peer as the audit log shows it.
    pub fn peer(&self) -> String {
        match self {
            Self::Unix { uid: Some(uid) } => format!("unix:uid={uid}"),
            Self::Unix { uid: None } => "unix".to_string(),
            Self::Tcp { peer, .. } => peer.to_string(),
            Self::Unknown => "unknown".to_string(),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `token:NAME`, `cert:CN`, `unix:uid=N` or `anonymous`.
    pub identity: String,
    pub role: Role,
}

/// Why a caller was not let in: always UNAUTHENTICATED.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials: send a bearer token (nsfleet --token-file) or a client certificate (nsfleet --cert/--key)")]
    Missing,
    #[error("the authorization header must be \"Bearer TOKEN\"")]
    MalformedHeader,
    #[error("unknown token")]
    UnknownToken,
    #[error("this agent accepts no bearer tokens (it was started without --tokens)")]
    TokensNotAccepted,
    #[error("the client certificate CN={0:?} has no role on this agent (map it in the --tokens file, or see --cert-role)")]
    UnmappedCertificate(String),
}

/// The agent's authentication settings.
#[derive(Debug, Clone, Default)]
pub struct AuthPolicy {
    tokens: Option<TokenFile>,
    /// Role of verified client certificates whose CN the tokens file does not name.
    default_certificate_role: Option<Role>,
    /// Whether TCP callers must prove who they are (tokens or client certificates are configured).
    required: bool,
}

impl AuthPolicy {
    /// No authentication: every caller is an anonymous admin. Only allowed where the server accepts
    /// no untrusted callers (loopback, unix socket, or `--insecure`).
    pub fn open() -> Self {
        Self::default()
    }

    pub fn new(
        tokens: Option<TokenFile>,
        client_certificates: bool,
        default_certificate_role: Option<Role>,
    ) -> Self {
        Self {
            required: tokens.is_some() || client_certificates,
            tokens,
            default_certificate_role,
        }
    }

    pub fn load_tokens(path: &Path) -> Result<TokenFile, TokenFileError> {
        TokenFile::load(path)
    }

    /// Whether TCP callers must prove who they are.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// `authorization` is the raw header value, if the call had one.
    pub fn authenticate(
        &self,
        authorization: Option<&[u8]>,
        transport: &Transport,
    ) -> Result<Caller, AuthError> {
        if let Some(header) = authorization {
            let token = bearer_token(header)?;
            let tokens = self.tokens.as_ref().ok_or(AuthError::TokensNotAccepted)?;
            let entry = tokens.find_token(token).ok_or(AuthError::UnknownToken)?;
            return Ok(Caller {
                identity: format!("token:{}", entry.name),
                role: entry.role,
            });
        }
        match transport {
            // The socket's mode (0660) and group decide who can connect at all: that is the local admin door.
            Transport::Unix { uid } => Ok(Caller {
                identity: uid.map_or_else(|| "unix".to_string(), |uid| format!("unix:uid={uid}")),
                role: Role::Admin,
            }),
            Transport::Tcp {
                certificate_cn: Some(cn),
                ..
            } => {
                let mapped = self.tokens.as_ref().and_then(|t| t.certificate_role(cn));
                match mapped.or(self.default_certificate_role) {
                    Some(role) => Ok(Caller {
                        identity: format!("cert:{cn}"),
                        role,
                    }),
                    None => Err(AuthError::UnmappedCertificate(cn.clone())),
                }
            }
            Transport::Tcp {
                certificate_cn: None,
                ..
            }
            | Transport::Unknown
                if self.required =>
            {
                Err(AuthError::Missing)
            }
            Transport::Tcp { .. } | Transport::Unknown => Ok(Caller {
                identity: "anonymous".to_string(),
                role: Role::Admin,
            }),
        }
    }
}

fn bearer_token(header: &[u8]) -> Result<&str, AuthError> {
    let text = std::str::from_utf8(header).map_err(|_| AuthError::MalformedHeader)?;
    let (scheme, token) = text.split_once(' ').ok_or(AuthError::MalformedHeader)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token)
}

/// Certificate CN -> role entries as they appear in a tokens file, for [`TokenFile`].
pub(crate) type CertificateRoles = HashMap<String, Role>;

#[cfg(test)]
mod tests;
