//! The account table: account index ↔ key, so that the history endpoints, which name an account
//! by its key, find its records.
//!
//! **Written by** the view's `apply` on `AccountCreated`, in event order; read by the view's
//! queries (`account_index`, `account_key`, the `for_each_*` histories).
//!
//! **Bounds**: `accounts_max` keys (the configuration's), reserved in `new`; the lookup slots are
//! the next power of two ≥ 2 × `accounts_max`, so the open-addressing table is never more than
//! half full and every probe ends at an empty slot. Nothing grows after `new`.
//!
//! **Invariants**: account indices arrive dense from 1 (index 0, the fee account, holds the zero
//! key and has no lookup slot); a key appears at most once (asserted); accounts are never removed.

use crate::types::{AccountIndex, AccountKey};

const EMPTY_SLOT: u32 = u32::MAX;

/// Account index ↔ key. Keys are compared in full, so a hash collision costs a probe.
pub(super) struct AccountTable {
    /// By index; index 0 (the fee account) has the zero key and is never looked up.
    keys: Vec<AccountKey>,
    slots: Box<[u32]>,
    mask: usize,
}

impl AccountTable {
    pub(super) fn new(accounts_max: u32) -> AccountTable {
        let slots = (accounts_max as usize * 2).next_power_of_two();
        let mut keys = Vec::with_capacity(accounts_max as usize);
        keys.push(AccountKey::default());
        AccountTable { keys, slots: vec![EMPTY_SLOT; slots].into_boxed_slice(), mask: slots - 1 }
    }

    fn home(&self, key: &AccountKey) -> usize {
        let mut word = 0u64;
        for chunk in key.0.chunks_exact(8) {
            word = (word ^ u64::from_le_bytes(chunk.try_into().unwrap())).rotate_left(23);
        }
        (word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    pub(super) fn insert(&mut self, account: AccountIndex, key: AccountKey) {
        assert_eq!(account.0 as usize, self.keys.len(), "account indices are dense");
        assert!(self.keys.len() < self.keys.capacity(), "more accounts than accounts_max");
        assert!(self.find(&key).is_none(), "an account key appears twice");
        self.keys.push(key);
        let mut slot = self.home(&key);
        while self.slots[slot] != EMPTY_SLOT {
            slot = (slot + 1) & self.mask;
        }
        self.slots[slot] = account.0;
    }

    pub(super) fn find(&self, key: &AccountKey) -> Option<AccountIndex> {
        let mut slot = self.home(key);
        loop {
            let account = self.slots[slot];
            if account == EMPTY_SLOT {
                return None;
            }
            if self.keys[account as usize] == *key {
                return Some(AccountIndex(account));
            }
            slot = (slot + 1) & self.mask;
        }
    }

    /// The key of `account`, if it was created (the fee account's is the zero key).
    pub(super) fn key(&self, account: AccountIndex) -> Option<&AccountKey> {
        self.keys.get(account.0 as usize)
    }
}
