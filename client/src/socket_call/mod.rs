//! Calls to one agent over its unix socket with blocking reads and writes, without an async runtime's
//! IO or an HTTP/2 library.
//!
//! A command sent to one host makes one or two calls and waits for each; hyper's HTTP/2 connection (a
//! task of its own, its handshake, its buffers and wake-ups) and the runtime's IO driver (epoll, an
//! eventfd, the signal driver's socket pair) were a third of such a process's cost
//! (BENCHMARKS.md, "One invocation per command"). Here the generated clients and tonic's codec are the
//! same; only the bytes move differently: each call writes its frames and reads the answer's on the
//! caller's thread (`connection.rs`), bounded by the call's own deadline (`grpc-timeout`) as socket
//! timeouts, since no timer can fire while the thread is in a read. Streams work too: each message of a
//! ping is read when the caller asks for it, so replies still print as they come. A command's last
//! call (each call, unless the command said another follows) goes with a GOAWAY, so that the agent
//! closes the connection as it answers.
//!
//! Calls to several hosts must overlap, so they keep hyper's connection (`channel.rs`); so do the
//! commands that wait on more than their calls (monitor, a live graph).

mod connection;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use nsfleet_hpack::{Field, HpackError};
use tonic::body::Body;

use crate::app::MAX_CONNECT_TIMEOUT;
use connection::{Connection, StreamEvent};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum SocketCallError {
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the call's deadline passed before the agent answered")]
    Deadline,
    #[error("the agent closed the connection before answering")]
    Closed,
    #[error("the agent said GOAWAY before taking this call")]
    GoneAway,
    #[error("the agent reset the call (HTTP/2 error code {0:#x})")]
    Reset(u32),
    #[error("the agent broke HTTP/2: {0}")]
    Protocol(String),
    #[error("the agent's header block: {0}")]
    Hpack(HpackError),
    #[error("the connection broke earlier: {0}")]
    Broken(String),
    #[error("the request: {0}")]
    Request(String),
}

impl SocketCallError {
    fn io(context: &'static str, source: io::Error) -> Self {
        Self::Io { context, source }
    }
}

/// The agent's socket and the connection to it, shared by every client a command makes.
#[derive(Clone)]
pub struct SocketConnection {
    socket: Arc<PathBuf>,
    connection: Arc<Mutex<Connection>>,
    /// Calls through this handle close the connection as they are answered (`send_request`).
    last_call: bool,
}

impl std::fmt::Debug for SocketConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketConnection")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl SocketConnection {
    /// Connects to the agent's socket, waiting at most `timeout` for room in its queue of connections.
    pub fn connect(socket: &Path, timeout: Duration) -> io::Result<Self> {
        Ok(Self {
            socket: Arc::new(socket.to_path_buf()),
            connection: Arc::new(Mutex::new(Connection::new(dial(socket, timeout)?))),
            last_call: true,
        })
    }

    /// A handle on the same connection whose calls leave it open for the command's next call.
    pub fn kept_open(&self) -> Self {
        Self {
            last_call: false,
            ..self.clone()
        }
    }

    /// Sends the request and reads the answer's head; the body is read as the caller takes it.
    fn call(&self, request: http::Request<Body>) -> ResponseFuture {
        let shared = self.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            // tonic's encoded message, already there: collecting never waits.
            let body = body.collect().await?.to_bytes();
            let deadline = grpc_timeout(&parts.headers).map(|timeout| Instant::now() + timeout);
            let fields = request_fields(&parts)?;
            let mut connection = shared.lock();
            if !connection.usable() {
                // Closed since the last call, by that call's GOAWAY or by the agent (a restart, say):
                // dialled again, as hyper's connection is, within the same bound as the first dial.
                let timeout = deadline.map_or(MAX_CONNECT_TIMEOUT, |deadline| {
                    deadline
                        .saturating_duration_since(Instant::now())
                        .min(MAX_CONNECT_TIMEOUT)
                });
                *connection = Connection::new(dial(&shared.socket, timeout)?);
            }
            let stream = connection.send_request(&fields, &body, deadline, shared.last_call)?;
            let (fields, end) = match connection.next_event(stream, deadline)? {
                StreamEvent::Headers { fields, end } => (fields, end),
                StreamEvent::Reset { code } => return Err(SocketCallError::Reset(code).into()),
                StreamEvent::Data { .. } => {
                    let error = SocketCallError::Protocol("DATA before the response's head".into());
                    return Err(error.into());
                }
            };
            drop(connection);
            let mut response = http::Response::new(());
            *response.status_mut() = status(&fields)?;
            fill_headers(response.headers_mut(), &fields)?;
            let body = ResponseBody {
                shared,
                stream,
                deadline,
                done: end,
            };
            Ok(response.map(|()| Body::new(body)))
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held leaves nothing half-changed that a later call would trust: the
        // connection is marked broken before anything can fail mid-frame.
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

impl tower::Service<http::Request<Body>> for SocketConnection {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        SocketConnection::call(self, request)
    }
}

/// The answer's DATA and trailers, read from the socket when tonic asks for the next frame.
struct ResponseBody {
    shared: SocketConnection,
    stream: u32,
    deadline: Option<Instant>,
    done: bool,
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = SocketCallError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, SocketCallError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let event = self.shared.lock().next_event(self.stream, self.deadline);
        let frame = match event {
            Ok(StreamEvent::Data { bytes, end }) => {
                self.done = end;
                if bytes.is_empty() && end {
                    return Poll::Ready(None);
                }
                Ok(Frame::data(bytes))
            }
            Ok(StreamEvent::Headers { fields, end }) => {
                self.done = true;
                if !end {
                    Err(SocketCallError::Protocol(
                        "a second header block that does not end the stream".into(),
                    ))
                } else {
                    let mut trailers = http::HeaderMap::new();
                    fill_headers(&mut trailers, &fields).map(|()| Frame::trailers(trailers))
                }
            }
            Ok(StreamEvent::Reset { code }) => {
                self.done = true;
                Err(SocketCallError::Reset(code))
            }
            Err(error) => {
                self.done = true;
                Err(error)
            }
        };
        Poll::Ready(Some(frame))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if !self.done {
            self.shared.lock().cancel(self.stream);
        }
    }
}

/// Connects a unix stream socket with SO_SNDTIMEO set first: for `AF_UNIX`, connect waits with the send
/// timeout while the listener's queue is full, so a stuck agent cannot hold the command past `timeout`.
fn dial(socket: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let path = socket.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid (empty) value.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if path.len() >= address.sun_path.len() || path.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a socket path must be under {} bytes, without NUL",
                address.sun_path.len()
            ),
        ));
    }
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (slot, &byte) in address.sun_path.iter_mut().zip(path) {
        *slot = byte as libc::c_char;
    }
    // SAFETY: plain system call; the descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor nothing else owns.
    let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    stream.set_write_timeout(Some(timeout.max(Duration::from_millis(1))))?;
    let length = std::mem::offset_of!(libc::sockaddr_un, sun_path) + path.len() + 1;
    // SAFETY: `address` is a valid sockaddr_un of `length` bytes, NUL-terminated by the zeroing.
    let connected = unsafe {
        libc::connect(
            fd,
            std::ptr::addr_of!(address).cast::<libc::sockaddr>(),
            length as libc::socklen_t,
        )
    };
    if connected != 0 {
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::WouldBlock {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the agent's queue of connections stayed full for {timeout:?}"),
            ));
        }
        return Err(error);
    }
    Ok(stream)
}

/// The header fields of a request as HTTP/2 carries them. tonic's generated clients give a path only; a
/// unix socket's authority names nothing, and `localhost` is one every server accepts.
fn request_fields(parts: &http::request::Parts) -> Result<Vec<Field>, SocketCallError> {
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let mut fields = Vec::with_capacity(5 + parts.headers.len());
    for (name, value) in [
        (":method", parts.method.as_str()),
        (":scheme", "http"),
        (":authority", "localhost"),
        (":path", path),
    ] {
        fields.push(field(name.as_bytes(), value.as_bytes(), false));
    }
    for (name, value) in &parts.headers {
        // HTTP/2 forbids the connection-specific headers of HTTP/1 (RFC 9113 8.2.2); tonic sets none.
        if matches!(
            name.as_str(),
            "connection"
                | "keep-alive"
                | "proxy-connection"
                | "transfer-encoding"
                | "upgrade"
                | "host"
        ) {
            return Err(SocketCallError::Request(format!(
                "{name} is not a header HTTP/2 carries"
            )));
        }
        // A credential stays out of every compression table on its way (RFC 7541 7.1.3).
        let sensitive = value.is_sensitive() || name == http::header::AUTHORIZATION;
        fields.push(field(name.as_str().as_bytes(), value.as_bytes(), sensitive));
    }
    Ok(fields)
}

fn field(name: &[u8], value: &[u8], never_indexed: bool) -> Field {
    Field {
        name: name.to_vec(),
        value: value.to_vec(),
        never_indexed,
    }
}

fn status(fields: &[Field]) -> Result<http::StatusCode, SocketCallError> {
    fields
        .iter()
        .find(|field| field.name == b":status")
        .and_then(|field| http::StatusCode::from_bytes(&field.value).ok())
        .ok_or_else(|| SocketCallError::Protocol("a response without a valid :status".into()))
}

fn fill_headers(headers: &mut http::HeaderMap, fields: &[Field]) -> Result<(), SocketCallError> {
    for field in fields.iter().filter(|field| !field.name.starts_with(b":")) {
        let name = http::HeaderName::from_bytes(&field.name);
        let value = http::HeaderValue::from_bytes(&field.value);
        let (Ok(name), Ok(value)) = (name, value) else {
            return Err(SocketCallError::Protocol(format!(
                "a header field that is not valid HTTP: {}",
                String::from_utf8_lossy(&field.name)
            )));
        };
        headers.append(name, value);
    }
    Ok(())
}

/// The call's deadline as tonic wrote it (gRPC over HTTP/2: up to 8 digits and a unit).
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}
