//! The follows cache: who follows a task or a project, in process on every instance, since every
//! status change and comment asks it and follows rarely change; kept honest across instances
//! through the broadcast port (see [`crate::invalidated`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use workbench_core::broadcast::Broadcast;
use workbench_notifications::{FOLLOWS_CHANGED, Follow, FollowsCache, Subject, SubjectType};
use workbench_users::CacheEpoch;

use crate::invalidated::{BusKey, Invalidated};

impl BusKey for Subject {
    fn encode(&self) -> Vec<u8> {
        format!("{}:{}", self.kind.as_str(), self.id).into_bytes()
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        let (kind, id) = std::str::from_utf8(payload).ok()?.split_once(':')?;
        Some(Subject { kind: SubjectType::parse(kind)?, id: id.parse().ok()? })
    }
}

/// A [`FollowsCache`] in this process, invalidated on every instance through the bus.
#[derive(Debug)]
pub struct SharedFollowsCache {
    cache: Arc<Invalidated<Subject, Arc<[Follow]>>>,
}

impl SharedFollowsCache {
    /// A cache of the follows of at most `max_entries` subjects, each kept at most `ttl`,
    /// following `bus` from now on. Must be called within a Tokio runtime.
    pub fn start(bus: Arc<dyn Broadcast>, max_entries: u64, ttl: Duration) -> Arc<Self> {
        Arc::new(Self { cache: Invalidated::start(bus, FOLLOWS_CHANGED, max_entries, ttl) })
    }
}

#[async_trait]
impl FollowsCache for SharedFollowsCache {
    fn get(&self, subject: Subject) -> Option<Arc<[Follow]>> {
        self.cache.get(&subject)
    }

    fn epoch(&self) -> CacheEpoch {
        self.cache.epoch()
    }

    fn put(&self, subject: Subject, follows: Arc<[Follow]>, read_since: CacheEpoch) {
        self.cache.put(subject, follows, read_since);
    }

    async fn invalidate(&self, subject: Subject) {
        self.cache.invalidate(subject).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invalidated::{TestBus, settle};
    use workbench_core::broadcast::{BusMessage, Delivery, fan_out};
    use workbench_users::UserId;

    fn follows(user: i64, subject: Subject) -> Arc<[Follow]> {
        Arc::from([Follow { user_id: UserId(user), subject, following: true }])
    }

    #[tokio::test]
    async fn another_instances_follow_forgets_the_subject_there() {
        let sender = fan_out();
        let cache = SharedFollowsCache::start(Arc::new(TestBus(sender.clone())), 100, Duration::from_secs(60));
        let (task, project) = (Subject::task(5), Subject::project(5));
        cache.put(task, follows(1, task), cache.epoch());
        cache.put(project, Arc::from([]), cache.epoch());
        let message = BusMessage { topic: FOLLOWS_CHANGED.into(), payload: b"task:5".to_vec() };
        let _ = sender.send(Delivery::Message(Arc::new(message)));
        settle().await;
        assert!(cache.get(task).is_none(), "the task's follows are read again");
        assert_eq!(cache.get(project).as_deref(), Some(&[][..]), "the project of the same id is another subject");
    }

    #[tokio::test]
    async fn follows_read_before_a_change_are_not_kept_after_it() {
        let cache = SharedFollowsCache::start(Arc::new(TestBus(fan_out())), 100, Duration::from_secs(60));
        let task = Subject::task(9);
        let read_since = cache.epoch();
        cache.invalidate(task).await;
        cache.put(task, Arc::from([]), read_since);
        assert!(cache.get(task).is_none());
    }

    #[test]
    fn subjects_travel_as_kind_and_id() {
        assert_eq!(Subject::project(42).encode(), b"project:42");
        assert_eq!(Subject::decode(b"project:42"), Some(Subject::project(42)));
        assert_eq!(Subject::decode(b"planet:1"), None);
        assert_eq!(Subject::decode(b"task:x"), None);
    }
}
