//! Black-box tests of the HTTP API: one binary, one fresh app and database per test, every case
//! on SQLite and on PostgreSQL.

mod admin;
mod audit;
mod auth;
mod comments;
mod oauth;
mod platform;
mod tasks;
mod totp;
mod users;
