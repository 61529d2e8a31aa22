//! Building and running the application: the one place where adapters meet the domain.

use std::net::TcpListener;
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::Condition;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use anyhow::Context;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;
use workbench_auth::{
    BcryptHasher, GitHubProvider, GoogleProvider, JwtIssuer, JwtSettings, OAuthClientSettings, TotpRs,
};
use workbench_broadcast::{LocalBroadcast, RedisBroadcast};
use workbench_cache::{
    MemoryAnswerCache, MemoryCatalogueCache, MemoryTaskCache, RedisAnswerCache, RedisCatalogueCache, RedisTaskCache,
    SharedPrincipalCache,
};
use workbench_chat::{ChatService, Presence};
use workbench_core::broadcast::Broadcast;
use workbench_files::{BlobStore, FileParts, FileService};
use workbench_integrations::{AnswerCache, IntegrationService};
use workbench_jobs::JobQueue;
use workbench_media::MediaPreparer;
use workbench_media::MediaWorkers;
use workbench_media::image::ImagePolicy;
use workbench_pdf::TypstPdfRenderer;
use workbench_presence::{MemoryPresence, RedisPresence};
use workbench_products::{CatalogueCache, CatalogueService, CollectionService};
use workbench_providers::{ApiKey, ProvidersConfig};
use workbench_ratelimit::{LocalLimiter, Policy, RateLimiter, RedisLimiter};
use workbench_realtime::{CloseReason, Hub, HubConfig};
use workbench_store::{
    Backend, Database, DieselAuditLog, DieselCategoryRepository, DieselChatStore, DieselCommentRepository,
    DieselFileRepository, DieselIdempotencyStore, DieselJobStore, DieselOAuthStateStore, DieselPlatformCensus,
    DieselProductRepository, DieselRefreshTokenStore, DieselTaskRepository, DieselUserProductRepository,
    DieselUserRepository, DieselWebhookStore, PoolOptions,
};
use workbench_system::SystemMonitor;
use workbench_tasks::{TaskCache, TaskService};
use workbench_users::{
    AuthService, AuthSettings, Authenticator, DashboardService, OAuthProvider, OAuthService, TwoFactorService,
    UserService,
};
use workbench_webhooks::{InboundService, ProviderSecrets, WebhookService};

use crate::background::{self, Background};
use crate::config::{SecretNotice, Settings};
use crate::http::idempotency::Idempotency;
use crate::http::problem::ApiError;
use crate::limits::{Limits, TrustedProxies};
use crate::metrics::Metrics;
use crate::middleware::{Admission, CompressWhenAsked, Edge};
use crate::openapi::{self, MethodTable};
use crate::realtime::{PRESENCE_TTL, Realtime, RealtimeTasks};
use crate::state::AppState;
use crate::telemetry::AccessLog;
use crate::{http, middleware};

/// The audience every access token is issued for and checked against.
pub const TOKEN_AUDIENCE: &str = "workbench-api";

/// A built, listening server, not yet serving.
pub struct Application {
    server: Server,
    port: u16,
    state: AppState,
    access: AccessLog,
    background: Background,
    realtime: RealtimeTasks,
    shutdown_timeout: std::time::Duration,
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
    let Shared { tasks: cache, catalogue: catalogue_cache, redis, bus } = shared(settings).await?;
    let principals = SharedPrincipalCache::start(bus.clone(), PRINCIPALS_MAX, PRINCIPAL_TTL);
    let totp = Arc::new(TotpRs::new("Workbench"));
    let audit = Arc::new(DieselAuditLog::new(db.clone()));
    let authenticator = Authenticator::new(issuer.clone(), users.clone(), principals.clone());
    let auth =
        AuthService::new(users.clone(), tokens, hasher.clone(), issuer, totp.clone(), audit.clone(), auth_settings);
    let oauth = OAuthService::new(
        oauth_providers(settings)?,
        Arc::new(DieselOAuthStateStore::new(db.clone())),
        users.clone(),
        auth.clone(),
    );
    let metrics = Metrics::new();
    let system = SystemMonitor::start(settings.system()?, Arc::new(metrics.clone()));
    let integrations = integrations(settings, redis.as_ref(), &metrics)?;
    let catalogue = CatalogueService::new(
        Arc::new(DieselCategoryRepository::new(db.clone())),
        Arc::new(DieselProductRepository::new(db.clone())),
        catalogue_cache,
    );
    let collection = CollectionService::new(Arc::new(DieselUserProductRepository::new(db.clone())), catalogue.clone());
    let events_written = Arc::new(tokio::sync::Notify::new());
    let tasks = TaskService::new(
        Arc::new(DieselTaskRepository::new(db.clone()).ringing(events_written.clone())),
        Arc::new(DieselCommentRepository::new(db.clone())),
        Arc::new(authenticator.clone()),
        cache,
    );
    let user_service = UserService::new(users.clone(), hasher.clone(), audit, principals.clone());
    let (storage_url, s3) = settings.storage()?;
    let blobs = workbench_storage::open(&storage_url, &s3).with_context(|| format!("STORAGE_URL {storage_url}"))?;
    let file_records = DieselFileRepository::new(db.clone());
    let files = files_service(settings, &file_records, blobs.clone(), &metrics, &tasks, &collection, &user_service)?;
    // One job store per process: its wake-up signal is shared by whatever enqueues and the runtime.
    let job_store = DieselJobStore::new(db.clone());
    let webhook_store = DieselWebhookStore::new(db.clone()).waking(job_store.waker());
    let jobs = JobQueue::new(Arc::new(job_store.clone()));
    let plan = background::build(background::Parts {
        settings,
        db: &db,
        store: &job_store,
        webhooks: &webhook_store,
        queue: &jobs,
        users: users.clone(),
        principals,
        bus: bus.clone(),
        metrics: &metrics,
        blobs,
        known_blobs: Arc::new(file_records),
        events_written,
    })?;
    let webhooks = WebhookService::new(
        Arc::new(webhook_store.clone()),
        Arc::new(webhook_store.clone()),
        settings.webhook_allow_private_targets,
    );
    let inbound = InboundService::new(
        Arc::new(webhook_store),
        ProviderSecrets {
            github: settings.github_webhook_secret.clone(),
            stripe: settings.stripe_webhook_secret.clone(),
        },
    );
    let chat = ChatService::new(Arc::new(DieselChatStore::new(db.clone())), Arc::new(authenticator.clone()));
    let presence: Arc<dyn Presence> = match &redis {
        Some(pool) => Arc::new(RedisPresence::new(pool.clone(), settings.redis_prefix.clone(), PRESENCE_TTL)),
        None => Arc::new(MemoryPresence::new()),
    };
    let realtime = Realtime::new(
        Hub::new(bus.clone(), HubConfig::default()),
        presence,
        chat.clone(),
        users.clone(),
        format!("instance-{}", uuid::Uuid::new_v4().simple()),
    );
    Ok(AppState {
        authenticator,
        auth,
        oauth,
        two_factor: TwoFactorService::new(users.clone(), totp),
        tasks,
        chat,
        realtime,
        users: user_service,
        dashboard: DashboardService::new(Arc::new(DieselPlatformCensus::new(db.clone()))),
        catalogue,
        collection,
        files,
        max_upload_bytes: settings.max_upload_bytes,
        public_url: settings.public_url(),
        idempotency: Idempotency::new(DieselIdempotencyStore::new(db.clone())),
        db,
        redis,
        bus,
        integrations,
        metrics,
        system,
        frontend_url: settings.frontend_url(),
        jobs,
        schedules: plan.schedules(),
        webhooks,
        inbound,
        background: plan,
    })
}

/// Files: records in the database, bytes in the blob store, images and audio prepared on the
/// media workers (one job per core), PDFs rendered by Typst; temporary files in a directory of
/// this process's own under `DATA_DIR/tmp` (instances may share a data directory).
fn files_service(
    settings: &Settings,
    records: &DieselFileRepository,
    blobs: Arc<dyn BlobStore>,
    metrics: &Metrics,
    tasks: &TaskService,
    collection: &CollectionService,
    users: &UserService,
) -> anyhow::Result<FileService> {
    let root = settings.data_dir.join("tmp");
    forget_stale_scratch(&root);
    let scratch = root.join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let media = Arc::new(crate::files::TimedMedia {
        inner: Arc::new(MediaPreparer::new(MediaWorkers::new(), ImagePolicy::default())),
        metrics: metrics.clone(),
    });
    Ok(FileService::new(FileParts {
        files: Arc::new(records.clone()),
        blobs,
        media,
        pdf: Arc::new(TypstPdfRenderer::new()?),
        targets: Arc::new(crate::files::Targets { tasks: tasks.clone(), collection: collection.clone() }),
        sources: Arc::new(crate::files::Reports { users: users.clone(), tasks: tasks.clone() }),
        scratch,
    }))
}

/// Removes what processes that stopped mid-upload left under `root` a day or more ago (a running
/// instance's own directory is younger, or touched by its uploads).
fn forget_stale_scratch(root: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let day = std::time::Duration::from_secs(24 * 3600);
    for entry in entries.flatten() {
        let stale = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > day));
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The third-party data service: the providers of `WEATHER_*`, `CRYPTO_*` and `TRANSLATE_*`
/// (real endpoints unless set), answers cached in Redis when configured (instances share them).
fn integrations(
    settings: &Settings,
    redis: Option<&deadpool_redis::Pool>,
    metrics: &Metrics,
) -> anyhow::Result<IntegrationService> {
    let providers = ProvidersConfig {
        weather_api_url: settings.weather_api_url.clone(),
        weather_geocoding_url: settings.weather_geocoding_url.clone(),
        crypto_api_url: settings.crypto_api_url.clone(),
        crypto_api_key: settings.crypto_api_key.clone().and_then(ApiKey::new),
        translate_provider: settings
            .translate_provider
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("TRANSLATE_PROVIDER")?
            .unwrap_or_default(),
        translate_api_url: settings.translate_api_url.clone(),
        translate_api_key: settings.translate_api_key.clone().and_then(ApiKey::new),
        timeout: None,
    }
    .build()?;
    let cache: Arc<dyn AnswerCache> = match redis {
        Some(pool) => Arc::new(RedisAnswerCache::new(pool.clone()).with_prefix(settings.redis_prefix.clone())),
        None => Arc::new(MemoryAnswerCache::default()),
    };
    let service = IntegrationService::new(cache)
        .with_cache_ttl(settings.integrations_cache_ttl)
        .with_observer(Arc::new(metrics.clone()));
    Ok(providers.install(service))
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

/// How long a cached catalogue entry (the category list, a product, a quick search) may be
/// served. Every admin write invalidates the whole catalogue at once; the time to live only bounds
/// what a lost invalidation (Redis unreachable during the write) could cost.
const CATALOGUE_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// How many callers' principals each instance keeps, and for how long at most: invalidations
/// remove them at once; the time to live only bounds what a lost invalidation could cost.
const PRINCIPALS_MAX: u64 = 100_000;
const PRINCIPAL_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// What instances share, or its in-process stand-in on a single instance.
struct Shared {
    tasks: Arc<dyn TaskCache>,
    catalogue: Arc<dyn CatalogueCache>,
    redis: Option<deadpool_redis::Pool>,
    bus: Arc<dyn Broadcast>,
}

/// With `REDIS_URL`, a task cache and a broadcast bus in Redis, shared by every instance;
/// otherwise a bounded in-process cache and an in-process bus.
async fn shared(settings: &Settings) -> anyhow::Result<Shared> {
    match settings.redis_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => {
            let pool = workbench_cache::connect(url).await.context("REDIS_URL")?;
            let prefix = &settings.redis_prefix;
            let channel = format!("{prefix}:bus");
            let bus = RedisBroadcast::connect(url, pool.clone(), &channel).await.context("REDIS_URL")?;
            tracing::info!(prefix, "caching and broadcasting through Redis");
            Ok(Shared {
                tasks: Arc::new(RedisTaskCache::new(pool.clone(), TASK_TTL, STATS_TTL).with_prefix(prefix.as_str())),
                catalogue: Arc::new(RedisCatalogueCache::new(pool.clone(), CATALOGUE_TTL).with_prefix(prefix.as_str())),
                redis: Some(pool),
                bus: Arc::new(bus),
            })
        }
        None => Ok(Shared {
            tasks: Arc::new(MemoryTaskCache::new(10_000, TASK_TTL, STATS_TTL)),
            catalogue: Arc::new(MemoryCatalogueCache::new(10_000, CATALOGUE_TTL)),
            redis: None,
            bus: Arc::new(LocalBroadcast::new()),
        }),
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
        let access = AccessLog::start(settings.log_format)?;
        let background = Background::start(&state.background).await?;
        let realtime = state.realtime.start(&state.bus);
        crate::system_topic::relay(&state.system, state.realtime.hub.clone());
        let server = serve(listener, &settings, state.clone(), access.clone())?;
        let routes = settings.routes()?;
        tracing::info!(address = %listener_address(addr, port), %routes, "Workbench is listening; Swagger UI at /swagger-ui/");
        Ok(Self { server, port, state, access, background, realtime, shutdown_timeout: settings.shutdown_timeout })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The wired services, for tests that need to reach behind the API.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The name on this instance's job leases.
    pub fn instance(&self) -> &str {
        self.background.instance()
    }

    /// Serves until SIGTERM or Ctrl-C, then stops accepting and lets in-flight requests finish
    /// (up to `SHUTDOWN_TIMEOUT`). Meanwhile, not after, the job runtime stops claiming, gives
    /// running jobs the same time to finish and releases the rest to other instances.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self { server, access, background, realtime, shutdown_timeout, state, .. } = self;
        let stopping = Arc::new(tokio::sync::Notify::new());
        let told = stopping.clone();
        let background = tokio::spawn(async move {
            tokio::select! {
                () = shutdown_signal() => {}
                () = told.notified() => {}
            }
            // Sockets would otherwise hold the graceful shutdown until its timeout: clients are
            // told to reconnect (to another instance) at once.
            state.realtime.hub.close_all(CloseReason::Shutdown);
            background.shutdown(shutdown_timeout).await;
        });
        let served = server.await;
        // Stopped some other way than by a signal: stop the background too.
        stopping.notify_one();
        let _ = background.await;
        drop(realtime);
        access.close();
        served
    }
}

/// Resolves at SIGTERM or SIGINT (Ctrl-C), the signals on which actix-web stops gracefully too.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn listener_address(mut addr: std::net::SocketAddr, port: u16) -> std::net::SocketAddr {
    addr.set_port(port);
    addr
}

fn serve(listener: TcpListener, settings: &Settings, state: AppState, access: AccessLog) -> anyhow::Result<Server> {
    // Route groups (`WORKBENCH_ROUTES`): the API, its document and its 404/405s cover only these.
    let routes = settings.routes()?;
    let doc = openapi::document_for(&routes);
    let methods = web::Data::new(MethodTable::from_document(&doc));
    let limits = web::Data::new(limits(settings, state.redis.clone())?);
    let proxies = web::Data::new(limits.proxies.clone());
    let metrics = web::Data::new(state.metrics.clone());
    let state = web::Data::new(state);
    let access = web::Data::new(access);
    let origins = settings.cors_origins();
    let max_json_bytes = settings.max_json_bytes;

    let mut server = HttpServer::new(move || {
        let (app, _) = App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .app_data(access.clone())
            .app_data(methods.clone())
            .app_data(limits.clone())
            .app_data(proxies.clone())
            .configure(|cfg| http::extract::configure(cfg, max_json_bytes))
            // Outermost last; see `middleware` for what each layer does and why in this order.
            .wrap(Admission::new(limits.clone(), methods.clone(), state.clone()))
            .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
            .wrap(CompressWhenAsked)
            .wrap(Edge::new(metrics.get_ref().clone(), access.clone()))
            .into_utoipa_app()
            .configure(http::operational)
            .configure(|cfg| http::api(cfg, &routes))
            .split_for_parts();
        app.service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", doc.clone()))
            .service(web::redirect("/swagger-ui", "/swagger-ui/"))
            .default_service(web::to(no_route))
    })
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    // A compressed or streamed body goes out in several writes. With Nagle's algorithm on, every
    // write after the first waited for the client's delayed ACK on a kept-alive connection: 40 ms
    // per gzip or br answer (50 answers/s on one connection, against 8,500 uncompressed).
    .tcp_nodelay(true)
    .listen(listener)?;
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// The rate limits of `RATE_LIMIT_*`: in Redis when it is configured (one limit shared by every
/// instance), otherwise in process; idle buckets are forgotten every minute.
fn limits(settings: &Settings, redis: Option<deadpool_redis::Pool>) -> anyhow::Result<Limits> {
    let policy = |name, per_minute| NonZeroU32::new(per_minute).map(|n| Policy::new(name, n));
    let auth = policy("auth", settings.rate_limit_auth_per_minute);
    // Users and anonymous addresses are told apart by their bucket keys, so one policy serves both.
    let general = policy("general", settings.rate_limit_per_minute);
    let local = Arc::new(LocalLimiter::new(&[auth, general].into_iter().flatten().collect::<Vec<_>>()));
    let sweeper = Arc::downgrade(&local);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            let Some(local) = sweeper.upgrade() else { return };
            local.forget_idle();
        }
    });
    let limiter: Arc<dyn RateLimiter> = match redis {
        Some(pool) => {
            let fallback = LocalLimiter::new(&[auth, general].into_iter().flatten().collect::<Vec<_>>());
            Arc::new(RedisLimiter::new(pool, settings.redis_prefix.clone(), fallback))
        }
        None => local,
    };
    Ok(Limits { limiter, auth, general, proxies: TrustedProxies(settings.trusted_proxies()?.into()) })
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
