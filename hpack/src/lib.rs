//! Just enough HPACK (RFC 7541) for nsfleet's two ends of a unix socket: a decoder that keeps the
//! peer's dynamic table, and a stateless encoder that never uses one; and, in [`frame`], the pieces of
//! HTTP/2's framing that both ends write themselves.
//!
//! - The agent reads the header blocks of any gRPC client with it, to rewrite an unusable `:authority`
//!   (`agent/src/server/unix_authority/`).
//! - The CLI writes its requests and reads the agent's answers with it when one host is called over a
//!   unix socket (`client/src/socket_call/`).
//!
//! Everything here reads bytes a peer chose, so nothing may panic or grow without bound: integers are
//! checked, strings are bounds-checked before they are sliced, the dynamic table and the decoded header
//! list have ceilings.

pub mod frame;
pub mod huffman;

use std::collections::VecDeque;

use huffman::HuffmanError;

/// RFC 7541 Appendix A. Index 1 is the first entry.
const STATIC_TABLE: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// What RFC 7541 counts per table entry on top of its name and value.
const ENTRY_OVERHEAD: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HpackError {
    #[error("the header block ends inside a field")]
    Truncated,
    #[error("an integer is longer than any header block needs")]
    IntegerTooLarge,
    #[error("index {0} is in neither the static nor the dynamic table")]
    BadIndex(usize),
    #[error("dynamic table size {requested} exceeds the {allowed} bytes allowed")]
    TableTooLarge { requested: usize, allowed: usize },
    #[error("a dynamic table size update after a header field")]
    LateSizeUpdate,
    #[error("the decoded header list exceeds {0} bytes")]
    ListTooLarge(usize),
    #[error("Huffman: {0}")]
    Huffman(#[from] HuffmanError),
}

/// One decoded header field. `never_indexed` is the sender's request that intermediaries keep the field
/// out of compression tables (credentials): it is honoured when the field is written again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
    pub never_indexed: bool,
}

impl Field {
    fn size(&self) -> usize {
        self.name.len() + self.value.len() + ENTRY_OVERHEAD
    }
}

/// The decoding side of one connection's HPACK context.
pub struct Decoder {
    /// Newest entry first, as HPACK numbers them.
    table: VecDeque<(Vec<u8>, Vec<u8>)>,
    table_size: usize,
    /// The size the peer last set with a size update.
    max_table_size: usize,
    /// The most the peer may set.
    allowed_table_size: usize,
    /// The most a decoded header list may hold (RFC 7540 counts name + value + 32 per field).
    max_list_size: usize,
}

impl Decoder {
    /// The table starts at HTTP/2's default size (4096), which a size update may raise up to
    /// `allowed_table_size`.
    pub fn new(allowed_table_size: usize, max_list_size: usize) -> Self {
        Self {
            table: VecDeque::new(),
            table_size: 0,
            max_table_size: 4096.min(allowed_table_size),
            allowed_table_size,
            max_list_size,
        }
    }

    /// Decodes one complete header block. After an error the decoder's state is undefined: a caller
    /// must not decode with it again.
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, HpackError> {
        let mut fields = Vec::new();
        let mut list_size = 0usize;
        let mut rest = block;
        while let Some(&first) = rest.first() {
            if first & 0b1110_0000 == 0b0010_0000 {
                if !fields.is_empty() {
                    return Err(HpackError::LateSizeUpdate);
                }
                let size = integer(&mut rest, 5)?;
                if size > self.allowed_table_size {
                    return Err(HpackError::TableTooLarge {
                        requested: size,
                        allowed: self.allowed_table_size,
                    });
                }
                self.max_table_size = size;
                self.evict_to(size);
                continue;
            }
            let field = if first & 0x80 != 0 {
                let index = integer(&mut rest, 7)?;
                let (name, value) = self.entry(index)?;
                Field {
                    name,
                    value,
                    never_indexed: false,
                }
            } else {
                // 01: add to the table; 0000: do not; 0001: do not, and nobody downstream may either.
                let (prefix, add, never_indexed) = match first & 0xf0 {
                    0x00 => (4, false, false),
                    0x10 => (4, false, true),
                    _ => (6, true, false),
                };
                let index = integer(&mut rest, prefix)?;
                let name = if index == 0 {
                    string(&mut rest)?
                } else {
                    self.entry(index)?.0
                };
                let value = string(&mut rest)?;
                let field = Field {
                    name,
                    value,
                    never_indexed,
                };
                if add {
                    self.insert(field.name.clone(), field.value.clone());
                }
                field
            };
            list_size = list_size.saturating_add(field.size());
            if list_size > self.max_list_size {
                return Err(HpackError::ListTooLarge(self.max_list_size));
            }
            fields.push(field);
        }
        Ok(fields)
    }

    fn entry(&self, index: usize) -> Result<(Vec<u8>, Vec<u8>), HpackError> {
        if let Some(&(name, value)) = index.checked_sub(1).and_then(|i| STATIC_TABLE.get(i)) {
            return Ok((name.as_bytes().to_vec(), value.as_bytes().to_vec()));
        }
        index
            .checked_sub(STATIC_TABLE.len() + 1)
            .and_then(|i| self.table.get(i))
            .cloned()
            .ok_or(HpackError::BadIndex(index))
    }

    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.max_table_size {
            // RFC 7541 4.4: an entry larger than the table empties it and is not added.
            self.evict_to(0);
            return;
        }
        self.evict_to(self.max_table_size - size);
        self.table.push_front((name, value));
        self.table_size += size;
    }

    fn evict_to(&mut self, size: usize) {
        while self.table_size > size {
            match self.table.pop_back() {
                Some((name, value)) => self.table_size -= name.len() + value.len() + ENTRY_OVERHEAD,
                None => self.table_size = 0,
            }
        }
    }
}

/// Reads an integer with an `prefix_bits`-bit prefix (RFC 7541 5.1) from the front of `rest`.
fn integer(rest: &mut &[u8], prefix_bits: u32) -> Result<usize, HpackError> {
    let (&first, mut tail) = rest.split_first().ok_or(HpackError::Truncated)?;
    let max_prefix = (1usize << prefix_bits) - 1;
    let mut value = usize::from(first) & max_prefix;
    if value == max_prefix {
        let mut shift = 0u32;
        loop {
            let (&byte, after) = tail.split_first().ok_or(HpackError::Truncated)?;
            tail = after;
            // Nothing in a header block needs more than 28 bits; longer encodings are refused rather
            // than risk overflow.
            if shift > 21 {
                return Err(HpackError::IntegerTooLarge);
            }
            value += usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
    }
    *rest = tail;
    Ok(value)
}

/// Reads a string literal (RFC 7541 5.2), Huffman-coded or not, from the front of `rest`.
fn string(rest: &mut &[u8]) -> Result<Vec<u8>, HpackError> {
    let huffman_coded = rest.first().is_some_and(|&b| b & 0x80 != 0);
    let length = integer(rest, 7)?;
    if length > rest.len() {
        return Err(HpackError::Truncated);
    }
    let (raw, tail) = rest.split_at(length);
    *rest = tail;
    if huffman_coded {
        let mut decoded = Vec::with_capacity(length + length / 2);
        huffman::decode(raw, &mut decoded)?;
        Ok(decoded)
    } else {
        Ok(raw.to_vec())
    }
}

/// Writes `fields` as one header block that depends on no dynamic table: fully matching static entries
/// as indexes, everything else as literals that are not indexed (never-indexed stays never-indexed),
/// with a static name index where there is one. Strings are written without Huffman coding.
pub fn encode_stateless(fields: &[Field], out: &mut Vec<u8>) {
    for field in fields {
        let exact = STATIC_TABLE
            .iter()
            .position(|&(n, v)| n.as_bytes() == field.name && v.as_bytes() == field.value);
        match exact {
            Some(i) if !field.never_indexed => write_integer(out, 0x80, 7, i + 1),
            _ => {
                let flag = if field.never_indexed { 0x10 } else { 0x00 };
                match STATIC_TABLE
                    .iter()
                    .position(|&(n, _)| n.as_bytes() == field.name)
                {
                    Some(i) => write_integer(out, flag, 4, i + 1),
                    None => {
                        out.push(flag);
                        write_string(out, &field.name);
                    }
                }
                write_string(out, &field.value);
            }
        }
    }
}

fn write_string(out: &mut Vec<u8>, bytes: &[u8]) {
    write_integer(out, 0x00, 7, bytes.len());
    out.extend_from_slice(bytes);
}

fn write_integer(out: &mut Vec<u8>, flags: u8, prefix_bits: u32, value: usize) {
    let max_prefix = (1usize << prefix_bits) - 1;
    if value < max_prefix {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        out.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Writes an integer with a `prefix_bits`-bit prefix (RFC 7541 5.1) whose high bits are `flags`: what a
/// test needs to write header blocks no encoder here would.
#[doc(hidden)]
pub fn encode_integer(out: &mut Vec<u8>, flags: u8, prefix_bits: u32, value: usize) {
    write_integer(out, flags, prefix_bits, value);
}
