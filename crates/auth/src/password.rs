//! bcrypt password hashing on threads of its own.
//!
//! At a production cost one bcrypt check is tens of milliseconds of pure CPU. Run on the async
//! executor it would stall every request sharing the thread; run on Tokio's blocking pool, a burst
//! of logins would start dozens of hashes at once, all finishing late together and competing with
//! the database queries that share that pool. So password work gets its own threads, one per core,
//! taking hashes one at a time from a queue, at a lower scheduling priority than the threads that
//! serve requests: a login burst uses the CPU the other routes leave idle and no more.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use workbench_users::{Password, PasswordHasher};

/// How much nicer than the rest of the server the password threads are: +10 gives a request
/// thread wanting the same core about ten times the share.
#[cfg(target_os = "linux")]
const NICENESS_ABOVE_THE_SERVER: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// The threads that hash and check passwords, fed through one queue.
#[derive(Clone)]
struct PasswordWorkers {
    jobs: mpsc::Sender<Job>,
}

impl PasswordWorkers {
    /// One thread per core available to this process (its CPU affinity respected).
    fn start() -> anyhow::Result<Self> {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("password-{n}")).spawn(move || {
                lower_this_threads_priority();
                // The threads end when the hasher (every sender) is gone.
                while let Some(job) = next_job(&queue) {
                    job();
                }
            })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a password thread and waits for its result without blocking the executor.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| anyhow::anyhow!("the password threads have stopped"))?;
        result.await.map_err(|_| anyhow::anyhow!("a password thread failed while hashing"))
    }
}

/// Makes the calling thread [`NICENESS_ABOVE_THE_SERVER`] nicer than it was born. On Linux the
/// nice value belongs to each thread and a new one inherits its creator's, so this is relative to
/// however the server itself was started: under `nice -n 19 workbench serve` the password threads
/// stay at 19 rather than being set to an absolute value above the request threads. A thread may
/// always lower its own priority, so this needs no privilege; elsewhere nice is process-wide and
/// the threads keep the default.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::nice(NICENESS_ABOVE_THE_SERVER) {
        tracing::debug!(error = %e, "password thread keeps the server's priority");
    }
}

fn next_job(queue: &Mutex<mpsc::Receiver<Job>>) -> Option<Job> {
    // A poisoned lock only means another worker panicked mid-job; the queue itself is intact.
    let queue = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    queue.recv().ok()
}

/// [`PasswordHasher`] with bcrypt, on the password threads.
#[derive(Clone)]
pub struct BcryptHasher {
    cost: u32,
    /// A hash of a random password at the same cost, checked when there is no real hash, so that
    /// an unknown email costs as much time as a wrong password.
    dummy_hash: String,
    workers: PasswordWorkers,
}

impl std::fmt::Debug for BcryptHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcryptHasher").field("cost", &self.cost).finish_non_exhaustive()
    }
}

impl BcryptHasher {
    /// A hasher at `cost` (4 to 31; 12 is a sound production default, tests use 4).
    pub fn new(cost: u32) -> anyhow::Result<Self> {
        anyhow::ensure!((4..=31).contains(&cost), "BCRYPT_COST must be 4 to 31, not {cost}");
        let dummy_hash = bcrypt::hash(uuid::Uuid::new_v4().to_string(), cost)?;
        Ok(Self { cost, dummy_hash, workers: PasswordWorkers::start()? })
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.to_owned();
        let cost = self.cost;
        Ok(self.workers.run(move || bcrypt::hash(password, cost)).await??)
    }

    async fn verify(&self, password: &str, hash: Option<String>) -> anyhow::Result<bool> {
        // A password over bcrypt's 72-byte limit can never have been stored (they are refused at
        // registration), but it must still cost the same work as any other wrong password.
        let acceptable = password.len() <= Password::MAX_BYTES;
        let real = hash.is_some() && acceptable;
        let candidate = if acceptable { password.to_owned() } else { String::new() };
        let hash = hash.filter(|_| acceptable).unwrap_or_else(|| self.dummy_hash.clone());
        let matched = self.workers.run(move || bcrypt::verify(candidate, &hash)).await??;
        Ok(real && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = BcryptHasher::new(4).unwrap();
        let hash = hasher.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(hasher.verify("correct horse", Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify("wrong horse", Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn no_hash_and_overlong_passwords_never_verify() {
        let hasher = BcryptHasher::new(4).unwrap();
        assert!(!hasher.verify("anything", None).await.unwrap());
        let long = "x".repeat(80);
        // bcrypt would compare only the first 72 bytes; the hasher must not accept this.
        let hash_of_prefix = hasher.hash(&long[..72]).await.unwrap();
        assert!(!hasher.verify(&long, Some(hash_of_prefix)).await.unwrap());
    }

    /// The calling thread's nice value, from `/proc` (field 19 of its `stat` line).
    #[cfg(target_os = "linux")]
    fn nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The command name (field 2) may hold spaces; count from the closing parenthesis.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split_whitespace().nth(16).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn password_work_runs_below_the_priority_of_request_threads() {
        let workers = PasswordWorkers::start().unwrap();
        let theirs = workers.run(nice).await.unwrap();
        let ours = nice();
        // Relative to the server, never an absolute value: 19 is as nice as a thread gets.
        assert_eq!(theirs, (ours + NICENESS_ABOVE_THE_SERVER).min(19), "request threads at nice {ours}");
        if ours < 19 {
            assert!(theirs > ours, "password threads at nice {theirs}, request threads at nice {ours}");
        }
        assert!(
            workers
                .run(|| std::thread::current().name().map(str::to_owned))
                .await
                .unwrap()
                .unwrap()
                .starts_with("password-")
        );
    }

    #[test]
    fn cost_is_bounded() {
        assert!(BcryptHasher::new(3).is_err());
        assert!(BcryptHasher::new(32).is_err());
    }
}
