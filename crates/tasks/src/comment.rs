//! Comments on tasks.

use chrono::{DateTime, Utc};
use workbench_core::BoundedText;
use workbench_users::UserId;

use crate::TaskId;

/// A comment on a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: i64,
    pub task_id: TaskId,
    pub author_id: UserId,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A comment's text: 1 to 5000 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(BoundedText<{ CommentBody::MAX_CHARS }>);

impl CommentBody {
    pub const MAX_CHARS: usize = 5000;

    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        Ok(Self(BoundedText::parse(raw.as_ref())?))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// What the repository stores for a new comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    pub task_id: TaskId,
    pub author_id: UserId,
    pub body: CommentBody,
    pub created_at: DateTime<Utc>,
}
