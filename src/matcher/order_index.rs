//! What the order pool and the order-id index share: the index of an order in the pool, its
//! "no order" value, and the [`Links`] the index chains through. Both import it from here, so
//! neither imports the other.

/// An order's place in the order pool: `0..orders_max`, or [`OrderIndex::NIL`]. Not its id: the
/// pool gives the same index to another order once this one has left the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

/// Where the order-id index's chains run: one link per order, holding the order's id and the
/// next order in the same bucket. The index reads and writes `next` only while the order is in a
/// chain, and never writes the id.
pub trait Links {
    /// The id of the order at `index`.
    fn id(&self, index: OrderIndex) -> u64;
    /// The next order in the bucket of the order at `index`, or NIL.
    fn next(&self, index: OrderIndex) -> OrderIndex;
    /// Sets the next order in the bucket of the order at `index`.
    fn set_next(&mut self, index: OrderIndex, next: OrderIndex);
}
