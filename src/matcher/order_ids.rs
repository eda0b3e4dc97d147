//! The order-id index: from an open order's id to its index in the order pool, for cancels and
//! fills.
//!
//! Hand-written because it sits on the matcher's hot path (every resting order adds an id,
//! every cancel looks one up, every order that leaves the book removes one) and its memory
//! footprint decides a cancel's speed; no crate offers a preallocated map that never rehashes
//! all at once.
//!
//! **Linear hashing** (Litwin, 1980) over a preallocated array of bucket heads. The buckets in
//! use grow one at a time, each splitting one bucket, while the ids held are more than half
//! their number, and shrink one at a time, each merging one bucket, while the ids are fewer than
//! an eighth of it: the work of resizing is spread over the inserts and removals (two splits
//! per insert, eight merges per removal at most), one short chain at a time, and never
//! allocates.
//! Chains run through the orders themselves (each order has its id and the next order in its
//! bucket; see [`Links`]), so finding an order reads one bucket head and then the order, which
//! the caller reads anyway.
//!
//! **Why not one slot per id in a table sized for the limit**, as before: that table (8 MiB at
//! the default limit) kept the live orders' entries one to a line, spread over the ids of the
//! past, so a cancel's lookup read a line untouched since its order was placed. Here the
//! buckets in use (4 bytes each, 2 to 8 per id held: 16 to 32 KiB in the realistic mix of
//! `cargo bench --bench matcher`) are touched by every placement and removal. Measured there:
//! a cancel timed alone went from 69–94 ns to 64–71 ns. callgrind's cache simulation (48 KiB L1,
//! a 2 MiB level behind it) does not tell the two apart: both lookups miss L1 and hit behind it.
//! (Links in an array of their own, 16 bytes per order, cost a line more per lookup than
//! links in the order: callgrind put an L1 miss on nearly every one.)
//!
//! The hash is the id itself. Ids are sequence numbers, so consecutive ids go to consecutive
//! buckets and two ids share a bucket only when they differ by a multiple of the bucket count;
//! no client chooses its sequence numbers.
//!
//! Invariants: every id held is in the chain of `bucket(id)`, exactly once; `len` counts them;
//! `BUCKETS_MIN <= buckets <= heads.len()`; `len <= buckets / 2` unless every bucket is in use,
//! `len >= buckets / 8` unless only `BUCKETS_MIN` are.

use super::order_index::{Links, OrderIndex};
use std::hint::select_unpredictable;

/// Buckets in use when few ids are held (the array never shrinks below this).
const BUCKETS_MIN: usize = 64;

/// Order id → order index, for at most one id per order.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct OrderIds {
    /// Chain heads of every bucket the array could use; those at `buckets` and above are NIL.
    heads: Box<[OrderIndex]>,
    /// Buckets in use.
    buckets: usize,
    /// The largest power of two at most `buckets`, minus one: `bucket` masks with it, or with
    /// `high_mask`, twice it plus one.
    low_mask: u64,
    high_mask: u64,
    /// More ids than this, and a bucket more comes into use (half the buckets, or never once
    /// all are in use).
    grow_above: usize,
    /// Fewer ids than this, and a bucket goes out of use (an eighth of the buckets, rounded
    /// up, or never at `BUCKETS_MIN`).
    shrink_below: usize,
    /// Ids held.
    len: usize,
}

impl OrderIds {
    /// Room for the orders at `0..orders_max`, every one of which may hold an id.
    pub fn with_orders_max(orders_max: u32) -> OrderIds {
        let buckets_max = (orders_max as usize * 2).max(BUCKETS_MIN).next_power_of_two();
        let mut ids = OrderIds {
            heads: vec![OrderIndex::NIL; buckets_max].into_boxed_slice(),
            buckets: 0,
            low_mask: 0,
            high_mask: 0,
            grow_above: 0,
            shrink_below: 0,
            len: 0,
        };
        ids.set_buckets(BUCKETS_MIN);
        ids
    }

    /// Ids held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no id is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Buckets in use.
    #[cfg(test)]
    pub fn buckets(&self) -> usize {
        self.buckets
    }

    /// The bucket of `id`: its low bits under the wider mask if that bucket is in use yet,
    /// under the narrower one if not.
    #[inline(always)]
    fn bucket(&self, id: u64) -> usize {
        let wide = (id & self.high_mask) as usize;
        let narrow = (id & self.low_mask) as usize;
        // NB: which one applies follows the id's bits, not a pattern a predictor learns.
        select_unpredictable(wide < self.buckets, wide, narrow)
    }

    /// The index of the order holding `id`.
    #[inline]
    pub fn get(&self, links: &impl Links, id: u64) -> Option<OrderIndex> {
        let mut index = self.heads[self.bucket(id)];
        while !index.is_nil() {
            if links.id(index) == id {
                return Some(index);
            }
            index = links.next(index);
        }
        None
    }

    /// Records that the order at `index`, whose id is `id`, holds it. The caller guarantees that
    /// the id is not held (ids are sequence numbers, each used once) and that the order is in no
    /// chain.
    #[inline]
    pub fn insert(&mut self, links: &mut impl Links, id: u64, index: OrderIndex) {
        debug_assert_eq!(links.id(index), id);
        debug_assert_eq!(self.get(links, id), None, "order id {id} is already held");
        let bucket = self.bucket(id);
        links.set_next(index, self.heads[bucket]);
        self.heads[bucket] = index;
        self.len += 1;
        if self.len > self.grow_above {
            self.grow(links);
        }
    }

    /// Forgets `id`, which the order at `index` holds.
    #[inline]
    pub fn remove(&mut self, links: &mut impl Links, id: u64, index: OrderIndex) {
        debug_assert_eq!(self.get(links, id), Some(index));
        let bucket = self.bucket(id);
        let next = links.next(index);
        let head = self.heads[bucket];
        if head == index {
            self.heads[bucket] = next;
        } else {
            let mut previous = head;
            while links.next(previous) != index {
                previous = links.next(previous);
            }
            links.set_next(previous, next);
        }
        self.len -= 1;
        if self.len < self.shrink_below {
            self.shrink(links);
        }
    }

    /// Every id held with its order's index, in no particular order (for invariant checks and
    /// hashing, not the hot path).
    pub fn iter<'a>(
        &'a self,
        links: &'a impl Links,
    ) -> impl Iterator<Item = (u64, OrderIndex)> + 'a {
        self.heads[..self.buckets].iter().flat_map(move |&head| {
            std::iter::successors((!head.is_nil()).then_some(head), move |&index| {
                let next = links.next(index);
                (!next.is_nil()).then_some(next)
            })
            .map(move |index| (links.id(index), index))
        })
    }

    /// Full check of the invariants (tests, not the hot path).
    // tidy: diagnostics (invariant checks, never on the command path)
    pub fn check(&self, links: &impl Links) -> Result<(), String> {
        if !(BUCKETS_MIN..=self.heads.len()).contains(&self.buckets) {
            return Err(format!("{} buckets in use", self.buckets));
        }
        if self.low_mask + 1 != 1 << self.buckets.ilog2() {
            return Err(format!("mask {:#x} for {} buckets", self.low_mask, self.buckets));
        }
        let too_full = self.len * 2 > self.buckets && self.buckets < self.heads.len();
        let too_empty = self.len * 8 < self.buckets && self.buckets > BUCKETS_MIN;
        if (too_full, too_empty) != (self.len > self.grow_above, self.len < self.shrink_below) {
            return Err(format!("thresholds {} and {}", self.grow_above, self.shrink_below));
        }
        if too_full || too_empty {
            return Err(format!("{} ids in {} buckets", self.len, self.buckets));
        }
        if let Some(bucket) = self.heads[self.buckets..].iter().position(|head| !head.is_nil()) {
            return Err(format!("bucket {} is past those in use", self.buckets + bucket));
        }
        let mut held = 0;
        for (bucket, &head) in self.heads[..self.buckets].iter().enumerate() {
            let mut index = head;
            while !index.is_nil() {
                let id = links.id(index);
                if self.bucket(id) != bucket {
                    return Err(format!("id {id} chained in bucket {bucket}"));
                }
                held += 1;
                if held > self.len {
                    return Err(format!("more than {} ids chained (a cycle?)", self.len));
                }
                index = links.next(index);
            }
        }
        if held != self.len {
            return Err(format!("{held} ids chained, {} counted", self.len));
        }
        Ok(())
    }

    /// Brings buckets into use until no more than half are taken (two, after an insert).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, links: &mut impl Links) {
        while self.len > self.grow_above {
            self.split(links);
        }
    }

    /// Takes buckets out of use until at least an eighth are taken (eight, after a removal).
    #[cold]
    #[inline(never)]
    fn shrink(&mut self, links: &mut impl Links) {
        while self.len < self.shrink_below {
            self.merge(links);
        }
    }

    /// Brings bucket `buckets` into use, moving into it the ids of the bucket that held them.
    fn split(&mut self, links: &mut impl Links) {
        let new_bucket = self.buckets;
        // Ids of the new bucket lived in the one that differs from it in the top bit, the bit
        // that now tells the two apart.
        let split_bit = self.low_mask + 1;
        let parent = new_bucket & self.low_mask as usize;
        let (mut staying, mut moving) = (OrderIndex::NIL, OrderIndex::NIL);
        let mut index = self.heads[parent];
        while !index.is_nil() {
            let next = links.next(index);
            if links.id(index) & split_bit == 0 {
                links.set_next(index, staying);
                staying = index;
            } else {
                links.set_next(index, moving);
                moving = index;
            }
            index = next;
        }
        self.heads[parent] = staying;
        self.heads[new_bucket] = moving;
        self.set_buckets(new_bucket + 1);
    }

    /// Takes the last bucket out of use, appending its ids to the bucket that takes them back.
    fn merge(&mut self, links: &mut impl Links) {
        let last = self.buckets - 1;
        self.set_buckets(last);
        let parent = last & self.low_mask as usize;
        let moving = std::mem::replace(&mut self.heads[last], OrderIndex::NIL);
        if moving.is_nil() {
            return;
        }
        let mut tail = moving;
        while !links.next(tail).is_nil() {
            tail = links.next(tail);
        }
        links.set_next(tail, self.heads[parent]);
        self.heads[parent] = moving;
    }

    fn set_buckets(&mut self, buckets: usize) {
        self.buckets = buckets;
        self.low_mask = (1 << buckets.ilog2()) - 1;
        self.high_mask = self.low_mask << 1 | 1;
        self.grow_above = if buckets < self.heads.len() { buckets / 2 } else { usize::MAX };
        self.shrink_below = if buckets > BUCKETS_MIN { buckets.div_ceil(8) } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Links of their own, for the index alone: (id, next) per order.
    struct TestLinks(Vec<(u64, OrderIndex)>);

    impl Links for TestLinks {
        fn id(&self, index: OrderIndex) -> u64 {
            self.0[index.0 as usize].0
        }
        fn next(&self, index: OrderIndex) -> OrderIndex {
            self.0[index.0 as usize].1
        }
        fn set_next(&mut self, index: OrderIndex, next: OrderIndex) {
            self.0[index.0 as usize].1 = next;
        }
    }

    /// An empty index and links for `orders_max` orders.
    fn empty(orders_max: u32) -> (OrderIds, TestLinks) {
        let links = TestLinks(vec![(0, OrderIndex::NIL); orders_max as usize]);
        (OrderIds::with_orders_max(orders_max), links)
    }

    /// Gives the order at `index` the id `id` and indexes it.
    fn place(ids: &mut OrderIds, links: &mut TestLinks, id: u64, index: OrderIndex) {
        links.0[index.0 as usize].0 = id;
        ids.insert(links, id, index);
    }

    #[test]
    fn grows_with_the_ids_held_and_shrinks_back() {
        let (mut ids, mut links) = empty(4096);
        for index in 0..4000u32 {
            place(&mut ids, &mut links, 1_000 + u64::from(index), OrderIndex(index));
        }
        ids.check(&links).unwrap();
        assert_eq!(ids.len(), 4000);
        assert_eq!(ids.buckets(), 8000, "the ids held stay at most half the buckets");
        assert_eq!(ids.get(&links, 1_000), Some(OrderIndex(0)));
        assert_eq!(ids.get(&links, 4_999), Some(OrderIndex(3999)));
        assert_eq!(ids.get(&links, 5_000), None);
        for index in 0..4000u32 {
            ids.remove(&mut links, 1_000 + u64::from(index), OrderIndex(index));
        }
        ids.check(&links).unwrap();
        assert_eq!(ids.buckets(), BUCKETS_MIN);
        assert!(ids.is_empty());
    }

    #[test]
    fn ids_sharing_low_bits_share_one_chain() {
        let (mut ids, mut links) = empty(100);
        for index in 0..100u32 {
            place(&mut ids, &mut links, u64::from(index) << 40, OrderIndex(index));
        }
        ids.check(&links).unwrap();
        assert_eq!(ids.buckets(), 200);
        assert_eq!(ids.get(&links, 99 << 40), Some(OrderIndex(99)));
        assert_eq!(ids.get(&links, 0), Some(OrderIndex(0)), "at the far end of the chain");
        ids.remove(&mut links, 50 << 40, OrderIndex(50));
        assert_eq!(ids.get(&links, 49 << 40), Some(OrderIndex(49)));
        assert_eq!(ids.get(&links, 50 << 40), None);
        ids.check(&links).unwrap();
    }

    proptest! {
        /// Agrees with std's HashMap over random placements and removals, mostly increasing ids
        /// (as sequence numbers are) with some far apart, through growth and shrinking; the
        /// invariants hold after every operation.
        #[test]
        fn agrees_with_hashmap(
            operations in proptest::collection::vec((0u8..4, 0u64..1 << 12, 0usize..512), 1..2000),
        ) {
            let (mut ids, mut links) = empty(512);
            let mut model: HashMap<u64, OrderIndex> = HashMap::new();
            let mut free: Vec<OrderIndex> = (0..512).rev().map(OrderIndex).collect();
            let mut next_id = 1u64;
            for (step, (operation, jump, pick)) in operations.into_iter().enumerate() {
                // Placements outnumber removals in even waves of 300 operations, removals
                // placements in odd ones, so the index grows and shrinks over and over.
                let filling = step / 300 % 2 == 0;
                let operation = if !filling && operation == 1 { 2 } else { operation };
                match operation {
                    0 | 1 if !free.is_empty() => {
                        next_id += 1 + jump * u64::from(operation);
                        let index = free.pop().unwrap();
                        place(&mut ids, &mut links, next_id, index);
                        model.insert(next_id, index);
                    }
                    2 if !model.is_empty() => {
                        let mut held: Vec<u64> = model.keys().copied().collect();
                        held.sort_unstable();
                        let id = held[pick % held.len()];
                        let index = model.remove(&id).unwrap();
                        ids.remove(&mut links, id, index);
                        free.push(index);
                    }
                    _ => {
                        let id = next_id.saturating_sub(jump);
                        prop_assert_eq!(ids.get(&links, id), model.get(&id).copied());
                    }
                }
                prop_assert_eq!(ids.len(), model.len());
                if let Err(problem) = ids.check(&links) {
                    prop_assert!(false, "{}", problem);
                }
            }
            prop_assert_eq!(ids.iter(&links).collect::<HashMap<_, _>>(), model);
        }
    }
}
