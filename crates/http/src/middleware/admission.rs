//! The innermost layer, just before routing: a request draws from its rate-limit bucket (see
//! `limits`), then a method that a documented fixed path does not take (`PUT /tasks/stats`) is
//! refused with `405` before the router could hand it to a templated route of the same prefix.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, web};
use workbench_ratelimit::Policy;

use super::passage::Passage;
use crate::limits::{self, Limits};
use crate::methods::MethodTable;
use crate::state::AppState;

/// The rate limits and the method refusals; see the module documentation.
#[derive(Clone)]
pub struct Admission {
    limits: web::Data<Limits>,
    methods: web::Data<MethodTable>,
    state: web::Data<AppState>,
}

impl Admission {
    pub fn new(limits: web::Data<Limits>, methods: web::Data<MethodTable>, state: web::Data<AppState>) -> Self {
        Self { limits, methods, state }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Admission
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = AdmissionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AdmissionService { service: Rc::new(service), admission: Rc::new(self.clone()) }))
    }
}

pub struct AdmissionService<S> {
    service: Rc<S>,
    admission: Rc<Admission>,
}

impl<S, B> Service<ServiceRequest> for AdmissionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Passage<S::Future, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let Admission { limits, methods, state } = &*self.admission;
        match limits::bucket(&req, limits, state) {
            // Unlimited routes (probes, metrics) and switched-off limits: no bucket to wait on.
            None => match methods.refuse_fixed(limits::routed_path(&req), req.method()) {
                Some(refusal) => Passage::Answered { response: Some(req.into_response(refusal).map_into_right_body()) },
                None => Passage::Passed { response: self.service.call(req) },
            },
            Some((policy, key)) => Passage::Boxed {
                response: Box::pin(draw_then_pass(
                    Rc::clone(&self.service),
                    Rc::clone(&self.admission),
                    req,
                    policy,
                    key,
                )),
            },
        }
    }
}

/// Draws from the request's bucket (in Redis, when limits are shared, hence async), then refuses
/// or passes it; every answer carries the bucket's `RateLimit-*` headers.
async fn draw_then_pass<S, B>(
    service: Rc<S>,
    admission: Rc<Admission>,
    req: ServiceRequest,
    policy: Policy,
    key: String,
) -> Result<ServiceResponse<EitherBody<B>>, Error>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let decision = admission.limits.limiter.check(&policy, &key).await;
    if !decision.allowed {
        return Ok(req.into_response(limits::too_many_requests(&decision)).map_into_right_body());
    }
    let mut response = match admission.methods.refuse_fixed(limits::routed_path(&req), req.method()) {
        Some(refusal) => req.into_response(refusal).map_into_right_body(),
        None => service.call(req).await?.map_into_left_body(),
    };
    limits::set_headers(response.headers_mut(), &decision);
    Ok(response)
}
