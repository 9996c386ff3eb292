//! Times and durations as tenant files, credentials files and the commands write them: RFC 3339
//! times, and durations like `90s`, `15m`, `24h`, `7d`.

/// A time or a duration that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{text}` is not an RFC 3339 time: {message}")]
    Time { text: String, message: String },
    #[error("`{0}` is not a duration like `90s`, `15m`, `1h` or `7d`")]
    Duration(String),
    #[error("`{0}` is too long")]
    TooLong(String),
}

/// RFC 3339 to Unix seconds.
pub fn parse_time(text: &str) -> Result<i64, TimeError> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| TimeError::Time {
            text: text.to_owned(),
            message: e.to_string(),
        })
}

/// Unix seconds to RFC 3339 in UTC, `YYYY-MM-DDTHH:MM:SSZ`: what the credentials file and the
/// commands write. Times outside the years 1 to 9999 are written as the nearest one.
pub fn format_time(unix: i64) -> String {
    let clamped = unix.clamp(-62_135_596_800, 253_402_300_799);
    time::OffsetDateTime::from_unix_timestamp(clamped)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// `90`, `90s`, `15m`, `1h`, `7d` to seconds.
pub fn parse_duration(text: &str) -> Result<i64, TimeError> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = digits
        .parse()
        .map_err(|_| TimeError::Duration(text.to_owned()))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(TimeError::Duration(text.to_owned())),
    };
    n.checked_mul(scale)
        .ok_or_else(|| TimeError::TooLong(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("15m").unwrap(), 900);
        assert_eq!(parse_duration("1h").unwrap(), 3600);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn formatted_times_read_back() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_time(-1), "1969-12-31T23:59:59Z");
        for t in [0, 1, 1_796_601_167, 4_102_444_800] {
            assert_eq!(parse_time(&format_time(t)), Ok(t));
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01T00:01:00Z").unwrap(), 60);
        assert!(parse_time("yesterday").is_err());
    }
}
