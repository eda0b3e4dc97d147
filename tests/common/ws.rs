//! WebSocket clients for the integration tests: a raw one (hand-made frames, for the protocol's
//! edge cases) and helpers around tungstenite's blocking client (for streams).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use tungstenite::{Message, WebSocket};

/// How long a test waits for a frame before it fails (a bound, never a synchronisation).
pub const FRAME_WAIT: Duration = Duration::from_secs(20);

/// A tungstenite client on `address`, upgraded on `path`.
pub fn connect(address: SocketAddr) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(FRAME_WAIT)).unwrap();
    stream.set_nodelay(true).unwrap();
    let (socket, response) = tungstenite::client(format!("ws://{address}/stream"), stream).unwrap();
    assert_eq!(response.status(), 101);
    socket
}

/// The SUBSCRIBE signature of `secret`: `[key, signature, timestamp, window]`.
pub fn subscribe_signature(secret: &str, timestamp_ms: u64, window_ms: u64) -> Value {
    use ed25519_dalek::Signer;
    let seed: [u8; 32] = STANDARD.decode(secret).unwrap().try_into().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let message = format!("instruction=subscribe&timestamp={timestamp_ms}&window={window_ms}");
    json!([
        STANDARD.encode(key.verifying_key().as_bytes()),
        STANDARD.encode(key.sign(message.as_bytes()).to_bytes()),
        timestamp_ms.to_string(),
        window_ms.to_string(),
    ])
}

/// Sends a SUBSCRIBE (or UNSUBSCRIBE) frame.
pub fn send_method(
    socket: &mut WebSocket<TcpStream>,
    method: &str,
    params: &[&str],
    signature: Option<Value>,
) {
    let mut frame = json!({"method": method, "params": params});
    if let Some(signature) = signature {
        frame["signature"] = signature;
    }
    socket.send(Message::text(frame.to_string())).unwrap();
}

/// The next Text frame as JSON (Pings are answered by tungstenite and skipped).
pub fn next_json(socket: &mut WebSocket<TcpStream>) -> Value {
    loop {
        match socket.read().expect("a frame before the wait ends") {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The next message of `stream`, skipping others.
pub fn next_of(socket: &mut WebSocket<TcpStream>, stream: &str) -> Value {
    loop {
        let message = next_json(socket);
        if message["stream"] == stream {
            return message["data"].clone();
        }
    }
}

/// A raw upgraded socket: the handshake done by hand, frames by hand.
pub fn raw_connect(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(FRAME_WAIT)).unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{head}");
    stream
}

/// A client frame: `first` is FIN/RSV/opcode, the payload masked unless `masked` is false.
pub fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let bit = if masked { 0x80 } else { 0 };
    let mut bytes = vec![first];
    match payload.len() {
        0..=125 => bytes.push(bit | payload.len() as u8),
        126..=0xFFFF => {
            bytes.push(bit | 126);
            bytes.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        _ => {
            bytes.push(bit | 127);
            bytes.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
    }
    if masked {
        bytes.extend_from_slice(&mask);
        bytes.extend(payload.iter().enumerate().map(|(index, byte)| byte ^ mask[index % 4]));
    } else {
        bytes.extend_from_slice(payload);
    }
    bytes
}

/// Reads one server frame: (opcode, payload).
pub fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    if let Err(error) = stream.read_exact(&mut head) {
        panic!("reading a frame header: {error}");
    }
    assert_eq!(head[1] & 0x80, 0, "server frames are unmasked");
    let length = match head[1] & 0x7F {
        126 => {
            let mut bytes = [0u8; 2];
            stream.read_exact(&mut bytes).unwrap();
            u16::from_be_bytes(bytes) as usize
        }
        127 => {
            let mut bytes = [0u8; 8];
            stream.read_exact(&mut bytes).unwrap();
            u64::from_be_bytes(bytes) as usize
        }
        short => short as usize,
    };
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).unwrap();
    (head[0] & 0x0F, payload)
}

/// Reads frames until a Close; returns its code.
pub fn read_close_code(stream: &mut TcpStream) -> u16 {
    loop {
        let (opcode, payload) = read_frame(stream);
        if opcode == 0x8 {
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}
