//! The demo's personal tasks (`workbench seed`): what a newcomer sees first.

use chrono::{DateTime, Duration, Utc};
use workbench_core::TypeFailures;

use crate::{Priority, Status, TaskDraft};

/// The personal tasks of the demo account, due relative to `now`.
pub fn demo_tasks(now: DateTime<Utc>) -> Vec<TaskDraft> {
    let task = |title: &str, status, priority, due: Option<Duration>, tags: &[&str]| TaskDraft {
        title: Some(title.to_owned()),
        description: None,
        status: Some(status),
        priority: Some(priority),
        due_date: due.map(|d| now + d),
        assignee_id: None,
        tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
        project_id: None,
        recurrence: None,
        completed_at: None,
        fields: None,
        type_failures: TypeFailures::default(),
    };
    vec![
        task(
            "Register the new headphones for the extended warranty",
            Status::Pending,
            Priority::High,
            Some(Duration::days(7)),
            &["warranty", "audio"],
        ),
        task("Sell the old coffee machine", Status::InProgress, Priority::Medium, None, &["home"]),
        task(
            "Send the broken blender back for repair",
            Status::Pending,
            Priority::High,
            Some(Duration::days(-2)),
            &["warranty", "kitchen"],
        ),
        task("Scan the invoices of this year", Status::Completed, Priority::Low, None, &["paperwork"]),
        TaskDraft {
            recurrence: Some("FREQ=WEEKLY;BYDAY=SA".to_owned()),
            ..task("Water the plants", Status::Pending, Priority::Low, Some(Duration::days(3)), &["home"])
        },
    ]
}
