//! Starting the real server on a free loopback port, for the integration tests.

#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ringex::config::Config;
use ringex::durability::Durability;
use ringex::matcher::Matcher;
use ringex::net::stage::NetInOptions;
use ringex::netout::view::ViewLimits;
use ringex::pipeline::{LayoutMode, Server, ServerOptions};
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

/// The layout every test server runs: `auto` (the machine's choice), or what
/// `RINGEX_TEST_LAYOUT` names (`split`, `fused`), to run the whole suite in another layout.
pub fn layout_from_env() -> LayoutMode {
    match std::env::var("RINGEX_TEST_LAYOUT") {
        Ok(name) => name.parse().expect("RINGEX_TEST_LAYOUT: auto, split or fused"),
        Err(_) => LayoutMode::Auto,
    }
}

/// Options for a test server: port 0, the layout's verify threads, the `auto` wait strategy,
/// sync durability, the development administrator, small tables.
pub fn options(data_dir: PathBuf) -> ServerOptions {
    ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        config: Arc::new(Config::embedded_default()),
        verify_threads: None,
        layout: layout_from_env(),
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
        clocks: ringex::clock::StageClocks::REAL,
        connection: ringex::connections::ConnectionOptions {
            ws_close_grace_ms: 500,
            ..ringex::connections::ConnectionOptions::default()
        },
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

/// Reads exactly one HTTP response (Content-Length framed) from `stream`, never past its end, so
/// pipelined responses can be read one after another.
pub fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = stream.read(&mut byte).unwrap();
        assert!(
            read > 0,
            "connection closed before a whole response: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let length = content_length(&head).unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, String::from_utf8_lossy(&body).to_string())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A signed request's bytes, signed the way Backpack's clients sign: the instruction, the query
/// pairs sorted, the body's top-level keys sorted with their raw values (strings unquoted), then
/// timestamp and window. Written independently of ringex's own verifier.
pub struct Signed<'a> {
    pub secret: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub instruction: &'a str,
    pub body: Option<serde_json::Value>,
    pub timestamp_ms: u64,
    pub window_ms: Option<u64>,
}

impl Signed<'_> {
    pub fn signing_string(&self) -> String {
        let mut text = format!("instruction={}", self.instruction);
        let mut query: Vec<(&str, &str)> = self
            .query
            .split('&')
            .filter(|piece| !piece.is_empty())
            .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
            .collect();
        query.sort();
        for (key, value) in query {
            text.push_str(&format!("&{key}={value}"));
        }
        if let Some(serde_json::Value::Object(map)) = &self.body {
            let mut pairs: Vec<(&String, String)> = map
                .iter()
                .map(|(key, value)| (key, value.to_string().trim_matches('"').to_string()))
                .collect();
            pairs.sort();
            for (key, value) in pairs {
                text.push_str(&format!("&{key}={value}"));
            }
        }
        text.push_str(&format!(
            "&timestamp={}&window={}",
            self.timestamp_ms,
            self.window_ms.unwrap_or(5000)
        ));
        text
    }

    /// The HTTP request, with an optional override of the signature and extra headers.
    pub fn request(&self, signature: Option<String>, extra_headers: &str) -> Vec<u8> {
        use ed25519_dalek::Signer;
        let seed: [u8; 32] = STANDARD.decode(self.secret).unwrap().try_into().unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let signature = signature.unwrap_or_else(|| {
            STANDARD.encode(key.sign(self.signing_string().as_bytes()).to_bytes())
        });
        let body = self.body.as_ref().map(|body| body.to_string()).unwrap_or_default();
        let target = if self.query.is_empty() {
            self.path.to_string()
        } else {
            format!("{}?{}", self.path, self.query)
        };
        let window =
            self.window_ms.map(|window| format!("X-Window: {window}\r\n")).unwrap_or_default();
        format!(
            "{} {target} HTTP/1.1\r\nHost: test\r\nX-API-Key: {}\r\nX-Signature: {signature}\r\nX-Timestamp: {}\r\n{window}{extra_headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.method,
            STANDARD.encode(key.verifying_key().as_bytes()),
            self.timestamp_ms,
            body.len()
        )
        .into_bytes()
    }
}

/// The administrator's state as JSON, over a raw socket.
pub fn admin_state(address: SocketAddr) -> serde_json::Value {
    let secret = admin_secret();
    let signed = Signed {
        secret: &secret,
        method: "GET",
        path: "/api/v1/admin/state",
        query: "",
        instruction: "adminStateQuery",
        body: None,
        timestamp_ms: now_ms(),
        window_ms: None,
    };
    let (status, body) = raw_request(address, &signed.request(None, ""));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// An administrator POST (deposit, withdraw, freeze, unfreeze) over a raw socket.
pub fn admin_post(
    address: SocketAddr,
    path: &str,
    instruction: &str,
    body: serde_json::Value,
) -> (u16, String) {
    let request = signed_now(&admin_secret(), "POST", path, "", instruction, Some(body));
    raw_request(address, &request)
}

/// A request signed by `secret` now, with the default window.
pub fn signed_now(
    secret: &str,
    method: &str,
    path: &str,
    query: &str,
    instruction: &str,
    body: Option<serde_json::Value>,
) -> Vec<u8> {
    let timestamp_ms = now_ms();
    Signed { secret, method, path, query, instruction, body, timestamp_ms, window_ms: None }
        .request(None, "")
}

/// A response head's `Content-Length`, if it has one.
pub fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|line| {
        line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
    })
}

/// This process's resident memory (the in-process server's included), bytes.
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// A small xorshift64* generator: seeded, reproducible, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// `options` without the markets' minimum order values, for tests that trade orders worth
/// cents on purpose (a probe of 1.00 × 0.01, a random flow at the minimum quantity).
pub fn small_orders(mut options: ServerOptions) -> ServerOptions {
    options.config = Arc::new((*options.config).clone().without_min_order_values());
    options
}

/// Bytes of journal segments in `dir`.
pub fn journal_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok())
                .filter(|entry| entry.file_name().to_string_lossy().ends_with(".journal"))
                .filter_map(|entry| entry.metadata().ok())
                .map(|meta| meta.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Reads one response: its head (status line and headers) and its body.
pub fn read_head_and_body(stream: &mut TcpStream) -> (String, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed before a whole response");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .map_or(0, |value| value.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

/// A TCP connection to `address` from the local address `from`: on Linux every 127.x.y.z is this
/// host, so a test has as many client addresses as it likes (the server sees `from` as the peer).
pub fn connect_from(from: std::net::Ipv4Addr, address: SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = address else { panic!("an IPv4 server") };
    let socket_address = |ip: std::net::Ipv4Addr, port: u16| {
        // SAFETY: an all-zero `sockaddr_in` is valid; the fields are set below.
        let mut raw: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        raw.sin_family = libc::AF_INET as libc::sa_family_t;
        raw.sin_port = port.to_be();
        raw.sin_addr.s_addr = u32::from(ip).to_be();
        raw
    };
    let (local, remote) = (socket_address(from, 0), socket_address(*to.ip(), to.port()));
    let length = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor owned here (by the `TcpStream` once made, so it
    // is closed on every path), with initialised addresses of the given length.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        if libc::bind(fd, (&raw const local).cast(), length) != 0
            || libc::connect(fd, (&raw const remote).cast(), length) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

pub mod ws;
