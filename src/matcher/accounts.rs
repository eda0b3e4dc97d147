//! Accounts and balances: who exists, what each holds per asset, and each account's open orders.
//!
//! Accounts get dense indices in order of first deposit (index 0 is the fee account, which no key
//! names). Balances are one flat preallocated array, `accounts_max × assets`, so a balance is one
//! multiply-add away from its account index. Keys are found through an open-addressing table of
//! account indices (keys are compared in full, so a hash collision costs a probe, never a mix-up).

use super::state_hash::Coefficients;
use crate::types::{AccountIndex, AccountKey, AssetId};

/// One asset's balance of one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// Free to spend or withdraw.
    pub available: u64,
    /// Held by open orders; always exactly what they could still spend.
    pub locked: u64,
}

/// One account.
#[derive(Clone, Copy, Debug)]
pub struct Account {
    /// Its key (all zeros for the fee account, which is never looked up by key).
    pub key: AccountKey,
    /// Frozen accounts may cancel but not place or withdraw.
    pub frozen: bool,
    /// Open orders across all markets (listed in `AccountOrders`).
    pub open_orders: u32,
}

/// A balance beside its state-hash coefficients, so a write finds both on one cache line.
#[derive(Clone, Copy, Debug)]
struct BalanceSlot {
    balance: Balance,
    coefficients: Coefficients,
}

const EMPTY_SLOT: u32 = u32::MAX;

/// Every account and balance.
pub struct Accounts {
    accounts: Vec<Account>,
    balances: Vec<BalanceSlot>,
    assets: usize,
    key_slots: Box<[u32]>,
    key_mask: usize,
    accounts_max: usize,
}

impl Accounts {
    /// Allocates `accounts_max` accounts of `assets` balances each; creates the fee account.
    pub fn new(accounts_max: u32, assets: usize) -> Accounts {
        let accounts_max = accounts_max as usize;
        let slots = (accounts_max * 2).next_power_of_two();
        let mut accounts = Vec::with_capacity(accounts_max);
        accounts.push(Account { key: AccountKey([0; 32]), frozen: false, open_orders: 0 });
        let unused = BalanceSlot {
            balance: Balance::default(),
            coefficients: Coefficients::of_balance(u32::MAX, u16::MAX),
        };
        let mut accounts = Accounts {
            accounts,
            balances: vec![unused; accounts_max * assets],
            assets,
            key_slots: vec![EMPTY_SLOT; slots].into_boxed_slice(),
            key_mask: slots - 1,
            accounts_max,
        };
        accounts.set_coefficients(AccountIndex::FEE);
        accounts
    }

    /// Caches the state-hash coefficients of a new account's balances.
    fn set_coefficients(&mut self, account: AccountIndex) {
        for asset in 0..self.assets {
            let slot = &mut self.balances[account.0 as usize * self.assets + asset];
            slot.coefficients = Coefficients::of_balance(account.0, asset as u16);
        }
    }

    /// Accounts held, the fee account included.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    #[inline]
    fn home(&self, key: &AccountKey) -> usize {
        let word = u64::from_le_bytes(key.0[0..8].try_into().unwrap())
            ^ u64::from_le_bytes(key.0[24..32].try_into().unwrap()).rotate_left(29);
        (word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.key_mask
    }

    /// The account named by `key`.
    #[inline]
    pub fn find(&self, key: &AccountKey) -> Option<AccountIndex> {
        let mut slot = self.home(key);
        loop {
            let index = self.key_slots[slot];
            if index == EMPTY_SLOT {
                return None;
            }
            if self.accounts[index as usize].key == *key {
                return Some(AccountIndex(index));
            }
            slot = (slot + 1) & self.key_mask;
        }
    }

    /// Whether another account fits.
    pub fn has_room(&self) -> bool {
        self.accounts.len() < self.accounts_max
    }

    /// Creates an account for `key` (not present; `has_room()` checked).
    pub fn create(&mut self, key: AccountKey) -> AccountIndex {
        assert!(self.has_room());
        debug_assert!(self.find(&key).is_none());
        let index = self.accounts.len() as u32;
        self.accounts.push(Account { key, frozen: false, open_orders: 0 });
        let mut slot = self.home(&key);
        while self.key_slots[slot] != EMPTY_SLOT {
            slot = (slot + 1) & self.key_mask;
        }
        self.key_slots[slot] = index;
        self.set_coefficients(AccountIndex(index));
        AccountIndex(index)
    }

    /// The account.
    #[inline]
    pub fn get(&self, account: AccountIndex) -> &Account {
        &self.accounts[account.0 as usize]
    }

    /// The account, mutably.
    #[inline]
    pub fn get_mut(&mut self, account: AccountIndex) -> &mut Account {
        &mut self.accounts[account.0 as usize]
    }

    /// Every account with its index, the fee account first.
    pub fn iter(&self) -> impl Iterator<Item = (AccountIndex, &Account)> + '_ {
        self.accounts
            .iter()
            .enumerate()
            .map(|(index, account)| (AccountIndex(index as u32), account))
    }

    /// One balance.
    #[inline]
    pub fn balance(&self, account: AccountIndex, asset: AssetId) -> Balance {
        self.balances[account.0 as usize * self.assets + asset.0 as usize].balance
    }

    /// One balance, mutably, with its state-hash coefficients. Writers must keep the state hash
    /// in step (see the balance writers beside `Matcher::set_balance`).
    #[inline]
    pub fn balance_mut(
        &mut self,
        account: AccountIndex,
        asset: AssetId,
    ) -> (&mut Balance, Coefficients) {
        let slot = &mut self.balances[account.0 as usize * self.assets + asset.0 as usize];
        (&mut slot.balance, slot.coefficients)
    }
}
