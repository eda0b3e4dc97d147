//! The WebSocket wire pieces both net stages speak (RFC 6455): opcodes and limits, the server's
//! frames (net-out writes them; net-in decodes the client's, `net::websocket`), and the
//! `101 Switching Protocols` answer.
//!
//! Server frames are written straight into a connection's outbox (`Vec<u8>` with its capacity
//! reserved up front), header then payload, so a message is never built twice.

/// Largest frame payload and largest assembled message, in bytes.
pub const MESSAGE_BYTES_MAX: usize = 64 << 10;

/// Largest control frame payload (RFC 6455 §5.5).
pub const CONTROL_PAYLOAD_MAX: usize = 125;

/// A frame's opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// The next piece of a fragmented message.
    Continuation,
    /// A UTF-8 text message (or its first piece).
    Text,
    /// A binary message (or its first piece).
    Binary,
    /// Close, with an optional code and reason.
    Close,
    /// Ping: answered with a Pong carrying the same payload.
    Ping,
    /// Pong: the answer to our Ping.
    Pong,
}

impl Opcode {
    /// The opcode of a frame's low four bits.
    pub fn of(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    /// The frame's low four bits.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Close, Ping or Pong.
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// Bytes a server frame of `payload_len` bytes takes.
#[cfg(test)]
fn encoded_len(payload_len: usize) -> usize {
    payload_len
        + match payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        }
}

/// Appends the header of one unmasked, final server frame whose payload of `payload_len` bytes
/// the caller appends next.
pub fn push_header(out: &mut Vec<u8>, opcode: Opcode, payload_len: usize) {
    out.push(0x80 | opcode.bits());
    match payload_len {
        0..=125 => out.push(payload_len as u8),
        126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(payload_len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(payload_len as u64).to_be_bytes());
        }
    }
}

/// Appends one unmasked, final server frame.
pub fn push_frame(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8]) {
    push_header(out, opcode, payload.len());
    out.extend_from_slice(payload);
}

/// Appends a Close frame with `code` and `reason` (≤ 123 bytes).
pub fn push_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    assert!(reason.len() <= CONTROL_PAYLOAD_MAX - 2);
    push_header(out, Opcode::Close, 2 + reason.len());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason.as_bytes());
}

/// Appends the `101 Switching Protocols` answer carrying `Sec-WebSocket-Accept`. No extensions:
/// permessage-deflate is declined by omission.
pub fn push_upgrade_response(out: &mut Vec<u8>, accept: &[u8]) {
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept);
    out.extend_from_slice(b"\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upgrade_answer_carries_the_accept_key() {
        let mut out = Vec::new();
        push_upgrade_response(&mut out, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn server_frames_are_unmasked_and_final() {
        for length in [0, 125, 126, 0xFFFF, 70_000] {
            let payload = vec![b'a'; length];
            let mut out = Vec::new();
            push_frame(&mut out, Opcode::Text, &payload);
            assert_eq!(out.len(), encoded_len(length));
            assert_eq!(out[0], 0x81);
            assert_eq!(out[1] & 0x80, 0, "server frames are not masked");
            assert_eq!(&out[out.len() - length..], &payload[..]);
        }
        let mut out = Vec::new();
        push_close(&mut out, 1008, "slow consumer");
        assert_eq!(&out[..], b"\x88\x0f\x03\xf0slow consumer");
    }
}
