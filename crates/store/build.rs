//! `embed_migrations!` reads `migrations/` at compile time, but Cargo does not know that: without
//! this, a new migration is left out of the binary until something else rebuilds the crate.
fn main() {
    #[expect(clippy::print_stdout, reason = "a build script talks to Cargo on stdout")]
    {
        println!("cargo:rerun-if-changed=../../migrations");
    }
}
