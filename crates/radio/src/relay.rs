//! The relay of one station on this instance: what its source (or its playlist) sends, handed to
//! every listener without a copy per listener.
//!
//! Audio arrives cut into whole frames (see [`crate::frames`]) and is sent on in numbered chunks of
//! about [`CHUNK`] of playing time, each starting on a boundary, through one broadcast channel
//! (`Bytes`: every listener shares each chunk) to the writers that follow it, one per station and
//! thread (`crate::transmitter`). A new listener first gets a burst: an Ogg stream's header pages,
//! then the last [`BURST`] of audio, so that playback starts at once, and then the chunks from the
//! number [`Relay::tune_in`] gives it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::broadcast;

use crate::frames::{Frame, Framing, ogg_starts_stream};

/// How much recent audio a listener gets at once when it connects.
pub const BURST: Duration = Duration::from_secs(2);

/// How much playing time one chunk holds: fewer, larger chunks mean fewer wake-ups per listener
/// (at 100 ms, 3,000 listeners cost 0.17 cores against Icecast's 0.14).
pub const CHUNK: Duration = Duration::from_millis(200);

/// How long a source on another instance counts as live after its last audio arrived here.
pub const REMOTE_GRACE: Duration = Duration::from_secs(3);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How many chunks a listener may fall behind (about 50 s of audio) before it is dropped.
pub(crate) const QUEUE: usize = 256;

/// One station's relay on this instance.
#[derive(Debug)]
pub struct Relay {
    framing: Framing,
    sender: broadcast::Sender<Bytes>,
    recent: Mutex<Recent>,
    /// Listeners tuned in on this instance.
    listening: AtomicUsize,
    /// A source is connected to this instance.
    live: AtomicBool,
    /// The auto-DJ is playing into it.
    pub(crate) dj: AtomicBool,
    /// Until when (ms since the epoch) a source on another instance counts as live here: audio
    /// relayed from it pushes this on.
    remote_until: AtomicU64,
}

/// What a new listener is given before the live chunks.
#[derive(Debug, Default)]
struct Recent {
    /// Ogg: the current logical stream's header pages.
    headers: Vec<Bytes>,
    /// The chunks of the last [`BURST`], oldest first, with their playing time.
    chunks: VecDeque<(Bytes, Duration)>,
    held: Duration,
    /// Frames not yet sent, and their playing time.
    gathering: BytesMut,
    gathered: Duration,
    /// Chunks sent so far: the number of the next one.
    sent: u64,
}

/// A listener's place: the burst, then the live chunks from chunk number `next` on.
#[derive(Debug)]
pub struct Tuned {
    /// The last ~2 s of audio (an Ogg stream's header pages first), to send at once.
    pub burst: Vec<Bytes>,
    /// The number of the first live chunk to send after the burst.
    pub next: u64,
}

impl Relay {
    /// A relay of a station broadcasting `framing`, with no source and nobody listening.
    pub fn new(framing: Framing) -> Self {
        Self {
            framing,
            sender: broadcast::channel(QUEUE).0,
            recent: Mutex::new(Recent::default()),
            listening: AtomicUsize::new(0),
            live: AtomicBool::new(false),
            dj: AtomicBool::new(false),
            remote_until: AtomicU64::new(0),
        }
    }

    /// How the station's audio is cut into frames.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Sends `frames` on: gathered until a chunk's worth, then to every listener at once.
    /// Answers the chunks sent, with their playing time (what other instances are sent).
    pub fn push(&self, frames: impl IntoIterator<Item = Frame>) -> Vec<(Bytes, Duration)> {
        let mut sent = Vec::new();
        let mut recent = self.recent();
        for frame in frames {
            if self.framing == Framing::Ogg && frame.duration.is_zero() {
                // Header pages: kept for listeners who join this logical stream later.
                if ogg_starts_stream(&frame.bytes) {
                    recent.headers.clear();
                    recent.chunks.clear();
                    recent.held = Duration::ZERO;
                }
                if recent.chunks.is_empty() && recent.gathered.is_zero() {
                    recent.headers.push(frame.bytes.clone());
                }
            }
            recent.gathering.extend_from_slice(&frame.bytes);
            recent.gathered += frame.duration;
            if recent.gathered >= CHUNK {
                sent.push(self.send(&mut recent));
            }
        }
        sent
    }

    /// Sends what was gathered, whatever its length (the source paused, or went).
    pub fn flush(&self) -> Option<(Bytes, Duration)> {
        let mut recent = self.recent();
        (!recent.gathering.is_empty()).then(|| self.send(&mut recent))
    }

    fn send(&self, recent: &mut Recent) -> (Bytes, Duration) {
        let chunk = recent.gathering.split().freeze();
        let played = std::mem::take(&mut recent.gathered);
        // No listener is no error: the chunk is still kept for the next one's burst.
        let _ = self.sender.send(chunk.clone());
        recent.sent += 1;
        recent.chunks.push_back((chunk.clone(), played));
        recent.held += played;
        while recent.held > BURST && recent.chunks.len() > 1 {
            if let Some((_, d)) = recent.chunks.pop_front() {
                recent.held -= d;
            }
        }
        (chunk, played)
    }

    /// A new listener, counted in: the burst, and the number of the live chunk after it, with
    /// nothing lost or repeated between the two. Whoever writes to it must [`follow`](Self::follow)
    /// the relay from that chunk or earlier, and [`tune_out`](Self::tune_out) when it goes.
    pub fn tune_in(&self) -> Tuned {
        let recent = self.recent();
        self.listening.fetch_add(1, Ordering::AcqRel);
        let mut burst = recent.headers.clone();
        let after_headers = recent.chunks.iter().map(|(c, _)| c.clone());
        // Ogg: a chunk may begin with the header pages themselves; they are sent once.
        burst.extend(after_headers.filter(|c| !recent.headers.iter().any(|h| c.starts_with(h))));
        Tuned { burst, next: recent.sent }
    }

    /// `count` listeners went.
    pub fn tune_out(&self, count: usize) {
        let _ = self.listening.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(count)));
    }

    /// Every chunk sent from now on, and the number of the first: what a writer to listeners
    /// follows. Not a listener: it is not counted.
    pub fn follow(&self) -> (broadcast::Receiver<Bytes>, u64) {
        let recent = self.recent();
        (self.sender.subscribe(), recent.sent)
    }

    /// Listeners tuned in on this instance.
    pub fn listeners(&self) -> usize {
        self.listening.load(Ordering::Acquire)
    }

    /// Forgets the recent audio: what follows is another stream (the source took over from the
    /// playlist, or the other way round), and a new listener must not start in the old one.
    pub fn restart(&self) {
        let mut recent = self.recent();
        recent.headers.clear();
        recent.chunks.clear();
        recent.held = Duration::ZERO;
        recent.gathering.clear();
        recent.gathered = Duration::ZERO;
    }

    /// Marks a source connected here; `false` when one already is.
    pub fn claim_source(&self) -> bool {
        self.live.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Marks the source connected here gone, so that another may connect.
    pub fn release_source(&self) {
        self.live.store(false, Ordering::Release);
    }

    /// Whether a source is live: connected here, or relayed from another instance a moment ago.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire) || self.remote_until.load(Ordering::Acquire) > now_ms()
    }

    /// Whether the source is connected to this instance.
    pub fn is_live_here(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Notes audio relayed from a source on another instance: live for [`REMOTE_GRACE`] more.
    pub fn heard_remote(&self) {
        self.remote_until
            .store(now_ms() + u64::try_from(REMOTE_GRACE.as_millis()).unwrap_or(u64::MAX), Ordering::Release);
    }

    /// The source on another instance went.
    pub fn remote_ended(&self) {
        self.remote_until.store(0, Ordering::Release);
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every station's relay on this instance, made on first use.
#[derive(Debug, Default)]
pub struct Relays {
    relays: Mutex<HashMap<String, Arc<Relay>>>,
}

impl Relays {
    /// The relay of `slug`, with `framing` when it is new.
    pub fn get(&self, slug: &str, framing: Framing) -> Arc<Relay> {
        let mut relays = self.relays.lock().unwrap_or_else(PoisonError::into_inner);
        relays.entry(slug.to_owned()).or_insert_with(|| Arc::new(Relay::new(framing))).clone()
    }

    /// The relay of `slug`, when there is one.
    pub fn find(&self, slug: &str) -> Option<Arc<Relay>> {
        self.relays.lock().unwrap_or_else(PoisonError::into_inner).get(slug).cloned()
    }

    /// Forgets a deleted station's relay (its listeners see their stream end).
    pub fn remove(&self, slug: &str) -> Option<Arc<Relay>> {
        self.relays.lock().unwrap_or_else(PoisonError::into_inner).remove(slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(byte: u8, ms: u64) -> Frame {
        Frame { bytes: Bytes::from(vec![byte; 10]), duration: Duration::from_millis(ms) }
    }

    #[tokio::test]
    async fn a_listener_gets_the_last_two_seconds_and_the_number_of_the_chunk_after_them() {
        let relay = Relay::new(Framing::Mpeg);
        // 3 s of 50 ms frames, gathered into chunks.
        let per_chunk = u8::try_from(CHUNK.as_millis() / 50).unwrap();
        relay.push((0..60).map(|i| frame(i, 50)));
        let (mut live, first) = relay.follow();
        let tuned = relay.tune_in();
        assert_eq!(tuned.next, first, "the burst ends where the live chunks begin");
        let burst: Duration = tuned.burst.iter().map(|_| CHUNK).sum();
        assert!(burst >= BURST && burst <= BURST + CHUNK, "{burst:?}");
        assert_eq!(tuned.burst.last().unwrap()[0], 60 - per_chunk, "the burst ends with the last whole chunk");
        relay.push((100..100 + per_chunk).map(|i| frame(i, 50)));
        let next = live.recv().await.unwrap();
        assert_eq!((next[0], next[10], next.len()), (100, 101, 10 * usize::from(per_chunk)));
        assert_eq!(relay.listeners(), 1, "a follower is not a listener");
        relay.tune_out(1);
        assert_eq!(relay.listeners(), 0);
        assert_eq!(relay.follow().1, first + 1);
    }

    #[tokio::test]
    async fn a_follower_that_falls_behind_is_told_and_the_others_are_not_slowed() {
        let relay = Relay::new(Framing::Mpeg);
        let mut slow = relay.follow().0;
        let mut fast = relay.follow().0;
        for i in 0..(QUEUE as u64 + 10) {
            relay.push([frame(1, u64::try_from(CHUNK.as_millis()).unwrap())]);
            assert!(fast.recv().await.is_ok(), "chunk {i}");
        }
        assert!(matches!(slow.recv().await, Err(broadcast::error::RecvError::Lagged(_))));
    }

    #[test]
    fn one_source_at_a_time() {
        let relay = Relay::new(Framing::Mpeg);
        assert!(relay.claim_source());
        assert!(!relay.claim_source());
        relay.release_source();
        assert!(relay.claim_source());
    }
}
