//! The durable job queue as operators meet it: the admin view and its retry and cancel, schedules
//! that fire each slot once however many instances run, e-mail through a real SMTP server, and a
//! server killed with `kill -9` in the middle of its jobs losing none of them.

use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};
use workbench_e2e::{Account, Backend, TestApp, engines, error_fields, eventually, expect_problem};
use workbench_mail::testing::SmtpSink;

async fn json_of(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

async fn admin_get(app: &TestApp, admin: &Account, path: &str) -> Value {
    json_of(app.get(path).bearer_auth(&admin.access_token).send().await.unwrap(), 200).await
}

async fn admin_post(app: &TestApp, admin: &Account, path: &str) -> Response {
    app.request(Method::POST, path).bearer_auth(&admin.access_token).send().await.unwrap()
}

/// The jobs of `kind` in `status` (all statuses when empty).
async fn jobs(app: &TestApp, admin: &Account, status: &str, kind: &str) -> Vec<Value> {
    let filter = if status.is_empty() { String::new() } else { format!("&status={status}") };
    let page = admin_get(app, admin, &format!("/api/v1/admin/jobs?per_page=100{filter}")).await;
    page["data"].as_array().unwrap().iter().filter(|j| kind.is_empty() || j["kind"] == kind).cloned().collect()
}

async fn subscribe(app: &TestApp, who: &Account, url: &str) -> i64 {
    let res = app.post("/api/v1/webhooks/subscriptions").bearer_auth(&who.access_token).json(&json!({"url": url}));
    json_of(res.send().await.unwrap(), 201).await["id"].as_i64().unwrap()
}

async fn create_task(app: &TestApp, who: &Account, body: Value) -> Value {
    json_of(app.post("/api/v1/tasks").bearer_auth(&who.access_token).json(&body).send().await.unwrap(), 201).await
}

async fn only_admins_see_the_queue(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    expect_problem(app.get("/api/v1/admin/jobs").send().await.unwrap(), 401).await;
    for path in
        ["/api/v1/admin/jobs", "/api/v1/admin/jobs/runs", "/api/v1/admin/jobs/schedules", "/api/v1/admin/jobs/1"]
    {
        expect_problem(app.get(path).bearer_auth(&ann.access_token).send().await.unwrap(), 403).await;
    }
    expect_problem(admin_post(&app, &ann, "/api/v1/admin/jobs/1/retry").await, 403).await;

    let page = admin_get(&app, &admin, "/api/v1/admin/jobs").await;
    assert!(page["data"].is_array(), "{page}");
    assert_eq!(page["pagination"]["page"], 1);
    assert_eq!(page["pagination"]["per_page"], 20);
    // `status` is one of the states when present; an empty one is not a state either.
    for bad in ["done", "", "%20"] {
        let res =
            app.get(&format!("/api/v1/admin/jobs?status={bad}")).bearer_auth(&admin.access_token).send().await.unwrap();
        assert_eq!(error_fields(&expect_problem(res, 422).await), ["status"], "status={bad:?}");
    }
    let res = app.get("/api/v1/admin/jobs?status=nope&page=0").bearer_auth(&admin.access_token).send().await.unwrap();
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["status", "page"]);
    let res = app.get("/api/v1/admin/jobs?page=abc").bearer_auth(&admin.access_token).send().await.unwrap();
    expect_problem(res, 400).await;
    for status in ["available", "scheduled", "running", "retryable", "completed", "discarded", "cancelled", "dead"] {
        admin_get(&app, &admin, &format!("/api/v1/admin/jobs?status={status}")).await;
    }
    expect_problem(app.get("/api/v1/admin/jobs/999999").bearer_auth(&admin.access_token).send().await.unwrap(), 404)
        .await;
    expect_problem(admin_post(&app, &admin, "/api/v1/admin/jobs/999999/cancel").await, 404).await;

    let schedules = admin_get(&app, &admin, "/api/v1/admin/jobs/schedules").await;
    let names: Vec<&str> = schedules["data"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    for expected in
        ["purge-refresh-tokens", "disable-inactive-users", "daily-task-report", "warranty-reminders", "sqlite-backup"]
    {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let report = schedules["data"].as_array().unwrap().iter().find(|s| s["name"] == "daily-task-report").unwrap();
    assert_eq!((report["cron"].as_str(), report["enabled"].as_bool()), (Some("0 7 * * *"), Some(true)));
    assert!(report["next_run_at"].as_str().is_some_and(|t| t.ends_with("07:00:00Z")), "{report}");
    let backup = schedules["data"].as_array().unwrap().iter().find(|s| s["name"] == "sqlite-backup").unwrap();
    match app.backend {
        Backend::Sqlite => assert!(backup["held_back"].is_null() && backup["next_run_at"].is_string(), "{backup}"),
        Backend::Postgres => assert!(backup["held_back"].is_string() && backup["next_run_at"].is_null(), "{backup}"),
    }
}

/// A dead delivery (the receiver said 410 Gone) comes back to life when an admin retries its job;
/// a delivery waiting for its next attempt is withdrawn when an admin cancels it.
async fn admins_retry_dead_jobs_and_cancel_waiting_ones(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let gone = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(410))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&gone)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&gone).await;
    subscribe(&app, &ann, &gone.uri()).await;
    create_task(&app, &ann, json!({"title": "Renew the passport"})).await;
    let dead = eventually("a discarded delivery", Duration::from_secs(15), || async {
        jobs(&app, &admin, "discarded", "webhook.deliver").await.into_iter().next()
    })
    .await;
    assert_eq!(dead["attempt"], 1, "a 410 is not retried: {dead}");
    assert!(dead["errors"][0]["error"].as_str().is_some_and(|e| e.contains("410")), "{dead}");
    assert!(dead["finished_at"].is_string());
    let id = dead["id"].as_i64().unwrap();
    let same = admin_get(&app, &admin, "/api/v1/admin/jobs?status=dead").await;
    assert!(same["data"].as_array().unwrap().iter().any(|j| j["id"] == id), "dead is discarded");

    let retried = json_of(admin_post(&app, &admin, &format!("/api/v1/admin/jobs/{id}/retry")).await, 200).await;
    assert_eq!(retried["status"], "available");
    assert_eq!(retried["errors"].as_array().unwrap().len(), 1, "the history is kept");
    let done = eventually("the retried delivery completed", Duration::from_secs(15), || async {
        let job = admin_get(&app, &admin, &format!("/api/v1/admin/jobs/{id}")).await;
        (job["status"] == "completed").then_some(job)
    })
    .await;
    assert_eq!(done["attempt"], 2);
    assert_eq!(gone.received_requests().await.unwrap().len(), 2, "delivered on the second attempt");
    // Completed: neither retried nor cancelled.
    for action in ["retry", "cancel"] {
        let res = admin_post(&app, &admin, &format!("/api/v1/admin/jobs/{id}/{action}")).await;
        let problem = expect_problem(res, 409).await;
        assert!(problem["detail"].as_str().unwrap().contains("completed"), "{problem}");
    }

    // A receiver that keeps failing: the delivery waits between attempts, and is cancelled there.
    let down = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).mount(&down).await;
    let bob = app.signup("bob").await;
    subscribe(&app, &bob, &down.uri()).await;
    create_task(&app, &bob, json!({"title": "Fix the fence"})).await;
    let cancelled = eventually("a waiting delivery cancelled", Duration::from_secs(20), || async {
        for job in jobs(&app, &admin, "retryable", "webhook.deliver").await {
            let res = admin_post(&app, &admin, &format!("/api/v1/admin/jobs/{}/cancel", job["id"])).await;
            if res.status() == 200 {
                return Some(json_of(res, 200).await);
            }
            // It was running again at that instant (409): try at its next wait.
        }
        None
    })
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    let attempts_then = down.received_requests().await.unwrap().len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(down.received_requests().await.unwrap().len(), attempts_then, "no attempt after the cancel");
}

/// Two instances on one database, a schedule firing every second: every slot's run is logged
/// once, with one job, whichever instance fired it.
async fn two_instances_fire_each_slot_once(backend: Backend) {
    let every_second = |settings: &mut workbench_app::Settings| {
        settings.jobs.schedule_purge_refresh_tokens = Some("* * * * * *".into());
    };
    let Some(one) = TestApp::spawn_with(backend, every_second).await else { return };
    let _two = one.spawn_sharing(every_second).await;
    let admin = one.signup_with_role("root", "admin").await;
    // The instances' tokens name each its own issuer: ask the one that signed in.
    let runs = eventually("three slots fired", Duration::from_secs(20), || async {
        let runs = admin_get(&one, &admin, "/api/v1/admin/jobs/runs?schedule=purge-refresh-tokens&per_page=100").await;
        let runs = runs["data"].as_array().unwrap().clone();
        (runs.len() >= 3).then_some(runs)
    })
    .await;
    let mut slots: Vec<&str> = runs.iter().map(|r| r["slot"].as_str().unwrap()).collect();
    slots.sort_unstable();
    let before = slots.len();
    slots.dedup();
    assert_eq!(slots.len(), before, "each slot fired once: {runs:?}");
    let purge_jobs = jobs(&one, &admin, "", "tokens.purge_expired").await;
    let fired: Vec<&str> = purge_jobs.iter().filter_map(|j| j["schedule"]["slot"].as_str()).collect();
    assert_eq!(fired.len(), purge_jobs.len(), "every purge job names its slot");
    let mut unique = fired.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), fired.len(), "one job per slot: {fired:?}");
    // The runs that have finished say how.
    let finished = eventually("a logged outcome", Duration::from_secs(5), || async {
        let runs = admin_get(&one, &admin, "/api/v1/admin/jobs/runs?schedule=purge-refresh-tokens").await;
        runs["data"].as_array().unwrap().iter().find(|r| r["outcome"].is_string()).cloned()
    })
    .await;
    assert_eq!(finished["outcome"], "ok", "{finished}");
    assert_eq!(finished["items_affected"], 0);
    assert!(finished["duration_ms"].is_u64() && finished["started_at"].is_string());
    assert!(finished["job_id"].is_i64());
}

/// The daily report and the warranty reminders through a real SMTP server. The report's schedule
/// is set to one time of day a few seconds ahead: one slot, one report. The reminders' fires every
/// two seconds: the item is still reminded of once.
async fn reports_and_reminders_are_mailed_once(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else { return };
    // One instance to set the scene, running no jobs (it has no SMTP_URL); the instance mailing
    // starts afterwards.
    let Some(app) = TestApp::spawn_with(backend, |s| s.jobs.workers = 0).await else { return };
    let admin = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let yesterday = (chrono::Utc::now() - chrono::TimeDelta::days(1)).to_rfc3339();
    create_task(&app, &ann, json!({"title": "File the tax return", "due_date": yesterday})).await;
    // A product bought 23 months and 20 days ago with a 24-month warranty: it ends in ~10 days.
    let category = json_of(
        app.post("/api/v1/categories")
            .bearer_auth(&admin.access_token)
            .json(&json!({"name": "Laptops"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let product = json_of(
        app.post("/api/v1/products")
            .bearer_auth(&admin.access_token)
            .json(&json!({"name": "ThinkPad X1", "brand": "Lenovo", "category_id": category["id"], "warranty_months": 24}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let bought = chrono::Utc::now().date_naive() - chrono::Months::new(24) + chrono::TimeDelta::days(10);
    let item = app
        .post("/api/v1/user-products")
        .bearer_auth(&ann.access_token)
        .json(&json!({"product_id": product["id"], "serial_number": "PF-1234", "purchase_date": bought}))
        .send()
        .await
        .unwrap();
    let item = json_of(item, 201).await;
    assert!(item["is_under_warranty"].as_bool().unwrap(), "{item}");

    // Far enough ahead for the mailing instance to be up, even on a loaded machine: a scheduler
    // skips the slots that passed before it started.
    let at = chrono::Utc::now() + chrono::TimeDelta::seconds(8);
    let (url, once) = (sink.url(), at.format("%S %M %H * * *").to_string());
    let _mailing = app
        .spawn_sharing(|s| {
            s.mail.smtp_url = Some(url);
            s.mail.from = Some("Workbench <workbench@example.com>".into());
            s.jobs.schedule_daily_task_report = Some(once);
            s.jobs.schedule_warranty_reminders = Some("*/2 * * * * *".into());
        })
        .await;
    sink.wait_for(2, Duration::from_secs(30)).await;
    // More slots fire meanwhile; none may mail again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = sink.messages();
    let to_ann: Vec<_> = mails.iter().filter(|m| m.header("to") == Some("ann@example.com")).collect();
    let reports: Vec<_> =
        to_ann.iter().filter(|m| m.header("subject").is_some_and(|s| s.contains("Your tasks"))).collect();
    let reminders: Vec<_> =
        to_ann.iter().filter(|m| m.header("subject").is_some_and(|s| s.contains("Warranty"))).collect();
    assert_eq!(reports.len(), 1, "one report a day: {mails:?}");
    assert_eq!(reminders.len(), 1, "one reminder per item and end date: {mails:?}");
    assert!(reports[0].body.contains("File the tax return"), "{}", reports[0].body);
    assert!(reports[0].header("from").is_some_and(|f| f.contains("workbench@example.com")));
    assert!(reminders[0].body.contains("ThinkPad X1 (Lenovo, serial PF-1234)"), "{}", reminders[0].body);
    assert!(mails.iter().all(|m| m.header("to") != Some("root@example.com")), "the admin has nothing to hear of");

    let runs = admin_get(&app, &admin, "/api/v1/admin/jobs/runs?schedule=daily-task-report").await;
    let counted = runs["data"].as_array().unwrap().iter().any(|r| r["outcome"] == "ok" && r["items_affected"] == 1);
    assert!(counted, "a run enqueued Ann's report: {runs}");
}

async fn without_smtp_the_report_is_skipped_and_logged(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    create_task(&app, &ann, json!({"title": "Open"})).await;
    let run = eventually("a skipped run logged", Duration::from_secs(10), || async {
        let runs = admin_get(&app, &admin, "/api/v1/admin/jobs/runs?schedule=daily-task-report").await;
        runs["data"].as_array().unwrap().iter().find(|r| r["outcome"].is_string()).cloned()
    })
    .await;
    assert_eq!(run["outcome"], "skipped");
    assert!(run["note"].as_str().is_some_and(|n| n.contains("SMTP_URL")), "{run}");
}

/// `kill -9` while jobs run: after their lease lapses, another instance finishes every one.
///
/// The instance killed is a process of its own: this test binary run again as [`serve_child`].
/// Deliveries to a receiver that takes 3 s to answer are in flight when it dies; an instance
/// started afterwards finds their leases lapsed, retries them, and every event reaches the
/// receiver, each delivery logged as delivered, no job left running.
async fn kill_dash_nine_loses_no_job(backend: Backend) {
    // The API instance runs no jobs: the child process is the only worker until it dies.
    let Some(api) = TestApp::spawn_with(backend, |s| {
        s.jobs.workers = 0;
        s.webhooks.allow_private_targets = true;
    })
    .await
    else {
        return;
    };
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&slow)
        .await;
    let child = Child::start(api.database_url()).await;

    let admin = api.signup_with_role("root", "admin").await;
    let ann = api.signup("ann").await;
    let subscription = subscribe(&api, &ann, &slow.uri()).await;
    for n in 1..=5 {
        create_task(&api, &ann, json!({"title": format!("Task {n}")})).await;
    }
    eventually("deliveries in flight in the child", Duration::from_secs(20), || async {
        (slow.received_requests().await.unwrap_or_default().len() >= 3).then_some(())
    })
    .await;
    child.kill();
    let _rescuer = api
        .spawn_sharing(|s| {
            s.jobs.lease = Duration::from_secs(2);
            s.webhooks.allow_private_targets = true;
        })
        .await;
    let ids = eventually("every event delivered", Duration::from_secs(40), || async {
        let log = json_of(
            api.get(&format!("/api/v1/webhooks/subscriptions/{subscription}/deliveries?per_page=100"))
                .bearer_auth(&ann.access_token)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        let delivered: std::collections::BTreeSet<String> = log["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["success"] == true)
            .filter_map(|a| a["webhook_id"].as_str().map(str::to_owned))
            .collect();
        (delivered.len() == 5).then_some(delivered)
    })
    .await;
    let received: std::collections::BTreeSet<String> = slow
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.headers.get("webhook-id").and_then(|v| v.to_str().ok()).map(str::to_owned))
        .collect();
    assert_eq!(received, ids, "the receiver saw every event");
    // A handler logs its attempt before the queue records the job's outcome: wait for the queue.
    let all = eventually("every delivery job finished", Duration::from_secs(10), || async {
        let all = jobs(&api, &admin, "", "webhook.deliver").await;
        all.iter()
            .all(|j| ["completed", "discarded", "cancelled"].contains(&j["status"].as_str().unwrap_or("")))
            .then_some(all)
    })
    .await;
    assert_eq!(all.len(), 5, "one job per delivery");
    assert!(all.iter().all(|j| j["status"] == "completed"), "{all:?}");
    let rescued = all.iter().filter(|j| j["errors"].as_array().is_some_and(|e| !e.is_empty())).count();
    assert!(rescued >= 1, "the killed instance's attempts were failed by the rescuer: {all:?}");
    assert!(
        all.iter()
            .flat_map(|j| j["errors"].as_array().cloned().unwrap_or_default())
            .all(|e| e["error"].as_str().is_some_and(|m| m.contains("lapsed"))),
        "{all:?}"
    );
}

/// The server of [`kill_dash_nine_loses_no_job`], in a process of its own: this test binary run
/// again with `WORKBENCH_E2E_CHILD=1`, configured by the environment like the real binary.
#[test]
#[ignore = "a server for kill_dash_nine_loses_no_job, started by it"]
fn serve_child() {
    if std::env::var("WORKBENCH_E2E_CHILD").as_deref() != Ok("1") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let settings = workbench_app::Settings::load().expect("settings from the environment");
        let app = workbench_app::Application::build(settings).await.expect("the child starts");
        app.run_until_stopped().await.expect("served");
    });
}

/// A server process of its own, killed with SIGKILL.
struct Child {
    process: std::process::Child,
    _data: tempfile::TempDir,
}

impl Child {
    async fn start(database_url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let data = tempfile::tempdir().unwrap();
        let process = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["jobs::serve_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env("WORKBENCH_E2E_CHILD", "1")
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("DATA_DIR", data.path())
            .env("JWT_SECRET", "test-secret-of-at-least-thirty-two-bytes")
            .env("JOB_LEASE", "2s")
            .env("JOB_WORKERS", "8")
            .env("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
            .env("WORKERS", "1")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the child starts");
        let child = Self { process, _data: data };
        let health = format!("http://127.0.0.1:{port}/health");
        eventually("the child answers", Duration::from_secs(30), || async {
            reqwest::get(&health).await.ok().filter(|r| r.status() == 200).map(drop)
        })
        .await;
        child
    }

    /// SIGKILL: no shutdown, no lease released.
    fn kill(mut self) {
        self.process.kill().expect("SIGKILL");
        self.process.wait().expect("reaped");
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

engines!(only_admins_see_the_queue);
workbench_e2e::engines_with!(
    admins_retry_dead_jobs_and_cancel_waiting_ones with |s: &mut workbench_app::Settings| s.webhooks.allow_private_targets = true,
    without_smtp_the_report_is_skipped_and_logged with |s: &mut workbench_app::Settings| {
        s.jobs.schedule_daily_task_report = Some("* * * * * *".into());
    },
);
workbench_e2e::per_engine!(
    two_instances_fire_each_slot_once,
    reports_and_reminders_are_mailed_once,
    kill_dash_nine_loses_no_job
);
