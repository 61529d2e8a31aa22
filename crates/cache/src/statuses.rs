//! The statuses a cached creation order carries, so that a status's pages are a walk of the order
//! in memory rather than of the database's keys up to the page; and the record of changes of
//! status that an order read while they were made takes on when it is stored.
//!
//! A status changes in place, in one atomic word per task holding the status and the version it
//! was written at: a change applies only over an older version, so changes commute and applying
//! one twice is harmless. That is what lets an order read from the database (as of its read) and
//! the changes told to the cache (as of their writes) meet in any order.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use workbench_tasks::{CreationOrder, OrderWindow, Restatus, Status, TaskId, TaskScope};

/// How many changes of status a scope's record keeps at most: more than are made while an order
/// of 100,000 tasks is read under load (a few hundred at a thousand patches a second); an order
/// whose read began before the oldest kept is stored without statuses, and read again for a
/// status's page.
const KEPT: usize = 4_096;

/// How long a change is kept: far longer than any read of an order.
const KEPT_FOR: Duration = Duration::from_secs(30);

/// How many scopes' records are kept; past it, those not in use are dropped.
const SCOPES: usize = 256;

/// The statuses of a cached order's tasks (same positions as its ids) and where each stands.
#[derive(Debug)]
pub(crate) struct OrderStates {
    /// Each task's `created_at`, in microseconds: with its id, its place in the order.
    created: Box<[i64]>,
    /// Each task's status and the version it was read or written at (see [`word`]).
    words: Box<[AtomicU64]>,
}

/// `version << 2 | status`: a status with the version it belongs to, in one atomic word.
fn word(status: Status, version: i64) -> u64 {
    let code = match status {
        Status::Pending => 0,
        Status::InProgress => 1,
        Status::Completed => 2,
    };
    (u64::try_from(version).unwrap_or(0) << 2) | code
}

fn code(status: Status) -> u64 {
    word(status, 0)
}

impl OrderStates {
    /// The states of a whole order read from the database; `None` if it carries none.
    pub(crate) fn read(order: &CreationOrder) -> Option<Self> {
        Self::joined(None, 0, order)
    }

    /// The first `kept` states of `cached` (as they are now) followed by `order`'s, for an order
    /// extended with the tasks created since; `None` if either lacks them.
    pub(crate) fn extended(cached: Option<&Self>, kept: usize, order: &CreationOrder) -> Option<Self> {
        Self::joined(Some(cached?), kept, order)
    }

    fn joined(cached: Option<&Self>, kept: usize, order: &CreationOrder) -> Option<Self> {
        if order.states.len() != order.ids.len() {
            return None;
        }
        let mut created = Vec::with_capacity(kept + order.ids.len());
        let mut words = Vec::with_capacity(kept + order.ids.len());
        if let Some(cached) = cached {
            created.extend_from_slice(cached.created.get(..kept)?);
            words.extend(cached.words[..kept].iter().map(|w| AtomicU64::new(w.load(Ordering::Acquire))));
        }
        for state in &order.states {
            created.push(state.created_at.timestamp_micros());
            words.push(AtomicU64::new(word(state.status, state.version)));
        }
        Some(Self { created: created.into(), words: words.into() })
    }

    /// Takes `change` if its task is in the order (`ids`) at an older version.
    pub(crate) fn apply(&self, ids: &[TaskId], change: &Restatus) {
        let key = (change.key.created_at.timestamp_micros(), change.key.id);
        // The order is sorted by (created_at, id), so the task is found by halving; one inside
        // the order but not where that puts it is looked for everywhere rather than missed.
        let (mut low, mut high) = (0, ids.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if (self.created[middle], ids[middle]) < key {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        let found = if ids.get(low) == Some(&change.key.id) {
            Some(low)
        } else if low == ids.len() {
            // Newer than the order's end: a task created since, which an extension reads.
            None
        } else {
            ids.iter().position(|id| *id == change.key.id)
        };
        let Some(position) = found else { return };
        let new = word(change.status, change.version);
        // Only over an older version: a no-op (`Err`) otherwise.
        let _ = self.words[position]
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| (new >> 2 > old >> 2).then_some(new));
    }

    /// The ids `window` shows of the order's tasks of `status`, in its order, and how many
    /// tasks of `status` the order holds.
    pub(crate) fn window(&self, ids: &[TaskId], status: Status, window: OrderWindow) -> (Vec<TaskId>, u64) {
        let wanted = code(status);
        let matches = |i: &usize| self.words[*i].load(Ordering::Acquire) & 3 == wanted;
        let total = (0..ids.len()).filter(matches).count();
        let (offset, limit) =
            (usize::try_from(window.offset).unwrap_or(usize::MAX), usize::try_from(window.limit).unwrap_or(usize::MAX));
        let shown: Vec<TaskId> = if window.newest_first {
            (0..ids.len()).rev().filter(matches).skip(offset).take(limit).map(|i| ids[i]).collect()
        } else {
            (0..ids.len()).filter(matches).skip(offset).take(limit).map(|i| ids[i]).collect()
        };
        (shown, total as u64)
    }
}

/// The changes of status told to the cache for one scope, each with its place in the sequence
/// the cache draws them from (see [`Records`]).
#[derive(Debug, Default)]
pub(crate) struct Restatuses {
    /// No change before this place is missing from `changes` (older ones were dropped).
    floor: u64,
    /// Each change with its place and when it was told, oldest first.
    changes: VecDeque<(u64, Instant, Restatus)>,
}

impl Restatuses {
    /// Records `change` at place `at` (greater than every place recorded before).
    pub(crate) fn record(&mut self, at: u64, change: Restatus) {
        let now = Instant::now();
        while let Some((dropped, told, _)) = self.changes.front()
            && (self.changes.len() == KEPT || now.duration_since(*told) > KEPT_FOR)
        {
            self.floor = dropped + 1;
            self.changes.pop_front();
        }
        self.changes.push_back((at, now, change));
    }

    /// Every change recorded at `since` or later, or `None` if some of them were dropped.
    pub(crate) fn since(&self, since: u64) -> Option<impl Iterator<Item = &Restatus>> {
        (since >= self.floor)
            .then(|| self.changes.iter().filter(move |(at, _, _)| *at >= since).map(|(_, _, change)| change))
    }
}

/// Every scope's record of changes of status, each behind an async lock that a change and the
/// storing of an order of that scope both hold, so that a change is either in the order stored
/// or applied to it once it is there.
#[derive(Debug, Default)]
pub(crate) struct Records {
    inner: SyncMutex<RecordsInner>,
}

#[derive(Debug, Default)]
struct RecordsInner {
    by_scope: HashMap<TaskScope, Arc<Mutex<Restatuses>>>,
    /// The place below which a dropped record may have held changes: a new record starts there.
    floor: u64,
}

impl Records {
    /// `scope`'s record (made if it has none); `now`, the next place the sequence will draw.
    pub(crate) fn of(&self, scope: TaskScope, now: u64) -> Arc<Mutex<Restatuses>> {
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(record) = inner.by_scope.get(&scope) {
            return Arc::clone(record);
        }
        if inner.by_scope.len() >= SCOPES {
            // Only records nobody holds are dropped (a holder took it under this lock), and every
            // change they held was drawn before `now`.
            inner.by_scope.retain(|_, record| Arc::strong_count(record) > 1);
            inner.floor = now;
        }
        let record = Arc::new(Mutex::new(Restatuses { floor: inner.floor, changes: VecDeque::new() }));
        inner.by_scope.insert(scope, Arc::clone(&record));
        record
    }
}

/// The sequence places are drawn from, shared with the cache's generations: only ever growing.
pub(crate) fn draw(sequence: &AtomicU64) -> u64 {
    sequence.fetch_add(1, Ordering::AcqRel)
}
