//! The actix-web server: the routes of the configured groups, Swagger UI, and the layers every
//! request passes through (see `crate::middleware` for their order and why).

use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::Condition;
use actix_web::{App, HttpRequest, HttpResponse, ResponseError, web};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::access_log::AccessLog;
use crate::groups::{Registrar, RouteSet};
use crate::handoff;
use crate::limits::Limits;
use crate::methods::MethodTable;
use crate::middleware::{self, Admission, CompressWhenAsked, Edge};
use crate::problem::ApiError;
use crate::routes;
use crate::scopes::ScopeTable;
use crate::state::AppState;

/// How the server is shaped: what it serves and its bounds.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The route groups this process serves (`WORKBENCH_ROUTES`): the API, its document and its
    /// 404/405s cover only these.
    pub routes: RouteSet,
    /// Origins allowed by CORS; `*` allows any. Empty: no cross-origin access.
    pub cors_origins: Vec<String>,
    /// The largest JSON body accepted.
    pub max_json_bytes: usize,
    /// How long in-flight requests may take to finish after SIGTERM or Ctrl-C.
    pub shutdown_timeout: Duration,
    /// HTTP worker threads; the number of CPU cores when unset.
    pub workers: Option<usize>,
}

/// Binds the app to `listener`; the returned server serves once awaited.
pub fn serve(
    listener: TcpListener,
    settings: &HttpSettings,
    state: AppState,
    access: AccessLog,
    limits: Limits,
) -> std::io::Result<Server> {
    let routes = settings.routes.clone();
    let methods = web::Data::new(MethodTable::from_paths(&crate::openapi::methods_for(&routes)));
    let listed = routes.clone();
    let scopes = web::Data::new(ScopeTable::when_needed(move || crate::openapi::paths_for(&listed)));
    let document = web::Data::new(OpenApiJson { routes: routes.clone(), bytes: OnceLock::new() });
    let proxies = web::Data::new(limits.proxies.clone());
    let limits = web::Data::new(limits);
    let metrics = state.metrics.clone();
    let state = web::Data::new(state);
    let access = web::Data::new(access);
    let origins = settings.cors_origins.clone();
    let max_json_bytes = settings.max_json_bytes;

    let app = move || {
        let app = App::new()
            .app_data(state.clone())
            .app_data(access.clone())
            .app_data(methods.clone())
            .app_data(scopes.clone())
            .app_data(limits.clone())
            .app_data(proxies.clone())
            .app_data(document.clone())
            .configure(|cfg| crate::extract::configure(cfg, max_json_bytes))
            // Outermost last; see `middleware` for what each layer does and why in this order.
            .wrap(Admission::new(limits.clone(), methods.clone(), state.clone()))
            .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
            .wrap(CompressWhenAsked)
            .wrap(Edge::new(metrics.clone(), access.clone()))
            .configure(|cfg| routes::operational(&mut Registrar::Served(cfg)))
            .configure(|cfg| routes::api(&mut Registrar::Served(cfg), &routes));
        // CalDAV, outside `/api/v1` and the OpenAPI document, with the tasks it serves.
        let app = if routes.serves("tasks") { app.configure(crate::caldav::configure) } else { app };
        app.service(SwaggerUi::new("/swagger-ui/{_:.*}").config(Config::new([OPENAPI_JSON])))
            .route(OPENAPI_JSON, web::get().to(openapi_json))
            .service(web::redirect("/swagger-ui", "/swagger-ui/"))
            .default_service(web::to(no_route))
    };
    // actix-web's `HttpServer`, assembled here so that each connection is a `handoff::Connection`
    // (a long-lived response can leave the dispatcher; see `handoff`).
    let addr = listener.local_addr()?;
    let mut server = Server::build().shutdown_timeout(settings.shutdown_timeout.as_secs());
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    let graceful = server.graceful_shutdown_signal();
    let server = server.listen("workbench", listener, move || handoff::connections(app(), addr, graceful.clone()))?;
    Ok(server.run())
}

/// Where the OpenAPI document is served (and Swagger UI reads it).
const OPENAPI_JSON: &str = "/api-docs/openapi.json";

/// The OpenAPI document of the routes served, serialised once, at its first request, and shared
/// by every worker. Not at start: building it allocates tens of megabytes (every route's schemas,
/// merged) that a server which nobody asks for its document would keep as allocator garbage.
struct OpenApiJson {
    routes: RouteSet,
    bytes: OnceLock<Result<web::Bytes, String>>,
}

impl OpenApiJson {
    fn bytes(&self) -> &Result<web::Bytes, String> {
        self.bytes.get_or_init(|| {
            let document = crate::openapi::document_for(&self.routes);
            serde_json::to_vec(&document).map(web::Bytes::from).map_err(|e| e.to_string())
        })
    }
}

async fn openapi_json(document: web::Data<OpenApiJson>) -> Result<HttpResponse, ApiError> {
    let bytes = match document.bytes.get() {
        Some(bytes) => bytes.clone(),
        // Off the worker: the first build takes a while, and the worker has other requests.
        None => web::block(move || document.bytes().clone()).await.map_err(ApiError::internal)?,
    };
    let bytes = bytes.map_err(|e| ApiError::internal(anyhow::anyhow!("serialising the OpenAPI document: {e}")))?;
    Ok(HttpResponse::Ok().content_type(header::ContentType::json()).body(bytes))
}

/// CORS for the configured origins (`*` for any, without credentials).
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            middleware::REQUEST_ID,
        ])
        .expose_headers([
            header::ETAG,
            header::LINK,
            header::LOCATION,
            header::RETRY_AFTER,
            middleware::REQUEST_ID,
            header::HeaderName::from_static("ratelimit-limit"),
            header::HeaderName::from_static("ratelimit-remaining"),
            header::HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        cors = cors.allow_any_origin().send_wildcard();
    } else {
        for origin in origins {
            cors = cors.allowed_origin(origin);
        }
    }
    cors
}

/// Requests no route claimed: `405` with `Allow` when the path exists for other methods,
/// otherwise `404`.
async fn no_route(req: HttpRequest, methods: web::Data<MethodTable>) -> HttpResponse {
    match methods.allowed(req.path()) {
        Some(allowed) => {
            let allow = allowed.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
            let mut response = ApiError::from_status(actix_web::http::StatusCode::METHOD_NOT_ALLOWED).error_response();
            if let Ok(value) = header::HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        }
        None => ApiError::not_found(format!("No route matches {}.", req.path())).error_response(),
    }
}
