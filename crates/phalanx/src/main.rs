//! `phalanx`: the Phalanx node and its command line.
//!
//! Only this crate sets process-wide state (the tracing subscriber, exit
//! codes) and uses `anyhow`.

mod alerts;
mod audit;
mod compressed;
mod demo;
mod export;
mod federation;
mod import;
mod match_cmd;
mod node;
mod org;
mod related;
mod response;
mod sensor_export;
mod serve;
mod webhook_config;
mod show;
mod sightings;
mod token;
mod user;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Phalanx: collective cyber defence for EU and NATO CSIRTs.
#[derive(Parser, Debug)]
#[command(name = "phalanx", version, about)]
struct Cli {
    /// Data directory of the node.
    #[arg(long, global = true, env = "PHALANX_DATA", default_value = "./phalanx-data")]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the data directory, the node's organisation and its admin user.
    Init(node::InitArgs),
    /// Import STIX 2.1 bundles, JSON arrays of objects or JSON lines.
    Import(import::ImportArgs),
    /// Write a STIX 2.1 bundle of what a user may read.
    Export(export::ExportArgs),
    /// Show one object.
    Get(show::GetArgs),
    /// Count what a user may read.
    Stats(show::StatsArgs),
    /// Serve TAXII 2.1, health and metrics over HTTP(S).
    Serve(serve::ServeArgs),
    /// Set up a demo node (organisations, users, data, incidents, alerts) and serve it with its dashboard.
    Demo(demo::DemoArgs),
    /// Organisations: add, list.
    #[command(subcommand)]
    Org(org::OrgCommand),
    /// Users: add, list.
    #[command(subcommand)]
    User(user::UserCommand),
    /// API tokens: new, revoke.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The hash-chained audit log: verify, show.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Federation keys: show, rotate.
    #[command(subcommand)]
    Keys(federation::KeysCommand),
    /// Peer nodes: add, list, status, remove.
    #[command(subcommand)]
    Peer(federation::PeerCommand),
    /// Match telemetry (Zeek, Suricata EVE, JSON lines, text) against indicators; one JSON line per match.
    Match(match_cmd::MatchArgs),
    /// Collective-threat alerts: evaluate now, list.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// Objects that correlate with one (same value, CIDR containment, parent domain, subdomain).
    Related(related::RelatedArgs),
    /// Incidents: open, update, show, list (NIS2 clocks, timeline, status).
    #[command(subcommand)]
    Incident(response::incident::IncidentCommand),
    /// Assistance requests: request, transition, team, show, list.
    #[command(subcommand)]
    Assist(response::assist::AssistCommand),
    /// The rapid-response roster: add experts, offer them, list.
    #[command(subcommand)]
    Roster(response::roster::RosterCommand),
    /// Tasks of incidents and requests: add (or a playbook), update, list.
    #[command(subcommand)]
    Task(response::task::TaskCommand),
}

/// Outcome of a command that finished: success, or a partial result (some
/// inputs refused) that scripts must notice.
pub enum Finished {
    /// Everything went as asked.
    Ok,
    /// The command ran, but some input was refused (exit code 1).
    Partial,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PHALANX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => node::init(&cli.data, args),
        Command::Import(args) => import::run(&cli.data, args),
        Command::Export(args) => export::run(&cli.data, args),
        Command::Get(args) => show::get(&cli.data, args),
        Command::Stats(args) => show::stats(&cli.data, args),
        Command::Serve(args) => serve::run(&cli.data, args),
        Command::Demo(args) => demo::run(&cli.data, args),
        Command::Org(command) => org::run(&cli.data, command),
        Command::User(command) => user::run(&cli.data, command),
        Command::Token(command) => token::run(&cli.data, command),
        Command::Audit(command) => audit::run(&cli.data, command),
        Command::Keys(command) => federation::keys(&cli.data, command),
        Command::Peer(command) => federation::peer(&cli.data, command),
        Command::Match(args) => match_cmd::run(&cli.data, args),
        Command::Alerts(command) => alerts::run(&cli.data, command),
        Command::Related(args) => related::run(&cli.data, args),
        Command::Incident(command) => response::incident::run(&cli.data, command),
        Command::Assist(command) => response::assist::run(&cli.data, command),
        Command::Roster(command) => response::roster::run(&cli.data, command),
        Command::Task(command) => response::task::run(&cli.data, command),
    };
    match result {
        Ok(Finished::Ok) => ExitCode::SUCCESS,
        Ok(Finished::Partial) => ExitCode::from(1),
        Err(e) => {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("phalanx: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
