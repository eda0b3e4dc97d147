//! WebSocket stream names (API.md §9): the text a client subscribes to, as a typed [`Stream`].
//!
//! Vocabulary shared by the stages that speak WebSocket: verify parses the names of a
//! SUBSCRIBE/UNSUBSCRIBE frame into [`Stream`]s (markets interned to [`MarketId`]), and net-out
//! writes each message's `"stream"` back from the typed value. Parsing is exact: a name that
//! parses writes back to the same bytes, so `"stream"` is always the name as subscribed.
//!
//! Names: `depth.<sym>`, `depth.200ms|600ms|1000ms.<sym>`, `trade.<sym>`, `bookTicker.<sym>`,
//! `ticker.<sym>`, `kline.<interval>.<sym>`, `account.orderUpdate`, `account.orderUpdate.<sym>`.
//! Anything else is 4006 `Invalid stream`.

use crate::config::Config;
use crate::records::KlineInterval;
use crate::types::MarketId;

/// How often an aggregated depth stream speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DepthCadence {
    /// One message per batch of the market's updates.
    Realtime,
    /// At most one message per 200 ms window with updates.
    Ms200,
    /// At most one per 600 ms.
    Ms600,
    /// At most one per 1000 ms.
    Ms1000,
}

/// One subscribable stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Depth updates of a market.
    Depth {
        /// Which market.
        market: MarketId,
        /// Realtime or aggregated.
        cadence: DepthCadence,
    },
    /// Every trade of a market.
    Trade(MarketId),
    /// The top of a market's book, on any change.
    BookTicker(MarketId),
    /// The 24 h rolling ticker, every second.
    Ticker(MarketId),
    /// Candles of one interval.
    Kline {
        /// Which market.
        market: MarketId,
        /// The bucket size.
        interval: KlineInterval,
    },
    /// The subscriber's own order updates, in every market or one (private: needs a signature).
    OrderUpdate {
        /// Only this market, or all.
        market: Option<MarketId>,
    },
}

impl Stream {
    /// The stream a name stands for, if it is one (markets from `config`).
    pub fn parse(name: &[u8], config: &Config) -> Option<Stream> {
        let market = |symbol: &[u8]| config.market_by_symbol(symbol);
        if name == b"account.orderUpdate" {
            return Some(Stream::OrderUpdate { market: None });
        }
        if let Some(symbol) = name.strip_prefix(b"account.orderUpdate.") {
            return Some(Stream::OrderUpdate { market: Some(market(symbol)?) });
        }
        let (kind, rest) = split_once(name)?;
        Some(match kind {
            b"trade" => Stream::Trade(market(rest)?),
            b"bookTicker" => Stream::BookTicker(market(rest)?),
            b"ticker" => Stream::Ticker(market(rest)?),
            b"depth" => {
                let (cadence, symbol) = match split_once(rest) {
                    Some((b"200ms", symbol)) => (DepthCadence::Ms200, symbol),
                    Some((b"600ms", symbol)) => (DepthCadence::Ms600, symbol),
                    Some((b"1000ms", symbol)) => (DepthCadence::Ms1000, symbol),
                    _ => (DepthCadence::Realtime, rest),
                };
                Stream::Depth { market: market(symbol)?, cadence }
            }
            b"kline" => {
                let (interval, symbol) = split_once(rest)?;
                let interval = KlineInterval::parse(interval)?;
                Stream::Kline { market: market(symbol)?, interval }
            }
            _ => return None,
        })
    }

    /// Whether subscribing needs the account's signature.
    pub fn is_private(&self) -> bool {
        matches!(self, Stream::OrderUpdate { .. })
    }

    /// Writes the stream's name (the bytes it was parsed from) into `out`; returns its length,
    /// or `None` if `out` is too short.
    pub fn write_name(&self, config: &Config, out: &mut [u8]) -> Option<usize> {
        let symbol = |market: MarketId| config.market(market).symbol.as_str();
        let pieces: [&str; 4] = match *self {
            Stream::Depth { market, cadence } => {
                let cadence = match cadence {
                    DepthCadence::Realtime => "",
                    DepthCadence::Ms200 => "200ms.",
                    DepthCadence::Ms600 => "600ms.",
                    DepthCadence::Ms1000 => "1000ms.",
                };
                ["depth.", cadence, symbol(market), ""]
            }
            Stream::Trade(market) => ["trade.", symbol(market), "", ""],
            Stream::BookTicker(market) => ["bookTicker.", symbol(market), "", ""],
            Stream::Ticker(market) => ["ticker.", symbol(market), "", ""],
            Stream::Kline { market, interval } => ["kline.", interval.text(), ".", symbol(market)],
            Stream::OrderUpdate { market: None } => ["account.orderUpdate", "", "", ""],
            Stream::OrderUpdate { market: Some(market) } => {
                ["account.orderUpdate.", symbol(market), "", ""]
            }
        };
        let mut length = 0;
        for piece in pieces {
            out.get_mut(length..length + piece.len())?.copy_from_slice(piece.as_bytes());
            length += piece.len();
        }
        Some(length)
    }
}

/// Most streams one connection may hold (API.md §9); a frame naming more is refused whole.
pub const STREAMS_PER_CONNECTION_MAX: usize = 256;

/// Most actions one SUBSCRIBE/UNSUBSCRIBE frame turns into: one per name, plus one error for a
/// signature that did not verify.
pub const STREAM_ACTIONS_PER_FRAME_MAX: usize = STREAMS_PER_CONNECTION_MAX + 1;

/// An error frame's reason (API.md §9): `{"id":null,"error":{"code":…,"message":…}}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// 4000: the frame is not a SUBSCRIBE/UNSUBSCRIBE object of string names.
    InvalidRequest,
    /// 4006: a name that is no stream (Backpack's).
    InvalidStream,
    /// 4007: a private stream without a valid signature, or of a second account.
    InvalidSignature,
    /// 4008: more than [`STREAMS_PER_CONNECTION_MAX`] streams.
    TooManyStreams,
}

impl StreamError {
    /// The error frame's `code`.
    pub fn code(self) -> u16 {
        match self {
            StreamError::InvalidRequest => 4000,
            StreamError::InvalidStream => 4006,
            StreamError::InvalidSignature => 4007,
            StreamError::TooManyStreams => 4008,
        }
    }

    /// The error frame's `message`.
    pub fn message(self) -> &'static str {
        match self {
            StreamError::InvalidRequest => "Invalid request",
            StreamError::InvalidStream => "Invalid stream",
            StreamError::InvalidSignature => "Invalid signature",
            StreamError::TooManyStreams => "Too many streams",
        }
    }
}

/// One thing a SUBSCRIBE/UNSUBSCRIBE frame asks of net-out, in the frame's order. verify turns a
/// frame into these; the sequencer passes each on as its own ring record; net-out, which owns the
/// subscriptions, acts on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamAction {
    /// Subscribe (a private stream only once its signature verified: the record's account is the
    /// signer).
    Subscribe(Stream),
    /// Unsubscribe (an absent stream is ignored).
    Unsubscribe(Stream),
    /// Answer with an error frame.
    Error(StreamError),
}

/// `kind.rest` at the first dot.
fn split_once(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let dot = name.iter().position(|&byte| byte == b'.')?;
    Some((&name[..dot], &name[dot + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_name_parses_and_writes_back_byte_for_byte() {
        let config = Config::embedded_default();
        let names = [
            "depth.SOL_USDC",
            "depth.200ms.SOL_USDC",
            "depth.600ms.BTC_USDC",
            "depth.1000ms.ETH_USDC",
            "trade.SOL_USDC",
            "bookTicker.BTC_USDC",
            "ticker.ETH_USDC",
            "kline.1m.SOL_USDC",
            "kline.1month.BTC_USDC",
            "kline.1s.ETH_USDC",
            "account.orderUpdate",
            "account.orderUpdate.SOL_USDC",
        ];
        let mut out = [0u8; 64];
        for name in names {
            let stream =
                Stream::parse(name.as_bytes(), &config).unwrap_or_else(|| panic!("{name}"));
            let length = stream.write_name(&config, &mut out).unwrap();
            assert_eq!(std::str::from_utf8(&out[..length]).unwrap(), name);
            assert_eq!(stream.is_private(), name.starts_with("account."));
        }
        let short = Stream::parse(b"kline.1month.BTC_USDC", &config).unwrap();
        assert_eq!(short.write_name(&config, &mut out[..10]), None);
    }

    #[test]
    fn anything_else_is_an_invalid_stream() {
        let config = Config::embedded_default();
        let invalid = [
            "",
            "depth",
            "depth.",
            "depth.DOGE_USDC",
            "depth.100ms.SOL_USDC",
            "depth.200ms",
            "trade.sol_usdc",
            "kline.2m.SOL_USDC",
            "kline.SOL_USDC",
            "account.orderUpdate.",
            "account.orderUpdate.DOGE_USDC",
            "account.positionUpdate",
            "ticker.SOL_USDC.extra",
            "bookTicker",
        ];
        for name in invalid {
            assert_eq!(Stream::parse(name.as_bytes(), &config), None, "{name:?}");
        }
    }
}
