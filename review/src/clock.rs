//! The clock, and times and durations as the commands and test files write them (read by the
//! compiler's [`gatehouse_compiler::time`], the one definition).

pub use gatehouse_compiler::time::{parse_duration, parse_time, TimeError};

/// Current Unix time in seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
