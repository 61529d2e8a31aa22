//! The composition root: where adapters meet the domain. Each domain's services are built from
//! their adapters in a module of their own (`wiring/<domain>.rs`); [`build`] calls them in the
//! order their dependencies need and hands the result to the HTTP adapter as its state.

mod accounts;
mod chat;
mod files;
mod integrations;
mod notifications;
mod operations;
mod products;
mod projects;
mod radio;
mod shared;
mod system_topic;
mod tasks;
mod tokens;
mod trades;
mod webhooks;

use std::sync::Arc;

use workbench_http::idempotency::Idempotency;
use workbench_http::{AppState, WebSettings};
use workbench_jobs::JobQueue;
use workbench_notifications::{ProjectNotices, ShareNotices, TradeNotices};
use workbench_search::SavedSearchService;
use workbench_store::{
    Database, DieselIdempotencyStore, DieselJobStore, DieselSavedSearchRepository, DieselWebhookStore,
};
use workbench_system::SystemMonitor;

pub use accounts::TOKEN_AUDIENCE;
pub use operations::limits;
pub use system_topic::relay as relay_system_topic;

use crate::background::{self, Plan};
use crate::config::Settings;
use workbench_metrics::Metrics;

/// Everything one process runs, wired once.
pub struct Wired {
    /// What the HTTP adapter serves with.
    pub state: AppState,
    /// What the job runtime and the outbox relay run.
    pub plan: Plan,
    pub db: Database,
    pub redis: Option<deadpool_redis::Pool>,
}

impl std::fmt::Debug for Wired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wired").field("db", &self.db).field("redis", &self.redis.is_some()).finish_non_exhaustive()
    }
}

/// The services, wired to their adapters.
pub async fn build(settings: &Settings, db: Database) -> anyhow::Result<Wired> {
    let shared::Shared { tasks: task_cache, catalogue: catalogue_cache, redis, bus } =
        shared::connect(settings).await?;
    let metrics = Metrics::new();
    let accounts = accounts::wire(settings, &db, bus.clone()).await?;
    let tokens = tokens::service(&db, bus.clone(), &accounts.authenticator, accounts.reauthentication.clone());
    let system = SystemMonitor::start(settings.system()?, Arc::new(metrics.clone()));
    let integrations = integrations::service(settings, redis.as_ref(), &metrics)?;
    let (catalogue, collection) = products::services(&db, catalogue_cache);
    let events_written = Arc::new(tokio::sync::Notify::new());
    // One job store per process: its wake-up signal is shared by whatever enqueues and the runtime.
    let job_store = DieselJobStore::new(db.clone());
    let jobs = JobQueue::new(Arc::new(job_store.clone()));
    let hub = chat::hub(settings, bus.clone());
    let (notifications, task_notices) =
        notifications::service(settings, &db, &hub, bus.clone(), &accounts.authenticator, &jobs);
    let (chat, realtime) = chat::services(
        settings,
        &db,
        redis.as_ref(),
        hub,
        &accounts.authenticator,
        accounts.repository.clone(),
        |plain| notifications::chat(&notifications, plain, &accounts.authenticator),
    );
    let tasks = tasks::service(&db, &accounts.authenticator, task_cache, events_written.clone())
        .with_activity(task_notices.clone());
    let (reminders, notification_access) =
        notifications::reminders(&db, &jobs, &tasks, task_notices, &accounts.authenticator, &chat);
    let projects = projects::service(&db, &tasks).notifying(Arc::new(ProjectNotices::new(notifications.clone())));
    let calendars = tasks::calendars(&db, &tasks);
    let blobs = files::blobs(settings)?;
    let files = files::service(
        settings,
        files::FilesParts {
            db: &db,
            blobs: blobs.clone(),
            metrics: &metrics,
            tasks: &tasks,
            collection: &collection,
            users: &accounts.users,
            chat: &chat,
        },
    )?;
    let shares = files::shares(&db, blobs.clone(), accounts.hasher.clone())
        .with_activity(Arc::new(ShareNotices::new(notifications.clone())));
    let renditions = files::renditions(settings, &db, blobs.clone(), &files);
    let radio = radio::service(
        settings,
        radio::RadioParts {
            db: &db,
            redis: redis.as_ref(),
            bus: bus.clone(),
            files: &files,
            renditions: &renditions,
            hub: realtime.hub.clone(),
            users: accounts.repository.clone(),
        },
    );
    let trades = trades::service(&db).with_activity(Arc::new(TradeNotices::new(notifications.clone())));
    let searches = SavedSearchService::new(Arc::new(DieselSavedSearchRepository::new(db.clone())));
    let webhook_store = DieselWebhookStore::new(db.clone()).waking(job_store.waker());
    let plan = background::build(background::Parts {
        settings,
        db: &db,
        store: &job_store,
        webhooks: &webhook_store,
        queue: &jobs,
        users: accounts.repository.clone(),
        principals: accounts.principals.clone(),
        bus: bus.clone(),
        metrics: &metrics,
        blobs,
        known_blobs: Arc::new(workbench_store::DieselFileRepository::new(db.clone())),
        trades: trades.clone(),
        reminders: reminders.clone(),
        notification_access,
        events_written,
    })?;
    let (webhooks, inbound) = webhooks::services(settings, &webhook_store);
    let operations =
        operations::Deployment { db: db.clone(), redis: redis.clone(), jobs: jobs.clone(), metrics: metrics.clone() };
    let state = AppState {
        authenticator: accounts.authenticator,
        tokens,
        searches,
        auth: accounts.auth,
        oauth: accounts.oauth,
        two_factor: accounts.two_factor,
        users: accounts.users,
        dashboard: accounts.dashboard,
        tasks,
        calendars,
        projects,
        chat,
        realtime,
        catalogue,
        collection,
        trades,
        notifications,
        reminders,
        files,
        shares,
        renditions,
        radio,
        integrations,
        system,
        jobs,
        schedules: plan.schedules(),
        webhooks,
        inbound,
        idempotency: Idempotency::new(Arc::new(DieselIdempotencyStore::new(db.clone()))),
        bus,
        metrics: Arc::new(metrics),
        operations: Arc::new(operations),
        web: WebSettings {
            max_upload_bytes: settings.files.max_upload_bytes,
            public_url: settings.public_url(),
            frontend_url: settings.frontend_url(),
            metrics_token: settings.server.metrics_token.clone(),
        },
    };
    Ok(Wired { state, plan, db, redis })
}
