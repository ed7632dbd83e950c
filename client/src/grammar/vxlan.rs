//! `link add NAME type vxlan id VNI [local ADDR] [remote ADDR]... [dstport PORT] [dev DEV] [nolearning]
//! [mtu N] [netns NS]`: iproute2's words, with `remote` allowed more than once (a full mesh).

use nsfleet_proto::v1::{create_link_request::Kind, VxlanSpec};

use super::{
    set_once,
    values::{parse_ethernet_mtu, parse_ip},
    GrammarError, Words,
};

/// What follows `type vxlan`. `mtu` may come here too, as with `ip`; `netns` names the namespace the
/// link is made in (iproute2 moves it there afterwards; nsfleet makes it there).
pub fn parse_vxlan(
    cursor: &mut Words<'_>,
    mtu: &mut Option<u32>,
    namespace: &mut Option<String>,
) -> Result<Kind, GrammarError> {
    let mut vni = None;
    let mut local = None;
    let mut remotes = Vec::new();
    let mut port = None;
    let mut device = None;
    let mut learning = None;
    while let Some(word) = cursor.next() {
        match word {
            "id" | "vni" => set_once(&mut vni, "id", parse_vni(cursor.value("id")?)?)?,
            "local" => set_once(
                &mut local,
                "local",
                parse_ip("local", cursor.value("local")?)?,
            )?,
            "remote" => remotes.push(parse_ip("remote", cursor.value("remote")?)?.to_string()),
            "dstport" => set_once(&mut port, "dstport", parse_port(cursor.value("dstport")?)?)?,
            "dev" => set_once(&mut device, "dev", cursor.value("dev")?.to_owned())?,
            "learning" => set_once(&mut learning, "learning", true)?,
            "nolearning" => set_once(&mut learning, "nolearning", false)?,
            "mtu" => set_once(mtu, "mtu", parse_ethernet_mtu("mtu", cursor.value("mtu")?)?)?,
            "netns" => set_once(namespace, "netns", cursor.value("netns")?.to_owned())?,
            "group" => {
                return Err(GrammarError::Unsupported {
                    message:
                        "multicast groups are not supported; list the other ends with \"remote\""
                            .to_owned(),
                })
            }
            _ => {
                return Err(GrammarError::UnexpectedWord {
                    word: word.to_owned(),
                    expected: "id, local, remote, dstport, dev, nolearning, mtu or netns",
                })
            }
        }
    }
    let vni = vni.ok_or(GrammarError::Missing { what: "id VNI" })?;
    Ok(Kind::Vxlan(VxlanSpec {
        vni,
        local: local.map(|a| a.to_string()).unwrap_or_default(),
        remotes,
        port: port.unwrap_or(0),
        device: device.unwrap_or_default(),
        learning,
    }))
}

fn parse_vni(word: &str) -> Result<u32, GrammarError> {
    word.parse::<u32>()
        .ok()
        .filter(|vni| (1..=16_777_215).contains(vni))
        .ok_or_else(|| GrammarError::InvalidValue {
            keyword: "id",
            what: "VNI",
            value: word.to_owned(),
            reason: "a VNI is 1-16777215".to_owned(),
        })
}

fn parse_port(word: &str) -> Result<u32, GrammarError> {
    word.parse::<u32>()
        .ok()
        .filter(|port| (1..=65535).contains(port))
        .ok_or_else(|| GrammarError::InvalidValue {
            keyword: "dstport",
            what: "port",
            value: word.to_owned(),
            reason: "a UDP port is 1-65535".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::super::link::parse_add;
    use super::*;
    use nsfleet_proto::v1::CreateLinkRequest;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn add(line: &str) -> Result<CreateLinkRequest, GrammarError> {
        parse_add(&words(line))
    }

    #[test]
    fn iproute2s_vxlan_line_becomes_one_request() {
        let request = add(
            "vx0 type vxlan id 42 local 192.0.2.1 remote 192.0.2.2 remote 192.0.2.3 dstport 4790 dev wire0 nolearning mtu 1400 netns n1",
        )
        .expect("parses");
        assert_eq!(request.name, "vx0");
        assert_eq!(request.mtu, 1400);
        assert_eq!(request.namespace, "n1");
        let Some(Kind::Vxlan(spec)) = request.kind else {
            panic!("not a vxlan: {:?}", request.kind);
        };
        assert_eq!(spec.vni, 42);
        assert_eq!(spec.local, "192.0.2.1");
        assert_eq!(spec.remotes, vec!["192.0.2.2", "192.0.2.3"]);
        assert_eq!(spec.port, 4790);
        assert_eq!(spec.device, "wire0");
        assert_eq!(spec.learning, Some(false));
    }

    #[test]
    fn bad_vxlan_words_are_named() {
        let error = |line: &str| add(line).expect_err(line).to_string();
        assert!(error("vx0 type vxlan").contains("id VNI"));
        assert!(error("vx0 type vxlan id 0").contains("1-16777215"));
        assert!(error("vx0 type vxlan id 16777216").contains("1-16777215"));
        assert!(error("vx0 type vxlan id 1 dstport 70000").contains("1-65535"));
        assert!(error("vx0 type vxlan id 1 remote 192.0.2").contains("remote"));
        assert!(error("vx0 type vxlan id 1 id 2").contains("given twice"));
        assert!(error("vx0 type vxlan id 1 group 239.1.1.1").contains("multicast"));
        assert!(error("vx0 type vxlan id 1 bogus").contains("bogus"));
    }
}
