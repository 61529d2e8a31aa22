//! Projects, their members and invitations (the projects domain's `ProjectRepository`).
//!
//! Rules that concurrent requests could break are decided here, inside one transaction each:
//! a project keeps an admin (the project's row is locked first, so two admins demoting each
//! other are serialised and the second sees the first's change), and an invitation's last use
//! goes to one person (the statement that counts the use checks that one is left).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_projects::{
    Acceptance, Admission, Invite, InviteId, Member, MemberChange, NewInvite, NewProject, Project, ProjectFilter,
    ProjectId, ProjectRepository, ProjectRole, ProjectView,
};
use workbench_tasks::Standing;
use workbench_users::UserId;

use crate::database::{stored, write_transaction};
use crate::error::{corrupt, db};
use crate::paging::counted_page;
use crate::schema::{project_invites, project_members, projects, tasks, users};
use crate::{AnyConnection, Database};

/// `ProjectRepository` on the shared database.
#[derive(Debug, Clone)]
pub struct DieselProjectRepository {
    db: Database,
}

impl DieselProjectRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn role(raw: &str, column: &str) -> Result<ProjectRole, RepositoryError> {
    ProjectRole::parse(raw).map_err(|e| corrupt(column, e))
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = projects)]
struct ProjectRow {
    id: i64,
    name: String,
    description: Option<String>,
    owner_id: i64,
    archived: bool,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl ProjectRow {
    fn into_project(self, member_count: u64) -> Project {
        Project {
            id: ProjectId(self.id),
            name: self.name,
            description: self.description,
            owner_id: UserId(self.owner_id),
            archived: self.archived,
            member_count,
            version: self.version,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = projects, treat_none_as_default_value = false)]
struct NewProjectRow<'a> {
    name: &'a str,
    description: Option<&'a str>,
    owner_id: i64,
    archived: bool,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = project_members)]
struct MemberRow {
    project_id: i64,
    user_id: i64,
    role: &'static str,
    joined_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = project_invites)]
struct InviteRow {
    id: i64,
    project_id: i64,
    role: String,
    max_uses: Option<i32>,
    uses: i32,
    expires_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

impl InviteRow {
    fn into_invite(self) -> Result<Invite, RepositoryError> {
        let count = |n: i32, column: &str| u32::try_from(n).map_err(|e| corrupt(column, e));
        Ok(Invite {
            id: InviteId(self.id),
            project_id: ProjectId(self.project_id),
            role: role(&self.role, "project_invites.role")?,
            max_uses: self.max_uses.map(|n| count(n, "project_invites.max_uses")).transpose()?,
            uses: count(self.uses, "project_invites.uses")?,
            expires_at: self.expires_at.and_utc(),
            created_at: self.created_at.and_utc(),
        })
    }
}

/// `InviteRow`'s columns, in its order (the token's digest is never read back).
const INVITE_COLUMNS: (
    project_invites::id,
    project_invites::project_id,
    project_invites::role,
    project_invites::max_uses,
    project_invites::uses,
    project_invites::expires_at,
    project_invites::created_at,
) = (
    project_invites::id,
    project_invites::project_id,
    project_invites::role,
    project_invites::max_uses,
    project_invites::uses,
    project_invites::expires_at,
    project_invites::created_at,
);

#[derive(Insertable)]
#[diesel(table_name = project_invites, treat_none_as_default_value = false)]
struct NewInviteRow<'a> {
    project_id: i64,
    token_digest: &'a str,
    role: &'static str,
    max_uses: Option<i32>,
    expires_at: NaiveDateTime,
    created_by: i64,
    created_at: NaiveDateTime,
}

/// `rows` as their viewer sees them: with their member counts, and the viewer's role in each.
fn views(conn: &mut AnyConnection, viewer: UserId, rows: Vec<ProjectRow>) -> Result<Vec<ProjectView>, RepositoryError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let counts = member_counts(conn, &ids)?;
    let roles: HashMap<i64, String> = project_members::table
        .filter(project_members::user_id.eq(viewer.0))
        .filter(project_members::project_id.eq_any(&ids))
        .select((project_members::project_id, project_members::role))
        .load::<(i64, String)>(conn)
        .map_err(db)?
        .into_iter()
        .collect();
    rows.into_iter()
        .map(|row| {
            let my_role = roles.get(&row.id).map(|r| role(r, "project_members.role")).transpose()?;
            let count = counts.get(&row.id).copied().unwrap_or_default();
            Ok(ProjectView { project: row.into_project(count), my_role })
        })
        .collect()
}

/// How many members each of `ids` has (projects without members are left out).
fn member_counts(conn: &mut AnyConnection, ids: &[i64]) -> Result<HashMap<i64, u64>, RepositoryError> {
    let counts: Vec<(i64, i64)> = project_members::table
        .filter(project_members::project_id.eq_any(ids))
        .group_by(project_members::project_id)
        .select((project_members::project_id, diesel::dsl::count_star()))
        .load(conn)
        .map_err(db)?;
    Ok(counts.into_iter().map(|(id, n)| (id, u64::try_from(n).unwrap_or_default())).collect())
}

fn find(conn: &mut AnyConnection, id: ProjectId) -> Result<Option<Project>, RepositoryError> {
    let Some(row) = projects::table.find(id.0).select(ProjectRow::as_select()).first(conn).optional().map_err(db)?
    else {
        return Ok(None);
    };
    let count = member_counts(conn, &[row.id])?.get(&row.id).copied().unwrap_or_default();
    Ok(Some(row.into_project(count)))
}

fn role_of(conn: &mut AnyConnection, project: ProjectId, user: UserId) -> Result<Option<ProjectRole>, RepositoryError> {
    project_members::table
        .find((project.0, user.0))
        .select(project_members::role)
        .first::<String>(conn)
        .optional()
        .map_err(db)?
        .map(|r| role(&r, "project_members.role"))
        .transpose()
}

fn member(conn: &mut AnyConnection, project: ProjectId, user: UserId) -> Result<Option<Member>, RepositoryError> {
    project_members::table
        .inner_join(users::table)
        .filter(project_members::project_id.eq(project.0))
        .filter(project_members::user_id.eq(user.0))
        .select((project_members::user_id, users::username, project_members::role, project_members::joined_at))
        .first::<(i64, String, String, NaiveDateTime)>(conn)
        .optional()
        .map_err(db)?
        .map(into_member)
        .transpose()
}

fn into_member(
    (user_id, username, raw_role, joined_at): (i64, String, String, NaiveDateTime),
) -> Result<Member, RepositoryError> {
    Ok(Member {
        user_id: UserId(user_id),
        username,
        role: role(&raw_role, "project_members.role")?,
        joined_at: joined_at.and_utc(),
    })
}

/// Takes the project's row lock (a no-op write), so that rules across its members are decided
/// one transaction at a time; `false` when the project is gone.
fn lock_project(conn: &mut AnyConnection, project: ProjectId) -> Result<bool, RepositoryError> {
    let locked = diesel::update(projects::table.find(project.0))
        .set(projects::version.eq(projects::version))
        .execute(conn)
        .map_err(db)?;
    Ok(locked == 1)
}

/// Whether the project has an admin other than `user`.
fn another_admin(conn: &mut AnyConnection, project: ProjectId, user: UserId) -> Result<bool, RepositoryError> {
    let others: i64 = project_members::table
        .filter(project_members::project_id.eq(project.0))
        .filter(project_members::role.eq(ProjectRole::Admin.as_str()))
        .filter(project_members::user_id.ne(user.0))
        .count()
        .get_result(conn)
        .map_err(db)?;
    Ok(others > 0)
}

/// Whether changing `user` from `current` to `next` (or removing them, `None`) keeps an admin.
fn keeps_an_admin(
    conn: &mut AnyConnection,
    project: ProjectId,
    user: UserId,
    current: ProjectRole,
    next: Option<ProjectRole>,
) -> Result<bool, RepositoryError> {
    if current != ProjectRole::Admin || next == Some(ProjectRole::Admin) {
        return Ok(true);
    }
    another_admin(conn, project, user)
}

#[async_trait]
impl ProjectRepository for DieselProjectRepository {
    async fn create(&self, project: NewProject) -> Result<Project, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let at = stored(project.created_at);
                    let row = diesel::insert_into(projects::table)
                        .values(NewProjectRow {
                            name: project.name.as_str(),
                            description: project.description.as_deref(),
                            owner_id: project.owner_id.0,
                            archived: false,
                            version: 1,
                            created_at: at,
                            updated_at: at,
                        })
                        .returning(projects::all_columns)
                        .get_result::<ProjectRow>(conn)
                        .map_err(db)?;
                    diesel::insert_into(project_members::table)
                        .values(MemberRow {
                            project_id: row.id,
                            user_id: project.owner_id.0,
                            role: ProjectRole::Admin.as_str(),
                            joined_at: at,
                        })
                        .execute(conn)
                        .map_err(db)?;
                    Ok(row.into_project(1))
                })
            })
            .await
    }

    async fn find(&self, id: ProjectId) -> Result<Option<Project>, RepositoryError> {
        self.db.run(move |conn| find(conn, id)).await
    }

    async fn role_of(&self, project: ProjectId, user: UserId) -> Result<Option<ProjectRole>, RepositoryError> {
        self.db.run(move |conn| role_of(conn, project, user)).await
    }

    async fn list(
        &self,
        member: Option<UserId>,
        viewer: UserId,
        filter: ProjectFilter,
        page: PageRequest,
    ) -> Result<Page<ProjectView>, RepositoryError> {
        self.db
            .run(move |conn| {
                let order = (projects::created_at.desc(), projects::id.desc());
                let mine = |member: UserId| {
                    projects::table
                        .inner_join(project_members::table)
                        .filter(project_members::user_id.eq(member.0))
                        .filter(projects::archived.eq(filter.archived))
                };
                let all = || projects::table.filter(projects::archived.eq(filter.archived));
                let total: i64 = match member {
                    Some(member) => mine(member).count().get_result(conn),
                    None => all().count().get_result(conn),
                }
                .map_err(db)?;
                counted_page(page, total, || {
                    let rows: Vec<ProjectRow> = match member {
                        Some(member) => mine(member)
                            .order(order)
                            .limit(page.limit())
                            .offset(page.offset())
                            .select(ProjectRow::as_select())
                            .load(conn),
                        None => all()
                            .order(order)
                            .limit(page.limit())
                            .offset(page.offset())
                            .select(ProjectRow::as_select())
                            .load(conn),
                    }
                    .map_err(db)?;
                    views(conn, viewer, rows)
                })
            })
            .await
    }

    async fn update(&self, project: Project, expected_version: i64) -> Result<Option<Project>, RepositoryError> {
        self.db
            .run(move |conn| {
                let written =
                    diesel::update(projects::table.find(project.id.0).filter(projects::version.eq(expected_version)))
                        .set((
                            projects::name.eq(&project.name),
                            projects::description.eq(project.description.as_deref()),
                            projects::archived.eq(project.archived),
                            projects::updated_at.eq(stored(project.updated_at)),
                            projects::version.eq(expected_version + 1),
                        ))
                        .execute(conn)
                        .map_err(db)?;
                if written == 1 { find(conn, project.id) } else { Ok(None) }
            })
            .await
    }

    async fn delete(&self, id: ProjectId, expected_version: Option<i64>) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                let mut target = diesel::delete(projects::table.find(id.0)).into_boxed();
                if let Some(version) = expected_version {
                    target = target.filter(projects::version.eq(version));
                }
                Ok(target.execute(conn).map_err(db)? == 1)
            })
            .await
    }

    async fn members(&self, project: ProjectId, page: PageRequest) -> Result<Page<Member>, RepositoryError> {
        self.db
            .run(move |conn| {
                let total: i64 = project_members::table
                    .filter(project_members::project_id.eq(project.0))
                    .count()
                    .get_result(conn)
                    .map_err(db)?;
                counted_page(page, total, || {
                    project_members::table
                        .inner_join(users::table)
                        .filter(project_members::project_id.eq(project.0))
                        .order((project_members::joined_at.asc(), project_members::user_id.asc()))
                        .limit(page.limit())
                        .offset(page.offset())
                        .select((
                            project_members::user_id,
                            users::username,
                            project_members::role,
                            project_members::joined_at,
                        ))
                        .load::<(i64, String, String, NaiveDateTime)>(conn)
                        .map_err(db)?
                        .into_iter()
                        .map(into_member)
                        .collect()
                })
            })
            .await
    }

    async fn member(&self, project: ProjectId, user: UserId) -> Result<Option<Member>, RepositoryError> {
        self.db.run(move |conn| member(conn, project, user)).await
    }

    async fn add_member(
        &self,
        project: ProjectId,
        user: UserId,
        role: ProjectRole,
        at: DateTime<Utc>,
    ) -> Result<Admission, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // Concurrent adds and invitation accepts of one project take turns.
                    if !lock_project(conn, project)? {
                        return Ok(Admission::NoSuchProject);
                    }
                    let status: Option<String> =
                        users::table.find(user.0).select(users::status).first(conn).optional().map_err(db)?;
                    if status.as_deref() != Some("active") {
                        return Ok(Admission::NoSuchUser);
                    }
                    if role_of(conn, project, user)?.is_some() {
                        return Ok(Admission::AlreadyMember);
                    }
                    diesel::insert_into(project_members::table)
                        .values(MemberRow {
                            project_id: project.0,
                            user_id: user.0,
                            role: role.as_str(),
                            joined_at: stored(at),
                        })
                        .execute(conn)
                        .map_err(db)?;
                    Ok(Admission::Added)
                })
            })
            .await
    }

    async fn change_role(
        &self,
        project: ProjectId,
        user: UserId,
        role: ProjectRole,
    ) -> Result<MemberChange, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    if !lock_project(conn, project)? {
                        return Ok(MemberChange::NotAMember);
                    }
                    let Some(current) = role_of(conn, project, user)? else { return Ok(MemberChange::NotAMember) };
                    if !keeps_an_admin(conn, project, user, current, Some(role))? {
                        return Ok(MemberChange::LastAdmin);
                    }
                    diesel::update(project_members::table.find((project.0, user.0)))
                        .set(project_members::role.eq(role.as_str()))
                        .execute(conn)
                        .map_err(db)?;
                    Ok(MemberChange::Done)
                })
            })
            .await
    }

    async fn remove_member(
        &self,
        project: ProjectId,
        user: UserId,
    ) -> Result<(MemberChange, Vec<i64>), RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    if !lock_project(conn, project)? {
                        return Ok((MemberChange::NotAMember, Vec::new()));
                    }
                    let Some(current) = role_of(conn, project, user)? else {
                        return Ok((MemberChange::NotAMember, Vec::new()));
                    };
                    if !keeps_an_admin(conn, project, user, current, None)? {
                        return Ok((MemberChange::LastAdmin, Vec::new()));
                    }
                    diesel::delete(project_members::table.find((project.0, user.0))).execute(conn).map_err(db)?;
                    // The invitations they made go with them, or a removed admin could rejoin (or
                    // let anyone in) through a link of their own. After the project's lock: an
                    // accept of one of them either joined before this, or finds it gone.
                    diesel::delete(
                        project_invites::table
                            .filter(project_invites::project_id.eq(project.0))
                            .filter(project_invites::created_by.eq(user.0)),
                    )
                    .execute(conn)
                    .map_err(db)?;
                    // Only members are assigned a project's tasks: the one leaving is unassigned,
                    // each task one version later, in the transaction that removes them.
                    let at = workbench_core::now().naive_utc();
                    let unassigned = diesel::update(
                        tasks::table.filter(tasks::project_id.eq(project.0)).filter(tasks::assignee_id.eq(user.0)),
                    )
                    .set((
                        tasks::assignee_id.eq(None::<i64>),
                        tasks::version.eq(tasks::version + 1),
                        tasks::updated_at.eq(at),
                    ))
                    .returning(tasks::id)
                    .get_results::<i64>(conn)
                    .map_err(db)?;
                    Ok((MemberChange::Done, unassigned))
                })
            })
            .await
    }

    async fn member_ids(&self, project: ProjectId) -> Result<Vec<UserId>, RepositoryError> {
        self.db.run(move |conn| member_ids(conn, project.0)).await
    }

    async fn create_invite(&self, invite: NewInvite) -> Result<Invite, RepositoryError> {
        let max_uses = invite
            .max_uses
            .map(i32::try_from)
            .transpose()
            .map_err(|e| RepositoryError::Unavailable(anyhow::anyhow!("max_uses out of range: {e}")))?;
        self.db
            .run(move |conn| {
                diesel::insert_into(project_invites::table)
                    .values(NewInviteRow {
                        project_id: invite.project_id.0,
                        token_digest: &invite.token_digest,
                        role: invite.role.as_str(),
                        max_uses,
                        expires_at: stored(invite.expires_at),
                        created_by: invite.created_by.0,
                        created_at: stored(invite.created_at),
                    })
                    .returning(INVITE_COLUMNS)
                    .get_result::<InviteRow>(conn)
                    .map_err(db)?
                    .into_invite()
            })
            .await
    }

    async fn invites(&self, project: ProjectId, page: PageRequest) -> Result<Page<Invite>, RepositoryError> {
        self.db
            .run(move |conn| {
                let total: i64 = project_invites::table
                    .filter(project_invites::project_id.eq(project.0))
                    .count()
                    .get_result(conn)
                    .map_err(db)?;
                counted_page(page, total, || {
                    project_invites::table
                        .filter(project_invites::project_id.eq(project.0))
                        .order((project_invites::created_at.desc(), project_invites::id.desc()))
                        .limit(page.limit())
                        .offset(page.offset())
                        .select(InviteRow::as_select())
                        .load::<InviteRow>(conn)
                        .map_err(db)?
                        .into_iter()
                        .map(InviteRow::into_invite)
                        .collect()
                })
            })
            .await
    }

    async fn revoke_invite(&self, project: ProjectId, invite: InviteId) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                let gone = diesel::delete(
                    project_invites::table
                        .filter(project_invites::id.eq(invite.0))
                        .filter(project_invites::project_id.eq(project.0)),
                )
                .execute(conn)
                .map_err(db)?;
                Ok(gone == 1)
            })
            .await
    }

    async fn accept_invite(
        &self,
        token_digest: String,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Acceptance, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let Some(invite) = project_invites::table
                        .filter(project_invites::token_digest.eq(&token_digest))
                        .select(InviteRow::as_select())
                        .first::<InviteRow>(conn)
                        .optional()
                        .map_err(db)?
                    else {
                        return Ok(Acceptance::Closed);
                    };
                    let project = ProjectId(invite.project_id);
                    // A member already: nothing changes and no use is counted, however used the
                    // invitation is. Locking the project first serialises two accepts by one user.
                    lock_project(conn, project)?;
                    if role_of(conn, project, user)?.is_some() {
                        return Ok(Acceptance::AlreadyMember(project));
                    }
                    let counted = diesel::update(
                        project_invites::table
                            .filter(project_invites::id.eq(invite.id))
                            .filter(project_invites::expires_at.gt(stored(now)))
                            .filter(
                                project_invites::max_uses
                                    .is_null()
                                    .or(project_invites::uses.nullable().lt(project_invites::max_uses)),
                            ),
                    )
                    .set(project_invites::uses.eq(project_invites::uses + 1))
                    .execute(conn)
                    .map_err(db)?;
                    if counted == 0 {
                        return Ok(Acceptance::Closed);
                    }
                    diesel::insert_into(project_members::table)
                        .values(MemberRow {
                            project_id: project.0,
                            user_id: user.0,
                            role: role(&invite.role, "project_invites.role")?.as_str(),
                            joined_at: stored(now),
                        })
                        .execute(conn)
                        .map_err(db)?;
                    Ok(Acceptance::Joined(project))
                })
            })
            .await
    }
}

/// Every member of `project`.
pub(crate) fn member_ids(conn: &mut AnyConnection, project: i64) -> Result<Vec<UserId>, RepositoryError> {
    let ids = project_members::table
        .filter(project_members::project_id.eq(project))
        .order(project_members::user_id.asc())
        .select(project_members::user_id)
        .load::<i64>(conn)
        .map_err(db)?;
    Ok(ids.into_iter().map(UserId).collect())
}

/// The tasks domain's view of projects: who stands where, read from the members table.
#[async_trait]
impl workbench_tasks::ProjectMembership for DieselProjectRepository {
    async fn standing(&self, project: ProjectId, user: UserId) -> Result<Standing, RepositoryError> {
        self.db
            .run(move |conn| {
                let found = projects::table
                    .left_join(
                        project_members::table
                            .on(project_members::project_id.eq(projects::id).and(project_members::user_id.eq(user.0))),
                    )
                    .filter(projects::id.eq(project.0))
                    .select(project_members::role.nullable())
                    .first::<Option<String>>(conn)
                    .optional()
                    .map_err(db)?;
                Ok(match found {
                    None => Standing::NoSuchProject,
                    Some(None) => Standing::Outsider,
                    Some(Some(raw)) => Standing::Member(role(&raw, "project_members.role")?),
                })
            })
            .await
    }

    async fn roles_of(&self, user: UserId) -> Result<Vec<(ProjectId, ProjectRole)>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows = project_members::table
                    .filter(project_members::user_id.eq(user.0))
                    .select((project_members::project_id, project_members::role))
                    .load::<(i64, String)>(conn)
                    .map_err(db)?;
                rows.into_iter()
                    .map(|(project, raw)| Ok((ProjectId(project), role(&raw, "project_members.role")?)))
                    .collect()
            })
            .await
    }

    async fn member_ids(&self, project: ProjectId) -> Result<Vec<UserId>, RepositoryError> {
        self.db.run(move |conn| member_ids(conn, project.0)).await
    }
}
