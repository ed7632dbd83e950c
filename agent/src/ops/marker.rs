//! Ownership markers nsfleet puts on the kernel objects a topology creates, so the kernel itself says
//! who made them: an alternative name on links, a protocol number of nsfleet's own on routes and on
//! addresses. A single call (`link add`, `addr add`, `route add`) sets none: it behaves as `ip` does.

/// nsfleet's routing protocol number, on routes (`ip route show proto 211`) and, through IFA_PROTO
/// (Linux 6.1), on addresses. Unused by iproute2's `rt_protos` (whose highest entry is 192, eigrp) and by
/// the kernel's own assignments.
pub const NSFLEET_PROTOCOL: u8 = 211;

const ALT_NAME_PREFIX: &str = "nsfleet.";

/// The alternative name that marks `link` as made for `topology`. Alternative names are unique per
/// namespace, like link names, so the link's own name is part of it; it follows the link into another
/// namespace (measured on 6.18). At most 8 + 32 + 1 + 15 = 56 of the 127 bytes allowed.
pub fn link_alt_name(topology: &str, link: &str) -> String {
    format!("{ALT_NAME_PREFIX}{topology}.{link}")
}

/// The topology an alternative name marks `link` for, if it is one of nsfleet's.
pub fn topology_of_alt_name<'a>(alt_name: &'a str, link: &str) -> Option<&'a str> {
    alt_name
        .strip_prefix(ALT_NAME_PREFIX)?
        .strip_suffix(link)?
        .strip_suffix('.')
        .filter(|topology| !topology.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt_names_round_trip_and_other_names_are_not_markers() {
        let name = link_alt_name("lab", "veth1");
        assert_eq!(name, "nsfleet.lab.veth1");
        assert_eq!(topology_of_alt_name(&name, "veth1"), Some("lab"));
        assert_eq!(topology_of_alt_name(&name, "veth2"), None);
        assert_eq!(topology_of_alt_name("enp0s3", "eth0"), None);
        assert_eq!(topology_of_alt_name("nsfleet..veth1", "veth1"), None);
    }
}
