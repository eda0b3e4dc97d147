//! The `ringex` binary: configuration errors exit 2 with one line naming the key, `serve` prints
//! its address and stops cleanly on SIGTERM, `replay` agrees with the live state hash, and a
//! corrupted journal refuses to start (exit 1, segment and offset named) while a torn tail is cut.

mod common;

use common::{TestDir, admin_post, admin_state, public_key, user_secret};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn ringex() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringex"))
}

/// Starts `ringex serve` on a free port; returns the child and its address.
fn serve(data_dir: &Path, extra: &[&str]) -> (Child, SocketAddr) {
    let mut child = ringex()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address =
        line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("{line}"));
    (child, address.parse().unwrap())
}

fn terminate(mut child: Child) -> i32 {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap().code().unwrap()
}

#[test]
fn bad_configuration_and_arguments_exit_2_naming_the_key() {
    let dir = TestDir::new("cli-config");
    std::fs::create_dir_all(&dir.0).unwrap();
    let config = dir.0.join("bad.toml");
    let text = ringex::config::DEFAULT_TOML.replacen(
        "tick_size = \"0.01\"",
        "tick_size = \"0.0000001\"",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let output = ringex().args(["serve", "--config"]).arg(&config).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("markets[0].tick_size"), "{stderr}");
    for arguments in [
        &["serve", "--wait", "sometimes"][..],
        &["serve", "--durability", "maybe"],
        &["serve", "--pin", "x"],
        &["bogus"],
    ] {
        let output = ringex().args(arguments).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
    }
}

#[test]
fn keygen_prints_a_keypair() {
    let output = ringex().arg("keygen").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let secret = text.lines().find_map(|line| line.strip_prefix("secret ")).unwrap();
    let public = text.lines().find_map(|line| line.strip_prefix("public ")).unwrap();
    assert_eq!(public_key(secret), public);
}

#[test]
fn serve_then_replay_agree_and_sigterm_stops_cleanly() {
    let dir = TestDir::new("cli-replay");
    let (child, address) = serve(&dir.0, &[]);
    for seed in [1u8, 2, 3] {
        let body = json!({"account": public_key(&user_secret(seed)), "symbol": "USDC", "quantity": "1000"});
        assert_eq!(admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body).0, 200);
    }
    let live = admin_state(address);
    assert_eq!(terminate(child), 0, "SIGTERM drains, syncs and exits 0");
    let output = ringex().args(["replay", "--data-dir"]).arg(&dir.0).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("records 3"), "{text}");
    assert!(
        text.contains(&format!("state hash {}", live["stateHash"].as_str().unwrap())),
        "{text} vs {live}"
    );
    // And a restart comes back to the same state.
    let (child, address) = serve(&dir.0, &[]);
    assert_eq!(admin_state(address)["stateHash"], live["stateHash"]);
    assert_eq!(terminate(child), 0);
}

#[test]
fn a_corrupted_journal_refuses_to_start_and_a_torn_tail_is_cut() {
    let dir = TestDir::new("cli-corrupt");
    let (child, address) = serve(&dir.0, &[]);
    for seed in [4u8, 5, 6, 7] {
        let body =
            json!({"account": public_key(&user_secret(seed)), "symbol": "SOL", "quantity": "5"});
        assert_eq!(admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body).0, 200);
    }
    assert_eq!(terminate(child), 0);
    let segment = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|extension| extension == "journal"))
        .unwrap();
    let original = std::fs::read(&segment).unwrap();

    // A torn tail (the last record cut short) is cut and reported; the server starts.
    std::fs::write(&segment, &original[..original.len() - 7]).unwrap();
    let (child, address) = serve(&dir.0, &[]);
    assert_eq!(admin_state(address)["accounts"], 3);
    let code = terminate(child);
    assert_eq!(code, 0);

    // A flipped bit in the middle refuses to start, naming the segment and the offset.
    let mut corrupted = original.clone();
    corrupted[original.len() / 2] ^= 0x10;
    std::fs::write(&segment, &corrupted).unwrap();
    let output = ringex()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let name = segment.file_name().unwrap().to_str().unwrap();
    assert!(stderr.contains(name) && stderr.contains("offset"), "{stderr}");
}
