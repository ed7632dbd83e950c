//! Files that decisions rest on (the topology ledger, the commit record): a header line naming the kind
//! and version with the SHA-256 of the body, written atomically and durably. A torn, truncated or edited
//! file is recognised as such and never trusted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// `header` (e.g. `nsfleet-ledger v1 sha256=`) followed by the body's digest, then the body.
pub fn seal(header: &str, body: &str) -> String {
    format!(
        "{header}{}\n{body}\n",
        hex(&Sha256::digest(body.as_bytes()))
    )
}

/// The body and its digest, when `bytes` are a sealed file of this `header` whose checksum matches; else
/// why not, for a person.
pub fn unseal<'a>(header: &str, bytes: &'a [u8]) -> Result<(&'a str, &'a str), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8".to_string())?;
    let (first, body) = text
        .split_once('\n')
        .ok_or_else(|| "it has no header line".to_string())?;
    let digest = first
        .strip_prefix(header)
        .ok_or_else(|| "its header is not nsfleet's".to_string())?;
    let body = body.strip_suffix('\n').unwrap_or(body);
    if hex(&Sha256::digest(body.as_bytes())) != digest {
        return Err("its checksum does not match: truncated or edited".to_string());
    }
    Ok((body, digest))
}

/// Replaces `dir/name` with `text` so that a crash leaves either the old file or the new one: a private
/// temporary file, fsynced, renamed over it, then the directory fsynced so the rename itself survives.
pub fn write_atomically(dir: &Path, name: &str, text: &str) -> io::Result<()> {
    let temporary = dir.join(format!(".{name}.tmp"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, dir.join(name))?;
    sync_dir(dir)
}

/// Makes a rename or removal in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "nsfleet-test v1 sha256=";

    #[test]
    fn a_sealed_body_comes_back_and_any_change_is_refused() {
        let text = seal(HEADER, "{\"a\":1}");
        let (body, digest) = unseal(HEADER, text.as_bytes()).expect("unseals");
        assert_eq!(body, "{\"a\":1}");
        assert_eq!(digest.len(), 64);
        let edited = text.replace("\"a\":1", "\"a\":2");
        assert!(unseal(HEADER, edited.as_bytes()).is_err_and(|reason| reason.contains("checksum")));
        let truncated = &text.as_bytes()[..text.len() - 3];
        assert!(unseal(HEADER, truncated).is_err());
        assert!(unseal("nsfleet-other v1 sha256=", text.as_bytes())
            .is_err_and(|reason| reason.contains("header")));
    }

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("a directory");
        write_atomically(dir.path(), "f", "one").expect("first write");
        write_atomically(dir.path(), "f", "two").expect("second write");
        assert_eq!(
            fs::read_to_string(dir.path().join("f")).expect("read"),
            "two"
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["f"]);
    }
}
