//! `room`: M connected members join one new room; once every join has been processed (each
//! member's `history` request, sent after its `join` on the same socket, has been answered), one
//! member sends one message, and the time until the last member has its `chat.message` is
//! measured, from the send and from the message's `created_at`. Repeated a few times.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use serde_json::{Value, json};

use super::shared::{Ctx, close_all, connect_all, round2};
use crate::conn::{End, Event, Handler, Out, Tally, Wire};
use crate::log;
use crate::report::{emit, now_us, parse_instant_us, row};

/// How many receive a message, how many messages, how far apart: the same in `room` and `floor`.
#[derive(Debug, Args)]
pub struct Rounds {
    /// Members connected (in `room`, joined to the room too).
    #[arg(long)]
    pub members: usize,
    /// Messages sent, one at a time.
    #[arg(long, default_value_t = 5)]
    pub repeats: u32,
    /// Pause between two messages, milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub gap_ms: u64,
}

#[derive(Debug, Args)]
pub struct RoomArgs {
    #[command(flatten)]
    pub rounds: Rounds,
    /// How long to wait for every member to have one message, seconds.
    #[arg(long, default_value_t = 30)]
    pub wait_secs: u64,
    /// How long to wait for every join to be processed, seconds.
    #[arg(long, default_value_t = 120)]
    pub join_secs: u64,
}

/// One message's arrivals.
#[derive(Debug, Default)]
pub struct Round {
    pub rep: u32,
    /// The message's `created_at` (µs), once a member has it; 0 where nothing stores it.
    pub created_us: i64,
    pub arrivals: Vec<i64>,
}

impl Round {
    /// Waiting for message `rep`, at most `members` arrivals.
    pub fn new(rep: u32, members: usize) -> Self {
        Round { rep, created_us: 0, arrivals: Vec::with_capacity(members) }
    }

    /// Before the first message: nothing is counted.
    pub fn none() -> Self {
        Round { rep: u32::MAX, ..Round::default() }
    }

    /// The figures of this message, sent at `send_us` to `members`.
    pub fn figures(&mut self, send_us: i64, members: usize) -> Value {
        round_figures(self.rep, send_us, self.created_us, &mut self.arrivals, members)
    }
}

#[derive(Debug)]
struct Stats {
    slug: String,
    histories: AtomicU64,
    round: Mutex<Round>,
    presence: AtomicU64,
    other_messages: AtomicU64,
    errors: Tally,
    disconnects: AtomicU64,
    closing: AtomicBool,
}

pub fn content(rep: u32, send_us: i64) -> String {
    format!("wr {rep} {send_us}")
}

pub fn parse_content(s: &str) -> Option<(u32, i64)> {
    let mut it = s.strip_prefix("wr ")?.split(' ');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

impl Handler for Stats {
    fn on_event(&self, _me: i64, ev: &Event, at_us: i64) {
        match ev.kind.as_str() {
            "history" if ev.data.room.as_deref() == Some(self.slug.as_str()) => {
                self.histories.fetch_add(1, Ordering::Relaxed);
            }
            "chat.message" if ev.data.room.as_deref() == Some(self.slug.as_str()) => {
                let Some((rep, _)) = ev.data.content.as_deref().and_then(parse_content) else { return };
                let mut round = self.round.lock().unwrap_or_else(PoisonError::into_inner);
                if rep == round.rep {
                    round.arrivals.push(at_us);
                    if round.created_us == 0 {
                        round.created_us = ev.data.created_at.as_deref().and_then(parse_instant_us).unwrap_or(0);
                    }
                } else {
                    self.other_messages.fetch_add(1, Ordering::Relaxed);
                }
            }
            "presence" => {
                self.presence.fetch_add(1, Ordering::Relaxed);
            }
            "error" => self.errors.add(format!(
                "{}: {}",
                ev.data.code.as_deref().unwrap_or("?"),
                ev.data.message.as_deref().unwrap_or("")
            )),
            _ => {}
        }
    }

    fn on_end(&self, _me: i64, end: &End) {
        if *end != End::Closed && !self.closing.load(Ordering::Relaxed) {
            self.disconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The figures of one message's delivery to `members`.
fn round_figures(rep: u32, send_us: i64, created_us: i64, arrivals: &mut [i64], members: usize) -> Value {
    arrivals.sort_unstable();
    let ms = |us: i64| round2(us as f64 / 1000.0);
    let last = arrivals.last().copied();
    let median = (!arrivals.is_empty()).then(|| arrivals[(arrivals.len() - 1) / 2]);
    json!({
        "rep": rep, "members": members, "received": arrivals.len(), "all_received": arrivals.len() >= members,
        "last_after_send_ms": last.map(|l| ms(l - send_us)),
        "last_after_store_ms": last.filter(|_| created_us > 0).map(|l| ms(l - created_us)),
        "first_after_send_ms": arrivals.first().map(|f| ms(f - send_us)),
        "median_after_send_ms": median.map(|m| ms(m - send_us)),
        "store_after_send_ms": (created_us > 0).then(|| ms(created_us - send_us)),
    })
}

pub async fn run(ctx: &Ctx, a: &RoomArgs) -> anyhow::Result<ExitCode> {
    let (first, count) = ctx.common.accounts(a.rounds.members);
    if count < 2 {
        bail!("need at least 2 members, got {count}");
    }
    let accounts = super::shared::accounts(ctx, first, count).await?;
    let slug = format!("bench-{}", now_us() / 1000);
    let resp = ctx
        .http
        .post(format!("{}/api/v1/chat/rooms", ctx.base))
        .bearer_auth(&accounts[0].token)
        .json(&json!({"name": slug}))
        .send()
        .await?;
    if !resp.status().is_success() {
        let status = resp.status();
        bail!("POST /chat/rooms {slug}: {status} {}", resp.text().await.unwrap_or_default());
    }
    log!("room {slug} created; connecting {count} members");
    let stats = Arc::new(Stats {
        slug: slug.clone(),
        histories: AtomicU64::new(0),
        round: Mutex::new(Round::none()),
        presence: AtomicU64::new(0),
        other_messages: AtomicU64::new(0),
        errors: Tally::default(),
        disconnects: AtomicU64::new(0),
        closing: AtomicBool::new(false),
    });
    let wire = Arc::new(Wire::default());
    let connected = connect_all(ctx, &accounts, &stats, &wire).await;
    let conns = &connected.conns;
    let m = conns.len();
    if m < 2 {
        bail!("only {m} member(s) connected");
    }

    // Join, then ask for the history on the same socket: its answer comes after the join was processed.
    let join_started = Instant::now();
    let join = json!({"type": "join", "room": slug}).to_string();
    let history = json!({"type": "history", "room": slug, "limit": 1}).to_string();
    futures_util::future::join_all(conns.iter().map(|c| {
        let (join, history) = (join.clone(), history.clone());
        async move {
            let _ = c.tx.send(Out::Text(join)).await;
            let _ = c.tx.send(Out::Text(history)).await;
        }
    }))
    .await;
    let joined_or_gone = {
        let mut last_log = Instant::now();
        super::shared::wait_until(Duration::from_secs(a.join_secs), || {
            if last_log.elapsed() >= Duration::from_secs(5) {
                last_log = Instant::now();
                log!(
                    "  joins answered {}/{m}, presence events {}, sockets ended {} {:?}",
                    stats.histories.load(Ordering::Relaxed),
                    stats.presence.load(Ordering::Relaxed),
                    stats.disconnects.load(Ordering::Relaxed),
                    wire.ends.snapshot()
                );
            }
            // Every member answered, or gone (a dropped socket's answer never comes).
            stats.histories.load(Ordering::Relaxed) + stats.disconnects.load(Ordering::Relaxed) >= m as u64
        })
        .await
    };
    let join_secs = join_started.elapsed().as_secs_f64();
    log!("joins: {} of {m} answered in {join_secs:.2} s", stats.histories.load(Ordering::Relaxed));
    let joined = joined_or_gone && stats.disconnects.load(Ordering::Relaxed) == 0;
    if !joined {
        log!("not every join was answered; measuring anyway");
    }
    // Let what the joins set off (presence) pass before the first message.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let presence_after_joins = stats.presence.load(Ordering::Relaxed);

    let mut rounds = Vec::new();
    for rep in 0..a.rounds.repeats {
        {
            let mut r = stats.round.lock().unwrap_or_else(PoisonError::into_inner);
            *r = Round::new(rep, m);
        }
        let send_us = now_us();
        let text = json!({"type": "message", "room": slug, "content": content(rep, send_us)}).to_string();
        // The first member whose socket is still open sends.
        let Some(sender) = conns.iter().find(|c| !c.tx.is_closed()) else {
            log!("every member's socket is gone");
            break;
        };
        if sender.tx.send(Out::Text(text)).await.is_err() {
            log!("the sending member's socket is gone");
            continue;
        }
        super::shared::wait_until(Duration::from_secs(a.wait_secs), || {
            let open = m.saturating_sub(stats.disconnects.load(Ordering::Relaxed) as usize);
            stats.round.lock().unwrap_or_else(PoisonError::into_inner).arrivals.len() >= open
        })
        .await;
        let fig = stats.round.lock().unwrap_or_else(PoisonError::into_inner).figures(send_us, m);
        log!(
            "  message {rep}: {} of {m} members, last after {} ms from send ({} ms from store)",
            fig["received"],
            fig["last_after_send_ms"],
            fig["last_after_store_ms"]
        );
        rounds.push(fig);
        tokio::time::sleep(Duration::from_millis(a.rounds.gap_ms)).await;
    }
    let presence_total = stats.presence.load(Ordering::Relaxed);
    let ends = wire.ends.snapshot();
    stats.closing.store(true, Ordering::Relaxed);
    close_all(conns).await;

    let lasts: Vec<f64> = rounds.iter().filter_map(|r| r["last_after_send_ms"].as_f64()).collect();
    let result = json!({
        "scenario": "room", "room": slug, "members": count, "connected": m, "connect_failed": connected.failed.total(),
        "connect_secs": round2(connected.secs), "joins_answered": stats.histories.load(Ordering::Relaxed),
        "join_secs": round2(join_secs), "rounds": rounds,
        "last_after_send_ms": lasts, "presence_events": presence_total,
        "presence_events_after_joins": presence_after_joins,
        "errors": stats.errors.snapshot(), "disconnects": stats.disconnects.load(Ordering::Relaxed),
        "ends": ends,
    });
    let mut rows = vec![
        row("members connected", format!("{m} of {count}")),
        row("joins processed (history answered)", format!("{} in {:.2} s", result["joins_answered"], join_secs)),
        row(
            "presence events received (joins / all)",
            format!("{presence_after_joins} / {}", result["presence_events"]),
        ),
    ];
    for r in &rounds {
        rows.push(row(
            format!("message {}: last member after", r["rep"]),
            format!(
                "{} ms from send, {} ms from store (median {} ms; {} of {m})",
                r["last_after_send_ms"], r["last_after_store_ms"], r["median_after_send_ms"], r["received"]
            ),
        ));
    }
    rows.push(row(
        "errors / disconnects",
        format!("{} / {} {}", result["errors"], result["disconnects"], result["ends"]),
    ));
    emit(&result, &rows, ctx.common.out.as_deref())?;
    let ok = stats.disconnects.load(Ordering::Relaxed) == 0
        && joined
        && rounds.iter().all(|r| r["all_received"] == true)
        && stats.errors.total() == 0;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_content_round_trips() {
        assert_eq!(parse_content(&content(3, 1_700_000_000_000_000)), Some((3, 1_700_000_000_000_000)));
        assert_eq!(parse_content("wl 1 m 2 3"), None);
    }

    #[test]
    fn a_round_reports_the_last_arrival_from_send_and_store() {
        // Sent at 1.000 s, stored at 1.002 s, arrivals at 1.004 .. 1.010 s.
        let mut arrivals = vec![1_010_000, 1_004_000, 1_006_000];
        let f = round_figures(0, 1_000_000, 1_002_000, &mut arrivals, 3);
        assert_eq!(f["last_after_send_ms"], 10.0);
        assert_eq!(f["last_after_store_ms"], 8.0);
        assert_eq!(f["first_after_send_ms"], 4.0);
        assert_eq!(f["median_after_send_ms"], 6.0);
        assert_eq!(f["all_received"], true);
        let f = round_figures(1, 1_000_000, 0, &mut [], 3);
        assert_eq!((f["received"].as_u64(), f["all_received"].as_bool()), (Some(0), Some(false)));
        assert!(f["last_after_send_ms"].is_null());
    }
}
