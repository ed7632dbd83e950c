//! The audit log: one JSON line per mutation, allowed or refused, and per refused call of any kind.
//!
//! ```text
//! {"time":"2026-11-29T09:12:03.412Z","identity":"token:ci","peer":"192.0.2.2:40112",
//!  "method":"/nsfleet.v1.LinkService/DeleteLink","request":{"name":"veth0"},"code":"FAILED_PRECONDITION",
//!  "message":"refusing to delete veth0: ..."}
//! ```
//!
//! Written by the server's security layer (see `server::security`), never by handlers, so no method can
//! forget it. `request` is the request message as JSON with the .proto field names and default values
//! left out, decoded from the descriptors: new methods are covered without code.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde::Serialize;
use serde_json::Value;

/// Summaries longer than this (a batch of thousands of operations) keep only their beginning.
const MAX_SUMMARY_BYTES: usize = 8 * 1024;
const TRUNCATED_HEAD_BYTES: usize = 1024;
/// Only this much of a request is decoded for its summary. A decoded message and its JSON take a few
/// hundred times its wire size: decoding a whole 1 MB batch to keep 1 KiB of it cost hundreds of MB.
const MAX_DECODED_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub time: String,
    pub identity: String,
    pub peer: String,
    pub method: String,
    /// The request message; `null` when it was not read (the caller was not authenticated).
    pub request: Value,
    /// The gRPC status code, SCREAMING_SNAKE_CASE ("OK", "PERMISSION_DENIED", ...).
    pub code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

enum Sink {
    Stderr,
    File { path: PathBuf, file: File },
}

pub struct AuditLog {
    sink: Mutex<Sink>,
}

impl AuditLog {
    pub fn stderr() -> Self {
        Self {
            sink: Mutex::new(Sink::Stderr),
        }
    }

    /// Appends to `path`, created 0600: the log names callers and what they changed.
    pub fn file(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(Self {
            sink: Mutex::new(Sink::File {
                path: path.to_path_buf(),
                file,
            }),
        })
    }

    /// Writes one line. A log that cannot be written is reported through tracing, and the call goes on:
    /// refusing every call because a disk is full would take the host's network management down with it.
    pub fn record(&self, record: &AuditRecord) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an audit record");
                return;
            }
        };
        line.push(b'\n');
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = match &mut *sink {
            // One write of the whole line, under stderr's lock, so log lines never interleave with it.
            Sink::Stderr => io::stderr().lock().write_all(&line),
            Sink::File { file, .. } => file.write_all(&line).and_then(|()| file.flush()),
        };
        if let Err(e) = result {
            let target = match &*sink {
                Sink::Stderr => "stderr".to_string(),
                Sink::File { path, .. } => path.display().to_string(),
            };
            tracing::error!(error = %e, %target, "cannot write the audit log");
        }
    }
}

/// Turns request messages into the `request` field of audit records.
pub struct RequestSummarizer {
    pool: DescriptorPool,
}

impl RequestSummarizer {
    pub fn new() -> Result<Self, prost_reflect::DescriptorError> {
        Ok(Self {
            pool: DescriptorPool::decode(nsfleet_proto::FILE_DESCRIPTOR_SET_WITHOUT_SOURCE_INFO)?,
        })
    }

    /// `path` is "/package.Service/Method"; `message` the encoded request. Methods outside nsfleet.v1 and
    /// messages that do not decode are described rather than shown.
    pub fn summarize(&self, path: &str, message: &[u8]) -> Value {
        let Some(descriptor) = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .and_then(|(service, method)| {
                self.pool
                    .get_service_by_name(service)?
                    .methods()
                    .find(|m| m.name() == method)
            })
            .map(|method| method.input())
        else {
            return serde_json::json!({ "bytes": message.len() });
        };
        let decoded = match DynamicMessage::decode(descriptor, leading_fields(message)) {
            Ok(decoded) => decoded,
            Err(e) => {
                return serde_json::json!({ "undecodable": e.to_string(), "bytes": message.len() })
            }
        };
        let options = SerializeOptions::new().use_proto_field_name(true);
        let value = match decoded.serialize_with_options(serde_json::value::Serializer, &options) {
            Ok(value) => value,
            Err(e) => return serde_json::json!({ "unencodable": e.to_string() }),
        };
        let text = value.to_string();
        if text.len() <= MAX_SUMMARY_BYTES && message.len() <= MAX_DECODED_BYTES {
            return value;
        }
        let mut end = TRUNCATED_HEAD_BYTES.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        // `bytes` is the request's size on the wire, as in the other summaries.
        serde_json::json!({ "truncated": true, "bytes": message.len(), "head": &text[..end] })
    }
}

/// The longest run of whole top-level fields at the start of `message` within [`MAX_DECODED_BYTES`]
/// (at least the first field): itself a valid message, as fields stand alone on the wire. A message
/// that cannot be walked is returned whole, for the decoder to describe what is wrong with it.
fn leading_fields(message: &[u8]) -> &[u8] {
    if message.len() <= MAX_DECODED_BYTES {
        return message;
    }
    let mut end = 0;
    while end < message.len() {
        let Some(next) = field_end(message, end) else {
            return message;
        };
        if end > 0 && next > MAX_DECODED_BYTES {
            break;
        }
        end = next;
    }
    &message[..end]
}

/// Where the top-level field starting at `start` ends; `None` for what is not a well-formed field.
fn field_end(message: &[u8], start: usize) -> Option<usize> {
    let mut rest = message.get(start..)?;
    let before = rest.len();
    let key = prost::encoding::decode_varint(&mut rest).ok()?;
    let skip = match key & 0x7 {
        0 => {
            prost::encoding::decode_varint(&mut rest).ok()?;
            0
        }
        1 => 8,
        2 => usize::try_from(prost::encoding::decode_varint(&mut rest).ok()?).ok()?,
        5 => 4,
        // Groups (3, 4) are not used by nsfleet's messages; anything else is malformed.
        _ => return None,
    };
    let end = start + (before - rest.len()) + skip;
    (end <= message.len()).then_some(end)
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since_epoch.as_secs(), since_epoch.subsec_millis())
}

/// Seconds and milliseconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(seconds: u64, millis: u32) -> String {
    let days = seconds / 86_400;
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard Hinnant's
/// algorithm, shifted so March is the first month of a 400-year era).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// "INVALID_ARGUMENT" for `Code::InvalidArgument`, as the CLI and the contract spell codes.
pub fn code_name(code: tonic::Code) -> String {
    let debug = format!("{code:?}");
    let mut name = String::with_capacity(debug.len() + 4);
    for (index, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

#[cfg(test)]
mod tests {
    use nsfleet_proto::v1 as pb;
    use prost::Message;

    use super::*;

    #[test]
    fn dates_are_utc_rfc3339() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_000_000, 999), "2026-11-18T11:06:40.999Z");
    }

    #[test]
    fn codes_are_screaming_snake_case() {
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(code_name(tonic::Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(
            code_name(tonic::Code::FailedPrecondition),
            "FAILED_PRECONDITION"
        );
    }

    #[test]
    fn requests_are_summarized_with_proto_names_and_long_ones_truncated() {
        let summarizer = RequestSummarizer::new().expect("descriptors");
        let request = pb::DeleteLinkRequest {
            name: "veth0".into(),
            force: true,
            ..Default::default()
        };
        let summary = summarizer.summarize(
            "/nsfleet.v1.LinkService/DeleteLink",
            &request.encode_to_vec(),
        );
        assert_eq!(
            summary,
            serde_json::json!({ "name": "veth0", "force": true })
        );
        let batch = pb::ApplyBatchRequest {
            operations: (0..2000)
                .map(|i| pb::BatchOperation {
                    operation: Some(pb::batch_operation::Operation::CreateNamespace(
                        pb::CreateNamespaceRequest {
                            name: format!("ns{i}"),
                        },
                    )),
                })
                .collect(),
            continue_on_error: false,
        };
        let summary = summarizer.summarize(
            "/nsfleet.v1.BatchService/ApplyBatch",
            &batch.encode_to_vec(),
        );
        assert_eq!(summary["truncated"], true);
        assert!(summary["head"]
            .as_str()
            .is_some_and(|head| head.len() <= TRUNCATED_HEAD_BYTES && head.contains("ns0")));
        assert_eq!(summary["bytes"], batch.encoded_len());
        // Only the leading fields are decoded, and they are whole operations.
        let encoded = batch.encode_to_vec();
        let leading = leading_fields(&encoded);
        assert!(leading.len() <= MAX_DECODED_BYTES && leading.len() > MAX_DECODED_BYTES / 2);
        assert!(pb::ApplyBatchRequest::decode(leading).is_ok());
        assert_eq!(
            summarizer.summarize("/x.Y/Z", b"abc"),
            serde_json::json!({ "bytes": 3 })
        );
        assert!(summarizer
            .summarize("/nsfleet.v1.LinkService/DeleteLink", &[0xff, 0xff])
            .get("undecodable")
            .is_some());
    }
}
