//! What happens after a failed attempt: exponential backoff with jitter, and when to give up.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::{AttemptError, Job, JobFailure, Verdict};

/// How long to wait before the next attempt.
///
/// The delay after attempt `n` is `base · 2ⁿ` (2 s, 4 s, 8 s, … with the default 1 s base),
/// capped at `max`, then spread by ±`jitter` (a fraction) so that jobs that failed together do
/// not all come back in the same instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The delay after the first attempt is twice this; each further attempt doubles it.
    pub base: Duration,
    /// The longest delay, before jitter.
    pub max: Duration,
    /// Between 0 and 1: 0.1 spreads each delay over ±10%.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: Duration::from_secs(1), max: Duration::from_secs(3600), jitter: 0.1 }
    }
}

impl RetryPolicy {
    /// The delay after `attempt` failed. `spread` is a number in [-1, 1] (random in production,
    /// fixed in tests) choosing where in the jitter band the delay falls.
    pub fn delay(&self, attempt: u32, spread: f64) -> Duration {
        // 2^attempt overflows nothing below 2^31; past the cap the exponent does not matter.
        let factor = 2f64.powi(attempt.min(31) as i32);
        let raw = (self.base.as_secs_f64() * factor).min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0) * spread.clamp(-1.0, 1.0);
        Duration::from_secs_f64((raw * (1.0 + jitter)).max(0.0))
    }
}

/// The verdict on `job` (at its current attempt) after `failure` at `now`, and its errors with
/// this attempt's appended: discarded when the failure is permanent or the attempts are used up,
/// otherwise retried after the policy's delay.
pub fn after_failure(
    job: &Job,
    failure: &JobFailure,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
    spread: f64,
) -> (Verdict, Vec<AttemptError>) {
    let mut errors = job.errors.clone();
    errors.push(AttemptError::new(job.attempt, now, &failure.message));
    let verdict = if failure.permanent || job.attempt >= job.max_attempts {
        Verdict::Discard
    } else {
        let delay = policy.delay(job.attempt, spread);
        let delay = TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
        Verdict::Retry { at: now.checked_add_signed(delay).unwrap_or(DateTime::<Utc>::MAX_UTC) }
    };
    (verdict, errors)
}

/// A random spread in [-1, 1] for [`RetryPolicy::delay`].
pub(crate) fn random_spread() -> f64 {
    rand::random_range(-1.0..=1.0)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::{JobId, JobState};

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()
    }

    fn job(attempt: u32, max_attempts: u32) -> Job {
        Job {
            id: JobId(7),
            kind: "mail.send".to_owned(),
            args: serde_json::json!({}),
            priority: 0,
            state: JobState::Running,
            run_at: at(),
            attempt,
            max_attempts,
            errors: vec![AttemptError::new(1, at(), "first")],
            unique_key: None,
            lease_owner: Some("a".to_owned()),
            lease_until: Some(at()),
            created_at: at(),
            attempted_at: Some(at()),
            finished_at: None,
        }
    }

    #[test]
    fn delay_doubles_per_attempt_up_to_the_cap() {
        let policy = RetryPolicy { base: Duration::from_secs(1), max: Duration::from_secs(60), jitter: 0.0 };
        let delays: Vec<u64> = (1..=8).map(|n| policy.delay(n, 0.0).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(policy.delay(u32::MAX, 0.0), Duration::from_secs(60), "huge attempts stay at the cap");
    }

    #[test]
    fn jitter_spreads_within_its_band() {
        let policy = RetryPolicy { base: Duration::from_secs(5), max: Duration::from_secs(3600), jitter: 0.2 };
        assert_eq!(policy.delay(1, -1.0), Duration::from_secs(8));
        assert_eq!(policy.delay(1, 1.0), Duration::from_secs(12));
        for _ in 0..100 {
            let d = policy.delay(1, random_spread());
            assert!((Duration::from_secs(8)..=Duration::from_secs(12)).contains(&d), "{d:?}");
        }
    }

    #[test]
    fn a_failure_with_attempts_left_is_retried_after_the_backoff() {
        let policy = RetryPolicy { jitter: 0.0, ..RetryPolicy::default() };
        let (verdict, errors) = after_failure(&job(3, 5), &JobFailure::new("boom"), &policy, at(), 0.0);
        assert_eq!(verdict, Verdict::Retry { at: at() + TimeDelta::seconds(8) });
        assert_eq!(errors.len(), 2, "the attempt's error is appended to the earlier ones");
        assert_eq!(errors[1], AttemptError { attempt: 3, at: at(), error: "boom".to_owned() });
    }

    #[test]
    fn the_last_attempt_or_a_permanent_failure_discards() {
        let policy = RetryPolicy::default();
        let (verdict, _) = after_failure(&job(5, 5), &JobFailure::new("boom"), &policy, at(), 0.0);
        assert_eq!(verdict, Verdict::Discard);
        let (verdict, errors) = after_failure(&job(1, 5), &JobFailure::permanent("bad args"), &policy, at(), 0.0);
        assert_eq!(verdict, Verdict::Discard);
        assert_eq!(errors.last().map(|e| e.error.as_str()), Some("bad args"));
    }

    #[test]
    fn long_errors_are_cut() {
        let long = "é".repeat(crate::ERROR_MAX_LEN + 10);
        let error = AttemptError::new(1, at(), &long);
        assert_eq!(error.error.chars().count(), crate::ERROR_MAX_LEN + 1, "cut, with an ellipsis");
    }
}
