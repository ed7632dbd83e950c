//! `addr add|del|show` tails.

use nsfleet_proto::v1::{AddAddressRequest, BroadcastMode, DeleteAddressRequest, Scope};

use super::{
    set_once,
    values::{parse_ip, parse_prefix, parse_scope, Prefix},
    GrammarError, Words,
};

/// `[local] ADDR[/PLEN] [brd|broadcast +|ADDR] [label L] [scope S] dev DEV`, keywords in any order.
pub fn parse_add(words: &[String]) -> Result<AddAddressRequest, GrammarError> {
    let mut cursor = Words::new(words);
    let mut prefix = None;
    let mut broadcast = None;
    let mut label = None;
    let mut scope = None;
    let mut device = None;
    while let Some(word) = cursor.next() {
        match word {
            "local" => set_once(
                &mut prefix,
                "local",
                parse_prefix("local", cursor.value("local")?)?,
            )?,
            "brd" | "broadcast" => set_once(
                &mut broadcast,
                "brd",
                parse_broadcast(cursor.value("brd")?)?,
            )?,
            "label" => set_once(&mut label, "label", cursor.value("label")?)?,
            "scope" => set_once(
                &mut scope,
                "scope",
                parse_scope("scope", cursor.value("scope")?)?,
            )?,
            "dev" => set_once(&mut device, "dev", cursor.value("dev")?)?,
            _ if prefix.is_none() => prefix = Some(parse_prefix("local", word)?),
            _ => {
                return Err(GrammarError::UnexpectedWord {
                    word: word.to_owned(),
                    expected: "brd, label, scope or dev",
                })
            }
        }
    }
    let Prefix { address, len } = prefix.ok_or(GrammarError::Missing { what: "ADDR/PLEN" })?;
    let (broadcast_mode, broadcast) = broadcast.unwrap_or((BroadcastMode::None, String::new()));
    Ok(AddAddressRequest {
        namespace: String::new(),
        link: device
            .ok_or(GrammarError::Missing { what: "dev DEV" })?
            .to_owned(),
        address: address.to_string(),
        prefix_len: len,
        broadcast_mode: broadcast_mode.into(),
        broadcast,
        label: label.unwrap_or_default().to_owned(),
        scope: scope.unwrap_or(Scope::Unspecified).into(),
    })
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

/// `[local] ADDR[/PLEN] dev DEV`.
pub fn parse_delete(words: &[String]) -> Result<DeleteAddressRequest, GrammarError> {
    let mut cursor = Words::new(words);
    let mut prefix = None;
    let mut device = None;
    while let Some(word) = cursor.next() {
        match word {
            "local" => set_once(
                &mut prefix,
                "local",
                parse_prefix("local", cursor.value("local")?)?,
            )?,
            "dev" => set_once(&mut device, "dev", cursor.value("dev")?)?,
            _ if prefix.is_none() => prefix = Some(parse_prefix("local", word)?),
            _ => {
                return Err(GrammarError::UnexpectedWord {
                    word: word.to_owned(),
                    expected: "dev",
                })
            }
        }
    }
    let Prefix { address, len } = prefix.ok_or(GrammarError::Missing { what: "ADDR/PLEN" })?;
    Ok(DeleteAddressRequest {
        namespace: String::new(),
        link: device
            .ok_or(GrammarError::Missing { what: "dev DEV" })?
            .to_owned(),
        address: address.to_string(),
        prefix_len: len,
        ignore_missing: false,
    })
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
        assert!(parse_delete(&words("172.20.0.1/16 dev v label x")).is_err());
    }
}
