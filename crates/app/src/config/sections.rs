//! The sections of [`Settings`](super::Settings), each with its defaults. The environment
//! variable of each field is in [`super::keys::KEYS`]; `docs/configuration.md` says
//! what each one does.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use workbench_http::LogFormat;

use super::values::{duration, schedule_setting, serialize_duration};

/// `development` generates what is missing and warns; `production` refuses to start instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Development,
    Production,
}

/// The process and its HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSection {
    pub bind_addr: String,
    pub port: Option<u16>,
    pub data_dir: PathBuf,
    pub environment: Environment,
    pub public_url: Option<String>,
    /// HTTP worker threads; defaults to the number of CPU cores.
    pub workers: Option<usize>,
    /// How long in-flight requests may take to finish after SIGTERM or Ctrl-C.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,
    /// Comma-separated origins allowed by CORS; `*` allows any. Empty: no cross-origin access.
    pub cors_allowed_origins: Option<String>,
    pub max_json_bytes: usize,
    /// The route groups this process serves (`auth,users`, `all`, `none`); unset serves all.
    pub routes: Option<String>,
    /// Comma-separated CIDRs of proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<String>,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            bind_addr: "127.0.0.1:8080".into(),
            port: None,
            data_dir: PathBuf::from("./data"),
            environment: Environment::Development,
            public_url: None,
            workers: None,
            shutdown_timeout: Duration::from_secs(30),
            log_format: LogFormat::Pretty,
            cors_allowed_origins: None,
            max_json_bytes: 1024 * 1024,
            routes: None,
            trusted_proxies: None,
            metrics_token: None,
        }
    }
}

/// The relational database: SQLite in `DATA_DIR` unless `DATABASE_URL` names another.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSection {
    pub url: Option<String>,
    pub pool_size: Option<u32>,
}

/// Redis, when instances share caches, limits, presence and the broadcast bus.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisSection {
    pub url: Option<String>,
    /// Namespace of every Redis key and channel this deployment uses, so that environments can
    /// share one server.
    pub prefix: String,
}

impl Default for RedisSection {
    fn default() -> Self {
        Self { url: None, prefix: "wb".into() }
    }
}

/// Tokens and passwords.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthSection {
    pub jwt_secret: Option<String>,
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub access_token_ttl: Duration,
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub refresh_token_ttl: Duration,
    pub bcrypt_cost: u32,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(7 * 24 * 3600),
            bcrypt_cost: 12,
        }
    }
}

/// Sign-in with Google and GitHub (each offered when its client id and secret are set; endpoints
/// real unless set) and with the OpenID Connect providers `OIDC_PROVIDERS` names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthSection {
    pub google_client_id: Option<String>,
    pub google_client_secret: Option<String>,
    pub google_auth_url: Option<String>,
    pub google_token_url: Option<String>,
    pub google_userinfo_url: Option<String>,
    pub github_client_id: Option<String>,
    pub github_client_secret: Option<String>,
    pub github_auth_url: Option<String>,
    pub github_token_url: Option<String>,
    /// GitHub's REST API, under which `/user` and `/user/emails` live.
    pub github_api_url: Option<String>,
    /// The base of the callback URLs registered with the providers; `PUBLIC_URL` unless set.
    pub redirect_base_url: Option<String>,
    /// When set, the callback redirects here with the tokens in the URL fragment.
    pub frontend_url: Option<String>,
    pub oidc_providers: Option<String>,
    /// Every `OIDC_*` variable; `workbench_auth::oidc_providers_from` reads each name's.
    pub oidc_env: std::collections::BTreeMap<String, String>,
}

/// Rate limits; 0 turns one off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsSection {
    /// Requests per minute per signed-in user, and per client address on other anonymous routes.
    pub per_minute: u32,
    /// Requests per minute per client address on sign-in, registration, refresh and OAuth (one
    /// bucket for all of them).
    pub auth_per_minute: u32,
    /// Sockets one account may hold open at once.
    pub ws_max_sockets_per_user: u32,
    /// Characters one account may have translated in an hour (the provider's quota is the
    /// deployment's).
    pub translate_chars_per_hour: u32,
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self { per_minute: 1000, auth_per_minute: 20, ws_max_sockets_per_user: 16, translate_chars_per_hour: 100_000 }
    }
}

/// Uploads and where file bytes are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct FilesSection {
    pub max_upload_bytes: u64,
    /// The most pixels an uploaded image may decode to; larger ones are refused before decoding.
    pub max_image_pixels: u64,
    /// `file://<path>` or `s3://bucket[/prefix]`; unset means `file://<DATA_DIR>/files`.
    pub storage_url: Option<String>,
    /// An S3-compatible server (`http://127.0.0.1:9000`); unset means AWS itself.
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    /// How many bytes of audio renditions are kept; the least recently used go beyond it.
    pub rendition_cache_bytes: u64,
    /// Transcodes at a time; unset means one per core.
    pub transcode_workers: Option<usize>,
    /// The `ffmpeg` program renditions are made with: a path, or a name looked up on `PATH`.
    pub ffmpeg_path: String,
}

impl Default for FilesSection {
    fn default() -> Self {
        Self {
            max_upload_bytes: 10 * 1024 * 1024,
            max_image_pixels: 40_000_000,
            storage_url: None,
            s3_endpoint: None,
            s3_region: None,
            aws_access_key_id: None,
            aws_secret_access_key: None,
            rendition_cache_bytes: 1024 * 1024 * 1024,
            transcode_workers: None,
            ffmpeg_path: "ffmpeg".to_owned(),
        }
    }
}

/// Weather, crypto prices and translations: the providers' endpoints (the real ones unless set)
/// and keys, and how long an answer is fresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IntegrationsSection {
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub cache_ttl: Duration,
    pub weather_api_url: Option<String>,
    pub weather_geocoding_url: Option<String>,
    pub crypto_api_url: Option<String>,
    pub crypto_api_key: Option<String>,
    /// `deepl` (the default) or `libretranslate`.
    pub translate_provider: Option<String>,
    pub translate_api_url: Option<String>,
    pub translate_api_key: Option<String>,
}

impl Default for IntegrationsSection {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(60),
            weather_api_url: None,
            weather_geocoding_url: None,
            crypto_api_url: None,
            crypto_api_key: None,
            translate_provider: None,
            translate_api_url: None,
            translate_api_key: None,
        }
    }
}

/// The job queue and the contract's schedules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct JobsSection {
    /// Jobs this instance runs at once; 0 runs none here (an instance that only serves HTTP),
    /// though it still fires schedules and rescues jobs whose worker died.
    pub workers: usize,
    /// How long a claimed job stays claimed without renewal (renewed every third of it): after a
    /// crash, its jobs run again elsewhere within about this long.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub lease: Duration,
    /// How long finished jobs and schedule runs are kept.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub retention: Duration,
    /// Days without a sign-in or token refresh before an account is disabled; 0 never.
    pub inactive_user_days: u32,
    /// How many days ahead the warranty reminders look; 0 sends none.
    pub warranty_reminder_days: u32,
    /// How many SQLite backups `DATA_DIR/backups` keeps.
    pub backup_keep: usize,
    /// Each schedule's cron expression (UTC; five fields, or six with seconds first), or `off`;
    /// unset means the default of [`workbench_scheduled::CONTRACT_SCHEDULES`].
    #[serde(deserialize_with = "schedule_setting")]
    pub schedule_purge_refresh_tokens: Option<String>,
    #[serde(deserialize_with = "schedule_setting")]
    pub schedule_disable_inactive_users: Option<String>,
    #[serde(deserialize_with = "schedule_setting")]
    pub schedule_daily_task_report: Option<String>,
    #[serde(deserialize_with = "schedule_setting")]
    pub schedule_warranty_reminders: Option<String>,
    #[serde(deserialize_with = "schedule_setting")]
    pub schedule_sqlite_backup: Option<String>,
    #[serde(deserialize_with = "schedule_setting")]
    pub schedule_orphan_blob_sweep: Option<String>,
    pub schedule_expire_trades: Option<String>,
    #[serde(deserialize_with = "schedule_setting")]
    pub schedule_notification_reminders: Option<String>,
    #[serde(deserialize_with = "schedule_setting")]
    pub schedule_notification_digest: Option<String>,
}

impl Default for JobsSection {
    fn default() -> Self {
        Self {
            workers: 8,
            lease: Duration::from_secs(30),
            retention: Duration::from_secs(7 * 24 * 3600),
            inactive_user_days: 90,
            warranty_reminder_days: 30,
            backup_keep: 7,
            schedule_purge_refresh_tokens: None,
            schedule_disable_inactive_users: None,
            schedule_daily_task_report: None,
            schedule_warranty_reminders: None,
            schedule_sqlite_backup: None,
            schedule_orphan_blob_sweep: None,
            schedule_expire_trades: None,
            schedule_notification_reminders: None,
            schedule_notification_digest: None,
        }
    }
}

/// Inbound deliveries (accepted when their provider's secret is set) and outbound targets.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhooksSection {
    /// GitHub's `X-Hub-Signature-256` secret.
    pub github_secret: Option<String>,
    /// Stripe's `Stripe-Signature` secret (`whsec_...`).
    pub stripe_secret: Option<String>,
    /// Whether outbound webhooks may target loopback, private and link-local addresses.
    pub allow_private_targets: bool,
}

/// E-mail of reports and reminders; without `SMTP_URL` those jobs log that they skipped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MailSection {
    /// `smtp://host:25`, `smtps://user:pass@host:465`.
    pub smtp_url: Option<String>,
    /// The sender (`Workbench <workbench@example.com>`).
    pub from: Option<String>,
}

/// Radio stations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RadioSection {
    /// Where sources connect (a port of its own, Icecast-style): `host:port`.
    pub source_addr: String,
    /// Connections the source listener holds at once, from anyone; unset: a quarter of the
    /// process's descriptor limit (`RLIMIT_NOFILE`), at most 1024, so that the API keeps the rest.
    pub source_max_connections: Option<usize>,
    /// Connections the source listener holds at once from one address (IPv6: one /64).
    pub source_max_connections_per_ip: usize,
    /// How long a source's whole request head may take to arrive.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub source_head_timeout: Duration,
    /// Listeners one address (as the rate limits see it; IPv6: one /64) may have at once on this
    /// instance, across stations; 0: no limit.
    pub max_listeners_per_ip: usize,
}

impl Default for RadioSection {
    fn default() -> Self {
        Self {
            source_addr: "127.0.0.1:8000".to_owned(),
            source_max_connections: None,
            source_max_connections_per_ip: 8,
            source_head_timeout: Duration::from_secs(10),
            max_listeners_per_ip: 10,
        }
    }
}

/// Where domain events go besides the bus and webhooks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EventsSection {
    /// When set, domain events are also published to NATS subjects `workbench.<event>`.
    pub nats_url: Option<String>,
}

/// The live system metrics and their alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemSection {
    /// Time between two samples.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub metrics_interval: Duration,
    /// How long samples are kept in memory.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub metrics_retention: Duration,
    /// The CPU, memory and fullest-disk percentages at or above which an alert is pending.
    pub alert_cpu_percent: f64,
    pub alert_memory_percent: f64,
    pub alert_disk_percent: f64,
    /// How long a metric must stay at or above its threshold before its alert fires.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub alert_for: Duration,
}

impl Default for SystemSection {
    fn default() -> Self {
        Self {
            metrics_interval: Duration::from_secs(5),
            metrics_retention: Duration::from_secs(3600),
            alert_cpu_percent: 90.0,
            alert_memory_percent: 90.0,
            alert_disk_percent: 90.0,
            alert_for: Duration::from_secs(30),
        }
    }
}
