//! The account table: account index ↔ key, so that the history endpoints, which name an account
//! by its key, find its records.
//!
//! **Written by** the view's `apply` on `AccountCreated`, in event order; read by the view's
//! queries (`account_index`, `account_key`, the `for_each_*` histories).
//!
//! **Bounds**: `accounts_max` keys (the configuration's), reserved in `new`; the lookup is the
//! shared [`AccountKeyIndex`] (the matcher's, with the same hash), at most half full. Nothing
//! grows after `new`.
//!
//! **Invariants**: account indices arrive dense from 1 (index 0, the fee account, holds the zero
//! key and has no lookup slot); a key appears at most once (asserted); accounts are never removed.

use crate::fixed::AccountKeyIndex;
use crate::types::{AccountIndex, AccountKey};

/// Account index ↔ key. Keys are compared in full, so a hash collision costs a probe.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct AccountTable {
    /// By index; index 0 (the fee account) has the zero key and is never looked up.
    keys: Vec<AccountKey>,
    index: AccountKeyIndex,
}

impl AccountTable {
    /// Room for `accounts_max` keys again, after a snapshot was read.
    pub(super) fn restore_capacity(&mut self, accounts_max: u32) {
        crate::fixed::reserve_total(&mut self.keys, accounts_max as usize);
    }

    pub(super) fn new(accounts_max: u32) -> AccountTable {
        let mut keys = Vec::with_capacity(accounts_max as usize);
        keys.push(AccountKey::default());
        AccountTable { keys, index: AccountKeyIndex::with_accounts_max(accounts_max as usize) }
    }

    pub(super) fn insert(&mut self, account: AccountIndex, key: AccountKey) {
        assert_eq!(account.0 as usize, self.keys.len(), "account indices are dense");
        assert!(self.keys.len() < self.keys.capacity(), "more accounts than accounts_max");
        assert!(self.find(&key).is_none(), "an account key appears twice");
        self.keys.push(key);
        self.index.insert(&key, account);
    }

    pub(super) fn find(&self, key: &AccountKey) -> Option<AccountIndex> {
        self.index.find(key, |account| &self.keys[account.0 as usize])
    }

    /// The key of `account`, if it was created (the fee account's is the zero key).
    pub(super) fn key(&self, account: AccountIndex) -> Option<&AccountKey> {
        self.keys.get(account.0 as usize)
    }
}
