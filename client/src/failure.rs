//! How one host failed: a gRPC status code and a message, whether the agent said it or the client
//! decided it (unreachable, no answer in time).

use std::{error::Error as StdError, fmt, time::Duration};

use tonic::Code;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFailure {
    pub code: Code,
    pub message: String,
}

impl HostFailure {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn deadline(waited: Duration) -> Self {
        Self::new(
            Code::DeadlineExceeded,
            format!("no answer within {} s", format_seconds(waited)),
        )
    }

    /// The code as the contract spells it: INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE, ...
    pub fn code_name(&self) -> &'static str {
        code_name(self.code)
    }
}

impl fmt::Display for HostFailure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.code_name(), self.message)
    }
}

impl From<tonic::Status> for HostFailure {
    fn from(status: tonic::Status) -> Self {
        // A status made by tonic itself (the connection broke mid-call) carries its cause only as source.
        let mut message = status.message().to_owned();
        if let Some(source) = StdError::source(&status) {
            let chain = error_chain(source);
            if message.is_empty() {
                message = chain;
            } else if !message.contains(&chain) {
                message = format!("{message}: {chain}");
            }
        }
        Self::new(status.code(), message)
    }
}

/// An error and its causes joined with ": ", skipping causes whose text the previous one already shows.
pub fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !parts
            .last()
            .is_some_and(|previous| previous.contains(&text))
        {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}

pub fn format_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{seconds:.0}")
    } else {
        format!("{seconds}")
    }
}

pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_screaming_snake() {
        assert_eq!(code_name(Code::FailedPrecondition), "FAILED_PRECONDITION");
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        assert_eq!(
            HostFailure::new(Code::Unavailable, "down").to_string(),
            "UNAVAILABLE: down"
        );
    }

    #[test]
    fn status_message_is_kept() {
        let failure = HostFailure::from(tonic::Status::not_found("link veth9 not found"));
        assert_eq!(
            failure,
            HostFailure::new(Code::NotFound, "link veth9 not found")
        );
    }

    #[test]
    fn deadlines_in_seconds() {
        assert_eq!(
            HostFailure::deadline(Duration::from_secs(30)).message,
            "no answer within 30 s"
        );
        assert_eq!(
            HostFailure::deadline(Duration::from_millis(1500)).message,
            "no answer within 1.5 s"
        );
    }

    #[test]
    fn chain_skips_repeats() {
        let inner =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        assert_eq!(error_chain(&inner), "connection refused");
    }
}
