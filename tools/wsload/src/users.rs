//! The load's accounts: `wsload-<i>` registered and signed in over HTTP, their access tokens
//! cached in a file so that a repeated run starts at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::log;

/// Every account of the load shares this password (bytes 8..=72, as the server asks).
pub const PASSWORD: &str = "wsload-password-not-secret";

/// A token is re-issued when it would expire within this margin.
const TOKEN_MARGIN_SECS: i64 = 15 * 60;

/// One signed-in account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    /// The `<i>` of `wsload-<i>`.
    pub index: usize,
    /// The server's id of the account.
    pub id: i64,
    /// The access token (JWT).
    pub token: String,
    /// When the token expires, Unix seconds.
    pub exp: i64,
}

/// The cache file: which server it was filled from, and its accounts by index.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    url: String,
    users: BTreeMap<usize, User>,
}

pub fn username(index: usize) -> String {
    format!("wsload-{index}")
}

pub fn email(index: usize) -> String {
    format!("wsload-{index}@wsload.example.com")
}

/// The `exp` claim of a JWT, without checking its signature (the server does that).
pub fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("exp")?.as_i64()
}

fn unix_now() -> i64 {
    crate::report::now_us() / 1_000_000
}

/// Accounts `first..first + count`, from the cache where it still holds a usable token for
/// this server, otherwise registered (if new) and signed in, `concurrency` at a time. The cache
/// is rewritten (atomically) when anything new was fetched.
pub async fn ensure(
    http: &reqwest::Client,
    base: &str,
    first: usize,
    count: usize,
    cache_path: &Path,
    concurrency: usize,
) -> anyhow::Result<Vec<User>> {
    let mut cache = load_cache(cache_path, base);
    if !cache.users.is_empty() && !cache_still_valid(http, base, &cache, first, count).await {
        log!("token cache {} is for another database or secret; starting it afresh", cache_path.display());
        cache.users.clear();
    }
    let fresh_until = unix_now() + TOKEN_MARGIN_SECS;
    let missing: Vec<usize> =
        (first..first + count).filter(|i| cache.users.get(i).is_none_or(|u| u.exp < fresh_until)).collect();
    if !missing.is_empty() {
        log!(
            "signing in {} account(s) ({} from the cache), {concurrency} at a time",
            missing.len(),
            count - missing.len()
        );
        let started = Instant::now();
        let done = Arc::new(AtomicU64::new(0));
        let total = missing.len();
        let progress = {
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    log!("  signed in {}/{total}", done.load(Ordering::Relaxed));
                }
            })
        };
        let results: Vec<anyhow::Result<User>> = futures_util::stream::iter(missing)
            .map(|i| {
                let done = Arc::clone(&done);
                async move {
                    let r = sign_in(http, base, i).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    r
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        progress.abort();
        let mut failures = Vec::new();
        for r in results {
            match r {
                Ok(u) => {
                    cache.users.insert(u.index, u);
                }
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
        cache.url = base.to_owned();
        save_cache(cache_path, &cache)?;
        log!("signed in {} account(s) in {:.1} s", total - failures.len(), started.elapsed().as_secs_f64());
        if let Some(first_failure) = failures.first() {
            bail!("{} account(s) could not sign in; the first: {first_failure}", failures.len());
        }
    }
    Ok((first..first + count).map(|i| cache.users[&i].clone()).collect())
}

/// Accounts `first..first + count` from the cache alone (a child process of a sharded run,
/// whose parent signed them in).
pub fn from_cache(cache_path: &Path, base: &str, first: usize, count: usize) -> anyhow::Result<Vec<User>> {
    let cache = load_cache(cache_path, base);
    (first..first + count)
        .map(|i| {
            cache.users.get(&i).cloned().with_context(|| format!("{} is not in {}", username(i), cache_path.display()))
        })
        .collect()
}

fn load_cache(path: &Path, base: &str) -> Cache {
    let parsed: Option<Cache> = std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok());
    match parsed {
        Some(c) if c.url == base => c,
        _ => Cache { url: base.to_owned(), users: BTreeMap::new() },
    }
}

fn save_cache(path: &Path, cache: &Cache) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = PathBuf::from(path);
    tmp.set_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(cache)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A cache filled from an older database (or under another JWT secret) holds tokens the
/// server refuses, or ids of other accounts: asking `/auth/me` for a few of them tells.
async fn cache_still_valid(http: &reqwest::Client, base: &str, cache: &Cache, first: usize, count: usize) -> bool {
    let candidates = [first, first + count / 2, (first + count).saturating_sub(1)];
    let mut checked = 0;
    for i in candidates {
        let Some(u) = cache.users.get(&i) else { continue };
        if u.exp < unix_now() + 60 {
            continue;
        }
        checked += 1;
        let ok = match http.get(format!("{base}/api/v1/auth/me")).bearer_auth(&u.token).send().await {
            Ok(r) if r.status().is_success() => r
                .json::<serde_json::Value>()
                .await
                .ok()
                .is_some_and(|v| v.get("id").and_then(serde_json::Value::as_i64) == Some(u.id)),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    // Nothing checkable (all expired or absent) is not a reason to throw the rest away.
    checked > 0 || cache.users.keys().all(|i| !(first..first + count).contains(i))
}

/// Registers `wsload-<i>` (a `409` means it exists) and signs it in. Retries the server's
/// refusals for load (429, 503) and connection errors a few times.
async fn sign_in(http: &reqwest::Client, base: &str, i: usize) -> anyhow::Result<User> {
    let register = json!({"username": username(i), "email": email(i), "password": PASSWORD});
    let status = retrying(|| http.post(format!("{base}/api/v1/auth/register")).json(&register).send())
        .await
        .with_context(|| format!("register {}", username(i)))?;
    let code = status.status();
    if !(code.is_success() || code == reqwest::StatusCode::CONFLICT) {
        let body = status.text().await.unwrap_or_default();
        bail!("register {}: {code} {body}", username(i));
    }
    let login = json!({"email": email(i), "password": PASSWORD});
    let resp = retrying(|| http.post(format!("{base}/api/v1/auth/login")).json(&login).send())
        .await
        .with_context(|| format!("log in {}", username(i)))?;
    let code = resp.status();
    if !code.is_success() {
        let body = resp.text().await.unwrap_or_default();
        bail!("log in {}: {code} {body}", username(i));
    }
    let v: serde_json::Value = resp.json().await.with_context(|| format!("log in {}: body", username(i)))?;
    let token = v.get("access_token").and_then(|t| t.as_str()).context("no access_token")?.to_owned();
    let id = v.pointer("/user/id").and_then(serde_json::Value::as_i64).context("no user.id")?;
    let exp = jwt_exp(&token)
        .unwrap_or_else(|| unix_now() + v.get("expires_in").and_then(serde_json::Value::as_i64).unwrap_or(900));
    Ok(User { index: i, id, token, exp })
}

async fn retrying<F, Fut>(mut send: F) -> anyhow::Result<reqwest::Response>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = reqwest::Result<reqwest::Response>>,
{
    let mut delay = Duration::from_millis(200);
    for attempt in 1.. {
        let last = attempt >= 6;
        match send().await {
            Ok(r) if !last && matches!(r.status().as_u16(), 429 | 502 | 503) => {}
            Ok(r) => return Ok(r),
            Err(e) if last => return Err(e.into()),
            Err(_) => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    unreachable!("the loop returns on its last attempt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_is_read_from_the_token_payload() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"7","exp":1900000000}"#);
        assert_eq!(jwt_exp(&format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")), Some(1_900_000_000));
        assert_eq!(jwt_exp("not-a-jwt"), None);
        assert_eq!(jwt_exp("a.%%%.c"), None);
    }

    #[test]
    fn names_are_valid_for_the_server() {
        assert_eq!(username(12345), "wsload-12345");
        assert!(username(99_999).len() <= 32);
        assert!(email(7).contains('@') && email(7).split('@').nth(1).unwrap().contains('.'));
        assert!((8..=72).contains(&PASSWORD.len()));
    }

    #[test]
    fn the_cache_round_trips_and_is_ignored_for_another_server() {
        let dir = std::env::temp_dir().join(format!("wsload-test-{}", std::process::id()));
        let path = dir.join("tokens.json");
        let mut cache = Cache { url: "http://a".into(), users: BTreeMap::new() };
        cache.users.insert(3, User { index: 3, id: 42, token: "t".into(), exp: 9 });
        save_cache(&path, &cache).unwrap();
        assert_eq!(from_cache(&path, "http://a", 3, 1).unwrap()[0].id, 42);
        assert!(from_cache(&path, "http://a", 3, 2).is_err(), "index 4 is missing");
        assert!(from_cache(&path, "http://b", 3, 1).is_err(), "another server's cache is not used");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
