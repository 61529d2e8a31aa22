//! Logging: human-readable by default, one JSON object per line with `LOG_FORMAT=json`.
//!
//! Two streams share stdout. Events (`tracing`: start-up, warnings, errors) are formatted where
//! they happen and written by a background thread (`tracing-appender`), so a slow or blocked
//! stdout never delays a request. The access log (one line per request, see
//! [`workbench_http::AccessLog`]) is formatted and written by a thread of its own. When either
//! writer falls more than its buffer behind, lines are dropped rather than making requests wait;
//! how many is exported on `/metrics`. Colours only when stdout is a terminal.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use workbench_http::LogFormat;

static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Log events (not access lines) that may wait for the writer thread.
const EVENT_BACKLOG: usize = 4_096;

/// Installs the global subscriber. `RUST_LOG` overrides the default level (`info`). Installing
/// twice (as tests do) keeps the first. Keep the returned guard for the life of the process: when
/// it is dropped, the lines still queued are written out.
pub fn init(format: LogFormat) -> Option<WorkerGuard> {
    // The writer's queue is a bounded channel whose every slot is allocated and touched when it
    // is made: the default 128,000 lines held four megabytes of an idle server. Requests are
    // logged apart (the access log); what comes this way is the odd event, and a burst beyond
    // this backlog is dropped and counted, as before.
    let (writer, guard) =
        NonBlockingBuilder::default().lossy(true).buffered_lines_limit(EVENT_BACKLOG).finish(std::io::stdout());
    let dropped = writer.error_counter();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer);
    let installed = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    installed.ok()?;
    let _ = DROPPED.set(dropped);
    Some(guard)
}

/// How many log lines (access lines included) were dropped because a writer could not keep up.
pub fn dropped_lines() -> u64 {
    let events = DROPPED.get().map_or(0, |counter| u64::try_from(counter.dropped_lines()).unwrap_or(u64::MAX));
    events.saturating_add(workbench_http::AccessLog::dropped_lines())
}
