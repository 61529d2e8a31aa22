//! Configuration: built-in defaults, then an optional `workbench.toml`, then environment
//! variables (12-factor). The TOML file uses the same names as the environment, in lower case.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Deserializer, Serialize};
use workbench_storage::{S3Settings, Secret, StorageUrl};

/// Every environment variable the server reads. Anything else in the environment is ignored.
pub const KEYS: &[&str] = &[
    "BIND_ADDR",
    "PORT",
    "DATA_DIR",
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "REDIS_URL",
    "REDIS_PREFIX",
    "WORKBENCH_ENV",
    "JWT_SECRET",
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "BCRYPT_COST",
    "LOG_FORMAT",
    "CORS_ALLOWED_ORIGINS",
    "MAX_UPLOAD_BYTES",
    "MAX_JSON_BYTES",
    "PUBLIC_URL",
    "WORKERS",
    "SHUTDOWN_TIMEOUT",
    "OAUTH_GOOGLE_CLIENT_ID",
    "OAUTH_GOOGLE_CLIENT_SECRET",
    "OAUTH_GOOGLE_AUTH_URL",
    "OAUTH_GOOGLE_TOKEN_URL",
    "OAUTH_GOOGLE_USERINFO_URL",
    "OAUTH_GITHUB_CLIENT_ID",
    "OAUTH_GITHUB_CLIENT_SECRET",
    "OAUTH_GITHUB_AUTH_URL",
    "OAUTH_GITHUB_TOKEN_URL",
    "OAUTH_GITHUB_API_URL",
    "OAUTH_REDIRECT_BASE_URL",
    "FRONTEND_URL",
    "RATE_LIMIT_PER_MINUTE",
    "RATE_LIMIT_AUTH_PER_MINUTE",
    "TRUSTED_PROXIES",
    "INTEGRATIONS_CACHE_TTL",
    "WEATHER_API_URL",
    "WEATHER_GEOCODING_URL",
    "CRYPTO_API_URL",
    "CRYPTO_API_KEY",
    "TRANSLATE_PROVIDER",
    "TRANSLATE_API_URL",
    "TRANSLATE_API_KEY",
    "JOB_WORKERS",
    "JOB_LEASE",
    "JOB_RETENTION",
    "INACTIVE_USER_DAYS",
    "WARRANTY_REMINDER_DAYS",
    "BACKUP_KEEP",
    "SCHEDULE_PURGE_REFRESH_TOKENS",
    "SCHEDULE_DISABLE_INACTIVE_USERS",
    "SCHEDULE_DAILY_TASK_REPORT",
    "SCHEDULE_WARRANTY_REMINDERS",
    "SCHEDULE_SQLITE_BACKUP",
    "SCHEDULE_ORPHAN_BLOB_SWEEP",
    "GITHUB_WEBHOOK_SECRET",
    "STRIPE_WEBHOOK_SECRET",
    "WEBHOOK_ALLOW_PRIVATE_TARGETS",
    "SMTP_URL",
    "MAIL_FROM",
    "NATS_URL",
    "STORAGE_URL",
    "S3_ENDPOINT",
    "S3_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "WORKBENCH_ROUTES",
    "SYSTEM_METRICS_INTERVAL",
    "SYSTEM_METRICS_RETENTION",
    "ALERT_CPU_PERCENT",
    "ALERT_MEMORY_PERCENT",
    "ALERT_DISK_PERCENT",
    "ALERT_FOR",
];

/// `development` generates what is missing and warns; `production` refuses to start instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Development,
    Production,
}

/// `pretty` for people at a terminal, `json` for log collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// The server's whole configuration. See the README's configuration table for each key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub bind_addr: String,
    pub port: Option<u16>,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub database_pool_size: Option<u32>,
    pub redis_url: Option<String>,
    /// Namespace of every Redis key and channel this deployment uses, so that environments can
    /// share one server.
    pub redis_prefix: String,
    pub workbench_env: Environment,
    pub jwt_secret: Option<String>,
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub access_token_ttl: Duration,
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub refresh_token_ttl: Duration,
    pub bcrypt_cost: u32,
    pub log_format: LogFormat,
    /// Comma-separated origins allowed by CORS; `*` allows any. Empty: no cross-origin access.
    pub cors_allowed_origins: Option<String>,
    pub max_upload_bytes: u64,
    pub max_json_bytes: usize,
    pub public_url: Option<String>,
    /// HTTP worker threads; defaults to the number of CPU cores.
    pub workers: Option<usize>,
    /// How long in-flight requests may take to finish after SIGTERM or Ctrl-C.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub shutdown_timeout: Duration,
    /// Sign-in with Google is offered when its client id and secret are set.
    pub oauth_google_client_id: Option<String>,
    pub oauth_google_client_secret: Option<String>,
    /// Google's endpoints; the real ones unless set (tests point them at a local fake).
    pub oauth_google_auth_url: Option<String>,
    pub oauth_google_token_url: Option<String>,
    pub oauth_google_userinfo_url: Option<String>,
    /// Sign-in with GitHub is offered when its client id and secret are set.
    pub oauth_github_client_id: Option<String>,
    pub oauth_github_client_secret: Option<String>,
    pub oauth_github_auth_url: Option<String>,
    pub oauth_github_token_url: Option<String>,
    /// GitHub's REST API, under which `/user` and `/user/emails` live.
    pub oauth_github_api_url: Option<String>,
    /// The base of the OAuth callback URLs registered with the providers; `PUBLIC_URL` unless set.
    pub oauth_redirect_base_url: Option<String>,
    /// When set, the OAuth callback redirects here with the tokens in the URL fragment.
    pub frontend_url: Option<String>,
    /// Requests per minute per signed-in user, and per client address on other anonymous routes;
    /// 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Requests per minute per client address on sign-in, registration, refresh and OAuth (one
    /// bucket for all of them); 0 turns the limit off.
    pub rate_limit_auth_per_minute: u32,
    /// Comma-separated CIDRs of proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<String>,
    /// How long a third-party answer is served from the cache as fresh.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub integrations_cache_ttl: Duration,
    /// The providers' endpoints (the real ones unless set) and keys.
    pub weather_api_url: Option<String>,
    pub weather_geocoding_url: Option<String>,
    pub crypto_api_url: Option<String>,
    pub crypto_api_key: Option<String>,
    /// `deepl` (the default) or `libretranslate`.
    pub translate_provider: Option<String>,
    pub translate_api_url: Option<String>,
    pub translate_api_key: Option<String>,
    /// Jobs this instance runs at once; 0 runs none here (an instance that only serves HTTP),
    /// though it still fires schedules and rescues jobs whose worker died.
    pub job_workers: usize,
    /// How long a claimed job stays claimed without renewal (renewed every third of it): after a
    /// crash, its jobs run again elsewhere within about this long.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub job_lease: Duration,
    /// How long finished jobs and schedule runs are kept.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub job_retention: Duration,
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
    /// Inbound webhooks from GitHub (`X-Hub-Signature-256`) are accepted when set.
    pub github_webhook_secret: Option<String>,
    /// Inbound webhooks from Stripe (`Stripe-Signature`, `whsec_...`) are accepted when set.
    pub stripe_webhook_secret: Option<String>,
    /// Whether outbound webhooks may target loopback, private and link-local addresses.
    pub webhook_allow_private_targets: bool,
    /// The SMTP server of reports and reminders (`smtp://host:25`, `smtps://user:pass@host:465`);
    /// without it those jobs log that they skipped.
    pub smtp_url: Option<String>,
    /// The sender of e-mail (`Workbench <workbench@example.com>`).
    pub mail_from: Option<String>,
    /// When set, domain events are also published to NATS subjects `workbench.<event>`.
    pub nats_url: Option<String>,
    /// Where file bytes are kept: `file://<path>` or `s3://bucket[/prefix]`; unset means
    /// `file://<DATA_DIR>/files`.
    pub storage_url: Option<String>,
    /// An S3-compatible server (`http://127.0.0.1:9000`); unset means AWS itself.
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    /// The route groups this process serves (`auth,users`, `all`, `none`); unset serves all.
    pub workbench_routes: Option<String>,
    /// Time between two samples of the live system metrics.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub system_metrics_interval: Duration,
    /// How long system metrics samples are kept in memory.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub system_metrics_retention: Duration,
    /// The CPU, memory and fullest-disk percentages at or above which a system alert is pending.
    pub alert_cpu_percent: f64,
    pub alert_memory_percent: f64,
    pub alert_disk_percent: f64,
    /// How long a metric must stay at or above its threshold before its alert fires.
    #[serde(deserialize_with = "duration", serialize_with = "serialize_duration")]
    pub alert_for: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind_addr: "127.0.0.1:8080".into(),
            port: None,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_pool_size: None,
            redis_url: None,
            redis_prefix: "wb".into(),
            workbench_env: Environment::Development,
            jwt_secret: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(7 * 24 * 3600),
            bcrypt_cost: 12,
            log_format: LogFormat::Pretty,
            cors_allowed_origins: None,
            max_upload_bytes: 10 * 1024 * 1024,
            max_json_bytes: 1024 * 1024,
            public_url: None,
            workers: None,
            shutdown_timeout: Duration::from_secs(30),
            oauth_google_client_id: None,
            oauth_google_client_secret: None,
            oauth_google_auth_url: None,
            oauth_google_token_url: None,
            oauth_google_userinfo_url: None,
            oauth_github_client_id: None,
            oauth_github_client_secret: None,
            oauth_github_auth_url: None,
            oauth_github_token_url: None,
            oauth_github_api_url: None,
            oauth_redirect_base_url: None,
            frontend_url: None,
            rate_limit_per_minute: 1000,
            rate_limit_auth_per_minute: 20,
            trusted_proxies: None,
            integrations_cache_ttl: Duration::from_secs(60),
            weather_api_url: None,
            weather_geocoding_url: None,
            crypto_api_url: None,
            crypto_api_key: None,
            translate_provider: None,
            translate_api_url: None,
            translate_api_key: None,
            job_workers: 8,
            job_lease: Duration::from_secs(30),
            job_retention: Duration::from_secs(7 * 24 * 3600),
            inactive_user_days: 90,
            warranty_reminder_days: 30,
            backup_keep: 7,
            schedule_purge_refresh_tokens: None,
            schedule_disable_inactive_users: None,
            schedule_daily_task_report: None,
            schedule_warranty_reminders: None,
            schedule_sqlite_backup: None,
            schedule_orphan_blob_sweep: None,
            github_webhook_secret: None,
            stripe_webhook_secret: None,
            webhook_allow_private_targets: false,
            smtp_url: None,
            mail_from: None,
            nats_url: None,
            storage_url: None,
            s3_endpoint: None,
            s3_region: None,
            aws_access_key_id: None,
            aws_secret_access_key: None,
            workbench_routes: None,
            system_metrics_interval: Duration::from_secs(5),
            system_metrics_retention: Duration::from_secs(3600),
            alert_cpu_percent: 90.0,
            alert_memory_percent: 90.0,
            alert_disk_percent: 90.0,
            alert_for: Duration::from_secs(30),
        }
    }
}

/// A configuration that cannot be used, with the key to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("cannot read the configuration: {0}")]
    Load(#[from] Box<figment::Error>),
}

/// Environment-style variables as a figment source, each value kept as the text it is.
/// Extracted lossily, a setting that wants a number or a flag reads one from the text (`8080`;
/// `true`, `1`, `yes`, `on`), while a secret or id made of digits stays text. (figment's own
/// `Env` guesses a type for every value first, so `JWT_SECRET=1234...` would be refused as a
/// number and `WEBHOOK_ALLOW_PRIVATE_TARGETS=1` as a flag.)
struct Variables(Dict);

impl Variables {
    fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Self {
        Self(pairs.into_iter().map(|(name, value)| (name.to_lowercase(), Value::from(value))).collect())
    }
}

impl Provider for Variables {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable(s)").interpolater(|_, keys| keys.join(".").to_uppercase())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// What the JWT secret check decided, for the caller to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretNotice {
    /// The configured secret is used as is.
    Configured,
    /// Development mode without a secret: a random one was generated for this process.
    Generated,
    /// Development mode with a weak secret: used, but it would be refused in production.
    Weak,
}

const MIN_SECRET_BYTES: usize = 32;
const WELL_KNOWN_SECRETS: &[&str] = &["secret", "changeme", "change-me", "change_me", "jwt_secret", "development"];

impl Settings {
    /// Loads defaults, then `workbench.toml` (or the file named by `WORKBENCH_CONFIG`) if it
    /// exists, then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("WORKBENCH_CONFIG").unwrap_or_else(|_| "workbench.toml".into());
        Self::figment(Toml::file(file)).extract_lossy().map_err(|e| ConfigError::Load(Box::new(e)))
    }

    fn figment(file: impl Provider) -> Figment {
        let environment = KEYS.iter().filter_map(|key| std::env::var(key).ok().map(|value| (*key, value)));
        Figment::from(Serialized::defaults(Settings::default())).merge(file).merge(Variables::new(environment))
    }

    /// These settings with environment-style `pairs` (`OAUTH_GITHUB_API_URL`, ...) applied on
    /// top, exactly as the same variables in the environment would be: for programs that embed
    /// the server (tests pointing it at a fake provider, say). A name the server does not read is
    /// refused rather than ignored.
    pub fn with_overrides<'a>(self, pairs: impl IntoIterator<Item = (&'a str, String)>) -> Result<Self, ConfigError> {
        let pairs: Vec<(&str, String)> = pairs.into_iter().collect();
        if let Some((name, _)) = pairs.iter().find(|(name, _)| !KEYS.contains(name)) {
            return Err(ConfigError::Invalid(format!("{name} is not a setting Workbench reads")));
        }
        Figment::from(Serialized::defaults(self))
            .merge(Variables::new(pairs))
            .extract_lossy()
            .map_err(|e| ConfigError::Load(Box::new(e)))
    }

    /// The socket address to listen on: `BIND_ADDR`, with its port replaced by `PORT` if set.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        let mut addr: SocketAddr = self
            .bind_addr
            .parse()
            .map_err(|_| ConfigError::Invalid(format!("BIND_ADDR must be host:port, not {:?}", self.bind_addr)))?;
        if let Some(port) = self.port {
            addr.set_port(port);
        }
        Ok(addr)
    }

    /// `DATABASE_URL`, or the embedded SQLite file in `DATA_DIR`.
    pub fn database_url(&self) -> String {
        match self.database_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => url.to_owned(),
            None => self.data_dir.join("workbench.db").display().to_string(),
        }
    }

    /// Where file bytes are kept (`STORAGE_URL`, by default `file://<DATA_DIR>/files`), and how to
    /// reach S3 when that is where.
    pub fn storage(&self) -> Result<(StorageUrl, S3Settings), ConfigError> {
        let url = match self.storage_url.as_deref() {
            Some(raw) => StorageUrl::parse(raw.trim()).map_err(|e| ConfigError::Invalid(e.to_string()))?,
            None => StorageUrl::default_for(&self.data_dir),
        };
        let s3 = S3Settings {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.aws_access_key_id.clone(),
            secret_access_key: self.aws_secret_access_key.clone().map(Secret::new),
            ..S3Settings::default()
        };
        if matches!(url, StorageUrl::S3 { .. }) {
            s3.check().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        Ok((url, s3))
    }

    /// The URL clients reach this server at: `PUBLIC_URL`, or one made from the listen address.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let addr = self.listen_addr().map(|a| a.to_string()).unwrap_or_else(|_| self.bind_addr.clone());
                format!("http://{addr}")
            }
        }
    }

    /// Checks what cannot be checked by type alone, and settles the JWT secret: in production a
    /// missing, short or well-known secret refuses to start; in development a missing one is
    /// generated (tokens then do not survive a restart).
    pub fn validate(&mut self) -> Result<SecretNotice, ConfigError> {
        self.listen_addr()?;
        if !(4..=31).contains(&self.bcrypt_cost) {
            return Err(ConfigError::Invalid(format!("BCRYPT_COST must be 4 to 31, not {}", self.bcrypt_cost)));
        }
        if self.access_token_ttl.is_zero() || self.refresh_token_ttl.is_zero() {
            return Err(ConfigError::Invalid("ACCESS_TOKEN_TTL and REFRESH_TOKEN_TTL must be positive".into()));
        }
        if self.workers == Some(0) || self.database_pool_size == Some(0) {
            return Err(ConfigError::Invalid("WORKERS and DATABASE_POOL_SIZE must be at least 1".into()));
        }
        // A blank setting is an unset one (an empty `OAUTH_GITHUB_CLIENT_ID=` must not enable GitHub).
        for value in [
            &mut self.oauth_google_client_id,
            &mut self.oauth_google_client_secret,
            &mut self.oauth_google_auth_url,
            &mut self.oauth_google_token_url,
            &mut self.oauth_google_userinfo_url,
            &mut self.oauth_github_client_id,
            &mut self.oauth_github_client_secret,
            &mut self.oauth_github_auth_url,
            &mut self.oauth_github_token_url,
            &mut self.oauth_github_api_url,
            &mut self.oauth_redirect_base_url,
            &mut self.frontend_url,
            &mut self.public_url,
            &mut self.github_webhook_secret,
            &mut self.stripe_webhook_secret,
            &mut self.smtp_url,
            &mut self.mail_from,
            &mut self.nats_url,
            &mut self.storage_url,
            &mut self.s3_endpoint,
            &mut self.s3_region,
            &mut self.aws_access_key_id,
            &mut self.aws_secret_access_key,
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *value = None;
            }
        }
        for (name, id, secret) in [
            ("GOOGLE", &self.oauth_google_client_id, &self.oauth_google_client_secret),
            ("GITHUB", &self.oauth_github_client_id, &self.oauth_github_client_secret),
        ] {
            if non_empty(id).is_some() != non_empty(secret).is_some() {
                return Err(ConfigError::Invalid(format!(
                    "OAUTH_{name}_CLIENT_ID and OAUTH_{name}_CLIENT_SECRET must be set together"
                )));
            }
        }
        let urls = [
            ("PUBLIC_URL", &self.public_url),
            ("OAUTH_REDIRECT_BASE_URL", &self.oauth_redirect_base_url),
            ("FRONTEND_URL", &self.frontend_url),
            ("OAUTH_GOOGLE_AUTH_URL", &self.oauth_google_auth_url),
            ("OAUTH_GOOGLE_TOKEN_URL", &self.oauth_google_token_url),
            ("OAUTH_GOOGLE_USERINFO_URL", &self.oauth_google_userinfo_url),
            ("OAUTH_GITHUB_AUTH_URL", &self.oauth_github_auth_url),
            ("OAUTH_GITHUB_TOKEN_URL", &self.oauth_github_token_url),
            ("OAUTH_GITHUB_API_URL", &self.oauth_github_api_url),
        ];
        for (key, value) in urls {
            if let Some(url) = non_empty(value)
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(ConfigError::Invalid(format!("{key} must be an http:// or https:// URL, not {url:?}")));
            }
        }
        self.trusted_proxies()?;
        self.routes()?;
        self.check_jobs()?;
        self.system()?;
        self.storage()?;
        if self.max_upload_bytes == 0 {
            return Err(ConfigError::Invalid("MAX_UPLOAD_BYTES must be at least 1".into()));
        }
        let secret = self.jwt_secret.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let weak = |s: &str| s.len() < MIN_SECRET_BYTES || WELL_KNOWN_SECRETS.contains(&s.to_lowercase().as_str());
        match (self.workbench_env, secret) {
            (Environment::Production, None) => Err(ConfigError::Invalid(
                "JWT_SECRET must be set in production (at least 32 random bytes, e.g. `openssl rand -hex 32`)".into(),
            )),
            (Environment::Production, Some(s)) if weak(s) => Err(ConfigError::Invalid(format!(
                "JWT_SECRET is too weak for production: use at least {MIN_SECRET_BYTES} random bytes"
            ))),
            (Environment::Development, None) => {
                self.jwt_secret = Some(random_secret());
                Ok(SecretNotice::Generated)
            }
            (Environment::Development, Some(s)) if weak(s) => Ok(SecretNotice::Weak),
            _ => Ok(SecretNotice::Configured),
        }
    }

    /// Checks the job queue's settings, every schedule and the outbound services' URLs.
    fn check_jobs(&self) -> Result<(), ConfigError> {
        if self.job_lease < Duration::from_secs(1) {
            return Err(ConfigError::Invalid("JOB_LEASE must be at least 1s".into()));
        }
        if self.backup_keep == 0 {
            return Err(ConfigError::Invalid("BACKUP_KEEP must be at least 1".into()));
        }
        for spec in self.schedules() {
            let key = format!("SCHEDULE_{}", spec.name.to_uppercase().replace('-', "_"));
            workbench_jobs::Schedule::parse(spec).map_err(|e| ConfigError::Invalid(format!("{key}: {e}")))?;
        }
        if let Some(url) = non_empty(&self.smtp_url)
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(ConfigError::Invalid("SMTP_URL must be an smtp:// or smtps:// URL".into()));
        }
        if let Some(url) = non_empty(&self.nats_url)
            && url.contains("://")
            && !url.split(',').all(|u| ["nats://", "tls://", "ws://", "wss://"].iter().any(|s| u.trim().starts_with(s)))
        {
            return Err(ConfigError::Invalid(format!("NATS_URL must be nats:// (or tls://, ws://) URLs, not {url:?}")));
        }
        Ok(())
    }

    /// The contract's schedules as configured: each one's default cron expression unless its
    /// `SCHEDULE_*` setting gives another, `enabled` unless that setting is `off`.
    pub fn schedules(&self) -> Vec<workbench_jobs::ScheduleSpec> {
        workbench_scheduled::CONTRACT_SCHEDULES
            .iter()
            .map(|(name, default, kind)| {
                let setting = match *name {
                    "purge-refresh-tokens" => &self.schedule_purge_refresh_tokens,
                    "disable-inactive-users" => &self.schedule_disable_inactive_users,
                    "daily-task-report" => &self.schedule_daily_task_report,
                    "warranty-reminders" => &self.schedule_warranty_reminders,
                    "sqlite-backup" => &self.schedule_sqlite_backup,
                    "orphan-blob-sweep" => &self.schedule_orphan_blob_sweep,
                    _ => &None,
                };
                let value = non_empty(setting);
                let off = value.is_some_and(|v| OFF.iter().any(|o| v.eq_ignore_ascii_case(o)));
                workbench_jobs::ScheduleSpec {
                    name: (*name).to_owned(),
                    cron: value.filter(|_| !off).unwrap_or(default).to_owned(),
                    kind: (*kind).to_owned(),
                    args: serde_json::Value::Null,
                    enabled: !off,
                }
            })
            .collect()
    }

    /// `MAIL_FROM`, or a placeholder sender.
    pub fn mail_from(&self) -> String {
        non_empty(&self.mail_from).unwrap_or("Workbench <workbench@localhost>").to_owned()
    }

    /// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        non_empty(&self.trusted_proxies)
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|cidr| !cidr.is_empty())
                    .map(|cidr| {
                        // A bare address is a one-address network.
                        cidr.parse::<ipnet::IpNet>()
                            .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                            .map_err(|_| ConfigError::Invalid(format!("TRUSTED_PROXIES: {cidr:?} is not a CIDR")))
                    })
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// The route groups to serve (`WORKBENCH_ROUTES`, by default all of them).
    pub fn routes(&self) -> Result<crate::http::RouteSet, ConfigError> {
        crate::http::RouteSet::parse(self.workbench_routes.as_deref().unwrap_or_default())
            .map_err(|e| ConfigError::Invalid(format!("WORKBENCH_ROUTES: {e}")))
    }

    /// The live system metrics' sampling, retention and alerts (`SYSTEM_METRICS_*`, `ALERT_*`),
    /// refused with the key to fix.
    pub fn system(&self) -> Result<workbench_system::SystemConfig, ConfigError> {
        use workbench_system::{AlertMetric, ConfigError as Refused};
        let config = workbench_system::SystemConfig {
            interval: self.system_metrics_interval,
            retention: self.system_metrics_retention,
            thresholds: workbench_system::Thresholds {
                cpu_percent: self.alert_cpu_percent,
                memory_percent: self.alert_memory_percent,
                disk_percent: self.alert_disk_percent,
            },
            alert_for: self.alert_for,
        };
        config.validate().map_err(|e| {
            let key = match &e {
                Refused::Interval(_) => "SYSTEM_METRICS_INTERVAL",
                Refused::Retention(_) => "SYSTEM_METRICS_RETENTION",
                Refused::TooManySamples { .. } => "SYSTEM_METRICS_RETENTION / SYSTEM_METRICS_INTERVAL",
                Refused::Threshold { metric: AlertMetric::CpuPercent, .. } => "ALERT_CPU_PERCENT",
                Refused::Threshold { metric: AlertMetric::MemoryPercent, .. } => "ALERT_MEMORY_PERCENT",
                Refused::Threshold { metric: AlertMetric::DiskPercent, .. } => "ALERT_DISK_PERCENT",
            };
            ConfigError::Invalid(format!("{key}: {e}"))
        })?;
        Ok(config)
    }

    /// The settled JWT secret. Call after [`Self::validate`].
    pub fn jwt_secret_bytes(&self) -> Vec<u8> {
        self.jwt_secret.as_deref().map(str::trim).unwrap_or_default().as_bytes().to_vec()
    }

    /// The callback URL of `provider` registered with it: `OAUTH_REDIRECT_BASE_URL` (or
    /// `PUBLIC_URL`) followed by the callback route.
    pub fn oauth_redirect_url(&self, provider: &str) -> String {
        let base = match non_empty(&self.oauth_redirect_base_url) {
            Some(base) => base.trim_end_matches('/').to_owned(),
            None => self.public_url(),
        };
        format!("{base}/api/v1/auth/oauth/{provider}/callback")
    }

    /// `FRONTEND_URL`, when set.
    pub fn frontend_url(&self) -> Option<String> {
        non_empty(&self.frontend_url).map(str::to_owned)
    }

    /// Allowed CORS origins, parsed from the comma-separated setting.
    pub fn cors_origins(&self) -> Vec<String> {
        self.cors_allowed_origins
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    }
}

/// An optional setting that is set to something other than blanks.
fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A duration given as whole seconds (`900`) or in words (`15m`, `7d`, `1h 30m`).
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Seconds(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => match t.trim().parse::<u64>() {
            Ok(s) => Ok(Duration::from_secs(s)),
            Err(_) => humantime::parse_duration(t.trim()).map_err(|e| {
                serde::de::Error::custom(format!("{t:?} is not a duration ({e}); use seconds or e.g. 15m"))
            }),
        },
    }
}

/// The words that switch a schedule off.
const OFF: [&str; 4] = ["off", "false", "disabled", "none"];

/// A schedule setting: a cron expression, or a word (or boolean) switching it off; `true` keeps
/// the default.
fn schedule_setting<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Flag(bool),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None | Some(Raw::Flag(true)) => None,
        Some(Raw::Flag(false)) => Some("off".to_owned()),
        Some(Raw::Text(text)) => Some(text),
    })
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    #[expect(clippy::result_large_err, reason = "figment's Jail fixes the closure's error type")]
    fn defaults_file_then_environment() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "workbench.toml",
                "bind_addr = \"0.0.0.0:9000\"\nbcrypt_cost = 10\naccess_token_ttl = \"5m\"",
            )?;
            jail.set_env("BCRYPT_COST", "6");
            jail.set_env("PORT", "9100");
            jail.set_env("REFRESH_TOKEN_TTL", "3600");
            jail.set_env("UNRELATED_VARIABLE", "ignored");
            // Text stays text, flags read as flags: digits are a valid secret, `1` a valid yes.
            jail.set_env("GITHUB_WEBHOOK_SECRET", "12345678");
            jail.set_env("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1");
            let s = Settings::load().expect("loads");
            assert_eq!(s.listen_addr().unwrap().to_string(), "0.0.0.0:9100");
            assert_eq!(s.bcrypt_cost, 6, "the environment wins over the file");
            assert_eq!(s.access_token_ttl, Duration::from_secs(300));
            assert_eq!(s.refresh_token_ttl, Duration::from_secs(3600));
            assert_eq!(s.max_upload_bytes, 10 * 1024 * 1024);
            assert!(s.database_url().ends_with("workbench.db"));
            assert_eq!(s.github_webhook_secret.as_deref(), Some("12345678"));
            assert!(s.webhook_allow_private_targets);
            Ok(())
        });
    }

    #[test]
    fn production_refuses_missing_or_weak_secrets() {
        let mut s = Settings { workbench_env: Environment::Production, ..Settings::default() };
        assert!(s.validate().is_err());
        s.jwt_secret = Some("changeme".into());
        assert!(s.validate().is_err());
        s.jwt_secret = Some("x".repeat(31));
        assert!(s.validate().is_err());
        s.jwt_secret = Some("a-real-secret-of-at-least-32-bytes!!".into());
        assert_eq!(s.validate().unwrap(), SecretNotice::Configured);
    }

    #[test]
    fn development_generates_a_secret() {
        let mut s = Settings::default();
        assert_eq!(s.validate().unwrap(), SecretNotice::Generated);
        assert_eq!(s.jwt_secret_bytes().len(), 64);
    }

    #[test]
    fn overrides_apply_like_the_environment() {
        let base = Settings { bcrypt_cost: 5, ..Settings::default() };
        let s = base
            .with_overrides([("OAUTH_GITHUB_API_URL", "http://127.0.0.1:9/api".to_owned()), ("PORT", "0".to_owned())])
            .unwrap();
        assert_eq!(s.oauth_github_api_url.as_deref(), Some("http://127.0.0.1:9/api"));
        assert_eq!((s.port, s.bcrypt_cost), (Some(0), 5), "other settings are kept");
        assert!(Settings::default().with_overrides([("NOT_A_SETTING", String::new())]).is_err());
    }

    #[test]
    fn oauth_redirects_follow_the_public_url_unless_set() {
        let mut s = Settings { public_url: Some("https://wb.example.com/".into()), ..Settings::default() };
        assert_eq!(s.oauth_redirect_url("github"), "https://wb.example.com/api/v1/auth/oauth/github/callback");
        s.oauth_redirect_base_url = Some("https://api.example.com".into());
        assert_eq!(s.oauth_redirect_url("google"), "https://api.example.com/api/v1/auth/oauth/google/callback");
    }

    #[test]
    fn half_configured_providers_and_bad_urls_are_refused() {
        let mut s = Settings { oauth_github_client_id: Some("id".into()), ..Settings::default() };
        assert!(s.validate().unwrap_err().to_string().contains("OAUTH_GITHUB_CLIENT_SECRET"));
        let mut s = Settings { frontend_url: Some("javascript:alert(1)".into()), ..Settings::default() };
        assert!(s.validate().unwrap_err().to_string().contains("FRONTEND_URL"));
    }

    #[test]
    fn schedules_take_their_defaults_unless_moved_or_switched_off() {
        let s = Settings::default()
            .with_overrides([
                ("SCHEDULE_DAILY_TASK_REPORT", "0 6 * * 1-5".to_owned()),
                ("SCHEDULE_SQLITE_BACKUP", "off".to_owned()),
                ("SCHEDULE_PURGE_REFRESH_TOKENS", "false".to_owned()),
            ])
            .unwrap();
        let specs = s.schedules();
        let spec = |name: &str| specs.iter().find(|s| s.name == name).unwrap();
        assert_eq!((spec("daily-task-report").cron.as_str(), spec("daily-task-report").enabled), ("0 6 * * 1-5", true));
        assert!(!spec("sqlite-backup").enabled && !spec("purge-refresh-tokens").enabled);
        assert_eq!(spec("warranty-reminders").cron, "0 8 * * *", "the default");
        let mut bad = Settings { schedule_warranty_reminders: Some("every day".into()), ..Settings::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("SCHEDULE_WARRANTY_REMINDERS"));
        let mut bad = Settings { smtp_url: Some("mail.example.com".into()), ..Settings::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("SMTP_URL"));
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment's Jail fixes the closure's error type")]
    fn system_metrics_settings_are_read_and_checked() {
        Jail::expect_with(|jail| {
            jail.set_env("SYSTEM_METRICS_INTERVAL", "1s");
            jail.set_env("SYSTEM_METRICS_RETENTION", "2h");
            jail.set_env("ALERT_CPU_PERCENT", "0");
            jail.set_env("ALERT_MEMORY_PERCENT", "75.5");
            jail.set_env("ALERT_FOR", "2");
            let s = Settings::load().expect("loads");
            let system = s.system().expect("valid");
            assert_eq!((system.interval, system.retention), (Duration::from_secs(1), Duration::from_secs(7200)));
            assert_eq!((system.thresholds.cpu_percent, system.thresholds.memory_percent), (0.0, 75.5));
            assert_eq!((system.thresholds.disk_percent, system.alert_for), (90.0, Duration::from_secs(2)));
            Ok(())
        });
        let defaults = Settings::default().system().unwrap();
        assert_eq!(defaults, workbench_system::SystemConfig::default(), "the contract's defaults");
        for (key, value, named) in [
            ("SYSTEM_METRICS_INTERVAL", "0", "SYSTEM_METRICS_INTERVAL"),
            ("SYSTEM_METRICS_RETENTION", "10s", "SYSTEM_METRICS_RETENTION"),
            ("ALERT_DISK_PERCENT", "120", "ALERT_DISK_PERCENT"),
            ("ALERT_CPU_PERCENT", "-1", "ALERT_CPU_PERCENT"),
        ] {
            let mut s = Settings::default().with_overrides([(key, value.to_owned())]).unwrap();
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains(named), "{key}={value}: {err}");
        }
        let unreadable = Settings::default().with_overrides([("ALERT_MEMORY_PERCENT", "lots".to_owned())]);
        let message = unreadable.unwrap_err().to_string();
        assert!(message.contains("ALERT_MEMORY_PERCENT"), "{message}");
    }

    #[test]
    fn bad_values_are_refused() {
        let mut s = Settings { bcrypt_cost: 2, ..Settings::default() };
        assert!(s.validate().is_err());
        let mut s = Settings { bind_addr: "nowhere".into(), ..Settings::default() };
        assert!(s.validate().is_err());
        let mut s = Settings { workbench_routes: Some("auth,tasks,chats".into()), ..Settings::default() };
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("WORKBENCH_ROUTES") && err.contains("\"chats\""), "{err}");
        let s = Settings { workbench_routes: Some("tasks,auth".into()), ..Settings::default() };
        assert_eq!(s.routes().unwrap().names(), ["auth", "tasks"]);
    }
}
