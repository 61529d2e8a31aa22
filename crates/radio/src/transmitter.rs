//! One writer per station and thread: the task that writes each chunk of a station's audio to
//! every listener's socket, as Icecast's one thread writes to all of its clients.
//!
//! A listener used to be a task of its own, waiting on the station's broadcast channel and on
//! its access changes, its deadline and the server's stop, with a copy of the station's context:
//! 2.3 KB of future and task per listener (heaptrack), against Icecast's 2 KB in all. Here a
//! listener is its socket and a slot of about a hundred bytes: where it is in the station's
//! ring of recent chunks, what is left of its burst, its deadline and who it is. The
//! transmitter follows the relay once, keeps the chunks some listener still needs (at most the
//! last [`QUEUE`]), and on each chunk (or when a socket that was full can take more) writes to
//! every listener what it has not had yet, without waiting for any of them: a socket that cannot
//! take more now is tried again when it can, and a listener left behind by the whole ring is
//! dropped, as before. As Icecast's queue, the ring holds what its slowest listener has not had:
//! a chunk or two while everyone keeps up, not 50 s of audio per station and thread.
//!
//! A socket belongs to the runtime it was accepted on (actix-web runs one per worker thread), so
//! a station has one transmitter per thread that has listeners: [`Transmitter::for_relay`] finds
//! or makes this thread's.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;
use workbench_users::Principal;

use crate::access::AccessChange;
use crate::relay::{QUEUE, Relay};

/// Writes in one pass before the transmitter lets the thread's other tasks run.
const PASS: usize = 256;

/// What ends the transmitter's listeners: the server stopping.
pub(crate) type Stop = Pin<Box<dyn Future<Output = ()>>>;

thread_local! {
    /// This thread's transmitters, by the address of their relay (a station deleted and made
    /// again has a new relay, and so a new transmitter).
    static ON_THIS_THREAD: RefCell<HashMap<usize, Weak<Transmitter>>> = RefCell::new(HashMap::new());
}

/// What a transmitter asks of the radio around it, and nothing more: the access changes to follow,
/// whether a listener may still listen when a change is one it cannot judge alone, and where its
/// station's listener count goes. [`RadioService`](crate::RadioService) answers; the transmitter,
/// a low-level writer of sockets, holds no more of it than this.
pub(crate) trait Oversight {
    /// Changes to who may listen, from now on.
    fn access_changes(&self) -> broadcast::Receiver<AccessChange>;
    /// Whether `viewer` (`None`: anonymous) may still listen to `slug`, as stored now.
    fn may_still_listen<'a>(
        &'a self,
        slug: &'a str,
        viewer: Option<&'a Principal>,
    ) -> Pin<Box<dyn Future<Output = bool> + 'a>>;
    /// `relay`'s listeners changed in number.
    fn report(&self, slug: &str, relay: &Relay);
}

/// One station's writer on this thread; see the module documentation.
pub(crate) struct Transmitter {
    station: Station,
    listeners: RefCell<Vec<Listener>>,
    /// What the task takes when it starts; `None` once it runs.
    start: RefCell<Option<Following>>,
    /// A listener joined, or a tuned-in one went without joining.
    joined: Notify,
    /// The task ended (the server stops, or the station went) while listeners were tuning in:
    /// they are turned away, and the next one gets a new transmitter.
    ended: Cell<bool>,
    /// Access changes the task has handled: a listener notes it when it tunes in.
    changes: Cell<u64>,
    /// Listeners tuned in and not joined yet, by the number of the first live chunk each will
    /// need: the ring keeps those chunks for them.
    tuning: RefCell<BTreeMap<u64, usize>>,
    /// Chunks in the ring after the last pass.
    held: Cell<usize>,
}

impl std::fmt::Debug for Transmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transmitter")
            .field("station", &self.station.slug)
            .field("listeners", &self.listeners.borrow().len())
            .field("held", &self.held.get())
            .finish_non_exhaustive()
    }
}

/// The station a transmitter writes, and whom it tells when its listeners change.
struct Station {
    oversight: Rc<dyn Oversight>,
    slug: String,
    relay: Arc<Relay>,
}

/// The relay's chunks and the access changes, from the moment the transmitter was made: a
/// listener tuned in after it misses nothing, even before the task runs.
struct Following {
    live: broadcast::Receiver<Bytes>,
    /// The number of the next chunk `live` yields.
    next: u64,
    access: broadcast::Receiver<AccessChange>,
}

/// A listener as it tuned in: its burst, the number of the live chunk after it, the access
/// changes its writer had handled then, and who it is.
#[derive(Debug)]
pub(crate) struct Tuned {
    pub burst: Vec<Bytes>,
    pub next: u64,
    /// `None`: it must be checked against the store when it joins.
    pub changes_seen: Option<u64>,
    pub viewer: Option<Principal>,
}

/// One listener: its socket and where it is.
struct Listener {
    out: Box<dyn AsyncWrite + Unpin>,
    /// What is left of the burst it was given at connect, written before any live chunk.
    burst: VecDeque<Bytes>,
    /// The number of the next live chunk it gets.
    next: u64,
    /// How much of the chunk it is in (the burst's first, or chunk `next`) is written.
    written: usize,
    deadline: Option<Instant>,
    viewer: Option<Principal>,
    gone: bool,
    /// It tuned in before an access change the task has handled, and joined after: that change
    /// never saw it, so the store is asked.
    unchecked: bool,
}

/// The last chunks, numbered: chunk `first` is `chunks[0]`.
#[derive(Default)]
struct Ring {
    chunks: VecDeque<Bytes>,
    first: u64,
}

impl Ring {
    fn get(&self, seq: u64) -> Option<&Bytes> {
        seq.checked_sub(self.first).and_then(|i| self.chunks.get(usize::try_from(i).ok()?))
    }

    /// The number of the chunk after the newest.
    fn end(&self) -> u64 {
        self.first + self.chunks.len() as u64
    }

    /// Lets go of the chunks before `needed`: nobody will write them again.
    fn trim(&mut self, needed: u64) {
        while self.first < needed && self.chunks.pop_front().is_some() {
            self.first += 1;
        }
    }

    fn push(&mut self, chunk: Bytes) {
        self.chunks.push_back(chunk);
        if self.chunks.len() > QUEUE {
            self.chunks.pop_front();
            self.first += 1;
        }
    }

    /// `missed` chunks went by unseen (the task fell behind the relay): whoever needed them is
    /// behind by more than the ring.
    fn skip(&mut self, missed: u64) {
        self.first += self.chunks.len() as u64 + missed;
        self.chunks.clear();
    }
}

impl Transmitter {
    /// This thread's transmitter of `relay`, made (and following it) if there is none.
    pub(crate) fn for_relay<O: Oversight + Clone + 'static>(
        radio: &O,
        slug: &str,
        relay: &Arc<Relay>,
    ) -> Rc<Transmitter> {
        let key = Arc::as_ptr(relay) as usize;
        ON_THIS_THREAD.with_borrow_mut(|transmitters| {
            if let Some(transmitter) = transmitters.get(&key).and_then(Weak::upgrade)
                && !transmitter.ended.get()
            {
                return transmitter;
            }
            // The access changes first: a change made while the relay is followed is not missed.
            let access = radio.access_changes();
            let (live, next) = relay.follow();
            let transmitter = Rc::new(Transmitter {
                station: Station { oversight: Rc::new(radio.clone()), slug: slug.to_owned(), relay: relay.clone() },
                listeners: RefCell::default(),
                start: RefCell::new(Some(Following { live, next, access })),
                joined: Notify::new(),
                ended: Cell::new(false),
                changes: Cell::new(0),
                tuning: RefCell::default(),
                held: Cell::new(0),
            });
            transmitters.insert(key, Rc::downgrade(&transmitter));
            transmitter
        })
    }

    /// A listener tuned in and will join with `next` (its first live chunk): kept for it.
    pub(crate) fn expect(&self, next: u64) {
        *self.tuning.borrow_mut().entry(next).or_default() += 1;
    }

    /// The listener expected at `next` joined or went.
    fn arrived(&self, next: u64) {
        let mut tuning = self.tuning.borrow_mut();
        if let Some(count) = tuning.get_mut(&next) {
            *count -= 1;
            if *count == 0 {
                tuning.remove(&next);
            }
        }
    }

    /// Adds a listener as it `tuned` in, and starts the task if it does not run yet (`stop` then
    /// ends it).
    pub(crate) fn join(
        self: Rc<Self>,
        out: Box<dyn AsyncWrite + Unpin>,
        tuned: Tuned,
        deadline: Option<Instant>,
        stop: Stop,
    ) {
        let Tuned { burst, next, changes_seen, viewer } = tuned;
        self.arrived(next);
        if self.ended.get() {
            // Dropping `out` closes it: the listener reconnects.
            self.station.count_out(1);
            return;
        }
        self.listeners.borrow_mut().push(Listener {
            out,
            burst: burst.into(),
            next,
            written: 0,
            deadline,
            viewer,
            gone: false,
            unchecked: changes_seen != Some(self.changes.get()),
        });
        self.joined.notify_one();
        let following = self.start.borrow_mut().take();
        if let Some(following) = following {
            // Unconstrained: a pass writes to many sockets, and tokio's budget would otherwise
            // cut it every 128 writes; `PASS` bounds it instead.
            tokio::task::spawn_local(tokio::task::unconstrained(self.run(following, stop)));
        }
    }

    /// The access changes handled so far: what a listener tuning in passes to [`join`](Self::join).
    pub(crate) fn changes_seen(&self) -> u64 {
        self.changes.get()
    }

    /// A listener tuned in (expected at `next`) but went without joining: the task looks again
    /// whether it is needed.
    pub(crate) fn left_before_joining(&self, next: u64) {
        self.arrived(next);
        self.station.count_out(1);
        self.joined.notify_one();
    }

    async fn run(self: Rc<Self>, following: Following, mut stop: Stop) {
        let Following { mut live, next, mut access } = following;
        let mut ring = Ring { chunks: VecDeque::new(), first: next };
        loop {
            let deadline = self.listeners.borrow().iter().filter_map(|l| l.deadline).min();
            tokio::select! {
                biased;
                () = &mut stop => {
                    self.drop_all();
                    break;
                }
                change = access.recv() => match change {
                    Ok(change) => self.recheck(Some(&change), false).await,
                    Err(broadcast::error::RecvError::Lagged(_)) => self.recheck(None, false).await,
                    Err(broadcast::error::RecvError::Closed) => {
                        self.drop_all();
                        break;
                    }
                },
                chunk = live.recv() => match chunk {
                    Ok(chunk) => ring.push(chunk),
                    Err(broadcast::error::RecvError::Lagged(missed)) => ring.skip(missed),
                    Err(broadcast::error::RecvError::Closed) => {
                        self.drop_all();
                        break;
                    }
                },
                () = self.joined.notified() => {}
                () = sleep_until(deadline), if deadline.is_some() => {
                    let now = Instant::now();
                    for listener in self.listeners.borrow_mut().iter_mut() {
                        listener.gone |= listener.deadline.is_some_and(|at| at <= now);
                    }
                }
                () = std::future::poll_fn(|cx| self.write_out(cx, &ring)) => tokio::task::yield_now().await,
            }
            if self.listeners.borrow().iter().any(|l| l.unchecked) {
                self.recheck(None, true).await;
            }
            self.sweep(&ring);
            ring.trim(self.needed_from(&ring));
            self.held.set(ring.chunks.len());
            // Nobody listens and nobody is about to: this thread needs it no more.
            if self.listeners.borrow().is_empty() && Rc::strong_count(&self) == 1 {
                break;
            }
        }
        self.ended.set(true);
        let key = Arc::as_ptr(&self.station.relay) as usize;
        ON_THIS_THREAD.with_borrow_mut(|transmitters| {
            if transmitters.get(&key).is_some_and(|t| std::ptr::eq(t.as_ptr(), Rc::as_ptr(&self))) {
                transmitters.remove(&key);
            }
        });
    }

    /// Writes to every listener what it has not had yet, as far as its socket takes it now.
    /// Pending when that is done (a full socket wakes the task when it can take more); ready
    /// when a pass of [`PASS`] writes was cut short, so that other tasks run before the next.
    fn write_out(&self, cx: &mut Context<'_>, ring: &Ring) -> Poll<()> {
        let mut writes = 0;
        for listener in self.listeners.borrow_mut().iter_mut().filter(|l| !l.gone) {
            loop {
                let chunk = match listener.burst.front() {
                    Some(chunk) => chunk,
                    None => match ring.get(listener.next) {
                        Some(chunk) => chunk,
                        None => break,
                    },
                };
                let len = chunk.len();
                let rest = chunk.get(listener.written..).unwrap_or_default();
                let wrote = if rest.is_empty() {
                    0
                } else {
                    match Pin::new(&mut listener.out).poll_write(cx, rest) {
                        Poll::Ready(Ok(n)) if n > 0 => n,
                        Poll::Ready(_) => {
                            listener.gone = true;
                            break;
                        }
                        Poll::Pending => break,
                    }
                };
                listener.written += wrote;
                if listener.written >= len {
                    listener.written = 0;
                    if listener.burst.pop_front().is_none() {
                        listener.next += 1;
                    } else if listener.burst.is_empty() {
                        // Its memory goes with the burst.
                        listener.burst = VecDeque::new();
                    }
                }
                writes += 1;
                if writes >= PASS {
                    cx.waker().wake_by_ref();
                    return Poll::Ready(());
                }
            }
        }
        Poll::Pending
    }

    /// Drops the listeners that went, were cut or fell behind the ring, and counts them out.
    fn sweep(&self, ring: &Ring) {
        let mut listeners = self.listeners.borrow_mut();
        let before = listeners.len();
        listeners.retain(|l| !l.gone && l.next >= ring.first);
        let left = before - listeners.len();
        drop(listeners);
        self.station.count_out(left);
    }

    /// The oldest chunk a listener, joined or about to, has not had yet.
    fn needed_from(&self, ring: &Ring) -> u64 {
        let joined = self.listeners.borrow().iter().map(|l| l.next).min();
        let tuning = self.tuning.borrow().keys().next().copied();
        joined.into_iter().chain(tuning).min().unwrap_or(ring.end())
    }

    /// Ends every listener: their sockets close as they are dropped.
    fn drop_all(&self) {
        let left = std::mem::take(&mut *self.listeners.borrow_mut()).len();
        self.station.count_out(left);
    }

    /// Cuts the listeners whose right to listen ended with `change` (`None`: changes were missed,
    /// and everyone is checked against the store; `only_unchecked`: only those that joined after
    /// a change they did not see). Each distinct listener is asked of the store once, however many
    /// sockets it has.
    async fn recheck(&self, change: Option<&AccessChange>, only_unchecked: bool) {
        self.changes.set(self.changes.get() + u64::from(!only_unchecked));
        let slug = self.station.slug.as_str();
        let mut ask = Vec::new();
        for (i, listener) in self.listeners.borrow_mut().iter_mut().enumerate() {
            if only_unchecked && !listener.unchecked {
                continue;
            }
            // One that joined unchecked may have missed a change before this one, which this
            // change says nothing about: the store decides for it. Whatever happened before now
            // is seen by this check.
            let unchecked = std::mem::take(&mut listener.unchecked);
            let who = listener.viewer.map(|v| (v.id, v.role));
            match change.filter(|_| !unchecked).and_then(|change| change.keeps(slug, who)) {
                Some(keeps) => listener.gone |= !keeps,
                None => ask.push((i, listener.viewer)),
            }
        }
        // Few distinct listeners in practice (most are anonymous): a list is enough.
        let mut answers: Vec<(Option<Principal>, bool)> = Vec::new();
        for (i, viewer) in ask {
            let allowed = match answers.iter().find(|(asked, _)| *asked == viewer) {
                Some(&(_, allowed)) => allowed,
                None => {
                    // Boxed: a recheck is rare, and its state would otherwise sit in the task.
                    let allowed = self.station.oversight.may_still_listen(slug, viewer.as_ref()).await;
                    answers.push((viewer, allowed));
                    allowed
                }
            };
            // Listeners only join at the end while the store is asked: `i` is still theirs.
            if let Some(listener) = self.listeners.borrow_mut().get_mut(i) {
                listener.gone |= !allowed;
            }
        }
    }
}

impl Station {
    /// `left` listeners went: counted out, and the census told.
    fn count_out(&self, left: usize) {
        if left > 0 {
            self.relay.tune_out(left);
            self.oversight.report(&self.slug, &self.relay);
        }
    }
}

/// Resolves at `deadline`; never without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, DuplexStream, duplex};
    use workbench_core::broadcast::{Broadcast, Subscription, fan_out};
    use workbench_users::{MockAccounts, UserId};

    use super::*;
    use crate::LocalCensus;
    use crate::RadioError;
    use crate::RadioService;
    use crate::frames::Frame;
    use crate::ports::{MockPlaylistFiles, MockRadioEvents, MockStationRepository};
    use crate::relay::CHUNK;
    use crate::station::{StationFormat, StationSlug};

    /// A bus with no other instance on it.
    struct Alone(broadcast::Sender<workbench_core::broadcast::Delivery>);

    #[async_trait::async_trait]
    impl Broadcast for Alone {
        async fn publish(&self, _topic: &str, _payload: Vec<u8>) {}

        fn subscribe(&self) -> Subscription {
            Subscription::new(self.0.subscribe())
        }
    }

    /// A service with one public MP3 station, `jazz`, of user 1, until it is deleted.
    fn service() -> RadioService {
        let deleted = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut stations = MockStationRepository::new();
        let gone = deleted.clone();
        stations.expect_delete().returning(move |_| {
            gone.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(true)
        });
        stations.expect_find().returning(move |_| {
            if deleted.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(None);
            }
            let station = crate::Station {
                id: 1,
                slug: StationSlug::parse("jazz").unwrap(),
                name: "Jazz".into(),
                description: None,
                owner_id: UserId(1),
                is_public: true,
                format: StationFormat::Mp3,
                now_playing: None,
                created_at: chrono::Utc::now(),
            };
            Ok(Some((station, String::new())))
        });
        let census = LocalCensus::default();
        RadioService::new(
            Arc::new(stations),
            Arc::new(MockPlaylistFiles::new()),
            Arc::new(census),
            Arc::new(MockRadioEvents::new()),
            Arc::new(Alone(fan_out())),
            Arc::new(MockAccounts::new()),
            "test",
        )
    }

    /// Where the tests' listeners listen from.
    const HOME: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    /// [`service`], and the relay of `jazz` with a source live on it.
    fn on_air() -> (RadioService, Arc<Relay>) {
        let service = service();
        let relay = service.relay("jazz");
        assert!(relay.claim_source(), "a source is live here");
        (service, relay)
    }

    /// One chunk of `CHUNK`'s playing time, every byte `byte`.
    fn chunk(relay: &Relay, byte: u8, len: usize) {
        relay.push([Frame { bytes: Bytes::from(vec![byte; len]), duration: CHUNK }]);
    }

    async fn listen(service: &RadioService, buffer: usize, deadline: Option<Instant>) -> DuplexStream {
        let (ours, theirs) = duplex(buffer);
        let listening = service.tune_in(None, "jazz", HOME).await.unwrap();
        listening.play(ours, deadline, Box::pin(std::future::pending()));
        theirs
    }

    /// Reads until the writer's end closes: everything it was sent.
    async fn heard(mut listener: DuplexStream) -> Vec<u8> {
        let mut all = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), listener.read_to_end(&mut all)).await.unwrap().unwrap();
        all
    }

    #[tokio::test]
    async fn a_listener_gets_the_burst_then_every_chunk_once_and_a_slow_one_is_dropped_without_slowing_it() {
        tokio::task::LocalSet::new()
            .run_until(async {
                let (service, relay) = on_air();
                chunk(&relay, 1, 100);
                chunk(&relay, 2, 100);
                // Never read: its socket takes 1,000 bytes, then nothing.
                let slow = listen(&service, 1_000, None).await;
                // Cut by its deadline once every chunk is sent, so that its stream ends.
                let fast = listen(&service, 64 * 1024, Some(Instant::now() + Duration::from_secs(2))).await;
                assert_eq!(relay.listeners(), 2);
                let reading = tokio::task::spawn_local(heard(fast));
                let chunks = QUEUE + 20;
                for i in 0..chunks {
                    chunk(&relay, 3 + u8::try_from(i % 200).unwrap(), 1_000);
                    tokio::task::yield_now().await;
                }
                // The slow one fell behind by the whole ring: dropped, counted out, its socket closed.
                let slow_heard = heard(slow).await;
                assert_eq!(slow_heard.len(), 1_000, "what its socket took before it was dropped");
                assert_eq!(&slow_heard[..200], [[1; 100], [2; 100]].concat(), "the burst first");
                assert_eq!(relay.listeners(), 1);
                // The fast one heard the burst and every chunk, in order, once.
                let all = reading.await.unwrap();
                let mut expected = [[1; 100], [2; 100]].concat();
                for i in 0..chunks {
                    expected.extend([3 + u8::try_from(i % 200).unwrap(); 1_000]);
                }
                assert_eq!(all.len(), expected.len());
                assert!(all == expected, "every chunk once, in order");
            })
            .await;
    }

    #[tokio::test]
    async fn the_ring_holds_only_what_a_listener_has_not_had_yet() {
        tokio::task::LocalSet::new()
            .run_until(async {
                let (service, relay) = on_air();
                let fast = listen(&service, 64 * 1024, None).await;
                let _reading = tokio::task::spawn_local(heard(fast));
                let transmitter = Transmitter::for_relay(&service, "jazz", &relay);
                let settle = || async {
                    for _ in 0..20 {
                        tokio::task::yield_now().await;
                    }
                };
                for i in 0..40 {
                    chunk(&relay, i, 100);
                    settle().await;
                }
                assert!(transmitter.held.get() <= 1, "everyone keeps up: {} chunks held", transmitter.held.get());

                // Tuned in, not joined yet: what it will need is kept for it.
                let late = service.tune_in(None, "jazz", HOME).await.unwrap();
                for i in 40..45 {
                    chunk(&relay, i, 100);
                    settle().await;
                }
                assert_eq!(transmitter.held.get(), 5, "kept for the listener about to join");
                let (ours, mut theirs) = duplex(64 * 1024);
                late.play(ours, None, Box::pin(std::future::pending()));
                settle().await;
                let mut got = vec![0; 15 * 100];
                theirs.read_exact(&mut got).await.unwrap();
                let expected: Vec<u8> = (30..45).flat_map(|i| [i; 100]).collect();
                assert!(got == expected, "its burst, then every chunk since it tuned in");
                chunk(&relay, 45, 100);
                settle().await;
                assert!(transmitter.held.get() <= 1, "and let go once written");
            })
            .await;
    }

    /// A listener tunes in, `jazz` is deleted (the writer cuts its playing listener), `meanwhile`
    /// runs, and then the late one joins: the store is asked, and says no.
    async fn joins_after_the_deletion(meanwhile: impl FnOnce(&RadioService)) {
        let (service, relay) = on_air();
        let playing = listen(&service, 64 * 1024, None).await;
        let late = service.tune_in(None, "jazz", HOME).await.unwrap();
        let owner = Principal {
            id: UserId(1),
            role: workbench_users::Role::User,
            status: workbench_users::UserStatus::Active,
            token_generation: 0,
        };
        service.delete(&owner, "jazz").await.unwrap();
        // The writer handles the deletion: its listener is cut.
        assert_eq!(heard(playing).await, Vec::<u8>::new());
        meanwhile(&service);
        let (ours, theirs) = duplex(1024);
        late.play(ours, None, Box::pin(std::future::pending()));
        assert_eq!(heard(theirs).await, Vec::<u8>::new());
        assert_eq!(relay.listeners(), 0);
    }

    #[tokio::test]
    async fn a_listener_that_tuned_in_before_a_change_and_joins_after_it_is_checked_too() {
        tokio::task::LocalSet::new().run_until(joins_after_the_deletion(|_| {})).await;
    }

    #[tokio::test]
    async fn a_listener_that_joins_unchecked_is_asked_of_the_store_whatever_change_comes_next() {
        // Another station's change is waiting when the late one joins: it says nothing of this
        // station, so it must not count as the late one's check.
        let another = |service: &RadioService| {
            service.hear(AccessChange::Station { slug: "rock".into(), owner: UserId(2), public: true });
        };
        tokio::task::LocalSet::new().run_until(joins_after_the_deletion(another)).await;
    }

    #[tokio::test]
    async fn a_listener_is_cut_at_its_deadline_and_the_others_play_on() {
        tokio::task::LocalSet::new()
            .run_until(async {
                let (service, relay) = on_air();
                let expiring = listen(&service, 64 * 1024, Some(Instant::now() + Duration::from_millis(100))).await;
                let staying = listen(&service, 64 * 1024, None).await;
                chunk(&relay, 7, 10);
                let started = Instant::now();
                assert_eq!(heard(expiring).await, [7; 10]);
                assert!(started.elapsed() < Duration::from_secs(2));
                assert_eq!(relay.listeners(), 1);
                chunk(&relay, 8, 10);
                let mut staying = staying;
                let mut got = [0; 20];
                staying.read_exact(&mut got).await.unwrap();
                assert_eq!(got, *[[7; 10], [8; 10]].concat());
            })
            .await;
    }

    #[tokio::test]
    async fn an_address_gets_its_slot_back_when_its_listener_ends_or_never_plays() {
        tokio::task::LocalSet::new()
            .run_until(async {
                let (service, relay) = on_air();
                let service = service.with_max_listeners_per_address(1);
                let playing = listen(&service, 64 * 1024, None).await;
                let refused = service.tune_in(None, "jazz", HOME).await;
                assert!(matches!(refused, Err(RadioError::TooManyListeners(1))), "{refused:?}");
                let elsewhere: std::net::IpAddr = "192.0.2.2".parse().unwrap();
                // Tuned in from another address and gone before playing: its slot goes with it.
                drop(service.tune_in(None, "jazz", elsewhere).await.unwrap());
                drop(service.tune_in(None, "jazz", elsewhere).await.unwrap());

                // The listener hangs up: the writer finds out writing the next chunk, drops it with
                // the chunk after, and the slot is free.
                drop(playing);
                for byte in [1, 2] {
                    chunk(&relay, byte, 10);
                    for _ in 0..20 {
                        tokio::task::yield_now().await;
                    }
                }
                assert_eq!(relay.listeners(), 0);
                let again = listen(&service, 64 * 1024, None).await;
                assert_eq!(relay.listeners(), 1, "{again:?}");
            })
            .await;
    }
}
