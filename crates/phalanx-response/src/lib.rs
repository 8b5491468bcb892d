/*!
Rapid response for Phalanx: incidents with NIS2 clocks, assistance
requests and their state machine, rosters of experts and their offers,
teams and deployments, tasks and playbooks, and response metrics, all as
labelled STIX 2.1 objects.

This crate is pure: no I/O and no clock of its own. Every operation takes
the time as a parameter (a [`Clock`](clock::Clock) gives it: the system
clock in the node, a [`ManualClock`](clock::ManualClock) in tests), checks
its input, and either refuses with a [`ResponseError`] that names the object
and the field (and changes nothing), or changes the object as a new version
(same id, later `modified`). The caller stores the result of `to_stix()`
through the store's ingest, which applies the label and originator rules;
state lives only in the stored objects.

# Objects

* [`Incident`](incident::Incident): a STIX `incident` with the property
  extension [`INCIDENT_EXTENSION_ID`](stix::INCIDENT_EXTENSION_ID); status
  workflow, timeline, NIS2 clocks ([`Incident::nis2_clocks`](incident::Incident::nis2_clocks)).
* [`AssistanceRequest`](request::AssistanceRequest) (`x-phalanx-assistance-request`):
  channel, requester, beneficiary, optional incident, services, mode, state
  machine ([`RequestState::allowed_next`](request::RequestState::allowed_next)),
  response target, team and deployment.
* [`Expert`](roster::Expert) (`x-phalanx-expert`) and
  [`ExpertOffer`](roster::ExpertOffer) (`x-phalanx-expert-offer`): the
  roster, owned by each contributing organisation.
  [`check_eligibility`](roster::check_eligibility) is the read rule for the
  expert against the incident's label.
* [`Task`](task::Task) (`x-phalanx-task`) and the [`PLAYBOOKS`](task::PLAYBOOKS).
* [`request_metrics`](metrics::request_metrics) and
  [`channel_metrics`](metrics::channel_metrics).

The extension definitions (with JSON schemas) are
[`extension_definitions`](stix::extension_definitions); store them once per
node so that exports carry them.

# Invariants

* A refused operation changes nothing; an accepted one makes exactly one
  new version whose `modified` is later than the previous one.
* Every state change (incident status, request state, task status) is
  checked against one `allowed_next` table and recorded with who, when and
  why.
* Team eligibility is decided by `phalanx_labels::explain_read` and nothing
  else: no rule of its own that could drift from the read rule.
*/

pub mod clock;
pub mod error;
pub mod incident;
pub mod metrics;
pub mod request;
pub mod roster;
pub mod stix;
pub mod task;
pub mod vocab;

pub use clock::{Clock, Deadline, DeadlineState, ManualClock, SystemClock};
pub use error::ResponseError;
pub use incident::{Incident, IncidentChanges, IncidentStatus, Nis2Clocks};
pub use metrics::{ChannelMetrics, RequestMetrics, channel_metrics, request_metrics};
pub use request::{AssistanceRequest, RequestInput, RequestState, TransitionInput};
pub use roster::{Expert, ExpertDetails, ExpertOffer, OfferDetails, check_eligibility, expert_reader};
pub use task::{PLAYBOOKS, Playbook, Task, TaskChanges, TaskInput, TaskStatus, playbook, tasks_from_playbook};
