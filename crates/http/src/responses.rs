//! Problem responses that many routes share, declared once in the OpenAPI document's components
//! and referenced from each route's annotation (`(status = 401, response = Unauthorized)`), so an
//! annotation lists only what is particular to its route. Responses whose description several
//! routes repeat inline (a `304`, an `Idempotency-Key`'s `400` and `409`) name it here once, as a
//! constant, so that the document keeps them inline as it always did.

use utoipa::ToResponse;

use crate::problem::Problem;

/// `304` of a conditional `GET`: the description of every route that answers one.
pub const NOT_MODIFIED: &str = "Not modified since the `If-None-Match` version";

/// `400` of a route that takes a JSON body and an `Idempotency-Key`.
pub const NOT_JSON_OR_BAD_KEY: &str = "The body is not JSON, or a bad Idempotency-Key";

/// `409` of a route that takes an `Idempotency-Key`, when a request with the same key is under way.
pub const KEY_IN_USE: &str = "The same Idempotency-Key is still being processed";

/// `400`: the body is not JSON (or not labelled as JSON), or a path or query value cannot be parsed.
#[derive(Debug, ToResponse)]
#[response(
    description = "The body is not JSON, or a path or query value cannot be parsed",
    content_type = "application/problem+json"
)]
pub struct BadRequest(#[expect(dead_code, reason = "only its OpenAPI description is read")] Problem);

/// `401`: no, an expired or an invalid access token; answered with `WWW-Authenticate: Bearer`.
#[derive(Debug, ToResponse)]
#[response(
    description = "Missing, expired or invalid access token",
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer`, with `error=\"invalid_token\"` when one was refused"))
)]
pub struct Unauthorized(#[expect(dead_code, reason = "only its OpenAPI description is read")] Problem);

/// `403`: signed in, but not allowed.
#[derive(Debug, ToResponse)]
#[response(description = "Signed in, but not allowed to do this", content_type = "application/problem+json")]
pub struct Forbidden(#[expect(dead_code, reason = "only its OpenAPI description is read")] Problem);

/// `403 insufficient-scope`: a personal access token whose scopes do not include the one the
/// operation names in `x-required-scope` (or any token, where that is `session` or `admin`). Every
/// authenticated operation may answer it; the document lists it on each that lists no `403` of
/// its own (see `scopes::show_required_scopes`).
#[derive(Debug, ToResponse)]
#[response(
    description = "A personal access token without the scope this operation needs (`x-required-scope`)",
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer error=\"insufficient_scope\", scope=\"<the scope needed>\"`"))
)]
pub struct InsufficientScope(#[expect(dead_code, reason = "only its OpenAPI description is read")] Problem);

/// `403` of an admin route (declared `admin`, see `crate::scopes`): an account whose platform role
/// is not enough, or any personal access token. Every admin route lists this one (see
/// `scopes::show_required_scopes`), in place of a `403` of its own.
#[derive(Debug, ToResponse)]
#[response(
    description = "An admin route: refused to an account whose platform role is not enough for it (`type` ending in \
`forbidden`), and to every personal access token, whatever its scopes or its user's role (`type` ending in \
`insufficient-scope`); only a signed-in session of a moderator or an admin, as the route says, may use it",
    content_type = "application/problem+json"
)]
pub struct AdminRoute(#[expect(dead_code, reason = "only its OpenAPI description is read")] Problem);

/// `404`: no such resource, or one the caller may not see (existence is never revealed).
#[derive(Debug, ToResponse)]
#[response(description = "No such resource, or one the caller may not see", content_type = "application/problem+json")]
pub struct NotFound(#[expect(dead_code, reason = "only its OpenAPI description is read")] Problem);

/// `412`: `If-Match` names a version that is no longer current.
#[derive(Debug, ToResponse)]
#[response(description = "`If-Match` names an older version", content_type = "application/problem+json")]
pub struct PreconditionFailed(#[expect(dead_code, reason = "only its OpenAPI description is read")] Problem);

/// `422`: well-formed but invalid; `errors` lists every failing field at once.
#[derive(Debug, ToResponse)]
#[response(
    description = "Invalid fields or parameters, every one listed in `errors`",
    content_type = "application/problem+json"
)]
pub struct Unprocessable(#[expect(dead_code, reason = "only its OpenAPI description is read")] Problem);

/// `429`: the caller's bucket is empty. Every route under `/api/v1` may answer it; the document
/// lists it on each of them (see `openapi::RateLimited`).
#[derive(Debug, ToResponse)]
#[response(
    description = "Rate limited: wait `Retry-After` seconds",
    content_type = "application/problem+json",
    headers(
        ("Retry-After" = u64, description = "Whole seconds until a request would be let through"),
        ("RateLimit-Limit" = u32, description = "Requests per minute of this bucket"),
        ("RateLimit-Remaining" = u32, description = "Always 0 here"),
        ("RateLimit-Reset" = u64, description = "Whole seconds until the bucket is full again")
    )
)]
pub struct TooManyRequests(#[expect(dead_code, reason = "only its OpenAPI description is read")] Problem);
