//! Trade expiry: open trades past their `expires_at` are marked `expired`. Reads show an open
//! trade past its expiry as expired before this runs; the schedule makes the stored state agree,
//! so that lists and the database say the same.

use async_trait::async_trait;
use workbench_jobs::{Job, JobFailure, JobHandler, JobOutcome};
use workbench_trades::TradeService;

pub const EXPIRE_TRADES_KIND: &str = "trades.expire";

/// `trades.expire`: one statement over the open trades past their expiry.
#[derive(Debug, Clone)]
pub struct ExpireTrades {
    trades: TradeService,
}

impl ExpireTrades {
    pub fn new(trades: TradeService) -> Self {
        Self { trades }
    }
}

#[async_trait]
impl JobHandler for ExpireTrades {
    async fn run(&self, _job: &Job) -> Result<JobOutcome, JobFailure> {
        let expired = self.trades.expire().await.map_err(|e| JobFailure::new(e.to_string()))?;
        Ok(JobOutcome::affected(expired))
    }
}
