//! Flushing the conntrack entries a NAT rule created. NAT is decided once per connection and kept in its
//! conntrack entry, so after a rule goes away its flows (UDP above all, which never ends by itself) keep
//! the old mapping until flushed. This talks ctnetlink on a socket opened on the calling thread, so it acts
//! in that thread's network namespace: dump the rule's family, pick the entries whose NAT the rule could
//! have made, delete those one by one (by tuple, zone and id, so a newer flow reusing the tuple is spared).

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{
    DefaultNla, NetlinkHeader, NetlinkMessage, NetlinkPayload, Nla, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, IPTuple, ProtoTuple, Status, Tuple,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use nix::sys::socket::{setsockopt, sockopt::ReceiveTimeout};
use nix::sys::time::TimeVal;

use super::error::NatError;
use super::spec::{IpFamily, NatProtocol, NatRuleSpec};

/// The kernel answers at once; a silent socket for this long means something is badly wrong, not slow.
const RECEIVE_TIMEOUT_SECONDS: i64 = 5;
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Deletes the entries whose NAT any of `specs` could have made (they were just deleted); returns how
/// many went away for each spec, in order.
pub(crate) fn flush_entries_of(specs: &[&NatRuleSpec]) -> Result<Vec<usize>, NatError> {
    flush_where(specs, created_by)
}

/// Deletes the untranslated entries that any of `specs` would translate if they started now (they were
/// just added); returns how many went away. The next packet of each makes a new entry, through the new
/// rules.
pub(crate) fn flush_untranslated_matches_of(specs: &[NatRuleSpec]) -> Result<usize, NatError> {
    let specs: Vec<&NatRuleSpec> = specs.iter().collect();
    Ok(flush_where(&specs, would_translate)?.iter().sum())
}

/// One dump per family for all of `specs`, not one per spec: the dump is the cost (a namespace can track
/// many flows), and a batch adds or takes back hundreds of rules at once. An entry counts for the first
/// spec that claims it.
fn flush_where(
    specs: &[&NatRuleSpec],
    doomed_if: fn(&NatRuleSpec, &Flow) -> bool,
) -> Result<Vec<usize>, NatError> {
    let mut flushed = vec![0; specs.len()];
    if no_tracked_flows() {
        return Ok(flushed);
    }
    for family in [IpFamily::V4, IpFamily::V6] {
        if !specs.iter().any(|spec| spec.family() == family) {
            continue;
        }
        let mut socket = CtSocket::open()?;
        let doomed: Vec<(usize, Entry)> = socket
            .dump(family)?
            .into_iter()
            .filter_map(|entry| {
                specs
                    .iter()
                    .position(|spec| spec.family() == family && doomed_if(spec, &entry.flow))
                    .map(|owner| (owner, entry))
            })
            .collect();
        for (owner, entry) in &doomed {
            if socket.delete(family, entry)? {
                flushed[*owner] += 1;
            }
        }
    }
    Ok(flushed)
}

/// True when the calling thread's namespace tracks no flow at all, so there is nothing to flush. Worth
/// asking first: a dump walks the whole conntrack hash table, which every namespace shares (262144
/// buckets here: 13 ms, most of a NAT add), however few entries are this namespace's. The count is
/// per namespace, and `/proc/sys/net` shows the namespace of the thread that opens it. No conntrack
/// module means no entries; a count that cannot be read means dump anyway.
pub(crate) fn no_tracked_flows() -> bool {
    match std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_count") {
        Ok(count) => count.trim() == "0",
        Err(error) => error.kind() == io::ErrorKind::NotFound,
    }
}

/// The parts of a conntrack entry that tell which NAT rule made it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Flow {
    pub status: u32,
    pub protocol: Option<u8>,
    pub orig_src: Option<IpAddr>,
    pub orig_dst: Option<IpAddr>,
    pub orig_dport: Option<u16>,
    pub reply_src: Option<IpAddr>,
    pub reply_dst: Option<IpAddr>,
    pub reply_sport: Option<u16>,
}

/// Whether `spec` could have made the NAT of `flow`. Interfaces are not in conntrack, so a rule limited
/// to one interface also claims matching flows of other interfaces: flushing those is harmless (the next
/// packet makes a new entry through whatever rules remain), missing one would not be.
pub(crate) fn created_by(spec: &NatRuleSpec, flow: &Flow) -> bool {
    let status = Status::from_bits_retain(flow.status);
    match spec {
        NatRuleSpec::Masquerade { source, .. } => {
            status.contains(Status::SrcNat)
                && flow.orig_src.is_some_and(|src| source.contains(&src))
        }
        NatRuleSpec::Snat {
            source, to_address, ..
        } => {
            status.contains(Status::SrcNat)
                && flow.orig_src.is_some_and(|src| source.contains(&src))
                && flow.reply_dst == Some(*to_address)
        }
        NatRuleSpec::Dnat {
            protocol,
            ports,
            destination,
            to_address,
            to_port,
            ..
        } => {
            let ip_protocol = match protocol {
                NatProtocol::Tcp => IPPROTO_TCP,
                NatProtocol::Udp => IPPROTO_UDP,
            };
            let Some(dport) = flow.orig_dport.filter(|port| ports.contains(*port)) else {
                return false;
            };
            let new_port_fits = to_port.is_none_or(|to_port| {
                u32::from(to_port) + u32::from(dport - ports.first)
                    == flow.reply_sport.map_or(0, u32::from)
            });
            status.contains(Status::DstNat)
                && flow.protocol == Some(ip_protocol)
                && destination.is_none_or(|dst| flow.orig_dst == Some(dst))
                && flow.reply_src == Some(*to_address)
                && new_port_fits
        }
    }
}

/// Whether `spec` matches `flow` but the flow was not translated: it started before the rule existed.
/// As with [`created_by`], interfaces are not in conntrack, so this errs towards flushing: a flow that
/// never leaves through the rule's interface just gets a fresh entry on its next packet.
pub(crate) fn would_translate(spec: &NatRuleSpec, flow: &Flow) -> bool {
    let status = Status::from_bits_retain(flow.status);
    match spec {
        NatRuleSpec::Masquerade { source, .. } | NatRuleSpec::Snat { source, .. } => {
            !status.contains(Status::SrcNat)
                && flow.orig_src.is_some_and(|src| source.contains(&src))
        }
        NatRuleSpec::Dnat {
            protocol,
            ports,
            destination,
            ..
        } => {
            let ip_protocol = match protocol {
                NatProtocol::Tcp => IPPROTO_TCP,
                NatProtocol::Udp => IPPROTO_UDP,
            };
            !status.contains(Status::DstNat)
                && flow.protocol == Some(ip_protocol)
                && flow.orig_dport.is_some_and(|port| ports.contains(port))
                && destination.is_none_or(|dst| flow.orig_dst == Some(dst))
        }
    }
}

/// A dumped entry: what identifies it to the kernel, and what it says.
struct Entry {
    orig_tuple: Vec<Tuple>,
    zone: Option<DefaultNla>,
    id: Option<DefaultNla>,
    flow: Flow,
}

struct CtSocket {
    socket: Socket,
    sequence: u32,
}

impl CtSocket {
    fn open() -> Result<Self, NatError> {
        let mut socket = Socket::new(NETLINK_NETFILTER)
            .map_err(|e| NatError::conntrack("opening a NETLINK_NETFILTER socket", e))?;
        socket
            .bind_auto()
            .map_err(|e| NatError::conntrack("binding the ctnetlink socket", e))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| NatError::conntrack("connecting the ctnetlink socket", e))?;
        setsockopt(
            &socket,
            ReceiveTimeout,
            &TimeVal::new(RECEIVE_TIMEOUT_SECONDS, 0),
        )
        .map_err(|e| NatError::conntrack("setting a receive timeout", e.into()))?;
        Ok(Self {
            socket,
            sequence: 0,
        })
    }

    fn send(
        &mut self,
        family: IpFamily,
        message: ConntrackMessage,
        flags: u16,
    ) -> Result<u32, NatError> {
        self.sequence += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.sequence;
        let payload =
            NetfilterMessage::new(NetfilterHeader::new(proto_family(family), 0, 0), message);
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(payload));
        packet.finalize();
        let mut buffer = vec![0; packet.buffer_len()];
        packet.serialize(&mut buffer);
        self.socket
            .send(&buffer, 0)
            .map_err(|e| NatError::conntrack("sending a ctnetlink request", e))?;
        Ok(self.sequence)
    }

    /// Every entry of `family` in this namespace. Entries the parser cannot read are skipped: they cannot
    /// be matched anyway, and one odd protocol must not block flushing the rest.
    fn dump(&mut self, family: IpFamily) -> Result<Vec<Entry>, NatError> {
        let sequence = self.send(family, ConntrackMessage::Get(Vec::new()), NLM_F_DUMP)?;
        let mut entries = Vec::new();
        let mut unreadable = 0usize;
        loop {
            for message in self.receive(sequence, "dumping conntrack entries")? {
                match message {
                    Received::Message(NetlinkPayload::InnerMessage(message)) => {
                        if let Some(entry) = entry_of(message) {
                            entries.push(entry);
                        }
                    }
                    Received::Message(NetlinkPayload::Done(done)) => {
                        if done.code != 0 {
                            let error = io::Error::from_raw_os_error(done.code.abs());
                            return Err(NatError::conntrack("dumping conntrack entries", error));
                        }
                        if unreadable > 0 {
                            tracing::warn!(
                                unreadable,
                                "skipped conntrack entries that could not be parsed"
                            );
                        }
                        return Ok(entries);
                    }
                    Received::Message(NetlinkPayload::Error(error)) if error.code.is_some() => {
                        return Err(NatError::conntrack(
                            "dumping conntrack entries",
                            error.to_io(),
                        ));
                    }
                    Received::Message(_) => {}
                    Received::Unreadable => unreadable += 1,
                }
            }
        }
    }

    /// Deletes one entry; false when it was already gone (expired, or flushed by someone else).
    fn delete(&mut self, family: IpFamily, entry: &Entry) -> Result<bool, NatError> {
        let mut attributes = vec![ConntrackAttribute::CtaTupleOrig(entry.orig_tuple.clone())];
        attributes.extend(
            entry
                .zone
                .iter()
                .chain(&entry.id)
                .cloned()
                .map(ConntrackAttribute::Other),
        );
        let sequence = self.send(family, ConntrackMessage::Delete(attributes), NLM_F_ACK)?;
        loop {
            for message in self.receive(sequence, "deleting a conntrack entry")? {
                if let Received::Message(NetlinkPayload::Error(ack)) = message {
                    return match ack.to_io() {
                        _ if ack.code.is_none() => Ok(true),
                        error if error.kind() == io::ErrorKind::NotFound => Ok(false),
                        error => Err(NatError::conntrack("deleting a conntrack entry", error)),
                    };
                }
            }
        }
    }

    /// The messages of one datagram that answer request `sequence` (stale answers are dropped).
    fn receive(&self, sequence: u32, context: &str) -> Result<Vec<Received>, NatError> {
        let (datagram, _) = self
            .socket
            .recv_from_full()
            .map_err(|e| NatError::conntrack(context, e))?;
        Ok(split_messages(&datagram)
            .filter(|raw| raw_sequence(raw) == sequence)
            .map(
                |raw| match NetlinkMessage::<NetfilterMessage>::deserialize(raw) {
                    Ok(message) => Received::Message(message.payload),
                    Err(_) => Received::Unreadable,
                },
            )
            .collect())
    }
}

enum Received {
    Message(NetlinkPayload<NetfilterMessage>),
    Unreadable,
}

/// The netlink messages packed in one datagram (each starts with its u32 length, padded to 4 bytes).
fn split_messages(datagram: &[u8]) -> impl Iterator<Item = &[u8]> {
    const HEADER_LEN: usize = 16;
    let mut rest = datagram;
    std::iter::from_fn(move || {
        let length = u32::from_ne_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        if length < HEADER_LEN || length > rest.len() {
            return None;
        }
        let (message, tail) = rest.split_at(length);
        rest = tail
            .get(length.next_multiple_of(4) - length..)
            .unwrap_or_default();
        Some(message)
    })
}

fn raw_sequence(message: &[u8]) -> u32 {
    message
        .get(8..12)
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

fn entry_of(message: NetfilterMessage) -> Option<Entry> {
    let attributes = match message.inner {
        NetfilterMessageInner::Conntrack(ConntrackMessage::New(attributes)) => attributes,
        _ => return None,
    };
    let mut orig_tuple = None;
    let mut zone = None;
    let mut id = None;
    let mut flow = Flow::default();
    for attribute in attributes {
        match attribute {
            ConntrackAttribute::CtaTupleOrig(tuple) => {
                let (src, dst, protocol, _, dport) = read_tuple(&tuple);
                (flow.orig_src, flow.orig_dst, flow.protocol, flow.orig_dport) =
                    (src, dst, protocol, dport);
                orig_tuple = Some(tuple);
            }
            ConntrackAttribute::CtaTupleReply(tuple) => {
                let (src, dst, _, sport, _) = read_tuple(&tuple);
                (flow.reply_src, flow.reply_dst, flow.reply_sport) = (src, dst, sport);
            }
            ConntrackAttribute::CtaStatus(status) => flow.status = status.bits(),
            ConntrackAttribute::Other(nla) if nla.kind() == CTA_ID => id = Some(nla),
            ConntrackAttribute::Other(nla) if nla.kind() == CTA_ZONE => zone = Some(nla),
            _ => {}
        }
    }
    Some(Entry {
        orig_tuple: orig_tuple?,
        zone,
        id,
        flow,
    })
}

type TupleView = (
    Option<IpAddr>,
    Option<IpAddr>,
    Option<u8>,
    Option<u16>,
    Option<u16>,
);

/// (source, destination, protocol, source port, destination port) of a conntrack tuple.
fn read_tuple(tuple: &[Tuple]) -> TupleView {
    let mut view: TupleView = (None, None, None, None, None);
    for part in tuple {
        match part {
            Tuple::Ip(addresses) => {
                for address in addresses {
                    match address {
                        IPTuple::SourceAddress(addr) => view.0 = Some(*addr),
                        IPTuple::DestinationAddress(addr) => view.1 = Some(*addr),
                        _ => {}
                    }
                }
            }
            Tuple::Proto(fields) => {
                for field in fields {
                    match field {
                        ProtoTuple::Protocol(protocol) => view.2 = Some(u8::from(*protocol)),
                        ProtoTuple::SourcePort(port) => view.3 = Some(*port),
                        ProtoTuple::DestinationPort(port) => view.4 = Some(*port),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    view
}

fn proto_family(family: IpFamily) -> NetfilterProtoFamily {
    match family {
        IpFamily::V4 => NetfilterProtoFamily::IPv4,
        IpFamily::V6 => NetfilterProtoFamily::IPv6,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::nat::spec::{IpPrefix, PortRange};

    fn addr(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    /// 172.20.0.5:40000 -> 198.51.100.7:53 leaving as 192.0.2.1.
    fn source_natted() -> Flow {
        Flow {
            status: Status::SrcNat.bits(),
            protocol: Some(IPPROTO_UDP),
            orig_src: addr("172.20.0.5"),
            orig_dst: addr("198.51.100.7"),
            orig_dport: Some(53),
            reply_src: addr("198.51.100.7"),
            reply_dst: addr("192.0.2.1"),
            reply_sport: Some(53),
        }
    }

    /// 198.51.100.7:40000 -> 192.0.2.1:8081 forwarded to 172.20.0.2:9001.
    fn destination_natted() -> Flow {
        Flow {
            status: Status::DstNat.bits(),
            protocol: Some(IPPROTO_TCP),
            orig_src: addr("198.51.100.7"),
            orig_dst: addr("192.0.2.1"),
            orig_dport: Some(8081),
            reply_src: addr("172.20.0.2"),
            reply_dst: addr("198.51.100.7"),
            reply_sport: Some(9001),
        }
    }

    fn dnat(destination: Option<&str>, to_port: Option<u16>) -> NatRuleSpec {
        NatRuleSpec::Dnat {
            protocol: NatProtocol::Tcp,
            ports: PortRange {
                first: 8080,
                last: 8089,
            },
            input_interface: None,
            destination: destination.map(|d| d.parse().unwrap()),
            to_address: "172.20.0.2".parse().unwrap(),
            to_port,
        }
    }

    #[test]
    fn nat_conntrack_source_rules_claim_only_their_source_nat() {
        let masquerade = |source: &str, len| NatRuleSpec::Masquerade {
            source: IpPrefix::new(source.parse().unwrap(), len),
            output_interface: Some("eth0".into()),
        };
        assert!(created_by(&masquerade("172.20.0.0", 16), &source_natted()));
        assert!(!created_by(&masquerade("172.21.0.0", 16), &source_natted()));
        let not_natted = Flow {
            status: 0,
            ..source_natted()
        };
        assert!(!created_by(&masquerade("172.20.0.0", 16), &not_natted));
        assert!(!created_by(
            &masquerade("172.20.0.0", 16),
            &destination_natted()
        ));

        let snat = |to: &str| NatRuleSpec::Snat {
            source: IpPrefix::new("172.20.0.0".parse().unwrap(), 16),
            output_interface: "eth0".into(),
            to_address: to.parse().unwrap(),
        };
        assert!(created_by(&snat("192.0.2.1"), &source_natted()));
        assert!(
            !created_by(&snat("192.0.2.2"), &source_natted()),
            "another rule's address"
        );
    }

    #[test]
    fn nat_conntrack_a_new_rule_claims_only_flows_it_would_now_translate() {
        let masquerade = NatRuleSpec::Masquerade {
            source: IpPrefix::new("172.20.0.0".parse().unwrap(), 16),
            output_interface: Some("eth0".into()),
        };
        let untranslated = Flow {
            status: 0,
            ..source_natted()
        };
        assert!(
            would_translate(&masquerade, &untranslated),
            "started before the rule: flush"
        );
        assert!(
            !would_translate(&masquerade, &source_natted()),
            "already translated by another rule"
        );
        let elsewhere = Flow {
            orig_src: addr("10.1.2.3"),
            ..untranslated.clone()
        };
        assert!(
            !would_translate(&masquerade, &elsewhere),
            "outside the rule's prefix"
        );

        let forward = dnat(Some("192.0.2.1"), None);
        let untranslated = Flow {
            status: 0,
            orig_dport: Some(8085),
            ..destination_natted()
        };
        assert!(would_translate(&forward, &untranslated));
        assert!(
            !would_translate(&forward, &destination_natted()),
            "already forwarded"
        );
        assert!(
            !would_translate(
                &forward,
                &Flow {
                    orig_dport: Some(9000),
                    ..untranslated.clone()
                }
            ),
            "port"
        );
        assert!(!would_translate(
            &forward,
            &Flow {
                protocol: Some(IPPROTO_UDP),
                ..untranslated.clone()
            }
        ));
        assert!(
            !would_translate(
                &forward,
                &Flow {
                    orig_dst: addr("192.0.2.9"),
                    ..untranslated
                }
            ),
            "destination"
        );
    }

    #[test]
    fn nat_conntrack_port_forwards_claim_only_their_ports_and_targets() {
        let flow = destination_natted();
        assert!(
            created_by(&dnat(None, Some(9000)), &flow),
            "8081 maps to 9001"
        );
        assert!(created_by(&dnat(Some("192.0.2.1"), Some(9000)), &flow));
        assert!(
            !created_by(&dnat(Some("192.0.2.9"), Some(9000)), &flow),
            "other destination"
        );
        assert!(
            !created_by(&dnat(None, Some(9100)), &flow),
            "other port mapping"
        );
        let kept_port = Flow {
            reply_sport: Some(8081),
            ..flow.clone()
        };
        assert!(created_by(&dnat(None, None), &kept_port));
        let outside_range = Flow {
            orig_dport: Some(8090),
            ..kept_port.clone()
        };
        assert!(!created_by(&dnat(None, None), &outside_range));
        let udp = Flow {
            protocol: Some(IPPROTO_UDP),
            ..kept_port.clone()
        };
        assert!(!created_by(&dnat(None, None), &udp));
        let elsewhere = Flow {
            reply_src: addr("172.20.0.3"),
            ..kept_port
        };
        assert!(
            !created_by(&dnat(None, None), &elsewhere),
            "forwarded to another host"
        );
    }

    #[test]
    fn nat_conntrack_datagrams_split_into_padded_messages() {
        let mut datagram = Vec::new();
        for (length, sequence) in [(17u32, 7u32), (16, 8)] {
            let start = datagram.len();
            datagram.extend_from_slice(&length.to_ne_bytes());
            datagram.extend_from_slice(&[0; 4]);
            datagram.extend_from_slice(&sequence.to_ne_bytes());
            datagram.resize(start + length as usize, 0);
            datagram.resize(datagram.len().next_multiple_of(4), 0);
        }
        let messages: Vec<&[u8]> = split_messages(&datagram).collect();
        assert_eq!(messages.len(), 2);
        assert_eq!((messages[0].len(), raw_sequence(messages[0])), (17, 7));
        assert_eq!((messages[1].len(), raw_sequence(messages[1])), (16, 8));
        assert_eq!(
            split_messages(&datagram[..10]).count(),
            0,
            "a truncated header is not a message"
        );
    }
}
