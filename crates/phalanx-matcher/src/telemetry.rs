//! Telemetry decoding: a line of Zeek JSON, a Zeek log in its tab-separated
//! form, Suricata EVE JSON, JSON with a field map, or plain text, to the
//! typed values the matcher looks up.
//!
//! JSON lines are read by a small scanner that walks the text once and hands
//! on only the members the field map names (nested objects are flattened
//! with `.`, array elements keep the array's name), so the common case costs
//! one pass and no allocation.

use std::borrow::Cow;
use std::collections::HashMap;

/// What kind of value a telemetry field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An IPv4 or IPv6 address.
    Ip,
    /// A domain name.
    Domain,
    /// A domain name or an IP address (DNS answers): decided per value.
    DomainOrIp,
    /// An absolute URL.
    Url,
    /// An e-mail address.
    Email,
    /// A file's MD5 (hex).
    Md5,
    /// A file's SHA-1 (hex).
    Sha1,
    /// A file's SHA-256 (hex).
    Sha256,
    /// A file's SSDEEP fuzzy hash (exact text).
    Ssdeep,
    /// An X.509 certificate's SHA-1 fingerprint (hex).
    X509Sha1,
    /// An X.509 certificate's SHA-256 fingerprint (hex).
    X509Sha256,
    /// A source port (a JSON number).
    SrcPort,
    /// A destination port (a JSON number).
    DstPort,
    /// The transport protocol (`tcp`, `udp`, ...).
    Protocol,
    /// The event time: RFC 3339 text or seconds since the epoch.
    Time,
}

impl Kind {
    /// The name used in `--field NAME=KIND`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ip => "ip",
            Kind::Domain => "domain",
            Kind::DomainOrIp => "domain-or-ip",
            Kind::Url => "url",
            Kind::Email => "email",
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::Ssdeep => "ssdeep",
            Kind::X509Sha1 => "x509-sha1",
            Kind::X509Sha256 => "x509-sha256",
            Kind::SrcPort => "src-port",
            Kind::DstPort => "dst-port",
            Kind::Protocol => "protocol",
            Kind::Time => "time",
        }
    }

    /// Every kind, for help texts and parsing.
    pub const ALL: [Kind; 15] = [
        Kind::Ip,
        Kind::Domain,
        Kind::DomainOrIp,
        Kind::Url,
        Kind::Email,
        Kind::Md5,
        Kind::Sha1,
        Kind::Sha256,
        Kind::Ssdeep,
        Kind::X509Sha1,
        Kind::X509Sha256,
        Kind::SrcPort,
        Kind::DstPort,
        Kind::Protocol,
        Kind::Time,
    ];

    /// The kind called `name` (see [`Kind::name`]).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The input format of telemetry lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Zeek logs and Suricata EVE JSON alike (their field names do not
    /// collide), plus any `--field` entries.
    Auto,
    /// Zeek logs (conn, dns, http, ssl, files, x509, smtp, notice): JSON, or
    /// the default tab-separated form when an input starts with its
    /// `#separator` line ([`ZeekTsvHeader`]).
    Zeek,
    /// Suricata EVE JSON.
    Eve,
    /// JSON lines read only through the given field map.
    Jsonl,
    /// Plain text: IP addresses, domain names, URLs, e-mail addresses and
    /// hex hashes are found by their shape.
    Text,
}

/// Which JSON member holds what kind of value.
#[derive(Debug, Clone)]
pub struct FieldMap {
    fields: HashMap<Box<[u8]>, (Kind, u16), foldhash::fast::FixedState>,
    names: Vec<Box<str>>,
    /// The entries of `fields` chained by [`signature`], for [`FieldMap::get`]:
    /// name, kind, field number and 1 + the index of the next entry of the
    /// same signature (0: none). Most members of an event are not in the
    /// map, and are told apart without hashing; the others by one compare.
    entries: Vec<(Box<[u8]>, Kind, u16, u32)>,
    /// Per signature, 1 + the index of its first entry (0: none).
    heads: [u32; 256],
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap { fields: HashMap::default(), names: vec!["text".into()], entries: Vec::new(), heads: [0; 256] }
    }
}

/// Length, first and last byte of a member name, mixed into 0..256.
fn signature(name: &[u8]) -> usize {
    let (first, last) = (name.first().copied().unwrap_or(0), name.last().copied().unwrap_or(0));
    usize::from((name.len() as u8).wrapping_mul(31) ^ first.wrapping_mul(7) ^ last)
}

/// The field number of values found in plain text (named `text`).
pub const TEXT_FIELD: u16 = 0;

const ZEEK_FIELDS: &[(&str, Kind)] = &[
    ("ts", Kind::Time),
    ("id.orig_h", Kind::Ip),
    ("id.resp_h", Kind::Ip),
    ("id.orig_p", Kind::SrcPort),
    ("id.resp_p", Kind::DstPort),
    ("proto", Kind::Protocol),
    ("query", Kind::Domain),
    ("answers", Kind::DomainOrIp),
    ("host", Kind::Domain),
    ("referrer", Kind::Url),
    ("server_name", Kind::Domain),
    ("cert_chain_fps", Kind::X509Sha256),
    ("client_cert_chain_fps", Kind::X509Sha256),
    ("fingerprint", Kind::X509Sha256),
    ("san.dns", Kind::Domain),
    ("san.email", Kind::Email),
    ("san.ip", Kind::Ip),
    ("md5", Kind::Md5),
    ("sha1", Kind::Sha1),
    ("sha256", Kind::Sha256),
    ("tx_hosts", Kind::Ip),
    ("rx_hosts", Kind::Ip),
    ("mailfrom", Kind::Email),
    ("rcptto", Kind::Email),
    ("src", Kind::Ip),
    ("dst", Kind::Ip),
];

const EVE_FIELDS: &[(&str, Kind)] = &[
    ("timestamp", Kind::Time),
    ("src_ip", Kind::Ip),
    ("dest_ip", Kind::Ip),
    ("src_port", Kind::SrcPort),
    ("dest_port", Kind::DstPort),
    ("proto", Kind::Protocol),
    ("dns.rrname", Kind::Domain),
    ("dns.rdata", Kind::DomainOrIp),
    ("dns.query.rrname", Kind::Domain),
    ("dns.answers.rrname", Kind::Domain),
    ("dns.answers.rdata", Kind::DomainOrIp),
    ("dns.queries.rrname", Kind::Domain),
    ("http.hostname", Kind::Domain),
    ("tls.sni", Kind::Domain),
    ("tls.fingerprint", Kind::X509Sha1),
    ("fileinfo.md5", Kind::Md5),
    ("fileinfo.sha1", Kind::Sha1),
    ("fileinfo.sha256", Kind::Sha256),
    ("smtp.mail_from", Kind::Email),
    ("smtp.rcpt_to", Kind::Email),
    ("email.from", Kind::Email),
    ("email.to", Kind::Email),
];

impl FieldMap {
    /// The built-in map of a format, before `--field` additions.
    pub fn for_format(format: Format) -> FieldMap {
        let mut map = FieldMap::default();
        let tables: &[&[(&str, Kind)]] = match format {
            Format::Auto => &[ZEEK_FIELDS, EVE_FIELDS],
            Format::Zeek => &[ZEEK_FIELDS],
            Format::Eve => &[EVE_FIELDS],
            Format::Jsonl | Format::Text => &[],
        };
        for table in tables {
            for (name, kind) in *table {
                map.insert(name, *kind);
            }
        }
        map
    }

    /// Maps the (flattened, `.`-joined) member `name` to `kind`.
    pub fn insert(&mut self, name: &str, kind: Kind) {
        if let Some(entry) = self.fields.get_mut(name.as_bytes()) {
            entry.0 = kind;
            return self.chain();
        }
        let id = u16::try_from(self.names.len()).unwrap_or(u16::MAX);
        self.names.push(name.into());
        self.fields.insert(name.as_bytes().into(), (kind, id));
        self.chain();
    }

    /// Rebuilds `entries` and `heads` from `fields`.
    fn chain(&mut self) {
        self.entries.clear();
        self.heads = [0; 256];
        for (name, &(kind, id)) in &self.fields {
            let s = signature(name);
            self.entries.push((name.clone(), kind, id, self.heads[s]));
            self.heads[s] = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        }
    }

    /// The name of field number `id` (from [`Field::name`]).
    pub fn name(&self, id: u16) -> &str {
        self.names.get(usize::from(id)).map_or("?", |n| n.as_ref())
    }

    /// Keeps only members whose kind `keep` accepts (kinds no indicator can
    /// use are not decoded at all).
    pub fn retain(&mut self, keep: impl Fn(Kind) -> bool) {
        self.fields.retain(|_, (k, _)| keep(*k));
        self.chain();
    }

    /// The kind of member `name`.
    pub fn get(&self, name: &[u8]) -> Option<(Kind, u16)> {
        let mut next = self.heads[signature(name)];
        while let Some((entry, kind, id, after)) = self.entries.get((next as usize).wrapping_sub(1)) {
            if **entry == *name {
                return Some((*kind, *id));
            }
            next = *after;
        }
        None
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// One typed value found in an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    /// The member's number in the [`FieldMap`] ([`FieldMap::name`] gives
    /// its flattened name), or [`TEXT_FIELD`] for plain text.
    pub name: u16,
    /// What it holds.
    pub kind: Kind,
    /// The value as written (unescaped), or a number's digits.
    pub value: Cow<'a, str>,
}

/// Why a telemetry line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset}")]
pub struct DecodeError {
    /// 0-based byte offset in the line.
    pub offset: usize,
    /// What was wrong, lowercase.
    pub message: &'static str,
}

/// Deepest nesting of JSON containers accepted in a telemetry line.
pub const MAX_DEPTH: usize = 32;

/// Decodes one JSON line, pushing the fields `map` names onto `out`.
pub fn decode_json<'a>(line: &'a [u8], map: &FieldMap, out: &mut Vec<Field<'a>>) -> Result<(), DecodeError> {
    let mut s = Scanner { b: line, i: 0, path: Vec::with_capacity(32) };
    s.ws();
    if s.peek() != Some(b'{') {
        return Err(s.err("expected a json object"));
    }
    s.object(map, out, 0)?;
    s.ws();
    if s.i != s.b.len() {
        return Err(s.err("trailing characters after the json object"));
    }
    Ok(())
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    path: Vec<u8>,
}

impl<'a> Scanner<'a> {
    fn err(&self, message: &'static str) -> DecodeError {
        DecodeError { offset: self.i, message }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.i += 1;
        }
    }

    /// At `{`: reads the object, looking up each member under the current path.
    fn object(&mut self, map: &FieldMap, out: &mut Vec<Field<'a>>, depth: usize) -> Result<(), DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("json nested too deeply"));
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        let base = self.path.len();
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a member name"));
            }
            let key = self.string_bytes()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':' after a member name"));
            }
            self.i += 1;
            self.ws();
            // A top-level member with a plain value is looked up by its own
            // name: no copy into the path (most members of an event).
            let kind = if base == 0 && !matches!(self.peek(), Some(b'{' | b'[')) {
                map.get(&key)
            } else {
                if base > 0 {
                    self.path.push(b'.');
                }
                self.path.extend_from_slice(&key);
                map.get(&self.path)
            };
            self.value(map, out, kind, depth)?;
            self.path.truncate(base);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}' in an object")),
            }
        }
    }

    fn value(&mut self, map: &FieldMap, out: &mut Vec<Field<'a>>, kind: Option<(Kind, u16)>, depth: usize) -> Result<(), DecodeError> {
        match self.peek() {
            Some(b'"') => {
                let v = self.string_bytes()?;
                if let Some((kind, name)) = kind {
                    // Only wanted values are checked for UTF-8 (keys and the rest are bytes).
                    let v = match v {
                        Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).map_err(|_| self.err("string is not utf-8"))?),
                        Cow::Owned(b) => Cow::Owned(String::from_utf8(b).map_err(|_| self.err("string is not utf-8"))?),
                    };
                    out.push(Field { name, kind, value: v });
                }
            }
            Some(b'{') => self.object(map, out, depth + 1)?,
            Some(b'[') => {
                if depth + 1 >= MAX_DEPTH {
                    return Err(self.err("json nested too deeply"));
                }
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.value(map, out, kind, depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(self.err("expected ',' or ']' in an array")),
                    }
                }
            }
            Some(b't') => self.literal(b"true")?,
            Some(b'f') => self.literal(b"false")?,
            Some(b'n') => self.literal(b"null")?,
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
                    self.i += 1;
                }
                if let Some((kind, name)) = kind {
                    let digits = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| self.err("bad number"))?;
                    out.push(Field { name, kind, value: Cow::Borrowed(digits) });
                }
            }
            _ => return Err(self.err("expected a json value")),
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), DecodeError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("expected a json value"))
        }
    }

    /// At `"`: the string's bytes (escapes decoded), borrowed when it has
    /// no escapes. UTF-8 is checked by the caller when it uses the text.
    fn string_bytes(&mut self) -> Result<Cow<'a, [u8]>, DecodeError> {
        self.i += 1;
        let start = self.i;
        let rest = &self.b[start..];
        let Some(end) = quote_or_backslash(rest) else {
            return Err(self.err("unterminated string"));
        };
        if rest[end] == b'"' {
            self.i = start + end + 1;
            return Ok(Cow::Borrowed(&rest[..end]));
        }
        // Escapes: decode into a new string.
        let mut buf: Vec<u8> = rest[..end].to_vec();
        self.i = start + end;
        loop {
            let Some(c) = self.peek() else { return Err(self.err("unterminated string")) };
            match c {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' => {
                    let Some(e) = self.b.get(self.i + 1).copied() else { return Err(self.err("unterminated string")) };
                    self.i += 2;
                    match e {
                        b'"' => buf.push(b'"'),
                        b'\\' => buf.push(b'\\'),
                        b'/' => buf.push(b'/'),
                        b'b' => buf.push(8),
                        b'f' => buf.push(12),
                        b'n' => buf.push(b'\n'),
                        b'r' => buf.push(b'\r'),
                        b't' => buf.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) && self.b[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("bad surrogate pair"));
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut tmp = [0u8; 4];
                            buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                        }
                        _ => return Err(self.err("bad escape in string")),
                    }
                }
                _ => {
                    buf.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(Cow::Owned(buf))
    }

    fn hex4(&mut self) -> Result<u32, DecodeError> {
        let Some(h) = self.b.get(self.i..self.i + 4) else { return Err(self.err("bad \\u escape")) };
        let text = std::str::from_utf8(h).map_err(|_| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }
}

/// The first `"` or `\\` in `b`. Member names and most values are a few
/// bytes long: their first 32 bytes are searched eight at a time in a
/// `u64`, the rest with memchr (whose set-up costs more than such a string).
pub(crate) fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut at = 0;
    while let Some(word) = b.get(at..at + 8) {
        if at == 32 {
            return memchr::memchr2(b'"', b'\\', &b[at..]).map(|n| at + n);
        }
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let (q, s) = (w ^ (ONES * u64::from(b'"')), w ^ (ONES * u64::from(b'\\')));
        // A high bit per zero byte of q or s; bits above the lowest one may be false, the lowest is exact.
        let zeros = (q.wrapping_sub(ONES) & !q | s.wrapping_sub(ONES) & !s) & HIGHS;
        if zeros != 0 {
            return Some(at + (zeros.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    b[at..].iter().position(|&c| c == b'"' || c == b'\\').map(|n| at + n)
}

/// The header of a Zeek log in Zeek's default, tab-separated form: the
/// `#separator`, `#set_separator`, `#empty_field`, `#unset_field`, `#path`,
/// `#fields` and `#types` lines that open every such file. A data line is
/// read against the header above it ([`decode_zeek_tsv`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeekTsvHeader {
    /// Between columns (`\t`).
    pub separator: u8,
    /// Between the elements of a set or vector column (`,`).
    pub set_separator: u8,
    /// An empty set, vector or string (`(empty)`).
    pub empty_field: Box<[u8]>,
    /// A value that was not set (`-`).
    pub unset_field: Box<[u8]>,
    /// The log's name (`dns`, `conn`, ...).
    pub path: String,
    /// The column names, in order.
    pub fields: Vec<Box<str>>,
    /// Per column: its type (from `#types`; text until one is given).
    pub types: Vec<ZeekType>,
}

/// The type of a Zeek log column, as far as reading it and writing it as
/// JSON need: whether it is a set or vector, and what its values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZeekType {
    /// A `set[...]` or `vector[...]`: elements between set separators.
    pub container: bool,
    /// What a value (an element, in a container) is.
    pub value: ZeekValue,
}

/// What a Zeek value is written as in JSON, as Zeek's JSON writer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeekValue {
    /// `string`, `addr`, `subnet`, `enum` and the rest: a JSON string.
    Text,
    /// `count`, `int`, `port`, `double`, `interval` and `time` (seconds
    /// since the epoch): a JSON number.
    Number,
    /// `bool` (`T` or `F`): true or false.
    Bool,
}

impl ZeekType {
    const TEXT: ZeekType = ZeekType { container: false, value: ZeekValue::Text };

    /// The type a `#types` entry names (`count`, `vector[interval]`, ...).
    fn parse(name: &[u8]) -> ZeekType {
        let (container, inner) = match name.strip_suffix(b"]") {
            Some(rest) => match rest.strip_prefix(b"set[").or_else(|| rest.strip_prefix(b"vector[")) {
                Some(inner) => (true, inner),
                None => (false, name),
            },
            None => (false, name),
        };
        let value = match inner {
            b"count" | b"int" | b"port" | b"double" | b"interval" | b"time" => ZeekValue::Number,
            b"bool" => ZeekValue::Bool,
            _ => ZeekValue::Text,
        };
        ZeekType { container, value }
    }

    /// A value of this type as JSON: a number or boolean when the text is
    /// one, else the text as a string.
    fn json(self, text: Cow<'_, str>) -> serde_json::Value {
        match self.value {
            ZeekValue::Number => match text.parse::<serde_json::Number>() {
                Ok(n) => serde_json::Value::Number(n),
                Err(_) => serde_json::Value::String(text.into_owned()),
            },
            ZeekValue::Bool if text == "T" => serde_json::Value::Bool(true),
            ZeekValue::Bool if text == "F" => serde_json::Value::Bool(false),
            _ => serde_json::Value::String(text.into_owned()),
        }
    }
}

impl Default for ZeekTsvHeader {
    fn default() -> Self {
        ZeekTsvHeader {
            separator: b'\t',
            set_separator: b',',
            empty_field: b"(empty)".as_slice().into(),
            unset_field: b"-".as_slice().into(),
            path: String::new(),
            fields: Vec::new(),
            types: Vec::new(),
        }
    }
}

/// The bytes of a Zeek header value: `\xHH` escapes decoded.
fn unescape_bytes(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && raw.get(i + 1) == Some(&b'x') {
            let hex = raw.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

impl ZeekTsvHeader {
    /// Whether `data` opens a Zeek log in the tab-separated form.
    pub fn starts(data: &[u8]) -> bool {
        data.starts_with(b"#separator ")
    }

    /// Reads one header line (it starts with `#`). `#separator` resets the
    /// header, as a new log begins with it (logs concatenated by `cat` or
    /// `zcat`). Lines it does not use (`#open`, `#close`, comments) change
    /// nothing; a value it cannot use leaves the previous one.
    pub fn read_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(value) = line.strip_prefix(b"#separator ") {
            *self = ZeekTsvHeader::default();
            if let [b] = unescape_bytes(value).as_slice() {
                self.separator = *b;
            }
            return;
        }
        let mut parts = line.split(|&b| b == self.separator);
        let Some(key) = parts.next() else { return };
        let values: Vec<&[u8]> = parts.collect();
        let single = || match values.as_slice() {
            [v] => Some(unescape_bytes(v)),
            _ => None,
        };
        match key {
            b"#set_separator" => {
                if let Some([b]) = single().as_deref() {
                    self.set_separator = *b;
                }
            }
            b"#empty_field" => {
                if let Some(v) = single() {
                    self.empty_field = v.into();
                }
            }
            b"#unset_field" => {
                if let Some(v) = single() {
                    self.unset_field = v.into();
                }
            }
            b"#path" => {
                if let Some(v) = single() {
                    self.path = String::from_utf8_lossy(&v).into_owned();
                }
            }
            b"#fields" => {
                self.fields = values.iter().map(|v| String::from_utf8_lossy(&unescape_bytes(v)).into()).collect();
                self.types = vec![ZeekType::TEXT; self.fields.len()];
            }
            b"#types" => {
                self.types = values.iter().map(|t| ZeekType::parse(t)).collect();
                self.types.resize(self.fields.len(), ZeekType::TEXT);
            }
            _ => {}
        }
    }

    /// Walks the columns of a data line, handing `each` a column's index,
    /// its type and what is written there; checks that the line has as
    /// many columns as `#fields` names.
    fn each_column<'a>(&self, line: &'a [u8], mut each: impl FnMut(usize, ZeekType, ZeekColumn<'a>)) -> Result<(), DecodeError> {
        if self.fields.is_empty() {
            return Err(DecodeError { offset: 0, message: "a zeek log line before its #fields header" });
        }
        let mut count = 0;
        let mut offset = 0;
        for raw in line.split(|&b| b == self.separator) {
            let Some(&ty) = self.types.get(count) else {
                return Err(DecodeError { offset, message: "more columns than the #fields header names" });
            };
            let column = if *raw == *self.unset_field {
                ZeekColumn::Unset
            } else if *raw == *self.empty_field {
                ZeekColumn::Empty
            } else {
                ZeekColumn::Written(raw)
            };
            each(count, ty, column);
            count += 1;
            offset += raw.len() + 1;
        }
        if count < self.fields.len() {
            return Err(DecodeError { offset: line.len(), message: "fewer columns than the #fields header names" });
        }
        Ok(())
    }

    /// The values written in a column: its elements for a set or vector,
    /// else the whole (escaped) text.
    fn elements<'a>(&self, raw: &'a [u8], ty: ZeekType) -> impl Iterator<Item = &'a [u8]> {
        let set_separator = self.set_separator;
        raw.split(move |&b| ty.container && b == set_separator)
    }
}

/// What a column of a Zeek TSV data line holds.
enum ZeekColumn<'a> {
    /// The unset marker (`-`).
    Unset,
    /// The empty marker (`(empty)`): an empty set, vector or string.
    Empty,
    /// A value, or a container's elements between set separators, escaped.
    Written(&'a [u8]),
}

/// A Zeek TSV value as text: `\xHH` escapes decoded (Zeek writes
/// separators, non-printable bytes and backslashes so), bytes that are not
/// UTF-8 replaced.
fn zeek_text(raw: &[u8]) -> Cow<'_, str> {
    if !raw.contains(&b'\\') {
        return String::from_utf8_lossy(raw);
    }
    Cow::Owned(String::from_utf8_lossy(&unescape_bytes(raw)).into_owned())
}

/// The [`FieldMap`] entry of each column of `header` (`None`: a column no
/// indicator looks at), found once per header for [`decode_zeek_tsv`].
pub fn zeek_tsv_columns(header: &ZeekTsvHeader, map: &FieldMap) -> Vec<Option<(Kind, u16)>> {
    header.fields.iter().map(|name| map.get(name.as_bytes())).collect()
}

/// Decodes one data line of a Zeek log in the tab-separated form against
/// its `header`, pushing the fields that `columns` ([`zeek_tsv_columns`] of
/// the header) maps onto `out`: a set or vector column gives one field per
/// element; unset and empty columns give none. Lines that start with `#`
/// are header lines, not data: the caller reads them with
/// [`ZeekTsvHeader::read_line`].
pub fn decode_zeek_tsv<'a>(
    line: &'a [u8],
    header: &ZeekTsvHeader,
    columns: &[Option<(Kind, u16)>],
    out: &mut Vec<Field<'a>>,
) -> Result<(), DecodeError> {
    header.each_column(line, |i, ty, column| {
        if let (Some(Some((kind, id))), ZeekColumn::Written(raw)) = (columns.get(i), column) {
            for value in header.elements(raw, ty) {
                out.push(Field { name: *id, kind: *kind, value: zeek_text(value) });
            }
        }
    })
}

/// One data line of a Zeek TSV log as the JSON object Zeek's JSON writer
/// would give, for the `event` of a match record: numbers, booleans and
/// text as `#types` says (times as seconds since the epoch), sets and
/// vectors as arrays, unset columns left out.
pub fn zeek_tsv_event_json(line: &[u8], header: &ZeekTsvHeader) -> Result<Vec<u8>, DecodeError> {
    let mut object = serde_json::Map::new();
    header.each_column(line, |i, ty, column| {
        let Some(name) = header.fields.get(i) else { return };
        let value = match column {
            ZeekColumn::Unset => return,
            ZeekColumn::Empty if ty.container => serde_json::Value::Array(Vec::new()),
            ZeekColumn::Empty => serde_json::Value::String(String::new()),
            ZeekColumn::Written(raw) if ty.container => {
                serde_json::Value::Array(header.elements(raw, ty).map(|v| ty.json(zeek_text(v))).collect())
            }
            ZeekColumn::Written(raw) => ty.json(zeek_text(raw)),
        };
        object.insert(name.to_string(), value);
    })?;
    Ok(serde_json::Value::Object(object).to_string().into_bytes())
}

/// Finds values by their shape in a line of plain text: URLs, e-mail
/// addresses, IP addresses, hex hashes (32, 40 or 64 digits) and domain
/// names (a dot and a letter in the last label).
pub fn decode_text<'a>(line: &'a str, out: &mut Vec<Field<'a>>) {
    let is_token = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/' | '@' | '%' | '?' | '=' | '&' | '+' | '~' | '#');
    for raw in line.split(|c: char| !is_token(c)) {
        let token = raw.trim_matches(|c: char| matches!(c, '.' | ':' | ',' | '/' | '?' | '#'));
        if token.is_empty() {
            continue;
        }
        let mut push = |kind, value: &'a str| out.push(Field { name: TEXT_FIELD, kind, value: Cow::Borrowed(value) });
        if let Some(p) = token.find("://") {
            if p > 0 && token[..p].bytes().all(|b| b.is_ascii_alphabetic()) {
                push(Kind::Url, token);
                continue;
            }
        }
        if token.contains('@') {
            push(Kind::Email, token);
            continue;
        }
        if crate::normalize::ip(token).is_some() {
            push(Kind::Ip, token);
            continue;
        }
        if token.bytes().all(|b| b.is_ascii_hexdigit()) {
            match token.len() {
                32 => push(Kind::Md5, token),
                40 => push(Kind::Sha1, token),
                64 => push(Kind::Sha256, token),
                _ => {}
            }
            continue;
        }
        if let Some((_, tld)) = token.rsplit_once('.') {
            if tld.chars().any(char::is_alphabetic) && !token.contains('/') && !token.contains(':') {
                push(Kind::Domain, token);
            }
        }
    }
}

/// The event time in microseconds since the Unix epoch, from RFC 3339 text
/// (`Z` or `+0000`) or seconds since the epoch.
pub fn event_time_micros(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        return Some((secs * 1e6) as i64);
    }
    if let Some(t) = crate::eval::timestamp_micros(text) {
        return Some(t);
    }
    // Suricata: 2024-01-01T00:00:00.000000+0000
    let (base, offset) = text.split_at(text.len().checked_sub(5)?);
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hh: i64 = offset.get(1..3)?.parse().ok()?;
    let mm: i64 = offset.get(3..5)?.parse().ok()?;
    let t = crate::eval::timestamp_micros(&format!("{base}Z"))?;
    Some(t - sign * (hh * 3600 + mm * 60) * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeek_header(lines: &[&str]) -> ZeekTsvHeader {
        let mut h = ZeekTsvHeader::default();
        for l in lines {
            h.read_line(l.as_bytes());
        }
        h
    }

    #[test]
    fn a_zeek_tsv_header_is_read_from_its_lines() {
        let h = zeek_header(&[
            r"#separator \x09",
            "#set_separator\t,",
            "#empty_field\t(empty)",
            "#unset_field\t-",
            "#path\tconn",
            "#open\t2024-04-12-19-29-12",
            "#fields\tts\tid.orig_h\ttunnel_parents\tnote",
            "#types\ttime\taddr\tset[string]\tstring",
        ]);
        assert_eq!((h.separator, h.set_separator, h.path.as_str()), (b'\t', b',', "conn"));
        assert_eq!(h.fields.iter().map(|f| &**f).collect::<Vec<_>>(), ["ts", "id.orig_h", "tunnel_parents", "note"]);
        let t = |container, value| ZeekType { container, value };
        assert_eq!(h.types, [t(false, ZeekValue::Number), t(false, ZeekValue::Text), t(true, ZeekValue::Text), t(false, ZeekValue::Text)]);
        // Other separators and markers, escaped; #separator starts over.
        let h = zeek_header(&[r"#separator \x7c", r"#set_separator|\x3b", "#empty_field|EMPTY", "#unset_field|UNSET", "#fields|a|b"]);
        assert_eq!((h.separator, h.set_separator, &*h.empty_field, &*h.unset_field), (b'|', b';', &b"EMPTY"[..], &b"UNSET"[..]));
        assert_eq!(h.types, [ZeekType::TEXT, ZeekType::TEXT]);
        let again = zeek_header(&[r"#separator \x7c", "#fields|a|b", r"#separator \x09"]);
        assert_eq!(again, ZeekTsvHeader::default());
        // A separator that is not one byte leaves the tab.
        assert_eq!(zeek_header(&[r"#separator \x09\x09"]).separator, b'\t');
        assert!(ZeekTsvHeader::starts(b"#separator \\x09\n#set_separator"));
        assert!(!ZeekTsvHeader::starts(b"{\"ts\":1}"));
    }

    #[test]
    fn zeek_tsv_lines_give_the_mapped_columns_with_sets_unset_empty_and_escapes() {
        let h = zeek_header(&[
            r"#separator \x09",
            "#fields\tts\tid.orig_h\tquery\tanswers\tuid",
            "#types\ttime\taddr\tstring\tvector[string]\tstring",
        ]);
        let map = FieldMap::for_format(Format::Zeek);
        let mut out = Vec::new();
        let line = b"1521911720.865716\t10.0.0.1\tb\\x5cad\\x09q.example\ta.example,10.9.8.7\tC1";
        let columns = zeek_tsv_columns(&h, &map);
        decode_zeek_tsv(line, &h, &columns, &mut out).unwrap();
        let got: Vec<(&str, Kind, &str)> = out.iter().map(|f| (map.name(f.name), f.kind, &*f.value)).collect();
        assert_eq!(
            got,
            [
                ("ts", Kind::Time, "1521911720.865716"),
                ("id.orig_h", Kind::Ip, "10.0.0.1"),
                ("query", Kind::Domain, "b\\ad\tq.example"),
                ("answers", Kind::DomainOrIp, "a.example"),
                ("answers", Kind::DomainOrIp, "10.9.8.7"),
            ]
        );
        out.clear();
        decode_zeek_tsv(b"-\t-\t(empty)\t(empty)\tC2", &h, &columns, &mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
        let event = zeek_tsv_event_json(b"-\t10.0.0.1\t(empty)\t(empty)\tC2", &h).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&event).unwrap(),
            serde_json::json!({"id.orig_h": "10.0.0.1", "query": "", "answers": [], "uid": "C2"})
        );
        let e = decode_zeek_tsv(b"1\t2\t3\t4\t5\t6", &h, &columns, &mut out).unwrap_err();
        assert_eq!(e.to_string(), "more columns than the #fields header names at byte 10");
        let e = decode_zeek_tsv(b"1\t2", &h, &columns, &mut out).unwrap_err();
        assert_eq!(e.to_string(), "fewer columns than the #fields header names at byte 3");
        let e = decode_zeek_tsv(b"1\t2", &ZeekTsvHeader::default(), &[], &mut out).unwrap_err();
        assert_eq!(e.to_string(), "a zeek log line before its #fields header at byte 0");
    }

    #[test]
    fn the_field_map_answers_every_name_it_holds_and_only_those() {
        let mut map = FieldMap::for_format(Format::Auto);
        map.insert("x.y", Kind::Url);
        let names: Vec<Box<[u8]>> = map.fields.keys().cloned().collect();
        for name in &names {
            assert!(map.get(name).is_some(), "{}", String::from_utf8_lossy(name));
        }
        let others = ["", "x", "x.z", "uid", "ts", "id.orig_p", "dns.answers", "query.x", "trans_id", "TTLs", "qtype_name", "rcode_name", "_path"];
        for other in others {
            assert_eq!(map.get(other.as_bytes()), map.fields.get(other.as_bytes()).copied(), "{other}");
        }
        map.retain(|k| k == Kind::Url);
        assert!(map.get(b"x.y").is_some());
        for name in names.iter().map(|n| &n[..]).chain(others.iter().map(|o| o.as_bytes())) {
            assert_eq!(map.get(name), map.fields.get(name).copied(), "{}", String::from_utf8_lossy(name));
        }
    }

    fn fields(line: &str, format: Format) -> Vec<(String, Kind, String)> {
        let mut out = Vec::new();
        let map = FieldMap::for_format(format);
        decode_json(line.as_bytes(), &map, &mut out).expect("decodes");
        out.into_iter().map(|f| (map.name(f.name).to_owned(), f.kind, f.value.into_owned())).collect()
    }

    #[test]
    fn zeek_dns_fields_come_out_typed_with_arrays_flattened() {
        let line = r#"{"_path":"dns","ts":"2018-03-24T17:15:20.865716Z","id.orig_h":"10.47.1.100","id.orig_p":41772,"id.resp_h":"10.0.0.100","id.resp_p":53,"proto":"udp","query":"ise.wrccdc.org","answers":["ise.wrccdc.cpp.edu","134.71.3.16"],"TTLs":[2230.0,41830.0],"rejected":false}"#;
        let f = fields(line, Format::Zeek);
        assert!(f.contains(&("id.orig_h".into(), Kind::Ip, "10.47.1.100".into())));
        assert!(f.contains(&("id.resp_p".into(), Kind::DstPort, "53".into())));
        assert!(f.contains(&("query".into(), Kind::Domain, "ise.wrccdc.org".into())));
        assert!(f.contains(&("answers".into(), Kind::DomainOrIp, "134.71.3.16".into())));
        assert!(!f.iter().any(|(n, _, _)| n == "TTLs"));
    }

    #[test]
    fn eve_nested_members_are_flattened_and_escapes_decoded() {
        let line = r#"{"timestamp":"2024-01-01T00:00:00.000000+0000","event_type":"dns","src_ip":"192.0.2.1","dest_ip":"2001:db8::1","dns":{"rrname":"ex\u0061mple.com","answers":[{"rrname":"example.com","rdata":"198.51.100.7"}]}}"#;
        let f = fields(line, Format::Eve);
        assert!(f.contains(&("dns.rrname".into(), Kind::Domain, "example.com".into())));
        assert!(f.contains(&("dns.answers.rdata".into(), Kind::DomainOrIp, "198.51.100.7".into())));
        assert!(f.contains(&("dest_ip".into(), Kind::Ip, "2001:db8::1".into())));
        assert_eq!(event_time_micros("2024-01-01T01:00:00.000000+0100"), event_time_micros("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn malformed_lines_are_errors_with_an_offset_never_panics() {
        let map = FieldMap::for_format(Format::Auto);
        for bad in ["", "[1]", "{", "{\"a\"", "{\"a\":}", "{\"a\":1,}", "{\"a\":\"x}", "{\"a\":1} x", "{\"a\":\"\\u12\"}", "{\"a\":tru}"] {
            let mut out = Vec::new();
            assert!(decode_json(bad.as_bytes(), &map, &mut out).is_err(), "{bad:?}");
        }
        let deep = format!("{}{}", "{\"a\":".repeat(100), "1");
        assert!(decode_json(deep.as_bytes(), &map, &mut Vec::new()).is_err());
    }

    #[test]
    fn plain_text_values_are_found_by_shape() {
        let mut out = Vec::new();
        decode_text("blocked 203.0.113.9 -> evil.example.com (http://evil.example.com/x) from a@b.org d41d8cd98f00b204e9800998ecf8427e.", &mut out);
        let kinds: Vec<(Kind, &str)> = out.iter().map(|f| (f.kind, f.value.as_ref())).collect();
        assert!(kinds.contains(&(Kind::Ip, "203.0.113.9")));
        assert!(kinds.contains(&(Kind::Domain, "evil.example.com")));
        assert!(kinds.contains(&(Kind::Url, "http://evil.example.com/x")));
        assert!(kinds.contains(&(Kind::Email, "a@b.org")));
        assert!(kinds.contains(&(Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e")));
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;
        use serde_json::Value;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
                ".{0,12}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec(("[a-z._]{1,8}|query|id\\.orig_h|answers", inner), 0..5)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        proptest! {
            /// The word-at-a-time search finds the first quote or backslash, as a plain loop does.
            #[test]
            fn quote_or_backslash_finds_the_first(text in prop::collection::vec(prop_oneof![Just(b'"'), Just(b'\\'), Just(0x22 ^ 0x80), Just(0x5c + 1), Just(0x21), any::<u8>(), Just(b'a')], 0..80), quiet in 0usize..80) {
                let mut text = text;
                // Long runs without either byte, to reach the memchr tail.
                for b in text.iter_mut().take(quiet) {
                    if matches!(*b, b'"' | b'\\') {
                        *b = b'x';
                    }
                }
                prop_assert_eq!(quote_or_backslash(&text), text.iter().position(|&c| c == b'"' || c == b'\\'));
            }

            /// The scanner accepts every object serde_json writes, and finds each
            /// top-level string member of the field map with its exact text.
            #[test]
            fn scanner_accepts_what_serde_json_writes(members in prop::collection::vec(("[a-z._]{1,8}|query|id\\.orig_h|answers", json_value()), 0..6)) {
                let object = Value::Object(members.into_iter().collect());
                let text = object.to_string();
                let map = FieldMap::for_format(Format::Zeek);
                let mut out = Vec::new();
                prop_assert!(decode_json(text.as_bytes(), &map, &mut out).is_ok(), "{}", text);
                for (k, v) in object.as_object().unwrap() {
                    if let (Some((_, id)), Value::String(s)) = (map.get(k.as_bytes()), v) {
                        prop_assert!(out.iter().any(|f| f.name == id && f.value == s.as_str()), "{} in {}", k, text);
                    }
                }
            }
        }
    }
}
