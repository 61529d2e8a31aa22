//! How domain events (a task's, a trade's) look on the wire. Events leave the outbox through one relay per deployment
//! (a lease in the database decides which instance runs it), which publishes them on the
//! broadcast port under `event.<name>`, to outbound webhook subscriptions and to NATS, then
//! removes them, so the outbox holds only what is not yet published. What they carry is the task
//! as this API shows it, so the presenter lives with the task's wire type.

use serde_json::value::RawValue;
use workbench_events::{EventPresenter, OutboxEvent, TaskEvent, TradeEvent};
use workbench_tasks::{Task, TaskId};

use super::dto::TaskResponse;

/// Shows a task event's subject exactly as `GET /tasks/{id}` shows the task, a trade event's as
/// `GET /trades/{id}` shows the trade (its state as of the event); a deletion's `{"id": ...}`, and
/// what a database trigger wrote for a trade it closed, as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct WirePresenter;

impl EventPresenter for WirePresenter {
    fn data(&self, event: &OutboxEvent) -> Box<RawValue> {
        match TaskEvent::parse(&event.name) {
            // Text to task to text, with no JSON tree between: this runs once per write.
            Some(TaskEvent::Created | TaskEvent::Updated) => serde_json::from_str::<Task>(event.payload.get())
                .ok()
                .and_then(|task| {
                    // A created task's payload was written before its id existed.
                    let task = Task { id: TaskId(event.subject_id), ..task };
                    serde_json::value::to_raw_value(&TaskResponse::from(task)).ok()
                })
                .unwrap_or_else(|| event.payload.clone()),
            None if TradeEvent::parse(&event.name).is_some() => {
                serde_json::from_str::<workbench_trades::Trade>(event.payload.get())
                    .ok()
                    .and_then(|trade| {
                        let shown = crate::trades::dto::TradeResponse::new(trade, event.occurred_at);
                        serde_json::value::to_raw_value(&shown).ok()
                    })
                    .unwrap_or_else(|| event.payload.clone())
            }
            _ => event.payload.clone(),
        }
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
    fn a_deletion_is_shown_as_its_id() {
        let data = WirePresenter.data(&event("task.deleted", &serde_json::json!({"id": 7})));
        assert_eq!(data.get(), r#"{"id":7}"#);
    }

    #[test]
    fn a_task_is_shown_as_the_api_shows_it() {
        // As a create writes it: before the row had an id.
        let task = serde_json::json!({
            "id": 0, "title": "Call", "description": null, "status": "pending", "priority": "high",
            "due_date": null, "owner_id": 1, "assignee_id": 2, "tags": ["x"], "completed_at": null,
            "version": 3, "created_at": "2026-11-22T10:00:00Z", "updated_at": "2026-11-22T10:00:00Z"
        });
        let data = WirePresenter.data(&event("task.created", &task));
        let data: serde_json::Value = serde_json::from_str(data.get()).unwrap();
        assert_eq!(data["id"], 7, "the subject's id");
        assert_eq!(data["title"], "Call");
        assert_eq!(data["priority"], "high");
        assert_eq!(data["assignee_id"], 2);
        assert_eq!(data["version"], 3);
    }
}
