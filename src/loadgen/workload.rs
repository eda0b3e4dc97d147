//! What each request is: the mix dealt out per connection, deterministically from the seed, and
//! signed ahead of its send time.
//!
//! Every placement carries a `clientId` of its own (`client_id_base + index + 1`), unique in the
//! run, so a cancel can name an order placed earlier on the same connection (the pipeline keeps
//! one connection's requests in order) without waiting for its answer, and a subscriber can
//! tell which request an `orderAccepted` event belongs to.
//!
//! Limit prices fall within 1% of a fixed mid. Four in five are passive (a bid below the mid, an
//! ask above it): they rest, and they are what cancels name. One in five is aggressive (on the
//! other side of the mid) and trades with what rests there, like the market orders; it is never
//! a cancel target. So a cancel misses (`Order not found`) only when a trade took its order
//! first, and the cancel-alls keep each account's share of the book small.

use super::options::Mix;
use super::schedule::Schedule;
use super::sign::{self, Account, Value};
use super::stats::Kind;
use std::collections::VecDeque;

/// Recent placements a connection remembers as cancel targets.
const RECENT_MAX: usize = 64;

/// A decimal unit of a market (`0.01` is mantissa 1, scale 2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unit {
    /// The unit in its smallest digit.
    pub mantissa: u64,
    /// Digits after the point.
    pub scale: u32,
}

impl Unit {
    /// Parses a positive decimal (`"0.01"`, `"5"`, `"0.50"`).
    pub fn parse(text: &str) -> Option<Unit> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = format!("{whole}{fraction}");
        if whole.is_empty()
            || !digits.bytes().all(|byte| byte.is_ascii_digit())
            || digits.len() > 18
        {
            return None;
        }
        let mantissa: u64 = digits.parse().ok()?;
        (mantissa > 0).then_some(Unit { mantissa, scale: fraction.len() as u32 })
    }

    /// `count` units as decimal text at the unit's scale.
    pub fn format(&self, count: u64) -> String {
        let value = count * self.mantissa;
        if self.scale == 0 {
            return value.to_string();
        }
        let divisor = 10u64.pow(self.scale);
        format!("{}.{:0width$}", value / divisor, value % divisor, width = self.scale as usize)
    }

    /// Units in one whole (the count worth 1.0), at least 1.
    pub fn per_whole(&self) -> u64 {
        (10u64.pow(self.scale) / self.mantissa).max(1)
    }
}

/// A market as the server describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Market {
    /// `BASE_QUOTE`.
    pub symbol: String,
    /// Base asset.
    pub base: String,
    /// Quote asset.
    pub quote: String,
    /// Price tick.
    pub tick: Unit,
    /// Quantity step.
    pub step: Unit,
    /// Smallest quantity, in steps.
    pub min_steps: u64,
}

/// The fixed mid price, in whole quote units.
const MID_PRICE: u64 = 100;

/// Quote units the smallest order is worth at the mid: over the embedded configuration's minimum
/// order value (1 USDC), with room for prices 1% below the mid.
const ORDER_VALUE_AT_MID_MIN: u64 = 2;

impl Market {
    /// The fixed mid price, in ticks: 100 quote units.
    pub fn mid_ticks(&self) -> u64 {
        MID_PRICE * self.tick.per_whole()
    }

    /// The smallest quantity the workload orders, in steps: the market's minimum, raised until
    /// the order is worth `ORDER_VALUE_AT_MID_MIN` at the mid.
    pub fn order_steps_min(&self) -> u64 {
        let by_value = (self.step.per_whole() * ORDER_VALUE_AT_MID_MIN).div_ceil(MID_PRICE);
        self.min_steps.max(by_value)
    }
}

/// A request before it is signed.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// What it is.
    pub kind: Kind,
    /// Index in the run's accounts.
    pub account: usize,
    /// Body fields.
    pub fields: Vec<(&'static str, Value)>,
}

impl Draft {
    /// Method, path and instruction of its kind.
    pub fn route(&self) -> (&'static str, &'static str, &'static str) {
        match self.kind {
            Kind::Limit | Kind::Market => ("POST", "/api/v1/order", "orderExecute"),
            Kind::Cancel => ("DELETE", "/api/v1/order", "orderCancel"),
            Kind::CancelAll => ("DELETE", "/api/v1/orders", "orderCancelAll"),
            Kind::Ping => ("GET", "/api/v1/ping", ""),
        }
    }
}

/// A request ready to send.
pub struct Planned {
    /// Global index in the run's schedule.
    pub index: u64,
    /// What it is.
    pub kind: Kind,
    /// Index in the run's accounts of the account that signed it (`ringex crash-cycles` checks
    /// each acknowledged order in its account).
    pub account: usize,
    /// Its signed HTTP bytes.
    pub bytes: Vec<u8>,
}

/// One connection's stream of requests.
pub struct Workload {
    /// Accounts this connection trades for (indices in the run's accounts).
    accounts: Vec<usize>,
    markets: Vec<Market>,
    mix: Mix,
    rng: u64,
    /// Placements that may still be open: (account, market, clientId).
    recent: VecDeque<(usize, usize, u32)>,
    client_id_base: u32,
    /// A cancel-all's last stamp per (account, market), and how many shared it.
    cancel_all_stamps: Vec<(usize, usize, u64, u64)>,
    /// This connection's position among those sharing its accounts, and how many share them
    /// ((0, 1) unless [`Workload::share_accounts`]).
    sharing: (u64, u64),
}

/// A splitmix64 step: a small, fast, seedable generator (no need for more here).
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The accounts connection `connection` of `connections` trades for, out of `accounts`: its
/// own share, or one shared with others when there are fewer accounts than connections.
pub fn accounts_of(connection: usize, connections: usize, accounts: usize) -> Vec<usize> {
    if accounts < connections {
        return vec![connection % accounts];
    }
    (connection..accounts).step_by(connections).collect()
}

impl Workload {
    /// Connection `connection`'s workload.
    pub fn new(
        seed: u64,
        connection: usize,
        accounts: Vec<usize>,
        markets: Vec<Market>,
        mix: Mix,
        client_id_base: u32,
    ) -> Workload {
        assert!(!accounts.is_empty() && !markets.is_empty());
        let rng = seed ^ (connection as u64).wrapping_mul(0xA076_1D64_78BD_642F);
        Workload {
            accounts,
            markets,
            mix,
            rng,
            recent: VecDeque::with_capacity(RECENT_MAX),
            client_id_base,
            cancel_all_stamps: Vec::new(),
            sharing: (0, 1),
        }
    }

    /// Marks the accounts as shared by `connections` connections (fewer accounts than
    /// connections), this one being `connection`: their cancel-alls then keep distinct windows
    /// across connections too.
    pub fn share_accounts(&mut self, connection: usize, connections: usize) {
        assert!(connection < connections);
        self.sharing = (connection as u64, connections as u64);
    }

    fn random(&mut self, below: u64) -> u64 {
        next_random(&mut self.rng) % below.max(1)
    }

    fn pick_account(&mut self) -> usize {
        let pick = self.random(self.accounts.len() as u64) as usize;
        self.accounts[pick]
    }

    /// The request with global index `index`.
    pub fn draft(&mut self, index: u64) -> Draft {
        let roll = self.random(self.mix.total());
        let mut kind = self.mix.kind(roll);
        if kind == Kind::Cancel && self.recent.is_empty() {
            kind = Kind::Limit;
        }
        let client_id = u32::try_from(u64::from(self.client_id_base) + index + 1)
            .expect("clientIds of a run fit in u32 (checked when planned)");
        match kind {
            Kind::Limit | Kind::Market => self.placement(kind, client_id),
            Kind::Cancel => {
                let pick = self.random(self.recent.len() as u64) as usize;
                let (account, market, target) = self.recent.remove(pick).expect("not empty");
                let fields = vec![
                    ("symbol", Value::Text(self.markets[market].symbol.clone())),
                    ("clientId", Value::Integer(u64::from(target))),
                ];
                Draft { kind, account, fields }
            }
            Kind::CancelAll => {
                let account = self.pick_account();
                let market = self.random(self.markets.len() as u64) as usize;
                self.recent.retain(|&(a, m, _)| (a, m) != (account, market));
                let fields = vec![("symbol", Value::Text(self.markets[market].symbol.clone()))];
                Draft { kind, account, fields }
            }
            Kind::Ping => Draft { kind, account: self.accounts[0], fields: Vec::new() },
        }
    }

    fn placement(&mut self, kind: Kind, client_id: u32) -> Draft {
        let account = self.pick_account();
        let market_index = self.random(self.markets.len() as u64) as usize;
        let side = if self.random(2) == 0 { "Bid" } else { "Ask" };
        let market = self.markets[market_index].clone();
        let steps = market.order_steps_min() * (1 + self.random(10));
        let mut fields = vec![
            ("symbol", Value::Text(market.symbol.clone())),
            ("side", Value::Text(side.into())),
            ("orderType", Value::Text(if kind == Kind::Limit { "Limit" } else { "Market" }.into())),
        ];
        if kind == Kind::Limit {
            let band = (market.mid_ticks() / 100).max(1);
            let distance = 1 + self.random(band);
            let passive = self.random(5) != 0;
            let below = (side == "Bid") == passive;
            let price =
                if below { market.mid_ticks() - distance } else { market.mid_ticks() + distance };
            fields.push(("price", Value::Text(market.tick.format(price))));
            if passive {
                if self.recent.len() == RECENT_MAX {
                    self.recent.pop_front();
                }
                self.recent.push_back((account, market_index, client_id));
            }
        }
        fields.push(("quantity", Value::Text(market.step.format(steps))));
        fields.push(("clientId", Value::Integer(u64::from(client_id))));
        Draft { kind, account, fields }
    }

    /// The window of a request stamped `timestamp_ms`: a cancel-all repeats its body, so two of
    /// one account and market in one millisecond differ by their window instead (a signing
    /// string seen twice is a replay, 409).
    fn window_for(&mut self, draft: &Draft, timestamp_ms: u64, window_ms: u64) -> u64 {
        if draft.kind != Kind::CancelAll {
            return window_ms;
        }
        let market =
            self.markets.iter().position(|m| draft.fields[0].1 == Value::Text(m.symbol.clone()));
        let key = (draft.account, market.unwrap_or(0));
        let repeats = match self.cancel_all_stamps.iter_mut().find(|e| (e.0, e.1) == key) {
            Some(entry) if entry.2 == timestamp_ms => {
                entry.3 += 1;
                entry.3
            }
            Some(entry) => {
                (entry.2, entry.3) = (timestamp_ms, 0);
                0
            }
            None => {
                self.cancel_all_stamps.push((key.0, key.1, timestamp_ms, 0));
                0
            }
        };
        let (position, sharers) = self.sharing;
        window_ms.saturating_sub(repeats * sharers + position).max(1)
    }

    /// Drafts and signs `indices`, stamping each with its scheduled wall time.
    pub fn plan(
        &mut self,
        indices: impl Iterator<Item = u64>,
        context: &PlanContext,
    ) -> Vec<Planned> {
        indices
            .map(|index| {
                let draft = self.draft(index);
                let timestamp_ms =
                    context.wall_start_ms + context.schedule.send_time_ns(index) / 1_000_000;
                let window_ms = self.window_for(&draft, timestamp_ms, context.window_ms);
                let (method, path, instruction) = draft.route();
                if draft.kind == Kind::Ping {
                    let bytes = sign::get_bytes(&context.host, path);
                    return Planned { index, kind: draft.kind, account: draft.account, bytes };
                }
                let request = sign::Request {
                    method,
                    path,
                    instruction,
                    fields: &draft.fields,
                    timestamp_ms,
                    window_ms,
                };
                let bytes =
                    sign::request_bytes(&context.accounts[draft.account], &context.host, &request);
                Planned { index, kind: draft.kind, account: draft.account, bytes }
            })
            .collect()
    }
}

/// What signing a request needs besides its draft.
pub struct PlanContext {
    /// The run's accounts.
    pub accounts: Vec<Account>,
    /// The `Host` header.
    pub host: String,
    /// The run's schedule.
    pub schedule: Schedule,
    /// Wall time of the schedule's start, Unix ms.
    pub wall_start_ms: u64,
    /// X-Window, ms.
    pub window_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sol() -> Market {
        Market {
            symbol: "SOL_USDC".into(),
            base: "SOL".into(),
            quote: "USDC".into(),
            tick: Unit::parse("0.01").unwrap(),
            step: Unit::parse("0.01").unwrap(),
            min_steps: 1,
        }
    }

    #[test]
    fn units_parse_and_format() {
        assert_eq!(Unit::parse("0.01"), Some(Unit { mantissa: 1, scale: 2 }));
        assert_eq!(Unit::parse("0.05").unwrap().format(3), "0.15");
        assert_eq!(Unit::parse("5").unwrap().format(3), "15");
        assert_eq!(Unit::parse("0.1").unwrap().per_whole(), 10);
        assert_eq!(Unit::parse("0.01").unwrap().format(10_000), "100.00");
        for bad in ["", "0", "-1", "1e3", ".5", "0.0"] {
            assert_eq!(Unit::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn accounts_are_dealt_to_connections() {
        assert_eq!(accounts_of(1, 4, 10), [1, 5, 9]);
        assert_eq!(accounts_of(3, 4, 2), [1]);
        assert_eq!(accounts_of(0, 1, 1), [0]);
    }

    #[test]
    fn the_mix_is_deterministic_and_cancels_name_earlier_placements() {
        let mix = Mix::parse("limit=50,cancel=30,market=10,cancel-all=10").unwrap();
        let drafts = |seed| {
            let mut workload = Workload::new(seed, 0, vec![0, 1], vec![sol()], mix, 1000);
            (0..2000).map(|index| workload.draft(index)).collect::<Vec<_>>()
        };
        let first = drafts(5);
        assert_eq!(first, drafts(5), "same seed, same requests");
        assert_ne!(first, drafts(6));
        let mut placed = std::collections::HashSet::new();
        let mut counts = [0usize; Kind::ALL.len()];
        for (index, draft) in first.iter().enumerate() {
            counts[draft.kind.position()] += 1;
            let client_id = |draft: &Draft| match draft.fields.iter().find(|f| f.0 == "clientId") {
                Some((_, Value::Integer(id))) => *id,
                _ => panic!("no clientId"),
            };
            match draft.kind {
                Kind::Limit | Kind::Market => {
                    assert_eq!(client_id(draft), 1000 + index as u64 + 1);
                    assert!(placed.insert(client_id(draft)));
                }
                Kind::Cancel => {
                    assert!(placed.contains(&client_id(draft)), "cancels what was placed")
                }
                Kind::CancelAll => assert_eq!(draft.fields.len(), 1),
                Kind::Ping => panic!("not in the mix"),
            }
        }
        for (kind, expected) in Kind::ALL.iter().zip([1000usize, 600, 200, 200]) {
            let got = counts[kind.position()];
            assert!(got.abs_diff(expected) < expected / 4 + 40, "{kind:?}: {got}");
        }
    }

    #[test]
    fn limit_prices_stay_within_one_percent_of_mid_and_four_in_five_rest() {
        let mix = Mix::parse("limit=1").unwrap();
        let mut workload = Workload::new(1, 0, vec![0], vec![sol()], mix, 0);
        let mut passive = 0;
        for index in 0..1000 {
            let draft = workload.draft(index);
            let text = |key: &str| match draft.fields.iter().find(|f| f.0 == key) {
                Some((_, Value::Text(text))) => text.clone(),
                _ => panic!("a limit order has a {key}"),
            };
            let price: f64 = text("price").parse().unwrap();
            assert!((99.0..=101.0).contains(&price) && price != 100.0, "{price}");
            passive += usize::from((text("side") == "Bid") == (price < 100.0));
        }
        assert!((750..=850).contains(&passive), "{passive} passive of 1000");
        assert_eq!(workload.recent.len(), RECENT_MAX);
    }

    #[test]
    fn cancel_alls_in_one_millisecond_get_distinct_windows() {
        let mix = Mix::parse("cancel-all=1").unwrap();
        let mut workload = Workload::new(1, 0, vec![0], vec![sol()], mix, 0);
        let draft = workload.draft(0);
        let windows: Vec<u64> = (0..3).map(|_| workload.window_for(&draft, 77, 10_000)).collect();
        assert_eq!(windows, [10_000, 9_999, 9_998]);
        assert_eq!(workload.window_for(&draft, 78, 10_000), 10_000);
        // Connections sharing the account never pick the same window in one millisecond.
        let mut windows = std::collections::HashSet::new();
        for connection in 0..3 {
            let mut shared = Workload::new(1, connection, vec![0], vec![sol()], mix, 0);
            shared.share_accounts(connection, 3);
            for _ in 0..4 {
                assert!(windows.insert(shared.window_for(&draft, 90, 10_000)));
            }
        }
    }

    #[test]
    fn a_ping_is_an_unsigned_get() {
        let mix = Mix::parse("ping=1").unwrap();
        let mut workload = Workload::new(1, 0, vec![0], vec![sol()], mix, 0);
        let context = PlanContext {
            accounts: vec![Account::derived(1, 0)],
            host: "127.0.0.1:9".into(),
            schedule: Schedule::new(&[crate::loadgen::schedule::Phase::steady("s", 10.0, 1.0)]),
            wall_start_ms: 1_700_000_000_000,
            window_ms: 5_000,
        };
        let planned = workload.plan(0..2, &context);
        assert_eq!(planned.len(), 2);
        for request in planned {
            assert_eq!(request.kind, Kind::Ping);
            assert_eq!(request.bytes, b"GET /api/v1/ping HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n");
        }
    }
}
