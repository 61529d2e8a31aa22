//! Personal access tokens: their store, the grant cache every instance keeps, and the task that
//! writes when each was last used.

use std::sync::Arc;
use std::time::Duration;

use workbench_cache::SharedGrantCache;
use workbench_core::broadcast::Broadcast;
use workbench_store::{Database, DieselTokenRepository};
use workbench_tokens::TokenService;
use workbench_users::{Authenticator, Reauthentication};

/// How many tokens' grants each instance keeps, and for how long at most: revocations remove them
/// at once; the time to live only bounds what a lost revocation could cost.
const GRANTS_MAX: u64 = 100_000;
const GRANT_TTL: Duration = Duration::from_secs(60);

/// The token service, with its use writer running on this runtime.
pub fn service(
    db: &Database,
    bus: Arc<dyn Broadcast>,
    authenticator: &Authenticator,
    reauthentication: Reauthentication,
) -> TokenService {
    let grants = SharedGrantCache::start(bus, GRANTS_MAX, GRANT_TTL);
    let tokens = TokenService::new(
        Arc::new(DieselTokenRepository::new(db.clone())),
        grants,
        Arc::new(authenticator.clone()),
        reauthentication,
    );
    tokio::spawn(tokens.use_writer());
    tokens
}
