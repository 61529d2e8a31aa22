//! What every handler can reach.

use workbench_store::Database;
use workbench_tasks::TaskService;
use workbench_users::{AuthService, OAuthService, TwoFactorService, UserService};

use crate::idempotency::Idempotency;

/// The services and handles shared by all workers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub auth: AuthService,
    pub oauth: OAuthService,
    pub two_factor: TwoFactorService,
    pub users: UserService,
    pub tasks: TaskService,
    pub idempotency: Idempotency,
    pub db: Database,
    /// Redis, when `REDIS_URL` is set: checked by `/ready`.
    pub redis: Option<deadpool_redis::Pool>,
    /// Where the OAuth callback sends the browser with the tokens, when set.
    pub frontend_url: Option<String>,
}
