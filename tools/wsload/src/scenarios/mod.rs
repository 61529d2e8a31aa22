//! The scenarios, and which one a command runs; what they share is in `shared`.

pub mod dm;
pub mod floor;
pub mod hold;
pub mod room;
mod shared;
pub mod tasks;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::conn::{Connector, loopback_sources};
use crate::report::{emit, row};
use crate::{Cli, Command};
use shared::{Ctx, accounts, round2};

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// How many accounts (`wsload-<first-user>` onwards).
    #[arg(long)]
    pub count: usize,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let common = cli.common;
    let base = common.base();
    let http =
        reqwest::Client::builder().no_proxy().pool_max_idle_per_host(1024).timeout(Duration::from_secs(60)).build()?;
    let sources = if common.sources == 0 { Vec::new() } else { loopback_sources(common.sources) };
    let connector = Connector::new(&base, sources).await?;
    let ctx = Ctx { common, base, http, connector };
    match cli.command {
        Command::Users(a) => {
            let (first, count) = ctx.common.accounts(a.count);
            let started = Instant::now();
            let users = accounts(&ctx, first, count).await?;
            let result = json!({"scenario": "users", "accounts": users.len(), "first": first,
                "secs": round2(started.elapsed().as_secs_f64())});
            emit(
                &result,
                &[row("accounts ready", users.len()), row("seconds", result["secs"].clone())],
                ctx.common.out.as_deref(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Hold(a) => hold::run(&ctx, &a).await,
        Command::Dm(a) => dm::run_dm(&ctx, &a).await,
        Command::Slow(a) => dm::run_slow(&ctx, &a).await,
        Command::Tasks(a) => tasks::run(&ctx, &a).await,
        Command::Room(a) => room::run(&ctx, &a).await,
        Command::Floor(a) => floor::run(&a, ctx.common.sources, ctx.common.out.as_deref()).await,
    }
}
