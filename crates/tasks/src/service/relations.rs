//! Relations between tasks: who may relate two tasks, and a task's related tasks as a viewer
//! sees them.

use workbench_core::FieldErrors;
use workbench_users::{Principal, now};

use super::TaskService;
use crate::{Access, Related, RelatedTasks, RelationKind, TaskError, TaskId};

impl TaskService {
    /// Relates task `id` to `other` (`kind` as seen from `id`): both must be visible to the
    /// viewer (an invisible `id` is a `NotFound`, an invisible `other` a `422` naming `task_id`),
    /// who must be able to change `id`, and `other` too when the relation changes it (it becomes
    /// a subtask, or blocked). A cycle of subtasks or blockers, or a second parent, is a
    /// `422` naming `task_id`. Whether the relation is new.
    pub async fn relate(
        &self,
        viewer: &Principal,
        id: TaskId,
        kind: Option<String>,
        other: Option<i64>,
    ) -> Result<(RelationKind, TaskId, bool), TaskError> {
        let this = self.get(viewer, id).await?;
        let mut v = workbench_core::Validator::default();
        let kind = v.required("kind", kind, |k| RelationKind::parse(&k));
        let other = v.required("task_id", other, |o| if o > 0 { Ok(TaskId(o)) } else { Err("must be a positive id") });
        if other == Some(id) {
            v.fail("task_id", "a task cannot be related to itself");
        }
        let (kind, other) = match (kind, other) {
            (Some(kind), Some(other)) if v.is_valid() => (kind, other),
            _ => return Err(v.finish().err().unwrap_or_else(|| FieldErrors::single("task_id", "is required")).into()),
        };
        if self.access(viewer.into(), &this).await? < Access::Change {
            return Err(TaskError::Forbidden("only those who may change a task relate it to others"));
        }
        let stored = kind.stored(id, other);
        match self.access_to(viewer, other).await? {
            Access::None => return Err(FieldErrors::single("task_id", "no such task").into()),
            // A subtask's parent and a blocker change the subtask and the blocked task: the
            // caller must be able to change them, or a reader could tie a task to one its
            // editors cannot see, and never untie it.
            Access::Read if stored.kind.is_acyclic() && stored.to == other => {
                return Err(TaskError::Forbidden(
                    "a subtask or a blocked task changes with the relation: only those who may change it relate it",
                ));
            }
            Access::Read | Access::Change | Access::Delete => {}
        }
        let (related, changed) = self.structure()?.relations.relate(stored, now()).await?;
        self.recache_tasks(changed).await?;
        match related {
            Related::Created => Ok((kind, other, true)),
            Related::Existed => Ok((kind, other, false)),
            Related::Cycle => Err(FieldErrors::single(
                "task_id",
                format!("task {other} would close a cycle of {} relations", kind.stored(id, other).kind.as_str()),
            )
            .into()),
            Related::HasParent => Err(FieldErrors::single("task_id", "the subtask already has a parent").into()),
            Related::Gone => Err(TaskError::NotFound),
        }
    }

    /// Removes the relation `kind` (as seen from `id`) between `id` and `other`, under the same
    /// rules as [`Self::relate`]; `Missing("relation")` when there is none.
    pub async fn unrelate(&self, viewer: &Principal, id: TaskId, kind: &str, other: TaskId) -> Result<(), TaskError> {
        let this = self.get(viewer, id).await?;
        let kind = RelationKind::parse(kind).map_err(|why| TaskError::BadQuery(format!("kind: {why}")))?;
        if self.access(viewer.into(), &this).await? < Access::Change {
            return Err(TaskError::Forbidden("only those who may change a task relate it to others"));
        }
        if self.access_to(viewer, other).await? < Access::Read {
            return Err(TaskError::Missing("relation"));
        }
        let changed = self
            .structure()?
            .relations
            .unrelate(kind.stored(id, other), now())
            .await?
            .ok_or(TaskError::Missing("relation"))?;
        self.recache_tasks(changed).await
    }

    /// Task `id`'s related tasks by kind, as seen from it: every kind present, those the viewer
    /// may not see left out.
    pub async fn related(&self, viewer: &Principal, id: TaskId) -> Result<RelatedTasks, TaskError> {
        self.get(viewer, id).await?;
        let relations = self.structure()?.relations.relations_of(id).await?;
        let seen: Vec<(RelationKind, TaskId)> = relations.iter().map(|r| r.seen_from(id)).collect();
        let mut related: RelatedTasks = RelationKind::ALL.into_iter().map(|k| (k, Vec::new())).collect();
        let ids: Vec<TaskId> = seen.iter().map(|(_, other)| *other).collect();
        let tasks = self.tasks.find_many(ids).await?;
        // The viewer's standing is read once per project, not once per related task (a parent
        // may have a thousand subtasks, all in one project).
        let viewer = crate::Viewer::from(viewer);
        let mut roles = std::collections::HashMap::new();
        for (kind, other) in seen {
            let Some(task) = tasks.iter().find(|t| t.id == other) else { continue };
            let role = match task.project_id {
                Some(project) if viewer.needs_project_role(task) => match roles.get(&project) {
                    Some(role) => *role,
                    None => {
                        let role = self.project_role(viewer, task).await?;
                        roles.insert(project, role);
                        role
                    }
                },
                _ => None,
            };
            if viewer.access(task, role) >= Access::Read {
                related.entry(kind).or_default().push(task.clone());
            }
        }
        for tasks in related.values_mut() {
            tasks.sort_by_key(|t| t.id);
        }
        Ok(related)
    }
}
