//! How a task's events look on the wire: the task exactly as `GET /tasks/{id}` shows it, so the
//! presenter lives with the task's wire type. [`crate::events`] asks it first.

use serde_json::value::RawValue;
use workbench_events::{OutboxEvent, TaskEvent};
use workbench_tasks::{Task, TaskId};

use super::dto::TaskResponse;

/// A created or updated task's event as the API shows the task (its payload as it is, should it
/// not read as one); `None` for any other event, a task's deletion included (its `{"id": ...}`
/// is shown as it is).
pub(crate) fn present(event: &OutboxEvent) -> Option<Box<RawValue>> {
    match TaskEvent::parse(&event.name)? {
        // Text to task to text, with no JSON tree between: this runs once per write.
        TaskEvent::Created | TaskEvent::Updated => Some(
            serde_json::from_str::<Task>(event.payload.get())
                .ok()
                .and_then(|task| {
                    // A created task's payload was written before its id existed.
                    let task = Task { id: TaskId(event.subject_id), ..task };
                    serde_json::value::to_raw_value(&TaskResponse::from(task)).ok()
                })
                .unwrap_or_else(|| event.payload.clone()),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, payload: &serde_json::Value) -> OutboxEvent {
        let payload = serde_json::value::to_raw_value(payload).unwrap();
        OutboxEvent {
            id: workbench_events::EventId(1),
            name: name.into(),
            subject_id: 7,
            audience: vec![],
            payload,
            occurred_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_deletion_is_no_task_to_show() {
        assert!(present(&event("task.deleted", &serde_json::json!({"id": 7}))).is_none());
    }

    #[test]
    fn a_task_is_shown_as_the_api_shows_it() {
        // As a create writes it: before the row had an id.
        let task = serde_json::json!({
            "id": 0, "title": "Call", "description": null, "status": "pending", "priority": "high",
            "due_date": null, "owner_id": 1, "assignee_id": 2, "tags": ["x"], "completed_at": null,
            "version": 3, "created_at": "2026-11-22T10:00:00Z", "updated_at": "2026-11-22T10:00:00Z"
        });
        let data = present(&event("task.created", &task)).expect("a task event");
        let data: serde_json::Value = serde_json::from_str(data.get()).unwrap();
        assert_eq!(data["id"], 7, "the subject's id");
        assert_eq!(data["title"], "Call");
        assert_eq!(data["priority"], "high");
        assert_eq!(data["assignee_id"], 2);
        assert_eq!(data["version"], 3);
    }
}
