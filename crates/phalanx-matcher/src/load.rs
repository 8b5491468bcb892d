//! Compiling a file of one object per line on every core.
//!
//! Workers take runs of whole lines from the reader in turn and read each
//! object with [`Parsed::new`]; the calling thread adds them to the
//! [`Compiler`] in input order, so the result is the one of adding the same
//! objects one by one.

use crate::index::{CompileOptions, Compiler, Parsed};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes of whole lines a worker takes at once.
const CHUNK_BYTES: usize = 4 << 20;

/// How the lines of a file are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// A matcher snapshot: a header line, then every non-blank line is an
    /// object (as [`Compiler::add_json`] takes it).
    Snapshot,
    /// JSON lines as `phalanx_model::stream::split_objects` reads them.
    /// Only lines it would hand on whole are read here: one compact-enough
    /// object per line, neither a bundle nor carrying `objects`, within its
    /// depth limit, and that serde reads.
    JsonLines,
}

/// Compiles the objects of `reader` (`input_bytes` long, if known) on
/// `workers` threads. `Ok(None)` (JSON lines only) when some line is not one
/// the splitter would hand on whole, or the reader failed: the caller then
/// reads the input with the splitter, which decides it (and reports its
/// errors) as always.
pub fn compile_lines<R: Read + Send>(reader: R, input_bytes: Option<u64>, lines: Lines, options: CompileOptions, workers: usize) -> std::io::Result<Option<Compiler>> {
    compile_chunked(reader, input_bytes, lines, options, workers, CHUNK_BYTES)
}

/// One run of lines read: its index, its length and its objects.
type Chunk = (u64, usize, Vec<Parsed>);

fn compile_chunked<R: Read + Send>(
    reader: R,
    input_bytes: Option<u64>,
    lines: Lines,
    options: CompileOptions,
    workers: usize,
    chunk_bytes: usize,
) -> std::io::Result<Option<Compiler>> {
    let mut compiler = Compiler::new(options.clone());
    let source = Mutex::new(Chunks { reader, chunk_bytes, carry: Vec::new(), next: 0, done: false, error: None });
    let give_up = AtomicBool::new(false);
    // Object lists come back empty for reuse.
    let spare: Mutex<Vec<Vec<Parsed>>> = Mutex::new(Vec::new());
    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(2 * workers.max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            let tx = tx.clone();
            let (source, give_up, options, spare) = (&source, &give_up, &options, &spare);
            scope.spawn(move || {
                let mut buf = Vec::new();
                while !give_up.load(Ordering::Relaxed) {
                    let next = lock(source).next(&mut buf, lines == Lines::Snapshot);
                    let index = match next {
                        Next::Chunk(index) => index,
                        Next::End => break,
                        Next::GiveUp => {
                            give_up.store(true, Ordering::Relaxed);
                            break;
                        }
                    };
                    let mut parsed = lock(spare).pop().unwrap_or_default();
                    if !parse_chunk(&buf, index, lines, options, &mut parsed) {
                        give_up.store(true, Ordering::Relaxed);
                        break;
                    }
                    if tx.send((index, buf.len(), parsed)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Chunks come in any order; objects are added in input order.
        let mut waiting = BTreeMap::new();
        let mut next = 0u64;
        for (index, bytes, parsed) in rx {
            waiting.insert(index, (bytes, parsed));
            while let Some((bytes, mut parsed)) = waiting.remove(&next) {
                if let (0, Some(total)) = (next, input_bytes) {
                    // Room for the objects of the whole input, as dense as the first run.
                    if bytes >= chunk_bytes / 2 && total > bytes as u64 {
                        let estimate = parsed.len() as u64 * total / bytes as u64;
                        compiler.reserve(usize::try_from(estimate + estimate / 32).unwrap_or(usize::MAX));
                    }
                }
                for p in parsed.drain(..) {
                    compiler.add(p);
                }
                lock(&spare).push(parsed);
                next += 1;
            }
        }
    });
    let source = source.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    match (source.error, lines) {
        (Some(e), Lines::Snapshot) => Err(e),
        (Some(_), Lines::JsonLines) => Ok(None),
        (None, _) if give_up.into_inner() => Ok(None),
        (None, _) => Ok(Some(compiler)),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the objects of one run of lines into `out`; `false` when a JSON
/// line is not one the splitter would hand on whole.
fn parse_chunk(buf: &[u8], index: u64, lines: Lines, options: &CompileOptions, out: &mut Vec<Parsed>) -> bool {
    let objects = memchr::memmem::Finder::new(b"\"objects\"");
    let bundle = memchr::memmem::Finder::new(b"\"bundle\"");
    let mut start = 0;
    if index == 0 && lines == Lines::Snapshot {
        // The header line.
        start = memchr::memchr(b'\n', buf).map_or(buf.len(), |n| n + 1);
    }
    let limits = phalanx_model::stream::Limits::default();
    while start < buf.len() {
        let end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |n| start + n + 1);
        let line = &buf[start..end];
        start = end;
        match lines {
            Lines::Snapshot => {
                if !line.iter().all(u8::is_ascii_whitespace) {
                    out.push(Parsed::new(line, options));
                }
            }
            Lines::JsonLines => {
                if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
                    continue;
                }
                // Each `{` or `[` opens at most one level: under the depth
                // limit without counting them exactly.
                let whole = memchr::memchr2_iter(b'{', b'[', line).count() <= limits.max_depth && objects.find(line).is_none() && bundle.find(line).is_none();
                if !whole {
                    return false;
                }
                let parsed = Parsed::new(line, options);
                if parsed.is_unreadable() {
                    return false;
                }
                out.push(parsed);
            }
        }
    }
    true
}

/// The reader, cut into runs of whole lines.
struct Chunks<R> {
    reader: R,
    /// Bytes of whole lines handed out at once (at least).
    chunk_bytes: usize,
    /// The start of a line that the last run did not end.
    carry: Vec<u8>,
    next: u64,
    done: bool,
    error: Option<std::io::Error>,
}

enum Next {
    Chunk(u64),
    End,
    /// A read failed, or a line is longer than a run (JSON lines).
    GiveUp,
}

impl<R: Read> Chunks<R> {
    /// Fills `buf` with the next run of whole lines (at least
    /// `chunk_bytes` unless the input ends). A line longer than that is
    /// read whole when `long_lines`, else it ends the reading.
    fn next(&mut self, buf: &mut Vec<u8>, long_lines: bool) -> Next {
        if self.error.is_some() {
            return Next::GiveUp;
        }
        if self.done && self.carry.is_empty() {
            return Next::End;
        }
        buf.clear();
        buf.append(&mut self.carry);
        while !self.done {
            let want = self.chunk_bytes.saturating_sub(buf.len()).max(self.chunk_bytes / 4).max(1);
            match self.reader.by_ref().take(want as u64).read_to_end(buf) {
                Ok(n) => self.done = n < want,
                Err(e) => {
                    self.error = Some(e);
                    return Next::GiveUp;
                }
            }
            if buf.len() >= self.chunk_bytes {
                match memchr::memrchr(b'\n', buf) {
                    Some(n) => {
                        self.carry.extend_from_slice(&buf[n + 1..]);
                        buf.truncate(n + 1);
                        break;
                    }
                    None if !long_lines => return Next::GiveUp,
                    None => {}
                }
            }
        }
        self.next += 1;
        Next::Chunk(self.next - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval;
    use crate::{AllowList, CompileStats};

    fn options() -> CompileOptions {
        CompileOptions { now_micros: eval::timestamp_micros("2026-01-01T00:00:00Z").unwrap() }
    }

    /// The matcher (as debug text, maps included) and counts of adding the
    /// splitter's objects one by one.
    fn one_by_one(text: &str) -> (String, CompileStats) {
        let mut c = Compiler::new(options());
        phalanx_model::stream::split_objects(text.as_bytes(), &phalanx_model::stream::Limits::default(), &mut |item| {
            if let phalanx_model::stream::Item::Object { bytes, .. } = item {
                c.add_json(&bytes);
            }
        })
        .unwrap();
        let (m, stats) = c.build(AllowList::default());
        (format!("{m:?}"), stats)
    }

    fn on_workers(text: &str, lines: Lines, workers: usize, chunk: usize) -> Option<(String, CompileStats)> {
        let c = compile_chunked(std::io::Cursor::new(text.as_bytes().to_vec()), Some(text.len() as u64), lines, options(), workers, chunk).unwrap()?;
        let (m, stats) = c.build(AllowList::default());
        Some((format!("{m:?}"), stats))
    }

    fn ind(n: u32, modified: &str, pattern: &str, extra: &str) -> String {
        format!(
            r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{n:012}","created":"2025-01-01T00:00:00Z","modified":"{modified}","pattern":"{pattern}","pattern_type":"stix","valid_from":"2025-01-01T00:00:00Z"{extra}}}"#
        )
    }

    #[test]
    fn json_lines_on_every_core_compile_as_one_by_one() {
        let old = "2025-01-01T00:00:00.000Z";
        let new = "2025-02-01T00:00:00.000Z";
        let mut lines = Vec::new();
        for n in 0..40u32 {
            lines.push(ind(n, old, &format!("[ipv4-addr:value = '192.0.2.{n}']"), ""));
            match n % 8 {
                0 => lines.push(ind(n, new, &format!("[domain-name:value = 'n{n}.example']"), "")),
                1 => lines.push(ind(n, new, "[ipv4-addr:value = '192.0.2.1']", r#","revoked":true"#)),
                2 => lines.push(ind(n, old, "[ipv4-addr:value = '198.51.100.1']", "")),
                3 => lines.push(ind(n, new, "[ipv4-addr:value = ", "")),
                4 => lines.push(ind(n, new, "[domain-name:value = 'a b'] AND [ipv4-addr:value = '1.2.3.4']", "")),
                5 => lines.push(ind(n, "2024-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.2']", r#","revoked":true"#)),
                6 => lines.push(ind(n, new, "[ipv4-addr:value = '198.51.100.3']", r#","valid_until":"2025-06-01T00:00:00Z""#)),
                _ => lines.push(ind(n, new, "[url:value = 'http://x.example/a'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.4']", "")),
            }
        }
        lines.push(r#"{"type":"domain-name","spec_version":"2.1","id":"domain-name--1","value":"sco.example"}"#.into());
        lines.push(r#"{"type":"domain-name","spec_version":"2.1","id":"domain-name--1","value":"not a domain"}"#.into());
        lines.push(r#"{"type":"ipv4-addr","id":"ipv4-addr--00000000-0000-4000-8000-000000000001","value":"203.0.113.0/24"}"#.into());
        lines.push(r#"{"type":"indicator","id":"ipv4-addr--00000000-0000-4000-8000-000000000001","pattern":"[ipv4-addr:value = '203.0.113.9']"}"#.into());
        lines.push(r#"{"type":"ipv4-addr","id":"indicator--00000000-0000-4000-8000-000000000001","value":"203.0.113.7"}"#.into());
        lines.push(r#"{"type":"indicator","pattern":"[ipv4-addr:value = '203.0.113.8']"}"#.into());
        lines.push(r#"{"type":"malware","id":"malware--1"}"#.into());
        lines.push("   ".into());
        lines.push(ind(99, new, "[email-addr:value = 'Bob@Example.org']", "").replace('}', "}\r"));
        let text = lines.join("\n");
        let want = one_by_one(&text);
        assert!(want.1.superseded > 0 && want.1.revoked > 0 && want.1.expired > 0 && want.1.error_count > 0 && want.1.ignored > 0, "{:?}", want.1);
        for workers in [1, 2, 3] {
            for chunk in [512, 700, 4096, 1 << 20] {
                assert_eq!(on_workers(&text, Lines::JsonLines, workers, chunk).as_ref(), Some(&want), "{workers} workers, chunks of {chunk}");
            }
        }
        let snapshot = format!("{}\n{text}\n\n", crate::SNAPSHOT_HEADER);
        assert_eq!(on_workers(&snapshot, Lines::Snapshot, 2, 1), Some(want));
    }

    #[test]
    fn json_lines_the_splitter_reads_otherwise_are_left_to_it() {
        let a = ind(1, "2025-01-01T00:00:00Z", "[ipv4-addr:value = '192.0.2.1']", "");
        for text in [
            format!("{a}\n{{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[{a}]}}"),
            format!("{a}\n[{a}]"),
            format!("{a}\n{a}{a}"),
            format!("{a}\n{{\"type\":\n\"indicator\"}}"),
            format!("{a}\n{{\"type\":\"indicator\""),
            format!("{a}\n{{}}"),
            format!("{a}\n{}{{\"type\":\"x\"}}{}", "{\"a\":[".repeat(60), "]}".repeat(60)),
        ] {
            assert_eq!(on_workers(&text, Lines::JsonLines, 2, 64), None, "{text}");
        }
        let long = format!("{a}\n{}", ind(2, "2025-01-01T00:00:00Z", &"[ipv4-addr:value = '192.0.2.2'] OR ".repeat(3000), ""));
        assert_eq!(on_workers(&long, Lines::JsonLines, 2, 1 << 16), None);
        assert!(on_workers(&long, Lines::Snapshot, 2, 1 << 16).is_some());
    }
}
