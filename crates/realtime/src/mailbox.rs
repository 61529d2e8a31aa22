//! A connection's queue of frames to write: the hub's side offers, the socket task's side takes.
//!
//! Why not a `tokio::sync::mpsc` channel: a bounded channel allocates its first block of 32 slots
//! (32 × 32 bytes of `ByteString`) and a channel header padded to cache lines the moment it is
//! made, about 1.5 KB that every idle socket carried for nothing. A socket's queue is nearly always
//! empty, has one reader and one writer (the hub, under its lock), so a `VecDeque` behind a mutex
//! with the reader's waker does the same work in what it holds: nothing while idle, a burst's
//! frames while they wait, and that burst's room given back once written.
//!
//! A frame offered to an empty queue is written through to the socket when the socket task
//! attached a way to do so ([`Transmit`]): then a room's message to 5,000 members is 5,000 writes
//! on the thread that fans it out, not 5,000 tasks woken across threads (each wake of a task on
//! another runtime is a system call to wake that runtime, then the task's poll) before each
//! writes. A frame queued behind others, or offered while the socket is busy, waits its turn.
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use bytestring::ByteString;

use crate::closing::Closing;

/// Room for this many frames is kept when the queue empties; a larger burst's is given back.
const KEPT_WHEN_EMPTY: usize = 4;

/// A way to write a frame to a connection's socket at once, from whichever thread offers it,
/// without waiting: the socket task's writer, shared.
pub trait Transmit: Send + Sync {
    /// Writes `frame` now if nothing of the socket's own is being written or waits to be.
    ///
    /// It is called under the queue's lock, and the socket task takes the queue's lock while it
    /// holds its writer: so it must never wait for the writer (try to take it, and answer
    /// [`Transmitted::Busy`] when it is held), nor for the socket.
    fn transmit(&self, frame: &ByteString) -> Transmitted;
}

/// What became of a frame handed to [`Transmit::transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transmitted {
    /// All of it is in the socket.
    Written,
    /// Its start is; the writer kept the rest, which the socket task must write out
    /// ([`Mailbox::ready`] then answers).
    Partly,
    /// Not written: the socket is busy, full or failing. The frame is queued instead.
    Busy,
}

#[derive(Default)]
struct Slots {
    frames: VecDeque<ByteString>,
    /// The socket task waiting for a frame, if it waits.
    waker: Option<Waker>,
    /// Frames offered to an empty queue are written through this, when the socket task gave one.
    direct: Option<Arc<dyn Transmit>>,
    /// A frame was written through in part: the socket task must write the rest.
    unfinished: bool,
    /// The hub forgot the connection: once the frames queued are taken, there are no more.
    outbox_gone: bool,
    /// The socket task is done: nothing offered is kept.
    mailbox_gone: bool,
}

impl fmt::Debug for Slots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slots")
            .field("frames", &self.frames.len())
            .field("direct", &self.direct.is_some())
            .field("unfinished", &self.unfinished)
            .field("outbox_gone", &self.outbox_gone)
            .field("mailbox_gone", &self.mailbox_gone)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Shared {
    slots: Mutex<Slots>,
    capacity: usize,
    /// The connection's close signal, beside its queue: a fan-out checks one, then offers to the
    /// other, and finds both in one allocation (one cache miss per member, not two).
    closing: Closing,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        // Nothing panics while holding it, so a poisoned lock still guards consistent slots.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A queue of at most `capacity` frames: the hub's side, the socket's, and the connection's close
/// signal.
pub(crate) fn mailbox(capacity: usize) -> (Outbox, Mailbox, CloseSignal) {
    let shared = Arc::new(Shared {
        slots: Mutex::new(Slots::default()),
        capacity: capacity.max(1),
        closing: Closing::default(),
    });
    (Outbox(shared.clone()), Mailbox(shared.clone()), CloseSignal(shared))
}

/// A connection's [`Closing`], held by its socket task: set by the hub, waited on by the task.
#[derive(Debug, Clone)]
pub struct CloseSignal(Arc<Shared>);

impl Deref for CloseSignal {
    type Target = Closing;

    fn deref(&self) -> &Closing {
        &self.0.closing
    }
}

/// What became of a frame offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    Queued,
    /// The queue holds `capacity` frames already: the reader stopped reading.
    Full,
    /// The socket task is done.
    Gone,
}

/// The hub's side of a connection's queue.
#[derive(Debug)]
pub(crate) struct Outbox(Arc<Shared>);

impl Outbox {
    /// Another way to offer frames to this queue, which may outlive the hub's hold on it.
    pub(crate) fn sender(&self) -> Sender {
        Sender(self.0.clone())
    }

    /// Queues `frame` without waiting, or writes it through to the socket when nothing is
    /// queued ahead of it.
    pub(crate) fn offer(&self, frame: &ByteString) -> Offered {
        self.0.offer(frame)
    }

    pub(crate) fn closing(&self) -> &Closing {
        &self.0.closing
    }
}

/// A handle that offers frames to a connection's queue, taken while the hub's lock is held and
/// used after it. Unlike the [`Outbox`], letting go of it says nothing: the hub still knows the
/// connection.
#[derive(Debug, Clone)]
pub(crate) struct Sender(Arc<Shared>);

impl Sender {
    pub(crate) fn offer(&self, frame: &ByteString) -> Offered {
        self.0.offer(frame)
    }

    pub(crate) fn closing(&self) -> &Closing {
        &self.0.closing
    }
}

impl Shared {
    fn offer(&self, frame: &ByteString) -> Offered {
        let waker = {
            let mut slots = self.lock();
            if slots.mailbox_gone {
                return Offered::Gone;
            }
            // Under the queue's lock: the socket task takes frames only while it holds its
            // writer, so a frame it took is written before this one can be.
            if slots.frames.is_empty() && !slots.unfinished {
                let transmitted = slots.direct.as_ref().map(|direct| direct.transmit(frame));
                match transmitted {
                    Some(Transmitted::Written) => return Offered::Queued,
                    Some(Transmitted::Partly) => {
                        slots.unfinished = true;
                        let waker = slots.waker.take();
                        drop(slots);
                        if let Some(waker) = waker {
                            waker.wake();
                        }
                        return Offered::Queued;
                    }
                    Some(Transmitted::Busy) | None => {}
                }
            }
            if slots.frames.len() >= self.capacity {
                return Offered::Full;
            }
            slots.frames.push_back(frame.clone());
            slots.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Offered::Queued
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let waker = {
            let mut slots = self.0.lock();
            slots.outbox_gone = true;
            slots.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The socket task's side of its queue: frames in the order they were offered.
#[derive(Debug)]
pub struct Mailbox(Arc<Shared>);

impl Mailbox {
    /// Lets the hub write frames offered to an empty queue through `direct`, at once.
    pub fn write_through(&self, direct: Arc<dyn Transmit>) {
        self.0.lock().direct = Some(direct);
    }

    /// Waits until there is something to write: a frame queued, or the rest of one written
    /// through in part. `false` once the hub forgot the connection and nothing is left. Takes
    /// nothing: the socket task takes the frames ([`try_recv`](Self::try_recv)) while it holds
    /// its writer, and a frame written through in part is its writer's to finish.
    pub async fn ready(&mut self) -> bool {
        poll_fn(|cx| {
            let mut slots = self.0.lock();
            if !slots.frames.is_empty() || slots.unfinished {
                slots.unfinished = false;
                return Poll::Ready(true);
            }
            if slots.outbox_gone {
                return Poll::Ready(false);
            }
            if !slots.waker.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) {
                slots.waker = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// The next frame; `None` once the hub forgot the connection and every frame was taken.
    /// Cancel-safe: a frame is only taken when it is returned.
    pub async fn recv(&mut self) -> Option<ByteString> {
        poll_fn(|cx| {
            let mut slots = self.0.lock();
            if let Some(frame) = take(&mut slots) {
                return Poll::Ready(Some(frame));
            }
            if slots.outbox_gone {
                return Poll::Ready(None);
            }
            if !slots.waker.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) {
                slots.waker = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// The next frame if one is queued now.
    pub fn try_recv(&mut self) -> Option<ByteString> {
        take(&mut self.0.lock())
    }
}

fn take(slots: &mut Slots) -> Option<ByteString> {
    let frame = slots.frames.pop_front()?;
    if slots.frames.is_empty() && slots.frames.capacity() > KEPT_WHEN_EMPTY {
        slots.frames = VecDeque::new();
    }
    Some(frame)
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let mut slots = self.0.lock();
        slots.mailbox_gone = true;
        slots.frames = VecDeque::new();
        slots.waker = None;
        // The writer holds the socket: it goes with the task.
        slots.direct = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn frames_come_out_in_order_and_a_full_queue_refuses_more() {
        let (outbox, mut mailbox, _) = mailbox(2);
        assert_eq!(outbox.offer(&"a".into()), Offered::Queued);
        assert_eq!(outbox.offer(&"b".into()), Offered::Queued);
        assert_eq!(outbox.offer(&"c".into()), Offered::Full);
        assert_eq!(mailbox.recv().await.as_deref(), Some("a"));
        assert_eq!(outbox.offer(&"d".into()), Offered::Queued);
        assert_eq!(mailbox.try_recv().as_deref(), Some("b"));
        assert_eq!(mailbox.try_recv().as_deref(), Some("d"));
        assert_eq!(mailbox.try_recv(), None);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_for_a_frame_and_ends_when_the_hub_forgets_it() {
        let (outbox, mut mailbox, _) = mailbox(4);
        let reader = tokio::spawn(async move {
            let first = mailbox.recv().await;
            let second = mailbox.recv().await;
            let after = mailbox.recv().await;
            (first, second, after)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        outbox.offer(&"hello".into());
        outbox.offer(&"last".into());
        drop(outbox);
        let (first, second, after) = tokio::time::timeout(Duration::from_secs(2), reader).await.unwrap().unwrap();
        assert_eq!(first.as_deref(), Some("hello"));
        assert_eq!(second.as_deref(), Some("last"), "what was queued is still written");
        assert_eq!(after, None);
    }

    #[tokio::test]
    async fn a_burst_s_room_is_given_back_once_it_is_written() {
        let (outbox, mut mailbox, _) = mailbox(256);
        for n in 0..100 {
            outbox.offer(&n.to_string().into());
        }
        while mailbox.try_recv().is_some() {}
        assert_eq!(mailbox.0.lock().frames.capacity(), 0);
        assert_eq!(outbox.offer(&"x".into()), Offered::Queued);
        drop(mailbox);
        assert_eq!(outbox.offer(&"y".into()), Offered::Gone, "nobody reads any more");
    }

    /// A socket writer that answers what it is told to, and keeps what it wrote.
    #[derive(Default)]
    struct Socket {
        answer: Mutex<Option<Transmitted>>,
        written: Mutex<Vec<String>>,
    }

    impl Socket {
        fn answering(answer: Transmitted) -> Arc<Self> {
            Arc::new(Self { answer: Mutex::new(Some(answer)), written: Mutex::default() })
        }

        fn answer(&self, answer: Transmitted) {
            *self.answer.lock().unwrap() = Some(answer);
        }

        fn written(&self) -> Vec<String> {
            self.written.lock().unwrap().clone()
        }
    }

    impl Transmit for Socket {
        fn transmit(&self, frame: &ByteString) -> Transmitted {
            let answer = self.answer.lock().unwrap().unwrap_or(Transmitted::Busy);
            if answer != Transmitted::Busy {
                self.written.lock().unwrap().push(frame.to_string());
            }
            answer
        }
    }

    #[tokio::test]
    async fn a_frame_offered_to_an_empty_queue_goes_straight_to_the_socket() {
        let (outbox, mut mailbox, _) = mailbox(4);
        let socket = Socket::answering(Transmitted::Written);
        mailbox.write_through(socket.clone());
        assert_eq!(outbox.offer(&"a".into()), Offered::Queued);
        assert_eq!(outbox.offer(&"b".into()), Offered::Queued);
        assert_eq!(socket.written(), ["a", "b"]);
        assert_eq!(mailbox.try_recv(), None, "nothing was left for the socket's task");
        assert!(tokio::time::timeout(Duration::from_millis(50), mailbox.ready()).await.is_err(), "nothing to do");
    }

    #[tokio::test]
    async fn a_busy_socket_s_frames_queue_and_later_ones_wait_behind_them() {
        let (outbox, mut mailbox, _) = mailbox(4);
        let socket = Socket::answering(Transmitted::Busy);
        mailbox.write_through(socket.clone());
        assert_eq!(outbox.offer(&"a".into()), Offered::Queued);
        socket.answer(Transmitted::Written);
        assert_eq!(outbox.offer(&"b".into()), Offered::Queued);
        assert!(socket.written().is_empty(), "b may not overtake a, which waits in the queue");
        assert!(mailbox.ready().await);
        assert_eq!(mailbox.try_recv().as_deref(), Some("a"));
        assert_eq!(mailbox.try_recv().as_deref(), Some("b"));
        assert_eq!(outbox.offer(&"c".into()), Offered::Queued);
        assert_eq!(socket.written(), ["c"], "the queue is empty again");
    }

    #[tokio::test]
    async fn a_frame_written_in_part_wakes_the_socket_task_and_holds_back_the_next() {
        let (outbox, mut mailbox, _) = mailbox(4);
        let socket = Socket::answering(Transmitted::Partly);
        mailbox.write_through(socket.clone());
        assert_eq!(outbox.offer(&"a".into()), Offered::Queued);
        socket.answer(Transmitted::Written);
        assert_eq!(outbox.offer(&"b".into()), Offered::Queued);
        assert_eq!(socket.written(), ["a"], "b waits until the task has written the rest of a");
        assert!(tokio::time::timeout(Duration::from_secs(1), mailbox.ready()).await.unwrap());
        assert_eq!(mailbox.try_recv().as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn the_socket_task_gone_lets_go_of_its_writer() {
        let (outbox, mailbox, _) = mailbox(4);
        let socket = Socket::answering(Transmitted::Written);
        mailbox.write_through(socket.clone());
        drop(mailbox);
        assert_eq!(Arc::strong_count(&socket), 1, "the hub keeps no socket open");
        assert_eq!(outbox.offer(&"late".into()), Offered::Gone);
        assert!(socket.written().is_empty());
    }
}
