//! Task reminders in the store: a relative reminder (and every task's `due_soon`) follows its
//! task's due date and is re-armed when a later one puts it in the future again; a task holds
//! at most its limit; and sweeps running at once claim each reminder that has come exactly once.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use workbench_notifications::{DueKind, Moment, NewReminder, ReminderId, ReminderRepository};
use workbench_store::testing::{count_rows, execute_sql, user};
use workbench_store::{Database, DieselReminderRepository, DieselTaskRepository, engine_cases};
use workbench_tasks::{NewTaskRecord, Task, TaskId, TaskRepository};
use workbench_users::{UserId, now};

use crate::tasks::draft;

engine_cases!(reminders_follow_the_due_date_and_each_fires_once, sweeps_at_once_claim_each_reminder_once,);

async fn task_due(db: &Database, owner: UserId, due: Option<DateTime<Utc>>) -> Task {
    let mut task = draft("Pay the rent");
    task.due_date = due;
    let record = NewTaskRecord { task, owner_id: owner, completed_at: None, created_at: now() };
    DieselTaskRepository::new(db.clone()).create(record).await.unwrap()
}

fn reminder(task: TaskId, by: UserId, moment: Moment, fire_at: Option<DateTime<Utc>>) -> NewReminder {
    NewReminder { task_id: task, moment, fire_at, created_by: by, created_at: now() }
}

fn sql_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

async fn reminders_follow_the_due_date_and_each_fires_once(db: Database) {
    let repo = DieselReminderRepository::new(db.clone());
    let ann = user(&db, "ann").await.id;
    let start = Utc::now();
    let due = start + Duration::days(3);
    let task = task_due(&db, ann, Some(due)).await;
    assert_eq!(count_rows(&db, "task_reminders").await, 1, "the task's own due_soon");
    assert!(repo.claim_due(start, 50).await.unwrap().is_empty(), "due_soon waits for the day before");

    let day = Duration::days(1);
    let relative = repo
        .add(reminder(task.id, ann, Moment::BeforeDue("P1D".into(), day), Some(due - day)), 2)
        .await
        .unwrap()
        .expect("the first of two");
    let absolute = repo
        .add(reminder(task.id, ann, Moment::At(start + Duration::hours(1)), Some(start + Duration::hours(1))), 2)
        .await
        .unwrap()
        .expect("the second of two");
    assert_eq!(relative.before_due.as_deref(), Some("P1D"));
    assert_eq!(absolute.at.map(|a| a.timestamp()), Some((start + Duration::hours(1)).timestamp()));
    let third = reminder(task.id, ann, Moment::At(start + Duration::hours(2)), Some(start + Duration::hours(2)));
    assert_eq!(repo.add(third, 2).await.unwrap(), None, "a third is refused");
    let listed: Vec<ReminderId> = repo.of_task(task.id).await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(listed, [relative.id, absolute.id], "due_soon is not listed");

    // Two days on, all three have come; claimed once.
    let later = start + Duration::days(2) + Duration::minutes(1);
    let mut claimed = repo.claim_due(later, 50).await.unwrap();
    claimed.sort_by_key(|c| c.id);
    let kinds: Vec<DueKind> = claimed.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [DueKind::DueSoon, DueKind::Reminder, DueKind::Reminder]);
    assert!(repo.claim_due(later, 50).await.unwrap().is_empty(), "each fires once");

    // A later due date re-arms the relative reminder and due_soon, not the absolute one.
    let moved = start + Duration::days(10);
    execute_sql(&db, format!("UPDATE tasks SET due_date = '{}' WHERE id = {}", sql_time(moved), task.id.0))
        .await
        .unwrap();
    let listed = repo.of_task(task.id).await.unwrap();
    let fires: Vec<Option<i64>> = listed.iter().map(|r| r.fires_at.map(|at| at.timestamp())).collect();
    assert_eq!(fires, [Some((moved - day).timestamp()), None]);
    assert!(repo.claim_due(later, 50).await.unwrap().is_empty());
    let mut claimed = repo.claim_due(moved - Duration::hours(23), 50).await.unwrap();
    claimed.sort_by_key(|c| c.id);
    assert_eq!(claimed.iter().map(|c| c.kind).collect::<Vec<_>>(), [DueKind::DueSoon, DueKind::Reminder]);

    // No due date: a relative reminder has no moment.
    execute_sql(&db, format!("UPDATE tasks SET due_date = NULL WHERE id = {}", task.id.0)).await.unwrap();
    execute_sql(&db, format!("UPDATE tasks SET due_date = '{}' WHERE id = {}", sql_time(moved), task.id.0))
        .await
        .unwrap();
    execute_sql(&db, format!("UPDATE tasks SET due_date = NULL WHERE id = {}", task.id.0)).await.unwrap();
    assert_eq!(repo.of_task(task.id).await.unwrap()[0].fires_at, None);
    assert!(repo.remove(task.id, relative.id).await.unwrap());
    assert!(!repo.remove(task.id, relative.id).await.unwrap(), "gone");
    assert!(!repo.remove(TaskId(task.id.0 + 1), absolute.id).await.unwrap(), "another task's id");
}

async fn sweeps_at_once_claim_each_reminder_once(db: Database) {
    let ann = user(&db, "ann").await.id;
    let task = task_due(&db, ann, None).await;
    let past = sql_time(Utc::now() - Duration::minutes(5));
    let rows: Vec<String> =
        (0..400).map(|_| format!("({}, 'reminder', '{past}', '{past}', '{past}')", task.id.0)).collect();
    execute_sql(
        &db,
        format!(
            "INSERT INTO task_reminders (task_id, kind, remind_at, fire_at, created_at) VALUES {}",
            rows.join(", ")
        ),
    )
    .await
    .unwrap();
    let repo = Arc::new(DieselReminderRepository::new(db.clone()));
    let sweeps: Vec<_> = (0..4)
        .map(|_| {
            let repo = Arc::clone(&repo);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = repo.claim_due(Utc::now(), 25).await.unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|c| c.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for sweep in sweeps {
        all.extend(sweep.await.unwrap());
    }
    let unique: BTreeSet<ReminderId> = all.iter().copied().collect();
    assert_eq!((all.len(), unique.len()), (400, 400), "every reminder claimed, none twice");
}
