//! The job queue by hand: enqueue slow jobs, run a worker, `kill -9` it, run another, and see
//! that nothing was lost.
//!
//! ```text
//! cargo run --release -p workbench-store --example jobs_demo -- <database-url> enqueue 8
//! cargo run --release -p workbench-store --example jobs_demo -- <database-url> work &   # then: kill -9 $!
//! cargo run --release -p workbench-store --example jobs_demo -- <database-url> status
//! cargo run --release -p workbench-store --example jobs_demo -- <database-url> work     # Ctrl-C stops it gracefully
//! ```
//!
//! `work` runs 4 workers on `demo.sleep` jobs (2 s each) with a 5 s lease, so a killed worker's
//! jobs are rescued about 5 to 10 s later; Ctrl-C (or SIGTERM) shuts down gracefully and releases
//! what it held at once.

use std::sync::Arc;
use std::time::Duration;

use workbench_core::PageRequest;
use workbench_jobs::{Handlers, JobOutcome, JobQueue, JobRuntime, JobState, NewJob, RuntimeConfig, handler_fn};
use workbench_store::{Database, DieselJobStore, PoolOptions};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[expect(clippy::print_stdout, reason = "this program's output is for the person running it")]
#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(command)) = (args.first(), args.get(1)) else {
        return Err("usage: jobs_demo <database-url> enqueue N | work | status".into());
    };
    let db = Database::connect(url, PoolOptions::default_for(workbench_store::Backend::from_url(url)))?;
    db.migrate()?;
    let store = Arc::new(DieselJobStore::new(db));
    let queue = JobQueue::new(store.clone());
    match command.as_str() {
        "enqueue" => {
            let n: usize = args.get(2).map(|n| n.parse()).transpose()?.unwrap_or(8);
            let jobs = (0..n).map(|i| NewJob::new("demo.sleep", serde_json::json!({ "n": i }))).collect();
            let ids: Vec<String> =
                queue.enqueue_many(jobs).await?.iter().filter_map(|e| e.id()).map(|id| id.to_string()).collect();
            println!("enqueued {} jobs: {}", ids.len(), ids.join(", "));
        }
        "work" => {
            let handlers = Handlers::new().register(
                "demo.sleep",
                handler_fn(|job| async move {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    println!("job {} (attempt {}) done", job.id, job.attempt);
                    Ok(JobOutcome::done())
                }),
            )?;
            let config = RuntimeConfig {
                lease: Duration::from_secs(5),
                rescue_interval: Duration::from_secs(2),
                ..RuntimeConfig::new(4)
            };
            let runtime = JobRuntime::builder(store, handlers).config(config).start()?;
            println!("worker {} running; Ctrl-C stops it gracefully, kill -9 does not", runtime.instance());
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            let report = runtime.shutdown(Duration::from_secs(10)).await;
            println!("stopped: {} interrupted, {} released", report.interrupted, report.released);
        }
        "status" => {
            for (state, n) in queue.counts().await?.iter().filter(|(_, n)| *n > 0) {
                println!("{state:>10}: {n}");
            }
            let page = queue.list(None, PageRequest::new(Some(1), Some(100))?).await?;
            for job in page.items.iter().rev() {
                let errors: Vec<&str> = job.errors.iter().map(|e| e.error.as_str()).collect();
                let owner = job.lease_owner.as_deref().unwrap_or("-");
                println!("job {:>4} {:>9} attempt {} lease {owner} errors {errors:?}", job.id, job.state, job.attempt);
            }
            if page.items.iter().all(|j| j.state == JobState::Completed) {
                println!("every job completed");
            }
        }
        other => return Err(format!("unknown command {other:?}").into()),
    }
    Ok(())
}
