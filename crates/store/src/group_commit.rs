//! Group commit: writes that arrive together share one transaction, and so one commit. Task
//! creates and updates and chat messages are written this way.
//!
//! Each PostgreSQL commit waits until its write-ahead log is on disk: one `fdatasync`, about
//! 3 ms on the machines this project is measured on, during which the connection does nothing
//! else. PostgreSQL flushes the commits that arrive during one flush together, but there are
//! never more of those than connections in the pool, and each commit still costs its own commit
//! record, flush request and round trip. So a write joins a queue here instead; a few runners
//! each take what queued while the last batch ran, apply it on one connection in one
//! transaction, and commit once. On an idle server a write runs alone, as it would without the
//! queue: nothing ever waits for company.
//!
//! A batch that fails as a whole (one of its writes broke a rule, say) is rolled back and its
//! writes run again one by one, each in its own transaction, so a write only ever fails for its
//! own reasons. Each caller is answered after the commit that made its write durable, exactly as
//! with a transaction of its own.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;
use workbench_core::RepositoryError;

use crate::database::{write_transaction, write_transaction_begun_by};
use crate::{AnyConnection, Backend, Database};

/// One write that may share a transaction with others. On PostgreSQL it is one statement.
pub(crate) trait Write: Send + Sync + 'static {
    type Output: Send + 'static;

    /// Applies the write inside a transaction that the caller opened and will commit.
    fn apply(&self, conn: &mut AnyConnection) -> Result<Self::Output, RepositoryError>;

    /// How a batch's transaction begins on PostgreSQL: `BEGIN`, and any `SET LOCAL` that
    /// [`Self::apply_together`] relies on, sent in the same round trip.
    const BEGIN_POSTGRES: &'static str = "BEGIN";

    /// Applies `writes` inside a transaction that the caller opened (on PostgreSQL with
    /// [`Self::BEGIN_POSTGRES`]) and will commit; their outputs in the same order. One by one
    /// unless a kind of write knows better.
    fn apply_together(conn: &mut AnyConnection, writes: &[Self]) -> Result<Vec<Self::Output>, RepositoryError>
    where
        Self: Sized,
    {
        writes.iter().map(|w| w.apply(conn)).collect()
    }

    /// Whether `apply_together` writes `writes` in one statement, atomic without a transaction
    /// around it (which would cost a round trip each to begin and to commit). No by default.
    fn one_statement(_conn: &AnyConnection, _writes: &[Self]) -> bool
    where
        Self: Sized,
    {
        false
    }

    /// Applies the write as a transaction of its own: on PostgreSQL its one statement is that
    /// already; on SQLite its statements are wrapped in one.
    fn apply_alone(&self, conn: &mut AnyConnection) -> Result<Self::Output, RepositoryError> {
        match conn {
            AnyConnection::Postgresql(_) => self.apply(conn),
            AnyConnection::Sqlite(_) => write_transaction(conn, |c| self.apply(c)),
        }
    }

    /// The row the write locks, if it locks one that exists: a batch applies its writes in this
    /// order, so that two batches never each hold a row the other waits for.
    fn lock_order(&self) -> i64;
}

type Reply<O> = oneshot::Sender<Result<O, RepositoryError>>;

struct Queue<W: Write> {
    /// The writes to apply, each with its reply and when it was queued.
    waiting: VecDeque<(W, Reply<W::Output>, Instant)>,
    /// Runners at work; each takes batches until the queue is empty.
    runners: usize,
}

/// How a kind of write is batched.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    /// Batches committing at once. One keeps the writes in the order they arrived.
    pub runners: usize,
    /// The most writes one transaction takes.
    pub max_batch: usize,
}

impl Batching {
    /// A quarter of a PostgreSQL pool's connections, so that one batch is applied while another
    /// waits for its flush and reads keep connections of their own. SQLite lets one writer in
    /// at a time: a second runner would only sleep in its busy handler until the first committed.
    pub fn concurrent(db: &Database, max_batch: usize) -> Self {
        let runners = match db.backend() {
            Backend::Postgres => (db.max_size() as usize / 4).max(1),
            Backend::Sqlite => 1,
        };
        Self { runners, max_batch }
    }
}

/// The queue of writes of one kind, and the runners that commit them in batches.
pub(crate) struct GroupCommit<W: Write> {
    db: Database,
    queue: Mutex<Queue<W>>,
    batching: Batching,
}

impl<W: Write> std::fmt::Debug for GroupCommit<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").field("batching", &self.batching).finish_non_exhaustive()
    }
}

impl<W: Write> GroupCommit<W> {
    /// Batches on `db`'s pool.
    pub fn new(db: Database, batching: Batching) -> Arc<Self> {
        let batching = Batching { runners: batching.runners.max(1), max_batch: batching.max_batch.max(1) };
        Arc::new(Self { db, queue: Mutex::new(Queue { waiting: VecDeque::new(), runners: 0 }), batching })
    }

    /// Applies `write` in the next batch; its outcome once that batch committed.
    pub async fn submit(self: &Arc<Self>, write: W) -> Result<W::Output, RepositoryError> {
        let (reply, outcome) = oneshot::channel();
        let start_runner = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.waiting.push_back((write, reply, Instant::now()));
            let start = queue.runners < self.batching.runners;
            if start {
                queue.runners += 1;
            }
            start
        };
        if start_runner {
            // A task of its own: a runner serves every caller in its batches, so it must not
            // stop when the caller that started it goes away (a client that hung up).
            tokio::spawn(Arc::clone(self).run());
        }
        outcome
            .await
            .map_err(|_| RepositoryError::Unavailable(anyhow::anyhow!("the write was dropped before it was applied")))?
    }

    async fn run(self: Arc<Self>) {
        let mut slot = RunnerSlot { commit: &self, held: true };
        loop {
            let mut batch: Vec<(W, Reply<W::Output>, Instant)> = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                // Given up under the lock that `submit` takes, so that a write queued meanwhile
                // either is seen here or starts a runner of its own.
                if queue.waiting.is_empty() {
                    queue.runners -= 1;
                    slot.held = false;
                    return;
                }
                let n = queue.waiting.len().min(self.batching.max_batch);
                queue.waiting.drain(..n).collect()
            };
            let taken = Instant::now();
            let oldest = batch.first().map_or(taken, |(_, _, queued)| *queued);
            // Stable: writes that lock nothing keep the order they arrived in.
            batch.sort_by_key(|(write, _, _)| write.lock_order());
            let (writes, replies): (Vec<W>, Vec<Reply<W::Output>>) =
                batch.into_iter().map(|(write, reply, _)| (write, reply)).unzip();
            let writes = Arc::new(writes);
            let together = Arc::clone(&writes);
            let applied = self.db.run(move |conn| apply_together(conn, &together)).await;
            traced::<W>(writes.len(), oldest, taken);
            match applied {
                Ok(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(outcome);
                    }
                }
                // A write that ran alone failed for its own reasons.
                Err(error) if writes.len() == 1 => {
                    if let Some(reply) = replies.into_iter().next() {
                        let _ = reply.send(Err(error));
                    }
                }
                // No connection to be had, or the one in use lost, perhaps after the commit: none
                // may run again, and none would find a connection either.
                Err(error) if error.is_unreachable() => {
                    let why = error.to_string();
                    for reply in replies {
                        let _ = reply.send(Err(RepositoryError::unreachable(why.clone())));
                    }
                }
                // Each in a transaction of its own, in order: one that fails again is answered
                // with its own error, the others as if nothing had happened.
                Err(_) => {
                    for (i, reply) in replies.into_iter().enumerate() {
                        let writes = Arc::clone(&writes);
                        let _ = reply.send(self.db.run(move |conn| writes[i].apply_alone(conn)).await);
                    }
                }
            }
        }
    }
}

/// The stages of one batch, for `RUST_LOG=workbench_store::group_commit=debug`: how long its
/// oldest write queued (behind the batch before it) and how long applying and committing it took,
/// so that a write's latency shows where it waits without a profiler.
fn traced<W>(writes: usize, oldest: Instant, taken: Instant) {
    if tracing::enabled!(target: "workbench_store::group_commit", tracing::Level::DEBUG) {
        let micros = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let kind = std::any::type_name::<W>().rsplit("::").next().unwrap_or("write");
        tracing::debug!(
            target: "workbench_store::group_commit",
            kind,
            writes,
            queued_us = micros(taken - oldest),
            commit_us = micros(taken.elapsed()),
            "committed"
        );
    }
}

/// A runner's place among the `runners`, given back if the runner is dropped mid-batch (its
/// runtime shutting down), so that the next write starts another.
struct RunnerSlot<'a, W: Write> {
    commit: &'a GroupCommit<W>,
    held: bool,
}

impl<W: Write> Drop for RunnerSlot<'_, W> {
    fn drop(&mut self) {
        if self.held {
            self.commit.queue.lock().unwrap_or_else(PoisonError::into_inner).runners -= 1;
        }
    }
}

/// `writes` in one transaction; a single write as it would run alone. A failed statement rolls
/// everything back; a connection lost on the way may have lost it after the commit, which
/// `Database::run` reports as unreachable.
fn apply_together<W: Write>(
    conn: &mut AnyConnection,
    writes: &[W],
) -> Result<Vec<Result<W::Output, RepositoryError>>, RepositoryError> {
    if let [write] = writes {
        return write.apply_alone(conn).map(|output| vec![Ok(output)]);
    }
    let miscounted = |outputs: &Vec<W::Output>| {
        (outputs.len() != writes.len())
            .then(|| format!("a batch of {} writes gave {} outcomes", writes.len(), outputs.len()))
    };
    let outputs = if W::one_statement(conn, writes) {
        let outputs = W::apply_together(conn, writes)?;
        if let Some(why) = miscounted(&outputs) {
            // Committed already: running the writes again could write them twice.
            return Err(RepositoryError::unreachable(why));
        }
        outputs
    } else {
        write_transaction_begun_by(conn, W::BEGIN_POSTGRES, |c| {
            let outputs = W::apply_together(c, writes)?;
            if let Some(why) = miscounted(&outputs) {
                // Rolled back: every caller must be answered with its own write's outcome.
                return Err(RepositoryError::Unavailable(anyhow::anyhow!(why)));
            }
            Ok(outputs)
        })?
    };
    Ok(outputs.into_iter().map(Ok).collect())
}
