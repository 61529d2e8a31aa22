//! `rateload`: the bench's `mixed` scenario offered at a constant rate, for comparing tails.
//!
//! A closed-loop generator (wrk, the shared `compare.sh`) sends the next request when the last
//! answer comes, so each server is measured at the load it can take, and a server that stalls is
//! asked less while it stalls. Here every server is offered the same requests per second on the
//! same connections; a request's latency counts from when it was due (see `schedule`), so the
//! percentiles are what a client at that rate sees. `scripts/bench-latency.sh` runs it against
//! Workbench and the peers in turn.

mod mix;
mod report;
mod schedule;
mod seed;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use crate::mix::Call;
use crate::report::{Recorder, Report};
use crate::schedule::{Schedule, counted_from};

#[derive(Debug, Parser)]
#[command(
    name = "rateload",
    version,
    about = "The bench `mixed` scenario at a constant rate, latency without coordinated omission"
)]
struct Cli {
    /// The server's origin, e.g. http://127.0.0.1:3003.
    #[arg(long)]
    base: String,
    /// Requests offered per second.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seconds offered at the same rate before measuring (caches, pools and plans warm up).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Keep-alive connections sharing the rate.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Tasks seeded for the user before the load.
    #[arg(long, default_value_t = 1000)]
    tasks: u32,
    /// The peer's name in the report.
    #[arg(long, default_value = "server")]
    label: String,
    /// Seconds a request may take before it counts as an error.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(report) => {
            let json = serde_json::to_string(&report).expect("a report is plain data");
            let _ = writeln!(std::io::stdout(), "{json}");
            let _ = writeln!(std::io::stderr(), "{}", report.line());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "rateload: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<Report> {
    anyhow::ensure!(cli.rate > 0.0 && cli.connections > 0, "--rate and --connections must be positive");
    let base = cli.base.trim_end_matches('/').to_owned();
    let timeout = Duration::from_secs(cli.timeout);
    let session = seed::session(&base, cli.tasks, timeout).await?;
    let _ = writeln!(
        std::io::stderr(),
        "rateload {}: {} tasks seeded; {} s warm-up, {} s at {} req/s over {} connections",
        cli.label,
        session.mix.ids.len(),
        cli.warmup,
        cli.duration,
        cli.rate,
        cli.connections
    );
    let session = Arc::new(session);

    if cli.warmup > 0 {
        offer(&session, &cli, Duration::from_secs(cli.warmup), timeout).await?;
    }
    let measured = Duration::from_secs(cli.duration);
    let recorder = offer(&session, &cli, measured, timeout).await?;
    Ok(recorder.report(&cli.label, cli.rate, measured, cli.connections))
}

/// Offers `cli.rate` requests a second for `span` on `cli.connections` connections and records
/// every answer.
async fn offer(session: &Arc<seed::Session>, cli: &Cli, span: Duration, timeout: Duration) -> anyhow::Result<Recorder> {
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + span;
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..cli.connections {
        let schedule = Schedule::spread(start, cli.rate, cli.connections, index);
        let client = seed::client(timeout)?;
        let session = Arc::clone(session);
        workers.spawn(connection(client, session, schedule, end, index));
    }
    let mut total = Recorder::default();
    while let Some(recorder) = workers.join_next().await {
        total.merge(&recorder?);
    }
    Ok(total)
}

/// One connection's share: each request sent at its moment (or at once when the last answer
/// came after it), then read to its end.
async fn connection(
    client: reqwest::Client,
    session: Arc<seed::Session>,
    schedule: Schedule,
    end: Instant,
    index: u32,
) -> Recorder {
    let mut rng = StdRng::seed_from_u64(0x5eed ^ u64::from(index));
    let mut recorder = Recorder::default();
    let mut free = Instant::now();
    for k in 0.. {
        let due = schedule.due(k);
        if due >= end {
            break;
        }
        if Instant::now() >= end {
            // Due inside the window but never sent: the server held this connection past the
            // end. Each still counts, with what it had waited so far (a floor on its latency).
            let now = Instant::now();
            let mut late = k;
            while schedule.due(late) < end {
                recorder.unsent(now - schedule.due(late));
                late += 1;
            }
            break;
        }
        tokio::time::sleep_until(due).await;
        let sent = Instant::now();
        let call = session.mix.draw(&mut rng, (u64::from(index) << 32) | k);
        let ok = session.send(&client, &call).await;
        free = {
            let answered = Instant::now();
            recorder.record(call.name(), answered - counted_from(due, free, sent), ok);
            answered
        };
    }
    recorder
}

impl seed::Session {
    /// Sends one call and reads its answer; `true` for a 2xx.
    async fn send(&self, client: &reqwest::Client, call: &Call) -> bool {
        let api = &self.api;
        let request = match call {
            Call::Get { id } => client.get(format!("{api}/tasks/{id}")),
            Call::List { page, status: None } => client.get(format!("{api}/tasks?per_page=20&page={page}")),
            Call::List { page, status: Some(status) } => {
                client.get(format!("{api}/tasks?per_page=20&page={page}&status={status}"))
            }
            Call::Patch { id, status } => client
                .patch(format!("{api}/tasks/{id}"))
                .header("Content-Type", "application/json")
                .body(format!(r#"{{"status":"{status}"}}"#)),
            Call::Create { n, priority } => client
                .post(format!("{api}/tasks"))
                .header("Content-Type", "application/json")
                .body(format!(
                    r#"{{"title":"Mixed task {n}","description":"Created during the mixed load","priority":"{priority}"}}"#
                )),
        };
        match request.bearer_auth(&self.token).send().await {
            Ok(response) => {
                let ok = response.status().is_success();
                response.bytes().await.is_ok() && ok
            }
            Err(_) => false,
        }
    }
}
