//! A real matcher feeding a view, for the view and render tests.

use super::view::{View, ViewLimits};
use crate::command::{Action, Command, PlaceOrder};
use crate::config::Config;
use crate::event::Event;
use crate::matcher::Matcher;
pub use crate::matcher::test_orders::*;
use crate::records::{Extras, Outcome};
use crate::types::{MarketId, PriceTicks, QuantitySteps, SequenceNumber, Side, TimeInForce};
use std::sync::Arc;

/// 2023-11-14T22:13:20 UTC.
pub const T0_US: u64 = 1_700_000_000_000_000;

/// Small rings so tests stay light; tests of wrap-around shrink them further.
pub fn small_limits() -> ViewLimits {
    ViewLimits {
        fills_max: 10_000,
        orders_max: 10_000,
        deposits_max: 1_000,
        withdrawals_max: 1_000,
        trades_per_market_max: 1_000,
    }
}

pub fn usdc(whole: u64) -> u64 {
    whole * 1_000_000
}

pub fn sol(whole: u64) -> u64 {
    whole * 1_000_000_000
}

pub struct Harness {
    pub matcher: Matcher,
    pub view: View,
    pub config: Arc<Config>,
    pub sequence: u64,
    /// Engine time of the next command; advanced by 1 ms per command.
    pub time_us: u64,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_limits(small_limits())
    }

    pub fn with_limits(limits: ViewLimits) -> Harness {
        // Without minimum order values: these tests trade orders worth cents.
        let config = Arc::new(Config::embedded_default().without_min_order_values());
        Harness {
            matcher: Matcher::new(config.clone()),
            view: View::new(config.clone(), limits),
            config,
            sequence: 0,
            time_us: T0_US,
        }
    }

    /// Alice, Bob and Carol with 100,000 USDC and 1,000 SOL each.
    pub fn funded() -> Harness {
        let mut harness = Harness::new();
        harness.fund_all();
        harness
    }

    pub fn fund_all(&mut self) {
        for account in [ALICE, BOB, CAROL] {
            self.run(account, Action::Deposit { asset: USDC, amount: usdc(100_000) });
            self.run(account, Action::Deposit { asset: SOL, amount: sol(1_000) });
        }
    }

    pub fn run(&mut self, account: u8, action: Action) -> Vec<Event> {
        self.run_with(account, action, &Extras::default())
    }

    /// Runs one command through the matcher and feeds its events and `Done` to the view.
    pub fn run_with(&mut self, account: u8, action: Action, extras: &Extras) -> Vec<Event> {
        let sequence = if action.is_query() {
            0
        } else {
            self.sequence += 1;
            self.sequence
        };
        let command = Command {
            sequence: SequenceNumber(sequence),
            time_us: self.time_us,
            account: key(account),
            action,
        };
        self.time_us += 1_000;
        let mut events = Vec::new();
        self.matcher.apply(&command, &mut events);
        for event in &events {
            self.view.apply(event);
        }
        let outcome = Outcome::Command { sequence: command.sequence, account: command.account };
        self.view.finish(&outcome, extras);
        events
    }

    /// One trade of `quantity_steps` at `price_ticks` at `time_s`: Bob rests, Alice takes.
    pub fn trade_at(&mut self, time_s: u64, price_ticks: u64, quantity_steps: u64) {
        self.trade_at_us(time_s * 1_000_000, price_ticks, quantity_steps);
    }

    /// [`Harness::trade_at`] at a time in µs.
    pub fn trade_at_us(&mut self, time_us: u64, price_ticks: u64, quantity_steps: u64) {
        self.time_us = time_us;
        self.run(BOB, Action::Place(limit(Side::Ask, price_ticks, quantity_steps)));
        self.time_us = time_us;
        let taker = PlaceOrder {
            time_in_force: TimeInForce::Ioc,
            ..limit(Side::Bid, price_ticks, quantity_steps)
        };
        self.run(ALICE, Action::Place(taker));
    }

    /// The view's book equals the matcher's, both sides of every market.
    pub fn check_book(&self) {
        for index in 0..self.config.markets.len() {
            let market = MarketId(index as u16);
            for side in [Side::Bid, Side::Ask] {
                let matcher: Vec<(PriceTicks, QuantitySteps)> = self
                    .matcher
                    .depth(market, side)
                    .into_iter()
                    .map(|(price, quantity, _)| (price, quantity))
                    .collect();
                let view: Vec<(PriceTicks, QuantitySteps)> = self
                    .view
                    .best_levels(market, side, usize::MAX)
                    .iter()
                    .rev()
                    .map(|level| (level.price, level.quantity))
                    .collect();
                assert_eq!(view, matcher, "market {index} {side:?}");
            }
        }
    }
}
