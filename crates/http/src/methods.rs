//! Which methods each documented path accepts: the table behind `405 Method Not Allowed`, built
//! from the same paths the OpenAPI document is made of ([`crate::openapi::methods_for`]).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use utoipa::openapi::PathItem;
use utoipa::openapi::path::Paths;

use crate::problem::ApiError;

/// Which methods each documented path accepts, so that a request for a known path with the wrong
/// method is answered `405` with `Allow`, and only unknown paths are `404`.
#[derive(Debug)]
pub struct MethodTable {
    table: Vec<(Template, Vec<Method>)>,
    /// The paths without parameters, for a lookup that costs one hash per request (foldhash:
    /// the keys are our own routes, so nothing a client sends can be aimed at its collisions).
    fixed: std::collections::HashMap<String, Vec<Method>, foldhash::fast::FixedState>,
}

impl MethodTable {
    pub fn from_paths(paths: &Paths) -> Self {
        let mut table: Vec<_> = paths.paths.iter().map(|(path, item)| (Template::parse(path), methods(item))).collect();
        // The most specific path decides: `/tasks/stats` before `/tasks/{id}`, which matches it too.
        table.sort_by_key(|(template, _)| template.parameters());
        let fixed = paths
            .paths
            .iter()
            .filter(|(path, _)| !path.contains('{'))
            .map(|(path, item)| (path.clone(), methods(item)))
            .collect();
        Self { table, fixed }
    }

    /// The methods allowed on `path`, or `None` when no route has that path.
    pub fn allowed(&self, path: &str) -> Option<&[Method]> {
        self.table.iter().find(|(template, _)| template.matches(path)).map(|(_, methods)| methods.as_slice())
    }

    /// `405` with `Allow` when `path` is a documented path without parameters that does not
    /// take `method`. Checked before routing: a templated route of another resource
    /// (`PUT /products/{id}`) would otherwise claim `PUT /products/search` and answer for it
    /// (`401`, or `400` for an id that is not a number).
    pub fn refuse_fixed(&self, path: &str, method: &Method) -> Option<HttpResponse> {
        let allowed = self.fixed.get(path)?;
        (!allowed.contains(method) && *method != Method::OPTIONS).then(|| method_not_allowed(allowed))
    }

    /// `405` with `Allow` when `path` is documented but not for `method`; `None` otherwise.
    pub fn refuse(&self, path: &str, method: &Method) -> Option<HttpResponse> {
        let allowed = self.allowed(path).filter(|allowed| !allowed.contains(method))?;
        Some(method_not_allowed(allowed))
    }
}

/// A documented path, matched segment by segment: a `{name}` segment is any one non-empty
/// segment, as actix's router matches it (`[^/]+`), and any other segment is itself. The
/// documented paths have no other kind of parameter (`openapi`'s tests hold every one of them to
/// the router's own matching). A compiled regex per path, as the router keeps, would hold several
/// kilobytes each for what a comparison of segments decides.
#[derive(Debug)]
pub(crate) struct Template(Vec<Option<String>>);

impl Template {
    pub(crate) fn parse(path: &str) -> Self {
        let parameter = |segment: &str| segment.starts_with('{') && segment.ends_with('}');
        Self(path.split('/').map(|segment| (!parameter(segment)).then(|| segment.to_owned())).collect())
    }

    fn parameters(&self) -> usize {
        self.0.iter().filter(|segment| segment.is_none()).count()
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        let mut segments = path.split('/');
        let all_match = self.0.iter().all(|expected| match (expected, segments.next()) {
            (Some(fixed), Some(segment)) => fixed == segment,
            (None, Some(segment)) => !segment.is_empty(),
            (_, None) => false,
        });
        all_match && segments.next().is_none()
    }
}

fn method_not_allowed(allowed: &[Method]) -> HttpResponse {
    let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    let mut response = ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED).error_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

fn methods(item: &PathItem) -> Vec<Method> {
    [
        (item.get.is_some(), Method::GET),
        (item.get.is_some(), Method::HEAD),
        (item.post.is_some(), Method::POST),
        (item.put.is_some(), Method::PUT),
        (item.patch.is_some(), Method::PATCH),
        (item.delete.is_some(), Method::DELETE),
    ]
    .into_iter()
    .filter_map(|(present, method)| present.then_some(method))
    .collect()
}
