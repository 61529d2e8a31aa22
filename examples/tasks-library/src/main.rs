//! Workbench's task domain as a library: a program of its own keeps a user's tasks in an embedded
//! SQLite file through the [`TaskService`] the server uses (its rules, visibility and versions),
//! with the store's repositories and an in-process cache, and no server.
//!
//! `cargo run -p workbench-example-tasks [-- FILE.db]` (a fresh temporary file by default). Exits
//! non-zero when any step does not do what it should.
#![allow(clippy::print_stdout, reason = "what it did, printed, is the example's output")]

use std::sync::Arc;
use std::time::Duration;

use anyhow::ensure;
use workbench_cache::MemoryTaskCache;
use workbench_core::PageRequest;
use workbench_store::{Backend, Database, DieselCommentRepository, DieselProjectRepository, DieselTaskRepository};
use workbench_store::{DieselUserRepository, PoolOptions};
use workbench_tasks::{Status, TaskDraft, TaskFilter, TaskPatch, TaskService};
use workbench_users::{Email, NewUser, Principal, Role, StoredAccounts, UserRepository, Username, now};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let file = std::env::args().nth(1).unwrap_or_else(|| scratch.path().join("tasks.db").display().to_string());
    let db = Database::connect(&file, PoolOptions::default_for(Backend::Sqlite))?;
    db.migrate()?; // the server's own tables, from the migrations embedded in the store

    // Tasks belong to a user: one made through the users domain's port, as the store implements it.
    let users = Arc::new(DieselUserRepository::new(db.clone()));
    let ann = users
        .create(NewUser {
            username: Username::parse("ann").map_err(anyhow::Error::msg)?,
            email: Email::parse("ann@example.com").map_err(anyhow::Error::msg)?,
            password_hash: None, // no password: this program signs nobody in
            role: Role::User,
            created_at: now(),
        })
        .await?;
    let ann = Principal::from(&ann);

    // Wired as the server wires it, with in-process stand-ins for what instances would share.
    let tasks = TaskService::new(
        Arc::new(DieselTaskRepository::new(db.clone())),
        Arc::new(DieselCommentRepository::new(db.clone())),
        Arc::new(StoredAccounts::new(users)),
        Arc::new(MemoryTaskCache::new(1_000, Duration::from_secs(300), Duration::from_secs(30))),
        Arc::new(DieselProjectRepository::new(db.clone())),
    );

    for (title, tags) in [("Renew the car insurance", "car"), ("Descale the kettle", "home,kitchen")] {
        let tags = Some(tags.split(',').map(String::from).collect());
        let task = tasks.create(&ann, TaskDraft { title: Some(title.into()), tags, ..TaskDraft::default() }).await?;
        println!("created   #{} {:?} {:?}, {}", task.id, task.title, task.tags, task.status.as_str());
    }

    let first_page = PageRequest::first(); // 20 tasks, newest first
    let listed = tasks.list(&ann, TaskFilter::default(), first_page).await?;
    ensure!(listed.items.len() == 2 && listed.total == 2, "listed {} tasks, not 2", listed.total);
    for task in listed.items {
        let done = TaskPatch { status: Some(Some(Status::Completed)), ..TaskPatch::default() };
        // `Some(version)`: only if nobody changed it since it was listed (else `VersionMismatch`).
        let done = tasks.update(&ann, task.id, done, Some(task.version)).await?;
        ensure!(done.status == Status::Completed && done.completed_at.is_some(), "#{} is not completed", done.id);
        ensure!(done.version > task.version, "completing #{} left its version at {}", done.id, done.version);
        println!("completed #{} {:?}, version {}", done.id, done.title, done.version);
    }

    let pending = TaskFilter { statuses: vec![Status::Pending], ..TaskFilter::default() };
    let left = tasks.list(&ann, pending, first_page).await?.total;
    let stats = tasks.stats(&ann).await?;
    ensure!(left == 0 && (stats.total, stats.completed) == (2, 2), "{left} pending; {stats:?}");
    println!("{} of {} tasks completed, none pending, in {file}", stats.completed, stats.total);
    Ok(())
}
