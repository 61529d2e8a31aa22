//! What every handler can reach: the domain services, and the ports through which the HTTP
//! adapter reaches the rest of the deployment. Nothing here is an adapter; the composition root
//! (the app crate) builds it.

use std::sync::Arc;

use workbench_chat::ChatService;
use workbench_core::broadcast::Broadcast;
use workbench_files::{FileService, RenditionService, ShareService};
use workbench_integrations::IntegrationService;
use workbench_jobs::{JobQueue, ScheduleInfo};
use workbench_products::{CatalogueService, CollectionService};
use workbench_projects::ProjectService;
use workbench_realtime::Realtime;
use workbench_search::SavedSearchService;
use workbench_system::SystemMonitor;
use workbench_tasks::TaskService;
use workbench_tokens::TokenService;
use workbench_trades::TradeService;
use workbench_users::{AuthService, Authenticator, DashboardService, OAuthService, TwoFactorService, UserService};
use workbench_webhooks::{InboundService, WebhookService};

use crate::idempotency::Idempotency;
use crate::ports::{HttpMetrics, Operations};

/// The services and handles shared by all workers.
#[derive(Clone)]
pub struct AppState {
    /// Who is calling: checked on every authenticated request.
    pub authenticator: Authenticator,
    /// Personal access tokens: made and revoked by their users, checked on every request that
    /// carries one.
    pub tokens: TokenService,
    /// Saved searches (the search itself asks each domain's service).
    pub searches: SavedSearchService,
    pub auth: AuthService,
    pub oauth: OAuthService,
    pub two_factor: TwoFactorService,
    pub users: UserService,
    /// The administrators' counts across the platform.
    pub dashboard: DashboardService,
    pub tasks: TaskService,
    /// Tasks as calendars (CalDAV), written through `tasks`.
    pub calendars: workbench_calendars::CalendarService,
    /// Projects shared by a team: members, roles and invitations.
    pub projects: ProjectService,
    /// Chat rooms, members, messages and their history.
    pub chat: ChatService,
    /// This instance's sockets, presence, and delivery to sockets on every instance.
    pub realtime: Realtime,
    /// The public catalogue (cached).
    pub catalogue: CatalogueService,
    /// Each user's own products.
    pub collection: CollectionService,
    /// The market of tradeable items, and trades between owners.
    pub trades: TradeService,
    pub notifications: workbench_notifications::NotificationService,
    /// Task reminders.
    pub reminders: workbench_notifications::Reminders,
    /// Uploads, downloads and generated PDFs.
    pub files: FileService,
    /// Share links: files handed out without an account.
    pub shares: ShareService,
    /// Audio files transcoded on demand, and kept.
    pub renditions: RenditionService,
    /// Radio stations, their sources and listeners.
    pub radio: workbench_radio::RadioService,
    /// Weather, crypto prices and translations from third parties.
    pub integrations: IntegrationService,
    /// This instance's live system metrics, their history and alerts.
    pub system: SystemMonitor,
    /// The durable job queue: enqueueing, and the admin view.
    pub jobs: JobQueue,
    /// The schedules as configured, and whether this process runs each.
    pub schedules: Arc<Vec<ScheduleInfo>>,
    /// Users' outbound webhook subscriptions and their delivery logs.
    pub webhooks: WebhookService,
    /// Deliveries received from GitHub and Stripe.
    pub inbound: InboundService,
    pub idempotency: Idempotency,
    /// What every instance must hear at once (in process, or Redis pub/sub with `REDIS_URL`).
    pub bus: Arc<dyn Broadcast>,
    /// Where requests, sockets and uploads are counted.
    pub metrics: Arc<dyn HttpMetrics>,
    /// Readiness and the metrics exposition.
    pub operations: Arc<dyn Operations>,
    pub web: WebSettings,
}

/// What the handlers need to know of how the deployment is reached.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// `MAX_UPLOAD_BYTES`.
    pub max_upload_bytes: u64,
    /// The URL clients reach this server at (`PUBLIC_URL`), without a trailing slash: file links.
    pub public_url: String,
    /// Where the OAuth callback sends the browser with the tokens, when set.
    pub frontend_url: Option<String>,
    /// When set, `/metrics` answers only requests that carry it as a bearer token.
    pub metrics_token: Option<String>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("web", &self.web).finish_non_exhaustive()
    }
}
