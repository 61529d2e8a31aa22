//! `wsload`: a WebSocket load generator for Workbench's `/api/v1/ws`.
//!
//! Scenarios: `hold` (idle sockets and the server's memory per socket), `dm` (direct messages at
//! a rate, latency from store to recipient), `tasks` (task events to owner and assignee), `room`
//! (one message to a big room), `slow` (a client that stops reading). Each prints one JSON line
//! on stdout and a table on stderr. See `wsload --help` and `scripts/ws-bench.sh`.

mod conn;
mod pacer;
mod report;
mod scenarios;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};

/// mimalloc, as the server: it asks for transparent huge pages for its heap. With glibc's malloc
/// on 4 KiB pages, waking 5,000 socket tasks in one burst missed the TLB at each task (95% of the
/// time of tokio's `wake_by_val` on its first load, measured with `perf`), and the client, not
/// the server, set the last member's arrival in `floor` and `room`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What this process's log lines say after `wsload` (a child process: its accounts).
static LOG_TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub fn set_log_tag(tag: String) {
    let _ = LOG_TAG.set(tag);
}

pub fn log_tag() -> &'static str {
    LOG_TAG.get().map_or("", String::as_str)
}

/// One line on stderr (progress and diagnostics; results go to stdout).
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "[wsload{} {}] {}",
            $crate::log_tag(),
            chrono::Utc::now().format("%H:%M:%S%.3f"),
            format_args!($($arg)*)
        );
    }};
}

#[derive(Debug, Parser)]
#[command(name = "wsload", about = "WebSocket load generator for Workbench's /api/v1/ws", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every scenario takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The server's base URL.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080", env = "WSLOAD_URL")]
    pub url: String,
    /// Loopback source addresses to spread sockets over (127.0.0.1 ..= 127.0.0.N), ~28k ports each;
    /// 0 lets the kernel choose (a single address).
    #[arg(long, global = true, default_value_t = 8)]
    pub sources: u8,
    /// The server's process id, to read its memory (VmRSS in `/proc/<pid>/status`).
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// The first account index: accounts are `wsload-<first-user>` onwards.
    #[arg(long, global = true, default_value_t = 0)]
    pub first_user: usize,
    /// This process's part of the accounts, `K/N` (0-based K): its accounts are the K-th of N equal
    /// slices, and rates are divided by N. Run N processes, one per K, to pass the 20,000 file
    /// descriptors a process may hold here.
    #[arg(long, global = true)]
    pub shard: Option<Shard>,
    /// Where access tokens are cached between runs.
    #[arg(long, global = true, default_value = "target/ws-bench/wsload-tokens.json", env = "WSLOAD_TOKENS")]
    pub tokens: PathBuf,
    /// Registrations and sign-ins in flight at once.
    #[arg(long, global = true, default_value_t = 64)]
    pub auth_concurrency: usize,
    /// WebSocket handshakes in flight at once.
    #[arg(long, global = true, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Append the JSON result line to this file too.
    #[arg(long, global = true)]
    pub out: Option<PathBuf>,
}

/// `K/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 0/2")?;
        let k: usize = k.trim().parse().map_err(|_| format!("K in {s} is not a number"))?;
        let n: usize = n.trim().parse().map_err(|_| format!("N in {s} is not a number"))?;
        if n == 0 || k >= n {
            return Err(format!("{s}: need 0 <= K < N"));
        }
        Ok(Self { k, n })
    }
}

impl Shard {
    /// The slice `(first, count)` of `total` accounts starting at `first` that is this shard's:
    /// slices differ in length by at most one and cover every account once.
    pub fn slice(self, first: usize, total: usize) -> (usize, usize) {
        let start = total * self.k / self.n;
        let end = total * (self.k + 1) / self.n;
        (first + start, end - start)
    }
}

impl Common {
    /// This process's accounts `(first, count)` out of `total`.
    pub fn accounts(&self, total: usize) -> (usize, usize) {
        match self.shard {
            Some(s) => s.slice(self.first_user, total),
            None => (self.first_user, total),
        }
    }

    /// This process's share of an aggregate `rate`.
    pub fn rate_share(&self, rate: f64) -> f64 {
        rate / self.shard.map_or(1, |s| s.n) as f64
    }

    pub fn base(&self) -> String {
        self.url.trim_end_matches('/').to_owned()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register and sign in accounts (and fill the token cache) without opening sockets.
    Users(scenarios::UsersArgs),
    /// Hold N authenticated idle sockets; report errors, disconnects and the server's memory per socket.
    Hold(scenarios::hold::HoldArgs),
    /// Direct messages between pairs of connected users at an aggregate rate; store-to-recipient latency.
    Dm(scenarios::dm::DmArgs),
    /// Tasks created over HTTP with another connected user as assignee; task.created latency at both.
    Tasks(scenarios::tasks::TasksArgs),
    /// One message to a room of M joined members; time until the last member has it.
    Room(scenarios::room::RoomArgs),
    /// The room's fan-out with no server: one frame written to M loopback connections by a pinned
    /// thread, read as `room` reads it (what the kernel and this client cost on the machine).
    Floor(scenarios::floor::FloorArgs),
    /// DM load with one extra client that never reads: is it dropped, and do the others keep their p99?
    Slow(scenarios::dm::SlowArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            log!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(scenarios::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            log!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn shards_parse_and_cover_every_account_once() {
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { k: 1, n: 3 }));
        assert!("3/3".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        let n = 3;
        let slices: Vec<(usize, usize)> = (0..n).map(|k| Shard { k, n }.slice(100, 10)).collect();
        assert_eq!(slices, vec![(100, 3), (103, 3), (106, 4)]);
    }

    #[test]
    fn scenario_options_parse() {
        let cli = Cli::try_parse_from([
            "wsload",
            "--url",
            "http://127.0.0.1:9000/",
            "dm",
            "--connections",
            "200",
            "--rate",
            "500",
            "--secs",
            "5",
            "--shard",
            "1/2",
        ])
        .unwrap();
        assert_eq!(cli.common.base(), "http://127.0.0.1:9000");
        assert_eq!(cli.common.accounts(200), (100, 100));
        assert!((cli.common.rate_share(500.0) - 250.0).abs() < f64::EPSILON);
        let Command::Dm(dm) = cli.command else { panic!("dm expected") };
        assert_eq!((dm.connections, dm.secs), (200, 5));
    }
}
