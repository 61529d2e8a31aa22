//! Lost connections are noticed from the error, discarded and the work retried once when nothing
//! of it was applied — without a validation query on every checkout.

use workbench_core::RepositoryError;
use workbench_store::testing::TestDatabase;
use workbench_store::{Database, DieselUserRepository};
use workbench_users::{Email, NewUser, Role, UserId, UserRepository, Username, now};

fn account(n: u32) -> NewUser {
    NewUser {
        username: Username::parse(format!("user{n}")).expect("valid username"),
        email: Email::parse(format!("user{n}@example.com")).expect("valid email"),
        password_hash: None,
        role: Role::User,
        created_at: now(),
    }
}

/// Fills the pool with `n` open connections by holding them at once.
async fn warm(db: &Database, n: usize) {
    let mut holders = Vec::new();
    for _ in 0..n {
        let db = db.clone();
        holders.push(tokio::spawn(async move {
            db.run(|conn| {
                std::thread::sleep(std::time::Duration::from_millis(50));
                diesel::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), conn)
                    .map(drop)
                    .map_err(|e| RepositoryError::Unavailable(e.into()))
            })
            .await
        }));
    }
    for h in holders {
        h.await.expect("joined").expect("query runs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_costs_no_failed_request() {
    let Some(t) = TestDatabase::postgres() else { return };
    let db = t.connect();
    let users = DieselUserRepository::new(db.clone());
    let ann = users.create(account(1)).await.expect("created");
    warm(&db, 4).await;

    // Every pooled connection dies at once, as in a restart.
    assert!(t.kill_connections() >= 4, "the pool held its connections open");

    // Each of the next requests — reads and a write — succeeds: the first notices the lost
    // connection, retires every older one and retries on a new connection.
    for _ in 0..4 {
        let found = users.find(ann.id).await.expect("a read after the restart succeeds");
        assert_eq!(found.map(|u| u.id), Some(ann.id));
    }
    let bob = users.create(account(2)).await.expect("a write after the restart succeeds");
    assert_ne!(bob.id, UserId(0));

    warm(&db, 4).await;
    t.kill_connections();
    users.create(account(3)).await.expect("a write as the first statement after a restart is retried");
    let all = users
        .list(workbench_users::UserQuery {
            page: workbench_core::PageRequest::new(Some(1), Some(10)).expect("valid page"),
            ..Default::default()
        })
        .await
        .expect("listed");
    assert_eq!(all.total, 3, "no write was applied twice or lost");
}

/// The statements of the hot task paths are prepared once per connection and then reused, not
/// parsed and planned on every call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_task_statements_are_prepared_once_per_connection() {
    use workbench_store::{DieselTaskRepository, PoolOptions};
    use workbench_tasks::{NewTask, NewTaskRecord, Priority, Status, Tags, TaskRepository, Title};

    let Some(t) = TestDatabase::postgres() else { return };
    t.connect(); // migrated
    let db = Database::connect(t.url(), PoolOptions { max_size: 1, ..PoolOptions::default_for(t.backend()) })
        .expect("opens");
    let owner = DieselUserRepository::new(db.clone()).create(account(1)).await.expect("created");
    let tasks = DieselTaskRepository::new(db.clone());
    for n in 0..3 {
        let task = NewTask {
            fields: Default::default(),
            bucket_id: None,
            title: Title::parse(format!("task {n}")).expect("valid"),
            description: None,
            status: Status::Pending,
            priority: Priority::Medium,
            due_date: None,
            assignee_id: None,
            tags: Tags::default(),
            project_id: None,
            recurrence: None,
        };
        let created = tasks
            .create(NewTaskRecord { task, owner_id: owner.id, completed_at: None, created_at: now() })
            .await
            .expect("ok");
        let before = tasks.find(created.id).await.expect("found").expect("exists");
        let mut changed = before.clone();
        changed.version += 1;
        let outcome = tasks.update(changed, before, std::sync::Arc::new(|_: &workbench_tasks::Task| None), 1).await;
        assert!(matches!(outcome.expect("updated"), workbench_tasks::UpdateOutcome::Stored { .. }));
    }

    #[derive(diesel::QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
    }
    let prepared: Vec<String> = db
        .run(|conn| {
            diesel::RunQueryDsl::load::<Prepared>(
                diesel::sql_query("SELECT statement FROM pg_prepared_statements"),
                conn,
            )
            .map_err(|e| RepositoryError::Unavailable(e.into()))
        })
        .await
        .expect("listed")
        .into_iter()
        .map(|p| p.statement)
        .collect();
    for kind in ["INSERT INTO tasks", "UPDATE tasks SET", "FROM \"tasks\" WHERE"] {
        let n = prepared.iter().filter(|s| s.contains(kind)).count();
        assert_eq!(n, 1, "{kind}: prepared {n} times in {prepared:#?}");
    }
}

/// A TCP relay in front of PostgreSQL that can be taken down (every relayed connection cut, new
/// ones closed at once, as a stopped server would) and brought back.
struct Outage {
    addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pipes: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Outage {
    async fn relay(upstream: String) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("has an address");
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let pipes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, pipes2) = (up.clone(), pipes.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees its connection closed
                }
                let upstream = upstream.clone();
                pipes2.lock().expect("lock").push(tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Self { addr, up, pipes }
    }

    fn down(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for pipe in self.pipes.lock().expect("lock").drain(..) {
            pipe.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// While the database cannot be reached, requests fail at once as `unreachable` (the HTTP layer's
/// 503) instead of each waiting the whole acquire timeout; when it is back, they succeed again
/// without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_fast_and_service_resumes() {
    use std::time::{Duration, Instant};
    use workbench_store::PoolOptions;

    let Some(t) = TestDatabase::postgres() else { return };
    t.connect(); // migrated
    let target = url::Url::parse(t.url()).expect("a URL");
    let relay = Outage::relay(format!("{}:{}", target.host_str().expect("host"), target.port().unwrap_or(5432))).await;
    let mut via_relay = target.clone();
    via_relay.set_host(Some("127.0.0.1")).expect("host");
    via_relay.set_port(Some(relay.addr.port())).expect("port");

    let acquire_timeout = Duration::from_secs(20);
    let options = PoolOptions { max_size: 2, min_idle: Some(1), acquire_timeout };
    let db = Database::connect(via_relay.as_str(), options).expect("opens through the relay");
    let users = DieselUserRepository::new(db.clone());
    let ann = users.create(account(1)).await.expect("created");

    relay.down();
    for attempt in 0..3 {
        let started = Instant::now();
        let error = users.find(ann.id).await.expect_err("the database is out of reach");
        assert!(error.is_unreachable(), "attempt {attempt}: {error:#}");
        // The bound is the point of the test, not a speed figure: waiting out the acquire
        // timeout is the hang this replaces.
        assert!(started.elapsed() < acquire_timeout / 4, "attempt {attempt} waited {:?}", started.elapsed());
    }

    relay.restore();
    let deadline = Instant::now() + acquire_timeout;
    loop {
        match users.find(ann.id).await {
            Ok(found) => {
                assert_eq!(found.map(|u| u.id), Some(ann.id));
                break;
            }
            Err(e) if Instant::now() < deadline => {
                assert!(e.is_unreachable(), "{e:#}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("still failing after the database came back: {e:#}"),
        }
    }
    users.create(account(2)).await.expect("writes resume");
}
