//! The ICMP echo wire format for both families, kept free of sockets so it can be tested without root.
//!
//! What differs between the families is only what the kernel does for us: an IPv4 raw socket hands us the
//! whole IP datagram and leaves the ICMP checksum to us; an ICMPv6 raw socket hands us the bare ICMPv6
//! message (the hop limit arrives separately, as ancillary data) and computes and verifies the checksum
//! itself, because it covers a pseudo-header only the kernel knows for sure.

pub(super) const ICMPV4_ECHO_REPLY: u8 = 0;
pub(super) const ICMPV4_ECHO_REQUEST: u8 = 8;
pub(super) const ICMPV6_ECHO_REQUEST: u8 = 128;
pub(super) const ICMPV6_ECHO_REPLY: u8 = 129;

/// Type, code, checksum, identifier, sequence.
pub(super) const ECHO_HEADER_LEN: usize = 8;
const IPV4_MIN_HEADER_LEN: usize = 20;
const IPV4_PROTOCOL_ICMP: u8 = 1;

/// Which of the two wire formats a run speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    V4,
    V6,
}

impl Family {
    pub(super) fn of(address: std::net::IpAddr) -> Self {
        if address.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    /// The largest payload whose request still fits the 16-bit length fields: IPv4's total length counts
    /// its own header, IPv6's payload length does not.
    pub(super) fn max_payload(self) -> usize {
        match self {
            Family::V4 => usize::from(u16::MAX) - IPV4_MIN_HEADER_LEN - ECHO_HEADER_LEN,
            Family::V6 => usize::from(u16::MAX) - ECHO_HEADER_LEN,
        }
    }
}

/// The RFC 1071 one's-complement sum. Summing a message that carries its own correct checksum yields 0.
pub(super) fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut words = bytes.chunks_exact(2);
    let mut sum: u64 = words
        .by_ref()
        .map(|pair| u64::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    if let [last] = words.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop above leaves at most 16 significant bits.
    !(sum as u16)
}

/// Writes an echo request into `packet` (cleared first) so one buffer serves a whole run.
pub(super) fn write_echo_request(
    packet: &mut Vec<u8>,
    family: Family,
    identifier: u16,
    sequence: u16,
    payload: &[u8],
) {
    let kind = match family {
        Family::V4 => ICMPV4_ECHO_REQUEST,
        Family::V6 => ICMPV6_ECHO_REQUEST,
    };
    packet.clear();
    packet.extend_from_slice(&[kind, 0, 0, 0]);
    packet.extend_from_slice(&identifier.to_be_bytes());
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(payload);
    if family == Family::V4 {
        let checksum = internet_checksum(packet);
        packet[2..4].copy_from_slice(&checksum.to_be_bytes());
    }
}

/// An echo reply as read off the wire; whether it answers one of our requests is the session's call.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct EchoReply<'a> {
    pub identifier: u16,
    pub sequence: u16,
    /// TTL from the IPv4 header; `None` for IPv6, whose hop limit travels beside the message.
    pub ttl: Option<u8>,
    /// Length of the ICMP message: header plus payload.
    pub icmp_len: usize,
    pub payload: &'a [u8],
}

/// Why a received packet is not an echo reply we can use. Expected traffic on a raw socket, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotAnEchoReply {
    Truncated,
    NotIpv4,
    NotIcmp,
    OtherIcmpType(u8),
    BadChecksum,
}

/// Parses what an IPv4 raw ICMP socket delivers: the IP header followed by the ICMP message.
pub(super) fn parse_ipv4_echo_reply(datagram: &[u8]) -> Result<EchoReply<'_>, NotAnEchoReply> {
    let (&version_and_ihl, _) = datagram.split_first().ok_or(NotAnEchoReply::Truncated)?;
    if version_and_ihl >> 4 != 4 {
        return Err(NotAnEchoReply::NotIpv4);
    }
    let header_len = usize::from(version_and_ihl & 0x0f) * 4;
    if header_len < IPV4_MIN_HEADER_LEN || datagram.len() < header_len {
        return Err(NotAnEchoReply::Truncated);
    }
    if datagram[9] != IPV4_PROTOCOL_ICMP {
        return Err(NotAnEchoReply::NotIcmp);
    }
    let ttl = datagram[8];
    let message = &datagram[header_len..];
    // The kernel hands raw sockets their copy before ICMP itself checks the sum.
    if message.len() >= ECHO_HEADER_LEN && internet_checksum(message) != 0 {
        return Err(NotAnEchoReply::BadChecksum);
    }
    let mut reply = parse_echo(message, ICMPV4_ECHO_REPLY)?;
    reply.ttl = Some(ttl);
    Ok(reply)
}

/// Parses what an ICMPv6 raw socket delivers: the bare ICMPv6 message, checksum already verified.
pub(super) fn parse_icmpv6_echo_reply(message: &[u8]) -> Result<EchoReply<'_>, NotAnEchoReply> {
    parse_echo(message, ICMPV6_ECHO_REPLY)
}

fn parse_echo(message: &[u8], reply_type: u8) -> Result<EchoReply<'_>, NotAnEchoReply> {
    if message.len() < ECHO_HEADER_LEN {
        return Err(NotAnEchoReply::Truncated);
    }
    if message[0] != reply_type || message[1] != 0 {
        return Err(NotAnEchoReply::OtherIcmpType(message[0]));
    }
    Ok(EchoReply {
        identifier: u16::from_be_bytes([message[4], message[5]]),
        sequence: u16::from_be_bytes([message[6], message[7]]),
        ttl: None,
        icmp_len: message.len(),
        payload: &message[ECHO_HEADER_LEN..],
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;

    /// A 20-byte IPv4 header (no options) carrying `message`, as an IPv4 raw socket would deliver it.
    fn ipv4_datagram(ttl: u8, protocol: u8, message: &[u8]) -> Vec<u8> {
        let total_len = u16::try_from(IPV4_MIN_HEADER_LEN + message.len()).unwrap();
        let mut datagram = vec![0x45, 0];
        datagram.extend_from_slice(&total_len.to_be_bytes());
        datagram.extend_from_slice(&[0, 0, 0x40, 0, ttl, protocol, 0, 0]);
        datagram.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        let header_checksum = internet_checksum(&datagram);
        datagram[10..12].copy_from_slice(&header_checksum.to_be_bytes());
        datagram.extend_from_slice(message);
        datagram
    }

    /// Turns a request we built into the reply a peer would send: only the type changes, and the
    /// checksum with it.
    fn as_ipv4_reply(request: &[u8]) -> Vec<u8> {
        let mut reply = request.to_vec();
        reply[0] = ICMPV4_ECHO_REPLY;
        reply[2..4].fill(0);
        let checksum = internet_checksum(&reply);
        reply[2..4].copy_from_slice(&checksum.to_be_bytes());
        reply
    }

    #[test]
    fn checksum_matches_rfc1071_worked_example() {
        // RFC 1071 section 3: these words sum to 0xddf2, so the checksum is its complement.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&bytes), !0xddf2);
    }

    #[test]
    fn checksum_pads_an_odd_trailing_byte_with_zero() {
        assert_eq!(internet_checksum(&[0xab]), internet_checksum(&[0xab, 0x00]));
        assert_eq!(internet_checksum(&[]), 0xffff);
    }

    #[test]
    fn checksum_folds_carries_of_a_maximal_message() {
        // Every word is 0xffff (negative zero): however many carries, the sum folds back to 0xffff.
        let even = vec![0xff; usize::from(u16::MAX) - 1];
        assert_eq!(internet_checksum(&even), 0);
        // One more byte adds 0xff00, which leaves 0xff00 after folding and 0x00ff complemented.
        let odd = vec![0xff; usize::from(u16::MAX)];
        assert_eq!(internet_checksum(&odd), 0x00ff);
    }

    #[test]
    fn ipv4_request_has_the_layout_and_a_valid_checksum() {
        let mut packet = Vec::new();
        write_echo_request(&mut packet, Family::V4, 0x1234, 7, b"abc");
        assert_eq!(&packet[..2], &[ICMPV4_ECHO_REQUEST, 0]);
        assert_eq!(&packet[4..8], &[0x12, 0x34, 0x00, 0x07]);
        assert_eq!(&packet[8..], b"abc");
        assert_eq!(internet_checksum(&packet), 0);
    }

    #[test]
    fn ipv4_request_checksum_matches_a_hand_computed_one() {
        // 0x0800 + 0x0001 + 0x0001 = 0x0802, whose complement is 0xf7fd.
        let mut packet = Vec::new();
        write_echo_request(&mut packet, Family::V4, 0x0001, 1, &[]);
        assert_eq!(packet, [0x08, 0x00, 0xf7, 0xfd, 0x00, 0x01, 0x00, 0x01]);
    }

    #[test]
    fn reused_buffer_holds_only_the_latest_request() {
        let mut packet = Vec::new();
        write_echo_request(&mut packet, Family::V4, 1, 1, &[9; 100]);
        write_echo_request(&mut packet, Family::V4, 1, 2, &[9; 4]);
        assert_eq!(packet.len(), ECHO_HEADER_LEN + 4);
        assert_eq!(internet_checksum(&packet), 0);
    }

    #[test]
    fn ipv6_request_leaves_the_checksum_to_the_kernel() {
        let mut packet = Vec::new();
        write_echo_request(&mut packet, Family::V6, 0xbeef, 0x0102, b"xy");
        assert_eq!(
            packet,
            [
                ICMPV6_ECHO_REQUEST,
                0,
                0,
                0,
                0xbe,
                0xef,
                0x01,
                0x02,
                b'x',
                b'y'
            ]
        );
    }

    #[test]
    fn ipv4_reply_yields_identifier_sequence_ttl_and_payload() {
        let mut request = Vec::new();
        write_echo_request(&mut request, Family::V4, 0xabcd, 42, b"payload");
        let datagram = ipv4_datagram(63, IPV4_PROTOCOL_ICMP, &as_ipv4_reply(&request));
        let reply = parse_ipv4_echo_reply(&datagram).unwrap();
        assert_eq!(
            reply,
            EchoReply {
                identifier: 0xabcd,
                sequence: 42,
                ttl: Some(63),
                icmp_len: ECHO_HEADER_LEN + 7,
                payload: b"payload",
            }
        );
    }

    #[test]
    fn ipv4_header_options_are_skipped() {
        let mut request = Vec::new();
        write_echo_request(&mut request, Family::V4, 5, 6, b"p");
        let mut datagram = ipv4_datagram(64, IPV4_PROTOCOL_ICMP, &[]);
        datagram[0] = 0x46; // one 4-byte option word
        datagram.extend_from_slice(&[1, 1, 1, 0]); // NOPs and end-of-options
        datagram.extend_from_slice(&as_ipv4_reply(&request));
        let reply = parse_ipv4_echo_reply(&datagram).unwrap();
        assert_eq!(
            (reply.identifier, reply.sequence, reply.payload),
            (5, 6, &b"p"[..])
        );
    }

    #[test]
    fn our_own_ipv4_request_seen_on_loopback_is_not_a_reply() {
        let mut request = Vec::new();
        write_echo_request(&mut request, Family::V4, 1, 1, b"");
        let datagram = ipv4_datagram(64, IPV4_PROTOCOL_ICMP, &request);
        assert_eq!(
            parse_ipv4_echo_reply(&datagram),
            Err(NotAnEchoReply::OtherIcmpType(ICMPV4_ECHO_REQUEST))
        );
    }

    #[test]
    fn ipv4_reply_with_a_corrupted_byte_is_rejected() {
        let mut request = Vec::new();
        write_echo_request(&mut request, Family::V4, 1, 1, b"data");
        let mut reply = as_ipv4_reply(&request);
        reply[9] ^= 0x01;
        let datagram = ipv4_datagram(64, IPV4_PROTOCOL_ICMP, &reply);
        assert_eq!(
            parse_ipv4_echo_reply(&datagram),
            Err(NotAnEchoReply::BadChecksum)
        );
    }

    #[test]
    fn malformed_ipv4_datagrams_are_rejected() {
        assert_eq!(parse_ipv4_echo_reply(&[]), Err(NotAnEchoReply::Truncated));
        assert_eq!(
            parse_ipv4_echo_reply(&[0x60; 40]),
            Err(NotAnEchoReply::NotIpv4)
        );
        let short_header = [0x44, 0, 0, 20];
        assert_eq!(
            parse_ipv4_echo_reply(&short_header),
            Err(NotAnEchoReply::Truncated)
        );
        let header_only = ipv4_datagram(64, IPV4_PROTOCOL_ICMP, &[]);
        assert_eq!(
            parse_ipv4_echo_reply(&header_only[..19]),
            Err(NotAnEchoReply::Truncated)
        );
        assert_eq!(
            parse_ipv4_echo_reply(&header_only),
            Err(NotAnEchoReply::Truncated)
        );
        let udp = ipv4_datagram(64, 17, &[0; 8]);
        assert_eq!(parse_ipv4_echo_reply(&udp), Err(NotAnEchoReply::NotIcmp));
    }

    #[test]
    fn icmpv6_reply_yields_identifier_and_sequence_without_ttl() {
        let message = [
            ICMPV6_ECHO_REPLY,
            0,
            0x12,
            0x34,
            0x00,
            0x09,
            0xff,
            0xfe,
            1,
            2,
            3,
        ];
        let reply = parse_icmpv6_echo_reply(&message).unwrap();
        assert_eq!(
            reply,
            EchoReply {
                identifier: 9,
                sequence: 0xfffe,
                ttl: None,
                icmp_len: 11,
                payload: &[1, 2, 3]
            }
        );
    }

    #[test]
    fn other_icmpv6_messages_are_rejected() {
        let mut request = Vec::new();
        write_echo_request(&mut request, Family::V6, 1, 1, b"");
        assert_eq!(
            parse_icmpv6_echo_reply(&request),
            Err(NotAnEchoReply::OtherIcmpType(ICMPV6_ECHO_REQUEST))
        );
        let neighbour_solicitation = [135, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            parse_icmpv6_echo_reply(&neighbour_solicitation),
            Err(NotAnEchoReply::OtherIcmpType(135))
        );
        assert_eq!(
            parse_icmpv6_echo_reply(&[ICMPV6_ECHO_REPLY, 0, 0]),
            Err(NotAnEchoReply::Truncated)
        );
    }

    #[test]
    fn payload_limits_fill_the_length_fields_exactly() {
        assert_eq!(Family::V4.max_payload(), 65507);
        assert_eq!(Family::V6.max_payload(), 65527);
    }
}
