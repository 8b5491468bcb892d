//! Time: an injectable clock, calendar arithmetic and deadlines.
//!
//! Every function that depends on "now" takes a [`Clock`] (or a `now`
//! timestamp), so that tests move time with a [`ManualClock`] instead of
//! sleeping. All times are UTC with millisecond precision, as STIX
//! timestamps written by Phalanx are.

use phalanx_model::Timestamp;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Where the current time comes from.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now(3)
    }
}

/// A clock that stands still until moved: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
}

impl ManualClock {
    /// A clock showing `start` (cut to milliseconds).
    pub fn new(start: Timestamp) -> Self {
        ManualClock { millis: AtomicI64::new(to_millis(start)) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.millis.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `to` (cut to milliseconds).
    pub fn set(&self, to: Timestamp) {
        self.millis.store(to_millis(to), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        from_millis(self.millis.load(Ordering::SeqCst))
    }
}

fn to_millis(t: Timestamp) -> i64 {
    t.unix_secs() * 1000 + i64::from(t.subsec_nanos() / 1_000_000)
}

fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_unix_nanos(ms.div_euclid(1000), (ms.rem_euclid(1000) * 1_000_000) as u32, 3)
}

/// `t` cut to milliseconds and shown with three fractional digits.
pub fn millis(t: Timestamp) -> Timestamp {
    from_millis(to_millis(t))
}

/// `t` plus `hours` hours.
pub fn add_hours(t: Timestamp, hours: u32) -> Timestamp {
    from_millis(to_millis(t) + i64::from(hours) * 3_600_000)
}

/// `t` plus one millisecond: the smallest step between two versions.
pub fn next_millisecond(t: Timestamp) -> Timestamp {
    from_millis(to_millis(t) + 1)
}

/// `t` plus `months` calendar months, at the same time of day. A day that
/// the target month lacks is clamped to its last day (31 January + 1
/// month = 28 or 29 February), so the result is never in the month after.
pub fn add_months(t: Timestamp, months: u32) -> Timestamp {
    let ms = to_millis(t);
    let day_ms = 86_400_000;
    let days = ms.div_euclid(day_ms);
    let in_day = ms.rem_euclid(day_ms);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + i64::from(m - 1) + i64::from(months);
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    let nd = d.min(days_in_month(ny, nm));
    from_millis(days_from_civil(ny, nm, nd) * day_ms + in_day)
}

/// The time from `from` to `to`; zero when `to` is earlier.
pub fn elapsed(from: Timestamp, to: Timestamp) -> Duration {
    Duration::from_millis(u64::try_from(to_millis(to) - to_millis(from)).unwrap_or(0))
}

/// A duration as people read it: `2d 3h 4m`, `5h 0m`, `12m`, `40s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if days > 0 {
        format!("{days}d {hours}h {mins}m")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m")
    } else {
        format!("{s}s")
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's algorithms (days since 1970-01-01 <-> proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Where a deadline stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeadlineState {
    /// Done on or before the due time.
    Met,
    /// Done, but after the due time.
    MetLate,
    /// Not done, and the due time has not passed (the due instant itself
    /// still counts as due).
    Due,
    /// Not done, and the due time has passed.
    Overdue,
}

impl DeadlineState {
    /// `met`, `met-late`, `due` or `overdue`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineState::Met => "met",
            DeadlineState::MetLate => "met-late",
            DeadlineState::Due => "due",
            DeadlineState::Overdue => "overdue",
        }
    }
}

impl std::fmt::Display for DeadlineState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One deadline, evaluated at an instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// What is due (`early-warning`, `notification`, `final-report`, `response`).
    pub name: String,
    /// When it is due.
    pub due: Timestamp,
    /// When it was done, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_at: Option<Timestamp>,
    /// The due time is not final: it is computed from another deadline's
    /// due time because the event it runs from has not happened yet.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub provisional: bool,
    /// Where it stands at the instant it was evaluated.
    pub state: DeadlineState,
}

impl Deadline {
    /// Evaluates a deadline at `now`: done on time is met, done after
    /// `due` is met late, not done is due up to and including the `due`
    /// instant and overdue strictly after it.
    pub fn evaluate(name: &str, due: Timestamp, done_at: Option<Timestamp>, provisional: bool, now: Timestamp) -> Self {
        let state = match done_at {
            Some(t) if t <= due => DeadlineState::Met,
            Some(_) => DeadlineState::MetLate,
            None if now <= due => DeadlineState::Due,
            None => DeadlineState::Overdue,
        };
        Deadline { name: name.to_owned(), due, done_at, provisional, state }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("test timestamp")
    }

    #[test]
    fn add_months_clamps_to_the_end_of_shorter_months() {
        assert_eq!(add_months(ts("2026-01-31T10:00:00.000Z"), 1).to_string(), "2026-02-28T10:00:00.000Z");
        assert_eq!(add_months(ts("2028-01-31T10:00:00.000Z"), 1).to_string(), "2028-02-29T10:00:00.000Z");
        assert_eq!(add_months(ts("2026-03-15T23:59:59.999Z"), 1).to_string(), "2026-04-15T23:59:59.999Z");
        assert_eq!(add_months(ts("2026-12-31T00:00:00.000Z"), 1).to_string(), "2027-01-31T00:00:00.000Z");
        assert_eq!(add_months(ts("2026-05-31T06:00:00.000Z"), 1).to_string(), "2026-06-30T06:00:00.000Z");
    }

    #[test]
    fn add_hours_and_elapsed_agree() {
        let t = ts("2026-03-01T12:00:00.000Z");
        let later = add_hours(t, 72);
        assert_eq!(later.to_string(), "2026-03-04T12:00:00.000Z");
        assert_eq!(elapsed(t, later), Duration::from_secs(72 * 3600));
        assert_eq!(elapsed(later, t), Duration::ZERO);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(ts("2026-03-01T12:00:00.000Z"));
        assert_eq!(clock.now().to_string(), "2026-03-01T12:00:00.000Z");
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now().to_string(), "2026-03-01T12:00:01.500Z");
        clock.set(ts("2027-01-01T00:00:00Z"));
        assert_eq!(clock.now().to_string(), "2027-01-01T00:00:00.000Z");
    }

    #[test]
    fn deadline_is_due_at_the_instant_and_overdue_one_millisecond_later() {
        let due = ts("2026-03-02T12:00:00.000Z");
        assert_eq!(Deadline::evaluate("x", due, None, false, due).state, DeadlineState::Due);
        assert_eq!(Deadline::evaluate("x", due, None, false, next_millisecond(due)).state, DeadlineState::Overdue);
        assert_eq!(Deadline::evaluate("x", due, Some(due), false, add_hours(due, 99)).state, DeadlineState::Met);
        assert_eq!(
            Deadline::evaluate("x", due, Some(next_millisecond(due)), false, add_hours(due, 99)).state,
            DeadlineState::MetLate
        );
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(format_duration(Duration::from_secs(40)), "40s");
        assert_eq!(format_duration(Duration::from_secs(12 * 60 + 5)), "12m");
        assert_eq!(format_duration(Duration::from_secs(5 * 3600)), "5h 0m");
        assert_eq!(format_duration(Duration::from_secs(2 * 86_400 + 3 * 3600 + 4 * 60)), "2d 3h 4m");
    }
}
