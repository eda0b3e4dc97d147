//! Funds and administration: deposits, withdrawals and freezing an account.
//!
//! Invariants:
//! - per asset, deposited − withdrawn (the `AssetLedger`) equals what all accounts hold, fee
//!   account included; a deposit that would take the supply past `u64` is refused, so every
//!   balance and every sum of balances fits a `u64`;
//! - a deposit is the only command that creates an account (when there is room for one);
//! - a frozen account cannot place orders or withdraw; it can still cancel, receive deposits and
//!   be withdrawn from by an administrator.

use super::accounts::Balance;
use super::state_hash::{Coefficients, Domain};
use super::{Matcher, emit};
use crate::command::Command;
use crate::event::{EventKind, EventSink, Transfer, TransferKind};
use crate::types::{AccountIndex, AssetId, RejectReason};

impl Matcher {
    pub(super) fn deposit(
        &mut self,
        command: &Command,
        asset: AssetId,
        amount: u64,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        if asset.0 as usize >= self.ledgers.len() {
            return Err((RejectReason::InvalidAsset, 0));
        }
        if amount == 0 {
            return Err((RejectReason::InvalidQuantity, 0));
        }
        // Every balance and every sum of balances fits a u64 because the supply does.
        let ledger = self.ledgers[asset.0 as usize];
        let supply = ledger.deposited - ledger.withdrawn;
        if supply.checked_add(amount).is_none() || ledger.deposited.checked_add(amount).is_none() {
            return Err((RejectReason::QuantityOutOfBounds, 0));
        }
        let account = match self.accounts.find(&command.account) {
            Some(account) => account,
            None if !self.accounts.has_room() => return Err((RejectReason::AccountLimit, 0)),
            None => {
                let account = self.accounts.create(command.account);
                self.hash_account(account);
                emit(sink, command, EventKind::AccountCreated { account, key: command.account });
                account
            }
        };
        self.ledgers[asset.0 as usize].deposited += amount;
        self.credit(account, asset, amount);
        let id = self.next_deposit_id;
        self.next_deposit_id += 1;
        let balance = self.accounts.balance(account, asset);
        let transfer = Transfer {
            kind: TransferKind::Deposit,
            id,
            account,
            asset,
            amount,
            fee: 0,
            available: balance.available,
            locked: balance.locked,
        };
        emit(sink, command, EventKind::Transfer(transfer));
        Ok(())
    }

    pub(super) fn withdraw(
        &mut self,
        command: &Command,
        asset: AssetId,
        amount: u64,
        kind: TransferKind,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let reject = |reason| Err((reason, 0));
        if asset.0 as usize >= self.ledgers.len() {
            return reject(RejectReason::InvalidAsset);
        }
        if amount == 0 {
            return reject(RejectReason::InvalidQuantity);
        }
        let user = kind == TransferKind::Withdrawal;
        let Some(account) = self.accounts.find(&command.account) else {
            return reject(if user {
                RejectReason::InsufficientFunds
            } else {
                RejectReason::AccountNotFound
            });
        };
        if user && self.accounts.get(account).frozen {
            return reject(RejectReason::AccountFrozen);
        }
        let fee = if user { self.config.assets[asset.0 as usize].withdrawal_fee_units } else { 0 };
        let Some(debit) = amount.checked_add(fee) else {
            return reject(RejectReason::QuantityOutOfBounds);
        };
        let before = self.accounts.balance(account, asset);
        if before.available < debit {
            return reject(RejectReason::InsufficientFunds);
        }
        self.set_balance(account, asset, Balance { available: before.available - debit, ..before });
        self.credit(AccountIndex::FEE, asset, fee);
        self.ledgers[asset.0 as usize].withdrawn += amount;
        let id = self.next_withdrawal_id;
        self.next_withdrawal_id += 1;
        let balance = self.accounts.balance(account, asset);
        let transfer = Transfer {
            kind,
            id,
            account,
            asset,
            amount,
            fee,
            available: balance.available,
            locked: balance.locked,
        };
        emit(sink, command, EventKind::Transfer(transfer));
        Ok(())
    }

    pub(super) fn set_frozen(
        &mut self,
        command: &Command,
        frozen: bool,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let account =
            self.accounts.find(&command.account).ok_or((RejectReason::AccountNotFound, 0))?;
        let was = self.accounts.get(account).frozen;
        self.hash.update(
            Coefficients::of(Domain::Account, u64::from(account.0)),
            4,
            u64::from(was),
            u64::from(frozen),
        );
        self.accounts.get_mut(account).frozen = frozen;
        emit(sink, command, EventKind::FreezeChanged { account, frozen });
        Ok(())
    }
}
