//! The calendar use cases: what a CalDAV client reads and writes, on the task domain's rules.

use std::collections::HashMap;
use std::sync::Arc;

use workbench_projects::ProjectId;
use workbench_tasks::{ProjectMembership, Standing, Task, TaskDraft, TaskError, TaskId, TaskPatch, TaskService};
use workbench_users::Principal;

use crate::rendered::Rendered;
use crate::vtodo::{self, ClientTodo, VtodoError};
use crate::{Calendar, CalendarError, CalendarId, CalendarObject, CalendarStore, ChangesSince, ObjectEntry, SyncToken};

/// The resource name of a task no client named: `workbench-task-<id>.ics`. The store writes the
/// same name in SQL (the change log of a deleted task); the two are kept in step by its tests.
pub fn default_name(task: TaskId) -> String {
    format!("{DEFAULT_NAME_PREFIX}{}.ics", task.0)
}

/// What every default name starts with: reserved, so that no client's name can ever be a task's.
pub const DEFAULT_NAME_PREFIX: &str = "workbench-task-";

/// The most changes one sync answer carries when the client set no `DAV:limit`: more are
/// reported as a truncated answer the client continues from.
pub const MAX_CHANGES: usize = 5_000;

/// What a write asks of the object's current state (`If-Match`, `If-None-Match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing asked.
    None,
    /// `If-None-Match: *`: create only.
    Absent,
    /// `If-Match: *`: change only.
    Exists,
    /// `If-Match` with this version's `ETag`.
    Version(i64),
    /// `If-Match` with tags of which none is a version of this server: never holds.
    Never,
}

/// A calendar object as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectData {
    /// Its resource name.
    pub name: String,
    /// Its task's version: the `ETag`.
    pub version: i64,
    /// The iCalendar text (shared with the rendered-object cache).
    pub data: Arc<str>,
}

/// What a `PUT` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Made a task.
    Created,
    /// Changed one.
    Updated,
}

/// CalDAV's view of tasks: calendars, their objects and changes. Writes are the task domain's
/// (`TaskService`): the same validation, visibility, events, caches, webhooks and recurrence as
/// REST; what the task does not hold is kept beside it ([`CalendarStore::keep`]).
#[derive(Clone)]
pub struct CalendarService {
    store: Arc<dyn CalendarStore>,
    tasks: TaskService,
    projects: Arc<dyn ProjectMembership>,
    rendered: Rendered,
}

impl std::fmt::Debug for CalendarService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarService").finish_non_exhaustive()
    }
}

impl CalendarService {
    /// The service over the calendar store, the task domain's service and project membership.
    pub fn new(store: Arc<dyn CalendarStore>, tasks: TaskService, projects: Arc<dyn ProjectMembership>) -> Self {
        Self { store, tasks, projects, rendered: Rendered::new() }
    }

    /// Every calendar `user` sees: their personal tasks, then one per project they belong to.
    pub async fn calendars(&self, user: &Principal) -> Result<Vec<Calendar>, CalendarError> {
        let mut calendars = vec![personal(user)];
        let mut projects = self.store.projects_of(user.id).await?;
        projects.sort_by_key(|(id, _, _)| *id);
        calendars.extend(projects.into_iter().map(|(id, role, name)| Calendar {
            id: CalendarId::Project(id),
            display_name: name,
            role: Some(role),
        }));
        Ok(calendars)
    }

    /// One calendar of `user`'s, as their membership stands at this moment: a project they left a
    /// moment ago, or another user's personal calendar, is not found.
    pub async fn calendar(&self, user: &Principal, id: CalendarId) -> Result<Calendar, CalendarError> {
        match id {
            CalendarId::Personal(owner) if owner == user.id => Ok(personal(user)),
            CalendarId::Personal(_) => Err(CalendarError::NotFound),
            CalendarId::Project(project) => self.project_calendar(user, project).await,
        }
    }

    async fn project_calendar(&self, user: &Principal, project: ProjectId) -> Result<Calendar, CalendarError> {
        let Standing::Member(_) = self.projects.standing(project, user.id).await? else {
            return Err(CalendarError::NotFound);
        };
        let projects = self.store.projects_of(user.id).await?;
        let (_, role, name) = projects.into_iter().find(|(id, _, _)| *id == project).ok_or(CalendarError::NotFound)?;
        Ok(Calendar { id: CalendarId::Project(project), display_name: name, role: Some(role) })
    }

    /// The calendar's sync token now (also its `CS:getctag`).
    pub async fn token(&self, calendar: &Calendar) -> Result<SyncToken, CalendarError> {
        Ok(self.store.token(calendar.id).await?)
    }

    /// Every object of the calendar (at most `limit`, in task-id order) and the token of the same
    /// moment: an initial sync.
    pub async fn listing(
        &self,
        calendar: &Calendar,
        limit: Option<usize>,
    ) -> Result<(Vec<ObjectEntry>, SyncToken), CalendarError> {
        Ok(self.store.listing(calendar.id, limit).await?)
    }

    /// What changed since the token `uri` (a URI this calendar gave), at most `limit` tasks.
    pub async fn changes(
        &self,
        calendar: &Calendar,
        uri: &str,
        limit: Option<usize>,
    ) -> Result<ChangesSince, CalendarError> {
        let since = SyncToken::from_uri(calendar.id, uri).ok_or(CalendarError::InvalidSyncToken)?;
        let limit = limit.unwrap_or(MAX_CHANGES).clamp(1, MAX_CHANGES);
        self.store.changes(calendar.id, since, limit).await?.ok_or(CalendarError::InvalidSyncToken)
    }

    /// The objects named (every object of the calendar for `None`), rendered; a name that
    /// designates nothing in the calendar is left out.
    pub async fn read(&self, calendar: &Calendar, names: Option<&[String]>) -> Result<Vec<ObjectData>, CalendarError> {
        let tasks = match names {
            None => None,
            Some(names) => {
                let named = self.store.named_all(calendar.id, names.to_vec()).await?;
                Some(named.into_iter().map(|(_, id)| id).collect())
            }
        };
        let objects = self.store.objects(calendar.id, tasks).await?;
        let parents = self.parent_links(calendar, &objects).await?;
        Ok(objects
            .iter()
            .map(|(task, object)| self.render(task, object.as_ref(), parents.get(&task.id).map(String::as_str)))
            .collect())
    }

    /// One object of the calendar.
    pub async fn get(&self, calendar: &Calendar, name: &str) -> Result<ObjectData, CalendarError> {
        let id = self.store.named(calendar.id, name).await?.ok_or(CalendarError::NotFound)?;
        let objects = self.store.objects(calendar.id, Some(vec![id])).await?;
        let (task, object) = objects.first().ok_or(CalendarError::NotFound)?;
        let parents = self.parent_links(calendar, &objects).await?;
        Ok(self.render(task, object.as_ref(), parents.get(&task.id).map(String::as_str)))
    }

    /// The `RELATED-TO;RELTYPE=PARENT` each of `objects` carries: its parent's UID, for a subtask;
    /// for a task without a parent whose client named one that is no task of the calendar (yet: a
    /// client may upload a subtask before its parent), that UID, given back as written. A line
    /// naming a task of the calendar that is not the parent is dropped: the relation was removed.
    async fn parent_links(
        &self,
        calendar: &Calendar,
        objects: &[(Task, Option<CalendarObject>)],
    ) -> Result<HashMap<TaskId, String>, CalendarError> {
        let parents: Vec<TaskId> = objects.iter().filter_map(|(task, _)| task.parent_id).collect();
        let uids: HashMap<TaskId, String> =
            if parents.is_empty() { HashMap::new() } else { self.store.uids(parents).await?.into_iter().collect() };
        let mut links = HashMap::new();
        for (task, object) in objects {
            if let Some(parent) = task.parent_id {
                links.insert(task.id, uids.get(&parent).cloned().unwrap_or_else(|| vtodo::default_uid(parent)));
                continue;
            }
            let Some(object) = object.as_ref().filter(|o| o.source.contains("RELATED-TO")) else { continue };
            let Some(named) = vtodo::parse(&object.source).ok().and_then(|todo| todo.parent_uid) else { continue };
            if self.store.with_uid(calendar.id, &named).await?.is_none() {
                links.insert(task.id, named);
            }
        }
        Ok(links)
    }

    fn render(&self, task: &Task, object: Option<&CalendarObject>, parent_uid: Option<&str>) -> ObjectData {
        let data = self.rendered.get_or_render(task, object, parent_uid, || match object {
            Some(o) => vtodo::render(task, &o.uid, Some(&o.source), parent_uid),
            None => vtodo::render(task, &vtodo::default_uid(task.id), None, parent_uid),
        });
        let name = object.map_or_else(|| default_name(task.id), |o| o.name.clone());
        ObjectData { name, version: task.version, data }
    }

    /// Writes the object `name` of the calendar from a client's iCalendar text: a new task, or a
    /// change to the task it designates, as `user`, if `precondition` holds.
    pub async fn put(
        &self,
        user: &Principal,
        calendar: &Calendar,
        name: &str,
        body: &str,
        precondition: Precondition,
    ) -> Result<Written, CalendarError> {
        if !calendar.writable() {
            return Err(CalendarError::Forbidden("a project's viewers read its tasks; editors change them".into()));
        }
        let todo = vtodo::parse(body)?;
        match self.store.named(calendar.id, name).await? {
            None => {
                if !matches!(precondition, Precondition::None | Precondition::Absent) {
                    return Err(CalendarError::PreconditionFailed);
                }
                self.create(user, calendar, name, body, todo).await
            }
            Some(id) => {
                let if_match = match precondition {
                    Precondition::Absent | Precondition::Never => return Err(CalendarError::PreconditionFailed),
                    Precondition::Version(version) => Some(version),
                    Precondition::None | Precondition::Exists => None,
                };
                self.update(user, calendar, id, name, body, todo, if_match).await
            }
        }
    }

    async fn create(
        &self,
        user: &Principal,
        calendar: &Calendar,
        name: &str,
        body: &str,
        todo: ClientTodo,
    ) -> Result<Written, CalendarError> {
        if name.starts_with(DEFAULT_NAME_PREFIX) {
            return Err(CalendarError::Forbidden(format!(
                "names starting with {DEFAULT_NAME_PREFIX} are Workbench's own; choose another name"
            )));
        }
        if let Some(other) = self.store.with_uid(calendar.id, &todo.uid).await? {
            return Err(CalendarError::UidConflict(other.name));
        }
        let project_id = match calendar.id {
            CalendarId::Project(project) => Some(project.0),
            CalendarId::Personal(_) => None,
        };
        let uid = todo.uid.clone();
        let draft = TaskDraft {
            title: todo.title,
            description: todo.description,
            status: Some(todo.status),
            priority: Some(todo.priority),
            due_date: todo.due,
            assignee_id: None,
            tags: Some(todo.tags),
            project_id,
            recurrence: todo.recurrence,
            completed_at: todo.completed_at,
            fields: None,
            type_failures: Default::default(),
        };
        let parent_uid = todo.parent_uid.clone();
        let task = self.tasks.create(user, draft).await?;
        let object = CalendarObject { task_id: task.id, uid, name: name.to_owned(), source: body.to_owned() };
        self.store.keep(object.clone()).await?;
        self.link_parent(user, calendar, &task, parent_uid.as_deref()).await?;
        self.adopt_children(user, calendar, &task, &object.uid).await?;
        Ok(Written::Created)
    }

    #[allow(clippy::too_many_arguments)]
    async fn update(
        &self,
        user: &Principal,
        calendar: &Calendar,
        id: TaskId,
        name: &str,
        body: &str,
        todo: ClientTodo,
        if_match: Option<i64>,
    ) -> Result<Written, CalendarError> {
        let kept = self.store.objects(calendar.id, Some(vec![id])).await?;
        let (task, object) = kept.first().ok_or(CalendarError::NotFound)?;
        let uid = object.as_ref().map_or_else(|| vtodo::default_uid(task.id), |o| o.uid.clone());
        if todo.uid != uid {
            return Err(VtodoError::InvalidObject(format!("the object's UID is {uid}; a UID cannot change")).into());
        }
        let patch = TaskPatch {
            title: Some(todo.title),
            description: Some(todo.description),
            status: Some(Some(todo.status)),
            priority: Some(Some(todo.priority)),
            due_date: Some(todo.due),
            assignee_id: None,
            tags: Some(Some(todo.tags)),
            project_id: None,
            recurrence: Some(todo.recurrence),
            completed_at: todo.completed_at,
            fields: None,
        };
        let parent_uid = todo.parent_uid.clone();
        let task = self.tasks.update(user, id, patch, if_match).await?;
        let object = CalendarObject { task_id: id, uid, name: name.to_owned(), source: body.to_owned() };
        self.store.keep(object.clone()).await?;
        self.link_parent(user, calendar, &task, parent_uid.as_deref()).await?;
        Ok(Written::Updated)
    }

    /// Makes `task`'s parent the task its client named in `RELATED-TO` (`parent_uid`), when that
    /// is a task of the calendar, and removes a parent the client no longer names. A link the
    /// rules refuse (a cycle, a parent the user may not see) leaves the task as it is; its object
    /// then shows the parent it has. Renders the task as it is now: every client reads an object
    /// back after its `PUT` (which gives no `ETag`).
    async fn link_parent(
        &self,
        user: &Principal,
        calendar: &Calendar,
        task: &Task,
        parent_uid: Option<&str>,
    ) -> Result<(), CalendarError> {
        let parent = match parent_uid {
            Some(uid) => self.store.with_uid(calendar.id, uid).await?.map(|entry| entry.task_id),
            None => None,
        };
        let outcome = match (parent, task.parent_id) {
            (Some(parent), current) if current != Some(parent) && parent != task.id => {
                let unlinked = match current {
                    Some(current) => self.tasks.unrelate(user, task.id, "parent", current).await,
                    None => Ok(()),
                };
                match unlinked {
                    Ok(()) => {
                        let linked = self.tasks.relate(user, task.id, Some("parent".to_owned()), Some(parent.0)).await;
                        if let (Err(_), Some(current)) = (&linked, current) {
                            // Refused (a cycle, a parent it may not change): it keeps the one it had.
                            let again = self.tasks.relate(user, task.id, Some("parent".to_owned()), Some(current.0));
                            let _ = again.await;
                        }
                        linked.map(drop)
                    }
                    Err(why) => Err(why),
                }
            }
            (None, Some(current)) if parent_uid.is_none() => {
                self.tasks.unrelate(user, task.id, "parent", current).await
            }
            _ => Ok(()),
        };
        match outcome {
            Ok(()) => {}
            // The object is stored either way; what the rules refused shows as the parent it has.
            Err(
                why @ (TaskError::Validation(_)
                | TaskError::Missing(_)
                | TaskError::Forbidden(_)
                | TaskError::NotFound
                | TaskError::Conflict(_)),
            ) => tracing::info!(task = %task.id, %why, "a client's RELATED-TO was not taken"),
            Err(other) => return Err(other.into()),
        }
        let objects = self.store.objects(calendar.id, Some(vec![task.id])).await?;
        let parents = self.parent_links(calendar, &objects).await?;
        if let Some((task, object)) = objects.first() {
            self.render(task, object.as_ref(), parents.get(&task.id).map(String::as_str));
        }
        Ok(())
    }

    /// After `parent` was made from a client's object with UID `uid`: the objects of the calendar
    /// whose `RELATED-TO` named it before it existed (a client uploading a subtask before its
    /// parent) become its subtasks.
    async fn adopt_children(
        &self,
        user: &Principal,
        calendar: &Calendar,
        parent: &Task,
        uid: &str,
    ) -> Result<(), CalendarError> {
        for (child, source) in self.store.mentioning(calendar.id, uid.to_owned()).await? {
            if child == parent.id {
                continue;
            }
            let named = vtodo::parse(&source).ok().and_then(|todo| todo.parent_uid);
            if named.as_deref() != Some(uid) {
                continue;
            }
            match self.tasks.relate(user, child, Some("parent".to_owned()), Some(parent.id.0)).await {
                Ok(_) => {}
                Err(TaskError::Validation(why)) => {
                    tracing::info!(task = %child, %why, "a client's RELATED-TO was not taken")
                }
                Err(TaskError::NotFound | TaskError::Forbidden(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }

    /// Deletes the task the object `name` designates, as `user`, if `precondition` holds.
    pub async fn delete(
        &self,
        user: &Principal,
        calendar: &Calendar,
        name: &str,
        precondition: Precondition,
    ) -> Result<(), CalendarError> {
        let id = self.store.named(calendar.id, name).await?.ok_or(CalendarError::NotFound)?;
        let if_match = match precondition {
            Precondition::Absent | Precondition::Never => return Err(CalendarError::PreconditionFailed),
            Precondition::Version(version) => Some(version),
            Precondition::None | Precondition::Exists => None,
        };
        Ok(self.tasks.delete(user, id, if_match).await?)
    }
}

fn personal(user: &Principal) -> Calendar {
    Calendar { id: CalendarId::Personal(user.id), display_name: Calendar::PERSONAL_NAME.to_owned(), role: None }
}
