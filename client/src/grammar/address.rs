//! `addr add|del|show` tails.

use nsfleet_proto::v1::{AddAddressRequest, BroadcastMode, DeleteAddressRequest, Scope};

use super::{
    set_once,
    values::{parse_ip, parse_prefix, parse_scope, Prefix},
    GrammarError, Words,
};

/// `[local] ADDR[/PLEN] [brd|broadcast +|ADDR] [label L] [scope S] dev DEV`, keywords in any order.
pub fn parse_add(words: &[String]) -> Result<AddAddressRequest, GrammarError> {
    let read = AddressWords::read(words, true)?;
    let Prefix { address, len } = read.prefix()?;
    let (broadcast_mode, broadcast) = read
        .broadcast
        .clone()
        .unwrap_or((BroadcastMode::None, String::new()));
    Ok(AddAddressRequest {
        namespace: String::new(),
        link: read.device()?,
        address: address.to_string(),
        prefix_len: len,
        broadcast_mode: broadcast_mode.into(),
        broadcast,
        label: read.label.unwrap_or_default().to_owned(),
        scope: read.scope.unwrap_or(Scope::Unspecified).into(),
    })
}

/// `[local] ADDR[/PLEN] dev DEV`.
pub fn parse_delete(words: &[String]) -> Result<DeleteAddressRequest, GrammarError> {
    let read = AddressWords::read(words, false)?;
    let Prefix { address, len } = read.prefix()?;
    Ok(DeleteAddressRequest {
        namespace: String::new(),
        link: read.device()?,
        address: address.to_string(),
        prefix_len: len,
        ignore_missing: false,
        force: false,
    })
}

/// The words of `addr add`; `addr del` takes only the address and the device (the API matches nothing
/// else).
#[derive(Default)]
struct AddressWords<'a> {
    prefix: Option<Prefix>,
    broadcast: Option<(BroadcastMode, String)>,
    label: Option<&'a str>,
    scope: Option<Scope>,
    device: Option<&'a str>,
}

impl<'a> AddressWords<'a> {
    fn read(words: &'a [String], attributes_allowed: bool) -> Result<Self, GrammarError> {
        let expected = if attributes_allowed {
            "brd, label, scope or dev"
        } else {
            "dev"
        };
        let mut cursor = Words::new(words);
        let mut read = Self::default();
        while let Some(word) = cursor.next() {
            match word {
                "local" => {
                    let prefix = parse_prefix("local", cursor.value("local")?)?;
                    set_once(&mut read.prefix, "local", prefix)?
                }
                "dev" => set_once(&mut read.device, "dev", cursor.value("dev")?)?,
                "brd" | "broadcast" if attributes_allowed => {
                    let broadcast = parse_broadcast(cursor.value("brd")?)?;
                    set_once(&mut read.broadcast, "brd", broadcast)?
                }
                "label" if attributes_allowed => {
                    set_once(&mut read.label, "label", cursor.value("label")?)?
                }
                "scope" if attributes_allowed => {
                    let scope = parse_scope("scope", cursor.value("scope")?)?;
                    set_once(&mut read.scope, "scope", scope)?
                }
                _ if read.prefix.is_none() => read.prefix = Some(parse_prefix("local", word)?),
                _ => {
                    return Err(GrammarError::UnexpectedWord {
                        word: word.to_owned(),
                        expected,
                    })
                }
            }
        }
        Ok(read)
    }

    fn prefix(&self) -> Result<Prefix, GrammarError> {
        self.prefix
            .ok_or(GrammarError::Missing { what: "ADDR/PLEN" })
    }

    fn device(&self) -> Result<String, GrammarError> {
        self.device
            .map(str::to_owned)
            .ok_or(GrammarError::Missing { what: "dev DEV" })
    }
}

fn parse_broadcast(word: &str) -> Result<(BroadcastMode, String), GrammarError> {
    match word {
        "+" => Ok((BroadcastMode::Computed, String::new())),
        // iproute2's `brd -` (host bits cleared) has no counterpart in the API.
        "-" => Err(GrammarError::Unsupported {
            message: "\"brd -\" is not supported; use \"brd +\" or an address".into(),
        }),
        _ => Ok((BroadcastMode::Explicit, parse_ip("brd", word)?.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn tutorial_address() {
        let request = parse_add(&words("172.20.0.11/16 dev ceth1")).unwrap();
        assert_eq!(request.link, "ceth1");
        assert_eq!(request.address, "172.20.0.11");
        assert_eq!(request.prefix_len, 16);
        assert_eq!(request.broadcast_mode(), BroadcastMode::None);
        assert_eq!(request.scope(), Scope::Unspecified);
    }

    #[test]
    fn every_keyword_in_any_order() {
        let request =
            parse_add(&words("dev br0 scope link label br0:1 brd + 172.20.0.1/16")).unwrap();
        assert_eq!(request.link, "br0");
        assert_eq!(request.scope(), Scope::Link);
        assert_eq!(request.label, "br0:1");
        assert_eq!(request.broadcast_mode(), BroadcastMode::Computed);
        let request = parse_add(&words("local 2001:db8::1/64 dev br0")).unwrap();
        assert_eq!(
            (request.address.as_str(), request.prefix_len),
            ("2001:db8::1", 64)
        );
        let request = parse_add(&words("10.0.0.1/8 broadcast 10.255.255.255 dev br0")).unwrap();
        assert_eq!(request.broadcast_mode(), BroadcastMode::Explicit);
        assert_eq!(request.broadcast, "10.255.255.255");
    }

    #[test]
    fn address_without_length_is_a_host_address() {
        assert_eq!(parse_add(&words("10.0.0.1 dev lo")).unwrap().prefix_len, 32);
    }

    #[test]
    fn add_errors() {
        let error = |line: &str| parse_add(&words(line)).unwrap_err().to_string();
        assert_eq!(error("172.20.0.11/16"), "missing dev DEV");
        assert_eq!(error("dev br0"), "missing ADDR/PLEN");
        assert!(error("172.20.0.300/16 dev br0").starts_with("invalid prefix \"172.20.0.300/16\""));
        assert!(error("10.0.0.1/8 brd nope dev br0")
            .starts_with("invalid address \"nope\" after \"brd\""));
        assert!(error("10.0.0.1/8 brd - dev br0").contains("not supported"));
        assert!(error("10.0.0.1/8 scope galaxy dev br0").starts_with("invalid scope \"galaxy\""));
        assert_eq!(
            error("10.0.0.1/8 dev br0 br1"),
            "unexpected word \"br1\" (expected brd, label, scope or dev)"
        );
        assert_eq!(error("10.0.0.1/8 dev br0 dev br1"), "\"dev\" given twice");
    }

    #[test]
    fn delete() {
        let request = parse_delete(&words("172.20.0.1/16 dev veth1")).unwrap();
        assert_eq!(
            (
                request.link.as_str(),
                request.address.as_str(),
                request.prefix_len
            ),
            ("veth1", "172.20.0.1", 16)
        );
        assert!(!request.ignore_missing);
        assert_eq!(
            parse_delete(&words("172.20.0.1/16"))
                .unwrap_err()
                .to_string(),
            "missing dev DEV"
        );
        let error = parse_delete(&words("172.20.0.1/16 dev v label x")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unexpected word \"label\" (expected dev)"
        );
    }
}
