//! gRPC calls with request bytes sent exactly as written, and a corpus of protobuf no message decodes:
//! shared by the tests of malformed input.

/// Sends request bytes as they are, so the corpus below reaches the agent exactly as written.
#[derive(Clone, Copy, Default)]
pub struct RawBytes;

impl tonic::codec::Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawBytes;
    type Decoder = RawBytes;

    fn encoder(&mut self) -> Self {
        RawBytes
    }

    fn decoder(&mut self) -> Self {
        RawBytes
    }
}

impl tonic::codec::Encoder for RawBytes {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(buf, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawBytes {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let remaining = bytes::Buf::remaining(buf);
        Ok(Some(bytes::Buf::copy_to_bytes(buf, remaining).to_vec()))
    }
}

/// Protobuf that no message decodes: (what, bytes). Field 1 of both methods used is `string name`.
pub fn malformed_protobuf() -> Vec<(&'static str, Vec<u8>)> {
    // Field 15 as a group (wire type 3), nested deeper than prost's recursion limit of 100.
    let mut deep = vec![0x7b; 150];
    deep.extend(vec![0x7c; 150]);
    vec![
        ("a string shorter than its length", vec![0x0a, 0x05, b'a']),
        ("a varint cut short (unknown field 2)", vec![0x10, 0x80]),
        ("a tag cut short", vec![0x80]),
        ("wrong wire type for a string", vec![0x08, 0x01]),
        ("invalid UTF-8 in a string", vec![0x0a, 0x02, 0xff, 0xfe]),
        ("field number 0", vec![0x00, 0x01]),
        ("wire type 7", vec![0x0f, 0x01]),
        ("an end group without a start", vec![0x7c]),
        ("a group never closed", vec![0x7b]),
        ("groups nested past the recursion limit", deep),
    ]
}
