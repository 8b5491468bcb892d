//! `phalanx export`: a STIX 2.1 bundle of what a user may read, written
//! page by page so that memory stays flat.

use crate::Finished;
use crate::node::{actor, open_store};
use crate::sensor_export::SensorFormat;
use phalanx_matcher::sensor::SuricataAction;
use phalanx_model::Timestamp;
use phalanx_store::{Query, Store, VersionFilter};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `phalanx export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Act as this user (default: the node's admin user).
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// Exercise context to read from (default: the real world).
    #[arg(long)]
    pub exercise: Option<String>,
    /// Only objects of these types (repeat or comma-separate).
    #[arg(long = "type", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Only versions added after this instant (RFC 3339, UTC).
    #[arg(long)]
    pub added_after: Option<String>,
    /// Every version, not only the newest.
    #[arg(long)]
    pub all_versions: bool,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Output format: a STIX 2.1 bundle, or a matcher snapshot for `phalanx match --indicators`
    /// on a sensor without a link to the node (indicators and the observables the matcher
    /// reads, one object a line after a header line).
    #[arg(long, value_enum, default_value = "bundle")]
    pub format: ExportFormat,
    /// Action of `--format suricata` rules: alert (detect), or drop / reject (active blocking:
    /// indicators with PAP:RED or PAP:AMBER are left out).
    #[arg(long, value_enum, default_value = "alert")]
    pub suricata_action: SuricataActionArg,
}

/// `--suricata-action`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuricataActionArg {
    /// Alert only.
    Alert,
    /// Drop matching packets (IPS).
    Drop,
    /// Reject: drop and reset.
    Reject,
}

/// Output formats of `phalanx export`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// A STIX 2.1 bundle with the marking definitions it uses.
    Bundle,
    /// `phalanx match` input: a header line, then one object a line.
    MatcherSnapshot,
    /// Suricata rules, a stable sid per indicator value (see --suricata-action).
    Suricata,
    /// A Zeek Intel framework file.
    ZeekIntel,
    /// CSV, one row per indicator value (RFC 4180).
    Csv,
    /// A STIX 2.1 bundle of the indicators only (not revoked), with their marking definitions.
    StixIndicators,
}

/// `phalanx export`.
pub fn run(data: &Path, args: ExportArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let mut actor = actor(&store, args.as_user.as_deref())?;
    if let phalanx_labels::Subject::User(r) = &mut actor.subject {
        r.context = args.exercise.clone();
    }
    let added_after = match &args.added_after {
        Some(t) => Some(Timestamp::parse_lenient(t).map_err(|e| anyhow::anyhow!("--added-after: {e}"))?),
        None => None,
    };
    let mut query = Query {
        types: args.types.clone(),
        added_after,
        versions: if args.all_versions { VersionFilter::All } else { VersionFilter::Last },
        limit: 5000,
        ..Query::default()
    };
    let stdout = std::io::stdout();
    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| anyhow::anyhow!("--out {}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(stdout.lock())),
    };
    if args.format == ExportFormat::MatcherSnapshot {
        return write_matcher_snapshot(&store, &actor, query, &mut out);
    }
    let sensor = match args.format {
        ExportFormat::Suricata => Some(SensorFormat::Suricata(match args.suricata_action {
            SuricataActionArg::Alert => SuricataAction::Alert,
            SuricataActionArg::Drop => SuricataAction::Drop,
            SuricataActionArg::Reject => SuricataAction::Reject,
        })),
        ExportFormat::ZeekIntel => Some(SensorFormat::ZeekIntel),
        ExportFormat::Csv => Some(SensorFormat::Csv),
        _ => None,
    };
    if let Some(format) = sensor {
        return crate::sensor_export::write(&store, &actor, query, format, &mut out);
    }
    if args.format == ExportFormat::StixIndicators {
        query.types = vec!["indicator".into()];
        query.exclude_revoked = true;
    }
    write!(out, "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[", uuid::Uuid::new_v4())?;
    let mut first = true;
    let mut emitted: BTreeSet<String> = BTreeSet::new();
    let mut wanted_markings: BTreeSet<String> = BTreeSet::new();
    let mut count = 0u64;
    loop {
        let page = store.query(&actor.subject, &query)?;
        // Every read of an object ranked RESTRICTED or above is audited before it is written out.
        phalanx_auth::audit_reads(&store, &actor, &page.objects, "export")?;
        for object in &page.objects {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            out.write_all(object.json.as_bytes())?;
            count += 1;
            if object.object_type == "marking-definition" {
                emitted.insert(object.id.clone());
            }
            collect_marking_refs(&object.json, &mut wanted_markings);
        }
        match page.next {
            Some(next) if page.more => query.after = Some(next),
            _ => break,
        }
    }
    // The definitions of the markings used, so the bundle stands alone.
    for id in wanted_markings.difference(&emitted) {
        let def = match store.get(&actor.subject, id, &VersionFilter::Last)?.into_iter().next() {
            Some(stored) => Some(stored.json),
            // The TLP 2.0 definitions are well known; TLP 1.0 ones are
            // predefined by STIX itself and need no definition.
            None => match phalanx_labels::tlp_from_marking_id(id) {
                Some(tlp) if tlp.marking_id() == id.as_str() => Some(phalanx_labels::tlp_marking_definition(tlp).to_string()),
                _ => None,
            },
        };
        if let Some(json) = def {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            out.write_all(json.as_bytes())?;
            count += 1;
        }
    }
    out.write_all(b"]}\n")?;
    out.flush()?;
    eprintln!("exported {count} objects");
    Ok(Finished::Ok)
}

fn collect_marking_refs(json: &str, into: &mut BTreeSet<String>) {
    let Ok(Value::Object(map)) = phalanx_model::strict::parse_text(json) else { return };
    if let Some(Value::Array(refs)) = map.get("object_marking_refs") {
        into.extend(refs.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if let Some(Value::Array(gms)) = map.get("granular_markings") {
        for gm in gms {
            if let Some(r) = gm.get("marking_ref").and_then(Value::as_str) {
                into.insert(r.to_owned());
            }
        }
    }
}

/// `--format matcher-snapshot`: the header line, then every indicator and
/// observable the matcher reads (within `--type`, if given), one a line.
fn write_matcher_snapshot(
    store: &phalanx_store::SqliteStore,
    actor: &phalanx_store::Actor,
    mut query: Query,
    out: &mut dyn Write,
) -> anyhow::Result<Finished> {
    let wanted = crate::match_cmd::MATCHER_TYPES;
    query.types = if query.types.is_empty() {
        wanted.iter().map(|t| (*t).to_owned()).collect()
    } else {
        query.types.iter().filter(|t| wanted.contains(&t.as_str())).cloned().collect()
    };
    writeln!(out, "{}", phalanx_matcher::SNAPSHOT_HEADER)?;
    let mut count = 0u64;
    if !query.types.is_empty() {
        loop {
            let page = store.query(&actor.subject, &query)?;
            phalanx_auth::audit_reads(store, actor, &page.objects, "export")?;
            for object in &page.objects {
                // One object a line: JSON stored with line breaks is written compact.
                if object.json.contains('\n') {
                    let compact = phalanx_model::strict::parse_text(&object.json)?.to_string();
                    out.write_all(compact.as_bytes())?;
                } else {
                    out.write_all(object.json.as_bytes())?;
                }
                out.write_all(b"\n")?;
                count += 1;
            }
            match page.next {
                Some(next) if page.more => query.after = Some(next),
                _ => break,
            }
        }
    }
    out.flush()?;
    eprintln!("exported {count} objects as a matcher snapshot");
    Ok(Finished::Ok)
}
