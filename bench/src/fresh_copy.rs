//! A program copied next to itself before it is timed, so its pages sit in the page cache as an install
//! leaves them, whatever state the build left (BENCHMARKS.md, "One invocation per command"): a file
//! written in one go is held in large folios, which a fault maps and an exit unmaps many pages at a time;
//! the linker's output, a file read back from disk, and a copy that memory pressure has since split are
//! held page by page, which costs the client 0.3-0.5 ms a call.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{BenchError, Result};

const COPY_PREFIX: &str = ".nsfleet-bench-copy-";

/// A copy of a program next to it, named by this process's pid and a label, and removed when dropped,
/// on every way out of the run; a run that was killed leaves its copies, which the next run removes.
pub struct FreshCopy {
    path: PathBuf,
}

impl FreshCopy {
    /// `label` tells apart the copies one run makes in the same directory.
    pub fn of(program: &Path, label: &str) -> Result<Self> {
        remove_copies_of_dead_runs(program);
        let path = program.with_file_name(format!("{COPY_PREFIX}{}-{label}", std::process::id()));
        // Read and written in one go, as an install writes a file: not `std::fs::copy`, whose
        // copy_file_range may share the blocks on btrfs or XFS and leave the page cache empty.
        let bytes = std::fs::read(program)
            .map_err(|e| BenchError::io(format!("read {}", program.display()), e))?;
        let written = std::fs::write(&path, &bytes)
            .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)));
        let copy = Self { path };
        written.map_err(|e| BenchError::io(format!("write {}", copy.path.display()), e))?;
        Ok(copy)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FreshCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copies whose run is gone (killed before its drop ran); a run still going keeps its own.
fn remove_copies_of_dead_runs(program: &Path) {
    let Some(directory) = program.parent() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(COPY_PREFIX))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
