//! One snapshot file: `snapshot-<record, 20 digits>.snap` in the data directory, a fixed header
//! then the state encoded with postcard (serde's compact binary format: the state is a few large
//! tables read and written once per snapshot, far off the hot path, so a derived encoding beats
//! hand-written code here).
//!
//! Header, [`HEADER_SIZE`] = 128 bytes, little-endian:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0   | 8  | magic `RNGXSNAP` |
//! | 8   | 4  | format version, `u32` = [`FORMAT_VERSION`] |
//! | 12  | 4  | state version, `u32` = [`STATE_VERSION`] (the shape of the tables) |
//! | 16  | 8  | journal record covered: the state is the journal's records `1..=record` |
//! | 24  | 8  | that record's chain value (binds the snapshot to its journal) |
//! | 32  | 8  | the matcher's last global sequence number |
//! | 40  | 8  | engine time of the last command, µs |
//! | 48  | 16 | the matcher's state hash |
//! | 64  | 8  | [`Config::state_fingerprint`] of the configuration that built it |
//! | 72  | 8  | payload size |
//! | 80  | 4  | CRC32C of the payload |
//! | 84  | 40 | reserved, zero |
//! | 124 | 4  | CRC32C of bytes 0..124 |
//!
//! Written to `<name>.tmp`, `fdatasync`ed, renamed, and the directory `fsync`ed: a snapshot file
//! under its final name is always whole. Read back, everything is checked — both CRCs, the
//! versions, the fingerprint, the decoding, and the matcher's state hash recomputed from the
//! tables against the recorded one — and any failure is a [`Refusal`] naming the reason, never a
//! state that might be wrong.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::engine::Engine;
use crate::config::Config;
use crate::journal::{Base, Chain};
use crate::matcher::Matcher;
use crate::netout::view::View;
use crate::sequencer::{Sequencer, SequencerLimits, SequencerMemory, SequencerMemoryRef};
use crate::types::SequenceNumber;

/// The file's first bytes.
pub const MAGIC: [u8; 8] = *b"RNGXSNAP";
/// Version of the header and framing.
pub const FORMAT_VERSION: u32 = 1;
/// Version of the encoded tables: bump it whenever a struct written here changes shape, so an
/// older snapshot is refused (and the journal replayed) instead of misread.
pub const STATE_VERSION: u32 = 1;
/// Size of the header in bytes.
pub const HEADER_SIZE: usize = 128;

/// What a snapshot's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The journal record covered and its chain value.
    pub base: Base,
    /// The matcher's last sequence number.
    pub sequence: SequenceNumber,
    /// Engine time of the last command (µs).
    pub last_time_us: u64,
    /// The matcher's state hash.
    pub state_hash: u128,
    /// The configuration's state fingerprint.
    pub fingerprint: u64,
    /// Bytes of payload after the header.
    pub payload_size: u64,
    /// CRC32C of the payload.
    pub payload_crc: u32,
}

impl Header {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut bytes = [0u8; HEADER_SIZE];
        bytes[0..8].copy_from_slice(&MAGIC);
        bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes[12..16].copy_from_slice(&STATE_VERSION.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.base.record.0.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.base.chain.0.to_le_bytes());
        bytes[32..40].copy_from_slice(&self.sequence.0.to_le_bytes());
        bytes[40..48].copy_from_slice(&self.last_time_us.to_le_bytes());
        bytes[48..64].copy_from_slice(&self.state_hash.to_le_bytes());
        bytes[64..72].copy_from_slice(&self.fingerprint.to_le_bytes());
        bytes[72..80].copy_from_slice(&self.payload_size.to_le_bytes());
        bytes[80..84].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32c::crc32c(&bytes[..124]);
        bytes[124..128].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Reads a header, refusing a bad magic, version or CRC.
    pub fn decode(bytes: &[u8]) -> Result<Header, Refusal> {
        if bytes.len() < HEADER_SIZE {
            return Err(Refusal::Truncated { size: bytes.len() as u64 });
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        if bytes[0..8] != MAGIC {
            return Err(Refusal::Magic);
        }
        if u32_at(124) != crc32c::crc32c(&bytes[..124]) {
            return Err(Refusal::HeaderCrc);
        }
        let (format, state) = (u32_at(8), u32_at(12));
        if format != FORMAT_VERSION || state != STATE_VERSION {
            return Err(Refusal::Version { format, state });
        }
        Ok(Header {
            base: Base { record: SequenceNumber(u64_at(16)), chain: Chain(u64_at(24)) },
            sequence: SequenceNumber(u64_at(32)),
            last_time_us: u64_at(40),
            state_hash: u128::from_le_bytes(bytes[48..64].try_into().unwrap()),
            fingerprint: u64_at(64),
            payload_size: u64_at(72),
            payload_crc: u32_at(80),
        })
    }
}

/// Why a snapshot file was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Shorter than its header or than the header says.
    Truncated {
        /// Bytes there are.
        size: u64,
    },
    /// Not a snapshot file.
    Magic,
    /// The header's CRC does not match.
    HeaderCrc,
    /// Written by a build with another format or table layout.
    Version {
        /// Its format version.
        format: u32,
        /// Its state version.
        state: u32,
    },
    /// Written under a configuration that shapes the state differently.
    Fingerprint {
        /// The snapshot's.
        snapshot: u64,
        /// The running configuration's.
        running: u64,
    },
    /// The payload's CRC does not match.
    PayloadCrc,
    /// The payload does not decode.
    Decode(String),
    /// The decoded tables do not hash to the recorded state hash, or disagree with the header.
    StateHash {
        /// The header's.
        recorded: u128,
        /// Recomputed from the tables.
        recomputed: u128,
    },
    /// The file could not be read.
    Io(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Truncated { size } => write!(f, "truncated ({size} bytes)"),
            Refusal::Magic => write!(f, "not a snapshot file (bad magic)"),
            Refusal::HeaderCrc => write!(f, "header CRC mismatch"),
            Refusal::Version { format, state } => {
                write!(
                    f,
                    "format {format} / state {state}, this build reads {FORMAT_VERSION} / {STATE_VERSION}"
                )
            }
            Refusal::Fingerprint { snapshot, running } => write!(
                f,
                "written under another configuration (state fingerprint {snapshot:016x}, running {running:016x})"
            ),
            Refusal::PayloadCrc => write!(f, "payload CRC mismatch"),
            Refusal::Decode(reason) => write!(f, "payload does not decode: {reason}"),
            Refusal::StateHash { recorded, recomputed } => write!(
                f,
                "state hash recomputed from the tables is {recomputed:032x}, the header says {recorded:032x}"
            ),
            Refusal::Io(reason) => write!(f, "{reason}"),
        }
    }
}

/// The state as written: borrowed from the engine.
#[derive(serde::Serialize)]
struct BodyRef<'a> {
    matcher: &'a Matcher,
    view: &'a View,
    sequencer: SequencerMemoryRef<'a>,
}

/// The state as read (the same encoding as [`BodyRef`]).
#[derive(serde::Deserialize)]
struct Body {
    matcher: Matcher,
    view: View,
    sequencer: SequencerMemory,
}

/// The file name of the snapshot of records `1..=record`.
pub fn file_name(record: SequenceNumber) -> String {
    format!("snapshot-{:020}.snap", record.0)
}

/// The record a snapshot file name covers; `None` for any other name.
pub fn parse_file_name(name: &str) -> Option<SequenceNumber> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    (digits.len() == 20 && digits.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| SequenceNumber(digits.parse().expect("20 digits fit a u64 here")))
        .filter(|record| record.0 > 0)
}

/// The snapshots in `dir`, newest (highest record) first.
pub fn list(dir: &Path) -> io::Result<Vec<(SequenceNumber, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(record) = entry.file_name().to_str().and_then(parse_file_name) {
            found.push((record, entry.path()));
        }
    }
    found.sort_unstable_by_key(|&(record, _)| std::cmp::Reverse(record));
    Ok(found)
}

/// A snapshot written: where, how large.
#[derive(Clone, Debug)]
pub struct Written {
    /// Its path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A snapshot that could not be written, and the file it was writing.
#[derive(Debug)]
pub struct WriteError {
    /// The file (the temporary name while it was being written).
    pub path: PathBuf,
    /// What failed.
    pub error: io::Error,
}

/// A test hook's fault in a snapshot write (`follower::INJECT_FAULT_ENV`).
#[derive(Debug)]
pub enum Fault {
    /// None: every real write.
    None,
    /// This error before the payload is written.
    Fail(io::Error),
    /// Stop for good once the payload is written, before the file is synced and renamed (a
    /// test kills the process there).
    Stall,
}

/// Counts bytes and their CRC32C on their way to the file.
struct Checksummed<W> {
    inner: W,
    crc: u32,
    size: u64,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.crc = crc32c::crc32c_append(self.crc, &bytes[..written]);
        self.size += written as u64;
        Ok(written)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `engine` to `dir` as the snapshot of its records (see the module doc for the steps).
/// `fault` is a test hook's (`Fault::None` in every real run); on any error the temporary file
/// is removed and nothing else in `dir` has changed.
pub fn write(
    dir: &Path,
    engine: &Engine,
    fingerprint: u64,
    fault: Fault,
) -> Result<Written, WriteError> {
    let path = dir.join(file_name(engine.base.record));
    let temporary = path.with_extension("snap.tmp");
    let result = write_temporary(&temporary, engine, fingerprint, fault).and_then(|bytes| {
        fs::rename(&temporary, &path)?;
        File::open(dir)?.sync_all()?;
        Ok(bytes)
    });
    match result {
        Ok(bytes) => Ok(Written { path, bytes }),
        Err(error) => {
            let _ = fs::remove_file(&temporary);
            Err(WriteError { path: temporary, error })
        }
    }
}

fn write_temporary(
    temporary: &Path,
    engine: &Engine,
    fingerprint: u64,
    fault: Fault,
) -> io::Result<u64> {
    let file = File::create(temporary)?;
    (&file).write_all(&[0u8; HEADER_SIZE])?;
    if let Fault::Fail(error) = fault {
        return Err(error);
    }
    let header = encode_payload(engine, fingerprint, BufWriter::with_capacity(1 << 20, &file))?;
    if let Fault::Stall = fault {
        loop {
            std::thread::park();
        }
    }
    file.write_all_at(&header.encode(), 0)?;
    file.sync_data()?;
    Ok(HEADER_SIZE as u64 + header.payload_size)
}

/// Encodes the engine's tables into `sink`; returns the header that describes them.
fn encode_payload(engine: &Engine, fingerprint: u64, sink: impl Write) -> io::Result<Header> {
    let body = BodyRef {
        matcher: &engine.matcher,
        view: &engine.view,
        sequencer: engine.sequencer.memory(),
    };
    let sink = Checksummed { inner: sink, crc: 0, size: 0 };
    let mut sink = postcard::to_io(&body, sink).map_err(io::Error::other)?;
    sink.flush()?;
    Ok(Header {
        base: engine.base,
        sequence: engine.matcher.last_sequence(),
        last_time_us: engine.last_time_us,
        state_hash: engine.matcher.state_hash(),
        fingerprint,
        payload_size: sink.size,
        payload_crc: sink.crc,
    })
}

/// The whole file a snapshot of `engine` is, in memory (tests and the fuzz target).
pub fn to_bytes(engine: &Engine, fingerprint: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; HEADER_SIZE];
    let header = encode_payload(engine, fingerprint, &mut bytes).expect("a Vec takes every write");
    bytes[..HEADER_SIZE].copy_from_slice(&header.encode());
    bytes
}

/// `payload` behind a header that describes it correctly (sizes, CRCs, `fingerprint`): what a
/// fuzz target feeds [`decode`] so the table decoding itself meets arbitrary bytes.
pub fn framed(payload: &[u8], fingerprint: u64) -> Vec<u8> {
    let header = Header {
        base: Base { record: SequenceNumber(1), chain: Chain(0) },
        sequence: SequenceNumber(1),
        last_time_us: 0,
        state_hash: 0,
        fingerprint,
        payload_size: payload.len() as u64,
        payload_crc: crc32c::crc32c(payload),
    };
    let mut bytes = header.encode().to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

/// Reads and checks the snapshot at `path` for `config`, rebuilding the engine it holds.
pub fn read(
    path: &Path,
    config: &Arc<Config>,
    sequencer: SequencerLimits,
) -> Result<Engine, Refusal> {
    let bytes = fs::read(path).map_err(|error| Refusal::Io(error.to_string()))?;
    decode(&bytes, config, sequencer)
}

/// Checks a snapshot file's bytes for `config` and rebuilds the engine they hold: the header
/// (magic, CRC, versions, fingerprint, size), the payload's CRC, its decoding, and the matcher's
/// state hash recomputed from its tables. The tables' internal links are trusted once all that
/// passed: this process wrote them, and the checksums cover them.
pub fn decode(
    bytes: &[u8],
    config: &Arc<Config>,
    sequencer: SequencerLimits,
) -> Result<Engine, Refusal> {
    let header = Header::decode(bytes)?;
    let running = config.state_fingerprint();
    if header.fingerprint != running {
        return Err(Refusal::Fingerprint { snapshot: header.fingerprint, running });
    }
    let payload = &bytes[HEADER_SIZE..];
    if payload.len() as u64 != header.payload_size {
        return Err(Refusal::Truncated { size: bytes.len() as u64 });
    }
    if crc32c::crc32c(payload) != header.payload_crc {
        return Err(Refusal::PayloadCrc);
    }
    let body: Body =
        postcard::from_bytes(payload).map_err(|error| Refusal::Decode(error.to_string()))?;
    let Body { mut matcher, mut view, sequencer: memory } = body;
    matcher.restore(config.clone());
    view.restore(config.clone());
    let recomputed = matcher.recompute_state_hash();
    let recorded = header.state_hash;
    if recomputed != recorded
        || matcher.state_hash() != recorded
        || matcher.last_sequence() != header.sequence
    {
        return Err(Refusal::StateHash { recorded, recomputed });
    }
    Ok(Engine {
        matcher,
        view,
        sequencer: Sequencer::with_memory(sequencer, memory),
        base: header.base,
        last_time_us: header.last_time_us,
    })
}
