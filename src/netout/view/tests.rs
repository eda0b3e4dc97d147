//! The view against a real matcher: books, update ids, depth updates, trades, candles, tickers
//! and the bounded per-account histories.

use super::history::Linked;
use super::*;
use crate::command::{Action, OrderRef, PlaceOrder};
use crate::netout::calendar::days_from_civil;
use crate::netout::test_support::*;
use crate::types::{AssetId, ClientId, OrderId, SelfTradePrevention};

fn ids(h: &Harness, account: u8, filter: HistoryFilter) -> Vec<u64> {
    let mut ids = Vec::new();
    h.view.for_each_order(&key(account), &filter, |order| ids.push(order.state.order_id.0));
    ids
}

fn all(limit: u32) -> HistoryFilter {
    HistoryFilter { limit, ..HistoryFilter::default() }
}

fn order_record(h: &Harness, account: u8, order_id: u64) -> Option<OrderRecord> {
    let filter = HistoryFilter { order_id: Some(OrderId(order_id)), ..all(1) };
    let mut found = None;
    h.view.for_each_order(&key(account), &filter, |order| found = Some(*order));
    found
}

#[test]
fn book_and_update_ids_follow_every_command() {
    let mut h = Harness::funded();
    let post_only = PlaceOrder { post_only: true, ..limit(Side::Ask, 15200, 100) };
    let ioc = PlaceOrder { time_in_force: TimeInForce::Ioc, ..limit(Side::Bid, 14000, 100) };
    let fok = PlaceOrder { time_in_force: TimeInForce::Fok, ..limit(Side::Bid, 16000, 10_000) };
    let crossing_post_only = PlaceOrder { post_only: true, ..limit(Side::Ask, 14900, 100) };
    // (who, what, SOL_USDC update id after)
    let steps: Vec<(u8, Action, u64)> = vec![
        (ALICE, Action::Place(limit(Side::Bid, 15000, 100)), 1), // order 7
        (ALICE, Action::Place(limit(Side::Bid, 14900, 200)), 2), // 8
        (BOB, Action::Place(limit(Side::Ask, 15100, 150)), 3),   // 9
        (BOB, Action::Place(post_only), 4),                      // 10
        (CAROL, Action::Place(limit(Side::Bid, 15200, 200)), 5), // 11: sweeps 9, half of 10
        (CAROL, Action::Place(market(Side::Ask, 50, 0)), 6),     // 12: half of 7
        (ALICE, Action::Cancel { market: SOL_USDC, target: OrderRef::Id(OrderId(8)) }, 7),
        (ALICE, Action::Cancel { market: SOL_USDC, target: OrderRef::Id(OrderId(8)) }, 7),
        (BOB, Action::CancelAll { market: BTC_USDC }, 7),
        (BOB, Action::CancelAll { market: SOL_USDC }, 8), // the rest of 10
        (BOB, Action::Place(crossing_post_only), 9),      // expires, still an update
        (ALICE, Action::Place(ioc), 10),
        (ALICE, Action::Deposit { asset: USDC, amount: 1 }, 10),
        (ALICE, Action::Place(fok), 11),
        (ALICE, Action::Place(limit(Side::Bid, 15000, u64::MAX / 4)), 11), // rejected
        (CAROL, Action::QueryOpenOrders { market: None }, 11),
    ];
    assert_eq!(h.view.update_id(SOL_USDC), 0);
    for (step, (account, action, update_id)) in steps.into_iter().enumerate() {
        h.run(account, action);
        h.check_book();
        assert_eq!(h.view.update_id(SOL_USDC), update_id, "step {step}: {action:?}");
        assert_eq!(h.view.update_id(BTC_USDC), 0);
    }
    let (bid, ask) = h.view.best_bid_ask(SOL_USDC);
    assert_eq!(bid, Some(DepthLevel { price: PriceTicks(15000), quantity: QuantitySteps(50) }));
    assert_eq!(ask, None);
}

#[test]
fn depth_update_lists_changed_levels_with_absolute_quantities() {
    let mut h = Harness::funded();
    for (price, quantity) in [(15100, 100), (15100, 50), (15200, 200), (15300, 100)] {
        h.run(BOB, Action::Place(limit(Side::Ask, price, quantity)));
    }
    h.run(ALICE, Action::Place(limit(Side::Bid, 14000, 100)));
    // Sweeps 151 (two orders) and half of 152.
    h.run(ALICE, Action::Place(limit(Side::Bid, 15250, 250)));
    let level = |price, quantity| DepthLevel {
        price: PriceTicks(price),
        quantity: QuantitySteps(quantity),
    };
    let update = h.view.last_depth_update(SOL_USDC).unwrap();
    assert_eq!((update.first_update_id, update.last_update_id), (6, 6));
    assert_eq!(update.time_us, h.time_us - 1_000);
    assert_eq!(update.asks, &[level(15100, 0), level(15200, 100)]);
    assert!(update.bids.is_empty());
    assert!(h.view.last_depth_update(BTC_USDC).is_none());
    // A remainder that rests after trading.
    h.run(CAROL, Action::Place(limit(Side::Bid, 15250, 150)));
    let update = h.view.last_depth_update(SOL_USDC).unwrap();
    assert_eq!(update.asks, &[level(15200, 0)]);
    assert_eq!(update.bids, &[level(15250, 50)]);
    // A cancel-all over several levels: each once, ascending.
    h.run(ALICE, Action::Place(limit(Side::Bid, 14500, 100)));
    h.run(ALICE, Action::Place(limit(Side::Bid, 14000, 100)));
    h.run(ALICE, Action::CancelAll { market: SOL_USDC });
    let update = h.view.last_depth_update(SOL_USDC).unwrap();
    assert_eq!(update.last_update_id, 10);
    assert_eq!(update.bids, &[level(14000, 0), level(14500, 0)]);
    assert!(update.asks.is_empty());
    // Not an order operation: no update.
    h.run(ALICE, Action::Deposit { asset: USDC, amount: 1 });
    assert!(h.view.last_depth_update(SOL_USDC).is_none());
    // A post-only expiry is an update with no level changed.
    let crossing = PlaceOrder { post_only: true, ..limit(Side::Bid, 15300, 1) };
    h.run(ALICE, Action::Place(crossing));
    let update = h.view.last_depth_update(SOL_USDC).unwrap();
    assert_eq!((update.last_update_id, update.bids.len(), update.asks.len()), (11, 0, 0));
}

struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

fn random_action(random: &mut XorShift, last_sequence: u64) -> Action {
    let market = MarketId(random.below(2) as u16);
    let side = if random.below(2) == 0 { Side::Bid } else { Side::Ask };
    let price = 1_000 + random.below(40);
    let base = PlaceOrder { market, ..limit(side, price, 1 + random.below(300)) };
    let stp = SelfTradePrevention::ALL[random.below(4) as usize];
    match random.below(100) {
        0..45 => Action::Place(PlaceOrder { self_trade_prevention: stp, ..base }),
        45..50 => {
            Action::Place(PlaceOrder { client_id: Some(ClientId(random.below(16) as u32)), ..base })
        }
        50..60 => Action::Place(PlaceOrder {
            time_in_force: [TimeInForce::Ioc, TimeInForce::Fok][random.below(2) as usize],
            ..base
        }),
        60..65 => Action::Place(PlaceOrder { post_only: true, ..base }),
        65..70 => Action::Place(PlaceOrder { market, ..market_order(side, random) }),
        70..95 => Action::Cancel {
            market,
            target: OrderRef::Id(OrderId(last_sequence.saturating_sub(random.below(60)))),
        },
        _ => Action::CancelAll { market },
    }
}

fn market_order(side: Side, random: &mut XorShift) -> PlaceOrder {
    if random.below(2) == 0 {
        market(side, 1 + random.below(300), 0)
    } else {
        market(side, 0, 1 + random.below(5_000_000))
    }
}

fn book_snapshot(h: &Harness, market: MarketId, side: Side) -> Vec<DepthLevel> {
    h.view.best_levels(market, side, usize::MAX).to_vec()
}

/// Every level whose quantity changed is in the depth update, with its new quantity.
fn check_depth_update(h: &Harness, market: MarketId, before: [Vec<DepthLevel>; 2]) {
    let update = h.view.last_depth_update(market).unwrap();
    for (side, before, changed) in
        [(Side::Bid, &before[0], update.bids), (Side::Ask, &before[1], update.asks)]
    {
        let after = book_snapshot(h, market, side);
        let quantity = |levels: &[DepthLevel], price| {
            levels.iter().find(|level| level.price == price).map_or(0, |level| level.quantity.0)
        };
        for level in changed {
            assert_eq!(level.quantity.0, quantity(&after, level.price));
        }
        for level in before.iter().chain(after.iter()) {
            if quantity(before, level.price) != quantity(&after, level.price) {
                assert!(changed.iter().any(|changed| changed.price == level.price));
            }
        }
        assert!(changed.windows(2).all(|pair| pair[0].price < pair[1].price));
    }
}

#[test]
fn random_stream_keeps_book_update_ids_and_open_orders_in_step() {
    let mut h = Harness::funded();
    h.run(ALICE, Action::Deposit { asset: AssetId(2), amount: 1 << 40 });
    h.run(BOB, Action::Deposit { asset: AssetId(2), amount: 1 << 40 });
    let mut random = XorShift(0x2545_F491_4F6C_DD1D);
    let mut update_ids = [0u64; 2];
    for _ in 0..3_000 {
        let account = [ALICE, BOB, CAROL][random.below(3) as usize];
        let action = random_action(&mut random, h.sequence);
        let before = [0, 1].map(|market| {
            [Side::Bid, Side::Ask].map(|side| book_snapshot(&h, MarketId(market), side))
        });
        let events = h.run(account, action);
        h.check_book();
        let market = events.iter().find_map(|event| match event.kind {
            EventKind::OrderAccepted(order) | EventKind::OrderCancelled(order) => {
                Some(order.market)
            }
            _ => None,
        });
        if let Some(market) = market {
            update_ids[market.0 as usize] += 1;
            check_depth_update(&h, market, before[market.0 as usize].clone());
        }
        assert_eq!(update_ids, [h.view.update_id(MarketId(0)), h.view.update_id(MarketId(1))]);
    }
    // Every open order's history record holds its current state.
    for market in [MarketId(0), MarketId(1)] {
        for side in [Side::Bid, Side::Ask] {
            for state in h.matcher.resting_orders(market, side) {
                let account = [ALICE, BOB, CAROL][state.account.0 as usize - 1];
                let record = order_record(&h, account, state.order_id.0).unwrap();
                assert_eq!(record.state, state);
            }
        }
    }
    assert!(update_ids.iter().all(|&id| id > 300), "{update_ids:?}");
}

#[test]
fn trades_ring_keeps_the_newest() {
    let mut h = Harness::with_limits(ViewLimits { trades_per_market_max: 5, ..small_limits() });
    h.fund_all();
    for index in 0..8 {
        h.trade_at(1_700_000_000 + index, 15000 + index, 100 + index);
    }
    let trade_ids = |limit, offset| -> Vec<u64> {
        h.view.trades(SOL_USDC, limit, offset).map(|trade| trade.id).collect()
    };
    assert_eq!(trade_ids(100, 0), vec![4, 5, 6, 7, 8]);
    assert_eq!(trade_ids(2, 0), vec![7, 8]);
    assert_eq!(trade_ids(2, 1), vec![6, 7]);
    assert_eq!(trade_ids(10, 3), vec![4, 5]);
    assert_eq!(trade_ids(10, 5), Vec::<u64>::new());
    assert_eq!(trade_ids(10, 50), Vec::<u64>::new());
    let last = h.view.trades(SOL_USDC, 1, 0).next().copied().unwrap();
    let expected = Trade {
        id: 8,
        price: PriceTicks(15007),
        quantity: QuantitySteps(107),
        quote: 15007 * 107 * 100,
        time_us: 1_700_000_007_000_000,
        is_buyer_maker: false,
    };
    assert_eq!(last, expected);
    assert_eq!(h.view.last_price(SOL_USDC), Some(PriceTicks(15007)));
    assert_eq!(h.view.trades(BTC_USDC, 10, 0).count(), 0);
}

fn klines(h: &Harness, interval: &[u8], start_s: u64, end_s: u64) -> Vec<(u64, u64, Ohlcv)> {
    let interval = KlineInterval::parse(interval).unwrap();
    let mut klines = Vec::new();
    h.view.for_each_kline(SOL_USDC, interval, start_s, end_s, 1_000, |kline| {
        klines.push((kline.start_s, kline.end_s, kline.stats));
    });
    klines
}

fn ohlcv(prices: [u64; 4], volume: u64, trades: u64, quote: u64) -> Ohlcv {
    let [open, high, low, close] = prices.map(PriceTicks);
    Ohlcv { open, high, low, close, volume: QuantitySteps(volume), quote, trades }
}

#[test]
fn klines_aggregate_aligned_buckets() {
    let mut h = Harness::funded();
    // 2025-07-19 (a Saturday) 13:09:10.
    let day = days_from_civil(2025, 7, 19) * 86_400;
    let t = day + 13 * 3_600 + 9 * 60 + 10;
    h.trade_at(t, 15000, 100);
    h.trade_at(t + 20, 15050, 150);
    h.trade_at(t + 55, 14900, 100); // 13:10:05
    h.trade_at(day + 14 * 3_600, 15000, 10); // 14:00:00
    h.trade_at(day + 2 * 86_400 + 60, 15500, 10); // Monday 2025-07-21 00:01:00
    let quote = |pairs: &[(u64, u64)]| pairs.iter().map(|(p, q)| p * q * 100).sum::<u64>();
    let first_minute =
        ohlcv([15000, 15050, 15000, 15050], 250, 2, quote(&[(15000, 100), (15050, 150)]));
    let end = u64::MAX;

    let minutes = klines(&h, b"1m", t, end);
    assert_eq!(minutes.len(), 4);
    assert_eq!(minutes[0], (t - 10, t + 50, first_minute));
    assert_eq!(minutes[1].0, t + 50);
    assert_eq!(minutes[1].2, ohlcv([14900; 4], 100, 1, quote(&[(14900, 100)])));

    let hours = klines(&h, b"1h", day, end);
    let hour_13 =
        ohlcv([15000, 15050, 14900, 14900], 350, 3, first_minute.quote + 14900 * 100 * 100);
    assert_eq!(hours[0], (day + 13 * 3_600, day + 14 * 3_600, hour_13));
    assert_eq!(hours.len(), 3);

    let days = klines(&h, b"1d", 0, end);
    assert_eq!(days.iter().map(|kline| kline.0).collect::<Vec<_>>(), vec![day, day + 2 * 86_400]);
    assert_eq!(days[0].2.trades, 4);
    assert_eq!((days[0].2.open, days[0].2.close), (PriceTicks(15000), PriceTicks(15000)));

    // Weeks start on Monday: 2025-07-14 and 2025-07-21.
    let weeks = klines(&h, b"1w", 0, end);
    let monday = days_from_civil(2025, 7, 14) * 86_400;
    assert_eq!(
        weeks.iter().map(|kline| kline.0).collect::<Vec<_>>(),
        vec![monday, monday + 604_800]
    );
    // Months start on the 1st.
    let months = klines(&h, b"1month", 0, end);
    let july = days_from_civil(2025, 7, 1) * 86_400;
    assert_eq!(months, vec![(july, days_from_civil(2025, 8, 1) * 86_400, months[0].2)]);
    assert_eq!(months[0].2.trades, 5);
    assert_eq!(months[0].2.high, PriceTicks(15500));
    // Starts from a client at the far end of time find nothing (a u32 year wrapped near
    // 1.4e17 s and found this month; past u64::MAX - a bucket, the bounds overflowed).
    for interval in [&b"1month"[..], b"1w", b"1d", b"1s"] {
        for start_s in [140_000_000_000_000_000, u64::MAX - 86_400, u64::MAX - 1] {
            assert!(klines(&h, interval, start_s, u64::MAX).is_empty(), "{start_s}");
        }
    }

    // 1 s buckets only for the last hour before the newest trade.
    assert_eq!(klines(&h, b"1s", 0, end).len(), 1);
    // 5 m buckets align to the epoch: 13:05 holds both 13:09 trades, 13:10 the next.
    let five = klines(&h, b"5m", t, t + 300);
    let five: Vec<(u64, u64)> = five.iter().map(|kline| (kline.0, kline.2.trades)).collect();
    assert_eq!(five, vec![(day + 13 * 3_600 + 5 * 60, 2), (day + 13 * 3_600 + 10 * 60, 1)]);
    // endTime is exclusive: a bucket starting at it is not included.
    assert_eq!(klines(&h, b"1m", t, t + 50).len(), 1);
    assert_eq!(klines(&h, b"1m", t + 51, t + 52).len(), 1);
    assert!(klines(&h, b"1m", t + 200, t + 3_000).is_empty());
    // At most `limit`, the first ones.
    let mut first = Vec::new();
    h.view.for_each_kline(SOL_USDC, KlineInterval::Seconds(60), 0, end, 2, |kline| {
        first.push(kline.start_s)
    });
    assert_eq!(first, vec![t - 10, t + 50]);
}

#[test]
fn one_second_klines_cover_the_last_hour() {
    let mut h = Harness::funded();
    let t = 1_752_930_540;
    h.trade_at(t, 15000, 100);
    h.trade_at(t, 15100, 100);
    h.trade_at(t + 1, 15200, 100);
    h.trade_at(t + 3_599, 15300, 100);
    let seconds = klines(&h, b"1s", 0, u64::MAX);
    let starts: Vec<u64> = seconds.iter().map(|kline| kline.0).collect();
    assert_eq!(starts, vec![t, t + 1, t + 3_599]);
    assert_eq!(seconds[0].2.trades, 2);
    assert_eq!(seconds[0].1, t + 1);
    // One more second: the first bucket falls out of the hour.
    h.trade_at(t + 3_600, 15300, 100);
    assert_eq!(klines(&h, b"1s", 0, u64::MAX)[0].0, t + 1);
}

#[test]
fn tickers_roll_over_a_day_and_a_week() {
    let mut h = Harness::funded();
    let now_s = 1_752_930_540 + 30; // mid-minute
    assert_eq!(
        h.view.ticker(SOL_USDC, TickerWindow::Day, now_s * 1_000_000),
        Ticker { window: None, last_price: None }
    );
    h.trade_at(now_s - 3 * 86_400, 14000, 100); // in the week only
    h.trade_at(now_s - 86_400 + 60, 15000, 100); // 23h59m ago: in the day
    h.trade_at(now_s - 3_600, 15100, 200);
    h.trade_at(now_s, 14900, 100);
    let day = h.view.ticker(SOL_USDC, TickerWindow::Day, now_s * 1_000_000);
    let quote = (15000 * 100 + 15100 * 200 + 14900 * 100) * 100;
    assert_eq!(day.window, Some(ohlcv([15000, 15100, 14900, 14900], 400, 3, quote)));
    let week = h.view.ticker(SOL_USDC, TickerWindow::Week, now_s * 1_000_000);
    assert_eq!(week.window.unwrap().open, PriceTicks(14000));
    assert_eq!(week.window.unwrap().trades, 4);
    // A day later nothing is in the window; the last price stays.
    let later = h.view.ticker(SOL_USDC, TickerWindow::Day, (now_s + 86_400) * 1_000_000);
    assert_eq!(later, Ticker { window: None, last_price: Some(PriceTicks(14900)) });
}

#[test]
fn fill_history_has_both_sides_and_filters() {
    let mut h = Harness::funded();
    h.run(
        BOB,
        Action::Place(PlaceOrder { client_id: Some(ClientId(42)), ..limit(Side::Ask, 15000, 100) }),
    ); // 7
    h.run(BOB, Action::Place(limit(Side::Ask, 15100, 100))); // 8
    h.run(ALICE, Action::Place(limit(Side::Bid, 15100, 150))); // 9: fills 7 then half of 8
    h.time_us += 10_000_000;
    h.run(CAROL, Action::Place(limit(Side::Bid, 15100, 50))); // 10: rest of 8
    let fills = |account: u8, filter: HistoryFilter| {
        let mut fills = Vec::new();
        h.view.for_each_fill(&key(account), &filter, |fill| fills.push(*fill));
        fills
    };
    let bob = fills(BOB, all(100));
    let summary: Vec<(u64, u64, bool, u64)> =
        bob.iter().map(|f| (f.trade_id, f.order_id.0, f.is_maker, f.quantity.0)).collect();
    assert_eq!(summary, vec![(3, 8, true, 50), (2, 8, true, 50), (1, 7, true, 100)]);
    assert_eq!(bob[2].client_id, Some(ClientId(42)));
    assert_eq!((bob[2].fee_asset, bob[2].fee), (USDC, 15000 * 100 * 100 / 1_000));
    let alice = fills(ALICE, all(100));
    assert_eq!(alice.len(), 2);
    assert!(
        alice.iter().all(|fill| !fill.is_maker && fill.side == Side::Bid && fill.fee_asset == SOL)
    );
    // Filters: ascending, order id, offset, limit, time range, market.
    let ascending = HistoryFilter { ascending: true, ..all(100) };
    let trade_ids = |fills: Vec<FillRecord>| fills.iter().map(|f| f.trade_id).collect::<Vec<_>>();
    assert_eq!(trade_ids(fills(BOB, ascending)), vec![1, 2, 3]);
    assert_eq!(
        trade_ids(fills(BOB, HistoryFilter { order_id: Some(OrderId(8)), ..all(100) })),
        vec![3, 2]
    );
    assert_eq!(trade_ids(fills(BOB, HistoryFilter { offset: 1, ..all(1) })), vec![2]);
    assert_eq!(trade_ids(fills(BOB, HistoryFilter { offset: 1, ..ascending })), vec![2, 3]);
    let late_ms = (h.time_us - 1_000) / 1_000;
    assert_eq!(
        trade_ids(fills(BOB, HistoryFilter { from_ms: Some(late_ms), ..all(100) })),
        vec![3]
    );
    assert_eq!(
        trade_ids(fills(BOB, HistoryFilter { to_ms: Some(late_ms - 1), ..ascending })),
        vec![1, 2]
    );
    assert_eq!(
        trade_ids(fills(BOB, HistoryFilter { to_ms: Some(late_ms - 1), ..all(100) })),
        vec![2, 1]
    );
    assert!(fills(BOB, HistoryFilter { market: Some(BTC_USDC), ..all(100) }).is_empty());
    assert!(fills(99, all(100)).is_empty());
}

#[test]
fn order_history_keeps_every_order_at_its_latest_state() {
    let mut h = Harness::funded();
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 100))); // 7 rests
    h.run(ALICE, Action::Place(market(Side::Bid, 30, 0))); // 8 market, fills 30 of 7
    let ioc = PlaceOrder { time_in_force: TimeInForce::Ioc, ..limit(Side::Bid, 14000, 10) };
    h.run(ALICE, Action::Place(ioc)); // 9 expires
    h.run(ALICE, Action::Place(limit(Side::Bid, 15000, u64::MAX / 4))); // 10 rejected
    h.run(CAROL, Action::Place(limit(Side::Bid, 15000, 70))); // 11 fills the rest of 7
    h.run(BOB, Action::Place(limit(Side::Ask, 16000, 10))); // 12 rests
    h.run(BOB, Action::Cancel { market: SOL_USDC, target: OrderRef::Id(OrderId(12)) });

    let bob_7 = order_record(&h, BOB, 7).unwrap();
    assert_eq!((bob_7.state.status, bob_7.state.executed_quantity.0), (OrderStatus::Filled, 100));
    assert_eq!(bob_7.state.executed_quote, 15000 * 100 * 100);
    assert_eq!(order_record(&h, BOB, 12).unwrap().state.status, OrderStatus::Cancelled);
    let alice_8 = order_record(&h, ALICE, 8).unwrap();
    assert_eq!(
        (alice_8.state.status, alice_8.state.order_type),
        (OrderStatus::Filled, OrderType::Market)
    );
    let alice_9 = order_record(&h, ALICE, 9).unwrap();
    assert_eq!(alice_9.state.status, OrderStatus::Expired);
    assert_eq!(alice_9.expiry, Some(ExpiryReason::ImmediateOrCancel));
    assert_eq!(ids(&h, ALICE, all(100)), vec![9, 8]);
    assert_eq!(ids(&h, ALICE, HistoryFilter { ascending: true, ..all(100) }), vec![8, 9]);
    assert_eq!(ids(&h, BOB, all(100)), vec![12, 7]);
    assert_eq!(ids(&h, CAROL, all(100)), vec![11]);
    assert_eq!(
        ids(&h, BOB, HistoryFilter { market: Some(BTC_USDC), ..all(100) }),
        Vec::<u64>::new()
    );
}

#[test]
fn market_orders_finishing_on_an_open_status_are_filled() {
    let state = |order_type, status| OrderRecord {
        state: OrderState { order_type, status, ..order_record_state() },
        expiry: None,
    };
    let cases = [
        (OrderType::Market, OrderStatus::PartiallyFilled, OrderStatus::Filled),
        (OrderType::Market, OrderStatus::New, OrderStatus::Filled),
        (OrderType::Market, OrderStatus::Expired, OrderStatus::Expired),
        (OrderType::Limit, OrderStatus::PartiallyFilled, OrderStatus::PartiallyFilled),
    ];
    for (order_type, status, expected) in cases {
        assert_eq!(settled(state(order_type, status)).state.status, expected);
    }
}

fn order_record_state() -> OrderState {
    OrderState {
        order_id: OrderId(1),
        account: AccountIndex(1),
        market: SOL_USDC,
        side: Side::Bid,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        self_trade_prevention: SelfTradePrevention::RejectTaker,
        post_only: false,
        status: OrderStatus::New,
        client_id: None,
        price: PriceTicks(1),
        quantity: QuantitySteps(1),
        quote_quantity: 0,
        executed_quantity: QuantitySteps(0),
        executed_quote: 0,
        created_at_us: T0_US,
    }
}

#[test]
fn full_history_pools_evict_from_the_largest_holder() {
    let limits = ViewLimits { orders_max: 5, fills_max: 4, deposits_max: 3, ..small_limits() };
    let mut h = Harness::with_limits(limits);
    // 6 deposits, 2 each: a new one replaces the oldest of whoever holds the most (the pusher
    // when nobody holds more), so each keeps its newest: Alice SOL, Bob SOL, Carol SOL.
    h.fund_all();
    let deposits = |h: &Harness, account| {
        let mut ids = Vec::new();
        h.view.for_each_deposit(&key(account), &all(100), |deposit| ids.push(deposit.id));
        ids
    };
    let all_deposits = [ALICE, BOB, CAROL].map(|account| deposits(&h, account));
    assert_eq!(all_deposits, [vec![2], vec![4], vec![6]]);
    // Orders 7..=14 alternating Alice (odd) and Bob (even), all resting bids.
    for order in 7..=14u64 {
        let account = if order % 2 == 1 { ALICE } else { BOB };
        h.run(account, Action::Place(limit(Side::Bid, 14000 + order, 10)));
    }
    assert_eq!(ids(&h, ALICE, all(100)), vec![13, 11]);
    assert_eq!(ids(&h, BOB, all(100)), vec![14, 12, 10]);
    assert_eq!(ids(&h, BOB, HistoryFilter { ascending: true, ..all(100) }), vec![10, 12, 14]);
    // Order 7's record is gone but it still rests: filling it must not touch another record.
    h.run(CAROL, Action::Place(limit(Side::Ask, 14000, 80))); // 15: fills 14 down to 7
    h.check_book();
    assert_eq!(ids(&h, CAROL, all(100)), vec![15]);
    assert_eq!(order_record(&h, CAROL, 15).unwrap().state.status, OrderStatus::Filled);
    assert_eq!(ids(&h, ALICE, all(100)), vec![13, 11]);
    assert_eq!(order_record(&h, ALICE, 13).unwrap().state.status, OrderStatus::Filled);
    assert_eq!(order_record(&h, BOB, 14).unwrap().state.status, OrderStatus::Filled);
    // 16 fills: only the last 4 stay, newest first per account.
    let mut fills = Vec::new();
    h.view.for_each_fill(&key(CAROL), &all(100), |fill| fills.push(fill.trade_id));
    assert_eq!(fills, vec![8, 7]);
    // Nobody holds more than Alice: her new deposit replaces her own oldest.
    h.run(ALICE, Action::Deposit { asset: USDC, amount: 1 });
    assert_eq!(deposits(&h, ALICE), vec![7]);
}

#[test]
fn transfers_keep_withdrawal_extras() {
    let mut h = Harness::funded();
    let mut extras = Extras::default();
    extras.address[..5].copy_from_slice(b"addr1");
    extras.address_len = 5;
    extras.client_id[..2].copy_from_slice(b"w1");
    extras.client_id_len = 2;
    extras.has_client_id = true;
    h.run_with(ALICE, Action::Withdraw { asset: SOL, amount: sol(1) }, &extras);
    h.run(ALICE, Action::AdminWithdraw { asset: USDC, amount: usdc(5) });
    let mut withdrawals = Vec::new();
    h.view.for_each_withdrawal(&key(ALICE), &all(100), |record| withdrawals.push(*record));
    assert_eq!(withdrawals.len(), 2);
    assert_eq!((withdrawals[0].id, withdrawals[0].internal, withdrawals[0].asset), (2, true, USDC));
    assert!(withdrawals[0].extras.is_empty());
    assert_eq!((withdrawals[1].id, withdrawals[1].internal), (1, false));
    assert_eq!(withdrawals[1].extras, extras);
    assert_eq!(withdrawals[1].amount, sol(1));
    assert_eq!(h.view.account_index(&key(BOB)), Some(AccountIndex(2)));
    assert_eq!(h.view.account_key(AccountIndex(3)), Some(&key(CAROL)));
    assert_eq!(h.view.account_key(AccountIndex::FEE), None);
    assert_eq!(h.view.account_index(&key(9)), None);
}

#[test]
fn record_sizes_stay_within_the_documented_budget() {
    assert!(std::mem::size_of::<Linked<FillRecord>>() <= 96);
    assert!(std::mem::size_of::<Linked<OrderRecord>>() <= 120);
    assert!(std::mem::size_of::<Linked<DepositRecord>>() <= 56);
    assert!(std::mem::size_of::<Linked<WithdrawalRecord>>() <= 264);
    assert!(std::mem::size_of::<Trade>() <= 48);
}
