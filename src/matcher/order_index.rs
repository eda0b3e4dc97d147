//! What the order pool and the order-id index share: the index of an order in the pool, its
//! "no order" value, and the [`Links`] the index chains through. Both import it from here, so
//! neither imports the other.

/// An order's place in the order pool: `0..orders_max`, or [`OrderIndex::NIL`]. Not its id: the
/// pool gives the same index to another order once this one has left the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct OrderIndex(pub u32);

impl OrderIndex {
    /// "No order": the end of a list.
    pub const NIL: OrderIndex = OrderIndex(u32::MAX);

    /// Whether this is [`OrderIndex::NIL`].
    #[inline(always)]
    pub fn is_nil(self) -> bool {
        self == OrderIndex::NIL
    }
}

/// Where the chains run: one link per slot, holding the slot's id and the next slot in the
/// same bucket. The index reads and writes `next` only while the slot is in a chain, and never
/// writes the id.
pub trait Links {
    /// The id of the order in `slot`.
    fn id(&self, slot: OrderIndex) -> u64;
    /// The next slot in `slot`'s bucket, or NIL.
    fn next(&self, slot: OrderIndex) -> OrderIndex;
    /// Sets the next slot in `slot`'s bucket.
    fn set_next(&mut self, slot: OrderIndex, next: OrderIndex);
}
