//! Waking the job runtimes: this process's at once, other instances' through PostgreSQL's
//! `LISTEN`/`NOTIFY`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel::prelude::*;
use tokio::sync::watch;
use workbench_core::RepositoryError;

use crate::error::db;
use crate::{AnyConnection, Database};

/// The channel the insert trigger notifies.
const CHANNEL: &str = "workbench_jobs";
/// How often the listener looks for notifications. A look is a non-blocking read of the socket
/// (Diesel exposes no way to wait on it), so this costs next to nothing and bounds the wake-up
/// latency.
const LISTEN_POLL: Duration = Duration::from_millis(10);

/// Tells idle workers that jobs may be claimable: this process's at once, and on PostgreSQL
/// every instance's, through a notification delivered when the caller's transaction commits.
pub(super) fn notify_in(conn: &mut AnyConnection) -> Result<(), RepositoryError> {
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query(format!("NOTIFY {CHANNEL}")).execute(pg).map_err(db)?;
    }
    Ok(())
}

/// The wake-up signal for this process's runtimes, and on PostgreSQL the listener that feeds it
/// from `NOTIFY`.
///
/// The listener holds one pooled connection (`LISTEN workbench_jobs`) on a blocking thread while
/// anyone is subscribed, and looks for notifications every [`LISTEN_POLL`]. When the last
/// subscriber goes, it unlistens and returns the connection.
#[derive(Debug)]
pub(super) struct Signal {
    pub(super) tx: watch::Sender<()>,
    /// Whether a listener runs. Subscribing and the listener's decision to stop both happen
    /// under this lock, so a new subscriber never finds a listener that is about to stop.
    pub(super) listening: Mutex<bool>,
}

impl Signal {
    pub(super) fn listening(&self) -> std::sync::MutexGuard<'_, bool> {
        self.listening.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn wake(&self) {
        self.tx.send_replace(());
    }

    /// Listens on `conn` until nobody is subscribed; `Ok(true)` when it stopped for that reason.
    fn listen_on(&self, conn: &mut AnyConnection) -> Result<bool, RepositoryError> {
        let AnyConnection::Postgresql(pg) = conn else { return Ok(true) };
        diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(pg).map_err(db)?;
        let outcome = loop {
            if self.tx.receiver_count() == 0 {
                let mut listening = self.listening();
                if self.tx.receiver_count() == 0 {
                    *listening = false;
                    break Ok(true);
                }
            }
            let mut woke = false;
            let mut failure = None;
            for note in pg.notifications_iter() {
                match note {
                    Ok(_) => woke = true,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if woke {
                self.wake();
            }
            if let Some(e) = failure {
                break Err(db(e));
            }
            std::thread::sleep(LISTEN_POLL);
        };
        // The connection goes back to the pool: it must not keep collecting notifications.
        let _ = diesel::sql_query("UNLISTEN *").execute(pg);
        outcome
    }
}

pub(super) async fn listen(db: Database, signal: Arc<Signal>) {
    loop {
        let on = signal.clone();
        match db.run(move |conn| on.listen_on(conn)).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "job notifications interrupted; workers poll meanwhile");
                // Wake the workers: they may have missed a notification while the listener was
                // down.
                signal.wake();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if signal.tx.receiver_count() == 0 {
            let mut listening = signal.listening();
            if signal.tx.receiver_count() == 0 {
                *listening = false;
                return;
            }
        }
    }
}

/// Wakes this process's job runtimes: for adapters that enqueue jobs inside transactions of
/// their own (`jobs::enqueue_in`), to call once those committed. Other instances hear of the
/// insert from PostgreSQL's `NOTIFY`, or by polling.
#[derive(Debug, Clone)]
pub struct JobsWaker(pub(super) Arc<Signal>);

impl JobsWaker {
    pub fn wake(&self) {
        self.0.wake();
    }
}
