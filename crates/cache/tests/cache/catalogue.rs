//! The `CatalogueCache` contract (`crates/products/src/ports.rs`), held against both adapters:
//! the in-process cache always, Redis when it is reachable (and always under `CI=true` or
//! `REQUIRE_SERVICES=1`). For Redis, two caches on one prefix stand for two instances.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;
use workbench_cache::{MemoryCatalogueCache, RedisCatalogueCache, RedisPool};
use workbench_products::{
    CatalogueCache, Category, CategoryId, Currency, Product, ProductId, ProductSearch, ProductStatus, Specifications,
};

const LONG: Duration = Duration::from_secs(60);

trait MakeCache: Sync {
    /// A cache; for Redis, every cache made shares the same prefix (another instance).
    fn make(&self, ttl: Duration) -> Arc<dyn CatalogueCache>;
}

struct Memory;

impl MakeCache for Memory {
    fn make(&self, ttl: Duration) -> Arc<dyn CatalogueCache> {
        Arc::new(MemoryCatalogueCache::new(1_000, ttl))
    }
}

struct Redis {
    pool: RedisPool,
    prefix: String,
}

impl MakeCache for Redis {
    fn make(&self, ttl: Duration) -> Arc<dyn CatalogueCache> {
        Arc::new(RedisCatalogueCache::new(self.pool.clone(), ttl).with_prefix(self.prefix.clone()))
    }
}

macro_rules! suite {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$case(&super::Memory).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                let Some(pool) = workbench_cache::testing::redis_pool().await else { return };
                let redis = super::Redis { pool, prefix: super::common::unique_prefix() };
                super::$case(&redis).await;
                super::common::purge(&redis.pool, &redis.prefix).await;
            }
        }
    )+};
}

suite!(
    values_come_back_equal_to_what_was_put,
    invalidation_forgets_everything_and_moves_the_epoch_on,
    a_value_read_before_an_invalidation_is_not_cached,
    searches_are_kept_per_text_and_limit,
    entries_expire_after_their_time_to_live,
);

fn category(id: i64) -> Category {
    Category {
        id: CategoryId(id),
        name: format!("Catégorie {id}"),
        slug: format!("c-{id}"),
        description: None,
        version: 1,
    }
}

fn product(id: i64) -> Product {
    let at = Utc.timestamp_opt(1_800_000_000, 123_456_000).single().unwrap();
    Product {
        id: ProductId(id),
        name: format!("Écran {id}"),
        category_id: CategoryId(1),
        brand: "Sony".into(),
        model: Some("X-1".into()),
        description: Some("Ünïcode ✓".into()),
        price_cents: Some(12_999),
        currency: Some(Currency::parse("EUR").unwrap()),
        warranty_months: 24,
        warranty_conditions: None,
        manufacturer_website: Some("https://sony.example".into()),
        specifications: Specifications::parse(json!({"z": 1, "a": {"nested": [1, "two"]}})).unwrap(),
        status: ProductStatus::Active,
        version: 3,
        created_at: at,
        updated_at: at,
    }
}

fn search(q: &str, limit: u64) -> ProductSearch {
    ProductSearch::parse(Some(q.to_owned()), Some(limit)).unwrap()
}

async fn values_come_back_equal_to_what_was_put(caches: &dyn MakeCache) {
    let cache = caches.make(LONG);
    assert_eq!(cache.categories().await, None);
    assert_eq!(cache.product(ProductId(1)).await, None);
    let epoch = cache.epoch().await;
    cache.put_categories(&[category(1), category(2)], epoch).await;
    cache.put_product(&product(1), epoch).await;
    cache.put_search(&search("écr", 5), &[product(1)], epoch).await;
    assert_eq!(cache.categories().await, Some(vec![category(1), category(2)]));
    assert_eq!(cache.product(ProductId(1)).await, Some(product(1)));
    assert_eq!(cache.product(ProductId(2)).await, None);
    assert_eq!(cache.search(&search("écr", 5)).await, Some(vec![product(1)]));
    let empty: Vec<Category> = Vec::new();
    cache.put_categories(&empty, epoch).await;
    assert_eq!(cache.categories().await, Some(empty), "an empty list is an answer too");
}

async fn invalidation_forgets_everything_and_moves_the_epoch_on(caches: &dyn MakeCache) {
    let (one, other) = (caches.make(LONG), caches.make(LONG));
    let epoch = one.epoch().await;
    one.put_categories(&[category(1)], epoch).await;
    one.put_product(&product(1), epoch).await;
    one.put_search(&search("x", 10), &[product(1)], epoch).await;
    one.invalidate().await;
    assert!(one.epoch().await > epoch);
    assert_eq!(one.categories().await, None);
    assert_eq!(one.product(ProductId(1)).await, None);
    assert_eq!(one.search(&search("x", 10)).await, None);
    // Another cache on the same store (for Redis: another instance) sees what this one caches,
    // and its invalidation reaches this one.
    let epoch = one.epoch().await;
    one.put_product(&product(2), epoch).await;
    if Arc::ptr_eq(&one, &other) || other.product(ProductId(2)).await.is_some() {
        other.invalidate().await;
        assert_eq!(one.product(ProductId(2)).await, None, "another instance's invalidation reaches this one");
    }
}

async fn a_value_read_before_an_invalidation_is_not_cached(caches: &dyn MakeCache) {
    let cache = caches.make(LONG);
    let before = cache.epoch().await;
    cache.invalidate().await;
    cache.put_categories(&[category(1)], before).await;
    cache.put_product(&product(1), before).await;
    cache.put_search(&search("x", 10), &[product(1)], before).await;
    assert_eq!(cache.categories().await, None);
    assert_eq!(cache.product(ProductId(1)).await, None);
    assert_eq!(cache.search(&search("x", 10)).await, None);
    let now = cache.epoch().await;
    cache.put_product(&product(1), now).await;
    assert_eq!(cache.product(ProductId(1)).await, Some(product(1)));
}

async fn searches_are_kept_per_text_and_limit(caches: &dyn MakeCache) {
    let cache = caches.make(LONG);
    let epoch = cache.epoch().await;
    cache.put_search(&search("sony", 5), &[product(1)], epoch).await;
    cache.put_search(&search("sony", 6), &[product(1), product(2)], epoch).await;
    assert_eq!(cache.search(&search(" SONY ", 5)).await, Some(vec![product(1)]), "the folded text is the key");
    assert_eq!(cache.search(&search("sony", 6)).await.map(|p| p.len()), Some(2));
    assert_eq!(cache.search(&search("son", 5)).await, None);
}

async fn entries_expire_after_their_time_to_live(caches: &dyn MakeCache) {
    let cache = caches.make(Duration::from_millis(200));
    let epoch = cache.epoch().await;
    cache.put_product(&product(1), epoch).await;
    assert!(cache.product(ProductId(1)).await.is_some());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(cache.product(ProductId(1)).await, None);
}

#[tokio::test]
async fn an_unreachable_redis_is_an_empty_cache_that_never_stores() {
    let pool = workbench_cache::build_pool("redis://127.0.0.1:1").expect("a lazy pool");
    let cache = RedisCatalogueCache::new(pool, LONG);
    let run = async {
        let epoch = cache.epoch().await;
        cache.put_product(&product(1), epoch).await;
        assert_eq!(cache.product(ProductId(1)).await, None);
        assert_eq!(cache.categories().await, None);
        cache.invalidate().await;
    };
    tokio::time::timeout(Duration::from_secs(5), run).await.expect("every call gives up quickly");
}
