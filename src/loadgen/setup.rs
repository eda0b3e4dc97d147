//! Before the timed phase: learn the markets from the server, derive the accounts from the
//! seed, fund them through the administrator, and cancel what a previous run with the same seed
//! left open. All of it pipelined on one connection, none of it timed.

use super::LoadgenError;
use super::http::{self, Answer};
use super::sign::{self, Account, Value};
use super::workload::{Market, Unit};

/// What each account receives of a market's quote asset, in whole units.
const QUOTE_DEPOSIT: u64 = 10_000_000;

/// What each account receives of a market's base asset, in whole units.
const BASE_DEPOSIT: u64 = 100_000;

/// Milliseconds since the epoch.
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// The named markets as the server describes them (`GET /api/v1/markets`), and the symbols of
/// all the server's markets.
pub fn markets(
    target: &str,
    symbols: &[String],
) -> Result<(Vec<Market>, Vec<String>), LoadgenError> {
    let answers = http::exchange(target, &[sign::get_bytes(target, "/api/v1/markets")])
        .map_err(|error| LoadgenError::Unreachable(format!("{target}: {error}")))?;
    let listed = match answers[0].json() {
        Some(serde_json::Value::Array(listed)) if answers[0].status == 200 => listed,
        _ => {
            return Err(LoadgenError::Failed(format!(
                "{target} is not a ringex or Backpack API: GET /api/v1/markets answered {}",
                answers[0].status
            )));
        }
    };
    let known: Vec<&str> = listed.iter().filter_map(|market| market["symbol"].as_str()).collect();
    let traded = symbols
        .iter()
        .map(|symbol| {
            let market = listed.iter().find(|market| market["symbol"] == symbol.as_str());
            let market = market.ok_or_else(|| {
                LoadgenError::Usage(format!(
                    "--markets: {symbol} is not a market of {target} (it has {})",
                    known.join(", ")
                ))
            })?;
            market_of(market).ok_or_else(|| {
                LoadgenError::Failed(format!("{target}: cannot read market {symbol}: {market}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((traded, known.iter().map(|symbol| symbol.to_string()).collect()))
}

fn market_of(json: &serde_json::Value) -> Option<Market> {
    let text = |value: &serde_json::Value| value.as_str().map(str::to_string);
    let tick = Unit::parse(json["filters"]["price"]["tickSize"].as_str()?)?;
    let step = Unit::parse(json["filters"]["quantity"]["stepSize"].as_str()?)?;
    let minimum = Unit::parse(json["filters"]["quantity"]["minQuantity"].as_str()?)?;
    // The minimum in steps, rounded up.
    let scale = step.scale.max(minimum.scale);
    let in_digits = |unit: Unit| unit.mantissa * 10u64.pow(scale - unit.scale);
    let min_steps = in_digits(minimum).div_ceil(in_digits(step)).max(1);
    Some(Market {
        symbol: text(&json["symbol"])?,
        base: text(&json["baseSymbol"])?,
        quote: text(&json["quoteSymbol"])?,
        tick,
        step,
        min_steps,
    })
}

/// The run's accounts.
pub fn accounts(seed: u64, count: usize) -> Vec<Account> {
    (0..count).map(|index| Account::derived(seed, index)).collect()
}

/// What [`fund`] deposits to each account: every asset of `markets` once, in whole units.
pub fn deposits(markets: &[Market]) -> Vec<(&str, u64)> {
    let mut assets: Vec<(&str, u64)> = Vec::new();
    for market in markets {
        for (asset, amount) in [(&market.quote, QUOTE_DEPOSIT), (&market.base, BASE_DEPOSIT)] {
            if !assets.iter().any(|(known, _)| known == asset) {
                assets.push((asset, amount));
            }
        }
    }
    assets
}

/// Funds every account with every asset of `markets`, signed by the administrator; any refusal
/// is an error naming it (a wrong `--admin-secret` shows here).
pub fn fund(
    target: &str,
    admin: &Account,
    accounts: &[Account],
    markets: &[Market],
) -> Result<(), LoadgenError> {
    let assets = deposits(markets);
    let timestamp_ms = wall_ms();
    let mut requests = Vec::with_capacity(accounts.len() * assets.len());
    for account in accounts {
        for (asset, amount) in &assets {
            let fields = [
                ("account", Value::Text(account.key_base64.clone())),
                ("symbol", Value::Text(asset.to_string())),
                ("quantity", Value::Text(amount.to_string())),
            ];
            let request = sign::Request {
                method: "POST",
                path: "/api/v1/admin/deposit",
                instruction: "adminDeposit",
                fields: &fields,
                timestamp_ms,
                window_ms: 60_000,
            };
            requests.push(sign::request_bytes(admin, target, &request));
        }
    }
    let answers = exchange(target, &requests)?;
    if let Some(refused) = answers.iter().find(|answer| answer.status != 200) {
        let hint = if refused.status == 403 { " (is --admin-secret the server's?)" } else { "" };
        return Err(LoadgenError::Failed(format!(
            "funding the accounts: a deposit was refused: {}{hint}",
            refused.reason()
        )));
    }
    Ok(())
}

/// Cancels every open order of every account in every market of the server (`symbols`), not
/// only those traded now: a clientId is unique among an account's open orders in all markets,
/// so the clientIds of a new run must not meet orders any earlier run left open.
pub fn cancel_everything(
    target: &str,
    accounts: &[Account],
    symbols: &[String],
) -> Result<(), LoadgenError> {
    let timestamp_ms = wall_ms();
    let mut requests = Vec::with_capacity(accounts.len() * symbols.len());
    for account in accounts {
        for symbol in symbols {
            let fields = [("symbol", Value::Text(symbol.clone()))];
            let request = sign::Request {
                method: "DELETE",
                path: "/api/v1/orders",
                instruction: "orderCancelAll",
                fields: &fields,
                timestamp_ms,
                window_ms: 60_000,
            };
            requests.push(sign::request_bytes(account, target, &request));
        }
    }
    let answers = exchange(target, &requests)?;
    match answers.iter().find(|answer| answer.status != 200) {
        Some(refused) => Err(LoadgenError::Failed(format!(
            "cancelling leftover orders: refused: {}",
            refused.reason()
        ))),
        None => Ok(()),
    }
}

fn exchange(target: &str, requests: &[Vec<u8>]) -> Result<Vec<Answer>, LoadgenError> {
    http::exchange(target, requests)
        .map_err(|error| LoadgenError::Failed(format!("{target}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_market_is_read_from_its_json() {
        let json: serde_json::Value = serde_json::from_str(
            r#"{"symbol":"BTC_USDC","baseSymbol":"BTC","quoteSymbol":"USDC","marketType":"SPOT",
            "filters":{"price":{"minPrice":"0.1","maxPrice":null,"tickSize":"0.1"},
            "quantity":{"minQuantity":"0.0001","maxQuantity":null,"stepSize":"0.00001"}}}"#,
        )
        .unwrap();
        let market = market_of(&json).unwrap();
        assert_eq!(market.symbol, "BTC_USDC");
        assert_eq!((market.base.as_str(), market.quote.as_str()), ("BTC", "USDC"));
        assert_eq!(market.min_steps, 10);
        assert_eq!(market.tick.format(market.mid_ticks()), "100.0");
    }
}
