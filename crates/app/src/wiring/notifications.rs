//! Notifications: rows in the database, pushed to sockets through the hub and queued for e-mail
//! on the jobs queue (the job is `background`'s); the listener that turns task activity into
//! them; task reminders, swept by a job; and who may still see what, asked at e-mail time.

use std::sync::Arc;
use std::time::Duration;

use workbench_cache::SharedFollowsCache;
use workbench_chat::{ChatActivity, ChatService};
use workbench_core::broadcast::Broadcast;
use workbench_jobs::JobQueue;
use workbench_notifications::{
    ChatNotices, DomainAccess, NotificationService, Reminders, SubjectAccess, TaskNotices, UnsubscribeKey,
};
use workbench_realtime::Hub;
use workbench_scheduled::{JobMailQueue, JobReminderWake};
use workbench_store::{Database, DieselNotificationRepository, DieselProjectRepository, DieselReminderRepository};
use workbench_tasks::TaskService;
use workbench_users::Authenticator;

use crate::Settings;

/// Subjects whose follows are kept in process (a few dozen bytes each), and for how long at most.
const FOLLOWED_SUBJECTS_MAX: u64 = 100_000;
const FOLLOWS_TTL: Duration = Duration::from_secs(600);

/// The notification service, and the task listener that delivers through it.
pub fn service(
    settings: &Settings,
    db: &Database,
    hub: &Hub,
    bus: Arc<dyn Broadcast>,
    accounts: &Authenticator,
    jobs: &JobQueue,
) -> (NotificationService, Arc<TaskNotices>) {
    let store = Arc::new(DieselNotificationRepository::new(db.clone()));
    let key = UnsubscribeKey::derive(&settings.jwt_secret_bytes());
    let follows = SharedFollowsCache::start(bus, FOLLOWED_SUBJECTS_MAX, FOLLOWS_TTL);
    let service = NotificationService::new(store, Arc::new(hub.clone()))
        .mailing(Arc::new(JobMailQueue::new(jobs.clone())), key)
        .caching_follows(follows);
    let members = Arc::new(DieselProjectRepository::new(db.clone()));
    (service.clone(), Arc::new(TaskNotices::new(service, members, Arc::new(accounts.clone()))))
}

/// Task reminders (swept by `background`'s job, woken on the jobs queue), and the access check
/// the e-mail jobs ask.
pub fn reminders(
    db: &Database,
    jobs: &JobQueue,
    tasks: &TaskService,
    notices: Arc<TaskNotices>,
    accounts: &Authenticator,
    chat: &ChatService,
) -> (Reminders, Arc<dyn SubjectAccess>) {
    let store = Arc::new(DieselReminderRepository::new(db.clone()));
    let reminders = Reminders::new(store, Arc::new(JobReminderWake::new(jobs.clone())), tasks.clone(), notices);
    let members = Arc::new(DieselProjectRepository::new(db.clone()));
    let access = DomainAccess::new(tasks.clone(), members, Arc::new(accounts.clone()), chat.clone());
    (reminders, Arc::new(access))
}

/// What tells of `@mentions` in chat rooms, deciding who reads a room with `plain` (the chat
/// service without it).
pub fn chat(
    notifications: &NotificationService,
    plain: ChatService,
    accounts: &Authenticator,
) -> Arc<dyn ChatActivity> {
    Arc::new(ChatNotices::new(notifications.clone(), plain, Arc::new(accounts.clone())))
}
