//! Presence shared by every instance, in Redis.
//!
//! Per user, a hash `<prefix>:presence:user:<id>` maps each instance that has a connection of
//! theirs to when that entry expires (milliseconds, Redis's own clock, so that instances' clocks
//! do not matter). A sorted set `<prefix>:presence:expiry` orders every `<user>|<instance>` entry
//! by that time, so that a sweep finds what expired without scanning. Instances renew their
//! entries by heartbeat; an instance that dies stops, and the next sweep (on any instance) takes
//! its users offline. Every step is one Lua script, so concurrent instances never both report
//! the same change.
//!
//! The scripts build the per-user key names themselves: fine on one Redis server or a replicated
//! pair, not on Redis Cluster (where every key would need to be passed in).

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::Pool;
use redis::Script;
use workbench_chat::Presence;
use workbench_core::RepositoryError;
use workbench_users::UserId;

/// Reads Redis's clock in milliseconds into `now`.
const NOW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

/// Removes `user`'s expired entries (KEYS[1] the expiry set, `key` the user's hash); counts the
/// live ones of instances other than `instance` into `others` and whether `instance`'s is live.
const PURGE: &str = r"
local function purge(key, user, instance, now)
  local fields = redis.call('HGETALL', key)
  local others, mine = 0, false
  for i = 1, #fields, 2 do
    if tonumber(fields[i + 1]) > now then
      if fields[i] == instance then mine = true else others = others + 1 end
    else
      redis.call('HDEL', key, fields[i])
      redis.call('ZREM', KEYS[1], user .. '|' .. fields[i])
    end
  end
  return others, mine
end
";

/// KEYS: expiry set, user hash. ARGV: user, instance, ttl ms. 1 when the user came online.
const CONNECTED: &str = r"
local others, mine = purge(KEYS[2], ARGV[1], ARGV[2], now)
local expiry = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], expiry)
redis.call('PEXPIRE', KEYS[2], 2 * tonumber(ARGV[3]))
redis.call('ZADD', KEYS[1], expiry, ARGV[1] .. '|' .. ARGV[2])
if others == 0 and not mine then return 1 end
return 0
";

/// KEYS: expiry set, user hash. ARGV: user, instance. 1 when the user went offline.
const DISCONNECTED: &str = r"
local others, mine = purge(KEYS[2], ARGV[1], ARGV[2], now)
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1] .. '|' .. ARGV[2])
if mine and others == 0 then return 1 end
return 0
";

/// KEYS: expiry set, then one hash per user. ARGV: instance, ttl ms, then the user ids.
const HEARTBEAT: &str = r"
local expiry = now + tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('HSET', KEYS[i], ARGV[1], expiry)
  redis.call('PEXPIRE', KEYS[i], 2 * tonumber(ARGV[2]))
  redis.call('ZADD', KEYS[1], expiry, ARGV[i + 1] .. '|' .. ARGV[1])
end
return 0
";

/// KEYS: expiry set. ARGV: the prefix of the user hashes, the most entries to look at. How many
/// entries it looked at, then the users who went offline.
const SWEEP: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local gone, seen = {#due}, {}
for _, member in ipairs(due) do
  local sep = string.find(member, '|', 1, true)
  local user = string.sub(member, 1, sep - 1)
  redis.call('ZREM', KEYS[1], member)
  if not seen[user] then
    seen[user] = true
    local others, mine = purge(ARGV[1] .. user, user, string.sub(member, sep + 1), now)
    if others == 0 and not mine then table.insert(gone, user) end
  end
end
return gone
";

/// KEYS: one hash per user. 1 or 0 for each: whether it has a live entry.
const ONLINE: &str = r"
local answer = {}
for i = 1, #KEYS do
  local live = 0
  local values = redis.call('HVALS', KEYS[i])
  for _, expiry in ipairs(values) do
    if tonumber(expiry) > now then live = 1 end
  end
  answer[i] = live
end
return answer
";

/// Entries looked at per sweep, and users per heartbeat script: bounds the time a script holds
/// Redis (scripts run alone).
const BATCH: usize = 500;

/// Presence in Redis. See the module's documentation for the layout.
#[derive(Clone)]
pub struct RedisPresence {
    pool: Pool,
    prefix: String,
    ttl: Duration,
    connected: Script,
    disconnected: Script,
    heartbeat: Script,
    sweep: Script,
    online: Script,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence").field("prefix", &self.prefix).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Unavailable(anyhow::anyhow!("presence in Redis: {e}"))
}

impl RedisPresence {
    /// Entries under `<prefix>:presence:`, each living `ttl` unless renewed: heartbeats must come
    /// well within it, and a dead instance's users go offline between `ttl` and `ttl` plus the
    /// sweep interval after its last heartbeat.
    pub fn new(pool: Pool, prefix: impl Into<String>, ttl: Duration) -> Self {
        let with_purge = |body: &str| Script::new(&format!("{NOW}{PURGE}{body}"));
        Self {
            pool,
            prefix: prefix.into(),
            ttl,
            connected: with_purge(CONNECTED),
            disconnected: with_purge(DISCONNECTED),
            heartbeat: Script::new(&format!("{NOW}{HEARTBEAT}")),
            sweep: with_purge(SWEEP),
            online: Script::new(&format!("{NOW}{ONLINE}")),
        }
    }

    fn expiry_key(&self) -> String {
        format!("{}:presence:expiry", self.prefix)
    }

    fn user_prefix(&self) -> String {
        format!("{}:presence:user:", self.prefix)
    }

    fn user_key(&self, user: UserId) -> String {
        format!("{}{}", self.user_prefix(), user.0)
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    async fn connection(&self) -> Result<deadpool_redis::Connection, RepositoryError> {
        self.pool.get().await.map_err(unavailable)
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn connected(&self, user: UserId, instance: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.connection().await?;
        let came: i64 = self
            .connected
            .key(self.expiry_key())
            .key(self.user_key(user))
            .arg(user.0)
            .arg(instance)
            .arg(self.ttl_ms())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(came == 1)
    }

    async fn disconnected(&self, user: UserId, instance: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.connection().await?;
        let gone: i64 = self
            .disconnected
            .key(self.expiry_key())
            .key(self.user_key(user))
            .arg(user.0)
            .arg(instance)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(gone == 1)
    }

    async fn heartbeat(&self, instance: &str, users: &[UserId]) -> Result<(), RepositoryError> {
        let mut conn = self.connection().await?;
        for batch in users.chunks(BATCH) {
            let mut invocation = self.heartbeat.key(self.expiry_key());
            invocation.arg(instance).arg(self.ttl_ms());
            for user in batch {
                invocation.key(self.user_key(*user)).arg(user.0);
            }
            invocation.invoke_async::<i64>(&mut conn).await.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn sweep(&self) -> Result<Vec<UserId>, RepositoryError> {
        let mut conn = self.connection().await?;
        let mut gone = Vec::new();
        loop {
            let answer: Vec<i64> = self
                .sweep
                .key(self.expiry_key())
                .arg(self.user_prefix())
                .arg(BATCH)
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            let Some((&looked, users)) = answer.split_first() else { break };
            gone.extend(users.iter().copied().map(UserId));
            // A full page may have left more expired entries behind.
            if looked < i64::try_from(BATCH).unwrap_or(i64::MAX) {
                break;
            }
        }
        Ok(gone)
    }

    async fn online(&self, users: &[UserId]) -> Result<Vec<UserId>, RepositoryError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.connection().await?;
        let mut online = Vec::new();
        for batch in users.chunks(BATCH) {
            let mut invocation = self.online.prepare_invoke();
            for user in batch {
                invocation.key(self.user_key(*user));
            }
            let flags: Vec<i64> = invocation.invoke_async(&mut conn).await.map_err(unavailable)?;
            online.extend(batch.iter().zip(flags).filter(|(_, live)| *live == 1).map(|(user, _)| *user));
        }
        Ok(online)
    }
}
