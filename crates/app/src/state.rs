//! What every handler can reach.

use workbench_store::Database;
use workbench_tasks::TaskService;
use workbench_users::{AuthService, UserService};

use crate::idempotency::Idempotency;

/// The services and handles shared by all workers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub auth: AuthService,
    pub users: UserService,
    pub tasks: TaskService,
    pub idempotency: Idempotency,
    pub db: Database,
    /// Redis, when `REDIS_URL` is set: checked by `/ready`.
    pub redis: Option<deadpool_redis::Pool>,
}
