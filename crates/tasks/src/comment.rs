//! Comments on tasks.

use chrono::{DateTime, Utc};
use workbench_core::BoundedText;
use workbench_users::UserId;

use crate::TaskId;

/// A comment on a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The comment's id.
    pub id: i64,
    /// The task it is on.
    pub task_id: TaskId,
    /// Who wrote it.
    pub author_id: UserId,
    /// Its text, 1 to 5000 characters.
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A comment's text: 1 to 5000 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(BoundedText<{ CommentBody::MAX_CHARS }>);

impl CommentBody {
    /// The most characters of a comment.
    pub const MAX_CHARS: usize = 5000;

    /// A comment's text from what a client sent, trimmed; the message a `422` carries otherwise.
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        Ok(Self(BoundedText::parse(raw.as_ref())?))
    }

    /// The text, trimmed.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// What the repository stores for a new comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    /// The task it is on.
    pub task_id: TaskId,
    /// Who writes it.
    pub author_id: UserId,
    /// Its text, checked.
    pub body: CommentBody,
    /// When it is written: its `created_at` and `updated_at`.
    pub created_at: DateTime<Utc>,
}
