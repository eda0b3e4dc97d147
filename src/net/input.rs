//! A connection's input buffer: bytes arrive at the tail and are consumed from the front by
//! advancing an offset, so taking a framed request (or WebSocket frame) off the front costs
//! nothing, however many follow it in the buffer.
//!
//! The unconsumed bytes are moved to the front only when the tail has no room left
//! ([`Input::make_room`]). What moves then is the start of a request (or message) not yet whole,
//! and the next move needs the front to have been consumed again, which takes that request with
//! it: so every byte is moved at most once, and the work is linear in the bytes received (the
//! unit tests count it). A WebSocket connection may also close the gap that control frames
//! consumed in the middle of a fragmented message ([`Input::remove`]), moving only the frame
//! still arriving behind it.
//!
//! Allocation: the buffer is allocated with its connection slot, grown once (to the largest
//! request allowed) for a request larger than it, and shrunk back when the slot is freed.

/// A connection's unconsumed input: `bytes[begin..end]`.
#[derive(Debug)]
pub struct Input {
    bytes: Vec<u8>,
    begin: usize,
    end: usize,
    /// Bytes moved inside the buffer so far (the linearity tests read it).
    pub moved_bytes: u64,
}

impl Input {
    /// An empty buffer of `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Input {
        Input { bytes: vec![0; capacity], begin: 0, end: 0, moved_bytes: 0 }
    }

    /// The unconsumed bytes.
    pub fn pending(&self) -> &[u8] {
        &self.bytes[self.begin..self.end]
    }

    /// The unconsumed bytes, to modify in place (WebSocket unmasking).
    pub fn pending_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.begin..self.end]
    }

    /// How many bytes are unconsumed.
    pub fn len(&self) -> usize {
        self.end - self.begin
    }

    /// Whether nothing is unconsumed.
    pub fn is_empty(&self) -> bool {
        self.begin == self.end
    }

    /// The buffer's size.
    pub fn capacity(&self) -> usize {
        self.bytes.len()
    }

    /// Drops the first `length` unconsumed bytes (no byte moves).
    pub fn consume(&mut self, length: usize) {
        debug_assert!(length <= self.len());
        self.begin += length;
        if self.begin == self.end {
            (self.begin, self.end) = (0, 0);
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        (self.begin, self.end) = (0, 0);
    }

    /// Whether the tail has no room for another read.
    pub fn tail_full(&self) -> bool {
        self.end == self.bytes.len()
    }

    /// Where the next read goes: the free tail (empty when [`Input::tail_full`]).
    pub fn tail_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.end..]
    }

    /// `length` bytes were read into [`Input::tail_mut`].
    pub fn filled(&mut self, length: usize) {
        debug_assert!(self.end + length <= self.bytes.len());
        self.end += length;
    }

    /// The tail is full: moves the unconsumed bytes to the front if some were consumed (true),
    /// else leaves everything (false: the caller frames, closes a gap or grows).
    pub fn make_room(&mut self) -> bool {
        if self.begin == 0 {
            return false;
        }
        self.bytes.copy_within(self.begin..self.end, 0);
        self.moved_bytes += self.len() as u64;
        (self.begin, self.end) = (0, self.len());
        true
    }

    /// Removes `length` unconsumed bytes at `at` (relative to the first unconsumed byte),
    /// moving the ones after them.
    pub fn remove(&mut self, at: usize, length: usize) {
        let from = self.begin + at + length;
        self.bytes.copy_within(from..self.end, self.begin + at);
        self.moved_bytes += (self.end - from) as u64;
        self.end -= length;
    }

    /// Moves `range` of the unconsumed bytes (relative) to start at `to` (relative, lower).
    pub fn move_back(&mut self, range: std::ops::Range<usize>, to: usize) {
        debug_assert!(to <= range.start && range.end <= self.len());
        self.moved_bytes += range.len() as u64;
        self.bytes.copy_within(self.begin + range.start..self.begin + range.end, self.begin + to);
    }

    /// Grows the buffer to `capacity` bytes (once, for one large request).
    pub fn grow(&mut self, capacity: usize) {
        self.bytes.resize(capacity, 0);
    }

    /// The whole buffer, as scratch (a lingering connection's discarded input).
    pub fn scratch_mut(&mut self) -> &mut [u8] {
        self.clear();
        &mut self.bytes[..]
    }

    /// Empties it and gives back what a grown buffer took beyond `capacity`.
    pub fn reset(&mut self, capacity: usize) {
        self.clear();
        self.bytes.truncate(capacity);
        self.bytes.shrink_to(capacity);
    }
}
