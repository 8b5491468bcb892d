//! `phalanx match`: telemetry checked against the indicators a user may
//! read (`--as USER`, from the local store) or an offline file
//! (`--indicators FILE`: a STIX bundle, JSON array or JSON lines of
//! indicators and observables, or a matcher snapshot). One JSON line per
//! match on standard output; counts on standard error.

use crate::Finished;
use crate::compressed;
use crate::node::{actor, open_store};
use anyhow::{Context, bail};
use phalanx_matcher::load::{Lines, compile_lines};
use phalanx_matcher::stream::{self, Input, LiveMatcher, RunOptions};
use phalanx_matcher::{AllowList, CompileOptions, CompileStats, Compiler, Format, Kind, Matcher};
use phalanx_store::{Query, Store, VersionFilter};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use crate::sightings::{Poster, Target};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Telemetry formats on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    /// Zeek (JSON, or the default tab-separated form) and Suricata EVE JSON field names together.
    Auto,
    /// Zeek logs (conn, dns, http, ssl, files, x509, smtp, notice), JSON or the default
    /// tab-separated form (told by its `#separator` first line).
    Zeek,
    /// Suricata EVE JSON.
    Eve,
    /// JSON lines, read only through --field NAME=KIND.
    Jsonl,
    /// Plain text: values found by their shape.
    Text,
}

/// Arguments of `phalanx match`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Sightings: one STIX sighting per matched indicator and run (count, first and last seen, \
where_sighted_refs = the sensor's organisation), a new version after each batch. They go to the local store as \
--as USER (the default without --indicators), to a node with --node/--token/--org, or to a bundle file with \
--sightings-out; --no-post writes none. Matches on observables (SCOs) are reported but not sighted (STIX sightings \
name SDOs only).\n\
Exit codes: 0 done, 1 some telemetry lines could not be decoded or some sightings were refused, 2 error.")]
pub struct MatchArgs {
    /// Match against what this user may read in the local store (default: the node's admin user),
    /// and post sightings as this user. With --indicators, only the latter.
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// Match against this file instead of the store: a STIX 2.1 bundle, JSON array or JSON lines of
    /// indicators and observables, or a snapshot from `phalanx export --format matcher-snapshot`;
    /// gzip-compressed or not.
    #[arg(long, value_name = "FILE")]
    pub indicators: Option<PathBuf>,
    /// Telemetry format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// Read JSON member NAME (nested members joined with '.') as KIND: ip, domain, domain-or-ip,
    /// url, email, md5, sha1, sha256, ssdeep, x509-sha1, x509-sha256, src-port, dst-port,
    /// protocol, time. Repeatable.
    #[arg(long = "field", value_name = "NAME=KIND")]
    pub fields: Vec<String>,
    /// MISP warninglist JSON file, or a directory searched for `*.json` lists: matches on the
    /// values they list are suppressed. Repeatable.
    #[arg(long = "allowlist", value_name = "FILE|DIR")]
    pub allowlists: Vec<PathBuf>,
    /// Do not post sightings.
    #[arg(long, conflicts_with_all = ["node", "sightings_out"])]
    pub no_post: bool,
    /// Post sightings to this node (base URL, e.g. https://node.example:8443) instead of the local store.
    #[arg(long, value_name = "URL", requires_all = ["token", "org"], conflicts_with = "sightings_out")]
    pub node: Option<String>,
    /// API token for --node.
    #[arg(long, env = "PHALANX_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The sensor's organisation (identity--…) for --node or --sightings-out: created_by_ref and
    /// where_sighted_refs of the sightings.
    #[arg(long, value_name = "ID")]
    pub org: Option<String>,
    /// Write the sightings to this STIX bundle file (for `phalanx import` on the node later)
    /// instead of posting them.
    #[arg(long, value_name = "FILE", requires = "org")]
    pub sightings_out: Option<PathBuf>,
    /// TLP of the sightings when they carry none (the write rules raise them to cover the
    /// indicator's label in any case).
    #[arg(long)]
    pub default_tlp: Option<String>,
    /// Label marking of the sightings, as JSON (local store only; see `phalanx import --default-label`).
    /// With --sightings-out, --default-tlp is written into the file as the sightings' TLP marking.
    #[arg(long)]
    pub default_label: Option<String>,
    /// Name of this sensor in sighting ids (default: the host name).
    #[arg(long)]
    pub sensor: Option<String>,
    /// With --follow, post sightings at most this often (seconds).
    #[arg(long, default_value_t = 30)]
    pub post_interval: u64,
    /// Keep reading files as they grow (like `tail -f`); with --indicators, the file is
    /// recompiled in the background when it changes and swapped in without pausing.
    #[arg(long)]
    pub follow: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Exercise context to read indicators from with --as (default: the real world).
    #[arg(long)]
    pub exercise: Option<String>,
    /// Telemetry files or directories (searched recursively, in name order, for *.json, *.jsonl,
    /// *.ndjson, *.log, *.eve and *.txt, each also as *.gz); `-` is standard input. An input that
    /// starts as gzip does is decompressed as it is read, whatever its name. --follow leaves *.gz
    /// files in directories out.
    #[arg(required = true, value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
}

/// `phalanx match`.
pub fn run(data: &Path, args: MatchArgs) -> anyhow::Result<Finished> {
    let format = match args.format {
        FormatArg::Auto => Format::Auto,
        FormatArg::Zeek => Format::Zeek,
        FormatArg::Eve => Format::Eve,
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Text => Format::Text,
    };
    let mut fields = Vec::new();
    for f in &args.fields {
        let Some((name, kind)) = f.split_once('=') else { bail!("--field {f}: expected NAME=KIND") };
        let Some(kind) = Kind::from_name(kind) else {
            let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            bail!("--field {f}: unknown kind '{kind}' (one of {})", kinds.join(", "));
        };
        fields.push((name.to_owned(), kind));
    }
    if matches!(format, Format::Jsonl) && fields.is_empty() {
        bail!("--format jsonl needs at least one --field NAME=KIND");
    }
    let inputs = open_inputs(&args.inputs, args.follow)?;

    let poster = open_poster(data, &args)?;
    let started = Instant::now();
    let (matcher, stats) = match &args.indicators {
        Some(path) => compile_file(path, load_allowlists(&args.allowlists)?)?,
        None => compile_store(data, args.as_user.as_deref(), args.exercise.clone(), load_allowlists(&args.allowlists)?)?,
    };
    report_compile(&stats, started.elapsed());
    let live = Arc::new(LiveMatcher::new(matcher));
    if args.follow {
        if let Some(path) = args.indicators.clone() {
            watch_indicators(Arc::clone(&live), path, args.allowlists.clone());
        }
    }

    let options = RunOptions {
        format,
        fields,
        workers: args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1),
        low_latency: args.follow,
        event_times: poster.is_some(),
        ..RunOptions::default()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let started = Instant::now();
    let poster = poster.map(|p| Arc::new(Mutex::new(p)));
    if let Some(p) = &poster {
        if args.follow {
            flush_periodically(Arc::clone(p), Duration::from_secs(args.post_interval.max(1)));
        }
    }
    let run = stream::run(&live, inputs, &options, &mut out, &mut |record| {
        if let Some(p) = &poster {
            lock(p).record(record);
        }
    });
    let posted = match &poster {
        Some(p) => {
            let mut p = lock(p);
            let flushed = p.flush();
            if let Err(e) = &flushed {
                eprintln!("phalanx match: posting sightings: {e:#}");
            }
            eprintln!(
                "sightings: {} versions written to {}, {} refused{}",
                p.written,
                p.describe(),
                p.refused,
                if p.observables > 0 { format!(", {} matches on observables not sighted", p.observables) } else { String::new() }
            );
            flushed.is_ok() && p.refused == 0
        }
        None => true,
    };
    let run = match run {
        Ok(r) => r,
        Err(stream::RunError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(Finished::Ok),
        Err(e) => return Err(e.into()),
    };
    let secs = started.elapsed().as_secs_f64();
    for e in &run.first_errors {
        eprintln!("phalanx match: {e}");
    }
    eprintln!(
        "matched {} lines ({:.1} MB) in {:.2} s ({:.0} lines/s): {} matches, {} lines not decoded",
        run.lines,
        run.bytes as f64 / 1e6,
        secs,
        run.lines as f64 / secs.max(1e-9),
        run.matches,
        run.decode_errors
    );
    // The process ends after this: a matcher of a million indicators is a
    // million small allocations, whose freeing one by one took 60 ms.
    std::mem::forget(live);
    Ok(if run.decode_errors > 0 || !posted { Finished::Partial } else { Finished::Ok })
}

/// Where this run's sightings go (`None`: nowhere).
fn open_poster(data: &Path, args: &MatchArgs) -> anyhow::Result<Option<Poster>> {
    if args.no_post {
        return Ok(None);
    }
    let sensor = args.sensor.clone().unwrap_or_else(host_name);
    if let Some(url) = &args.node {
        let (Some(token), Some(org)) = (&args.token, &args.org) else { bail!("--node needs --token and --org") };
        check_org(org)?;
        let target = Target::node(url, token, args.default_tlp.as_deref())?;
        return Ok(Some(Poster::new(target, org.clone(), &sensor)));
    }
    if let Some(path) = &args.sightings_out {
        let Some(org) = &args.org else { bail!("--sightings-out needs --org") };
        check_org(org)?;
        return Ok(Some(Poster::new(Target::file(path, args.default_tlp.as_deref())?, org.clone(), &sensor)));
    }
    if args.indicators.is_some() && args.as_user.is_none() {
        eprintln!("phalanx match: sightings are not posted (with --indicators, give --as USER, --node or --sightings-out; --no-post silences this)");
        return Ok(None);
    }
    let (target, org) = Target::local(data, args.as_user.as_deref(), args.default_tlp.as_deref(), args.default_label.as_deref())?;
    Ok(Some(Poster::new(target, org, &sensor)))
}

fn check_org(org: &str) -> anyhow::Result<()> {
    if !phalanx_labels::is_identity_id(org) {
        bail!("--org {org}: not an identity id (identity--<uuid>)");
    }
    Ok(())
}

/// The host name, else `sensor`.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sensor".into())
}

fn lock(p: &Mutex<Poster>) -> std::sync::MutexGuard<'_, Poster> {
    p.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// With `--follow`: posts the sightings gathered so far every `every`.
fn flush_periodically(poster: Arc<Mutex<Poster>>, every: Duration) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(every);
            if let Err(e) = lock(&poster).flush() {
                eprintln!("phalanx match: posting sightings: {e:#} (retried with the next batch)");
            }
        }
    });
}

fn report_compile(stats: &CompileStats, took: Duration) {
    eprintln!(
        "compiled {} rules from {} objects in {:.2} s ({} expired, {} revoked, {} superseded, {} ignored, {} refused)",
        stats.rules,
        stats.objects,
        took.as_secs_f64(),
        stats.expired,
        stats.revoked,
        stats.superseded,
        stats.ignored,
        stats.error_count
    );
    for e in stats.errors.iter().take(10) {
        eprintln!("phalanx match: refused {e}");
    }
}

fn load_allowlists(paths: &[PathBuf]) -> anyhow::Result<AllowList> {
    let mut allow = AllowList::default();
    for p in paths {
        let mut files = Vec::new();
        if p.is_dir() {
            walk(p, &mut files, &|f: &Path| f.extension().is_some_and(|e| e == "json"))?;
        } else {
            files.push(p.clone());
        }
        for f in files {
            let text = std::fs::read_to_string(&f).with_context(|| format!("--allowlist {}", f.display()))?;
            allow.add_misp_json(&text, &f.display().to_string())?;
        }
    }
    for skipped in &allow.skipped {
        eprintln!("phalanx match: warninglist entry skipped: {skipped}");
    }
    Ok(allow)
}

/// Compiles an indicators file: a matcher snapshot, or any input that
/// `phalanx import` reads (bundle, array, JSON lines). Snapshots and JSON
/// lines are read on every core; any other input, and JSON lines that are
/// not one plain object per line, go through the splitter.
pub fn compile_file(path: &Path, allow: AllowList) -> anyhow::Result<(Matcher, CompileStats)> {
    let context = || format!("--indicators {}", path.display());
    // The reader (decompressed when the file is gzip) and the file's size
    // when that is the size of what is read (a hint for the compiler).
    type Opened = (BufReader<Box<dyn Read + Send>>, Option<u64>);
    let open = || -> anyhow::Result<Opened> {
        let file = std::fs::File::open(path).with_context(context)?;
        let size = file.metadata().ok().map(|m| m.len());
        let (gzip, reader) = compressed::decompressed(file).with_context(context)?;
        Ok((BufReader::with_capacity(1 << 20, reader), if gzip { None } else { size }))
    };
    let (mut reader, bytes) = open()?;
    let head = reader.fill_buf().with_context(context)?;
    let lines = if head.starts_with(phalanx_matcher::SNAPSHOT_HEADER.as_bytes()) {
        Some(Lines::Snapshot)
    } else if head.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) == Some(&b'{') {
        Some(Lines::JsonLines)
    } else {
        None
    };
    if let Some(lines) = lines {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        if let Some(compiler) = compile_lines(reader, bytes, lines, CompileOptions::default(), workers).with_context(context)? {
            return Ok(compiler.build(allow));
        }
        reader = open()?.0;
    }
    let mut compiler = Compiler::new(CompileOptions::default());
    phalanx_model::stream::split_objects(reader, &phalanx_model::stream::Limits::default(), &mut |item| {
        if let phalanx_model::stream::Item::Object { bytes, .. } = item {
            compiler.add_json(&bytes);
        }
    })
    .map_err(|e| anyhow::anyhow!("--indicators {}: {e}", path.display()))?;
    Ok(compiler.build(allow))
}

/// The object types the matcher reads from the store.
pub const MATCHER_TYPES: &[&str] = &["indicator", "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file", "x509-certificate"];

fn compile_store(data: &Path, user: Option<&str>, exercise: Option<String>, allow: AllowList) -> anyhow::Result<(Matcher, CompileStats)> {
    let store = open_store(data)?;
    let mut actor = actor(&store, user)?;
    if let phalanx_labels::Subject::User(r) = &mut actor.subject {
        r.context = exercise;
    }
    let mut query = Query {
        types: MATCHER_TYPES.iter().map(|t| (*t).to_owned()).collect(),
        versions: VersionFilter::Last,
        limit: 5000,
        ..Query::default()
    };
    let mut compiler = Compiler::new(CompileOptions::default());
    loop {
        let page = store.query(&actor.subject, &query)?;
        // Indicators leave the store for this process: reads of RESTRICTED and above are audited.
        phalanx_auth::audit_reads(&store, &actor, &page.objects, "match")?;
        for object in &page.objects {
            compiler.add_json(object.json.as_bytes());
        }
        match page.next {
            Some(next) if page.more => query.after = Some(next),
            _ => break,
        }
    }
    Ok(compiler.build(allow))
}

/// Recompiles the indicators file in the background whenever it changes,
/// and swaps the new matcher in.
fn watch_indicators(live: Arc<LiveMatcher>, path: PathBuf, allowlists: Vec<PathBuf>) {
    std::thread::spawn(move || {
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let mut seen: Option<SystemTime> = mtime(&path);
        loop {
            std::thread::sleep(Duration::from_secs(2));
            let now = mtime(&path);
            if now == seen {
                continue;
            }
            seen = now;
            let started = Instant::now();
            match load_allowlists(&allowlists).and_then(|a| compile_file(&path, a)) {
                Ok((m, stats)) => {
                    report_compile(&stats, started.elapsed());
                    live.swap(m);
                }
                Err(e) => eprintln!("phalanx match: recompiling {}: {e:#} (the previous indicators stay in force)", path.display()),
            }
        }
    });
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}", dir.display()))?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out, keep)?;
        } else if keep(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn open_inputs(paths: &[PathBuf], follow: bool) -> anyhow::Result<Vec<Input>> {
    let mut files = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            files.push(p.clone());
        } else if p.is_dir() {
            // An archived, compressed log does not grow: following it
            // would wait at its end forever.
            walk(p, &mut files, &|f: &Path| is_telemetry_file(f) && !(follow && compressed::has_gzip_extension(f)))?;
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    let mut inputs = Vec::new();
    for p in files {
        let name = p.display().to_string();
        let raw: Box<dyn Read + Send> = if name == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(std::fs::File::open(&p).with_context(|| name.clone())?)
        };
        let (gzip, reader) = compressed::decompressed(raw).with_context(|| name.clone())?;
        let reader: Box<dyn Read + Send> = match (gzip, follow && name != "-") {
            (true, true) => bail!("{name}: a gzip-compressed file cannot be followed (it does not grow); leave out --follow to read it"),
            (false, true) => Box::new(Follow { file: reader }),
            (_, false) => reader,
        };
        inputs.push(Input { name, reader });
    }
    Ok(inputs)
}

/// Files taken from a directory: `*.json`, `*.jsonl`, `*.ndjson`, `*.log`,
/// `*.eve`, `*.txt`, each also gzip-compressed as `*.gz` (licences,
/// READMEs and the like are left alone).
fn is_telemetry_file(p: &Path) -> bool {
    compressed::inner_extension(p).is_some_and(|e| ["json", "jsonl", "ndjson", "log", "eve", "txt"].contains(&e))
}

/// A file read like `tail -f`: at its end, waits for more instead of ending.
struct Follow<R> {
    file: R,
}

impl<R: Read> Read for Follow<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.file.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
