//! Custom fields: defining them, checking the values tasks carry, and the filters on them; and
//! where a created or changed task lands on its project's board.

use std::collections::BTreeMap;

use serde_json::Value;
use workbench_core::{Page, PageRequest, Validator};
use workbench_projects::{ProjectId, ProjectRole};
use workbench_users::{Principal, UserId, now};

use super::TaskService;
use crate::{
    Bucket, BucketId, FieldComparison, FieldCondition, FieldDefinition, FieldDraft, FieldId, FieldType, FieldValues,
    MAX_FIELDS_PER_PROJECT, NewField, RawFieldValues, Standing, Status, TaskChanges, TaskError, Viewer, check_values,
};

/// The bucket a task of a project with `buckets` lands in: the done bucket when it is completed
/// and there is one, else the first other bucket.
fn landing(buckets: &[Bucket], completed: bool) -> Option<BucketId> {
    let done = buckets.iter().find(|b| b.done).filter(|_| completed);
    done.or_else(|| buckets.iter().find(|b| !b.done)).or_else(|| buckets.first()).map(|b| b.id)
}

impl TaskService {
    /// Records a failure on each field value sent for a personal task: fields are a project's.
    pub(super) fn no_fields_outside_projects(v: &mut Validator, raw: &RawFieldValues) {
        for key in raw.keys() {
            v.fail(&format!("fields.{key}"), "a personal task has no custom fields");
        }
    }

    /// A new task of `project`'s custom field values (checked into `v`, every failure named
    /// `fields.<id>`) and the bucket it lands in.
    pub(super) async fn new_task_structure(
        &self,
        v: &mut Validator,
        project: ProjectId,
        raw: &RawFieldValues,
        completed: bool,
    ) -> Result<(FieldValues, Option<BucketId>), TaskError> {
        let Some(structure) = &self.structure else {
            Self::no_fields_outside_projects(v, raw);
            return Ok((FieldValues::default(), None));
        };
        let definitions = structure.fields.fields(project).await?;
        let checked = check_values(v, &definitions, raw, &FieldValues::default(), true);
        self.check_member_values(v, project, &definitions, &checked).await?;
        let values = checked.into_iter().filter_map(|(id, value)| value.map(|value| (id, value))).collect();
        let buckets = structure.boards.buckets(project).await?;
        Ok((values, landing(&buckets, completed)))
    }

    /// `changes` with what structure makes of them for `current`: the field values sent checked
    /// against the project the task will be in, and a new place on the board when it changes
    /// project, or is completed or reopened with a done bucket about. Whether anything was added.
    pub(super) async fn structure_changes(
        &self,
        current: &crate::Task,
        mut changes: TaskChanges,
    ) -> Result<(TaskChanges, bool), TaskError> {
        let Some(structure) = &self.structure else { return Ok((changes, false)) };
        let target = changes.project_id.unwrap_or(current.project_id);
        let moving = target != current.project_id;
        let raw = changes.raw_fields.take();
        if raw.is_none() && !moving && changes.status.is_none() {
            return Ok((changes, false));
        }
        let mut v = Validator::default();
        match target {
            Some(project) if raw.is_some() || moving => {
                let definitions = structure.fields.fields(project).await?;
                let existing = if moving { FieldValues::default() } else { current.fields.clone() };
                let checked = check_values(&mut v, &definitions, &raw.unwrap_or_default(), &existing, moving);
                self.check_member_values(&mut v, project, &definitions, &checked).await?;
                changes.fields = Some(checked);
            }
            Some(_) => {}
            None => Self::no_fields_outside_projects(&mut v, &raw.unwrap_or_default()),
        }
        v.finish()?;
        let completed = changes.status.unwrap_or(current.status) == Status::Completed;
        changes.placement = match target {
            None if moving => Some((None, None)),
            None => None,
            Some(project) if moving => Some((landing(&structure.boards.buckets(project).await?, completed), None)),
            Some(project) if changes.status.is_some() => {
                let buckets = structure.boards.buckets(project).await?;
                let done = buckets.iter().find(|b| b.done).map(|b| b.id);
                let in_done = current.bucket_id.is_some() && current.bucket_id == done;
                match (completed, in_done) {
                    (true, false) if done.is_some() => Some((done, None)),
                    (false, true) => Some((landing(&buckets, false), None)),
                    _ => None,
                }
            }
            Some(_) => None,
        };
        Ok((changes, true))
    }

    /// Records a failure on each user field whose value is not a member of `project`.
    async fn check_member_values(
        &self,
        v: &mut Validator,
        project: ProjectId,
        definitions: &[FieldDefinition],
        checked: &BTreeMap<FieldId, Option<Value>>,
    ) -> Result<(), TaskError> {
        for field in definitions.iter().filter(|f| f.field_type == FieldType::User) {
            let Some(Some(user)) = checked.get(&field.id).map(|v| v.as_ref().and_then(Value::as_i64)) else {
                continue;
            };
            if !matches!(self.projects.standing(project, UserId(user)).await?, Standing::Member(_)) {
                v.fail(&format!("fields.{}", field.id), "must be the id of a member of the project");
            }
        }
        Ok(())
    }

    /// The viewer's standing where they read `project`'s structure: a member (or staff, who see
    /// every project); anyone else is told there is no such project.
    pub(super) async fn reader_role(
        &self,
        viewer: Viewer,
        project: ProjectId,
    ) -> Result<Option<ProjectRole>, TaskError> {
        match self.projects.standing(project, viewer.id).await? {
            Standing::Member(role) => Ok(Some(role)),
            Standing::Outsider if viewer.sees_everything() => Ok(None),
            Standing::Outsider | Standing::NoSuchProject => Err(TaskError::Missing("project")),
        }
    }

    /// The custom fields of a project the viewer is a member of.
    pub async fn fields(
        &self,
        viewer: &Principal,
        project: ProjectId,
        page: PageRequest,
    ) -> Result<Page<FieldDefinition>, TaskError> {
        self.reader_role(viewer.into(), project).await?;
        let fields = self.structure()?.fields.fields(project).await?;
        Ok(page_of(fields, page))
    }

    /// Defines a field: the project's admins (and platform admins) may.
    pub async fn create_field(
        &self,
        viewer: &Principal,
        project: ProjectId,
        draft: FieldDraft,
    ) -> Result<FieldDefinition, TaskError> {
        self.check_project_admin(viewer, project).await?;
        let field = NewField::parse(project, draft)?;
        let stores = self.structure()?;
        if stores.fields.fields(project).await?.len() >= MAX_FIELDS_PER_PROJECT {
            return Err(TaskError::Conflict(format!("a project has at most {MAX_FIELDS_PER_PROJECT} fields")));
        }
        match stores.fields.create_field(field, now()).await {
            Ok(field) => Ok(field),
            Err(workbench_core::RepositoryError::Conflict { .. }) => {
                Err(TaskError::Conflict("the project has a field of that name".into()))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Deletes a field and its values: the project's admins may.
    pub async fn delete_field(&self, viewer: &Principal, project: ProjectId, field: FieldId) -> Result<(), TaskError> {
        self.check_project_admin(viewer, project).await?;
        let changed =
            self.structure()?.fields.delete_field(project, field).await?.ok_or(TaskError::Missing("field"))?;
        self.recache(changed).await
    }

    /// Refuses anyone but an admin of `project` (or a platform admin, who acts as one anywhere);
    /// a non-member is told there is no such project.
    pub(super) async fn check_project_admin(&self, viewer: &Principal, project: ProjectId) -> Result<(), TaskError> {
        let viewer = Viewer::from(viewer);
        match self.reader_role(viewer, project).await? {
            Some(ProjectRole::Admin) => Ok(()),
            _ if viewer.role.is_admin() => Ok(()),
            _ => Err(TaskError::Forbidden("only the project's admins manage its fields")),
        }
    }

    /// The field filters of a list (`field.<id>=v`, `field.<id>>=v`, `field.<id><=v`): a field
    /// of no project the viewer sees matches no task; a value that is not of the field's type is
    /// a `400`.
    pub async fn field_conditions(
        &self,
        viewer: &Principal,
        filters: Vec<(FieldId, FieldComparison, String)>,
    ) -> Result<Vec<FieldCondition>, TaskError> {
        let mut conditions = Vec::with_capacity(filters.len());
        let mut known: BTreeMap<ProjectId, Vec<FieldDefinition>> = BTreeMap::new();
        let viewer_ = Viewer::from(viewer);
        for (id, comparison, raw) in filters {
            let field = self.visible_field(viewer_, id, &mut known).await?;
            let Some(field) = field else {
                // A field of no project the viewer sees (or of none at all) is not told apart from
                // one that no task of theirs has a value of: the list is empty, as a list of
                // another's project is.
                conditions.push(FieldCondition {
                    fields: Vec::new(),
                    comparison,
                    operand: crate::FieldOperand::Text(raw),
                });
                continue;
            };
            conditions.push(
                FieldCondition::parse(&field, comparison, &raw)
                    .map_err(|why| TaskError::BadQuery(format!("field.{id}: {why}")))?,
            );
        }
        Ok(conditions)
    }

    /// The field `id` if it is one of a project the viewer sees.
    async fn visible_field(
        &self,
        viewer: Viewer,
        id: FieldId,
        known: &mut BTreeMap<ProjectId, Vec<FieldDefinition>>,
    ) -> Result<Option<FieldDefinition>, TaskError> {
        if let Some(field) = known.values().flatten().find(|f| f.id == id) {
            return Ok(Some(field.clone()));
        }
        let projects: Vec<ProjectId> = if viewer.sees_everything() {
            return Ok(self.structure()?.fields.field(id).await?);
        } else {
            self.projects.roles_of(viewer.id).await?.into_iter().map(|(p, _)| p).collect()
        };
        let Some(field) = self.structure()?.fields.field(id).await? else { return Ok(None) };
        if !projects.contains(&field.project_id) {
            return Ok(None);
        }
        known.entry(field.project_id).or_default().push(field.clone());
        Ok(Some(field))
    }

    /// The fields named `name` in the projects the viewer is a member of (every project's, for
    /// staff): what the search language's `field:<name>=` means.
    pub async fn fields_named(&self, viewer: &Principal, name: &str) -> Result<Vec<FieldDefinition>, TaskError> {
        let viewer = Viewer::from(viewer);
        let projects = if viewer.sees_everything() {
            Vec::new()
        } else {
            let projects: Vec<ProjectId> =
                self.projects.roles_of(viewer.id).await?.into_iter().map(|(p, _)| p).collect();
            if projects.is_empty() {
                return Ok(Vec::new());
            }
            projects
        };
        Ok(self.structure()?.fields.fields_named(projects, name.to_owned()).await?)
    }

    /// What structure says of each of `tasks` (visible to the viewer), in words, for a report
    /// that prints tasks: its parent, whether it is blocked, its bucket, its field values by name.
    /// A project's buckets and fields are read once for all its tasks.
    pub async fn structure_notes(&self, tasks: &[crate::Task]) -> Result<Vec<Vec<String>>, TaskError> {
        let Some(structure) = &self.structure else { return Ok(vec![Vec::new(); tasks.len()]) };
        let mut boards: BTreeMap<ProjectId, (Vec<Bucket>, Vec<FieldDefinition>)> = BTreeMap::new();
        let mut notes = Vec::with_capacity(tasks.len());
        for task in tasks {
            let mut said = Vec::new();
            if let Some(parent) = task.parent_id {
                said.push(format!("subtask of #{parent}"));
            }
            if task.blocked {
                said.push("blocked".to_owned());
            }
            if let Some(project) = task.project_id {
                let (buckets, fields) = match boards.entry(project) {
                    std::collections::btree_map::Entry::Occupied(known) => known.into_mut(),
                    std::collections::btree_map::Entry::Vacant(new) => {
                        new.insert((structure.boards.buckets(project).await?, structure.fields.fields(project).await?))
                    }
                };
                if let Some(bucket) = buckets.iter().find(|b| Some(b.id) == task.bucket_id) {
                    said.push(format!("in {}", bucket.name));
                }
                for (id, value) in &task.fields {
                    let Some(field) = fields.iter().find(|f| f.id == *id) else { continue };
                    let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                    said.push(format!("{}: {value}", field.name));
                }
            }
            notes.push(said);
        }
        Ok(notes)
    }

    /// The structure stores, which every structure use case needs.
    pub(super) fn structure(&self) -> Result<&crate::StructureStores, TaskError> {
        self.structure.as_ref().ok_or_else(|| TaskError::Unknown(anyhow::anyhow!("task structure is not wired")))
    }
}

/// One page of a short list held whole (a project's fields or buckets).
pub(super) fn page_of<T>(items: Vec<T>, page: PageRequest) -> Page<T> {
    let total = items.len() as u64;
    let items = items.into_iter().skip(page.offset() as usize).take(page.limit() as usize).collect();
    Page::new(items, total, page)
}
