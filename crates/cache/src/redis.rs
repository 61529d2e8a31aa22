//! The shared cache: Redis through a deadpool-redis pool.
//!
//! Values are JSON under namespaced keys (`{prefix}:task:{id}`, `{prefix}:stats:{scope}`,
//! `{prefix}:list:{scope}:{part}:{generation}:{query}`, prefix `wb` by default), written with `SET … PX` so that every instance sees the same entries and the
//! same invalidations. A scope's creation order is binary: its ids as 8-byte little-endian
//! integers under `{prefix}:order:{scope}`, so that any window of it is one `GETRANGE`, and what
//! it was read under as text under `{prefix}:order:{scope}:meta`. Every call is bounded by a short timeout; an error or a timeout is logged
//! and treated as a miss (reads) or skipped (writes, invalidations), so a Redis outage degrades to
//! the database instead of failing or stalling requests.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::{Config, PoolConfig, PoolError, Runtime, Timeouts};
use serde::Serialize;
use serde::de::DeserializeOwned;
use workbench_tasks::{
    CreationKey, CreationOrder, FORGOTTEN_FOR, ListLookup, ListPart, ListTicket, ListedPage, OrderLookup, OrderTicket,
    OrderWindow, Restatus, ShownLookup, ShownPage, Status, Task, TaskCache, TaskId, TaskScope, TaskStats,
};

use crate::CacheError;
use crate::error::redact;

pub use deadpool_redis::Pool as RedisPool;

/// How long one cache call (taking a connection and one command) may take before it counts as a
/// miss. Redis answers in well under a millisecond on a healthy network.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);

/// How long the pool may take to open a connection (TCP, and AUTH/SELECT when configured).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long [`ping`] waits, connecting included.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections in the pool. Each is multiplexed, but held by one call at a time.
const POOL_SIZE: usize = 16;

/// The key prefix [`RedisTaskCache::new`] uses.
pub const DEFAULT_PREFIX: &str = "wb";

/// A pool for `url` (`redis://[[user]:password@]host[:port][/db]`; `rediss://` would need a TLS
/// feature of `redis` that is not enabled) that fails fast: waiting for a free connection, opening one and checking a
/// pooled one are each bounded. Connects lazily; [`connect`] also checks that the server answers.
///
/// # Errors
///
/// [`CacheError::InvalidUrl`] when the URL cannot be used.
pub fn build_pool(url: &str) -> Result<RedisPool, CacheError> {
    let mut pool = PoolConfig::new(POOL_SIZE);
    pool.timeouts = Timeouts { wait: Some(CALL_TIMEOUT), create: Some(CONNECT_TIMEOUT), recycle: Some(CALL_TIMEOUT) };
    let config = Config { pool: Some(pool), ..Config::from_url(url) };
    config.create_pool(Some(Runtime::Tokio1)).map_err(|e| {
        let reason = match e {
            deadpool_redis::CreatePoolError::Config(deadpool_redis::ConfigError::Redis(e)) => e.to_string(),
            other => other.to_string(),
        };
        CacheError::InvalidUrl { url: redact(url), reason }
    })
}

/// A pool for `url` whose server has answered `PING`, so that a wrong URL, a wrong password or an
/// unreachable server is reported at start-up, with the driver's own reason.
///
/// # Errors
///
/// [`CacheError::InvalidUrl`], or the failure of [`ping`] naming the server (password masked).
pub async fn connect(url: &str) -> Result<RedisPool, CacheError> {
    let pool = build_pool(url)?;
    ping(&pool).await.map_err(|e| e.at_url(&redact(url)))?;
    Ok(pool)
}

/// Whether the server behind `pool` answers `PING` within [`PING_TIMEOUT`] (for `/ready`).
///
/// # Errors
///
/// [`CacheError::Timeout`] when connecting or answering took too long,
/// [`CacheError::Unreachable`] with the driver's reason otherwise (such as `Connection refused`
/// or an authentication failure), [`CacheError::UnexpectedAnswer`] for anything but `PONG`.
pub async fn ping(pool: &RedisPool) -> Result<(), CacheError> {
    match call::<String>(pool, &redis::cmd("PING"), PING_TIMEOUT).await {
        Ok(answer) if answer == "PONG" => Ok(()),
        Ok(answer) => Err(CacheError::UnexpectedAnswer { url: None, answer }),
        Err(e) if e.is_timeout() => Err(CacheError::Timeout { url: None, reason: e.to_string() }),
        Err(e) => Err(CacheError::Unreachable { url: None, reason: e.to_string() }),
    }
}

/// A [`TaskCache`] in Redis, shared by every instance using the same server and prefix.
///
/// Never fails: see the module documentation.
#[derive(Clone)]
pub struct RedisTaskCache {
    pool: RedisPool,
    task_ttl: Duration,
    stats_ttl: Duration,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisTaskCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTaskCache")
            .field("pool", &self.pool.status())
            .field("task_ttl", &self.task_ttl)
            .field("stats_ttl", &self.stats_ttl)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisTaskCache {
    /// A cache in `pool`'s server under the prefix `wb`; tasks live `task_ttl`, statistics
    /// `stats_ttl` (at least a millisecond), and each call may take [`CALL_TIMEOUT`].
    pub fn new(pool: RedisPool, task_ttl: Duration, stats_ttl: Duration) -> Self {
        Self { pool, task_ttl, stats_ttl, prefix: DEFAULT_PREFIX.to_owned(), timeout: CALL_TIMEOUT }
    }

    /// The same cache under another key prefix (tests use one each; deployments sharing a server
    /// can use one per environment).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The same cache with another bound on each call.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn task_key(&self, id: TaskId) -> String {
        format!("{}:task:{id}", self.prefix)
    }

    fn stats_key(&self, scope: TaskScope) -> String {
        format!("{}:stats:{}", self.prefix, scope.key())
    }

    /// The current generation of a part of the scope's lists.
    fn generation_key(&self, scope: TaskScope, part: ListPart) -> String {
        format!("{}:lists:{}:{}", self.prefix, scope.key(), part.key())
    }

    /// The counter every generation is drawn from.
    fn generations_key(&self) -> String {
        format!("{}:lists:next", self.prefix)
    }

    /// A page's key is this, the generation, `:` and the query.
    fn page_key_prefix(&self, scope: TaskScope, part: ListPart) -> String {
        format!("{}:list:{}:{}:", self.prefix, scope.key(), part.key())
    }

    /// A shown page's key is this, the generation, `:` and the query.
    fn shown_key_prefix(&self, scope: TaskScope) -> String {
        format!("{}:shown:{}:", self.prefix, scope.key())
    }

    /// A scope's creation order (ids) and what it was read under.
    fn order_keys(&self, scope: TaskScope) -> (String, String) {
        let ids = format!("{}:order:{}", self.prefix, scope.key());
        let meta = format!("{ids}:meta");
        (ids, meta)
    }

    /// Runs a prepared script on a pooled connection, within the call timeout.
    async fn invoke<T: redis::FromRedisValue>(&self, script: &redis::ScriptInvocation<'_>) -> Result<T, CallError> {
        let run = async {
            let mut conn = self.pool.get().await?;
            Ok::<_, CallError>(script.invoke_async::<T>(&mut conn).await?)
        };
        tokio::time::timeout(self.timeout, run).await.unwrap_or(Err(CallError::TimedOut(self.timeout)))
    }

    /// The value under `key`; `None` when absent, unreadable or Redis is unavailable.
    async fn read<V: DeserializeOwned>(&self, key: &str) -> Option<V> {
        let raw = match call::<Option<Vec<u8>>>(&self.pool, &redis::cmd("GET").arg(key).take(), self.timeout).await {
            Ok(raw) => raw?,
            Err(e) => {
                tracing::warn!(key, error = %e, "Redis cache read failed; treating it as a miss");
                return None;
            }
        };
        match serde_json::from_slice(&raw) {
            Ok(value) => Some(value),
            Err(e) => {
                // Left for the next write to replace, or its time to live to drop.
                tracing::warn!(key, error = %e, "Redis cache holds an unreadable value; treating it as a miss");
                None
            }
        }
    }

    async fn write<V: Serialize>(&self, key: &str, value: &V, ttl: Duration) {
        let json = match serde_json::to_vec(value) {
            Ok(json) => json,
            Err(e) => {
                tracing::warn!(key, error = %e, "cannot encode a value for the Redis cache; not caching it");
                return;
            }
        };
        let cmd = redis::cmd("SET").arg(key).arg(json).arg("PX").arg(millis(ttl)).take();
        if let Err(e) = call::<()>(&self.pool, &cmd, self.timeout).await {
            tracing::warn!(key, error = %e, "Redis cache write failed; skipped");
        }
    }
}

#[async_trait]
impl TaskCache for RedisTaskCache {
    async fn task(&self, id: TaskId) -> Option<Task> {
        self.read::<Option<Task>>(&self.task_key(id)).await.flatten()
    }

    async fn tasks(&self, ids: &[TaskId]) -> Vec<Option<Task>> {
        if ids.is_empty() {
            return Vec::new();
        }
        let keys: Vec<String> = ids.iter().map(|id| self.task_key(*id)).collect();
        let cmd = redis::cmd("MGET").arg(&keys).take();
        let values = match call::<Vec<Option<Vec<u8>>>>(&self.pool, &cmd, self.timeout).await {
            Ok(values) => values,
            Err(e) => {
                tracing::warn!(tasks = ids.len(), error = %e, "Redis cache read failed; treating it as a miss");
                return vec![None; ids.len()];
            }
        };
        // A forgotten task (`null`) or an unreadable value is a miss, as in `task`.
        values
            .into_iter()
            .map(|raw| raw.and_then(|raw| serde_json::from_slice::<Option<Task>>(&raw).ok().flatten()))
            .collect()
    }

    async fn put_task(&self, task: &Task) {
        let key = self.task_key(task.id);
        let json = match serde_json::to_vec(task) {
            Ok(json) => json,
            Err(e) => {
                tracing::warn!(key, error = %e, "cannot encode a task for the Redis cache; not caching it");
                return;
            }
        };
        let mut script = PUT_NEWER.prepare_invoke();
        script.key(&key).arg(task.version).arg(json).arg(millis(self.task_ttl));
        if let Err(e) = self.invoke::<i64>(&script).await {
            tracing::warn!(key, error = %e, "Redis cache write failed; skipped");
        }
    }

    async fn forget_task(&self, id: TaskId) {
        // JSON `null`: read as a miss, and refused as a base by `PUT_NEWER` until it expires.
        self.write(&self.task_key(id), &(), FORGOTTEN_FOR).await;
    }

    async fn stats(&self, scope: TaskScope) -> Option<TaskStats> {
        self.read(&self.stats_key(scope)).await
    }

    async fn put_stats(&self, scope: TaskScope, stats: &TaskStats) {
        self.write(&self.stats_key(scope), stats, self.stats_ttl).await;
    }

    async fn list_page(&self, scope: TaskScope, part: ListPart, query: &str) -> ListLookup {
        let mut script = LIST_PAGE.prepare_invoke();
        script
            .key(self.generation_key(scope, part))
            .key(self.generations_key())
            .arg(self.page_key_prefix(scope, part))
            .arg(format!(":{query}"))
            .arg(millis(self.task_ttl));
        let (generation, page) = match self.invoke::<(u64, Option<Vec<u8>>)>(&script).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(scope = scope.key(), error = %e, "Redis cache list lookup failed; reading the database");
                return ListLookup::Bypass;
            }
        };
        let ticket = ListTicket { scope, part, generation, query: query.to_owned() };
        match page.map(|raw| serde_json::from_slice::<ListedPage>(&raw)) {
            Some(Ok(page)) => ListLookup::Hit(page),
            Some(Err(e)) => {
                tracing::warn!(scope = scope.key(), error = %e, "Redis cache holds an unreadable page; treating it as a miss");
                ListLookup::Miss(ticket)
            }
            None => ListLookup::Miss(ticket),
        }
    }

    async fn put_list_page(&self, ticket: ListTicket, page: &ListedPage) {
        let key = format!("{}{}:{}", self.page_key_prefix(ticket.scope, ticket.part), ticket.generation, ticket.query);
        self.write(&key, page, self.stats_ttl).await;
    }

    async fn shown_page(&self, scope: TaskScope, query: &str) -> ShownLookup {
        // The same step as a page of ids: the generation (of the rest) and the page under it.
        let mut script = LIST_PAGE.prepare_invoke();
        script
            .key(self.generation_key(scope, ListPart::Rest))
            .key(self.generations_key())
            .arg(self.shown_key_prefix(scope))
            .arg(format!(":{query}"))
            .arg(millis(self.task_ttl));
        let (generation, page) = match self.invoke::<(u64, Option<Vec<u8>>)>(&script).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(scope = scope.key(), error = %e, "Redis cache page lookup failed; listing from the rest");
                return ShownLookup::Bypass;
            }
        };
        let ticket = ListTicket { scope, part: ListPart::Rest, generation, query: query.to_owned() };
        match page.map(|raw| serde_json::from_slice::<ShownPage>(&raw)) {
            Some(Ok(page)) => ShownLookup::Hit(page),
            Some(Err(e)) => {
                tracing::warn!(scope = scope.key(), error = %e, "Redis cache holds an unreadable page; treating it as a miss");
                ShownLookup::Miss(ticket)
            }
            None => ShownLookup::Miss(ticket),
        }
    }

    async fn put_shown_page(&self, ticket: ListTicket, page: &ShownPage) {
        let key = format!("{}{}:{}", self.shown_key_prefix(ticket.scope), ticket.generation, ticket.query);
        self.write(&key, page, self.stats_ttl).await;
    }

    async fn creation_window(&self, scope: TaskScope, window: OrderWindow, seen: Option<u64>) -> OrderLookup {
        let (ids, meta) = self.order_keys(scope);
        let mut script = ORDER_WINDOW.prepare_invoke();
        script
            .key(self.generation_key(scope, ListPart::Members))
            .key(self.generation_key(scope, ListPart::Appended))
            .key(self.generations_key())
            .key(ids)
            .key(meta)
            .arg(window.offset)
            .arg(window.limit)
            .arg(u8::from(window.newest_first))
            .arg(millis(self.task_ttl))
            .arg(seen.unwrap_or(0));
        let (found, members, appended, len, data) = match self.invoke::<(u8, u64, u64, u64, Vec<u8>)>(&script).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(scope = scope.key(), error = %e, "Redis cache order lookup failed; reading the database");
                return OrderLookup::Bypass;
            }
        };
        let ticket = OrderTicket { scope, members, appended, extends: None, overlaps: false, since: 0 };
        match found {
            ORDER_CURRENT => {
                let mut ids: Vec<TaskId> = data
                    .chunks_exact(8)
                    .map(|id| TaskId(i64::from_le_bytes(id.try_into().unwrap_or_default())))
                    .collect();
                if window.newest_first {
                    ids.reverse();
                }
                OrderLookup::Hit { ids, total: len }
            }
            ORDER_BEHIND => match decode_key(&data) {
                Ok(last) => OrderLookup::Behind(OrderTicket { extends: Some((len, last)), ..ticket }),
                Err(()) => {
                    tracing::warn!(scope = scope.key(), "Redis cache holds an unreadable order; reading it again");
                    OrderLookup::Miss(ticket)
                }
            },
            ORDER_MISSING => OrderLookup::Miss(ticket),
            other => {
                tracing::warn!(
                    scope = scope.key(),
                    answer = other,
                    "Redis cache order lookup answered oddly; reading it again"
                );
                OrderLookup::Miss(ticket)
            }
        }
    }

    /// Statuses are not kept in the shared orders: a status's pages are read from the database
    /// (and filed as pages under the status's generation).
    async fn status_window(&self, _: TaskScope, _: Status, _: OrderWindow, _: Option<u64>) -> OrderLookup {
        OrderLookup::Bypass
    }

    /// Nothing to apply: see [`Self::status_window`]; the status's generation moves on with the
    /// change ([`TaskCache::forget_parts`]).
    async fn restatus(&self, _: Vec<TaskScope>, _: Vec<Restatus>) {}

    async fn put_creation_order(&self, ticket: OrderTicket, order: &CreationOrder) {
        let (ids, meta) = self.order_keys(ticket.scope);
        let data: Vec<u8> = order.ids.iter().flat_map(|id| id.0.to_le_bytes()).collect();
        let mut script = PUT_ORDER.prepare_invoke();
        script
            .key(ids)
            .key(meta)
            .arg(ticket.members)
            .arg(ticket.appended)
            .arg(ticket.extends.map_or(-1, |(len, _)| i64::try_from(len).unwrap_or(i64::MAX)))
            .arg(data)
            .arg(order.last.map(encode_key).unwrap_or_default())
            .arg(millis(self.stats_ttl))
            .arg(u8::from(ticket.overlaps))
            .arg(order.total);
        if let Err(e) = self.invoke::<i64>(&script).await {
            tracing::warn!(scope = ticket.scope.key(), error = %e, "Redis cache order write failed; skipped");
        }
    }

    async fn forget_scopes(&self, scopes: Vec<TaskScope>) {
        self.forget_parts(scopes, ListPart::ALL.to_vec()).await;
    }

    async fn forget_parts(&self, scopes: Vec<TaskScope>, parts: Vec<ListPart>) {
        if scopes.is_empty() {
            return;
        }
        let mut script = FORGET_SCOPES.prepare_invoke();
        script.key(self.generations_key());
        for scope in &scopes {
            for part in &parts {
                script.key(self.generation_key(*scope, *part));
            }
        }
        for scope in &scopes {
            script.key(self.stats_key(*scope));
        }
        script.arg(scopes.len() * parts.len()).arg(millis(self.task_ttl));
        if let Err(e) = self.invoke::<i64>(&script).await {
            tracing::warn!(scopes = ?scopes, error = %e, "Redis cache invalidation failed; the entries live out their time to live");
        }
    }
}

/// A time to live for `PX`: kept to the millisecond (`EX` could round it to zero), at least one.
pub(crate) fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Stores a task (KEYS[1] ← ARGV[2], version ARGV[1], time to live ARGV[3] ms) unless the key
/// holds a newer version or a forgotten task (`null`), in one atomic step on the server.
static PUT_NEWER: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local cached = redis.call('GET', KEYS[1])
        if cached then
            if cached == 'null' then return 0 end
            local ok, task = pcall(cjson.decode, cached)
            if ok and type(task) == 'table' and type(task.version) == 'number'
                and task.version > tonumber(ARGV[1]) then
                return 0
            end
        end
        redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
        return 1
        ",
    )
});

/// The scope's list generation (KEYS[1]; drawn from the counter KEYS[2] when absent, kept
/// ARGV[3] ms) and the page under it (key ARGV[1] .. generation .. ARGV[2]), in one round trip.
/// Drawing from one counter means a scope whose generation expired gets a new one, never an old.
static LIST_PAGE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local generation = redis.call('GET', KEYS[1])
        if not generation then
            generation = tostring(redis.call('INCR', KEYS[2]))
            redis.call('SET', KEYS[1], generation, 'PX', ARGV[3])
        end
        return {generation, redis.call('GET', ARGV[1] .. generation .. ARGV[2])}
        ",
    )
});

/// [`ORDER_WINDOW`]'s first answer: the order is not cached, or was reordered since.
const ORDER_MISSING: u8 = 0;
/// The order lacks tasks created since (the last answer is its last key).
const ORDER_BEHIND: u8 = 1;
/// The order is current (the last answer is the window's ids).
const ORDER_CURRENT: u8 = 2;

/// A creation key as text: microseconds since the epoch and the id (`""` for none).
fn encode_key(key: CreationKey) -> String {
    format!("{}:{}", key.created_at.timestamp_micros(), key.id.0)
}

fn decode_key(raw: &[u8]) -> Result<Option<CreationKey>, ()> {
    if raw.is_empty() {
        return Ok(None);
    }
    let text = std::str::from_utf8(raw).map_err(|_| ())?;
    let (micros, id) = text.split_once(':').ok_or(())?;
    let created_at = chrono::DateTime::from_timestamp_micros(micros.parse().map_err(|_| ())?).ok_or(())?;
    Ok(Some(CreationKey { created_at, id: TaskId(id.parse().map_err(|_| ())?) }))
}

/// A window of a scope's creation order, in one round trip. KEYS: the `Members` and `Appended`
/// generations (drawn from the counter KEYS[3] when absent, kept ARGV[4] ms), the order's ids
/// (KEYS[4]) and its meta (KEYS[5]: `members appended length last-key`). ARGV[1..3]: the window's
/// offset, limit and whether newest first; ARGV[5]: the `Appended` generation the caller has seen
/// (an order read under it or later serves too; 0: none). Answers `{state, members, appended, length, data}`:
/// state [`ORDER_MISSING`], [`ORDER_BEHIND`] (data: the last key) or [`ORDER_CURRENT`] (data: the
/// window's ids, oldest first). An order whose ids and meta disagree (one evicted) is missing.
static ORDER_WINDOW: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local function generation(key)
            local g = redis.call('GET', key)
            if not g then
                g = tostring(redis.call('INCR', KEYS[3]))
                redis.call('SET', key, g, 'PX', ARGV[4])
            end
            return g
        end
        local members, appended = generation(KEYS[1]), generation(KEYS[2])
        local meta = redis.call('GET', KEYS[5])
        if not meta then return {0, tonumber(members), tonumber(appended), 0, ''} end
        local m, a, len, last = string.match(meta, '^(%d+) (%d+) (%d+) ?(.*)$')
        len = tonumber(len)
        if m ~= members or not len or redis.call('STRLEN', KEYS[4]) ~= len * 8 then
            return {0, tonumber(members), tonumber(appended), 0, ''}
        end
        local seen = tonumber(ARGV[5])
        if a ~= appended and not (seen > 0 and tonumber(a) >= seen) then
            return {1, tonumber(members), tonumber(appended), len, last}
        end
        local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
        local first, past
        if ARGV[3] == '1' then
            past = math.max(len - offset, 0)
            first = math.max(past - limit, 0)
        else
            first = math.min(offset, len)
            past = math.min(first + limit, len)
        end
        local data = ''
        if past > first then data = redis.call('GETRANGE', KEYS[4], first * 8, past * 8 - 1) end
        return {2, tonumber(members), tonumber(appended), len, data}
        ",
    )
});

/// Stores a creation order (ids KEYS[1], meta KEYS[2], both kept ARGV[6] ms) read under the
/// generations ARGV[1] (`Members`) and ARGV[2] (`Appended`): whole (ARGV[3] = -1) unless an order
/// read under a later `Members` generation is there, or appended (ARGV[3] = the length it
/// extends) only to the order of that length and `Members` generation. ARGV[4]: the ids, ARGV[5]:
/// the last one's key (`''` to keep the one stored). With ARGV[7] = 1 the ids overlap the order's
/// end (see `OrderTicket::overlaps`): they are written over it from the first id of theirs it
/// holds, only when that makes the total ARGV[8]. They are never fewer than the ids they cover, so
/// the order never shrinks and `SETRANGE` needs no truncation.
static PUT_ORDER: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local meta = redis.call('GET', KEYS[2])
        local added = #ARGV[4] / 8
        if ARGV[3] == '-1' then
            if meta then
                local m = tonumber(string.match(meta, '^(%d+)'))
                if m and m > tonumber(ARGV[1]) then return 0 end
            end
            redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[6])
            redis.call('SET', KEYS[2], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. added .. ' ' .. ARGV[5], 'PX', ARGV[6])
            return 1
        end
        if not meta then return 0 end
        local m, _, len, last = string.match(meta, '^(%d+) (%d+) (%d+) ?(.*)$')
        if m ~= ARGV[1] or len ~= ARGV[3] or redis.call('STRLEN', KEYS[1]) ~= tonumber(len) * 8 then
            return 0
        end
        if ARGV[5] ~= '' then last = ARGV[5] end
        local kept = tonumber(len)
        if ARGV[7] == '1' then
            local fresh = {}
            for i = 1, #ARGV[4], 8 do fresh[string.sub(ARGV[4], i, i + 7)] = true end
            local looked = math.min(kept, added)
            if looked > 0 then
                local tail = redis.call('GETRANGE', KEYS[1], (kept - looked) * 8, kept * 8 - 1)
                for i = looked, 1, -1 do
                    if not fresh[string.sub(tail, i * 8 - 7, i * 8)] then break end
                    kept = kept - 1
                end
            end
            if kept + added ~= tonumber(ARGV[8]) then return 0 end
        end
        redis.call('SETRANGE', KEYS[1], kept * 8, ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[6])
        redis.call('SET', KEYS[2], m .. ' ' .. ARGV[2] .. ' ' .. (kept + added) .. ' ' .. last, 'PX', ARGV[6])
        return 1
        ",
    )
});

/// Moves ARGV[1] list generations (KEYS[2..]) to new values drawn from the counter
/// KEYS[1] (kept ARGV[2] ms), and deletes the statistics keys after them, atomically.
static FORGET_SCOPES: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local n = tonumber(ARGV[1])
        for i = 2, n + 1 do
            redis.call('SET', KEYS[i], redis.call('INCR', KEYS[1]), 'PX', ARGV[2])
        end
        if #KEYS > n + 1 then
            redis.call('DEL', unpack(KEYS, n + 2))
        end
        return n
        ",
    )
});

/// Why one call failed.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    #[error("{}", pool_reason(.0))]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

impl CallError {
    /// Whether a timeout (ours, the pool's or the driver's) rather than a refusal.
    fn is_timeout(&self) -> bool {
        match self {
            CallError::TimedOut(_) | CallError::Pool(PoolError::Timeout(_)) => true,
            CallError::Pool(PoolError::Backend(e)) | CallError::Redis(e) => e.is_timeout(),
            CallError::Pool(_) => false,
        }
    }
}

/// The pool's error without its generic wrapping, so that the driver's reason comes first.
fn pool_reason(e: &PoolError) -> String {
    match e {
        PoolError::Backend(e) => e.to_string(),
        PoolError::Timeout(deadpool_redis::TimeoutType::Create) => format!("no connection within {CONNECT_TIMEOUT:?}"),
        other => other.to_string(),
    }
}

/// Takes a connection and runs `cmd`, all within `timeout`.
async fn call<T: redis::FromRedisValue>(pool: &RedisPool, cmd: &redis::Cmd, timeout: Duration) -> Result<T, CallError> {
    let run = async {
        let mut conn = pool.get().await?;
        Ok(cmd.query_async::<T>(&mut conn).await?)
    };
    tokio::time::timeout(timeout, run).await.unwrap_or(Err(CallError::TimedOut(timeout)))
}
