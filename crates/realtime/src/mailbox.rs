//! A connection's queue of frames to write: the hub's side offers, the socket task's side takes.
//!
//! Why not a `tokio::sync::mpsc` channel: a bounded channel allocates its first block of 32 slots
//! (32 × 32 bytes of `ByteString`) and a channel header padded to cache lines the moment it is
//! made, about 1.5 KB that every idle socket carried for nothing. A socket's queue is nearly always
//! empty, has one reader and one writer (the hub, under its lock), so a `VecDeque` behind a mutex
//! with the reader's waker does the same work in what it holds: nothing while idle, a burst's
//! frames while they wait, and that burst's room given back once written.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use bytestring::ByteString;

/// Room for this many frames is kept when the queue empties; a larger burst's is given back.
const KEPT_WHEN_EMPTY: usize = 4;

#[derive(Debug, Default)]
struct Slots {
    frames: VecDeque<ByteString>,
    /// The socket task waiting for a frame, if it waits.
    waker: Option<Waker>,
    /// The hub forgot the connection: once the frames queued are taken, there are no more.
    outbox_gone: bool,
    /// The socket task is done: nothing offered is kept.
    mailbox_gone: bool,
}

#[derive(Debug)]
struct Shared {
    slots: Mutex<Slots>,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        // Nothing panics while holding it, so a poisoned lock still guards consistent slots.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A queue of at most `capacity` frames: the hub's side and the socket's.
pub(crate) fn mailbox(capacity: usize) -> (Outbox, Mailbox) {
    let shared = Arc::new(Shared { slots: Mutex::new(Slots::default()), capacity: capacity.max(1) });
    (Outbox(shared.clone()), Mailbox(shared))
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
    /// Queues `frame` without waiting.
    pub(crate) fn offer(&self, frame: &ByteString) -> Offered {
        let waker = {
            let mut slots = self.0.lock();
            if slots.mailbox_gone {
                return Offered::Gone;
            }
            if slots.frames.len() >= self.0.capacity {
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
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn frames_come_out_in_order_and_a_full_queue_refuses_more() {
        let (outbox, mut mailbox) = mailbox(2);
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
        let (outbox, mut mailbox) = mailbox(4);
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
        let (outbox, mut mailbox) = mailbox(256);
        for n in 0..100 {
            outbox.offer(&n.to_string().into());
        }
        while mailbox.try_recv().is_some() {}
        assert_eq!(mailbox.0.lock().frames.capacity(), 0);
        assert_eq!(outbox.offer(&"x".into()), Offered::Queued);
        drop(mailbox);
        assert_eq!(outbox.offer(&"y".into()), Offered::Gone, "nobody reads any more");
    }
}
