//! A small HTTP/2 client over cleartext TCP with prior knowledge (h2c, RFC 9113 3.3): one request
//! per connection, headers sent exactly as given.
//!
//! Written here rather than taken from a crate because the end-to-end suites need what a
//! conforming client refuses to send: any bytes in `:authority`, a `host` header that disagrees
//! with it, or no `:authority` at all. Header blocks go out as HPACK literals without indexing
//! and without Huffman coding (every byte as given); responses are decoded in full (static and
//! dynamic tables, Huffman strings), as Envoy encodes them.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::{HttpRequest, HttpResponse};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// The largest frame payload every peer accepts (SETTINGS_MAX_FRAME_SIZE's initial value).
const MAX_FRAME: usize = 16_384;
/// The stream's initial send window: a body this size or larger would wait for WINDOW_UPDATE,
/// which this client does not handle.
const INITIAL_WINDOW: usize = 65_535;

/// What the peer did instead of answering.
pub fn is_stream_reset(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::ConnectionReset && err.to_string().starts_with("HTTP/2 ")
}

/// One request on a fresh h2c connection. `:method`, `:scheme` (`http`), `:path` and
/// `:authority` (`req.host`, unless `req.omit_authority`) come first, then `req.headers` with
/// their names lowercased (HTTP/2 forbids uppercase names; every client lowercases them), then
/// `content-length` when there is a body and `req.chunked` is not set.
///
/// A stream reset (RST_STREAM) or a GOAWAY before the response is an `Err` of kind
/// `ConnectionReset` whose message starts with `HTTP/2 ` ([`is_stream_reset`]).
pub fn send(port: u16, req: &HttpRequest<'_>) -> io::Result<HttpResponse> {
    let body = req.body.as_deref().unwrap_or_default();
    if body.len() >= INITIAL_WINDOW {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "HTTP/2 bodies are limited to the initial flow-control window",
        ));
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.set_nodelay(true)?;

    let mut fields: Vec<(String, Vec<u8>)> = vec![
        (":method".into(), req.method.as_bytes().to_vec()),
        (":scheme".into(), b"http".to_vec()),
        (":path".into(), req.path.as_bytes().to_vec()),
    ];
    if !req.omit_authority {
        fields.push((":authority".into(), req.host.as_bytes().to_vec()));
    }
    for (name, value) in &req.headers {
        fields.push((name.to_ascii_lowercase(), value.as_bytes().to_vec()));
    }
    if req.body.is_some() && !req.chunked {
        fields.push(("content-length".into(), body.len().to_string().into_bytes()));
    }
    let mut block = Vec::new();
    for (name, value) in &fields {
        encode_literal(&mut block, name.as_bytes(), value);
    }

    let mut out = PREFACE.to_vec();
    frame(&mut out, SETTINGS, 0, 0, &[]);
    let mut chunks = block.chunks(MAX_FRAME).peekable();
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let mut flags = if last { END_HEADERS } else { 0 };
        if first && req.body.is_none() {
            flags |= END_STREAM;
        }
        frame(
            &mut out,
            if first { HEADERS } else { CONTINUATION },
            flags,
            1,
            chunk,
        );
        first = false;
    }
    if req.body.is_some() {
        let mut parts = body.chunks(MAX_FRAME).peekable();
        if parts.peek().is_none() {
            frame(&mut out, DATA, END_STREAM, 1, &[]);
        }
        while let Some(part) = parts.next() {
            let flags = if parts.peek().is_none() {
                END_STREAM
            } else {
                0
            };
            frame(&mut out, DATA, flags, 1, part);
        }
    }
    // A reply may come (and the connection close) before the whole request was written: keep
    // reading whatever came.
    let written = stream.write_all(&out);

    let mut reader = FrameReader::new(stream);
    let mut decoder = Decoder::default();
    let mut block = Vec::new();
    let mut headers: Option<Vec<(String, String)>> = None;
    let mut body = Vec::new();
    loop {
        let (kind, flags, id, payload) = match reader.next() {
            Ok(f) => f,
            Err(e) if headers.is_none() => return Err(written.err().unwrap_or(e)),
            Err(e) => return Err(e),
        };
        match kind {
            SETTINGS if flags & ACK == 0 => {
                let mut ack = Vec::new();
                frame(&mut ack, SETTINGS, ACK, 0, &[]);
                let _ = reader.stream.write_all(&ack);
            }
            PING if flags & ACK == 0 => {
                let mut pong = Vec::new();
                frame(&mut pong, PING, ACK, 0, &payload);
                let _ = reader.stream.write_all(&pong);
            }
            GOAWAY => {
                let code = payload.get(4..8).map_or(0, be32);
                let last = payload.get(..4).map_or(0, be32) & 0x7fff_ffff;
                // A graceful GOAWAY that still covers this stream: the answer follows.
                if code != 0 || last < 1 {
                    return Err(reset(format!("HTTP/2 GOAWAY {}", error_name(code))));
                }
            }
            RST_STREAM if id == 1 => {
                let code = payload.get(..4).map_or(0, be32);
                return Err(reset(format!("HTTP/2 RST_STREAM {}", error_name(code))));
            }
            HEADERS | CONTINUATION if id == 1 => {
                let fragment = if kind == HEADERS {
                    header_fragment(flags, &payload)?
                } else {
                    &payload
                };
                block.extend_from_slice(fragment);
                if flags & END_HEADERS != 0 {
                    let fields = decoder.decode(&block)?;
                    block.clear();
                    // Informational (1xx) heads and trailers: only the first final head counts.
                    let status = fields.iter().find(|(n, _)| n == ":status");
                    let informational = status.is_some_and(|(_, v)| v.starts_with('1'));
                    if headers.is_none() && !informational {
                        headers = Some(fields);
                    }
                }
                if flags & END_STREAM != 0 && headers.is_some() {
                    break;
                }
            }
            DATA if id == 1 => {
                body.extend_from_slice(data_payload(flags, &payload)?);
                if flags & END_STREAM != 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    let fields = headers.unwrap_or_default();
    let status = fields
        .iter()
        .find(|(n, _)| n == ":status")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| invalid("a response without :status"))?;
    Ok(HttpResponse {
        status,
        headers: fields
            .into_iter()
            .filter(|(n, _)| !n.starts_with(':'))
            .collect(),
        body,
    })
}

fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// HPACK "literal header field without indexing, new name" (RFC 7541 6.2.2), both strings raw.
fn encode_literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x00);
    encode_int(out, 0x00, 7, name.len());
    out.extend_from_slice(name);
    encode_int(out, 0x00, 7, value.len());
    out.extend_from_slice(value);
}

fn encode_int(out: &mut Vec<u8>, high: u8, prefix: u32, mut n: usize) {
    let max = (1usize << prefix) - 1;
    if n < max {
        out.push(high | n as u8);
        return;
    }
    out.push(high | max as u8);
    n -= max;
    while n >= 128 {
        out.push((n % 128) as u8 | 0x80);
        n /= 128;
    }
    out.push(n as u8);
}

fn be32(b: &[u8]) -> u32 {
    b.iter().fold(0, |acc, &x| (acc << 8) | u32::from(x))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn reset(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, what)
}

fn error_name(code: u32) -> String {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("0x{code:x}"), |n| (*n).to_owned())
}

/// The header block fragment of a HEADERS payload: without padding and priority fields.
fn header_fragment(flags: u8, payload: &[u8]) -> io::Result<&[u8]> {
    let (mut start, mut pad) = (0, 0);
    if flags & PADDED != 0 {
        pad = usize::from(*payload.first().ok_or_else(|| invalid("empty HEADERS"))?);
        start = 1;
    }
    if flags & PRIORITY != 0 {
        start += 5;
    }
    payload
        .get(start..payload.len().saturating_sub(pad))
        .ok_or_else(|| invalid("bad HEADERS padding"))
}

fn data_payload(flags: u8, payload: &[u8]) -> io::Result<&[u8]> {
    if flags & PADDED == 0 {
        return Ok(payload);
    }
    let pad = usize::from(*payload.first().ok_or_else(|| invalid("empty DATA"))?);
    payload
        .get(1..payload.len().saturating_sub(pad))
        .ok_or_else(|| invalid("bad DATA padding"))
}

struct FrameReader {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl FrameReader {
    fn new(stream: TcpStream) -> FrameReader {
        FrameReader {
            stream,
            buf: Vec::new(),
        }
    }

    /// The next frame: (type, flags, stream id, payload).
    fn next(&mut self) -> io::Result<(u8, u8, u32, Vec<u8>)> {
        self.fill(9)?;
        let head: [u8; 9] = self
            .buf
            .get(..9)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| invalid("short frame header"))?;
        let len = be32(&head[..3]) as usize;
        self.fill(9 + len)?;
        let payload = self.buf.get(9..9 + len).unwrap_or_default().to_vec();
        self.buf.drain(..9 + len);
        Ok((head[3], head[4], be32(&head[5..9]) & 0x7fff_ffff, payload))
    }

    fn fill(&mut self, n: usize) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        while self.buf.len() < n {
            match self.stream.read(&mut chunk)? {
                // A peer that closes without a GOAWAY refused the connection as a whole.
                0 => return Err(reset("HTTP/2 connection closed".to_owned())),
                read => self
                    .buf
                    .extend_from_slice(chunk.get(..read).unwrap_or_default()),
            }
        }
        Ok(())
    }
}

/// An HPACK decoder (RFC 7541): static table, dynamic table, Huffman-coded strings.
#[derive(Debug, Default)]
struct Decoder {
    /// Newest first.
    dynamic: Vec<(String, String)>,
}

impl Decoder {
    fn decode(&mut self, mut block: &[u8]) -> io::Result<Vec<(String, String)>> {
        let mut fields = Vec::new();
        while let Some(&first) = block.first() {
            if first & 0x80 != 0 {
                let index = decode_int(&mut block, 7)?;
                fields.push(self.entry(index)?);
            } else if first & 0x40 != 0 {
                let field = self.literal(&mut block, 6)?;
                self.dynamic.insert(0, field.clone());
                fields.push(field);
            } else if first & 0x20 != 0 {
                // Dynamic table size update. Entries are never evicted here: an index counts from
                // the newest entry, and the peer never refers to one it has evicted.
                decode_int(&mut block, 5)?;
            } else {
                fields.push(self.literal(&mut block, 4)?);
            }
        }
        Ok(fields)
    }

    fn literal(&self, block: &mut &[u8], prefix: u32) -> io::Result<(String, String)> {
        let index = decode_int(block, prefix)?;
        let name = if index == 0 {
            decode_string(block)?
        } else {
            self.entry(index)?.0
        };
        Ok((name, decode_string(block)?))
    }

    fn entry(&self, index: usize) -> io::Result<(String, String)> {
        let static_len = STATIC_TABLE.len();
        match index {
            0 => Err(invalid("HPACK index 0")),
            i if i <= static_len => STATIC_TABLE
                .get(i - 1)
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .ok_or_else(|| invalid("HPACK static index")),
            i => self
                .dynamic
                .get(i - static_len - 1)
                .cloned()
                .ok_or_else(|| invalid("HPACK dynamic index out of range")),
        }
    }
}

fn decode_int(block: &mut &[u8], prefix: u32) -> io::Result<usize> {
    let (&first, rest) = block.split_first().ok_or_else(|| invalid("short HPACK"))?;
    *block = rest;
    let max = (1usize << prefix) - 1;
    let mut n = usize::from(first) & max;
    if n < max {
        return Ok(n);
    }
    let mut shift = 0;
    loop {
        let (&b, rest) = block
            .split_first()
            .ok_or_else(|| invalid("short HPACK integer"))?;
        *block = rest;
        n += usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok(n);
        }
        if shift > 28 {
            return Err(invalid("HPACK integer too large"));
        }
    }
}

fn decode_string(block: &mut &[u8]) -> io::Result<String> {
    let huffman = block.first().is_some_and(|b| b & 0x80 != 0);
    let len = decode_int(block, 7)?;
    let (raw, rest) = block
        .split_at_checked(len)
        .ok_or_else(|| invalid("short HPACK string"))?;
    *block = rest;
    let bytes = if huffman {
        huffman_decode(raw)?
    } else {
        raw.to_vec()
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// RFC 7541 Appendix B. The code is canonical (codes of one length are consecutive, in symbol
/// order, and each length's first code follows the previous length's last), so the lengths
/// alone define it; symbol 256 (EOS) is the one 30-bit code after these.
const HUFFMAN_LENGTHS: [u8; 256] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, //
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, //
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, //
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, //
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, //
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, //
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, //
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, //
];

/// Canonical Huffman decoding: per code length, the first code and where its symbols start in
/// the symbols sorted by (length, value).
#[expect(
    clippy::indexing_slicing,
    reason = "lengths are 1..=30 (arrays of 31), symbol offsets stay below 256"
)]
fn huffman_decode(input: &[u8]) -> io::Result<Vec<u8>> {
    let mut sorted: Vec<u8> = (0..=255u8).collect();
    sorted.sort_by_key(|&s| (HUFFMAN_LENGTHS[usize::from(s)], s));
    let mut count = [0usize; 31];
    for &len in &HUFFMAN_LENGTHS {
        count[usize::from(len)] += 1;
    }
    let (mut first, mut offset) = ([0u32; 31], [0usize; 31]);
    let (mut code, mut index) = (0u32, 0usize);
    for len in 1..31 {
        first[len] = code;
        offset[len] = index;
        code = (code + count[len] as u32) << 1;
        index += count[len];
    }
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0usize);
    for &byte in input {
        for shift in (0..8).rev() {
            acc = (acc << 1) | u32::from((byte >> shift) & 1);
            bits += 1;
            let within = acc.wrapping_sub(first[bits]) as usize;
            if count[bits] > 0 && acc >= first[bits] && within < count[bits] {
                out.push(sorted[offset[bits] + within]);
                acc = 0;
                bits = 0;
            } else if bits >= 30 {
                return Err(invalid("bad Huffman code (or EOS)"));
            }
        }
    }
    // Padding: fewer than 8 bits, all ones (a prefix of EOS).
    if bits >= 8 || acc != (1u32 << bits) - 1 {
        return Err(invalid("bad Huffman padding"));
    }
    Ok(out)
}

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
