//! Gives the programs the version of Tokio they are built with
//! (ASYNCTRACE_TOKIO_VERSION), read from Cargo.lock, which cargo has
//! resolved before it builds this script; "unknown" where it cannot tell.

use std::{env, fs, path::Path};

fn main() {
    let lock = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let version = fs::read_to_string(&lock)
        .ok()
        .and_then(|s| {
            let mut lines = s.lines();
            while let Some(l) = lines.next() {
                if l.trim() == "name = \"tokio\"" {
                    return lines.next().and_then(|v| v.trim().strip_prefix("version = \"")).map(|v| v.trim_end_matches('"').to_string());
                }
            }
            None
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=ASYNCTRACE_TOKIO_VERSION={version}");
}
