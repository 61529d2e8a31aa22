//! The calendars a user sees, and where a sync stands in one.

use workbench_projects::{ProjectId, ProjectRole};
use workbench_tasks::TaskId;
use workbench_users::UserId;

/// One calendar: a user's personal tasks (owned or assigned, outside projects), or a project's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CalendarId {
    /// The personal tasks of this user.
    Personal(UserId),
    /// Every task of this project.
    Project(ProjectId),
}

impl CalendarId {
    /// The path segment of the personal calendar.
    pub const PERSONAL_SEGMENT: &'static str = "tasks";
    const PROJECT_PREFIX: &'static str = "project-";

    /// The key the change log files this calendar's changes under: a user's id for their personal
    /// calendar, minus a project's id for a project's (as the task counters are keyed).
    pub fn key(self) -> i64 {
        match self {
            CalendarId::Personal(user) => user.0,
            CalendarId::Project(project) => -project.0,
        }
    }

    /// The calendar's path segment under its user's calendar home: `tasks`, `project-<id>`.
    pub fn segment(self) -> String {
        match self {
            CalendarId::Personal(_) => Self::PERSONAL_SEGMENT.to_owned(),
            CalendarId::Project(project) => format!("{}{}", Self::PROJECT_PREFIX, project.0),
        }
    }

    /// The calendar `segment` names in `user`'s calendar home; `None` for a segment no calendar has.
    pub fn from_segment(user: UserId, segment: &str) -> Option<Self> {
        if segment == Self::PERSONAL_SEGMENT {
            return Some(CalendarId::Personal(user));
        }
        let id = segment.strip_prefix(Self::PROJECT_PREFIX)?;
        // Digits only: `project-+5` and `project-05` name no calendar (one calendar, one path).
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.starts_with('0') {
            return None;
        }
        id.parse().ok().map(|id| CalendarId::Project(ProjectId(id)))
    }
}

/// A calendar as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Which calendar.
    pub id: CalendarId,
    /// Its name in a client's list: the project's name, or "Tasks".
    pub display_name: String,
    /// The user's role in its project; `None` for their personal calendar.
    pub role: Option<ProjectRole>,
}

impl Calendar {
    /// The display name of a personal calendar.
    pub const PERSONAL_NAME: &'static str = "Tasks";

    /// Whether the user may write in it: always in their own, as an editor or admin in a project's
    /// (a viewer reads only). Each task's own rules still apply to each write.
    pub fn writable(&self) -> bool {
        self.role.is_none_or(ProjectRole::edits_tasks)
    }
}

/// A position in a calendar's change log: a sync token. `after` continues an initial listing that
/// was cut at `DAV:limit` (the tasks with greater ids are still to come).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncToken {
    /// The last change seen.
    pub seq: i64,
    /// For a listing cut short: the last task listed (listings go in id order).
    pub after: Option<TaskId>,
}

impl SyncToken {
    const PREFIX: &'static str = "urn:x-workbench:sync:";

    /// A token at `seq`.
    pub fn at(seq: i64) -> Self {
        Self { seq, after: None }
    }

    /// The token as a URI for `calendar` (RFC 6578 wants a URI): `urn:x-workbench:sync:<calendar>:<seq>`.
    pub fn to_uri(self, calendar: CalendarId) -> String {
        match self.after {
            None => format!("{}{}:{}", Self::PREFIX, calendar.key(), self.seq),
            Some(after) => format!("{}{}:{}:{}", Self::PREFIX, calendar.key(), self.seq, after.0),
        }
    }

    /// The token `uri` names for `calendar`; `None` for anything else (another calendar's token,
    /// another server's, a typo).
    pub fn from_uri(calendar: CalendarId, uri: &str) -> Option<Self> {
        let rest = uri.trim().strip_prefix(Self::PREFIX)?;
        let mut parts = rest.split(':');
        let key: i64 = parts.next()?.parse().ok()?;
        let seq: i64 = parts.next()?.parse().ok()?;
        let after = match parts.next() {
            Some(id) => Some(TaskId(id.parse().ok()?)),
            None => None,
        };
        (key == calendar.key() && seq >= 0 && parts.next().is_none()).then_some(Self { seq, after })
    }

    /// The value of `CS:getctag`: changes whenever the calendar does.
    pub fn ctag(self) -> String {
        self.seq.to_string()
    }
}

/// How a task is known in a calendar: its resource name and the version its `ETag` follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// The task.
    pub task_id: TaskId,
    /// Its resource name in the calendar (`<name>` of `<calendar>/<name>`).
    pub name: String,
    /// The task's version: its `ETag`.
    pub version: i64,
}

/// What a client wrote for a task, kept beside it: the UID and resource name it chose, and its
/// last calendar object as sent (whatever Workbench does not model is given back from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarObject {
    /// The task.
    pub task_id: TaskId,
    /// The VTODO's UID.
    pub uid: String,
    /// The resource name.
    pub name: String,
    /// The client's last calendar object, as sent.
    pub source: String,
}

/// One change a sync reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Made or changed since the token: its entry as it is now.
    Changed(ObjectEntry),
    /// No longer in the calendar (deleted, moved, unassigned): its last name there.
    Removed {
        /// The resource name it had.
        name: String,
    },
}

/// What changed in a calendar since a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesSince {
    /// Each task that changed, once, as it is now.
    pub changes: Vec<Change>,
    /// Where the next sync starts.
    pub token: SyncToken,
    /// Whether more changes follow (the answer was cut at the limit): the client syncs again from
    /// `token`.
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_name_one_calendar_each() {
        let me = UserId(7);
        assert_eq!(CalendarId::from_segment(me, "tasks"), Some(CalendarId::Personal(me)));
        assert_eq!(CalendarId::from_segment(me, "project-12"), Some(CalendarId::Project(ProjectId(12))));
        for other in ["project-", "project-012", "project-+1", "project-x", "Tasks", "project-99999999999999999999"] {
            assert_eq!(CalendarId::from_segment(me, other), None, "{other}");
        }
        assert_eq!(CalendarId::Project(ProjectId(12)).segment(), "project-12");
    }

    #[test]
    fn a_token_is_read_back_only_for_its_own_calendar() {
        let mine = CalendarId::Personal(UserId(7));
        let token = SyncToken { seq: 42, after: Some(TaskId(9)) };
        let uri = token.to_uri(mine);
        assert_eq!(uri, "urn:x-workbench:sync:7:42:9");
        assert_eq!(SyncToken::from_uri(mine, &uri), Some(token));
        assert_eq!(SyncToken::from_uri(CalendarId::Project(ProjectId(7)), &uri), None);
        assert_eq!(SyncToken::from_uri(mine, "urn:x-workbench:sync:7:-1"), None);
        assert_eq!(SyncToken::from_uri(mine, "http://radicale/sync/1"), None);
    }
}
