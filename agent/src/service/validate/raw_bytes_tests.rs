//! Fuzzing over raw bytes (issue 14's torture suite): whatever arrives on the wire, decoding and then
//! validation answer, and never panic. Two generators: bytes from nowhere (most fail to decode, which
//! exercises the decoder), and well-framed protobuf fields with random numbers, wire types and contents
//! (most decode, which exercises validation with values no test wrote by hand).

use nsfleet_proto::v1 as pb;
use proptest::prelude::*;

use super::Validate;
use crate::service::topology::parse::parse;

/// Decodes `bytes` as `T` and validates what decodes; a panic anywhere fails the property.
fn decode_and_validate<T: prost::Message + Default + Validate>(bytes: &[u8]) {
    if let Ok(request) = T::decode(bytes) {
        let _ = request.validate();
    }
}

fn every_request(bytes: &[u8]) {
    decode_and_validate::<pb::CreateNamespaceRequest>(bytes);
    decode_and_validate::<pb::DeleteNamespaceRequest>(bytes);
    decode_and_validate::<pb::GetNamespaceRequest>(bytes);
    decode_and_validate::<pb::CreateLinkRequest>(bytes);
    decode_and_validate::<pb::DeleteLinkRequest>(bytes);
    decode_and_validate::<pb::SetLinkRequest>(bytes);
    decode_and_validate::<pb::GetLinkRequest>(bytes);
    decode_and_validate::<pb::ListLinksRequest>(bytes);
    decode_and_validate::<pb::AddAddressRequest>(bytes);
    decode_and_validate::<pb::DeleteAddressRequest>(bytes);
    decode_and_validate::<pb::ListAddressesRequest>(bytes);
    decode_and_validate::<pb::AddRouteRequest>(bytes);
    decode_and_validate::<pb::ReplaceRouteRequest>(bytes);
    decode_and_validate::<pb::DeleteRouteRequest>(bytes);
    decode_and_validate::<pb::ListRoutesRequest>(bytes);
    decode_and_validate::<pb::GetForwardingRequest>(bytes);
    decode_and_validate::<pb::SetForwardingRequest>(bytes);
    decode_and_validate::<pb::ListNeighborsRequest>(bytes);
    decode_and_validate::<pb::PingRequest>(bytes);
    decode_and_validate::<pb::AddNatRuleRequest>(bytes);
    decode_and_validate::<pb::DeleteNatRuleRequest>(bytes);
    decode_and_validate::<pb::ListNatRulesRequest>(bytes);
    decode_and_validate::<pb::ApplyBatchRequest>(bytes);
    if let Ok(request) = <pb::PlanTopologyRequest as prost::Message>::decode(bytes) {
        let _ = parse(request.topology.as_ref(), None);
    }
}

/// One protobuf field with a random number and wire type: a varint, a length-delimited payload (which
/// may itself be framed fields, so nested messages decode), or a fixed 32/64-bit value.
fn field() -> impl Strategy<Value = Vec<u8>> {
    let payload = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        // Text that looks like what requests carry: names, addresses, prefixes.
        "[a-z0-9./:+-]{0,20}".prop_map(String::into_bytes),
    ];
    (1u32..16, 0u8..4, any::<u64>(), payload).prop_map(|(number, wire, value, payload)| {
        let wire = [0u8, 1, 2, 5][wire as usize];
        let mut out = Vec::new();
        varint(&mut out, u64::from(number << 3 | u32::from(wire)));
        match wire {
            0 => varint(&mut out, value % 1_000_000),
            1 => out.extend(value.to_le_bytes()),
            5 => out.extend((value as u32).to_le_bytes()),
            _ => {
                varint(&mut out, payload.len() as u64);
                out.extend(payload);
            }
        }
        out
    })
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A message of framed fields, some of them a nested message of framed fields.
fn framed_message() -> impl Strategy<Value = Vec<u8>> {
    let nested = proptest::collection::vec(field(), 0..6).prop_map(|fields| fields.concat());
    let member = prop_oneof![
        3 => field(),
        1 => (1u32..16, nested).prop_map(|(number, inner)| {
            let mut out = Vec::new();
            varint(&mut out, u64::from(number << 3 | 2));
            varint(&mut out, inner.len() as u64);
            out.extend(inner);
            out
        }),
    ];
    proptest::collection::vec(member, 0..10).prop_map(|fields| fields.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn bytes_from_nowhere_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        every_request(&bytes);
    }

    #[test]
    fn framed_fields_with_random_contents_never_panic(bytes in framed_message()) {
        every_request(&bytes);
    }
}
