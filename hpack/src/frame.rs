//! The few pieces of HTTP/2's framing (RFC 9113, sections 3.4, 4 and 6) that both ends of nsfleet's unix
//! socket write themselves: the frame types and flags they use, the frame header, and a header block cut
//! into HEADERS and CONTINUATION frames.

/// What a client sends before its first frame.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Length (3 bytes), type, flags, stream id (4 bytes).
pub const HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE's default, and its smallest value: every peer accepts frames this large, and
/// neither end of nsfleet asks for larger ones.
pub const DEFAULT_MAX_FRAME: usize = 16_384;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

/// DATA and HEADERS.
pub const END_STREAM: u8 = 0x1;
/// SETTINGS and PING.
pub const ACK: u8 = 0x1;
/// HEADERS and CONTINUATION.
pub const END_HEADERS: u8 = 0x4;
/// DATA and HEADERS.
pub const PADDED: u8 = 0x8;
/// HEADERS: the payload starts with 5 bytes of priority.
pub const PRIORITY: u8 = 0x20;

/// A frame's header. `length` must fit its 24 bits, which every frame up to [`DEFAULT_MAX_FRAME`] does.
pub fn write_header(out: &mut Vec<u8>, length: usize, kind: u8, flags: u8, stream: u32) {
    debug_assert!(length < 1 << 24, "a frame of {length} bytes");
    out.extend_from_slice(&(length as u32).to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
}

/// A whole frame: its header, then `payload`.
pub fn write(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    write_header(out, payload.len(), kind, flags, stream);
    out.extend_from_slice(payload);
}

/// A header block as a HEADERS frame and as many CONTINUATION frames as it needs, none with more than
/// [`DEFAULT_MAX_FRAME`] bytes of payload. `priority` is a HEADERS frame's 5 priority bytes, kept as a
/// peer sent them.
pub fn write_header_block(
    out: &mut Vec<u8>,
    stream: u32,
    end_stream: bool,
    priority: Option<[u8; 5]>,
    block: &[u8],
) {
    let priority_len = if priority.is_some() { 5 } else { 0 };
    let (first, mut rest) = block.split_at(block.len().min(DEFAULT_MAX_FRAME - priority_len));
    let mut flags = 0;
    if end_stream {
        flags |= END_STREAM;
    }
    if priority.is_some() {
        flags |= PRIORITY;
    }
    if rest.is_empty() {
        flags |= END_HEADERS;
    }
    write_header(out, priority_len + first.len(), HEADERS, flags, stream);
    if let Some(priority) = priority {
        out.extend_from_slice(&priority);
    }
    out.extend_from_slice(first);
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at(rest.len().min(DEFAULT_MAX_FRAME));
        rest = after;
        let flags = if rest.is_empty() { END_HEADERS } else { 0 };
        write(out, CONTINUATION, flags, stream, chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames' headers, read back: (length, type, flags, stream).
    fn headers_of(mut bytes: &[u8]) -> Vec<(usize, u8, u8, u32)> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let length =
                usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
            let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
            frames.push((length, bytes[3], bytes[4], stream));
            bytes = &bytes[HEADER_LEN + length..];
        }
        frames
    }

    #[test]
    fn a_small_block_is_one_headers_frame() {
        let mut out = Vec::new();
        write_header_block(&mut out, 3, true, None, b"abc");
        assert_eq!(
            headers_of(&out),
            [(3, HEADERS, END_STREAM | END_HEADERS, 3)]
        );
        assert_eq!(&out[HEADER_LEN..], b"abc");
    }

    #[test]
    fn a_large_block_continues_and_keeps_its_priority() {
        let block = vec![7u8; 2 * DEFAULT_MAX_FRAME + 10];
        let mut out = Vec::new();
        write_header_block(&mut out, 5, false, Some([1, 2, 3, 4, 5]), &block);
        assert_eq!(
            headers_of(&out),
            [
                (DEFAULT_MAX_FRAME, HEADERS, PRIORITY, 5),
                (DEFAULT_MAX_FRAME, CONTINUATION, 0, 5),
                (15, CONTINUATION, END_HEADERS, 5),
            ]
        );
        assert_eq!(&out[HEADER_LEN..HEADER_LEN + 5], &[1, 2, 3, 4, 5]);
        assert_eq!(out.len(), 3 * HEADER_LEN + 5 + block.len());
    }
}
