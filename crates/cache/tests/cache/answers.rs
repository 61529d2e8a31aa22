//! The `AnswerCache` contract (`crates/integrations/src/ports.rs`), held against both adapters:
//! the in-process cache always, Redis when it is reachable (and always under `CI=true` or
//! `REQUIRE_SERVICES=1`); then what only Redis does: sharing answers between instances, keeping
//! them a day, and shrugging off an unreadable value or an unreachable server.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use workbench_cache::testing::{redis_pool, redis_url};
use workbench_cache::{MemoryAnswerCache, RedisAnswerCache, RedisPool};
use workbench_integrations::{
    AnswerBody, AnswerCache, CacheKey, KEEP_ANSWERS_FOR, Price, PriceQuery, PriceRequest, StoredAnswer, Translation,
    TranslationQuery, TranslationRequest, Weather, WeatherQuery, WeatherRequest,
};

fn fetched_at() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 123_456_000).single().expect("a valid instant")
}

fn weather_key(city: &str) -> CacheKey {
    WeatherQuery::parse(WeatherRequest { city: Some(city.into()) }).expect("a valid city").cache_key()
}

fn price_key() -> CacheKey {
    PriceQuery::parse(PriceRequest { symbol: Some("BTC".into()), currency: Some("eur".into()) })
        .expect("a valid query")
        .cache_key()
}

fn translation_key() -> CacheKey {
    TranslationQuery::parse(TranslationRequest { text: Some("Ça va ?".into()), to: Some("en".into()), from: None })
        .expect("a valid query")
        .cache_key()
}

fn weather(city: &str, temperature_c: f64) -> StoredAnswer {
    StoredAnswer {
        fetched_at: fetched_at(),
        body: AnswerBody::Weather(Weather {
            city: city.into(),
            country: None,
            latitude: 14.6937,
            longitude: -17.44406,
            temperature_c,
            apparent_temperature_c: 25.1,
            humidity_percent: 61.0,
            wind_kph: 18.7,
            conditions: "partly cloudy".into(),
            observed_at: fetched_at(),
            source: "open-meteo".into(),
            cached: false,
            stale: false,
        }),
    }
}

fn price() -> StoredAnswer {
    StoredAnswer {
        fetched_at: fetched_at(),
        body: AnswerBody::Price(Price {
            symbol: "BTC".into(),
            name: "Bitcoin".into(),
            currency: "eur".into(),
            price: 61_000.5,
            change_24h_percent: None,
            market_cap: Some(1.2e12),
            updated_at: fetched_at(),
            source: "coingecko".into(),
            cached: false,
            stale: false,
        }),
    }
}

fn translation() -> StoredAnswer {
    StoredAnswer {
        fetched_at: fetched_at(),
        body: AnswerBody::Translation(Translation {
            text: "Ça va ?".into(),
            translated: "How are you? — “fine” ✓".into(),
            from: Some("fr".into()),
            to: "en".into(),
            source: "deepl".into(),
            cached: false,
            stale: false,
        }),
    }
}

/// Makes caches of one adapter; for Redis they share the server and the test's prefix, as
/// instances do.
trait MakeCache: Sync {
    fn make(&self) -> Arc<dyn AnswerCache>;
}

struct Memory;

impl MakeCache for Memory {
    fn make(&self) -> Arc<dyn AnswerCache> {
        Arc::new(MemoryAnswerCache::default())
    }
}

struct Redis {
    pool: RedisPool,
    prefix: String,
}

impl MakeCache for Redis {
    fn make(&self) -> Arc<dyn AnswerCache> {
        Arc::new(RedisAnswerCache::new(self.pool.clone()).with_prefix(self.prefix.clone()))
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
                let prefix = super::common::unique_prefix();
                super::$case(&super::Redis { pool: pool.clone(), prefix: prefix.clone() }).await;
                super::common::purge(&pool, &prefix).await;
            }
        }
    )+};
}

suite!(
    an_absent_answer_is_a_miss,
    every_kind_of_answer_comes_back_as_stored,
    a_put_replaces_the_answer,
    keys_do_not_collide
);

async fn an_absent_answer_is_a_miss(caches: &dyn MakeCache) {
    assert_eq!(caches.make().get(&weather_key("Dakar")).await, None);
}

async fn every_kind_of_answer_comes_back_as_stored(caches: &dyn MakeCache) {
    let cache = caches.make();
    let unknown = StoredAnswer { fetched_at: fetched_at(), body: AnswerBody::Unknown };
    for (key, answer) in [
        (weather_key("Dakar"), weather("Dakar", 24.3)),
        (price_key(), price()),
        (translation_key(), translation()),
        (weather_key("Atlantis"), unknown),
    ] {
        cache.put(&key, &answer).await;
        assert_eq!(cache.get(&key).await, Some(answer), "{key}");
    }
}

async fn a_put_replaces_the_answer(caches: &dyn MakeCache) {
    let cache = caches.make();
    let key = weather_key("Dakar");
    cache.put(&key, &weather("Dakar", 24.3)).await;
    let newer = StoredAnswer { fetched_at: fetched_at() + chrono::Duration::minutes(1), ..weather("Dakar", 26.0) };
    cache.put(&key, &newer).await;
    assert_eq!(cache.get(&key).await, Some(newer));
}

async fn keys_do_not_collide(caches: &dyn MakeCache) {
    let cache = caches.make();
    cache.put(&weather_key("Dakar"), &weather("Dakar", 24.3)).await;
    cache.put(&weather_key("Paris"), &weather("Paris", 8.0)).await;
    assert_eq!(cache.get(&weather_key(" DAKAR ")).await, Some(weather("Dakar", 24.3)), "normalised by the query");
    assert_eq!(cache.get(&weather_key("Paris")).await, Some(weather("Paris", 8.0)));
    assert_eq!(cache.get(&price_key()).await, None);
}

/// The test server and a prefix of the test's own, or `None` after the skip notice.
async fn redis() -> Option<(RedisPool, String)> {
    let pool = redis_pool().await?;
    Some((pool, common::unique_prefix()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_stored_by_one_instance_is_read_by_another() {
    let Some((pool, prefix)) = redis().await else { return };
    let first = RedisAnswerCache::new(pool.clone()).with_prefix(prefix.clone());
    // Another instance: its own pool on the same server.
    let other_pool = workbench_cache::connect(&redis_url()).await.expect("the test Redis");
    let second = RedisAnswerCache::new(other_pool).with_prefix(prefix.clone());

    first.put(&price_key(), &price()).await;
    assert_eq!(second.get(&price_key()).await, Some(price()));

    let elsewhere = RedisAnswerCache::new(pool.clone()).with_prefix(format!("{prefix}-other"));
    assert_eq!(elsewhere.get(&price_key()).await, None, "another prefix is another deployment");
    common::purge(&pool, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_json_under_the_answer_namespace_kept_for_a_day() {
    let Some((pool, prefix)) = redis().await else { return };
    let cache = RedisAnswerCache::new(pool.clone()).with_prefix(prefix.clone());
    cache.put(&weather_key("Dakar"), &weather("Dakar", 24.3)).await;

    let mut conn = pool.get().await.expect("a connection to the test Redis");
    let key = format!("{prefix}:answer:weather:dakar");
    let raw: String = redis::cmd("GET").arg(&key).query_async(&mut conn).await.expect("GET");
    let json: serde_json::Value = serde_json::from_str(&raw).expect("JSON");
    assert_eq!(json["body"]["kind"], "weather");
    assert_eq!(json["body"]["answer"]["temperature_c"], 24.3);
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.expect("PTTL");
    let day = i64::try_from(KEEP_ANSWERS_FOR.as_millis()).expect("a day in milliseconds");
    assert!(ttl > day - 60_000 && ttl <= day, "kept for a day, not {ttl} ms");
    common::purge(&pool, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_value_is_a_miss_and_the_next_put_replaces_it() {
    let Some((pool, prefix)) = redis().await else { return };
    let cache = RedisAnswerCache::new(pool.clone()).with_prefix(prefix.clone());
    let mut conn = pool.get().await.expect("a connection to the test Redis");
    let key = format!("{prefix}:answer:weather:dakar");
    let () = redis::cmd("SET").arg(&key).arg("{\"version\": 0}").query_async(&mut conn).await.expect("SET");

    assert_eq!(cache.get(&weather_key("Dakar")).await, None);
    cache.put(&weather_key("Dakar"), &weather("Dakar", 24.3)).await;
    assert_eq!(cache.get(&weather_key("Dakar")).await, Some(weather("Dakar", 24.3)));
    common::purge(&pool, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_miss_and_writes_are_skipped() {
    // A port just freed: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("redis://{}", listener.local_addr().expect("its address"));
    drop(listener);
    let pool = workbench_cache::build_pool(&url).expect("a lazily connecting pool");
    let cache = RedisAnswerCache::new(pool).with_timeout(Duration::from_millis(500));
    cache.put(&weather_key("Dakar"), &weather("Dakar", 24.3)).await;
    assert_eq!(cache.get(&weather_key("Dakar")).await, None);
}
