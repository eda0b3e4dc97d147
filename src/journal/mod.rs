//! The journal: an append-only, checksummed, hash-chained log of every command the matcher
//! applied, so that no acknowledged command is ever lost.
//!
//! # Contract
//!
//! - **Input**: ring B behind the matcher: one record per command the matcher *applied* (a
//!   rejected command leaves nothing, so its global sequence number has no record). Records are
//!   numbered by the journal itself, from 1, contiguous; each payload ([`payload`]: the command
//!   with its global sequence number, its signature data and its extras) is opaque bytes here
//!   (≤ [`PAYLOAD_SIZE_MAX`]).
//! - **Output**: the durable sequence: acknowledgements for a command are released only once
//!   [`JournalWriter::durable_sequence`] covers it.
//! - **Thread**: the journal thread owns the [`JournalWriter`]; nothing here is shared or locked
//!   on the hot path. The directory is `flock`ed so that no second writer (or recovery) opens it.
//! - **Never**: allocate per record (the batch buffer is allocated once), write one syscall per
//!   record, report a sequence as durable before `fdatasync` returned, or continue after an I/O
//!   error (the writer is poisoned; the caller stops acknowledging and exits 1).
//!
//! # Group commit
//!
//! The caller's loop: take everything available on ring B, append it all, one `pwrite`, one
//! `fdatasync`, publish the durable sequence.
//!
//! ```no_run
//! # use ringex::journal::{JournalWriter, WriterOptions};
//! # use ringex::types::SequenceNumber;
//! # fn ring_b_available() -> Vec<(SequenceNumber, Vec<u8>)> { Vec::new() }
//! # fn publish_durable(_: SequenceNumber) {}
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut writer = JournalWriter::open("data/journal".as_ref(), WriterOptions::default())?;
//! loop {
//!     let batch = ring_b_available(); // every published slot, ≥ 1 (waits for one)
//!     for (sequence, payload) in &batch {
//!         writer.append(*sequence, payload)?; // asserts sequence == last + 1
//!     }
//!     let durable = writer.commit(true)?; // one pwrite + one fdatasync for the whole batch
//!     publish_durable(durable); // acks up to `durable` may go out
//! }
//! # }
//! ```
//!
//! With `--durability async` call `commit(false)` per batch and `sync()` when convenient:
//! acknowledgements then do not wait for `durable_sequence`. Any `Err` is final: the writer is
//! poisoned and every later call fails.
//!
//! Start-up: [`recover_with`] (or [`recover`] then [`Recovered::reader`]) replays the journal;
//! [`JournalWriter::resume`] continues it at `last_sequence + 1`. [`JournalWriter::open`] does
//! recovery and resume in one step when no replay is needed.
//!
//! # On-disk layout
//!
//! A directory of segment files, each named by its first sequence as 20 decimal digits:
//! `00000000000000000001.journal`, `00000000000000123457.journal`, …. Other names are ignored;
//! a `*.journal` name that is not 20 digits is refused. All integers are little-endian.
//!
//! Segment header, [`SEGMENT_HEADER_SIZE`] = 40 bytes at offset 0:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | magic `RNGXJRNL` |
//! | 8  | 4 | format version, `u32` = 1 |
//! | 12 | 4 | payload version, `u32` = [`payload::PAYLOAD_VERSION`] (0: older, read as 1) |
//! | 16 | 8 | first sequence, `u64` (equals the file name) |
//! | 24 | 8 | chain in, `u64`: chain value of record `first - 1` (0 before record 1) |
//! | 32 | 4 | reserved, zero |
//! | 36 | 4 | CRC32C of bytes 0..36 |
//!
//! Then records, back to back, no padding. Record, [`RECORD_HEADER_SIZE`] = 24 bytes + payload:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 4 | payload size `n`, `u32` ≤ 4096 |
//! | 4  | 4 | CRC32C (Castagnoli) of bytes 0..4 then 8..24+n: everything but itself |
//! | 8  | 8 | sequence, `u64` |
//! | 16 | 8 | chain, `u64` = [`Chain::next`]`(chain of the previous record, sequence, payload)` |
//! | 24 | n | payload |
//!
//! The chain folds the previous chain value, the sequence and the payload's CRC32C and size
//! through splitmix64's bijective mixer: each record's chain value fingerprints the whole history
//! up to it, and the segment header carries it across files. A segment holds at least one record
//! unless it is the last; it is rolled before a record would take it past
//! [`WriterOptions::segment_size_max`] (64 MiB by default).
//!
//! # Durability protocol
//!
//! 1. Records are `pwrite`n at the end of the current segment (one call per batch) and covered by
//!    `fdatasync` before their sequence is reported durable.
//! 2. Segment roll: write and `fdatasync` the current segment; create the next one, write its
//!    header, `fdatasync` it, `fsync` the directory; only then write records to it. So every
//!    segment but the last is complete and durable, and a new segment's name and header are
//!    durable before anything in it can be acknowledged.
//! 3. A new journal directory's own name is made durable by fsyncing its parent.
//!
//! # Torn tail or corruption
//!
//! A crash can only damage what was written after the last completed `fdatasync`, and by 2.
//! that is always at the end of the last segment: a short file, a record cut anywhere, bytes the
//! file system never wrote (zeros), or a torn header of a just-created last segment. Recovery
//! checks everything in order and decides at the first bad byte:
//!
//! - **Not a record** (file ends inside it, size field > 4096, or CRC mismatch) **in the last
//!   segment**: recovery searches every later byte offset of the segment for anything that passes
//!   a record's own checks (size bound, completeness, CRC; whatever its sequence). None: it is a
//!   torn tail; the file is truncated at the last good record and fsynced, and the cut is
//!   reported ([`TailCut`]: segment, offset, bytes removed, why). One found: the bad record is
//!   followed by data, so it is corruption, refused ("mid-journal corruption, not a torn tail").
//! - A bad record in a segment that is not the last: refused (sealed segments were synced whole).
//! - A record that passes its CRC but carries the wrong sequence (gap or repeat) or chain value:
//!   refused wherever it is (a crash does not write well-formed wrong records).
//! - Segment level: a malformed name, a header that does not decode, a header whose first
//!   sequence differs from its name (a copied segment), a first sequence other than the one
//!   expected (1 for the first segment: a missing segment, an overlap, a duplicate), a chain-in
//!   that differs from the previous segment's last chain value: refused.
//! - The last segment's header is bad **and nothing follows it** (file ≤ 40 bytes): a crash
//!   between creating and syncing it; the file is removed, the directory fsynced, and the removal
//!   reported (its name must still be the expected next sequence). A bad header with data after
//!   it is refused. An empty last segment (a good header, no record) is fine and is continued.
//!
//! Every refusal is a [`RecoveryError::Corrupt`] whose Display names the segment file, the byte
//! offset and the reason; nothing is modified. Consequences, by design on the side of refusing:
//! the one ambiguity is the last record itself (a CRC-failing last record is cut as torn, even
//! though bit rot could have hit it after it was synced); and if the disk persisted an unsynced
//! batch's pages out of order (a hole followed by a complete record), recovery refuses, and the
//! operator truncates the named segment at the reported offset after checking it. A record image
//! embedded in a payload behind a torn record also leads to refusal, never to a silent cut.
//!
//! **Architecture Invariant:** recovery either returns a journal whose records are exactly
//! `1..=last_sequence` with every CRC and chain link checked, or refuses without modifying
//! anything; the only bytes it ever removes are a torn tail as defined above.

mod fault;
mod format;
pub mod payload;
mod reader;
mod recovery;
pub mod stage;
mod tail;
mod writer;

pub use format::{
    Chain, FORMAT_VERSION, HeaderFault, PAYLOAD_SIZE_MAX, RECORD_HEADER_SIZE, RECORD_SIZE_MAX,
    RecordFault, SEGMENT_HEADER_SIZE, SegmentHeader, decode_record, encode_record,
    parse_segment_name_first, segment_name,
};
pub use reader::{JournalReader, Record};
pub use recovery::{
    Base, Corruption, CorruptionReason, Recovered, RecoveryError, SegmentSummary, TailCut,
    TailFault, recover, recover_after, recover_with,
};
pub use tail::JournalTail;
pub use writer::{JournalWriter, Poison, WriterOptions};

#[cfg(test)]
mod tests;
