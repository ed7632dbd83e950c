//! `link add|set|del|show` tails.

use nsfleet_proto::v1::{
    create_link_request::Kind, set_link_request::MasterChange, BridgeSpec, CreateLinkRequest,
    DeleteLinkRequest, SetLinkRequest, VethSpec,
};

use super::{
    parse_optional_device, set_once,
    values::{check_new_link_name, parse_ethernet_mtu, parse_mac},
    GrammarError, Words,
};

/// `[name|dev] NAME [mtu N] type veth peer [name] PEER [netns NS]`, `... type bridge [mtu N]` or
/// `... type vxlan id VNI ...` (see [`super::vxlan`]). Only a vxlan's `netns` fills the namespace.
pub fn parse_add(words: &[String]) -> Result<CreateLinkRequest, GrammarError> {
    let mut cursor = Words::new(words);
    let mut name = None;
    let mut mtu = None;
    let mut kind = None;
    let mut namespace = None;
    while let Some(word) = cursor.next() {
        match word {
            "name" => set_once(&mut name, "name", cursor.value("name")?)?,
            "dev" => set_once(&mut name, "dev", cursor.value("dev")?)?,
            "mtu" => set_once(
                &mut mtu,
                "mtu",
                parse_ethernet_mtu("mtu", cursor.value("mtu")?)?,
            )?,
            "type" => {
                // Everything after the type belongs to it, as with `ip link add`.
                kind = Some(parse_type(&mut cursor, &mut mtu, &mut namespace)?);
            }
            _ if name.is_none() => name = Some(word),
            _ => {
                return Err(GrammarError::UnexpectedWord {
                    word: word.to_owned(),
                    expected: "mtu or type",
                });
            }
        }
    }
    let name = name.ok_or(GrammarError::Missing { what: "link name" })?;
    check_new_link_name("name", name)?;
    let kind = kind.ok_or(GrammarError::Missing {
        what: "type veth|bridge|vxlan",
    })?;
    Ok(CreateLinkRequest {
        namespace: namespace.unwrap_or_default(),
        name: name.to_owned(),
        kind: Some(kind),
        mtu: mtu.unwrap_or(0),
    })
}

fn parse_type(
    cursor: &mut Words<'_>,
    mtu: &mut Option<u32>,
    namespace: &mut Option<String>,
) -> Result<Kind, GrammarError> {
    match cursor.value("type")? {
        "veth" => parse_veth(cursor, mtu),
        "vxlan" => super::vxlan::parse_vxlan(cursor, mtu, namespace),
        "bridge" => {
            while let Some(word) = cursor.next() {
                match word {
                    "mtu" => {
                        set_once(mtu, "mtu", parse_ethernet_mtu("mtu", cursor.value("mtu")?)?)?
                    }
                    _ => {
                        return Err(GrammarError::UnexpectedWord {
                            word: word.to_owned(),
                            expected: "mtu",
                        })
                    }
                }
            }
            Ok(Kind::Bridge(BridgeSpec {}))
        }
        other => Err(GrammarError::Unsupported {
            message: format!(
                "link type \"{other}\" is not supported (nsfleet creates veth, bridge and vxlan links)"
            ),
        }),
    }
}

fn parse_veth(cursor: &mut Words<'_>, mtu: &mut Option<u32>) -> Result<Kind, GrammarError> {
    loop {
        match cursor.next() {
            Some("mtu") => set_once(mtu, "mtu", parse_ethernet_mtu("mtu", cursor.value("mtu")?)?)?,
            Some("peer") => break,
            Some(word) => {
                return Err(GrammarError::UnexpectedWord {
                    word: word.to_owned(),
                    expected: "peer",
                })
            }
            None => {
                return Err(GrammarError::Missing {
                    what: "peer [name] PEER",
                })
            }
        }
    }
    let mut peer_name = None;
    let mut peer_namespace = None;
    while let Some(word) = cursor.next() {
        match word {
            "name" => set_once(&mut peer_name, "name", cursor.value("name")?)?,
            "netns" => set_once(&mut peer_namespace, "netns", cursor.value("netns")?)?,
            "mtu" => {
                // In iproute2 an mtu after `peer` is the peer's own MTU, which the API cannot express.
                return Err(GrammarError::Unsupported {
                    message: "\"mtu\" after \"peer\" would set only the peer's MTU, which nsfleet cannot do; \
                              give mtu before \"type\""
                        .to_owned(),
                });
            }
            _ if peer_name.is_none() => peer_name = Some(word),
            _ => {
                return Err(GrammarError::UnexpectedWord {
                    word: word.to_owned(),
                    expected: "netns",
                })
            }
        }
    }
    let peer_name = peer_name.ok_or(GrammarError::Missing {
        what: "peer name (peer [name] PEER)",
    })?;
    check_new_link_name("peer", peer_name)?;
    Ok(Kind::Veth(VethSpec {
        peer_name: peer_name.to_owned(),
        peer_namespace: peer_namespace.map(str::to_owned),
    }))
}

/// `[dev] NAME` followed by any of `up|down`, `master BR|nomaster`, `mtu N`, `address MAC`, `netns NS`.
pub fn parse_set(words: &[String]) -> Result<SetLinkRequest, GrammarError> {
    let mut cursor = Words::new(words);
    let mut request = SetLinkRequest::default();
    let mut name = None;
    while let Some(word) = cursor.next() {
        match word {
            "dev" => set_once(&mut name, "dev", cursor.value("dev")?)?,
            "up" | "down" => {
                let up = word == "up";
                match request.up {
                    Some(previous) if previous == up => {
                        return Err(GrammarError::Repeated {
                            keyword: up_down(up),
                        })
                    }
                    Some(_) => {
                        return Err(GrammarError::Conflict {
                            first: "up",
                            second: "down",
                        })
                    }
                    None => request.up = Some(up),
                }
            }
            "master" => {
                let bridge = cursor.value("master")?.to_owned();
                set_master(&mut request, MasterChange::Master(bridge))?;
            }
            "nomaster" => set_master(&mut request, MasterChange::Nomaster(true))?,
            "mtu" => set_once(&mut request.mtu, "mtu", cursor.parsed("mtu", "MTU")?)?,
            "address" | "addr" => {
                let mac = parse_mac("address", cursor.value("address")?)?;
                set_once(&mut request.mac, "address", mac)?;
            }
            "netns" => set_once(
                &mut request.move_to_namespace,
                "netns",
                cursor.value("netns")?.to_owned(),
            )?,
            _ if name.is_none() => name = Some(word),
            _ => {
                return Err(GrammarError::UnexpectedWord {
                    word: word.to_owned(),
                    expected: "up, down, master, nomaster, mtu, address or netns",
                })
            }
        }
    }
    request.name = name
        .ok_or(GrammarError::Missing { what: "link name" })?
        .to_owned();
    let nothing_to_change = request.up.is_none()
        && request.mtu.is_none()
        && request.mac.is_none()
        && request.master_change.is_none()
        && request.move_to_namespace.is_none();
    if nothing_to_change {
        return Err(GrammarError::Missing {
            what: "a change (up, down, master, nomaster, mtu, address or netns)",
        });
    }
    Ok(request)
}

fn up_down(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

fn set_master(request: &mut SetLinkRequest, change: MasterChange) -> Result<(), GrammarError> {
    match (&request.master_change, &change) {
        (None, _) => {
            request.master_change = Some(change);
            Ok(())
        }
        (Some(MasterChange::Master(_)), MasterChange::Master(_)) => {
            Err(GrammarError::Repeated { keyword: "master" })
        }
        (Some(MasterChange::Nomaster(_)), MasterChange::Nomaster(_)) => {
            Err(GrammarError::Repeated {
                keyword: "nomaster",
            })
        }
        _ => Err(GrammarError::Conflict {
            first: "master",
            second: "nomaster",
        }),
    }
}

/// `[dev] NAME`, for `link del`.
pub fn parse_delete(words: &[String]) -> Result<DeleteLinkRequest, GrammarError> {
    let name = parse_optional_device(words)?.ok_or(GrammarError::Missing { what: "link name" })?;
    Ok(DeleteLinkRequest {
        namespace: String::new(),
        name,
        ignore_missing: false,
        force: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn veth(peer: &str, namespace: Option<&str>) -> Option<Kind> {
        Some(Kind::Veth(VethSpec {
            peer_name: peer.to_owned(),
            peer_namespace: namespace.map(str::to_owned),
        }))
    }

    #[test]
    fn tutorial_veth_with_peer_namespace() {
        let request = parse_add(&words("veth2 type veth peer name ceth2 netns netns2")).unwrap();
        assert_eq!(request.name, "veth2");
        assert_eq!(request.kind, veth("ceth2", Some("netns2")));
        assert_eq!(request.mtu, 0);
    }

    #[test]
    fn veth_peer_name_keyword_is_optional_and_namespace_unset_by_default() {
        let request = parse_add(&words("veth1 type veth peer ceth1")).unwrap();
        assert_eq!(request.kind, veth("ceth1", None));
        let request = parse_add(&words("name veth1 type veth peer netns ns1 name ceth1")).unwrap();
        assert_eq!(request.kind, veth("ceth1", Some("ns1")));
    }

    #[test]
    fn bridge_with_mtu_before_or_after_type() {
        let request = parse_add(&words("br0 type bridge")).unwrap();
        assert_eq!(request.kind, Some(Kind::Bridge(BridgeSpec {})));
        assert_eq!(
            parse_add(&words("br0 mtu 9000 type bridge")).unwrap().mtu,
            9000
        );
        assert_eq!(
            parse_add(&words("br0 type bridge mtu 1400")).unwrap().mtu,
            1400
        );
        assert_eq!(
            parse_add(&words("v0 type veth mtu 1400 peer v1"))
                .unwrap()
                .mtu,
            1400
        );
    }

    #[test]
    fn add_errors_name_the_bad_word() {
        let error = |line: &str| parse_add(&words(line)).unwrap_err().to_string();
        assert_eq!(error("veth1 type veth"), "missing peer [name] PEER");
        assert_eq!(
            error("veth1 type veth peer"),
            "missing peer name (peer [name] PEER)"
        );
        assert_eq!(error("veth1"), "missing type veth|bridge|vxlan");
        assert_eq!(error("type bridge"), "missing link name");
        assert!(error("gre0 type gre").contains("\"gre\" is not supported"));
        assert_eq!(
            error("br0 br1 type bridge"),
            "unexpected word \"br1\" (expected mtu or type)"
        );
        assert_eq!(
            error("br0 type bridge stp_state 1"),
            "unexpected word \"stp_state\" (expected mtu)"
        );
        assert!(error("br0 mtu big type bridge").starts_with("invalid MTU \"big\" after \"mtu\""));
        // 0 would mean "the kernel's default" in the request: refused rather than silently ignored.
        for mtu in ["0", "67", "65536", "4294967296"] {
            let message = error(&format!("br0 type bridge mtu {mtu}"));
            assert!(
                message.ends_with("veth and bridge MTUs are 68-65535"),
                "{message}"
            );
            let message = error(&format!("v0 mtu {mtu} type veth peer v1"));
            assert!(
                message.ends_with("veth and bridge MTUs are 68-65535"),
                "{message}"
            );
        }
        assert!(error("v0 type veth peer v1 mtu 1400").contains("peer's MTU"));
        assert_eq!(
            error("veth-to-netns-one type veth peer c1"),
            "invalid link name \"veth-to-netns-one\" after \"name\": 17 bytes; the kernel takes at most 15"
        );
        assert!(
            error("v0 type veth peer name ceth-to-netns-one").contains("after \"peer\": 17 bytes")
        );
        assert!(parse_add(&words("fifteen-bytes-0 type veth peer fifteen-bytes-1")).is_ok());
        assert_eq!(
            error("v0 type veth peer v1 v2"),
            "unexpected word \"v2\" (expected netns)"
        );
        assert_eq!(
            error("v0 mtu 1400 mtu 1500 type bridge"),
            "\"mtu\" given twice"
        );
    }

    #[test]
    fn set_takes_several_changes() {
        let request = parse_set(&words(
            "veth1 up master br0 mtu 1400 address 02:00:00:00:00:0A netns ns1",
        ))
        .unwrap();
        assert_eq!(request.name, "veth1");
        assert_eq!(request.up, Some(true));
        assert_eq!(
            request.master_change,
            Some(MasterChange::Master("br0".to_owned()))
        );
        assert_eq!(request.mtu, Some(1400));
        assert_eq!(request.mac.as_deref(), Some("02:00:00:00:00:0a"));
        assert_eq!(request.move_to_namespace.as_deref(), Some("ns1"));
    }

    #[test]
    fn set_with_dev_keyword_and_nomaster() {
        let request = parse_set(&words("dev veth1 nomaster down")).unwrap();
        assert_eq!(request.name, "veth1");
        assert_eq!(request.up, Some(false));
        assert_eq!(request.master_change, Some(MasterChange::Nomaster(true)));
        assert_eq!(request.mtu, None);
    }

    #[test]
    fn set_errors() {
        let error = |line: &str| parse_set(&words(line)).unwrap_err().to_string();
        assert_eq!(
            error("veth1"),
            "missing a change (up, down, master, nomaster, mtu, address or netns)"
        );
        assert_eq!(error("up"), "missing link name");
        assert_eq!(
            error("veth1 up down"),
            "\"up\" and \"down\" cannot be combined"
        );
        assert_eq!(error("veth1 up up"), "\"up\" given twice");
        assert_eq!(
            error("veth1 master br0 nomaster"),
            "\"master\" and \"nomaster\" cannot be combined"
        );
        assert_eq!(error("veth1 master"), "\"master\" needs a value");
        assert!(error("veth1 address 02:00").starts_with("invalid MAC address \"02:00\""));
        assert!(error("veth1 up promisc on").starts_with("unexpected word \"promisc\""));
    }

    #[test]
    fn delete_names() {
        assert_eq!(parse_delete(&words("veth1")).unwrap().name, "veth1");
        assert_eq!(parse_delete(&words("dev veth1")).unwrap().name, "veth1");
        assert_eq!(
            parse_delete(&words("")).unwrap_err().to_string(),
            "missing link name"
        );
    }
}
