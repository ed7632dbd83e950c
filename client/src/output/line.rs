//! One host's line of `-o json`: `{"host":…,"ok":…,"error":{…},"result":…}`, "error" only when the host
//! failed and "result" only when it answered. The result is serialized straight into the line, with
//! no `serde_json::Value` in between.

use serde::Serialize;

use crate::failure::HostFailure;

#[derive(Serialize)]
pub struct JsonLine<'a, R: Serialize> {
    host: &'a str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<LineError<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<R>,
}

#[derive(Serialize)]
struct LineError<'a> {
    code: &'a str,
    message: &'a str,
}

impl<'a> LineError<'a> {
    fn of(failure: &'a HostFailure) -> Self {
        Self {
            code: failure.code_name(),
            message: &failure.message,
        }
    }
}

impl<'a, R: Serialize> JsonLine<'a, R> {
    pub fn success(host: &'a str, result: R) -> Self {
        Self {
            host,
            ok: true,
            error: None,
            result: Some(result),
        }
    }

    /// A host that answered, but whose answer is a failure (a batch that did not apply): the result is
    /// kept so the caller sees what was undone.
    pub fn failed_with(host: &'a str, failure: &'a HostFailure, result: R) -> Self {
        Self {
            host,
            ok: false,
            error: Some(LineError::of(failure)),
            result: Some(result),
        }
    }

    /// The line, newline included.
    pub fn to_line(&self) -> String {
        // Keys are all strings and no `Serialize` of the output returns an error, so serde_json has
        // nothing to refuse here.
        let mut line = serde_json::to_string(self).expect("a JSON line always serializes");
        line.push('\n');
        line
    }
}

impl<'a> JsonLine<'a, ()> {
    pub fn failure(host: &'a str, failure: &'a HostFailure) -> Self {
        Self {
            host,
            ok: false,
            error: Some(LineError::of(failure)),
            result: None,
        }
    }
}
