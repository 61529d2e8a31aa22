//! The projects domain of Workbench: spaces shared by a team.
//!
//! A [`Project`] has members, each with a [`ProjectRole`] (viewer, editor, admin); its creator is
//! its first admin and a project always keeps one. People join when an admin adds them or by
//! following an invitation ([`Invite`]): a link whose token (256 random bits) is shown once and
//! stored only as its SHA-256, with uses and an expiry the database decides.
//! [`ProjectService`] holds the rules on who sees and changes what; [`ProjectRepository`] is the
//! port to where projects live. Nothing here does I/O.

#![warn(missing_docs)]

mod error;
mod model;
mod ports;
mod service;

pub use error::{Missing, ProjectError};
pub use model::{
    Acceptance, Admission, DEFAULT_INVITE_HOURS, DESCRIPTION_MAX_CHARS, Invite, InviteDraft, InviteId, InviteToken,
    IssuedInvite, MAX_INVITE_HOURS, MAX_INVITE_USES, Member, MemberChange, NewInvite, NewProject, Project,
    ProjectDraft, ProjectFilter, ProjectId, ProjectName, ProjectPatch, ProjectRole, ProjectView,
};
pub use ports::{MembershipListener, ProjectRepository};
pub use service::{MemberDraft, ProjectService};

#[cfg(feature = "mock")]
pub use ports::{MockMembershipListener, MockProjectRepository};
