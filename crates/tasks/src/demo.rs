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

/// What the demo board made: the task ids a newcomer is pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoBoard {
    /// The task with a subtask.
    pub parent: crate::TaskId,
    /// Its subtask.
    pub subtask: crate::TaskId,
    /// The task that blocks another.
    pub blocker: crate::TaskId,
    /// The task it blocks.
    pub blocked: crate::TaskId,
}

impl crate::TaskService {
    /// The demo project's board (`workbench seed`), made as `owner` (its admin): the buckets
    /// Backlog, Doing and Done (the done one), two custom fields, and tasks placed on the board,
    /// one with a subtask and one blocked by another; `editor` does the first.
    pub async fn demo_board(
        &self,
        owner: &workbench_users::Principal,
        project: workbench_projects::ProjectId,
        editor: Option<workbench_users::UserId>,
    ) -> Result<DemoBoard, crate::TaskError> {
        use crate::{BucketDraft, FieldDraft, MoveRequest, RawFieldValues};
        let bucket = |name: &str, done| BucketDraft { name: Some(name.to_owned()), limit: None, done: Some(done) };
        let doing = self.create_bucket(owner, project, bucket("Doing", false)).await?;
        self.create_bucket(owner, project, bucket("Done", true)).await?;
        let field = |name: &str, kind: &str, options: Option<&[&str]>| FieldDraft {
            name: Some(name.to_owned()),
            field_type: Some(kind.to_owned()),
            options: options.map(|o| o.iter().map(|s| (*s).to_owned()).collect()),
            required: None,
        };
        let room =
            self.create_field(owner, project, field("Room", "select", Some(&["Kitchen", "Utility room"]))).await?;
        let budget = self.create_field(owner, project, field("Budget", "number", None)).await?;
        let plans = [
            ("Choose the wall tiles", Status::InProgress, Priority::High, editor, "Kitchen", 900),
            ("Buy the tile adhesive", Status::Pending, Priority::Medium, None, "Kitchen", 60),
            ("Book the plumber for the taps", Status::Pending, Priority::Medium, None, "Kitchen", 250),
            ("Fit the new taps", Status::Pending, Priority::Medium, None, "Utility room", 180),
            ("Order the new oven", Status::Completed, Priority::Low, None, "Kitchen", 1200),
        ];
        let mut ids = Vec::new();
        for (title, status, priority, assignee, where_, cost) in plans {
            let values: RawFieldValues =
                [(room.id.to_string(), serde_json::json!(where_)), (budget.id.to_string(), serde_json::json!(cost))]
                    .into();
            let draft = TaskDraft {
                title: Some(title.to_owned()),
                status: Some(status),
                priority: Some(priority),
                assignee_id: assignee.map(|a| a.0),
                tags: Some(vec!["kitchen".to_owned()]),
                project_id: Some(project.0),
                fields: Some(values),
                ..TaskDraft::default()
            };
            ids.push(self.create(owner, draft).await?.id);
        }
        let into_doing = MoveRequest { bucket_id: Some(doing.id.0), after_id: None, before_id: None };
        self.move_task(owner, ids[0], into_doing).await?;
        self.relate(owner, ids[0], Some("subtask".to_owned()), Some(ids[1].0)).await?;
        self.relate(owner, ids[2], Some("blocks".to_owned()), Some(ids[3].0)).await?;
        Ok(DemoBoard { parent: ids[0], subtask: ids[1], blocker: ids[2], blocked: ids[3] })
    }
}
