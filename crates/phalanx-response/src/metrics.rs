//! Response metrics from the status timestamps of assistance requests:
//! time to acknowledge, activate, deploy and close, per request and per
//! channel, and how the response target fared.

use crate::clock::{DeadlineState, elapsed};
use crate::request::{AssistanceRequest, RequestState};
use crate::vocab::Channel;
use phalanx_model::Timestamp;
use serde::Serialize;
use std::time::Duration;

/// The metrics of one request. Every time runs from submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestMetrics {
    /// The request.
    pub request_ref: String,
    /// Its channel.
    pub channel: Channel,
    /// Its state.
    pub state: RequestState,
    /// Submission to `assessing` (acknowledged).
    pub time_to_acknowledge: Option<Duration>,
    /// Submission to `activated`.
    pub time_to_activate: Option<Duration>,
    /// Submission to `deployed`.
    pub time_to_deploy: Option<Duration>,
    /// Submission to the end: `completed`, `rejected` or `cancelled`.
    pub time_to_close: Option<Duration>,
    /// The response target at the instant of evaluation.
    pub response: Option<DeadlineState>,
}

/// The metrics of `request` at `now`.
pub fn request_metrics(request: &AssistanceRequest, now: Timestamp) -> RequestMetrics {
    let submitted = request.entered(RequestState::Submitted);
    let since = |state: RequestState| Some(elapsed(submitted?, request.entered(state)?));
    let close = [RequestState::Completed, RequestState::Rejected, RequestState::Cancelled]
        .iter()
        .filter_map(|s| request.entered(*s))
        .min();
    RequestMetrics {
        request_ref: request.meta.id.clone(),
        channel: request.details.channel,
        state: request.details.state,
        time_to_acknowledge: since(RequestState::Assessing),
        time_to_activate: since(RequestState::Activated),
        time_to_deploy: since(RequestState::Deployed),
        time_to_close: submitted.zip(close).map(|(s, c)| elapsed(s, c)),
        response: request.response_deadline(now).map(|d| d.state),
    }
}

/// Count, mean, minimum and maximum of one metric over the requests that have it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// How many requests have a value.
    pub count: usize,
    /// Mean.
    pub mean: Option<Duration>,
    /// Minimum.
    pub min: Option<Duration>,
    /// Maximum.
    pub max: Option<Duration>,
}

impl Summary {
    fn of(values: impl Iterator<Item = Duration>) -> Summary {
        let values: Vec<Duration> = values.collect();
        let count = values.len();
        let total: Duration = values.iter().sum();
        Summary {
            count,
            mean: u32::try_from(count).ok().filter(|n| *n > 0).map(|n| total / n),
            min: values.iter().min().copied(),
            max: values.iter().max().copied(),
        }
    }
}

/// The metrics of one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelMetrics {
    /// The channel.
    pub channel: Channel,
    /// Requests (submitted or not).
    pub requests: usize,
    /// Time to acknowledge.
    pub acknowledge: Summary,
    /// Time to activate.
    pub activate: Summary,
    /// Time to deploy.
    pub deploy: Summary,
    /// Time to close.
    pub close: Summary,
    /// Responses within target.
    pub responses_met: usize,
    /// Responses after the target.
    pub responses_late: usize,
    /// Requests still waiting for a response within target.
    pub responses_due: usize,
    /// Requests waiting for a response past the target.
    pub responses_overdue: usize,
}

/// The metrics aggregated per channel, in channel order; channels without
/// requests are left out.
pub fn channel_metrics(requests: &[RequestMetrics]) -> Vec<ChannelMetrics> {
    Channel::ALL
        .iter()
        .filter_map(|channel| {
            let of: Vec<&RequestMetrics> = requests.iter().filter(|m| m.channel == *channel).collect();
            if of.is_empty() {
                return None;
            }
            let count = |state: DeadlineState| of.iter().filter(|m| m.response == Some(state)).count();
            Some(ChannelMetrics {
                channel: *channel,
                requests: of.len(),
                acknowledge: Summary::of(of.iter().filter_map(|m| m.time_to_acknowledge)),
                activate: Summary::of(of.iter().filter_map(|m| m.time_to_activate)),
                deploy: Summary::of(of.iter().filter_map(|m| m.time_to_deploy)),
                close: Summary::of(of.iter().filter_map(|m| m.time_to_close)),
                responses_met: count(DeadlineState::Met),
                responses_late: count(DeadlineState::MetLate),
                responses_due: count(DeadlineState::Due),
                responses_overdue: count(DeadlineState::Overdue),
            })
        })
        .collect()
}

fn secs(d: Option<Duration>) -> Option<u64> {
    d.map(|d| d.as_secs())
}

impl RequestMetrics {
    /// The JSON view of the CLI and the REST API: times in whole seconds.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "request_ref": self.request_ref,
            "channel": self.channel,
            "state": self.state,
            "time_to_acknowledge_secs": secs(self.time_to_acknowledge),
            "time_to_activate_secs": secs(self.time_to_activate),
            "time_to_deploy_secs": secs(self.time_to_deploy),
            "time_to_close_secs": secs(self.time_to_close),
            "response": self.response,
        })
    }
}

impl Summary {
    /// The JSON view: count, mean, min and max in whole seconds.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "count": self.count, "mean_secs": secs(self.mean), "min_secs": secs(self.min), "max_secs": secs(self.max) })
    }
}

impl ChannelMetrics {
    /// The JSON view of the CLI and the REST API.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "channel": self.channel,
            "requests": self.requests,
            "acknowledge": self.acknowledge.to_json(),
            "activate": self.activate.to_json(),
            "deploy": self.deploy.to_json(),
            "close": self.close.to_json(),
            "responses_met": self.responses_met,
            "responses_late": self.responses_late,
            "responses_due": self.responses_due,
            "responses_overdue": self.responses_overdue,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::request::{RequestInput, TransitionInput};
    use crate::roster::tests::ts;
    use crate::vocab::{Mode, Service};
    use phalanx_labels::{Label, Tlp};

    const LT: &str = "identity--0b3c1d2e-4f50-4a61-8b72-9c83d4e5f601";

    fn request(channel: Channel, clock: &ManualClock) -> AssistanceRequest {
        let input = RequestInput::new("help", channel, LT, vec![Service::IncidentResponse], Mode::Remote);
        AssistanceRequest::draft(&input, LT, &Label::unclassified(Tlp::Green), clock.now()).expect("draft")
    }

    fn step(r: &mut AssistanceRequest, clock: &ManualClock, hours: u64, to: RequestState) {
        clock.advance(Duration::from_secs(hours * 3600));
        r.transition(&TransitionInput { to, reason: Some("x".into()), location: None }, "user:ona", clock.now())
            .expect("step");
    }

    #[test]
    fn times_run_from_submission_and_aggregate_per_channel() {
        use RequestState::*;
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let mut a = request(Channel::Crrt, &clock);
        step(&mut a, &clock, 5, Submitted); // drafting time does not count
        step(&mut a, &clock, 2, Assessing);
        step(&mut a, &clock, 10, Approved);
        step(&mut a, &clock, 12, Activated); // 24 h after submission
        step(&mut a, &clock, 1, TeamForming);
        a.details.team.push(crate::request::TeamMember {
            expert_ref: "x-phalanx-expert--11111111-2222-4333-8444-555555555555".into(),
            nationality: "EST".into(),
            role: crate::vocab::TeamRole::TeamLead,
            offer_ref: None,
            added_at: clock.now(),
            added_by: "user:ona".into(),
        });
        step(&mut a, &clock, 5, Cleared);
        step(&mut a, &clock, 6, Deployed); // 36 h
        step(&mut a, &clock, 1, Active);
        step(&mut a, &clock, 100, Demobilising);
        step(&mut a, &clock, 7, Completed); // 144 h

        let mut b = request(Channel::Crrt, &clock);
        step(&mut b, &clock, 1, Submitted);
        step(&mut b, &clock, 4, Assessing);
        step(&mut b, &clock, 80, Approved);
        step(&mut b, &clock, 4, Activated); // 88 h: late
        step(&mut b, &clock, 2, Cancelled); // 90 h

        let mut c = request(Channel::EuCybersecurityReserve, &clock);
        step(&mut c, &clock, 1, Submitted);

        let now = clock.now();
        let m = [request_metrics(&a, now), request_metrics(&b, now), request_metrics(&c, now)];
        let h = |n: u64| Some(Duration::from_secs(n * 3600));
        assert_eq!(m[0].time_to_acknowledge, h(2));
        assert_eq!(m[0].time_to_activate, h(24));
        assert_eq!(m[0].time_to_deploy, h(36));
        assert_eq!(m[0].time_to_close, h(144));
        assert_eq!(m[0].response, Some(DeadlineState::Met));
        assert_eq!(m[1].time_to_deploy, None, "activated, never deployed");
        assert_eq!(m[1].time_to_close, h(90));
        assert_eq!(m[1].response, Some(DeadlineState::MetLate));
        assert_eq!(m[2].response, Some(DeadlineState::Due));

        let per_channel = channel_metrics(&m);
        assert_eq!(per_channel.len(), 2);
        let crrt = &per_channel[0];
        assert_eq!((crrt.channel, crrt.requests), (Channel::Crrt, 2));
        assert_eq!(crrt.activate, Summary { count: 2, mean: h(56), min: h(24), max: h(88) });
        assert_eq!(crrt.deploy.count, 1);
        assert_eq!((crrt.responses_met, crrt.responses_late), (1, 1));
        let reserve = &per_channel[1];
        assert_eq!((reserve.channel, reserve.requests, reserve.responses_due), (Channel::EuCybersecurityReserve, 1, 1));
        assert_eq!(reserve.activate, Summary::default());

        clock.advance(Duration::from_secs(49 * 3600));
        assert_eq!(
            request_metrics(&c, clock.now()).response,
            Some(DeadlineState::Overdue),
            "the Reserve answers within 48 h"
        );
    }
}
