//! The bcrypt ceiling: how many password checks one thread completes per second at a cost, the
//! figure login throughput is measured against (`taskset -c 1` pins it to one core).
//!
//! `cargo run --release -p workbench-auth --example bcrypt_loop -- [cost] [seconds]`

use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().map_or(Ok(10), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |a| a.parse())?;
    let hash = bcrypt::hash("correct horse battery", cost)?;
    let (started, deadline) = (Instant::now(), Duration::from_secs(seconds));
    let mut checks = 0u64;
    while started.elapsed() < deadline {
        assert!(bcrypt::verify("correct horse battery", &hash)?);
        checks += 1;
    }
    let rate = checks as f64 / started.elapsed().as_secs_f64();
    #[expect(clippy::print_stdout, reason = "the example's output is its figure")]
    {
        println!(
            "bcrypt cost {cost}: {checks} checks in {:.1} s = {rate:.2} checks/s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
