//! How domain events look on the wire. Events leave the outbox through one relay per deployment
//! (a lease in the database decides which instance runs it; see `background`), which publishes
//! them on the broadcast port under `event.<name>`, to outbound webhook subscriptions and to NATS,
//! then removes them, so the outbox holds only what is not yet published.

use serde::Deserialize as _;
use workbench_events::{EventPresenter, OutboxEvent, TaskEvent};
use workbench_tasks::Task;

use crate::http::tasks::dto::TaskResponse;

/// Shows a task event's subject exactly as `GET /tasks/{id}` shows the task; a deletion's
/// `{"id": ...}` as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct WirePresenter;

impl EventPresenter for WirePresenter {
    fn data(&self, event: &OutboxEvent) -> serde_json::Value {
        match TaskEvent::parse(&event.name) {
            Some(TaskEvent::Created | TaskEvent::Updated) => Task::deserialize(&event.payload)
                .ok()
                .and_then(|task| serde_json::to_value(TaskResponse::from(task)).ok())
                .unwrap_or_else(|| event.payload.clone()),
            _ => event.payload.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, payload: serde_json::Value) -> OutboxEvent {
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
    fn a_deletion_is_shown_as_its_id() {
        let data = WirePresenter.data(&event("task.deleted", serde_json::json!({"id": 7})));
        assert_eq!(data, serde_json::json!({"id": 7}));
    }

    #[test]
    fn a_task_is_shown_as_the_api_shows_it() {
        let task = serde_json::json!({
            "id": 7, "title": "Call", "description": null, "status": "pending", "priority": "high",
            "due_date": null, "owner_id": 1, "assignee_id": 2, "tags": ["x"], "completed_at": null,
            "version": 3, "created_at": "2026-11-22T10:00:00Z", "updated_at": "2026-11-22T10:00:00Z"
        });
        let data = WirePresenter.data(&event("task.updated", task));
        assert_eq!(data["title"], "Call");
        assert_eq!(data["priority"], "high");
        assert_eq!(data["assignee_id"], 2);
        assert_eq!(data["version"], 3);
    }
}
