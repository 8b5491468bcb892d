//! Splits a JSON input into STIX objects without holding the whole input
//! in memory.
//!
//! Three input shapes are read, and may follow one another in one input:
//! a STIX bundle (`{"type":"bundle","objects":[...]}`, members in any
//! order), a JSON array of objects, and JSON lines (one object after
//! another). The splitter only finds where each object starts and ends; it
//! tracks strings and brackets but does not build values. Each object's
//! bytes are handed on whole, so they can be parsed on other threads.
//!
//! A TAXII envelope (`{"objects":[...]}`, the body of a TAXII POST) is read
//! by [`split_envelope`].
//!
//! Structural problems (truncation, a bracket that does not close, nesting
//! deeper than the limit, anything that is not JSON) stop the input with a
//! [`StreamError`] naming the line and column. An object larger than the
//! size limit is skipped and reported as [`Item::TooLarge`].

use crate::check::push_decimal;
use std::io::BufRead;

/// Limits applied while splitting.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest object, in bytes of JSON text.
    pub max_object_bytes: usize,
    /// Deepest nesting of arrays and objects, counting the container.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_object_bytes: 64 << 20, max_depth: 100 }
    }
}

/// One object found in the input.
#[derive(Debug)]
pub enum Item {
    /// The JSON text of one object.
    Object {
        /// Where it is: `$.objects[3]`, `$[3]` or `line 7`.
        path: String,
        /// Line on which it starts (1-based).
        line: u64,
        /// Its JSON text.
        bytes: Vec<u8>,
    },
    /// An object over [`Limits::max_object_bytes`], skipped.
    TooLarge {
        /// Where it is.
        path: String,
        /// Its size in bytes.
        size: u64,
    },
}

/// The input cannot be read as JSON: nothing after this point is usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line} column {column}")]
pub struct StreamError {
    /// 1-based line.
    pub line: u64,
    /// 1-based column (in bytes).
    pub column: u64,
    /// 0-based byte offset.
    pub offset: u64,
    /// What was wrong, lowercase.
    pub message: String,
    /// Whether the input is not JSON, or JSON of the wrong shape.
    pub kind: StreamErrorKind,
}

/// What kind of problem stopped an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamErrorKind {
    /// The input is not JSON (or could not be read).
    Syntax,
    /// The input is JSON, but not the container expected (a TAXII envelope
    /// that is not an object, or whose `objects` is not a list).
    Container,
}

struct Input<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    line: u64,
    column: u64,
    offset: u64,
    io_error: Option<String>,
    /// Whether compact objects may take [`compact_object_len`]'s path.
    fast: bool,
}

impl<R: BufRead> Input<R> {
    fn new(reader: R) -> Self {
        Input { reader, buf: vec![0; 1 << 16], pos: 0, len: 0, line: 1, column: 1, offset: 0, io_error: None, fast: true }
    }

    fn fill(&mut self) -> bool {
        if self.pos < self.len {
            return true;
        }
        loop {
            match self.reader.read(&mut self.buf) {
                Ok(n) => {
                    self.pos = 0;
                    self.len = n;
                    return n > 0;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.io_error = Some(e.to_string());
                    self.len = 0;
                    self.pos = 0;
                    return false;
                }
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        if self.fill() { Some(self.buf[self.pos]) } else { None }
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        self.offset += 1;
        if b == b'\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(b)
    }

    fn error(&self, message: impl Into<String>) -> StreamError {
        let mut message = message.into();
        if let Some(io) = &self.io_error {
            message = format!("read error: {io}");
        }
        StreamError { line: self.line, column: self.column, offset: self.offset, message, kind: StreamErrorKind::Syntax }
    }

    fn container_error(&self, message: impl Into<String>) -> StreamError {
        StreamError { kind: StreamErrorKind::Container, ..self.error(message) }
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.bump();
            } else if self.offset == 0 && b == 0xEF {
                // A UTF-8 byte order mark at the very start.
                self.bump();
                self.bump();
                self.bump();
            } else {
                break;
            }
        }
    }

    fn expect(&mut self, want: u8, what: &str) -> Result<(), StreamError> {
        self.skip_ws();
        match self.peek() {
            Some(b) if b == want => {
                self.bump();
                Ok(())
            }
            Some(b) => Err(self.error(format!("expected {what}, found '{}'", b as char))),
            None => Err(self.error(format!("unexpected end of input: expected {what}"))),
        }
    }
}

/// Where bytes of the value being scanned go.
struct Capture<'a> {
    out: Option<&'a mut Vec<u8>>,
    limit: usize,
    size: u64,
}

impl Capture<'_> {
    fn push(&mut self, b: u8) {
        self.size += 1;
        if let Some(out) = self.out.as_deref_mut() {
            if out.len() < self.limit {
                out.push(b);
            }
        }
    }
    fn over(&self) -> bool {
        self.size > self.limit as u64
    }
}

/// Scans one JSON value, copying its bytes into `cap`. `depth` is the
/// depth of the enclosing container.
fn scan_value<R: BufRead>(
    input: &mut Input<R>,
    cap: &mut Capture<'_>,
    depth: usize,
    limits: &Limits,
) -> Result<(), StreamError> {
    input.skip_ws();
    let mut stack: Vec<u8> = Vec::new();
    loop {
        let Some(b) = input.peek() else {
            return Err(input.error("unexpected end of input inside a value"));
        };
        match b {
            b'"' => scan_string(input, cap)?,
            b'{' | b'[' => {
                if depth + stack.len() + 1 > limits.max_depth {
                    return Err(input.error(format!("nesting deeper than {} levels", limits.max_depth)));
                }
                stack.push(if b == b'{' { b'}' } else { b']' });
                input.bump();
                cap.push(b);
            }
            b'}' | b']' => {
                match stack.pop() {
                    Some(want) if want == b => {}
                    _ => return Err(input.error(format!("unexpected '{}'", b as char))),
                }
                input.bump();
                cap.push(b);
            }
            b',' | b':' => {
                if stack.is_empty() {
                    return Err(input.error(format!("unexpected '{}'", b as char)));
                }
                input.bump();
                cap.push(b);
            }
            b' ' | b'\t' | b'\n' | b'\r' => {
                input.bump();
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                while let Some(c) = input.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.') {
                        input.bump();
                        cap.push(c);
                    } else {
                        break;
                    }
                }
            }
            other => return Err(input.error(format!("unexpected character '{}'", other.escape_ascii()))),
        }
        if stack.is_empty() {
            return Ok(());
        }
    }
}

fn scan_string<R: BufRead>(input: &mut Input<R>, cap: &mut Capture<'_>) -> Result<(), StreamError> {
    let start = input.error("");
    input.bump();
    cap.push(b'"');
    loop {
        // Fast path: copy a run of plain bytes from the buffer at once.
        if !input.fill() {
            return Err(StreamError {
                message: format!("unexpected end of input inside a string that starts at line {} column {}", start.line, start.column),
                ..input.error("")
            });
        }
        let chunk = &input.buf[input.pos..input.len];
        let run = chunk.iter().position(|&c| c == b'"' || c == b'\\' || c == b'\n').unwrap_or(chunk.len());
        if run > 0 {
            let (plain, n) = (&input.buf[input.pos..input.pos + run], run);
            cap.size += n as u64;
            if let Some(out) = cap.out.as_deref_mut() {
                let room = cap.limit.saturating_sub(out.len());
                out.extend_from_slice(&plain[..n.min(room)]);
            }
            input.pos += n;
            input.offset += n as u64;
            input.column += n as u64;
            continue;
        }
        let Some(c) = input.bump() else { continue };
        cap.push(c);
        match c {
            b'"' => return Ok(()),
            b'\\' => {
                let Some(e) = input.bump() else { continue };
                cap.push(e);
            }
            b'\n' => return Err(input.error("raw line break inside a string")),
            _ => {}
        }
    }
}

/// Reads a JSON string key (after white space) and returns its text when
/// it is short and plain; long or escaped keys come back as `None`.
/// The key goes into `key` (cleared first), a buffer reused across members.
fn scan_key<R: BufRead>(input: &mut Input<R>, limits: &Limits, key: &mut Vec<u8>) -> Result<(), StreamError> {
    input.skip_ws();
    if input.peek() != Some(b'"') {
        return Err(input.error("expected a member name in double quotes"));
    }
    key.clear();
    let mut cap = Capture { out: Some(key), limit: limits.max_object_bytes, size: 0 };
    scan_string(input, &mut cap)
}

/// Splits `reader` into objects, calling `on_item` for each in input order.
/// Returns the number of items handed on.
pub fn split_objects<R: BufRead>(
    reader: R,
    limits: &Limits,
    on_item: &mut dyn FnMut(Item),
) -> Result<u64, StreamError> {
    split(Input::new(reader), limits, on_item)
}

/// Splits a TAXII envelope (`{"objects":[...]}`, other members ignored)
/// into its objects, at `$.objects[i]`, calling `on_item` for each in input
/// order. An envelope without `objects` holds none. Returns the number of
/// items handed on. Anything after the envelope but white space is an
/// error.
pub fn split_envelope<R: BufRead>(reader: R, limits: &Limits, on_item: &mut dyn FnMut(Item)) -> Result<u64, StreamError> {
    let mut input = Input::new(reader);
    input.skip_ws();
    match input.peek() {
        Some(b'{') => {}
        Some(b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
            return Err(input.container_error("expected a TAXII envelope (a json object)"));
        }
        Some(other) => return Err(input.error(format!("expected a json object, found '{}'", other.escape_ascii()))),
        None => return Err(input.error("empty input: expected a TAXII envelope (a json object)")),
    }
    input.bump();
    input.skip_ws();
    let mut count = 0u64;
    let mut key = Vec::with_capacity(64);
    let mut seen_objects = false;
    if input.peek() == Some(b'}') {
        input.bump();
    } else {
        loop {
            scan_key(&mut input, limits, &mut key)?;
            input.expect(b':', "':' after a member name")?;
            input.skip_ws();
            if key == b"\"objects\"" && seen_objects {
                // A reader that keeps the other list would see other objects.
                return Err(input.container_error("member 'objects' appears twice in the envelope"));
            }
            if key == b"\"objects\"" {
                seen_objects = true;
                if input.peek() != Some(b'[') {
                    // Not a list: still JSON? Read it to tell the two apart.
                    skip_member(&mut input, &key, limits)?;
                    return Err(input.container_error("objects: expected a list"));
                }
                input.bump();
                count = stream_array(&mut input, "$.objects", limits, on_item)?;
            } else {
                skip_member(&mut input, &key, limits)?;
            }
            if !next_member(&mut input)? {
                break;
            }
        }
    }
    input.skip_ws();
    if let Some(other) = input.peek() {
        return Err(input.error(format!("unexpected '{}' after the envelope", other.escape_ascii())));
    }
    if input.io_error.is_some() {
        return Err(input.error(""));
    }
    Ok(count)
}

/// Reads what follows an object member: `true` after a `,` (another
/// member follows), `false` after the closing `}`.
fn next_member<R: BufRead>(input: &mut Input<R>) -> Result<bool, StreamError> {
    input.skip_ws();
    match input.peek() {
        Some(b',') => {
            input.bump();
            Ok(true)
        }
        Some(b'}') => {
            input.bump();
            Ok(false)
        }
        Some(o) => Err(input.error(format!("expected ',' or '}}' after a member, found '{}'", o.escape_ascii()))),
        None => Err(input.error("unexpected end of input: expected ',' or '}'")),
    }
}

/// Reads the value of an envelope member that is not streamed, checking
/// that it is JSON (the scanner alone only tracks strings and brackets).
fn skip_member<R: BufRead>(input: &mut Input<R>, key: &[u8], limits: &Limits) -> Result<(), StreamError> {
    let at = input.error("");
    let name = String::from_utf8_lossy(key.strip_prefix(b"\"").and_then(|k| k.strip_suffix(b"\"")).unwrap_or(key));
    let mut value = Vec::new();
    let mut cap = Capture { out: Some(&mut value), limit: limits.max_object_bytes, size: 0 };
    scan_value(input, &mut cap, 1, limits)?;
    if cap.over() {
        return Err(StreamError { message: format!("member '{name}' is larger than {} bytes", limits.max_object_bytes), ..at });
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&value) {
        return Err(StreamError { message: format!("member '{name}': invalid json: {e}"), ..at });
    }
    Ok(())
}

fn split<R: BufRead>(mut input: Input<R>, limits: &Limits, on_item: &mut dyn FnMut(Item)) -> Result<u64, StreamError> {
    let mut count = 0u64;
    loop {
        input.skip_ws();
        let Some(b) = input.peek() else {
            if input.io_error.is_some() {
                return Err(input.error(""));
            }
            return Ok(count);
        };
        match b {
            b'[' => {
                input.bump();
                count += stream_array(&mut input, "$", limits, on_item)?;
            }
            b'{' => count += top_level_object(&mut input, limits, on_item)?,
            other => {
                return Err(input.error(format!(
                    "expected a bundle, a json array or json lines, found '{}'",
                    other.escape_ascii()
                )));
            }
        }
    }
}

/// Streams the elements of an array whose `[` was just read, each as an
/// object at `{prefix}[i]`; returns how many there were.
fn stream_array<R: BufRead>(
    input: &mut Input<R>,
    prefix: &str,
    limits: &Limits,
    on_item: &mut dyn FnMut(Item),
) -> Result<u64, StreamError> {
    input.skip_ws();
    if input.peek() == Some(b']') {
        input.bump();
        return Ok(0);
    }
    let mut index = 0u64;
    loop {
        let path = array_item_path(prefix, index);
        emit_value(input, &path, limits, on_item)?;
        index += 1;
        input.skip_ws();
        match input.peek() {
            Some(b',') => {
                input.bump();
            }
            Some(b']') => {
                input.bump();
                return Ok(index);
            }
            Some(o) => {
                return Err(input.error(format!("expected ',' or ']' after {path}, found '{}'", o.escape_ascii())));
            }
            None => return Err(input.error(format!("unexpected end of input after {path}: expected ',' or ']'"))),
        }
    }
}

fn emit_value<R: BufRead>(
    input: &mut Input<R>,
    path: &str,
    limits: &Limits,
    on_item: &mut dyn FnMut(Item),
) -> Result<(), StreamError> {
    input.skip_ws();
    let line = input.line;
    // Most STIX objects are under 1 KiB: one allocation instead of a
    // chain of doublings from empty.
    let mut bytes = Vec::with_capacity(1024);
    let mut cap = Capture { out: Some(&mut bytes), limit: limits.max_object_bytes, size: 0 };
    scan_value(input, &mut cap, 1, limits)?;
    if cap.over() {
        on_item(Item::TooLarge { path: path.to_owned(), size: cap.size });
    } else {
        on_item(Item::Object { path: path.to_owned(), line, bytes });
    }
    Ok(())
}

/// The length of the object at the start of `buf` (which starts with
/// `{`) when it can be handed on as it is: it ends within `buf` and within
/// the size limit, it is compact (no white space outside strings, no line
/// break at all), it is not a bundle (no `objects` member, no `type` of
/// `bundle`), and it passes every check the scan below makes (members as
/// `"key":value`, brackets that match, literals, depth). Anything else
/// (`None`) goes the member-by-member way, which gives the same bytes for
/// such objects and reports every error.
fn compact_object_len(buf: &[u8], limits: &Limits) -> Option<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum Top {
        Key,
        Colon,
        Value,
        After,
    }
    let end = buf.len().min(limits.max_object_bytes);
    let mut closers = [0u8; 128];
    let mut depth = 1usize; // inside the top-level object
    let mut top = Top::Key;
    let mut value_of_type = false;
    let mut i = 1;
    while i < end {
        let b = buf[i];
        match b {
            b'"' => {
                let start = i;
                i += 1;
                loop {
                    // Strings are most of the text: skip to the next byte
                    // that ends or escapes one (`i <= end` holds here).
                    i += memchr::memchr3(b'"', b'\\', b'\n', &buf[i..end])?;
                    match buf[i] {
                        b'"' => break,
                        b'\\' => {
                            if *buf.get(i + 1).filter(|_| i + 1 < end)? == b'\n' {
                                return None;
                            }
                            i += 2;
                        }
                        _ => return None, // a line break inside a string
                    }
                }
                i += 1;
                if depth == 1 {
                    let text = &buf[start..i];
                    match top {
                        Top::Key if text == b"\"objects\"" => return None,
                        Top::Key => {
                            value_of_type = text == b"\"type\"";
                            top = Top::Colon;
                        }
                        Top::Value if value_of_type && text == b"\"bundle\"" => return None,
                        Top::Value => top = Top::After,
                        _ => return None,
                    }
                }
                continue;
            }
            b'{' | b'[' => {
                if depth == 1 && top != Top::Value {
                    return None;
                }
                if depth + 1 > limits.max_depth || depth >= closers.len() {
                    return None;
                }
                closers[depth] = if b == b'{' { b'}' } else { b']' };
                depth += 1;
            }
            b'}' | b']' => {
                if depth == 1 {
                    return (b == b'}' && top == Top::After).then_some(i + 1);
                }
                depth -= 1;
                if closers[depth] != b {
                    return None;
                }
                if depth == 1 {
                    top = Top::After;
                }
            }
            b',' | b':' => {
                if depth == 1 {
                    top = match (b, top) {
                        (b',', Top::After) => Top::Key,
                        (b':', Top::Colon) => Top::Value,
                        _ => return None,
                    };
                }
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                if depth == 1 && top != Top::Value {
                    return None;
                }
                while i < end && (buf[i].is_ascii_alphanumeric() || matches!(buf[i], b'-' | b'+' | b'.')) {
                    i += 1;
                }
                if depth == 1 {
                    top = Top::After;
                }
                continue;
            }
            _ => return None,
        }
        i += 1;
    }
    None
}

/// `line N`, the path of an object of JSON lines. Written by hand, as is
/// [`array_item_path`]: `format!` took about 420 instructions an object,
/// and the parsing thread of a 100k import 0.66% more in all
/// (`bench/import/instructions.py`, bench/RESULTS.md, Import, session 27).
fn line_path(line: u64) -> String {
    let mut path = String::with_capacity(25);
    path.push_str("line ");
    push_decimal(&mut path, line);
    path
}

/// `prefix[index]`, the path of an item of a streamed array.
fn array_item_path(prefix: &str, index: u64) -> String {
    let mut path = String::with_capacity(prefix.len() + 22);
    path.push_str(prefix);
    path.push('[');
    push_decimal(&mut path, index);
    path.push(']');
    path
}

/// A top-level `{...}`: a bundle whose objects are streamed, or one object
/// (a JSON line) handed on whole.
fn top_level_object<R: BufRead>(
    input: &mut Input<R>,
    limits: &Limits,
    on_item: &mut dyn FnMut(Item),
) -> Result<u64, StreamError> {
    let line = input.line;
    if input.fast {
        // A compact JSON line within the buffer is copied at once.
        if let Some(n) = compact_object_len(&input.buf[input.pos..input.len], limits) {
            let bytes = input.buf[input.pos..input.pos + n].to_vec();
            input.pos += n;
            input.offset += n as u64;
            input.column += n as u64;
            on_item(Item::Object { path: line_path(line), line, bytes });
            return Ok(1);
        }
    }
    let mut raw = Vec::with_capacity(1024);
    let mut key = Vec::with_capacity(64);
    let mut raw_size: u64 = 0;
    let mut type_value: Vec<u8> = Vec::new();
    let mut streamed: Option<u64> = None;
    let mut objects_seen = false;
    input.bump();
    raw.push(b'{');
    input.skip_ws();
    if input.peek() == Some(b'}') {
        input.bump();
        return Err(input.error("an empty object is not a STIX object or bundle"));
    }
    loop {
        scan_key(input, limits, &mut key)?;
        input.expect(b':', "':' after a member name")?;
        input.skip_ws();
        if key == b"\"objects\"" {
            // A reader that keeps the other member would see other objects.
            if streamed.is_some() || (objects_seen && input.peek() == Some(b'[')) {
                return Err(input.container_error("member 'objects' appears twice in the bundle"));
            }
            objects_seen = true;
        }
        if key == b"\"objects\"" && input.peek() == Some(b'[') {
            input.bump();
            streamed = Some(stream_array(input, "$.objects", limits, on_item)?);
        } else {
            if raw.len() > 1 {
                raw.push(b',');
            }
            raw.extend_from_slice(&key);
            raw.push(b':');
            let is_type = key == b"\"type\"";
            let before = raw.len();
            let mut cap = Capture { out: Some(&mut raw), limit: limits.max_object_bytes, size: before as u64 };
            scan_value(input, &mut cap, 1, limits)?;
            raw_size = raw_size.max(cap.size);
            if is_type {
                type_value = raw[before..].to_vec();
            }
        }
        if !next_member(input)? {
            break;
        }
    }
    raw.push(b'}');
    let is_bundle = type_value == b"\"bundle\"";
    match (streamed, is_bundle) {
        (Some(n), true) => Ok(n),
        (None, true) => Ok(0),
        (Some(_), false) => Err(input.error("a top-level object with an 'objects' list must have type 'bundle'")),
        (None, false) => {
            let path = line_path(line);
            if raw_size > limits.max_object_bytes as u64 {
                on_item(Item::TooLarge { path, size: raw_size });
            } else {
                on_item(Item::Object { path, line, bytes: raw });
            }
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_lines_and_array_items_are_written_in_decimal() {
        assert_eq!(line_path(0), "line 0");
        assert_eq!(line_path(7), "line 7");
        assert_eq!(line_path(1_000_000), "line 1000000");
        assert_eq!(line_path(u64::MAX), format!("line {}", u64::MAX));
        assert_eq!(array_item_path("$.objects", 0), "$.objects[0]");
        assert_eq!(array_item_path("$.objects", 10), "$.objects[10]");
        assert_eq!(array_item_path("$", 120_045), "$[120045]");
        assert_eq!(array_item_path("$.objects", u64::MAX), format!("$.objects[{}]", u64::MAX));
    }

    type Splitter = fn(&[u8], &Limits, &mut dyn FnMut(Item)) -> Result<u64, StreamError>;

    /// Each item a splitter hands on, as (path, text or "too large: N").
    fn items(splitter: Splitter, text: &str, limits: Limits) -> Result<Vec<(String, String)>, StreamError> {
        let mut out = Vec::new();
        splitter(text.as_bytes(), &limits, &mut |item| match item {
            Item::Object { path, bytes, .. } => out.push((path, String::from_utf8(bytes).unwrap())),
            Item::TooLarge { path, size } => out.push((path, format!("too large: {size}"))),
        })?;
        Ok(out)
    }

    fn split(text: &str, limits: Limits) -> Result<Vec<(String, String)>, StreamError> {
        items(|t, l, f| split_objects(t, l, f), text, limits)
    }

    #[test]
    fn bundle_members_in_any_order() {
        let t = r#"{"objects": [{"a": 1}, {"b": [1, {"c": "x\"]}"}]}], "type": "bundle", "id": "bundle--1"}"#;
        let got = split(t, Limits::default()).unwrap();
        assert_eq!(got, vec![
            ("$.objects[0]".to_owned(), r#"{"a":1}"#.to_owned()),
            ("$.objects[1]".to_owned(), r#"{"b":[1,{"c":"x\"]}"}]}"#.to_owned()),
        ]);
    }

    #[test]
    fn arrays_and_json_lines() {
        let got = split("[{\"x\": 1},\n {\"y\": 2}]", Limits::default()).unwrap();
        assert_eq!(got[1], ("$[1]".to_owned(), r#"{"y":2}"#.to_owned()));
        let got = split("{\"type\": \"x\"}\n{\"type\": \"y\", \"n\": [1]}\n", Limits::default()).unwrap();
        assert_eq!(got, vec![
            ("line 1".to_owned(), r#"{"type":"x"}"#.to_owned()),
            ("line 2".to_owned(), r#"{"type":"y","n":[1]}"#.to_owned()),
        ]);
    }

    #[test]
    fn a_second_objects_member_refuses_the_whole_bundle_or_envelope() {
        for text in [
            r#"{"type": "bundle", "objects": [{"a": 1}], "objects": [{"b": 2}]}"#,
            r#"{"type": "bundle", "objects": "x", "objects": [{"b": 2}]}"#,
            r#"{"objects": [{"b": 2}], "type": "bundle", "objects": []}"#,
        ] {
            let e = split(text, Limits::default()).unwrap_err();
            assert_eq!(e.kind, StreamErrorKind::Container, "{text}: {e}");
            assert!(e.message.contains("member 'objects' appears twice in the bundle"), "{text}: {e}");
        }
        let e = envelope(r#"{"objects": [{"a": 1}], "more": false, "objects": [{"b": 2}]}"#).unwrap_err();
        assert!(e.message.contains("member 'objects' appears twice in the envelope"), "{e}");
        // One list, and other members of the same name elsewhere, are fine.
        assert_eq!(split(r#"{"type": "bundle", "objects": [{"objects": 1}]}"#, Limits::default()).unwrap().len(), 1);
    }

    #[test]
    fn objects_list_outside_a_bundle_is_refused() {
        let e = split(r#"{"type": "x", "objects": [{"a": 1}]}"#, Limits::default()).unwrap_err();
        assert!(e.message.contains("must have type 'bundle'"), "{e}");
    }

    #[test]
    fn truncation_and_garbage_name_the_place() {
        let e = split("{\"type\": \"bundle\", \"objects\": [{\"a\": 1}, {\"b\": ", Limits::default()).unwrap_err();
        assert!(e.message.contains("end of input"), "{e}");
        assert_eq!(e.line, 1);
        let e = split("[{\"a\": 1}\n nope]", Limits::default()).unwrap_err();
        assert_eq!((e.line, e.column), (2, 2), "{e}");
        let e = split("{\"a\": \"unterminated", Limits::default()).unwrap_err();
        assert!(e.message.contains("inside a string"), "{e}");
        let e = split("[{\"a\": 1]]", Limits::default()).unwrap_err();
        assert!(e.message.contains("unexpected ']'"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = format!("[{}{}]", "[".repeat(100_000), "]".repeat(100_000));
        let e = split(&deep, Limits::default()).unwrap_err();
        assert!(e.message.contains("nesting deeper than 100"), "{e}");
    }

    /// Items, or the error, with and without the compact path, and where
    /// the input stood after each item.
    fn split_both(text: &[u8], limits: Limits) -> [Result<Vec<(String, u64, Vec<u8>)>, StreamError>; 2] {
        [true, false].map(|fast| {
            let mut input = Input::new(text);
            input.fast = fast;
            let mut out = Vec::new();
            super::split(input, &limits, &mut |item| match item {
                Item::Object { path, line, bytes } => out.push((path, line, bytes)),
                Item::TooLarge { path, size } => out.push((path, size, b"too large".to_vec())),
            })
            .map(|_| out)
        })
    }

    #[test]
    fn the_compact_path_gives_what_the_member_path_gives() {
        let cases: &[&str] = &[
            "{\"type\":\"x\",\"n\":[1,{\"a\":\"b\\\"}\"}],\"t\":true,\"z\":null,\"f\":-1.5e+3}\n{\"type\":\"y\"}\n",
            "{\"type\":\"bundle\",\"id\":\"bundle--1\"}\n{\"a\":1}",
            "{\"type\":\"bundle\",\"objects\":[{\"a\":1},{\"b\":2}]}",
            "{\"objects\":{\"a\":1},\"type\":\"x\"}",
            "{\"a\": 1}\n{\"a\":1 }\n{ \"a\":1}",
            "{\"a\":\"line\\\nbreak\"}",
            "{\"a\":\"raw\nbreak\"}",
            "{}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1 \"b\":2}", "{\"a\":1}}", "{\"a\":[1}", "{\"a\":[1,]}",
            "{\"a\":{\"b\":1]}", "{\"a\":x}", "{\"a\":\"b\"\"c\"}", "{\"a\":1:2}", "{\"a\":[1\"x\"]}", "{\"a\":[:,]}",
            "{1:2}", "{\"a\":1", "{\"a\":\"unterminated", "{\"a\":\"ends in\\", "{\"a\":\"b\\\\\"}\n{\"c\":\"\\\\\\\"\"}", "{\"a\":tru}", "{\"a\":[[[[[[1]]]]]]}", "{\"é\":\"ü\"}",
        ];
        // The compact path does take ordinary JSON lines.
        let line = br#"{"type":"x","n":[1,{"a":"b\"}"}],"t":true,"f":-1.5e+3}"#;
        assert_eq!(compact_object_len(line, &Limits::default()), Some(line.len()));
        assert_eq!(compact_object_len(br#"{"type":"bundle","id":"b"}"#, &Limits::default()), None);
        for case in cases {
            let [fast, slow] = split_both(case.as_bytes(), Limits::default());
            assert_eq!(fast, slow, "{case}");
        }
        let [fast, slow] = split_both(b"{\"a\":[[[[1]]]]}\n{\"b\":[[[[[[2]]]]]]}", Limits { max_object_bytes: 1000, max_depth: 5 });
        assert_eq!(fast, slow);
        let big = format!("{{\"s\":\"{}\"}}\n{{\"t\":1}}", "x".repeat(5000));
        let [fast, slow] = split_both(big.as_bytes(), Limits { max_object_bytes: 1000, max_depth: 10 });
        assert_eq!(fast, slow);
        // Objects across the 64 KiB buffer boundary.
        let mut lines = String::new();
        for i in 0..3000 {
            lines.push_str(&format!("{{\"type\":\"x\",\"i\":{i},\"s\":\"{}\",\"l\":[{i},\"a\\\"b\"]}}\n", "y".repeat(i % 50)));
        }
        let [fast, slow] = split_both(lines.as_bytes(), Limits::default());
        assert_eq!(fast.as_ref().map(Vec::len).ok(), Some(3000));
        assert_eq!(fast, slow);
    }

    #[test]
    fn oversized_object_is_skipped_and_reported() {
        let big = format!("[{{\"s\": \"{}\"}}, {{\"t\": 1}}]", "x".repeat(5000));
        let got = split(&big, Limits { max_object_bytes: 1000, max_depth: 10 }).unwrap();
        assert_eq!(got[0].1, "too large: 5008");
        assert_eq!(got[1].1, r#"{"t":1}"#);
    }

    fn envelope(text: &str) -> Result<Vec<(String, String)>, StreamError> {
        items(|t, l, f| split_envelope(t, l, f), text, Limits::default())
    }

    #[test]
    fn taxii_envelope_objects_compacted_other_members_skipped() {
        let t = " {\"more\": false, \"objects\" : [ {\"a\": 1},\n 5, {\"objects\": [\"x\"]} ], \"next\": {\"n\": [1, 2]}} \n";
        let got = envelope(t).unwrap();
        assert_eq!(got, vec![
            ("$.objects[0]".to_owned(), r#"{"a":1}"#.to_owned()),
            ("$.objects[1]".to_owned(), "5".to_owned()),
            ("$.objects[2]".to_owned(), r#"{"objects":["x"]}"#.to_owned()),
        ]);
        assert_eq!(envelope("{}").unwrap(), Vec::new());
        assert_eq!(envelope(r#"{"more": true}"#).unwrap(), Vec::new());
        assert_eq!(envelope(r#"{"objects": []}"#).unwrap(), Vec::new());
    }

    #[test]
    fn taxii_envelope_shape_and_syntax_errors_differ() {
        for (text, kind, says) in [
            ("[{\"a\": 1}]", StreamErrorKind::Container, "expected a TAXII envelope"),
            ("\"text\"", StreamErrorKind::Container, "expected a TAXII envelope"),
            ("{\"objects\": {\"a\": 1}}", StreamErrorKind::Container, "objects: expected a list"),
            ("{\"objects\": 7}", StreamErrorKind::Container, "objects: expected a list"),
            ("", StreamErrorKind::Syntax, "empty input"),
            ("xyz", StreamErrorKind::Syntax, "expected a json object"),
            ("{\"objects\": [{\"a\": 1}", StreamErrorKind::Syntax, "unexpected end of input"),
            ("{\"objects\": [{\"a\": 1}]} x", StreamErrorKind::Syntax, "after the envelope"),
            ("{\"objects\": [{\"a\": 1}]}{}", StreamErrorKind::Syntax, "after the envelope"),
            ("{\"objects\": {\"a\" 1}}", StreamErrorKind::Syntax, "member 'objects': invalid json"),
            ("{\"more\": tru, \"objects\": []}", StreamErrorKind::Syntax, "member 'more': invalid json"),
        ] {
            let e = envelope(text).expect_err(text);
            assert_eq!(e.kind, kind, "{text}: {e}");
            assert!(e.message.contains(says), "{text}: {e}");
        }
    }

    proptest::proptest! {
        /// Bad input: any bytes, and any cut or one-byte change of a valid
        /// envelope, give items or an error naming a place, never a panic.
        #[test]
        fn taxii_envelope_splitter_never_panics(
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            cut in 0usize..120,
            at in 0usize..120,
            byte in proptest::num::u8::ANY,
        ) {
            let _ = envelope(&String::from_utf8_lossy(&noise));
            let valid = br#"{"more":false,"objects":[{"type":"x","a":[1,{"b":"c\"]"}]},{"type":"y"}],"next":"2"}"#;
            let mut changed = valid[..cut.min(valid.len())].to_vec();
            let _ = envelope(&String::from_utf8_lossy(&changed));
            changed = valid.to_vec();
            let i = at % changed.len();
            changed[i] = byte;
            match envelope(&String::from_utf8_lossy(&changed)) {
                Ok(items) => proptest::prop_assert!(items.iter().all(|(path, _)| path.starts_with("$.objects["))),
                Err(e) => proptest::prop_assert!(e.line >= 1 && e.column >= 1 && !e.message.is_empty(), "{e:?}"),
            }
        }

        /// The compact path is a shortcut only: JSON lines with up to four
        /// bytes changed, inserted or removed (drawn mostly from the bytes
        /// that matter to a scanner: quotes, escapes, brackets, white
        /// space) give the same items, the same error and the same place
        /// with it as without it.
        #[test]
        fn the_compact_path_agrees_on_changed_lines(
            edits in proptest::collection::vec((0usize..400, 0u8..3, 0usize..24), 0..5),
            depth in 2usize..8,
        ) {
            const BYTES: &[u8] = b"\"\\{}[],: \n\tax1e-.\x7f\xc3\xa9/";
            let mut text = br#"{"type":"indicator","id":"indicator--1","pattern":"[file:name = 'a\"b\\c']","n":[1,-2.5e3,{"k":"}]"}],"t":true,"z":null}"#.to_vec();
            text.push(b'\n');
            text.extend_from_slice(br#"{"type":"bundle","id":"bundle--1","objects":[{"type":"x","s":"\u00e9\n"}]}"#);
            text.push(b'\n');
            text.extend_from_slice(br#"{"type":"note","content":"tab\there","object_refs":["a","b"]}"#);
            for (at, op, pick) in edits {
                let at = at % (text.len() + 1);
                let byte = BYTES[pick % BYTES.len()];
                match op {
                    0 if at < text.len() => text[at] = byte,
                    1 => text.insert(at, byte),
                    _ if at < text.len() => { text.remove(at); }
                    _ => {}
                }
            }
            let limits = Limits { max_object_bytes: 1 << 16, max_depth: depth };
            let [fast, slow] = split_both(&text, limits);
            proptest::prop_assert_eq!(fast, slow, "{}", String::from_utf8_lossy(&text));
        }
    }
}
