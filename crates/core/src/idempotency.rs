//! The port behind `Idempotency-Key`: requests that create something are claimed per user and
//! key before they run, and their response is kept for replay. Which domain the request belongs
//! to does not matter; what matters is that of two racing claims exactly one wins.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::RepositoryError;

/// What a claim on (user, key) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is now this request's: run it, then `complete` or `release` the key.
    Claimed,
    /// Another request with this key is still running.
    InProgress {
        /// The hash of the running request's canonical body: a different one means the key
        /// was reused for another request.
        request_hash: String,
    },
    /// A request with this key already ran; this is its response.
    Completed {
        /// The hash of the request's canonical body, to tell a replay from a reused key.
        request_hash: String,
        /// The response's HTTP status.
        status: u16,
        /// The response's body, as sent.
        body: String,
        /// The response's `Location` header, if it had one.
        location: Option<String>,
    },
}

/// Where claims and stored responses live (the database, so that a replay works across restarts
/// and instances).
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims (user, key) for a request whose canonical body hashes to `request_hash`, until
    /// `expires_at`; an expired claim (`expires_at <= now`) is replaced. Of concurrent claims
    /// exactly one is [`IdempotencyClaim::Claimed`].
    async fn claim(
        &self,
        user_id: i64,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, RepositoryError>;

    /// Stores the response of a claimed key.
    async fn complete(
        &self,
        user_id: i64,
        key: &str,
        status: u16,
        body: String,
        location: Option<String>,
    ) -> Result<(), RepositoryError>;

    /// Forgets a claim (after a server error, so that the client may retry). A completed key
    /// keeps its response.
    async fn release(&self, user_id: i64, key: &str) -> Result<(), RepositoryError>;
}
