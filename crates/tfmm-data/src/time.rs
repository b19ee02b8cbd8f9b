//! UTC date strings <-> unix milliseconds, without a calendar dependency.
//!
//! The proleptic Gregorian conversions are Howard Hinnant's `days_from_civil`
//! and `civil_from_days`, exact for every year we can represent.

use crate::error::DataError;

pub const MS_PER_MINUTE: i64 = 60_000;
pub const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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

fn fields(text: &str, sep: char, n: usize) -> Option<Vec<&str>> {
    let v: Vec<&str> = text.split(sep).collect();
    (v.len() == n).then_some(v)
}

const FORMATS: &str = "expected YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or YYYY-MM-DDTHH:MM:SS[Z], UTC";

/// Parses `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[Z]` as UTC
/// and returns unix milliseconds.
pub fn parse_utc(s: &str) -> Result<i64, DataError> {
    let err = |rule: String| DataError::Date {
        input: s.to_string(),
        rule,
    };
    let t = s.trim();
    let t = t.strip_suffix('Z').unwrap_or(t);
    let (date, clock) = match t.len() {
        10 => (t, None),
        19 => {
            let sep = t.as_bytes()[10];
            if sep != b' ' && sep != b'T' {
                return Err(err(format!("is not a date ({FORMATS})")));
            }
            // Byte 10 is ASCII, so both slices fall on char boundaries.
            (&t[..10], Some(&t[11..]))
        }
        _ => return Err(err(format!("is not a date ({FORMATS})"))),
    };
    let number = |part: &str, what: &str| -> Result<u32, DataError> {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse::<u32>()
                .map_err(|_| err(format!("has a bad {what} `{part}` ({FORMATS})")))
        } else {
            Err(err(format!("has a bad {what} `{part}` ({FORMATS})")))
        }
    };
    let d = fields(date, '-', 3).ok_or_else(|| err(format!("is not a date ({FORMATS})")))?;
    if d[0].len() != 4 || d[1].len() != 2 || d[2].len() != 2 {
        return Err(err(format!("is not a date ({FORMATS})")));
    }
    let year = i64::from(number(d[0], "year")?);
    let month = number(d[1], "month")?;
    let day = number(d[2], "day")?;
    if !(1..=12).contains(&month) {
        return Err(err(format!("has month {month}, outside 1..12")));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(err(format!(
            "has day {day}, outside 1..{} for {year}-{month:02}",
            days_in_month(year, month)
        )));
    }
    let (hh, mm, ss) = match clock {
        None => (0, 0, 0),
        Some(c) => {
            let c = fields(c, ':', 3)
                .filter(|c| c.iter().all(|p| p.len() == 2))
                .ok_or_else(|| err(format!("has a bad time of day ({FORMATS})")))?;
            (
                number(c[0], "hour")?,
                number(c[1], "minute")?,
                number(c[2], "second")?,
            )
        }
    };
    if hh > 23 || mm > 59 || ss > 59 {
        return Err(err(format!(
            "has time {hh:02}:{mm:02}:{ss:02}, outside 00:00:00..23:59:59"
        )));
    }
    let days = days_from_civil(year, month, day);
    let secs = i64::from(hh) * 3600 + i64::from(mm) * 60 + i64::from(ss);
    Ok(days * MS_PER_DAY + secs * 1000)
}

/// Formats unix milliseconds as `YYYY-MM-DD HH:MM:SS` (UTC); sub-second parts
/// are truncated toward the earlier second.
pub fn format_utc(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let secs = ms.rem_euclid(MS_PER_DAY) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_utc("1970-01-01").unwrap(), 0);
        assert_eq!(parse_utc("2022-01-01 00:00:00").unwrap(), 1_640_995_200_000);
        assert_eq!(parse_utc("2023-03-15 12:00:00").unwrap(), 1_678_881_600_000);
        assert_eq!(
            parse_utc("2023-03-15T12:00:00Z").unwrap(),
            1_678_881_600_000
        );
        assert_eq!(parse_utc("2023-03-15T12:00:00").unwrap(), 1_678_881_600_000);
        assert_eq!(parse_utc("2024-02-29 23:59:59").unwrap(), 1_709_251_199_000);
        assert_eq!(parse_utc("1969-12-31 23:59:00").unwrap(), -60_000);
    }

    #[test]
    fn format_round_trips_every_day_for_centuries() {
        for day in (-200_000i64..200_000).step_by(7) {
            let ms = day * MS_PER_DAY + 45_296_000; // 12:34:56
            let s = format_utc(ms);
            assert_eq!(parse_utc(&s).unwrap(), ms, "{s}");
        }
        assert_eq!(format_utc(1_681_559_940_000), "2023-04-15 11:59:00");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59");
        // Extremes format without overflow (the years are absurd, not a panic).
        assert!(!format_utc(i64::MIN).is_empty());
        assert!(!format_utc(i64::MAX).is_empty());
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "2023",
            "2023-1-01",
            "2023-13-01",
            "2023-02-29",
            "2023-00-10",
            "2023-01-00",
            "2023-01-01 24:00:00",
            "2023-01-01 12:60:00",
            "2023-01-01 12:00:61",
            "2023-01-01x12:00:00",
            "2023-01-01 12:00",
            "2023-01-01 12:0a:00",
            "+023-01-01",
            "２０２３-01-01",
            "2023-01-01 12:00:00.5",
        ] {
            let e = parse_utc(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("date `{bad}`")), "{bad}: {e}");
        }
        let e = parse_utc("2023-02-29").unwrap_err().to_string();
        assert!(e.contains("day 29") && e.contains("1..28"), "{e}");
        let e = parse_utc("2023-13-01").unwrap_err().to_string();
        assert!(e.contains("month 13"), "{e}");
    }
}
