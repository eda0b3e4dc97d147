//! The ring buffers' loom models, run from `cargo test --release`.
//!
//! loom swaps in its own atomics, so the models need the ring built with `--cfg ringex_loom`; the
//! crate in `tests/loom/` builds `src/ring/` alone that way (see its Cargo.toml for why it is a
//! crate of its own). This test runs that crate's tests with the cargo that runs this one and fails
//! with their output if any model finds an ordering the ring does not survive.

use std::path::Path;
use std::process::Command;

/// The models in `src/ring/loom_tests.rs`; a test that stops being found is a failure too.
const LOOM_MODELS_MIN: usize = 8;

#[test]
fn ring_memory_orderings_hold_under_loom() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["test", "--release", "--lib", "--manifest-path"])
        .arg(manifest_dir.join("tests/loom/Cargo.toml"))
        .env("RUSTFLAGS", "--cfg ringex_loom")
        .env("CARGO_TARGET_DIR", manifest_dir.join("target/loom"))
        .output()
        .expect("running cargo for the loom models");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "loom models failed:\n{stdout}\n{stderr}");
    let passed = stdout
        .lines()
        .find_map(|line| line.strip_prefix("test result: ok. "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no test summary in the loom run:\n{stdout}\n{stderr}"));
    assert!(passed >= LOOM_MODELS_MIN, "only {passed} loom models ran:\n{stdout}");
}
