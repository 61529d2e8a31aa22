//! The Workbench HTTP server: actix-web routes and middleware, OpenAPI, configuration and the
//! wiring of domain services to their adapters. `main.rs` only parses the command line.

pub mod config;
pub mod dto;
pub mod dto_security;
pub mod dto_tasks;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod preconditions;
pub mod problem;
mod routes;
pub mod server;
pub mod state;
pub mod telemetry;

pub use config::Settings;
pub use server::Application;
