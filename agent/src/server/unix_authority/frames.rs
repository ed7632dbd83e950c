//! The client-to-server half of an HTTP/2 connection, frame by frame: header blocks are decoded and
//! written again without the dynamic table and with a usable `:authority`; every other byte is passed on
//! as it came.
//!
//! This is a pure state machine (bytes in, bytes out), so it can be tested, and fed hostile input, without
//! a socket.

use http::uri::Authority;

use nsfleet_hpack::frame::{
    write_header_block, CONTINUATION, END_HEADERS, END_STREAM, HEADERS,
    HEADER_LEN as FRAME_HEADER_LEN, PADDED, PREFACE, PRIORITY,
};
use nsfleet_hpack::{encode_stateless, Decoder, Field};

/// The most one header block (its frames, headers included) may take before it is given up on. Far above
/// what the HTTP/2 server itself accepts as a decoded list (hyper: 16 KiB), so only abuse reaches it.
const MAX_BLOCK_BYTES: usize = 256 * 1024;
/// The decoded list may be larger than its encoding (indexes into the table); the same ceiling holds.
const MAX_LIST_BYTES: usize = 256 * 1024;
/// The largest dynamic table a client may ask for. The server advertises HTTP/2's default (4096) and
/// never sees the client's table, so a larger one costs only this wrapper's memory.
const MAX_TABLE_BYTES: usize = 64 * 1024;
/// What replaces an `:authority` the HTTP/2 server would reject: what grpc-go and tonic send over unix
/// sockets.
pub const REPLACEMENT_AUTHORITY: &[u8] = b"localhost";

enum Phase {
    /// Pass this many bytes on unread (the preface, or the payload of a frame that is not a header block).
    Forward(usize),
    /// Collecting the 9 bytes of a frame header.
    FrameHeader,
    /// Collecting the payload of a HEADERS or CONTINUATION frame.
    BlockFrame { head: FrameHead, remaining: usize },
    /// Something could not be understood: from here on every byte passes as it is, and the HTTP/2 server
    /// answers the client's mistake with its own error.
    Verbatim,
}

#[derive(Clone, Copy)]
struct FrameHead {
    kind: u8,
    flags: u8,
    stream_id: u32,
}

/// A header block being collected across HEADERS and CONTINUATION frames.
struct Block {
    stream_id: u32,
    end_stream: bool,
    priority: Option<[u8; 5]>,
    fragment: Vec<u8>,
}

pub struct Rewriter {
    phase: Phase,
    head: [u8; FRAME_HEADER_LEN],
    head_len: usize,
    /// The payload of the frame being collected.
    payload: Vec<u8>,
    block: Option<Block>,
    /// The frames of the block being collected, as they came, for the fall back to `Verbatim`.
    raw: Vec<u8>,
    decoder: Decoder,
    out: Vec<u8>,
    out_start: usize,
}

impl Default for Rewriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Rewriter {
    pub fn new() -> Self {
        Self {
            phase: Phase::Forward(PREFACE.len()),
            head: [0; FRAME_HEADER_LEN],
            head_len: 0,
            payload: Vec::new(),
            block: None,
            raw: Vec::new(),
            decoder: Decoder::new(MAX_TABLE_BYTES, MAX_LIST_BYTES),
            out: Vec::new(),
            out_start: 0,
        }
    }

    /// Bytes ready to go to the server.
    pub fn pending(&self) -> &[u8] {
        &self.out[self.out_start..]
    }

    /// `n` bytes of `pending()` went to the server.
    pub fn consume(&mut self, n: usize) {
        self.out_start = (self.out_start + n).min(self.out.len());
        if self.out_start == self.out.len() {
            self.out.clear();
            self.out_start = 0;
        }
    }

    /// How many of the next client bytes may go to the server without being looked at, when nothing is
    /// pending: the caller may read them straight into the server's buffer and report them with
    /// `forwarded`.
    pub fn forward_budget(&self) -> usize {
        if !self.pending().is_empty() {
            return 0;
        }
        match self.phase {
            Phase::Forward(n) => n,
            Phase::Verbatim => usize::MAX,
            Phase::FrameHeader | Phase::BlockFrame { .. } => 0,
        }
    }

    /// `n` bytes (at most `forward_budget()`) went to the server unread.
    pub fn forwarded(&mut self, n: usize) {
        if let Phase::Forward(left) = &mut self.phase {
            *left = left.saturating_sub(n);
            if *left == 0 {
                self.phase = Phase::FrameHeader;
            }
        }
    }

    /// Takes client bytes; what they turn into is appended to `pending()`.
    pub fn feed(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            match &mut self.phase {
                Phase::Verbatim => {
                    self.out.extend_from_slice(input);
                    return;
                }
                Phase::Forward(left) => {
                    let n = (*left).min(input.len());
                    self.out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    *left -= n;
                    if *left == 0 {
                        self.phase = Phase::FrameHeader;
                    }
                }
                Phase::FrameHeader => {
                    let n = (FRAME_HEADER_LEN - self.head_len).min(input.len());
                    self.head[self.head_len..self.head_len + n].copy_from_slice(&input[..n]);
                    self.head_len += n;
                    input = &input[n..];
                    if self.head_len == FRAME_HEADER_LEN {
                        self.head_len = 0;
                        self.frame_header();
                    }
                }
                Phase::BlockFrame { head, remaining } => {
                    let n = (*remaining).min(input.len());
                    self.payload.extend_from_slice(&input[..n]);
                    self.raw.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    *remaining -= n;
                    if *remaining == 0 {
                        let head = *head;
                        self.block_frame(head);
                    }
                }
            }
        }
    }

    fn frame_header(&mut self) {
        let h = self.head;
        let length = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        let head = FrameHead {
            kind: h[3],
            flags: h[4],
            stream_id: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        };
        let in_block = self.block.is_some();
        if head.kind == HEADERS || (head.kind == CONTINUATION && in_block) {
            self.raw.extend_from_slice(&h);
            if self.raw.len() + length > MAX_BLOCK_BYTES {
                self.give_up();
            } else {
                self.payload.clear();
                self.phase = Phase::BlockFrame {
                    head,
                    remaining: length,
                };
                if length == 0 {
                    self.block_frame(head);
                }
            }
        } else if in_block {
            // Only CONTINUATION may follow a header block that has not ended (RFC 9113 6.10).
            self.raw.extend_from_slice(&h);
            self.give_up();
        } else {
            self.out.extend_from_slice(&h);
            self.phase = if length == 0 {
                Phase::FrameHeader
            } else {
                Phase::Forward(length)
            };
        }
    }

    /// A whole HEADERS or CONTINUATION payload is in `payload`.
    fn block_frame(&mut self, head: FrameHead) {
        self.phase = Phase::FrameHeader;
        match self.block.as_mut() {
            None => match start_block(head, &self.payload) {
                Some(block) => self.block = Some(block),
                None => return self.give_up(),
            },
            Some(block) if head.kind == CONTINUATION && head.stream_id == block.stream_id => {
                block.fragment.extend_from_slice(&self.payload);
            }
            Some(_) => return self.give_up(),
        }
        if head.flags & END_HEADERS != 0 {
            self.end_block();
        }
    }

    fn end_block(&mut self) {
        let Some(block) = self.block.take() else {
            return;
        };
        match self.decoder.decode(&block.fragment) {
            Ok(mut fields) => {
                replace_unusable_authority(&mut fields);
                let mut encoded = Vec::with_capacity(block.fragment.len() + 64);
                encode_stateless(&fields, &mut encoded);
                write_header_block(
                    &mut self.out,
                    block.stream_id,
                    block.end_stream,
                    block.priority,
                    &encoded,
                );
                self.raw.clear();
            }
            Err(error) => {
                tracing::debug!(%error, "undecodable header block from a unix socket client: passing the connection on as it is");
                self.block = Some(block);
                self.give_up();
            }
        }
    }

    /// Sends what was collected as it came, and everything after it too.
    fn give_up(&mut self) {
        self.out.append(&mut self.raw);
        self.payload = Vec::new();
        self.block = None;
        self.phase = Phase::Verbatim;
    }
}

/// The block a HEADERS payload starts, without its padding; `None` if the padding or priority fields do
/// not fit in the payload.
fn start_block(head: FrameHead, payload: &[u8]) -> Option<Block> {
    if head.kind != HEADERS {
        return None;
    }
    let mut body = payload;
    let mut padding = 0usize;
    if head.flags & PADDED != 0 {
        let (&pad, rest) = body.split_first()?;
        padding = usize::from(pad);
        body = rest;
    }
    let mut priority = None;
    if head.flags & PRIORITY != 0 {
        let fields: [u8; 5] = body.get(..5)?.try_into().ok()?;
        priority = Some(fields);
        body = &body[5..];
    }
    let fragment = body.get(..body.len().checked_sub(padding)?)?;
    Some(Block {
        stream_id: head.stream_id,
        end_stream: head.flags & END_STREAM != 0,
        priority,
        fragment: fragment.to_vec(),
    })
}

/// An `:authority` that `http::uri::Authority` (what the HTTP/2 server parses it with) refuses becomes
/// `localhost`; a valid one is kept, so a client naming a real host is heard as before.
fn replace_unusable_authority(fields: &mut [Field]) {
    for field in fields.iter_mut().filter(|f| f.name == b":authority") {
        if Authority::try_from(field.value.as_slice()).is_err() {
            field.value = REPLACEMENT_AUTHORITY.to_vec();
        }
    }
}
