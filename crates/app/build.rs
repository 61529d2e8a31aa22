//! How the release binary is linked: its code laid out so that an idle server holds little of it.
//!
//! A process's resident memory counts every page of its binary it has touched, and the kernel
//! maps up to 64 KiB around each page a fault touches. Laid out by crate, the ~7 MiB of code a
//! server runs at start is spread over the whole 56 MiB of `.text`, and an idle server held 26.6
//! MiB of it. `link-order.txt` (written by `scripts/link-order.sh` from a run under callgrind)
//! lists those functions, then the ones a first walk through the API runs; lld places them side by
//! side (`--symbol-ordering-file`, names it does not find are skipped). Relative relocations are
//! packed (`-z pack-relative-relocs`, glibc 2.36 and later): the 3.4 MiB table the loader read at
//! every start becomes a few kilobytes.
//!
//! Only for release builds linked by the lld that rustup's toolchains bring for
//! `x86_64-unknown-linux-gnu` (the default since Rust 1.90): another linker may not know the
//! options. `WORKBENCH_LINK_ORDER=0` turns it off.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-env-changed=WORKBENCH_LINK_ORDER");
    if env::var("PROFILE").as_deref() != Ok("release")
        || env::var("WORKBENCH_LINK_ORDER").as_deref() == Ok("0")
        || !links_with_bundled_lld()
    {
        return;
    }
    let order = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("link-order.txt");
    for arg in [
        format!("-Wl,--symbol-ordering-file={}", order.display()),
        "-Wl,--no-warn-symbol-ordering".to_owned(),
        "-Wl,-z,pack-relative-relocs".to_owned(),
    ] {
        println!("cargo:rustc-link-arg-bin=workbench={arg}");
    }
}

/// Whether rustc links this build with the lld of its own toolchain: the target is
/// `x86_64-unknown-linux-gnu`, the toolchain has it, and neither a linker nor linker features are
/// chosen in the configuration (which would also show in the flags or in `RUSTC_LINKER`).
fn links_with_bundled_lld() -> bool {
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") || env::var_os("RUSTC_LINKER").is_some() {
        return false;
    }
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if ["linker", "fuse-ld", "link-self-contained"].iter().any(|chosen| flags.contains(chosen)) {
        return false;
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let Ok(output) = Command::new(rustc).args(["--print", "sysroot"]).output() else { return false };
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Path::new(&sysroot).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld/ld.lld").exists()
}
