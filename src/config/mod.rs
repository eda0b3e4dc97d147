//! Configuration: assets, markets and limits, from the embedded default or a TOML file.
//!
//! `ringex serve` needs no file: [`DEFAULT_TOML`] lists USDC, SOL, BTC and ETH and the markets
//! SOL_USDC, BTC_USDC and ETH_USDC. `--config FILE` replaces it whole. [`Config::from_toml`] checks
//! every key and derives the integer conversion factors the engine uses, so a bad file is refused
//! at start-up with one line naming the key (`main` exits 2), never discovered mid-trade.
//!
//! Read once at start-up, then shared read-only (`Arc<Config>`) by every stage.

mod persistence;
pub use persistence::{JournalSettings, Retain, SnapshotSettings};

use crate::money::{DecimalError, DecimalStep, SCALE_MAX, parse_units, pow10, write_units};
use crate::types::{AssetId, MarketId, PriceTicks, QuantitySteps};
use serde::Deserialize;

/// The configuration `serve` runs with when no `--config` is given.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// One asset: its symbol, smallest unit and token facts for `GET /api/v1/assets`.
#[derive(Clone, Debug)]
pub struct AssetSpec {
    /// `USDC`, `SOL`, … (upper-case letters and digits).
    pub symbol: String,
    /// Fractional digits of the smallest unit: amounts are integers of `10^-decimals`.
    pub decimals: u32,
    /// Human name, `displayName` in the API.
    pub display_name: String,
    /// The token's chain, `blockchain` in the API; user withdrawals must name it.
    pub blockchain: String,
    /// Fee charged on a user withdrawal, in the asset's units, paid to the fee account.
    pub withdrawal_fee_units: u64,
}

/// One spot market and the exact integer factors derived from its decimal sizes.
#[derive(Clone, Debug)]
pub struct MarketSpec {
    /// `BASE_QUOTE`.
    pub symbol: String,
    /// The asset bought and sold.
    pub base: AssetId,
    /// The asset prices are in.
    pub quote: AssetId,
    /// Tick size as a decimal step.
    pub tick: DecimalStep,
    /// Step size as a decimal step.
    pub step: DecimalStep,
    /// Smallest order quantity, in steps (at least 1).
    pub min_quantity_steps: QuantitySteps,
    /// Smallest order value (price × quantity, or a market order's quote), in quote units.
    pub min_order_value_units: u64,
    /// Fee on fills where the order rested, in basis points of the asset received.
    pub maker_fee_bps: u32,
    /// Fee on fills where the order took liquidity, in basis points of the asset received.
    pub taker_fee_bps: u32,
    /// Base units in one step: `step × 10^base_decimals`, a whole number by validation.
    pub base_units_per_step: u64,
    /// Quote units in one tick times one step: `tick × step × 10^quote_decimals`, whole by
    /// validation, so `price × quantity` is exact in quote units.
    pub quote_units_per_tick_step: u64,
    /// Largest price accepted, in ticks: one step at this price still fits a `u64` of quote.
    pub price_ticks_max: u64,
    /// Largest quantity accepted, in steps: its base units still fit a `u64`.
    pub quantity_steps_max: u64,
}

/// Sizes of everything preallocated at start-up. Hitting one is a clean rejection, never growth.
///
/// The order pool and each side's levels are shared, so the per-account caps decide how many
/// accounts it takes to make the book refuse everyone else: `orders_max /
/// open_orders_per_account_max` accounts fill the pool (263 at the defaults) and
/// `levels_per_side_max / levels_per_side_per_account_max` fill one side's levels (328), each
/// order locking at least the market's `min_order_value`; accounts exist only once the
/// administrator credits them, so each of those is a funded account, not a fresh key.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Open orders across all markets (the order pool).
    pub orders_max: u32,
    /// Accounts, the fee account included.
    pub accounts_max: u32,
    /// Open orders of one account across all markets.
    pub open_orders_per_account_max: u32,
    /// Distinct price levels on one side of one market.
    pub levels_per_side_max: u32,
    /// Distinct price levels one account may hold orders on, on one side of one market.
    #[serde(default = "levels_per_side_per_account_max_default")]
    pub levels_per_side_per_account_max: u32,
}

fn levels_per_side_per_account_max_default() -> u32 {
    200
}

/// Token-bucket rate limits (0 = off), on by default. The administrator is exempt from the
/// per-IP and per-key limits, not from the bad-signature throttle.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Requests per second per client IP address.
    pub per_ip_per_second: u64,
    /// Burst per client IP address.
    pub per_ip_burst: u64,
    /// Requests per second per API key (after the signature is checked).
    pub per_key_per_second: u64,
    /// Burst per API key.
    pub per_key_burst: u64,
    /// Bad signatures a client IP may send in one window before its requests are refused (429)
    /// unread until the window ends.
    pub bad_signatures_per_ip_max: u64,
    /// That window, seconds.
    pub bad_signature_window_s: u64,
}

impl RateLimits {
    /// Every limit off: for load generators on the operator's own host (`serve
    /// --no-rate-limits`), never for an open port.
    pub const OFF: RateLimits = RateLimits {
        per_ip_per_second: 0,
        per_ip_burst: 0,
        per_key_per_second: 0,
        per_key_burst: 0,
        bad_signatures_per_ip_max: 0,
        bad_signature_window_s: 60,
    };
}

impl Default for RateLimits {
    /// The embedded configuration's `[rate_limits]`, also what a configuration file that omits
    /// the section or a key gets.
    fn default() -> RateLimits {
        RateLimits {
            per_ip_per_second: 2_000,
            per_ip_burst: 4_000,
            per_key_per_second: 500,
            per_key_burst: 1_000,
            bad_signatures_per_ip_max: 20,
            bad_signature_window_s: 60,
        }
    }
}

/// Sizes of the bounded histories net-out keeps (the oldest records drop out first) and of the
/// server's connection and replay tables.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerLimits {
    /// Connections served at once.
    pub connections_max: u32,
    /// HTTP connections close after this many seconds without input between requests
    /// (WebSocket connections are kept by their Pongs instead).
    pub idle_timeout_s: u32,
    /// Signed POST/DELETE requests remembered inside their windows (replay protection).
    pub replay_entries_max: u32,
    /// Fills kept for `/wapi/v1/history/fills`.
    pub fills_history_max: u32,
    /// Orders kept for `/wapi/v1/history/orders`.
    pub orders_history_max: u32,
    /// Deposits kept.
    pub deposits_history_max: u32,
    /// Withdrawals kept.
    pub withdrawals_history_max: u32,
    /// Public trades kept per market.
    pub trades_per_market_max: u32,
    /// A WebSocket subscriber whose unsent output passes this many KiB is dropped (Close 1008).
    pub ws_output_max_kib: u32,
    /// At shutdown, WebSocket clients get this many seconds to answer Close 1001.
    pub ws_close_grace_s: u32,
    /// An HTTP connection with this many KiB of answers unsent is not read until they drain.
    pub http_output_max_kib: u32,
    /// A connection with this many requests unanswered is not read until some are answered.
    pub requests_in_flight_max: u32,
    /// Longest a verify thread spends on one batch of signatures before it publishes their
    /// verdicts, µs; 0: four single verifications as measured at start-up (`verify::budget`).
    pub verify_batch_budget_us: u32,
    /// Fills one account keeps (its own oldest drop out first; see `netout::view::history`).
    pub fills_history_per_account_max: u32,
    /// Orders one account keeps.
    pub orders_history_per_account_max: u32,
    /// Deposits one account keeps.
    pub deposits_history_per_account_max: u32,
    /// Withdrawals one account keeps.
    pub withdrawals_history_per_account_max: u32,
    /// Most records one history query looks at (skipped by `offset` or filters included); it
    /// answers what it found among them.
    pub history_scan_max: u32,
    /// Connections one client address (IPv4, or IPv6 /64) may hold open at once.
    pub connections_per_ip_max: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            connections_max: 1024,
            idle_timeout_s: 30,
            replay_entries_max: 1 << 20,
            fills_history_max: 1 << 20,
            orders_history_max: 1 << 20,
            deposits_history_max: 100_000,
            withdrawals_history_max: 100_000,
            trades_per_market_max: 10_000,
            ws_output_max_kib: 4 << 10,
            ws_close_grace_s: 30,
            http_output_max_kib: 256,
            requests_in_flight_max: 64,
            verify_batch_budget_us: 0,
            fills_history_per_account_max: 10_000,
            orders_history_per_account_max: 10_000,
            deposits_history_per_account_max: 1_000,
            withdrawals_history_per_account_max: 1_000,
            history_scan_max: 10_000,
            connections_per_ip_max: 256,
        }
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Assets by [`AssetId`].
    pub assets: Vec<AssetSpec>,
    /// Markets by [`MarketId`].
    pub markets: Vec<MarketSpec>,
    /// Preallocation sizes of the engine.
    pub limits: Limits,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Sizes of the server's tables and histories.
    pub server: ServerLimits,
    /// When snapshots are taken and how many are kept.
    pub snapshot: SnapshotSettings,
    /// What becomes of journal segments a snapshot covers.
    pub journal: JournalSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    assets: Vec<RawAsset>,
    markets: Vec<RawMarket>,
    limits: Limits,
    #[serde(default)]
    rate_limits: RateLimits,
    #[serde(default)]
    server: ServerLimits,
    #[serde(default)]
    snapshot: SnapshotSettings,
    #[serde(default)]
    journal: JournalSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    symbol: String,
    decimals: u32,
    display_name: String,
    blockchain: String,
    #[serde(default = "zero_text")]
    withdrawal_fee: String,
}

fn zero_text() -> String {
    "0".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarket {
    symbol: String,
    tick_size: String,
    step_size: String,
    min_quantity: String,
    #[serde(default = "zero_text")]
    min_order_value: String,
    maker_fee_bps: u32,
    taker_fee_bps: u32,
}

/// Why a price string was refused (maps to INVALID_PRICE messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceError {
    /// `Invalid price`.
    Malformed,
    /// `Price decimal too long`.
    TooManyDecimals,
    /// `Price not a multiple of tick size`.
    NotMultipleOfTick,
    /// `Price out of bounds`: zero or above the market's maximum.
    OutOfBounds,
}

/// Why a quantity or amount string was refused (maps to INVALID_QUANTITY messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityError {
    /// `Invalid quantity`.
    Malformed,
    /// `Quantity decimal too long`.
    TooManyDecimals,
    /// `Quantity not a multiple of step size`.
    NotMultipleOfStep,
    /// `Quantity below minimum` (zero included).
    BelowMinimum,
    /// `Quantity out of bounds`.
    OutOfBounds,
}

impl Config {
    /// The embedded default configuration.
    pub fn embedded_default() -> Config {
        Config::from_toml(DEFAULT_TOML).expect("the embedded default configuration is valid")
    }

    /// A fingerprint of everything that shapes the engine's state (assets, markets, limits and
    /// the sizes of the server's histories and replay cache), not of what only paces or guards
    /// it (rate limits, connections, snapshots): a snapshot is read only by a configuration with
    /// the same fingerprint.
    pub fn state_fingerprint(&self) -> u64 {
        use sha2::Digest;
        let server = &self.server;
        let text = format!(
            "{:?}|{:?}|{:?}|{:?}",
            self.assets,
            self.markets,
            self.limits,
            [
                server.replay_entries_max,
                server.fills_history_max,
                server.orders_history_max,
                server.deposits_history_max,
                server.withdrawals_history_max,
                server.trades_per_market_max,
                server.fills_history_per_account_max,
                server.orders_history_per_account_max,
                server.deposits_history_per_account_max,
                server.withdrawals_history_per_account_max,
            ]
        );
        let digest = sha2::Sha256::digest(text.as_bytes());
        u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
    }

    /// The embedded default, shared: what a state read from a snapshot holds until it is given
    /// the running configuration (see `crate::snapshot`).
    pub fn placeholder() -> std::sync::Arc<Config> {
        std::sync::Arc::new(Config::embedded_default())
    }

    /// This configuration with every market's minimum order value off: for tests and benches
    /// whose orders are worth cents on purpose (the minimum has tests of its own).
    pub fn without_min_order_values(mut self) -> Config {
        self.markets.iter_mut().for_each(|market| market.min_order_value_units = 0);
        self
    }

    /// Parses and validates a TOML configuration; the error is one line naming the key.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|error| error.to_string().split_whitespace().collect::<Vec<_>>().join(" "))?;
        let assets = raw
            .assets
            .iter()
            .enumerate()
            .map(|(index, asset)| validate_asset(index, asset))
            .collect::<Result<Vec<_>, _>>()?;
        if assets.is_empty() {
            return Err("assets: at least one asset is required".into());
        }
        if assets.len() > u16::MAX as usize {
            return Err("assets: too many assets".into());
        }
        for (index, asset) in assets.iter().enumerate() {
            if assets[..index].iter().any(|other| other.symbol == asset.symbol) {
                return Err(format!("assets[{index}].symbol: `{}` appears twice", asset.symbol));
            }
        }
        let markets = raw
            .markets
            .iter()
            .enumerate()
            .map(|(index, market)| validate_market(index, market, &assets))
            .collect::<Result<Vec<_>, _>>()?;
        if markets.is_empty() {
            return Err("markets: at least one market is required".into());
        }
        if markets.len() > u16::MAX as usize {
            return Err("markets: too many markets".into());
        }
        for (index, market) in markets.iter().enumerate() {
            if markets[..index].iter().any(|other| other.symbol == market.symbol) {
                return Err(format!("markets[{index}].symbol: `{}` appears twice", market.symbol));
            }
        }
        validate_limits(&raw.limits)?;
        validate_server(&raw.server)?;
        persistence::validate_snapshot(&raw.snapshot)?;
        Ok(Config {
            assets,
            markets,
            limits: raw.limits,
            rate_limits: raw.rate_limits,
            server: raw.server,
            snapshot: raw.snapshot,
            journal: raw.journal,
        })
    }

    /// The market with this symbol.
    pub fn market_by_symbol(&self, symbol: &[u8]) -> Option<MarketId> {
        self.markets
            .iter()
            .position(|market| market.symbol.as_bytes() == symbol)
            .map(|index| MarketId(index as u16))
    }

    /// The asset with this symbol.
    pub fn asset_by_symbol(&self, symbol: &[u8]) -> Option<AssetId> {
        self.assets
            .iter()
            .position(|asset| asset.symbol.as_bytes() == symbol)
            .map(|index| AssetId(index as u16))
    }

    /// The market's spec. Panics on an id the configuration never issued (a programmer error).
    pub fn market(&self, market: MarketId) -> &MarketSpec {
        &self.markets[market.0 as usize]
    }

    /// The asset's spec. Panics on an id the configuration never issued (a programmer error).
    pub fn asset(&self, asset: AssetId) -> &AssetSpec {
        &self.assets[asset.0 as usize]
    }

    /// Parses an amount of `asset` (deposits, withdrawals, quote quantities) into its units.
    pub fn parse_amount(&self, asset: AssetId, text: &[u8]) -> Result<u64, QuantityError> {
        parse_units(text, self.asset(asset).decimals).map_err(|error| match error {
            DecimalError::Malformed => QuantityError::Malformed,
            DecimalError::TooManyDecimals => QuantityError::TooManyDecimals,
            DecimalError::Overflow => QuantityError::OutOfBounds,
        })
    }

    /// Writes an amount of `asset` at the asset's decimals.
    pub fn write_amount(&self, asset: AssetId, units: u64, out: &mut [u8]) -> usize {
        write_units(units, self.asset(asset).decimals, out)
    }
}

impl MarketSpec {
    /// Parses a limit price into ticks: exact, on tick, within bounds.
    pub fn parse_price(&self, text: &[u8]) -> Result<PriceTicks, PriceError> {
        let units = parse_units(text, self.tick.scale).map_err(|error| match error {
            DecimalError::Malformed => PriceError::Malformed,
            DecimalError::TooManyDecimals => PriceError::TooManyDecimals,
            DecimalError::Overflow => PriceError::OutOfBounds,
        })?;
        if units % self.tick.units != 0 {
            return Err(PriceError::NotMultipleOfTick);
        }
        let ticks = units / self.tick.units;
        if ticks == 0 || ticks > self.price_ticks_max {
            return Err(PriceError::OutOfBounds);
        }
        Ok(PriceTicks(ticks))
    }

    /// Parses a base quantity into steps: exact, on step, at least the minimum, within bounds.
    pub fn parse_quantity(&self, text: &[u8]) -> Result<QuantitySteps, QuantityError> {
        let units = parse_units(text, self.step.scale).map_err(|error| match error {
            DecimalError::Malformed => QuantityError::Malformed,
            DecimalError::TooManyDecimals => QuantityError::TooManyDecimals,
            DecimalError::Overflow => QuantityError::OutOfBounds,
        })?;
        if units % self.step.units != 0 {
            return Err(QuantityError::NotMultipleOfStep);
        }
        let steps = units / self.step.units;
        if steps < self.min_quantity_steps.0 {
            return Err(QuantityError::BelowMinimum);
        }
        if steps > self.quantity_steps_max {
            return Err(QuantityError::OutOfBounds);
        }
        Ok(QuantitySteps(steps))
    }

    /// Writes a price at tick scale (`150.50`).
    pub fn write_price(&self, price: PriceTicks, out: &mut [u8]) -> usize {
        // Cannot overflow: price_ticks_max × tick.units fits by validation.
        write_units(price.0 * self.tick.units, self.tick.scale, out)
    }

    /// Writes a base quantity at step scale (`1.25`).
    pub fn write_quantity(&self, quantity: QuantitySteps, out: &mut [u8]) -> usize {
        let units = u128::from(quantity.0) * u128::from(self.step.units);
        write_units(u64::try_from(units).unwrap_or(u64::MAX), self.step.scale, out)
    }

    /// Quote units of `quantity` at `price`, or `None` past `u64`.
    pub fn notional(&self, price: PriceTicks, quantity: QuantitySteps) -> Option<u64> {
        let product = u128::from(price.0)
            * u128::from(quantity.0)
            * u128::from(self.quote_units_per_tick_step);
        u64::try_from(product).ok()
    }

    /// Base units of `quantity`, or `None` past `u64`.
    pub fn base_units(&self, quantity: QuantitySteps) -> Option<u64> {
        quantity.0.checked_mul(self.base_units_per_step)
    }
}

fn validate_asset(index: usize, raw: &RawAsset) -> Result<AssetSpec, String> {
    let key = |field: &str| format!("assets[{index}].{field}");
    if raw.symbol.is_empty()
        || raw.symbol.len() > 16
        || !raw.symbol.bytes().all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit())
    {
        return Err(format!("{}: `{}` must be 1..16 of A-Z 0-9", key("symbol"), raw.symbol));
    }
    if raw.decimals > SCALE_MAX {
        return Err(format!("{}: at most {SCALE_MAX}", key("decimals")));
    }
    if raw.display_name.is_empty() || raw.blockchain.is_empty() {
        return Err(format!("{}: must not be empty", key("display_name/blockchain")));
    }
    let withdrawal_fee_units = parse_units(raw.withdrawal_fee.as_bytes(), raw.decimals)
        .map_err(|error| format!("{}: {error:?}", key("withdrawal_fee")))?;
    Ok(AssetSpec {
        symbol: raw.symbol.clone(),
        decimals: raw.decimals,
        display_name: raw.display_name.clone(),
        blockchain: raw.blockchain.clone(),
        withdrawal_fee_units,
    })
}

fn validate_market(
    index: usize,
    raw: &RawMarket,
    assets: &[AssetSpec],
) -> Result<MarketSpec, String> {
    let key = |field: &str| format!("markets[{index}].{field}");
    let (base_symbol, quote_symbol) = raw
        .symbol
        .split_once('_')
        .ok_or_else(|| format!("{}: `{}` is not BASE_QUOTE", key("symbol"), raw.symbol))?;
    let find = |symbol: &str| {
        assets.iter().position(|asset| asset.symbol == symbol).map(|i| AssetId(i as u16))
    };
    let base = find(base_symbol)
        .ok_or_else(|| format!("{}: unknown base asset `{base_symbol}`", key("symbol")))?;
    let quote = find(quote_symbol)
        .ok_or_else(|| format!("{}: unknown quote asset `{quote_symbol}`", key("symbol")))?;
    if base == quote {
        return Err(format!("{}: base and quote are the same asset", key("symbol")));
    }
    let tick =
        DecimalStep::parse(&raw.tick_size).map_err(|e| format!("{}: {e}", key("tick_size")))?;
    let step =
        DecimalStep::parse(&raw.step_size).map_err(|e| format!("{}: {e}", key("step_size")))?;
    let base_decimals = assets[base.0 as usize].decimals;
    let quote_decimals = assets[quote.0 as usize].decimals;
    let base_units_per_step =
        scaled_whole(step.units, base_decimals, step.scale).ok_or_else(|| {
            format!(
                "{}: step size is finer than {base_symbol}'s {base_decimals} decimals",
                key("step_size")
            )
        })?;
    let quote_units_per_tick_step = scaled_whole(
        u64::try_from(u128::from(tick.units) * u128::from(step.units))
            .map_err(|_| format!("{}: too large", key("tick_size")))?,
        quote_decimals,
        tick.scale + step.scale,
    )
    .ok_or_else(|| {
        format!(
            "{}: tick size × step size is not a whole number of {quote_symbol} units",
            key("tick_size")
        )
    })?;
    let min_units = parse_units(raw.min_quantity.as_bytes(), step.scale)
        .map_err(|error| format!("{}: {error:?} at the step size's scale", key("min_quantity")))?;
    if min_units == 0 || min_units % step.units != 0 {
        return Err(format!(
            "{}: must be a positive multiple of the step size",
            key("min_quantity")
        ));
    }
    let min_order_value_units = parse_units(raw.min_order_value.as_bytes(), quote_decimals)
        .map_err(|error| {
            format!("{}: {error:?} at {quote_symbol}'s decimals", key("min_order_value"))
        })?;
    for (field, bps) in [("maker_fee_bps", raw.maker_fee_bps), ("taker_fee_bps", raw.taker_fee_bps)]
    {
        if bps > 10_000 {
            return Err(format!("{}: at most 10000", key(field)));
        }
    }
    // Bounds keep every single-step amount inside u64; larger products are checked per order.
    let price_ticks_max = (u64::MAX / quote_units_per_tick_step).min(u64::MAX / tick.units);
    let quantity_steps_max = (u64::MAX / base_units_per_step).min(u64::MAX / step.units);
    Ok(MarketSpec {
        symbol: raw.symbol.clone(),
        base,
        quote,
        tick,
        step,
        min_quantity_steps: QuantitySteps(min_units / step.units),
        min_order_value_units,
        maker_fee_bps: raw.maker_fee_bps,
        taker_fee_bps: raw.taker_fee_bps,
        base_units_per_step,
        quote_units_per_tick_step,
        price_ticks_max,
        quantity_steps_max,
    })
}

/// `units × 10^(decimals − scale)` when that is a whole number that fits a `u64`.
fn scaled_whole(units: u64, decimals: u32, scale: u32) -> Option<u64> {
    if decimals >= scale {
        units.checked_mul(pow10(decimals - scale))
    } else {
        let divisor = pow10((scale - decimals).min(19));
        units.is_multiple_of(divisor).then(|| units / divisor)
    }
}

fn validate_limits(limits: &Limits) -> Result<(), String> {
    let checks = [
        ("limits.orders_max", limits.orders_max, 1u32 << 26),
        ("limits.accounts_max", limits.accounts_max, 1u32 << 24),
        ("limits.open_orders_per_account_max", limits.open_orders_per_account_max, 1u32 << 26),
        ("limits.levels_per_side_max", limits.levels_per_side_max, 1u32 << 24),
        (
            "limits.levels_per_side_per_account_max",
            limits.levels_per_side_per_account_max,
            1u32 << 24,
        ),
    ];
    for (key, value, maximum) in checks {
        if value == 0 || value > maximum {
            return Err(format!("{key}: must be 1..={maximum}"));
        }
    }
    if limits.accounts_max < 2 {
        return Err("limits.accounts_max: at least 2 (the fee account and one user)".into());
    }
    Ok(())
}

fn validate_server(server: &ServerLimits) -> Result<(), String> {
    let checks = [
        ("server.connections_max", server.connections_max, 1u32 << 20),
        ("server.idle_timeout_s", server.idle_timeout_s, 86_400),
        ("server.replay_entries_max", server.replay_entries_max, 1 << 26),
        ("server.fills_history_max", server.fills_history_max, 1 << 26),
        ("server.orders_history_max", server.orders_history_max, 1 << 26),
        ("server.deposits_history_max", server.deposits_history_max, 1 << 26),
        ("server.withdrawals_history_max", server.withdrawals_history_max, 1 << 26),
        ("server.trades_per_market_max", server.trades_per_market_max, 1 << 24),
        ("server.ws_output_max_kib", server.ws_output_max_kib, 1 << 20),
        ("server.ws_close_grace_s", server.ws_close_grace_s, 3_600),
        ("server.http_output_max_kib", server.http_output_max_kib, 1 << 20),
        ("server.requests_in_flight_max", server.requests_in_flight_max, 1 << 16),
        ("server.fills_history_per_account_max", server.fills_history_per_account_max, 1 << 26),
        ("server.orders_history_per_account_max", server.orders_history_per_account_max, 1 << 26),
        (
            "server.deposits_history_per_account_max",
            server.deposits_history_per_account_max,
            1 << 26,
        ),
        (
            "server.withdrawals_history_per_account_max",
            server.withdrawals_history_per_account_max,
            1 << 26,
        ),
        ("server.history_scan_max", server.history_scan_max, 1 << 26),
        ("server.connections_per_ip_max", server.connections_per_ip_max, 1u32 << 20),
    ];
    for (key, value, maximum) in checks {
        if value == 0 || value > maximum {
            return Err(format!("{key}: must be 1..={maximum}"));
        }
    }
    if server.verify_batch_budget_us > 1_000_000 {
        return Err("server.verify_batch_budget_us: must be 0..=1000000 (0: measured)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_exact() {
        let config = Config::embedded_default();
        let sol = config.market(config.market_by_symbol(b"SOL_USDC").unwrap());
        assert_eq!(sol.base_units_per_step, 10_000_000); // 0.01 SOL at 9 decimals
        assert_eq!(sol.quote_units_per_tick_step, 100); // 0.01 × 0.01 USDC at 6 decimals
        assert_eq!(sol.parse_price(b"150.50"), Ok(PriceTicks(15050)));
        assert_eq!(sol.parse_price(b"150.500"), Err(PriceError::TooManyDecimals));
        assert_eq!(sol.parse_price(b"0"), Err(PriceError::OutOfBounds));
        assert_eq!(sol.parse_quantity(b"1.25"), Ok(QuantitySteps(125)));
        assert_eq!(sol.parse_quantity(b"0"), Err(QuantityError::BelowMinimum));
        assert_eq!(sol.notional(PriceTicks(15050), QuantitySteps(125)), Some(188_125_000));
        for market in &config.markets {
            assert!(market.quote_units_per_tick_step >= 1, "{}", market.symbol);
        }
    }

    #[test]
    fn off_tick_is_refused() {
        let toml = DEFAULT_TOML.replacen("tick_size = \"0.01\"", "tick_size = \"0.05\"", 1);
        let config = Config::from_toml(&toml).unwrap();
        let market = config.market(MarketId(0));
        assert_eq!(market.parse_price(b"150.05"), Ok(PriceTicks(3001)));
        assert_eq!(market.parse_price(b"150.04"), Err(PriceError::NotMultipleOfTick));
    }

    #[test]
    fn bad_files_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("decimals = 9", "decimals = 30", "assets[1].decimals"),
            ("tick_size = \"0.01\"", "tick_size = \"zero\"", "markets[0].tick_size"),
            ("tick_size = \"0.01\"", "tick_size = \"0.0000001\"", "markets[0].tick_size"),
            ("step_size = \"0.01\"", "step_size = \"0.0000000001\"", "markets[0].step_size"),
            ("min_quantity = \"0.01\"", "min_quantity = \"0.015\"", "markets[0].min_quantity"),
            ("maker_fee_bps = 10", "maker_fee_bps = 10001", "markets[0].maker_fee_bps"),
            (
                "min_order_value = \"1\"",
                "min_order_value = \"0.0000001\"",
                "markets[0].min_order_value",
            ),
            (
                "levels_per_side_per_account_max = 200",
                "levels_per_side_per_account_max = 0",
                "limits.levels_per_side_per_account_max",
            ),
            ("history_scan_max = 10000", "history_scan_max = 0", "server.history_scan_max"),
            ("symbol = \"SOL_USDC\"", "symbol = \"SOL_DOGE\"", "markets[0].symbol"),
            ("orders_max = ", "orders_maximum = ", "orders_maximum"),
            ("accounts_max = 65536", "accounts_max = 0", "limits.accounts_max"),
        ];
        for (from, to, key) in cases {
            let toml = DEFAULT_TOML.replacen(from, to, 1);
            assert_ne!(toml, DEFAULT_TOML, "{from}");
            let error = Config::from_toml(&toml).unwrap_err();
            assert!(error.contains(key), "{error} should name {key}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }
}
