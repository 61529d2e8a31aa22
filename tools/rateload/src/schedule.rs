//! The clock of one connection: its requests are due at fixed moments whatever the server does,
//! and a response's latency is counted from the moment its request was due when the server kept
//! the connection busy past it (wrk2's correction of coordinated omission). Without it, a server
//! that stalls for a second delays the requests it would have got in that second, and they are
//! never measured at all: a closed loop's p99 is the server's best case, not its users'.

use std::time::Duration;

use tokio::time::Instant;

/// The moments a connection's requests fall due: `first`, then every `interval`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    first: Instant,
    interval: Duration,
}

impl Schedule {
    /// Connection `index` of `connections` sharing `rate` requests a second: each sends every
    /// `connections / rate` seconds, the connections spread evenly inside one interval so that the
    /// server sees one request every `1 / rate` seconds, not bursts of `connections`.
    pub fn spread(start: Instant, rate: f64, connections: u32, index: u32) -> Self {
        let interval = Duration::from_secs_f64(f64::from(connections) / rate);
        let first = start + Duration::from_secs_f64(f64::from(index) / rate);
        Self { first, interval }
    }

    /// When the `k`-th request (from 0) is due.
    pub fn due(&self, k: u64) -> Instant {
        self.first + self.interval.mul_f64(k as f64)
    }
}

/// From when a response's latency counts. `due` is when the request fell due, `free` when the
/// connection's previous response ended, `sent` when this request actually went out.
///
/// A connection still busy at `due` means the server made this request wait: its latency counts
/// from `due`. A connection that was free waited on the generator's own timer (tokio's has a
/// millisecond grain), so the few hundred microseconds between `due` and `sent` are not the
/// server's and the latency counts from `sent`.
pub fn counted_from(due: Instant, free: Instant, sent: Instant) -> Instant {
    if free > due { due } else { sent }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_interleave_to_the_offered_rate() {
        let start = Instant::now();
        let a = Schedule::spread(start, 1000.0, 4, 0);
        let b = Schedule::spread(start, 1000.0, 4, 1);
        assert_eq!(a.due(0), start);
        assert_eq!(b.due(0) - start, Duration::from_millis(1));
        assert_eq!(a.due(1) - start, Duration::from_millis(4));
        assert_eq!(b.due(10) - start, Duration::from_millis(41));
    }

    #[test]
    fn a_stalled_connection_counts_from_the_moment_it_was_due() {
        let due = Instant::now();
        // The previous response came 30 ms late: this request waited those 30 ms for the server.
        let free = due + Duration::from_millis(30);
        assert_eq!(counted_from(due, free, free), due);
        // The connection was idle; the timer woke 700 µs late: that is the generator's slack.
        let sent = due + Duration::from_micros(700);
        assert_eq!(counted_from(due, due - Duration::from_millis(2), sent), sent);
    }
}
