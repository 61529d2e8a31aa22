//! The Redis server that tests use, with the project's skip rule: when it cannot be reached a
//! test says so loudly and passes — unless `CI=true` or `REQUIRE_SERVICES=1`, where it fails.

use crate::RedisPool;

/// `TEST_REDIS_URL`, by default the local server.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Whether a missing service must fail the test run instead of skipping.
pub fn services_required() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    set("CI") || set("REQUIRE_SERVICES")
}

/// A pool on the test server, or `None` after a loud skip notice (a panic when services are
/// required).
pub async fn redis_pool() -> Option<RedisPool> {
    let url = redis_url();
    match crate::connect(&url).await {
        Ok(pool) => Some(pool),
        Err(e) => {
            assert!(!services_required(), "Redis is required (CI or REQUIRE_SERVICES is set) but unreachable: {e}");
            // Straight to the process's stderr: `eprintln!` would be captured (hidden) by the
            // test harness for a test that passes.
            let notice = format!("\n*** SKIPPED: {e}; set CI=true or REQUIRE_SERVICES=1 to make this a failure ***\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
            None
        }
    }
}
