//! Journals written by earlier builds still replay to the identical state, and a journal of a
//! payload version this build does not read is refused by name.
//!
//! `tests/fixtures/journal-v1/` was written by the binary of commit 4f2346c (see its README):
//! today's `ringex replay` must print exactly what that binary's replay printed.

mod common;

use common::TestDir;
use std::path::Path;
use std::process::Command;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/journal-v1");

/// A copy of the fixture's segments in a fresh directory (replay may cut a torn tail in place).
fn fixture_copy(name: &str) -> TestDir {
    let dir = TestDir::new(name);
    std::fs::create_dir_all(&dir.0).unwrap();
    for entry in std::fs::read_dir(Path::new(FIXTURE).join("journal")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.0.join(entry.file_name())).unwrap();
    }
    dir
}

fn replay(dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ringex"))
        .args(["replay", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn a_journal_from_before_the_restructuring_replays_to_the_same_state_hash() {
    let dir = fixture_copy("journal-v1");
    let output = replay(&dir.0);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let expected = std::fs::read_to_string(Path::new(FIXTURE).join("expected.txt")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);
}

#[test]
fn a_journal_of_another_payload_version_is_refused_by_name() {
    let dir = fixture_copy("journal-v2");
    let segment = dir.0.join("00000000000000000001.journal");
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[12..16].copy_from_slice(&2u32.to_le_bytes());
    let checksum = crc32c::crc32c(&bytes[0..36]);
    bytes[36..40].copy_from_slice(&checksum.to_le_bytes());
    std::fs::write(&segment, &bytes).unwrap();
    let output = replay(&dir.0);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("00000000000000000001.journal"), "{stderr}");
    assert!(stderr.contains("journal payload version 2; this build reads version 1"), "{stderr}");
    // Refused, not cut: the segment is untouched.
    assert_eq!(std::fs::read(&segment).unwrap(), bytes);
}
