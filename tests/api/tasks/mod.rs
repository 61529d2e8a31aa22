//! Tasks: creation rules, idempotent creation, visibility, conditional writes, list queries,
//! statistics and tags.

mod access;
mod creation;
mod lists;
mod support;

pub(crate) use support::{Reply, as_user, create_task, expect_json, instant, link, links, task_path};
