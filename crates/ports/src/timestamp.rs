//! Millisecond-precision UTC instants with one fixed-width text form, so text order is time order.

use std::fmt;
use std::ops::{Add, Sub};
use std::str::FromStr;
use std::time::Duration;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, TimeDelta, Timelike, Utc,
};

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// A UTC instant truncated to whole milliseconds; text form `YYYY-MM-DDTHH:MM:SS.sssZ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// Text that is not in the fixed timestamp form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a timestamp in the form YYYY-MM-DDTHH:MM:SS.sssZ: {0:?}")]
pub struct TimestampParseError(pub String);

impl Timestamp {
    /// Wraps a chrono instant, dropping sub-millisecond precision.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.trunc_subsecs(3))
    }

    /// Milliseconds since the Unix epoch.
    /// A timestamp from outside (imports): RFC 3339 with any offset, or without an offset read as UTC (`T` or a
    /// space between date and time). `None` when it is neither.
    pub fn parse_lenient(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Some(Self::from_datetime(at.with_timezone(&Utc)));
        }
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
            .map(|naive| Self::from_datetime(naive.and_utc()))
    }

    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(millis).map(Self)
    }

    /// The chrono instant.
    pub const fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// Whole milliseconds from `earlier` to `self`; negative when `earlier` is later.
    pub fn millis_since(&self, earlier: Timestamp) -> i64 {
        (self.0 - earlier.0).num_milliseconds()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        if !(0..=9999).contains(&t.year()) {
            return write!(f, "{}", t.format(FORMAT));
        }
        // Plain integer formatting: chrono's format string is parsed again on every call.
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_millis().min(999)
        )
    }
}

impl FromStr for Timestamp {
    type Err = TimestampParseError;

    /// A fixed-position parse: every row read from the store carries timestamps, and chrono's format-string
    /// parser was a tenth of a chat turn's CPU time (docs/benchmarks.md).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_fixed(s.as_bytes()).ok_or_else(|| TimestampParseError(s.to_owned()))
    }
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`, nothing else.
fn parse_fixed(text: &[u8]) -> Option<Timestamp> {
    let [
        y1,
        y2,
        y3,
        y4,
        b'-',
        mo1,
        mo2,
        b'-',
        d1,
        d2,
        b'T',
        h1,
        h2,
        b':',
        mi1,
        mi2,
        b':',
        s1,
        s2,
        b'.',
        ms1,
        ms2,
        ms3,
        b'Z',
    ] = *text
    else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let year = i32::try_from(number(&[y1, y2, y3, y4])?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(&[mo1, mo2])?, number(&[d1, d2])?)?;
    let time = NaiveTime::from_hms_milli_opt(
        number(&[h1, h2])?,
        number(&[mi1, mi2])?,
        number(&[s1, s2])?,
        number(&[ms1, ms2, ms3])?,
    )?;
    Some(Timestamp(NaiveDateTime::new(date, time).and_utc()))
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, rhs: Duration) -> Timestamp {
        Self(
            self.0
                .checked_add_signed(delta(rhs))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
        .truncated()
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;

    fn sub(self, rhs: Duration) -> Timestamp {
        Self(
            self.0
                .checked_sub_signed(delta(rhs))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        )
        .truncated()
    }
}

impl Timestamp {
    fn truncated(self) -> Self {
        Self(self.0.trunc_subsecs(3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imported_timestamps_take_any_offset_or_none() {
        let utc = Timestamp::parse_lenient("2026-02-13T10:20:30.123Z").unwrap();
        assert_eq!(utc.to_string(), "2026-02-13T10:20:30.123Z");
        assert_eq!(
            Timestamp::parse_lenient("2026-02-13T12:20:30.123+02:00"),
            Some(utc)
        );
        assert_eq!(
            Timestamp::parse_lenient("2026-02-13T10:20:30.123"),
            Some(utc)
        );
        assert_eq!(
            Timestamp::parse_lenient("2026-02-13 10:20:30.123"),
            Some(utc)
        );
        assert_eq!(Timestamp::parse_lenient("yesterday"), None);
    }

    #[test]
    fn text_form_is_fixed_width_and_round_trips() {
        let t = Timestamp::from_unix_millis(1_771_000_000_123).unwrap();
        let text = t.to_string();
        assert_eq!(text, "2026-02-13T16:26:40.123Z");
        assert_eq!(text.parse::<Timestamp>(), Ok(t));
        let epoch = Timestamp::from_unix_millis(0).unwrap();
        assert_eq!(epoch.to_string(), "1970-01-01T00:00:00.000Z");
        let early = Timestamp::from_unix_millis(-62_135_596_800_000 + 7).unwrap();
        assert_eq!(early.to_string(), "0001-01-01T00:00:00.007Z");
        assert_eq!(early.to_string().parse::<Timestamp>(), Ok(early));
    }

    #[test]
    fn other_forms_are_refused() {
        for bad in [
            "2026-02-13T16:26:40Z",
            "2026-02-13 16:26:40.123",
            "2026-02-13T16:26:40.123+01:00",
            "2026-02-13T16:26:60.123Z",
            "2026-02-30T16:26:40.123Z",
            "2026-02-13T16:26:40.12aZ",
            "+026-02-13T16:26:40.123Z",
            "",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_keeps_millisecond_precision() {
        let t = Timestamp::from_unix_millis(1_000).unwrap();
        assert_eq!((t + Duration::from_micros(1_500)).unix_millis(), 1_001);
        assert_eq!((t - Duration::from_secs(1)).unix_millis(), 0);
        assert_eq!(
            t.millis_since(Timestamp::from_unix_millis(400).unwrap()),
            600
        );
    }
}
