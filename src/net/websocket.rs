//! WebSocket framing (RFC 6455) for net-in: client frames decoded in place in the connection's
//! buffer.
//!
//! Hand-written rather than tungstenite's protocol layer because tungstenite owns the socket and
//! hands out each message as an allocated `Vec`/`String`; net-in reads every connection into one
//! preallocated buffer and must frame without allocating (`tests/server_alloc.rs`). The decoder
//! is pure: bytes in, a [`Frame`] borrowing them (unmasked in place) or a [`Violation`] naming the
//! close code out. [`Message`] assembles data frames into one message under the same limits.
//!
//! Limits and close codes (API.md §9, issue 16): a frame or message over [`MESSAGE_BYTES_MAX`] →
//! 1009; an unmasked frame, reserved bits, an unknown opcode, a fragmented or over-long control
//! frame, a stray continuation or a new message inside another → 1002; text that is not UTF-8 →
//! 1007; a binary message → 1003.
//!
//! The upgrade's key check and `Sec-WebSocket-Accept` (SHA-1, as the RFC requires) are here too;
//! what net-out writes (server frames, the `101` answer) is in `crate::api::websocket`, since
//! both stages speak it.
//!
use crate::api::websocket::{CONTROL_PAYLOAD_MAX, MESSAGE_BYTES_MAX, Opcode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

/// What RFC 6455 §4.2.2 appends to the client's key before hashing it.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Whether a `Sec-WebSocket-Key` is what RFC 6455 asks for: 16 bytes in base64.
pub fn is_valid_key(key: &[u8]) -> bool {
    let mut decoded = [0u8; 18];
    key.len() == 24 && STANDARD.decode_slice(key, &mut decoded) == Ok(16)
}

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let digest = Sha1::new().chain_update(key).chain_update(ACCEPT_GUID).finalize();
    let mut accept = [0u8; 28];
    let written = STANDARD.encode_slice(digest, &mut accept).expect("20 bytes are 28 in base64");
    assert_eq!(written, accept.len());
    accept
}

/// Why the connection must close, with the code the Close frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// 1002: masking, reserved bits, opcode, control frame or continuation rules broken.
    Protocol,
    /// 1003: a binary message (the API speaks text only).
    Unsupported,
    /// 1007: a text message that is not UTF-8.
    InvalidText,
    /// 1009: a frame or message over [`MESSAGE_BYTES_MAX`].
    TooBig,
}

impl Violation {
    /// The close code.
    pub fn code(self) -> u16 {
        match self {
            Violation::Protocol => 1002,
            Violation::Unsupported => 1003,
            Violation::InvalidText => 1007,
            Violation::TooBig => 1009,
        }
    }
}

/// One decoded frame; its payload is unmasked in place.
#[cfg(test)]
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'b> {
    /// Last piece of its message.
    pub fin: bool,
    /// What it is.
    pub opcode: Opcode,
    /// The unmasked payload.
    pub payload: &'b [u8],
    /// Bytes of the buffer the frame took (header and payload).
    pub length: usize,
}

/// A client frame's header, read without touching the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Last piece of its message.
    pub fin: bool,
    /// What it is.
    pub opcode: Opcode,
    /// Bytes of header (mask included): the payload starts here.
    pub header_len: usize,
    /// Bytes of payload.
    pub payload_len: usize,
    /// The client's masking key.
    pub mask: [u8; 4],
}

impl FrameHeader {
    /// Bytes of the buffer the frame takes (header and payload).
    pub fn length(&self) -> usize {
        self.header_len + self.payload_len
    }
}

/// Reads the header of the client frame at the start of `buffer`, once the whole frame has
/// arrived (`Ok(None)` until then). Nothing is modified, so a caller that cannot act on the
/// frame yet (no ring slot free) can leave it where it is and come back. `message_len` is the
/// payload already assembled of a fragmented message: a data frame that would take the message
/// past [`MESSAGE_BYTES_MAX`] is refused as soon as its header is in, before its payload is
/// waited for (so the buffer never has to hold more than one message's worth).
pub fn decode_header(buffer: &[u8], message_len: usize) -> Result<Option<FrameHeader>, Violation> {
    let Some(&[first, second]) = buffer.first_chunk::<2>() else {
        return Ok(None);
    };
    let fin = first & 0x80 != 0;
    if first & 0x70 != 0 {
        return Err(Violation::Protocol);
    }
    let opcode = Opcode::of(first & 0x0F).ok_or(Violation::Protocol)?;
    if second & 0x80 == 0 {
        return Err(Violation::Protocol); // a client's frames are always masked
    }
    let (payload_len, length_len) = match second & 0x7F {
        126 => match buffer.get(2..4) {
            Some(bytes) => (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4),
            None => return Ok(None),
        },
        127 => match buffer.get(2..10) {
            Some(bytes) => (u64::from_be_bytes(bytes.try_into().unwrap()), 10),
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    if opcode.is_control() && (!fin || payload_len > CONTROL_PAYLOAD_MAX as u64) {
        return Err(Violation::Protocol);
    }
    let assembled = if opcode.is_control() { 0 } else { message_len as u64 };
    if assembled + payload_len > MESSAGE_BYTES_MAX as u64 {
        return Err(Violation::TooBig);
    }
    let header = FrameHeader {
        fin,
        opcode,
        header_len: length_len + 4,
        payload_len: payload_len as usize,
        mask: match buffer.get(length_len..length_len + 4) {
            Some(mask) => mask.try_into().unwrap(),
            None => return Ok(None),
        },
    };
    if buffer.len() < header.length() {
        return Ok(None);
    }
    Ok(Some(header))
}

/// Unmasks a client frame's payload in place.
pub fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (index, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[index % 4];
    }
}

/// Decodes the client frame at the start of `buffer`, unmasking its payload in place (the tests'
/// one-call form of [`decode_header`] and [`unmask`]).
#[cfg(test)]
/// `Ok(None)`: not all of it has arrived yet.
pub fn decode(buffer: &mut [u8]) -> Result<Option<Frame<'_>>, Violation> {
    let Some(header) = decode_header(buffer, 0)? else {
        return Ok(None);
    };
    let payload = &mut buffer[header.header_len..header.length()];
    unmask(payload, header.mask);
    Ok(Some(Frame { fin: header.fin, opcode: header.opcode, payload, length: header.length() }))
}

/// The code and reason of a client's Close payload, checked (RFC 6455 §7.4): empty → 1000; one
/// byte, a code no endpoint may send, or a reason that is not UTF-8 → the violation to close with.
pub fn close_code(payload: &[u8]) -> Result<u16, Violation> {
    let Some((code, reason)) = payload.split_first_chunk::<2>() else {
        return if payload.is_empty() { Ok(1000) } else { Err(Violation::Protocol) };
    };
    let code = u16::from_be_bytes(*code);
    let sendable = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
    if !sendable {
        return Err(Violation::Protocol);
    }
    std::str::from_utf8(reason).map_err(|_| Violation::InvalidText)?;
    Ok(code)
}

/// The data message being assembled from a connection's frames.
#[derive(Debug, Default)]
pub struct Message {
    /// Payload bytes so far (`MESSAGE_BYTES_MAX` at most).
    bytes_len: usize,
    /// A fragmented message has started and not ended.
    in_progress: bool,
}

/// What a data frame did to the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More pieces to come.
    Partial,
    /// The message is whole: its bytes (all pieces, in order) are text, checked UTF-8.
    Complete,
}

impl Message {
    /// Takes the data frame `opcode`/`fin` with `payload_len` bytes; `text_so_far` is the whole
    /// message including this frame's payload, for the UTF-8 check once it is complete.
    pub fn take(
        &mut self,
        opcode: Opcode,
        fin: bool,
        payload_len: usize,
        text_so_far: &[u8],
    ) -> Result<Progress, Violation> {
        debug_assert!(!opcode.is_control());
        match (opcode, self.in_progress) {
            (Opcode::Continuation, false) => return Err(Violation::Protocol),
            (Opcode::Text | Opcode::Binary, true) => return Err(Violation::Protocol),
            (Opcode::Binary, false) => return Err(Violation::Unsupported),
            _ => {}
        }
        self.bytes_len += payload_len;
        if self.bytes_len > MESSAGE_BYTES_MAX {
            return Err(Violation::TooBig);
        }
        if !fin {
            self.in_progress = true;
            return Ok(Progress::Partial);
        }
        *self = Message::default();
        std::str::from_utf8(text_so_far).map_err(|_| Violation::InvalidText)?;
        Ok(Progress::Complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame, as a browser or `bpx-api-client` sends it.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xFA, 0x21, 0x3D];
        let mut bytes = vec![first];
        match payload.len() {
            0..=125 => bytes.push(0x80 | payload.len() as u8),
            126..=0xFFFF => {
                bytes.push(0x80 | 126);
                bytes.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            }
            _ => {
                bytes.push(0x80 | 127);
                bytes.extend_from_slice(&(payload.len() as u64).to_be_bytes());
            }
        }
        bytes.extend_from_slice(&mask);
        bytes.extend(payload.iter().enumerate().map(|(index, byte)| byte ^ mask[index % 4]));
        bytes
    }

    #[test]
    fn decodes_masked_frames_of_every_length_form_and_waits_for_the_rest() {
        for length in [0, 5, 125, 126, 1_000, 0xFFFF, 0x10000] {
            let payload: Vec<u8> = (0..length).map(|index| (index % 251) as u8).collect();
            let mut bytes = client_frame(0x81, &payload);
            let total = bytes.len();
            for cut in [0, 1, 2, total - 1] {
                assert_eq!(decode(&mut bytes[..cut].to_vec()), Ok(None), "{length} cut at {cut}");
            }
            bytes.extend_from_slice(b"next frame");
            let frame = decode(&mut bytes).unwrap().unwrap();
            assert_eq!((frame.fin, frame.opcode, frame.length), (true, Opcode::Text, total));
            assert_eq!(frame.payload, &payload[..]);
        }
    }

    #[test]
    fn protocol_violations_name_their_close_codes() {
        let too_big = vec![b'x'; MESSAGE_BYTES_MAX + 1];
        let cases: [(Vec<u8>, Violation); 7] = [
            (client_frame(0x81, &too_big), Violation::TooBig),
            (vec![0x81, 0x05, b'h', b'e', b'l', b'l', b'o'], Violation::Protocol), // unmasked
            (client_frame(0xC1, b"x"), Violation::Protocol),                       // RSV1
            (client_frame(0x83, b"x"), Violation::Protocol),                       // opcode 3
            (client_frame(0x09, b"x"), Violation::Protocol), // fragmented ping
            (client_frame(0x89, &[0; 126]), Violation::Protocol), // long ping
            (client_frame(0x8B, b""), Violation::Protocol),  // opcode 0xB
        ];
        for (mut bytes, violation) in cases {
            let head = [bytes[0], bytes[1]];
            assert_eq!(decode(&mut bytes), Err(violation), "{head:02x?}");
        }
        assert_eq!(Violation::InvalidText.code(), 1007);
        assert_eq!(Violation::Unsupported.code(), 1003);
    }

    #[test]
    fn messages_assemble_under_the_rules() {
        let mut message = Message::default();
        assert_eq!(message.take(Opcode::Text, false, 3, b"{\"a"), Ok(Progress::Partial));
        assert_eq!(message.take(Opcode::Text, true, 1, b""), Err(Violation::Protocol));
        let mut message = Message::default();
        assert_eq!(message.take(Opcode::Text, false, 3, b"{\"a"), Ok(Progress::Partial));
        assert_eq!(message.take(Opcode::Continuation, true, 2, b"{\"a\"}"), Ok(Progress::Complete));
        assert_eq!(message.take(Opcode::Continuation, true, 1, b"x"), Err(Violation::Protocol));
        let mut message = Message::default();
        assert_eq!(message.take(Opcode::Binary, true, 1, b"x"), Err(Violation::Unsupported));
        let mut message = Message::default();
        assert_eq!(message.take(Opcode::Text, true, 2, &[0xC3, 0x28]), Err(Violation::InvalidText));
        let mut message = Message::default();
        let half = MESSAGE_BYTES_MAX / 2 + 1;
        assert_eq!(message.take(Opcode::Text, false, half, b""), Ok(Progress::Partial));
        assert_eq!(message.take(Opcode::Continuation, true, half, b""), Err(Violation::TooBig));
    }

    #[test]
    fn the_handshake_answers_rfc_6455s_example() {
        // RFC 6455 §1.3: the sample nonce and its accept value.
        let key = b"dGhlIHNhbXBsZSBub25jZQ==";
        assert!(is_valid_key(key));
        assert_eq!(&accept_key(key), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        for bad in [
            &b""[..],
            b"dGhlIHNhbXBsZSBub25jZQ=",
            b"dGhlIHNhbXBsZSBub25jZQ==x",
            b"not base64 at all!!!!!!!",
        ] {
            assert!(!is_valid_key(bad), "{bad:?}");
        }
    }
}
