//! `hold`: N authenticated idle sockets held past a ping period; errors, disconnects, and the
//! server's memory per socket measured as the Socket.IO anchor does: (RSS with the sockets open −
//! RSS before) / sockets.
//!
//! One process may hold 20,000 file descriptors here, so `--procs P` runs the sockets in P child
//! processes of this binary (each `--shard k/P`), driven over their stdin and stdout by this one.

use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::shared::{Ctx, close_all, connect_all, own_rss_kb, round2, rss_kb};
use crate::conn::{End, Event, Handler, Wire};
use crate::report::{emit, row};
use crate::{Shard, log, users};

/// One server process here cannot hold many more sockets than this (its own 20,000 descriptors).
const SERVER_SOCKET_CEILING: usize = 19_900;

#[derive(Debug, Args)]
pub struct HoldArgs {
    /// Sockets to open and hold.
    #[arg(long)]
    pub connections: usize,
    /// How long to hold them once all are open (more than one 25 s ping period).
    #[arg(long, default_value_t = 40)]
    pub hold_secs: u64,
    /// Client processes to spread the sockets over (each holds connections/procs); 0 picks
    /// enough for at most 9,500 sockets each.
    #[arg(long, default_value_t = 0)]
    pub procs: usize,
    /// Seconds to let the server settle after the last socket opened, before reading its memory.
    #[arg(long, default_value_t = 3)]
    pub settle_secs: u64,
    /// Internal: run as one of the child processes (lines on stdin/stdout drive it).
    #[arg(long, hide = true)]
    pub child: bool,
}

#[derive(Debug, Default)]
struct Idle {
    closing: AtomicBool,
    /// Sockets that ended while we were holding them.
    disconnects: AtomicU64,
    /// Events received on sockets that should be idle.
    events: AtomicU64,
}

impl Handler for Idle {
    fn on_event(&self, _me: i64, _ev: &Event, _at_us: i64) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    fn on_end(&self, _me: i64, end: &End) {
        if *end != End::Closed && !self.closing.load(Ordering::Relaxed) {
            self.disconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The sockets of this process.
struct Local {
    connected: super::shared::Connected,
    idle: Arc<Idle>,
    wire: Arc<Wire>,
}

async fn open(ctx: &Ctx, first: usize, count: usize, from_cache_only: bool) -> anyhow::Result<Local> {
    let accounts = if from_cache_only {
        users::from_cache(&ctx.common.tokens, &ctx.base, first, count)?
    } else {
        super::shared::accounts(ctx, first, count).await?
    };
    let idle = Arc::new(Idle::default());
    let wire = Arc::new(Wire::default());
    let connected = connect_all(ctx, &accounts, &idle, &wire).await;
    Ok(Local { connected, idle, wire })
}

impl Local {
    fn connected_json(&self) -> Value {
        json!({"ev": "connected", "connected": self.connected.conns.len(),
            "connect_failed": self.connected.failed.total(), "connect_failures": self.connected.failed.snapshot(),
            "connect_secs": round2(self.connected.secs)})
    }

    async fn hold(&self, secs: u64) -> Value {
        let started = Instant::now();
        let until = started + Duration::from_secs(secs);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(5).min(until.saturating_duration_since(Instant::now()))).await;
            log!(
                "  holding {:.0}/{secs} s: disconnects {}, server pings answered {}",
                started.elapsed().as_secs_f64(),
                self.idle.disconnects.load(Ordering::Relaxed),
                self.wire.pings.load(Ordering::Relaxed)
            );
        }
        json!({"ev": "held", "disconnects": self.idle.disconnects.load(Ordering::Relaxed),
            "pings": self.wire.pings.load(Ordering::Relaxed), "events": self.idle.events.load(Ordering::Relaxed),
            "unparsed": self.wire.unparsed.load(Ordering::Relaxed), "ends": self.wire.ends.snapshot(),
            "client_rss_kb": own_rss_kb()})
    }

    async fn close(&self) {
        self.idle.closing.store(true, Ordering::Relaxed);
        close_all(&self.connected.conns).await;
    }
}

pub async fn run(ctx: &Ctx, a: &HoldArgs) -> anyhow::Result<ExitCode> {
    if a.child {
        return child(ctx, a).await;
    }
    let (first, count) = ctx.common.accounts(a.connections);
    if count > SERVER_SOCKET_CEILING {
        log!(
            "warning: {count} sockets exceed what one server process can hold here (~{SERVER_SOCKET_CEILING}: 20,000 descriptors)"
        );
    }
    let procs = if a.procs == 0 { count.div_ceil(9_500).max(1) } else { a.procs };
    // Every account signed in before any socket opens (and before the memory baseline).
    super::shared::accounts(ctx, first, count).await?;
    if let Some(pid) = ctx.common.server_pid {
        // Let the sign-in burst's allocations settle out of the baseline.
        tokio::time::sleep(Duration::from_secs(a.settle_secs)).await;
        if rss_kb(pid).is_none() {
            bail!("cannot read /proc/{pid}/status (--server-pid)");
        }
    }
    let rss_before = ctx.common.server_pid.and_then(rss_kb);
    log!("holding {count} sockets in {procs} process(es); server RSS before: {rss_before:?} KiB");

    let (connected, rss_connected, held, rss_held) = if procs == 1 {
        let local = open(ctx, first, count, true).await?;
        let connected = local.connected_json();
        tokio::time::sleep(Duration::from_secs(a.settle_secs)).await;
        let rss_connected = ctx.common.server_pid.and_then(rss_kb);
        let held = local.hold(a.hold_secs).await;
        let rss_held = ctx.common.server_pid.and_then(rss_kb);
        local.close().await;
        (connected, rss_connected, held, rss_held)
    } else {
        let mut kids = Vec::new();
        for k in 0..procs {
            let (kf, kc) = Shard { k, n: procs }.slice(first, count);
            kids.push(Kid::spawn(ctx, a, kf, kc)?);
        }
        let mut connected = Vec::new();
        for kid in &mut kids {
            connected.push(kid.expect("connected").await?);
        }
        tokio::time::sleep(Duration::from_secs(a.settle_secs)).await;
        let rss_connected = ctx.common.server_pid.and_then(rss_kb);
        for kid in &mut kids {
            kid.say("hold").await?;
        }
        let mut held = Vec::new();
        for kid in &mut kids {
            held.push(kid.expect("held").await?);
        }
        let rss_held = ctx.common.server_pid.and_then(rss_kb);
        for kid in &mut kids {
            kid.say("close").await?;
        }
        for kid in &mut kids {
            kid.expect("closed").await?;
            let _ = kid.child.wait().await;
        }
        (merge(&connected), rss_connected, merge(&held), rss_held)
    };

    let n = connected["connected"].as_u64().unwrap_or(0);
    let per_conn = |after: Option<u64>| match (rss_before, after) {
        (Some(b), Some(a)) if n > 0 => Some(round2((a as f64 - b as f64) / n as f64)),
        _ => None,
    };
    let failed = connected["connect_failed"].as_u64().unwrap_or(0);
    let disconnects = held["disconnects"].as_u64().unwrap_or(0);
    let result = json!({
        "scenario": "hold", "target": count, "procs": procs, "sources": ctx.common.sources,
        "connected": n, "connect_failed": failed, "connect_failures": connected["connect_failures"],
        "connect_secs": connected["connect_secs"], "hold_secs": a.hold_secs,
        "disconnects": disconnects, "ends": held["ends"], "server_pings_answered": held["pings"],
        "events_received": held["events"], "unparsed_frames": held["unparsed"],
        "server_rss_kb_before": rss_before, "server_rss_kb_connected": rss_connected, "server_rss_kb_after_hold": rss_held,
        "rss_per_conn_kb": per_conn(rss_held), "rss_per_conn_kb_at_connect": per_conn(rss_connected),
        "client_rss_kb": held["client_rss_kb"],
        "ok": failed == 0 && disconnects == 0 && n as usize == count,
    });
    let mb = |kb: Option<u64>| kb.map_or("-".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    let rows = [
        row(
            "sockets held",
            format!("{n} of {count} ({procs} client process(es), {} source addresses)", ctx.common.sources),
        ),
        row("connect failures", format!("{failed} {}", connected["connect_failures"])),
        row("time to connect all", format!("{} s", connected["connect_secs"])),
        row(format!("disconnects during {} s", a.hold_secs), disconnects),
        row("server pings answered", held["pings"].clone()),
        row(
            "server RSS before / connected / after hold",
            format!("{} / {} / {}", mb(rss_before), mb(rss_connected), mb(rss_held)),
        ),
        row("server RSS per socket (after hold)", per_conn(rss_held).map_or("-".to_owned(), |v| format!("{v} KB"))),
        row(
            "server RSS per socket (at connect)",
            per_conn(rss_connected).map_or("-".to_owned(), |v| format!("{v} KB")),
        ),
    ];
    emit(&result, &rows, ctx.common.out.as_deref())?;
    Ok(if result["ok"] == true { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// Sums the numbers of the children's lines (the connect time: the slowest child's).
fn merge(lines: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    for line in lines {
        let Some(obj) = line.as_object() else { continue };
        for (k, v) in obj {
            let merged = match (out.get(k), v) {
                (_, Value::String(_)) => v.clone(),
                (Some(Value::Number(a)), Value::Number(b)) if k == "connect_secs" => {
                    json!(a.as_f64().unwrap_or(0.0).max(b.as_f64().unwrap_or(0.0)))
                }
                (Some(Value::Number(a)), Value::Number(b)) => json!(a.as_u64().unwrap_or(0) + b.as_u64().unwrap_or(0)),
                (Some(Value::Object(a)), Value::Object(b)) => {
                    let mut m = a.clone();
                    for (bk, bv) in b {
                        let sum = m.get(bk).and_then(Value::as_u64).unwrap_or(0) + bv.as_u64().unwrap_or(0);
                        m.insert(bk.clone(), json!(sum));
                    }
                    Value::Object(m)
                }
                _ => v.clone(),
            };
            out.insert(k.clone(), merged);
        }
    }
    Value::Object(out)
}

/// A child process holding a shard of the sockets.
struct Kid {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Kid {
    fn spawn(ctx: &Ctx, a: &HoldArgs, first: usize, count: usize) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let c = &ctx.common;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.args(["--url", &ctx.base, "--sources", &c.sources.to_string()])
            .arg("--tokens")
            .arg(&c.tokens)
            .args(["--first-user", &first.to_string(), "--connect-concurrency", &c.connect_concurrency.to_string()])
            .args(["hold", "--child", "--connections", &count.to_string(), "--hold-secs", &a.hold_secs.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("starting a child wsload")?;
        let stdin = child.stdin.take().context("child stdin")?;
        let stdout = child.stdout.take().context("child stdout")?;
        Ok(Self { child, stdin, lines: BufReader::new(stdout).lines() })
    }

    async fn say(&mut self, word: &str) -> anyhow::Result<()> {
        self.stdin.write_all(format!("{word}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    async fn expect(&mut self, ev: &str) -> anyhow::Result<Value> {
        while let Some(line) = self.lines.next_line().await? {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["ev"] == ev
            {
                return Ok(v);
            }
        }
        bail!("a child process ended before it said {ev}")
    }
}

/// The child's side: open the sockets, say so, hold them when told, report, close when told.
async fn child(ctx: &Ctx, a: &HoldArgs) -> anyhow::Result<ExitCode> {
    crate::set_log_tag(format!(" {}..{}", ctx.common.first_user, ctx.common.first_user + a.connections));
    let local = open(ctx, ctx.common.first_user, a.connections, true).await?;
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    say(&local.connected_json()).await?;
    wait_for(&mut stdin, "hold").await?;
    say(&local.hold(a.hold_secs).await).await?;
    wait_for(&mut stdin, "close").await?;
    local.close().await;
    say(&json!({"ev": "closed"})).await?;
    Ok(ExitCode::SUCCESS)
}

async fn say(v: &Value) -> anyhow::Result<()> {
    let mut out = tokio::io::stdout();
    out.write_all(format!("{v}\n").as_bytes()).await?;
    out.flush().await?;
    Ok(())
}

async fn wait_for(stdin: &mut Lines<BufReader<tokio::io::Stdin>>, word: &str) -> anyhow::Result<()> {
    while let Some(line) = stdin.next_line().await? {
        if line.trim() == word {
            return Ok(());
        }
    }
    bail!("stdin closed before {word}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_lines_merge_by_sum_and_slowest_connect() {
        let a = json!({"ev": "held", "disconnects": 1, "connect_secs": 2.5, "ends": {"server close 4008": 1}});
        let b = json!({"ev": "held", "disconnects": 2, "connect_secs": 1.0, "ends": {"server close 4008": 2, "eof without close frame": 1}});
        let m = merge(&[a, b]);
        assert_eq!(m["disconnects"], 3);
        assert_eq!(m["connect_secs"], 2.5);
        assert_eq!(m["ends"], json!({"server close 4008": 3, "eof without close frame": 1}));
        assert_eq!(m["ev"], "held");
    }
}
