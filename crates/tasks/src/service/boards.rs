//! Boards: a project's buckets, the tasks of one in its order, and moves between them; and
//! keeping cached copies current when structure changes tasks behind a write.

use workbench_core::{FieldErrors, Page, PageRequest};
use workbench_projects::ProjectId;
use workbench_users::{Principal, now};

use super::fields::page_of;
use super::{TaskService, UPDATE_ATTEMPTS, changed, refusal};
use crate::{
    Bucket, BucketDeleted, BucketDraft, BucketId, BucketPatch, ListPart, MoveRequest, Moved, Placement, Status, Task,
    TaskChanges, TaskError, TaskId, Viewer,
};

impl TaskService {
    /// The buckets of a project the viewer is a member of, in board order.
    pub async fn buckets(
        &self,
        viewer: &Principal,
        project: ProjectId,
        page: PageRequest,
    ) -> Result<Page<Bucket>, TaskError> {
        self.reader_role(viewer.into(), project).await?;
        Ok(page_of(self.structure()?.boards.buckets(project).await?, page))
    }

    /// Adds a bucket at the end of the board: those who change the project's tasks may.
    pub async fn create_bucket(
        &self,
        viewer: &Principal,
        project: ProjectId,
        draft: BucketDraft,
    ) -> Result<Bucket, TaskError> {
        self.check_board_editor(viewer.into(), project).await?;
        let (name, limit, done) = draft.parse()?;
        Ok(self.structure()?.boards.create_bucket(project, name, limit, done, now()).await?)
    }

    /// Changes a bucket of the project: those who change its tasks may.
    pub async fn update_bucket(
        &self,
        viewer: &Principal,
        project: ProjectId,
        id: BucketId,
        patch: BucketPatch,
    ) -> Result<Bucket, TaskError> {
        self.check_board_editor(viewer.into(), project).await?;
        let boards = &self.structure()?.boards;
        let bucket =
            boards.bucket(id).await?.filter(|b| b.project_id == project).ok_or(TaskError::Missing("bucket"))?;
        let changed = patch.apply(bucket, now())?;
        boards.save_bucket(changed).await?.ok_or(TaskError::Missing("bucket"))
    }

    /// Deletes a bucket of the project, its tasks going to the first remaining one; the only
    /// bucket of a project stays (`Conflict`).
    pub async fn delete_bucket(&self, viewer: &Principal, project: ProjectId, id: BucketId) -> Result<(), TaskError> {
        self.check_board_editor(viewer.into(), project).await?;
        let boards = &self.structure()?.boards;
        boards.bucket(id).await?.filter(|b| b.project_id == project).ok_or(TaskError::Missing("bucket"))?;
        match boards.delete_bucket(id).await? {
            BucketDeleted::Deleted(moved) => self.recache(moved).await,
            BucketDeleted::Last => Err(TaskError::Conflict("a project keeps at least one bucket".into())),
            BucketDeleted::Gone => Err(TaskError::Missing("bucket")),
        }
    }

    /// One page of a bucket's tasks, in its order.
    pub async fn bucket_tasks(
        &self,
        viewer: &Principal,
        project: ProjectId,
        id: BucketId,
        page: PageRequest,
    ) -> Result<Page<Task>, TaskError> {
        self.reader_role(viewer.into(), project).await?;
        let boards = &self.structure()?.boards;
        boards.bucket(id).await?.filter(|b| b.project_id == project).ok_or(TaskError::Missing("bucket"))?;
        Ok(boards.bucket_page(id, page).await?)
    }

    /// Moves a task into a bucket of its project, after or before another of its tasks or at
    /// its end: those who may change the task may. Moving it into the done bucket completes it;
    /// moving it out reopens it.
    pub async fn move_task(&self, viewer: &Principal, id: TaskId, request: MoveRequest) -> Result<Task, TaskError> {
        let (bucket_id, placement) = request.parse()?;
        if matches!(placement, Placement::After(n) | Placement::Before(n) if n == id) {
            let field = if matches!(placement, Placement::After(_)) { "after_id" } else { "before_id" };
            return Err(FieldErrors::single(field, "a task is not placed beside itself").into());
        }
        let viewer_ = Viewer::from(viewer);
        let boards = self.structure()?.boards.clone();
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.stored(id).await?;
            let role = self.project_role(viewer_, &current).await?;
            if let Some(refused) = refusal(viewer_, role, &current, None) {
                return Err(refused);
            }
            let Some(project) = current.project_id else {
                return Err(FieldErrors::single("bucket_id", "a personal task is on no board").into());
            };
            let buckets = boards.buckets(project).await?;
            let Some(bucket) = buckets.iter().find(|b| b.id == bucket_id) else {
                return Err(FieldErrors::single("bucket_id", "is not a bucket of the task's project").into());
            };
            let was_done = buckets.iter().any(|b| b.done && Some(b.id) == current.bucket_id);
            let status = match (bucket.done, was_done) {
                (true, _) => Some(Status::Completed),
                (false, true) if current.status == Status::Completed => Some(Status::Pending),
                _ => None,
            };
            let changes =
                TaskChanges { status, placement: Some((Some(bucket.id), current.position)), ..TaskChanges::default() };
            let task = changed(viewer_, role, &current, &changes, None)?;
            match boards.move_task(task, current.clone(), placement).await? {
                Moved::Stored { task, follow_up, respread } => {
                    self.cache.put_task(&task).await;
                    let mut parts = ListPart::changed_by(&current, &task);
                    if let Some(next) = follow_up.as_deref() {
                        self.cache.put_task(next).await;
                        parts.extend(ListPart::created(next));
                    }
                    self.forget_parts_of(&[&task], parts).await?;
                    if (current.status == Status::Completed) != (task.status == Status::Completed) {
                        self.refresh_dependants(&[task.id]).await?;
                    }
                    self.recache(respread).await?;
                    return Ok(task);
                }
                Moved::Stale(None) => return Err(TaskError::NotFound),
                Moved::Stale(Some(_)) => continue,
                Moved::NoBucket => {
                    return Err(FieldErrors::single("bucket_id", "is not a bucket of the task's project").into());
                }
                Moved::Full => {
                    return Err(TaskError::Conflict(format!(
                        "bucket {} holds its limit of {} tasks",
                        bucket.id,
                        bucket.limit.unwrap_or_default()
                    )));
                }
                Moved::NoNeighbour(field) => {
                    return Err(FieldErrors::single(field, "is not a task of that bucket").into());
                }
            }
        }
        Err(TaskError::Contention)
    }

    /// Refuses anyone but those who change `project`'s tasks (its editors and admins; moderators
    /// and admins anywhere); a non-member is told there is no such project.
    async fn check_board_editor(&self, viewer: Viewer, project: ProjectId) -> Result<(), TaskError> {
        match self.reader_role(viewer, project).await? {
            Some(role) if role.edits_tasks() => Ok(()),
            _ if viewer.sees_everything() => Ok(()),
            _ => Err(TaskError::Forbidden("only the project's editors and admins change its board")),
        }
    }

    /// Takes the stored copies of tasks that structure changed behind a write (a version moved by
    /// the store: a task no longer blocked, a child that lost its parent, a task whose bucket
    /// went) into the cache, and forgets the lists that show them.
    pub(super) async fn recache(&self, ids: Vec<TaskId>) -> Result<(), TaskError> {
        if ids.is_empty() {
            return Ok(());
        }
        let tasks = self.tasks.find_many(ids).await?;
        self.recache_tasks(tasks).await
    }

    /// As [`Self::recache`], for copies already read.
    pub(super) async fn recache_tasks(&self, tasks: Vec<Task>) -> Result<(), TaskError> {
        if tasks.is_empty() {
            return Ok(());
        }
        for task in &tasks {
            self.cache.put_task(task).await;
        }
        let shown: Vec<&Task> = tasks.iter().collect();
        self.forget_parts_of(&shown, vec![ListPart::Rest]).await?;
        // Announced after the change committed, not with it: a crash between the two loses the
        // event, never the change.
        Ok(self.tasks.announce(tasks).await?)
    }

    /// After `ids` were completed or reopened by a move on a board: the tasks they block (and
    /// their subtasks) changed with them in the store. (An update is told them by its write.)
    pub(super) async fn refresh_dependants(&self, ids: &[TaskId]) -> Result<(), TaskError> {
        let Some(structure) = &self.structure else { return Ok(()) };
        let mut dependants = Vec::new();
        for id in ids {
            dependants.extend(structure.relations.dependants(*id).await?);
        }
        self.recache(dependants).await
    }
}
