//! TLS for the TCP listeners, from PEM files. Unix sockets stay plaintext: they never leave the host, and
//! their file mode decides who may connect.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// A client that connects and then says nothing must not hold a connection slot forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// With a CA, every TCP client must present a certificate that it signed.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {path} holds no PEM block (\"-----BEGIN ...\")")]
    NotPem { what: &'static str, path: PathBuf },
}

impl TlsFiles {
    pub fn server_config(&self) -> Result<ServerTlsConfig, TlsError> {
        let certificate = read_pem("--tls-cert", &self.certificate)?;
        let key = read_pem("--tls-key", &self.key)?;
        let mut config = ServerTlsConfig::new()
            .identity(Identity::from_pem(certificate, key))
            .timeout(HANDSHAKE_TIMEOUT);
        if let Some(path) = &self.client_ca {
            config = config.client_ca_root(Certificate::from_pem(read_pem("--client-ca", path)?));
        }
        Ok(config)
    }
}

/// Reads a PEM file, so that a wrong path or a DER file fails with its name instead of rustls' "no
/// certificates found" at the first connection.
fn read_pem(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(TlsError::NotPem {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}
