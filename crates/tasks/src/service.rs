//! The task use cases.

use std::collections::HashMap;
use std::sync::Arc;

use workbench_core::{FieldErrors, Page, PageRequest, SingleFlight, Validator};
use workbench_projects::{ProjectId, ProjectRole};
use workbench_users::{Accounts, Principal, UserId, now};

mod boards;
mod fields;
mod relations;

use crate::{
    Access, Comment, CommentBody, CommentRepository, CreationKey, CreationOrder, FieldValues, ListLookup, ListPart,
    ListedPage, NewComment, NewTask, NewTaskRecord, OrderLookup, OrderWindow, ProjectMembership, Rebase, Restatus,
    ShownLookup, ShownPage, Standing, Status, StructureStores, TagUsage, Task, TaskActivity, TaskCache, TaskChanges,
    TaskDraft, TaskError, TaskFacets, TaskFilter, TaskId, TaskPatch, TaskRepository, TaskScope, TaskStats,
    UpdateOutcome, Viewer,
};

const VIEWERS_READ: &str = "A project's viewers read its tasks and comment on them; its editors change them.";
const NOT_A_MEMBER: &str = "must be a project you are a member of";

/// How many writes an update tries, re-applying its change to the stored copy after each lost race.
const UPDATE_ATTEMPTS: usize = 5;

/// The most tasks a scope's creation order is cached for (8 bytes each in the cache). A larger
/// scope's lists are read page by page from the database (see [`TaskService::list`]).
pub const ORDER_LIMIT: u64 = 2_000_000;

/// How long before the newest task of a cached creation order a task may still commit: a create
/// takes its key before its batch commits, beside other batches. Tasks created within this of the
/// order's end are read again when one arrives late.
pub const SETTLING: chrono::Duration = chrono::Duration::seconds(2);

/// How many times a request extends a cached creation order that is behind before it reads the
/// order whole. Requests that find it behind at once each read the newest tasks, and all but the
/// first find it extended by another when they store theirs: they look again, taking an order that
/// holds every create answered before their first look, instead of reading the whole order. When a
/// reader needed the order current, under `mixed` at 100,000 tasks a create every 30 ms kept it
/// behind every reader: 108 whole reads of 100,000 ids in 10 s, 104 ms each.
const ORDER_EXTENSIONS: usize = 3;

/// Creating, reading, changing and deleting tasks and their comments, with visibility,
/// optimistic concurrency and a read-through cache.
#[derive(Clone)]
pub struct TaskService {
    tasks: Arc<dyn TaskRepository>,
    comments: Arc<dyn CommentRepository>,
    /// Who exists and is active (for assignees), from the principal cache.
    accounts: Arc<dyn Accounts>,
    cache: Arc<dyn TaskCache>,
    /// Who may see and change project tasks, read at each request.
    projects: Arc<dyn ProjectMembership>,
    /// Whole creation orders being read, so that the requests that miss one at once (the first
    /// of a busy scope, or all of them when it expires) share one read.
    order_reads: Arc<SingleFlight<Option<Arc<CreationOrder>>>>,
    /// Relations, boards and custom fields, when the service has them (see
    /// [`Self::with_structure`]).
    structure: Option<StructureStores>,
    /// Who hears of what changed (see [`Self::with_activity`]).
    activity: Option<Arc<dyn TaskActivity>>,
}

impl std::fmt::Debug for TaskService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskService").finish_non_exhaustive()
    }
}

impl TaskService {
    /// The service over its ports: tasks and comments where they are stored, `accounts` to check
    /// that an assignee is an active user, the read-through `cache`, and `projects` for who may see
    /// and change project tasks.
    pub fn new(
        tasks: Arc<dyn TaskRepository>,
        comments: Arc<dyn CommentRepository>,
        accounts: Arc<dyn Accounts>,
        cache: Arc<dyn TaskCache>,
        projects: Arc<dyn ProjectMembership>,
    ) -> Self {
        Self {
            tasks,
            comments,
            accounts,
            cache,
            projects,
            order_reads: Arc::new(SingleFlight::new()),
            structure: None,
            activity: None,
        }
    }

    /// The service with task structure: relations between tasks, project boards and custom
    /// fields. Without it, tasks have none (a program that uses the domain for flat lists).
    pub fn with_structure(mut self, structure: StructureStores) -> Self {
        self.structure = Some(structure);
        self
    }

    /// The service telling `activity` of each task it makes and changes and each comment, once
    /// stored (notifications).
    pub fn with_activity(mut self, activity: Arc<dyn TaskActivity>) -> Self {
        self.activity = Some(activity);
        self
    }

    fn scope(viewer: Viewer) -> TaskScope {
        if viewer.sees_everything() { TaskScope::All } else { TaskScope::InvolvedUser(viewer.id) }
    }

    /// Creates a task owned by `owner` from what a client sent. Every failing field is reported
    /// at once: those that could not be read, the field rules, and an assignee that is not an
    /// active user.
    ///
    /// A project task needs the creator to be an editor or admin there (a viewer is refused, a
    /// non-member told the project is not theirs) and its assignee to be a member.
    pub async fn create(&self, owner: &Principal, mut draft: TaskDraft) -> Result<Task, TaskError> {
        // From the draft, not the checked task: an unknown assignee is reported even beside other failures.
        let assignee = draft.assignee_id.filter(|id| *id > 0).map(UserId);
        let project = draft.project_id.filter(|id| *id > 0).map(ProjectId);
        let recorded = draft.completed_at;
        let raw_fields = draft.fields.take().unwrap_or_default();
        let completed = draft.status == Some(Status::Completed);
        let (mut v, task) = NewTask::check(draft);
        self.check_assignee(&mut v, assignee).await?;
        let mut structure = (FieldValues::default(), None);
        if let Some(project) = project {
            self.check_editor(&mut v, owner.into(), project).await?;
            self.check_member_assignee(&mut v, project, assignee).await?;
            structure = self.new_task_structure(&mut v, project, &raw_fields, completed).await?;
        } else {
            Self::no_fields_outside_projects(&mut v, &raw_fields);
        }
        let mut task = v.finish_with(task)?;
        (task.fields, task.bucket_id) = structure;
        let at = now();
        let completed_at = (task.status == Status::Completed).then(|| recorded.map_or(at, |recorded| recorded.min(at)));
        let created =
            self.tasks.create(NewTaskRecord { task, owner_id: owner.id, completed_at, created_at: at }).await?;
        self.cache.put_task(&created).await;
        // Not a change of status to lay over the cached orders: they end before the new task, and
        // take it, as it was created, when extended.
        let scopes = self.scopes_of(&[&created]).await?;
        self.cache.forget_parts(scopes, ListPart::created(&created)).await;
        if let Some(activity) = &self.activity {
            activity.created(owner.id, &created).await;
        }
        Ok(created)
    }

    /// One task the viewer may see; otherwise `NotFound`, whether it exists or not.
    pub async fn get(&self, viewer: &Principal, id: TaskId) -> Result<Task, TaskError> {
        let task = self.cached(id).await?.ok_or(TaskError::NotFound)?;
        if self.access(viewer.into(), &task).await? >= Access::Read { Ok(task) } else { Err(TaskError::NotFound) }
    }

    /// What the viewer may do with a task (`Access::None` for one they may not see and for one
    /// that does not exist, alike), read through the cache as [`Self::get`] reads it: for other
    /// domains' rules on what hangs on a task (attaching a file to it is a change).
    pub async fn access_to(&self, viewer: &Principal, id: TaskId) -> Result<Access, TaskError> {
        match self.cached(id).await? {
            Some(task) => self.access(viewer.into(), &task).await,
            None => Ok(Access::None),
        }
    }

    /// Task `id` as it is, for the system's own work (a reminder that has come): no viewer, so
    /// no access is checked; the caller decides whom it may tell.
    pub async fn find(&self, id: TaskId) -> Result<Option<Task>, TaskError> {
        self.cached(id).await
    }

    /// The task from the cache, or from the database (and then cached).
    async fn cached(&self, id: TaskId) -> Result<Option<Task>, TaskError> {
        if let Some(task) = self.cache.task(id).await {
            return Ok(Some(task));
        }
        let task = self.tasks.find(id).await?;
        if let Some(task) = &task {
            self.cache.put_task(task).await;
        }
        Ok(task)
    }

    /// One page of the tasks the viewer sees that match `filter`, with their total. Pages are
    /// read through the cache under their scope's list generation, which every change to a task
    /// of the scope moves on before it is answered: a client always lists its own writes.
    pub async fn list(
        &self,
        viewer: &Principal,
        filter: TaskFilter,
        page: PageRequest,
    ) -> Result<Page<Task>, TaskError> {
        self.list_in(viewer, Self::scope(viewer.into()), filter, page).await
    }

    /// As [`Self::list`], over the tasks of one project: empty for a viewer who is not a member
    /// (moderators and admins see every project's), and for a project that does not exist.
    pub async fn list_project(
        &self,
        viewer: &Principal,
        project: ProjectId,
        filter: TaskFilter,
        page: PageRequest,
    ) -> Result<Page<Task>, TaskError> {
        let sees = match self.projects.standing(project, viewer.id).await? {
            Standing::Member(_) => true,
            Standing::Outsider => Viewer::from(viewer).sees_everything(),
            Standing::NoSuchProject => false,
        };
        if !sees {
            return Ok(Page::new(Vec::new(), 0, page));
        }
        self.list_in(viewer, TaskScope::Project(project), filter, page).await
    }

    async fn list_in(
        &self,
        viewer: &Principal,
        scope: TaskScope,
        filter: TaskFilter,
        page: PageRequest,
    ) -> Result<Page<Task>, TaskError> {
        let Some(filter_key) = filter.cache_key() else {
            return Ok(self.tasks.list(scope, filter, page).await?);
        };
        let query = format!("{}x{}:{filter_key}", page.page(), page.per_page());
        let ticket = match self.cache.shown_page(scope, &query).await {
            ShownLookup::Hit(shown) => return Ok(Page::new(shown.tasks, shown.total, page)),
            ShownLookup::Miss(ticket) => Some(ticket),
            ShownLookup::Bypass => None,
        };
        let listed = self.list_cached(viewer, scope, filter, page, query).await?;
        if let Some(ticket) = ticket {
            self.cache.put_shown_page(ticket, &ShownPage { tasks: listed.items.clone(), total: listed.total }).await;
        }
        Ok(listed)
    }

    /// A page of `scope` from what the cache keeps of its lists (the creation order, pages of
    /// ids filed by part), the tasks themselves from the task cache, and what it lacks from the
    /// database.
    async fn list_cached(
        &self,
        viewer: &Principal,
        scope: TaskScope,
        filter: TaskFilter,
        page: PageRequest,
        query: String,
    ) -> Result<Page<Task>, TaskError> {
        let part = filter.list_part();
        if let ListPart::Members | ListPart::Status(_) = part {
            let window = OrderWindow {
                offset: u64::try_from(page.offset()).unwrap_or(0),
                limit: u64::from(page.per_page()),
                newest_first: filter.sort.descending,
            };
            let status = match part {
                ListPart::Status(status) => Some(status),
                _ => None,
            };
            if let Some((ids, total)) = self.creation_window(scope, status, window).await? {
                return Ok(Page::new(self.bodies(viewer, &ids).await?, total, page));
            }
            if part == ListPart::Members {
                return Ok(self.tasks.list(scope, filter, page).await?);
            }
        }
        match self.cache.list_page(scope, part, &query).await {
            ListLookup::Hit(cached) => Ok(Page::new(self.bodies(viewer, &cached.ids).await?, cached.total, page)),
            ListLookup::Miss(ticket) => {
                let found = self.tasks.list(scope, filter, page).await?;
                let listed = ListedPage { ids: found.items.iter().map(|task| task.id).collect(), total: found.total };
                self.cache.put_list_page(ticket, &listed).await;
                Ok(found)
            }
            ListLookup::Bypass => Ok(self.tasks.list(scope, filter, page).await?),
        }
    }

    /// The ids `window` shows of `scope`'s creation order (or of its tasks of `status` in that
    /// order), and their total, from the cached order: read whole from the database when the
    /// cache lacks it or it was reordered, extended with the tasks created since when it only
    /// lacks those. `None` when the cache cannot serve it (unreachable, a cache that keeps no
    /// statuses, or the scope holds over [`ORDER_LIMIT`] tasks): the caller reads the page from
    /// the database.
    ///
    /// So a page costs a slice of the order, however deep, and the order is read whole once per
    /// change that moves a task inside it (a delete, a reassignment), not per create or patch: a
    /// patch's change of status is laid over the cached order ([`TaskCache::restatus`]).
    async fn creation_window(
        &self,
        scope: TaskScope,
        status: Option<Status>,
        window: OrderWindow,
    ) -> Result<Option<(Vec<TaskId>, u64)>, TaskError> {
        let (mut extensions, mut seen) = (0, None);
        let ticket = loop {
            let lookup = match status {
                Some(status) => self.cache.status_window(scope, status, window, seen).await,
                None => self.cache.creation_window(scope, window, seen).await,
            };
            match lookup {
                OrderLookup::Hit { ids, total } => return Ok(Some((ids, total))),
                OrderLookup::Bypass => return Ok(None),
                // Extended, by this request or, while it read, by another: look again, taking an
                // order that holds every create answered before the first look.
                OrderLookup::Behind(behind) if extensions < ORDER_EXTENSIONS => {
                    extensions += 1;
                    seen = seen.or(Some(behind.appended));
                    self.extend_order(scope, &behind).await?;
                }
                // Still behind after as many extensions (creates arriving faster than they are
                // read, or a task older than the order's settling end): read it whole.
                OrderLookup::Behind(behind) => break crate::OrderTicket { extends: None, ..behind },
                OrderLookup::Miss(miss) => break miss,
            }
        };
        // Requests share a read only if nothing it shows changed between their lookups: for a
        // status, that includes every change of status told since (the ticket's `since`), or a
        // request could be shown a read that began before its own client's change.
        let key = match status {
            Some(_) => format!("{}:{}:{}:{}", scope.key(), ticket.members, ticket.appended, ticket.since),
            None => format!("{}:{}:{}", scope.key(), ticket.members, ticket.appended),
        };
        let (tasks, cache) = (Arc::clone(&self.tasks), Arc::clone(&self.cache));
        let read = async move {
            match tasks.creation_order(scope, None, ORDER_LIMIT).await {
                Ok(order) if order.ids.len() as u64 == order.total => {
                    cache.put_creation_order(ticket, &order).await;
                    Some(Arc::new(order))
                }
                Ok(_) => None,
                Err(error) => {
                    // The page's own read reports it, if it is still there.
                    tracing::warn!(%error, scope = scope.key(), "could not read a creation order");
                    None
                }
            }
        };
        Ok(self.order_reads.run(&key, read, None).await.map(|order| match status {
            Some(status) => window.of_status(&order, status),
            None => (window.of(&order.ids), order.total),
        }))
    }

    /// Appends to `scope`'s cached order the tasks created since it was read (`ticket.extends`).
    /// The order is stored only if it is still the one the ticket was made for: when another
    /// request extended it meanwhile, this one's read is dropped and the caller looks again.
    async fn extend_order(&self, scope: TaskScope, ticket: &crate::OrderTicket) -> Result<(), TaskError> {
        let (known, last) = ticket.extends.unwrap_or_default();
        let newer = self.tasks.creation_order(scope, last, ORDER_LIMIT.saturating_sub(known)).await?;
        // Fewer than the total: a task was created before the newest one the order held (a clock
        // behind another instance's, or two creates committing out of order).
        if known + newer.ids.len() as u64 == newer.total {
            self.cache.put_creation_order(ticket.clone(), &newer).await;
            return Ok(());
        }
        // Concurrent creates take their keys before their batches commit, and batches commit side
        // by side: the late ones are a moment older than the order's end. The tasks of the last
        // moments, laid over the order's end, bring them in; only a task older than that leaves
        // the order behind (and read whole once the extensions run out).
        if let Some(last) = last {
            let since = CreationKey { created_at: last.created_at - SETTLING, id: TaskId(0) };
            let recent = self.tasks.creation_order(scope, Some(since), ORDER_LIMIT).await?;
            let overlapping = crate::OrderTicket { overlaps: true, ..ticket.clone() };
            self.cache.put_creation_order(overlapping, &recent).await;
        }
        Ok(())
    }

    /// The tasks of a cached page, in its order: from the task cache, which every write keeps
    /// current, and those it lacks from the database (and then cached). A task deleted or handed
    /// to someone else since the page was filed is left out rather than shown.
    async fn bodies(&self, viewer: &Principal, ids: &[TaskId]) -> Result<Vec<Task>, TaskError> {
        let mut cached = self.cache.tasks(ids).await;
        let missing: Vec<TaskId> =
            ids.iter().zip(&cached).filter(|(_, task)| task.is_none()).map(|(id, _)| *id).collect();
        if !missing.is_empty() {
            let mut found: HashMap<TaskId, Task> = HashMap::new();
            for task in self.tasks.find_many(missing).await? {
                self.cache.put_task(&task).await;
                found.insert(task.id, task);
            }
            for (id, task) in ids.iter().zip(cached.iter_mut()) {
                if task.is_none() {
                    *task = found.remove(id);
                }
            }
        }
        let viewer = Viewer::from(viewer);
        let tasks: Vec<Task> = cached.into_iter().flatten().collect();
        let roles: HashMap<ProjectId, ProjectRole> = if tasks.iter().any(|task| viewer.needs_project_role(task)) {
            self.projects.roles_of(viewer.id).await?.into_iter().collect()
        } else {
            HashMap::new()
        };
        let role = |task: &Task| task.project_id.and_then(|project| roles.get(&project).copied());
        Ok(tasks.into_iter().filter(|task| viewer.access(task, role(task)) >= Access::Read).collect())
    }

    /// The first `limit` tasks the viewer sees that match `filter`, without a total (a search);
    /// [`TaskError::SearchTimedOut`] when a statement runs past [`crate::SEARCH_TIME_LIMIT`].
    pub async fn search(&self, viewer: &Principal, filter: TaskFilter, limit: u32) -> Result<Vec<Task>, TaskError> {
        Ok(self.tasks.first_matching(Self::scope(viewer.into()), filter, limit, crate::SEARCH_TIME_LIMIT).await?)
    }

    /// How the tasks the viewer sees that match `filter` spread over statuses, priorities, tags
    /// and projects, and how many they are: a search's totals and facets; as [`Self::search`],
    /// within [`crate::SEARCH_TIME_LIMIT`].
    pub async fn facets(&self, viewer: &Principal, filter: TaskFilter) -> Result<TaskFacets, TaskError> {
        Ok(self.tasks.facets(Self::scope(viewer.into()), filter, crate::SEARCH_TIME_LIMIT).await?)
    }

    /// Applies the changes a client sent, validated like [`Self::create`]'s draft. With
    /// `if_match`, the task must still be at that version (else `VersionMismatch`); without it, a
    /// concurrent change is re-read and the changes re-applied.
    ///
    /// The first attempt starts from the cached copy when there is one: the write is conditional
    /// on the version it started from, so a stale copy costs a re-read, never a lost update, and a
    /// fresh one saves the read. Refusals (not visible, stale `If-Match`) are only ever decided on
    /// the stored copy.
    pub async fn update(
        &self,
        viewer: &Principal,
        id: TaskId,
        patch: TaskPatch,
        if_match: Option<i64>,
    ) -> Result<Task, TaskError> {
        let assignee = patch.assignee_id.flatten().filter(|id| *id > 0).map(UserId);
        let (mut v, changes) = TaskChanges::check(patch);
        self.check_assignee(&mut v, assignee).await?;
        v.finish()?;
        let viewer = Viewer::from(viewer);
        let (mut current, mut stored) = match self.cache.task(id).await {
            Some(cached) => (cached, false),
            None => (self.stored(id).await?, true),
        };
        let mut role = self.project_role(viewer, &current).await?;
        // A refusal is decided on the stored copy: a cached copy that would be refused is read again.
        let first = loop {
            match changed(viewer, role, &current, &changes, if_match) {
                Ok(first) => break first,
                Err(_) if !stored => {
                    (current, stored) = (self.stored(id).await?, true);
                    role = self.project_role(viewer, &current).await?;
                }
                Err(refused) => return Err(refused),
            }
        };
        let (changes, first) = match self.structure_changes(&current, changes).await? {
            (changes, true) => {
                let first = changed(viewer, role, &current, &changes, if_match)?;
                (changes, first)
            }
            (changes, false) => (changes, first),
        };
        self.check_project_rules(viewer, viewer.access(&current, role), &current, &first).await?;
        // If someone changed it since that version, the repository starts again from the stored
        // copy, on the same connection. With `If-Match`, the stored copy must still be at the
        // version the client named, so a lost race ends in 412 on it. The project rules were
        // checked against `current`: a stored copy that moved project, or whose assignee changed
        // under a move, is not rebased on.
        let (project, assignee, moving) = (current.project_id, current.assignee_id, changes.project_id.is_some());
        let rebase: Rebase = Arc::new(move |latest: &Task| {
            let same_ground = latest.project_id == project && (!moving || latest.assignee_id == assignee);
            same_ground.then(|| changed(viewer, role, latest, &changes, if_match).ok()).flatten()
        });
        match self.tasks.update(first, current.clone(), rebase, UPDATE_ATTEMPTS).await? {
            UpdateOutcome::Stored { task, replaced, follow_up, dependants } => {
                // What it replaced: the copy it was rebased on, or the version it was written over.
                let before = replaced.as_ref().unwrap_or(&current);
                self.cache.put_task(&task).await;
                // Completed or reopened: the tasks it blocks (and its subtasks) changed with it.
                self.recache(dependants).await?;
                let same_ground = before.assignee_id == task.assignee_id && before.project_id == task.project_id;
                if let Some(next) = follow_up.as_deref() {
                    self.cache.put_task(next).await;
                }
                if same_ground {
                    // A next occurrence is a copy (same assignee and project): it was added to
                    // the lists of the completed task.
                    let mut parts = ListPart::changed_by(before, &task);
                    if let Some(next) = follow_up.as_deref() {
                        parts.extend(ListPart::created(next));
                    }
                    self.forget_parts_of(&[&task], parts).await?;
                } else if let Some(next) = follow_up.as_deref() {
                    self.forget_scopes_of(&[before, &task, next]).await?;
                } else {
                    self.forget_scopes_of(&[before, &task]).await?;
                }
                if let Some(activity) = &self.activity {
                    activity.changed(viewer.id, before, &task).await;
                }
                Ok(task)
            }
            UpdateOutcome::Stale(None) => Err(TaskError::NotFound),
            // Refused on the stored copy, or every attempt lost a race.
            UpdateOutcome::Stale(Some(stored)) => {
                let role = self.project_role(viewer, &stored).await?;
                Err(refusal(viewer, role, &stored, if_match).unwrap_or(TaskError::Contention))
            }
        }
    }

    /// Deletes a task: its owner (a project's editors and admins for a project task), a
    /// moderator or an admin may; an assignee may not.
    pub async fn delete(&self, viewer: &Principal, id: TaskId, if_match: Option<i64>) -> Result<(), TaskError> {
        let current = self.stored(id).await?;
        match self.access(viewer.into(), &current).await? {
            Access::None => return Err(TaskError::NotFound),
            Access::Read | Access::Change => {
                return Err(TaskError::Forbidden(
                    "only the task's owner (a project's editors and admins), moderators and admins may delete it",
                ));
            }
            Access::Delete => {}
        }
        if let Some(expected) = if_match.filter(|v| *v != current.version) {
            return Err(TaskError::VersionMismatch { expected, current: current.version });
        }
        let dependants = match &self.structure {
            Some(structure) => structure.relations.dependants(id).await?,
            None => Vec::new(),
        };
        if !self.tasks.delete(id, if_match).await? {
            return match if_match {
                Some(expected) => Err(TaskError::VersionMismatch { expected, current: expected + 1 }),
                None => Err(TaskError::NotFound),
            };
        }
        self.cache.forget_task(id).await;
        self.forget_scopes_of(&[&current]).await?;
        self.recache(dependants).await?;
        Ok(())
    }

    /// Up to `count` next due dates of a task the viewer sees, each after its own due date; none
    /// for a task that does not recur.
    pub async fn occurrences(
        &self,
        viewer: &Principal,
        id: TaskId,
        count: usize,
    ) -> Result<Vec<chrono::DateTime<chrono::Utc>>, TaskError> {
        let task = self.get(viewer, id).await?;
        let (Some(rule), Some(due)) = (task.recurrence.as_deref(), task.due_date) else { return Ok(Vec::new()) };
        Ok(crate::Recurrence::parse(rule).map(|rule| rule.after(due, count)).unwrap_or_default())
    }

    /// Statistics over the tasks the viewer sees, read through the cache.
    pub async fn stats(&self, viewer: &Principal) -> Result<TaskStats, TaskError> {
        self.stats_in(Self::scope(viewer.into())).await
    }

    /// Statistics over a project's tasks, read through the cache. Whether the caller may see the
    /// project is the projects domain's to decide first.
    pub async fn project_stats(&self, project: ProjectId) -> Result<TaskStats, TaskError> {
        self.stats_in(TaskScope::Project(project)).await
    }

    async fn stats_in(&self, scope: TaskScope) -> Result<TaskStats, TaskError> {
        if let Some(stats) = self.cache.stats(scope).await {
            return Ok(stats);
        }
        let stats = self.tasks.stats(scope, now()).await?;
        self.cache.put_stats(scope, &stats).await;
        Ok(stats)
    }

    /// Tags in use on the viewer's visible tasks.
    pub async fn tags(&self, viewer: &Principal, search: Option<String>) -> Result<Vec<TagUsage>, TaskError> {
        let search = search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        Ok(self.tasks.tags(Self::scope(viewer.into()), search).await?)
    }

    /// One page of the comments on a task the viewer sees, oldest first.
    pub async fn comments(
        &self,
        viewer: &Principal,
        task: TaskId,
        page: PageRequest,
    ) -> Result<Page<Comment>, TaskError> {
        self.visible_fresh(viewer, task).await?;
        Ok(self.comments.list(task, page).await?)
    }

    /// Adds a comment to a task the viewer sees.
    pub async fn comment(&self, viewer: &Principal, task: TaskId, body: Option<String>) -> Result<Comment, TaskError> {
        let body = match body.map(CommentBody::parse) {
            Some(Ok(body)) => body,
            Some(Err(message)) => return Err(FieldErrors::single("body", message).into()),
            None => return Err(FieldErrors::single("body", "is required").into()),
        };
        let task = self.visible_fresh(viewer, task).await?;
        let comment = NewComment { task_id: task.id, author_id: viewer.id, body, created_at: now() };
        let comment = self.comments.create(comment).await?;
        if let Some(activity) = &self.activity {
            activity.commented(viewer.id, &task, &comment).await;
        }
        Ok(comment)
    }

    /// Removes a comment: its author, moderators and admins may.
    pub async fn delete_comment(&self, viewer: &Principal, task: TaskId, comment: i64) -> Result<(), TaskError> {
        self.visible_fresh(viewer, task).await?;
        let found = self.comments.find(task, comment).await?.ok_or(TaskError::CommentNotFound)?;
        if found.author_id != viewer.id && !viewer.role.is_moderator() {
            return Err(TaskError::Forbidden("only the comment's author and moderators may delete it"));
        }
        if self.comments.delete(comment).await? { Ok(()) } else { Err(TaskError::CommentNotFound) }
    }

    /// Every task `user` owns or is assigned to: what an account deletion changes (owned tasks go,
    /// assignments are cleared), so that their cached copies can be forgotten afterwards.
    pub async fn involving(&self, user: UserId) -> Result<Vec<Task>, TaskError> {
        let mut tasks = Vec::new();
        let mut number = 1;
        loop {
            let page = PageRequest::new(Some(number), Some(u64::from(PageRequest::MAX_PER_PAGE)))?;
            let batch = self.tasks.list(TaskScope::InvolvedUser(user), TaskFilter::default(), page).await?;
            let done = batch.items.len() < PageRequest::MAX_PER_PAGE as usize;
            tasks.extend(batch.items);
            if done {
                return Ok(tasks);
            }
            number += 1;
        }
    }

    /// Forgets the cached copies, statistics and lists of tasks changed behind the service's back
    /// (by an account deletion's cascade).
    pub async fn forget(&self, tasks: &[Task]) {
        for task in tasks {
            self.cache.forget_task(task.id).await;
        }
        let tasks: Vec<&Task> = tasks.iter().collect();
        if let Err(error) = self.forget_scopes_of(&tasks).await {
            tracing::warn!(%error, "could not read who sees the changed tasks; forgetting every list");
            self.cache.forget_scopes(vec![TaskScope::All]).await;
        }
    }

    /// After `user` joined `project`: their lists and statistics now hold its tasks.
    pub async fn member_joined(&self, _project: ProjectId, user: UserId) {
        self.cache.forget_scopes(vec![TaskScope::InvolvedUser(user)]).await;
    }

    /// After `user` left `project` (or was removed) and was unassigned from `unassigned`: their
    /// lists no longer hold its tasks, and every list that showed those assignments is redone.
    pub async fn member_left(&self, project: ProjectId, user: UserId, unassigned: &[TaskId]) {
        for id in unassigned {
            self.cache.forget_task(*id).await;
        }
        let mut scopes = vec![TaskScope::InvolvedUser(user), TaskScope::Project(project), TaskScope::All];
        if !unassigned.is_empty() {
            match self.projects.member_ids(project).await {
                Ok(members) => scopes.extend(members.into_iter().map(TaskScope::InvolvedUser)),
                Err(error) => tracing::warn!(%error, "could not read the project's members to forget their lists"),
            }
        }
        self.cache.forget_scopes(scopes).await;
    }

    /// After `project` was deleted with its tasks: the lists of its `members`, of the project and
    /// of everything. (Cached copies of its tasks are refused at their next read: a project task
    /// whose project is gone is seen by nobody.)
    pub async fn project_deleted(&self, project: ProjectId, members: &[UserId]) {
        let mut scopes = vec![TaskScope::Project(project), TaskScope::All];
        scopes.extend(members.iter().copied().map(TaskScope::InvolvedUser));
        self.cache.forget_scopes(scopes).await;
    }

    /// The task as stored now (not cached: the answer depends on the current version), if visible.
    async fn visible_fresh(&self, viewer: &Principal, id: TaskId) -> Result<Task, TaskError> {
        let task = self.stored(id).await?;
        if self.access(viewer.into(), &task).await? >= Access::Read { Ok(task) } else { Err(TaskError::NotFound) }
    }

    /// What `viewer` may do with `task`. A project task's project is looked up even for moderators
    /// and admins: once the project is gone (and its tasks with it), a cached copy shows nobody.
    async fn access(&self, viewer: Viewer, task: &Task) -> Result<Access, TaskError> {
        let Some(project) = task.project_id else { return Ok(viewer.access(task, None)) };
        match self.projects.standing(project, viewer.id).await? {
            Standing::NoSuchProject => {
                self.cache.forget_task(task.id).await;
                Ok(Access::None)
            }
            Standing::Outsider => Ok(viewer.access(task, None)),
            Standing::Member(role) => Ok(viewer.access(task, Some(role))),
        }
    }

    /// The viewer's role in the task's project, when what they may do depends on it.
    async fn project_role(&self, viewer: Viewer, task: &Task) -> Result<Option<ProjectRole>, TaskError> {
        match task.project_id {
            Some(project) if viewer.needs_project_role(task) => {
                Ok(match self.projects.standing(project, viewer.id).await? {
                    Standing::Member(role) => Some(role),
                    Standing::NoSuchProject | Standing::Outsider => None,
                })
            }
            _ => Ok(None),
        }
    }

    /// Records a failure on `project_id` unless `viewer` may put tasks in `project` (an editor or
    /// admin there; moderators and admins in any project that exists); refuses a viewer.
    async fn check_editor(&self, v: &mut Validator, viewer: Viewer, project: ProjectId) -> Result<(), TaskError> {
        match self.projects.standing(project, viewer.id).await? {
            Standing::NoSuchProject => v.fail("project_id", NOT_A_MEMBER),
            Standing::Outsider if !viewer.sees_everything() => v.fail("project_id", NOT_A_MEMBER),
            Standing::Member(role) if !role.edits_tasks() && !viewer.sees_everything() => {
                return Err(TaskError::Forbidden(VIEWERS_READ));
            }
            Standing::Outsider | Standing::Member(_) => {}
        }
        Ok(())
    }

    /// Records a failure on `assignee_id` unless `assignee` (when there is one) is a member of
    /// `project`.
    async fn check_member_assignee(
        &self,
        v: &mut Validator,
        project: ProjectId,
        assignee: Option<UserId>,
    ) -> Result<(), TaskError> {
        let Some(assignee) = assignee else { return Ok(()) };
        if !matches!(self.projects.standing(project, assignee).await?, Standing::Member(_)) {
            v.fail("assignee_id", "must be a member of the task's project");
        }
        Ok(())
    }

    /// The rules a project adds to a change from `before` to `after`: moving a task takes delete
    /// rights on it and editor rights in the project it moves to; taking it out of its project
    /// (making it its owner's personal task) is for [`Self::check_taking_out`]; a project task's
    /// assignee must be a member of its project.
    async fn check_project_rules(
        &self,
        viewer: Viewer,
        access: Access,
        before: &Task,
        after: &Task,
    ) -> Result<(), TaskError> {
        let moved = before.project_id != after.project_id;
        if moved && access < Access::Delete {
            return Err(TaskError::Forbidden("only those who may delete a task move it between projects"));
        }
        if let (true, Some(project), None) = (moved, before.project_id, after.project_id) {
            self.check_taking_out(viewer, project, before).await?;
        }
        let mut v = Validator::default();
        if let Some(project) = after.project_id.filter(|_| moved) {
            self.check_editor(&mut v, viewer, project).await?;
        }
        if let Some(project) = after.project_id.filter(|_| moved || before.assignee_id != after.assignee_id) {
            self.check_member_assignee(&mut v, project, after.assignee_id).await?;
        }
        Ok(v.finish()?)
    }

    /// Refuses to take `task` out of `project` unless `viewer` is its owner and a member (an
    /// editor or admin: a viewer changes nothing), an admin of the project, or a platform admin
    /// (who acts as a project admin anywhere). A personal task is seen by its owner: an editor
    /// taking out the task of an owner who was removed from the project would hand a non-member
    /// what the project took from them. Moderators change every task, but are no project's
    /// admins: they take one out only as its owner while a member.
    async fn check_taking_out(&self, viewer: Viewer, project: ProjectId, task: &Task) -> Result<(), TaskError> {
        if viewer.role.is_admin() {
            return Ok(());
        }
        let allowed = match self.projects.standing(project, viewer.id).await? {
            Standing::Member(ProjectRole::Admin) => true,
            Standing::Member(_) => task.owner_id == viewer.id,
            Standing::Outsider | Standing::NoSuchProject => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(TaskError::Forbidden(
                "only the task's owner, while a member, and the project's admins take a task out of its project",
            ))
        }
    }

    async fn stored(&self, id: TaskId) -> Result<Task, TaskError> {
        self.tasks.find(id).await?.ok_or(TaskError::NotFound)
    }

    /// Records a failure on `assignee_id` unless `id` (when there is one) names an active user.
    async fn check_assignee(&self, v: &mut Validator, id: Option<UserId>) -> Result<(), TaskError> {
        let Some(id) = id else { return Ok(()) };
        let active = self.accounts.account(id).await.map_err(TaskError::from)?.is_some_and(|a| a.is_active());
        if !active {
            v.fail("assignee_id", "must be an active user");
        }
        Ok(())
    }

    /// Forgets the cached statistics of everyone who sees the tasks and of the scope of all tasks,
    /// and the `parts` of their lists: after a create, or a change that kept the task's owner,
    /// assignee and project.
    ///
    /// When a status is among `parts`, the tasks' statuses changed: the cache lays them over the
    /// scopes' creation orders, which serve the statuses' pages.
    async fn forget_parts_of(&self, tasks: &[&Task], parts: Vec<ListPart>) -> Result<(), TaskError> {
        let scopes = self.scopes_of(tasks).await?;
        if parts.iter().any(|part| matches!(part, ListPart::Status(_))) {
            let changes = tasks.iter().map(|task| Restatus::of(task)).collect();
            self.cache.restatus(scopes.clone(), changes).await;
        }
        self.cache.forget_parts(scopes, parts).await;
        Ok(())
    }

    /// Forgets the cached statistics and lists of everyone who sees any of `tasks` (a task before
    /// and after a change), and of the scope of all tasks.
    async fn forget_scopes_of(&self, tasks: &[&Task]) -> Result<(), TaskError> {
        let scopes = self.scopes_of(tasks).await?;
        self.cache.forget_scopes(scopes).await;
        Ok(())
    }

    /// The scopes whose lists and statistics hold any of `tasks`: everything; a personal task's
    /// owner and assignee; a project task's project, assignee and every member.
    async fn scopes_of(&self, tasks: &[&Task]) -> Result<Vec<TaskScope>, TaskError> {
        let mut scopes = Vec::new();
        let mut projects = Vec::new();
        for task in tasks {
            match task.project_id {
                None => scopes.extend(task.involved().map(TaskScope::InvolvedUser)),
                Some(project) => {
                    scopes.extend(task.assignee_id.map(TaskScope::InvolvedUser));
                    if !projects.contains(&project) {
                        projects.push(project);
                        scopes.push(TaskScope::Project(project));
                        let members = self.projects.member_ids(project).await?;
                        scopes.extend(members.into_iter().map(TaskScope::InvolvedUser));
                    }
                }
            }
        }
        scopes.push(TaskScope::All);
        let mut seen = std::collections::HashSet::new();
        scopes.retain(|scope| seen.insert(*scope));
        Ok(scopes)
    }
}

/// `current` with `changes` applied (its version bumped), or why `viewer` (with `role` in its
/// project) may not: they cannot see the task (`NotFound`, whether it exists or not), only read
/// it, or the client named another version.
fn changed(
    viewer: Viewer,
    role: Option<ProjectRole>,
    current: &Task,
    changes: &TaskChanges,
    if_match: Option<i64>,
) -> Result<Task, TaskError> {
    if let Some(refused) = refusal(viewer, role, current, if_match) {
        return Err(refused);
    }
    let mut updated = current.clone();
    changes.apply(&mut updated, now());
    if updated.recurrence.is_some() && updated.due_date.is_none() {
        return Err(FieldErrors::single("recurrence", crate::model::NEEDS_DUE_DATE).into());
    }
    Ok(updated)
}

/// Why `viewer` (with `role` in its project) may not change `task`, if they may not.
fn refusal(viewer: Viewer, role: Option<ProjectRole>, task: &Task, if_match: Option<i64>) -> Option<TaskError> {
    match viewer.access(task, role) {
        Access::None => return Some(TaskError::NotFound),
        Access::Read => return Some(TaskError::Forbidden(VIEWERS_READ)),
        Access::Change | Access::Delete => {}
    }
    if_match
        .filter(|v| *v != task.version)
        .map(|expected| TaskError::VersionMismatch { expected, current: task.version })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ListTicket, MockCommentRepository, MockProjectMembership, MockTaskCache, MockTaskRepository, Priority,
    };
    use workbench_core::TypeFailures;
    use workbench_users::{MockAccounts, Role, User, UserStatus};

    fn user(id: i64, role: Role) -> User {
        User { role, ..User::sample(id) }
    }

    fn caller(id: i64, role: Role) -> Principal {
        Principal::from(&user(id, role))
    }

    fn task(owner: i64, assignee: Option<i64>, version: i64) -> Task {
        let at = now();
        Task {
            id: TaskId(7),
            title: "t".into(),
            description: None,
            status: Status::Pending,
            priority: Priority::Medium,
            due_date: None,
            owner_id: UserId(owner),
            assignee_id: assignee.map(UserId),
            tags: vec![],
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
            fields: FieldValues::default(),
        }
    }

    fn quiet_cache() -> MockTaskCache {
        let mut cache = MockTaskCache::new();
        cache.expect_task().returning(|_| None);
        cache.expect_put_task().returning(|_| ());
        cache.expect_forget_task().returning(|_| ());
        cache.expect_forget_scopes().returning(|_| ());
        cache.expect_forget_parts().returning(|_, _| ());
        cache.expect_restatus().returning(|_, _| ());
        cache
    }

    fn service(tasks: MockTaskRepository, users: MockAccounts, cache: MockTaskCache) -> TaskService {
        TaskService::new(
            Arc::new(tasks),
            Arc::new(MockCommentRepository::new()),
            Arc::new(users),
            Arc::new(cache),
            Arc::new(MockProjectMembership::new()),
        )
    }

    #[tokio::test]
    async fn strangers_get_not_found_even_from_the_cache() {
        let mut cache = MockTaskCache::new();
        cache.expect_task().returning(|_| Some(task(1, Some(2), 1)));
        let svc = service(MockTaskRepository::new(), MockAccounts::new(), cache);
        assert!(matches!(svc.get(&caller(3, Role::User), TaskId(7)).await, Err(TaskError::NotFound)));
        assert!(svc.get(&caller(2, Role::User), TaskId(7)).await.is_ok(), "the assignee sees it");
        assert!(svc.get(&caller(9, Role::Moderator), TaskId(7)).await.is_ok(), "moderators see all");
    }

    #[tokio::test]
    async fn a_stale_if_match_is_refused_without_writing() {
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().returning(|_| Ok(Some(task(1, None, 3))));
        tasks.expect_update().never();
        let svc = service(tasks, MockAccounts::new(), quiet_cache());
        let changes = TaskPatch { title: Some(Some("new".into())), ..TaskPatch::default() };
        let err = svc.update(&caller(1, Role::User), TaskId(7), changes, Some(2)).await;
        assert!(matches!(err, Err(TaskError::VersionMismatch { expected: 2, current: 3 })));
    }

    #[tokio::test]
    async fn losing_a_race_with_if_match_is_a_mismatch_and_without_it_a_retry() {
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().returning(|_| Ok(Some(task(1, None, 3))));
        // The store found version 4 in place of 3: with `If-Match: 3` there is nothing to rebase.
        tasks.expect_update().times(1).returning(|_, _, rebase, _| {
            let stored = task(1, None, 4);
            assert!(rebase(&stored).is_none(), "If-Match named another version");
            Ok(UpdateOutcome::Stale(Some(stored)))
        });
        let svc = service(tasks, MockAccounts::new(), quiet_cache());
        let err = svc.update(&caller(1, Role::User), TaskId(7), TaskPatch::default(), Some(3)).await;
        assert!(matches!(err, Err(TaskError::VersionMismatch { expected: 3, current: 4 })), "{err:?}");

        // Without it, the change is made again on the stored copy.
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().returning(|_| Ok(Some(task(1, None, 3))));
        tasks.expect_update().times(1).returning(|t, expected, rebase, attempts| {
            assert_eq!((t.version, expected.version, attempts), (4, 3, UPDATE_ATTEMPTS));
            let stored = task(1, None, 4);
            let again = rebase(&stored).expect("rebased");
            assert_eq!(again.version, 5);
            Ok(UpdateOutcome::Stored { task: again, replaced: Some(stored), follow_up: None, dependants: Vec::new() })
        });
        let svc = service(tasks, MockAccounts::new(), quiet_cache());
        let updated = svc.update(&caller(1, Role::User), TaskId(7), TaskPatch::default(), None).await.unwrap();
        assert_eq!(updated.version, 5);
    }

    #[tokio::test]
    async fn assignees_may_change_but_not_delete() {
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().returning(|_| Ok(Some(task(1, Some(2), 1))));
        tasks.expect_update().returning(|t, _, _, _| {
            Ok(UpdateOutcome::Stored { task: t, replaced: None, follow_up: None, dependants: Vec::new() })
        });
        tasks.expect_delete().never();
        let svc = service(tasks, MockAccounts::new(), quiet_cache());
        let changes = TaskPatch { status: Some(Some(Status::Completed)), ..TaskPatch::default() };
        let updated = svc.update(&caller(2, Role::User), TaskId(7), changes, None).await.unwrap();
        assert!(updated.completed_at.is_some());
        assert!(matches!(svc.delete(&caller(2, Role::User), TaskId(7), None).await, Err(TaskError::Forbidden(_))));
    }

    #[tokio::test]
    async fn an_inactive_or_unknown_assignee_is_a_field_error() {
        let mut users = MockAccounts::new();
        // Once per creation: the check that reports it is the only lookup.
        users.expect_account().times(2).returning(|id| {
            Ok((id.0 == 5).then(|| Principal { status: UserStatus::Disabled, ..caller(5, Role::User) }))
        });
        let mut tasks = MockTaskRepository::new();
        tasks.expect_create().never();
        let svc = service(tasks, users, quiet_cache());
        for assignee in [5, 6] {
            let draft = TaskDraft { title: Some("x".into()), assignee_id: Some(assignee), ..TaskDraft::default() };
            match svc.create(&caller(1, Role::User), draft).await {
                Err(TaskError::Validation(e)) => assert!(e.contains("assignee_id")),
                other => panic!("expected a validation error, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_unknown_assignee_is_reported_after_the_fields_that_could_not_be_read_and_the_rules() {
        let mut users = MockAccounts::new();
        users.expect_account().times(2).returning(|_| Ok(None));
        let svc = service(MockTaskRepository::new(), users, quiet_cache());
        let mut type_failures = TypeFailures::default();
        type_failures.record("priority", "unknown variant `urgent`");
        let draft = TaskDraft { title: Some(" ".into()), assignee_id: Some(9), type_failures, ..TaskDraft::default() };
        let Err(TaskError::Validation(e)) = svc.create(&caller(1, Role::User), draft).await else {
            panic!("expected a validation error");
        };
        let fields: Vec<_> = e.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["priority", "title", "assignee_id"]);

        let patch = TaskPatch { title: Some(None), assignee_id: Some(Some(9)), ..TaskPatch::default() };
        let Err(TaskError::Validation(e)) = svc.update(&caller(1, Role::User), TaskId(7), patch, None).await else {
            panic!("expected a validation error");
        };
        let fields: Vec<_> = e.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "assignee_id"]);
    }

    #[tokio::test]
    async fn a_created_task_completed_from_the_start_has_its_completion_time() {
        let mut tasks = MockTaskRepository::new();
        tasks
            .expect_create()
            .withf(|r| r.task.assignee_id == Some(UserId(2)) && r.completed_at == Some(r.created_at))
            .times(1)
            .returning(|r| {
                let mut created = task(r.owner_id.0, r.task.assignee_id.map(|a| a.0), 1);
                created.completed_at = r.completed_at;
                Ok(created)
            });
        let mut users = MockAccounts::new();
        users.expect_account().times(1).returning(|id| Ok(Some(caller(id.0, Role::User))));
        let svc = service(tasks, users, quiet_cache());
        let draft = TaskDraft {
            title: Some("x".into()),
            status: Some(Status::Completed),
            assignee_id: Some(2),
            ..TaskDraft::default()
        };
        let created = svc.create(&caller(1, Role::User), draft).await.unwrap();
        assert!(created.completed_at.is_some());
    }

    #[tokio::test]
    async fn writes_cache_the_new_version_and_forget_everyones_stats() {
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().returning(|_| Ok(Some(task(1, Some(2), 1))));
        tasks.expect_update().returning(|t, _, _, _| {
            Ok(UpdateOutcome::Stored { task: t, replaced: None, follow_up: None, dependants: Vec::new() })
        });
        let mut cache = MockTaskCache::new();
        cache.expect_task().returning(|_| None);
        cache.expect_put_task().withf(|t| t.id == TaskId(7) && t.version == 2).times(1).returning(|_| ());
        cache
            .expect_forget_scopes()
            .withf(|scopes| {
                [
                    TaskScope::InvolvedUser(UserId(1)),
                    TaskScope::InvolvedUser(UserId(3)),
                    TaskScope::InvolvedUser(UserId(2)),
                    TaskScope::All,
                ]
                .iter()
                .all(|s| scopes.contains(s))
            })
            .times(1)
            .returning(|_| ());
        let mut users = MockAccounts::new();
        // Looked up once, while the changes are checked.
        users.expect_account().times(1).returning(|id| Ok(Some(caller(id.0, Role::User))));
        let svc = service(tasks, users, cache);
        let changes = TaskPatch { assignee_id: Some(Some(3)), ..TaskPatch::default() };
        svc.update(&caller(1, Role::User), TaskId(7), changes, None).await.unwrap();
    }

    /// A cache that holds `cached` and accepts anything.
    fn cache_holding(cached: Task) -> MockTaskCache {
        let mut cache = MockTaskCache::new();
        cache.expect_task().returning(move |_| Some(cached.clone()));
        cache.expect_put_task().returning(|_| ());
        cache.expect_forget_scopes().returning(|_| ());
        cache.expect_forget_parts().returning(|_, _| ());
        cache.expect_restatus().returning(|_, _| ());
        cache
    }

    #[tokio::test]
    async fn a_change_that_keeps_the_assignee_forgets_only_the_parts_it_moves() {
        let mut tasks = MockTaskRepository::new();
        tasks.expect_update().returning(|t, _, _, _| {
            Ok(UpdateOutcome::Stored { task: t, replaced: None, follow_up: None, dependants: Vec::new() })
        });
        let mut cache = MockTaskCache::new();
        cache.expect_task().returning(|_| Some(task(1, Some(2), 1)));
        cache.expect_put_task().returning(|_| ());
        cache.expect_forget_scopes().times(0);
        let scopes = vec![TaskScope::InvolvedUser(UserId(1)), TaskScope::InvolvedUser(UserId(2)), TaskScope::All];
        let moved = vec![ListPart::Rest, ListPart::Status(Status::Pending), ListPart::Status(Status::Completed)];
        cache
            .expect_forget_parts()
            .withf(move |s, parts| *s == scopes && *parts == moved)
            .times(1)
            .returning(|_, _| ());
        cache.expect_forget_parts().withf(|_, parts| *parts == [ListPart::Rest]).times(1).returning(|_, _| ());
        // The completion is laid over the scopes' creation orders, which serve the statuses' pages;
        // the rename is not (no status moved).
        let scopes = vec![TaskScope::InvolvedUser(UserId(1)), TaskScope::InvolvedUser(UserId(2)), TaskScope::All];
        cache
            .expect_restatus()
            .withf(move |s, changes| {
                *s == scopes
                    && matches!(changes.as_slice(), [change] if change.key.id == TaskId(7)
                        && change.status == Status::Completed && change.version == 2)
            })
            .times(1)
            .returning(|_, _| ());
        let svc = service(tasks, MockAccounts::new(), cache);
        let done = TaskPatch { status: Some(Some(Status::Completed)), ..TaskPatch::default() };
        svc.update(&caller(1, Role::User), TaskId(7), done, None).await.unwrap();
        // The title is in no filter or order of the pages by creation.
        let renamed = TaskPatch { title: Some(Some("renamed".into())), ..TaskPatch::default() };
        svc.update(&caller(1, Role::User), TaskId(7), renamed, None).await.unwrap();
    }

    #[tokio::test]
    async fn an_update_starts_from_a_current_cached_copy_without_reading() {
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().never();
        tasks.expect_update().withf(|t, before, _, _| t.version == 4 && before.version == 3).times(1).returning(
            |t, _, _, _| Ok(UpdateOutcome::Stored { task: t, replaced: None, follow_up: None, dependants: Vec::new() }),
        );
        let svc = service(tasks, MockAccounts::new(), cache_holding(task(1, None, 3)));
        let updated = svc.update(&caller(1, Role::User), TaskId(7), TaskPatch::default(), Some(3)).await.unwrap();
        assert_eq!(updated.version, 4);
    }

    #[tokio::test]
    async fn a_stale_cached_copy_costs_a_rebase_never_a_lost_update() {
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().never();
        tasks.expect_update().withf(|t, before, _, _| t.version == 3 && before.version == 2).times(1).returning(
            |_, _, rebase, _| {
                // The store holds version 5: the change is made again on it.
                let stored = task(1, None, 5);
                let again = rebase(&stored).expect("the caller still may");
                assert_eq!(again.version, 6);
                Ok(UpdateOutcome::Stored {
                    task: again,
                    replaced: Some(stored),
                    follow_up: None,
                    dependants: Vec::new(),
                })
            },
        );
        let svc = service(tasks, MockAccounts::new(), cache_holding(task(1, None, 2)));
        let updated = svc.update(&caller(1, Role::User), TaskId(7), TaskPatch::default(), None).await.unwrap();
        assert_eq!(updated.version, 6);
    }

    #[tokio::test]
    async fn a_rebased_change_forgets_the_lists_of_the_copy_it_replaced() {
        // The cache has the task assigned to 2; meanwhile someone assigned it to 3, and this
        // change unassigns it: user 3's lists held it, so they must be forgotten.
        let mut tasks = MockTaskRepository::new();
        tasks.expect_update().times(1).returning(|_, _, rebase, _| {
            let stored = task(1, Some(3), 5);
            let again = rebase(&stored).expect("the owner may");
            assert_eq!(again.assignee_id, None);
            Ok(UpdateOutcome::Stored { task: again, replaced: Some(stored), follow_up: None, dependants: Vec::new() })
        });
        let mut cache = MockTaskCache::new();
        cache.expect_task().returning(|_| Some(task(1, Some(2), 2)));
        cache.expect_put_task().returning(|_| ());
        cache
            .expect_forget_scopes()
            .withf(|scopes| scopes.contains(&TaskScope::InvolvedUser(UserId(3))) && scopes.contains(&TaskScope::All))
            .times(1)
            .returning(|_| ());
        let svc = service(tasks, MockAccounts::new(), cache);
        let changes = TaskPatch { assignee_id: Some(None), ..TaskPatch::default() };
        svc.update(&caller(1, Role::User), TaskId(7), changes, None).await.unwrap();
    }

    #[tokio::test]
    async fn refusals_are_decided_on_the_stored_copy() {
        // The cache says someone else owns it at version 2; the database says the caller does, at 3.
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().times(1).returning(|_| Ok(Some(task(1, None, 3))));
        tasks.expect_update().withf(|_, before, _, _| before.version == 3).times(1).returning(|t, _, _, _| {
            Ok(UpdateOutcome::Stored { task: t, replaced: None, follow_up: None, dependants: Vec::new() })
        });
        let svc = service(tasks, MockAccounts::new(), cache_holding(task(9, None, 2)));
        svc.update(&caller(1, Role::User), TaskId(7), TaskPatch::default(), Some(3)).await.expect("allowed");

        // The cache says the caller owns it at version 2: the conditional write is tried, fails
        // on the stored version, and the stored copy (someone else's) decides.
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().never();
        tasks.expect_update().withf(|_, before, _, _| before.version == 2).times(1).returning(|_, _, rebase, _| {
            let stored = task(9, None, 3);
            assert!(rebase(&stored).is_none(), "not the caller's to change");
            Ok(UpdateOutcome::Stale(Some(stored)))
        });
        let svc = service(tasks, MockAccounts::new(), cache_holding(task(1, None, 2)));
        let err = svc.update(&caller(1, Role::User), TaskId(7), TaskPatch::default(), Some(2)).await;
        assert!(matches!(err, Err(TaskError::NotFound)), "{err:?}");
    }

    #[tokio::test]
    async fn a_task_gone_or_always_moved_on_is_not_found_or_contention() {
        for (outcome, gone) in
            [(UpdateOutcome::Stale(None), true), (UpdateOutcome::Stale(Some(task(1, None, 9))), false)]
        {
            let mut tasks = MockTaskRepository::new();
            tasks.expect_update().times(1).returning(move |_, _, _, _| Ok(outcome.clone()));
            let svc = service(tasks, MockAccounts::new(), cache_holding(task(1, None, 2)));
            let err = svc.update(&caller(1, Role::User), TaskId(7), TaskPatch::default(), None).await;
            if gone {
                assert!(matches!(err, Err(TaskError::NotFound)), "{err:?}");
            } else {
                assert!(matches!(err, Err(TaskError::Contention)), "{err:?}");
            }
        }
    }

    #[tokio::test]
    async fn stats_are_read_through_the_cache_per_scope() {
        let mut tasks = MockTaskRepository::new();
        tasks
            .expect_stats()
            .withf(|scope, _| *scope == TaskScope::InvolvedUser(UserId(1)))
            .times(1)
            .returning(|_, _| Ok(TaskStats { total: 2, completed: 1, ..TaskStats::default() }));
        let mut cache = MockTaskCache::new();
        cache.expect_stats().times(1).returning(|_| None);
        cache.expect_put_stats().times(1).returning(|_, _| ());
        let svc = service(tasks, MockAccounts::new(), cache);
        let stats = svc.stats(&caller(1, Role::User)).await.unwrap();
        assert!((stats.completion_rate() - 0.5).abs() < f64::EPSILON);
    }

    #[tokio::test]
    async fn list_pages_are_read_through_the_cache_under_the_scopes_generation() {
        let page = PageRequest::new(Some(2), Some(20)).unwrap();
        let scope = TaskScope::InvolvedUser(UserId(1));
        let pending = ListPart::Status(Status::Pending);
        let ticket = ListTicket { scope, part: pending, generation: 4, query: "2x20:…".into() };
        let stored = task(1, None, 1);
        let (from_db, from_cache) = (stored.clone(), stored.clone());
        let mut tasks = MockTaskRepository::new();
        tasks
            .expect_list()
            .withf(|scope, _, _| *scope == TaskScope::InvolvedUser(UserId(1)))
            .times(1)
            .returning(move |_, _, page| Ok(Page::new(vec![from_db.clone()], 21, page)));
        let mut cache = MockTaskCache::new();
        cache.expect_shown_page().returning(|_, _| ShownLookup::Bypass);
        // A cache that keeps no statuses in its orders: the pages are filed by status.
        cache.expect_status_window().times(2).returning(|_, _, _, _| OrderLookup::Bypass);
        let miss = ticket.clone();
        cache
            .expect_list_page()
            .withf(move |s, part, query| *s == scope && *part == pending && query.starts_with("2x20:"))
            .times(1)
            .returning(move |_, _, _| ListLookup::Miss(miss.clone()));
        cache
            .expect_put_list_page()
            .withf(move |t, listed| *t == ticket && listed.total == 21 && listed.ids == [TaskId(7)])
            .times(1)
            .returning(|_, _| ());
        cache
            .expect_list_page()
            .times(1)
            .returning(|_, _, _| ListLookup::Hit(ListedPage { ids: vec![TaskId(7)], total: 21 }));
        // The page's task from the task cache, as the write that changed it last left it there.
        cache
            .expect_tasks()
            .withf(|ids| ids == [TaskId(7)])
            .times(1)
            .returning(move |_| vec![Some(from_cache.clone())]);
        let svc = service(tasks, MockAccounts::new(), cache);
        let alice = caller(1, Role::User);

        let filter = TaskFilter { statuses: vec![Status::Pending], ..TaskFilter::default() };
        let read = svc.list(&alice, filter.clone(), page).await.unwrap();
        assert_eq!((read.items.len(), read.total, read.request), (1, 21, page));
        let cached = svc.list(&alice, filter, page).await.unwrap();
        assert_eq!(cached, read, "the second read is the cached page, without the database");
    }

    #[tokio::test]
    async fn lists_that_depend_on_the_clock_or_an_unreachable_cache_go_to_the_database() {
        let mut tasks = MockTaskRepository::new();
        tasks.expect_list().times(3).returning(|_, _, page| Ok(Page::new(vec![], 0, page)));
        let mut cache = MockTaskCache::new();
        cache.expect_shown_page().times(2).returning(|_, _| ShownLookup::Bypass);
        cache.expect_list_page().times(1).returning(|_, _, _| ListLookup::Bypass);
        cache.expect_status_window().times(1).returning(|_, _, _, _| OrderLookup::Bypass);
        cache.expect_creation_window().times(1).returning(|_, _, _| OrderLookup::Bypass);
        let svc = service(tasks, MockAccounts::new(), cache);
        let overdue = TaskFilter { overdue_at: Some(now()), ..TaskFilter::default() };
        let pending = TaskFilter { statuses: vec![Status::Pending], ..TaskFilter::default() };
        for filter in [overdue, pending, TaskFilter::default()] {
            svc.list(&caller(1, Role::User), filter, PageRequest::first()).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_page_shown_since_the_scopes_last_change_is_shown_again_at_once() {
        let scope = TaskScope::InvolvedUser(UserId(1));
        let ticket = ListTicket { scope, part: ListPart::Rest, generation: 9, query: "1x20:…".into() };
        let pending = TaskFilter { statuses: vec![Status::Pending], ..TaskFilter::default() };
        let shown = task(1, None, 1);
        let mut cache = MockTaskCache::new();
        let miss = ticket.clone();
        cache.expect_shown_page().times(1).returning(move |_, _| ShownLookup::Miss(miss.clone()));
        cache.expect_status_window().times(1).returning(|_, _, _, _| OrderLookup::Bypass);
        cache.expect_list_page().times(1).returning(|_, _, _| ListLookup::Bypass);
        let stored = shown.clone();
        cache
            .expect_put_shown_page()
            .withf(move |t, page| *t == ticket && page.tasks == [stored.clone()] && page.total == 1)
            .times(1)
            .returning(|_, _| ());
        let again = ShownPage { tasks: vec![shown.clone()], total: 1 };
        cache.expect_shown_page().times(1).returning(move |_, _| ShownLookup::Hit(again.clone()));
        let mut tasks = MockTaskRepository::new();
        tasks.expect_list().times(1).returning(move |_, _, page| Ok(Page::new(vec![shown.clone()], 1, page)));
        let svc = service(tasks, MockAccounts::new(), cache);
        let alice = caller(1, Role::User);
        let first = svc.list(&alice, pending.clone(), PageRequest::first()).await.unwrap();
        let second = svc.list(&alice, pending, PageRequest::first()).await.unwrap();
        assert_eq!(second, first, "shown again without the database or the task cache");
    }

    /// Tasks 1..=n of user 1, as the repository and the task cache hold them.
    fn numbered(n: i64) -> Vec<Task> {
        (1..=n).map(|id| Task { id: TaskId(id), ..task(1, None, 1) }).collect()
    }

    /// A cache holding the tasks `tasks`, and whose orders follow `lookups` in turn.
    fn order_cache(tasks: Vec<Task>, lookups: Vec<OrderLookup>) -> MockTaskCache {
        let mut cache = MockTaskCache::new();
        cache.expect_shown_page().returning(|_, _| ShownLookup::Bypass);
        let mut lookups = lookups.into_iter();
        cache.expect_creation_window().times(lookups.len()).returning(move |_, _, _| lookups.next().unwrap());
        cache
            .expect_tasks()
            .returning(move |ids| ids.iter().map(|id| tasks.iter().find(|t| t.id == *id).cloned()).collect());
        cache
    }

    fn order_of(ids: std::ops::RangeInclusive<i64>, total: u64) -> CreationOrder {
        let last = ids.clone().last().map(|id| CreationKey { created_at: now(), id: TaskId(id) });
        CreationOrder { ids: ids.map(TaskId).collect(), last, total, ..CreationOrder::default() }
    }

    #[tokio::test]
    async fn a_deep_page_by_creation_is_a_window_of_the_order_read_once() {
        let scope = TaskScope::InvolvedUser(UserId(1));
        let ticket = crate::OrderTicket { scope, members: 3, appended: 5, extends: None, overlaps: false, since: 0 };
        let mut tasks = MockTaskRepository::new();
        tasks
            .expect_creation_order()
            .withf(|s, after, limit| {
                *s == TaskScope::InvolvedUser(UserId(1)) && after.is_none() && *limit == ORDER_LIMIT
            })
            .times(1)
            .returning(|_, _, _| Ok(order_of(1..=100, 100)));
        let mut cache = order_cache(numbered(100), vec![OrderLookup::Miss(ticket.clone())]);
        cache
            .expect_put_creation_order()
            .withf(move |t, order| *t == ticket && order.ids.len() == 100)
            .times(1)
            .returning(|_, _| ());
        let svc = service(tasks, MockAccounts::new(), cache);
        let page = PageRequest::new(Some(4), Some(20)).unwrap();
        let read = svc.list(&caller(1, Role::User), TaskFilter::default(), page).await.unwrap();
        let ids: Vec<i64> = read.items.iter().map(|t| t.id.0).collect();
        assert_eq!(ids, (21..=40).rev().collect::<Vec<_>>(), "page 4 newest first");
        assert_eq!(read.total, 100);
    }

    /// A status's page, out of the scope's creation order: the first read takes the order whole
    /// from the database (with each task's status) and shows the status's window of it; the next
    /// is the cache's window, neither reading the database's list.
    #[tokio::test]
    async fn a_status_page_is_a_window_of_the_order_and_its_statuses() {
        let scope = TaskScope::InvolvedUser(UserId(1));
        let ticket = crate::OrderTicket { scope, members: 3, appended: 5, extends: None, overlaps: false, since: 7 };
        let mut tasks = MockTaskRepository::new();
        tasks.expect_list().never();
        tasks.expect_creation_order().times(1).returning(|_, _, _| {
            // Every third task (3, 6, .. 99) completed: 33 of them.
            let mut order = order_of(1..=100, 100);
            order.states = order
                .ids
                .iter()
                .map(|id| crate::OrderedState {
                    created_at: now(),
                    status: if id.0 % 3 == 0 { Status::Completed } else { Status::Pending },
                    version: 1,
                })
                .collect();
            Ok(order)
        });
        let mut cache = MockTaskCache::new();
        cache.expect_shown_page().returning(|_, _| ShownLookup::Bypass);
        cache.expect_creation_window().never();
        cache.expect_list_page().never();
        let miss = ticket.clone();
        cache
            .expect_status_window()
            .withf(move |s, status, window, _| *s == scope && *status == Status::Completed && window.offset == 20)
            .times(1)
            .returning(move |_, _, _, _| OrderLookup::Miss(miss.clone()));
        cache
            .expect_put_creation_order()
            .withf(move |t, order| *t == ticket && order.states.len() == 100)
            .times(1)
            .returning(|_, _| ());
        cache
            .expect_status_window()
            .times(1)
            .returning(|_, _, _, _| OrderLookup::Hit { ids: vec![TaskId(9), TaskId(6), TaskId(3)], total: 33 });
        let all = numbered(100);
        cache
            .expect_tasks()
            .returning(move |ids| ids.iter().map(|id| all.iter().find(|t| t.id == *id).cloned()).collect());
        let svc = service(tasks, MockAccounts::new(), cache);
        let completed = TaskFilter { statuses: vec![Status::Completed], ..TaskFilter::default() };
        let page = PageRequest::new(Some(2), Some(20)).unwrap();
        let read = svc.list(&caller(1, Role::User), completed.clone(), page).await.unwrap();
        let ids: Vec<i64> = read.items.iter().map(|t| t.id.0).collect();
        assert_eq!(ids, [39, 36, 33, 30, 27, 24, 21, 18, 15, 12, 9, 6, 3], "page 2, newest first");
        assert_eq!(read.total, 33);
        let cached = svc.list(&caller(1, Role::User), completed, page).await.unwrap();
        assert_eq!((cached.items.len(), cached.total), (3, 33), "the cache's window");
    }

    /// The ticket of an order of 100 tasks ending at `last` that lacks the tasks created since.
    fn behind_at(scope: TaskScope, last: CreationKey) -> crate::OrderTicket {
        crate::OrderTicket {
            scope,
            members: 3,
            appended: 6,
            extends: Some((100, Some(last))),
            overlaps: false,
            since: 0,
        }
    }

    #[tokio::test]
    async fn an_order_behind_is_extended_with_the_tasks_created_since() {
        let scope = TaskScope::InvolvedUser(UserId(1));
        let last = CreationKey { created_at: now(), id: TaskId(100) };
        let behind = behind_at(scope, last);
        let mut tasks = MockTaskRepository::new();
        tasks
            .expect_creation_order()
            .withf(move |_, after, limit| *after == Some(last) && *limit == ORDER_LIMIT - 100)
            .times(1)
            .returning(|_, _, _| Ok(order_of(101..=102, 102)));
        let hit = OrderLookup::Hit { ids: vec![TaskId(102), TaskId(101)], total: 102 };
        let mut cache = order_cache(numbered(102), vec![OrderLookup::Behind(behind.clone()), hit]);
        cache
            .expect_put_creation_order()
            .withf(move |t, order| *t == behind && order.ids == [TaskId(101), TaskId(102)])
            .times(1)
            .returning(|_, _| ());
        let svc = service(tasks, MockAccounts::new(), cache);
        let page = PageRequest::new(Some(1), Some(2)).unwrap();
        let read = svc.list(&caller(1, Role::User), TaskFilter::default(), page).await.unwrap();
        assert_eq!((read.items[0].id, read.total), (TaskId(102), 102));
    }

    /// The cache after an order 1..=100 fell behind: one task (102) was created after its last,
    /// and one (101) a moment before it but committed later; 102 in all.
    fn late_arrival(tasks: &mut MockTaskRepository, last: CreationKey) {
        tasks
            .expect_creation_order()
            .withf(move |_, after, _| *after == Some(last))
            .times(1)
            .returning(|_, _, _| Ok(order_of(102..=102, 102)));
    }

    #[tokio::test]
    async fn a_task_committed_late_is_laid_over_the_end_of_the_order() {
        let scope = TaskScope::InvolvedUser(UserId(1));
        let last = CreationKey { created_at: now(), id: TaskId(100) };
        let behind = behind_at(scope, last);
        let mut tasks = MockTaskRepository::new();
        late_arrival(&mut tasks, last);
        // The tasks of the last moments: 99 and 100 the order holds, and both new ones.
        let since = CreationKey { created_at: last.created_at - SETTLING, id: TaskId(0) };
        tasks
            .expect_creation_order()
            .withf(move |_, after, _| *after == Some(since))
            .times(1)
            .returning(|_, _, _| Ok(order_of(99..=102, 102)));
        let hit = OrderLookup::Hit { ids: vec![TaskId(102), TaskId(101)], total: 102 };
        let mut cache = order_cache(numbered(102), vec![OrderLookup::Behind(behind.clone()), hit]);
        let overlapping = crate::OrderTicket { overlaps: true, ..behind };
        cache
            .expect_put_creation_order()
            .withf(move |t, order| *t == overlapping && order.ids.len() == 4 && order.total == 102)
            .times(1)
            .returning(|_, _| ());
        let svc = service(tasks, MockAccounts::new(), cache);
        let page = PageRequest::new(Some(1), Some(2)).unwrap();
        let read = svc.list(&caller(1, Role::User), TaskFilter::default(), page).await.unwrap();
        assert_eq!((read.items[0].id, read.total), (TaskId(102), 102));
    }

    #[tokio::test]
    async fn a_task_older_than_the_last_moments_makes_the_order_read_whole_again() {
        let scope = TaskScope::InvolvedUser(UserId(1));
        let last = CreationKey { created_at: now(), id: TaskId(100) };
        let behind = behind_at(scope, last);
        let rounds = ORDER_EXTENSIONS;
        let mut tasks = MockTaskRepository::new();
        tasks
            .expect_creation_order()
            .withf(move |_, after, _| *after == Some(last))
            .times(rounds)
            .returning(|_, _, _| Ok(order_of(102..=102, 102)));
        tasks
            .expect_creation_order()
            .withf(move |_, after, _| after.is_some_and(|a| a.created_at < last.created_at))
            .times(rounds)
            .returning(|_, _, _| Ok(order_of(100..=102, 102)));
        tasks
            .expect_creation_order()
            .withf(|_, after, _| after.is_none())
            .times(1)
            .returning(|_, _, _| Ok(order_of(1..=102, 102)));
        // The cache found each overlap short of the total and kept what it had.
        let mut cache = order_cache(numbered(102), vec![OrderLookup::Behind(behind); rounds + 1]);
        cache
            .expect_put_creation_order()
            .withf(|t, _| t.extends.is_some() && t.overlaps)
            .times(rounds)
            .returning(|_, _| ());
        cache
            .expect_put_creation_order()
            .withf(|t, order| t.extends.is_none() && t.appended == 6 && order.ids.len() == 102)
            .times(1)
            .returning(|_, _| ());
        let svc = service(tasks, MockAccounts::new(), cache);
        let read = svc.list(&caller(1, Role::User), TaskFilter::default(), PageRequest::first()).await.unwrap();
        assert_eq!(read.total, 102);
    }

    #[tokio::test]
    async fn an_order_extended_by_another_request_meanwhile_is_looked_up_again_not_read_whole() {
        let scope = TaskScope::InvolvedUser(UserId(1));
        let key = |id| CreationKey { created_at: now(), id: TaskId(id) };
        let (first, second) = (key(100), key(101));
        let behind = behind_at(scope, first);
        // While this request read task 101, another stored it and a create moved the order on.
        let behind_again = crate::OrderTicket { appended: 7, extends: Some((101, Some(second))), ..behind.clone() };
        let mut tasks = MockTaskRepository::new();
        tasks
            .expect_creation_order()
            .withf(move |_, after, _| *after == Some(first))
            .times(1)
            .returning(|_, _, _| Ok(order_of(101..=101, 101)));
        tasks
            .expect_creation_order()
            .withf(move |_, after, _| *after == Some(second))
            .times(1)
            .returning(|_, _, _| Ok(order_of(102..=102, 102)));
        tasks.expect_list().times(0);
        let hit = OrderLookup::Hit { ids: vec![TaskId(102), TaskId(101)], total: 102 };
        let lookups = vec![OrderLookup::Behind(behind), OrderLookup::Behind(behind_again), hit];
        let mut cache = order_cache(numbered(102), lookups);
        cache.expect_put_creation_order().times(2).returning(|_, _| ());
        let svc = service(tasks, MockAccounts::new(), cache);
        let page = PageRequest::new(Some(1), Some(2)).unwrap();
        let read = svc.list(&caller(1, Role::User), TaskFilter::default(), page).await.unwrap();
        assert_eq!((read.items[0].id, read.total), (TaskId(102), 102));
    }

    #[tokio::test]
    async fn a_scope_too_large_to_cache_is_read_page_by_page() {
        let scope = TaskScope::All;
        let ticket = crate::OrderTicket { scope, members: 1, appended: 1, extends: None, overlaps: false, since: 0 };
        let mut tasks = MockTaskRepository::new();
        tasks.expect_creation_order().times(1).returning(|_, _, _| Ok(order_of(1..=10, ORDER_LIMIT + 1)));
        tasks.expect_list().times(1).returning(|_, _, page| Ok(Page::new(vec![], ORDER_LIMIT + 1, page)));
        let mut cache = order_cache(vec![], vec![OrderLookup::Miss(ticket)]);
        cache.expect_put_creation_order().times(0);
        let svc = service(tasks, MockAccounts::new(), cache);
        let read = svc.list(&caller(1, Role::Admin), TaskFilter::default(), PageRequest::first()).await.unwrap();
        assert_eq!(read.total, ORDER_LIMIT + 1);
    }

    fn in_project(project: i64, owner: i64, assignee: Option<i64>) -> Task {
        Task { project_id: Some(ProjectId(project)), ..task(owner, assignee, 1) }
    }

    /// Roles in project 9: user 2 an editor, user 3 a viewer; nobody else is a member.
    fn members_of_nine() -> MockProjectMembership {
        let mut projects = MockProjectMembership::new();
        projects.expect_standing().returning(|project, user| {
            Ok(match (project.0, user.0) {
                (9, 2) => Standing::Member(ProjectRole::Editor),
                (9, 3) => Standing::Member(ProjectRole::Viewer),
                (9, _) => Standing::Outsider,
                _ => Standing::NoSuchProject,
            })
        });
        projects.expect_member_ids().returning(|_| Ok(vec![UserId(2), UserId(3)]));
        projects
    }

    #[tokio::test]
    async fn a_projects_viewer_reads_its_tasks_but_only_editors_change_them() {
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().returning(|_| Ok(Some(in_project(9, 1, None))));
        tasks.expect_update().times(1).returning(|t, _, _, _| {
            Ok(UpdateOutcome::Stored { task: t, replaced: None, follow_up: None, dependants: Vec::new() })
        });
        let svc = TaskService::new(
            Arc::new(tasks),
            Arc::new(MockCommentRepository::new()),
            Arc::new(MockAccounts::new()),
            Arc::new(quiet_cache()),
            Arc::new(members_of_nine()),
        );
        assert!(svc.get(&caller(3, Role::User), TaskId(7)).await.is_ok(), "a viewer reads");
        assert!(
            matches!(svc.get(&caller(1, Role::User), TaskId(7)).await, Err(TaskError::NotFound)),
            "the creator left"
        );
        let rename = || TaskPatch { title: Some(Some("new".into())), ..TaskPatch::default() };
        let refused = svc.update(&caller(3, Role::User), TaskId(7), rename(), None).await;
        assert!(matches!(refused, Err(TaskError::Forbidden(_))), "{refused:?}");
        svc.update(&caller(2, Role::User), TaskId(7), rename(), None).await.expect("an editor changes it");
    }

    #[tokio::test]
    async fn a_task_leaves_its_project_by_its_owner_while_a_member_or_an_admin_only() {
        // Task 7 of project 9, created by user 1, who is no longer a member.
        let mut projects = MockProjectMembership::new();
        projects.expect_standing().returning(|_, user| {
            Ok(match user.0 {
                2 => Standing::Member(ProjectRole::Editor),
                4 => Standing::Member(ProjectRole::Admin),
                _ => Standing::Outsider,
            })
        });
        projects.expect_member_ids().returning(|_| Ok(vec![UserId(2), UserId(4)]));
        let mut tasks = MockTaskRepository::new();
        tasks.expect_find().returning(|_| Ok(Some(in_project(9, 1, None))));
        tasks.expect_update().times(2).returning(|t, _, _, _| {
            Ok(UpdateOutcome::Stored { task: t, replaced: None, follow_up: None, dependants: Vec::new() })
        });
        let svc = TaskService::new(
            Arc::new(tasks),
            Arc::new(MockCommentRepository::new()),
            Arc::new(MockAccounts::new()),
            Arc::new(quiet_cache()),
            Arc::new(projects),
        );
        let out = || TaskPatch { project_id: Some(None), ..TaskPatch::default() };
        for refused in [caller(2, Role::User), caller(5, Role::Moderator)] {
            let got = svc.update(&refused, TaskId(7), out(), None).await;
            assert!(matches!(got, Err(TaskError::Forbidden(_))), "{refused:?}: {got:?}");
        }
        for allowed in [caller(4, Role::User), caller(6, Role::Admin)] {
            let moved = svc.update(&allowed, TaskId(7), out(), None).await.expect("a project or platform admin");
            assert_eq!((moved.project_id, moved.owner_id), (None, UserId(1)));
        }
    }

    #[tokio::test]
    async fn a_project_tasks_creator_must_edit_there_and_its_assignee_belong() {
        let mut users = MockAccounts::new();
        users.expect_account().returning(|id| Ok(Some(caller(id.0, Role::User))));
        let mut tasks = MockTaskRepository::new();
        tasks.expect_create().never();
        let svc = TaskService::new(
            Arc::new(tasks),
            Arc::new(MockCommentRepository::new()),
            Arc::new(users),
            Arc::new(quiet_cache()),
            Arc::new(members_of_nine()),
        );
        let draft = |project: i64, assignee: Option<i64>| TaskDraft {
            title: Some("t".into()),
            project_id: Some(project),
            assignee_id: assignee,
            ..TaskDraft::default()
        };
        let viewer = svc.create(&caller(3, Role::User), draft(9, None)).await;
        assert!(matches!(viewer, Err(TaskError::Forbidden(_))), "{viewer:?}");
        for (who, project, assignee, field) in
            [(5, 9, None, "project_id"), (2, 4, None, "project_id"), (2, 9, Some(5), "assignee_id")]
        {
            match svc.create(&caller(who, Role::User), draft(project, assignee)).await {
                Err(TaskError::Validation(e)) => assert!(e.contains(field), "{e}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
