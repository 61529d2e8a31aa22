//! Wire shapes of projects, members and invitations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::TypeFailures;
use workbench_projects::{
    Invite, InviteDraft, Member, MemberDraft, ProjectDraft, ProjectPatch, ProjectRole, ProjectView,
};

use crate::body::{Lenient, component, lenient, nullable, trimmed_text};
use crate::pagination::{PageNumberSchema, PageSizeSchema};

/// The schema of a project's name as `ProjectName::parse` reads it.
#[derive(Debug)]
pub struct ProjectNameSchema;

component!(
    ProjectNameSchema,
    "ProjectName",
    trimmed_text(1, workbench_projects::ProjectName::MAX_CHARS, "1 to 100 characters once trimmed")
        .examples(["Kitchen renovation"])
);

/// A member's role in a project.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectRoleName {
    Viewer,
    Editor,
    Admin,
}

impl From<ProjectRole> for ProjectRoleName {
    fn from(role: ProjectRole) -> Self {
        match role {
            ProjectRole::Viewer => ProjectRoleName::Viewer,
            ProjectRole::Editor => ProjectRoleName::Editor,
            ProjectRole::Admin => ProjectRoleName::Admin,
        }
    }
}

/// A project as the caller sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectResponse {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    /// Who created it; they have no rights beyond their role.
    pub owner_id: i64,
    pub archived: bool,
    /// The caller's role; `null` for platform moderators and admins who are not members.
    pub my_role: Option<ProjectRoleName>,
    pub member_count: u64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ProjectView> for ProjectResponse {
    fn from(view: ProjectView) -> Self {
        let p = view.project;
        Self {
            id: p.id.0,
            name: p.name,
            description: p.description,
            owner_id: p.owner_id.0,
            archived: p.archived,
            my_role: view.my_role.map(Into::into),
            member_count: p.member_count,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// `POST /projects`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateProjectRequest {
    #[schema(value_type = ProjectNameSchema, required = true)]
    #[serde(default)]
    pub name: Lenient<String>,
    /// At most 2,000 characters; blank or `null` means none.
    #[schema(value_type = Option<String>, max_length = 2000)]
    #[serde(default)]
    pub description: Lenient<String>,
}

impl CreateProjectRequest {
    pub fn into_draft(self) -> ProjectDraft {
        let mut type_failures = TypeFailures::default();
        let name = lenient("name", self.name, &mut type_failures);
        let description = nullable("description", self.description, &mut type_failures);
        ProjectDraft { name, description, type_failures }
    }
}

/// `PATCH /projects/{id}`: fields left out are kept; `description: null` clears it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct UpdateProjectRequest {
    #[schema(value_type = ProjectNameSchema, required = false)]
    #[serde(default)]
    pub name: Lenient<String>,
    /// At most 2,000 characters; `null` (or blank) clears it.
    #[schema(value_type = Option<String>, nullable, max_length = 2000)]
    #[serde(default)]
    pub description: Lenient<String>,
    #[schema(value_type = bool, required = false)]
    #[serde(default)]
    pub archived: Lenient<bool>,
}

impl UpdateProjectRequest {
    pub fn into_patch(self) -> ProjectPatch {
        let mut type_failures = TypeFailures::default();
        let name = lenient("name", self.name, &mut type_failures);
        let description = match self.description {
            Lenient::Absent => None,
            Lenient::Null => Some(None),
            Lenient::Valid(text) => Some(Some(text)),
            Lenient::Invalid(message) => {
                type_failures.record("description", message);
                None
            }
        };
        let archived = lenient("archived", self.archived, &mut type_failures);
        ProjectPatch { name, description, archived, type_failures }
    }
}

/// `GET /projects`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectListQuery {
    /// `true` lists only archived projects; by default only the others.
    pub archived: Option<bool>,
    /// Platform moderators and admins: every project, not only theirs (ignored for anyone else).
    pub all: Option<bool>,
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

/// A member of a project.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectMemberResponse {
    pub user_id: i64,
    pub username: String,
    pub role: ProjectRoleName,
    pub joined_at: DateTime<Utc>,
}

impl From<Member> for ProjectMemberResponse {
    fn from(m: Member) -> Self {
        Self { user_id: m.user_id.0, username: m.username, role: m.role.into(), joined_at: m.joined_at }
    }
}

/// `POST /projects/{id}/members`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddProjectMemberRequest {
    /// An active account.
    #[schema(value_type = i64, required = true, minimum = 1)]
    #[serde(default)]
    pub user_id: Lenient<i64>,
    #[schema(value_type = ProjectRoleName, required = true)]
    #[serde(default)]
    pub role: Lenient<String>,
}

impl AddProjectMemberRequest {
    pub fn into_draft(self) -> MemberDraft {
        let mut type_failures = TypeFailures::default();
        let user_id = lenient("user_id", self.user_id, &mut type_failures);
        let role = lenient("role", self.role, &mut type_failures);
        MemberDraft { user_id, role, type_failures }
    }
}

/// `PATCH /projects/{id}/members/{user_id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ChangeProjectRoleRequest {
    #[schema(value_type = ProjectRoleName, required = true)]
    #[serde(default)]
    pub role: Lenient<String>,
}

impl ChangeProjectRoleRequest {
    pub fn into_role(self) -> (Option<String>, TypeFailures) {
        let mut type_failures = TypeFailures::default();
        let role = lenient("role", self.role, &mut type_failures);
        (role, type_failures)
    }
}

/// `POST /projects/{id}/invites`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateProjectInviteRequest {
    /// The role whoever follows the invitation gets.
    #[schema(value_type = ProjectRoleName, required = true)]
    #[serde(default)]
    pub role: Lenient<String>,
    /// 1 to 1,000; unlimited when left out.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    #[serde(default)]
    pub max_uses: Lenient<i64>,
    /// 1 to 720; a week when left out.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 720, default = 168)]
    #[serde(default)]
    pub expires_in_hours: Lenient<i64>,
}

impl CreateProjectInviteRequest {
    pub fn into_draft(self) -> InviteDraft {
        let mut type_failures = TypeFailures::default();
        let role = lenient("role", self.role, &mut type_failures);
        let max_uses = nullable("max_uses", self.max_uses, &mut type_failures);
        let expires_in_hours = nullable("expires_in_hours", self.expires_in_hours, &mut type_failures);
        InviteDraft { role, max_uses, expires_in_hours, type_failures }
    }
}

/// An invitation as its project's admins see it; its token is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectInviteResponse {
    pub id: i64,
    pub role: ProjectRoleName,
    /// `null`: unlimited.
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl From<Invite> for ProjectInviteResponse {
    fn from(i: Invite) -> Self {
        Self {
            id: i.id.0,
            role: i.role.into(),
            max_uses: i.max_uses,
            uses: i.uses,
            expires_at: i.expires_at,
            created_at: i.created_at,
        }
    }
}

/// An invitation just made, with its token: shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectInviteCreatedResponse {
    pub id: i64,
    /// 256 random bits, as 64 hex digits; the server keeps only its hash.
    pub token: String,
    /// Where to accept it: `POST` here, signed in.
    pub url: String,
    pub role: ProjectRoleName,
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub expires_at: DateTime<Utc>,
}
