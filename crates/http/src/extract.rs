//! Request extractors that answer in problem documents.
//!
//! - [`Json`]: a body that is not JSON (or not labelled as JSON) is a `400`; JSON of the wrong
//!   shape is a `422` naming the field, found with `serde_path_to_error`.
//! - Query strings and path segments that cannot be parsed are a `400` ([`configure`]).
//! - [`CurrentUser`]: the signed-in, active user, or a `401` with a `Bearer` challenge; for a
//!   personal access token, also a `403` when the route's declared scope is not among its own
//!   (always on routes declared `session` or `admin`).
//! - [`SignedIn`]: the same for a session-only route, with the session the access token names.
//! - [`Client`]: the caller's address and user agent, for the audit trail.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;
use workbench_tokens::{Scope, is_personal_token};
use workbench_users::{AccessClaims, AuthError, ClientInfo, Principal};

use crate::limits::VerifiedClaims;
use crate::problem::ApiError;
use crate::scopes::{Requirement, ScopeTable};
use crate::state::AppState;

/// The installed JSON/query/path error handlers; call once on the app.
pub fn configure(cfg: &mut web::ServiceConfig, max_json_bytes: usize) {
    cfg.app_data(web::PayloadConfig::new(max_json_bytes))
        .app_data(
            web::QueryConfig::default().error_handler(|e, _| {
                ApiError::bad_request(format!("The query string could not be parsed: {e}")).into()
            }),
        )
        .app_data(web::PathConfig::default().error_handler(|e, req| {
            // A fixed path that a templated route of another method also matches (`PUT /tasks/stats`
            // reaching `PUT /tasks/{id}`) names a known resource with the wrong method.
            let methods = req.app_data::<web::Data<crate::methods::MethodTable>>();
            if let Some(response) = methods.and_then(|m| m.refuse(req.path(), req.method())) {
                return actix_web::error::InternalError::from_response(e, response).into();
            }
            ApiError::bad_request(format!("A path segment could not be parsed: {e}")).into()
        }));
}

/// A query string of type `T`. A value that cannot be parsed (`page=abc`) is a `400` naming the
/// parameter; rules on parsable values (`page=0`) are the service's, answered with `422`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query).map_err(Into::into))
    }
}

/// Parses a query string as a `T`, naming the parameter that failed.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    if let Some((name, _)) = form_urlencoded::parse(query.as_bytes()).find(|(_, value)| value.contains('\0')) {
        let mut err = ApiError::bad_request(format!("The query parameter `{name}` could not be parsed: {NUL}"));
        err.push_error(&name, NUL);
        return Err(err);
    }
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = e.path().to_string();
        let message = e.into_inner().to_string();
        let mut err = ApiError::bad_request(format!("The query parameter `{field}` could not be parsed: {message}"));
        err.push_error(&field, message);
        err
    })
}

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req.mime_type().ok().flatten().is_some_and(|m| {
            (m.type_().as_str() == "application" && m.subtype().as_str() == "json")
                || m.suffix().is_some_and(|s| s == "json")
        });
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::bad_request("The body must be JSON (Content-Type: application/json).").into());
            }
            let bytes = body.await?;
            parse_json(&bytes).map(Json).map_err(Into::into)
        })
    }
}

/// Parses `bytes` as a `T`: `400` when it is not JSON at all, `422` naming the field when it is
/// JSON of the wrong shape.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("The body is not valid JSON: {e}")))?;
    // JSON can only carry U+0000 escaped, so a body without the escape needs no walk.
    if memchr::memmem::find(bytes, b"\\u0000").is_some() {
        let mut fields = Vec::new();
        nul_fields(&value, &mut Vec::new(), &mut fields);
        if !fields.is_empty() {
            return Err(ApiError::field_errors(
                fields.into_iter().map(|field| workbench_core::FieldError::new(field, NUL)).collect(),
            ));
        }
    }
    parse_object(value, None)
}

/// Why text holding U+0000 is refused, wherever it comes: no text the API keeps may hold it
/// (PostgreSQL cannot store it, and no person types it), so both engines refuse it alike, before
/// anything is stored.
pub const NUL: &str = "must not contain the NUL character (U+0000)";

/// The paths (as [`join_path`] writes them) of the strings in `value` that hold U+0000, keys
/// included (a key with it is named by its parent).
fn nul_fields(value: &serde_json::Value, path: &mut Vec<String>, found: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) if text.contains('\0') => found.push(join_path(path, None)),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                nul_fields(item, path, found);
                path.pop();
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, item) in fields {
                if key.contains('\0') {
                    found.push(join_path(path, None));
                    continue;
                }
                path.push(key.clone());
                nul_fields(item, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Reads the JSON object `value`, found in the body under `field`, as a `T`: `422` naming each
/// field of the wrong shape as `field.<name>`.
/// Numbers written with a fraction of zero are read as the integers they are (JSON Schema agrees
/// that `72.0` is an integer): unlike a body's free-form JSON (a product's specifications), such
/// a part is read, never stored as sent.
pub fn parse_json_value<T: DeserializeOwned>(value: serde_json::Value, field: &str) -> Result<T, ApiError> {
    parse_object(crate::body::integral_deep(value), Some(field))
}

fn parse_object<T: DeserializeOwned>(value: serde_json::Value, within: Option<&str>) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::invalid_field(within.unwrap_or("body"), "must be a JSON object"));
    }
    let mut value = value;
    // Report every field of the wrong type at once: drop each offending field and try again,
    // so that one bad field does not hide the next.
    let mut errors = Vec::new();
    loop {
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(parsed) if errors.is_empty() => return Ok(parsed),
            Ok(_) => return Err(ApiError::field_errors(errors)),
            Err(e) => {
                let path: Vec<String> =
                    within.map(str::to_owned).into_iter().chain(e.path().iter().map(|seg| seg.to_string())).collect();
                let inner = e.into_inner().to_string();
                // serde reports a missing field on its parent object; name the field itself.
                let (field, message, prunable) = match missing_field(&inner) {
                    Some(name) => (join_path(&path, Some(name)), "is required".to_owned(), false),
                    None => (join_path(&path, None), inner, true),
                };
                // A pruned required field shows up again as missing: it was reported already.
                if !errors.iter().any(|e: &workbench_core::FieldError| e.field == field) {
                    errors.push(workbench_core::FieldError::new(field, message));
                }
                let relative = &path[usize::from(within.is_some())..];
                if !prunable || !prune(&mut value, relative) {
                    return Err(ApiError::field_errors(errors));
                }
            }
        }
    }
}

/// A field's path as clients write it: `customer.name`, `lines[2].quantity`.
fn join_path(path: &[String], leaf: Option<&str>) -> String {
    let mut joined = String::new();
    for part in path.iter().map(String::as_str).filter(|p| *p != "?").chain(leaf) {
        if !joined.is_empty() && !part.starts_with('[') {
            joined.push('.');
        }
        joined.push_str(part);
    }
    if joined.is_empty() { "body".to_owned() } else { joined }
}

/// Removes the top-level field `path` names; returns whether something was removed. Only
/// top-level fields are pruned: deeper errors are reported one at a time.
fn prune(value: &mut serde_json::Value, path: &[String]) -> bool {
    match (value.as_object_mut(), path) {
        (Some(object), [field]) => object.remove(field).is_some(),
        _ => false,
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// The authenticated caller: an active account holding a valid access token, or a valid personal
/// access token granted the scope the route declares (see [`crate::scopes`]). Costs no database
/// round trip when the caller's principal (and the token's grant) are cached (see
/// `workbench_users::Authenticator` and `workbench_tokens::TokenService`).
#[derive(Debug, Clone, Copy)]
pub struct CurrentUser(pub Principal);

/// The signed-in user's id, left in the request's extensions for the access log.
#[derive(Debug, Clone, Copy)]
pub struct LoggedUser(pub i64);

impl FromRequest for CurrentUser {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = bearer_token(&req)?;
            let state = app_state(&req)?;
            if is_personal_token(token) {
                let caller = state.tokens.authenticate(token).await.map_err(ApiError::from)?;
                let scope = required_scope(&req).await?;
                if !caller.scopes.grants(scope) {
                    return Err(ApiError::insufficient_scope(Some(scope.as_str())).into());
                }
                req.extensions_mut().insert(LoggedUser(caller.principal.id.0));
                return Ok(CurrentUser(caller.principal));
            }
            let (caller, _) = session_caller(&req, state, token).await?;
            Ok(CurrentUser(caller))
        })
    }
}

/// The caller of a route that only a signed-in session may use (declared `session`), and the
/// session its access token was issued under (`sid`; `None` for a token issued before the claim
/// existed): for what must know which sign-in it acts for. A personal access token is refused
/// with `403 insufficient-scope`, as the declaration says.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub principal: Principal,
    pub session_id: Option<String>,
}

impl FromRequest for SignedIn {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = bearer_token(&req)?;
            let state = app_state(&req)?;
            if is_personal_token(token) {
                // Checked like any token (a revoked one is a 401), then refused: no token signs in.
                state.tokens.authenticate(token).await.map_err(ApiError::from)?;
                return Err(ApiError::insufficient_scope(None).into());
            }
            let (principal, claims) = session_caller(&req, state, token).await?;
            Ok(SignedIn { principal, session_id: claims.session_id })
        })
    }
}

fn app_state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState is not registered")))
}

/// The caller behind an access token from sign-in, and what the token says: the account must
/// exist, be active and be at the token's generation. The claims come from the rate limiter
/// when it verified the token already.
async fn session_caller(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
) -> Result<(Principal, AccessClaims), ApiError> {
    let refused = |e| match e {
        AuthError::Unknown(cause) => ApiError::internal(cause),
        _ => ApiError::invalid_token(),
    };
    let verified = req.extensions().get::<VerifiedClaims>().map(|v| v.0.clone());
    let claims = match verified {
        Some(claims) => claims,
        None => state.authenticator.verify(token).map_err(refused)?,
    };
    let caller = state.authenticator.principal(&claims).await.map_err(refused)?;
    req.extensions_mut().insert(LoggedUser(caller.id.0));
    Ok((caller, claims))
}

/// The scope the route `req` reached declares, for a request made with a personal access token,
/// or a `403` for a route only a session may use, an admin route, or one that declares nothing (a
/// forgotten declaration closes a route to tokens, it never opens one). This is where every
/// route's answer to a token is decided: no handler decides it.
///
/// The table is made at the first request with a token (see [`ScopeTable`]), on the blocking
/// pool: the worker that received it serves its other connections meanwhile.
async fn required_scope(req: &HttpRequest) -> Result<Scope, ApiError> {
    let table = req
        .app_data::<web::Data<ScopeTable>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("ScopeTable is not registered")))?;
    if !table.is_made() {
        let making = table.clone();
        web::block(move || making.make()).await.map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    }
    let required = req.match_pattern().and_then(|pattern| table.required(req.method(), &pattern));
    match required {
        Some(Requirement::Scope(scope)) => Ok(scope),
        Some(Requirement::Admin) => Err(ApiError::admin_route_for_sessions()),
        Some(Requirement::Session) | None => Err(ApiError::insufficient_scope(None)),
    }
}

/// Who is calling, as far as the connection tells: the client address (the peer's, or the one a
/// trusted proxy forwarded — see `crate::limits::TrustedProxies`) and the `User-Agent` header.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

impl FromRequest for Client {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ip = crate::limits::client_address(req).map(|ip| ip.to_string());
        let user_agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
        std::future::ready(Ok(Client(ClientInfo { ip, user_agent })))
    }
}

fn bearer_token(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("This route needs an `Authorization: Bearer <token>` header."))?;
    let value = value.to_str().map_err(|_| ApiError::invalid_token())?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(ApiError::unauthorized("The Authorization header must use the Bearer scheme.")),
    }
}

/// Refuses anyone but admins (and super admins): the operational views are theirs alone.
pub fn admins_only(viewer: &Principal) -> Result<(), ApiError> {
    if viewer.role.is_admin() { Ok(()) } else { Err(ApiError::forbidden("Only administrators may do this.")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Body {
        title: String,
        count: Option<u32>,
        nested: Option<Nested>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Nested {
        name: String,
    }

    fn field_of(bytes: &str) -> (u16, String) {
        let err = parse_json::<Body>(bytes.as_bytes()).unwrap_err();
        let p = err.problem();
        (p.status, p.errors.first().map(|e| e.field.clone()).unwrap_or_default())
    }

    #[test]
    fn text_holding_u0000_is_refused_naming_each_field() {
        let err =
            parse_json::<Body>(br#"{"title": "a\u0000b", "nested": {"name": "\u0000"}, "tags": ["x", "\u0000"]}"#)
                .unwrap_err();
        let p = err.problem();
        let named: Vec<(&str, &str)> = p.errors.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(p.status, 422);
        assert_eq!(named, [("title", NUL), ("nested.name", NUL), ("tags[1]", NUL)]);
        // Escaped backslashes are not the escape.
        assert!(parse_json::<Body>(br#"{"title": "C:\\u0000"}"#).is_ok());
        let err = parse_query::<std::collections::HashMap<String, String>>("q=a%00b&page=1").unwrap_err();
        assert_eq!((err.problem().status, err.problem().errors[0].field.as_str()), (400, "q"));
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_name_the_field() {
        assert_eq!(field_of("{not json").0, 400);
        assert_eq!(field_of("[1,2]"), (422, "body".into()));
        assert_eq!(field_of("{}"), (422, "title".into()));
        assert_eq!(field_of(r#"{"title": 5}"#), (422, "title".into()));
        assert_eq!(field_of(r#"{"title": null}"#), (422, "title".into()));
        assert_eq!(field_of(r#"{"title": "x", "count": "many"}"#), (422, "count".into()));
        assert_eq!(field_of(r#"{"title": "x", "nested": {}}"#), (422, "nested.name".into()));
    }

    #[test]
    fn every_type_error_is_reported_at_once() {
        let err = parse_json::<Body>(br#"{"title": 5, "count": "many"}"#).unwrap_err().problem();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "count"]);
    }

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Params {
        page: Option<u64>,
        q: Option<String>,
    }

    #[test]
    fn unparsable_query_values_name_the_parameter() {
        let err = parse_query::<Params>("q=x&page=abc").unwrap_err().problem();
        assert_eq!((err.status, err.errors[0].field.as_str()), (400, "page"));
        assert!(parse_query::<Params>("page=2&unknown=1").is_ok());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert!(parse_json::<Body>(br#"{"title": "x", "colour": "red"}"#).is_ok());
    }
}
