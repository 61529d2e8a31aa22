//! Every setting the server reads, said once: its environment variable and where it sits in the
//! nested [`Settings`](super::Settings). The environment and a flat `workbench.toml` (the same
//! names in lower case, as the contract allows) are both read through this table; a sectioned
//! `workbench.toml` (`[database] url = ...`) needs no translation.

/// (environment variable, section, field).
pub const KEYS: &[(&str, &str, &str)] = &[
    ("BIND_ADDR", "server", "bind_addr"),
    ("PORT", "server", "port"),
    ("DATA_DIR", "server", "data_dir"),
    ("WORKBENCH_ENV", "server", "environment"),
    ("PUBLIC_URL", "server", "public_url"),
    ("WORKERS", "server", "workers"),
    ("SHUTDOWN_TIMEOUT", "server", "shutdown_timeout"),
    ("LOG_FORMAT", "server", "log_format"),
    ("CORS_ALLOWED_ORIGINS", "server", "cors_allowed_origins"),
    ("MAX_JSON_BYTES", "server", "max_json_bytes"),
    ("WORKBENCH_ROUTES", "server", "routes"),
    ("TRUSTED_PROXIES", "server", "trusted_proxies"),
    ("DATABASE_URL", "database", "url"),
    ("DATABASE_POOL_SIZE", "database", "pool_size"),
    ("REDIS_URL", "redis", "url"),
    ("REDIS_PREFIX", "redis", "prefix"),
    ("JWT_SECRET", "auth", "jwt_secret"),
    ("ACCESS_TOKEN_TTL", "auth", "access_token_ttl"),
    ("REFRESH_TOKEN_TTL", "auth", "refresh_token_ttl"),
    ("BCRYPT_COST", "auth", "bcrypt_cost"),
    ("OAUTH_GOOGLE_CLIENT_ID", "oauth", "google_client_id"),
    ("OAUTH_GOOGLE_CLIENT_SECRET", "oauth", "google_client_secret"),
    ("OAUTH_GOOGLE_AUTH_URL", "oauth", "google_auth_url"),
    ("OAUTH_GOOGLE_TOKEN_URL", "oauth", "google_token_url"),
    ("OAUTH_GOOGLE_USERINFO_URL", "oauth", "google_userinfo_url"),
    ("OAUTH_GITHUB_CLIENT_ID", "oauth", "github_client_id"),
    ("OAUTH_GITHUB_CLIENT_SECRET", "oauth", "github_client_secret"),
    ("OAUTH_GITHUB_AUTH_URL", "oauth", "github_auth_url"),
    ("OAUTH_GITHUB_TOKEN_URL", "oauth", "github_token_url"),
    ("OAUTH_GITHUB_API_URL", "oauth", "github_api_url"),
    ("OAUTH_REDIRECT_BASE_URL", "oauth", "redirect_base_url"),
    ("FRONTEND_URL", "oauth", "frontend_url"),
    ("OIDC_PROVIDERS", "oauth", "oidc_providers"),
    ("RATE_LIMIT_PER_MINUTE", "limits", "per_minute"),
    ("RATE_LIMIT_AUTH_PER_MINUTE", "limits", "auth_per_minute"),
    ("WS_MAX_SOCKETS_PER_USER", "limits", "ws_max_sockets_per_user"),
    ("TRANSLATE_CHARS_PER_HOUR", "limits", "translate_chars_per_hour"),
    ("MAX_IMAGE_PIXELS", "files", "max_image_pixels"),
    ("METRICS_TOKEN", "server", "metrics_token"),
    ("MAX_UPLOAD_BYTES", "files", "max_upload_bytes"),
    ("STORAGE_URL", "files", "storage_url"),
    ("S3_ENDPOINT", "files", "s3_endpoint"),
    ("S3_REGION", "files", "s3_region"),
    ("AWS_ACCESS_KEY_ID", "files", "aws_access_key_id"),
    ("AWS_SECRET_ACCESS_KEY", "files", "aws_secret_access_key"),
    ("RENDITION_CACHE_BYTES", "files", "rendition_cache_bytes"),
    ("TRANSCODE_WORKERS", "files", "transcode_workers"),
    ("FFMPEG_PATH", "files", "ffmpeg_path"),
    ("RADIO_SOURCE_ADDR", "radio", "source_addr"),
    ("RADIO_SOURCE_MAX_CONNECTIONS", "radio", "source_max_connections"),
    ("RADIO_SOURCE_MAX_CONNECTIONS_PER_IP", "radio", "source_max_connections_per_ip"),
    ("RADIO_SOURCE_HEAD_TIMEOUT", "radio", "source_head_timeout"),
    ("RADIO_MAX_LISTENERS_PER_IP", "radio", "max_listeners_per_ip"),
    ("INTEGRATIONS_CACHE_TTL", "integrations", "cache_ttl"),
    ("WEATHER_API_URL", "integrations", "weather_api_url"),
    ("WEATHER_GEOCODING_URL", "integrations", "weather_geocoding_url"),
    ("CRYPTO_API_URL", "integrations", "crypto_api_url"),
    ("CRYPTO_API_KEY", "integrations", "crypto_api_key"),
    ("TRANSLATE_PROVIDER", "integrations", "translate_provider"),
    ("TRANSLATE_API_URL", "integrations", "translate_api_url"),
    ("TRANSLATE_API_KEY", "integrations", "translate_api_key"),
    ("JOB_WORKERS", "jobs", "workers"),
    ("JOB_LEASE", "jobs", "lease"),
    ("JOB_RETENTION", "jobs", "retention"),
    ("INACTIVE_USER_DAYS", "jobs", "inactive_user_days"),
    ("WARRANTY_REMINDER_DAYS", "jobs", "warranty_reminder_days"),
    ("BACKUP_KEEP", "jobs", "backup_keep"),
    ("SCHEDULE_PURGE_REFRESH_TOKENS", "jobs", "schedule_purge_refresh_tokens"),
    ("SCHEDULE_DISABLE_INACTIVE_USERS", "jobs", "schedule_disable_inactive_users"),
    ("SCHEDULE_DAILY_TASK_REPORT", "jobs", "schedule_daily_task_report"),
    ("SCHEDULE_WARRANTY_REMINDERS", "jobs", "schedule_warranty_reminders"),
    ("SCHEDULE_SQLITE_BACKUP", "jobs", "schedule_sqlite_backup"),
    ("SCHEDULE_ORPHAN_BLOB_SWEEP", "jobs", "schedule_orphan_blob_sweep"),
    ("SCHEDULE_EXPIRE_TRADES", "jobs", "schedule_expire_trades"),
    ("SCHEDULE_NOTIFICATION_REMINDERS", "jobs", "schedule_notification_reminders"),
    ("SCHEDULE_NOTIFICATION_DIGEST", "jobs", "schedule_notification_digest"),
    ("GITHUB_WEBHOOK_SECRET", "webhooks", "github_secret"),
    ("STRIPE_WEBHOOK_SECRET", "webhooks", "stripe_secret"),
    ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "webhooks", "allow_private_targets"),
    ("SMTP_URL", "mail", "smtp_url"),
    ("MAIL_FROM", "mail", "from"),
    ("NATS_URL", "events", "nats_url"),
    ("SYSTEM_METRICS_INTERVAL", "system", "metrics_interval"),
    ("SYSTEM_METRICS_RETENTION", "system", "metrics_retention"),
    ("ALERT_CPU_PERCENT", "system", "alert_cpu_percent"),
    ("ALERT_MEMORY_PERCENT", "system", "alert_memory_percent"),
    ("ALERT_DISK_PERCENT", "system", "alert_disk_percent"),
    ("ALERT_FOR", "system", "alert_for"),
];

/// Where the setting named `env` (`DATABASE_URL`, or `database_url` as a flat TOML key) sits.
pub fn place(env: &str) -> Option<(&'static str, &'static str)> {
    KEYS.iter().find(|(name, _, _)| name.eq_ignore_ascii_case(env)).map(|(_, section, field)| (*section, *field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_every_place_is_said_once() {
        for (i, (name, section, field)) in KEYS.iter().enumerate() {
            assert!(!KEYS[..i].iter().any(|(n, _, _)| n == name), "{name} twice");
            assert!(!KEYS[..i].iter().any(|(_, s, f)| s == section && f == field), "{section}.{field} twice");
        }
        assert_eq!(place("database_url"), Some(("database", "url")));
        assert_eq!(place("NOT_A_SETTING"), None);
    }
}
