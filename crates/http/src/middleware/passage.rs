//! The future of a request through a layer that may pass it on, answer it, or box it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use futures_util::future::LocalBoxFuture;

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
