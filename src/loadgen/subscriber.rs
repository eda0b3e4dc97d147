//! WebSocket subscribers (`--subscribe`): one per account on `account.orderUpdate`, timing each
//! placement's `orderAccepted` event from the placement's scheduled send time (the event's
//! `c`, the clientId, names the request), and one per market on `depth.<sym>` and
//! `trade.<sym>`, checking that every depth message's `U` is the previous `u` + 1 and that trade
//! ids only grow.
//!
//! The client is the few lines of RFC 6455 a subscriber needs (the upgrade, masked Text frames
//! out, Text/Ping/Close frames in) rather than a WebSocket crate in the binary: the server's
//! frames are plain and unfragmented, and reading them here keeps the read time exact.

use super::connection::RunClock;
use super::http;
use super::schedule::Schedule;
use super::sign::{self, Account};
use super::stats::{FLUSH_INTERVAL, Stats};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Largest frame a subscriber accepts (the server's own limit).
const FRAME_BYTES_MAX: usize = 1 << 16;

/// What a subscriber follows.
#[derive(Clone, Copy)]
pub enum Follow<'a> {
    /// An account's order updates.
    Orders(&'a Account),
    /// A market's realtime depth and its trades.
    Market(&'a str),
}

/// An upgraded connection.
pub struct Subscriber {
    stream: TcpStream,
    /// Bytes read and not yet taken as frames.
    pending: Vec<u8>,
}

impl Subscriber {
    /// Connects, upgrades and subscribes.
    pub fn connect(target: &str, follow: Follow) -> io::Result<Subscriber> {
        let mut stream = http::connect(target)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let handshake = format!(
            "GET / HTTP/1.1\r\nHost: {target}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(handshake.as_bytes())?;
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte)?;
            head.push(byte[0]);
        }
        if !head.starts_with(b"HTTP/1.1 101 ") {
            let line = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
            return Err(io::Error::other(format!("WebSocket upgrade refused: {line}")));
        }
        let text = match follow {
            Follow::Orders(account) => format!(
                r#"{{"method":"SUBSCRIBE","params":["account.orderUpdate"],"signature":{}}}"#,
                sign::subscribe_signature(account, super::setup::wall_ms(), 60_000)
            ),
            Follow::Market(symbol) => {
                format!(r#"{{"method":"SUBSCRIBE","params":["depth.{symbol}","trade.{symbol}"]}}"#)
            }
        };
        stream.write_all(&client_frame(0x1, text.as_bytes()))?;
        Ok(Subscriber { stream, pending: Vec::new() })
    }

    /// Reads frames until `stop`, recording into `stats`: event latencies (for order updates)
    /// or depth and trade messages and their sequence faults.
    pub fn follow(
        mut self,
        schedule: &Schedule,
        clock: RunClock,
        client_id_base: u32,
        stats: &Mutex<Stats>,
        stop: &AtomicBool,
    ) {
        let _ = self.stream.set_read_timeout(Some(Duration::from_millis(20)));
        let mut local = Stats::new();
        let mut last = LastSeen::default();
        let mut last_flush = Instant::now();
        let mut buffer = vec![0u8; 1 << 16];
        let mut closed = false;
        while !closed && !stop.load(Ordering::Acquire) {
            let read = match self.stream.read(&mut buffer) {
                Ok(0) => {
                    local.errors.push("a subscriber's connection closed".into());
                    break;
                }
                Ok(read) => read,
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    0
                }
                Err(error) => {
                    local.errors.push(format!("a subscriber: {error}"));
                    break;
                }
            };
            let read_ns = clock.ns_at(Instant::now());
            self.pending.extend_from_slice(&buffer[..read]);
            while let Some((opcode, payload)) = take_frame(&mut self.pending) {
                match opcode {
                    0x1 => on_message(
                        &payload,
                        schedule,
                        client_id_base,
                        read_ns,
                        &mut last,
                        &mut local,
                    ),
                    0x9 => {
                        let _ = self.stream.write_all(&client_frame(0xA, &payload));
                    }
                    0x8 => {
                        stop_reading(&mut local, "the server closed a subscription");
                        closed = true;
                    }
                    _ => {}
                }
            }
            if last_flush.elapsed() >= FLUSH_INTERVAL {
                stats.lock().expect("stats lock").merge_from(&mut local);
                last_flush = Instant::now();
            }
        }
        let _ = self.stream.write_all(&client_frame(0x8, &1000u16.to_be_bytes()));
        stats.lock().expect("stats lock").merge_from(&mut local);
    }
}

fn stop_reading(local: &mut Stats, why: &str) {
    if !local.errors.iter().any(|error| error == why) {
        local.errors.push(why.to_string());
    }
}

/// The last depth update id and trade id a market subscriber read.
#[derive(Default)]
struct LastSeen {
    depth_u: Option<u64>,
    trade_id: Option<u64>,
}

/// Takes one stream message into `local`.
fn on_message(
    payload: &[u8],
    schedule: &Schedule,
    client_id_base: u32,
    read_ns: u64,
    last: &mut LastSeen,
    local: &mut Stats,
) {
    let Ok(message) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return stop_reading(local, "a subscriber read a frame that is not JSON");
    };
    let data = &message["data"];
    match data["e"].as_str() {
        Some("orderAccepted") => {
            let Some(client_id) = data["c"].as_u64() else { return };
            let Some(index) = client_id.checked_sub(u64::from(client_id_base) + 1) else { return };
            if index < schedule.count() && schedule.is_recorded(index) {
                local.record_event(schedule.send_time_ns(index), read_ns);
            }
        }
        Some("depth") => {
            let (Some(first), Some(last_u)) = (data["U"].as_u64(), data["u"].as_u64()) else {
                return stop_reading(local, "a depth message without U and u");
            };
            local.depth_messages += 1;
            if last.depth_u.is_some_and(|previous| first != previous + 1) {
                local.depth_gaps += 1;
            }
            last.depth_u = Some(last_u);
        }
        Some("trade") => {
            let Some(trade_id) = data["t"].as_u64() else {
                return stop_reading(local, "a trade message without t");
            };
            local.trade_messages += 1;
            if last.trade_id.is_some_and(|previous| trade_id <= previous) {
                local.trade_disorders += 1;
            }
            last.trade_id = Some(trade_id);
        }
        _ => {
            if message.get("error").is_some() {
                stop_reading(local, &format!("a subscription was refused: {message}"));
            }
        }
    }
}

/// A masked client frame (FIN set).
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x5A, 0x17, 0xC3, 0x81];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        0..=125 => frame.push(0x80 | payload.len() as u8),
        126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(at, byte)| byte ^ mask[at % 4]));
    frame
}

/// Takes the first whole server frame out of `pending`: (opcode, payload). A frame over
/// [`FRAME_BYTES_MAX`] is taken as a Close.
pub fn take_frame(pending: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    if pending.len() < 2 {
        return None;
    }
    let (length, header) = match pending[1] & 0x7F {
        126 if pending.len() >= 4 => (u16::from_be_bytes([pending[2], pending[3]]) as usize, 4),
        127 if pending.len() >= 10 => {
            let bytes: [u8; 8] = pending[2..10].try_into().expect("eight bytes");
            (u64::from_be_bytes(bytes) as usize, 10)
        }
        126 | 127 => return None,
        short => (short as usize, 2),
    };
    if length > FRAME_BYTES_MAX {
        pending.clear();
        return Some((0x8, Vec::new()));
    }
    if pending.len() < header + length {
        return None;
    }
    let opcode = pending[0] & 0x0F;
    let payload = pending[header..header + length].to_vec();
    pending.drain(..header + length);
    Some((opcode, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::schedule::Phase;

    fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = client_frame(opcode, payload);
        // Unmask: a server frame has no mask.
        let header = if payload.len() < 126 { 2 } else { 4 };
        let mask: [u8; 4] = frame[header..header + 4].try_into().unwrap();
        frame[1] &= 0x7F;
        let body: Vec<u8> =
            frame[header + 4..].iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
        frame.truncate(header);
        frame.extend(body);
        frame
    }

    #[test]
    fn frames_are_taken_whole_in_order() {
        let long = vec![b'x'; 300];
        let mut pending = server_frame(0x1, b"hello");
        pending.extend(server_frame(0x9, b""));
        pending.extend(server_frame(0x1, &long));
        let whole = pending.clone();
        pending.truncate(whole.len() - 1);
        assert_eq!(take_frame(&mut pending), Some((0x1, b"hello".to_vec())));
        assert_eq!(take_frame(&mut pending), Some((0x9, Vec::new())));
        assert_eq!(take_frame(&mut pending), None, "the last frame is one byte short");
        pending.push(b'x');
        assert_eq!(take_frame(&mut pending), Some((0x1, long)));
        assert!(pending.is_empty());
    }

    #[test]
    fn order_events_time_their_placement_and_depth_gaps_are_counted() {
        let schedule = Schedule::new(&[Phase::steady("s", 1000.0, 1.0)]);
        let mut stats = Stats::new();
        let mut seen = LastSeen::default();
        let event = |c: u64| {
            format!(r#"{{"stream":"account.orderUpdate","data":{{"e":"orderAccepted","c":{c}}}}}"#)
        };
        // clientId 101 with base 100 is request 0, due at 0; request 10 is due at 10 ms.
        on_message(event(101).as_bytes(), &schedule, 100, 2_000_000, &mut seen, &mut stats);
        on_message(event(111).as_bytes(), &schedule, 100, 12_500_000, &mut seen, &mut stats);
        on_message(event(7).as_bytes(), &schedule, 100, 1, &mut seen, &mut stats);
        assert_eq!(stats.event_ns.len(), 2);
        assert!(stats.event_ns.max() >= 2_400_000 && stats.event_ns.max() <= 2_600_000);
        let depth = |first: u64, last: u64| {
            format!(
                r#"{{"stream":"depth.SOL_USDC","data":{{"e":"depth","U":{first},"u":{last}}}}}"#
            )
        };
        for (first, last) in [(5, 5), (6, 8), (9, 9), (11, 11), (12, 12)] {
            on_message(depth(first, last).as_bytes(), &schedule, 0, 0, &mut seen, &mut stats);
        }
        assert_eq!((stats.depth_messages, stats.depth_gaps), (5, 1));
        let trade =
            |id: u64| format!(r#"{{"stream":"trade.SOL_USDC","data":{{"e":"trade","t":{id}}}}}"#);
        for id in [3, 4, 9, 9, 2, 10] {
            on_message(trade(id).as_bytes(), &schedule, 0, 0, &mut seen, &mut stats);
        }
        assert_eq!((stats.trade_messages, stats.trade_disorders), (6, 2));
    }
}
