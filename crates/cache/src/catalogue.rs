//! The catalogue cache: the category list, products by id and quick-search answers, in process
//! ([`MemoryCatalogueCache`]) or in Redis ([`RedisCatalogueCache`], shared by every instance).
//!
//! Both keep an epoch that every invalidation moves on, and store a value only when the epoch it
//! was read under is still the current one (the port's rule), so a value read just before an
//! admin's write is never cached after it.
//!
//! In Redis the epoch is one counter (`{prefix}:catalogue:epoch`) and every entry's key names the
//! epoch it belongs to (`{prefix}:catalogue:{epoch}:product:{id}`): an invalidation is one
//! `INCR`, after which no instance reads an older entry (they expire on their own), and a put
//! compares and stores in one script, so it cannot land after an invalidation it did not see.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use workbench_products::{CatalogueCache, CatalogueEpoch, Category, Product, ProductId, ProductSearch};

use crate::RedisPool;
use crate::redis::{CALL_TIMEOUT, DEFAULT_PREFIX, millis};

/// The epoch a [`RedisCatalogueCache`] reports when it cannot read the shared one: no put made
/// under it is ever stored, since no invalidation it may have missed can be ruled out.
const UNKNOWN_EPOCH: CatalogueEpoch = CatalogueEpoch(u64::MAX);

/// Quick searches whose text is longer than this are not cached: their keys would be large and
/// they are rarely repeated.
const MAX_SEARCH_KEY_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Categories,
    Product(ProductId),
    Search(String),
}

#[derive(Debug, Clone)]
enum Entry {
    Categories(Vec<Category>),
    Product(Box<Product>),
    Search(Vec<Product>),
}

/// A [`CatalogueCache`] in this process's memory: at most `max_entries` entries, each kept at
/// most `ttl`. Correct for one instance only: another instance's writes cannot invalidate it, so
/// several instances need [`RedisCatalogueCache`].
#[derive(Debug)]
pub struct MemoryCatalogueCache {
    entries: moka::future::Cache<Key, Entry>,
    epoch: AtomicU64,
}

impl MemoryCatalogueCache {
    pub fn new(max_entries: u64, ttl: Duration) -> Self {
        Self {
            entries: moka::future::Cache::builder().max_capacity(max_entries).time_to_live(ttl).build(),
            epoch: AtomicU64::new(0),
        }
    }

    fn current(&self) -> CatalogueEpoch {
        CatalogueEpoch(self.epoch.load(Ordering::SeqCst))
    }

    async fn get(&self, key: Key) -> Option<Entry> {
        self.entries.get(&key).await
    }

    async fn put(&self, key: Key, entry: Entry, read_since: CatalogueEpoch) {
        if self.current() != read_since {
            return;
        }
        self.entries.insert(key.clone(), entry).await;
        // An invalidation between the check and the insert moved the epoch: undo the insert.
        if self.current() != read_since {
            self.entries.invalidate(&key).await;
        }
    }
}

#[async_trait]
impl CatalogueCache for MemoryCatalogueCache {
    async fn epoch(&self) -> CatalogueEpoch {
        self.current()
    }

    async fn categories(&self) -> Option<Vec<Category>> {
        match self.get(Key::Categories).await {
            Some(Entry::Categories(categories)) => Some(categories),
            _ => None,
        }
    }

    async fn put_categories(&self, categories: &[Category], read_since: CatalogueEpoch) {
        self.put(Key::Categories, Entry::Categories(categories.to_vec()), read_since).await;
    }

    async fn product(&self, id: ProductId) -> Option<Product> {
        match self.get(Key::Product(id)).await {
            Some(Entry::Product(product)) => Some(*product),
            _ => None,
        }
    }

    async fn put_product(&self, product: &Product, read_since: CatalogueEpoch) {
        self.put(Key::Product(product.id), Entry::Product(Box::new(product.clone())), read_since).await;
    }

    async fn search(&self, search: &ProductSearch) -> Option<Vec<Product>> {
        match self.get(Key::Search(search.key())).await {
            Some(Entry::Search(products)) => Some(products),
            _ => None,
        }
    }

    async fn put_search(&self, search: &ProductSearch, products: &[Product], read_since: CatalogueEpoch) {
        self.put(Key::Search(search.key()), Entry::Search(products.to_vec()), read_since).await;
    }

    async fn invalidate(&self) {
        // The epoch moves first: a put that read before this point must not store after it.
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }
}

/// A [`CatalogueCache`] in Redis, shared by every instance using the same server and prefix.
///
/// Never fails: an error or a timeout is logged and read as a miss; a put is skipped; an
/// invalidation that cannot reach Redis leaves the entries to their time to live (and is logged).
#[derive(Clone)]
pub struct RedisCatalogueCache {
    pool: RedisPool,
    ttl: Duration,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisCatalogueCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCatalogueCache")
            .field("pool", &self.pool.status())
            .field("ttl", &self.ttl)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisCatalogueCache {
    /// A cache in `pool`'s server under the prefix `wb`; entries live `ttl` at most.
    pub fn new(pool: RedisPool, ttl: Duration) -> Self {
        Self { pool, ttl, prefix: DEFAULT_PREFIX.to_owned(), timeout: CALL_TIMEOUT }
    }

    /// The same cache under another key prefix.
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

    fn epoch_key(&self) -> String {
        format!("{}:catalogue:epoch", self.prefix)
    }

    /// The part of an entry's key before its epoch, and the part after it.
    fn entry_key(&self, what: &str) -> (String, String) {
        (format!("{}:catalogue:", self.prefix), format!(":{what}"))
    }

    async fn invoke<T: redis::FromRedisValue>(&self, invocation: &redis::ScriptInvocation<'_>) -> Result<T, String> {
        let run = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            invocation.invoke_async::<T>(&mut conn).await.map_err(|e| e.to_string())
        };
        tokio::time::timeout(self.timeout, run)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {:?}", self.timeout)))
    }

    async fn read<V: DeserializeOwned>(&self, what: &str) -> Option<V> {
        let (head, tail) = self.entry_key(what);
        let mut script = READ.prepare_invoke();
        script.key(self.epoch_key()).arg(&head).arg(&tail);
        let raw = match self.invoke::<Option<Vec<u8>>>(&script).await {
            Ok(raw) => raw?,
            Err(error) => {
                tracing::warn!(what, %error, "Redis catalogue cache read failed; treating it as a miss");
                return None;
            }
        };
        match serde_json::from_slice(&raw) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::warn!(what, %error, "Redis catalogue cache holds an unreadable value; treating it as a miss");
                None
            }
        }
    }

    async fn write<V: Serialize + ?Sized>(&self, what: &str, value: &V, read_since: CatalogueEpoch) {
        if read_since == UNKNOWN_EPOCH {
            return;
        }
        let json = match serde_json::to_vec(value) {
            Ok(json) => json,
            Err(error) => {
                tracing::warn!(what, %error, "cannot encode a value for the Redis catalogue cache; not caching it");
                return;
            }
        };
        let (head, tail) = self.entry_key(what);
        let mut script = PUT_IF_CURRENT.prepare_invoke();
        script.key(self.epoch_key()).arg(read_since.0).arg(&head).arg(&tail).arg(json).arg(millis(self.ttl));
        if let Err(error) = self.invoke::<i64>(&script).await {
            tracing::warn!(what, %error, "Redis catalogue cache write failed; skipped");
        }
    }
}

#[async_trait]
impl CatalogueCache for RedisCatalogueCache {
    async fn epoch(&self) -> CatalogueEpoch {
        let run = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            redis::cmd("GET")
                .arg(self.epoch_key())
                .query_async::<Option<u64>>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(Ok(epoch)) => CatalogueEpoch(epoch.unwrap_or(0)),
            Ok(Err(error)) => {
                tracing::warn!(%error, "Redis catalogue epoch unreadable; not caching what is read now");
                UNKNOWN_EPOCH
            }
            Err(_) => {
                tracing::warn!("Redis catalogue epoch timed out; not caching what is read now");
                UNKNOWN_EPOCH
            }
        }
    }

    async fn categories(&self) -> Option<Vec<Category>> {
        self.read("categories").await
    }

    async fn put_categories(&self, categories: &[Category], read_since: CatalogueEpoch) {
        self.write("categories", categories, read_since).await;
    }

    async fn product(&self, id: ProductId) -> Option<Product> {
        self.read(&format!("product:{id}")).await
    }

    async fn put_product(&self, product: &Product, read_since: CatalogueEpoch) {
        self.write(&format!("product:{}", product.id), product, read_since).await;
    }

    async fn search(&self, search: &ProductSearch) -> Option<Vec<Product>> {
        let key = search.key();
        if key.len() > MAX_SEARCH_KEY_BYTES {
            return None;
        }
        self.read(&format!("search:{key}")).await
    }

    async fn put_search(&self, search: &ProductSearch, products: &[Product], read_since: CatalogueEpoch) {
        let key = search.key();
        if key.len() > MAX_SEARCH_KEY_BYTES {
            return;
        }
        self.write(&format!("search:{key}"), products, read_since).await;
    }

    async fn invalidate(&self) {
        let run = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            redis::cmd("INCR").arg(self.epoch_key()).query_async::<u64>(&mut conn).await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(
                %error,
                "Redis catalogue cache invalidation failed; cached entries live out their time to live"
            ),
            Err(_) => tracing::warn!(
                "Redis catalogue cache invalidation timed out; cached entries live out their time to live"
            ),
        }
    }
}

/// Reads the entry of the current epoch: KEYS[1] the epoch counter, the entry's key being
/// ARGV[1] .. epoch .. ARGV[2].
static READ: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local epoch = redis.call('GET', KEYS[1]) or '0'
        return redis.call('GET', ARGV[1] .. epoch .. ARGV[2])
        ",
    )
});

/// Stores ARGV[4] for ARGV[5] ms under ARGV[2] .. epoch .. ARGV[3], only when the epoch counter
/// KEYS[1] still reads ARGV[1] (the epoch the value was read under), in one atomic step.
static PUT_IF_CURRENT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local epoch = redis.call('GET', KEYS[1]) or '0'
        if epoch ~= ARGV[1] then return 0 end
        redis.call('SET', ARGV[2] .. epoch .. ARGV[3], ARGV[4], 'PX', ARGV[5])
        return 1
        ",
    )
});
