//! Relations between tasks: subtasks and parents, blockers, related tasks and duplicates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Task, TaskId};

/// A relation as seen from one of its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// The other task is a subtask of this one.
    Subtask,
    /// The other task is this one's parent.
    Parent,
    /// This task blocks the other.
    Blocks,
    /// The other task blocks this one.
    BlockedBy,
    /// The two are related (symmetric).
    Relates,
    /// This task duplicates the other.
    Duplicates,
    /// The other task duplicates this one.
    DuplicatedBy,
}

/// How a relation is stored: from the side that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoredKind {
    /// `from` is the parent of `to` (the child's `parent_id`).
    Subtask,
    /// `from` blocks `to`.
    Blocks,
    /// `from` and `to` are related, `from` being the smaller id.
    Relates,
    /// `from` duplicates `to`.
    Duplicates,
}

impl StoredKind {
    /// The kind's name in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            StoredKind::Subtask => "subtask",
            StoredKind::Blocks => "blocks",
            StoredKind::Relates => "relates",
            StoredKind::Duplicates => "duplicates",
        }
    }

    /// Whether a cycle of this kind is refused (a task cannot be its own ancestor, nor wait on
    /// itself).
    pub fn is_acyclic(self) -> bool {
        matches!(self, StoredKind::Subtask | StoredKind::Blocks)
    }
}

/// A relation in its stored form: `from` `kind` `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Relation {
    /// The side that names it.
    pub from: TaskId,
    /// What it is.
    pub kind: StoredKind,
    /// The other side.
    pub to: TaskId,
}

impl RelationKind {
    /// Every kind, in the order a task's relations are shown.
    pub const ALL: [RelationKind; 7] = [
        RelationKind::Subtask,
        RelationKind::Parent,
        RelationKind::Blocks,
        RelationKind::BlockedBy,
        RelationKind::Relates,
        RelationKind::Duplicates,
        RelationKind::DuplicatedBy,
    ];

    /// The kind's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Subtask => "subtask",
            RelationKind::Parent => "parent",
            RelationKind::Blocks => "blocks",
            RelationKind::BlockedBy => "blocked_by",
            RelationKind::Relates => "relates",
            RelationKind::Duplicates => "duplicates",
            RelationKind::DuplicatedBy => "duplicated_by",
        }
    }

    /// The kind named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            format!("{s:?} is not one of subtask, parent, blocks, blocked_by, relates, duplicates, duplicated_by")
        })
    }

    /// The relation `this` `self` `other` in its stored form.
    pub fn stored(self, this: TaskId, other: TaskId) -> Relation {
        let (from, kind, to) = match self {
            RelationKind::Subtask => (this, StoredKind::Subtask, other),
            RelationKind::Parent => (other, StoredKind::Subtask, this),
            RelationKind::Blocks => (this, StoredKind::Blocks, other),
            RelationKind::BlockedBy => (other, StoredKind::Blocks, this),
            RelationKind::Relates => (this.min(other), StoredKind::Relates, this.max(other)),
            RelationKind::Duplicates => (this, StoredKind::Duplicates, other),
            RelationKind::DuplicatedBy => (other, StoredKind::Duplicates, this),
        };
        Relation { from, kind, to }
    }
}

impl Relation {
    /// How the relation looks from `task` (one of its sides): the kind and the other task.
    pub fn seen_from(&self, task: TaskId) -> (RelationKind, TaskId) {
        let forward = self.from == task;
        let other = if forward { self.to } else { self.from };
        let kind = match (self.kind, forward) {
            (StoredKind::Subtask, true) => RelationKind::Subtask,
            (StoredKind::Subtask, false) => RelationKind::Parent,
            (StoredKind::Blocks, true) => RelationKind::Blocks,
            (StoredKind::Blocks, false) => RelationKind::BlockedBy,
            (StoredKind::Relates, _) => RelationKind::Relates,
            (StoredKind::Duplicates, true) => RelationKind::Duplicates,
            (StoredKind::Duplicates, false) => RelationKind::DuplicatedBy,
        };
        (kind, other)
    }
}

/// A task's related tasks, by kind as seen from it: every kind present, those the viewer may not
/// see left out.
pub type RelatedTasks = BTreeMap<RelationKind, Vec<Task>>;

/// What [`RelationRepository::relate`](crate::RelationRepository::relate) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Related {
    /// Stored now.
    Created,
    /// It was there already; nothing changed.
    Existed,
    /// Refused: it would close a cycle of its kind.
    Cycle,
    /// Refused: the child has another parent.
    HasParent,
    /// One of the tasks is gone.
    Gone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_stored_from_the_side_that_names_it_and_read_back_from_both() {
        let (a, b) = (TaskId(1), TaskId(2));
        for kind in RelationKind::ALL {
            let stored = kind.stored(a, b);
            assert_eq!(stored.seen_from(a), (kind, b), "{kind:?} from its own side");
        }
        assert_eq!(RelationKind::Parent.stored(a, b), RelationKind::Subtask.stored(b, a));
        assert_eq!(RelationKind::Relates.stored(b, a), RelationKind::Relates.stored(a, b));
        assert_eq!(RelationKind::Blocks.stored(a, b).seen_from(b), (RelationKind::BlockedBy, a));
        assert!(RelationKind::parse("follows").is_err());
    }
}
