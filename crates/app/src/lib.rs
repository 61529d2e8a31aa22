//! The Workbench binary's composition root: configuration in sections ([`config`]), one wiring
//! function per domain ([`wiring`]), the background runtime ([`background`]), logging
//! ([`telemetry`]) and the process's descriptor limit ([`descriptors`]); the Prometheus
//! registry is `workbench-metrics`. The HTTP adapter is `workbench-http`; `main.rs` only parses the command
//! line.

pub mod background;
pub mod config;
pub mod descriptors;
pub mod seed;
pub mod server;
pub mod telemetry;
pub mod wiring;

pub use config::Settings;
pub use server::Application;
pub use workbench_http::openapi;
pub use workbench_metrics as metrics;
