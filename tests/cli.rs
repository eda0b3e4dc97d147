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

/// `ringex serve` on a free port, stdout and stderr piped.
fn serve_command(data_dir: &Path, extra: &[&str]) -> Command {
    let mut command = ringex();
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Starts `ringex serve` on a free port; returns the child and its address.
fn serve(data_dir: &Path, extra: &[&str]) -> (Child, SocketAddr) {
    listening(serve_command(data_dir, extra).spawn().unwrap())
}

/// Waits for a started server's `listening on` line.
fn listening(mut child: Child) -> (Child, SocketAddr) {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address =
        line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("{line}"));
    (child, address.parse().unwrap())
}

fn terminate(child: Child) -> i32 {
    signal(child, libc::SIGTERM)
}

/// Sends `signal` and returns the exit code (a panic if the signal killed the process).
fn signal(mut child: Child, signal: libc::c_int) -> i32 {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    status.code().unwrap_or_else(|| panic!("killed, not stopped: {status:?}"))
}

/// `ringex replay`'s record count for `data_dir`.
fn replayed_records(data_dir: &Path) -> u64 {
    let output = ringex().args(["replay", "--data-dir"]).arg(data_dir).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines().find_map(|line| line.strip_prefix("records ")).unwrap().parse().unwrap()
}

fn deposit(address: SocketAddr, seed: u8) {
    let body =
        json!({"account": public_key(&user_secret(seed)), "symbol": "USDC", "quantity": "1000"});
    assert_eq!(admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body).0, 200);
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
        &["serve", "--layout", "sideways"],
        &["serve", "--durability", "maybe"],
        &["serve", "--pin", "x"],
        &["bogus"],
    ] {
        let output = ringex().args(arguments).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
    }
}

#[test]
fn the_development_key_stays_on_loopback_and_is_warned_about() {
    // Beyond loopback with the public development key: refused before anything starts.
    let output = ringex().args(["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--admin-key"), "{stderr}");
    // With a key of one's own, no warning.
    let dir = TestDir::new("cli-admin-key");
    let admin = public_key(&user_secret(77));
    let (mut child, _) = serve(&dir.0, &["--admin-key", &admin]);
    let stderr = child.stderr.take().unwrap();
    assert_eq!(terminate(child), 0);
    let log = std::io::read_to_string(stderr).unwrap();
    assert!(!log.contains("warning"), "{log}");
}

#[test]
fn a_panicking_stage_ends_the_process_with_exit_1_naming_it() {
    for stage in ["journal", "net-out", "single"] {
        let dir = TestDir::new("cli-panic");
        // `single` exists in that layout only, the others in split.
        let layout = if stage == "single" { "single" } else { "split" };
        let output = serve_command(&dir.0, &["--layout", layout, "--durability", "async"])
            .env(ringex::pipeline::INJECT_PANIC_ENV, stage)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{stage}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let line = format!("ringex: stage {stage} panicked");
        assert!(stderr.lines().any(|text| text.starts_with(&line)), "{stage}: {stderr}");
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
    let (mut child, address) = serve(&dir.0, &["--layout", "split"]);
    let stderr = child.stderr.take().unwrap();
    for seed in [1u8, 2, 3] {
        let body = json!({"account": public_key(&user_secret(seed)), "symbol": "USDC", "quantity": "1000"});
        assert_eq!(admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body).0, 200);
    }
    let live = admin_state(address);
    assert_eq!(terminate(child), 0, "SIGTERM drains, syncs and exits 0");
    let log = std::io::read_to_string(stderr).unwrap();
    assert!(log.lines().any(|line| line.starts_with("ringex: layout split: a thread per stage")));
    assert!(
        log.lines()
            .any(|line| line
                .starts_with("ringex: warning: the administrator is the development key")),
        "{log}"
    );
    let output = ringex().args(["replay", "--data-dir"]).arg(&dir.0).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("records 3"), "{text}");
    assert!(
        text.contains(&format!("state hash {}", live["stateHash"].as_str().unwrap())),
        "{text} vs {live}"
    );
    // And a restart, in each other layout, comes back to the same state.
    for layout in ["fused", "single"] {
        let (child, address) = serve(&dir.0, &["--layout", layout]);
        assert_eq!(admin_state(address)["stateHash"], live["stateHash"], "{layout}");
        assert_eq!(terminate(child), 0, "{layout}");
    }
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

#[test]
fn sigint_stops_cleanly_too() {
    let dir = TestDir::new("cli-sigint");
    let (child, address) = serve(&dir.0, &[]);
    deposit(address, 8);
    assert_eq!(signal(child, libc::SIGINT), 0, "SIGINT drains, syncs and exits 0");
    assert_eq!(replayed_records(&dir.0), 1);
}

#[test]
fn a_signal_during_start_up_replay_stops_cleanly() {
    let dir = TestDir::new("cli-signal-replay");
    let (child, address) = serve(&dir.0, &[]);
    for seed in 10..40 {
        deposit(address, seed);
    }
    assert_eq!(terminate(child), 0);
    for signal_number in [libc::SIGTERM, libc::SIGINT] {
        let mut child = serve_command(&dir.0, &[]).spawn().unwrap();
        // The server says it is about to replay once its handlers are installed: a signal from
        // then on — during the replay or just after it — must stop it cleanly, never kill it.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains("replaying the journal") {
            line.clear();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "no replay line");
        }
        assert_eq!(signal(child, signal_number), 0, "signal {signal_number}");
        assert_eq!(replayed_records(&dir.0), 30, "the journal is intact");
    }
}

/// Starts `ringex serve` with its file size limited to `file_bytes_max` (SIGXFSZ ignored, so a
/// write past it fails with EFBIG instead of killing the process).
fn serve_with_file_size_limit(data_dir: &Path, file_bytes_max: u64) -> (Child, SocketAddr) {
    use std::os::unix::process::CommandExt;
    let mut command = serve_command(data_dir, &[]);
    // SAFETY: between fork and exec the closure only makes two async-signal-safe system calls.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: file_bytes_max, rlim_max: file_bytes_max };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    listening(command.spawn().unwrap())
}

/// Sends a signed deposit and returns its status, or `None` when the connection ended first.
fn try_deposit(address: SocketAddr, index: u32) -> Option<u16> {
    use std::io::{Read, Write};
    let secret = common::admin_secret();
    let signed = common::Signed {
        secret: &secret,
        method: "POST",
        path: "/api/v1/admin/deposit",
        query: "",
        instruction: "adminDeposit",
        body: Some(json!({
            "account": public_key(&user_secret(7)),
            "symbol": "USDC",
            "quantity": format!("{}", index + 1),
        })),
        timestamp_ms: common::now_ms(),
        window_ms: None,
    };
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    stream.write_all(&signed.request(None, "")).ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => return None,
            Err(error) => {
                assert_ne!(error.kind(), std::io::ErrorKind::WouldBlock, "no answer in 60 s");
                return None;
            }
        }
    }
    String::from_utf8_lossy(&head).split_whitespace().nth(1)?.parse().ok()
}

/// Deposits one at a time until the server stops answering; returns the deposits acknowledged,
/// once the server exited 1, and its stderr.
fn deposit_until_the_server_stops((child, address): (Child, SocketAddr)) -> (u64, String) {
    let mut acknowledged = 0u32;
    loop {
        assert!(acknowledged < 1_000, "the server never stopped");
        match try_deposit(address, acknowledged) {
            Some(200) => acknowledged += 1,
            Some(status) => panic!("deposit {acknowledged}: status {status}"),
            None => break,
        }
    }
    assert!(acknowledged > 0, "the server failed at start-up, not in service");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    (u64::from(acknowledged), String::from_utf8(output.stderr).unwrap())
}

/// [`deposit_until_the_server_stops`], then checks the one line naming the failed journal
/// operation, the segment file and `errno`. Returns the deposits acknowledged.
fn deposit_until_the_journal_fails(
    server: (Child, SocketAddr),
    data_dir: &Path,
    what: &str,
    errno: i32,
) -> u64 {
    let (acknowledged, stderr) = deposit_until_the_server_stops(server);
    let reason = stderr.lines().last().unwrap();
    assert!(reason.contains(&format!("journal {what} failed")), "{stderr}");
    assert!(reason.contains(&format!("os error {errno}")), "{stderr}");
    let segment = data_dir.join(ringex::journal::segment_name(ringex::types::SequenceNumber(1)));
    assert!(reason.contains(&segment.display().to_string()), "{stderr}");
    assert_eq!(stderr.lines().filter(|line| line.contains("failed")).count(), 1, "{stderr}");
    acknowledged
}

#[test]
fn a_failed_snapshot_write_stops_acknowledgements_and_leaves_the_journal_whole() {
    let dir = TestDir::new("cli-snapshot-fault");
    let config = snapshot_config(&dir.0, 20);
    let data = dir.0.join("data");
    let mut command = serve_command(&data, &["--config", config.to_str().unwrap()]);
    command.env("RINGEX_INJECT_SNAPSHOT_FAULT", "write-enospc:1");
    let (acknowledged, stderr) =
        deposit_until_the_server_stops(listening(command.spawn().unwrap()));
    let reason = stderr.lines().last().unwrap();
    assert!(reason.contains("snapshot write failed"), "{stderr}");
    assert!(reason.contains(&format!("os error {}", libc::ENOSPC)), "{stderr}");
    // The file named is the snapshot's temporary file, at the record the thread had reached.
    let prefix = format!("{}/", data.display());
    let named = reason.split(&prefix).nth(1).and_then(|rest| rest.split(".tmp:").next());
    let record = named.and_then(ringex::snapshot::file::parse_file_name);
    assert!(record.is_some_and(|record| record.0 >= 20), "{stderr}");
    // The failed snapshot left nothing behind, and every acknowledged deposit is journaled (the
    // snapshot thread only reads the journal).
    let names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|name| !name.contains("snap")), "{names:?}");
    let journaled = replayed_records(&data);
    assert!(journaled >= acknowledged && acknowledged >= 20, "{journaled} < {acknowledged}");
}

#[test]
fn a_failed_journal_write_stops_acknowledgements_and_exits_1() {
    let dir = TestDir::new("cli-efbig");
    // Room for the segment header and a few records: start-up writes only the header (segments
    // are not preallocated), so the limit is hit by a later record's write.
    let server = serve_with_file_size_limit(&dir.0, 2048);
    let acknowledged = deposit_until_the_journal_fails(server, &dir.0, "write", libc::EFBIG);
    // Exactly the acknowledged deposits are in the journal: the one whose write failed was
    // never acknowledged (its partial record is a torn tail, cut on replay).
    assert_eq!(replayed_records(&dir.0), acknowledged);
}

#[test]
fn a_full_disk_or_a_failed_fdatasync_stops_acknowledgements_and_exits_1() {
    // The fault hook of `journal::fault`: the 20th batch write fails with ENOSPC, or the 20th
    // fdatasync with EIO, as a full or failing disk would.
    for (fault, what, errno) in
        [("write-enospc:20", "write", libc::ENOSPC), ("fdatasync-eio:20", "sync", libc::EIO)]
    {
        let dir = TestDir::new(&format!("cli-{what}-fault"));
        let mut command = serve_command(&dir.0, &[]);
        command.env("RINGEX_INJECT_JOURNAL_FAULT", fault);
        let server = listening(command.spawn().unwrap());
        let acknowledged = deposit_until_the_journal_fails(server, &dir.0, what, errno);
        // The acknowledged deposits are a prefix of the journal: a record written but never
        // synced may be there too (the page cache kept it), never one missing.
        let journaled = replayed_records(&dir.0);
        assert!(journaled >= acknowledged, "{fault}: {journaled} < {acknowledged}");
        assert!(journaled <= acknowledged + 1, "{fault}: one deposit in flight at most");
    }
}

/// A configuration file in `dir` that snapshots every `every_records` journal records.
fn snapshot_config(dir: &Path, every_records: u64) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("config.toml");
    let text = ringex::config::DEFAULT_TOML
        .replace("every_records = 1000000", &format!("every_records = {every_records}"));
    std::fs::write(&config, text).unwrap();
    config
}

fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| entries.map(|entry| entry.unwrap().file_name().into_string().unwrap()))
        .map(Iterator::collect)
        .unwrap_or_default()
}

#[test]
fn a_kill_in_the_middle_of_a_snapshot_restarts_from_the_one_before() {
    let dir = TestDir::new("cli-snapshot-kill");
    let config = snapshot_config(&dir.0, 20);
    let config = config.to_str().unwrap();
    let data = dir.0.join("data");
    let mut command = serve_command(&data, &["--config", config]);
    // The second snapshot stops for good once its payload is written: killed there.
    command.env("RINGEX_INJECT_SNAPSHOT_FAULT", "stall:2");
    let (mut child, address) = listening(command.spawn().unwrap());
    let mut acknowledged = 0u32;
    loop {
        let names = names_in(&data);
        let whole = names.iter().filter(|name| name.ends_with(".snap")).count();
        if whole == 1 && names.iter().any(|name| name.ends_with(".snap.tmp")) {
            break;
        }
        assert!(acknowledged < 2_000, "the second snapshot never began: {names:?}");
        assert_eq!(try_deposit(address, acknowledged), Some(200));
        acknowledged += 1;
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    let mut replay = ringex();
    replay.args(["replay", "--data-dir"]).arg(&data).args(["--config", config]);
    let output = replay.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("loaded snapshot"), "{stdout}{stderr}");
    let records = stdout.lines().find_map(|line| line.strip_prefix("records ")).unwrap();
    let records: u32 = records.parse().unwrap();
    assert!(records >= acknowledged, "{records} journaled, {acknowledged} acknowledged");
    let hash = stdout.lines().find_map(|line| line.strip_prefix("state hash ")).unwrap();
    // The restarted server starts from the whole snapshot, reaches the same state, and clears
    // the partial one away.
    let (child, address) = serve(&data, &["--config", config]);
    assert_eq!(common::admin_state(address)["stateHash"], hash);
    assert_eq!(terminate(child), 0);
    assert!(names_in(&data).iter().all(|name| !name.ends_with(".tmp")), "{:?}", names_in(&data));
}

/// Orders each loader places at most: under the open-orders cap of one account.
const LOADER_ORDERS_MAX: u32 = 800;

/// One account placing resting bids, `PIPELINE` at a time, until the server stops answering;
/// sends each acknowledged order id to `acks`.
fn load_until_stopped(address: SocketAddr, seed: u8, acks: std::sync::mpsc::Sender<String>) {
    const PIPELINE: u32 = 16;
    let secret = user_secret(seed);
    let Ok(mut stream) = std::net::TcpStream::connect(address) else { return };
    let mut client_id = 0;
    while client_id < LOADER_ORDERS_MAX {
        let batch: Vec<u8> = (client_id..client_id + PIPELINE)
            .flat_map(|id| {
                let body = json!({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit",
                    "price": format!("{}.00", 50 + id % 40), "quantity": "0.10", "clientId": id});
                common::signed_now(&secret, "POST", "/api/v1/order", "", "orderExecute", Some(body))
            })
            .collect();
        client_id += PIPELINE;
        if std::io::Write::write_all(&mut stream, &batch).is_err() {
            return;
        }
        for _ in 0..PIPELINE {
            let Some((status, body)) = read_response_or_end(&mut stream) else { return };
            assert_eq!(status, 200, "{body}");
            let order: serde_json::Value = serde_json::from_str(&body).unwrap();
            if acks.send(order["id"].as_str().unwrap().to_string()).is_err() {
                return;
            }
        }
    }
}

/// One response, or `None` once the server has closed the connection.
fn read_response_or_end(stream: &mut std::net::TcpStream) -> Option<(u16, String)> {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).ok()?;
    let mut body = vec![0u8; common::content_length(&head).unwrap_or(0)];
    stream.read_exact(&mut body).ok()?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, String::from_utf8(body).ok()?))
}

#[test]
fn sigterm_under_load_exits_0_and_every_acknowledged_order_is_journaled() {
    const LOADERS: u8 = 4;
    /// SIGTERM once this many orders are acknowledged, the loaders still sending.
    const ACKS_BEFORE_SIGTERM: usize = 600;
    let dir = TestDir::new("cli-sigterm-load");
    let (mut child, address) = serve(&dir.0, &["--no-rate-limits"]);
    let stderr = child.stderr.take().unwrap();
    for seed in 71..71 + LOADERS {
        let body = json!({"account": public_key(&user_secret(seed)), "symbol": "USDC",
            "quantity": "100000"});
        assert_eq!(admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body).0, 200);
    }
    let (acks, acknowledged) = std::sync::mpsc::channel();
    let loaders: Vec<_> = (71..71 + LOADERS)
        .map(|seed| {
            let acks = acks.clone();
            std::thread::spawn(move || load_until_stopped(address, seed, acks))
        })
        .collect();
    drop(acks);
    let mut ids: Vec<String> = acknowledged.iter().take(ACKS_BEFORE_SIGTERM).collect();
    assert_eq!(ids.len(), ACKS_BEFORE_SIGTERM, "the loaders stopped early");
    assert_eq!(terminate(child), 0, "SIGTERM under load drains, syncs and exits 0");
    loaders.into_iter().for_each(|loader| loader.join().unwrap());
    ids.extend(acknowledged.iter());
    let log = std::io::read_to_string(stderr).unwrap();
    let live_hash = log
        .lines()
        .find_map(|line| line.strip_prefix("ringex: stopped cleanly; state hash "))
        .unwrap_or_else(|| panic!("{log}"))
        .to_string();
    let output = ringex().args(["replay", "--data-dir"]).arg(&dir.0).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains(&format!("state hash {live_hash}")), "{text} vs {live_hash}");
    // Every acknowledged order is open after a restart, once.
    let (child, address) = serve(&dir.0, &[]);
    let mut open = std::collections::HashSet::new();
    for seed in 71..71 + LOADERS {
        let listing = common::signed_now(
            &user_secret(seed),
            "GET",
            "/api/v1/orders",
            "symbol=SOL_USDC",
            "orderQueryAll",
            None,
        );
        let (status, body) = common::raw_request(address, &listing);
        assert_eq!(status, 200, "{body}");
        let orders: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
        for order in orders {
            assert!(open.insert(order["id"].as_str().unwrap().to_string()), "duplicated");
        }
    }
    let lost: Vec<&String> = ids.iter().filter(|id| !open.contains(*id)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged orders lost: {lost:?}", lost.len(), ids.len());
    println!("{} acknowledged before and during SIGTERM, {} journaled", ids.len(), open.len());
    assert_eq!(terminate(child), 0);
}
