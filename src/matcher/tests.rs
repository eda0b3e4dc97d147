//! Order-book scenarios as readable tables of commands and expected consequences.

use super::place::fee;
use super::test_orders::*;
use super::*;
use crate::command::{OrderRef, PlaceOrder};
use crate::types::{
    ClientId, ExpiryReason, MarketId, OrderId, OrderStatus, PriceTicks, QuantitySteps,
    RejectReason, SelfTradePrevention, TimeInForce,
};

/// USDC units (6 decimals) of a decimal literal, parsed exactly.
fn usdc(decimal: &str) -> u64 {
    crate::money::parse_units(decimal.as_bytes(), 6).unwrap()
}

/// SOL units (9 decimals) of a decimal literal, parsed exactly.
fn sol(decimal: &str) -> u64 {
    crate::money::parse_units(decimal.as_bytes(), 9).unwrap()
}

struct Harness {
    matcher: Matcher,
    sequence: u64,
}

/// The embedded configuration without its minimum order values: these tests trade in ticks and
/// steps worth cents on purpose (the minimum has its own test).
fn small_orders_config() -> Config {
    Config::embedded_default().without_min_order_values()
}

impl Harness {
    fn new() -> Harness {
        Harness { matcher: Matcher::new(Arc::new(small_orders_config())), sequence: 0 }
    }

    fn with_limits(edit: impl FnOnce(&mut Config)) -> Harness {
        let mut config = small_orders_config();
        edit(&mut config);
        Harness { matcher: Matcher::new(Arc::new(config)), sequence: 0 }
    }

    fn run(&mut self, account: u8, action: Action) -> Vec<Event> {
        let sequence = if action.is_query() {
            0
        } else {
            self.sequence += 1;
            self.sequence
        };
        let command = Command {
            sequence: SequenceNumber(sequence),
            time_us: 1_700_000_000_000_000 + sequence,
            account: key(account),
            action,
        };
        let mut events = Vec::new();
        self.matcher.apply(&command, &mut events);
        self.matcher.check_invariants().unwrap();
        events
    }

    fn fund(&mut self, account: u8, asset: AssetId, amount: u64) {
        let events = self.run(account, Action::Deposit { asset, amount });
        assert!(matches!(events.last().unwrap().kind, EventKind::Transfer(_)), "{events:?}");
    }

    fn funded() -> Harness {
        let mut harness = Harness::new();
        for account in [ALICE, BOB, CAROL] {
            harness.fund(account, USDC, usdc("100000"));
            harness.fund(account, SOL, sol("1000"));
        }
        harness
    }

    fn balance(&self, account: u8, asset: AssetId) -> (u64, u64) {
        self.matcher.balance_of(&key(account), asset).unwrap_or((0, 0))
    }

    /// Runs a command that must be rejected, checking it changed nothing.
    fn rejected(&mut self, account: u8, action: Action) -> RejectReason {
        let before = self.matcher.state_hash();
        let events = self.run(account, action);
        assert_eq!(self.matcher.state_hash(), before, "a rejection changed state");
        match events.as_slice() {
            [Event { kind: EventKind::Rejected { reason, .. }, .. }] => *reason,
            other => panic!("expected one rejection, got {other:?}"),
        }
    }
}

/// A compact view of an event for table comparisons.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Accepted(u64),
    Fill { order: u64, quantity: u64, price: u64, maker: bool, status: OrderStatus },
    Cancelled(u64),
    Expired(u64, ExpiryReason),
    Rejected(RejectReason),
    Other,
}

fn seen(events: &[Event]) -> Vec<Seen> {
    events
        .iter()
        .map(|event| match event.kind {
            EventKind::OrderAccepted(order) => Seen::Accepted(order.order_id.0),
            EventKind::OrderFill(fill) => Seen::Fill {
                order: fill.order.order_id.0,
                quantity: fill.quantity.0,
                price: fill.price.0,
                maker: fill.is_maker,
                status: fill.order.status,
            },
            EventKind::OrderCancelled(order) => Seen::Cancelled(order.order_id.0),
            EventKind::OrderExpired { order, reason } => Seen::Expired(order.order_id.0, reason),
            EventKind::Rejected { reason, .. } => Seen::Rejected(reason),
            _ => Seen::Other,
        })
        .collect()
}

fn fill(order: u64, quantity: u64, price: u64, maker: bool, status: OrderStatus) -> Seen {
    Seen::Fill { order, quantity, price, maker, status }
}

use OrderStatus::{Filled, PartiallyFilled};

#[test]
fn limit_orders_rest_and_lock_exactly() {
    let mut h = Harness::funded();
    // 1.25 SOL bid at 150.50: locks 188.125 USDC.
    let events = h.run(ALICE, Action::Place(limit(Side::Bid, 15050, 125)));
    assert_eq!(seen(&events), vec![Seen::Accepted(7)]);
    assert_eq!(h.balance(ALICE, USDC), (usdc("100000") - usdc("188.125"), usdc("188.125")));
    // 2 SOL ask at 151: locks 2 SOL.
    h.run(BOB, Action::Place(limit(Side::Ask, 15100, 200)));
    assert_eq!(h.balance(BOB, SOL), (sol("998"), sol("2")));
    assert_eq!(
        h.matcher.depth(SOL_USDC, Side::Bid),
        vec![(PriceTicks(15050), QuantitySteps(125), 1)]
    );
    assert_eq!(
        h.matcher.depth(SOL_USDC, Side::Ask),
        vec![(PriceTicks(15100), QuantitySteps(200), 1)]
    );
}

#[test]
fn trades_at_the_makers_price_with_fees_in_the_asset_received() {
    let mut h = Harness::funded();
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100))); // order 7: 1 SOL at 150
    // Alice bids 1 SOL at 151: trades at 150, the 1 USDC difference is refunded.
    let events = h.run(ALICE, Action::Place(limit(Side::Bid, 15100, 100)));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(8),
            fill(7, 100, 15000, true, Filled),
            fill(8, 100, 15000, false, Filled)
        ]
    );
    // Taker (Alice) pays 150 USDC, receives 1 SOL minus 20 bps = 0.998 SOL.
    assert_eq!(h.balance(ALICE, USDC), (usdc("100000") - usdc("150"), 0));
    assert_eq!(h.balance(ALICE, SOL), (sol("1000") + sol("0.998"), 0));
    // Maker (Bob) receives 150 USDC minus 10 bps = 149.85.
    assert_eq!(h.balance(BOB, USDC), (usdc("100000") + usdc("149.85"), 0));
    assert_eq!(h.balance(BOB, SOL), (sol("999"), 0));
    assert_eq!(h.matcher.fee_balance(USDC), (usdc("0.15"), 0));
    assert_eq!(h.matcher.fee_balance(SOL), (sol("0.002"), 0));
    match (events[1].kind, events[2].kind) {
        (EventKind::OrderFill(maker), EventKind::OrderFill(taker)) => {
            assert_eq!(
                (maker.trade_id, maker.quote, maker.fee, maker.fee_asset),
                (1, usdc("150"), usdc("0.15"), USDC)
            );
            assert_eq!(
                (taker.trade_id, taker.quote, taker.fee, taker.fee_asset),
                (1, usdc("150"), sol("0.002"), SOL)
            );
            assert_eq!((maker.counterparty, taker.counterparty), (OrderId(8), OrderId(7)));
        }
        _ => unreachable!(),
    }
}

#[test]
fn fees_round_down_to_the_unit() {
    let mut h = Harness::funded();
    // 0.01 SOL at 0.01 USDC: quote 100 units; maker fee 10 bps of 100 units = 0.1 → 0.
    h.run(BOB, Action::Place(limit(Side::Ask, 1, 1)));
    let events = h.run(ALICE, Action::Place(limit(Side::Bid, 1, 1)));
    let fees: Vec<u64> = events
        .iter()
        .filter_map(|event| match event.kind {
            EventKind::OrderFill(fill) => Some(fill.fee),
            _ => None,
        })
        .collect();
    // Maker receives 100 USDC units → 0; taker receives 10_000_000 SOL units × 20 bps = 20_000.
    assert_eq!(fees, vec![0, 20_000]);
}

proptest::proptest! {
    /// The `u64` fee equals the exact `u128` product rounded down, up to `u64::MAX` received.
    #[test]
    fn fee_is_exact(received in proptest::prelude::any::<u64>(), bps in 0u32..=10_000) {
        let exact = u128::from(received) * u128::from(bps) / 10_000;
        proptest::prop_assert_eq!(u128::from(fee(received, bps)), exact);
    }
}

#[test]
fn fee_is_exact_at_the_edges() {
    for received in [0, 1, 9_999, 10_000, 10_001, u64::MAX - 1, u64::MAX] {
        for bps in [0, 1, 9_999, 10_000] {
            let exact = u128::from(received) * u128::from(bps) / 10_000;
            assert_eq!(u128::from(fee(received, bps)), exact, "{received} at {bps}");
        }
    }
}

#[test]
fn price_time_priority() {
    let mut h = Harness::funded();
    h.run(BOB, Action::Place(limit(Side::Ask, 15010, 100))); // 7
    h.run(CAROL, Action::Place(limit(Side::Ask, 15000, 100))); // 8: better price
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100))); // 9: same price, later
    let events = h.run(ALICE, Action::Place(limit(Side::Bid, 15010, 250)));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(10),
            fill(8, 100, 15000, true, Filled),
            fill(10, 100, 15000, false, PartiallyFilled),
            fill(9, 100, 15000, true, Filled),
            fill(10, 100, 15000, false, PartiallyFilled),
            fill(7, 50, 15010, true, PartiallyFilled),
            fill(10, 50, 15010, false, Filled),
        ]
    );
    let trade_ids: Vec<u64> = events
        .iter()
        .filter_map(|event| match event.kind {
            EventKind::OrderFill(fill) if fill.is_maker => Some(fill.trade_id),
            _ => None,
        })
        .collect();
    assert_eq!(trade_ids, vec![1, 2, 3]);
    assert_eq!(
        h.matcher.depth(SOL_USDC, Side::Ask),
        vec![(PriceTicks(15010), QuantitySteps(50), 1)]
    );
}

#[test]
fn time_in_force() {
    let mut h = Harness::funded();
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100))); // 7
    // IOC: fills 1, the remaining 1 expires.
    let ioc = PlaceOrder { time_in_force: TimeInForce::Ioc, ..limit(Side::Bid, 15000, 200) };
    let events = h.run(ALICE, Action::Place(ioc));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(8),
            fill(7, 100, 15000, true, Filled),
            fill(8, 100, 15000, false, PartiallyFilled),
            Seen::Expired(8, ExpiryReason::ImmediateOrCancel),
        ]
    );
    assert_eq!(h.matcher.open_orders(), 0);
    assert_eq!(h.balance(ALICE, USDC).1, 0, "the IOC remainder's lock is released");

    // FOK that cannot fill completely expires untouched.
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100))); // 9
    let before = h.matcher.depth(SOL_USDC, Side::Ask);
    let fok = PlaceOrder { time_in_force: TimeInForce::Fok, ..limit(Side::Bid, 15000, 200) };
    let events = h.run(ALICE, Action::Place(fok));
    assert_eq!(
        seen(&events),
        vec![Seen::Accepted(10), Seen::Expired(10, ExpiryReason::FillOrKill)]
    );
    assert_eq!(h.matcher.depth(SOL_USDC, Side::Ask), before);
    // A FOK that can fill does.
    let fok = PlaceOrder { time_in_force: TimeInForce::Fok, ..limit(Side::Bid, 15000, 100) };
    let events = h.run(ALICE, Action::Place(fok));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(11),
            fill(9, 100, 15000, true, Filled),
            fill(11, 100, 15000, false, Filled)
        ]
    );
}

#[test]
fn orders_that_cannot_trade_and_may_not_rest_expire_changing_nothing() {
    let mut h = Harness::funded();
    let ioc =
        |side, price| PlaceOrder { time_in_force: TimeInForce::Ioc, ..limit(side, price, 100) };
    let fok =
        |side, price| PlaceOrder { time_in_force: TimeInForce::Fok, ..limit(side, price, 100) };
    let expires_changing_nothing = |h: &mut Harness, place, reason| {
        let before = (h.matcher.state_hash(), h.balance(ALICE, USDC), h.balance(ALICE, SOL));
        let events = h.run(ALICE, Action::Place(place));
        let id = h.sequence;
        assert_eq!(seen(&events), vec![Seen::Accepted(id), Seen::Expired(id, reason)]);
        assert_eq!((h.matcher.state_hash(), h.balance(ALICE, USDC), h.balance(ALICE, SOL)), before);
    };
    // The book is empty.
    let market_fok = PlaceOrder { time_in_force: TimeInForce::Fok, ..market(Side::Bid, 100, 0) };
    expires_changing_nothing(
        &mut h,
        market(Side::Bid, 100, 0),
        ExpiryReason::InsufficientLiquidity,
    );
    expires_changing_nothing(
        &mut h,
        market(Side::Ask, 0, usdc("10")),
        ExpiryReason::InsufficientLiquidity,
    );
    expires_changing_nothing(&mut h, ioc(Side::Bid, 15000), ExpiryReason::ImmediateOrCancel);
    expires_changing_nothing(&mut h, fok(Side::Ask, 15000), ExpiryReason::FillOrKill);
    expires_changing_nothing(&mut h, market_fok, ExpiryReason::FillOrKill);
    // The book does not reach their limits.
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100)));
    h.run(BOB, Action::Place(limit(Side::Bid, 14000, 100)));
    expires_changing_nothing(&mut h, ioc(Side::Bid, 14999), ExpiryReason::ImmediateOrCancel);
    expires_changing_nothing(&mut h, ioc(Side::Ask, 14001), ExpiryReason::ImmediateOrCancel);
    expires_changing_nothing(&mut h, fok(Side::Bid, 14999), ExpiryReason::FillOrKill);
    assert_eq!(h.matcher.open_orders(), 2);
}

#[test]
fn post_only() {
    let mut h = Harness::funded();
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100))); // 7
    let post = PlaceOrder { post_only: true, ..limit(Side::Bid, 15000, 100) };
    let events = h.run(ALICE, Action::Place(post));
    assert_eq!(
        seen(&events),
        vec![Seen::Accepted(8), Seen::Expired(8, ExpiryReason::PostOnlyTaker)]
    );
    assert_eq!(h.balance(ALICE, USDC), (usdc("100000"), 0));
    // Its own order counts too.
    let own = PlaceOrder { post_only: true, ..limit(Side::Bid, 15000, 100) };
    let events = h.run(BOB, Action::Place(own));
    assert_eq!(
        seen(&events),
        vec![Seen::Accepted(9), Seen::Expired(9, ExpiryReason::PostOnlyTaker)]
    );
    // Not crossing: rests.
    let post = PlaceOrder { post_only: true, ..limit(Side::Bid, 14999, 100) };
    assert_eq!(seen(&h.run(ALICE, Action::Place(post))), vec![Seen::Accepted(10)]);
    // postOnly needs GTC.
    let bad =
        PlaceOrder { post_only: true, time_in_force: TimeInForce::Ioc, ..limit(Side::Bid, 1, 1) };
    assert_eq!(h.rejected(ALICE, Action::Place(bad)), RejectReason::InvalidOrder);
}

#[test]
fn market_orders_by_quantity() {
    let mut h = Harness::funded();
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100))); // 7
    h.run(BOB, Action::Place(limit(Side::Ask, 15100, 100))); // 8
    let events = h.run(ALICE, Action::Place(market(Side::Bid, 150, 0)));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(9),
            fill(7, 100, 15000, true, Filled),
            fill(9, 100, 15000, false, PartiallyFilled),
            fill(8, 50, 15100, true, PartiallyFilled),
            fill(9, 50, 15100, false, Filled),
        ]
    );
    assert_eq!(h.balance(ALICE, USDC), (usdc("100000") - usdc("150") - usdc("75.5"), 0));
    // The book runs out: the rest expires for lack of liquidity.
    let events = h.run(ALICE, Action::Place(market(Side::Bid, 100, 0)));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(10),
            fill(8, 50, 15100, true, Filled),
            fill(10, 50, 15100, false, PartiallyFilled),
            Seen::Expired(10, ExpiryReason::InsufficientLiquidity),
        ]
    );
    // Selling more than available is refused; on an empty book a sell expires.
    assert_eq!(
        h.rejected(CAROL, Action::Place(market(Side::Ask, 200_000, 0))),
        RejectReason::InsufficientFunds
    );
    let events = h.run(CAROL, Action::Place(market(Side::Ask, 100, 0)));
    assert_eq!(
        seen(&events),
        vec![Seen::Accepted(12), Seen::Expired(12, ExpiryReason::InsufficientLiquidity)]
    );
    assert_eq!(h.balance(CAROL, SOL), (sol("1000"), 0));
}

#[test]
fn market_bid_by_quantity_runs_out_of_funds() {
    let mut h = Harness::funded();
    h.fund(9, USDC, usdc("200"));
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100))); // 8: 150 USDC
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100))); // 9
    let events = h.run(9, Action::Place(market(Side::Bid, 200, 0)));
    // 200 USDC buys 1 SOL and 0.33 SOL at 150.
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(10),
            fill(8, 100, 15000, true, Filled),
            fill(10, 100, 15000, false, PartiallyFilled),
            fill(9, 33, 15000, true, PartiallyFilled),
            fill(10, 33, 15000, false, PartiallyFilled),
            Seen::Expired(10, ExpiryReason::InsufficientFunds),
        ]
    );
    assert_eq!(h.balance(9, USDC), (usdc("200") - usdc("199.5"), 0));
}

#[test]
fn market_orders_by_quote_quantity() {
    let mut h = Harness::funded();
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100))); // 7
    h.run(BOB, Action::Place(limit(Side::Ask, 16000, 100))); // 8
    // Spend at most 200 USDC: 1 SOL at 150, then 0.31 SOL at 160 (49.6), 0.4 USDC short of a step.
    let events = h.run(ALICE, Action::Place(market(Side::Bid, 0, usdc("200"))));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(9),
            fill(7, 100, 15000, true, Filled),
            fill(9, 100, 15000, false, PartiallyFilled),
            fill(8, 31, 16000, true, PartiallyFilled),
            fill(9, 31, 16000, false, Filled),
        ]
    );
    assert_eq!(h.balance(ALICE, USDC), (usdc("100000") - usdc("199.6"), 0));
    // More than available is refused.
    assert_eq!(
        h.rejected(ALICE, Action::Place(market(Side::Bid, 0, usdc("1000000")))),
        RejectReason::InsufficientFunds
    );
    // A sell by quote receives at most the amount: bids at 150 and 140.
    h.run(CAROL, Action::Place(limit(Side::Bid, 15000, 100))); // 11 (10 was rejected)
    h.run(CAROL, Action::Place(limit(Side::Bid, 14000, 100))); // 12
    let events = h.run(ALICE, Action::Place(market(Side::Ask, 0, usdc("200"))));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(13),
            fill(11, 100, 15000, true, Filled),
            fill(13, 100, 15000, false, PartiallyFilled),
            fill(12, 35, 14000, true, PartiallyFilled),
            fill(13, 35, 14000, false, Filled),
        ]
    );
    match events[4].kind {
        EventKind::OrderFill(fill) => assert_eq!(fill.order.executed_quote, usdc("199")),
        _ => unreachable!(),
    }
    // Empty book: expires for liquidity, not funds.
    h.run(ALICE, Action::CancelAll { market: SOL_USDC });
    h.run(BOB, Action::CancelAll { market: SOL_USDC });
    h.run(CAROL, Action::CancelAll { market: SOL_USDC });
    let events = h.run(ALICE, Action::Place(market(Side::Bid, 0, usdc("10"))));
    assert_eq!(
        seen(&events),
        vec![Seen::Accepted(17), Seen::Expired(17, ExpiryReason::InsufficientLiquidity)]
    );
    // FOK needs a quantity.
    let fok = PlaceOrder { time_in_force: TimeInForce::Fok, ..market(Side::Bid, 0, usdc("10")) };
    assert_eq!(h.rejected(ALICE, Action::Place(fok)), RejectReason::InvalidOrder);
}

#[test]
fn self_trade_prevention_modes() {
    let stp = |mode| PlaceOrder { self_trade_prevention: mode, ..limit(Side::Bid, 15000, 300) };
    // Book: Bob 1 @150 (7), Alice 1 @150 (8), Carol 1 @150 (9).
    let setup = || {
        let mut h = Harness::funded();
        h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100)));
        h.run(ALICE, Action::Place(limit(Side::Ask, 15000, 100)));
        h.run(CAROL, Action::Place(limit(Side::Ask, 15000, 100)));
        h
    };
    let mut h = setup();
    let events = h.run(ALICE, Action::Place(stp(SelfTradePrevention::RejectTaker)));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(10),
            fill(7, 100, 15000, true, Filled),
            fill(10, 100, 15000, false, PartiallyFilled),
            Seen::Expired(10, ExpiryReason::SelfTradePrevention),
        ]
    );
    assert_eq!(h.matcher.open_orders(), 2, "Alice's and Carol's asks stay");

    let mut h = setup();
    let events = h.run(ALICE, Action::Place(stp(SelfTradePrevention::RejectMaker)));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(10),
            fill(7, 100, 15000, true, Filled),
            fill(10, 100, 15000, false, PartiallyFilled),
            Seen::Expired(8, ExpiryReason::SelfTradePrevention),
            fill(9, 100, 15000, true, Filled),
            fill(10, 100, 15000, false, PartiallyFilled),
        ]
    );
    // The remaining 1 SOL rests.
    assert_eq!(
        h.matcher.depth(SOL_USDC, Side::Bid),
        vec![(PriceTicks(15000), QuantitySteps(100), 1)]
    );

    let mut h = setup();
    let events = h.run(ALICE, Action::Place(stp(SelfTradePrevention::RejectBoth)));
    assert_eq!(
        seen(&events),
        vec![
            Seen::Accepted(10),
            fill(7, 100, 15000, true, Filled),
            fill(10, 100, 15000, false, PartiallyFilled),
            Seen::Expired(8, ExpiryReason::SelfTradePrevention),
            Seen::Expired(10, ExpiryReason::SelfTradePrevention),
        ]
    );
    assert_eq!(h.matcher.open_orders(), 1);

    let mut h = setup();
    let alice_sol_before = h.balance(ALICE, SOL);
    let events = h.run(ALICE, Action::Place(stp(SelfTradePrevention::Allow)));
    assert_eq!(
        seen(&events)[3..5],
        [fill(8, 100, 15000, true, Filled), fill(10, 100, 15000, false, PartiallyFilled)]
    );
    // Trading with itself still pays both fees: 10 bps of 150 USDC as maker, 20 bps of 1 SOL as
    // taker, on top of the other two trades.
    assert_eq!(h.balance(ALICE, SOL).0, alice_sol_before.0 + 3 * sol("0.998"));
}

#[test]
fn client_ids() {
    let mut h = Harness::funded();
    let with_client =
        |client| PlaceOrder { client_id: Some(ClientId(client)), ..limit(Side::Bid, 100, 100) };
    h.run(ALICE, Action::Place(with_client(42))); // 7
    let before = h.matcher.state_hash();
    let events = h.run(ALICE, Action::Place(with_client(42)));
    assert_eq!(
        events[0].kind,
        EventKind::Rejected { reason: RejectReason::DuplicateClientId, client_id: 42 }
    );
    assert_eq!(h.matcher.state_hash(), before);
    // Another account may use the same client id.
    assert_eq!(seen(&h.run(BOB, Action::Place(with_client(42)))), vec![Seen::Accepted(9)]);
    // Cancel by client id frees it.
    let cancel = Action::Cancel { market: SOL_USDC, target: OrderRef::Client(ClientId(42)) };
    assert_eq!(seen(&h.run(ALICE, cancel)), vec![Seen::Cancelled(7)]);
    assert_eq!(seen(&h.run(ALICE, Action::Place(with_client(42)))), vec![Seen::Accepted(11)]);
    // Wrong market, unknown id, someone else's order: not found, nothing changes.
    let wrong_market = Action::Cancel { market: BTC_USDC, target: OrderRef::Client(ClientId(42)) };
    assert_eq!(h.rejected(ALICE, wrong_market), RejectReason::OrderNotFound);
    let foreign = Action::Cancel { market: SOL_USDC, target: OrderRef::Id(OrderId(9)) };
    assert_eq!(h.rejected(ALICE, foreign), RejectReason::OrderNotFound);
    let unknown = Action::Cancel { market: SOL_USDC, target: OrderRef::Id(OrderId(999)) };
    assert_eq!(h.rejected(ALICE, unknown), RejectReason::OrderNotFound);
    // A filled order frees its client id: Carol's ask fills Bob's bid, then Alice's.
    let events = h.run(CAROL, Action::Place(limit(Side::Ask, 100, 200)));
    assert_eq!(seen(&events)[3], fill(11, 100, 100, true, Filled));
    assert_eq!(seen(&h.run(ALICE, Action::Place(with_client(42))))[0], Seen::Accepted(16));
}

#[test]
fn cancel_all_in_one_market_ascending() {
    let mut h = Harness::funded();
    h.fund(ALICE, AssetId(2), 100_000_000);
    h.run(ALICE, Action::Place(limit(Side::Bid, 100, 100))); // 8
    h.run(ALICE, Action::Place(PlaceOrder { market: BTC_USDC, ..limit(Side::Bid, 100, 100) })); // 9
    h.run(ALICE, Action::Place(limit(Side::Ask, 20000, 100))); // 10
    h.run(BOB, Action::Place(limit(Side::Bid, 100, 100))); // 11
    let events = h.run(ALICE, Action::CancelAll { market: SOL_USDC });
    assert_eq!(seen(&events), vec![Seen::Cancelled(8), Seen::Cancelled(10)]);
    assert_eq!(
        h.balance(ALICE, USDC).1,
        100 * 100 * 100 / 10_000 * 100,
        "only the BTC bid stays locked"
    );
    assert_eq!(h.matcher.open_orders(), 2);
    assert!(h.run(CAROL, Action::CancelAll { market: SOL_USDC }).is_empty());
}

#[test]
fn deposits_withdrawals_and_freezing() {
    let mut h = Harness::with_limits(|config| config.assets[1].withdrawal_fee_units = sol("0.01"));
    h.fund(ALICE, SOL, sol("10"));
    h.fund(ALICE, USDC, usdc("1000"));
    let events = h.run(ALICE, Action::Withdraw { asset: SOL, amount: sol("1.5") });
    match events[0].kind {
        EventKind::Transfer(transfer) => {
            assert_eq!((transfer.id, transfer.amount, transfer.fee), (1, sol("1.5"), sol("0.01")));
            assert_eq!(transfer.available, sol("10") - sol("1.51"));
        }
        _ => panic!("{events:?}"),
    }
    assert_eq!(h.matcher.fee_balance(SOL), (sol("0.01"), 0));
    // Amount plus fee must be available.
    assert_eq!(
        h.rejected(ALICE, Action::Withdraw { asset: SOL, amount: sol("8.49") }),
        RejectReason::InsufficientFunds
    );
    // Locked funds cannot be withdrawn.
    h.run(ALICE, Action::Place(limit(Side::Bid, 10000, 100))); // 100 USDC locked
    assert_eq!(
        h.rejected(ALICE, Action::Withdraw { asset: USDC, amount: usdc("900.01") }),
        RejectReason::InsufficientFunds
    );
    // Frozen: cannot place or withdraw, can cancel; the administrator can still move funds.
    h.run(ALICE, Action::Freeze);
    assert_eq!(
        h.rejected(ALICE, Action::Place(limit(Side::Bid, 1, 1))),
        RejectReason::AccountFrozen
    );
    assert_eq!(
        h.rejected(ALICE, Action::Withdraw { asset: SOL, amount: 1 }),
        RejectReason::AccountFrozen
    );
    assert_eq!(seen(&h.run(ALICE, Action::CancelAll { market: SOL_USDC })).len(), 1);
    let events = h.run(ALICE, Action::AdminWithdraw { asset: SOL, amount: sol("1") });
    match events[0].kind {
        EventKind::Transfer(transfer) => assert_eq!((transfer.id, transfer.fee), (2, 0)),
        _ => panic!("{events:?}"),
    }
    h.run(ALICE, Action::Deposit { asset: SOL, amount: 1 });
    h.run(ALICE, Action::Unfreeze);
    // Rejected commands consume sequence numbers too: this is the 14th command.
    assert_eq!(
        seen(&h.run(ALICE, Action::Place(limit(Side::Bid, 1, 1)))),
        vec![Seen::Accepted(14)]
    );
    // Administrator actions on unknown accounts.
    assert_eq!(h.rejected(99, Action::Freeze), RejectReason::AccountNotFound);
    assert_eq!(
        h.rejected(99, Action::AdminWithdraw { asset: SOL, amount: 1 }),
        RejectReason::AccountNotFound
    );
    // Unknown keys cannot trade or withdraw.
    assert_eq!(
        h.rejected(99, Action::Place(limit(Side::Bid, 1, 1))),
        RejectReason::InsufficientFunds
    );
    assert_eq!(
        h.rejected(99, Action::Withdraw { asset: SOL, amount: 1 }),
        RejectReason::InsufficientFunds
    );
    assert_eq!(
        h.rejected(ALICE, Action::Deposit { asset: AssetId(9), amount: 1 }),
        RejectReason::InvalidAsset
    );
    assert_eq!(
        h.rejected(ALICE, Action::Deposit { asset: SOL, amount: 0 }),
        RejectReason::InvalidQuantity
    );
}

#[test]
fn malformed_placements_are_rejected_and_change_nothing() {
    let mut h = Harness::funded();
    let cases: Vec<(PlaceOrder, RejectReason)> = vec![
        (
            PlaceOrder { market: MarketId(77), ..limit(Side::Bid, 1, 1) },
            RejectReason::InvalidSymbol,
        ),
        (limit(Side::Bid, 0, 1), RejectReason::PriceOutOfBounds),
        (limit(Side::Bid, u64::MAX, 1), RejectReason::PriceOutOfBounds),
        (limit(Side::Bid, 1, 0), RejectReason::QuantityBelowMinimum),
        (limit(Side::Bid, 1, u64::MAX), RejectReason::QuantityOutOfBounds),
        (PlaceOrder { quote_quantity: 5, ..limit(Side::Bid, 1, 1) }, RejectReason::InvalidOrder),
        (market(Side::Bid, 0, 0), RejectReason::InvalidOrder),
        (market(Side::Bid, 1, 1), RejectReason::InvalidOrder),
        (
            PlaceOrder { price: PriceTicks(5), ..market(Side::Bid, 1, 0) },
            RejectReason::InvalidOrder,
        ),
        (PlaceOrder { post_only: true, ..market(Side::Bid, 1, 0) }, RejectReason::InvalidOrder),
        (limit(Side::Bid, 1_000_000_000, 1_000_000), RejectReason::InsufficientFunds),
        (limit(Side::Ask, 1, 10_000_000), RejectReason::InsufficientFunds),
        (limit(Side::Bid, 1_000_000_000_000, 1_000_000_000_000), RejectReason::QuantityOutOfBounds),
    ];
    for (place, expected) in cases {
        assert_eq!(h.rejected(ALICE, Action::Place(place)), expected, "{place:?}");
    }
}

#[test]
fn running_out_of_capacity_is_a_clean_rejection() {
    let mut h = Harness::with_limits(|config| {
        config.limits.orders_max = 3;
        config.limits.open_orders_per_account_max = 2;
        config.limits.levels_per_side_max = 2;
    });
    for account in [ALICE, BOB] {
        h.fund(account, USDC, usdc("1000"));
        h.fund(account, SOL, sol("10"));
    }
    h.run(ALICE, Action::Place(limit(Side::Bid, 100, 1)));
    h.run(ALICE, Action::Place(limit(Side::Bid, 101, 1)));
    assert_eq!(
        h.rejected(ALICE, Action::Place(limit(Side::Bid, 100, 1))),
        RejectReason::OrderLimit
    );
    // Bob: a third bid level is refused, the same level is fine.
    assert_eq!(h.rejected(BOB, Action::Place(limit(Side::Bid, 99, 1))), RejectReason::OrderLimit);
    h.run(BOB, Action::Place(limit(Side::Bid, 100, 1)));
    // Pool full: a resting order is refused, an IOC is not.
    assert_eq!(h.rejected(BOB, Action::Place(limit(Side::Ask, 200, 1))), RejectReason::OrderLimit);
    let ioc = PlaceOrder { time_in_force: TimeInForce::Ioc, ..limit(Side::Ask, 101, 1) };
    assert_eq!(seen(&h.run(BOB, Action::Place(ioc))).len(), 3);
    // The fill gave an order's room in the pool back.
    assert_eq!(seen(&h.run(BOB, Action::Place(limit(Side::Ask, 200, 1)))).len(), 1);
}

#[test]
fn an_account_rests_on_at_most_its_levels_per_side_and_others_still_rest() {
    let mut h = Harness::with_limits(|config| config.limits.levels_per_side_per_account_max = 3);
    for account in [ALICE, BOB, CAROL] {
        h.fund(account, USDC, usdc("1000"));
        h.fund(account, SOL, sol("10"));
    }
    for price in [100, 101, 102] {
        assert_eq!(seen(&h.run(ALICE, Action::Place(limit(Side::Bid, price, 1)))).len(), 1);
    }
    let fourth = Action::Place(limit(Side::Bid, 103, 1));
    assert_eq!(h.rejected(ALICE, fourth), RejectReason::OrderLimit);
    // A level she holds takes more orders; her other side and other accounts are their own.
    assert_eq!(seen(&h.run(ALICE, Action::Place(limit(Side::Bid, 101, 1)))).len(), 1);
    assert_eq!(seen(&h.run(ALICE, Action::Place(limit(Side::Ask, 200, 1)))).len(), 1);
    assert_eq!(seen(&h.run(BOB, Action::Place(limit(Side::Bid, 103, 1)))).len(), 1);
    // Level 103 exists now, but not as one of hers; an IOC never rests, so it may go anywhere.
    assert_eq!(h.rejected(ALICE, fourth), RejectReason::OrderLimit);
    let ioc = PlaceOrder { time_in_force: TimeInForce::Ioc, ..limit(Side::Bid, 104, 1) };
    assert_eq!(seen(&h.run(ALICE, Action::Place(ioc))).len(), 2);
    // Carol's sell fills Bob at 103 and Alice's only order at 102: Alice may take a new level.
    let sell = PlaceOrder { time_in_force: TimeInForce::Ioc, ..limit(Side::Ask, 102, 2) };
    h.run(CAROL, Action::Place(sell));
    assert_eq!(seen(&h.run(ALICE, fourth)).len(), 1);
    assert_eq!(h.rejected(ALICE, Action::Place(limit(Side::Bid, 99, 1))), RejectReason::OrderLimit);
    // A cancel frees a level too.
    h.run(ALICE, Action::CancelAll { market: SOL_USDC });
    for price in [90, 91, 92] {
        assert_eq!(seen(&h.run(ALICE, Action::Place(limit(Side::Bid, price, 1)))).len(), 1);
    }
}

#[test]
fn orders_worth_less_than_the_market_minimum_are_refused() {
    let mut h = Harness::with_limits(|config| config.markets[0].min_order_value_units = usdc("5"));
    for account in [ALICE, BOB] {
        h.fund(account, USDC, usdc("1000"));
        h.fund(account, SOL, sol("100"));
    }
    let below = RejectReason::OrderValueBelowMinimum;
    // 1.00 USDC × 4.99 SOL: 4.99 USDC, refused whether it would rest or not; 5.00 rests.
    assert_eq!(h.rejected(ALICE, Action::Place(limit(Side::Bid, 100, 499))), below);
    let ioc = PlaceOrder { time_in_force: TimeInForce::Ioc, ..limit(Side::Bid, 100, 499) };
    assert_eq!(h.rejected(ALICE, Action::Place(ioc)), below);
    assert_eq!(seen(&h.run(ALICE, Action::Place(limit(Side::Bid, 100, 500)))), [Seen::Accepted(7)]);
    // A market order by quote: its budget; by quantity: at the best opposite price (1.00).
    assert_eq!(h.rejected(BOB, Action::Place(market(Side::Bid, 0, usdc("4.999999")))), below);
    assert_eq!(h.rejected(BOB, Action::Place(market(Side::Ask, 499, 0))), below);
    let sold = seen(&h.run(BOB, Action::Place(market(Side::Ask, 500, 0))));
    assert_eq!(sold.len(), 3, "{sold:?}");
    // With nothing opposite it cannot trade, whatever its size: it expires, as before.
    let events = seen(&h.run(BOB, Action::Place(market(Side::Ask, 1, 0))));
    assert_eq!(events[1], Seen::Expired(11, ExpiryReason::InsufficientLiquidity));
    // Other markets keep their own minimum (none here).
    let btc = PlaceOrder { market: BTC_USDC, ..limit(Side::Bid, 1, 1) };
    assert_eq!(seen(&h.run(ALICE, Action::Place(btc))), [Seen::Accepted(12)]);
}

#[test]
fn queries_read_without_changing() {
    let mut h = Harness::funded();
    h.run(
        ALICE,
        Action::Place(PlaceOrder { client_id: Some(ClientId(5)), ..limit(Side::Bid, 100, 100) }),
    ); // 7
    h.run(ALICE, Action::Place(PlaceOrder { market: BTC_USDC, ..limit(Side::Bid, 100, 100) })); // 8
    let before = h.matcher.state_hash();
    let balances = h.run(ALICE, Action::QueryBalances);
    assert_eq!(balances.len(), 4);
    let open = h.run(ALICE, Action::QueryOpenOrders { market: None });
    let ids: Vec<u64> = open
        .iter()
        .map(|event| match event.kind {
            EventKind::OrderSnapshot(order) => order.order_id.0,
            _ => panic!(),
        })
        .collect();
    assert_eq!(ids, vec![7, 8]);
    assert_eq!(h.run(ALICE, Action::QueryOpenOrders { market: Some(BTC_USDC) }).len(), 1);
    let by_client = h
        .run(ALICE, Action::QueryOrder { market: SOL_USDC, target: OrderRef::Client(ClientId(5)) });
    assert!(
        matches!(by_client[0].kind, EventKind::OrderSnapshot(order) if order.order_id == OrderId(7))
    );
    let missing =
        h.run(ALICE, Action::QueryOrder { market: SOL_USDC, target: OrderRef::Id(OrderId(8)) });
    assert_eq!(seen(&missing), vec![Seen::Rejected(RejectReason::OrderNotFoundQuery)]);
    assert!(h.run(99, Action::QueryBalances).is_empty());
    let state = h.run(ALICE, Action::QueryState);
    match state[0].kind {
        EventKind::StateSummary { sequence, state_hash, accounts, open_orders } => {
            assert_eq!((sequence.0, accounts, open_orders), (8, 3, 2));
            assert_eq!(state_hash, before);
        }
        _ => panic!(),
    }
    assert_eq!(state.len(), 5);
    assert_eq!(h.matcher.state_hash(), before);
}

#[test]
fn identical_streams_give_identical_hashes_and_different_ones_differ() {
    let script = |h: &mut Harness, price: u64| {
        h.run(BOB, Action::Place(limit(Side::Ask, price, 100)));
        h.run(ALICE, Action::Place(limit(Side::Bid, 15000, 50)));
        h.run(ALICE, Action::Place(limit(Side::Bid, 14000, 50)));
    };
    let mut one = Harness::funded();
    let mut two = Harness::funded();
    let mut three = Harness::funded();
    script(&mut one, 15000);
    script(&mut two, 15000);
    script(&mut three, 15001);
    assert_eq!(one.matcher.state_hash(), two.matcher.state_hash());
    assert_ne!(one.matcher.state_hash(), three.matcher.state_hash());
}

/// The release profile keeps overflow checks on for ringex's own code (Cargo.toml says why):
/// the suite runs in release, so this holds for the builds that ship.
#[test]
fn a_wrapping_amount_panics_instead_of_wrapping() {
    let balance = std::hint::black_box(u64::MAX);
    let wrapped = std::panic::catch_unwind(|| balance + std::hint::black_box(1));
    assert!(wrapped.is_err(), "u64::MAX + 1 must panic, not wrap");
}
