//! `dm` and `slow`: direct messages between pairs of connected users at an aggregate rate.
//!
//! Each message's content carries its phase, whether it is warm-up, a sequence number and the
//! client's send time: `wl <phase> <w|m> <seq> <send_us>`. The recipient measures the latency
//! from the message's `created_at` (the moment it was stored) and from the send time; the sender
//! measures the time until its own copy comes back.
//!
//! `slow` runs the same load twice, each time with extra direct messages to one more client:
//! first to a client that reads them (the baseline), then to one that never reads its socket;
//! it reports whether the server dropped the second and what the others' latency was meanwhile.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use serde_json::{Value, json};
use tokio::sync::mpsc::error::TrySendError;

use super::shared::{Ctx, close_all, connect_all, round2};
use crate::conn::{Conn, End, Event, Handler, Out, Tally, Wire};
use crate::pacer::Pacer;
use crate::report::{Latency, emit, now_us, parse_instant_us, row};
use crate::{log, users};

#[derive(Debug, Args)]
pub struct DmArgs {
    /// Connected users (they send to each other in pairs).
    #[arg(long)]
    pub connections: usize,
    /// Direct messages per second, all senders together.
    #[arg(long)]
    pub rate: f64,
    /// Seconds of sending, warm-up included.
    #[arg(long, default_value_t = 20)]
    pub secs: u64,
    /// Leading seconds whose messages are delivered and counted but not put in the histograms.
    #[arg(long, default_value_t = 2)]
    pub warmup_secs: u64,
    /// Seconds to wait after the last send for what is still on its way.
    #[arg(long, default_value_t = 5)]
    pub drain_secs: u64,
}

#[derive(Debug, Args)]
pub struct SlowArgs {
    #[command(flatten)]
    pub dm: DmArgs,
    /// Direct messages per second sent to the client that does not read.
    #[arg(long, default_value_t = 500.0)]
    pub slow_rate: f64,
    /// Characters of each message sent to it (at most 4,000).
    #[arg(long, default_value_t = 2000)]
    pub slow_bytes: usize,
    /// Its kernel receive buffer, bytes (small, so that the kernel does not absorb megabytes on
    /// its behalf and the server's queue is what fills).
    #[arg(long, default_value_t = 4096)]
    pub slow_rcvbuf: u32,
}

/// What the connections of a DM run record.
#[derive(Debug, Default)]
pub struct Stats {
    /// The phase whose messages are counted; others (late arrivals of an earlier phase) are not.
    phase: AtomicU64,
    pub store_to_recipient: Latency,
    pub send_to_recipient: Latency,
    pub send_to_echo: Latency,
    pub received: AtomicU64,
    pub echoes: AtomicU64,
    pub errors: Tally,
    pub presence: AtomicU64,
    pub other_events: AtomicU64,
    pub disconnects: AtomicU64,
    closing: AtomicBool,
    /// The client that does not read (`slow`), and when a presence `offline` for it first arrived.
    slow_user: AtomicI64,
    slow_offline_at_us: AtomicI64,
}

/// The parts of a load message's content.
#[derive(Debug, PartialEq, Eq)]
pub struct Tag {
    pub phase: u64,
    pub measured: bool,
    pub seq: u64,
    pub send_us: i64,
}

pub fn content(phase: u64, measured: bool, seq: u64, send_us: i64) -> String {
    format!("wl {phase} {} {seq} {send_us}", if measured { 'm' } else { 'w' })
}

pub fn parse_content(s: &str) -> Option<Tag> {
    let mut it = s.split(' ');
    if it.next()? != "wl" {
        return None;
    }
    let phase = it.next()?.parse().ok()?;
    let measured = match it.next()? {
        "m" => true,
        "w" => false,
        _ => return None,
    };
    let seq = it.next()?.parse().ok()?;
    let send_us = it.next()?.parse().ok()?;
    Some(Tag { phase, measured, seq, send_us })
}

impl Handler for Stats {
    fn on_event(&self, me: i64, ev: &Event, at_us: i64) {
        match ev.kind.as_str() {
            "chat.dm" => {
                let Some(tag) = ev.data.content.as_deref().and_then(parse_content) else { return };
                if tag.phase != self.phase.load(Ordering::Relaxed) {
                    return;
                }
                if ev.data.recipient_id == Some(me) {
                    self.received.fetch_add(1, Ordering::Relaxed);
                    if tag.measured {
                        if let Some(stored) = ev.data.created_at.as_deref().and_then(parse_instant_us) {
                            self.store_to_recipient.record_between(stored, at_us);
                        }
                        self.send_to_recipient.record_between(tag.send_us, at_us);
                    }
                } else if ev.data.sender_id == Some(me) {
                    self.echoes.fetch_add(1, Ordering::Relaxed);
                    if tag.measured {
                        self.send_to_echo.record_between(tag.send_us, at_us);
                    }
                }
            }
            "presence" => {
                self.presence.fetch_add(1, Ordering::Relaxed);
                let slow = self.slow_user.load(Ordering::Relaxed);
                if slow != 0 && ev.data.user_id == Some(slow) && ev.data.status.as_deref() == Some("offline") {
                    let _ = self.slow_offline_at_us.compare_exchange(0, at_us, Ordering::Relaxed, Ordering::Relaxed);
                }
            }
            "error" => self.errors.add(format!(
                "{}: {}",
                ev.data.code.as_deref().unwrap_or("?"),
                ev.data.message.as_deref().unwrap_or("")
            )),
            _ => {
                self.other_events.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn on_end(&self, _me: i64, end: &End) {
        if *end != End::Closed && !self.closing.load(Ordering::Relaxed) {
            self.disconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Stats {
    fn start_phase(&self, phase: u64) {
        self.phase.store(phase, Ordering::Relaxed);
        self.store_to_recipient.reset();
        self.send_to_recipient.reset();
        self.send_to_echo.reset();
        self.received.store(0, Ordering::Relaxed);
        self.echoes.store(0, Ordering::Relaxed);
    }
}

/// The partner of connection `i` among `n`: pairs (0,1), (2,3), …; with an odd count the last
/// one writes to the first.
pub fn partner(i: usize, n: usize) -> usize {
    let p = i ^ 1;
    if p < n { p } else { 0 }
}

/// Counts of one paced run.
#[derive(Debug, Default)]
struct Sent {
    sent: u64,
    /// The connection's queue of frames to write was full: not sent (the pacer does not wait).
    busy: u64,
    /// The connection's task had ended.
    gone: u64,
    secs: f64,
}

/// Sends `rate` messages per second for `secs` from `conns` in turn, each to its partner.
async fn pace(conns: &[Conn], rate: f64, secs: u64, warmup_secs: u64, phase: u64) -> Sent {
    let mut pacer = Pacer::for_duration(rate, Duration::from_secs(secs));
    let warmup_until = Instant::now() + Duration::from_secs(warmup_secs);
    let mut out = Sent::default();
    let mut seq: u64 = 0;
    let n = conns.len();
    let mut last_log = Instant::now();
    while let Some(batch) = pacer.next_batch().await {
        let measured = Instant::now() >= warmup_until;
        for _ in 0..batch {
            let i = (seq % n as u64) as usize;
            let to = conns[partner(i, n)].user_id;
            let text = json!({"type": "dm", "to": to, "content": content(phase, measured, seq, now_us())}).to_string();
            match conns[i].tx.try_send(Out::Text(text)) {
                Ok(()) => out.sent += 1,
                Err(TrySendError::Full(_)) => out.busy += 1,
                Err(TrySendError::Closed(_)) => out.gone += 1,
            }
            seq += 1;
        }
        if last_log.elapsed() >= Duration::from_secs(5) {
            last_log = Instant::now();
            log!("  sent {} ({} busy, {} gone)", out.sent, out.busy, out.gone);
        }
    }
    out.secs = pacer.started().elapsed().as_secs_f64();
    out
}

/// Sends `rate` messages per second of `bytes` characters to `to`, from `conns` in turn, until
/// `stop` is set. Returns how many were handed to the sockets.
async fn pace_to_one(conns: &[Conn], to: i64, rate: f64, bytes: usize, stop: &AtomicBool) -> u64 {
    let mut pacer = Pacer::new(rate);
    let padding = "x".repeat(bytes.clamp(1, 4000).saturating_sub(3));
    let text = json!({"type": "dm", "to": to, "content": format!("ws {padding}")}).to_string();
    let mut sent = 0;
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let Some(batch) = pacer.next_batch().await else { break };
        for _ in 0..batch {
            if conns[i % conns.len()].tx.try_send(Out::Text(text.clone())).is_ok() {
                sent += 1;
            }
            i += 1;
        }
    }
    sent
}

/// Runs one phase of DM load and returns its figures.
async fn phase(conns: &[Conn], stats: &Stats, a: &DmArgs, rate: f64, phase_no: u64) -> Value {
    stats.start_phase(phase_no);
    let sent = pace(conns, rate, a.secs, a.warmup_secs, phase_no).await;
    let drained = super::shared::wait_until(Duration::from_secs(a.drain_secs), || {
        stats.received.load(Ordering::Relaxed) >= sent.sent && stats.echoes.load(Ordering::Relaxed) >= sent.sent
    })
    .await;
    let received = stats.received.load(Ordering::Relaxed);
    let echoes = stats.echoes.load(Ordering::Relaxed);
    json!({
        "rate": rate, "secs": a.secs, "warmup_secs": a.warmup_secs,
        "sent": sent.sent, "not_sent_busy": sent.busy, "not_sent_closed": sent.gone,
        "achieved_rate": round2(sent.sent as f64 / sent.secs.max(1e-9)),
        "received": received, "lost": sent.sent.saturating_sub(received), "echoes": echoes,
        "echoes_lost": sent.sent.saturating_sub(echoes), "all_arrived": drained,
        "store_to_recipient": stats.store_to_recipient.summary(),
        "send_to_recipient": stats.send_to_recipient.summary(),
        "send_to_echo": stats.send_to_echo.summary(),
    })
}

fn phase_rows(label: &str, p: &Value) -> Vec<(String, String)> {
    let cell = |k: &str| {
        let s = &p[k];
        if s["count"].as_u64().unwrap_or(0) == 0 {
            return "-".to_owned();
        }
        format!("{} / {} / {} / {} ms (n={})", s["p50_ms"], s["p90_ms"], s["p99_ms"], s["max_ms"], s["count"])
    };
    vec![
        row(
            format!("{label}sent / received / lost"),
            format!(
                "{} / {} / {} (achieved {}/s of {}/s; busy {})",
                p["sent"], p["received"], p["lost"], p["achieved_rate"], p["rate"], p["not_sent_busy"]
            ),
        ),
        row(format!("{label}store → recipient p50/p90/p99/max"), cell("store_to_recipient")),
        row(format!("{label}send → recipient p50/p90/p99/max"), cell("send_to_recipient")),
        row(format!("{label}send → own copy p50/p90/p99/max"), cell("send_to_echo")),
    ]
}

async fn open(
    ctx: &Ctx,
    total: usize,
    extra: usize,
) -> anyhow::Result<(Vec<users::User>, Arc<Stats>, Arc<Wire>, super::shared::Connected)> {
    let (first, count) = ctx.common.accounts(total);
    if count < 2 {
        bail!("need at least 2 connections in this process, got {count}");
    }
    let accounts = super::shared::accounts(ctx, first, count + extra).await?;
    let stats = Arc::new(Stats::default());
    let wire = Arc::new(Wire::default());
    let connected = connect_all(ctx, &accounts[..count], &stats, &wire).await;
    if connected.conns.len() < 2 {
        bail!("only {} socket(s) opened", connected.conns.len());
    }
    Ok((accounts, stats, wire, connected))
}

fn common_json(ctx: &Ctx, count: usize, connected: &super::shared::Connected, stats: &Stats, wire: &Wire) -> Value {
    json!({
        "connections": count, "connected": connected.conns.len(), "connect_failed": connected.failed.total(),
        "connect_failures": connected.failed.snapshot(), "connect_secs": round2(connected.secs),
        "shard": ctx.common.shard.map(|s| format!("{}/{}", s.k, s.n)),
        "errors": stats.errors.snapshot(), "presence_events": stats.presence.load(Ordering::Relaxed),
        "other_events": stats.other_events.load(Ordering::Relaxed), "disconnects": stats.disconnects.load(Ordering::Relaxed),
        "unparsed_frames": wire.unparsed.load(Ordering::Relaxed),
    })
}

pub async fn run_dm(ctx: &Ctx, a: &DmArgs) -> anyhow::Result<ExitCode> {
    let (_, count) = ctx.common.accounts(a.connections);
    let (_, stats, wire, connected) = open(ctx, a.connections, 0).await?;
    let rate = ctx.common.rate_share(a.rate);
    log!("dm: {} sockets, {rate}/s for {} s", connected.conns.len(), a.secs);
    let p = phase(&connected.conns, &stats, a, rate, 1).await;
    let mut result = common_json(ctx, count, &connected, &stats, &wire);
    stats.closing.store(true, Ordering::Relaxed);
    close_all(&connected.conns).await;
    result["scenario"] = json!("dm");
    for (k, v) in p.as_object().into_iter().flatten() {
        result[k] = v.clone();
    }
    let mut rows = vec![row("connected", format!("{} of {count}", connected.conns.len()))];
    rows.extend(phase_rows("", &p));
    rows.push(row("errors / disconnects", format!("{} / {}", result["errors"], result["disconnects"])));
    emit(&result, &rows, ctx.common.out.as_deref())?;
    let ok = p["lost"] == 0
        && stats.errors.total() == 0
        && connected.failed.total() == 0
        && stats.disconnects.load(Ordering::Relaxed) == 0;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// A DM phase while `rate_to_one` messages per second of `bytes` characters also go to `to`:
/// the phase's figures and how many went to `to`.
async fn phase_with_extra(
    conns: &[Conn],
    stats: &Stats,
    a: &SlowArgs,
    rate: f64,
    phase_no: u64,
    to: i64,
) -> (Value, u64) {
    let stop = AtomicBool::new(false);
    tokio::join!(
        async {
            let p = phase(conns, stats, &a.dm, rate, phase_no).await;
            stop.store(true, Ordering::Relaxed);
            p
        },
        pace_to_one(conns, to, a.slow_rate, a.slow_bytes, &stop)
    )
}

pub async fn run_slow(ctx: &Ctx, a: &SlowArgs) -> anyhow::Result<ExitCode> {
    let (_, count) = ctx.common.accounts(a.dm.connections);
    // Two more accounts than the load's: a client that reads the extra messages (the baseline)
    // and one that never reads them.
    let (accounts, stats, wire, connected) = open(ctx, a.dm.connections, 2).await?;
    let (sink, slow) = (accounts[count].clone(), accounts[count + 1].clone());
    let rate = ctx.common.rate_share(a.dm.rate);

    // Baseline: the same load, the extra messages going to a client that reads them.
    let sink_wire = Arc::new(Wire::default());
    let sink_ws = match ctx.connector.connect(sink.index, &sink.token).await {
        Ok(ws) => ws,
        Err(e) => bail!("the reading client could not connect: {e}"),
    };
    let sink_conn = crate::conn::spawn(sink_ws, sink.id, Arc::clone(&stats), Arc::clone(&sink_wire));
    log!(
        "slow: baseline, {} sockets, {rate}/s, and {} DMs/s of {} chars to user {} who reads them, for {} s",
        connected.conns.len(),
        a.slow_rate,
        a.slow_bytes,
        sink.id,
        a.dm.secs
    );
    let (baseline, sink_sent) = phase_with_extra(&connected.conns, &stats, a, rate, 1, sink.id).await;
    // What it still has to read arrives within the drain of the phase; then it leaves.
    let sink_received = sink_wire.frames_in.load(Ordering::Relaxed);
    // It should still be open: a reading client that the server dropped makes the baseline moot.
    let sink_dropped = sink_wire.ends.snapshot();
    if !sink_dropped.is_empty() {
        log!("the reading client was disconnected during the baseline: {sink_dropped:?}");
    }
    let _ = sink_conn.tx.send(Out::Close).await;

    let mut slow_ws = match ctx.connector.connect_with(slow.index, &slow.token, Some(a.slow_rcvbuf)).await {
        Ok(ws) => ws,
        Err(e) => bail!("the slow client could not connect: {e}"),
    };
    // It reads what the server says on connecting (presence of its contacts), then stops reading.
    let (early_end, early_frames) = crate::conn::drain(&mut slow_ws, Duration::from_secs(1)).await;
    if let Some(end) = &early_end {
        log!("the slow client was disconnected before it stopped reading: {}", end.class());
    }
    stats.slow_user.store(slow.id, Ordering::Relaxed);
    log!("slow: the same with user {} who stops reading now (receive buffer {} bytes)", slow.id, a.slow_rcvbuf);
    let started_us = now_us();
    let (with_slow, slow_sent) = phase_with_extra(&connected.conns, &stats, a, rate, 2, slow.id).await;
    // Now read what the slow client was sent: the server's Close (4008), the TCP connection's
    // end, or, if it was never dropped, frames until the time limit.
    let (end, frames) = crate::conn::drain(&mut slow_ws, Duration::from_secs(10)).await;
    let offline_at = stats.slow_offline_at_us.load(Ordering::Relaxed);
    let mut result = common_json(ctx, count, &connected, &stats, &wire);
    stats.closing.store(true, Ordering::Relaxed);
    close_all(&connected.conns).await;

    let disconnected = matches!(end, Some(End::ServerClose(_) | End::Eof | End::Error(_)));
    let end_class = end.as_ref().map_or_else(|| "still open after 10 s of reading".to_owned(), End::class);
    let offline_after_ms = (offline_at != 0).then(|| round2((offline_at - started_us) as f64 / 1000.0));
    let p99 = |p: &Value| p["store_to_recipient"]["p99_ms"].as_f64().unwrap_or(f64::NAN);
    result["scenario"] = json!("slow");
    result["baseline"] = baseline.clone();
    result["with_slow"] = with_slow.clone();
    result["reading_client"] = json!({"user_id": sink.id, "dms_sent_to_it": sink_sent, "frames_it_read": sink_received, "dropped": sink_dropped});
    result["slow"] = json!({
        "user_id": slow.id, "dms_sent_to_it": slow_sent, "dm_rate": a.slow_rate, "dm_chars": a.slow_bytes,
        "rcvbuf": a.slow_rcvbuf, "disconnected": disconnected, "end": end_class,
        "close_code": match end { Some(End::ServerClose(c)) => Some(c), _ => None },
        "frames_read_before_end": frames, "presence_offline_after_ms": offline_after_ms,
        "frames_read_on_connect": early_frames, "dropped_while_reading": early_end.as_ref().map(End::class),
    });
    result["p99_ms_baseline"] = json!(p99(&baseline));
    result["p99_ms_with_slow"] = json!(p99(&with_slow));
    let mut rows =
        vec![row("connected", format!("{} of {count} (+1 reading, then +1 not reading)", connected.conns.len()))];
    rows.extend(phase_rows("baseline: ", &baseline));
    rows.push(row("baseline: reading client", format!("{sink_sent} DMs sent to it, {sink_received} frames read")));
    rows.extend(phase_rows("with slow client: ", &with_slow));
    rows.push(row(
        "slow client",
        format!("{end_class}; {frames} frames read after the run; {slow_sent} DMs sent to it"),
    ));
    rows.push(row(
        "slow client offline (presence) after",
        offline_after_ms.map_or("not seen".to_owned(), |ms| format!("{ms} ms")),
    ));
    rows.push(row("errors / disconnects", format!("{} / {}", result["errors"], result["disconnects"])));
    // A drop that came while it still read, or of the reading client, is not the slow-consumer rule at work.
    let valid = early_end.is_none() && sink_dropped.is_empty();
    result["valid"] = json!(valid);
    if !valid {
        rows.push(row("NOT VALID", "a client that was reading was disconnected (see the log)"));
    }
    emit(&result, &rows, ctx.common.out.as_deref())?;
    let ok = valid && disconnected && with_slow["lost"] == 0 && baseline["lost"] == 0;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_round_trips() {
        let c = content(2, true, 41, 1_700_000_000_000_123);
        assert_eq!(c, "wl 2 m 41 1700000000000123");
        assert_eq!(parse_content(&c), Some(Tag { phase: 2, measured: true, seq: 41, send_us: 1_700_000_000_000_123 }));
        assert_eq!(parse_content("wl 1 w 0 5").map(|t| t.measured), Some(false));
        assert_eq!(parse_content("ws xxxx"), None);
        assert_eq!(parse_content("wl 1 q 0 5"), None);
        assert_eq!(parse_content("hello"), None);
    }

    #[test]
    fn partners_pair_up_and_an_odd_one_writes_to_the_first() {
        assert_eq!((0..4).map(|i| partner(i, 4)).collect::<Vec<_>>(), vec![1, 0, 3, 2]);
        assert_eq!(partner(4, 5), 0);
    }

    /// A DM from user 1 to user 2 (both get it).
    fn dm(content: &str, created_at: &str) -> Event {
        serde_json::from_value(json!({"type": "chat.dm", "data": {
            "id": 1, "room": null, "sender_id": 1, "recipient_id": 2, "content": content, "created_at": created_at}}))
        .unwrap()
    }

    #[test]
    fn the_recipient_measures_from_the_store_and_the_sender_counts_its_copy() {
        let s = Stats::default();
        s.start_phase(1);
        // Stored at 1.000 s, sent at 0.999 s, arriving at 1.002 s.
        s.on_event(2, &dm("wl 1 m 0 999000", "1970-01-01T00:00:01Z"), 1_002_000);
        s.on_event(1, &dm("wl 1 m 0 999000", "1970-01-01T00:00:01Z"), 1_001_500);
        // Warm-up: counted, not measured. Another phase: ignored.
        s.on_event(2, &dm("wl 1 w 1 999000", "1970-01-01T00:00:01Z"), 1_002_000);
        s.on_event(2, &dm("wl 0 m 2 999000", "1970-01-01T00:00:01Z"), 1_002_000);
        assert_eq!((s.received.load(Ordering::Relaxed), s.echoes.load(Ordering::Relaxed)), (2, 1));
        let store = s.store_to_recipient.summary();
        assert_eq!(store.count, 1);
        assert!((store.max_ms - 2.0).abs() < 0.01, "{store:?}");
        assert!((s.send_to_recipient.summary().max_ms - 3.0).abs() < 0.01);
        assert!((s.send_to_echo.summary().max_ms - 2.5).abs() < 0.01);
    }

    #[test]
    fn an_offline_presence_of_the_slow_client_is_noted_once() {
        let s = Stats::default();
        s.slow_user.store(9, Ordering::Relaxed);
        let ev = |status: &str| -> Event {
            serde_json::from_value(json!({"type": "presence", "data": {"user_id": 9, "status": status}})).unwrap()
        };
        s.on_event(1, &ev("online"), 10);
        assert_eq!(s.slow_offline_at_us.load(Ordering::Relaxed), 0);
        s.on_event(1, &ev("offline"), 20);
        s.on_event(3, &ev("offline"), 30);
        assert_eq!(s.slow_offline_at_us.load(Ordering::Relaxed), 20);
        assert_eq!(s.presence.load(Ordering::Relaxed), 3);
    }
}
