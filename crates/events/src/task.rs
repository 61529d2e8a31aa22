//! The events of the task domain. Their names are a public contract: subscribers filter on them,
//! NATS subjects and bus topics are made of them.

use std::fmt;

/// What happened to a task. The task repository records one of these in the outbox with every
/// change, in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskEvent {
    /// A task was created.
    Created,
    /// A task was changed.
    Updated,
    /// A task was deleted: the payload holds only its id.
    Deleted,
}

impl TaskEvent {
    /// Every task event.
    pub const ALL: [TaskEvent; 3] = [TaskEvent::Created, TaskEvent::Updated, TaskEvent::Deleted];

    /// What the bus topics of task events start with (`event.task.updated`, as
    /// [`BroadcastPublisher::topic`](crate::BroadcastPublisher::topic) names them): the realtime
    /// hub is given it to deliver them to their audience.
    pub const BUS_PREFIX: &'static str = "event.task.";

    /// `task.created`, `task.updated`, `task.deleted`.
    pub fn name(self) -> &'static str {
        match self {
            TaskEvent::Created => "task.created",
            TaskEvent::Updated => "task.updated",
            TaskEvent::Deleted => "task.deleted",
        }
    }

    /// The event named `name` (`task.created`), if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for TaskEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
