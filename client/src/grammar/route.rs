//! `route add|replace|del|show` tails.

use nsfleet_proto::v1::{AddressFamily, ListRoutesRequest, RouteSpec, Scope};

use super::{
    set_once,
    values::{family_of, parse_ip, parse_prefix, parse_scope, parse_table, Prefix},
    GrammarError, Words,
};

/// `[to] default|PREFIX[/PLEN] [via GW] [dev DEV] [metric M] [table T] [scope S] [src A]`.
///
/// `family` is what `-4`/`-6` said (unspecified without them); otherwise the family comes from the
/// destination, then the gateway, so that `default via 2001:db8::1` is an IPv6 default route.
pub fn parse_spec(words: &[String], family: AddressFamily) -> Result<RouteSpec, GrammarError> {
    let mut cursor = Words::new(words);
    let mut destination: Option<Option<Prefix>> = None;
    let mut spec = RouteSpec::default();
    let mut gateway = None;
    let mut device = None;
    let mut scope = None;
    let mut source = None;
    while let Some(word) = cursor.next() {
        match word {
            "to" => set_once(
                &mut destination,
                "to",
                parse_destination(cursor.value("to")?)?,
            )?,
            "via" => set_once(&mut gateway, "via", parse_ip("via", cursor.value("via")?)?)?,
            "dev" | "oif" => set_once(&mut device, "dev", cursor.value("dev")?)?,
            "metric" | "priority" | "preference" => set_once(
                &mut spec.metric,
                "metric",
                cursor.parsed("metric", "metric")?,
            )?,
            "table" => set_once(
                &mut spec.table,
                "table",
                parse_table("table", cursor.value("table")?)?,
            )?,
            "scope" => set_once(
                &mut scope,
                "scope",
                parse_scope("scope", cursor.value("scope")?)?,
            )?,
            "src" => set_once(&mut source, "src", parse_ip("src", cursor.value("src")?)?)?,
            _ if destination.is_none() => destination = Some(parse_destination(word)?),
            _ => {
                return Err(GrammarError::UnexpectedWord {
                    word: word.to_owned(),
                    expected: "via, dev, metric, table, scope or src",
                })
            }
        }
    }
    let destination = destination.ok_or(GrammarError::Missing {
        what: "destination (default or PREFIX/PLEN)",
    })?;
    let inferred = destination
        .map(|prefix| prefix.address)
        .or(gateway)
        .map(family_of);
    spec.family = match family {
        AddressFamily::Unspecified => inferred.unwrap_or(AddressFamily::Unspecified),
        explicit => explicit,
    }
    .into();
    if let Some(Prefix { address, len }) = destination {
        spec.destination = address.to_string();
        spec.prefix_len = len;
    }
    spec.gateway = gateway
        .map(|address| address.to_string())
        .unwrap_or_default();
    spec.device = device.unwrap_or_default().to_owned();
    spec.scope = scope.unwrap_or(Scope::Unspecified).into();
    spec.source = source
        .map(|address| address.to_string())
        .unwrap_or_default();
    Ok(spec)
}

/// `None` is the default route, whose family the gateway or `-6` decides.
fn parse_destination(word: &str) -> Result<Option<Prefix>, GrammarError> {
    match word {
        "default" => Ok(None),
        _ => parse_prefix("to", word).map(Some),
    }
}

/// `[table T|all]`.
pub fn parse_list(
    words: &[String],
    family: AddressFamily,
) -> Result<ListRoutesRequest, GrammarError> {
    let mut cursor = Words::new(words);
    let mut request = ListRoutesRequest {
        family: family.into(),
        ..ListRoutesRequest::default()
    };
    while let Some(word) = cursor.next() {
        match word {
            "table" => {
                let table = cursor.value("table")?;
                if request.all_tables || request.table.is_some() {
                    return Err(GrammarError::Repeated { keyword: "table" });
                }
                match table {
                    "all" => request.all_tables = true,
                    _ => request.table = Some(parse_table("table", table)?),
                }
            }
            _ => {
                return Err(GrammarError::UnexpectedWord {
                    word: word.to_owned(),
                    expected: "table",
                })
            }
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn spec(line: &str) -> RouteSpec {
        parse_spec(&words(line), AddressFamily::Unspecified).unwrap()
    }

    #[test]
    fn tutorial_default_route() {
        let route = spec("default via 172.20.0.1");
        assert_eq!((route.destination.as_str(), route.prefix_len), ("", 0));
        assert_eq!(route.gateway, "172.20.0.1");
        assert_eq!(route.family(), AddressFamily::Ipv4);
        assert_eq!((route.metric, route.table), (None, None));
    }

    #[test]
    fn ipv6_default_from_gateway_or_flag() {
        assert_eq!(
            spec("default via 2001:db8::1").family(),
            AddressFamily::Ipv6
        );
        assert_eq!(spec("default dev br0").family(), AddressFamily::Unspecified);
        let route = parse_spec(&words("default dev br0"), AddressFamily::Ipv6).unwrap();
        assert_eq!(route.family(), AddressFamily::Ipv6);
    }

    #[test]
    fn every_keyword() {
        let route = spec(
            "to 10.1.0.0/16 via 172.20.0.1 dev br0 metric 100 table 10 scope link src 172.20.0.1",
        );
        assert_eq!(
            (route.destination.as_str(), route.prefix_len),
            ("10.1.0.0", 16)
        );
        assert_eq!(route.device, "br0");
        assert_eq!(route.metric, Some(100));
        assert_eq!(route.table, Some(10));
        assert_eq!(route.scope(), Scope::Link);
        assert_eq!(route.source, "172.20.0.1");
        assert_eq!(spec("10.1.0.1 dev br0 table main").prefix_len, 32);
        assert_eq!(spec("10.1.0.1 dev br0 table main").table, Some(254));
        assert_eq!(spec("2001:db8::/64 dev br0").family(), AddressFamily::Ipv6);
    }

    #[test]
    fn errors() {
        let error = |line: &str| {
            parse_spec(&words(line), AddressFamily::Unspecified)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("via 172.20.0.1"),
            "missing destination (default or PREFIX/PLEN)"
        );
        assert!(
            error("default via gateway").starts_with("invalid address \"gateway\" after \"via\"")
        );
        assert!(error("default via 172.20.0.1 metric high").starts_with("invalid metric \"high\""));
        assert!(error("default dev br0 table nope").starts_with("invalid table \"nope\""));
        assert_eq!(
            error("default dev br0 onlink"),
            "unexpected word \"onlink\" (expected via, dev, metric, table, scope or src)"
        );
        assert_eq!(
            error("default via 1.1.1.1 via 2.2.2.2"),
            "\"via\" given twice"
        );
    }

    #[test]
    fn list_tables() {
        let list = |line: &str| parse_list(&words(line), AddressFamily::Unspecified).unwrap();
        assert_eq!(list("").table, None);
        assert!(!list("").all_tables);
        assert_eq!(list("table local").table, Some(255));
        let all = list("table all");
        assert!(all.all_tables);
        assert_eq!(all.table, None);
        assert_eq!(
            parse_list(&words(""), AddressFamily::Ipv6)
                .unwrap()
                .family(),
            AddressFamily::Ipv6
        );
        assert!(parse_list(&words("table"), AddressFamily::Unspecified).is_err());
        assert!(parse_list(&words("dev br0"), AddressFamily::Unspecified).is_err());
        assert!(parse_list(&words("table 1 table 2"), AddressFamily::Unspecified).is_err());
    }
}
