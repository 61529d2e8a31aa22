//! `embed_migrations!` reads `migrations/` at compile time, but Cargo does not know that: without
//! this, a new migration is left out of the binary until something else rebuilds the crate.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
