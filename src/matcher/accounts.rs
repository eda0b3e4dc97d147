//! Accounts and balances: who exists, what each holds per asset, and each account's open orders.
//!
//! Accounts get dense indices in order of first deposit (index 0 is the fee account, which no key
//! names). Balances are one flat preallocated array, `accounts_max × assets`, so a balance is one
//! multiply-add away from its account index. Keys are found through an open-addressing table of
//! account indices (keys are compared in full, so a hash collision costs a probe, never a mix-up).

use super::state_hash::Coefficients;
use crate::fixed::AccountKeyIndex;
use crate::types::{AccountIndex, AccountKey, AssetId};

/// One asset's balance of one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Balance {
    /// Free to spend or withdraw.
    pub available: u64,
    /// Held by open orders; always exactly what they could still spend.
    pub locked: u64,
}

/// One account.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Account {
    /// Its key (all zeros for the fee account, which is never looked up by key).
    pub key: AccountKey,
    /// Frozen accounts may cancel but not place or withdraw.
    pub frozen: bool,
    /// Open orders across all markets (listed in `AccountOrders`).
    pub open_orders: u32,
}

/// A balance beside its state-hash coefficients, so a write finds both on one cache line.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct BalanceSlot {
    balance: Balance,
    coefficients: Coefficients,
}

/// Every account and balance.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Accounts {
    accounts: Vec<Account>,
    balances: Vec<BalanceSlot>,
    assets: usize,
    keys: AccountKeyIndex,
    accounts_max: usize,
}

impl Accounts {
    /// Room for `accounts_max` accounts again, after a snapshot was read.
    pub fn restore_capacity(&mut self) {
        crate::fixed::reserve_total(&mut self.accounts, self.accounts_max);
    }

    /// Allocates `accounts_max` accounts of `assets` balances each; creates the fee account.
    pub fn new(accounts_max: u32, assets: usize) -> Accounts {
        let accounts_max = accounts_max as usize;
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
            keys: AccountKeyIndex::with_accounts_max(accounts_max),
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
    pub fn find(&self, key: &AccountKey) -> Option<AccountIndex> {
        self.keys.find(key, |account| &self.accounts[account.0 as usize].key)
    }

    pub fn has_room(&self) -> bool {
        self.accounts.len() < self.accounts_max
    }

    /// Creates an account for `key` (not present; `has_room()` checked).
    pub fn create(&mut self, key: AccountKey) -> AccountIndex {
        assert!(self.has_room());
        debug_assert!(self.find(&key).is_none());
        let index = self.accounts.len() as u32;
        self.accounts.push(Account { key, frozen: false, open_orders: 0 });
        self.keys.insert(&key, AccountIndex(index));
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
