//! Matching telemetry streams on every core.
//!
//! A reader thread cuts the inputs into chunks of whole lines; worker
//! threads decode and look up each line against the matcher current at
//! that chunk (loaded from [`LiveMatcher`], so a recompile swaps in between
//! chunks and never stalls a worker); the calling thread puts results back
//! in input order, completes patterns of several observations
//! ([`Sequencer`]) and writes one JSON line per match.

use crate::eval::{self, Timeline};
use crate::index::{Matcher, event_objects};
use crate::telemetry::{self, Field, FieldMap, Format, ZeekTsvHeader};
use phalanx_pattern::Pattern;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// The live matcher: readers take the current compiled matcher; a
/// recompile publishes a new one atomically.
#[derive(Debug)]
pub struct LiveMatcher {
    current: arc_swap::ArcSwap<Matcher>,
}

impl LiveMatcher {
    /// A live matcher starting with `m`.
    pub fn new(m: Matcher) -> LiveMatcher {
        LiveMatcher { current: arc_swap::ArcSwap::from_pointee(m) }
    }
    /// The matcher in force now.
    pub fn load(&self) -> Arc<Matcher> {
        self.current.load_full()
    }
    /// Publishes a new matcher; work in progress finishes on the old one.
    pub fn swap(&self, m: Matcher) {
        self.current.store(Arc::new(m));
    }
    /// Builds a matcher on a background thread and publishes it when done.
    pub fn recompile_in_background(self: &Arc<Self>, build: impl FnOnce() -> Matcher + Send + 'static) -> std::thread::JoinHandle<()> {
        let me = Arc::clone(self);
        std::thread::spawn(move || me.swap(build()))
    }
}

/// One telemetry input.
pub struct Input {
    /// Its name in match records (a path, or `-`).
    pub name: String,
    /// Its bytes.
    pub reader: Box<dyn Read + Send>,
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The input format.
    pub format: Format,
    /// Extra `--field NAME=KIND` entries on top of the format's own map.
    pub fields: Vec<(String, telemetry::Kind)>,
    /// Worker threads (at least 1).
    pub workers: usize,
    /// Bytes per chunk handed to a worker.
    pub chunk_bytes: usize,
    /// Hand on a partial chunk as soon as a read returns short (for `--follow`).
    pub low_latency: bool,
    /// Read event times even when no pattern needs them (for the first and
    /// last seen of sightings); otherwise time fields are skipped unless a
    /// complex pattern asks for them.
    pub event_times: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            format: Format::Auto,
            fields: Vec::new(),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            chunk_bytes: 1 << 20,
            low_latency: false,
            event_times: false,
        }
    }
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Lines read (empty lines included).
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Lines that could not be decoded.
    pub decode_errors: u64,
    /// The first few decode errors, as `input:line: message`.
    pub first_errors: Vec<String>,
    /// Match records written.
    pub matches: u64,
}

/// One match, as written (and as the sightings aggregation reads it).
#[derive(Debug, Clone, PartialEq)]
pub struct MatchRecord {
    /// The indicator or observable id.
    pub indicator: String,
    /// The event field that matched (`None` for patterns over several
    /// events or without a key).
    pub field: Option<String>,
    /// The matched value in normal form.
    pub value: String,
    /// The event time, microseconds since the epoch, when the event has one.
    pub time: Option<i64>,
    /// `input:line` of the event.
    pub source: String,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Reading an input failed.
    #[error("reading {input}: {source}")]
    Read {
        /// The input's name.
        input: String,
        /// The error.
        source: std::io::Error,
    },
    /// Writing the match records failed.
    #[error("writing matches: {0}")]
    Write(#[source] std::io::Error),
}

struct Chunk {
    seq: u64,
    input: Arc<str>,
    first_line: u64,
    data: Vec<u8>,
    /// For a Zeek log in the tab-separated form: the header its data lines
    /// are read against (a chunk never spans two headers).
    zeek: Option<Arc<ZeekTsvHeader>>,
}

struct Done {
    seq: u64,
    out: Vec<u8>,
    records: Vec<MatchRecord>,
    pending: Vec<SeqHit>,
    lines: u64,
    bytes: u64,
    errors: u64,
    first_errors: Vec<String>,
}

struct SeqHit {
    rule_id: Arc<str>,
    pattern: Arc<Pattern>,
    observation: u16,
    time: i64,
    source: String,
    event: Vec<u8>,
}

/// Runs `inputs` through the matcher, writing JSON lines to `out` and
/// handing each record to `on_match`.
pub fn run(
    live: &LiveMatcher,
    inputs: Vec<Input>,
    options: &RunOptions,
    out: &mut dyn Write,
    on_match: &mut dyn FnMut(&MatchRecord),
) -> Result<RunStats, RunError> {
    let workers = options.workers.max(1);
    let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(workers * 2);
    let (done_tx, done_rx) = sync_channel::<Done>(workers * 2);
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    // Chunk buffers come back from the workers for reuse: no fresh pages to
    // fault in for every megabyte read.
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let mut stats = RunStats::default();
    std::thread::scope(|scope| -> Result<(), RunError> {
        let spare = &spare;
        let reader = scope.spawn({
            let options = options.clone();
            move || read_chunks(inputs, &options, chunk_tx, spare)
        });
        for _ in 0..workers {
            let rx = Arc::clone(&chunk_rx);
            let tx = done_tx.clone();
            scope.spawn(move || work(live, rx, tx, options, spare));
        }
        drop(done_tx);
        let result = collect(done_rx, out, on_match, &mut stats, options.low_latency);
        let read = reader.join().unwrap_or_else(|_| Err(RunError::Write(std::io::Error::other("reader thread panicked"))));
        result?;
        read
    })?;
    Ok(stats)
}

fn read_chunks(inputs: Vec<Input>, options: &RunOptions, tx: SyncSender<Chunk>, spare: &Mutex<Vec<Vec<u8>>>) -> Result<(), RunError> {
    let mut seq = 0u64;
    // Zeek's tab-separated logs are told by their first line.
    let tsv_allowed = matches!(options.format, Format::Auto | Format::Zeek);
    for mut input in inputs {
        let name: Arc<str> = input.name.clone().into();
        let mut line = 1u64;
        let mut first = true;
        let mut zeek: Option<Arc<ZeekTsvHeader>> = None;
        let mut buf: Vec<u8> = Vec::with_capacity(options.chunk_bytes + 4096);
        loop {
            if buf.len() >= buf.capacity() {
                buf.reserve(options.chunk_bytes);
            }
            let start = buf.len();
            let want = (options.chunk_bytes + 4096).saturating_sub(start).max(4096);
            buf.resize(start + want, 0);
            let n = match input.reader.read(&mut buf[start..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
                Err(e) => return Err(RunError::Read { input: input.name.clone(), source: e }),
            };
            buf.truncate(start + n);
            let eof = n == 0;
            let flush = eof || buf.len() >= options.chunk_bytes || (options.low_latency && n < want);
            if !flush {
                continue;
            }
            // Hand on whole lines; keep the tail for the next chunk (at EOF, everything).
            let cut = if eof { buf.len() } else { memchr::memrchr(b'\n', &buf).map_or(0, |p| p + 1) };
            if cut > 0 {
                let mut rest = spare.lock().ok().and_then(|mut s| s.pop()).unwrap_or_default();
                rest.clear();
                rest.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                let data = std::mem::replace(&mut buf, rest);
                if first {
                    first = false;
                    if tsv_allowed && ZeekTsvHeader::starts(&data) {
                        zeek = Some(Arc::new(ZeekTsvHeader::default()));
                    }
                }
                let parts = match &mut zeek {
                    None => vec![(data, None)],
                    Some(header) => zeek_parts(data, header),
                };
                for (data, zeek) in parts {
                    let lines = memchr::memchr_iter(b'\n', &data).count() as u64 + u64::from(!data.ends_with(b"\n"));
                    let chunk = Chunk { seq, input: Arc::clone(&name), first_line: line, data, zeek };
                    line += lines;
                    seq += 1;
                    if tx.send(chunk).is_err() {
                        return Ok(());
                    }
                }
            }
            if eof {
                break;
            }
        }
    }
    Ok(())
}

/// Cuts a chunk of a Zeek TSV log before each header that follows data
/// lines (a `#close` and the next log's `#separator`, when logs were
/// concatenated), reads each part's leading header lines into `header`, and
/// pairs each part with the header its data lines are read against.
fn zeek_parts(data: Vec<u8>, header: &mut Arc<ZeekTsvHeader>) -> Vec<(Vec<u8>, Option<Arc<ZeekTsvHeader>>)> {
    // Where each part starts: 0, and every header line after a data line.
    let mut starts = vec![0];
    let mut in_header = data.first() == Some(&b'#');
    let mut at = 0;
    while let Some(n) = memchr::memchr(b'\n', &data[at..]) {
        at += n + 1;
        let is_header = data.get(at) == Some(&b'#');
        if is_header && !in_header {
            starts.push(at);
        }
        in_header = is_header;
    }
    let mut read_header = |part: &[u8]| {
        let mut rest = part;
        while rest.first() == Some(&b'#') {
            let n = memchr::memchr(b'\n', rest).map_or(rest.len(), |n| n + 1);
            let line = &rest[..n];
            Arc::make_mut(header).read_line(line.strip_suffix(b"\n").unwrap_or(line));
            rest = &rest[n..];
        }
        Some(Arc::clone(header))
    };
    if starts.len() == 1 {
        // The usual case: one part, no copy.
        let zeek = read_header(&data);
        return vec![(data, zeek)];
    }
    let mut parts = Vec::with_capacity(starts.len());
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(data.len());
        let part = &data[start..end];
        let zeek = read_header(part);
        parts.push((part.to_vec(), zeek));
    }
    parts
}

fn work(live: &LiveMatcher, rx: Arc<Mutex<Receiver<Chunk>>>, tx: SyncSender<Done>, options: &RunOptions, spare: &Mutex<Vec<Vec<u8>>>) {
    let mut cached: Option<(usize, Arc<Matcher>, FieldMap)> = None;
    loop {
        let chunk = {
            let Ok(guard) = rx.lock() else { return };
            match guard.recv() {
                Ok(c) => c,
                Err(_) => return,
            }
        };
        let matcher = live.load();
        // The field map depends on the matcher (kinds no rule uses are skipped).
        let key = Arc::as_ptr(&matcher) as usize;
        if cached.as_ref().is_none_or(|(k, _, _)| *k != key) {
            let mut map = FieldMap::for_format(options.format);
            for (name, kind) in &options.fields {
                map.insert(name, *kind);
            }
            map.retain(|k| matcher.wants(k) || (options.event_times && k == telemetry::Kind::Time));
            cached = Some((key, Arc::clone(&matcher), map));
        }
        let Some((_, matcher, map)) = cached.as_ref() else { return };
        let done = match_chunk(matcher, map, options.format, &chunk);
        if let Ok(mut spare) = spare.lock() {
            // As many as can be in flight; more would only hold memory.
            if spare.len() < 4 * options.workers.max(1) {
                spare.push(chunk.data);
            }
        }
        if tx.send(done).is_err() {
            return;
        }
    }
}

fn match_chunk(m: &Matcher, map: &FieldMap, format: Format, chunk: &Chunk) -> Done {
    let mut done = Done {
        seq: chunk.seq,
        out: Vec::new(),
        records: Vec::new(),
        pending: Vec::new(),
        lines: 0,
        bytes: chunk.data.len() as u64,
        errors: 0,
        first_errors: Vec::new(),
    };
    let mut fields: Vec<Field<'_>> = Vec::with_capacity(32);
    let mut hits = Vec::new();
    let sequencing = m.needs_sequencing();
    let mut line_no = chunk.first_line;
    // A Zeek TSV chunk's columns in the field map (one header a chunk).
    let mut zeek_columns: Option<Vec<Option<(telemetry::Kind, u16)>>> = None;
    let data = chunk.data.strip_suffix(b"\n").unwrap_or(&chunk.data);
    // The lines of `data` (as `split` on b'\n' gives them), found with memchr.
    let mut rest = Some(data);
    while let Some(d) = rest {
        let raw = match memchr::memchr(b'\n', d) {
            Some(n) => {
                rest = Some(&d[n + 1..]);
                &d[..n]
            }
            None => {
                rest = None;
                d
            }
        };
        if done.lines > 0 {
            line_no += 1;
        }
        done.lines += 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        fields.clear();
        hits.clear();
        let is_json = format != Format::Text;
        if let Some(header) = &chunk.zeek {
            if line.first() == Some(&b'#') {
                continue;
            }
            let columns = zeek_columns.get_or_insert_with(|| telemetry::zeek_tsv_columns(header, map));
            if let Err(e) = telemetry::decode_zeek_tsv(line, header, columns, &mut fields) {
                done.errors += 1;
                if done.first_errors.len() < 5 {
                    done.first_errors.push(format!("{}:{line_no}: {e}", chunk.input));
                }
                continue;
            }
        } else if is_json {
            if let Err(e) = telemetry::decode_json(line, map, &mut fields) {
                done.errors += 1;
                if done.first_errors.len() < 5 {
                    done.first_errors.push(format!("{}:{line_no}: {e}", chunk.input));
                }
                continue;
            }
        } else {
            match std::str::from_utf8(line) {
                Ok(text) => telemetry::decode_text(text, &mut fields),
                Err(_) => {
                    done.errors += 1;
                    if done.first_errors.len() < 5 {
                        done.first_errors.push(format!("{}:{line_no}: line is not utf-8", chunk.input));
                    }
                    continue;
                }
            }
        }
        m.lookup(&fields, &mut hits);
        if hits.is_empty() {
            continue;
        }
        let time = fields.iter().find(|f| f.kind == telemetry::Kind::Time).and_then(|f| telemetry::event_time_micros(&f.value));
        // A Zeek TSV line is reported as the JSON object Zeek would write.
        let tsv_event = chunk.zeek.as_ref().and_then(|h| telemetry::zeek_tsv_event_json(line, h).ok());
        let event = tsv_event.as_deref().unwrap_or(line);
        let mut objects = None;
        let mut seen: Vec<(u32, u16)> = Vec::new();
        for hit in &hits {
            let rule = &m.rules[hit.leaf.rule as usize];
            if seen.contains(&(hit.leaf.rule, hit.leaf.observation)) {
                continue;
            }
            if !rule.simple() {
                let obs = objects.get_or_insert_with(|| event_objects(&fields, time.unwrap_or(0)));
                if !m.confirm(hit.leaf, obs) {
                    continue;
                }
            }
            seen.push((hit.leaf.rule, hit.leaf.observation));
            let source = format!("{}:{line_no}", chunk.input);
            let field = hit.field.map(|f| map.name(f).to_owned()).filter(|_| hit.field.is_some());
            let single = rule.pattern.as_ref().is_none_or(|p| !sequencing || is_single(p));
            if single {
                let record = MatchRecord { indicator: rule.id.to_string(), field, value: hit.value.clone(), time, source };
                write_record(&mut done.out, &record, event, is_json);
                done.records.push(record);
            } else if let Some(pattern) = &rule.pattern {
                done.pending.push(SeqHit {
                    rule_id: Arc::from(rule.id.to_string()),
                    pattern: Arc::clone(pattern),
                    observation: hit.leaf.observation,
                    time: time.unwrap_or(0),
                    source,
                    event: event.to_vec(),
                });
            }
        }
    }
    done
}

fn is_single(p: &Pattern) -> bool {
    matches!(&p.expr, phalanx_pattern::ObservationExpr::Observation { qualifiers, .. } if qualifiers.is_empty())
}

/// Writes one match record as a JSON line: `indicator`, `field`, `value`,
/// `source`, `time` (when known) and the `event` (the JSON object as read,
/// or the text line as a string).
pub fn write_record(out: &mut Vec<u8>, r: &MatchRecord, event: &[u8], event_is_json: bool) {
    let mut head = serde_json::Map::new();
    head.insert("indicator".into(), r.indicator.clone().into());
    head.insert("field".into(), r.field.clone().map_or(serde_json::Value::Null, Into::into));
    head.insert("value".into(), r.value.clone().into());
    head.insert("source".into(), r.source.clone().into());
    if let Some(t) = r.time {
        head.insert("time".into(), phalanx_model::Timestamp::from_unix_micros(t).to_string().into());
    }
    let head = serde_json::Value::Object(head).to_string();
    out.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    out.extend_from_slice(b",\"event\":");
    if event_is_json {
        out.extend_from_slice(event);
    } else {
        let text = String::from_utf8_lossy(event);
        out.extend_from_slice(serde_json::Value::String(text.into_owned()).to_string().as_bytes());
    }
    out.extend_from_slice(b"}\n");
}

fn collect(rx: Receiver<Done>, out: &mut dyn Write, on_match: &mut dyn FnMut(&MatchRecord), stats: &mut RunStats, flush_each: bool) -> Result<(), RunError> {
    let mut next = 0u64;
    let mut waiting: BTreeMap<u64, Done> = BTreeMap::new();
    let mut sequencer = Sequencer::default();
    let mut extra = Vec::new();
    for done in rx {
        waiting.insert(done.seq, done);
        while let Some(done) = waiting.remove(&next) {
            next += 1;
            stats.lines += done.lines;
            stats.bytes += done.bytes;
            stats.decode_errors += done.errors;
            for e in done.first_errors {
                if stats.first_errors.len() < 5 {
                    stats.first_errors.push(e);
                }
            }
            out.write_all(&done.out).map_err(RunError::Write)?;
            for r in &done.records {
                on_match(r);
            }
            stats.matches += done.records.len() as u64;
            for hit in done.pending {
                if let Some(record) = sequencer.feed(&hit) {
                    extra.clear();
                    write_record(&mut extra, &record, &hit.event, !hit.event.first().is_some_and(|b| *b != b'{'));
                    out.write_all(&extra).map_err(RunError::Write)?;
                    on_match(&record);
                    stats.matches += 1;
                }
            }
            if flush_each {
                out.flush().map_err(RunError::Write)?;
            }
        }
    }
    out.flush().map_err(RunError::Write)
}

/// Most events kept per pattern while waiting for its other observations.
pub const SEQUENCE_HISTORY: usize = 256;

/// Completes patterns of several observations over events in input order:
/// each event that satisfies one observation is kept (at most
/// [`SEQUENCE_HISTORY`] per pattern); when the kept events satisfy the whole
/// pattern (AND, OR, FOLLOWEDBY, WITHIN, REPEATS, START/STOP, evaluated as
/// [`crate::eval`] does with each event one instance), a match is written for
/// the event that completed it and the history of that pattern restarts.
#[derive(Debug, Default)]
pub struct Sequencer {
    history: HashMap<Arc<str>, VecDeque<(i64, u16)>>,
}

impl Sequencer {
    fn feed(&mut self, hit: &SeqHit) -> Option<MatchRecord> {
        let h = self.history.entry(Arc::clone(&hit.rule_id)).or_default();
        if h.len() >= SEQUENCE_HISTORY {
            h.pop_front();
        }
        h.push_back((hit.time, hit.observation));
        let timeline = Timeline { intervals: h.iter().map(|&(t, _)| (t, t)).collect(), counts: vec![1; h.len()] };
        let entries: Vec<(i64, u16)> = h.iter().copied().collect();
        let mut leaf = |k: usize, _: &phalanx_pattern::ComparisonExpr| -> Result<Vec<usize>, eval::EvalError> {
            Ok(entries.iter().enumerate().filter(|(_, (_, o))| usize::from(*o) == k).map(|(i, _)| i).collect())
        };
        let complete = eval::bindings(&hit.pattern.expr, &timeline, &mut leaf, &mut 0).is_ok_and(|b| !b.is_empty());
        if !complete {
            return None;
        }
        h.clear();
        Some(MatchRecord { indicator: hit.rule_id.to_string(), field: None, value: String::new(), time: Some(hit.time), source: hit.source.clone() })
    }
}

/// Reads a whole `BufRead` into [`Input`] form (for callers holding a `BufRead`).
pub fn input_from_bufread(name: &str, reader: impl BufRead + Send + 'static) -> Input {
    Input { name: name.to_owned(), reader: Box::new(reader) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AllowList, CompileOptions, Compiler};

    fn matcher(objects: &[&str], allow: AllowList) -> Matcher {
        let mut c = Compiler::new(CompileOptions { now_micros: eval::timestamp_micros("2026-01-01T00:00:00Z").unwrap() });
        for o in objects {
            c.add_json(o.as_bytes());
        }
        let (m, stats) = c.build(allow);
        assert_eq!(stats.error_count, 0, "{:?}", stats.errors);
        m
    }

    fn ind(id: &str, pattern: &str, extra: &str) -> String {
        format!(r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--{id}","created":"2025-01-01T00:00:00.000Z","modified":"2025-01-01T00:00:00.000Z","pattern":"{}","pattern_type":"stix","valid_from":"2025-01-01T00:00:00Z"{extra}}}"#, pattern.replace('\\', "\\\\").replace('"', "\\\""))
    }

    fn run_lines(m: Matcher, lines: &str, format: Format) -> (Vec<serde_json::Value>, RunStats) {
        let live = LiveMatcher::new(m);
        let mut out = Vec::new();
        let options = RunOptions { format, workers: 2, chunk_bytes: 64, ..RunOptions::default() };
        let input = Input { name: "t".into(), reader: Box::new(std::io::Cursor::new(lines.as_bytes().to_vec())) };
        let stats = run(&live, vec![input], &options, &mut out, &mut |_| {}).expect("runs");
        let text = String::from_utf8(out).unwrap();
        (text.lines().map(|l| serde_json::from_str(l).expect("each match is a json line")).collect(), stats)
    }

    fn ids(v: &[serde_json::Value]) -> Vec<String> {
        let mut ids: Vec<String> = v.iter().map(|r| r["indicator"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn field_exact_matches_with_cidr_subdomains_and_no_substring_false_positives() {
        let m = matcher(
            &[
                &ind("1", "[ipv4-addr:value = '198.51.100.7']", ""),
                &ind("2", "[ipv4-addr:value ISSUBSET '203.0.113.0/24']", ""),
                &ind("3", "[domain-name:value = 'Evil.Example']", ""),
                &ind("4", "[domain-name:value LIKE '%.bad.example']", ""),
                &ind("5", "[domain-name:value = 'sub.example']", r#","x_phalanx_match_subdomains":true"#),
                r#"{"type":"domain-name","spec_version":"2.1","id":"domain-name--6","value":"sco.example"}"#,
            ],
            AllowList::default(),
        );
        let lines = [
            r#"{"_path":"dns","id.orig_h":"10.0.0.1","id.resp_h":"198.51.100.7","query":"evil.example."}"#,
            r#"{"_path":"dns","id.orig_h":"203.0.113.200","query":"x.y.bad.example"}"#,
            r#"{"_path":"dns","query":"bad.example","answers":["notevil.example","198.51.100.77"]}"#,
            r#"{"_path":"dns","query":"a.sub.example","answers":["SCO.example"]}"#,
            "not json",
        ]
        .join("\n");
        let (recs, stats) = run_lines(m, &lines, Format::Zeek);
        assert_eq!(ids(&recs), ["domain-name--6", "indicator--1", "indicator--2", "indicator--3", "indicator--4", "indicator--5"]);
        let r1 = recs.iter().find(|r| r["indicator"] == "indicator--1").unwrap();
        assert_eq!(r1["field"], "id.resp_h");
        assert_eq!(r1["source"], "t:1");
        assert_eq!(r1["event"]["_path"], "dns");
        assert_eq!(stats.decode_errors, 1);
        assert!(stats.first_errors[0].starts_with("t:5:"), "{:?}", stats.first_errors);
    }

    #[test]
    fn zeek_tsv_logs_concatenated_are_read_against_their_own_headers() {
        let fp = "b2dafbcdbc75210672f137f27ce882ccb799887631655d4f11191d5a678e44fe";
        let m = matcher(
            &[
                &ind("1", "[ipv4-addr:value = '198.51.100.7']", ""),
                &ind("2", "[domain-name:value = 'evil.example']", ""),
                &ind("3", &format!("[x509-certificate:hashes.'SHA-256' = '{fp}']"), ""),
                &ind("4", "[domain-name:value = 'x.example']", ""),
            ],
            AllowList::default(),
        );
        // Lines 1-8 header, 9-12 data (12 is cut short), 13 #close; then a
        // second log with other columns and '|' between them: lines 14-20
        // header, 21 data.
        let dns = [
            r"#separator \x09",
            "#set_separator\t,",
            "#empty_field\t(empty)",
            "#unset_field\t-",
            "#path\tdns",
            "#open\t2024-04-12-19-29-12",
            "#fields\tts\tuid\tid.orig_h\tid.resp_h\tquery\tanswers",
            "#types\ttime\tstring\taddr\taddr\tstring\tvector[string]",
            "1521911720.865716\tC1\t10.0.0.1\t10.0.0.53\tevil.example\tother.example,198.51.100.7",
            "1521911721.000000\tC2\t10.0.0.1\t10.0.0.53\tfine.example\t(empty)",
            r"1521911722.000000	C3	-	10.0.0.53	x\x2eexample	-",
            "1521911723.000000\tC9",
            "#close\t2024-04-12-19-34-07",
        ];
        let ssl = [
            r"#separator \x7c",
            "#set_separator|;",
            "#empty_field|(empty)",
            "#unset_field|-",
            "#path|ssl",
            "#fields|ts|uid|id.orig_h|id.resp_h|server_name|cert_chain_fps",
            "#types|time|string|addr|addr|string|vector[string]",
            &format!("1521911724.5|C4|198.51.100.7|10.0.0.9|evil.example|{};{fp}", "a".repeat(64)),
        ];
        let lines = format!("{}\n{}\n", dns.join("\n"), ssl.join("\n"));
        let (recs, stats) = run_lines(m, &lines, Format::Auto);
        let mut got: Vec<String> = recs
            .iter()
            .map(|r| format!("{} {} {} {}", r["source"].as_str().unwrap(), r["indicator"].as_str().unwrap(), r["field"].as_str().unwrap(), r["value"].as_str().unwrap()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                "t:11 indicator--4 query x.example",
                "t:21 indicator--1 id.orig_h 198.51.100.7",
                "t:21 indicator--2 server_name evil.example",
                &format!("t:21 indicator--3 cert_chain_fps {fp}"),
                "t:9 indicator--1 answers 198.51.100.7",
                "t:9 indicator--2 query evil.example",
            ]
        );
        assert_eq!(stats.lines, 21);
        assert_eq!(stats.decode_errors, 1);
        assert_eq!(stats.first_errors, ["t:12: fewer columns than the #fields header names at byte 20"]);
        // The event is the object Zeek's JSON writer would give (as text);
        // an unset column is left out.
        let first = recs.iter().find(|r| r["source"] == "t:9").unwrap();
        assert_eq!(first["event"]["uid"], "C1");
        assert_eq!(first["event"]["answers"], serde_json::json!(["other.example", "198.51.100.7"]));
        let third = recs.iter().find(|r| r["source"] == "t:11").unwrap();
        assert!(third["event"].get("id.orig_h").is_none() && third["event"]["answers"].is_null(), "{third}");
        // Under --format eve or text the same bytes are not read as Zeek TSV.
        let m = matcher(&[&ind("1", "[ipv4-addr:value = '198.51.100.7']", "")], AllowList::default());
        let (recs, stats) = run_lines(m, &lines, Format::Eve);
        assert!(recs.is_empty());
        assert_eq!(stats.decode_errors, 21);
    }

    #[test]
    fn revoked_expired_and_superseded_indicators_drop_out() {
        let mut c = Compiler::new(CompileOptions { now_micros: eval::timestamp_micros("2026-01-01T00:00:00Z").unwrap() });
        c.add_json(ind("1", "[ipv4-addr:value = '192.0.2.1']", r#","valid_until":"2025-06-01T00:00:00Z""#).as_bytes());
        c.add_json(ind("2", "[ipv4-addr:value = '192.0.2.2']", r#","revoked":true"#).as_bytes());
        c.add_json(ind("3", "[ipv4-addr:value = '192.0.2.3']", "").as_bytes());
        // a newer version of 3 revokes it
        c.add_json(ind("3", "[ipv4-addr:value = '192.0.2.3']", "").replace("\"modified\":\"2025-01-01", "\"modified\":\"2025-02-01").replace("\"pattern_type\"", "\"revoked\":true,\"pattern_type\"").as_bytes());
        c.add_json(b"{\"type\":\"indicator\"");
        let (m, stats) = c.build(AllowList::default());
        assert_eq!((stats.expired, stats.revoked, stats.rules, stats.error_count), (1, 2, 0, 1));
        let (recs, _) = run_lines(m, r#"{"id.orig_h":"192.0.2.1","id.resp_h":"192.0.2.3"}"#, Format::Zeek);
        assert!(recs.is_empty());
    }

    #[test]
    fn allow_lists_suppress_matches() {
        let mut allow = AllowList::default();
        allow.add_misp_json(r#"{"name":"rfc1918","type":"cidr","list":["10.0.0.0/8"]}"#, "x").unwrap();
        let m = matcher(&[&ind("1", "[ipv4-addr:value ISSUBSET '10.0.0.0/16']", ""), &ind("2", "[ipv4-addr:value = '192.0.2.9']", "")], allow);
        let (recs, _) = run_lines(m, r#"{"id.orig_h":"10.0.3.4","id.resp_h":"192.0.2.9"}"#, Format::Zeek);
        assert_eq!(ids(&recs), ["indicator--2"]);
    }

    #[test]
    fn and_inside_an_observation_is_checked_on_the_event() {
        let m = matcher(&[&ind("1", "[network-traffic:dst_ref.value = '192.0.2.5' AND network-traffic:dst_port = 443]", "")], AllowList::default());
        let lines = [
            r#"{"id.orig_h":"10.0.0.1","id.resp_h":"192.0.2.5","id.orig_p":5000,"id.resp_p":443,"proto":"tcp"}"#,
            r#"{"id.orig_h":"10.0.0.1","id.resp_h":"192.0.2.5","id.orig_p":5000,"id.resp_p":80,"proto":"tcp"}"#,
            r#"{"id.orig_h":"192.0.2.5","id.resp_h":"10.0.0.1","id.orig_p":443,"id.resp_p":5000,"proto":"tcp"}"#,
        ]
        .join("\n");
        let (recs, _) = run_lines(m, &lines, Format::Zeek);
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0]["source"], "t:1");
    }

    #[test]
    fn observations_across_events_complete_within_the_window() {
        let m = matcher(&[&ind("1", "([domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '192.0.2.8']) WITHIN 60 SECONDS", "")], AllowList::default());
        let lines = [
            r#"{"ts":"2025-01-01T00:00:00Z","query":"a.example"}"#,
            r#"{"ts":"2025-01-01T00:05:00Z","id.resp_h":"192.0.2.8"}"#,
            r#"{"ts":"2025-01-01T00:10:00Z","query":"a.example"}"#,
            r#"{"ts":"2025-01-01T00:10:30Z","id.resp_h":"192.0.2.8"}"#,
        ]
        .join("\n");
        let (recs, _) = run_lines(m, &lines, Format::Zeek);
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0]["source"], "t:4");
    }

    #[test]
    fn hashes_urls_emails_and_text_lines() {
        let m = matcher(
            &[
                &ind("1", "[file:hashes.'SHA-256' = 'AA000000000000000000000000000000000000000000000000000000000000FF']", ""),
                &ind("2", "[url:value = 'http://Evil.example:80/a/../x']", ""),
                &ind("3", "[email-addr:value = 'Bad@Evil.example']", ""),
                &ind("4", "[x509-certificate:hashes.'SHA-256' = 'b2dafbcdbc75210672f137f27ce882ccb799887631655d4f11191d5a678e44fe']", ""),
            ],
            AllowList::default(),
        );
        let text = "got aa000000000000000000000000000000000000000000000000000000000000ff from http://evil.example/x by bad@evil.example\n";
        let (recs, _) = run_lines(m, text, Format::Text);
        assert_eq!(ids(&recs), ["indicator--1", "indicator--2", "indicator--3"]);
        assert_eq!(recs[0]["event"].as_str(), Some(text.trim_end()));
        let m = matcher(&[&ind("4", "[x509-certificate:hashes.'SHA-256' = 'b2dafbcdbc75210672f137f27ce882ccb799887631655d4f11191d5a678e44fe']", "")], AllowList::default());
        let (recs, _) = run_lines(m, r#"{"_path":"ssl","cert_chain_fps":["B2DAFBCDBC75210672F137F27CE882CCB799887631655D4F11191D5A678E44FE"]}"#, Format::Zeek);
        assert_eq!(ids(&recs), ["indicator--4"]);
    }

    #[test]
    fn a_recompiled_matcher_is_swapped_in_while_readers_keep_the_old_one() {
        let live = Arc::new(LiveMatcher::new(matcher(&[&ind("1", "[ipv4-addr:value = '192.0.2.1']", "")], AllowList::default())));
        let old = live.load();
        let next = ind("2", "[ipv4-addr:value = '192.0.2.2']", "");
        live.recompile_in_background(move || matcher(&[&next], AllowList::default())).join().unwrap();
        assert_eq!(old.rules[0].id.to_string(), "indicator--1", "a reader holding the old matcher is not disturbed");
        assert_eq!(live.load().rules[0].id.to_string(), "indicator--2");
    }
}
