//! The WebSocket stream messages of API.md §9, beside the REST bodies of `render.rs`.
//!
//! A message is `{"stream":"<name as subscribed>","data":{…}}`: [`begin_message`], one data
//! object ([`write_depth`], [`write_trade`], [`write_book_ticker`], [`write_ticker`],
//! [`write_kline`], [`write_order_update`]), then [`end_message`]. [`write_stream_error`] is the
//! payload of an error frame, which has no envelope.
//!
//! **Contract.** Every function appends to `out` (the connection's send buffer) and allocates
//! nothing once `out` has the capacity: [`JsonWriter`] formats decimals and times on the stack,
//! and the stream name is written through a stack buffer. Fields, JSON types and units are
//! exactly API.md §9's, keys in the order of its examples:
//! - decimals are strings at fixed scale, as in REST: prices at the market's tick scale, base
//!   quantities at its step scale, quote amounts and fees at the asset's decimals;
//! - `E` is the emission time and `T` the engine time of the (last) command, both Unix µs
//!   integers; `t` (trade id), `U` `u` (update ids) and `n` (trade count) are integers;
//! - order ids (`i`, trade `b` `a`) are digit strings; `clientId` (`c`) a number.
//!
//! **ringex decisions** where API.md leaves the exact bytes open:
//! - a deleted depth level carries the zero at step scale (`["150.50","0.00"]`), like every other
//!   quantity; only the two places where API.md spells `"0"` write a bare `"0"`: an empty
//!   bookTicker side (`"0"`/`"0"`) and the `q` of a market order by quote;
//! - the `ticker` stream shows what the REST ticker shows ([`Ticker::shown`]): with no trade in
//!   the window, the last traded price (zero before any) as `o` `c` `h` `l`, and zero `v` `V` `n`;
//! - an orderUpdate's `Q` of a Limit order is `price × quantity` in quote units; in the corner
//!   where that exceeds a `u64` of quote units (a huge ask) `Q` is left out, as for a Market order
//!   by quantity — `Q` is optional for every client.

use crate::api::streams::{Stream, StreamError};
use crate::config::{Config, MarketSpec};
use crate::event::{Event, EventKind, Fill, OrderState};
use crate::netout::json::JsonWriter;
use crate::netout::view::{DepthLevel, DepthUpdate, Kline, Ticker};
use crate::types::{ExpiryReason, MarketId, OrderType, Side};

/// Room for the longest stream name: `account.orderUpdate.` (20) plus a `BASE_QUOTE` symbol of
/// at most 33 characters (assets are 1..16 characters, `config.rs`).
const STREAM_NAME_MAX: usize = 64;

// -------------------------------------------------------------------------------------------------
// The envelope and the error frame.

/// `{"stream":"<name as subscribed>","data":` — the data object follows, then [`end_message`].
/// The name is written back from the typed stream, which parsing guarantees is the subscribed
/// text byte for byte.
pub fn begin_message(out: &mut Vec<u8>, config: &Config, stream: &Stream) {
    let mut name = [0u8; STREAM_NAME_MAX];
    let length = stream.write_name(config, &mut name).expect("stream names fit STREAM_NAME_MAX");
    JsonWriter::new(out).begin_object().key("stream").plain_string(&name[..length]).key("data");
}

/// `}`: closes what [`begin_message`] opened.
pub fn end_message(out: &mut Vec<u8>) {
    out.push(b'}');
}

/// An error frame's payload: `{"id":null,"error":{"code":4006,"message":"Invalid stream"}}`.
pub fn write_stream_error(out: &mut Vec<u8>, error: StreamError) {
    let mut w = JsonWriter::new(out);
    w.begin_object();
    w.key("id").null();
    w.key("error").begin_object();
    w.key("code").u64(u64::from(error.code()));
    w.key("message").string(error.message().as_bytes());
    w.end_object();
    w.end_object();
}

// -------------------------------------------------------------------------------------------------
// Market streams.

/// `depth.<sym>` (and its aggregated cadences): `e E s a b U u T`. Levels carry the absolute
/// quantity, zero for a deleted level; both sides ascending by price, as `DepthUpdate` holds them
/// and as the REST snapshot sends them.
pub fn write_depth(out: &mut Vec<u8>, config: &Config, update: &DepthUpdate<'_>, emitted_us: u64) {
    let spec = config.market(update.market);
    let mut w = JsonWriter::new(out);
    w.begin_object();
    write_head(&mut w, b"depth", emitted_us, spec);
    w.key("a");
    write_levels(&mut w, spec, update.asks);
    w.key("b");
    write_levels(&mut w, spec, update.bids);
    w.key("U").u64(update.first_update_id);
    w.key("u").u64(update.last_update_id);
    w.key("T").u64(update.time_us);
    w.end_object();
}

/// `[["price","quantity"],…]` in the order given.
fn write_levels(w: &mut JsonWriter<'_>, spec: &MarketSpec, levels: &[DepthLevel]) {
    w.begin_array();
    for level in levels {
        w.begin_array().price(spec, level.price).quantity(spec, level.quantity).end_array();
    }
    w.end_array();
}

/// `trade.<sym>`: `e E s p q b a t T m`, from the **maker's** fill event (each trade has one:
/// the maker's `OrderFill` comes first, and the taker's would repeat the trade). `b` / `a` are
/// the buyer's and seller's order ids, `m` whether the buyer was the maker. `time_us` is the
/// engine time of the command (`T`).
pub fn write_trade(
    out: &mut Vec<u8>,
    config: &Config,
    maker_fill: &Fill,
    time_us: u64,
    emitted_us: u64,
) {
    debug_assert!(maker_fill.is_maker, "a trade is rendered from its maker's fill");
    let maker = &maker_fill.order;
    let spec = config.market(maker.market);
    let (buyer, seller) = match maker.side {
        Side::Bid => (maker.order_id, maker_fill.counterparty),
        Side::Ask => (maker_fill.counterparty, maker.order_id),
    };
    let mut w = JsonWriter::new(out);
    w.begin_object();
    write_head(&mut w, b"trade", emitted_us, spec);
    w.key("p").price(spec, maker_fill.price);
    w.key("q").quantity(spec, maker_fill.quantity);
    w.key("b").u64_string(buyer.0);
    w.key("a").u64_string(seller.0);
    w.key("t").u64(maker_fill.trade_id);
    w.key("T").u64(time_us);
    w.key("m").bool(maker.side == Side::Bid);
    w.end_object();
}

/// `bookTicker.<sym>`: `e E s a A b B u T`, the best ask and bid (`best` as
/// `View::best_bid_ask` returns it: `(bid, ask)`); an empty side is `"0"`/`"0"` (the Rust type
/// has no null). `update_id` is the market's update id after the change (`u`, a number).
pub fn write_book_ticker(
    out: &mut Vec<u8>,
    config: &Config,
    market: MarketId,
    best: (Option<DepthLevel>, Option<DepthLevel>),
    update_id: u64,
    time_us: u64,
    emitted_us: u64,
) {
    let spec = config.market(market);
    let (bid, ask) = best;
    let mut w = JsonWriter::new(out);
    w.begin_object();
    write_head(&mut w, b"bookTicker", emitted_us, spec);
    write_top(&mut w, spec, ask, "a", "A");
    write_top(&mut w, spec, bid, "b", "B");
    w.key("u").u64(update_id);
    w.key("T").u64(time_us);
    w.end_object();
}

/// One side of the top of the book: price and quantity, or `"0"` and `"0"` when empty.
fn write_top(
    w: &mut JsonWriter<'_>,
    spec: &MarketSpec,
    level: Option<DepthLevel>,
    price_key: &str,
    quantity_key: &str,
) {
    match level {
        Some(level) => {
            w.key(price_key).price(spec, level.price);
            w.key(quantity_key).quantity(spec, level.quantity);
        }
        None => {
            w.key(price_key).plain_string(b"0");
            w.key(quantity_key).plain_string(b"0");
        }
    }
}

/// `ticker.<sym>`: `e E s o c h l v V n`, the rolling 24 h window; no `T` (it is a clock's
/// reading, not a command's). Shows what the REST ticker shows ([`Ticker::shown`]).
pub fn write_ticker(
    out: &mut Vec<u8>,
    config: &Config,
    market: MarketId,
    ticker: &Ticker,
    emitted_us: u64,
) {
    let spec = config.market(market);
    let stats = ticker.shown();
    let mut w = JsonWriter::new(out);
    w.begin_object();
    write_head(&mut w, b"ticker", emitted_us, spec);
    w.key("o").price(spec, stats.open);
    w.key("c").price(spec, stats.close);
    w.key("h").price(spec, stats.high);
    w.key("l").price(spec, stats.low);
    w.key("v").quantity(spec, stats.volume);
    w.key("V").amount(config, spec.quote, stats.quote);
    w.key("n").u64(stats.trades);
    w.end_object();
}

/// `kline.<interval>.<sym>`: `e E s t T o c h l v n X`. `t` / `T` are the bucket's start and
/// (exclusive) end as naive ISO, `"2023-11-14T22:13:00"` (API.md; bpx-api-types wants integers
/// there, the docs win); `closed` (`X`) is true only for the one message sent at the bucket's
/// close. The interval is the stream's; the kline carries its own bounds.
pub fn write_kline(
    out: &mut Vec<u8>,
    config: &Config,
    market: MarketId,
    kline: &Kline,
    closed: bool,
    emitted_us: u64,
) {
    let spec = config.market(market);
    let stats = &kline.stats;
    let mut w = JsonWriter::new(out);
    w.begin_object();
    write_head(&mut w, b"kline", emitted_us, spec);
    w.key("t").iso_s(kline.start_s);
    w.key("T").iso_s(kline.end_s);
    w.key("o").price(spec, stats.open);
    w.key("c").price(spec, stats.close);
    w.key("h").price(spec, stats.high);
    w.key("l").price(spec, stats.low);
    w.key("v").quantity(spec, stats.volume);
    w.key("n").u64(stats.trades);
    w.key("X").bool(closed);
    w.end_object();
}

/// `"e":<event>,"E":<emitted µs>,"s":<symbol>`, the head of every data object.
fn write_head(w: &mut JsonWriter<'_>, event: &[u8], emitted_us: u64, spec: &MarketSpec) {
    w.key("e").string(event);
    w.key("E").u64(emitted_us);
    w.key("s").string(spec.symbol.as_bytes());
}

// -------------------------------------------------------------------------------------------------
// The account stream.

/// `account.orderUpdate[.<sym>]`: one order event as API.md §9's table has it. Writes and returns
/// true for `OrderAccepted`, `OrderFill`, `OrderCancelled` and `OrderExpired`; any other event
/// writes nothing and returns false.
///
/// Always `e E s S o f q X i t z Z V T O r` (bpx-api-types requires `e E s S o f q X i z Z V T
/// O`); `c` when the order has a client id; `Q` when defined (Limit: price × quantity; Market by
/// quote: the quote quantity); `p` `y` for Limit; `t` the trade id on `orderFill`, else `null`;
/// `l L m n N` on `orderFill`; `R` on `orderExpired`. Never `I` (a string breaks the Rust
/// `Option<u64>`), `H` or trigger keys. `X` is the status the event carries; `T` the engine time
/// of the command.
pub fn write_order_update(
    out: &mut Vec<u8>,
    config: &Config,
    event: &Event,
    emitted_us: u64,
) -> bool {
    let (name, state, fill, expiry): (&[u8], &OrderState, Option<&Fill>, Option<ExpiryReason>) =
        match &event.kind {
            EventKind::OrderAccepted(state) => (b"orderAccepted", state, None, None),
            EventKind::OrderFill(fill) => (b"orderFill", &fill.order, Some(fill), None),
            EventKind::OrderCancelled(state) => (b"orderCancelled", state, None, None),
            EventKind::OrderExpired { order, reason } => {
                (b"orderExpired", order, None, Some(*reason))
            }
            _ => return false,
        };
    let spec = config.market(state.market);
    let mut w = JsonWriter::new(out);
    w.begin_object();
    write_head(&mut w, name, emitted_us, spec);
    if let Some(client_id) = state.client_id {
        w.key("c").u64(u64::from(client_id.0));
    }
    w.key("S").string(state.side.as_str().as_bytes());
    write_order_terms(&mut w, config, spec, state);
    w.key("X").string(state.status.as_str().as_bytes());
    w.key("i").u64_string(state.order_id.0);
    w.key("t");
    match fill {
        Some(fill) => w.u64(fill.trade_id),
        None => w.null(),
    };
    if let Some(fill) = fill {
        w.key("l").quantity(spec, fill.quantity);
        w.key("L").price(spec, fill.price);
        w.key("m").bool(fill.is_maker);
        w.key("n").amount(config, fill.fee_asset, fill.fee);
        w.key("N").string(config.asset(fill.fee_asset).symbol.as_bytes());
    }
    if let Some(reason) = expiry {
        w.key("R").string(reason.as_str().as_bytes());
    }
    w.key("z").quantity(spec, state.executed_quantity);
    w.key("Z").amount(config, spec.quote, state.executed_quote);
    w.key("V").string(state.self_trade_prevention.as_str().as_bytes());
    w.key("T").u64(event.time_us);
    w.key("O").string(b"USER");
    w.key("r").bool(false);
    w.end_object();
    true
}

/// `o f q [Q] [p y]`: the order's type (upper case, the only spelling the Rust enum takes), time
/// in force and sizes.
fn write_order_terms(
    w: &mut JsonWriter<'_>,
    config: &Config,
    spec: &MarketSpec,
    state: &OrderState,
) {
    match state.order_type {
        OrderType::Limit => {
            w.key("o").string(b"LIMIT");
            w.key("f").string(state.time_in_force.as_str().as_bytes());
            w.key("q").quantity(spec, state.quantity);
            if let Some(notional) = spec.notional(state.price, state.quantity) {
                w.key("Q").amount(config, spec.quote, notional);
            }
            w.key("p").price(spec, state.price);
            w.key("y").bool(state.post_only);
        }
        OrderType::Market => {
            w.key("o").string(b"MARKET");
            w.key("f").string(state.time_in_force.as_str().as_bytes());
            if state.quantity.0 == 0 {
                // By quote: no base quantity was asked for.
                w.key("q").plain_string(b"0");
                w.key("Q").amount(config, spec.quote, state.quote_quantity);
            } else {
                w.key("q").quantity(spec, state.quantity);
            }
        }
    }
}

#[cfg(test)]
mod tests;
