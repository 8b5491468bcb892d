//! `phalanx import`: streams objects from files, directories or stdin
//! into the store, one transaction per input file.

use crate::Finished;
use crate::compressed;
use crate::node::{actor, open_store};
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use phalanx_labels::{LabelDefaults, LabelMarking, Tlp};
use phalanx_model::stream::Limits;
use phalanx_store::ingest::{Ingest, IngestOptions, IngestReport};
use phalanx_store::pipeline::{Container, Sharing, write_stream};
use phalanx_store::SqliteStore;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// Arguments of `phalanx import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Act as this user (default: the node's admin user).
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// Exercise context to write into (default: the real world).
    #[arg(long)]
    pub exercise: Option<String>,
    /// TLP given explicitly to objects that carry none (clear, green,
    /// amber, amber+strict, red). Without it they take the node default
    /// (amber+strict) without a marking being added.
    #[arg(long)]
    pub default_tlp: Option<String>,
    /// Label marking given explicitly to objects that carry none, as JSON
    /// (the content of the Phalanx label extension, e.g.
    /// '{"policy":"EU","classification":"RESTRICTED","releasable_to":["LTU"]}').
    #[arg(long)]
    pub default_label: Option<String>,
    /// Have the data directory alone while each input is written: no other
    /// process can open it meanwhile (one that tries is told why), and the
    /// database's pages are written once, straight into its
    /// file, instead of to the write-ahead log and then copied by a
    /// checkpoint. For the initial load of a node: a store of more than
    /// 100,000 versions, or one that another process has open, is written
    /// shared, with a warning.
    #[arg(long)]
    pub exclusive: bool,
    /// Largest object accepted, in MiB.
    #[arg(long, default_value_t = 64)]
    pub max_object_mib: usize,
    /// Files or directories to read (directories: *.json, *.jsonl and *.ndjson, each also as
    /// *.gz); `-` reads standard input. An input that starts as gzip does is decompressed as it
    /// is read, whatever its name.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

/// Everything an input's import produced.
pub struct InputResult {
    /// What the ingest did, when the input was read to its end.
    pub report: Option<IngestReport>,
    /// Why the whole input was refused, when it was.
    pub fatal: Option<String>,
}

/// Collects the files to read under `input`, in a stable order.
fn collect_files(input: &str, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let path = Path::new(input);
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {input}"))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {input}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir() {
                collect_files(&entry.to_string_lossy(), out)?;
            } else if matches!(compressed::inner_extension(&entry), Some("json" | "jsonl" | "ndjson")) {
                out.push(entry);
            }
        }
    } else {
        out.push(path.to_owned());
    }
    Ok(())
}

/// Counts bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// Imports one input (already opened) in one transaction; `input_bytes`
/// is its length when known, and `sharing` how the transaction is begun
/// (see `write_stream`).
pub fn import_reader(
    store: &SqliteStore,
    actor: &phalanx_store::Actor,
    options: &IngestOptions,
    limits: Limits,
    reader: Box<dyn BufRead + Send>,
    input_bytes: Option<u64>,
    sharing: Sharing,
) -> anyhow::Result<InputResult> {
    let ingest = Ingest::new(store, actor, options.clone())?;
    let outcome = write_stream(store, ingest, limits, reader, Container::Stix, input_bytes, sharing, None)?;
    Ok(InputResult { report: outcome.report, fatal: outcome.fatal.map(|f| f.message) })
}

/// Builds the ingest options from the command line.
pub fn ingest_options(
    actor: &phalanx_store::Actor,
    default_tlp: Option<&str>,
    default_label: Option<&str>,
) -> anyhow::Result<IngestOptions> {
    let mut defaults = LabelDefaults::default();
    let mut explicit = false;
    if let Some(t) = default_tlp {
        defaults.tlp = t.parse::<Tlp>().map_err(|e| anyhow::anyhow!("--default-tlp: {e}"))?;
        explicit = true;
    }
    if let Some(l) = default_label {
        let marking: LabelMarking =
            serde_json::from_str(l).map_err(|e| anyhow::anyhow!("--default-label: not a label marking: {e}"))?;
        marking.validate().map_err(|e| anyhow::anyhow!("--default-label: {e}"))?;
        defaults.label = Some(marking);
        explicit = true;
    }
    Ok(IngestOptions { defaults, explicit_defaults: explicit, origin: actor.origin(), signed_by_originator: false })
}

/// `phalanx import`.
pub fn run(data: &Path, args: ImportArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let mut actor = actor(&store, args.as_user.as_deref())?;
    if let phalanx_labels::Subject::User(r) = &mut actor.subject {
        r.context = args.exercise.clone();
    }
    if !actor.user.role.can_write() {
        bail!("user '{}' has the role {} and may not write", actor.user.name, actor.user.role);
    }
    let options = ingest_options(&actor, args.default_tlp.as_deref(), args.default_label.as_deref())?;
    let limits = Limits { max_object_bytes: args.max_object_mib.max(1) << 20, ..Limits::default() };

    let mut files: Vec<Option<PathBuf>> = Vec::new();
    for input in &args.inputs {
        if input == "-" {
            files.push(None);
        } else {
            let mut found = Vec::new();
            collect_files(input, &mut found)?;
            if found.is_empty() {
                bail!("{input}: no .json, .jsonl or .ndjson files found (plain or .gz)");
            }
            files.extend(found.into_iter().map(Some));
        }
    }

    let terminal = std::io::stderr().is_terminal();
    // One write per line of a large report (a raised label per derived
    // object) cost more than the import's commit: buffer it.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut stored, mut unchanged, mut refused, mut failed_inputs) = (0u64, 0u64, 0u64, 0u64);
    for file in files {
        let name = file.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "-".into());
        let size = file.as_ref().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len());
        let bar = match (&file, terminal) {
            (Some(_), true) => {
                let bar = ProgressBar::new(size.unwrap_or(0));
                if let Ok(style) = ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} {eta}") {
                    bar.set_style(style);
                }
                bar.set_message(name.clone());
                bar
            }
            _ => ProgressBar::hidden(),
        };
        // The bar counts the bytes of the file, compressed or not.
        let raw: Box<dyn Read + Send> = match &file {
            Some(p) => Box::new(std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?),
            None => Box::new(std::io::stdin()),
        };
        let counted = Counting { inner: raw, bar: bar.clone() };
        let (gzip, reader) = compressed::decompressed(counted).with_context(|| format!("cannot read {name}"))?;
        // A plain file's length sizes the write's tables; a compressed
        // one's says little of what it holds.
        let input_bytes = if gzip { None } else { size };
        let reader = Box::new(BufReader::with_capacity(1 << 20, reader));
        let sharing = if args.exclusive { Sharing::Exclusive } else { Sharing::Shared };
        let result = import_reader(&store, &actor, &options, limits, reader, input_bytes, sharing)?;
        bar.finish_and_clear();
        match (result.report, result.fatal) {
            (Some(report), _) => {
                writeln!(
                    out,
                    "{name}: stored {}, unchanged {}, refused {}",
                    report.stored,
                    report.unchanged,
                    report.refused.len()
                )?;
                for r in &report.refused {
                    writeln!(out, "  refused {} {}: {}", r.path, r.id.as_deref().unwrap_or("-"), r.reason)?;
                }
                for r in &report.raised {
                    writeln!(out, "  raised {}: label {} -> {}", r.id, r.from, r.to)?;
                }
                if !report.warnings.is_empty() {
                    writeln!(out, "  warnings: {}", report.warnings.len())?;
                    for w in report.warnings.iter().take(5) {
                        writeln!(out, "    {w}")?;
                    }
                }
                stored += report.stored;
                unchanged += report.unchanged;
                refused += report.refused.len() as u64;
            }
            (None, Some(reason)) => {
                writeln!(out, "{name}: refused whole, nothing stored: {reason}")?;
                failed_inputs += 1;
            }
            (None, None) => {}
        }
        out.flush()?;
    }
    writeln!(
        out,
        "total: stored {stored}, unchanged {unchanged}, refused {refused}{}",
        if failed_inputs > 0 { format!(", inputs refused {failed_inputs}") } else { String::new() }
    )?;
    out.flush()?;
    Ok(if refused > 0 || failed_inputs > 0 { Finished::Partial } else { Finished::Ok })
}
