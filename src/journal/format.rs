//! The on-disk encoding: segment names, the segment header, the record, and the hash chain.
//!
//! Pure functions over byte slices: no I/O, no allocation (records are appended into a buffer the
//! caller preallocated). The byte layout is documented in the [parent module](super); the
//! constants here are the single source of its sizes. All integers are little-endian and written
//! field by field (never by transmute), so the bytes on disk are exactly the bytes checksummed.

use super::payload::PAYLOAD_VERSION;
use crate::types::SequenceNumber;

/// The first eight bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"RNGXJRNL";

/// The format version this code writes and the only one it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Size of the segment header in bytes.
pub const SEGMENT_HEADER_SIZE: usize = 40;

/// Size of a record's fixed part (everything but the payload) in bytes.
pub const RECORD_HEADER_SIZE: usize = 24;

/// Largest payload a record may carry, in bytes (the pipeline's contract: ≤ 4 KiB).
pub const PAYLOAD_SIZE_MAX: usize = 4096;

/// Largest record, in bytes.
pub const RECORD_SIZE_MAX: usize = RECORD_HEADER_SIZE + PAYLOAD_SIZE_MAX;

/// Suffix of segment file names; the stem is the first sequence as 20 decimal digits.
pub const SEGMENT_SUFFIX: &str = ".journal";

/// Number of decimal digits in a segment name's stem (`u64::MAX` has 20).
pub const SEGMENT_NAME_DIGITS: usize = 20;

/// Salt folded into every chain step so that a chain of all-zero inputs is not all zero.
const CHAIN_SALT: u64 = 0x6A6F_7572_6E61_6C31; // "journal1"

/// The hash-chain value: a 64-bit fingerprint of every record from sequence 1 up to and
/// including the one that carries it.
///
/// `next` is a bijection of the previous value for a fixed record, so two histories that differ
/// in one record (or in the order of records) differ in every later chain value: a spliced,
/// missing or reordered record or segment cannot "re-converge". It detects accidents (lost,
/// duplicated, misplaced or foreign data), not an adversary with write access to the disk — that
/// would need a keyed MAC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Chain(pub u64);

impl Chain {
    /// The chain value before sequence 1 (carried by the first segment's header).
    pub const GENESIS: Chain = Chain(0);

    /// The chain value after appending the record `(sequence, payload)` to `self`.
    #[inline]
    pub fn next(self, sequence: SequenceNumber, payload: &[u8]) -> Chain {
        debug_assert!(payload.len() <= PAYLOAD_SIZE_MAX);
        let payload_crc = crc32c::crc32c(payload);
        let payload_word = (u64::from(payload_crc) << 32) | payload.len() as u64;
        let mut value = mix64(self.0 ^ CHAIN_SALT);
        value = mix64(value ^ sequence.0);
        value = mix64(value ^ payload_word);
        Chain(value)
    }
}

/// splitmix64's finalizer: bijective with full avalanche.
#[inline]
fn mix64(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

/// The file name of the segment whose first record has `first_sequence`.
pub fn segment_name(first_sequence: SequenceNumber) -> String {
    format!("{:020}{SEGMENT_SUFFIX}", first_sequence.0)
}

/// What a directory entry's name says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentName {
    /// Not a segment (no `.journal` suffix): ignored.
    Other,
    /// A well-formed segment name and the first sequence it claims.
    Segment(SequenceNumber),
    /// Ends in `.journal` but the stem is not 20 decimal digits of a `u64`: refused.
    Malformed,
}

/// The first sequence a segment file name claims; `None` for any other or a malformed name.
pub fn parse_segment_name_first(name: &str) -> Option<SequenceNumber> {
    match parse_segment_name(name) {
        SegmentName::Segment(first) => Some(first),
        SegmentName::Other | SegmentName::Malformed => None,
    }
}

/// Classifies a directory entry's file name.
pub fn parse_segment_name(name: &str) -> SegmentName {
    let Some(stem) = name.strip_suffix(SEGMENT_SUFFIX) else {
        return SegmentName::Other;
    };
    if stem.len() != SEGMENT_NAME_DIGITS || !stem.bytes().all(|byte| byte.is_ascii_digit()) {
        return SegmentName::Malformed;
    }
    match stem.parse::<u64>() {
        Ok(sequence) if sequence > 0 => SegmentName::Segment(SequenceNumber(sequence)),
        _ => SegmentName::Malformed,
    }
}

/// The fixed header at the start of every segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Sequence of the segment's first record (also its file name); ≥ 1.
    pub first_sequence: SequenceNumber,
    /// Chain value of record `first_sequence - 1` ([`Chain::GENESIS`] for the first segment).
    pub chain_in: Chain,
}

/// Why a segment header does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFault {
    /// The file is shorter than a header.
    Incomplete {
        /// Bytes present (< [`SEGMENT_HEADER_SIZE`]).
        size: u64,
    },
    /// The first eight bytes are not the magic `RNGXJRNL`.
    Magic,
    /// The header checksum does not match.
    Checksum,
    /// A format version this code does not read.
    Version(u32),
    /// A payload version this code does not read (see [`super::payload::PAYLOAD_VERSION`]).
    PayloadVersion(u32),
    /// Reserved bytes are not zero, or the first sequence is zero.
    Field,
}

impl std::fmt::Display for HeaderFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderFault::Incomplete { size } => {
                write!(f, "incomplete segment header ({size} of {SEGMENT_HEADER_SIZE} bytes)")
            }
            HeaderFault::Magic => write!(f, "bad segment magic (not a ringex journal segment)"),
            HeaderFault::Checksum => write!(f, "segment header checksum mismatch"),
            HeaderFault::Version(version) => {
                write!(
                    f,
                    "unsupported format version {version} (this build reads {FORMAT_VERSION})"
                )
            }
            HeaderFault::PayloadVersion(version) => write!(
                f,
                "journal payload version {version}; this build reads version {PAYLOAD_VERSION} \
                 (replay it with the build that wrote it)"
            ),
            HeaderFault::Field => write!(f, "invalid segment header field"),
        }
    }
}

impl SegmentHeader {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_SIZE] {
        assert!(self.first_sequence.0 >= 1);
        let mut bytes = [0u8; SEGMENT_HEADER_SIZE];
        bytes[0..8].copy_from_slice(&MAGIC);
        bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes[12..16].copy_from_slice(&PAYLOAD_VERSION.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.first_sequence.0.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.chain_in.0.to_le_bytes());
        // 32..36 reserved, zero.
        let checksum = crc32c::crc32c(&bytes[0..36]);
        bytes[36..40].copy_from_slice(&checksum.to_le_bytes());
        bytes
    }

    /// Decodes and checks a header; `bytes` is what the file holds from offset 0 (it may be
    /// shorter than a header, or longer: only the first [`SEGMENT_HEADER_SIZE`] bytes are read).
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, HeaderFault> {
        if bytes.len() < SEGMENT_HEADER_SIZE {
            return Err(HeaderFault::Incomplete { size: bytes.len() as u64 });
        }
        if bytes[0..8] != MAGIC {
            return Err(HeaderFault::Magic);
        }
        if crc32c::crc32c(&bytes[0..36]) != read_u32(bytes, 36) {
            return Err(HeaderFault::Checksum);
        }
        let version = read_u32(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(HeaderFault::Version(version));
        }
        // 0: written before the field existed, when the bytes there were reserved; those
        // payloads are version 1 byte for byte (tests/journal_compat.rs replays such a journal).
        let payload_version = read_u32(bytes, 12);
        if payload_version != PAYLOAD_VERSION && payload_version != 0 {
            return Err(HeaderFault::PayloadVersion(payload_version));
        }
        let first_sequence = SequenceNumber(read_u64(bytes, 16));
        if read_u32(bytes, 32) != 0 || first_sequence.0 == 0 {
            return Err(HeaderFault::Field);
        }
        Ok(SegmentHeader { first_sequence, chain_in: Chain(read_u64(bytes, 24)) })
    }
}

/// The fixed part of a record that decoded and passed its checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Payload size in bytes (≤ [`PAYLOAD_SIZE_MAX`]); the payload follows the fixed part.
    pub payload_size: u32,
    /// The record's sequence.
    pub sequence: SequenceNumber,
    /// The chain value stored in the record (not yet checked against its predecessor).
    pub chain: Chain,
}

impl RecordHeader {
    /// Size of the whole record in bytes.
    pub fn record_size(&self) -> usize {
        RECORD_HEADER_SIZE + self.payload_size as usize
    }
}

/// Why the bytes at a record position are not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordFault {
    /// The file ends inside the record (inside its fixed part, or before the payload size it
    /// declares).
    Incomplete {
        /// Bytes present from the record's start to the end of the file.
        size: u64,
    },
    /// The declared payload size exceeds [`PAYLOAD_SIZE_MAX`].
    TooLarge {
        /// The declared payload size in bytes.
        payload_size: u32,
    },
    /// The CRC32C does not match the record's bytes.
    Checksum,
}

impl std::fmt::Display for RecordFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordFault::Incomplete { size } => {
                write!(f, "incomplete record (the file ends {size} bytes into it)")
            }
            RecordFault::TooLarge { payload_size } => write!(
                f,
                "record payload size {payload_size} exceeds the maximum {PAYLOAD_SIZE_MAX}"
            ),
            RecordFault::Checksum => write!(f, "record checksum mismatch"),
        }
    }
}

/// Appends the record `(sequence, chain, payload)` to `batch`.
///
/// The caller guarantees capacity (`batch.capacity() - batch.len() >= RECORD_HEADER_SIZE +
/// payload.len()`), so this never allocates.
#[inline]
pub fn encode_record(batch: &mut Vec<u8>, sequence: SequenceNumber, chain: Chain, payload: &[u8]) {
    assert!(payload.len() <= PAYLOAD_SIZE_MAX);
    debug_assert!(batch.capacity() - batch.len() >= RECORD_HEADER_SIZE + payload.len());
    let start = batch.len();
    batch.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    batch.extend_from_slice(&[0u8; 4]); // checksum, filled below
    batch.extend_from_slice(&sequence.0.to_le_bytes());
    batch.extend_from_slice(&chain.0.to_le_bytes());
    batch.extend_from_slice(payload);
    let checksum = record_checksum(&batch[start..]);
    batch[start + 4..start + 8].copy_from_slice(&checksum.to_le_bytes());
}

/// Decodes and checks the record at the start of `bytes`: what the file holds from the record's
/// first byte (to the end of the file, or at least [`RECORD_SIZE_MAX`] bytes of it).
///
/// Checks only what the record says about itself (size bound, completeness, CRC); continuity
/// (sequence, chain) is the caller's.
#[inline]
pub fn decode_record(bytes: &[u8]) -> Result<RecordHeader, RecordFault> {
    let incomplete = RecordFault::Incomplete { size: bytes.len() as u64 };
    if bytes.len() < RECORD_HEADER_SIZE {
        return Err(incomplete);
    }
    let payload_size = read_u32(bytes, 0);
    if payload_size as usize > PAYLOAD_SIZE_MAX {
        return Err(RecordFault::TooLarge { payload_size });
    }
    let record_size = RECORD_HEADER_SIZE + payload_size as usize;
    if bytes.len() < record_size {
        return Err(incomplete);
    }
    if record_checksum(&bytes[..record_size]) != read_u32(bytes, 4) {
        return Err(RecordFault::Checksum);
    }
    Ok(RecordHeader {
        payload_size,
        sequence: SequenceNumber(read_u64(bytes, 8)),
        chain: Chain(read_u64(bytes, 16)),
    })
}

/// CRC32C of a whole record except its own checksum field: bytes `0..4` then `8..`.
#[inline]
fn record_checksum(record: &[u8]) -> u32 {
    debug_assert!(record.len() >= RECORD_HEADER_SIZE);
    crc32c::crc32c_append(crc32c::crc32c(&record[0..4]), &record[8..])
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}

fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_faults() {
        let header = SegmentHeader { first_sequence: SequenceNumber(101), chain_in: Chain(7) };
        let bytes = header.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(header));
        assert_eq!(SegmentHeader::decode(&bytes[..39]), Err(HeaderFault::Incomplete { size: 39 }));
        let mut bad = bytes;
        bad[0] ^= 1;
        assert_eq!(SegmentHeader::decode(&bad), Err(HeaderFault::Magic));
        for byte in 8..40 {
            let mut bad = bytes;
            bad[byte] ^= 0x10;
            assert_eq!(SegmentHeader::decode(&bad), Err(HeaderFault::Checksum), "byte {byte}");
        }
    }

    /// Re-encodes `bytes` with the payload version field set to `version` and a fresh checksum.
    fn with_payload_version(mut bytes: [u8; SEGMENT_HEADER_SIZE], version: u32) -> [u8; 40] {
        bytes[12..16].copy_from_slice(&version.to_le_bytes());
        let checksum = crc32c::crc32c(&bytes[0..36]);
        bytes[36..40].copy_from_slice(&checksum.to_le_bytes());
        bytes
    }

    #[test]
    fn the_payload_version_is_written_and_another_one_refused() {
        let header = SegmentHeader { first_sequence: SequenceNumber(1), chain_in: Chain(0) };
        let bytes = header.encode();
        assert_eq!(read_u32(&bytes, 12), PAYLOAD_VERSION);
        // Segments from before the field: reserved zero bytes, version-1 payloads.
        assert_eq!(SegmentHeader::decode(&with_payload_version(bytes, 0)), Ok(header));
        let newer = PAYLOAD_VERSION + 1;
        let fault = SegmentHeader::decode(&with_payload_version(bytes, newer)).unwrap_err();
        assert_eq!(fault, HeaderFault::PayloadVersion(newer));
        assert_eq!(
            fault.to_string(),
            format!(
                "journal payload version {newer}; this build reads version {PAYLOAD_VERSION} \
                 (replay it with the build that wrote it)"
            )
        );
    }

    #[test]
    fn record_round_trip_and_faults() {
        let payload = [0xA5u8; 200];
        let mut batch = Vec::with_capacity(RECORD_SIZE_MAX);
        encode_record(&mut batch, SequenceNumber(9), Chain(3), &payload);
        assert_eq!(batch.len(), RECORD_HEADER_SIZE + 200);
        let header = decode_record(&batch).unwrap();
        assert_eq!(header.sequence, SequenceNumber(9));
        assert_eq!(header.chain, Chain(3));
        assert_eq!(header.record_size(), batch.len());
        for cut in 0..batch.len() {
            assert_eq!(
                decode_record(&batch[..cut]),
                Err(RecordFault::Incomplete { size: cut as u64 })
            );
        }
        for bit in 0..batch.len() * 8 {
            let mut bad = batch.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_record(&bad).is_err(), "bit {bit}");
        }
        // Trailing bytes beyond the record are not part of it.
        batch.extend_from_slice(&[0xFF; 8]);
        assert_eq!(decode_record(&batch), Ok(header));
        // An all-zero "record" (a hole the file system left) never passes.
        assert!(decode_record(&[0u8; RECORD_HEADER_SIZE]).is_err());
    }

    #[test]
    fn chain_depends_on_every_input() {
        let base = Chain::GENESIS.next(SequenceNumber(1), b"a");
        assert_ne!(base, Chain::GENESIS.next(SequenceNumber(2), b"a"));
        assert_ne!(base, Chain::GENESIS.next(SequenceNumber(1), b"b"));
        assert_ne!(base, Chain(1).next(SequenceNumber(1), b"a"));
        assert_ne!(Chain::GENESIS.next(SequenceNumber(1), b""), Chain::GENESIS);
    }

    #[test]
    fn segment_names() {
        assert_eq!(segment_name(SequenceNumber(1)), "00000000000000000001.journal");
        assert_eq!(
            parse_segment_name("00000000000000000001.journal"),
            SegmentName::Segment(SequenceNumber(1))
        );
        assert_eq!(parse_segment_name("LOCK"), SegmentName::Other);
        assert_eq!(parse_segment_name("1.journal"), SegmentName::Malformed);
        assert_eq!(parse_segment_name("00000000000000000000.journal"), SegmentName::Malformed);
        assert_eq!(parse_segment_name("99999999999999999999.journal"), SegmentName::Malformed);
        assert_eq!(parse_segment_name("0000000000000000001a.journal"), SegmentName::Malformed);
    }
}
