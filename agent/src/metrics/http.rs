//! The `/metrics` endpoint: a minimal HTTP/1.1 responder, enough for Prometheus and curl. One request per
//! connection (the answer closes it); anything but `GET /metrics` gets 404 or 405. Bounded so a client
//! cannot hold the agent: a few connections at once, a few seconds and a few KB for the request head.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use super::Scrape;

const MAX_CONNECTIONS: usize = 8;
const MAX_REQUEST_HEAD: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
#[error("--metrics {addr}: {source}")]
pub struct MetricsServerError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Binds before anything is served, so an address in use stops the start with the flag's name.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, MetricsServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsServerError { addr, source })
}

/// Answers scrapes until `stop` turns true.
pub async fn serve(listener: TcpListener, scrape: Arc<Scrape>, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: pause rather than spin.
                tracing::warn!(error = %e, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "metrics: too many scrapes at once; connection closed");
            continue;
        };
        let scrape = scrape.clone();
        tokio::spawn(async move {
            if let Err(e) = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, scrape)).await {
                tracing::debug!(%peer, error = %e, "metrics: request not answered in time");
            }
            drop(slot);
        });
    }
}

async fn answer(mut stream: TcpStream, scrape: Arc<Scrape>) {
    let Some(request_line) = read_request_line(&mut stream).await else {
        return;
    };
    let mut words = request_line.split_whitespace();
    let (status, body) = match (words.next(), words.next()) {
        (Some("GET"), Some("/metrics")) => {
            match tokio::task::spawn_blocking(move || scrape.collect()).await {
                Ok(text) => ("200 OK", text),
                Err(e) => (
                    "500 Internal Server Error",
                    format!("collecting failed: {e}\n"),
                ),
            }
        }
        (Some("GET"), Some(_)) => ("404 Not Found", "only /metrics is served here\n".into()),
        _ => ("405 Method Not Allowed", "only GET /metrics\n".into()),
    };
    let content_type = if status.starts_with("200") {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // The scraper may have gone; nothing to tell anyone.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The request line, once the whole head (up to the blank line) has arrived; `None` for a head that is
/// too large, not text, or cut short.
async fn read_request_line(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 || head.len() + read > MAX_REQUEST_HEAD {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let head = std::str::from_utf8(&head).ok()?;
    head.lines().next().map(str::to_string)
}
