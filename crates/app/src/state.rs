//! What every handler can reach.

use std::sync::Arc;

use workbench_chat::ChatService;
use workbench_core::broadcast::Broadcast;
use workbench_files::FileService;
use workbench_integrations::IntegrationService;
use workbench_jobs::JobQueue;
use workbench_products::{CatalogueService, CollectionService};
use workbench_store::Database;
use workbench_tasks::TaskService;
use workbench_users::{AuthService, Authenticator, DashboardService, OAuthService, TwoFactorService, UserService};
use workbench_webhooks::{InboundService, WebhookService};

use crate::background::{Plan, ScheduleInfo};
use crate::http::idempotency::Idempotency;
use crate::metrics::Metrics;
use crate::realtime::Realtime;

/// The services and handles shared by all workers.
#[derive(Clone)]
pub struct AppState {
    /// Who is calling: checked on every authenticated request.
    pub authenticator: Authenticator,
    pub auth: AuthService,
    pub oauth: OAuthService,
    pub two_factor: TwoFactorService,
    pub users: UserService,
    /// The administrators' counts across the platform.
    pub dashboard: DashboardService,
    pub tasks: TaskService,
    /// Chat rooms, members, messages and their history.
    pub chat: ChatService,
    /// This instance's sockets, presence, and delivery to sockets on every instance.
    pub realtime: Realtime,
    /// The public catalogue (cached).
    pub catalogue: CatalogueService,
    /// Each user's own products.
    pub collection: CollectionService,
    /// Uploads, downloads and generated PDFs.
    pub files: FileService,
    /// `MAX_UPLOAD_BYTES`.
    pub max_upload_bytes: u64,
    /// The URL clients reach this server at (`PUBLIC_URL`), without a trailing slash: file links.
    pub public_url: String,
    pub idempotency: Idempotency,
    pub db: Database,
    /// Redis, when `REDIS_URL` is set: checked by `/ready`.
    pub redis: Option<deadpool_redis::Pool>,
    /// What every instance must hear at once (in process, or Redis pub/sub with `REDIS_URL`).
    pub bus: Arc<dyn Broadcast>,
    /// Weather, crypto prices and translations from third parties.
    pub integrations: IntegrationService,
    /// This instance's Prometheus registry.
    pub metrics: Metrics,
    /// Where the OAuth callback sends the browser with the tokens, when set.
    pub frontend_url: Option<String>,
    /// The durable job queue: enqueueing, and the admin view.
    pub jobs: JobQueue,
    /// The schedules as configured, and whether this process runs each.
    pub schedules: Arc<Vec<ScheduleInfo>>,
    /// Users' outbound webhook subscriptions and their delivery logs.
    pub webhooks: WebhookService,
    /// Deliveries received from GitHub and Stripe.
    pub inbound: InboundService,
    /// What the job runtime and the outbox relay run (see [`crate::background::Background`]).
    pub background: Plan,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("db", &self.db).field("redis", &self.redis.is_some()).finish_non_exhaustive()
    }
}
