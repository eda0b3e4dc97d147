//! Account key → account index: the lookup both the matcher (`matcher::accounts`) and net-out's
//! view (`netout::view::accounts`) keep, each for its own accounts.
//!
//! The index holds account indices only; the keys stay in the owner's per-account array, which
//! [`AccountKeyIndex::find`] reads through a closure, so a key is stored once per owner. Linear
//! probing from [`account_key_hash`]; accounts are never removed, so there is no deletion.
//!
//! **Bounds**: `accounts_max` indices, at most half the cells. **Invariants**: an index is
//! inserted once (the owner asserts the key is new); the empty marker `u32::MAX` is never an
//! account index.

use super::account_key_hash;
use crate::types::{AccountIndex, AccountKey};

const EMPTY: u32 = u32::MAX;

/// Account key → account index, for at most `accounts_max` accounts, allocated at construction.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct AccountKeyIndex {
    cells: Box<[u32]>,
    mask: usize,
}

impl AccountKeyIndex {
    /// Room for `accounts_max` accounts.
    pub fn with_accounts_max(accounts_max: usize) -> AccountKeyIndex {
        let cells = (accounts_max.max(4) * 2).next_power_of_two();
        AccountKeyIndex { cells: vec![EMPTY; cells].into_boxed_slice(), mask: cells - 1 }
    }

    #[inline]
    fn home(&self, key: &AccountKey) -> usize {
        (account_key_hash(&key.0) >> 32) as usize & self.mask
    }

    /// The account whose key is `key`; `key_of` gives the key of an account index the owner
    /// holds.
    #[inline]
    pub fn find<'k>(
        &self,
        key: &AccountKey,
        key_of: impl Fn(AccountIndex) -> &'k AccountKey,
    ) -> Option<AccountIndex> {
        let mut cell = self.home(key);
        loop {
            let index = self.cells[cell];
            if index == EMPTY {
                return None;
            }
            if key_of(AccountIndex(index)) == key {
                return Some(AccountIndex(index));
            }
            cell = (cell + 1) & self.mask;
        }
    }

    /// Indexes `account` under `key` (new: the caller has checked). Panics when full: the owner
    /// refuses new accounts at its `accounts_max` before it gets here.
    pub fn insert(&mut self, key: &AccountKey, account: AccountIndex) {
        assert!(account.0 != EMPTY, "u32::MAX is the empty marker");
        let mut cell = self.home(key);
        let mut probes = 0;
        while self.cells[cell] != EMPTY {
            cell = (cell + 1) & self.mask;
            probes += 1;
            assert!(probes <= self.mask, "the account index is full");
        }
        self.cells[cell] = account.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_through_colliding_homes() {
        let accounts_max = 64;
        let mut index = AccountKeyIndex::with_accounts_max(accounts_max);
        // Keys that differ only in bytes the hash does not read share one home cell.
        let keys: Vec<AccountKey> = (0..accounts_max as u8)
            .map(|n| {
                let mut key = [7u8; 32];
                key[12] = n;
                AccountKey(key)
            })
            .collect();
        for (n, key) in keys.iter().enumerate() {
            let key_of = |account: AccountIndex| &keys[account.0 as usize];
            assert_eq!(index.find(key, key_of), None);
            index.insert(key, AccountIndex(n as u32));
        }
        for (n, key) in keys.iter().enumerate() {
            let key_of = |account: AccountIndex| &keys[account.0 as usize];
            assert_eq!(index.find(key, key_of), Some(AccountIndex(n as u32)));
        }
        let stranger = AccountKey([9; 32]);
        assert_eq!(index.find(&stranger, |account| &keys[account.0 as usize]), None);
    }
}
