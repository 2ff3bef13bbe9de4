//! RFC 3339 timestamps: parsing with a mandatory offset, normalising to UTC while keeping the
//! precision the client sent, and the microsecond integers used for time-window search.

use time::format_description::well_known::Rfc3339;
pub use time::OffsetDateTime;
use time::UtcOffset;

/// A parsed timestamp: its UTC text form (the client's precision kept) and microseconds since the
/// Unix epoch (for indexing and filters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, with as many fraction digits as the input had.
    pub utc: String,
    /// Microseconds since 1970-01-01T00:00:00Z (sub-microsecond digits truncated).
    pub micros: i64,
}

/// Why a string is not an acceptable timestamp.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimestampError {
    /// Not RFC 3339 (`T` between date and time, as its grammar and JSON Schema's `date-time`
    /// say), or no offset (`Z` or `±hh:mm`).
    #[error("must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T09:30:00.123Z")]
    Syntax,
    /// Outside the years 0001–9999, in UTC.
    #[error("year out of range")]
    Range,
}

/// Parses an RFC 3339 date-time that carries an explicit offset.
pub fn parse(s: &str) -> Result<Timestamp, TimestampError> {
    // `time` takes any byte between date and time (RFC 3339 only notes that readers may choose to
    // accept a space); the grammar, and the OpenAPI document's `date-time`, say `T` or `t`.
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't')) {
        return Err(TimestampError::Syntax);
    }
    let dt = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| TimestampError::Syntax)?;
    let digits = fraction_digits(s);
    // `to_offset` panics when the UTC instant leaves `time`'s years (9999-12-31T23:30:00-01:00).
    let utc = dt
        .checked_to_offset(UtcOffset::UTC)
        .ok_or(TimestampError::Range)?;
    if !(1..=9999).contains(&utc.year()) {
        return Err(TimestampError::Range);
    }
    Ok(Timestamp {
        utc: format_utc(utc, digits),
        micros: micros(utc),
    })
}

/// Formats a UTC instant with `digits` fraction digits (0–9).
pub fn format_utc(dt: OffsetDateTime, digits: usize) -> String {
    let dt = dt.to_offset(UtcOffset::UTC);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if digits > 0 {
        let nanos = format!("{:09}", dt.nanosecond());
        s.push('.');
        s.push_str(&nanos[..digits.min(9)]);
    }
    s.push('Z');
    s
}

/// Microseconds since the epoch.
pub fn micros(dt: OffsetDateTime) -> i64 {
    (dt.unix_timestamp_nanos() / 1_000) as i64
}

fn fraction_digits(s: &str) -> usize {
    // RFC 3339: "YYYY-MM-DDTHH:MM:SS" is 19 bytes; a fraction, if any, follows as ".ddd".
    match s.as_bytes().get(19) {
        Some(b'.') => s.as_bytes()[20..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
            .min(9),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_utc_keeping_precision() {
        let t = parse("2026-03-01T10:15:30.120+02:00").unwrap();
        assert_eq!(t.utc, "2026-03-01T08:15:30.120Z");
        let t = parse("2026-03-01T08:15:30Z").unwrap();
        assert_eq!(t.utc, "2026-03-01T08:15:30Z");
        assert_eq!(t.micros, 1_772_352_930_000_000);
        let t = parse("2026-03-01T08:15:30.123456789-00:30").unwrap();
        assert_eq!(t.utc, "2026-03-01T08:45:30.123456789Z");
        assert_eq!(t.micros % 1_000_000, 123_456);
    }

    #[test]
    fn rejects_missing_offset_and_junk() {
        for bad in [
            "2026-03-01T08:15:30",
            "2026-03-01 08:15:30",
            "2026-03-01",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-03-01 08:15:30Z",
            "2026-03-01x08:15:30Z",
            "",
        ] {
            assert_eq!(parse(bad), Err(TimestampError::Syntax), "{bad}");
        }
        assert!(parse("2026-03-01t08:15:30z").is_ok());
    }

    /// Instants whose UTC form leaves the years 0001-9999 are refused, not a panic (the first one
    /// used to panic in `to_offset`; schemathesis-style envelope generation found it).
    #[test]
    fn utc_beyond_the_year_range_is_refused() {
        for bad in [
            "9999-12-31T23:30:00-01:00",
            "9999-12-31T23:59:59.999-23:59",
            "0001-01-01T00:30:00+01:00",
            "0000-06-01T00:00:00Z",
        ] {
            assert_eq!(parse(bad), Err(TimestampError::Range), "{bad}");
        }
        assert!(parse("9999-12-31T23:30:00+01:00").is_ok());
        assert!(parse("0001-01-01T00:30:00-01:00").is_ok());
    }
}
