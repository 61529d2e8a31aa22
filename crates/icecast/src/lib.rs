//! The source listener of radio stations, on a port of its own (`RADIO_SOURCE_ADDR`).
//!
//! A source client streams in as Icecast 2.4 accepts it: `PUT /radio/{slug}/source` (or the
//! legacy `SOURCE` method) with `Authorization: Basic` (user `source`, the station's key as the
//! password) and the station's `Content-Type`. ffmpeg's `icecast://` sends `Expect:
//! 100-continue` and then a body with neither a length nor chunking that runs until the
//! connection closes, which an HTTP/1.1 server would read as empty: hence a listener of its own,
//! which answers `100 Continue` and reads to the end. A chunked body is decoded. Nothing else is
//! served here.
//!
//! Every refusal is a problem document as the API's are (`problem`); a wrong key and an
//! unknown station are one answer, byte for byte, so that no station's name can be probed.
//!
//! What a connection may cost is bounded before it costs anything ([`Bounds`]): connections are
//! counted as they are accepted, in all and per address (`admission`), and one over a cap is
//! answered on the spot, without reading its request first; an admitted one has its whole request head
//! within a deadline, so that a client sending a byte now and then cannot hold a socket for
//! minutes. The descriptors this port can take are so bounded, and the API's port (which shares
//! the process's descriptor limit) keeps the rest: 240 slow connections here under a limit of 256
//! used to take every descriptor, so that the API could accept nothing and `/health` timed out.
//! An accept that fails (`EMFILE` when descriptors run out all the same) is tried again after a
//! pause that grows while it keeps failing, never in a loop that spins.
//!
//! A connection turned away is closed in stages, as RFC 9112 §9.6 asks of a server that answers
//! before it has read the request: its own side first, then what the client still sends is read
//! and dropped until the client closes, for at most 2 s. Closed at once, a connection whose
//! request arrives after the answer is reset, and the reset can take the answer with it: the
//! client sees "connection reset" instead of why. At most 64 linger at once
//! (no more than the listener may hold), so that a flood of refusals costs a bounded number of
//! descriptors for a bounded time; beyond that, a refused connection is closed at once as before.

mod admission;
mod chunked;
mod head;
mod problem;
mod source;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use workbench_radio::RadioService;

use crate::admission::{Admission, Refused};
use crate::problem::Problem;

/// The most connections [`Bounds::default_max_connections`] allows, whatever the descriptor
/// limit: sources are one per station, and refused ones leave at once.
const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The pauses after a failed accept: the first, and the longest it grows to.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);

/// How long a turned-away connection is read from after its answer, at most: long enough for a
/// request already on its way, short enough that a client which never closes costs little.
const LINGER: Duration = Duration::from_secs(2);

/// The most turned-away connections lingering at once (fewer when the listener may hold fewer).
const MAX_LINGERING: usize = 64;

/// What the source listener lets a connection cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Connections held at once, from anyone (`RADIO_SOURCE_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Connections held at once from one address, IPv6 by /64
    /// (`RADIO_SOURCE_MAX_CONNECTIONS_PER_IP`).
    pub max_connections_per_ip: usize,
    /// How long a request head may take to arrive whole (`RADIO_SOURCE_HEAD_TIMEOUT`).
    pub head_timeout: Duration,
}

impl Bounds {
    /// The connections to hold at most when none is configured, for a process that may open
    /// `descriptors` files (its soft `RLIMIT_NOFILE`): a quarter of them, so that the API, the
    /// database pool and the listeners of stations keep three quarters; at least one, and at most
    /// 1,024.
    pub fn default_max_connections(descriptors: u64) -> usize {
        usize::try_from(descriptors / 4).unwrap_or(usize::MAX).clamp(1, DEFAULT_MAX_CONNECTIONS)
    }
}

/// Accepts sources until the task is dropped.
pub async fn serve(listener: TcpListener, radio: RadioService, bounds: Bounds) {
    let admission = Admission::new(bounds.max_connections, bounds.max_connections_per_ip);
    let lingering = Arc::new(Semaphore::new(bounds.max_connections.clamp(1, MAX_LINGERING)));
    let mut failing = AcceptFailures::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => {
                failing.recovered();
                accepted
            }
            Err(e) => {
                failing.pause(&e).await;
                continue;
            }
        };
        match admission.admit(peer.ip()) {
            Ok(ticket) => {
                let radio = radio.clone();
                tokio::spawn(async move {
                    if let Err(e) = source::serve(stream, radio, bounds.head_timeout).await {
                        tracing::debug!(%peer, error = %e, "a radio source connection ended");
                    }
                    drop(ticket);
                });
            }
            Err(refused) => {
                tracing::debug!(%peer, ?refused, "a radio source connection was turned away");
                turn_away(stream, &refused, &lingering);
            }
        }
    }
}

/// Answers a connection over a cap and closes it, without waiting on the client: what has
/// arrived of its request is read first, then the answer is written if the socket takes it now
/// (a few hundred bytes on a new connection always fit; if not, closing says enough). The close
/// lingers when a place is free ([`linger`]), and is immediate otherwise.
fn turn_away(stream: TcpStream, refused: &Refused, lingering: &Arc<Semaphore>) {
    let mut sink = [0_u8; 4096];
    for _ in 0..4 {
        match stream.try_read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    let problem = match *refused {
        Refused::Full(max) => Problem::full(max),
        Refused::Address(max) => Problem::too_many_from_address(max),
    };
    let _ = stream.try_write(&problem.response());
    if let Ok(place) = lingering.clone().try_acquire_owned() {
        tokio::spawn(linger(stream, place));
    }
}

/// Closes a turned-away connection in stages: this side first, so that the client reads the
/// answer and then its end, then reads and drops what the client still sends until it closes
/// (or [`LINGER`] passes), so that nothing arrives at a closed socket to be answered with a reset.
async fn linger(mut stream: TcpStream, _place: OwnedSemaphorePermit) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0_u8; 4096];
    let drained = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(LINGER, drained).await;
}

/// Failed accepts in a row, and the pause before the next try.
#[derive(Debug, Default)]
struct AcceptFailures {
    count: u32,
}

impl AcceptFailures {
    /// The pause after `count` failures in a row: [`ACCEPT_PAUSE`], doubling up to
    /// [`ACCEPT_PAUSE_MAX`].
    fn pause_after(count: u32) -> Duration {
        ACCEPT_PAUSE.saturating_mul(1 << count.saturating_sub(1).min(10)).min(ACCEPT_PAUSE_MAX)
    }

    /// Waits before the next accept. A connection that went before it was accepted is no failure
    /// of the listener's; anything else (`EMFILE`, `ENFILE`, `ENOBUFS`) is logged once per run of
    /// failures, and waited out.
    async fn pause(&mut self, error: &std::io::Error) {
        use std::io::ErrorKind;
        if matches!(error.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted) {
            return;
        }
        self.count = self.count.saturating_add(1);
        if self.count == 1 {
            tracing::warn!(error = %error, "the radio source listener cannot accept; trying again shortly");
        }
        tokio::time::sleep(Self::pause_after(self.count)).await;
    }

    fn recovered(&mut self) {
        if self.count > 0 {
            tracing::info!(failures = self.count, "the radio source listener accepts again");
            self.count = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_is_a_quarter_of_the_descriptors_within_bounds() {
        assert_eq!(Bounds::default_max_connections(256), 64);
        assert_eq!(Bounds::default_max_connections(1024), 256);
        assert_eq!(Bounds::default_max_connections(1_048_576), 1024, "at most 1024");
        assert_eq!(Bounds::default_max_connections(2), 1, "at least one");
        assert_eq!(Bounds::default_max_connections(u64::MAX), 1024);
    }

    #[test]
    fn failed_accepts_wait_longer_and_longer_up_to_a_second() {
        let pauses: Vec<u128> = (1..=8).map(|n| AcceptFailures::pause_after(n).as_millis()).collect();
        assert_eq!(pauses, [50, 100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(AcceptFailures::pause_after(u32::MAX), ACCEPT_PAUSE_MAX);
    }

    #[tokio::test]
    async fn a_connection_gone_before_its_accept_is_no_reason_to_wait() {
        let mut failing = AcceptFailures::default();
        let started = tokio::time::Instant::now();
        failing.pause(&std::io::ErrorKind::ConnectionAborted.into()).await;
        assert_eq!(failing.count, 0);
        assert!(started.elapsed() < ACCEPT_PAUSE);
        failing.pause(&std::io::Error::from_raw_os_error(24)).await;
        assert_eq!(failing.count, 1);
        assert!(started.elapsed() >= ACCEPT_PAUSE, "EMFILE: a pause");
        failing.recovered();
        assert_eq!(failing.count, 0);
    }
}
