//! Projects, their members and invitations, and the rules on their fields.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use workbench_core::{BoundedText, FieldErrors, TypeFailures, Validator, at_most_chars};
use workbench_users::{Principal, UserId};

/// A project's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ProjectId(pub i64);

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An invitation's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InviteId(pub i64);

impl fmt::Display for InviteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a member may do in a project, in increasing power (the derived order is the rank): a
/// viewer reads the project's tasks and comments on them; an editor also creates, changes,
/// assigns and deletes them; an admin also manages the project, its members and invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProjectRole {
    /// Reads the project's tasks and comments on them.
    Viewer,
    /// Also creates, changes, assigns and deletes the project's tasks.
    Editor,
    /// Also manages the project, its members and invitations.
    Admin,
}

impl ProjectRole {
    /// Every role, least powerful first.
    pub const ALL: [ProjectRole; 3] = [ProjectRole::Viewer, ProjectRole::Editor, ProjectRole::Admin];

    /// The role's name on the wire and in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Viewer => "viewer",
            ProjectRole::Editor => "editor",
            ProjectRole::Admin => "admin",
        }
    }

    /// The role named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| "must be one of viewer, editor, admin".to_owned())
    }

    /// Editors and admins change the project's tasks.
    pub fn edits_tasks(self) -> bool {
        self >= ProjectRole::Editor
    }
}

impl fmt::Display for ProjectRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A project's name: 1 to 100 characters once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName(BoundedText<{ ProjectName::MAX_CHARS }>);

impl ProjectName {
    /// The most characters of a name.
    pub const MAX_CHARS: usize = 100;

    /// A name from what a client sent, trimmed; the message a `422` carries otherwise.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Ok(Self(BoundedText::parse(raw)?))
    }

    /// The name, trimmed.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// The most characters a project's description may have.
pub const DESCRIPTION_MAX_CHARS: usize = 2_000;

/// A description: at most 2,000 characters as sent (so the published `maxLength` is the rule),
/// stored trimmed; blank means none.
fn parse_description(raw: &str) -> Result<Option<String>, String> {
    let trimmed = at_most_chars(raw, DESCRIPTION_MAX_CHARS)?.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

/// A project as stored, with how many members it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The project's id.
    pub id: ProjectId,
    /// Its name.
    pub name: String,
    /// What it is about, if anything: at most 2,000 characters.
    pub description: Option<String>,
    /// Its creator, who has no rights beyond their role.
    pub owner_id: UserId,
    /// Whether it is archived: kept, but out of the default list.
    pub archived: bool,
    /// How many members it has.
    pub member_count: u64,
    /// Grows with every change: the `ETag`, and what `If-Match` is checked against.
    pub version: i64,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A project as one caller sees it: with their role, `None` for platform staff who are not
/// members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectView {
    /// The project.
    pub project: Project,
    /// The caller's role in it; `None` for platform staff who are not members.
    pub my_role: Option<ProjectRole>,
}

/// A project about to be stored; its creator becomes its first admin in the same write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    /// Its name, checked.
    pub name: ProjectName,
    /// Its description, trimmed; `None` when blank.
    pub description: Option<String>,
    /// Its creator.
    pub owner_id: UserId,
    /// When it is made.
    pub created_at: DateTime<Utc>,
}

/// What a client sent to create a project.
#[derive(Debug, Clone, Default)]
pub struct ProjectDraft {
    /// The name; required.
    pub name: Option<String>,
    /// The description; blank or missing means none.
    pub description: Option<String>,
    /// Fields whose JSON type was wrong, reported with the rest.
    pub type_failures: TypeFailures,
}

impl ProjectDraft {
    pub(crate) fn parse(self, owner: &Principal, at: DateTime<Utc>) -> Result<NewProject, FieldErrors> {
        let mut v = Validator::seeded(self.type_failures);
        let name = v.required("name", self.name, |n| ProjectName::parse(&n));
        let description =
            v.optional("description", self.description, |d| parse_description(&d)).ok().flatten().flatten();
        let name = v.finish_with(name)?;
        Ok(NewProject { name, description, owner_id: owner.id, created_at: at })
    }
}

/// What a client sent to change a project: fields left out are kept; `description: null` clears.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
    /// Archive (`true`) or restore (`false`) the project.
    pub archived: Option<bool>,
    /// Fields whose JSON type was wrong, reported with the rest.
    pub type_failures: TypeFailures,
}

/// A patch whose every field is valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProjectChanges {
    name: Option<ProjectName>,
    description: Option<Option<String>>,
    archived: Option<bool>,
}

impl ProjectChanges {
    pub(crate) fn parse(patch: ProjectPatch) -> Result<Self, FieldErrors> {
        let mut v = Validator::seeded(patch.type_failures);
        let name = v.optional("name", patch.name, |n| ProjectName::parse(&n)).ok().flatten();
        let description = match patch.description {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => v.check("description", parse_description(&raw)),
        };
        v.finish()?;
        Ok(Self { name, description, archived: patch.archived })
    }

    pub(crate) fn apply(&self, project: &mut Project, at: DateTime<Utc>) {
        if let Some(name) = &self.name {
            project.name = name.as_str().to_owned();
        }
        if let Some(description) = &self.description {
            project.description.clone_from(description);
        }
        if let Some(archived) = self.archived {
            project.archived = archived;
        }
        project.updated_at = at;
    }
}

/// A member of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's account.
    pub user_id: UserId,
    /// Their username, for showing.
    pub username: String,
    /// What they may do in the project.
    pub role: ProjectRole,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

/// Which projects a list shows: archived ones, or the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProjectFilter {
    /// `true` lists the archived projects only; `false` the others.
    pub archived: bool,
}

/// An invitation: a link that makes whoever follows it a member with its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The invitation's id, by which its project's admins revoke it.
    pub id: InviteId,
    /// The project it admits to.
    pub project_id: ProjectId,
    /// The role it gives.
    pub role: ProjectRole,
    /// `None`: unlimited.
    pub max_uses: Option<u32>,
    /// How many people have joined through it.
    pub uses: u32,
    /// When it stops admitting anyone.
    pub expires_at: DateTime<Utc>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// An invitation about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvite {
    /// The project it admits to.
    pub project_id: ProjectId,
    /// The role it gives.
    pub role: ProjectRole,
    /// How many may join through it; `None`: unlimited.
    pub max_uses: Option<u32>,
    /// [`InviteToken::digest`] of its token.
    pub token_digest: String,
    /// When it stops admitting anyone.
    pub expires_at: DateTime<Utc>,
    /// The project admin who made it.
    pub created_by: UserId,
    /// When it is made.
    pub created_at: DateTime<Utc>,
}

/// The secret of an invitation: 256 random bits as 64 hex digits, shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteToken(String);

impl fmt::Debug for InviteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteToken(..)")
    }
}

impl InviteToken {
    pub(crate) fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// The token itself, shown to the admin who made the invitation, once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database knows an invitation by.
    pub fn digest(token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }
}

/// An invitation just made, with its token (shown only now).
#[derive(Debug, Clone)]
pub struct IssuedInvite {
    /// The invitation as it will be listed.
    pub invite: Invite,
    /// Its token, to show once.
    pub token: InviteToken,
}

/// How long an invitation lasts unless told, in hours (a week), and at most (30 days).
pub const DEFAULT_INVITE_HOURS: i64 = 168;
/// The longest an invitation may last, in hours (30 days).
pub const MAX_INVITE_HOURS: i64 = 720;
/// The most uses a limited invitation may allow.
pub const MAX_INVITE_USES: i64 = 1_000;

/// What a project admin sent to invite people.
#[derive(Debug, Clone, Default)]
pub struct InviteDraft {
    /// The role it gives; required.
    pub role: Option<String>,
    /// How many may join through it, 1 to [`MAX_INVITE_USES`]; unlimited when missing.
    pub max_uses: Option<i64>,
    /// How long it lasts, 1 to [`MAX_INVITE_HOURS`] hours; [`DEFAULT_INVITE_HOURS`] when missing.
    pub expires_in_hours: Option<i64>,
    /// Fields whose JSON type was wrong, reported with the rest.
    pub type_failures: TypeFailures,
}

/// A draft whose every field is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InviteTerms {
    pub role: ProjectRole,
    pub max_uses: Option<u32>,
    pub lifetime: Duration,
}

impl InviteTerms {
    pub(crate) fn parse(draft: InviteDraft) -> Result<Self, FieldErrors> {
        let mut v = Validator::seeded(draft.type_failures);
        let role = v.required("role", draft.role, |r| ProjectRole::parse(&r));
        let max_uses = v
            .optional("max_uses", draft.max_uses, |n| match u32::try_from(n) {
                Ok(n) if (1..=MAX_INVITE_USES).contains(&i64::from(n)) => Ok(n),
                _ => Err(format!("must be between 1 and {MAX_INVITE_USES}")),
            })
            .ok()
            .flatten();
        let hours = v
            .optional("expires_in_hours", draft.expires_in_hours, |h| {
                if (1..=MAX_INVITE_HOURS).contains(&h) {
                    Ok(h)
                } else {
                    Err(format!("must be between 1 and {MAX_INVITE_HOURS}"))
                }
            })
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_INVITE_HOURS);
        let role = v.finish_with(role)?;
        Ok(Self { role, max_uses, lifetime: Duration::hours(hours) })
    }
}

/// What following an invitation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// The caller joined the project; one use was counted.
    Joined(ProjectId),
    /// The caller was a member already: nothing changed, no use was counted.
    AlreadyMember(ProjectId),
    /// No such invitation, or one that no longer admits anyone (revoked, expired, used up).
    Closed,
}

/// Why a member could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The user is now a member.
    Added,
    /// The user was a member already: nothing changed.
    AlreadyMember,
    /// No such account, or a disabled one.
    NoSuchUser,
    /// The project is gone.
    NoSuchProject,
}

/// Why a member's role could not be changed, or the member removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// The change was made.
    Done,
    /// The user is not a member of the project.
    NotAMember,
    /// The project would be left without an admin.
    LastAdmin,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_and_rank_as_the_contract_says() {
        assert_eq!(ProjectRole::parse("editor"), Ok(ProjectRole::Editor));
        assert!(ProjectRole::parse("owner").is_err());
        assert!(ProjectRole::Viewer < ProjectRole::Editor && ProjectRole::Editor < ProjectRole::Admin);
        assert!(!ProjectRole::Viewer.edits_tasks() && ProjectRole::Editor.edits_tasks());
    }

    #[test]
    fn every_failing_field_of_a_draft_is_reported_at_once() {
        let owner = Principal::from(&workbench_users::User::sample(1));
        let draft = ProjectDraft { name: Some(" ".into()), description: Some("x".repeat(2_001)), ..Default::default() };
        let errors = draft.parse(&owner, Utc::now()).unwrap_err();
        assert!(errors.contains("name") && errors.contains("description"), "{errors}");
        let ok =
            ProjectDraft { name: Some("  Kitchen  ".into()), description: Some("  ".into()), ..Default::default() }
                .parse(&owner, Utc::now())
                .unwrap();
        assert_eq!((ok.name.as_str(), ok.description), ("Kitchen", None));
        // A description is counted as sent, as the published `maxLength` counts it, and kept trimmed.
        let padded = format!(" {}", "x".repeat(DESCRIPTION_MAX_CHARS));
        let errors = ProjectDraft { name: Some("Kitchen".into()), description: Some(padded), ..Default::default() }
            .parse(&owner, Utc::now())
            .unwrap_err();
        assert!(errors.contains("description"), "{errors}");
        let kept =
            ProjectDraft { name: Some("Kitchen".into()), description: Some(" Tiles ".into()), ..Default::default() }
                .parse(&owner, Utc::now())
                .unwrap();
        assert_eq!(kept.description.as_deref(), Some("Tiles"));

        let terms = InviteTerms::parse(InviteDraft {
            role: Some("owner".into()),
            max_uses: Some(1_001),
            expires_in_hours: Some(0),
            ..Default::default()
        })
        .unwrap_err();
        for field in ["role", "max_uses", "expires_in_hours"] {
            assert!(terms.contains(field), "{field}: {terms}");
        }
        let week = InviteTerms::parse(InviteDraft { role: Some("viewer".into()), ..Default::default() }).unwrap();
        assert_eq!((week.lifetime.num_hours(), week.max_uses), (DEFAULT_INVITE_HOURS, None));
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_null_clears_the_description() {
        let mut project = Project {
            id: ProjectId(1),
            name: "Kitchen".into(),
            description: Some("Tiles".into()),
            owner_id: UserId(1),
            archived: false,
            member_count: 1,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let changes =
            ProjectChanges::parse(ProjectPatch { description: Some(None), archived: Some(true), ..Default::default() })
                .unwrap();
        changes.apply(&mut project, Utc::now());
        assert_eq!((project.name.as_str(), project.description.as_deref(), project.archived), ("Kitchen", None, true));
    }
}
