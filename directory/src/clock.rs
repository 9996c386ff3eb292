//! The service's clock, in the forms SCIM (`meta.created`) and the serial need.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Unix seconds now (0 before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Now as RFC 3339 in UTC, to the second.
pub fn now_rfc3339() -> String {
    rfc3339(unix_now())
}

pub fn rfc3339(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::rfc3339(1_795_867_200), "2026-11-28T12:00:00Z");
    }
}
