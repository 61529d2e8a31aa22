//! The store's adapters against their ports' contracts, on SQLite always and on PostgreSQL when
//! it is reachable (always under `CI=true`): one module per domain, each case written once and
//! run on both engines (`workbench_store::engine_cases!`).
//!
//! One test binary rather than one per file: each would link the whole store (Diesel, libpq,
//! SQLite) again, which made a cold `make test` build the store's tests fourteen times over.

mod calendars;
mod chat;
mod connections;
mod contract;
mod events;
mod files;
mod idempotency;
mod jobs;
mod mfa;
mod notifications;
mod oidc;
mod products;
mod projects;
mod reminders;
mod repairs;
mod security;
mod structure;
mod task_comments;
mod task_totals;
mod tasks;
mod tokens;
mod trades;
