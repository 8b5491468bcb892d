//! Rapid-response commands: `incident`, `assist`, `roster` and `task`.
//!
//! Thin commands over `phalanx-response`: each one opens the store, acts
//! as `--as USER`, reads the latest version of the objects it needs
//! through the read rule, calls the domain function, and writes the new
//! version through `phalanx_store::ingest::Ingest` (labels from markings,
//! originator-only versions). A domain refusal (invalid transition, failed
//! condition, ineligible expert) or a write refused by the store ends with
//! exit code 1; bad input and other errors with 2.

pub mod assist;
pub mod incident;
pub mod roster;
pub mod task;

use crate::Finished;
use crate::node::{actor, open_store};
use anyhow::{Context, bail};
use phalanx_labels::{Label, LabelMarking};
use phalanx_model::Timestamp;
use phalanx_response::{Clock, ResponseError, SystemClock};
use phalanx_store::{Actor, Query, SqliteStore, Store, StoredObject, VersionFilter};
use std::path::Path;

/// `--as`, common to every rapid-response command.
#[derive(clap::Args, Debug, Clone)]
pub struct ActAs {
    /// Act as this user (default: the node's admin user).
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
}

/// The label options of commands that create objects.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LabelArgs {
    /// TLP of the new object (clear, green, amber, amber+strict, red).
    /// Without --tlp and --label the object takes the label of the object
    /// it belongs to (the incident of a request, the request of an offer or
    /// task), else TLP:AMBER+STRICT.
    #[arg(long)]
    pub tlp: Option<String>,
    /// Label marking of the new object, as JSON (the content of the Phalanx
    /// label extension, e.g. '{"policy":"EU","classification":"RESTRICTED","releasable_to":["PESCO_CRRT"]}').
    #[arg(long)]
    pub label: Option<String>,
}

/// A store with the acting user.
pub struct Session {
    /// The store.
    pub store: SqliteStore,
    /// Who acts.
    pub actor: Actor,
    /// Where "now" comes from.
    pub clock: SystemClock,
}

impl Session {
    /// Opens the node's store and resolves `--as`.
    pub fn open(data: &Path, act: &ActAs) -> anyhow::Result<Session> {
        let store = open_store(data)?;
        let actor = actor(&store, act.as_user.as_deref())?;
        Ok(Session { store, actor, clock: SystemClock })
    }

    /// Opens the session of a command that writes: the user must be allowed to write.
    pub fn open_writer(data: &Path, act: &ActAs) -> anyhow::Result<Session> {
        let session = Session::open(data, act)?;
        if !session.actor.user.role.can_write() {
            bail!(
                "--as: user '{}' has the role {} and may not write",
                session.actor.user.name,
                session.actor.user.role
            );
        }
        Ok(session)
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The acting user as recorded in transitions and logs (`user:<name>`).
    pub fn who(&self) -> String {
        self.actor.audit_name()
    }

    /// The acting user's organisation.
    pub fn org(&self) -> &str {
        self.actor.org_id()
    }

    /// The latest version of `id` that the user may read, or an error
    /// naming the kind of object.
    pub fn latest(&self, what: &str, id: &str) -> anyhow::Result<StoredObject> {
        let found = self.store.get(&self.actor.subject, id.trim(), &VersionFilter::Last)?;
        found.into_iter().next().with_context(|| format!("no {what} {id} (or none you may read)"))
    }

    /// The latest versions of every object of `object_type` the user may read.
    pub fn all_of(&self, object_type: &str) -> anyhow::Result<Vec<StoredObject>> {
        let query = Query { types: vec![object_type.to_owned()], versions: VersionFilter::Last, ..Query::default() };
        Ok(self.store.query(&self.actor.subject, &query)?.objects)
    }

    /// Audits the reads of objects about to be shown (RESTRICTED and above).
    pub fn audit_shown(&self, objects: &[StoredObject], via: &str) -> anyhow::Result<()> {
        phalanx_auth::audit_reads(&self.store, &self.actor, objects, via)?;
        Ok(())
    }

    /// The rapid-response desk of the acting user, now (shared with the
    /// REST API and the web UI).
    pub fn desk(&self) -> phalanx_api::desk::Desk<'_> {
        phalanx_api::desk::Desk::new(&self.store, &self.actor, self.now())
    }

    /// Writes `objects` (marking definitions first) in one transaction
    /// through the desk's ingest. Returns `Finished::Partial` after printing
    /// the reason when the store refused one of them (nothing is stored).
    pub fn write(&self, label: &Label, objects: Vec<serde_json::Value>) -> anyhow::Result<Finished> {
        match self.desk().write(label, objects) {
            Ok(()) => {
                tracing::info!(actor = %self.actor.user.name, "rapid-response write");
                Ok(Finished::Ok)
            }
            Err(e @ phalanx_api::desk::DeskError::Refused { .. }) => {
                eprintln!("{e}");
                Ok(Finished::Partial)
            }
            Err(e) => Err(anyhow::Error::new(e)),
        }
    }

    /// The label for a new object: from `--tlp`/`--label`, else `inherit`
    /// (the label of the object it belongs to), else TLP:AMBER+STRICT.
    pub fn label_for_new(&self, args: &LabelArgs, inherit: Option<&Label>) -> anyhow::Result<Label> {
        let marking = match &args.label {
            Some(l) => Some(
                serde_json::from_str::<LabelMarking>(l).map_err(|e| anyhow::anyhow!("--label: not a label marking: {e}"))?,
            ),
            None => None,
        };
        let given = phalanx_api::desk::NewLabel { tlp: args.tlp.clone(), label: marking };
        self.desk().label_for_new(&given, inherit).map_err(|e| anyhow::anyhow!("--{e}"))
    }

    /// Refuses (prints why, exit code 1) a change to an object that the
    /// acting user's organisation did not create: only the originator makes
    /// new versions. The store enforces the same rule; this names it plainly.
    pub fn refuse_unless_originator(&self, what: &str, id: &str, created_by_ref: &str) -> Option<Finished> {
        if created_by_ref == self.org() {
            return None;
        }
        eprintln!(
            "refused: only the originator organisation ({}) may make a new version of {what} {id}; user '{}' acts for {}",
            self.organisation_name(created_by_ref),
            self.actor.user.name,
            self.organisation_name(self.org())
        );
        Some(Finished::Partial)
    }

    /// An organisation's id from its name or id.
    pub fn organisation_id(&self, flag: &'static str, name_or_id: &str) -> anyhow::Result<String> {
        let record = phalanx_auth::identity::find_organisation(&self.store, flag, name_or_id)
            .map_err(|e| crate::node::input_error(e, flag))?;
        Ok(record.org.id)
    }

    /// The registered organisation `id` as the read rule sees it (an
    /// unregistered id stands alone, without country or memberships).
    pub fn organisation(&self, id: &str) -> anyhow::Result<phalanx_labels::Organisation> {
        use phalanx_store::Registry;
        Ok(self
            .store
            .organisations()?
            .into_iter()
            .find(|o| o.org.id == id)
            .map(|o| o.org)
            .unwrap_or_else(|| phalanx_labels::Organisation::new(id)))
    }

    /// A registered organisation's display name, else the id.
    pub fn organisation_name(&self, id: &str) -> String {
        self.desk().organisation_name(id)
    }
}

/// A domain error as the command reports it: refusals are printed and end
/// with exit code 1, anything else is an error (exit code 2).
pub fn domain_outcome(result: Result<(), ResponseError>) -> anyhow::Result<Option<Finished>> {
    match result {
        Ok(()) => Ok(None),
        Err(e) if e.is_refusal() => {
            eprintln!("refused: {e}");
            Ok(Some(Finished::Partial))
        }
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

/// Parses a timestamp flag: a STIX timestamp or `now`.
pub fn parse_time(flag: &str, text: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    if text.trim().eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    Timestamp::parse(text.trim()).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
}

/// Parses a list of vocabulary values given with a flag.
pub fn parse_values<T: std::str::FromStr>(flag: &str, values: &[String]) -> anyhow::Result<Vec<T>>
where
    T::Err: std::fmt::Display,
{
    values.iter().map(|v| v.parse::<T>().map_err(|e| anyhow::anyhow!("--{flag}: {e}"))).collect()
}

/// Parses one optional vocabulary value given with a flag.
pub fn parse_value<T: std::str::FromStr>(flag: &str, value: Option<&String>) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    value.map(|v| v.parse::<T>().map_err(|e| anyhow::anyhow!("--{flag}: {e}"))).transpose()
}

/// Prints a JSON value, pretty.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A label as shown to people: the marking's display name and the TLP
/// (`RESTREINT UE/EU RESTRICTED REL TO PESCO_CRRT TLP:AMBER`).
pub fn label_text(label: &Label) -> String {
    match label.tlp {
        Some(t) => format!("{} TLP:{}", label.display_name(None), t.as_str().to_ascii_uppercase()),
        None => label.display_name(None),
    }
}

/// A timestamp or `-`.
pub fn or_dash(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
}
