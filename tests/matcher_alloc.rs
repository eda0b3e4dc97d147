//! Zero heap allocations per command in steady state, proven with a counting global allocator.
//!
//! A mixed stream (limit orders around a moving mid, IOC and FOK orders, market orders by quantity
//! and by quote, cancels by id and client id, cancel-all, deposits, withdrawals, queries) is
//! generated up front. The matcher runs a warm-up pass, then the counter is read around a measured
//! pass of well over 100,000 commands: every allocation on this thread in that window fails the
//! test.

use ringex::command::{Action, Command, OrderRef, PlaceOrder};
use ringex::config::Config;
use ringex::event::Event;
use ringex::matcher::Matcher;
use ringex::types::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every call to the system allocator; only counts on the side.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(pointer, layout) }
    }
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(pointer, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(|count| count.get())
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn key(account: u64) -> AccountKey {
    AccountKey([account as u8 + 1; 32])
}

/// A mixed stream of `count` commands after the funding commands.
fn mixed_stream(count: usize, first_sequence: u64) -> Vec<Command> {
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut commands = Vec::with_capacity(count + 64);
    let mut sequence = first_sequence;
    let mut mid = 15_000u64;
    let next = |action: Action, account: u64, sequence: &mut u64| {
        let stamped = if action.is_query() {
            0
        } else {
            *sequence += 1;
            *sequence
        };
        Command {
            sequence: SequenceNumber(stamped),
            time_us: 1_700_000_000_000_000 + *sequence,
            account: key(account),
            action,
        }
    };
    for account in 0..16 {
        commands.push(next(
            Action::Deposit { asset: AssetId(0), amount: 1 << 50 },
            account,
            &mut sequence,
        ));
        commands.push(next(
            Action::Deposit { asset: AssetId(1), amount: 1 << 50 },
            account,
            &mut sequence,
        ));
    }
    while commands.len() < count {
        let account = random.below(16);
        mid = (mid as i64 + random.below(21) as i64 - 10).clamp(10_000, 20_000) as u64;
        let side = if random.below(2) == 0 { Side::Bid } else { Side::Ask };
        let offset = random.below(50);
        let price = match side {
            Side::Bid => mid - offset,
            Side::Ask => mid + offset,
        };
        let limit = PlaceOrder {
            market: MarketId(0),
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Gtc,
            self_trade_prevention: SelfTradePrevention::RejectTaker,
            post_only: false,
            client_id: None,
            price: PriceTicks(price),
            quantity: QuantitySteps(1 + random.below(500)),
            quote_quantity: 0,
        };
        let action = match random.below(100) {
            0..40 => Action::Place(limit),
            40..45 => Action::Place(PlaceOrder {
                client_id: Some(ClientId(random.below(64) as u32)),
                ..limit
            }),
            45..50 => Action::Place(PlaceOrder {
                price: PriceTicks(match side {
                    Side::Bid => mid + 30,
                    Side::Ask => mid - 30,
                }),
                time_in_force: if random.below(2) == 0 {
                    TimeInForce::Ioc
                } else {
                    TimeInForce::Fok
                },
                ..limit
            }),
            50..53 => Action::Place(PlaceOrder {
                order_type: OrderType::Market,
                price: PriceTicks(0),
                ..limit
            }),
            53..55 => Action::Place(PlaceOrder {
                order_type: OrderType::Market,
                price: PriceTicks(0),
                quantity: QuantitySteps(0),
                quote_quantity: 1 + random.below(10_000_000_000),
                ..limit
            }),
            55..56 => Action::Place(PlaceOrder { post_only: true, ..limit }),
            56..57 => Action::Place(PlaceOrder {
                self_trade_prevention: SelfTradePrevention::RejectMaker,
                ..limit
            }),
            57..85 => Action::Cancel {
                market: MarketId(0),
                target: OrderRef::Id(OrderId(sequence.saturating_sub(random.below(400)))),
            },
            85..88 => Action::Cancel {
                market: MarketId(0),
                target: OrderRef::Client(ClientId(random.below(64) as u32)),
            },
            88..89 => Action::CancelAll { market: MarketId(0) },
            89..92 => Action::Deposit {
                asset: AssetId(random.below(2) as u16),
                amount: 1 + random.below(1_000_000),
            },
            92..94 => Action::Withdraw {
                asset: AssetId(random.below(2) as u16),
                amount: 1 + random.below(1_000_000),
            },
            94..96 => Action::QueryBalances,
            96..98 => Action::QueryOpenOrders { market: Some(MarketId(0)) },
            _ => Action::QueryOrder {
                market: MarketId(0),
                target: OrderRef::Id(OrderId(sequence.saturating_sub(random.below(50)))),
            },
        };
        commands.push(next(action, account, &mut sequence));
    }
    commands
}

#[test]
fn no_allocation_per_command_in_steady_state() {
    let config = Arc::new(Config::embedded_default());
    let mut matcher = Matcher::new(config);
    let warm_up = mixed_stream(50_000, 0);
    let last_warm_sequence = warm_up.iter().map(|command| command.sequence.0).max().unwrap();
    let measured = mixed_stream(150_000, last_warm_sequence);
    let mut events: Vec<Event> = Vec::with_capacity(1 << 16);
    for command in &warm_up {
        events.clear();
        matcher.apply(command, &mut events);
    }
    let mut event_count = 0usize;
    let before = allocations();
    for command in &measured {
        events.clear();
        matcher.apply(command, &mut events);
        event_count += events.len();
    }
    let during = allocations() - before;
    matcher.check_invariants().unwrap();
    assert!(
        matcher.open_orders() > 50,
        "the book is not trivially empty: {}",
        matcher.open_orders()
    );
    assert!(event_count > measured.len(), "the stream did something: {event_count} events");
    assert_eq!(during, 0, "{during} heap allocations over {} commands", measured.len());
}
