//! The Workbench HTTP server: actix-web routes and middleware, OpenAPI, configuration and the
//! wiring of domain services to their adapters. `main.rs` only parses the command line.

pub mod background;
pub mod config;
pub mod events;
pub(crate) mod files;
pub mod http;
pub mod limits;
pub mod metrics;
pub(crate) mod middleware;
pub mod openapi;
pub mod realtime;
pub mod seed;
pub mod server;
pub mod state;
pub mod system_topic;
pub mod telemetry;

pub use config::Settings;
pub use server::Application;
