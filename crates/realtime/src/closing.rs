//! Why and when the server closes a connection: the signal the hub (or anyone) sets once and the
//! connection's socket task waits on.

use std::sync::OnceLock;

use tokio::sync::Notify;

/// Why the server closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Its queue of outgoing frames filled: the client stopped reading.
    SlowConsumer,
    /// The account lost what the connection was opened with: it was disabled or deleted, its
    /// password or role changed, or its tokens were revoked.
    Revoked,
    /// The access token the connection lives by expired, and no newer one was sent.
    Expired,
    /// The server is shutting down.
    Shutdown,
}

impl CloseReason {
    /// The WebSocket close code: application codes 4008 ("slow consumer") and 4001 ("sign in
    /// again": the credentials no longer hold), or 1001 (going away).
    pub fn code(self) -> u16 {
        match self {
            Self::SlowConsumer => 4008,
            Self::Revoked | Self::Expired => 4001,
            Self::Shutdown => 1001,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::SlowConsumer => "slow consumer: too many undelivered messages",
            Self::Revoked => "the account's access changed: sign in again",
            Self::Expired => "the access token expired: send a newer one before it does",
            Self::Shutdown => "the server is shutting down",
        }
    }
}

/// A connection's close signal: set once, by whoever decides first; the socket task waits on it.
#[derive(Debug, Default)]
pub struct Closing {
    reason: OnceLock<CloseReason>,
    notify: Notify,
}

impl Closing {
    /// Asks the connection to close for `reason`, unless it was already asked.
    pub fn close(&self, reason: CloseReason) {
        if self.reason.set(reason).is_ok() {
            // `notify_one` keeps a permit when nobody waits yet, so the signal is not missed.
            self.notify.notify_one();
        }
    }

    /// Resolves once the connection was asked to close, with the reason.
    pub async fn wait(&self) -> CloseReason {
        loop {
            if let Some(reason) = self.reason.get() {
                return *reason;
            }
            self.notify.notified().await;
        }
    }

    pub fn reason(&self) -> Option<CloseReason> {
        self.reason.get().copied()
    }

    /// Whether the connection was asked to close: from then on it is sent nothing more (what
    /// ended may be the right to hear it), even before its task has closed the socket.
    pub(crate) fn is_asked(&self) -> bool {
        self.reason.get().is_some()
    }
}
