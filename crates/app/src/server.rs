//! Building and running the application: the one place where adapters meet the domain.

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{Condition, DefaultHeaders, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use anyhow::Context;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;
use workbench_auth::{
    BcryptHasher, GitHubProvider, GoogleProvider, JwtIssuer, JwtSettings, OAuthClientSettings, TotpRs,
};
use workbench_cache::{MemoryTaskCache, RedisTaskCache};
use workbench_store::{
    Backend, Database, DieselAuditLog, DieselCommentRepository, DieselIdempotencyStore, DieselOAuthStateStore,
    DieselRefreshTokenStore, DieselTaskRepository, DieselUserRepository, PoolOptions,
};
use workbench_tasks::{TaskCache, TaskService};
use workbench_users::{AuthService, AuthSettings, OAuthProvider, OAuthService, TwoFactorService, UserService};

use crate::config::{SecretNotice, Settings};
use crate::idempotency::Idempotency;
use crate::metrics::Metrics;
use crate::openapi::{self, MethodTable};
use crate::problem::ApiError;
use crate::state::AppState;
use crate::{extract, middleware, routes};

/// The audience every access token is issued for and checked against.
pub const TOKEN_AUDIENCE: &str = "workbench-api";

/// A built, listening server, not yet serving.
pub struct Application {
    server: Server,
    port: u16,
    state: AppState,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

/// Opens the database named by the settings and applies pending migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    let url = settings.database_url();
    let backend = Backend::from_url(&url);
    let mut options = PoolOptions::default_for(backend);
    if let Some(size) = settings.database_pool_size {
        options.max_size = size;
    }
    let (db, applied) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let db = Database::connect(&url, options)?;
        let applied = db.migrate()?;
        Ok((db, applied))
    })
    .await??;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied database migrations");
    }
    tracing::info!(backend = backend.as_str(), "database ready");
    Ok(db)
}

/// The services, wired to their adapters.
pub async fn build_state(settings: &Settings, db: Database) -> anyhow::Result<AppState> {
    let cost = settings.bcrypt_cost;
    // Making the dummy hash costs one bcrypt round: keep it off the executor.
    let hasher = Arc::new(tokio::task::spawn_blocking(move || BcryptHasher::new(cost)).await??);
    let issuer = Arc::new(JwtIssuer::new(JwtSettings {
        secret: settings.jwt_secret_bytes(),
        issuer: settings.public_url(),
        audience: TOKEN_AUDIENCE.to_owned(),
        ttl: chrono::Duration::from_std(settings.access_token_ttl).context("ACCESS_TOKEN_TTL is too large")?,
    }));
    let users = Arc::new(DieselUserRepository::new(db.clone()));
    let tokens = Arc::new(DieselRefreshTokenStore::new(db.clone()));
    let auth_settings = AuthSettings {
        refresh_ttl: chrono::Duration::from_std(settings.refresh_token_ttl)
            .context("REFRESH_TOKEN_TTL is too large")?,
    };
    let (cache, redis) = task_cache(settings).await?;
    let totp = Arc::new(TotpRs::new("Workbench"));
    let audit = Arc::new(DieselAuditLog::new(db.clone()));
    let auth =
        AuthService::new(users.clone(), tokens, hasher.clone(), issuer, totp.clone(), audit.clone(), auth_settings);
    let oauth = OAuthService::new(
        oauth_providers(settings)?,
        Arc::new(DieselOAuthStateStore::new(db.clone())),
        users.clone(),
        auth.clone(),
    );
    Ok(AppState {
        auth,
        oauth,
        two_factor: TwoFactorService::new(users.clone(), totp),
        tasks: TaskService::new(
            Arc::new(DieselTaskRepository::new(db.clone())),
            Arc::new(DieselCommentRepository::new(db.clone())),
            users.clone(),
            cache,
        ),
        users: UserService::new(users, hasher, audit),
        idempotency: Idempotency::new(DieselIdempotencyStore::new(db.clone())),
        db,
        redis,
        frontend_url: settings.frontend_url(),
    })
}

/// The OAuth providers whose client id and secret are configured, on the real endpoints unless
/// the `OAUTH_*_URL` settings point elsewhere.
fn oauth_providers(settings: &Settings) -> anyhow::Result<Vec<Arc<dyn OAuthProvider>>> {
    let or = |value: &Option<String>, default: &str| value.clone().unwrap_or_else(|| default.to_owned());
    let mut providers: Vec<Arc<dyn OAuthProvider>> = Vec::new();
    if let (Some(id), Some(secret)) = (&settings.oauth_google_client_id, &settings.oauth_google_client_secret) {
        let client = OAuthClientSettings {
            client_id: id.clone(),
            client_secret: secret.clone(),
            auth_url: or(&settings.oauth_google_auth_url, workbench_auth::GOOGLE_AUTH_URL),
            token_url: or(&settings.oauth_google_token_url, workbench_auth::GOOGLE_TOKEN_URL),
            redirect_url: settings.oauth_redirect_url("google"),
        };
        let userinfo = or(&settings.oauth_google_userinfo_url, workbench_auth::GOOGLE_USERINFO_URL);
        providers.push(Arc::new(
            GoogleProvider::new(client, userinfo, workbench_auth::http_client()?).context("Google OAuth settings")?,
        ));
        tracing::info!("sign-in with Google is enabled");
    }
    if let (Some(id), Some(secret)) = (&settings.oauth_github_client_id, &settings.oauth_github_client_secret) {
        let client = OAuthClientSettings {
            client_id: id.clone(),
            client_secret: secret.clone(),
            auth_url: or(&settings.oauth_github_auth_url, workbench_auth::GITHUB_AUTH_URL),
            token_url: or(&settings.oauth_github_token_url, workbench_auth::GITHUB_TOKEN_URL),
            redirect_url: settings.oauth_redirect_url("github"),
        };
        let api = or(&settings.oauth_github_api_url, workbench_auth::GITHUB_API_URL);
        providers.push(Arc::new(
            GitHubProvider::new(client, api, workbench_auth::http_client()?).context("GitHub OAuth settings")?,
        ));
        tracing::info!("sign-in with GitHub is enabled");
    }
    Ok(providers)
}

/// How long a cached task and cached statistics may be served. Writes invalidate both at once;
/// the TTLs bound what a missed invalidation (a crash between write and invalidation) can cost,
/// and how stale `overdue` counts may become as time passes.
const TASK_TTL: std::time::Duration = std::time::Duration::from_secs(300);
const STATS_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Redis when `REDIS_URL` is set (shared by every instance), otherwise a bounded in-process cache.
async fn task_cache(settings: &Settings) -> anyhow::Result<(Arc<dyn TaskCache>, Option<deadpool_redis::Pool>)> {
    match settings.redis_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => {
            let pool = workbench_cache::connect(url).await.context("REDIS_URL")?;
            tracing::info!("caching in Redis");
            Ok((Arc::new(RedisTaskCache::new(pool.clone(), TASK_TTL, STATS_TTL)), Some(pool)))
        }
        None => Ok((Arc::new(MemoryTaskCache::new(10_000, TASK_TTL, STATS_TTL)), None)),
    }
}

impl Application {
    /// Validates the settings, opens and migrates the database, wires the services and binds the
    /// listener. `PORT=0` binds a free port (tests use it); [`Self::port`] tells which.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        match settings.validate()? {
            SecretNotice::Generated => tracing::warn!(
                "JWT_SECRET is not set: generated a random one for this process; tokens will not survive a restart"
            ),
            SecretNotice::Weak => {
                tracing::warn!("JWT_SECRET is weak (under 32 bytes or well known); production mode would refuse it")
            }
            SecretNotice::Configured => {}
        }
        let addr = settings.listen_addr()?;
        let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let port = listener.local_addr()?.port();
        if settings.public_url.is_none() {
            // `PORT=0` binds a free port: the derived public URL (token issuer, OAuth callbacks)
            // must name the port really bound.
            settings.public_url = Some(format!("http://{}", listener_address(addr, port)));
        }
        let db = open_database(&settings).await?;
        let state = build_state(&settings, db).await?;
        let server = serve(listener, &settings, state.clone())?;
        tracing::info!(address = %listener_address(addr, port), "Workbench is listening; Swagger UI at /swagger-ui/");
        Ok(Self { server, port, state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The wired services, for tests that need to reach behind the API.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or Ctrl-C, then stops accepting and lets in-flight requests finish
    /// (up to `SHUTDOWN_TIMEOUT`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn listener_address(mut addr: std::net::SocketAddr, port: u16) -> std::net::SocketAddr {
    addr.set_port(port);
    addr
}

fn serve(listener: TcpListener, settings: &Settings, state: AppState) -> anyhow::Result<Server> {
    let doc = openapi::document();
    let methods = web::Data::new(MethodTable::from_document(&doc));
    let state = web::Data::new(state);
    let metrics = web::Data::new(Metrics::new());
    let origins = settings.cors_origins();
    let max_json_bytes = settings.max_json_bytes;

    let mut server = HttpServer::new(move || {
        let (app, _) = App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .app_data(methods.clone())
            .configure(|cfg| extract::configure(cfg, max_json_bytes))
            .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
            .wrap(security_headers())
            .wrap(from_fn(middleware::observe))
            .into_utoipa_app()
            .configure(routes::operational)
            .configure(routes::api)
            .split_for_parts();
        app.service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", doc.clone()))
            .service(web::redirect("/swagger-ui", "/swagger-ui/"))
            .default_service(web::to(no_route))
    })
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    .listen(listener)?;
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// Headers every response carries: no MIME sniffing, no framing, no referrer leaks.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
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
