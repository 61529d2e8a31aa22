//! The calendar change log: one row per task and calendar, whatever the number of writes, and
//! syncs that still see every change, removal and name given up (migration 000048).

use workbench_calendars::{CalendarId, CalendarStore, Change, ObjectEntry, SyncToken};
use workbench_store::testing::{count_rows, instant, user};
use workbench_store::{Database, DieselCalendarStore, engine_cases};
use workbench_tasks::TaskRepository;

use crate::tasks::*;

engine_cases!(the_log_keeps_one_row_per_task_and_calendar_and_syncs_see_every_change);

async fn the_log_keeps_one_row_per_task_and_calendar_and_syncs_see_every_change(db: Database) {
    let repo = repo(&db);
    let calendars = DieselCalendarStore::new(db.clone());
    let ann = user(&db, "ann").await;
    let calendar = CalendarId::Personal(ann.id);
    let start = calendars.token(calendar).await.unwrap();

    let kept = create_at(&repo, &ann, draft("kept"), instant()).await;
    let mut busy = create_at(&repo, &ann, draft("busy"), instant()).await;
    let middle = calendars.token(calendar).await.unwrap();
    for n in 1..=20 {
        let next = changed(&busy, instant() + secs(n), |t| t.title = format!("busy {n}"));
        assert!(stored_over(&repo, next.clone(), busy.version).await);
        busy = next;
    }
    let gone = create_at(&repo, &ann, draft("gone"), instant()).await;
    assert!(repo.delete(gone.id, None).await.unwrap());

    // Twenty-one writes of one task, and a task made and deleted: a row each in the calendar.
    let end = calendars.token(calendar).await.unwrap();
    assert_eq!(count_rows(&db, "calendar_changes").await, 3, "one row per task and calendar");
    assert!(end.seq > middle.seq && middle.seq > start.seq, "{start:?} {middle:?} {end:?}");

    // From before anything, and from the middle: every task once, as it is now.
    let named = |changes: &[Change]| -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::Changed(ObjectEntry { name, version, .. }) => format!("{name} v{version}"),
                Change::Removed { name } => format!("{name} removed"),
            })
            .collect()
    };
    let default = |id: workbench_tasks::TaskId| format!("workbench-task-{}.ics", id.0);
    let since_start = calendars.changes(calendar, start, 100).await.unwrap().expect("a valid token");
    let mut got = named(&since_start.changes);
    got.sort();
    let mut want = vec![
        format!("{} v1", default(kept.id)),
        format!("{} v21", default(busy.id)),
        format!("{} removed", default(gone.id)),
    ];
    want.sort();
    assert_eq!(got, want);
    let since_middle = calendars.changes(calendar, middle, 100).await.unwrap().expect("a valid token");
    let mut got = named(&since_middle.changes);
    got.sort();
    let mut want = vec![format!("{} v21", default(busy.id)), format!("{} removed", default(gone.id))];
    want.sort();
    assert_eq!(got, want);
    // The token of the end still reads as the calendar's newest.
    let since_end = calendars.changes(calendar, end, 100).await.unwrap().expect("a valid token");
    assert!(since_end.changes.is_empty());
    assert_eq!(since_end.token, SyncToken::at(end.seq));
}
