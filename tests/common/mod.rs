//! Starting the real server on a free loopback port, for the integration tests.

#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ringex::config::Config;
use ringex::journal::stage::Durability;
use ringex::matcher::Matcher;
use ringex::net::stage::NetInOptions;
use ringex::netout::view::ViewLimits;
use ringex::pipeline::{Server, ServerOptions};
use ringex::ring::WaitMode;
use ringex::sequencer::SequencerLimits;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, unique directory under the system temp dir (removed by [`TestDir::drop`]).
pub struct TestDir(pub PathBuf);

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("ringex-{name}-{}-{unique}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TestDir(path)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Options for a test server: port 0, two verify threads, the `auto` wait strategy, sync
/// durability, the development administrator, small tables.
pub fn options(data_dir: PathBuf) -> ServerOptions {
    ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        config: Arc::new(Config::embedded_default()),
        verify_threads: 2,
        wait: WaitMode::Auto,
        pin: Vec::new(),
        durability: Durability::Sync,
        admin_key: ringex::verify::dev_admin_key(),
        net_in: NetInOptions { connections_max: 64, ..NetInOptions::default() },
        sequencer: SequencerLimits { replay_entries_max: 1 << 16, ..SequencerLimits::default() },
        view: ViewLimits {
            fills_max: 1 << 14,
            orders_max: 1 << 14,
            deposits_max: 1 << 12,
            withdrawals_max: 1 << 12,
            trades_per_market_max: 1 << 12,
        },
        segment_bytes_max: 1 << 20,
    }
}

pub struct TestServer {
    pub server: Server,
    pub address: SocketAddr,
    pub base_url: String,
}

impl TestServer {
    pub fn start(options: ServerOptions) -> TestServer {
        let server = Server::start(options).expect("the server starts");
        let address = server.local_addr();
        TestServer { server, address, base_url: format!("http://{address}") }
    }

    /// Stops it (draining and syncing) and returns the engine as it stopped.
    pub fn stop(self) -> Matcher {
        self.server.stop().expect("a clean stop")
    }
}

/// The development administrator's secret, base64, as a client takes it.
pub fn admin_secret() -> String {
    STANDARD.encode(ringex::verify::DEV_ADMIN_SEED)
}

/// A deterministic user secret.
pub fn user_secret(seed: u8) -> String {
    STANDARD.encode([seed; 32])
}

/// The public key (base64) of a secret.
pub fn public_key(secret: &str) -> String {
    let seed: [u8; 32] = STANDARD.decode(secret).unwrap().try_into().unwrap();
    STANDARD.encode(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().as_bytes())
}

/// One raw HTTP exchange on a fresh connection: returns status and body.
pub fn raw_request(address: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(request).unwrap();
    read_response(&mut stream)
}

/// Reads one HTTP response (Content-Length framed) from `stream`.
pub fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                let body = String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).to_string();
                return (status, body);
            }
        }
        let read = stream.read(&mut chunk).unwrap();
        assert!(
            read > 0,
            "connection closed before a whole response: {}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.extend_from_slice(&chunk[..read]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}
