//! The on-disk form of one transaction's record: a text file of lines, each `CHECKSUM JSON\n`, where the
//! checksum is the first 16 hex digits of SHA-256 over the JSON. The first line is the [`Header`]; every
//! later line is an entry whose meaning belongs to the caller. Appending a line never rewrites an earlier
//! one, so a record can only be damaged at its end (an interrupted write) or by something outside nsfleet;
//! both are detected here, and the reader is told which line.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Names the file's kind, so a stray file in the directory is not mistaken for a record.
pub const FORMAT_NAME: &str = "nsfleet-journal";
/// Bumped on any change a reader of the previous version could misread.
pub const FORMAT_VERSION: u32 = 1;

const CHECKSUM_HEX_DIGITS: usize = 16;

/// The first line of every record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// Unique per agent start and transaction; also the file's name.
    pub transaction: String,
    /// `/proc/sys/kernel/random/boot_id` when the record was written: kernel objects (and the identities
    /// recorded for them) do not outlive a boot.
    pub boot_id: String,
    /// Nanoseconds since the epoch at the start; orders transactions newest first.
    pub started_unix_ns: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the record is empty")]
    Empty,
    #[error("line {line} is cut short (no line end): an interrupted write")]
    Truncated { line: usize },
    #[error("line {line} has a wrong checksum")]
    Checksum { line: usize },
    #[error("line {line} is not a checksummed line")]
    Malformed { line: usize },
    #[error("line {line}: {reason}")]
    Json { line: usize, reason: String },
    #[error("not an nsfleet journal record (format {found:?})")]
    NotAJournal { found: String },
    #[error("record version {found} is not supported (this agent reads version {FORMAT_VERSION})")]
    Version { found: u32 },
}

/// One line, ready to append.
pub fn encode_line(value: &impl Serialize) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    Ok(format!("{} {json}\n", checksum(&json)))
}

/// A whole record: its header and its entries in the order written.
pub fn decode(text: &str) -> Result<(Header, Vec<serde_json::Value>), FormatError> {
    if text.is_empty() {
        return Err(FormatError::Empty);
    }
    let mut lines: Vec<&str> = text.split('\n').collect();
    // A complete record ends with a line end, which leaves one empty piece after the last split.
    let last = lines.pop().unwrap_or_default();
    if !last.is_empty() {
        return Err(FormatError::Truncated {
            line: lines.len() + 1,
        });
    }
    let mut values = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        values.push(decode_line(index + 1, line)?);
    }
    let mut values = values.into_iter();
    let header_value = values.next().ok_or(FormatError::Empty)?;
    let header = header_of(header_value)?;
    Ok((header, values.collect()))
}

fn decode_line(line: usize, text: &str) -> Result<serde_json::Value, FormatError> {
    let (sum, json) = text
        .split_once(' ')
        .filter(|(sum, _)| sum.len() == CHECKSUM_HEX_DIGITS)
        .ok_or(FormatError::Malformed { line })?;
    if checksum(json) != sum {
        return Err(FormatError::Checksum { line });
    }
    serde_json::from_str(json).map_err(|e| FormatError::Json {
        line,
        reason: e.to_string(),
    })
}

fn header_of(value: serde_json::Value) -> Result<Header, FormatError> {
    // Format and version first, so a newer record is reported as such rather than as malformed.
    let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != FORMAT_NAME {
        return Err(FormatError::NotAJournal {
            found: format.to_string(),
        });
    }
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version != u64::from(FORMAT_VERSION) {
        return Err(FormatError::Version {
            found: u32::try_from(version).unwrap_or(u32::MAX),
        });
    }
    serde_json::from_value(value).map_err(|e| FormatError::Json {
        line: 1,
        reason: e.to_string(),
    })
}

fn checksum(json: &str) -> String {
    Sha256::digest(json.as_bytes())
        .iter()
        .take(CHECKSUM_HEX_DIGITS / 2)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header() -> Header {
        Header {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            transaction: "t1".into(),
            boot_id: "b".into(),
            started_unix_ns: 7,
        }
    }

    fn record(entries: &[serde_json::Value]) -> String {
        let mut text = encode_line(&header()).expect("encodable");
        for entry in entries {
            text.push_str(&encode_line(entry).expect("encodable"));
        }
        text
    }

    #[test]
    fn what_is_written_reads_back() {
        let entries = [json!({"a": 1}), json!({"b": "two"})];
        let (read_header, read) = decode(&record(&entries)).expect("a valid record");
        assert_eq!(read_header, header());
        assert_eq!(read, entries);
    }

    #[test]
    fn a_cut_last_line_is_truncated_wherever_the_cut_falls() {
        let text = record(&[json!({"a": 1})]);
        let header_len = encode_line(&header()).expect("encodable").len();
        for cut in header_len + 1..text.len() {
            assert_eq!(
                decode(&text[..cut]),
                Err(FormatError::Truncated { line: 2 }),
                "cut at {cut}"
            );
        }
        assert_eq!(decode(""), Err(FormatError::Empty));
    }

    #[test]
    fn a_changed_byte_is_caught_by_the_checksum() {
        let text = record(&[json!({"name": "ns1"})]);
        let damaged = text.replace("ns1", "ns2");
        assert_eq!(decode(&damaged), Err(FormatError::Checksum { line: 2 }));
    }

    #[test]
    fn lines_without_a_checksum_are_malformed() {
        let text = format!(
            "{}{{\"a\":1}}\n",
            encode_line(&header()).expect("encodable")
        );
        assert_eq!(decode(&text), Err(FormatError::Malformed { line: 2 }));
    }

    #[test]
    fn another_version_or_format_is_refused_by_name() {
        let newer = Header {
            version: FORMAT_VERSION + 1,
            ..header()
        };
        let text = encode_line(&newer).expect("encodable");
        assert_eq!(
            decode(&text),
            Err(FormatError::Version {
                found: FORMAT_VERSION + 1
            })
        );
        let other = encode_line(&json!({"format": "x", "version": 1})).expect("encodable");
        assert!(matches!(
            decode(&other),
            Err(FormatError::NotAJournal { .. })
        ));
    }
}
