//! Typed parsers for the iproute2-style keyword tails (`type veth peer name X`, `via GW dev DEV`).
//!
//! clap handles global options, objects and verbs; everything after the verb is a list of words that
//! these parsers turn into proto request messages. They check syntax only (does the address parse, is the
//! port a number); whether the request makes sense is for the agent to say. The `namespace` field of the
//! requests they return is left empty: the caller fills it from `-n`.

pub mod address;
pub mod forwarding;
pub mod link;
pub mod nat;
pub mod neighbor;
pub mod route;
pub mod values;
pub mod vxlan;
mod words;

pub use words::Words;

/// A keyword tail that does not follow the grammar; always a usage error (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrammarError {
    #[error("unexpected word \"{word}\" (expected {expected})")]
    UnexpectedWord {
        word: String,
        expected: &'static str,
    },
    #[error("\"{keyword}\" needs a value")]
    MissingValue { keyword: &'static str },
    #[error("invalid {what} \"{value}\" after \"{keyword}\": {reason}")]
    InvalidValue {
        keyword: &'static str,
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("missing {what}")]
    Missing { what: &'static str },
    #[error("\"{keyword}\" given twice")]
    Repeated { keyword: &'static str },
    #[error("\"{first}\" and \"{second}\" cannot be combined")]
    Conflict {
        first: &'static str,
        second: &'static str,
    },
    #[error("{message}")]
    Unsupported { message: String },
}

/// Stores a keyword's value, refusing a second occurrence: iproute2 silently takes the last one, which
/// hides typos in long command lines.
pub fn set_once<T>(
    slot: &mut Option<T>,
    keyword: &'static str,
    value: T,
) -> Result<(), GrammarError> {
    if slot.is_some() {
        return Err(GrammarError::Repeated { keyword });
    }
    *slot = Some(value);
    Ok(())
}

/// `[[dev] NAME]`: the optional link filter of the listing verbs (`link show`, `addr show`, `neigh show`).
pub fn parse_optional_device(words: &[String]) -> Result<Option<String>, GrammarError> {
    let mut cursor = Words::new(words);
    let name = match cursor.next() {
        Some("dev") => Some(cursor.value("dev")?),
        other => other,
    };
    cursor.finish("nothing after the link name")?;
    Ok(name.map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn optional_device_with_or_without_dev() {
        assert_eq!(parse_optional_device(&words("")).unwrap(), None);
        assert_eq!(
            parse_optional_device(&words("br0")).unwrap().as_deref(),
            Some("br0")
        );
        assert_eq!(
            parse_optional_device(&words("dev br0")).unwrap().as_deref(),
            Some("br0")
        );
        assert_eq!(
            parse_optional_device(&words("dev")).unwrap_err(),
            GrammarError::MissingValue { keyword: "dev" }
        );
        assert!(parse_optional_device(&words("br0 br1")).is_err());
    }

    #[test]
    fn set_once_refuses_repeats() {
        let mut slot = None;
        assert_eq!(set_once(&mut slot, "mtu", 1), Ok(()));
        assert_eq!(
            set_once(&mut slot, "mtu", 2),
            Err(GrammarError::Repeated { keyword: "mtu" })
        );
        assert_eq!(slot, Some(1));
    }
}
