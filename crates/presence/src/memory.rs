//! Presence on one instance: a count of instances per user, which never expires (an instance
//! that dies takes this map with it).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use workbench_chat::Presence;
use workbench_core::RepositoryError;
use workbench_users::UserId;

#[derive(Debug, Default)]
pub struct MemoryPresence {
    instances: Mutex<HashMap<UserId, HashSet<String>>>,
}

impl MemoryPresence {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<UserId, HashSet<String>>) -> T) -> T {
        // Every change below is a single map operation: a poisoned lock still guards a whole map.
        f(&mut self.instances.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn connected(&self, user: UserId, instance: &str) -> Result<bool, RepositoryError> {
        Ok(self.with(|map| {
            let instances = map.entry(user).or_default();
            instances.insert(instance.to_owned()) && instances.len() == 1
        }))
    }

    async fn disconnected(&self, user: UserId, instance: &str) -> Result<bool, RepositoryError> {
        Ok(self.with(|map| {
            let Some(instances) = map.get_mut(&user) else { return false };
            let removed = instances.remove(instance);
            let gone = instances.is_empty();
            if gone {
                map.remove(&user);
            }
            removed && gone
        }))
    }

    async fn heartbeat(&self, instance: &str, users: &[UserId]) -> Result<(), RepositoryError> {
        self.with(|map| {
            for user in users {
                map.entry(*user).or_default().insert(instance.to_owned());
            }
        });
        Ok(())
    }

    async fn sweep(&self) -> Result<Vec<UserId>, RepositoryError> {
        Ok(Vec::new())
    }

    async fn online(&self, users: &[UserId]) -> Result<Vec<UserId>, RepositoryError> {
        Ok(self.with(|map| users.iter().copied().filter(|u| map.contains_key(u)).collect()))
    }
}
