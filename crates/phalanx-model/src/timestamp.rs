//! STIX timestamps (RFC 3339, UTC, `Z`), which keep the number of
//! sub-second digits they were given so that they serialise back unchanged.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A STIX 2.1 timestamp: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
///
/// Ordering and equality compare the instant only, so `…:00.5Z` equals
/// `…:00.500Z`; [`Timestamp::to_string`] gives back the text as it was given.
#[derive(Clone, Copy, Debug)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
    digits: u8,
}

/// Why a text is not a STIX timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s]Z, UTC): {reason}")]
pub struct TimestampError {
    /// The text that was given (cut to 64 characters).
    pub text: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.secs == other.secs && self.nanos == other.nanos
    }
}
impl Eq for Timestamp {}
impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.secs, self.nanos).cmp(&(other.secs, other.nanos))
    }
}
impl std::hash::Hash for Timestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.secs.hash(state);
        self.nanos.hash(state);
    }
}

fn two(b: &[u8], at: usize) -> Option<u32> {
    let d0 = b.get(at)?.wrapping_sub(b'0');
    let d1 = b.get(at + 1)?.wrapping_sub(b'0');
    if d0 > 9 || d1 > 9 {
        return None;
    }
    Some(u32::from(d0) * 10 + u32::from(d1))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of a count of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Timestamp {
    /// Parses a STIX timestamp strictly: upper-case `T` and `Z`, UTC only,
    /// 0 to 9 fractional digits.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let fail = |reason| TimestampError { text: text.chars().take(64).collect(), reason };
        let b = text.as_bytes();
        if b.len() < 20 {
            return Err(fail("too short"));
        }
        let year = match (two(b, 0), two(b, 2)) {
            (Some(hi), Some(lo)) => i64::from(hi * 100 + lo),
            _ => return Err(fail("bad year")),
        };
        if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return Err(fail("bad separators"));
        }
        let month = two(b, 5).ok_or_else(|| fail("bad month"))?;
        let day = two(b, 8).ok_or_else(|| fail("bad day"))?;
        let hour = two(b, 11).ok_or_else(|| fail("bad hour"))?;
        let minute = two(b, 14).ok_or_else(|| fail("bad minute"))?;
        let second = two(b, 17).ok_or_else(|| fail("bad second"))?;
        if !(1..=12).contains(&month) {
            return Err(fail("month out of range"));
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err(fail("day out of range"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(fail("time out of range"));
        }
        let mut nanos = 0u32;
        let mut digits = 0u8;
        let mut at = 19;
        if b[at] == b'.' {
            at += 1;
            while at < b.len() && b[at].is_ascii_digit() {
                if digits == 9 {
                    return Err(fail("more than 9 fractional digits"));
                }
                nanos = nanos * 10 + u32::from(b[at] - b'0');
                digits += 1;
                at += 1;
            }
            if digits == 0 {
                return Err(fail("'.' without fractional digits"));
            }
            nanos *= 10u32.pow(9 - u32::from(digits));
        }
        if at + 1 != b.len() || b[at] != b'Z' {
            return Err(fail("must end in 'Z' (UTC)"));
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Ok(Timestamp { secs, nanos, digits })
    }

    /// Parses a timestamp leniently, for query parameters: like
    /// [`Timestamp::parse`] but also accepts a `+00:00` offset.
    pub fn parse_lenient(text: &str) -> Result<Self, TimestampError> {
        match text.strip_suffix("+00:00") {
            Some(head) => Self::parse(&format!("{head}Z")),
            None => Self::parse(text),
        }
    }

    /// The current time, with `digits` fractional digits (0..=9).
    pub fn now(digits: u8) -> Self {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Self::from_unix_nanos(d.as_secs() as i64, d.subsec_nanos(), digits)
    }

    /// A timestamp from seconds and nanoseconds since the Unix epoch,
    /// truncated to `digits` fractional digits (at most 9).
    pub fn from_unix_nanos(secs: i64, nanos: u32, digits: u8) -> Self {
        let digits = digits.min(9);
        let unit = 10u32.pow(9 - u32::from(digits));
        Timestamp { secs, nanos: (nanos % 1_000_000_000) / unit * unit, digits }
    }

    /// A timestamp from microseconds since the Unix epoch, shown with 6 digits.
    pub fn from_unix_micros(micros: i64) -> Self {
        let secs = micros.div_euclid(1_000_000);
        let nanos = (micros.rem_euclid(1_000_000) * 1000) as u32;
        Timestamp { secs, nanos, digits: 6 }
    }

    /// Microseconds since the Unix epoch (sub-microsecond digits truncated).
    pub fn unix_micros(&self) -> i64 {
        self.secs * 1_000_000 + i64::from(self.nanos / 1000)
    }

    /// Seconds since the Unix epoch.
    pub fn unix_secs(&self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second.
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// How many fractional digits the timestamp was given with.
    pub fn digits(&self) -> u8 {
        self.digits
    }

    /// The same instant shown with another number of fractional digits
    /// (digits beyond the instant's precision are zeros).
    pub fn with_digits(&self, digits: u8) -> Self {
        Self::from_unix_nanos(self.secs, self.nanos, digits)
    }

    /// A fixed-width text (9 fractional digits) whose byte order is the
    /// order of the instants, for use as a sortable key.
    pub fn sort_key(&self) -> String {
        self.with_digits(9).to_string()
    }
}

/// Writes `value` as `out.len()` decimal digits, zero-padded.
fn put_digits(out: &mut [u8], mut value: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl fmt::Display for Timestamp {
    /// Years 0-9999 are written into a stack buffer (an import writes a
    /// few timestamps per object); others take the general path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        if let Ok(year @ 0..=9999) = u32::try_from(y) {
            let rem = rem as u32;
            let mut text = *b"0000-00-00T00:00:00.000000000Z";
            put_digits(&mut text[0..4], year);
            put_digits(&mut text[5..7], m);
            put_digits(&mut text[8..10], d);
            put_digits(&mut text[11..13], rem / 3600);
            put_digits(&mut text[14..16], (rem / 60) % 60);
            put_digits(&mut text[17..19], rem % 60);
            let len = if self.digits > 0 {
                put_digits(&mut text[20..29], self.nanos);
                20 + usize::from(self.digits.min(9))
            } else {
                19
            };
            text[len] = b'Z';
            return match std::str::from_utf8(&text[..=len]) {
                Ok(s) => f.write_str(s),
                Err(_) => Err(fmt::Error),
            };
        }
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            y,
            m,
            d,
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )?;
        if self.digits > 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", &frac[..usize::from(self.digits)])?;
        }
        f.write_str("Z")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_digits_given() {
        for t in [
            "2016-04-06T20:03:48Z",
            "2016-04-06T20:03:48.1Z",
            "2016-04-06T20:03:48.000Z",
            "2016-04-06T20:03:48.123456Z",
            "2016-04-06T20:03:48.123456789Z",
            "1969-12-31T23:59:59.5Z",
            "2000-02-29T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse(t).unwrap().to_string(), t);
        }
    }

    #[test]
    fn compares_instants_not_text() {
        let a = Timestamp::parse("2020-01-01T00:00:00.5Z").unwrap();
        let b = Timestamp::parse("2020-01-01T00:00:00.500000Z").unwrap();
        let c = Timestamp::parse("2020-01-01T00:00:00.50001Z").unwrap();
        assert_eq!(a, b);
        assert!(c > a);
        assert_eq!(a.sort_key(), "2020-01-01T00:00:00.500000000Z");
    }

    #[test]
    fn refuses_bad_forms() {
        for t in [
            "2016-04-06 20:03:48Z",
            "2016-04-06T20:03:48",
            "2016-04-06T20:03:48+00:00",
            "2016-13-06T20:03:48Z",
            "2019-02-29T20:03:48Z",
            "2016-04-06T24:03:48Z",
            "2016-04-06T20:03:48.Z",
            "2016-04-06T20:03:48.1234567891Z",
            "2016-04-06t20:03:48z",
            "",
            "2016-04-06T20:03:48ZZ",
        ] {
            assert!(Timestamp::parse(t).is_err(), "{t} should be refused");
        }
        assert!(Timestamp::parse_lenient("2016-04-06T20:03:48+00:00").is_ok());
    }

    /// The general formatting path, as it was before the fast one.
    fn formatted_slowly(t: &Timestamp) -> String {
        let days = t.secs.div_euclid(86_400);
        let rem = t.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut s = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, rem / 3600, (rem / 60) % 60, rem % 60);
        if t.digits > 0 {
            s.push_str(&format!(".{}", &format!("{:09}", t.nanos)[..usize::from(t.digits)]));
        }
        s.push('Z');
        s
    }

    proptest::proptest! {
        #[test]
        fn the_fast_display_writes_what_the_general_one_writes(
            secs in -62_167_219_200i64..253_402_300_800i64,
            nanos in 0u32..1_000_000_000,
            digits in 0u8..=9,
        ) {
            let t = Timestamp::from_unix_nanos(secs, nanos, digits);
            let text = t.to_string();
            proptest::prop_assert_eq!(&text, &formatted_slowly(&t));
            proptest::prop_assert_eq!(Timestamp::parse(&text).map(|p| p.with_digits(digits)), Ok(t));
        }
    }

    #[test]
    fn years_outside_four_digits_are_still_written() {
        let late = Timestamp::from_unix_nanos(253_402_300_800, 0, 0);
        assert_eq!(late.to_string(), "10000-01-01T00:00:00Z");
        let early = Timestamp::from_unix_nanos(-62_167_219_201, 0, 0);
        assert_eq!(early.to_string(), formatted_slowly(&early));
    }

    #[test]
    fn micros_round_trip() {
        let t = Timestamp::parse("2026-11-28T20:48:54.123456Z").unwrap();
        assert_eq!(Timestamp::from_unix_micros(t.unix_micros()), t);
        assert_eq!(Timestamp::from_unix_micros(t.unix_micros()).to_string(), "2026-11-28T20:48:54.123456Z");
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}
