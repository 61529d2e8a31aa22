//! What the task domain needs from the outside world. Each method's doc says what an adapter
//! MUST do; every adapter is tested against that contract.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_projects::{ProjectId, ProjectRole};
use workbench_users::UserId;

use crate::{Comment, NewComment, NewTaskRecord, Priority, Status, TagUsage, Task, TaskFilter, TaskId, TaskStats};

/// How long a [`TaskCache`] refuses copies of a task it was told to forget: longer than a
/// database read that started before the forget can take.
pub const FORGOTTEN_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// How long each statement of a search ([`TaskRepository::first_matching`],
/// [`TaskRepository::facets`]) may run. A search's cost is bounded by its terms (at most
/// `workbench_search::MAX_TERMS`) and its scope; a statement that still takes longer than this is
/// waiting on a server that cannot give it its time, and is better stopped than left to hold a
/// connection of the pool while its client has given up.
pub const SEARCH_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How the tasks matching a search spread: the total, and how many of them have each status,
/// priority, tag and project (values no match has are absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFacets {
    /// How many tasks match.
    pub total: u64,
    /// How many matches have each status.
    pub status: BTreeMap<Status, u64>,
    /// How many matches have each priority.
    pub priority: BTreeMap<Priority, u64>,
    /// How many matches carry each tag.
    pub tag: BTreeMap<String, u64>,
    /// How many matches belong to each project (personal tasks are in none).
    pub project: BTreeMap<ProjectId, u64>,
}

/// Whose tasks a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskScope {
    /// Every task (moderators and admins).
    All,
    /// Tasks the user sees: the personal tasks they own or are assigned to, and every task of
    /// the projects they are a member of.
    InvolvedUser(UserId),
    /// Every task of one project.
    Project(ProjectId),
}

impl TaskScope {
    /// A stable name for the scope, for cache keys.
    pub fn key(&self) -> String {
        match self {
            TaskScope::All => "all".to_owned(),
            TaskScope::InvolvedUser(id) => format!("user:{id}"),
            TaskScope::Project(id) => format!("project:{id}"),
        }
    }
}

/// How a conditional write that lost a race starts again: given the task as stored now, the
/// task to store in its place (changed again, its version bumped), or `None` to give up.
pub type Rebase = std::sync::Arc<dyn Fn(&Task) -> Option<Task> + Send + Sync>;

/// What [`TaskRepository::update`] did.
// One is returned per update and consumed at once, never kept in bulk: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome {
    /// `task` is stored. `replaced` is the stored copy it was rebased on, when the first write
    /// lost a race (`None`: it replaced the version the caller named). `follow_up` is the next
    /// occurrence of a recurring task the write completed, when it made one. `dependants` are
    /// the tasks that changed with it, read by the write itself.
    Stored {
        /// The task as stored now.
        task: Task,
        /// The stored copy the change was rebased on, when the first write lost a race.
        replaced: Option<Task>,
        /// The next occurrence the completion of a recurring task made, if it made one.
        follow_up: Option<Box<Task>>,
        /// When the write completed or reopened the task: the tasks it blocks and its subtasks
        /// (as [`crate::RelationRepository::dependants`]), whose stored copies changed with it.
        /// Empty otherwise.
        dependants: Vec<TaskId>,
    },
    /// Nothing was stored: the task as stored now, or `None` when it is gone. `rebase` declined
    /// it, or the attempts ran out.
    Stale(Option<Task>),
}

/// Where tasks live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TaskRepository: Send + Sync {
    /// Stores a new task at version 1 with `updated_at = created_at`.
    async fn create(&self, task: NewTaskRecord) -> Result<Task, RepositoryError>;

    /// The task with this id, if any, with its tags in the order they were given.
    async fn find(&self, id: TaskId) -> Result<Option<Task>, RepositoryError>;

    /// The tasks among `ids` that exist, in any order.
    async fn find_many(&self, ids: Vec<TaskId>) -> Result<Vec<Task>, RepositoryError>;

    /// One page of the tasks in `scope` matching `filter`, sorted by `filter.sort` (tasks without
    /// a due date last in both directions; ties broken by id), and the total matching.
    async fn list(
        &self,
        scope: TaskScope,
        filter: TaskFilter,
        page: PageRequest,
    ) -> Result<Page<Task>, RepositoryError>;

    /// The first `limit` tasks of [`TaskRepository::list`]'s order, without the total: what a
    /// search that shows a few needs, and much cheaper when many tasks match (the store can stop
    /// at `limit` rather than count every match). MUST stop each statement that runs past
    /// `time_limit`, where the engine can stop one, and answer [`RepositoryError::timed_out`].
    async fn first_matching(
        &self,
        scope: TaskScope,
        filter: TaskFilter,
        limit: u32,
        time_limit: std::time::Duration,
    ) -> Result<Vec<Task>, RepositoryError>;

    /// Stores `task` (already changed, its version already bumped) only if the stored version is
    /// still `before`'s, `before` being the task as stored at that version (the copy the change
    /// was made from: a store may count what the write moved from `before` to `task`). When it is not, reads the task as stored now and stores what
    /// `rebase` makes of it instead, on the same condition, for at most `attempts` writes in all;
    /// it stops when `rebase` declines or the task is gone. All on one connection, so that a
    /// writer that lost a race does not wait its turn for the database again.
    /// MUST change nothing unless the stored version is the one the write was made from, so that
    /// two writers racing on one task cannot both win. MUST store, in the same transaction as the
    /// write, the occurrence [`crate::next_occurrence`] makes of the change from the copy it
    /// replaced, unless that task already has a next occurrence: one per completed task, however
    /// often it is completed, retried or raced.
    async fn update(
        &self,
        task: Task,
        before: Task,
        rebase: Rebase,
        attempts: usize,
    ) -> Result<UpdateOutcome, RepositoryError>;

    /// Deletes the task (and its comments) if it exists and, when `expected_version` is given,
    /// is still at that version. Returns whether a task was deleted.
    async fn delete(&self, id: TaskId, expected_version: Option<i64>) -> Result<bool, RepositoryError>;

    /// Counts over the tasks in `scope`; overdue as of `now`.
    async fn stats(&self, scope: TaskScope, now: DateTime<Utc>) -> Result<TaskStats, RepositoryError>;

    /// How the tasks in `scope` matching `filter` spread over statuses, priorities, tags and
    /// projects, and how many they are (`filter.sort` aside). MUST read the matches once, not
    /// once per facet, and MUST count each task once per facet value it has. MUST stop each
    /// statement that runs past `time_limit`, as [`TaskRepository::first_matching`] does.
    async fn facets(
        &self,
        scope: TaskScope,
        filter: TaskFilter,
        time_limit: std::time::Duration,
    ) -> Result<TaskFacets, RepositoryError>;

    /// The tags on tasks in `scope`, with how many tasks carry each, most used first; only tags
    /// containing `search` (lower-case) when given.
    async fn tags(&self, scope: TaskScope, search: Option<String>) -> Result<Vec<TagUsage>, RepositoryError>;

    /// Records a `task.updated` event for each of `tasks`, as stored now: tasks that a write to
    /// another changed in the store (a blocker completed, a parent deleted, a bucket or field
    /// removed), so that sockets and webhooks hear of them as of any change.
    async fn announce(&self, tasks: Vec<Task>) -> Result<(), RepositoryError>;

    /// The ids of `scope`'s tasks created after `after` (all of them when `None`), oldest first
    /// (by `created_at`, then id), at most `limit`, and the scope's total: both as of one moment,
    /// so that a caller can tell whether the ids it holds and these are every task of the scope.
    async fn creation_order(
        &self,
        scope: TaskScope,
        after: Option<CreationKey>,
        limit: u64,
    ) -> Result<CreationOrder, RepositoryError>;
}

/// Where a task stands in its scope's creation order: the order is by `created_at`, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CreationKey {
    /// When the task was made.
    pub created_at: DateTime<Utc>,
    /// The task's id, ordering tasks made at the same instant.
    pub id: TaskId,
}

impl CreationKey {
    /// Where `task` stands in its scope's creation order.
    pub fn of(task: &Task) -> Self {
        Self { created_at: task.created_at, id: task.id }
    }
}

/// Some of a scope's tasks in creation order, oldest first (see
/// [`TaskRepository::creation_order`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreationOrder {
    /// The tasks' ids, oldest first.
    pub ids: Vec<TaskId>,
    /// The key of the last of `ids`.
    pub last: Option<CreationKey>,
    /// How many tasks the whole scope held at the moment `ids` were read.
    pub total: u64,
    /// What each of `ids` was when read (same positions): where it stands, its status and the
    /// version it was read at, so that a cache can serve a status's pages out of the order.
    pub states: Vec<OrderedState>,
}

/// What a creation order knows of one of its tasks besides its id (see [`CreationOrder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderedState {
    /// When the task was made: with its id, where it stands in the order.
    pub created_at: DateTime<Utc>,
    /// Its status when read.
    pub status: Status,
    /// Its version when read: a change of status is newer than the order's copy only if its
    /// version is greater.
    pub version: i64,
}

/// A task whose status a write changed, as the cache is told of it (see
/// [`TaskCache::restatus`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restatus {
    /// Where the task stands in its scopes' creation orders.
    pub key: CreationKey,
    /// Its status now.
    pub status: Status,
    /// The version that status was written at.
    pub version: i64,
}

impl Restatus {
    /// The change `task` carries, as stored.
    pub fn of(task: &Task) -> Self {
        Self { key: CreationKey::of(task), status: task.status, version: task.version }
    }
}

/// Where a user stands in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No project has this id.
    NoSuchProject,
    /// The project exists; the user is not a member.
    Outsider,
    /// The user is a member, with this role.
    Member(ProjectRole),
}

/// What the task domain needs to know of projects: who may see and change their tasks. Read at
/// each request, never cached, so that a removed member loses access at their next request.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ProjectMembership: Send + Sync {
    /// Where `user` stands in `project`: no such project, an outsider, or a member with a role.
    async fn standing(&self, project: ProjectId, user: UserId) -> Result<Standing, RepositoryError>;

    /// Every project `user` is a member of, with their role.
    async fn roles_of(&self, user: UserId) -> Result<Vec<(ProjectId, ProjectRole)>, RepositoryError>;

    /// Every member of `project`.
    async fn member_ids(&self, project: ProjectId) -> Result<Vec<UserId>, RepositoryError>;
}

/// Where comments live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CommentRepository: Send + Sync {
    /// Stores a new comment and returns it with its id.
    async fn create(&self, comment: NewComment) -> Result<Comment, RepositoryError>;

    /// One page of a task's comments, oldest first, and their total.
    async fn list(&self, task: TaskId, page: PageRequest) -> Result<Page<Comment>, RepositoryError>;

    /// The comment `id` if it belongs to `task`.
    async fn find(&self, task: TaskId, id: i64) -> Result<Option<Comment>, RepositoryError>;

    /// Deletes comment `id`; `false` when there was no such comment.
    async fn delete(&self, id: i64) -> Result<bool, RepositoryError>;
}

/// One page of a list as a [`TaskCache`] keeps it (the page request is part of its key): the ids
/// of its tasks, whose bodies are read from the cached tasks (kept current by every write), so
/// that a page outlives writes that change its tasks but not which tasks it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedPage {
    /// The page's tasks' ids, in the page's order.
    pub ids: Vec<TaskId>,
    /// How many tasks the whole list holds.
    pub total: u64,
}

/// The part of a scope's lists a page belongs to: which writes can change which tasks it holds,
/// in what order, and its total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListPart {
    /// Every task of the scope by creation (its creation order, see [`OrderTicket`]): changed in
    /// place by deletes, reassignments and moves between projects only.
    Members,
    /// The newest end of the creation order, where creates add tasks (and nowhere else, unless a
    /// clock or a race puts one before the newest: see [`TaskRepository::creation_order`]).
    Appended,
    /// The scope's tasks of one status by creation: also changed when a task enters or leaves it.
    Status(Status),
    /// Any other filter or sort: changed by every write.
    Rest,
}

impl ListPart {
    /// Every part of a scope's lists, for forgetting them all.
    pub const ALL: [ListPart; 6] = [
        ListPart::Members,
        ListPart::Appended,
        ListPart::Status(Status::Pending),
        ListPart::Status(Status::InProgress),
        ListPart::Status(Status::Completed),
        ListPart::Rest,
    ];

    /// The parts a change from `before` to `after` can change (both in the same scopes, their
    /// owner and assignee unchanged): the rest always, and the statuses it leaves and enters.
    pub fn changed_by(before: &Task, after: &Task) -> Vec<ListPart> {
        let mut parts = vec![ListPart::Rest];
        if before.status != after.status {
            parts.extend([ListPart::Status(before.status), ListPart::Status(after.status)]);
        }
        parts
    }

    /// The parts a new task changes: it joins the newest end of the creation order, its status
    /// and the rest, but moves no task already in the order.
    pub fn created(task: &Task) -> Vec<ListPart> {
        vec![ListPart::Appended, ListPart::Status(task.status), ListPart::Rest]
    }

    /// A stable name for the part, for cache keys.
    pub fn key(&self) -> &'static str {
        match self {
            ListPart::Members => "members",
            ListPart::Appended => "appended",
            ListPart::Status(status) => status.as_str(),
            ListPart::Rest => "rest",
        }
    }
}

/// A page as it was last shown: its tasks (those the viewer of its scope may see) and its total.
/// Kept under its scope's [`ListPart::Rest`] generation, which every change to a task of the scope
/// moves on, so it is shown again only while nothing in the scope changed: then a page costs one
/// lookup, whatever the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShownPage {
    /// The page's tasks, in its order.
    pub tasks: Vec<Task>,
    /// How many tasks the whole list holds.
    pub total: u64,
}

/// What [`TaskCache::shown_page`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum ShownLookup {
    /// Shown since the scope last changed: this is the page.
    Hit(ShownPage),
    /// Not shown since the scope last changed: list it, then store it with this ticket (its
    /// part is [`ListPart::Rest`]).
    Miss(ListTicket),
    /// The cache cannot serve pages now: list the page and keep nothing.
    Bypass,
}

/// Which slice of a scope's creation order a list page shows: `limit` tasks after skipping
/// `offset`, from the newest end when `newest_first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderWindow {
    /// How many tasks of the order to skip, from the end it is read from.
    pub offset: u64,
    /// How many tasks to show.
    pub limit: u64,
    /// Whether the order is read from its newest end (a list sorted newest first).
    pub newest_first: bool,
}

impl OrderWindow {
    /// The positions (oldest first) of the window in an order of `len` tasks: what the window
    /// shows, in the order it shows them, is `ids[range]`, reversed when `newest_first`.
    pub fn range(&self, len: u64) -> std::ops::Range<usize> {
        let (start, end) = if self.newest_first {
            let end = len.saturating_sub(self.offset);
            (end.saturating_sub(self.limit), end)
        } else {
            let start = self.offset.min(len);
            (start, start.saturating_add(self.limit).min(len))
        };
        usize::try_from(start).unwrap_or(usize::MAX)..usize::try_from(end).unwrap_or(usize::MAX)
    }

    /// The window's ids out of a whole order, in the window's order.
    pub fn of(&self, ids: &[TaskId]) -> Vec<TaskId> {
        let range = self.range(ids.len() as u64);
        let mut window = ids[range].to_vec();
        if self.newest_first {
            window.reverse();
        }
        window
    }

    /// The window's ids out of the tasks of `status` in a whole order read from the database
    /// (its [`CreationOrder::states`]), in the window's order, and how many of them there are.
    pub fn of_status(&self, order: &CreationOrder, status: Status) -> (Vec<TaskId>, u64) {
        let matching: Vec<TaskId> = order
            .ids
            .iter()
            .zip(&order.states)
            .filter(|(_, state)| state.status == status)
            .map(|(id, _)| *id)
            .collect();
        (self.of(&matching), matching.len() as u64)
    }
}

/// Where a scope's creation order read from the database may be cached, and what the cache held
/// when it was asked: the generations of [`ListPart::Members`] (moved on by changes that take a
/// task out of the order or put one in its middle) and [`ListPart::Appended`] (moved on by
/// creates), both as they were *before* the read, and for an order that only lacks the newest
/// tasks, its length and last key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTicket {
    /// Whose creation order it is.
    pub scope: TaskScope,
    /// The scope's [`ListPart::Members`] generation before the read.
    pub members: u64,
    /// The scope's [`ListPart::Appended`] generation before the read.
    pub appended: u64,
    /// `(length, last key)` of the cached order to extend; `None` to store a whole order.
    pub extends: Option<(u64, Option<CreationKey>)>,
    /// With `extends`: the ids stored are every task created after a key at or before the cached
    /// order's last (its total beside them), so they overlap the order's end and may hold tasks
    /// that committed after newer ones had been appended. The cache keeps the order up to the
    /// first id it holds of them and puts them after it, only when that comes to the total;
    /// otherwise it keeps what it has (and the reader reads the order whole).
    pub overlaps: bool,
    /// Where the cache's record of changes of status stood before the read (see
    /// [`TaskCache::restatus`]): a change told after it may be missing from what is read, and is
    /// laid over it when it is stored. `0` for a cache that serves no status from its orders.
    pub since: u64,
}

/// What [`TaskCache::creation_window`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderLookup {
    /// The window's ids, in its order, and the order's length (the scope's total).
    Hit {
        /// The window's task ids, in the window's order.
        ids: Vec<TaskId>,
        /// The whole order's length: the scope's total.
        total: u64,
    },
    /// Cached, but tasks were created since: read those after `ticket.extends`' key and store
    /// them with this ticket.
    Behind(OrderTicket),
    /// Not cached (or reordered since): read the whole order and store it with this ticket.
    Miss(OrderTicket),
    /// The cache cannot serve orders now: read the database and keep nothing.
    Bypass,
}

/// Where a page read from the database may be cached: the scope, its part, the query, and the
/// generation of that part of the scope's lists that was current *before* the read. A change that
/// can change the part moves the generation on, so a page read before a change is filed under a
/// generation no later lookup asks for, however late it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListTicket {
    /// Whose lists the page belongs to.
    pub scope: TaskScope,
    /// Which part of the scope's lists it belongs to.
    pub part: ListPart,
    /// The part's generation current before the read: the page is reachable only while it is still
    /// current.
    pub generation: u64,
    /// The page's query (filter, sort and page), as a cache key.
    pub query: String,
}

/// What [`TaskCache::list_page`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum ListLookup {
    /// Cached under the part's current generation: this is the page.
    Hit(ListedPage),
    /// Not cached: read the database, then store the page with this ticket.
    Miss(ListTicket),
    /// The cache cannot serve lists now (unreachable): read the database and keep nothing.
    Bypass,
}

/// A read-through cache of tasks, statistics and list pages.
///
/// Implementations MUST NOT fail: an unreachable cache behaves as an empty one (and logs), so
/// that an outage degrades to reading the database instead of failing requests. The cache knows
/// nothing of visibility; the service checks it on every read.
///
/// Reads that fill the cache race with writes that change the task: a copy read from the
/// database just before a write may arrive after the write's own copy. So the cache keeps the
/// newest version it was given, and remembers a forgotten task for a while. List pages are kept
/// per generation of their scope for the same reason (see [`ListTicket`]).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TaskCache: Send + Sync {
    /// The cached copy of task `id`, if any.
    async fn task(&self, id: TaskId) -> Option<Task>;
    /// The cached copy of each of `ids`, in their order, `None` for a miss (one round trip to a
    /// shared cache).
    async fn tasks(&self, ids: &[TaskId]) -> Vec<Option<Task>>;
    /// Caches `task` unless the cache holds a newer version of it, or forgot it less than
    /// [`FORGOTTEN_FOR`] ago (a late copy must not bring back a deleted task). MUST be atomic
    /// with respect to other puts and forgets of the same task, on every instance sharing it.
    async fn put_task(&self, task: &Task);
    /// Stops serving the task, and refuses copies of it for [`FORGOTTEN_FOR`].
    async fn forget_task(&self, id: TaskId);
    /// The cached statistics of `scope`, if any.
    async fn stats(&self, scope: TaskScope) -> Option<TaskStats>;
    /// Caches `stats` for `scope`, until a change to the scope forgets them (or a short time to
    /// live passes: statistics of overdue tasks age with the clock).
    async fn put_stats(&self, scope: TaskScope, stats: &TaskStats);
    /// The page `query` of `part` of `scope`'s lists under the part's current generation, or the
    /// ticket to store it with. A part without a generation (new, or its generation evicted) MUST
    /// get one greater than any it had before, so that no page filed earlier becomes reachable.
    async fn list_page(&self, scope: TaskScope, part: ListPart, query: &str) -> ListLookup;
    /// Stores `page` under `ticket` (reachable only while the ticket's generation is current).
    async fn put_list_page(&self, ticket: ListTicket, page: &ListedPage);
    /// The page `query` of `scope` as it was last shown, if nothing in the scope changed since
    /// (its [`ListPart::Rest`] generation is the one it was filed under), or the ticket to store
    /// it with. Generations are drawn as for [`Self::list_page`].
    async fn shown_page(&self, scope: TaskScope, query: &str) -> ShownLookup;
    /// Stores `page` under `ticket` (reachable only while the ticket's generation is current).
    async fn put_shown_page(&self, ticket: ListTicket, page: &ShownPage);
    /// The `window` of `scope`'s creation order if it is cached and current, or the ticket to
    /// read and store it (or what it lacks) with. An order is current while the scope's
    /// [`ListPart::Members`] generation is the one it was read under; it only lacks the newest
    /// tasks while its [`ListPart::Appended`] generation is older. Generations are drawn as for
    /// [`Self::list_page`].
    ///
    /// With `seen`, the `Appended` generation a caller's earlier lookup answered (in its ticket),
    /// an order read under that generation or a later one serves too: it holds every task whose
    /// create was answered before that lookup, which is all that the caller may miss. Under a
    /// steady stream of creates the generation moves on while the order is extended, and without
    /// this a request would find it behind after every extension.
    async fn creation_window(&self, scope: TaskScope, window: OrderWindow, seen: Option<u64>) -> OrderLookup;
    /// Stores `order` as the whole creation order of `ticket.scope` or, when `ticket.extends`,
    /// appends it to the cached order, if that is still the order the ticket was made for (same
    /// `Members` generation, same length): otherwise stores nothing. MUST NOT make an order
    /// reachable under a `Members` generation later than the ticket's.
    async fn put_creation_order(&self, ticket: OrderTicket, order: &CreationOrder);
    /// As [`Self::creation_window`], for the window of `scope`'s tasks of `status` in creation
    /// order, out of the same cached order: its [`ListPart::Status`] pages, at the cost of the
    /// order, not of a walk to the page. A cache that does not keep statuses in its orders
    /// answers [`OrderLookup::Bypass`].
    async fn status_window(
        &self,
        scope: TaskScope,
        status: Status,
        window: OrderWindow,
        seen: Option<u64>,
    ) -> OrderLookup;
    /// `changes` of status were stored to tasks of `scopes`, without moving them in or out of
    /// those scopes (a status's pages then come out of a creation order that is current for its
    /// members): the cached orders of `scopes` take them, and so does any order whose read was
    /// under way (its ticket's `since`). A change applies only over an older version of its task.
    /// Called after the change is stored, before it is answered, for every change of status
    /// that does not forget the scopes' [`ListPart::Members`].
    async fn restatus(&self, scopes: Vec<TaskScope>, changes: Vec<Restatus>);
    /// Forgets the statistics of each scope and moves every part of its lists to a new
    /// generation, on every instance sharing the cache. Called after the change is stored,
    /// before it is answered.
    async fn forget_scopes(&self, scopes: Vec<TaskScope>);
    /// As [`Self::forget_scopes`], for the `parts` of each scope's lists only: a change that
    /// leaves the others as they were.
    async fn forget_parts(&self, scopes: Vec<TaskScope>, parts: Vec<ListPart>);
}

/// Who hears of the changes the task service makes, once they are stored: notifications. Each
/// call is made after the change is stored and returns nothing: what a listener fails to do it
/// reports itself, and the change stands.
#[async_trait]
pub trait TaskActivity: Send + Sync {
    /// `actor` made `task`.
    async fn created(&self, actor: UserId, task: &Task);

    /// `actor` changed `before` into `after`.
    async fn changed(&self, actor: UserId, before: &Task, after: &Task);

    /// `actor` commented on `task`.
    async fn commented(&self, actor: UserId, task: &Task, comment: &Comment);
}
