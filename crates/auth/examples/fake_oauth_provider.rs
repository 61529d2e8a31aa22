//! Runs the fake Google and GitHub on loopback, for trying the OAuth sign-in by hand:
//!
//! ```sh
//! cargo run -p workbench-auth --features testing --example fake_oauth_provider
//! ```
//!
//! It prints the `OAUTH_*` settings that point Workbench at it, then serves until Ctrl-C.
//! Every sign-in is the default fake person of each provider.

use workbench_auth::testing::FakeProvider;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let fake = FakeProvider::start().await;
    let mut exports = String::new();
    for (name, value) in fake.google_env().into_iter().chain(fake.github_env()) {
        exports.push_str(&format!("export {name}={value}\n"));
    }
    #[expect(clippy::print_stdout, reason = "the settings are this program's output")]
    {
        println!("# fake OAuth provider at {}; point Workbench at it with:\n{exports}", fake.url());
    }
    tokio::signal::ctrl_c().await
}
