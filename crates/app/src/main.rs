//! `workbench`: the server and its operator commands.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use workbench_app::{Application, Settings, openapi, server, telemetry};
use workbench_users::{AuthError, NewAccount, Role};

/// mimalloc instead of the system allocator: requests allocate many small, short-lived buffers
/// across threads, where glibc's malloc measured several percent of the server's time.
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
    /// Serve the HTTP API (the default).
    Serve,
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
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(e) => return fail(&e),
    };
    // Held until the end of `main`, so that queued log lines are written before the process exits.
    let _logs = telemetry::init(settings.log_format);
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => server::open_database(&settings).await.map(drop),
        Command::Seed { demo: _, force } => seed(settings, force).await,
        Command::Openapi => unreachable!("handled before configuration is loaded"),
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
    let state = server::build_state(&settings, db).await?;
    match state.auth.register(account, role).await {
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
    let state = server::build_state(&settings, db).await?;
    let report = workbench_app::seed::demo(&state, force).await?;
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
    Ok(())
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
