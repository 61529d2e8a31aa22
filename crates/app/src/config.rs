//! Configuration: built-in defaults, then an optional `workbench.toml`, then environment
//! variables (12-factor). The TOML file uses the same names as the environment, in lower case.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

/// Every environment variable the server reads. Anything else in the environment is ignored.
pub const KEYS: &[&str] = &[
    "BIND_ADDR",
    "PORT",
    "DATA_DIR",
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "REDIS_URL",
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
        Self::figment(Toml::file(file)).extract().map_err(|e| ConfigError::Load(Box::new(e)))
    }

    fn figment(file: impl figment::Provider) -> Figment {
        Figment::from(Serialized::defaults(Settings::default())).merge(file).merge(Env::raw().only(KEYS))
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

    /// The settled JWT secret. Call after [`Self::validate`].
    pub fn jwt_secret_bytes(&self) -> Vec<u8> {
        self.jwt_secret.as_deref().map(str::trim).unwrap_or_default().as_bytes().to_vec()
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
            let s = Settings::load().expect("loads");
            assert_eq!(s.listen_addr().unwrap().to_string(), "0.0.0.0:9100");
            assert_eq!(s.bcrypt_cost, 6, "the environment wins over the file");
            assert_eq!(s.access_token_ttl, Duration::from_secs(300));
            assert_eq!(s.refresh_token_ttl, Duration::from_secs(3600));
            assert_eq!(s.max_upload_bytes, 10 * 1024 * 1024);
            assert!(s.database_url().ends_with("workbench.db"));
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
    fn bad_values_are_refused() {
        let mut s = Settings { bcrypt_cost: 2, ..Settings::default() };
        assert!(s.validate().is_err());
        let mut s = Settings { bind_addr: "nowhere".into(), ..Settings::default() };
        assert!(s.validate().is_err());
    }
}
