//! The unix socket listener: mode 0660 and the `--socket-group` group before anyone can connect.
//!
//! Who may connect to the socket is who may administer the host, so the socket is bound, given its owner
//! group and mode, and only then put into listening state: until listen(2), connect(2) is refused, so no
//! caller ever meets the socket with the umask's mode.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::socket::{
    bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};
use nix::unistd::{chown, Gid, Group};
use tokio::net::UnixListener;

#[derive(Debug, thiserror::Error)]
pub enum UnixSocketError {
    #[error("unix socket {path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    #[error("--socket-group {0:?}: no such group")]
    UnknownGroup(String),
}

/// The group named by `--socket-group`: a name, or a number.
pub fn group_id(group: &str) -> Result<Gid, UnixSocketError> {
    if let Ok(number) = group.parse::<u32>() {
        return Ok(Gid::from_raw(number));
    }
    match Group::from_name(group) {
        Ok(Some(found)) => Ok(found.gid),
        _ => Err(UnixSocketError::UnknownGroup(group.to_string())),
    }
}

/// Binds `path` (replacing a stale socket left by a killed agent), sets its group and mode 0660, then
/// listens.
pub fn bind_unix(path: &Path, gid: Option<Gid>) -> Result<UnixListener, UnixSocketError> {
    let failed = |action: &'static str| {
        let path = path.to_path_buf();
        move |source: io::Error| UnixSocketError::Io {
            path,
            action,
            source,
        }
    };
    create_parent(path).map_err(failed("create its directory"))?;
    remove_stale_socket(path).map_err(failed("remove the stale socket"))?;
    let fd: OwnedFd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(io::Error::from)
    .map_err(failed("socket"))?;
    let address = UnixAddr::new(path)
        .map_err(io::Error::from)
        .map_err(failed("address"))?;
    bind(fd.as_raw_fd(), &address)
        .map_err(io::Error::from)
        .map_err(failed("bind"))?;
    if let Some(gid) = gid {
        chown(path, None, Some(gid))
            .map_err(io::Error::from)
            .map_err(failed("chown"))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(failed("chmod 0660"))?;
    listen(&fd, Backlog::MAXCONN)
        .map_err(io::Error::from)
        .map_err(failed("listen"))?;
    UnixListener::from_std(std::os::unix::net::UnixListener::from(fd))
        .map_err(failed("register with the runtime"))
}

/// `/run/nsfleet` does not survive a reboot (/run is a tmpfs). Made 0755: anyone may look up the
/// socket, its own mode 0660 decides who may connect.
fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent),
        _ => Ok(()),
    }
}

/// A socket file left by an agent that was killed would make bind fail with EADDRINUSE. Only sockets are
/// removed: a regular file at that path is the operator's mistake to see, not ours to delete.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        _ => Ok(()),
    }
}
