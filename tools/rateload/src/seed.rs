//! The load's user and tasks, made as the shared harness's `load.sh` makes them: a fresh account,
//! its token, and `tasks` tasks of mixed priority and status, a third with a due date.

use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::mix::Mix;

/// Tasks created at once while seeding.
const SEEDING_CONNECTIONS: u32 = 8;

/// Who the load acts as, and on what.
#[derive(Debug)]
pub struct Session {
    /// `<origin>/api/v1`.
    pub api: String,
    pub token: String,
    pub mix: Mix,
}

/// An HTTP/1.1 client holding one keep-alive connection (one per load connection).
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .timeout(timeout)
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")
}

/// Registers a user, logs in and seeds `tasks` tasks.
pub async fn session(base: &str, tasks: u32, timeout: Duration) -> anyhow::Result<Session> {
    let api = format!("{base}/api/v1");
    let client = client(timeout)?;
    let suffix = format!("{}_{}", std::process::id(), rand::random::<u32>());
    let (email, password) = (format!("rate_{suffix}@example.com"), "bench-password-123");
    let registered = client
        .post(format!("{api}/auth/register"))
        .json(&json!({ "username": format!("rate_{suffix}"), "email": email, "password": password }))
        .send()
        .await
        .context("registering")?;
    anyhow::ensure!(registered.status().as_u16() == 201, "register answered {}", registered.status());
    let login: Value = client
        .post(format!("{api}/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .context("logging in")?
        .error_for_status()?
        .json()
        .await?;
    let token = login["access_token"].as_str().context("no access_token in the login answer")?.to_owned();

    let mut ids = Vec::with_capacity(tasks as usize);
    let mut makers = JoinSet::new();
    for lane in 0..SEEDING_CONNECTIONS.min(tasks.max(1)) {
        let (client, api, token) = (self::client(timeout)?, api.clone(), token.clone());
        makers.spawn(async move {
            let mut made = Vec::new();
            for i in (lane + 1..=tasks).step_by(SEEDING_CONNECTIONS as usize) {
                made.push(create(&client, &api, &token, i).await?);
            }
            anyhow::Ok(made)
        });
    }
    while let Some(made) = makers.join_next().await {
        ids.extend(made??);
    }
    anyhow::ensure!(!ids.is_empty(), "no task was seeded (--tasks 0?)");
    ids.sort_unstable();
    let pages = ids.len().div_ceil(20) as u32;
    Ok(Session { api, token, mix: Mix { ids, pages } })
}

async fn create(client: &reqwest::Client, api: &str, token: &str, i: u32) -> anyhow::Result<i64> {
    const PRIORITIES: [&str; 3] = ["low", "medium", "high"];
    const STATUSES: [&str; 3] = ["pending", "in_progress", "completed"];
    let mut body = json!({
        "title": format!("Seed task {i}"),
        "description": format!("Seeded by rateload for the load test, row {i}"),
        "priority": PRIORITIES[i as usize % 3],
        "status": STATUSES[i as usize % 3],
    });
    if i.is_multiple_of(3) {
        body["due_date"] = json!(format!("2030-0{}-1{}T12:00:00Z", i % 9 + 1, i % 10));
    }
    let created: Value = client
        .post(format!("{api}/tasks"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("seeding task {i}"))?
        .error_for_status()?
        .json()
        .await?;
    created["id"].as_i64().with_context(|| format!("no id in the answer to seeding task {i}"))
}
