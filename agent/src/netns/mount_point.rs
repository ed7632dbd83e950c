//! The empty file a named namespace is bind-mounted on, and what is left of it when a creation dies half
//! way.
//!
//! Creating a named namespace is three steps: make an empty file under /run/netns, unshare, bind-mount the
//! new namespace on the file. An agent killed between the first and the last leaves the empty file, which
//! `ip netns` and nsfleet then see as a name that is taken but is no namespace. iproute2 makes the same
//! file (mode 0, empty), so emptiness alone does not say who left it: nsfleet marks its own with an extended
//! attribute before the namespace is mounted over it, and clears by itself only files that carry the mark.
//! A file without it is removed only when asked to by name (`netns del`, as `ip netns del` would).

use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Set on mount points nsfleet creates; hidden by the namespace mounted over the file, visible again only
/// on a file whose mount never happened.
const CREATOR_MARK: &str = "user.nsfleet.mount-point\0";
const CREATOR_VALUE: &[u8] = b"nsfleet-agent";

/// Marks a mount point just created as nsfleet's. Best effort: a filesystem without user extended
/// attributes leaves it unmarked, and an unmarked leftover is only removed by name.
pub(super) fn mark_as_ours(file: &File) {
    // SAFETY: the name is NUL-terminated, the value pointer and length describe a live slice, and the fd
    // is open for the duration of the call.
    let result = unsafe {
        libc::fsetxattr(
            file.as_raw_fd(),
            CREATOR_MARK.as_ptr().cast(),
            CREATOR_VALUE.as_ptr().cast(),
            CREATOR_VALUE.len(),
            0,
        )
    };
    if result != 0 {
        tracing::debug!(error = %io::Error::last_os_error(), "cannot mark a namespace mount point as nsfleet's");
    }
}

/// What a path under /run/netns that is not a namespace mount is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Leftover {
    /// An empty regular file that nsfleet marked: a creation of nsfleet's that died before its mount.
    Ours,
    /// An empty regular file without nsfleet's mark: a mount point someone's creation left.
    Unmarked,
    /// Anything else (data in it, a directory, ...): not a mount point at all.
    Other,
}

pub(super) fn leftover_kind(path: &Path) -> io::Result<Leftover> {
    let metadata = fs::symlink_metadata(path)?;
    if !metadata.is_file() || metadata.size() != 0 {
        return Ok(Leftover::Other);
    }
    Ok(if has_our_mark(path) {
        Leftover::Ours
    } else {
        Leftover::Unmarked
    })
}

fn has_our_mark(path: &Path) -> bool {
    let Ok(path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut value = [0u8; 32];
    // SAFETY: both strings are NUL-terminated and the buffer pointer and length describe `value`.
    let length = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            CREATOR_MARK.as_ptr().cast(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    usize::try_from(length).is_ok_and(|length| &value[..length] == CREATOR_VALUE)
}
