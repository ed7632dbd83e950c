//! The agent's state directory (`--state-dir`): what must outlive the process. The kernel stays the source
//! of truth for what exists; this directory holds only what the kernel cannot: which topology owns which
//! object (the ledger) and the intent of a change under way (the journal), so a restart can finish or undo it.

pub mod sealed;

use std::{
    fs::{self, DirBuilder},
    io,
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::{Path, PathBuf},
};

/// Where the agent keeps state when not told otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/nsfleet";

#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    #[error("state directory {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("state directory {path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("state directory {path} is not writable: {source}")]
    NotWritable { path: PathBuf, source: io::Error },
}

/// A state directory that exists, belongs to this agent's use (mode 0700 when created) and was writable at
/// start.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Creates the directory if needed and proves it writable now, so a bad `--state-dir` stops the agent
    /// at start instead of failing the first apply after the host has changed.
    pub fn open(root: &Path) -> Result<StateDir, StateDirError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|source| StateDirError::Create {
                path: root.to_path_buf(),
                source,
            })?;
        let metadata = fs::metadata(root).map_err(|source| StateDirError::Create {
            path: root.to_path_buf(),
            source,
        })?;
        if !metadata.is_dir() {
            return Err(StateDirError::NotADirectory {
                path: root.to_path_buf(),
            });
        }
        let probe = tempfile_in(root).map_err(|source| StateDirError::NotWritable {
            path: root.to_path_buf(),
            source,
        })?;
        let _ = fs::remove_file(probe);
        Ok(StateDir {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A subdirectory for one kind of state (`ledger`, `journal`), created with mode 0700.
    pub fn subdir(&self, name: &str) -> Result<PathBuf, StateDirError> {
        let path = self.root.join(name);
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&path)
            .map_err(|source| StateDirError::Create {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }
}

/// Creates and closes an empty file in `dir`, returning its path: the cheapest proof that files can be
/// written there (a read-only mount or a root-squashed NFS export passes every metadata check).
fn tempfile_in(dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join(format!(".write-probe-{}", std::process::id()));
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_missing_directory_private_to_root() {
        let parent = tempfile::tempdir().expect("a temporary directory");
        let root = parent.path().join("a/b");
        let state = StateDir::open(&root).expect("a creatable state directory");
        let mode = fs::metadata(state.root())
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(
            fs::read_dir(&root).expect("readable").next().is_none(),
            "the probe is removed"
        );
    }

    #[test]
    fn refuses_a_file() {
        let parent = tempfile::tempdir().expect("a temporary directory");
        let file = parent.path().join("file");
        fs::write(&file, b"").expect("a file");
        assert!(matches!(
            StateDir::open(&file),
            Err(StateDirError::Create { .. } | StateDirError::NotADirectory { .. })
        ));
    }
}
