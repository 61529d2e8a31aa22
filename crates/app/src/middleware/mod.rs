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

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use futures_util::future::LocalBoxFuture;

mod admission;
mod compression;
mod edge;

pub use admission::Admission;
pub use compression::CompressWhenAsked;
pub use edge::{Edge, REQUEST_ID};

pin_project_lite::pin_project! {
    /// A request through a layer that either passes it on untouched (its response keeps the inner
    /// body, on the left), answers it at once, or takes it down a boxed path of its own (a rate
    /// limit in Redis, the compressor): only the rarer paths pay for a box.
    #[project = PassageProjection]
    pub enum Passage<F, B> {
        Passed { #[pin] response: F },
        Answered { response: Option<ServiceResponse<EitherBody<B>>> },
        Boxed { response: LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<B>>, Error>> },
    }
}

impl<F, B> Future for Passage<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            PassageProjection::Passed { response } => response.poll(cx).map_ok(ServiceResponse::map_into_left_body),
            PassageProjection::Answered { response } => {
                Poll::Ready(Ok(response.take().expect("an answered request is not polled again")))
            }
            PassageProjection::Boxed { response } => response.as_mut().poll(cx),
        }
    }
}
