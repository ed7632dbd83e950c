//! The `--tokens` file: who may call, with which role.
//!
//! One entry per line, `#` starts a comment:
//!
//! ```text
//! # name      role   credential
//! ci          admin  3b1f...64 hex digits...   <- bearer token: SHA-256 of the token, never the token
//! grafana     read   9c0e...64 hex digits...
//! ops-laptop  admin  cert                      <- client certificate whose subject CN is ops-laptop
//! ```
//!
//! Only digests are stored, so the file is not a secret (its integrity still matters). Tokens are meant
//! to be long random strings, which is why an unsalted SHA-256 is enough: there is nothing to guess.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{CertificateRoles, Role};

/// The keyword in the credential column for a client certificate identity.
const CERTIFICATE: &str = "cert";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    pub name: String,
    pub role: Role,
    digest: [u8; 32],
}

#[derive(Debug, Clone, Default)]
pub struct TokenFile {
    tokens: Vec<TokenEntry>,
    certificates: CertificateRoles,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("read the tokens file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// SHA-256 of a token, the form the tokens file stores.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenFile {
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|(line, reason)| TokenFileError::Line {
            path: path.to_path_buf(),
            line,
            reason,
        })
    }

    /// `Err((line number, reason))`.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut file = Self::default();
        let mut names: HashMap<String, usize> = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let line = raw.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [name, role, credential] = fields[..] else {
                return Err((
                    number,
                    format!(
                        "expected `name role sha256hex|cert`, found {} fields",
                        fields.len()
                    ),
                ));
            };
            let role: Role = role.parse().map_err(|reason| (number, reason))?;
            let is_certificate = credential == CERTIFICATE;
            // Tokens and certificates are separate namespaces of names: "ops" may have both.
            let key = format!("{}:{name}", if is_certificate { "cert" } else { "token" });
            if let Some(first) = names.insert(key, number) {
                return Err((number, format!("{name} is already defined on line {first}")));
            }
            if is_certificate {
                file.certificates.insert(name.to_string(), role);
                continue;
            }
            let digest = parse_digest(credential).map_err(|reason| (number, reason))?;
            if file.tokens.iter().any(|t| t.digest == digest) {
                return Err((
                    number,
                    "this digest is already used by another entry".to_string(),
                ));
            }
            file.tokens.push(TokenEntry {
                name: name.to_string(),
                role,
                digest,
            });
        }
        Ok(file)
    }

    /// The entry whose digest matches `token`. Every entry is compared in constant time, and all of them
    /// are compared, so the answer's timing says nothing about how close a guess was or which entry matched.
    pub fn find_token(&self, token: &str) -> Option<&TokenEntry> {
        let digest = token_digest(token);
        let mut found = None;
        for entry in &self.tokens {
            if bool::from(entry.digest.ct_eq(&digest)) {
                found = Some(entry);
            }
        }
        found
    }

    pub fn certificate_role(&self, common_name: &str) -> Option<Role> {
        self.certificates.get(common_name).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.certificates.is_empty()
    }
}

fn parse_digest(text: &str) -> Result<[u8; 32], String> {
    let invalid = || {
        format!("{text:?} is neither 64 hex digits (the SHA-256 of a token) nor `{CERTIFICATE}`")
    };
    if text.len() != 64 || !text.is_ascii() {
        return Err(invalid());
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
    }
    Ok(digest)
}
