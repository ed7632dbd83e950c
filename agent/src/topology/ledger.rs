//! The ledger: per topology, the objects it owns on this host and the desired state of its last
//! successful apply, in `<state-dir>/ledger/<topology>.ledger`. Written atomically (temp file, fsync,
//! rename, fsync of the directory), so a crash leaves the old record or the new one. A header line
//! carries the SHA-256 of the body: a truncated or edited record is reported, and nothing is ever
//! deleted on the strength of a record that does not check out.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::desired::TopologyName;
use super::object::ObjectId;
use crate::state::sealed;

const HEADER: &str = "nsfleet-ledger v1 sha256=";
const SUFFIX: &str = ".ledger";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("the ledger {path} is corrupt ({reason}); nsfleet will not act on it: move it away after checking the host by hand")]
    Corrupt { path: PathBuf, reason: String },
    #[error("the ledger {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// One object a topology owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    #[serde(flatten)]
    pub id: ObjectId,
    /// A veth's other end: deleting either end deletes both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<ObjectId>,
    /// For forwarding: the setting before the topology took it over, restored when it lets go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<bool>,
    /// For a route: its destination (`ADDRESS/LEN`) and table, to delete it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    /// The kernel object carries nsfleet's marker: without it, it is no longer the one nsfleet made.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub marked: bool,
}

impl Owned {
    pub fn plain(id: ObjectId) -> Self {
        Self {
            id,
            peer: None,
            previous: None,
            destination: None,
            table: None,
            marked: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub topology: String,
    pub applied_at: String,
    pub objects: Vec<Owned>,
    /// The desired state of the last successful apply, as the caller encoded it (hex).
    pub desired: String,
    /// SHA-256 of the record as read (its header's checksum); empty for one not read from disk.
    #[serde(skip)]
    pub digest: String,
}

impl Record {
    pub fn desired_bytes(&self) -> Option<Vec<u8>> {
        decode_hex(&self.desired)
    }

    /// What the fingerprint covers: the owned objects and the desired state, not the time.
    pub fn identity(&self) -> String {
        let objects = serde_json::to_string(&self.objects).unwrap_or_default();
        format!("{objects}\n{}", self.desired)
    }
}

/// What identifies one version of a record file: a write replaces the file (new inode), an edit in
/// place changes its modification time or length.
type Stamp = (u64, u64, i64, i64);

/// The ledger directory. Parsed records are kept while their file is unchanged: every plan reads all of
/// them (ownership needs every topology's), and parsing and checksumming them each time would dominate
/// a no-change plan.
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
    parsed: Arc<Mutex<HashMap<PathBuf, (Stamp, Record)>>>,
}

impl Ledger {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            parsed: Arc::default(),
        }
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (Stamp, Record)>> {
        // Entries are inserted and removed whole: a panicking holder cannot leave one half written.
        self.parsed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn path_of(&self, name: &TopologyName) -> PathBuf {
        self.dir.join(format!("{}{SUFFIX}", name.as_str()))
    }

    /// The record of `name`; `None` when the host holds none.
    pub fn read(&self, name: &TopologyName) -> Result<Option<Record>, LedgerError> {
        let path = self.path_of(name);
        let stamp = match fs::metadata(&path) {
            Ok(m) => (m.ino(), m.len(), m.mtime(), m.mtime_nsec()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.cached().remove(&path);
                return Ok(None);
            }
            Err(source) => return Err(LedgerError::Io { path, source }),
        };
        if let Some((known, record)) = self.cached().get(&path) {
            if *known == stamp {
                return Ok(Some(record.clone()));
            }
        }
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(LedgerError::Io { path, source }),
        };
        let record = parse(&bytes).map_err(|reason| LedgerError::Corrupt {
            path: path.clone(),
            reason,
        })?;
        if record.topology != name.as_str() {
            return Err(LedgerError::Corrupt {
                path,
                reason: format!("it records topology {:?}", record.topology),
            });
        }
        self.cached().insert(path, (stamp, record.clone()));
        Ok(Some(record))
    }

    /// Every record, sorted by name. One corrupt record fails the whole listing: ownership decisions
    /// need all of them.
    pub fn read_all(&self) -> Result<Vec<Record>, LedgerError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(LedgerError::Io {
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut records = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| LedgerError::Io {
                path: self.dir.clone(),
                source,
            })?;
            let file_name = entry.file_name();
            let Some(stem) = file_name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
                continue;
            };
            let Ok(name) = TopologyName::parse("name", stem) else {
                continue;
            };
            records.extend(self.read(&name)?);
        }
        records.sort_by(|a, b| a.topology.cmp(&b.topology));
        Ok(records)
    }

    pub fn write(&self, record: &Record) -> Result<(), LedgerError> {
        let name = TopologyName::parse("topology", &record.topology).map_err(|e| {
            LedgerError::Corrupt {
                path: self.dir.clone(),
                reason: e.to_string(),
            }
        })?;
        let path = self.path_of(&name);
        let io_error = |source| LedgerError::Io {
            path: path.clone(),
            source,
        };
        let body = serde_json::to_string(record).map_err(|e| io_error(io::Error::other(e)))?;
        let file_name = format!("{}{SUFFIX}", name.as_str());
        sealed::write_atomically(&self.dir, &file_name, &sealed::seal(HEADER, &body))
            .map_err(io_error)
    }

    pub fn remove(&self, name: &TopologyName) -> Result<(), LedgerError> {
        let path = self.path_of(name);
        match fs::remove_file(&path) {
            Ok(()) => {
                sealed::sync_dir(&self.dir).map_err(|source| LedgerError::Io { path, source })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(LedgerError::Io { path, source }),
        }
    }
}

fn parse(bytes: &[u8]) -> Result<Record, String> {
    let (body, digest) = sealed::unseal(HEADER, bytes)?;
    let mut record: Record =
        serde_json::from_str(body).map_err(|e| format!("its body does not parse: {e}"))?;
    record.digest = digest.to_string();
    Ok(record)
}

pub fn encode_hex(bytes: &[u8]) -> String {
    sealed::hex(bytes)
}

pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::object::ObjectKind;

    fn record() -> Record {
        Record {
            topology: "lab".into(),
            applied_at: "2026-01-01T00:00:00Z".into(),
            objects: vec![Owned::plain(ObjectId {
                kind: ObjectKind::Namespace,
                namespace: String::new(),
                name: "netns1".into(),
                link: String::new(),
            })],
            desired: encode_hex(b"\x0a\x03lab"),
            digest: String::new(),
        }
    }

    fn name() -> TopologyName {
        TopologyName::parse("n", "lab").expect("a name")
    }

    #[test]
    fn a_written_record_reads_back_and_its_desired_state_decodes() {
        let dir = tempfile::tempdir().expect("a directory");
        let ledger = Ledger::new(dir.path().to_path_buf());
        ledger.write(&record()).expect("written");
        let read = ledger.read(&name()).expect("readable").expect("present");
        assert_eq!(read.digest.len(), 64);
        assert_eq!(
            Record {
                digest: String::new(),
                ..read.clone()
            },
            record()
        );
        assert_eq!(read.desired_bytes().as_deref(), Some(&b"\x0a\x03lab"[..]));
        assert_eq!(ledger.read_all().expect("all").len(), 1);
    }

    #[test]
    fn truncated_or_edited_records_are_corrupt_and_name_the_file() {
        let dir = tempfile::tempdir().expect("a directory");
        let ledger = Ledger::new(dir.path().to_path_buf());
        ledger.write(&record()).expect("written");
        let path = ledger.path_of(&name());
        let whole = fs::read(&path).expect("read");
        for damaged in [
            whole[..whole.len() / 2].to_vec(),
            String::from_utf8_lossy(&whole)
                .replace("netns1", "netns2")
                .into_bytes(),
            b"garbage".to_vec(),
            Vec::new(),
        ] {
            fs::write(&path, &damaged).expect("damage");
            match ledger.read(&name()) {
                Err(LedgerError::Corrupt { path: named, .. }) => assert_eq!(named, path),
                other => panic!("{other:?} for {:?}", String::from_utf8_lossy(&damaged)),
            }
            assert!(ledger.read_all().is_err());
        }
    }

    #[test]
    fn a_missing_record_is_none_and_removing_it_twice_is_fine() {
        let dir = tempfile::tempdir().expect("a directory");
        let ledger = Ledger::new(dir.path().to_path_buf());
        assert!(ledger.read(&name()).expect("readable").is_none());
        ledger.remove(&name()).expect("removed");
        ledger.remove(&name()).expect("removed again");
    }
}
