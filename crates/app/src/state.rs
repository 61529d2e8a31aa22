//! What every handler can reach.

use workbench_store::Database;
use workbench_users::{AuthService, UserService};

/// The services and handles shared by all workers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub auth: AuthService,
    pub users: UserService,
    pub db: Database,
}
