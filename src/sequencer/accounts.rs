//! The keys that may hold an account, as the sequencer can tell them: a key becomes known when
//! a deposit to it is sequenced (deposits alone create accounts, and only the administrator
//! signs them), live or replayed from the journal at start-up, so the set is a deterministic
//! function of the journal.
//!
//! **Why the sequencer keeps it.** A key that is not known holds nothing: no balance, no order.
//! Nothing it signs can change state, so its commands pass through unsequenced (sequence 0): no
//! sequence number, no journal record, no sync, no replay-cache entry, and the matcher answers
//! them as it would any command of an empty account (an order: insufficient funds; a cancel:
//! not found; a cancel-all: `[]`). A stranger's flood costs verification and nothing that lasts.
//!
//! **Conservative.** A known key may still have no account (its deposit was refused): its
//! commands are sequenced as before and the matcher's rejection keeps them out of the journal.
//! A deposit past `accounts_max` distinct keys sets `overflowed`, after which every key counts
//! as known: wrong in the safe direction only. Fixed capacity, preallocated; sequencer thread
//! only.

use crate::fixed::account_keys::AccountKeyIndex;
use crate::types::{AccountIndex, AccountKey};

/// The set of known keys.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct KnownAccounts {
    index: AccountKeyIndex,
    keys: Vec<AccountKey>,
    keys_max: usize,
    overflowed: bool,
}

impl KnownAccounts {
    /// Room for `keys_max` keys again, after a snapshot was read.
    pub fn restore_capacity(&mut self) {
        crate::fixed::reserve_total(&mut self.keys, self.keys_max);
    }

    /// Room for `accounts_max` keys, allocated now.
    pub fn with_accounts_max(accounts_max: usize) -> KnownAccounts {
        KnownAccounts {
            index: AccountKeyIndex::with_accounts_max(accounts_max),
            keys: Vec::with_capacity(accounts_max),
            keys_max: accounts_max,
            overflowed: false,
        }
    }

    /// Whether `key` may hold an account.
    #[inline]
    pub fn may_hold(&self, key: &AccountKey) -> bool {
        self.overflowed || self.find(key)
    }

    fn find(&self, key: &AccountKey) -> bool {
        self.index.find(key, |account| &self.keys[account.0 as usize]).is_some()
    }

    /// A deposit to `key` was sequenced.
    pub fn note_deposit(&mut self, key: &AccountKey) {
        if self.find(key) {
            return;
        }
        if self.keys.len() == self.keys_max {
            self.overflowed = true;
            return;
        }
        self.index.insert(key, AccountIndex(self.keys.len() as u32));
        self.keys.push(*key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deposit_makes_a_key_known_and_overflow_makes_every_key_known() {
        let key = |n: u8| AccountKey([n; 32]);
        let mut known = KnownAccounts::with_accounts_max(2);
        assert!(!known.may_hold(&key(1)));
        known.note_deposit(&key(1));
        known.note_deposit(&key(1));
        known.note_deposit(&key(2));
        assert!(known.may_hold(&key(1)) && known.may_hold(&key(2)));
        assert!(!known.may_hold(&key(3)));
        known.note_deposit(&key(4));
        assert!(known.may_hold(&key(3)), "past the capacity, every key may hold an account");
    }
}
