//! Black-box tests of the HTTP API: one binary, one fresh app and database per test, every case
//! on SQLite and on PostgreSQL.

mod admin;
mod audio;
mod audit;
mod auth;
mod caldav;
mod chat;
mod cluster;
mod comments;
mod conversations;
mod events;
mod files;
mod integrations;
mod jobs;
mod limits;
mod oauth;
mod oidc;
mod platform;
mod products;
mod project_tasks;
mod projects;
mod radio;
mod radio_source;
mod realtime;
mod recurring;
mod routes;
mod search;
mod share_links;
mod structure;
mod system;
mod tasks;
mod tokens;
mod totp;
mod trades;
mod users;
mod webhooks;
