//! Work done off the request path: the durable job queue's runtime (a bounded pool of
//! `JOB_WORKERS` workers, leases and their rescue, the contract's schedules, pruning) running every
//! handler, and the outbox relay publishing domain events to the broadcast bus, to outbound
//! webhook subscriptions (as delivery jobs) and to NATS.
//!
//! [`build`] wires the handlers and schedules from the settings (once per process, with the
//! other services); [`Background::start`] runs them, in the server or on its own (a process
//! that only works off jobs needs nothing else); [`Background::shutdown`] stops claiming, lets
//! running jobs finish within `SHUTDOWN_TIMEOUT`, and releases the rest to other instances.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use workbench_core::broadcast::Broadcast;
use workbench_events::{BroadcastPublisher, EventPublisher, Relay, RelayConfig};
use workbench_files::BlobStore;
use workbench_http::events::WirePresenter;
use workbench_jobs::{
    HandlerOptions, Handlers, JobQueue, JobRuntime, RuntimeConfig, Schedule, ScheduleInfo, ScheduleSpec,
};
use workbench_mail::SmtpMailer;
use workbench_scheduled::{
    BACKUP_KIND, BLOB_SWEEP_KIND, DAILY_REPORT_KIND, DISABLE_INACTIVE_KIND, DailyTaskReport, DisableInactiveUsers,
    EXPIRE_TRADES_KIND, ExpireTrades, KnownBlobs, Mailer, NOTIFICATION_DIGEST_KIND, NOTIFICATION_MAIL_KIND,
    NotificationDigestRun, NotificationMail, OrphanBlobSweep, PURGE_TOKENS_KIND, PurgeExpiredTokens,
    REMINDER_SWEEP_KIND, ReminderSweep, SqliteBackup, USER_NOTIFICATION_DIGEST_KIND, USER_REPORT_KIND,
    USER_WARRANTY_KIND, UserNotificationDigest, UserTaskReport, UserWarrantyReminder, WARRANTY_REMINDERS_KIND,
    WarrantyReminderRun,
};
use workbench_store::{Backend, Database, DieselHousekeeping, DieselJobStore, DieselOutbox, DieselWebhookStore};
use workbench_users::{PrincipalCache, UserRepository};
use workbench_webhook_client::HttpWebhookSender;
use workbench_webhooks::{DELIVER_KIND, DeliveryHandler, FanOut, INBOUND_KIND, InboundProcessor, delivery_options};

use crate::config::Settings;
use workbench_metrics::Metrics;

/// How long a stopping process lets the relay finish the batch in hand.
pub const RELAY_GRACE: Duration = Duration::from_secs(5);

/// The longest an inbound delivery's processing or a scheduled job may run before it counts as
/// failed (and is retried).
const HANDLER_TIMEOUT: Duration = Duration::from_secs(300);

/// How old a blob no file refers to must be before the sweep deletes it: older than any upload
/// still between storing its bytes and writing its record.
pub const ORPHAN_MIN_AGE: Duration = Duration::from_secs(3600);

/// Everything the background needs, wired once per process by [`build`].
#[derive(Clone)]
pub struct Plan {
    db: Database,
    store: DieselJobStore,
    webhooks: DieselWebhookStore,
    handlers: Handlers,
    schedules: Arc<Vec<ScheduleInfo>>,
    config: RuntimeConfig,
    bus: Arc<dyn Broadcast>,
    metrics: Metrics,
    nats_url: Option<String>,
    /// Rung by the task repository once a change and its event committed: wakes the relay.
    events_written: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan").field("handlers", &self.handlers).field("config", &self.config).finish_non_exhaustive()
    }
}

impl Plan {
    /// The schedules as configured, with what this process does with each.
    pub fn schedules(&self) -> Arc<Vec<ScheduleInfo>> {
        self.schedules.clone()
    }
}

/// What [`build`] needs from the rest of the wiring.
pub struct Parts<'a> {
    pub settings: &'a Settings,
    pub db: &'a Database,
    pub store: &'a DieselJobStore,
    pub webhooks: &'a DieselWebhookStore,
    pub queue: &'a JobQueue,
    pub users: Arc<dyn UserRepository>,
    pub principals: Arc<dyn PrincipalCache>,
    pub bus: Arc<dyn Broadcast>,
    pub metrics: &'a Metrics,
    /// Where file bytes are kept, and which blobs the file records know: the orphaned-blob sweep.
    pub blobs: Arc<dyn BlobStore>,
    pub known_blobs: Arc<dyn KnownBlobs>,
    /// Trades, for the expiry schedule.
    pub trades: workbench_trades::TradeService,
    /// Task reminders, for their sweep.
    pub reminders: workbench_notifications::Reminders,
    /// Who may still see what a notification is about, asked when it is e-mailed.
    pub notification_access: Arc<dyn workbench_notifications::SubjectAccess>,
    /// What the task repository rings when it wrote an event (see `Plan`).
    pub events_written: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Parts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts").finish_non_exhaustive()
    }
}

/// The mailer of `SMTP_URL`, if set.
fn mailer(settings: &Settings) -> anyhow::Result<Option<Arc<dyn Mailer>>> {
    let Some(url) = settings.mail.smtp_url.as_deref() else {
        tracing::info!("SMTP_URL is not set: the daily task reports and warranty reminders will be skipped");
        return Ok(None);
    };
    let mailer = SmtpMailer::new(url, &settings.mail_from())?;
    tracing::info!(from = settings.mail_from(), "e-mail goes out through SMTP_URL");
    Ok(Some(Arc::new(mailer)))
}

/// What e-mails notifications (at once, and each user's digest), with links to this server's
/// public URL, to those who still see what they are about.
fn notification_mail(
    settings: &Settings,
    db: &Database,
    access: Arc<dyn workbench_notifications::SubjectAccess>,
    mailer: &Option<Arc<dyn Mailer>>,
) -> NotificationMail {
    let store = Arc::new(workbench_store::DieselNotificationRepository::new(db.clone()));
    let key = workbench_notifications::UnsubscribeKey::derive(&settings.jwt_secret_bytes());
    NotificationMail::new(store, access, mailer.clone(), key, settings.public_url())
}

/// Registers every job kind's handler and decides which configured schedules this process runs.
pub fn build(parts: Parts<'_>) -> anyhow::Result<Plan> {
    let Parts {
        settings,
        db,
        store,
        webhooks,
        queue,
        users,
        principals,
        bus,
        metrics,
        blobs,
        known_blobs,
        trades,
        reminders,
        notification_access,
        events_written,
    } = parts;
    let mailer = mailer(settings)?;
    let notification_mail = Arc::new(notification_mail(settings, db, notification_access, &mailer));
    let notification_store = Arc::new(workbench_store::DieselNotificationRepository::new(db.clone()));
    let housekeeping = Arc::new(DieselHousekeeping::new(db.clone()));
    let sender = HttpWebhookSender::new(settings.webhooks.allow_private_targets).context("the webhook HTTP client")?;
    let observer = Arc::new(metrics.clone());
    let long = HandlerOptions::default().timeout(HANDLER_TIMEOUT);
    let handlers = Handlers::new()
        .register_with(
            INBOUND_KIND,
            Arc::new(InboundProcessor::new(Arc::new(webhooks.clone()), observer.clone())),
            long,
        )?
        .register_with(
            DELIVER_KIND,
            Arc::new(DeliveryHandler::new(Arc::new(webhooks.clone()), Arc::new(sender), observer)),
            delivery_options(),
        )?
        .register_with(PURGE_TOKENS_KIND, Arc::new(PurgeExpiredTokens::new(housekeeping.clone())), long)?
        .register_with(
            DISABLE_INACTIVE_KIND,
            Arc::new(DisableInactiveUsers::new(
                housekeeping.clone(),
                users,
                principals,
                settings.jobs.inactive_user_days,
            )),
            long,
        )?
        .register_with(
            DAILY_REPORT_KIND,
            Arc::new(DailyTaskReport::new(housekeeping.clone(), queue.clone(), mailer.is_some())),
            long,
        )?
        .register_with(USER_REPORT_KIND, Arc::new(UserTaskReport::new(housekeeping.clone(), mailer.clone())), long)?
        .register_with(NOTIFICATION_MAIL_KIND, notification_mail.clone(), long)?
        .register_with(
            NOTIFICATION_DIGEST_KIND,
            Arc::new(NotificationDigestRun::new(notification_store, queue.clone(), mailer.is_some())),
            long,
        )?
        .register_with(USER_NOTIFICATION_DIGEST_KIND, Arc::new(UserNotificationDigest::new(notification_mail)), long)?
        .register_with(REMINDER_SWEEP_KIND, Arc::new(ReminderSweep::new(reminders)), long)?
        .register_with(
            WARRANTY_REMINDERS_KIND,
            Arc::new(WarrantyReminderRun::new(
                housekeeping.clone(),
                queue.clone(),
                mailer.is_some(),
                settings.jobs.warranty_reminder_days,
            )),
            long,
        )?
        .register_with(
            USER_WARRANTY_KIND,
            Arc::new(UserWarrantyReminder::new(housekeeping.clone(), mailer, settings.jobs.warranty_reminder_days)),
            long,
        )?
        .register_with(
            BACKUP_KIND,
            Arc::new(SqliteBackup::new(
                housekeeping,
                settings.server.data_dir.join("backups"),
                settings.jobs.backup_keep,
            )),
            long,
        )?
        .register_with(BLOB_SWEEP_KIND, Arc::new(OrphanBlobSweep::new(blobs, known_blobs, ORPHAN_MIN_AGE)), long)?
        .register_with(EXPIRE_TRADES_KIND, Arc::new(ExpireTrades::new(trades)), long)?;
    let schedules = schedules(settings.schedules(), db.backend(), &handlers)?;
    let mut config = RuntimeConfig::new(settings.jobs.workers);
    config.lease = settings.jobs.lease;
    // A crashed instance's jobs wait for their lease to lapse, then for the next rescue pass.
    config.rescue_interval = (settings.jobs.lease / 2).clamp(Duration::from_millis(500), Duration::from_secs(15));
    config.retention = (!settings.jobs.retention.is_zero()).then_some(settings.jobs.retention);
    config.schedules = schedules.iter().filter(|s| s.active()).map(|s| s.schedule.clone()).collect();
    Ok(Plan {
        db: db.clone(),
        store: store.clone(),
        webhooks: webhooks.clone(),
        handlers,
        schedules: Arc::new(schedules),
        config,
        bus,
        metrics: metrics.clone(),
        nats_url: settings.events.nats_url.clone(),
        events_written,
    })
}

/// The configured schedules, each held back when it cannot run here: the SQLite backup on
/// PostgreSQL, or a job kind without a handler (a configuration naming a kind this build lacks).
fn schedules(specs: Vec<ScheduleSpec>, backend: Backend, handlers: &Handlers) -> anyhow::Result<Vec<ScheduleInfo>> {
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let name = spec.name.clone();
        let schedule = Schedule::parse(spec).map_err(|e| anyhow::anyhow!("schedule {name}: {e}"))?;
        let held_back = if schedule.kind() == BACKUP_KIND && backend != Backend::Sqlite {
            Some("PostgreSQL is backed up with its own tools")
        } else if !handlers.kinds().any(|k| k == schedule.kind()) {
            Some("its job has no handler in this build")
        } else {
            None
        };
        if schedule.enabled()
            && let Some(why) = held_back
        {
            tracing::info!(schedule = schedule.name(), why, "schedule not run");
        }
        out.push(ScheduleInfo { schedule, held_back });
    }
    Ok(out)
}

/// The job runtime and the outbox relay of this process.
#[derive(Debug)]
pub struct Background {
    jobs: JobRuntime,
    relay: Relay,
}

/// The outbox relay's own connections: it runs one statement at a time; the second serves the
/// webhook fan-out's enqueueing while the first is returned.
const RELAY_CONNECTIONS: u32 = 2;

impl Background {
    /// Starts the job runtime and the relay on the current Tokio runtime. With `NATS_URL`, events
    /// are published to NATS too (a server not reachable yet is retried in the background).
    pub async fn start(plan: &Plan) -> anyhow::Result<Self> {
        let jobs = JobRuntime::builder(Arc::new(plan.store.clone()), plan.handlers.clone())
            .config(plan.config.clone())
            .observer(Arc::new(plan.metrics.clone()))
            .start()?;
        let presenter = Arc::new(WirePresenter);
        // The relay's statements go through connections of their own: in the requests' queue they
        // would wait behind every request in flight, and events would fall seconds behind.
        let db = plan.db.clone();
        let relay_db = tokio::task::spawn_blocking(move || db.dedicated(RELAY_CONNECTIONS)).await??;
        let webhooks = plan.webhooks.on(relay_db.clone());
        let mut publishers: Vec<Arc<dyn EventPublisher>> = vec![
            Arc::new(BroadcastPublisher::new(plan.bus.clone(), presenter.clone())),
            Arc::new(FanOut::new(Arc::new(webhooks.clone()), Arc::new(webhooks), presenter.clone())),
        ];
        if let Some(url) = plan.nats_url.as_deref() {
            publishers.push(Arc::new(workbench_nats::NatsPublisher::connect(url, presenter).await?));
            tracing::info!("domain events are published to NATS as workbench.<event>");
        }
        // The relay's lease follows the jobs': after a crash, events go out elsewhere as soon as
        // the dead instance's jobs run again.
        let lease = plan.config.lease;
        let relay_config = RelayConfig {
            lease,
            standby_interval: (lease / 4).clamp(Duration::from_millis(200), Duration::from_secs(2)),
            wake: Some(plan.events_written.clone()),
            ..RelayConfig::default()
        };
        let relay = Relay::start(
            Arc::new(DieselOutbox::new(relay_db)),
            publishers,
            Arc::new(plan.metrics.clone()),
            relay_config,
        );
        Ok(Self { jobs, relay })
    }

    /// The name on this process's job leases.
    pub fn instance(&self) -> &str {
        self.jobs.instance()
    }

    /// Stops gracefully: no more claims; running jobs get `grace` to finish, the rest are
    /// released at once for another instance; the relay finishes its batch.
    pub async fn shutdown(self, grace: Duration) {
        let (report, ()) = tokio::join!(self.jobs.shutdown(grace), self.relay.shutdown(RELAY_GRACE));
        if report.interrupted > 0 || report.released > 0 {
            tracing::info!(
                interrupted = report.interrupted,
                released = report.released,
                "jobs handed back for another instance"
            );
        }
    }
}
