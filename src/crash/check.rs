//! After a restart: is everything the killed server acknowledged still there, once, and is every
//! unit of every asset accounted for?
//!
//! Read through the public API only, signed by each account: its open orders
//! (`GET /api/v1/orders`), its order history newest first (`GET /wapi/v1/history/orders`, which
//! holds every order the account placed, open ones included, up to its quota) and its balances
//! (`GET /api/v1/capital`); and the engine's totals (`GET /api/v1/admin/state`, whose `fees` is the
//! fee account's balance: that account has no key to ask with).
//!
//! - **Lost**: an acknowledged placement whose id is in neither list of its account with its
//!   clientId; an acknowledged cancel whose order is open again, or in the history with another
//!   status than `Cancelled`.
//! - **Duplicated**: an order id twice in one list or in two accounts; a clientId on two
//!   orders of one account (every placement of a run has a clientId of its own, so two orders
//!   with one are one request applied twice).
//! - **Balances**: per asset, the accounts' available + locked plus the fee account's equals
//!   what the tool deposited minus what it withdrew, and the engine's own totals agree.

use super::Error;
use super::drive::{CancelAck, OrderAck, order_id};
use crate::config::Config;
use crate::loadgen::http::{self, Answer};
use crate::loadgen::setup::wall_ms;
use crate::loadgen::sign::{self, Account, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Orders per history page (the API's maximum).
const PAGE: u64 = 1000;

/// Examples of each kind of finding kept for the report.
const EXAMPLES_MAX: usize = 5;

/// What the check expects.
pub struct Expect<'a> {
    /// The run's accounts.
    pub accounts: &'a [Account],
    /// This cycle's acknowledged placements.
    pub orders: &'a [OrderAck],
    /// This cycle's acknowledged cancels.
    pub cancels: &'a [CancelAck],
    /// Per asset symbol: what the tool deposited minus what it withdrew, in units.
    pub net_deposits: &'a BTreeMap<String, u128>,
    /// The server's configuration (asset decimals, the history scan bound).
    pub config: &'a Config,
}

/// One asset's sums.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AssetBalance {
    /// Symbol.
    pub asset: String,
    /// Available + locked over the tool's accounts, units.
    pub accounts_units: u128,
    /// The fee account's balance, units.
    pub fees_units: u128,
    /// Deposited − withdrawn by the tool, units.
    pub expected_units: u128,
    /// Deposited − withdrawn by the engine's own count, units.
    pub engine_units: u128,
}

impl AssetBalance {
    /// Whether every unit is where it should be.
    pub fn conserved(&self) -> bool {
        self.accounts_units + self.fees_units == self.expected_units
            && self.engine_units == self.expected_units
    }
}

/// What the check found.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    /// Acknowledged commands not found (or found undone).
    pub lost: u64,
    /// Orders found twice.
    pub duplicated: u64,
    /// A few of each, described.
    pub examples: Vec<String>,
    /// Open orders over the accounts.
    pub open_orders: u64,
    /// History records read.
    pub history_read: u64,
    /// Per asset.
    pub balances: Vec<AssetBalance>,
}

impl Findings {
    /// Whether every asset is conserved.
    pub fn balances_conserved(&self) -> bool {
        self.balances.iter().all(AssetBalance::conserved)
    }

    fn example(&mut self, text: String) {
        if self.examples.len() < EXAMPLES_MAX {
            self.examples.push(text);
        }
    }
}

/// An order as a list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    id: u64,
    client_id: Option<u32>,
    status: String,
}

/// One account's answers.
#[derive(Default)]
struct AccountSeen {
    open: Vec<Seen>,
    history: Vec<Seen>,
    /// The last history page was full: there may be more.
    more: bool,
    capital: serde_json::Value,
}

/// Reads everything and judges it; `state` is the restarted server's admin state.
pub fn check(target: &str, state: &serde_json::Value, expect: &Expect) -> Result<Findings, Error> {
    let mut seen = read_accounts(target, expect)?;
    let mut findings = Findings::default();
    for account in &seen {
        findings.open_orders += account.open.len() as u64;
        findings.history_read += account.history.len() as u64;
    }
    let known = duplicates(&mut seen, &mut findings);
    lost(&known, expect, &mut findings);
    findings.balances = balances(&seen, state, expect)?;
    for sums in findings.balances.clone().iter().filter(|sums| !sums.conserved()) {
        findings.example(format!(
            "{}: accounts {} + fee account {} units, expected {} (the engine counts {})",
            sums.asset,
            sums.accounts_units,
            sums.fees_units,
            sums.expected_units,
            sums.engine_units
        ));
    }
    Ok(findings)
}

/// Every account's open orders, balances and as much history as the acknowledged orders need.
fn read_accounts(target: &str, expect: &Expect) -> Result<Vec<AccountSeen>, Error> {
    let accounts = expect.accounts;
    let mut wanted: Vec<HashSet<u64>> = vec![HashSet::new(); accounts.len()];
    for order in expect.orders {
        wanted[order.account].insert(order.order_id);
    }
    let mut requests = Vec::with_capacity(accounts.len() * 3);
    for account in accounts {
        requests.push(signed_get(account, target, "/api/v1/orders", "orderQueryAll", &[]));
        requests.push(signed_get(account, target, "/api/v1/capital", "balanceQuery", &[]));
        requests.push(history_page(account, target, 0));
    }
    let answers = exchange(target, &requests)?;
    let mut seen: Vec<AccountSeen> = Vec::with_capacity(accounts.len());
    for (index, three) in answers.chunks(3).enumerate() {
        let mut account =
            AccountSeen { open: orders(&three[0], "open orders")?, ..AccountSeen::default() };
        account.capital = json(&three[1], "capital")?;
        let page = orders(&three[2], "order history")?;
        account.more = page.len() as u64 == PAGE;
        account.history = page;
        wanted[index]
            .retain(|id| !account.open.iter().chain(&account.history).any(|o| o.id == *id));
        seen.push(account);
    }
    // Further pages, newest first, for accounts whose acknowledged orders are not all found yet.
    let scan_max = u64::from(expect.config.server.history_scan_max);
    loop {
        let paging: Vec<usize> = (0..accounts.len())
            .filter(|&index| {
                let read = seen[index].history.len() as u64;
                seen[index].more && !wanted[index].is_empty() && read + PAGE <= scan_max
            })
            .collect();
        if paging.is_empty() {
            return Ok(seen);
        }
        let requests: Vec<Vec<u8>> = paging
            .iter()
            .map(|&index| history_page(&accounts[index], target, seen[index].history.len() as u64))
            .collect();
        for (answer, &index) in exchange(target, &requests)?.iter().zip(&paging) {
            let page = orders(answer, "order history")?;
            seen[index].more = page.len() as u64 == PAGE;
            wanted[index].retain(|id| !page.iter().any(|order| order.id == *id));
            seen[index].history.extend(page);
        }
    }
}

/// Counts duplicates; returns per account the orders found, by id.
fn duplicates(seen: &mut [AccountSeen], findings: &mut Findings) -> Vec<HashMap<u64, Seen>> {
    let mut owner: HashMap<u64, usize> = HashMap::new();
    let mut known = Vec::with_capacity(seen.len());
    for (index, account) in seen.iter_mut().enumerate() {
        let mut by_id: HashMap<u64, Seen> = HashMap::new();
        let mut client_ids: HashMap<u32, u64> = HashMap::new();
        for (list, name) in [(&account.open, "open orders"), (&account.history, "history")] {
            let mut ids = HashSet::new();
            for order in list {
                if !ids.insert(order.id) {
                    findings.duplicated += 1;
                    findings
                        .example(format!("order {} twice in account {index}'s {name}", order.id));
                }
                // An order open and in the history is one order: the same clientId.
                match by_id.get(&order.id) {
                    Some(earlier) if earlier.client_id != order.client_id => {
                        findings.duplicated += 1;
                        findings.example(format!("order {} has two clientIds", order.id));
                    }
                    Some(_) => {}
                    None => {
                        by_id.insert(order.id, order.clone());
                    }
                }
            }
        }
        for order in by_id.values() {
            if let Some(client_id) = order.client_id
                && let Some(other) = client_ids.insert(client_id, order.id)
            {
                findings.duplicated += 1;
                findings.example(format!(
                    "clientId {client_id} on orders {other} and {} of account {index}",
                    order.id
                ));
            }
            if let Some(other) = owner.insert(order.id, index) {
                findings.duplicated += 1;
                findings.example(format!("order {} in accounts {other} and {index}", order.id));
            }
        }
        known.push(by_id);
    }
    known
}

/// Counts acknowledged commands not found, or found undone.
fn lost(known: &[HashMap<u64, Seen>], expect: &Expect, findings: &mut Findings) {
    for order in expect.orders {
        let found = known[order.account].get(&order.order_id);
        if found.is_none_or(|seen| seen.client_id != order.client_id) {
            findings.lost += 1;
            findings.example(format!(
                "acknowledged order {} (account {}, clientId {:?}) not found: {found:?}",
                order.order_id, order.account, order.client_id
            ));
        }
    }
    for cancel in expect.cancels {
        let found = known[cancel.account].get(&cancel.order_id);
        if let Some(seen) = found
            && seen.status != "Cancelled"
        {
            findings.lost += 1;
            findings.example(format!(
                "order {} of account {} was acknowledged as cancelled, is {}",
                cancel.order_id, cancel.account, seen.status
            ));
        }
    }
}

/// Per asset the tool deposited or the engine holds: the sums.
fn balances(
    seen: &[AccountSeen],
    state: &serde_json::Value,
    expect: &Expect,
) -> Result<Vec<AssetBalance>, Error> {
    let config = expect.config;
    let units = |symbol: &str, text: &serde_json::Value| -> Result<u128, Error> {
        let asset = config.asset_by_symbol(symbol.as_bytes());
        let text = text.as_str().unwrap_or("");
        asset
            .and_then(|asset| config.parse_amount(asset, text.as_bytes()).ok())
            .map(u128::from)
            .ok_or_else(|| {
                Error::Failed(format!("an amount of {symbol} that does not read: {text}"))
            })
    };
    let mut sums = Vec::new();
    for asset in &config.assets {
        let symbol = asset.symbol.as_str();
        let mut accounts_units = 0u128;
        for account in seen {
            let held = &account.capital[symbol];
            if !held.is_null() {
                accounts_units +=
                    units(symbol, &held["available"])? + units(symbol, &held["locked"])?;
            }
        }
        let totals = &state["totals"][symbol];
        let deposited = units(symbol, &totals["deposited"])?;
        let withdrawn = units(symbol, &totals["withdrawn"])?;
        sums.push(AssetBalance {
            asset: symbol.to_string(),
            accounts_units,
            fees_units: units(symbol, &totals["fees"])?,
            expected_units: expect.net_deposits.get(symbol).copied().unwrap_or(0),
            engine_units: deposited.checked_sub(withdrawn).unwrap_or(u128::MAX),
        });
    }
    Ok(sums)
}

/// A signed GET with `query` pairs, stamped now.
fn signed_get(
    account: &Account,
    target: &str,
    path: &str,
    instruction: &str,
    query: &[(&str, Value)],
) -> Vec<u8> {
    let request = sign::Request {
        method: "GET",
        path,
        instruction,
        fields: query,
        timestamp_ms: wall_ms(),
        window_ms: 10_000,
    };
    sign::query_bytes(account, target, &request)
}

/// One page of the account's order history, newest first, skipping `offset`.
fn history_page(account: &Account, target: &str, offset: u64) -> Vec<u8> {
    let query = [("limit", Value::Integer(PAGE)), ("offset", Value::Integer(offset))];
    signed_get(account, target, "/wapi/v1/history/orders", "orderHistoryQueryAll", &query)
}

fn exchange(target: &str, requests: &[Vec<u8>]) -> Result<Vec<Answer>, Error> {
    http::exchange(target, requests).map_err(|error| Error::Failed(format!("{target}: {error}")))
}

fn json(answer: &Answer, what: &str) -> Result<serde_json::Value, Error> {
    match answer.json() {
        Some(json) if answer.status == 200 => Ok(json),
        _ => Err(Error::Failed(format!("reading {what}: {}", answer.reason()))),
    }
}

/// The Order objects of a list answer.
fn orders(answer: &Answer, what: &str) -> Result<Vec<Seen>, Error> {
    let json = json(answer, what)?;
    let list = json.as_array().ok_or_else(|| Error::Failed(format!("{what}: not a list")))?;
    list.iter()
        .map(|order| {
            let id = order_id(order)
                .ok_or_else(|| Error::Failed(format!("{what}: an order without id: {order}")))?;
            let client_id = order["clientId"].as_u64().and_then(|id| u32::try_from(id).ok());
            let status = order["status"].as_str().unwrap_or("").to_string();
            Ok(Seen { id, client_id, status })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(id: u64, client_id: u32, status: &str) -> Seen {
        Seen { id, client_id: Some(client_id), status: status.into() }
    }

    fn account(open: Vec<Seen>, history: Vec<Seen>) -> AccountSeen {
        AccountSeen { open, history, ..AccountSeen::default() }
    }

    fn judged(
        accounts: &mut [AccountSeen],
        orders: &[OrderAck],
        cancels: &[CancelAck],
    ) -> Findings {
        let config = Config::embedded_default();
        let net_deposits = BTreeMap::new();
        let expect =
            Expect { accounts: &[], orders, cancels, net_deposits: &net_deposits, config: &config };
        let mut findings = Findings::default();
        let known = duplicates(accounts, &mut findings);
        lost(&known, &expect, &mut findings);
        findings
    }

    #[test]
    fn every_acknowledged_order_found_once_passes() {
        // Order 7 is open (and in the history too), 8 was cancelled, 9 filled.
        let mut accounts = [
            account(
                vec![seen(7, 1, "New")],
                vec![seen(9, 3, "Filled"), seen(8, 2, "Cancelled"), seen(7, 1, "New")],
            ),
            account(vec![], vec![seen(10, 4, "Expired")]),
        ];
        let orders = [
            OrderAck { account: 0, order_id: 7, client_id: Some(1) },
            OrderAck { account: 0, order_id: 9, client_id: Some(3) },
            OrderAck { account: 1, order_id: 10, client_id: Some(4) },
        ];
        let cancels = [CancelAck { account: 0, order_id: 8 }];
        let findings = judged(&mut accounts, &orders, &cancels);
        assert_eq!((findings.lost, findings.duplicated), (0, 0), "{:?}", findings.examples);
    }

    #[test]
    fn a_missing_order_an_undone_cancel_and_duplicates_are_counted() {
        let mut accounts = [
            account(
                vec![seen(8, 2, "New")],
                vec![seen(11, 5, "New"), seen(12, 5, "New"), seen(8, 2, "New"), seen(13, 6, "New")],
            ),
            account(vec![], vec![seen(13, 6, "New"), seen(14, 7, "Filled"), seen(14, 7, "Filled")]),
        ];
        let orders = [
            // Never journaled.
            OrderAck { account: 0, order_id: 7, client_id: Some(1) },
            // Found, but with another clientId: not the order acknowledged.
            OrderAck { account: 1, order_id: 14, client_id: Some(99) },
        ];
        // Acknowledged as cancelled, open again.
        let cancels = [CancelAck { account: 0, order_id: 8 }];
        let findings = judged(&mut accounts, &orders, &cancels);
        assert_eq!(findings.lost, 3, "{:?}", findings.examples);
        // clientId 5 twice in account 0; order 13 in two accounts; order 14 twice in a list.
        assert_eq!(findings.duplicated, 3, "{:?}", findings.examples);
        assert_eq!(findings.examples.len(), EXAMPLES_MAX);
    }

    #[test]
    fn balances_count_the_fee_account_and_the_engines_totals() {
        let balance = |accounts_units, fees_units, engine_units| AssetBalance {
            asset: "USDC".into(),
            accounts_units,
            fees_units,
            expected_units: 1000,
            engine_units,
        };
        assert!(balance(990, 10, 1000).conserved());
        assert!(!balance(1000, 10, 1000).conserved(), "a unit made from nothing");
        assert!(!balance(990, 10, 1001).conserved(), "the engine counts another deposit");
    }
}
