//! Requests and readings that the task suites (and others: comments, products, search) share.

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp};

/// Asserts `res` has `status` and returns its JSON body (shown when the status is wrong).
pub(crate) async fn expect_json(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

/// A response taken apart: status, headers and body text.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub(crate) async fn of(res: Response) -> Self {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        Self { status, headers, text }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

pub(crate) fn task_path(id: i64) -> String {
    format!("/api/v1/tasks/{id}")
}

/// A request to `path` as `who`.
pub(crate) fn as_user(app: &TestApp, who: &Account, method: Method, path: &str) -> RequestBuilder {
    app.request(method, path).bearer_auth(&who.access_token)
}

pub(crate) async fn post_task(app: &TestApp, who: &Account, body: &Value) -> Response {
    as_user(app, who, Method::POST, "/api/v1/tasks").json(body).send().await.unwrap()
}

/// Creates a task and returns it.
pub(crate) async fn create_task(app: &TestApp, who: &Account, body: Value) -> Value {
    expect_json(post_task(app, who, &body).await, 201).await
}

pub(crate) async fn get_task(app: &TestApp, who: &Account, id: i64) -> Response {
    as_user(app, who, Method::GET, &task_path(id)).send().await.unwrap()
}

pub(crate) async fn patch_task(app: &TestApp, who: &Account, id: i64, body: &Value) -> Response {
    as_user(app, who, Method::PATCH, &task_path(id)).json(body).send().await.unwrap()
}

pub(crate) async fn patch_ok(app: &TestApp, who: &Account, id: i64, body: Value) -> Value {
    expect_json(patch_task(app, who, id, &body).await, 200).await
}

/// `GET /api/v1/tasks?{query}` as `who`, expecting 200.
pub(crate) async fn list(app: &TestApp, who: &Account, query: &str) -> Value {
    let res = as_user(app, who, Method::GET, &format!("/api/v1/tasks?{query}")).send().await.unwrap();
    expect_json(res, 200).await
}

pub(crate) fn ids(list: &Value) -> Vec<i64> {
    list["data"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

pub(crate) fn titles(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect()
}

pub(crate) fn id(task: &Value) -> i64 {
    task["id"].as_i64().unwrap()
}

/// Ids of the tasks listed for `who` with `query`.
pub(crate) async fn listed(app: &TestApp, who: &Account, query: &str) -> Vec<i64> {
    ids(&list(app, who, query).await)
}

pub(crate) async fn stats(app: &TestApp, who: &Account) -> Value {
    expect_json(as_user(app, who, Method::GET, "/api/v1/tasks/stats").send().await.unwrap(), 200).await
}

pub(crate) async fn tags(app: &TestApp, who: &Account, query: &str) -> Value {
    expect_json(as_user(app, who, Method::GET, &format!("/api/v1/tags{query}")).send().await.unwrap(), 200).await
}

/// The `Link` header's targets by relation.
pub(crate) fn links(header: &str) -> Vec<(String, String)> {
    header
        .split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; ").unwrap_or_else(|| panic!("bad Link part {part:?}"));
            let url = url.trim_start_matches('<').trim_end_matches('>').to_owned();
            let rel = rel.strip_prefix("rel=\"").and_then(|r| r.strip_suffix('"')).unwrap().to_owned();
            (rel, url)
        })
        .collect()
}

pub(crate) fn link<'a>(links: &'a [(String, String)], rel: &str) -> Option<&'a str> {
    links.iter().find(|(r, _)| r == rel).map(|(_, url)| url.as_str())
}

/// An RFC 3339 UTC timestamp as (seconds part, nanoseconds), so that `…:00Z` and `…:00.5Z`
/// compare as instants rather than as text.
pub(crate) fn instant(value: &Value) -> (String, u32) {
    let text = value.as_str().unwrap_or_else(|| panic!("not a timestamp: {value}"));
    let text = text.strip_suffix('Z').unwrap_or_else(|| panic!("not in UTC: {text}"));
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    assert!(fraction.len() <= 9 && fraction.bytes().all(|b| b.is_ascii_digit()), "{text}");
    (seconds.to_owned(), format!("{fraction:0<9}").parse().unwrap())
}

/// Asserts what `GET /tasks/stats` answered: the total, by status and by priority, and overdue.
pub(crate) fn assert_stats(stats: &Value, total: u64, by_status: [u64; 3], by_priority: [u64; 3], overdue: u64) {
    let expected = json!({
        "total": total,
        "by_status": {"pending": by_status[0], "in_progress": by_status[1], "completed": by_status[2]},
        "by_priority": {"low": by_priority[0], "medium": by_priority[1], "high": by_priority[2]},
        "overdue": overdue,
    });
    let mut without_rate = stats.clone();
    let rate = without_rate.as_object_mut().unwrap().remove("completion_rate").expect("completion_rate");
    assert_eq!(without_rate, expected);
    let rate = rate.as_f64().expect("completion_rate is a number");
    let expected_rate = if total == 0 { 0.0 } else { by_status[2] as f64 / total as f64 };
    assert!((rate - expected_rate).abs() < 1e-9, "completion_rate {rate}, expected {expected_rate}");
}
