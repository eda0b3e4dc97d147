//! What the order pool and the order-id index share: the "no order" marker and the [`Links`]
//! the index chains through. Both import it from here, so neither imports the other.

/// "No slot": the end of a list.
pub const NIL: u32 = u32::MAX;

/// Where the chains run: one link per slot, holding the slot's id and the next slot in the
/// same bucket. The index reads and writes `next` only while the slot is in a chain, and never
/// writes the id.
pub trait Links {
    /// The id of the order in `slot`.
    fn id(&self, slot: u32) -> u64;
    /// The next slot in `slot`'s bucket, or NIL.
    fn next(&self, slot: u32) -> u32;
    /// Sets the next slot in `slot`'s bucket.
    fn set_next(&mut self, slot: u32, next: u32);
}
