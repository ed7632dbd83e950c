//! Unix-socket connections whose clients send the socket's path as `:authority`.
//!
//! grpcurl, grpcio (Python, C++), grpc-java, grpc-dotnet, kubelet and Bazel put the socket path (or
//! nothing usable) in `:authority` when they dial a unix socket. The HTTP/2 server (h2) parses that
//! pseudo-header as a URI authority and resets the stream with PROTOCOL_ERROR before any service or tower
//! layer runs. On unix sockets only, `AuthorityFixingStream` sits between the accepted socket and the
//! HTTP/2 server and rewrites each client header block (`frames.rs`): decoded with the client's HPACK
//! state (the `nsfleet-hpack` crate), an unusable `:authority` replaced with `localhost`, written again
//! without the dynamic table so the server's decoder never depends on the client's. Every other frame,
//! and everything the server sends, passes through as it is. TCP connections never get this wrapper.
//! docs/ARCHITECTURE.md ("Unix-socket clients and `:authority`") says why it is done this way.

mod frames;
#[cfg(test)]
mod tests;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tonic::transport::server::Connected;

use frames::Rewriter;

/// Client bytes read at once while frames are being parsed.
const READ_CHUNK: usize = 8 * 1024;

/// An accepted connection whose incoming header blocks carry an `:authority` the HTTP/2 server accepts.
pub struct AuthorityFixingStream<S> {
    inner: S,
    rewriter: Rewriter,
    chunk: Box<[u8; READ_CHUNK]>,
    client_closed: bool,
}

impl<S> AuthorityFixingStream<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            rewriter: Rewriter::new(),
            chunk: Box::new([0; READ_CHUNK]),
            client_closed: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AuthorityFixingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            let pending = this.rewriter.pending();
            if !pending.is_empty() {
                let n = pending.len().min(buf.remaining());
                buf.put_slice(&pending[..n]);
                this.rewriter.consume(n);
                return Poll::Ready(Ok(()));
            }
            if this.client_closed {
                // End of stream; a header block cut off by it is dropped, as the server would drop it.
                return Poll::Ready(Ok(()));
            }
            // DATA payloads and other frames the rewriter need not see go straight into the server's
            // buffer: no copy, no parsing.
            let budget = this.rewriter.forward_budget();
            if budget > 0 {
                let limit = budget.min(buf.remaining());
                let mut direct = buf.take(limit);
                let start = direct.filled().as_ptr();
                std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut direct))?;
                if direct.filled().as_ptr() != start {
                    return Poll::Ready(Err(io::Error::other(
                        "the socket read into a buffer of its own",
                    )));
                }
                let n = direct.filled().len();
                // SAFETY: `direct` is still `buf`'s unfilled part (checked above), and the inner read
                // initialized and filled its first `n` bytes.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                this.rewriter.forwarded(n);
                return Poll::Ready(Ok(()));
            }
            let mut chunk = ReadBuf::new(&mut this.chunk[..]);
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut chunk))?;
            let read = chunk.filled();
            if read.is_empty() {
                this.client_closed = true;
            } else {
                this.rewriter.feed(read);
            }
        }
    }
}

forward_writes_to_inner!(AuthorityFixingStream);

/// The security layer identifies unix callers by the peer credentials in the connect info, so the
/// wrapper hands on the socket's own.
impl<S: Connected> Connected for AuthorityFixingStream<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}
