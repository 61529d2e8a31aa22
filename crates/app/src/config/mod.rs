//! Configuration: built-in defaults, then an optional `workbench.toml`, then environment
//! variables (12-factor). Settings are grouped in sections (`[database]`, `[redis]`, `[auth]`,
//! ...); each one's environment variable is the contract's name (`DATABASE_URL`), and a
//! `workbench.toml` may use either the sections or the same names in lower case
//! (`database_url = "..."`). [`keys::KEYS`] is the one table of names and places.

mod keys;
mod sections;
mod values;

use std::net::SocketAddr;
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use workbench_storage::{S3Settings, Secret, StorageUrl};

pub use keys::KEYS;
pub use sections::{
    AuthSection, DatabaseSection, Environment, EventsSection, FilesSection, IntegrationsSection, JobsSection,
    LimitsSection, MailSection, OAuthSection, RadioSection, RedisSection, ServerSection, SystemSection,
    WebhooksSection,
};
pub use workbench_http::LogFormat;

/// The server's whole configuration. See docs/configuration.md for each key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub server: ServerSection,
    pub database: DatabaseSection,
    pub redis: RedisSection,
    pub auth: AuthSection,
    pub oauth: OAuthSection,
    pub limits: LimitsSection,
    pub files: FilesSection,
    pub integrations: IntegrationsSection,
    pub jobs: JobsSection,
    pub webhooks: WebhooksSection,
    pub mail: MailSection,
    pub events: EventsSection,
    pub system: SystemSection,
    pub radio: RadioSection,
}

/// A configuration that cannot be used, with the key to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("cannot read the configuration: {0}")]
    Load(#[from] Box<figment::Error>),
}

/// Values as a figment source, placed in their sections by [`KEYS`], each value kept as the text
/// it is. Extracted lossily, a setting that wants a number or a flag reads one from the text
/// (`8080`; `true`, `1`, `yes`, `on`), while a secret or id made of digits stays text. (figment's
/// own `Env` guesses a type for every value first, so `JWT_SECRET=1234...` would be refused as a
/// number and `WEBHOOK_ALLOW_PRIVATE_TARGETS=1` as a flag.)
struct Variables(Dict);

impl Variables {
    /// Named values (`DATABASE_URL`); names that are not settings are left out.
    fn new(pairs: impl IntoIterator<Item = (String, Value)>) -> Self {
        let mut sections = Dict::new();
        for (name, value) in pairs {
            if let Some((section, field)) = keys::place(&name) {
                let entry = sections.entry(section.to_owned()).or_insert_with(|| Dict::new().into());
                if let Value::Dict(_, fields) = entry {
                    fields.insert(field.to_owned(), value);
                }
            }
        }
        Self(sections)
    }

    fn from_text<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Self {
        Self::new(pairs.into_iter().map(|(name, value)| (name.to_owned(), Value::from(value))))
    }
}

impl Provider for Variables {
    fn metadata(&self) -> Metadata {
        // An error names the variable (`DATABASE_URL`), not the place (`database.url`).
        Metadata::named("environment variable(s)").interpolater(|_, path| match path {
            [section, field] => KEYS
                .iter()
                .find(|(_, s, f)| s == section && f == field)
                .map_or_else(|| path.join(".").to_uppercase(), |(name, _, _)| (*name).to_owned()),
            _ => path.join(".").to_uppercase(),
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// A `workbench.toml` as written: its sections as they are, and its flat keys (`database_url`,
/// the contract's names in lower case) moved to their sections.
struct ConfigFile(figment::providers::Data<Toml>);

impl Provider for ConfigFile {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.0.data()?;
        for dict in data.values_mut() {
            let flat: Vec<String> = dict.keys().filter(|key| keys::place(key).is_some()).cloned().collect();
            let mut moved = Vec::new();
            for key in flat {
                if let Some(value) = dict.remove(&key) {
                    moved.push((key, value));
                }
            }
            for (section, fields) in Variables::new(moved).0 {
                let Value::Dict(_, fields) = fields else { continue };
                let entry = dict.entry(section).or_insert_with(|| Dict::new().into());
                if let Value::Dict(_, existing) = entry {
                    existing.extend(fields);
                }
            }
        }
        Ok(data)
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
        let mut settings: Self =
            Self::figment(ConfigFile(Toml::file(file))).extract_lossy().map_err(|e| ConfigError::Load(Box::new(e)))?;
        settings.oauth.oidc_env.extend(std::env::vars().filter(|(key, _)| key.starts_with("OIDC_")));
        Ok(settings)
    }

    fn figment(file: impl Provider) -> Figment {
        let environment = KEYS.iter().filter_map(|(key, _, _)| std::env::var(key).ok().map(|value| (*key, value)));
        Figment::from(Serialized::defaults(Settings::default())).merge(file).merge(Variables::from_text(environment))
    }

    /// These settings with environment-style `pairs` (`OAUTH_GITHUB_API_URL`, ...) applied on
    /// top, exactly as the same variables in the environment would be: for programs that embed
    /// the server (tests pointing it at a fake provider, say). A name the server does not read is
    /// refused rather than ignored.
    pub fn with_overrides<'a>(self, pairs: impl IntoIterator<Item = (&'a str, String)>) -> Result<Self, ConfigError> {
        let (oidc, pairs): (Vec<_>, Vec<_>) =
            pairs.into_iter().partition(|(n, _)| n.starts_with("OIDC_") && keys::place(n).is_none());
        if let Some((name, _)) = pairs.iter().find(|(name, _)| keys::place(name).is_none()) {
            return Err(ConfigError::Invalid(format!("{name} is not a setting Workbench reads")));
        }
        let mut settings: Self = Figment::from(Serialized::defaults(self))
            .merge(Variables::from_text(pairs))
            .extract_lossy()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        settings.oauth.oidc_env.extend(oidc.into_iter().map(|(name, value)| (name.to_owned(), value)));
        Ok(settings)
    }

    /// The socket address to listen on: `BIND_ADDR`, with its port replaced by `PORT` if set.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        let server = &self.server;
        let mut addr: SocketAddr = server
            .bind_addr
            .parse()
            .map_err(|_| ConfigError::Invalid(format!("BIND_ADDR must be host:port, not {:?}", server.bind_addr)))?;
        if let Some(port) = server.port {
            addr.set_port(port);
        }
        Ok(addr)
    }

    /// `DATABASE_URL`, or the embedded SQLite file in `DATA_DIR`.
    pub fn database_url(&self) -> String {
        match non_empty(&self.database.url) {
            Some(url) => url.to_owned(),
            None => self.server.data_dir.join("workbench.db").display().to_string(),
        }
    }

    /// `REDIS_URL`, when set to something.
    pub fn redis_url(&self) -> Option<&str> {
        non_empty(&self.redis.url)
    }

    /// Where file bytes are kept (`STORAGE_URL`, by default `file://<DATA_DIR>/files`), and how to
    /// reach S3 when that is where.
    pub fn storage(&self) -> Result<(StorageUrl, S3Settings), ConfigError> {
        let files = &self.files;
        let url = match files.storage_url.as_deref() {
            Some(raw) => StorageUrl::parse(raw.trim()).map_err(|e| ConfigError::Invalid(e.to_string()))?,
            None => StorageUrl::default_for(&self.server.data_dir),
        };
        let s3 = S3Settings {
            endpoint: files.s3_endpoint.clone(),
            region: files.s3_region.clone(),
            access_key_id: files.aws_access_key_id.clone(),
            secret_access_key: files.aws_secret_access_key.clone().map(Secret::new),
            ..S3Settings::default()
        };
        if matches!(url, StorageUrl::S3 { .. }) {
            s3.check().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        Ok((url, s3))
    }

    /// The URL clients reach this server at: `PUBLIC_URL`, or one made from the listen address.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let addr = self.listen_addr().map(|a| a.to_string()).unwrap_or_else(|_| self.server.bind_addr.clone());
                format!("http://{addr}")
            }
        }
    }

    /// Checks what cannot be checked by type alone, and settles the JWT secret: in production a
    /// missing, short or well-known secret refuses to start; in development a missing one is
    /// generated (tokens then do not survive a restart).
    pub fn validate(&mut self) -> Result<SecretNotice, ConfigError> {
        self.listen_addr()?;
        let auth = &self.auth;
        if !(4..=31).contains(&auth.bcrypt_cost) {
            return Err(ConfigError::Invalid(format!("BCRYPT_COST must be 4 to 31, not {}", auth.bcrypt_cost)));
        }
        if auth.access_token_ttl.is_zero() || auth.refresh_token_ttl.is_zero() {
            return Err(ConfigError::Invalid("ACCESS_TOKEN_TTL and REFRESH_TOKEN_TTL must be positive".into()));
        }
        if self.server.workers == Some(0) || self.database.pool_size == Some(0) {
            return Err(ConfigError::Invalid("WORKERS and DATABASE_POOL_SIZE must be at least 1".into()));
        }
        self.blank_is_unset();
        let oauth = &self.oauth;
        for (name, id, secret) in [
            ("GOOGLE", &oauth.google_client_id, &oauth.google_client_secret),
            ("GITHUB", &oauth.github_client_id, &oauth.github_client_secret),
        ] {
            if non_empty(id).is_some() != non_empty(secret).is_some() {
                return Err(ConfigError::Invalid(format!(
                    "OAUTH_{name}_CLIENT_ID and OAUTH_{name}_CLIENT_SECRET must be set together"
                )));
            }
        }
        let urls = [
            ("PUBLIC_URL", &self.server.public_url),
            ("OAUTH_REDIRECT_BASE_URL", &oauth.redirect_base_url),
            ("FRONTEND_URL", &oauth.frontend_url),
            ("OAUTH_GOOGLE_AUTH_URL", &oauth.google_auth_url),
            ("OAUTH_GOOGLE_TOKEN_URL", &oauth.google_token_url),
            ("OAUTH_GOOGLE_USERINFO_URL", &oauth.google_userinfo_url),
            ("OAUTH_GITHUB_AUTH_URL", &oauth.github_auth_url),
            ("OAUTH_GITHUB_TOKEN_URL", &oauth.github_token_url),
            ("OAUTH_GITHUB_API_URL", &oauth.github_api_url),
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
        if self.files.transcode_workers == Some(0) {
            return Err(ConfigError::Invalid("TRANSCODE_WORKERS must be at least 1".into()));
        }
        if self.files.max_upload_bytes == 0 {
            return Err(ConfigError::Invalid("MAX_UPLOAD_BYTES must be at least 1".into()));
        }
        self.check_radio()?;
        if self.files.max_image_pixels == 0 || self.limits.ws_max_sockets_per_user == 0 {
            return Err(ConfigError::Invalid("MAX_IMAGE_PIXELS and WS_MAX_SOCKETS_PER_USER must be at least 1".into()));
        }
        let secret = self.auth.jwt_secret.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let weak = |s: &str| s.len() < MIN_SECRET_BYTES || WELL_KNOWN_SECRETS.contains(&s.to_lowercase().as_str());
        match (self.server.environment, secret) {
            (Environment::Production, None) => Err(ConfigError::Invalid(
                "JWT_SECRET must be set in production (at least 32 random bytes, e.g. `openssl rand -hex 32`)".into(),
            )),
            (Environment::Production, Some(s)) if weak(s) => Err(ConfigError::Invalid(format!(
                "JWT_SECRET is too weak for production: use at least {MIN_SECRET_BYTES} random bytes"
            ))),
            (Environment::Development, None) => {
                self.auth.jwt_secret = Some(random_secret());
                Ok(SecretNotice::Generated)
            }
            (Environment::Development, Some(s)) if weak(s) => Ok(SecretNotice::Weak),
            _ => Ok(SecretNotice::Configured),
        }
    }

    /// A blank setting is an unset one (an empty `OAUTH_GITHUB_CLIENT_ID=` must not enable GitHub).
    fn blank_is_unset(&mut self) {
        let Self { server, oauth, webhooks, mail, events, files, .. } = self;
        for value in [
            &mut oauth.google_client_id,
            &mut oauth.google_client_secret,
            &mut oauth.google_auth_url,
            &mut oauth.google_token_url,
            &mut oauth.google_userinfo_url,
            &mut oauth.github_client_id,
            &mut oauth.github_client_secret,
            &mut oauth.github_auth_url,
            &mut oauth.github_token_url,
            &mut oauth.github_api_url,
            &mut oauth.redirect_base_url,
            &mut oauth.frontend_url,
            &mut server.public_url,
            &mut server.metrics_token,
            &mut webhooks.github_secret,
            &mut webhooks.stripe_secret,
            &mut mail.smtp_url,
            &mut mail.from,
            &mut events.nats_url,
            &mut files.storage_url,
            &mut files.s3_endpoint,
            &mut files.s3_region,
            &mut files.aws_access_key_id,
            &mut files.aws_secret_access_key,
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *value = None;
            }
        }
    }

    /// Checks the job queue's settings, every schedule and the outbound services' URLs.
    /// The source listener's bounds: a cap of 0 would refuse every source, a deadline of 0
    /// every head.
    fn check_radio(&self) -> Result<(), ConfigError> {
        let radio = &self.radio;
        if radio.source_max_connections == Some(0) || radio.source_max_connections_per_ip == 0 {
            return Err(ConfigError::Invalid(
                "RADIO_SOURCE_MAX_CONNECTIONS and RADIO_SOURCE_MAX_CONNECTIONS_PER_IP must be at least 1".into(),
            ));
        }
        if radio.source_head_timeout < Duration::from_secs(1) {
            return Err(ConfigError::Invalid("RADIO_SOURCE_HEAD_TIMEOUT must be at least 1s".into()));
        }
        Ok(())
    }

    fn check_jobs(&self) -> Result<(), ConfigError> {
        if self.jobs.lease < Duration::from_secs(1) {
            return Err(ConfigError::Invalid("JOB_LEASE must be at least 1s".into()));
        }
        if self.jobs.backup_keep == 0 {
            return Err(ConfigError::Invalid("BACKUP_KEEP must be at least 1".into()));
        }
        for spec in self.schedules() {
            let key = format!("SCHEDULE_{}", spec.name.to_uppercase().replace('-', "_"));
            workbench_jobs::Schedule::parse(spec).map_err(|e| ConfigError::Invalid(format!("{key}: {e}")))?;
        }
        if let Some(url) = non_empty(&self.mail.smtp_url)
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(ConfigError::Invalid("SMTP_URL must be an smtp:// or smtps:// URL".into()));
        }
        if let Some(url) = non_empty(&self.events.nats_url)
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
        let jobs = &self.jobs;
        workbench_scheduled::CONTRACT_SCHEDULES
            .iter()
            .map(|(name, default, kind)| {
                let setting = match *name {
                    "purge-refresh-tokens" => &jobs.schedule_purge_refresh_tokens,
                    "disable-inactive-users" => &jobs.schedule_disable_inactive_users,
                    "daily-task-report" => &jobs.schedule_daily_task_report,
                    "warranty-reminders" => &jobs.schedule_warranty_reminders,
                    "sqlite-backup" => &jobs.schedule_sqlite_backup,
                    "orphan-blob-sweep" => &jobs.schedule_orphan_blob_sweep,
                    "expire-trades" => &jobs.schedule_expire_trades,
                    "notification-reminders" => &jobs.schedule_notification_reminders,
                    "notification-digest" => &jobs.schedule_notification_digest,
                    _ => &None,
                };
                let value = non_empty(setting);
                let off = value.is_some_and(|v| values::OFF.iter().any(|o| v.eq_ignore_ascii_case(o)));
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
        non_empty(&self.mail.from).unwrap_or("Workbench <workbench@localhost>").to_owned()
    }

    /// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        non_empty(&self.server.trusted_proxies)
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
    pub fn routes(&self) -> Result<workbench_http::RouteSet, ConfigError> {
        workbench_http::RouteSet::parse(self.server.routes.as_deref().unwrap_or_default())
            .map_err(|e| ConfigError::Invalid(format!("WORKBENCH_ROUTES: {e}")))
    }

    /// The live system metrics' sampling, retention and alerts (`SYSTEM_METRICS_*`, `ALERT_*`),
    /// refused with the key to fix.
    pub fn system(&self) -> Result<workbench_system::SystemConfig, ConfigError> {
        use workbench_system::{AlertMetric, ConfigError as Refused};
        let system = &self.system;
        let config = workbench_system::SystemConfig {
            interval: system.metrics_interval,
            retention: system.metrics_retention,
            thresholds: workbench_system::Thresholds {
                cpu_percent: system.alert_cpu_percent,
                memory_percent: system.alert_memory_percent,
                disk_percent: system.alert_disk_percent,
            },
            alert_for: system.alert_for,
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
        self.auth.jwt_secret.as_deref().map(str::trim).unwrap_or_default().as_bytes().to_vec()
    }

    /// The callback URL of `provider` registered with it: `OAUTH_REDIRECT_BASE_URL` (or
    /// `PUBLIC_URL`) followed by the callback route.
    pub fn oauth_redirect_url(&self, provider: &str) -> String {
        let base = match non_empty(&self.oauth.redirect_base_url) {
            Some(base) => base.trim_end_matches('/').to_owned(),
            None => self.public_url(),
        };
        format!("{base}/api/v1/auth/oauth/{provider}/callback")
    }

    /// `FRONTEND_URL`, when set.
    pub fn frontend_url(&self) -> Option<String> {
        non_empty(&self.oauth.frontend_url).map(str::to_owned)
    }

    /// Allowed CORS origins, parsed from the comma-separated setting.
    pub fn cors_origins(&self) -> Vec<String> {
        self.server
            .cors_allowed_origins
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    }
}

/// An optional setting that is set to something other than blanks.
pub(crate) fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
