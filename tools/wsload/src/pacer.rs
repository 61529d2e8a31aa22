//! An open-loop rate pacer: sends are scheduled by the clock, not by replies, so a slow server
//! shows up as latency (and as a lower achieved rate), never as fewer requests asked of it.

use std::time::Duration;

use tokio::time::Instant;

/// Hands out sends at `rate` per second from the moment it was made.
///
/// Tokio's timer ticks in milliseconds, so at thousands per second each wake-up releases the
/// batch that fell due since the last one (at 5,000/s: about five per millisecond).
#[derive(Debug)]
pub struct Pacer {
    start: Instant,
    rate: f64,
    released: u64,
    limit: Option<u64>,
}

/// How many sends have fallen due `elapsed` after the start at `rate` per second: the first is
/// due at once, the next `1/rate` later, and so on.
pub fn due(elapsed: Duration, rate: f64) -> u64 {
    if rate <= 0.0 {
        return 0;
    }
    // The n-th send (from 0) is due at n / rate seconds; the small tolerance keeps a wake-up at
    // exactly that instant (rounded to a nanosecond) from reading as a hair too early.
    let n = (elapsed.as_secs_f64() * rate + 1e-6).floor() as u64;
    n + 1
}

impl Pacer {
    /// A pacer releasing `rate` sends per second, for ever.
    pub fn new(rate: f64) -> Self {
        Self { start: Instant::now(), rate, released: 0, limit: None }
    }

    /// A pacer that stops after `duration` (it releases `rate × duration` sends in all).
    pub fn for_duration(rate: f64, duration: Duration) -> Self {
        let limit = (rate * duration.as_secs_f64()).round() as u64;
        Self { start: Instant::now(), rate, released: 0, limit: Some(limit) }
    }

    /// Sends released so far.
    #[cfg(test)]
    pub fn released(&self) -> u64 {
        self.released
    }

    /// When the pacer started.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// Waits until at least one send is due and returns how many are due now (catching up on
    /// any that a late wake-up missed), or `None` once the pacer's total has been released.
    pub async fn next_batch(&mut self) -> Option<u64> {
        if self.rate <= 0.0 {
            return None;
        }
        loop {
            if self.limit.is_some_and(|l| self.released >= l) {
                return None;
            }
            let mut due_now = due(self.start.elapsed(), self.rate);
            if let Some(limit) = self.limit {
                due_now = due_now.min(limit);
            }
            if due_now > self.released {
                let batch = due_now - self.released;
                self.released = due_now;
                return Some(batch);
            }
            // The next send is due at released / rate seconds after the start.
            let at_ns = (self.released as f64 * 1e9 / self.rate).ceil() as u64;
            let at = self.start + Duration::from_nanos(at_ns);
            tokio::time::sleep_until(at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_counts_the_first_send_at_once_and_one_more_per_interval() {
        assert_eq!(due(Duration::ZERO, 1000.0), 1);
        assert_eq!(due(Duration::from_micros(999), 1000.0), 1);
        assert_eq!(due(Duration::from_millis(1), 1000.0), 2);
        assert_eq!(due(Duration::from_secs(1), 5000.0), 5001);
        assert_eq!(due(Duration::from_millis(500), 3.0), 2);
        assert_eq!(due(Duration::from_secs(10), 0.0), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_pacer_releases_rate_times_duration_then_stops() {
        let mut p = Pacer::for_duration(5000.0, Duration::from_secs(2));
        let mut total = 0;
        let mut wakeups = 0;
        while let Some(n) = p.next_batch().await {
            total += n;
            wakeups += 1;
        }
        assert_eq!(total, 10_000);
        assert_eq!(p.released(), 10_000);
        // Tokio's timer has millisecond ticks: at 5/ms the sends come in batches, one per tick.
        assert!((2000..=2001).contains(&wakeups), "{wakeups}");
        let took = p.started().elapsed();
        assert!(took >= Duration::from_millis(1999) && took <= Duration::from_millis(2001), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_wakeup_catches_up_in_one_batch() {
        let mut p = Pacer::new(1000.0);
        assert_eq!(p.next_batch().await, Some(1));
        tokio::time::advance(Duration::from_millis(50)).await;
        // 50 ms late: the sends due at 1..=50 ms are released together.
        assert_eq!(p.next_batch().await, Some(50));
        assert_eq!(p.released(), 51);
    }
}
