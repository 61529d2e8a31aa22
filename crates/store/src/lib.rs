//! The Diesel adapter of Workbench.
//!
//! One [`Database`] handle serves both engines: embedded SQLite (the default, a file under the
//! data directory) and PostgreSQL (when the URL says `postgres://`). Queries are written once
//! against [`AnyConnection`], Diesel's `MultiConnection` over the two; only where the SQL really
//! differs (transaction start, advisory locks) does the code look at the engine.
//!
//! Diesel is synchronous, so every query runs on Tokio's blocking pool through
//! [`Database::run`], never on the async executor. Row structs stay private to this crate; the
//! domain only ever sees its own types and [`RepositoryError`](workbench_core::RepositoryError).

mod audit;
mod connection;
mod database;
mod error;
mod idempotency;
mod migrations;
mod oauth;
mod schema;
mod tasks;
mod users;

#[cfg(feature = "testing")]
pub mod testing;

pub use audit::DieselAuditLog;
pub use connection::{AnyConnection, Backend};
pub use database::{Database, PoolOptions, PoolState};
pub use error::StoreError;
pub use idempotency::{DieselIdempotencyStore, IdempotencyClaim};
pub use oauth::DieselOAuthStateStore;
pub use tasks::{DieselCommentRepository, DieselTaskRepository};
pub use users::{DieselRefreshTokenStore, DieselUserRepository};
