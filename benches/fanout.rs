//! WebSocket market data fan-out over loopback: the real server delivering `depth`, `trade` and
//! `bookTicker` of SOL_USDC to 1, 100 and 1,000 subscribers, in frames/s and MB/s, against a
//! plain loop in the same run that writes the same frames to as many loopback sockets, read by
//! the same reader.
//!
//! Run with `cargo bench --bench fanout` (about 80 s on a 2-core machine, once built). Without
//! `--bench` (for example `cargo test --benches`) it runs one short round with two
//! subscribers through the same checks and exits. Env: `RINGEX_BENCH_DIR` picks the directory of
//! the journal (default the system temp dir), removed after each case;
//! `RINGEX_FANOUT_SUBSCRIBERS=100` (comma-separated counts) runs only those cases, for a profiler.
//!
//! **The server** is `ringex::pipeline::Server` as `ringex serve` runs it by default (one verify
//! thread per core, `--wait auto`, `--durability sync`, every signature checked, ringex's own
//! allocator, the default output cap of 4 MiB per subscriber), with the rate limits off and room
//! for every connection. One server per subscriber count, started on a fresh journal.
//!
//! **Subscribers** are raw TCP sockets that upgrade (`GET /ws`), send one SUBSCRIBE for
//! `depth.SOL_USDC`, `trade.SOL_USDC` and `bookTicker.SOL_USDC`, and are then read by one reader
//! thread for all of them (mio, edge-triggered, each ready socket read until it would block into
//! one 256 KiB buffer). The reader parses only frame headers (asserting FIN, unmasked, and a Text
//! opcode for data) and counts frames and bytes (headers included) per socket; it does not look
//! at the JSON. Before timing, orders are placed until every subscriber has seen a frame, so
//! every SUBSCRIBE is in force.
//!
//! **The load** is pre-signed orders (untimed: signed before each run, 60 s window) pipelined
//! over 4 keep-alive REST connections, one thread each, two batches of 32 in flight (the server
//! stops reading a connection at 64 unanswered). Each connection alternates a maker and a taker
//! account: `Ask 0.01 @ 150.00` then `Bid 0.01 @ 150.00`, both limit GTC, so the book stays at
//! one level and nearly every pair makes depth + bookTicker (the maker), trade + depth +
//! bookTicker (the taker): about 2.5 messages per order. Every answer must be 200. The load runs
//! for a fixed 1.5 s (or until the pool of signed orders runs out, which is reported).
//!
//! **The plain loop** (the baseline) gets as many socket pairs from a `TcpListener` in the bench
//! (the writing side with `TCP_NODELAY`, as net-in sets it on the server's sockets), and one
//! thread that cycles through the frames subscriber 0 received from the server in the first
//! round of the case (the same bytes: same sizes, same mix), writing each frame to every socket,
//! one blocking `write` per frame per socket, frame-major (as a naive fan-out would), for the same
//! 1.5 s. The same reader code reads those sockets. For information only, the same loop then
//! runs again with the frames joined into writes of up to 64 KiB ("plain loop, batched"): the
//! same bytes at about the cost of the kernel's loopback copy, the ceiling of any fan-out here.
//!
//! **Timed**, for both sides alike: from the moment the load (or the loop) starts to the last byte
//! any subscriber received, the reader ending after 300 ms without a byte once the load has
//! stopped; frames/s = frames received by all subscribers / that time; MB/s the same for bytes
//! (10^6). So a server backlog drained after the load stops is counted, at its cost in time.
//! Three rounds per subscriber count, server and plain loop alternating round by round, so load
//! from other processes hits both alike. Reported: medians of the rounds, and the ratio of
//! server to plain loop as the median of the rounds' ratios.
//!
//! **Checked** on every run: every subscriber received the same number of frames (a slow
//! subscriber dropped with Close 1008 would not: closes and hang-ups are counted), no frame
//! malformed (the reader panics), every REST answer 200, every plain socket every frame written.
//! Uneven counts, closes and refusals are printed as problems under the summary, and fail the
//! short check.
//!
//! **Printed** per round: orders/s answered, frames per subscriber per order, frames/s and MB/s,
//! the CPU seconds of each server thread and of the bench's own threads (from `/proc`), net-out's
//! and the plain loop's CPU per frame delivered (less sensitive to other load than frames/s), and
//! how much the process RSS and the pipeline threads' heap allocations grew; per subscriber count
//! the medians and the ratios; then the targets' verdicts and, last,
//! `fanout_vs_plain_loop: <ratio>`, the ratio for 100 subscribers. The CPU is named from
//! `/proc/cpuinfo`.
//!
//! No criterion groups, unlike the other benches: a sample is a whole server run with seconds of
//! signed load, so criterion's sampling would take minutes per case; the summary alternates the
//! two sides round by round as the other summaries do.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use mio::{Events, Interest, Poll, Token};
use ringex::alloc::{RingexAllocator, pipeline_heap_allocations};
use ringex::config::Config;
use ringex::connections::ConnectionOptions;
use ringex::durability::Durability;
use ringex::net::stage::NetInOptions;
use ringex::netout::view::ViewLimits;
use ringex::pipeline::{Server, ServerOptions};
use ringex::ring::WaitMode;
use ringex::sequencer::SequencerLimits;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// As `ringex serve` runs.
#[global_allocator]
static ALLOCATOR: RingexAllocator = RingexAllocator;

/// Subscriber counts measured (`--bench`).
const CASES: [usize; 3] = [1, 100, 1_000];
/// The case whose ratio is the last line.
const RATIO_CASE: usize = 100;
/// How long the load (or the plain loop) runs per round.
const RUN: Duration = Duration::from_millis(1_500);
/// Rounds per case, server and plain loop alternating.
const ROUNDS: usize = 3;
/// Without `--bench`: subscribers, run length, rounds.
const CHECK_SUBSCRIBERS: usize = 2;
const CHECK_RUN: Duration = Duration::from_millis(300);
const CHECK_POOL: usize = 20_000;
/// Keep-alive REST connections carrying the load, one thread each.
const REST_CONNECTIONS: usize = 4;
/// Requests per pipelined batch; two batches are in flight per connection (net-in stops reading
/// a connection with 64 unanswered).
const BATCH: usize = 32;
/// Signed orders in the first round's pool; later rounds size theirs from the rate seen.
const FIRST_POOL: usize = 100_000;
/// `X-Window` of every signed request.
const WINDOW_MS: u64 = 60_000;
/// The reader stops after this long without a byte, once the load has stopped.
const IDLE_END: Duration = Duration::from_millis(300);
/// Bytes of subscriber 0's stream kept in the first round, the plain loop's frames.
const CAPTURE_BYTES: usize = 4 << 20;
/// The batched plain loop (for information) writes whole frames up to this many bytes at once.
const PLAIN_BATCH_BYTES: usize = 64 << 10;
/// The targets (the issue's): at least this share of the plain loop, and at least this many
/// frames/s, both for `RATIO_CASE` subscribers.
const TARGET_RATIO: f64 = 0.8;
const TARGET_FRAMES_PER_S: f64 = 1_000_000.0;

const SUBSCRIBE: &[u8] =
    br#"{"method":"SUBSCRIBE","params":["depth.SOL_USDC","trade.SOL_USDC","bookTicker.SOL_USDC"]}"#;
const PRICE: &str = "150.00";
const QUANTITY: &str = "0.01";

// -------------------------------------------------------------------------------------------------
// Signed requests.

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A signing key and its public key in base64.
struct Key {
    signing: SigningKey,
    public: String,
}

impl Key {
    fn from_seed(seed: [u8; 32]) -> Key {
        let signing = SigningKey::from_bytes(&seed);
        let public = STANDARD.encode(signing.verifying_key().as_bytes());
        Key { signing, public }
    }

    /// A signed POST, signed as Backpack's clients sign: the instruction, the body's fields in
    /// key order with raw values (`fields` must be sorted by key), timestamp and window.
    fn post(&self, path: &str, instruction: &str, fields: &[(&str, String, bool)]) -> Vec<u8> {
        let timestamp_ms = now_ms();
        let mut text = format!("instruction={instruction}");
        let mut body = String::from("{");
        for (index, (key, value, quoted)) in fields.iter().enumerate() {
            text.push_str(&format!("&{key}={value}"));
            if index > 0 {
                body.push(',');
            }
            if *quoted {
                body.push_str(&format!(r#""{key}":"{value}""#));
            } else {
                body.push_str(&format!(r#""{key}":{value}"#));
            }
        }
        body.push('}');
        text.push_str(&format!("&timestamp={timestamp_ms}&window={WINDOW_MS}"));
        let signature = STANDARD.encode(self.signing.sign(text.as_bytes()).to_bytes());
        format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nX-API-Key: {}\r\nX-Signature: {signature}\r\n\
             X-Timestamp: {timestamp_ms}\r\nX-Window: {WINDOW_MS}\r\nContent-Type: \
             application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.public,
            body.len()
        )
        .into_bytes()
    }

    fn order(&self, side: &str, client_id: u64) -> Vec<u8> {
        self.post(
            "/api/v1/order",
            "orderExecute",
            &[
                ("clientId", client_id.to_string(), false),
                ("orderType", "Limit".into(), true),
                ("price", PRICE.into(), true),
                ("quantity", QUANTITY.into(), true),
                ("side", side.into(), true),
                ("symbol", "SOL_USDC".into(), true),
            ],
        )
    }
}

/// One REST connection's accounts: the maker sells, the taker buys.
struct Pair {
    maker: Key,
    taker: Key,
}

fn pairs() -> Vec<Pair> {
    (0..REST_CONNECTIONS as u8)
        .map(|index| Pair {
            maker: Key::from_seed([100 + index; 32]),
            taker: Key::from_seed([150 + index; 32]),
        })
        .collect()
}

/// One connection's signed orders, back to back.
#[derive(Default)]
struct Requests {
    bytes: Vec<u8>,
    /// The end of each request in `bytes`.
    ends: Vec<usize>,
}

impl Requests {
    fn push(&mut self, request: &[u8]) {
        self.bytes.extend_from_slice(request);
        self.ends.push(self.bytes.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Requests `from..to`, contiguous.
    fn range(&self, from: usize, to: usize) -> &[u8] {
        let start = if from == 0 { 0 } else { self.ends[from - 1] };
        &self.bytes[start..self.ends[to - 1]]
    }
}

/// Signs `per_connection` orders for each pair (maker, taker, maker, …), client ids from
/// `*next_client_id` on, on two threads.
fn sign_pool(pairs: &[Pair], per_connection: usize, next_client_id: &mut u64) -> Vec<Requests> {
    let first = *next_client_id;
    *next_client_id += (pairs.len() * per_connection) as u64;
    std::thread::scope(|scope| {
        let halves: Vec<_> = pairs
            .chunks(pairs.len().div_ceil(2))
            .enumerate()
            .map(|(half, chunk)| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(offset, pair)| {
                            let connection = half * pairs.len().div_ceil(2) + offset;
                            let base = first + (connection * per_connection) as u64;
                            let mut requests = Requests::default();
                            for index in 0..per_connection {
                                let id = base + index as u64;
                                requests.push(&if index % 2 == 0 {
                                    pair.maker.order("Ask", id)
                                } else {
                                    pair.taker.order("Bid", id)
                                });
                            }
                            requests
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves.into_iter().flat_map(|half| half.join().unwrap()).collect()
    })
}

// -------------------------------------------------------------------------------------------------
// HTTP answers.

/// Reads pipelined HTTP responses (Content-Length framed) off one connection.
struct Responses {
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

impl Responses {
    fn new() -> Responses {
        Responses { buffer: vec![0; 1 << 20], start: 0, end: 0 }
    }

    /// The next response's status and body.
    fn next(&mut self, stream: &mut TcpStream) -> (u16, &[u8]) {
        loop {
            let pending = &self.buffer[self.start..self.end];
            if let Some(head_end) = find(pending, b"\r\n\r\n") {
                let head = &pending[..head_end];
                let lower = head.to_ascii_lowercase();
                let length = find(&lower, b"content-length:").map_or(0, |at| {
                    let digits = &lower[at + 15..];
                    let line = &digits[..find(digits, b"\r\n").unwrap_or(digits.len())];
                    std::str::from_utf8(line).unwrap().trim().parse::<usize>().unwrap()
                });
                let total = head_end + 4 + length;
                if pending.len() >= total {
                    let status = std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap();
                    let body = self.start + head_end + 4..self.start + total;
                    self.start += total;
                    return (status, &self.buffer[body]);
                }
            }
            if self.start > 0 {
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let read = stream.read(&mut self.buffer[self.end..]).expect("read an answer");
            assert!(read > 0, "the server closed a REST connection");
            self.end += read;
        }
    }
}

/// One request and its answer, on a keep-alive connection; panics unless 200.
fn exchange(stream: &mut TcpStream, responses: &mut Responses, request: &[u8]) {
    stream.write_all(request).unwrap();
    let (status, body) = responses.next(stream);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(body));
}

// -------------------------------------------------------------------------------------------------
// The load.

/// What one REST connection sent.
#[derive(Default)]
struct Sent {
    answered: u64,
    refused: u64,
    first_refusal: Option<String>,
    /// Every signed order was sent before the stop.
    exhausted: bool,
    cpu_s: f64,
}

/// Sends `requests` in batches of [`BATCH`], two in flight, until `stop` or the end.
fn drive(stream: &mut TcpStream, requests: &Requests, stop: &AtomicBool) -> Sent {
    let mut responses = Responses::new();
    let mut sent = Sent::default();
    let count = requests.len();
    let mut written = 0; // requests written
    let mut read = 0; // answers read
    let mut in_flight_batches = std::collections::VecDeque::new();
    loop {
        while in_flight_batches.len() < 2 && written < count && !stop.load(Ordering::Relaxed) {
            let end = (written + BATCH).min(count);
            stream.write_all(requests.range(written, end)).unwrap();
            in_flight_batches.push_back(end - written);
            written = end;
        }
        let Some(batch) = in_flight_batches.pop_front() else {
            break;
        };
        for _ in 0..batch {
            let (status, body) = responses.next(stream);
            read += 1;
            if status == 200 {
                sent.answered += 1;
            } else {
                sent.refused += 1;
                sent.first_refusal
                    .get_or_insert_with(|| format!("{status} {}", String::from_utf8_lossy(body)));
            }
        }
    }
    debug_assert_eq!(read, written);
    sent.exhausted = written == count;
    sent.cpu_s = thread_cpu_s();
    sent
}

/// CPU seconds (user + system) of the calling thread.
fn thread_cpu_s() -> f64 {
    // SAFETY: `getrusage` fills the zeroed struct we pass it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

// -------------------------------------------------------------------------------------------------
// The reader.

/// One subscriber socket and its frame parser.
struct Subscriber {
    stream: mio::net::TcpStream,
    /// The frame header read so far (at most 10 bytes: 2 + 8 of length).
    header: [u8; 10],
    header_len: usize,
    /// Payload bytes of the current frame not read yet.
    skip: usize,
    frames: u64,
    bytes: u64,
    pings: u64,
    closes: u64,
    hung_up: bool,
}

impl Subscriber {
    fn new(stream: TcpStream) -> Subscriber {
        stream.set_nonblocking(true).unwrap();
        Subscriber {
            stream: mio::net::TcpStream::from_std(stream),
            header: [0; 10],
            header_len: 0,
            skip: 0,
            frames: 0,
            bytes: 0,
            pings: 0,
            closes: 0,
            hung_up: false,
        }
    }

    /// Counts the frames in `data`, which continues the stream where the last call stopped.
    fn parse(&mut self, mut data: &[u8]) {
        self.bytes += data.len() as u64;
        while !data.is_empty() {
            if self.skip > 0 {
                let take = self.skip.min(data.len());
                self.skip -= take;
                data = &data[take..];
                continue;
            }
            // The common case: a whole header in `data`.
            if self.header_len == 0 && data.len() >= 10 {
                let (needed, length) = match data[1] & 0x7F {
                    126 => (4, u16::from_be_bytes([data[2], data[3]]) as usize),
                    127 => (10, u64::from_be_bytes(data[2..10].try_into().unwrap()) as usize),
                    short => (2, short as usize),
                };
                self.frame(data[0], data[1], length);
                data = &data[needed..];
                continue;
            }
            // A header cut by the end of a read: byte by byte.
            self.header[self.header_len] = data[0];
            self.header_len += 1;
            data = &data[1..];
            if self.header_len < 2 {
                continue;
            }
            let needed = match self.header[1] & 0x7F {
                126 => 4,
                127 => 10,
                _ => 2,
            };
            if self.header_len < needed {
                continue;
            }
            let length = match needed {
                4 => u16::from_be_bytes([self.header[2], self.header[3]]) as usize,
                10 => u64::from_be_bytes(self.header[2..10].try_into().unwrap()) as usize,
                _ => (self.header[1] & 0x7F) as usize,
            };
            self.header_len = 0;
            self.frame(self.header[0], self.header[1], length);
        }
    }

    /// A frame header: checks it and counts the frame; its payload is skipped.
    fn frame(&mut self, first: u8, second: u8, length: usize) {
        assert_eq!(first & 0xF0, 0x80, "FIN set, no reserved bits: {first:#x}");
        assert_eq!(second & 0x80, 0, "server frames are unmasked");
        self.skip = length;
        match first & 0x0F {
            0x1 => self.frames += 1,
            0x8 => self.closes += 1,
            0x9 => self.pings += 1,
            opcode => panic!("unexpected opcode {opcode:#x}"),
        }
    }
}

/// What the reader saw in one run.
#[derive(Default)]
struct Received {
    frames: u64,
    bytes: u64,
    /// The last byte's arrival.
    last: Option<Instant>,
    /// Frames per subscriber, fewest and most.
    frames_min: u64,
    frames_max: u64,
    closes: u64,
    pings: u64,
    hung_up: usize,
    /// Subscriber 0's bytes (up to [`CAPTURE_BYTES`]) when asked for.
    capture: Vec<u8>,
    cpu_s: f64,
}

/// Reads every subscriber until `stopped` is set and nothing has arrived for [`IDLE_END`].
/// Counts start from zero.
fn read_subscribers(
    mut subscribers: Vec<Subscriber>,
    stopped: Arc<AtomicBool>,
    capture: bool,
) -> (Vec<Subscriber>, Received) {
    let mut poll = Poll::new().unwrap();
    for (index, subscriber) in subscribers.iter_mut().enumerate() {
        subscriber.frames = 0;
        subscriber.bytes = 0;
        subscriber.closes = 0;
        subscriber.pings = 0;
        poll.registry().register(&mut subscriber.stream, Token(index), Interest::READABLE).unwrap();
    }
    let mut events = Events::with_capacity(4096);
    let mut buffer = vec![0u8; 256 << 10];
    let mut received = Received::default();
    let mut quiet_since = Instant::now();
    loop {
        match poll.poll(&mut events, Some(Duration::from_millis(10))) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => panic!("reader poll: {error}"),
        }
        let mut any = false;
        for event in events.iter() {
            let index = event.token().0;
            let subscriber = &mut subscribers[index];
            loop {
                match subscriber.stream.read(&mut buffer) {
                    Ok(0) => {
                        subscriber.hung_up = true;
                        break;
                    }
                    Ok(read) => {
                        any = true;
                        subscriber.parse(&buffer[..read]);
                        if capture && index == 0 && received.capture.len() < CAPTURE_BYTES {
                            received.capture.extend_from_slice(&buffer[..read]);
                        }
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        subscriber.hung_up = true;
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        if any {
            received.last = Some(now);
            quiet_since = now;
        } else if stopped.load(Ordering::Acquire) && now - quiet_since >= IDLE_END {
            break;
        }
    }
    for subscriber in &mut subscribers {
        poll.registry().deregister(&mut subscriber.stream).unwrap();
    }
    received.frames = subscribers.iter().map(|subscriber| subscriber.frames).sum();
    received.bytes = subscribers.iter().map(|subscriber| subscriber.bytes).sum();
    received.frames_min = subscribers.iter().map(|subscriber| subscriber.frames).min().unwrap();
    received.frames_max = subscribers.iter().map(|subscriber| subscriber.frames).max().unwrap();
    received.closes = subscribers.iter().map(|subscriber| subscriber.closes).sum();
    received.pings = subscribers.iter().map(|subscriber| subscriber.pings).sum();
    received.hung_up = subscribers.iter().filter(|subscriber| subscriber.hung_up).count();
    received.cpu_s = thread_cpu_s();
    (subscribers, received)
}

fn spawn_reader(
    subscribers: Vec<Subscriber>,
    stopped: &Arc<AtomicBool>,
    capture: bool,
) -> JoinHandle<(Vec<Subscriber>, Received)> {
    let stopped = stopped.clone();
    std::thread::Builder::new()
        .name("bench-reader".into())
        .spawn(move || read_subscribers(subscribers, stopped, capture))
        .unwrap()
}

/// Whole frames at the start of a captured stream (a cut last one is left out).
fn split_frames(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 2 <= stream.len() {
        let (header, length) = match stream[at + 1] & 0x7F {
            126 if at + 4 <= stream.len() => {
                (4, u16::from_be_bytes([stream[at + 2], stream[at + 3]]) as usize)
            }
            127 if at + 10 <= stream.len() => {
                (10, u64::from_be_bytes(stream[at + 2..at + 10].try_into().unwrap()) as usize)
            }
            126 | 127 => break,
            short => (2, short as usize),
        };
        if at + header + length > stream.len() {
            break;
        }
        if stream[at] & 0x0F == 0x1 {
            frames.push(stream[at..at + header + length].to_vec());
        }
        at += header + length;
    }
    frames
}

// -------------------------------------------------------------------------------------------------
// The server side of a case.

fn server_options(data_dir: PathBuf, subscribers: usize) -> ServerOptions {
    ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        config: Arc::new(Config::embedded_default()),
        verify_threads: None,
        layout: ringex::pipeline::LayoutMode::Auto,
        wait: WaitMode::Auto,
        pin: Vec::new(),
        durability: Durability::Sync,
        admin_key: ringex::verify::dev_admin_key(),
        net_in: NetInOptions {
            connections_max: subscribers + REST_CONNECTIONS + 16,
            ..NetInOptions::default()
        },
        sequencer: SequencerLimits::default(),
        view: ViewLimits {
            fills_max: 1 << 16,
            orders_max: 1 << 16,
            deposits_max: 1 << 10,
            withdrawals_max: 1 << 10,
            trades_per_market_max: 1 << 16,
        },
        segment_bytes_max: 64 << 20,
        clocks: ringex::clock::StageClocks::REAL,
        connection: ConnectionOptions::default(),
    }
}

/// A client frame, masked.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xFA, 0x21, 0x3D];
    assert!(payload.len() < 126);
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(index, byte)| byte ^ mask[index % 4]));
    frame
}

/// `count` upgraded, subscribed sockets (all connected and upgraded first, then subscribed).
fn connect_subscribers(address: SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut streams: Vec<TcpStream> = (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(address).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            stream
                .write_all(
                    b"GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: \
                      Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                      Sec-WebSocket-Version: 13\r\n\r\n",
                )
                .unwrap();
            stream
        })
        .collect();
    for stream in &mut streams {
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
    }
    let subscribe = client_frame(SUBSCRIBE);
    for stream in &mut streams {
        stream.write_all(&subscribe).unwrap();
    }
    streams
}

/// `count` loopback socket pairs from a listener of our own: (written, read).
fn plain_pairs(count: usize) -> (Vec<TcpStream>, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    (0..count)
        .map(|_| {
            let client = TcpStream::connect(address).unwrap();
            let (accepted, _) = listener.accept().unwrap();
            accepted.set_nodelay(true).unwrap();
            (accepted, client)
        })
        .unzip()
}

/// CPU seconds (user + system) per thread name of this process, read from `/proc`.
fn threads_cpu_s() -> Vec<(String, f64)> {
    // SAFETY: `sysconf` has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut by_name: Vec<(String, f64)> = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        // After the name: state is field 3; utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let seconds =
            (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / ticks;
        match by_name.iter_mut().find(|(known, _)| *known == name) {
            Some((_, total)) => *total += seconds,
            None => by_name.push((name, seconds)),
        }
    }
    by_name
}

/// The process's resident memory, MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Raises the descriptor limit to its hard maximum (1,000 subscribers need about 4,000).
fn raise_fd_limit() -> u64 {
    // SAFETY: `getrlimit`/`setrlimit` read and write the struct we pass.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur as u64
    }
}

/// One run's figures.
struct Measured {
    frames: u64,
    bytes: u64,
    elapsed: Duration,
    frames_per_subscriber: (u64, u64),
    dropped: String,
}

impl Measured {
    fn of(received: &Received, started: Instant) -> Measured {
        let last = received.last.expect("no frame arrived");
        let dropped = if received.closes + received.hung_up as u64 > 0 {
            format!(", {} Close frames, {} hung up", received.closes, received.hung_up)
        } else {
            String::new()
        };
        Measured {
            frames: received.frames,
            bytes: received.bytes,
            elapsed: last - started,
            frames_per_subscriber: (received.frames_min, received.frames_max),
            dropped,
        }
    }

    fn frames_per_s(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64()
    }

    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64() / 1e6
    }

    fn line(&self) -> String {
        let (min, max) = self.frames_per_subscriber;
        let per = if min == max { format!("{min}") } else { format!("{min}..{max} (UNEVEN)") };
        format!(
            "{:>11.0} frames/s {:>8.1} MB/s  ({} frames, {:.1} MB in {:.3} s; per subscriber {per}{})",
            self.frames_per_s(),
            self.mb_per_s(),
            self.frames,
            self.bytes as f64 / 1e6,
            self.elapsed.as_secs_f64(),
            self.dropped
        )
    }
}

/// One case: a server and `subscribers` subscribers, `rounds` rounds of server and plain loop.
struct Case {
    subscribers: usize,
    server: Vec<Measured>,
    plain: Vec<Measured>,
    batched: Vec<Measured>,
    ratios: Vec<f64>,
    batched_ratios: Vec<f64>,
    /// Orders/s answered in each server run.
    orders_per_s: Vec<f64>,
    problems: Vec<String>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn run_case(subscribers: usize, rounds: usize, run: Duration, first_pool: usize) -> Case {
    let base = std::env::var_os("RINGEX_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("ringex-bench-fanout-{}-{subscribers}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::start(server_options(dir.clone(), subscribers)).expect("server starts");
    let address = server.local_addr();
    let mut case = Case {
        subscribers,
        server: Vec::new(),
        plain: Vec::new(),
        batched: Vec::new(),
        ratios: Vec::new(),
        batched_ratios: Vec::new(),
        orders_per_s: Vec::new(),
        problems: Vec::new(),
    };

    // Accounts.
    let pairs = pairs();
    let admin = Key::from_seed(ringex::verify::DEV_ADMIN_SEED);
    let mut setup = TcpStream::connect(address).unwrap();
    setup.set_nodelay(true).unwrap();
    let mut responses = Responses::new();
    for pair in &pairs {
        for (key, symbol, quantity) in
            [(&pair.maker, "SOL", "1000000"), (&pair.taker, "USDC", "1000000000")]
        {
            let deposit = admin.post(
                "/api/v1/admin/deposit",
                "adminDeposit",
                &[
                    ("account", key.public.clone(), true),
                    ("quantity", quantity.into(), true),
                    ("symbol", symbol.into(), true),
                ],
            );
            exchange(&mut setup, &mut responses, &deposit);
        }
    }

    // Subscribers, until each has seen a frame (so every SUBSCRIBE is in force).
    let mut next_client_id = 1u64;
    let mut readers: Vec<Subscriber> =
        connect_subscribers(address, subscribers).into_iter().map(Subscriber::new).collect();
    for attempt in 0.. {
        let stopped = Arc::new(AtomicBool::new(false));
        let reader = spawn_reader(readers, &stopped, false);
        for (key, side) in [(&pairs[0].maker, "Ask"), (&pairs[0].taker, "Bid")] {
            exchange(&mut setup, &mut responses, &key.order(side, next_client_id));
            next_client_id += 1;
        }
        stopped.store(true, Ordering::Release);
        let received;
        (readers, received) = reader.join().unwrap();
        if received.frames_min > 0 {
            break;
        }
        assert!(attempt < 20, "subscribers still without frames after {attempt} attempts");
    }

    let (mut plain_writers, plain_readers) = plain_pairs(subscribers);
    let mut plain_readers: Vec<Subscriber> =
        plain_readers.into_iter().map(Subscriber::new).collect();
    let mut rest: Vec<TcpStream> = (0..REST_CONNECTIONS)
        .map(|_| {
            let stream = TcpStream::connect(address).unwrap();
            stream.set_nodelay(true).unwrap();
            stream
        })
        .collect();

    let mut per_frame: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut batches: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut pool = first_pool;
    for round in 0..rounds {
        // ---- The server.
        let per_connection = pool.div_ceil(REST_CONNECTIONS).next_multiple_of(2);
        let signing = Instant::now();
        let pool_requests = sign_pool(&pairs, per_connection, &mut next_client_id);
        let signing = signing.elapsed();
        let cpu_before = threads_cpu_s();
        let (rss_before, allocations_before) = (rss_mib(), pipeline_heap_allocations());
        let stopped = Arc::new(AtomicBool::new(false));
        let load_stop = Arc::new(AtomicBool::new(false));
        let reader = spawn_reader(readers, &stopped, round == 0);
        let started = Instant::now();
        let drivers: Vec<_> = rest
            .into_iter()
            .zip(pool_requests)
            .enumerate()
            .map(|(index, (mut stream, requests))| {
                let load_stop = load_stop.clone();
                std::thread::Builder::new()
                    .name(format!("bench-load-{index}"))
                    .spawn(move || {
                        let sent = drive(&mut stream, &requests, &load_stop);
                        (stream, sent)
                    })
                    .unwrap()
            })
            .collect();
        while started.elapsed() < run && !drivers.iter().all(|driver| driver.is_finished()) {
            std::thread::sleep(Duration::from_millis(5));
        }
        load_stop.store(true, Ordering::Relaxed);
        let mut sent = Vec::new();
        rest = Vec::new();
        for driver in drivers {
            let (stream, result) = driver.join().unwrap();
            rest.push(stream);
            sent.push(result);
        }
        let load_elapsed = started.elapsed();
        stopped.store(true, Ordering::Release);
        let received;
        (readers, received) = reader.join().unwrap();
        let cpu_after = threads_cpu_s();
        let (rss_after, allocations_after) = (rss_mib(), pipeline_heap_allocations());
        let answered: u64 = sent.iter().map(|sent| sent.answered).sum();
        let refused: u64 = sent.iter().map(|sent| sent.refused).sum();
        let exhausted = sent.iter().any(|sent| sent.exhausted);
        if refused > 0 {
            let first = sent.iter().find_map(|sent| sent.first_refusal.clone()).unwrap();
            case.problems.push(format!("{refused} orders refused, first: {first}"));
        }
        let measured = Measured::of(&received, started);
        if !measured.dropped.is_empty() || received.frames_min != received.frames_max {
            case.problems.push(format!("round {round}: server{}", measured.line()));
        }
        let orders_per_s = answered as f64 / load_elapsed.as_secs_f64();
        if round == 0 {
            let frames = split_frames(&received.capture);
            assert!(!frames.is_empty(), "nothing captured");
            per_frame = frames.iter().map(|frame| (frame.clone(), 1)).collect();
            batches = batch_frames(&frames);
            let count = |stream: &str| {
                let needle = format!(r#"{{"stream":"{stream}""#);
                frames.iter().filter(|frame| find(frame, needle.as_bytes()).is_some()).count()
            };
            let sizes: usize = frames.iter().map(Vec::len).sum();
            println!(
                "  captured {} frames of subscriber 0 (mean {:.0} bytes): depth {}, trade {}, \
                 bookTicker {}",
                frames.len(),
                sizes as f64 / frames.len() as f64,
                count("depth.SOL_USDC"),
                count("trade.SOL_USDC"),
                count("bookTicker.SOL_USDC")
            );
        }
        println!(
            "  round {round} server: {orders_per_s:.0} orders/s answered ({answered} in {:.3} s{}), \
             {:.2} frames per subscriber per order; signing the pool took {:.2} s",
            load_elapsed.as_secs_f64(),
            if exhausted { ", POOL EXHAUSTED" } else { "" },
            received.frames_min as f64 / answered.max(1) as f64,
            signing.as_secs_f64()
        );
        println!("    {}", measured.line());
        let mut cpu: Vec<(String, f64)> = cpu_after
            .iter()
            .map(|(name, after)| {
                let before =
                    cpu_before.iter().find(|(known, _)| known == name).map_or(0.0, |c| c.1);
                (name.clone(), after - before)
            })
            .filter(|(name, seconds)| *seconds > 0.0 && !name.starts_with("bench-load"))
            .collect();
        cpu.push(("bench-reader".into(), received.cpu_s));
        cpu.push(("bench-load (all)".into(), sent.iter().map(|sent| sent.cpu_s).sum()));
        cpu.sort_by(|a, b| b.1.total_cmp(&a.1));
        let cpu: Vec<String> =
            cpu.iter().map(|(name, seconds)| format!("{name} {seconds:.2}")).collect();
        println!("    CPU s: {}", cpu.join(", "));
        let net_out_cpu_s =
            cpu_after.iter().find(|(name, _)| name == "net-out").map_or(0.0, |c| c.1)
                - cpu_before.iter().find(|(name, _)| name == "net-out").map_or(0.0, |c| c.1);
        println!(
            "    net-out: {:.0} ns of CPU per frame delivered",
            net_out_cpu_s * 1e9 / received.frames.max(1) as f64
        );
        println!(
            "    RSS {rss_before:.0} → {rss_after:.0} MiB; pipeline heap allocations +{}",
            allocations_after - allocations_before
        );
        case.orders_per_s.push(orders_per_s);
        pool = (orders_per_s * run.as_secs_f64() * 1.5).max(8_000.0) as usize;

        // ---- The plain loops: one write per frame per socket (the baseline), then batched.
        let (plain, writers, readers_back) =
            plain_run(plain_writers, plain_readers, &per_frame, run, round, "plain loop");
        let (batched, writers, readers_back) =
            plain_run(writers, readers_back, &batches, run, round, "plain loop, batched");
        (plain_writers, plain_readers) = (writers, readers_back);
        case.ratios.push(measured.frames_per_s() / plain.frames_per_s());
        case.batched_ratios.push(measured.frames_per_s() / batched.frames_per_s());
        case.server.push(measured);
        case.plain.push(plain);
        case.batched.push(batched);
    }
    drop(rest);
    drop(setup);
    let pinged: u64 = readers.iter().map(|subscriber| subscriber.pings).sum();
    if pinged > 0 {
        println!("  ({pinged} Pings received)");
    }
    drop(readers);
    let _ = server.stop();
    let _ = std::fs::remove_dir_all(&dir);
    case
}

/// Consecutive frames joined into writes of at most [`PLAIN_BATCH_BYTES`]: (bytes, frames).
fn batch_frames(frames: &[Vec<u8>]) -> Vec<(Vec<u8>, u64)> {
    let mut batches: Vec<(Vec<u8>, u64)> = vec![(Vec::new(), 0)];
    for frame in frames {
        let last = batches.last_mut().unwrap();
        if last.1 > 0 && last.0.len() + frame.len() > PLAIN_BATCH_BYTES {
            batches.push((Vec::new(), 0));
        }
        let last = batches.last_mut().unwrap();
        last.0.extend_from_slice(frame);
        last.1 += 1;
    }
    batches
}

/// One plain-loop run: cycles through `writes`, each written whole to every socket with one
/// blocking `write_all`, until `run` has passed; the same reader reads the other ends.
fn plain_run(
    mut writers: Vec<TcpStream>,
    readers: Vec<Subscriber>,
    writes: &[(Vec<u8>, u64)],
    run: Duration,
    round: usize,
    name: &str,
) -> (Measured, Vec<TcpStream>, Vec<Subscriber>) {
    let stopped = Arc::new(AtomicBool::new(false));
    let reader = spawn_reader(readers, &stopped, false);
    let started = Instant::now();
    let writer = {
        let writes = writes.to_vec();
        std::thread::Builder::new()
            .name("bench-plain".into())
            .spawn(move || {
                let mut written = 0u64;
                'run: loop {
                    for (bytes, frames) in &writes {
                        for socket in &mut writers {
                            socket.write_all(bytes).unwrap();
                        }
                        written += frames;
                        if started.elapsed() >= run {
                            break 'run;
                        }
                    }
                }
                (writers, written, thread_cpu_s())
            })
            .unwrap()
    };
    let (writers, written, writer_cpu) = writer.join().unwrap();
    stopped.store(true, Ordering::Release);
    let (readers, received) = reader.join().unwrap();
    let measured = Measured::of(&received, started);
    assert_eq!(received.frames_min, written, "every plain socket got every frame");
    assert_eq!(received.frames_max, written, "every plain socket got every frame");
    let mean_write = writes.iter().map(|(bytes, _)| bytes.len()).sum::<usize>() / writes.len();
    println!(
        "  round {round} {name}: {written} frames to each socket, {mean_write} bytes per write"
    );
    println!("    {}", measured.line());
    println!(
        "    CPU s: bench-plain {writer_cpu:.2}, bench-reader {:.2}; the loop: {:.0} ns of CPU per \
         frame delivered",
        received.cpu_s,
        writer_cpu * 1e9 / received.frames.max(1) as f64
    );
    (measured, writers, readers)
}

fn summary_line(case: &Case) -> (f64, f64, f64, f64, f64) {
    let server = median(case.server.iter().map(Measured::frames_per_s).collect());
    let server_mb = median(case.server.iter().map(Measured::mb_per_s).collect());
    let plain = median(case.plain.iter().map(Measured::frames_per_s).collect());
    let plain_mb = median(case.plain.iter().map(Measured::mb_per_s).collect());
    let ratio = median(case.ratios.clone());
    (server, server_mb, plain, plain_mb, ratio)
}

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    let full = arguments.iter().any(|argument| argument == "--bench");
    if arguments.iter().any(|argument| argument == "--list") {
        return;
    }
    let fd_limit = raise_fd_limit();
    let cpu = cpu_name();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "CPU: {cpu} ({cores} cores); descriptor limit {fd_limit}; load average {}",
        load.trim()
    );

    if !full {
        let case = run_case(CHECK_SUBSCRIBERS, 1, CHECK_RUN, CHECK_POOL);
        assert!(case.problems.is_empty(), "{:?}", case.problems);
        println!(
            "checked {} subscribers over {:?} (run with --bench to time 1, 100 and 1,000)",
            CHECK_SUBSCRIBERS, CHECK_RUN
        );
        return;
    }

    // For a profiler: `RINGEX_FANOUT_SUBSCRIBERS=100` runs only the cases named (comma-separated).
    let chosen: Vec<usize> = match std::env::var("RINGEX_FANOUT_SUBSCRIBERS") {
        Ok(list) => list.split(',').map(|count| count.trim().parse().expect("a count")).collect(),
        Err(_) => CASES.to_vec(),
    };
    let mut cases = Vec::new();
    for subscribers in chosen {
        println!();
        println!("== {subscribers} subscribers ==");
        cases.push(run_case(subscribers, ROUNDS, RUN, FIRST_POOL));
    }
    println!();
    println!(
        "== fanout, {cpu}, {cores} cores: medians of {ROUNDS} rounds of {:.1} s, server and plain \
         loop alternating ==",
        RUN.as_secs_f64()
    );
    println!(
        "{:>11} | {:>12} {:>8} | {:>12} {:>8} | {:>6} | {:>12} {:>8} | {:>10} | {:>8}",
        "subscribers",
        "server fr/s",
        "MB/s",
        "plain fr/s",
        "MB/s",
        "ratio",
        "batched fr/s",
        "MB/s",
        "vs batched",
        "orders/s"
    );
    let mut ratio_case = None;
    for case in &cases {
        let (server, server_mb, plain, plain_mb, ratio) = summary_line(case);
        let batched = median(case.batched.iter().map(Measured::frames_per_s).collect());
        let batched_mb = median(case.batched.iter().map(Measured::mb_per_s).collect());
        println!(
            "{:>11} | {server:>12.0} {server_mb:>8.1} | {plain:>12.0} {plain_mb:>8.1} | \
             {ratio:>6.3} | {batched:>12.0} {batched_mb:>8.1} | {:>10.3} | {:>8.0}",
            case.subscribers,
            median(case.batched_ratios.clone()),
            median(case.orders_per_s.clone())
        );
        for problem in &case.problems {
            println!("  problem: {problem}");
        }
        if case.subscribers == RATIO_CASE {
            ratio_case = Some((server, ratio));
        }
    }
    let Some((frames_per_s, ratio)) = ratio_case else {
        return println!("({RATIO_CASE} subscribers not run: no ratio)");
    };
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    println!(
        "target, {RATIO_CASE} subscribers: >= {TARGET_RATIO}x the plain loop: {} ({ratio:.3}); \
         >= {TARGET_FRAMES_PER_S:.0} frames/s: {} ({frames_per_s:.0})",
        verdict(ratio >= TARGET_RATIO),
        verdict(frames_per_s >= TARGET_FRAMES_PER_S)
    );
    println!("fanout_vs_plain_loop: {ratio:.3}");
}
