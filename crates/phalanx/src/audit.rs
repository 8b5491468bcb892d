//! `phalanx audit verify` and `phalanx audit show`.

use crate::Finished;
use crate::node::{actor, open_store};
use anyhow::bail;
use phalanx_auth::authz::may_read_audit;
use phalanx_auth::verify_log;
use phalanx_model::Timestamp;
use phalanx_store::{AuditEntry, Registry, SqliteStore};
use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;

/// `phalanx audit` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain: `ok: N entries, chain intact` (exit 0) or
    /// `broken at entry N: <reason>` (exit 1).
    Verify(AuditArgs),
    /// List entries, one a line: seq, at, actor, action, target, details
    /// (tab-separated).
    Show(AuditShowArgs),
}

/// Arguments of `phalanx audit verify`.
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// Act as this user (default: the node's admin user); must be a node-admin.
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
}

/// Arguments of `phalanx audit show`.
#[derive(clap::Args, Debug)]
pub struct AuditShowArgs {
    /// Act as this user (default: the node's admin user); must be a node-admin.
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// Entries from this one on: an entry number (seq), or an instant
    /// (RFC 3339, UTC, e.g. 2026-03-01T00:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// At most N entries: the first N from --since, or the last N when
    /// --since is not given.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Runs an `audit` subcommand.
pub fn run(data: &Path, command: AuditCommand) -> anyhow::Result<Finished> {
    match command {
        AuditCommand::Verify(args) => verify(data, args),
        AuditCommand::Show(args) => show(data, args),
    }
}

fn admin_store(data: &Path, as_user: Option<&str>) -> anyhow::Result<SqliteStore> {
    let store = open_store(data)?;
    let actor = actor(&store, as_user)?;
    if !may_read_audit(&actor) {
        bail!("--as: user '{}' has the role {} and may not read the audit log (node-admin only)", actor.user.name, actor.user.role);
    }
    Ok(store)
}

fn verify(data: &Path, args: AuditArgs) -> anyhow::Result<Finished> {
    let store = admin_store(data, args.as_user.as_deref())?;
    match verify_log(&store)? {
        Ok(n) => {
            println!("ok: {n} entries, chain intact");
            Ok(Finished::Ok)
        }
        Err(b) => {
            println!("broken at entry {}: {}", b.seq, b.reason);
            Ok(Finished::Partial)
        }
    }
}

/// Where `--since` starts.
enum Since {
    Seq(i64),
    At(Timestamp),
}

fn parse_since(text: &str) -> anyhow::Result<Since> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(n) => Ok(Since::Seq(n)),
            Err(_) => bail!("--since: '{text}' is too large an entry number"),
        };
    }
    Timestamp::parse_lenient(text).map(Since::At).map_err(|_| {
        anyhow::anyhow!(
            "--since: '{}' is neither an entry number nor a timestamp (RFC 3339, UTC, e.g. 2026-03-01T00:00:00Z)",
            text.chars().take(64).collect::<String>()
        )
    })
}

fn line(e: &AuditEntry) -> String {
    format!("{}\t{}\t{}\t{}\t{}\t{}", e.seq, e.at, e.actor, e.action, e.target, e.details)
}

fn show(data: &Path, args: AuditShowArgs) -> anyhow::Result<Finished> {
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let store = admin_store(data, args.as_user.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut after = match since {
        Some(Since::Seq(n)) => n.saturating_sub(1),
        _ => 0,
    };
    // Without --since, --limit keeps the last N; otherwise entries stream.
    let first_n = since.is_some() || args.limit.is_none();
    let limit = args.limit.unwrap_or(usize::MAX);
    let mut shown = 0usize;
    let mut tail: VecDeque<AuditEntry> = VecDeque::new();
    'pages: loop {
        let page = store.audit_entries(after, 10_000)?;
        for e in &page {
            if let Some(Since::At(t)) = &since {
                match Timestamp::parse(&e.at) {
                    Ok(at) if at >= *t => {}
                    _ => continue,
                }
            }
            if first_n {
                if shown == limit {
                    break 'pages;
                }
                writeln!(out, "{}", line(e))?;
                shown += 1;
            } else if limit > 0 {
                if tail.len() == limit {
                    tail.pop_front();
                }
                tail.push_back(e.clone());
            }
        }
        match page.last() {
            Some(last) if page.len() == 10_000 => after = last.seq,
            _ => break,
        }
    }
    for e in &tail {
        writeln!(out, "{}", line(e))?;
    }
    out.flush()?;
    Ok(Finished::Ok)
}
