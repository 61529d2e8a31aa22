//! Calendar objects already rendered, kept by what they were made of.
//!
//! Rendering a task that a client wrote reads the client's object again (the `ical` parser),
//! which is most of what a multiget or a sync with `calendar-data` costs. An object is made of
//! the task at one version and the object the client last wrote (its UID and text), so that is
//! the key: a rendered object can never be served for anything else, whichever instance wrote
//! the task, and nothing needs invalidating. An entry that is no longer asked for is simply
//! evicted.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use moka::sync::Cache;
use workbench_tasks::Task;

use crate::CalendarObject;

/// How many bytes of rendered objects a process keeps: about 25,000 tasks of a typical client.
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

/// What a rendered object was made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct MadeOf {
    task: i64,
    version: i64,
    /// The task's last change and the kept object (UID and text), hashed with this process's
    /// random keys (SipHash), so that no client can choose a text that collides with another.
    digest: u64,
}

/// The rendered-object cache of one process. Clones share it.
#[derive(Clone)]
pub(crate) struct Rendered {
    objects: Cache<MadeOf, Arc<str>>,
    keys: RandomState,
}

impl Rendered {
    pub(crate) fn new() -> Self {
        let objects = Cache::builder()
            .max_capacity(CAPACITY_BYTES)
            .weigher(|_: &MadeOf, text: &Arc<str>| u32::try_from(text.len()).unwrap_or(u32::MAX))
            .build();
        Self { objects, keys: RandomState::new() }
    }

    /// The object of `task` with the client's kept `object`, rendered by `render` unless it was
    /// already.
    pub(crate) fn get_or_render(
        &self,
        task: &Task,
        object: Option<&CalendarObject>,
        parent_uid: Option<&str>,
        render: impl FnOnce() -> String,
    ) -> Arc<str> {
        let key = self.made_of(task, object, parent_uid);
        if let Some(text) = self.objects.get(&key) {
            return text;
        }
        let text: Arc<str> = render().into();
        self.objects.insert(key, text.clone());
        text
    }

    fn made_of(&self, task: &Task, object: Option<&CalendarObject>, parent_uid: Option<&str>) -> MadeOf {
        let digest = self.keys.hash_one((task.updated_at, object.map(|o| (&o.uid, &o.source)), parent_uid));
        MadeOf { task: task.id.0, version: task.version, digest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(version: i64) -> Task {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z").unwrap().to_utc();
        Task {
            id: workbench_tasks::TaskId(7),
            title: "Water the plants".into(),
            description: None,
            status: workbench_tasks::Status::Pending,
            priority: workbench_tasks::Priority::Medium,
            due_date: None,
            owner_id: workbench_users::UserId(1),
            assignee_id: None,
            tags: Vec::new(),
            completed_at: None,
            version,
            created_at: at,
            updated_at: at,
            project_id: None,
            recurrence: None,
            previous_id: None,
            parent_id: None,
            blocked: false,
            bucket_id: None,
            position: None,
            fields: Default::default(),
        }
    }

    #[test]
    fn a_rendered_object_is_served_again_only_for_what_it_was_made_of() {
        let cache = Rendered::new();
        let object = |source: &str| CalendarObject {
            task_id: task(1).id,
            uid: "u".into(),
            name: "n.ics".into(),
            source: source.into(),
        };
        let mut renders = 0;
        let mut get = |version, kept: Option<&CalendarObject>| {
            cache.get_or_render(&task(version), kept, None, || {
                renders += 1;
                format!("render {renders}")
            })
        };
        assert_eq!(&*get(1, None), "render 1");
        assert_eq!(&*get(1, None), "render 1", "the same task at the same version");
        assert_eq!(&*get(2, None), "render 2", "a new version");
        let a = object("A");
        assert_eq!(&*get(2, Some(&a)), "render 3", "a kept object");
        assert_eq!(&*get(2, Some(&a)), "render 3");
        assert_eq!(&*get(2, Some(&object("B"))), "render 4", "another text at the same version");
    }
}
