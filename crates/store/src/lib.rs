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
mod calendars;
mod census;
mod chat;
mod columns;
mod connection;
mod database;
mod error;
#[cfg(test)]
mod explain;
mod file_links;
mod files;
mod group_commit;
mod idempotency;
mod jobs;
mod like;
mod mfa;
mod migrations;
mod notifications;
mod oauth;
mod oidc;
mod outbox;
mod paging;
mod products;
mod projects;
mod radio;
mod reminders;
mod renditions;
mod scheduled;
mod schema;
mod searches;
mod tasks;
mod tokens;
mod trades;
mod users;
mod webhooks;

#[cfg(feature = "testing")]
pub mod testing;

pub use audit::DieselAuditLog;
pub use calendars::DieselCalendarStore;
pub use census::DieselPlatformCensus;
pub use chat::{DERIVED_TABLES, DieselChatStore, rebuild_search_index};
pub use connection::{AnyConnection, Backend};
pub use database::{Database, PoolOptions, PoolState};
pub use error::StoreError;
pub use file_links::DieselShareLinkRepository;
pub use files::DieselFileRepository;
pub use idempotency::{DieselIdempotencyStore, IdempotencyClaim};
pub use jobs::{DieselJobStore, JobsWaker};
pub use mfa::DieselMfaTokenStore;
pub use notifications::DieselNotificationRepository;
pub use oauth::DieselOAuthStateStore;
pub use outbox::DieselOutbox;
pub use products::{DieselCategoryRepository, DieselProductRepository, DieselUserProductRepository};
pub use projects::DieselProjectRepository;
pub use radio::DieselStationRepository;
pub use reminders::DieselReminderRepository;
pub use renditions::DieselRenditionRepository;
pub use scheduled::DieselHousekeeping;
pub use searches::DieselSavedSearchRepository;
pub use tasks::{
    DieselBoardRepository, DieselCommentRepository, DieselFieldRepository, DieselRelationRepository,
    DieselTaskRepository,
};
pub use tokens::DieselTokenRepository;
pub use trades::DieselTradeRepository;
pub use users::{DieselRefreshTokenStore, DieselUserRepository};
pub use webhooks::DieselWebhookStore;
