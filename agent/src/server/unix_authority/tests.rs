//! The rewriting of client header blocks, from hand-built HTTP/2 byte streams. Expected HPACK encodings
//! are built by hand from RFC 7541's rules; the Huffman strings are the RFC's own examples (Appendix C.4).

use proptest::prelude::*;

use super::frames::{Rewriter, REPLACEMENT_AUTHORITY};
use nsfleet_hpack::{
    encode_integer as encode_integer_for_tests, encode_stateless, huffman, Decoder, Field,
    HpackError,
};

const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream_id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A literal field with a new name, "without indexing" or "with incremental indexing".
fn literal(name: &[u8], value: &[u8], indexed: bool) -> Vec<u8> {
    let mut out = vec![if indexed { 0x40 } else { 0x00 }];
    for s in [name, value] {
        encode_integer_for_tests(&mut out, 0x00, 7, s.len());
        out.extend_from_slice(s);
    }
    out
}

/// A literal value under a static-table name, with incremental indexing.
fn literal_indexed_name(index: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_integer_for_tests(&mut out, 0x40, 6, usize::from(index));
    encode_integer_for_tests(&mut out, 0x00, 7, value.len());
    out.extend_from_slice(value);
    out
}

/// What grpcurl and grpcio send for a unix target: the socket path as `:authority`, indexed.
fn grpc_request_block(authority: &[u8]) -> Vec<u8> {
    let mut block = vec![0x83, 0x86]; // :method POST, :scheme http
    block.extend(literal_indexed_name(
        4,
        b"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ));
    block.extend(literal_indexed_name(1, authority));
    block.extend(literal_indexed_name(31, b"application/grpc"));
    block.extend(literal(b"te", b"trailers", true));
    block
}

struct OutFrame {
    kind: u8,
    flags: u8,
    stream_id: u32,
    payload: Vec<u8>,
}

/// Splits the rewriter's output (preface first) into frames, checking the frame layout on the way.
fn frames_of(out: &[u8]) -> Vec<OutFrame> {
    assert_eq!(&out[..24], PREFACE, "the preface passes first, unchanged");
    let mut rest = &out[24..];
    let mut frames = Vec::new();
    while !rest.is_empty() {
        assert!(rest.len() >= 9, "a cut frame header: {rest:?}");
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        assert!(rest.len() >= 9 + len, "a cut frame");
        frames.push(OutFrame {
            kind: rest[3],
            flags: rest[4],
            stream_id: u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]),
            payload: rest[9..9 + len].to_vec(),
        });
        rest = &rest[9 + len..];
    }
    frames
}

/// Every header block in the output, decoded with a fresh decoder each: proof that none of them needs
/// the dynamic table.
fn blocks_of(frames: &[OutFrame]) -> Vec<Vec<Field>> {
    let mut blocks = Vec::new();
    let mut fragment: Option<Vec<u8>> = None;
    for f in frames {
        match f.kind {
            HEADERS => {
                assert!(fragment.is_none(), "HEADERS inside a block");
                assert_eq!(f.flags & PADDED, 0, "padding is dropped");
                let skip = if f.flags & PRIORITY != 0 { 5 } else { 0 };
                fragment = Some(f.payload[skip..].to_vec());
            }
            CONTINUATION => fragment
                .as_mut()
                .expect("CONTINUATION after HEADERS")
                .extend_from_slice(&f.payload),
            _ => assert!(fragment.is_none(), "frame {} inside a block", f.kind),
        }
        if matches!(f.kind, HEADERS | CONTINUATION) {
            assert!(
                f.payload.len() <= 16_384,
                "frame of {} bytes",
                f.payload.len()
            );
            if f.flags & END_HEADERS != 0 {
                let block = fragment.take().expect("a block");
                blocks.push(
                    Decoder::new(0, usize::MAX)
                        .decode(&block)
                        .expect("the output decodes without a table"),
                );
            }
        }
    }
    assert!(fragment.is_none(), "an unfinished block");
    blocks
}

fn rewrite(input: &[u8]) -> Vec<u8> {
    let mut rewriter = Rewriter::new();
    rewriter.feed(input);
    rewriter.pending().to_vec()
}

fn connection(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut input = PREFACE.to_vec();
    input.extend(frame(SETTINGS, 0, 0, &[]));
    for f in frames {
        input.extend_from_slice(f);
    }
    input
}

fn value<'a>(fields: &'a [Field], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .map(|f| f.value.as_slice())
}

#[test]
fn a_socket_path_authority_becomes_localhost_and_every_other_header_survives() {
    let input = connection(&[frame(
        HEADERS,
        END_HEADERS,
        1,
        &grpc_request_block(b"/tmp/nsfleet/agent.sock"),
    )]);
    let blocks = blocks_of(&frames_of(&rewrite(&input)));
    assert_eq!(blocks.len(), 1);
    let fields = &blocks[0];
    assert_eq!(value(fields, ":authority"), Some(REPLACEMENT_AUTHORITY));
    assert_eq!(value(fields, ":method"), Some(&b"POST"[..]));
    assert_eq!(value(fields, ":scheme"), Some(&b"http"[..]));
    assert_eq!(
        value(fields, ":path"),
        Some(&b"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"[..])
    );
    assert_eq!(
        value(fields, "content-type"),
        Some(&b"application/grpc"[..])
    );
    assert_eq!(value(fields, "te"), Some(&b"trailers"[..]));
    let names: Vec<&[u8]> = fields.iter().map(|f| f.name.as_slice()).collect();
    assert_eq!(
        names,
        [
            &b":method"[..],
            b":scheme",
            b":path",
            b":authority",
            b"content-type",
            b"te"
        ],
        "order kept"
    );
}

#[test]
fn authorities_the_server_rejects_are_replaced_and_valid_ones_kept() {
    let junk = vec![b'x'; 10 * 1024];
    let mut control = b"local".to_vec();
    control.push(0x01);
    for (authority, replaced) in [
        (&b"localhost"[..], false),
        (b"agent.example:50051", false),
        (b"[2001:db8::1]:443", false),
        (b"unix:/run/nsfleet.sock", true),
        (b"/run/nsfleet/agent.sock", true),
        (b"%2Frun%2Fnsfleet.sock", true),
        (b"", true),
        (&control, true),
        (b"host with spaces", true),
        (&junk[..], false),
        (b"\xff\xfe", true),
    ] {
        let input = connection(&[frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            &grpc_request_block(authority),
        )]);
        let blocks = blocks_of(&frames_of(&rewrite(&input)));
        let expected = if replaced {
            REPLACEMENT_AUTHORITY
        } else {
            authority
        };
        assert_eq!(
            value(&blocks[0], ":authority"),
            Some(expected),
            "{}",
            String::from_utf8_lossy(authority)
        );
    }
}

#[test]
fn data_and_other_frames_pass_unchanged_and_flags_and_priority_survive() {
    let data = frame(DATA, END_STREAM, 1, &[0, 0, 0, 0, 3, 1, 2, 3]);
    let ping = frame(0x6, 0, 0, b"12345678");
    let mut priority_block = vec![0x80, 0, 0, 0, 42]; // exclusive, depends on nothing, weight 42
    priority_block.extend(grpc_request_block(b"/s"));
    let input = connection(&[
        frame(HEADERS, END_HEADERS, 1, &grpc_request_block(b"/s")),
        data.clone(),
        ping.clone(),
        frame(
            HEADERS,
            END_HEADERS | END_STREAM | PRIORITY,
            3,
            &priority_block,
        ),
    ]);
    let out = rewrite(&input);
    let frames = frames_of(&out);
    assert_eq!(frames.len(), 5);
    assert_eq!((frames[0].kind, frames[0].payload.len()), (SETTINGS, 0));
    assert_eq!(
        (frames[1].kind, frames[1].flags, frames[1].stream_id),
        (HEADERS, END_HEADERS, 1)
    );
    assert_eq!(
        frame(
            frames[2].kind,
            frames[2].flags,
            frames[2].stream_id,
            &frames[2].payload
        ),
        data
    );
    assert_eq!(
        frame(
            frames[3].kind,
            frames[3].flags,
            frames[3].stream_id,
            &frames[3].payload
        ),
        ping
    );
    assert_eq!(
        (frames[4].kind, frames[4].flags, frames[4].stream_id),
        (HEADERS, END_HEADERS | END_STREAM | PRIORITY, 3)
    );
    assert_eq!(frames[4].payload[..5], [0x80, 0, 0, 0, 42]);
}

#[test]
fn padding_is_stripped_and_continuation_frames_are_joined() {
    let block = grpc_request_block(b"/run/a.sock");
    let (first, second) = block.split_at(10);
    let mut padded = vec![7u8];
    padded.extend_from_slice(first);
    padded.extend_from_slice(&[0; 7]);
    let input = connection(&[
        frame(HEADERS, PADDED, 5, &padded),
        frame(CONTINUATION, END_HEADERS, 5, second),
    ]);
    let frames = frames_of(&rewrite(&input));
    assert_eq!(frames.len(), 2, "SETTINGS and one HEADERS");
    assert_eq!(
        (frames[1].kind, frames[1].flags, frames[1].stream_id),
        (HEADERS, END_HEADERS, 5)
    );
    let blocks = blocks_of(&frames);
    assert_eq!(value(&blocks[0], ":authority"), Some(REPLACEMENT_AUTHORITY));
    assert_eq!(value(&blocks[0], "te"), Some(&b"trailers"[..]));
}

#[test]
fn a_block_larger_than_one_frame_goes_out_as_headers_and_continuations_of_at_most_16384_bytes() {
    let mut block = grpc_request_block(b"/run/a.sock");
    for i in 0..5 {
        block.extend(literal(
            format!("x-big-{i}").as_bytes(),
            &vec![b'v'; 9000],
            false,
        ));
    }
    // The client's own frames may be larger than the 16384 bytes the output keeps to.
    let input = connection(&[
        frame(HEADERS, END_STREAM, 1, &block[..30_000]),
        frame(CONTINUATION, END_HEADERS, 1, &block[30_000..]),
    ]);
    let frames = frames_of(&rewrite(&input));
    let kinds: Vec<(u8, u8)> = frames[1..].iter().map(|f| (f.kind, f.flags)).collect();
    assert_eq!(
        kinds,
        [
            (HEADERS, END_STREAM),
            (CONTINUATION, 0),
            (CONTINUATION, END_HEADERS)
        ]
    );
    assert_eq!(frames[1].payload.len(), 16_384);
    let blocks = blocks_of(&frames);
    assert_eq!(blocks[0].len(), 11);
    assert_eq!(value(&blocks[0], "x-big-4").map(<[u8]>::len), Some(9000));
}

#[test]
fn huffman_coded_values_decode_as_in_rfc_7541_appendix_c4() {
    // C.4.1: ":authority: www.example.com" Huffman-coded, with incremental indexing.
    let mut block = vec![0x82, 0x86, 0x84, 0x41, 0x8c];
    block.extend_from_slice(&[
        0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
    ]);
    let fields = Decoder::new(4096, 65536)
        .decode(&block)
        .expect("C.4.1 decodes");
    assert_eq!(value(&fields, ":authority"), Some(&b"www.example.com"[..]));
    // C.4.2: the same authority by its dynamic index (62), and cache-control: no-cache Huffman-coded.
    let mut decoder = Decoder::new(4096, 65536);
    decoder.decode(&block).expect("C.4.1 decodes");
    let second = [
        0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
    ];
    let fields = decoder.decode(&second).expect("C.4.2 decodes");
    assert_eq!(value(&fields, ":authority"), Some(&b"www.example.com"[..]));
    assert_eq!(value(&fields, "cache-control"), Some(&b"no-cache"[..]));
    // C.4.3: custom-key: custom-value, both Huffman-coded.
    let third = [
        0x82, 0x87, 0x85, 0xbf, 0x40, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f, 0x89,
        0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf,
    ];
    let fields = decoder.decode(&third).expect("C.4.3 decodes");
    assert_eq!(value(&fields, "custom-key"), Some(&b"custom-value"[..]));
    assert_eq!(value(&fields, ":path"), Some(&b"/index.html"[..]));
}

#[test]
fn huffman_padding_that_is_not_all_ones_or_longer_than_seven_bits_is_refused() {
    let mut out = Vec::new();
    // "a" is 00011 (5 bits): padded with 111 it is fine, with 000 or with a whole extra 0xff it is not.
    assert_eq!(huffman::decode(&[0b0001_1111], &mut out), Ok(()));
    assert_eq!(out, b"a");
    assert!(huffman::decode(&[0b0001_1000], &mut Vec::new()).is_err());
    assert!(huffman::decode(&[0b0001_1111, 0xff], &mut Vec::new()).is_err());
    // EOS (thirty 1 bits) inside a string.
    assert!(huffman::decode(&[0xff, 0xff, 0xff, 0xff], &mut Vec::new()).is_err());
}

#[test]
fn dynamic_table_references_across_requests_on_one_connection_are_resolved() {
    // The first request adds the path authority and a custom header to the client's table; the later ones
    // only point at them (index 62 is the newest entry).
    let first = grpc_request_block(b"/run/a.sock");
    // After it the table holds te (62), content-type (63), :authority (64), :path (65). The later path
    // is a literal that is not indexed, so the numbers stay.
    let path = b"/nsfleet.v1.NamespaceService/ListNamespaces";
    let mut later = vec![0x83, 0x86, 0x04, path.len() as u8];
    later.extend_from_slice(path);
    later.extend_from_slice(&[0xc0, 0xbf, 0xbe]);
    let input = connection(&[
        frame(HEADERS, END_HEADERS, 1, &first),
        frame(HEADERS, END_HEADERS, 3, &later),
        frame(HEADERS, END_HEADERS, 5, &later),
    ]);
    let blocks = blocks_of(&frames_of(&rewrite(&input)));
    assert_eq!(blocks.len(), 3);
    for fields in &blocks[1..] {
        assert_eq!(
            value(fields, ":path"),
            Some(&b"/nsfleet.v1.NamespaceService/ListNamespaces"[..])
        );
        assert_eq!(value(fields, ":authority"), Some(REPLACEMENT_AUTHORITY));
        assert_eq!(
            value(fields, "content-type"),
            Some(&b"application/grpc"[..])
        );
        assert_eq!(value(fields, "te"), Some(&b"trailers"[..]));
    }
}

#[test]
fn never_indexed_fields_stay_never_indexed() {
    let mut block = vec![0x83, 0x86, 0x84];
    block.push(0x10 | 0x0f); // never indexed, name index 23 (authorization) = 15 + 8
    block.extend_from_slice(&[8, 8]);
    block.extend_from_slice(b"Bearer x");
    let fields = Decoder::new(4096, 65536).decode(&block).expect("decodes");
    assert!(fields
        .iter()
        .any(|f| f.name == b"authorization" && f.never_indexed && f.value == b"Bearer x"));
    let mut encoded = Vec::new();
    encode_stateless(&fields, &mut encoded);
    assert_eq!(Decoder::new(0, 65536).decode(&encoded), Ok(fields));
}

#[test]
fn an_undecodable_block_and_everything_after_it_pass_as_they_came() {
    // Index 70 names a dynamic entry the client never made.
    let bad = frame(HEADERS, END_HEADERS, 3, &[0x82, 0xc6]);
    let good = frame(HEADERS, END_HEADERS, 5, &grpc_request_block(b"/run/a.sock"));
    let input = connection(&[
        frame(HEADERS, END_HEADERS, 1, &grpc_request_block(b"/run/a.sock")),
        bad.clone(),
        good.clone(),
    ]);
    let out = rewrite(&input);
    let mut tail = bad;
    tail.extend(good);
    assert!(
        out.ends_with(&tail),
        "the bad block and what follows are forwarded verbatim"
    );
}

#[test]
fn a_frame_other_than_continuation_inside_a_block_gives_up_verbatim() {
    let block = grpc_request_block(b"/run/a.sock");
    let headers = frame(HEADERS, 0, 1, &block);
    let data = frame(DATA, 0, 1, b"abc");
    let input = connection(&[headers.clone(), data.clone()]);
    let out = rewrite(&input);
    let mut tail = headers;
    tail.extend(data);
    assert!(out.ends_with(&tail));
}

#[test]
fn a_table_size_update_is_honoured_within_the_allowed_size_and_refused_beyond_it() {
    let mut decoder = Decoder::new(4096, 65536);
    // Size 0 empties the table; the entry added after it does not fit and is not kept.
    let mut block = vec![0x20];
    block.extend(literal(b"x-a", b"1", true));
    decoder.decode(&block).expect("decodes");
    assert_eq!(decoder.decode(&[0xbe]), Err(HpackError::BadIndex(62)));
    let mut too_big = Vec::new();
    encode_integer_for_tests(&mut too_big, 0x20, 5, 5000);
    assert!(matches!(
        Decoder::new(4096, 65536).decode(&too_big),
        Err(HpackError::TableTooLarge { .. })
    ));
}

#[test]
fn indexes_that_expand_past_the_list_ceiling_are_refused() {
    let mut decoder = Decoder::new(4096, 64 * 1024);
    decoder
        .decode(&literal(b"x-big", &[b'a'; 4000], true))
        .expect("decodes");
    // Each one-byte reference expands to 4 KB: 20 of them pass the ceiling.
    assert!(matches!(
        decoder.decode(&[0xbe; 20]),
        Err(HpackError::ListTooLarge(_))
    ));
}

fn chunked(input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut rewriter = Rewriter::new();
    let mut out = Vec::new();
    let mut rest = input;
    for &cut in cuts {
        let n = cut.min(rest.len());
        rewriter.feed(&rest[..n]);
        rest = &rest[n..];
        // As the socket wrapper does: sometimes forward bytes unread.
        let budget = rewriter.forward_budget().min(rest.len());
        if budget > 0 && cut % 2 == 0 {
            out.extend_from_slice(rewriter.pending());
            let pending = rewriter.pending().len();
            rewriter.consume(pending);
            out.extend_from_slice(&rest[..budget]);
            rewriter.forwarded(budget);
            rest = &rest[budget..];
        }
    }
    rewriter.feed(rest);
    out.extend_from_slice(rewriter.pending());
    out
}

proptest! {
    #[test]
    fn how_the_bytes_are_cut_changes_nothing(cuts in proptest::collection::vec(1usize..40, 0..60)) {
        let mut block = grpc_request_block(b"/run/a.sock");
        block.extend(literal(b"x-long", &[b'q'; 300], false));
        let input = connection(&[
            frame(HEADERS, 0, 1, &block[..50]),
            frame(CONTINUATION, END_HEADERS, 1, &block[50..]),
            frame(DATA, END_STREAM, 1, &[7; 100]),
            frame(HEADERS, END_HEADERS | END_STREAM, 3, &grpc_request_block(b"ok.example")),
        ]);
        prop_assert_eq!(chunked(&input, &cuts), rewrite(&input));
    }

    #[test]
    fn arbitrary_header_blocks_never_panic_the_decoder(block in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut decoder = Decoder::new(4096, 16 * 1024);
        let _ = decoder.decode(&block);
        let _ = huffman::decode(&block, &mut Vec::new());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_rewriter(
        frames in proptest::collection::vec(
            (prop_oneof![Just(HEADERS), Just(CONTINUATION), Just(DATA), any::<u8>()], any::<u8>(), 0u32..4,
             proptest::collection::vec(any::<u8>(), 0..200)),
            0..12),
        noise in proptest::collection::vec(any::<u8>(), 0..64),
        cuts in proptest::collection::vec(1usize..64, 0..20),
    ) {
        let built: Vec<Vec<u8>> = frames.iter().map(|(kind, flags, id, payload)| frame(*kind, *flags, *id, payload)).collect();
        let mut input = connection(&built);
        input.extend(noise);
        let out = chunked(&input, &cuts);
        prop_assert_eq!(&out[..24], &PREFACE[..]);
    }

    #[test]
    fn valid_blocks_survive_a_round_trip(fields in proptest::collection::vec(
        ("[a-z-]{1,12}", proptest::collection::vec(any::<u8>(), 0..40), any::<bool>()), 0..12)
    ) {
        let fields: Vec<Field> = fields.into_iter().map(|(name, value, never_indexed)| Field {
            name: name.into_bytes(), value, never_indexed,
        }).collect();
        let mut encoded = Vec::new();
        encode_stateless(&fields, &mut encoded);
        prop_assert_eq!(Decoder::new(0, usize::MAX).decode(&encoded), Ok(fields));
    }
}

/// What the socket wrapper hands the server when the client writes `input` in pieces of `writes` bytes
/// and the server reads with buffers of `reads` bytes.
fn through_the_stream(input: &[u8], writes: &[usize], reads: &[usize]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut stream = super::AuthorityFixingStream::new(server);
        let input = input.to_vec();
        let writes = writes.to_vec();
        let writer = async move {
            let mut rest = input.as_slice();
            for &n in writes.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at(n.min(rest.len()));
                client.write_all(now).await.expect("write");
                rest = later;
            }
            client.shutdown().await.expect("shutdown");
        };
        let reader = async {
            let mut out = Vec::new();
            for &n in reads.iter().cycle() {
                let mut buf = vec![0u8; n];
                let got = stream.read(&mut buf).await.expect("read");
                if got == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..got]);
            }
            out
        };
        let ((), out) = tokio::join!(writer, reader);
        out
    })
}

proptest! {
    #[test]
    fn the_socket_wrapper_hands_on_exactly_what_the_rewriter_makes(
        frames in proptest::collection::vec(
            (prop_oneof![Just(HEADERS), Just(CONTINUATION), Just(DATA), any::<u8>()], any::<u8>(), 0u32..4,
             proptest::collection::vec(any::<u8>(), 0..300)),
            0..10),
        with_request in any::<bool>(),
        writes in proptest::collection::vec(1usize..5000, 1..8),
        reads in proptest::collection::vec(1usize..5000, 1..8),
    ) {
        let mut built: Vec<Vec<u8>> = Vec::new();
        if with_request {
            built.push(frame(HEADERS, END_HEADERS, 1, &grpc_request_block(b"/run/a.sock")));
            built.push(frame(DATA, END_STREAM, 1, &[9; 3000]));
        }
        built.extend(frames.iter().map(|(kind, flags, id, payload)| frame(*kind, *flags, *id, payload)));
        let input = connection(&built);
        prop_assert_eq!(through_the_stream(&input, &writes, &reads), rewrite(&input));
    }
}
