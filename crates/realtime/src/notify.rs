//! The hub as the notifications domain's way to a user's sockets.

use async_trait::async_trait;
use workbench_notifications::NotificationPush;
use workbench_users::UserId;

use crate::{Hub, Target, event_frame};

#[async_trait]
impl NotificationPush for Hub {
    /// Reaches every socket of `to` on every instance, through the bus.
    async fn send(&self, to: UserId, event: &'static str, data: serde_json::Value) {
        self.publish(&Target::Users(vec![to]), &event_frame(event, &data)).await;
    }

    /// Reaches each user's sockets with their own event: one bus message for many users.
    async fn send_each(&self, event: &'static str, each: Vec<(UserId, serde_json::Value)>) {
        let frames: Vec<(UserId, String)> =
            each.into_iter().map(|(user, data)| (user, event_frame(event, &data).to_string())).collect();
        self.publish_each(&frames).await;
    }
}
