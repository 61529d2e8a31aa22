//! The configuration's loading and checks.

use std::time::Duration;

use figment::Jail;

use super::*;

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
        assert_eq!(s.auth.bcrypt_cost, 6, "the environment wins over the file");
        assert_eq!(s.auth.access_token_ttl, Duration::from_secs(300));
        assert_eq!(s.auth.refresh_token_ttl, Duration::from_secs(3600));
        assert_eq!(s.files.max_upload_bytes, 10 * 1024 * 1024);
        assert!(s.database_url().ends_with("workbench.db"));
        assert_eq!(s.webhooks.github_secret.as_deref(), Some("12345678"));
        assert!(s.webhooks.allow_private_targets);
        Ok(())
    });
}

#[test]
fn production_refuses_missing_or_weak_secrets() {
    let mut s = Settings::default();
    s.server.environment = Environment::Production;
    assert!(s.validate().is_err());
    s.auth.jwt_secret = Some("changeme".into());
    assert!(s.validate().is_err());
    s.auth.jwt_secret = Some("x".repeat(31));
    assert!(s.validate().is_err());
    s.auth.jwt_secret = Some("a-real-secret-of-at-least-32-bytes!!".into());
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
    let mut base = Settings::default();
    base.auth.bcrypt_cost = 5;
    let s = base
        .with_overrides([("OAUTH_GITHUB_API_URL", "http://127.0.0.1:9/api".to_owned()), ("PORT", "0".to_owned())])
        .unwrap();
    assert_eq!(s.oauth.github_api_url.as_deref(), Some("http://127.0.0.1:9/api"));
    assert_eq!((s.server.port, s.auth.bcrypt_cost), (Some(0), 5), "other settings are kept");
    assert!(Settings::default().with_overrides([("NOT_A_SETTING", String::new())]).is_err());
}

#[test]
fn oauth_redirects_follow_the_public_url_unless_set() {
    let mut s = Settings::default();
    s.server.public_url = Some("https://wb.example.com/".into());
    assert_eq!(s.oauth_redirect_url("github"), "https://wb.example.com/api/v1/auth/oauth/github/callback");
    s.oauth.redirect_base_url = Some("https://api.example.com".into());
    assert_eq!(s.oauth_redirect_url("google"), "https://api.example.com/api/v1/auth/oauth/google/callback");
}

#[test]
fn half_configured_providers_and_bad_urls_are_refused() {
    let mut s = Settings::default();
    s.oauth.github_client_id = Some("id".into());
    assert!(s.validate().unwrap_err().to_string().contains("OAUTH_GITHUB_CLIENT_SECRET"));
    let mut s = Settings::default();
    s.oauth.frontend_url = Some("javascript:alert(1)".into());
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
    let mut bad = Settings::default();
    bad.jobs.schedule_warranty_reminders = Some("every day".into());
    assert!(bad.validate().unwrap_err().to_string().contains("SCHEDULE_WARRANTY_REMINDERS"));
    let mut bad = Settings::default();
    bad.mail.smtp_url = Some("mail.example.com".into());
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
    let mut s = Settings::default();
    s.auth.bcrypt_cost = 2;
    assert!(s.validate().is_err());
    let mut s = Settings::default();
    s.server.bind_addr = "nowhere".into();
    assert!(s.validate().is_err());
    let mut s = Settings::default();
    s.server.routes = Some("auth,tasks,chats".into());
    let err = s.validate().unwrap_err().to_string();
    assert!(err.contains("WORKBENCH_ROUTES") && err.contains("\"chats\""), "{err}");
    let mut s = Settings::default();
    s.server.routes = Some("tasks,auth".into());
    assert_eq!(s.routes().unwrap().names(), ["auth", "tasks"]);
}

#[test]
#[expect(clippy::result_large_err, reason = "figment's Jail fixes the closure's error type")]
fn a_file_may_use_sections_or_the_flat_names() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "workbench.toml",
            "database_url = \"postgres://db/flat\"\n[redis]\nprefix = \"staging\"\n[auth]\nbcrypt_cost = 9",
        )?;
        let s = Settings::load().expect("loads");
        assert_eq!(s.database.url.as_deref(), Some("postgres://db/flat"), "a flat name finds its section");
        assert_eq!((s.redis.prefix.as_str(), s.auth.bcrypt_cost), ("staging", 9), "sections as written");
        jail.set_env("DATABASE_URL", "postgres://db/env");
        assert_eq!(Settings::load().unwrap().database.url.as_deref(), Some("postgres://db/env"));
        Ok(())
    });
}

#[test]
fn an_unreadable_value_is_named_by_its_variable() {
    let err = Settings::default().with_overrides([("BCRYPT_COST", "many".to_owned())]).unwrap_err().to_string();
    assert!(err.contains("BCRYPT_COST"), "{err}");
}

#[test]
fn the_radio_s_bounds_are_read_and_checked() {
    let defaults = Settings::default().radio;
    assert_eq!(defaults.source_max_connections, None, "derived from the descriptor limit");
    assert_eq!((defaults.source_max_connections_per_ip, defaults.max_listeners_per_ip), (8, 10));
    assert_eq!(defaults.source_head_timeout, std::time::Duration::from_secs(10));
    let s = Settings::default()
        .with_overrides([
            ("RADIO_SOURCE_MAX_CONNECTIONS", "50".to_owned()),
            ("RADIO_SOURCE_MAX_CONNECTIONS_PER_IP", "3".to_owned()),
            ("RADIO_SOURCE_HEAD_TIMEOUT", "5s".to_owned()),
            ("RADIO_MAX_LISTENERS_PER_IP", "0".to_owned()),
        ])
        .unwrap();
    assert_eq!(s.radio.source_max_connections, Some(50));
    assert_eq!(s.radio.source_max_connections_per_ip, 3);
    assert_eq!(s.radio.source_head_timeout, std::time::Duration::from_secs(5));
    assert_eq!(s.radio.max_listeners_per_ip, 0, "0: no limit");
    s.clone().validate().expect("valid");
    for (key, value) in [
        ("RADIO_SOURCE_MAX_CONNECTIONS", "0"),
        ("RADIO_SOURCE_MAX_CONNECTIONS_PER_IP", "0"),
        ("RADIO_SOURCE_HEAD_TIMEOUT", "0"),
    ] {
        let mut bad = s.clone().with_overrides([(key, value.to_owned())]).unwrap();
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains(key), "{key}={value}: {err}");
    }
}
