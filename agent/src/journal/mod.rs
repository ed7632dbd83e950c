//! The intent journal: one file per transaction under `STATE_DIR/journal`, written before the
//! transaction's first change and removed when it ends, so an agent that dies in between finds it at its
//! next start. This module only stores and reads records (see [`format`]); what the entries mean, and what
//! recovery does with them, belongs to `ops` (`ops::batch::intent`, `ops::recovery`). It knows nothing
//! of gRPC.
//!
//! Durability: the header (and the caller's intent, written with it) is written, fsynced, and the
//! directory fsynced, before [`Journal::begin`] returns. Later entries are appended with one `write` each
//! and not fsynced. A `write` that returned is in the page cache, which survives the death of the
//! process (kill -9 included); only a crash of the whole machine can lose it, and such a crash also ends
//! the boot, and with it every namespace, link and address the entries describe. A record from another
//! boot is therefore never acted upon (its boot id differs) but set aside, so a lost entry can never make
//! recovery act on the wrong object.

pub mod format;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub use format::{FormatError, Header};

const RECORD_SUFFIX: &str = "journal";
const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("intent journal {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("intent journal: cannot encode an entry: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("cannot read the boot id from {BOOT_ID_PATH}: {0}")]
    BootId(io::Error),
}

impl JournalError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The directory of records, for one agent process.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    boot_id: String,
    /// Makes transaction names unique within this process; the pid and start time do across processes.
    sequence: AtomicU64,
}

/// What [`Journal::unfinished`] found.
#[derive(Debug)]
pub enum Found {
    /// A record of this boot: its transaction did not end.
    Unfinished(Record),
    /// A record written before the last reboot: the objects it names are gone with that boot.
    OtherBoot { path: PathBuf, header: Header },
    /// A record that cannot be trusted; nothing in it may be acted upon.
    Corrupt { path: PathBuf, reason: String },
}

#[derive(Debug)]
pub struct Record {
    pub path: PathBuf,
    pub header: Header,
    pub entries: Vec<serde_json::Value>,
}

impl Journal {
    /// Uses `dir` (created by the state directory) for records.
    pub fn open(dir: PathBuf) -> Result<Journal, JournalError> {
        let boot_id = fs::read_to_string(BOOT_ID_PATH)
            .map_err(JournalError::BootId)?
            .trim()
            .to_string();
        Ok(Self::with_boot_id(dir, boot_id))
    }

    fn with_boot_id(dir: PathBuf, boot_id: String) -> Journal {
        Journal {
            dir,
            boot_id,
            sequence: AtomicU64::new(0),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts a transaction: its header and `intent` are on disk (file and directory fsynced) when this
    /// returns, before the caller changes anything.
    pub fn begin(&self, intent: &impl Serialize) -> Result<Transaction, JournalError> {
        let started_unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let transaction = format!(
            "{started_unix_ns}-{}-{}",
            std::process::id(),
            self.sequence.fetch_add(1, Ordering::Relaxed)
        );
        let header = Header {
            format: format::FORMAT_NAME.into(),
            version: format::FORMAT_VERSION,
            transaction: transaction.clone(),
            boot_id: self.boot_id.clone(),
            started_unix_ns,
        };
        let mut text = format::encode_line(&header)?;
        text.push_str(&format::encode_line(intent)?);
        let path = self.dir.join(format!("{transaction}.{RECORD_SUFFIX}"));
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| JournalError::io(&path, e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| JournalError::io(&path, e))?;
        sync_dir(&self.dir)?;
        Ok(Transaction {
            file: Mutex::new(file),
            path,
        })
    }

    /// Every record left in the directory, newest first. Files set aside earlier (other suffixes) are not
    /// read again.
    pub fn unfinished(&self) -> Result<Vec<Found>, JournalError> {
        let mut found = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(|e| JournalError::io(&self.dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| JournalError::io(&self.dir, e))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some(RECORD_SUFFIX) {
                continue;
            }
            found.push(self.read(path));
        }
        found.sort_by_key(|f| std::cmp::Reverse(order_key(f)));
        Ok(found)
    }

    fn read(&self, path: PathBuf) -> Found {
        let text = match fs::read(&path).map(String::from_utf8) {
            Ok(Ok(text)) => text,
            Ok(Err(_)) => {
                return Found::Corrupt {
                    path,
                    reason: "not UTF-8 text".into(),
                }
            }
            Err(e) => {
                return Found::Corrupt {
                    path,
                    reason: e.to_string(),
                }
            }
        };
        match format::decode(&text) {
            Ok((header, _)) if header.boot_id != self.boot_id => Found::OtherBoot { path, header },
            Ok((header, entries)) => Found::Unfinished(Record {
                path,
                header,
                entries,
            }),
            Err(e) => Found::Corrupt {
                path,
                reason: e.to_string(),
            },
        }
    }

    /// Keeps a record for people to read, out of recovery's way: `NAME.journal` becomes `NAME.SUFFIX`.
    pub fn set_aside(&self, path: &Path, suffix: &str) -> Result<PathBuf, JournalError> {
        let aside = path.with_extension(suffix);
        fs::rename(path, &aside).map_err(|e| JournalError::io(path, e))?;
        sync_dir(&self.dir)?;
        Ok(aside)
    }

    /// Removes a record whose transaction recovery has fully taken back.
    pub fn remove(&self, path: &Path) -> Result<(), JournalError> {
        fs::remove_file(path).map_err(|e| JournalError::io(path, e))
    }

    /// Files set aside by earlier starts, to be mentioned at every start until someone deals with them.
    pub fn set_aside_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e != RECORD_SUFFIX)
            })
            .collect();
        files.sort();
        files
    }
}

fn order_key(found: &Found) -> (u128, String) {
    match found {
        Found::Unfinished(record) => (
            record.header.started_unix_ns,
            record.header.transaction.clone(),
        ),
        Found::OtherBoot { header, .. } => (header.started_unix_ns, header.transaction.clone()),
        Found::Corrupt { path, .. } => (0, path.display().to_string()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io(dir, e))
}

/// An open transaction's record. Entries may be appended from many tasks at once: each is one `write`
/// of one whole line, under a lock, so lines never interleave.
#[derive(Debug)]
pub struct Transaction {
    file: Mutex<File>,
    path: PathBuf,
}

impl Transaction {
    pub fn append(&self, entry: &impl Serialize) -> Result<(), JournalError> {
        let line = format::encode_line(entry)?;
        // A holder that panicked wrote a whole line or none: the file is still well formed.
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        file.write_all(line.as_bytes())
            .map_err(|e| JournalError::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The transaction is over (applied, or rolled back by the agent itself): nothing is left to recover.
    pub fn finish(self) -> Result<(), JournalError> {
        fs::remove_file(&self.path).map_err(|e| JournalError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests;
