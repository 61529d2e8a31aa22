//! Building and running one process: settings checked, database opened and migrated, services
//! wired ([`crate::wiring`]), the background started, and the HTTP adapter listening.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::Context;
use workbench_http::{AccessLog, AppState, HttpSettings};
use workbench_realtime::{CloseReason, RealtimeTasks};
use workbench_store::{Backend, Database, PoolOptions};

use crate::background::Background;
use crate::config::{SecretNotice, Settings};
use crate::wiring;

/// A built, listening server, not yet serving.
pub struct Application {
    server: actix_web::dev::Server,
    port: u16,
    state: AppState,
    access: AccessLog,
    background: Background,
    realtime: RealtimeTasks,
    /// Where radio sources connect, and the task serving them (stopped with the application).
    radio_sources: Option<(std::net::SocketAddr, AbortOnDrop)>,
    shutdown_timeout: std::time::Duration,
}

/// A task stopped when its handle goes.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

/// Opens the database named by the settings and applies pending migrations, after making the
/// data directory when it is missing.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    create_data_dir(&settings.server.data_dir)?;
    let url = settings.database_url();
    let backend = Backend::from_url(&url);
    let mut options = PoolOptions::default_for(backend);
    if let Some(size) = settings.database.pool_size {
        options.max_size = size;
    }
    let (db, applied) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let db = Database::connect(&url, options)?;
        let applied = db.migrate()?;
        Ok((db, applied))
    })
    .await??;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied database migrations");
    }
    tracing::info!(backend = backend.as_str(), "database ready");
    Ok(db)
}

/// Makes `DATA_DIR` when it is missing, readable by this account alone (`0700`): it holds the
/// SQLite database, uploaded files, scratch files and backups. One that exists keeps its mode.
fn create_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

impl Application {
    /// Validates the settings, opens and migrates the database, wires the services and binds the
    /// listener. `PORT=0` binds a free port (tests use it); [`Self::port`] tells which.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        match settings.validate()? {
            SecretNotice::Generated => tracing::warn!(
                "JWT_SECRET is not set: generated a random one for this process; tokens will not survive a restart"
            ),
            SecretNotice::Weak => {
                tracing::warn!("JWT_SECRET is weak (under 32 bytes or well known); production mode would refuse it")
            }
            SecretNotice::Configured => {}
        }
        let addr = settings.listen_addr()?;
        let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let port = listener.local_addr()?.port();
        if settings.server.public_url.is_none() {
            // `PORT=0` binds a free port: the derived public URL (token issuer, OAuth callbacks)
            // must name the port really bound.
            settings.server.public_url = Some(format!("http://{}", listener_address(addr, port)));
        }
        let db = open_database(&settings).await?;
        let wired = wiring::build(&settings, db).await?;
        let state = wired.state;
        let access = AccessLog::start(settings.server.log_format)?;
        let background = Background::start(&wired.plan).await?;
        let realtime = state.realtime.start(&state.bus);
        wiring::relay_system_topic(&state.system, state.realtime.hub.clone());
        let routes = settings.routes()?;
        let http = HttpSettings {
            routes: routes.clone(),
            cors_origins: settings.cors_origins(),
            max_json_bytes: settings.server.max_json_bytes,
            shutdown_timeout: settings.server.shutdown_timeout,
            workers: settings.server.workers,
        };
        let limits = wiring::limits(&settings, wired.redis)?;
        let radio_sources = start_radio_sources(&settings, &state).await;
        let server = workbench_http::serve(listener, &http, state.clone(), access.clone(), limits)?;
        tracing::info!(address = %listener_address(addr, port), %routes, "Workbench is listening; Swagger UI at /swagger-ui/");
        Ok(Self {
            server,
            port,
            radio_sources,
            state,
            access,
            background,
            realtime,
            shutdown_timeout: settings.server.shutdown_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where radio sources connect, when the source listener could bind.
    pub fn radio_source_addr(&self) -> Option<std::net::SocketAddr> {
        self.radio_sources.as_ref().map(|(addr, _)| *addr)
    }

    /// The wired services, for tests that need to reach behind the API.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The name on this instance's job leases.
    pub fn instance(&self) -> &str {
        self.background.instance()
    }

    /// Serves until SIGTERM or Ctrl-C, then stops accepting and lets in-flight requests finish
    /// (up to `SHUTDOWN_TIMEOUT`). Meanwhile, not after, the job runtime stops claiming, gives
    /// running jobs the same time to finish and releases the rest to other instances.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self { server, access, background, realtime, shutdown_timeout, state, radio_sources, .. } = self;
        let stopping = Arc::new(tokio::sync::Notify::new());
        let told = stopping.clone();
        let background = tokio::spawn(async move {
            tokio::select! {
                () = shutdown_signal() => {}
                () = told.notified() => {}
            }
            // Sockets would otherwise hold the graceful shutdown until its timeout: clients are
            // told to reconnect (to another instance) at once.
            state.realtime.hub.close_all(CloseReason::Shutdown);
            background.shutdown(shutdown_timeout).await;
        });
        let served = server.await;
        // Stopped some other way than by a signal: stop the background too.
        stopping.notify_one();
        let _ = background.await;
        drop(realtime);
        drop(radio_sources);
        access.close();
        served
    }
}

/// Resolves at SIGTERM or SIGINT (Ctrl-C), the signals on which actix-web stops gracefully too.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn listener_address(mut addr: std::net::SocketAddr, port: u16) -> std::net::SocketAddr {
    addr.set_port(port);
    addr
}

/// Binds the radio source listener (`RADIO_SOURCE_ADDR`) and serves it. A port that cannot be
/// bound is logged, not fatal: the rest of the API still serves, and stations still play their
/// playlists.
async fn start_radio_sources(settings: &Settings, state: &AppState) -> Option<(std::net::SocketAddr, AbortOnDrop)> {
    let addr = &settings.radio.source_addr;
    let bounds = radio_source_bounds(settings);
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            let bound = listener.local_addr().ok()?;
            tracing::info!(
                address = %bound,
                max_connections = bounds.max_connections,
                max_connections_per_ip = bounds.max_connections_per_ip,
                "radio sources connect here (Icecast-compatible PUT or SOURCE)"
            );
            let serving = workbench_icecast::serve(listener, state.radio.clone(), bounds);
            Some((bound, AbortOnDrop(tokio::spawn(serving))))
        }
        Err(e) => {
            tracing::warn!(%addr, error = %e, "cannot listen for radio sources; stations play their playlists only");
            None
        }
    }
}

/// The source listener's bounds as configured; its connection cap, unless set, derived from the
/// descriptors this process may hold (see [`workbench_icecast::Bounds::default_max_connections`]).
fn radio_source_bounds(settings: &Settings) -> workbench_icecast::Bounds {
    let radio = &settings.radio;
    let descriptors = crate::descriptors::soft_limit();
    let max_connections = match (radio.source_max_connections, descriptors) {
        (Some(max), Some(limit)) => {
            if max as u64 > limit / 2 {
                tracing::warn!(
                    RADIO_SOURCE_MAX_CONNECTIONS = max,
                    RLIMIT_NOFILE = limit,
                    "the radio source listener may hold more than half of the process's descriptors: \
                     a flood of sources could leave the API none to accept with"
                );
            }
            max
        }
        (Some(max), None) => max,
        (None, limit) => workbench_icecast::Bounds::default_max_connections(limit.unwrap_or(u64::MAX)),
    };
    workbench_icecast::Bounds {
        max_connections,
        max_connections_per_ip: radio.source_max_connections_per_ip,
        head_timeout: radio.source_head_timeout,
    }
}
