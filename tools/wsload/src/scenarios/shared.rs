//! What the scenarios share: the HTTP client, accounts, opening many sockets, and the server's
//! memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::conn::{Conn, Connector, Handler, Tally, Wire};
use crate::users::{self, User};
use crate::{Common, log};

/// What every scenario is handed.
#[derive(Debug)]
pub struct Ctx {
    pub common: Common,
    pub base: String,
    pub http: reqwest::Client,
    pub connector: Connector,
}

/// Accounts `first..first + count`, signed in (from the token cache where possible).
pub async fn accounts(ctx: &Ctx, first: usize, count: usize) -> anyhow::Result<Vec<User>> {
    users::ensure(&ctx.http, &ctx.base, first, count, &ctx.common.tokens, ctx.common.auth_concurrency).await
}

/// The sockets of a scenario, opened.
#[derive(Debug)]
pub struct Connected {
    /// In the order of the accounts; the accounts whose socket failed are missing.
    pub conns: Vec<Conn>,
    pub failed: Tally,
    pub secs: f64,
}

/// Opens one socket per account, `--connect-concurrency` handshakes at a time, and starts the
/// task of each with `handler`.
pub async fn connect_all<H: Handler>(ctx: &Ctx, users: &[User], handler: &Arc<H>, wire: &Arc<Wire>) -> Connected {
    let started = Instant::now();
    let failed = Tally::default();
    let done = Arc::new(AtomicU64::new(0));
    let total = users.len();
    let progress = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                log!("  connected {}/{total}", done.load(Ordering::Relaxed));
            }
        })
    };
    let mut results: Vec<(usize, Option<Conn>)> = futures_util::stream::iter(users.iter().enumerate())
        .map(|(pos, u)| {
            let done = Arc::clone(&done);
            let failed = &failed;
            async move {
                let r = match ctx.connector.connect(u.index, &u.token).await {
                    Ok(ws) => Some(crate::conn::spawn(ws, u.id, Arc::clone(handler), Arc::clone(wire))),
                    Err(e) => {
                        if failed.total() < 5 {
                            log!("connect {}: {e}", users::username(u.index));
                        }
                        failed.add(e.class());
                        None
                    }
                };
                done.fetch_add(1, Ordering::Relaxed);
                (pos, r)
            }
        })
        .buffer_unordered(ctx.common.connect_concurrency.max(1))
        .collect()
        .await;
    progress.abort();
    results.sort_by_key(|(pos, _)| *pos);
    let conns: Vec<Conn> = results.into_iter().filter_map(|(_, c)| c).collect();
    let secs = started.elapsed().as_secs_f64();
    log!("connected {}/{total} in {secs:.1} s ({} failed)", conns.len(), failed.total());
    Connected { conns, failed, secs }
}

/// Closes every socket cleanly and waits (a few seconds at most) for their tasks to finish.
pub async fn close_all(conns: &[Conn]) {
    futures_util::stream::iter(conns)
        .for_each_concurrent(1024, |c| async move {
            let _ = c.tx.send(crate::conn::Out::Close).await;
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    for c in conns {
        while !c.tx.is_closed() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// VmRSS of a process, in KiB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    parse_vmrss(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

pub fn parse_vmrss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// This process's own VmRSS, in KiB.
pub fn own_rss_kb() -> Option<u64> {
    parse_vmrss(&std::fs::read_to_string("/proc/self/status").ok()?)
}

pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Waits until `done()` holds or `limit` passes; true when it held.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmrss_is_read_in_kib() {
        let status = "Name:\tworkbench\nVmPeak:\t  900 kB\nVmRSS:\t  123456 kB\nThreads:\t4\n";
        assert_eq!(parse_vmrss(status), Some(123_456));
        assert_eq!(parse_vmrss("Name: x\n"), None);
        assert!(own_rss_kb().is_some_and(|kb| kb > 0));
    }
}
