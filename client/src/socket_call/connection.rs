//! The client side of one HTTP/2 connection (RFC 9113), driven by blocking reads and writes.
//!
//! It does what a gRPC call to the agent needs and refuses the rest: streams are opened by this side only
//! (push is turned off), request bodies honour the agent's flow-control windows, and this side opens its
//! own receive windows as wide as HTTP/2 allows at the start, so the agent never waits on the client.
//! Header blocks are written without the dynamic table and read with the `nsfleet-hpack` decoder.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nsfleet_hpack::frame::{
    write as frame, write_header_block, ACK, CONTINUATION, DATA, DEFAULT_MAX_FRAME as MAX_FRAME,
    END_HEADERS, END_STREAM, GOAWAY, HEADERS, HEADER_LEN as FRAME_HEADER_LEN, PADDED, PING,
    PREFACE, PRIORITY, PUSH_PROMISE, RST_STREAM, SETTINGS, WINDOW_UPDATE,
};
use nsfleet_hpack::{encode_stateless, Decoder, Field};

use super::SocketCallError;

const SETTINGS_ENABLE_PUSH: u16 = 0x2;
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
/// Every window starts at this until a setting or an update says otherwise.
const DEFAULT_WINDOW: i64 = 65_535;
/// Stream ids, window sizes and increments are 31-bit numbers; the top bit of their word is reserved.
const U31: u32 = (1 << 31) - 1;
/// The largest window HTTP/2 allows, which this side gives the agent for the connection and every stream.
const MAX_WINDOW: u32 = U31;
/// Received bytes are handed back to the agent's windows once this many have come, long before
/// either could run out.
const REPLENISH_AFTER: u64 = 1 << 30;
/// RFC 9113's CANCEL, sent when a response is dropped before its end.
const CANCEL: u32 = 0x8;
/// The GOAWAY sent with a command's last request: last stream id 0 (the agent opens no streams: push is
/// off) and NO_ERROR.
const CLOSE_AFTER_ANSWER: [u8; 8] = [0; 8];
/// The most a decoded response header block may hold; grpc-message is the only long field.
const MAX_HEADER_LIST: usize = 1 << 20;
/// The HPACK table size this side allows (HTTP/2's default, which it never raises).
const HEADER_TABLE_SIZE: usize = 4096;

/// What arrived on one stream, in order.
#[derive(Debug)]
pub(super) enum StreamEvent {
    /// The response's head, then, if any, its trailers.
    Headers {
        fields: Vec<Field>,
        end: bool,
    },
    Data {
        bytes: Bytes,
        end: bool,
    },
    Reset {
        code: u32,
    },
}

struct Stream {
    events: VecDeque<StreamEvent>,
    /// What the agent still lets this side send on the stream (it may go negative after a setting).
    send_window: i64,
    received_since_update: u64,
    /// END_STREAM or RST_STREAM came: nothing more will.
    remote_done: bool,
}

/// A header block whose CONTINUATION frames are still coming.
struct OpenBlock {
    stream: u32,
    fragment: Vec<u8>,
    end_stream: bool,
}

pub(super) struct Connection {
    socket: UnixStream,
    input: Vec<u8>,
    /// Where the unparsed part of `input` starts.
    parsed: usize,
    decoder: Decoder,
    next_stream_id: u32,
    preface_sent: bool,
    send_window: i64,
    /// The agent's SETTINGS_INITIAL_WINDOW_SIZE: each new stream's send window.
    stream_initial_window: i64,
    received_since_update: u64,
    streams: HashMap<u32, Stream>,
    open_block: Option<OpenBlock>,
    /// The agent sent GOAWAY: streams above this id were never processed.
    last_stream_id: Option<u32>,
    /// This side sent GOAWAY with its last request: the agent closes the connection once it has
    /// answered.
    closing: bool,
    /// Why the connection can carry nothing more; every stream still open fails with it.
    broken: Option<String>,
}

impl Connection {
    pub(super) fn new(socket: UnixStream) -> Self {
        Self {
            socket,
            input: Vec::with_capacity(FRAME_HEADER_LEN + MAX_FRAME),
            parsed: 0,
            decoder: Decoder::new(HEADER_TABLE_SIZE, MAX_HEADER_LIST),
            next_stream_id: 1,
            preface_sent: false,
            send_window: DEFAULT_WINDOW,
            stream_initial_window: DEFAULT_WINDOW,
            received_since_update: 0,
            streams: HashMap::new(),
            open_block: None,
            last_stream_id: None,
            closing: false,
            broken: None,
        }
    }

    /// False once this side or the agent said GOAWAY, or the agent closed the connection or broke the
    /// protocol: a new call then needs a new connection.
    pub(super) fn usable(&self) -> bool {
        self.broken.is_none()
            && !self.closing
            && self.last_stream_id.is_none()
            && self.next_stream_id < U31
            && !self.closed_by_agent()
    }

    /// Whether the agent has closed its end (a restart, say), seen without waiting: the socket reads as
    /// ended. Bytes it sent (SETTINGS, a PING) are left for the next read.
    fn closed_by_agent(&self) -> bool {
        let mut byte = 0u8;
        // SAFETY: a one-byte buffer that lives across the call; MSG_PEEK leaves the data in the socket.
        let peeked = unsafe {
            libc::recv(
                self.socket.as_raw_fd(),
                std::ptr::addr_of_mut!(byte).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        peeked == 0
    }

    /// Opens a stream and sends the whole request on it: the header block, then `body` as DATA frames
    /// as the agent's windows allow, and with `last_call` a GOAWAY. Returns the stream's id.
    ///
    /// After the GOAWAY the agent closes the connection in the turn that answers it. Without it the
    /// agent woke once more, when the client closed its end at exit: a context switch and about 15% of
    /// the agent's CPU per call (BENCHMARKS.md, "One invocation per command").
    pub(super) fn send_request(
        &mut self,
        fields: &[Field],
        body: &[u8],
        deadline: Option<Instant>,
        last_call: bool,
    ) -> Result<u32, SocketCallError> {
        let id = self.next_stream_id;
        self.next_stream_id += 2;
        self.streams.insert(
            id,
            Stream {
                events: VecDeque::new(),
                send_window: self.stream_initial_window,
                received_since_update: 0,
                remote_done: false,
            },
        );
        let mut out = Vec::with_capacity(256 + body.len().min(MAX_FRAME + 64));
        if !self.preface_sent {
            out.extend_from_slice(PREFACE);
            let mut settings = Vec::with_capacity(12);
            for (id, value) in [
                (SETTINGS_ENABLE_PUSH, 0),
                (SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW),
            ] {
                settings.extend_from_slice(&id.to_be_bytes());
                settings.extend_from_slice(&value.to_be_bytes());
            }
            frame(&mut out, SETTINGS, 0, 0, &settings);
            let increment = MAX_WINDOW - DEFAULT_WINDOW as u32;
            frame(&mut out, WINDOW_UPDATE, 0, 0, &increment.to_be_bytes());
            self.preface_sent = true;
        }
        let mut block = Vec::with_capacity(128);
        encode_stateless(fields, &mut block);
        write_header_block(&mut out, id, body.is_empty(), None, &block);
        let mut rest = body;
        while !rest.is_empty() {
            let allowed = self.sendable(id);
            if allowed == 0 {
                // Whatever is written so far must reach the agent before it can open its windows.
                self.write(&out, deadline)?;
                out.clear();
                self.read_frame(deadline)?;
                self.check_stream_open(id)?;
                continue;
            }
            let (chunk, after) = rest.split_at(allowed.min(rest.len()));
            let flags = if after.is_empty() { END_STREAM } else { 0 };
            frame(&mut out, DATA, flags, id, chunk);
            self.send_window -= chunk.len() as i64;
            if let Some(stream) = self.streams.get_mut(&id) {
                stream.send_window -= chunk.len() as i64;
            }
            rest = after;
        }
        if last_call {
            frame(&mut out, GOAWAY, 0, 0, &CLOSE_AFTER_ANSWER);
            self.closing = true;
        }
        self.write(&out, deadline)?;
        Ok(id)
    }

    /// The next thing that happened on stream `id`, reading from the socket until there is one.
    pub(super) fn next_event(
        &mut self,
        id: u32,
        deadline: Option<Instant>,
    ) -> Result<StreamEvent, SocketCallError> {
        loop {
            let Some(stream) = self.streams.get_mut(&id) else {
                return Err(SocketCallError::Protocol(format!(
                    "stream {id} is not open"
                )));
            };
            if let Some(event) = stream.events.pop_front() {
                if stream.remote_done && stream.events.is_empty() {
                    self.streams.remove(&id);
                }
                return Ok(event);
            }
            self.check_stream_open(id)?;
            self.read_frame(deadline)?;
        }
    }

    /// Tells the agent this side wants nothing more of stream `id` (a response dropped before its end).
    pub(super) fn cancel(&mut self, id: u32) {
        let Some(stream) = self.streams.remove(&id) else {
            return;
        };
        if !stream.remote_done && self.broken.is_none() {
            let mut out = Vec::with_capacity(FRAME_HEADER_LEN + 4);
            frame(&mut out, RST_STREAM, 0, id, &CANCEL.to_be_bytes());
            // Best effort: a connection that cannot take it is dropped with the call anyway.
            let _ = self.write(&out, Some(Instant::now() + Duration::from_secs(1)));
        }
    }

    /// An error if stream `id` can get no further events: the connection broke or closed, or the agent's
    /// GOAWAY left the stream out.
    fn check_stream_open(&self, id: u32) -> Result<(), SocketCallError> {
        if let Some(reason) = &self.broken {
            return Err(SocketCallError::Broken(reason.clone()));
        }
        match self.last_stream_id {
            Some(last) if id > last => Err(SocketCallError::GoneAway),
            _ => Ok(()),
        }
    }

    /// How many body bytes stream `id` may send now, in one frame.
    fn sendable(&self, id: u32) -> usize {
        let stream = self.streams.get(&id).map_or(0, |stream| stream.send_window);
        self.send_window.min(stream).clamp(0, MAX_FRAME as i64) as usize
    }

    /// Writes an acknowledgement or a window update. Once this side has said GOAWAY the agent may have
    /// answered and closed before this is written (its SETTINGS are read only after the request is
    /// sent), so a failure then is no failure of the call: what the agent sent is still there to read,
    /// and an answer cut short shows as the connection closing.
    fn write_control(&mut self, bytes: &[u8]) -> Result<(), SocketCallError> {
        if self.closing {
            let _ = self.socket.write_all(bytes);
            return Ok(());
        }
        self.write(bytes, None)
    }

    fn write(&mut self, bytes: &[u8], deadline: Option<Instant>) -> Result<(), SocketCallError> {
        let result = remaining(deadline)
            .and_then(|timeout| {
                self.socket
                    .set_write_timeout(timeout)
                    .map_err(|source| SocketCallError::io("setting the write timeout", source))
            })
            .and_then(|()| {
                self.socket
                    .write_all(bytes)
                    .map_err(|source| timed_out_or("writing to the agent", source))
            });
        if let Err(error) = &result {
            self.broken.get_or_insert_with(|| error.to_string());
        }
        result
    }

    /// Reads one frame and does what it says.
    fn read_frame(&mut self, deadline: Option<Instant>) -> Result<(), SocketCallError> {
        let result = self.fill(FRAME_HEADER_LEN, deadline).and_then(|()| {
            let head = &self.input[self.parsed..self.parsed + FRAME_HEADER_LEN];
            let length =
                usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            if length > MAX_FRAME {
                return Err(SocketCallError::Protocol(format!(
                    "a frame of {length} bytes, above the {MAX_FRAME} this side allows"
                )));
            }
            self.fill(FRAME_HEADER_LEN + length, deadline)?;
            let start = self.parsed;
            self.parsed += FRAME_HEADER_LEN + length;
            // Taken out for the frame's handling, which needs the rest of `self`, and put back after.
            let input = std::mem::take(&mut self.input);
            let (head, payload) = input[start..self.parsed].split_at(FRAME_HEADER_LEN);
            let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & U31;
            let handled = self.dispatch(head[3], head[4], id, payload);
            self.input = input;
            handled
        });
        if let Err(error) = &result {
            // A deadline that passed ends the call, and the connection with it: a frame may be half read.
            self.broken.get_or_insert_with(|| error.to_string());
        }
        result
    }

    /// Reads until `input` holds `wanted` unparsed bytes.
    fn fill(&mut self, wanted: usize, deadline: Option<Instant>) -> Result<(), SocketCallError> {
        if self.parsed > 0 && self.input.len() - self.parsed < wanted {
            self.input.drain(..self.parsed);
            self.parsed = 0;
        }
        while self.input.len() - self.parsed < wanted {
            let timeout = remaining(deadline)?;
            self.socket
                .set_read_timeout(timeout)
                .map_err(|source| SocketCallError::io("setting the read timeout", source))?;
            let filled = self.input.len();
            self.input
                .resize(filled.max(self.parsed + wanted).max(filled + 4096), 0);
            let read = self.socket.read(&mut self.input[filled..]);
            let read = match read {
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                    self.input.truncate(filled);
                    continue;
                }
                Err(source) => {
                    self.input.truncate(filled);
                    return Err(timed_out_or("reading from the agent", source));
                }
            };
            self.input.truncate(filled + read);
            if read == 0 {
                return Err(SocketCallError::Closed);
            }
        }
        Ok(())
    }

    fn dispatch(
        &mut self,
        kind: u8,
        flags: u8,
        id: u32,
        payload: &[u8],
    ) -> Result<(), SocketCallError> {
        if let Some(block) = &self.open_block {
            if kind != CONTINUATION || id != block.stream {
                return Err(SocketCallError::Protocol(
                    "a header block interrupted by another frame".into(),
                ));
            }
        }
        match kind {
            DATA => self.on_data(flags, id, payload),
            HEADERS => {
                let fragment = unpadded(flags, payload)?;
                let fragment = if flags & PRIORITY != 0 {
                    fragment.get(5..).ok_or_else(|| short("HEADERS"))?
                } else {
                    fragment
                };
                self.open_block = Some(OpenBlock {
                    stream: id,
                    fragment: fragment.to_vec(),
                    end_stream: flags & END_STREAM != 0,
                });
                self.end_of_fragment(flags)
            }
            CONTINUATION => {
                let Some(block) = &mut self.open_block else {
                    return Err(SocketCallError::Protocol(
                        "CONTINUATION outside a header block".into(),
                    ));
                };
                if block.fragment.len() + payload.len() > MAX_HEADER_LIST {
                    return Err(SocketCallError::Protocol(format!(
                        "a header block over {MAX_HEADER_LIST} bytes"
                    )));
                }
                block.fragment.extend_from_slice(payload);
                self.end_of_fragment(flags)
            }
            RST_STREAM => {
                let code = word(payload).ok_or_else(|| short("RST_STREAM"))?;
                self.push(id, StreamEvent::Reset { code }, true);
                Ok(())
            }
            SETTINGS if flags & ACK != 0 => Ok(()),
            SETTINGS => self.on_settings(payload),
            PUSH_PROMISE => Err(SocketCallError::Protocol(
                "PUSH_PROMISE, though this side turned push off".into(),
            )),
            PING if flags & ACK == 0 => {
                let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
                frame(&mut out, PING, ACK, 0, payload);
                self.write_control(&out)
            }
            GOAWAY => {
                let last = word(payload).ok_or_else(|| short("GOAWAY"))? & U31;
                self.last_stream_id = Some(last);
                Ok(())
            }
            WINDOW_UPDATE => {
                let increment =
                    i64::from(word(payload).ok_or_else(|| short("WINDOW_UPDATE"))? & U31);
                if id == 0 {
                    self.send_window += increment;
                } else if let Some(stream) = self.streams.get_mut(&id) {
                    stream.send_window += increment;
                }
                Ok(())
            }
            // PRIORITY, a PING's answer, and frame types this side does not know: nothing to do.
            _ => Ok(()),
        }
    }

    fn on_data(&mut self, flags: u8, id: u32, payload: &[u8]) -> Result<(), SocketCallError> {
        let bytes = Bytes::copy_from_slice(unpadded(flags, payload)?);
        let length = payload.len() as u64;
        let mut updates = Vec::new();
        self.received_since_update += length;
        if self.received_since_update >= REPLENISH_AFTER {
            frame(
                &mut updates,
                WINDOW_UPDATE,
                0,
                0,
                &(self.received_since_update as u32).to_be_bytes(),
            );
            self.received_since_update = 0;
        }
        let end = flags & END_STREAM != 0;
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.received_since_update += length;
            if !end && stream.received_since_update >= REPLENISH_AFTER {
                let increment = stream.received_since_update as u32;
                frame(&mut updates, WINDOW_UPDATE, 0, id, &increment.to_be_bytes());
                stream.received_since_update = 0;
            }
        }
        self.push(id, StreamEvent::Data { bytes, end }, end);
        if updates.is_empty() {
            Ok(())
        } else {
            self.write_control(&updates)
        }
    }

    fn end_of_fragment(&mut self, flags: u8) -> Result<(), SocketCallError> {
        if flags & END_HEADERS == 0 {
            return Ok(());
        }
        let Some(block) = self.open_block.take() else {
            return Ok(());
        };
        // Decoded even for a stream nobody waits for: the HPACK table must follow every block.
        let fields = self
            .decoder
            .decode(&block.fragment)
            .map_err(SocketCallError::Hpack)?;
        let end = block.end_stream;
        self.push(block.stream, StreamEvent::Headers { fields, end }, end);
        Ok(())
    }

    fn on_settings(&mut self, payload: &[u8]) -> Result<(), SocketCallError> {
        if !payload.len().is_multiple_of(6) {
            return Err(SocketCallError::Protocol(
                "SETTINGS whose length is not a multiple of 6".into(),
            ));
        }
        for setting in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([setting[0], setting[1]]);
            let value = u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]);
            if id == SETTINGS_INITIAL_WINDOW_SIZE {
                if value > MAX_WINDOW {
                    return Err(SocketCallError::Protocol(format!(
                        "an initial window of {value}, above 2^31-1"
                    )));
                }
                // RFC 9113 6.9.2: the change applies to every open stream's window.
                let change = i64::from(value) - self.stream_initial_window;
                for stream in self.streams.values_mut() {
                    stream.send_window += change;
                }
                self.stream_initial_window = i64::from(value);
            }
        }
        let mut out = Vec::with_capacity(FRAME_HEADER_LEN);
        frame(&mut out, SETTINGS, ACK, 0, &[]);
        self.write_control(&out)
    }

    fn push(&mut self, id: u32, event: StreamEvent, done: bool) {
        if let Some(stream) = self.streams.get_mut(&id) {
            if !stream.remote_done {
                stream.events.push_back(event);
                stream.remote_done = done;
            }
        }
    }
}

/// How long a blocking read or write may take before `deadline`; `None` blocks without a limit.
fn remaining(deadline: Option<Instant>) -> Result<Option<Duration>, SocketCallError> {
    match deadline {
        None => Ok(None),
        Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(Some(left)),
            _ => Err(SocketCallError::Deadline),
        },
    }
}

/// A socket timeout (SO_RCVTIMEO, SO_SNDTIMEO) surfaces as EAGAIN: it is the call's deadline passing.
fn timed_out_or(context: &'static str, source: io::Error) -> SocketCallError {
    match source.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => SocketCallError::Deadline,
        _ => SocketCallError::io(context, source),
    }
}

/// The payload without the padding a PADDED frame carries.
fn unpadded(flags: u8, payload: &[u8]) -> Result<&[u8], SocketCallError> {
    if flags & PADDED == 0 {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or_else(|| short("padded frame"))?;
    rest.len()
        .checked_sub(usize::from(pad))
        .map(|end| &rest[..end])
        .ok_or_else(|| SocketCallError::Protocol("padding longer than its frame".into()))
}

fn word(payload: &[u8]) -> Option<u32> {
    let bytes: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

fn short(what: &str) -> SocketCallError {
    SocketCallError::Protocol(format!("{what} too short"))
}
