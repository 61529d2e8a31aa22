//! The time every domain stamps its records with.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time, truncated to microseconds: PostgreSQL keeps microseconds and SQLite keeps
/// whatever it is given, so truncating here makes both engines return identical timestamps.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    #[test]
    fn now_has_whole_microseconds() {
        for _ in 0..100 {
            assert_eq!(now().nanosecond() % 1_000, 0);
        }
    }
}
