//! The commit record: the pending commit (if any) and a short history of finished ones, in
//! `<state-dir>/commit/commits`. Written like the ledger (temp file, fsync, rename, fsync of the
//! directory) under a header carrying the SHA-256 of the body, so a crash leaves the old record or the new
//! one, and a record that does not check out is refused whole: nothing is rolled back, confirmed or
//! forgotten on its strength.

use std::fs;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ops::batch::intent::UndoRecord;
use crate::state::sealed;
use crate::topology::Record;

const HEADER: &str = "nsfleet-commits v1 sha256=";
const FILE: &str = "commits";
/// Finished commits kept, newest last: enough for a retried confirm or a late look at what happened.
pub const HISTORY: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the commit record {path} is corrupt ({reason}); nsfleet will not act on it: check the host by hand, then move it away")]
    Corrupt { path: PathBuf, reason: String },
    #[error("the commit record {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Confirmed,
    RolledBack,
    RollbackFailed,
}

/// What the topology was before the commit: its ledger record (owned objects and desired state), or
/// nothing (a first apply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Undo {
    /// Put this record back and apply its desired state again.
    Restore { record: Record },
    /// The topology did not exist: once the steps ran, no record.
    Destroy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub id: String,
    pub topology: String,
    pub state: State,
    /// Wall-clock milliseconds since the epoch, so the deadline survives a restart.
    pub deadline_ms: u64,
    pub reason: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// The desired state the commit applied (encoded `HostTopology`, hex): an identical retry is
    /// recognized by it.
    pub desired: String,
    pub undo: Undo,
    /// The apply's own undo steps, in the order it applied them; recorded once the apply has ended
    /// (before, the intent journal covers it). They restore what the commit changed on objects it did
    /// not make.
    #[serde(default)]
    pub steps: Vec<UndoRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commits {
    pub pending: Option<Commit>,
    /// Newest last, at most [`HISTORY`].
    pub finished: Vec<Commit>,
}

impl Commits {
    pub fn find(&self, id: &str) -> Option<&Commit> {
        self.pending
            .iter()
            .chain(self.finished.iter().rev())
            .find(|c| c.id == id)
    }

    /// Ends the pending commit: it moves to the history, the oldest finished one goes when full.
    pub fn finish(&mut self, commit: Commit) {
        self.pending = None;
        self.finished.push(commit);
        let excess = self.finished.len().saturating_sub(HISTORY);
        self.finished.drain(..excess);
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// The record; an empty one when the host never made a commit.
    pub fn read(&self) -> Result<Commits, RecordError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Commits::default()),
            Err(source) => return Err(RecordError::Io { path, source }),
        };
        decode(&bytes).map_err(|reason| RecordError::Corrupt { path, reason })
    }

    pub fn write(&self, commits: &Commits) -> Result<(), RecordError> {
        let path = self.path();
        let io_error = |source| RecordError::Io {
            path: path.clone(),
            source,
        };
        let body = serde_json::to_string(commits).map_err(|e| io_error(io::Error::other(e)))?;
        sealed::write_atomically(&self.dir, FILE, &sealed::seal(HEADER, &body)).map_err(io_error)
    }
}

fn decode(bytes: &[u8]) -> Result<Commits, String> {
    let (body, _digest) = sealed::unseal(HEADER, bytes)?;
    serde_json::from_str(body).map_err(|e| format!("its body does not parse: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(id: &str, state: State) -> Commit {
        Commit {
            id: id.into(),
            topology: "lab".into(),
            state,
            deadline_ms: 1_800_000_000_000,
            reason: String::new(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            desired: "0a036c6162".into(),
            undo: Undo::Restore {
                record: Record {
                    topology: "lab".into(),
                    applied_at: "2026-01-01T00:00:00.000Z".into(),
                    objects: Vec::new(),
                    desired: "0a036c6162".into(),
                    digest: String::new(),
                },
            },
            steps: vec![UndoRecord::SetForwarding {
                namespace: String::new(),
                ipv6: false,
                enabled: false,
            }],
        }
    }

    #[test]
    fn a_written_record_reads_back_whole() {
        let dir = tempfile::tempdir().expect("a directory");
        let store = Store::new(dir.path().to_path_buf());
        assert_eq!(store.read().expect("none yet"), Commits::default());
        let commits = Commits {
            pending: Some(commit("c2", State::Pending)),
            finished: vec![Commit {
                undo: Undo::Destroy,
                ..commit("c1", State::RolledBack)
            }],
        };
        store.write(&commits).expect("written");
        assert_eq!(store.read().expect("readable"), commits);
    }

    #[test]
    fn a_damaged_record_is_refused_naming_the_file_and_is_left_in_place() {
        let dir = tempfile::tempdir().expect("a directory");
        let store = Store::new(dir.path().to_path_buf());
        store
            .write(&Commits {
                pending: Some(commit("c1", State::Pending)),
                finished: Vec::new(),
            })
            .expect("written");
        let whole = fs::read(store.path()).expect("read");
        for damaged in [
            whole[..whole.len() / 2].to_vec(),
            String::from_utf8_lossy(&whole)
                .replace("pending\"", "confirmed\"")
                .into_bytes(),
            b"garbage".to_vec(),
            Vec::new(),
            vec![0xff, 0xfe],
        ] {
            fs::write(store.path(), &damaged).expect("damage");
            match store.read() {
                Err(RecordError::Corrupt { path, .. }) => assert_eq!(path, store.path()),
                other => panic!("{other:?} for {:?}", String::from_utf8_lossy(&damaged)),
            }
            assert_eq!(fs::read(store.path()).expect("still there"), damaged);
        }
    }

    #[test]
    fn the_history_keeps_the_newest_finished_commits() {
        let mut commits = Commits::default();
        for i in 0..HISTORY + 5 {
            commits.pending = Some(commit(&format!("c{i}"), State::Pending));
            commits.finish(commit(&format!("c{i}"), State::Confirmed));
        }
        assert!(commits.pending.is_none());
        assert_eq!(commits.finished.len(), HISTORY);
        assert!(commits.find("c4").is_none());
        assert!(commits.find("c5").is_some());
        assert!(commits.find(&format!("c{}", HISTORY + 4)).is_some());
    }
}
