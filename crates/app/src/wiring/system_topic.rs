//! The WebSocket's `system` topic: this instance's samples (`system.metrics`) and alerts
//! (`system.alert`) from its [`SystemMonitor`], delivered to the sockets here that subscribed.
//! The topic is about this instance, so nothing crosses the bus.

use tokio::sync::broadcast::error::RecvError;
use workbench_realtime::{Hub, event_frame};
use workbench_system::{SystemEvent, SystemMonitor};

use workbench_http::ws::SYSTEM_TOPIC;

/// Relays `monitor`'s events to `hub`'s subscribers of `system` until the monitor is dropped.
pub fn relay(monitor: &SystemMonitor, hub: Hub) {
    let mut events = monitor.subscribe();
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                // The relay itself fell behind (the executor was starved): the next sample
                // carries the alerts that are firing, so nothing is lost for long.
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "system topic: events skipped");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            // Nobody watching: no frame to build.
            if !hub.has_subscribers(SYSTEM_TOPIC) {
                continue;
            }
            let frame = match &event {
                SystemEvent::Sample(sample) => event_frame("system.metrics", &**sample),
                SystemEvent::Alert(alert) => event_frame("system.alert", alert),
            };
            hub.deliver_topic(SYSTEM_TOPIC, &frame);
        }
    });
}
