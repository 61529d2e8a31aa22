//! The layers every request passes through, outermost first:
//!
//! 1. [`Edge`]: the request id, the problem document of every error, the security headers, the
//!    metrics and the access-log line: what every response carries and every request leaves behind.
//! 2. [`CompressWhenAsked`]: actix's `Compress`, for requests that send `Accept-Encoding`.
//! 3. CORS, when origins are configured (`server.rs`).
//! 4. [`Admission`]: the rate limit, and the `405` of a documented path's undocumented method.
//!
//! Each is a hand-written `Transform` holding what it needs from the start, rather than `from_fn`
//! boxing two futures per layer and looking the app's data up per request. With the compressor
//! skipped when nobody asked for it and the metric series kept per worker, a `GET /health` went
//! from about 23,800 instructions to 20,800 (callgrind, access-log thread included); a bare actix
//! server answering a static body takes about 17,400.

mod admission;
mod compression;
mod edge;
mod passage;

pub use admission::Admission;
pub use compression::CompressWhenAsked;
pub use edge::{Edge, REQUEST_ID};
