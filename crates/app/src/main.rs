//! `workbench`: the server and its operator commands.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use workbench_app::{Application, Settings, openapi, server, telemetry, wiring};
use workbench_users::{AuthError, NewAccount, Role};

/// mimalloc instead of the system allocator: requests allocate many small, short-lived buffers
/// across threads, where glibc's malloc measured several percent of the server's time. The
/// `system-allocator` feature leaves it out, so that a heap profiler sees every allocation.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "workbench", version, about = "Workbench: tasks, products, files and the people around them.")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (the default), and run background jobs unless JOB_WORKERS=0.
    Serve {
        /// Route groups to serve, e.g. `auth,users` (overrides WORKBENCH_ROUTES; default all).
        #[arg(long, value_name = "GROUPS")]
        routes: Option<String>,
    },
    /// Run background jobs, schedules and the outbox relay without the API (only /health,
    /// /ready and /metrics are served, on BIND_ADDR).
    Worker,
    /// Exit 0 when the server on BIND_ADDR/PORT answers /health with 200 (a container's
    /// HEALTHCHECK, without curl in the image).
    Healthcheck,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document as JSON.
    Openapi,
    /// Fill an empty database with demo data: a catalogue, and a demo user with tasks and owned
    /// products (refuses when accounts exist, unless --force).
    Seed {
        /// The demo catalogue and demo user (the only kind of seed there is).
        #[arg(long, required = true)]
        demo: bool,
        /// Seed even though accounts exist (categories already there are kept).
        #[arg(long)]
        force: bool,
    },
    /// Write the whole database to one archive (zstd-compressed JSON Lines, one section per
    /// table) from one snapshot, while the server keeps running. Audit log, jobs and outbox are
    /// left out unless --all.
    Export {
        /// The archive to write (written beside it as FILE.partial, renamed when complete).
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        /// Include the operational tables: audit log, jobs and schedule runs, outbox.
        #[arg(long)]
        all: bool,
        /// Copy every file's bytes from the blob store (STORAGE_URL) into the archive;
        /// without it, file rows refer to the blob store, which both databases must share.
        #[arg(long)]
        with_files: bool,
    },
    /// Load an archive into an empty database of either engine (migrating it first); refuses a
    /// database that holds data, or an archive of another migration level.
    Import {
        /// The archive to read.
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
    },
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an account; the password is read from the first line of standard input.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// user, moderator, admin or super_admin.
        #[arg(long, default_value = "user", value_parser = |s: &str| Role::parse(s))]
        role: Role,
    },
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        return write_stdout(&openapi::document_json());
    }
    let mut settings = match Settings::load() {
        Ok(settings) => settings,
        Err(e) => return fail(&e),
    };
    if let Some(Command::Healthcheck) = cli.command {
        return healthcheck(&settings);
    }
    // Held until the end of `main`, so that queued log lines are written before the process exits.
    let _logs = telemetry::init(settings.server.log_format);
    let outcome = match cli.command.unwrap_or(Command::Serve { routes: None }) {
        Command::Serve { routes } => {
            if routes.is_some() {
                settings.server.routes = routes;
            }
            serve(settings).await
        }
        Command::Worker => {
            settings.server.routes = Some("none".to_owned());
            if settings.jobs.workers == 0 {
                tracing::warn!("JOB_WORKERS=0: this worker runs no jobs (it still fires schedules and relays events)");
            }
            serve(settings).await
        }
        Command::Migrate => server::open_database(&settings).await.map(drop),
        Command::Seed { demo: _, force } => seed(settings, force).await,
        Command::Export { output, all, with_files } => export_archive(&settings, &output, all, with_files).await,
        Command::Import { input } => import_archive(&settings, &input).await,
        Command::Openapi => unreachable!("handled before configuration is loaded"),
        Command::Healthcheck => unreachable!("handled before logging is set up"),
        Command::Admin { command: AdminCommand::CreateUser { username, email, role } } => {
            create_user(settings, username, email, role).await
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Every connection is a descriptor: a server may use all that its hard limit allows.
    workbench_app::descriptors::raise_limit();
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn create_user(mut settings: Settings, username: String, email: String, role: Role) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    let account = NewAccount::parse(Some(username), Some(email), Some(password))
        .map_err(|e| anyhow::anyhow!("invalid account: {e}"))?;
    settings.validate()?;
    let db = server::open_database(&settings).await?;
    let wired = wiring::build(&settings, db).await?;
    match wired.state.auth.register(account, role).await {
        Ok(user) => {
            tracing::info!(user_id = user.id.0, username = user.username, role = %user.role, "created user");
            Ok(())
        }
        Err(AuthError::Conflict { field }) => Err(anyhow::anyhow!("that {field} is already taken")),
        Err(e) => Err(e.into()),
    }
}

async fn seed(mut settings: Settings, force: bool) -> anyhow::Result<()> {
    settings.validate()?;
    let db = server::open_database(&settings).await?;
    let wired = wiring::build(&settings, db).await?;
    let report = workbench_app::seed::demo(&wired, force).await?;
    tracing::info!(
        categories = report.categories,
        products = report.products,
        tasks = report.tasks,
        owned_products = report.owned,
        "seeded the demo data"
    );
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Seeded {} categories, {} products; demo user {} <{}> (password {:?}) with {} tasks and {} owned products.",
        report.categories, report.products, report.username, report.email, report.password, report.tasks, report.owned
    )?;
    let members: Vec<String> = report.team.members.iter().map(|(name, role)| format!("{name} ({role})")).collect();
    writeln!(
        out,
        "Project {:?} with {}; every account's password is {:?}.\nShare link (password {:?}, 5 downloads): {}",
        report.team.project,
        members.join(", "),
        report.password,
        workbench_app::seed::SHARE_PASSWORD,
        report.team.share_url
    )?;
    let (project, board) = report.team.board;
    writeln!(
        out,
        "Board: Backlog, Doing, Done (GET /api/v1/projects/{project}/buckets); task {} has subtask {}; task {} blocks {} \
         (GET /api/v1/tasks/{}/relations).",
        board.parent, board.subtask, board.blocker, board.blocked, board.blocked
    )?;
    if let Some(trade) = report.trade {
        writeln!(
            out,
            "Market: sam's and demo's offered items; sam proposes trade {trade} to demo (GET /api/v1/trades)."
        )?;
    }
    writeln!(
        out,
        "Chat: demo sent sam the profile PDF; sam reacted, answered and corrected; {} unread (GET /api/v1/chat/conversations).",
        report.unread
    )?;
    Ok(())
}

/// The database of `settings`, as it is: an export must not migrate the database of a running
/// server (a newer binary would change it under the server), and an import migrates by itself.
async fn archive_database(settings: &Settings) -> anyhow::Result<workbench_store::Database> {
    let url = settings.database_url();
    let options = workbench_store::PoolOptions {
        max_size: 2,
        ..workbench_store::PoolOptions::default_for(workbench_store::Backend::from_url(&url))
    };
    Ok(tokio::task::spawn_blocking(move || workbench_store::Database::connect(&url, options)).await??)
}

fn blob_store(settings: &Settings) -> anyhow::Result<std::sync::Arc<dyn workbench_files::BlobStore>> {
    let (url, s3) = settings.storage()?;
    Ok(workbench_storage::open(&url, &s3)?)
}

async fn export_archive(settings: &Settings, output: &Path, all: bool, with_files: bool) -> anyhow::Result<()> {
    let db = archive_database(settings).await?;
    let blobs = if with_files { Some(blob_store(settings)?) } else { None };
    // Written aside, synced and renamed once whole, readable by its owner alone.
    let (summary, size) =
        workbench_archive::export_to_file(&db, output, workbench_archive::ExportOptions { all, blobs })
            .await
            .map_err(|e| anyhow::anyhow!("cannot export to {}: {e}", output.display()))?;
    report("exported", &summary, Some(size))
}

async fn import_archive(settings: &Settings, input: &Path) -> anyhow::Result<()> {
    let db = archive_database(settings).await?;
    let file = std::fs::File::open(input).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", input.display()))?;
    let options = workbench_archive::ImportOptions { blobs: Some(blob_store(settings)?) };
    let summary = workbench_archive::import(&db, file, options).await?;
    report("imported", &summary, None)
}

/// One line per table and the totals, on standard error (standard output stays free for a
/// pipe).
fn report(verb: &str, summary: &workbench_archive::Summary, archive_bytes: Option<u64>) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    for table in &summary.tables {
        writeln!(err, "{:<28} {:>12} rows", table.name, table.rows)?;
    }
    if summary.blobs > 0 || summary.missing_blobs > 0 {
        writeln!(
            err,
            "{:<28} {:>12} blobs, {} bytes ({} missing from the store)",
            "(files)", summary.blobs, summary.blob_bytes, summary.missing_blobs
        )?;
    }
    let size = archive_bytes.map(|b| format!(", archive {b} bytes")).unwrap_or_default();
    writeln!(
        err,
        "{verb} {} rows of {} tables in {:.1} s: {:.0} rows/s{size}",
        summary.rows,
        summary.tables.len(),
        summary.elapsed.as_secs_f64(),
        summary.rows_per_second()
    )?;
    Ok(())
}

/// `GET /health` on this host's listener (the loopback address when it listens on all), with a
/// two-second budget: `ExitCode::SUCCESS` on a 200.
fn healthcheck(settings: &Settings) -> ExitCode {
    use std::io::Read;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpStream};
    use std::time::Duration;
    let mut addr = match settings.listen_addr() {
        Ok(addr) => addr,
        Err(e) => return fail(&e),
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { IpAddr::V6(Ipv6Addr::LOCALHOST) });
    }
    let budget = Duration::from_secs(2);
    let answer = TcpStream::connect_timeout(&addr, budget).and_then(|mut stream| {
        stream.set_read_timeout(Some(budget))?;
        stream.set_write_timeout(Some(budget))?;
        stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut head = [0u8; 64];
        let mut read = 0;
        while read < head.len() {
            match stream.read(&mut head[read..])? {
                0 => break,
                n => read += n,
            }
        }
        Ok(String::from_utf8_lossy(&head[..read]).into_owned())
    });
    match answer {
        Ok(head) if head.split_whitespace().nth(1) == Some("200") => ExitCode::SUCCESS,
        Ok(head) => fail(&format!("/health on {addr} answered {:?}", head.lines().next().unwrap_or_default())),
        Err(e) => fail(&format!("/health on {addr}: {e}")),
    }
}

fn write_stdout(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    // Logging may not be set up yet (a configuration error), so write to stderr directly.
    let _ = writeln!(std::io::stderr(), "workbench: {error:#}");
    ExitCode::FAILURE
}
