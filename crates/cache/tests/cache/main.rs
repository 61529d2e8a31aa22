//! The cache adapters against the ports' contracts, in memory always and on Redis when it is
//! reachable (always under `CI=true`). One test binary, a module per concern: separate binaries
//! would each link the whole crate again.

mod common;

mod answers;
mod catalogue;
mod contract;
mod outage;
