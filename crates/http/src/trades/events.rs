//! How a trade's events look on the wire: the trade as `GET /trades/{id}` shows it, its state as of
//! the event. [`crate::events`] asks it after the tasks' presenter.

use serde_json::value::RawValue;
use workbench_events::{OutboxEvent, TradeEvent};
use workbench_trades::Trade;

use super::dto::TradeResponse;

/// A trade's event as the API shows the trade (its payload as it is, should it not read as one,
/// such as what a database trigger wrote for a trade it closed); `None` for any other event.
pub(crate) fn present(event: &OutboxEvent) -> Option<Box<RawValue>> {
    TradeEvent::parse(&event.name)?;
    Some(
        serde_json::from_str::<Trade>(event.payload.get())
            .ok()
            .and_then(|trade| serde_json::value::to_raw_value(&TradeResponse::new(trade, event.occurred_at)).ok())
            .unwrap_or_else(|| event.payload.clone()),
    )
}
