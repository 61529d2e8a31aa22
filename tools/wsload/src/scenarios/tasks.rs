//! `tasks`: tasks created over HTTP (`POST /api/v1/tasks`) by connected users, each assigned to
//! another connected user, at a rate; the `task.created` event's latency at the owner and at
//! the assignee, from the task's `created_at` (equal to its `updated_at` on creation).
//!
//! The title carries the same tag as a DM's content (`wl <phase> <w|m> <seq> <send_us>`), so
//! the send-to-event latency is measured too.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use serde_json::json;
use tokio::sync::Semaphore;

use super::dm::{content, parse_content, partner};
use super::shared::{Ctx, close_all, connect_all, round2};
use crate::conn::{End, Event, Handler, Tally, Wire};
use crate::log;
use crate::pacer::Pacer;
use crate::report::{Latency, emit, now_us, parse_instant_us, row};

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Connected users (owners and assignees in pairs).
    #[arg(long)]
    pub connections: usize,
    /// Tasks created per second (as far as HTTP allows: the achieved rate is reported).
    #[arg(long)]
    pub rate: f64,
    /// Seconds of creating, warm-up included.
    #[arg(long, default_value_t = 20)]
    pub secs: u64,
    /// Leading seconds whose events are counted but not put in the histograms.
    #[arg(long, default_value_t = 2)]
    pub warmup_secs: u64,
    /// Seconds to wait after the last creation for events still on their way.
    #[arg(long, default_value_t = 10)]
    pub drain_secs: u64,
    /// HTTP requests in flight at most; the pacer waits for a free one (and so falls behind the
    /// rate when the server cannot keep up).
    #[arg(long, default_value_t = 256)]
    pub http_concurrency: usize,
}

#[derive(Debug, Default)]
struct Stats {
    at_owner: Latency,
    at_assignee: Latency,
    send_to_assignee: Latency,
    http: Latency,
    owner_events: AtomicU64,
    assignee_events: AtomicU64,
    other_events: Tally,
    errors: Tally,
    disconnects: AtomicU64,
    closing: AtomicBool,
}

impl Handler for Stats {
    fn on_event(&self, me: i64, ev: &Event, at_us: i64) {
        match ev.kind.as_str() {
            "task.created" => {
                let Some(tag) = ev.data.title.as_deref().and_then(parse_content) else { return };
                let stored = ev.data.created_at.as_deref().and_then(parse_instant_us);
                let owner = ev.data.owner_id == Some(me);
                let assignee = ev.data.assignee_id == Some(me);
                if owner {
                    self.owner_events.fetch_add(1, Ordering::Relaxed);
                }
                if assignee {
                    self.assignee_events.fetch_add(1, Ordering::Relaxed);
                }
                if tag.measured {
                    if let Some(stored) = stored {
                        if owner {
                            self.at_owner.record_between(stored, at_us);
                        }
                        if assignee {
                            self.at_assignee.record_between(stored, at_us);
                        }
                    }
                    if assignee {
                        self.send_to_assignee.record_between(tag.send_us, at_us);
                    }
                }
            }
            "error" => self.errors.add(format!(
                "{}: {}",
                ev.data.code.as_deref().unwrap_or("?"),
                ev.data.message.as_deref().unwrap_or("")
            )),
            other => self.other_events.add(other),
        }
    }

    fn on_end(&self, _me: i64, end: &End) {
        if *end != End::Closed && !self.closing.load(Ordering::Relaxed) {
            self.disconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Requests that did not create a task so far.
fn failures(statuses: &Tally) -> u64 {
    statuses.snapshot().iter().filter(|(k, _)| !k.starts_with('2')).map(|(_, n)| n).sum()
}

pub async fn run(ctx: &Ctx, a: &TasksArgs) -> anyhow::Result<ExitCode> {
    let (first, count) = ctx.common.accounts(a.connections);
    if count < 2 {
        bail!("need at least 2 connections in this process, got {count}");
    }
    let accounts = super::shared::accounts(ctx, first, count).await?;
    let stats = Arc::new(Stats::default());
    let wire = Arc::new(Wire::default());
    let connected = connect_all(ctx, &accounts, &stats, &wire).await;
    let conns = &connected.conns;
    if conns.len() < 2 {
        bail!("only {} socket(s) opened", conns.len());
    }
    let tokens: HashMap<i64, Arc<str>> = accounts.iter().map(|u| (u.id, Arc::from(u.token.as_str()))).collect();
    let rate = ctx.common.rate_share(a.rate);
    log!(
        "tasks: {} sockets, {rate} tasks/s for {} s, at most {} requests in flight",
        conns.len(),
        a.secs,
        a.http_concurrency
    );

    let statuses = Arc::new(Tally::default());
    let created = Arc::new(AtomicU64::new(0));
    let semaphore = Arc::new(Semaphore::new(a.http_concurrency.max(1)));
    let url = Arc::<str>::from(format!("{}/api/v1/tasks", ctx.base));
    let mut pacer = Pacer::for_duration(rate, Duration::from_secs(a.secs));
    let warmup_until = Instant::now() + Duration::from_secs(a.warmup_secs);
    let mut seq: u64 = 0;
    let mut last_log = Instant::now();
    while let Some(batch) = pacer.next_batch().await {
        for _ in 0..batch {
            let Ok(permit) = Arc::clone(&semaphore).acquire_owned().await else { break };
            let i = (seq % conns.len() as u64) as usize;
            let owner = conns[i].user_id;
            let assignee = conns[partner(i, conns.len())].user_id;
            let measured = Instant::now() >= warmup_until;
            let body = json!({"title": content(1, measured, seq, now_us()), "assignee_id": assignee});
            let (http, url, token) = (ctx.http.clone(), Arc::clone(&url), Arc::clone(&tokens[&owner]));
            let (stats, statuses, created) = (Arc::clone(&stats), Arc::clone(&statuses), Arc::clone(&created));
            tokio::spawn(async move {
                let sent = now_us();
                let r = http.post(&*url).bearer_auth(&*token).json(&body).send().await;
                let done = now_us();
                match r {
                    Ok(resp) => {
                        let s = resp.status();
                        if !s.is_success() && failures(&statuses) < 3 {
                            log!("POST /tasks answered {s}");
                        }
                        statuses.add(s.as_u16().to_string());
                        if s.is_success() {
                            created.fetch_add(1, Ordering::Relaxed);
                            if measured {
                                stats.http.record_between(sent, done);
                            }
                        }
                        // Read the body so that the connection goes back to the pool.
                        let _ = resp.bytes().await;
                    }
                    Err(e) => {
                        if failures(&statuses) < 3 {
                            log!("POST /tasks failed: {e:?}");
                        }
                        statuses.add(if e.is_timeout() { "timeout".to_owned() } else { "connection error".to_owned() });
                    }
                }
                drop(permit);
            });
            seq += 1;
        }
        if last_log.elapsed() >= Duration::from_secs(5) {
            last_log = Instant::now();
            log!("  requested {seq}, created {}", created.load(Ordering::Relaxed));
        }
    }
    let send_secs = pacer.started().elapsed().as_secs_f64();
    // Every request answered.
    let _ = semaphore.acquire_many(u32::try_from(a.http_concurrency.max(1)).unwrap_or(u32::MAX)).await;
    let answered_secs = pacer.started().elapsed().as_secs_f64();
    let n_created = created.load(Ordering::Relaxed);
    if n_created > 0 && stats.owner_events.load(Ordering::Relaxed) == 0 {
        log!(
            "no task event has arrived yet: the events leave through the outbox relay, which runs where its \
             lease is (a server killed without giving it up holds it for its lease, 30 s)"
        );
    }
    let all_arrived = super::shared::wait_until(Duration::from_secs(a.drain_secs), || {
        stats.owner_events.load(Ordering::Relaxed) >= n_created
            && stats.assignee_events.load(Ordering::Relaxed) >= n_created
    })
    .await;
    let other_events = stats.other_events.snapshot();
    stats.closing.store(true, Ordering::Relaxed);
    close_all(conns).await;

    let owner_events = stats.owner_events.load(Ordering::Relaxed);
    let assignee_events = stats.assignee_events.load(Ordering::Relaxed);
    let result = json!({
        "scenario": "tasks", "connections": count, "connected": conns.len(), "connect_failed": connected.failed.total(),
        "connect_secs": round2(connected.secs), "rate": rate, "secs": a.secs, "warmup_secs": a.warmup_secs,
        "http_concurrency": a.http_concurrency, "requested": seq, "created": n_created,
        "achieved_rate": round2(n_created as f64 / answered_secs.max(1e-9)),
        "requested_rate": round2(seq as f64 / send_secs.max(1e-9)),
        "http_statuses": statuses.snapshot(),
        "owner_events": owner_events, "assignee_events": assignee_events,
        "owner_events_lost": n_created.saturating_sub(owner_events),
        "assignee_events_lost": n_created.saturating_sub(assignee_events), "all_arrived": all_arrived,
        "store_to_owner": stats.at_owner.summary(), "store_to_assignee": stats.at_assignee.summary(),
        "send_to_assignee": stats.send_to_assignee.summary(), "http_create": stats.http.summary(),
        "errors": stats.errors.snapshot(), "other_events": other_events,
        "disconnects": stats.disconnects.load(Ordering::Relaxed),
    });
    let rows = [
        row("connected", format!("{} of {count}", conns.len())),
        row(
            "tasks created / requested",
            format!(
                "{n_created} / {seq} (achieved {}/s of {rate}/s) {}",
                result["achieved_rate"], result["http_statuses"]
            ),
        ),
        row("events at owner / assignee", format!("{owner_events} / {assignee_events} (expected {n_created} each)")),
        row("store → owner p50/p90/p99/max", stats.at_owner.summary().cell()),
        row("store → assignee p50/p90/p99/max", stats.at_assignee.summary().cell()),
        row("POST sent → assignee p50/p90/p99/max", stats.send_to_assignee.summary().cell()),
        row("POST /tasks p50/p90/p99/max", stats.http.summary().cell()),
        row("errors / disconnects", format!("{} / {}", result["errors"], result["disconnects"])),
    ];
    emit(&result, &rows, ctx.common.out.as_deref())?;
    let ok = all_arrived && stats.errors.total() == 0 && n_created == seq && result["disconnects"] == 0;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}
