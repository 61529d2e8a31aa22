//! Response compression, negotiated by `Accept-Encoding`: zstd, gzip or deflate, not br (see the
//! workspace's Cargo.toml). Skips images, video, partial content and anything marked
//! `Content-Encoding: identity` (already-compressed media).
//!
//! actix's `Compress` does the work. A request without `Accept-Encoding` bypasses it: for those,
//! `Compress` would only parse each response's media type and wrap its body to send it as it is
//! (HTTP says such a client accepts any coding, but `Compress` sends identity, and so does this).

use std::rc::Rc;

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header;
use actix_web::middleware::Compress;
use futures_util::future::LocalBoxFuture;

use super::passage::Passage;

/// `Compress`, for the requests that ask for it; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct CompressWhenAsked;

/// The compressor around the inner layers; boxed, since its type (`Compress`'s middleware) is
/// not public, and the box costs nothing next to compressing the body.
type Compressing<B> =
    Box<dyn Fn(ServiceRequest) -> LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<B>>, Error>>>;

impl<S, B> Transform<S, ServiceRequest> for CompressWhenAsked
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = CompressWhenAskedService<S, B>;
    type InitError = ();
    type Future = LocalBoxFuture<'static, Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let plain = Rc::new(service);
        let compressor = Compress::default().new_transform(Rc::clone(&plain));
        Box::pin(async move {
            let compressor = compressor.await?;
            let compressing: Compressing<B> = Box::new(move |req| {
                let response = compressor.call(req);
                Box::pin(async move {
                    response.await.map(|compressed| compressed.map_into_boxed_body().map_into_right_body())
                })
            });
            Ok(CompressWhenAskedService { plain, compressing })
        })
    }
}

pub struct CompressWhenAskedService<S, B> {
    plain: Rc<S>,
    compressing: Compressing<B>,
}

impl<S, B> Service<ServiceRequest> for CompressWhenAskedService<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Passage<S::Future, B>;

    forward_ready!(plain);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if req.headers().contains_key(header::ACCEPT_ENCODING) {
            Passage::Boxed { response: (self.compressing)(req) }
        } else {
            Passage::Passed { response: self.plain.call(req) }
        }
    }
}
