//! The blocking calls against a real tonic server on a unix socket, driven by an executor that has no
//! IO driver at all: what `socket_call` does must not need one.

use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;
use futures::StreamExt;
use nsfleet_proto::v1::{
    diagnostics_service_client::DiagnosticsServiceClient,
    diagnostics_service_server::{DiagnosticsService, DiagnosticsServiceServer},
    ping_event::Event,
    GetAgentInfoRequest, GetAgentInfoResponse, PingEvent, PingReply, PingRequest, PingSummary,
    TcpConnectRequest, TcpConnectResponse,
};
use tokio::sync::Notify;
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::{Code, Request, Response, Status};

use super::*;
use crate::channel::AgentChannel;

/// A stand-in agent. `Ping` answers one reply at once and the rest (and the summary) only once the
/// test releases them; its replies come `from` the target it was given, so a large request makes a
/// large answer.
struct StandIn {
    release: Arc<Notify>,
}

#[tonic::async_trait]
impl DiagnosticsService for StandIn {
    type PingStream = ReceiverStream<Result<PingEvent, Status>>;

    async fn ping(
        &self,
        request: Request<PingRequest>,
    ) -> Result<Response<Self::PingStream>, Status> {
        let request = request.into_inner();
        if request.target == "refuse" {
            return Err(Status::invalid_argument("target: refused by the stand-in"));
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let release = self.release.clone();
        tokio::spawn(async move {
            for seq in 1..=request.count {
                if seq == 2 {
                    release.notified().await;
                }
                let reply = PingReply {
                    seq,
                    from: request.target.clone(),
                    ..PingReply::default()
                };
                let event = PingEvent {
                    event: Some(Event::Reply(reply)),
                };
                if sender.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            let summary = PingSummary {
                received: request.count,
                ..PingSummary::default()
            };
            let event = PingEvent {
                event: Some(Event::Summary(summary)),
            };
            let _ = sender.send(Ok(event)).await;
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn tcp_connect(
        &self,
        _request: Request<TcpConnectRequest>,
    ) -> Result<Response<TcpConnectResponse>, Status> {
        Ok(Response::new(TcpConnectResponse {
            connected: true,
            ..TcpConnectResponse::default()
        }))
    }

    async fn get_agent_info(
        &self,
        _request: Request<GetAgentInfoRequest>,
    ) -> Result<Response<GetAgentInfoResponse>, Status> {
        Err(Status::unimplemented("not in the stand-in"))
    }
}

struct Server {
    _directory: tempfile::TempDir,
    socket: PathBuf,
    release: Arc<Notify>,
    /// Connections the server has accepted.
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    runtime: tokio::runtime::Runtime,
}

/// Serves the stand-in on a socket in a new directory, from a runtime of its own. With
/// `drop_first`, the first connection is accepted and closed at once, and the returned receiver says
/// when that has happened.
fn serve(drop_first: bool) -> (Server, std::sync::mpsc::Receiver<()>) {
    let directory = tempfile::tempdir().unwrap();
    let socket = directory.path().join("agent.sock");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let release = Arc::new(Notify::new());
    let (dropped, first_dropped) = std::sync::mpsc::channel();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = accepted.clone();
    let listener = {
        let _entered = runtime.enter();
        tokio::net::UnixListener::bind(&socket).unwrap()
    };
    let service = DiagnosticsServiceServer::new(StandIn {
        release: release.clone(),
    });
    runtime.spawn(async move {
        if drop_first {
            let (first, _) = listener.accept().await.unwrap();
            drop(first);
            dropped.send(()).unwrap();
        }
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(UnixListenerStream::new(listener).inspect(move |_| {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }))
            .await
    });
    let server = Server {
        _directory: directory,
        socket,
        release,
        accepted,
        runtime,
    };
    (server, first_dropped)
}

fn client(server: &Server) -> DiagnosticsServiceClient<AgentChannel> {
    let connection = SocketConnection::connect(&server.socket, Duration::from_secs(5)).unwrap();
    DiagnosticsServiceClient::new(AgentChannel::Socket(connection))
}

fn with_deadline<T>(message: T, timeout: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(timeout);
    request
}

/// Starts a ping of `count` replies from `target` and returns its stream once the head has come.
async fn pinging(
    client: &mut DiagnosticsServiceClient<AgentChannel>,
    target: &str,
    count: u32,
) -> tonic::Streaming<PingEvent> {
    let request = PingRequest {
        target: target.into(),
        count,
        ..PingRequest::default()
    };
    client
        .ping(with_deadline(request, Duration::from_secs(10)))
        .await
        .unwrap()
        .into_inner()
}

/// Another call on `client`'s connection gets its answer.
async fn a_call_goes_through(client: &mut DiagnosticsServiceClient<AgentChannel>) {
    let request = with_deadline(TcpConnectRequest::default(), Duration::from_secs(10));
    let answer = client.tcp_connect(request).await.unwrap();
    assert!(answer.into_inner().connected);
}

fn reply_from(event: Option<PingEvent>) -> String {
    match event.and_then(|event| event.event) {
        Some(Event::Reply(reply)) => reply.from,
        other => panic!("not a reply: {other:?}"),
    }
}

/// Each message of a stream is handed over when it is read, not when the stream ends: the second
/// reply is only sent after the caller has the first (a transport that waited for the end would run
/// into the deadline instead).
#[test]
fn a_stream_hands_over_each_message_as_it_comes() {
    let (server, _) = serve(false);
    let mut client = client(&server);
    block_on(async {
        let mut events = pinging(&mut client, "192.0.2.1", 3).await;
        assert_eq!(reply_from(events.message().await.unwrap()), "192.0.2.1");
        server.release.notify_one();
        assert_eq!(reply_from(events.message().await.unwrap()), "192.0.2.1");
        assert_eq!(reply_from(events.message().await.unwrap()), "192.0.2.1");
        let summary = events
            .message()
            .await
            .unwrap()
            .and_then(|event| event.event);
        assert!(matches!(
            summary,
            Some(Event::Summary(PingSummary { received: 3, .. }))
        ));
        assert!(events.message().await.unwrap().is_none());
        // The next call goes through too, on a connection of its own.
        a_call_goes_through(&mut client).await;
    });
}

/// A request and an answer far larger than a frame (16 KB) and than the windows HTTP/2 starts with
/// (64 KB): the request waits for the server's window updates, the answer is not held back.
#[test]
fn requests_and_answers_larger_than_the_initial_windows_go_through() {
    let (server, _) = serve(false);
    let mut client = client(&server);
    let target: String = (0..300_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    block_on(async {
        for _ in 0..3 {
            let mut events = pinging(&mut client, &target, 1).await;
            assert_eq!(reply_from(events.message().await.unwrap()), target);
            assert!(events.message().await.unwrap().is_some());
            assert!(events.message().await.unwrap().is_none());
        }
    });
}

/// An error the server answers with headers alone (no DATA, no trailers) keeps its code and message.
#[test]
fn an_error_status_arrives_whole() {
    let (server, _) = serve(false);
    let mut client = client(&server);
    let request = PingRequest {
        target: "refuse".into(),
        ..PingRequest::default()
    };
    let status = block_on(client.ping(request)).unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "target: refused by the stand-in");
}

/// An agent that takes the connection and never answers (stuck, or stopped): the call ends at its own
/// deadline, with a cause that says so, since no timer can interrupt a blocking read. (A tonic server
/// would answer CANCELLED at the deadline itself; this one reads and says nothing.)
#[test]
fn a_call_that_gets_no_answer_ends_at_its_deadline() {
    let directory = tempfile::tempdir().unwrap();
    let socket = directory.path().join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let silent = std::thread::spawn(move || {
        let (mut connection, _) = listener.accept().unwrap();
        // Until the client hangs up.
        std::io::copy(&mut connection, &mut std::io::sink())
    });
    let connection = SocketConnection::connect(&socket, Duration::from_secs(5)).unwrap();
    let mut client = DiagnosticsServiceClient::new(AgentChannel::Socket(connection));
    let request = with_deadline(GetAgentInfoRequest {}, Duration::from_millis(200));
    let status = block_on(client.get_agent_info(request)).unwrap_err();
    let cause = std::error::Error::source(&status).map(ToString::to_string);
    assert!(
        cause.is_some_and(|cause| cause.contains("deadline passed")),
        "{status:?}"
    );
    drop(client);
    silent.join().unwrap().unwrap();
}

/// A stream the caller drops before its end is cancelled (RST_STREAM), and the next call goes through.
#[test]
fn a_call_after_a_stream_dropped_early_goes_through() {
    let (server, _) = serve(false);
    let mut client = client(&server);
    block_on(async {
        let mut events = pinging(&mut client, "192.0.2.1", 5).await;
        assert_eq!(reply_from(events.message().await.unwrap()), "192.0.2.1");
        drop(events);
        a_call_goes_through(&mut client).await;
    });
}

/// The agent closed the connection (a restart, say) before the call: the call dials again.
#[test]
fn a_connection_the_agent_closed_is_dialled_again() {
    let (server, first_dropped) = serve(true);
    let mut client = client(&server);
    first_dropped.recv_timeout(Duration::from_secs(10)).unwrap();
    block_on(a_call_goes_through(&mut client));
    drop(server.runtime);
}

/// What a stand-in agent does with a connection once it has answered its call.
#[derive(Clone, Copy)]
enum AfterAnswer {
    Close,
    KeepOpen,
}

/// A stand-in agent written frame by frame, for `calls` connections: it answers a connection's
/// `TcpConnect` only once the request's GOAWAY has come. Before answering it shuts its reading side, so
/// anything the client writes after its request (the acknowledgement of these SETTINGS) fails, as it
/// does when the agent has already closed. Returns the socket's directory and path, and the thread,
/// which gives back how many connections it answered.
fn frame_by_frame_agent(
    calls: usize,
    after: AfterAnswer,
) -> (tempfile::TempDir, PathBuf, std::thread::JoinHandle<usize>) {
    use nsfleet_hpack::frame::{
        write as frame, write_header_block, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS,
        SETTINGS,
    };
    use prost::Message;
    use std::io::{Read, Write};

    let directory = tempfile::tempdir().unwrap();
    let socket = directory.path().join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let agent = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for _ in 0..calls {
            let (mut connection, _) = listener.accept().unwrap();
            let mut preface = [0u8; 24];
            connection.read_exact(&mut preface).unwrap();
            loop {
                let mut head = [0u8; 9];
                connection.read_exact(&mut head).unwrap();
                let length =
                    usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
                let mut payload = vec![0u8; length];
                connection.read_exact(&mut payload).unwrap();
                if head[3] == GOAWAY {
                    assert_eq!(payload, [0u8; 8], "GOAWAY: last stream 0, NO_ERROR");
                    break;
                }
            }
            connection.shutdown(std::net::Shutdown::Read).unwrap();
            let mut out = Vec::new();
            frame(&mut out, SETTINGS, 0, 0, &[]);
            let mut block = Vec::new();
            let head = [
                field(b":status", b"200", false),
                field(b"content-type", b"application/grpc", false),
            ];
            nsfleet_hpack::encode_stateless(&head, &mut block);
            write_header_block(&mut out, 1, false, None, &block);
            let message = TcpConnectResponse {
                connected: true,
                ..TcpConnectResponse::default()
            }
            .encode_to_vec();
            let mut body = vec![0u8];
            body.extend_from_slice(&(message.len() as u32).to_be_bytes());
            body.extend_from_slice(&message);
            frame(&mut out, DATA, 0, 1, &body);
            block.clear();
            nsfleet_hpack::encode_stateless(&[field(b"grpc-status", b"0", false)], &mut block);
            frame(&mut out, HEADERS, END_STREAM | END_HEADERS, 1, &block);
            connection.write_all(&out).unwrap();
            match after {
                AfterAnswer::Close => drop(connection),
                AfterAnswer::KeepOpen => kept.push(connection),
            }
        }
        calls
    });
    (directory, socket, agent)
}

/// A call's request ends with GOAWAY, so the agent can close the connection as it answers; what the
/// client would still write to a connection the agent has closed does not fail the call.
#[test]
fn a_call_says_goaway_and_outlives_the_agent_closing() {
    let (_directory, socket, agent) = frame_by_frame_agent(1, AfterAnswer::Close);
    let connection = SocketConnection::connect(&socket, Duration::from_secs(5)).unwrap();
    let mut client = DiagnosticsServiceClient::new(AgentChannel::Socket(connection));
    block_on(a_call_goes_through(&mut client));
    assert_eq!(agent.join().unwrap(), 1);
}

/// A call after one that said GOAWAY dials a connection of its own, even while the agent still holds the
/// first open: a stream opened after this side's GOAWAY might never be served.
#[test]
fn a_call_after_a_goaway_dials_a_connection_of_its_own() {
    let (_directory, socket, agent) = frame_by_frame_agent(2, AfterAnswer::KeepOpen);
    let connection = SocketConnection::connect(&socket, Duration::from_secs(5)).unwrap();
    let mut client = DiagnosticsServiceClient::new(AgentChannel::Socket(connection));
    block_on(async {
        a_call_goes_through(&mut client).await;
        a_call_goes_through(&mut client).await;
    });
    assert_eq!(agent.join().unwrap(), 2);
}

/// A call made through a channel kept open leaves its connection to the command's next call, which
/// then closes it.
#[test]
fn a_channel_kept_open_carries_the_next_call() {
    let (server, _) = serve(false);
    let connection = SocketConnection::connect(&server.socket, Duration::from_secs(5)).unwrap();
    let channel = AgentChannel::Socket(connection);
    let mut first = DiagnosticsServiceClient::new(channel.kept_open_for_another_call());
    let mut last = DiagnosticsServiceClient::new(channel);
    block_on(async {
        a_call_goes_through(&mut first).await;
        a_call_goes_through(&mut last).await;
        a_call_goes_through(&mut last).await;
    });
    let accepted = server.accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        accepted, 2,
        "the first two calls share a connection, the third dials"
    );
}

#[test]
fn grpc_timeouts_are_read_in_every_unit() {
    let mut headers = http::HeaderMap::new();
    for (value, expected) in [
        ("2H", Some(Duration::from_secs(7200))),
        ("3M", Some(Duration::from_secs(180))),
        ("30S", Some(Duration::from_secs(30))),
        ("1500m", Some(Duration::from_millis(1500))),
        ("250u", Some(Duration::from_micros(250))),
        ("99999999n", Some(Duration::from_nanos(99_999_999))),
        ("", None),
        ("S", None),
        ("10x", None),
        ("-1S", None),
    ] {
        headers.insert("grpc-timeout", http::HeaderValue::from_static(value));
        assert_eq!(grpc_timeout(&headers), expected, "{value:?}");
    }
}

/// What the generated clients send becomes an HTTP/2 request every server takes; a token stays out
/// of compression tables.
#[test]
fn request_fields_carry_an_origin_and_keep_credentials_unindexed() {
    let request = http::Request::builder()
        .method("POST")
        .uri("/nsfleet.v1.LinkService/ListLinks")
        .header("content-type", "application/grpc")
        .header("authorization", "Bearer secret")
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let fields = request_fields(&parts).unwrap();
    let text: Vec<(String, String, bool)> = fields
        .iter()
        .map(|field| {
            (
                String::from_utf8(field.name.clone()).unwrap(),
                String::from_utf8(field.value.clone()).unwrap(),
                field.never_indexed,
            )
        })
        .collect();
    let expected = [
        (":method", "POST", false),
        (":scheme", "http", false),
        (":authority", "localhost", false),
        (":path", "/nsfleet.v1.LinkService/ListLinks", false),
        ("content-type", "application/grpc", false),
        ("authorization", "Bearer secret", true),
    ];
    let expected: Vec<(String, String, bool)> = expected
        .iter()
        .map(|&(name, value, never)| (name.to_owned(), value.to_owned(), never))
        .collect();
    assert_eq!(text, expected);
}
