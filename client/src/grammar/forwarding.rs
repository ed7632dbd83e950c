//! `forwarding set ipv4|ipv6 on|off`.

use nsfleet_proto::v1::{AddressFamily, SetForwardingRequest};

use super::{values::parse_switch, GrammarError, Words};

pub fn parse_set(words: &[String]) -> Result<SetForwardingRequest, GrammarError> {
    let mut cursor = Words::new(words);
    let (family, keyword) = match cursor.next() {
        Some("ipv4") => (AddressFamily::Ipv4, "ipv4"),
        Some("ipv6") => (AddressFamily::Ipv6, "ipv6"),
        Some(word) => {
            return Err(GrammarError::UnexpectedWord {
                word: word.to_owned(),
                expected: "ipv4 or ipv6",
            })
        }
        None => {
            return Err(GrammarError::Missing {
                what: "ipv4|ipv6 on|off",
            })
        }
    };
    let enabled = parse_switch(keyword, cursor.value(keyword)?)?;
    cursor.finish("nothing after on|off")?;
    Ok(SetForwardingRequest {
        namespace: String::new(),
        family: family.into(),
        enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn both_families() {
        let request = parse_set(&words("ipv4 on")).unwrap();
        assert_eq!(
            (request.family(), request.enabled),
            (AddressFamily::Ipv4, true)
        );
        let request = parse_set(&words("ipv6 off")).unwrap();
        assert_eq!(
            (request.family(), request.enabled),
            (AddressFamily::Ipv6, false)
        );
    }

    #[test]
    fn errors() {
        let error = |line: &str| parse_set(&words(line)).unwrap_err().to_string();
        assert_eq!(error(""), "missing ipv4|ipv6 on|off");
        assert_eq!(
            error("ipx on"),
            "unexpected word \"ipx\" (expected ipv4 or ipv6)"
        );
        assert_eq!(error("ipv4"), "\"ipv4\" needs a value");
        assert!(error("ipv4 maybe").starts_with("invalid switch \"maybe\""));
        assert_eq!(
            error("ipv4 on now"),
            "unexpected word \"now\" (expected nothing after on|off)"
        );
    }
}
