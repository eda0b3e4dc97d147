//! Each account's open orders, oldest first: circular doubly linked lists through one
//! preallocated array of links, with one sentinel link per account.
//!
//! Link `i < orders_max` belongs to the order at pool index `i`; link `orders_max + a` is account
//! `a`'s sentinel, which stands for both ends of its list. Because every list is circular
//! through its sentinel, adding or removing an order writes its two neighbours unconditionally:
//! there is no "first or last in the list?" branch. With orders spread over many accounts that
//! branch is close to a coin flip: callgrind's branch simulation put a quarter of the matcher's
//! conditional mispredicts on it (realistic mix of `cargo bench --bench matcher`; the gain is in
//! benches/README.md).
//!
//! The links sit apart from the orders: the pool hands out low indices first, so the links of the
//! live orders stay in a few dense, cache-warm lines.

use super::order_index::OrderIndex;
use crate::types::AccountIndex;

/// One order's or one sentinel's neighbours, as link numbers: an order's index (`< orders_max`)
/// or a sentinel's `orders_max + account`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Link {
    prev: u32,
    next: u32,
}

/// The lists of every account.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct AccountOrders {
    links: Box<[Link]>,
    orders_max: u32,
}

impl AccountOrders {
    /// Room for `orders_max` orders and `accounts_max` accounts, every list empty.
    pub fn new(orders_max: u32, accounts_max: u32) -> AccountOrders {
        let links_max = orders_max.checked_add(accounts_max).expect("order and account limits");
        // An empty list's sentinel points at itself both ways.
        let links = (0..links_max).map(|link| Link { prev: link, next: link }).collect();
        AccountOrders { links, orders_max }
    }

    #[inline]
    fn sentinel(&self, account: AccountIndex) -> u32 {
        self.orders_max + account.0
    }

    /// Appends the order at `index` (not in any list) to `account`'s list.
    #[inline]
    pub fn push_back(&mut self, account: AccountIndex, index: OrderIndex) {
        debug_assert!(index.0 < self.orders_max);
        let sentinel = self.sentinel(account);
        let tail = self.links[sentinel as usize].prev;
        self.links[index.0 as usize] = Link { prev: tail, next: sentinel };
        self.links[tail as usize].next = index.0;
        self.links[sentinel as usize].prev = index.0;
    }

    /// Takes the order at `index` out of its account's list.
    #[inline]
    pub fn remove(&mut self, index: OrderIndex) {
        debug_assert!(index.0 < self.orders_max);
        let Link { prev, next } = self.links[index.0 as usize];
        self.links[prev as usize].next = next;
        self.links[next as usize].prev = prev;
    }

    /// The oldest order of `account`, if any.
    #[inline]
    pub fn first(&self, account: AccountIndex) -> Option<OrderIndex> {
        self.after_link(account, self.sentinel(account))
    }

    /// The order after the one at `index` in `account`'s list, if any. Read it before removing
    /// the order at `index`.
    #[inline]
    pub fn after(&self, account: AccountIndex, index: OrderIndex) -> Option<OrderIndex> {
        self.after_link(account, index.0)
    }

    /// The order after link `link` (an order's or the sentinel) in `account`'s list, if any.
    #[inline]
    fn after_link(&self, account: AccountIndex, link: u32) -> Option<OrderIndex> {
        let next = self.links[link as usize].next;
        (next != self.sentinel(account)).then_some(OrderIndex(next))
    }

    /// Full check of one account's list (tests, not the hot path): every link's neighbours point
    /// back at it and the walk returns to the sentinel. Returns the orders' indices, oldest first.
    // tidy: diagnostics (invariant checks, never on the command path)
    pub fn check(&self, account: AccountIndex) -> Result<Vec<OrderIndex>, String> {
        let sentinel = self.sentinel(account);
        let (mut indices, mut link) = (Vec::new(), sentinel);
        loop {
            let next = self.links[link as usize].next;
            if self.links[next as usize].prev != link {
                return Err(format!("{account:?} order list: a back link is wrong"));
            }
            if next == sentinel {
                return Ok(indices);
            }
            if next >= self.orders_max || indices.len() >= self.orders_max as usize {
                return Err(format!("{account:?} order list leaves the orders or loops"));
            }
            indices.push(OrderIndex(next));
            link = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Order indices from bare numbers.
    fn orders<const N: usize>(indices: [u32; N]) -> [OrderIndex; N] {
        indices.map(OrderIndex)
    }

    #[test]
    fn lists_keep_order_through_removals_at_either_end_and_in_the_middle() {
        let (alice, bob) = (AccountIndex(0), AccountIndex(1));
        let mut lists = AccountOrders::new(8, 2);
        assert_eq!(lists.first(alice), None);
        for index in orders([3, 1, 5, 0]) {
            lists.push_back(alice, index);
        }
        lists.push_back(bob, OrderIndex(7));
        assert_eq!(lists.check(alice).unwrap(), orders([3, 1, 5, 0]));
        lists.remove(OrderIndex(1));
        assert_eq!(lists.check(alice).unwrap(), orders([3, 5, 0]));
        lists.remove(OrderIndex(3));
        lists.remove(OrderIndex(0));
        assert_eq!(lists.check(alice).unwrap(), orders([5]));
        assert_eq!(lists.first(alice), Some(OrderIndex(5)));
        assert_eq!(lists.after(alice, OrderIndex(5)), None);
        lists.remove(OrderIndex(5));
        assert_eq!(lists.check(alice).unwrap(), orders([]));
        lists.push_back(alice, OrderIndex(1));
        assert_eq!(lists.check(alice).unwrap(), orders([1]));
        assert_eq!(lists.check(bob).unwrap(), orders([7]));
    }
}
