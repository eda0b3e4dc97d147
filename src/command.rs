//! The command record: what the matcher consumes, one per ring B slot and per journal record.
//!
//! A command is already parsed, typed and authenticated: the verify stage turned the request's
//! strings into market ids, ticks, steps and units, and the sequencer stamped `sequence` and
//! `time_us`. The matcher still checks every field it relies on (a journal is input too), so a
//! malformed command is a rejection, never a panic.
//!
//! [`Command::encode`] / [`Command::decode`] give the fixed little-endian layout the journal stores;
//! the layout is explicit (not a transmute) so padding never leaks into checksums or hashes.

use crate::types::{
    AccountKey, AssetId, ClientId, MarketId, OrderId, OrderType, PriceTicks, QuantitySteps,
    SelfTradePrevention, SequenceNumber, Side, TimeInForce,
};

/// One command for the matcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    /// The global sequence number; `SequenceNumber(0)` for queries, which are not journaled.
    pub sequence: SequenceNumber,
    /// Engine time stamped by the sequencer: Unix microseconds, never decreasing.
    pub time_us: u64,
    /// The signer; for administrator actions, the account acted upon.
    pub account: AccountKey,
    /// What to do.
    pub action: Action,
}

/// An order by exchange id or by the account's client id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRef {
    /// The exchange-assigned id.
    Id(OrderId),
    /// The account's `clientId`.
    Client(ClientId),
}

/// A new order as the client asked for it, in integer units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaceOrder {
    /// Where.
    pub market: MarketId,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// GTC, IOC or FOK (a market GTC behaves as IOC).
    pub time_in_force: TimeInForce,
    /// What to do on meeting the account's own resting order.
    pub self_trade_prevention: SelfTradePrevention,
    /// Limit GTC only: expire rather than take liquidity.
    pub post_only: bool,
    /// Optional client id, unique among the account's open orders.
    pub client_id: Option<ClientId>,
    /// Limit price; zero for market orders.
    pub price: PriceTicks,
    /// Base quantity; zero for a market order by quote quantity.
    pub quantity: QuantitySteps,
    /// Market orders by quote: quote units to spend (Bid) or receive (Ask); otherwise zero.
    pub quote_quantity: u64,
}

/// What a command does. Queries read state and change nothing; everything else is journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Place an order.
    Place(PlaceOrder),
    /// Cancel one open order of the account in `market`.
    Cancel {
        /// The market the order must be in.
        market: MarketId,
        /// Which order.
        target: OrderRef,
    },
    /// Cancel every open order of the account in `market`, ascending id.
    CancelAll {
        /// The market.
        market: MarketId,
    },
    /// Administrator: credit `amount` units of `asset` (creates the account on first use).
    Deposit {
        /// Asset credited.
        asset: AssetId,
        /// Units, positive.
        amount: u64,
    },
    /// Administrator: debit `amount` units of `asset`, no fee, frozen or not.
    AdminWithdraw {
        /// Asset debited.
        asset: AssetId,
        /// Units, positive.
        amount: u64,
    },
    /// The account withdraws `amount` plus the asset's withdrawal fee.
    Withdraw {
        /// Asset debited.
        asset: AssetId,
        /// Units sent out, positive; the fee comes on top.
        amount: u64,
    },
    /// Administrator: the account may cancel but not place or withdraw.
    Freeze,
    /// Administrator: lift a freeze.
    Unfreeze,
    /// Read the account's balances.
    QueryBalances,
    /// Read one open order.
    QueryOrder {
        /// The market the order must be in.
        market: MarketId,
        /// Which order.
        target: OrderRef,
    },
    /// Read the account's open orders, ascending id, optionally in one market.
    QueryOpenOrders {
        /// Only this market, or all.
        market: Option<MarketId>,
    },
    /// Read the engine summary: sequence, state hash, counts and per-asset totals.
    QueryState,
}

impl Action {
    /// Whether the action only reads (and is therefore never sequenced nor journaled).
    pub fn is_query(&self) -> bool {
        matches!(
            self,
            Action::QueryBalances
                | Action::QueryOrder { .. }
                | Action::QueryOpenOrders { .. }
                | Action::QueryState
        )
    }
}

/// Bytes of an encoded command.
pub const COMMAND_ENCODED_LEN: usize = 96;

/// Why bytes did not decode to a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError;

impl Command {
    /// Encodes into the journal's fixed little-endian layout.
    ///
    /// Layout: sequence u64 | time_us u64 | account [32] | tag u8 | 47 bytes of action fields.
    pub fn encode(&self, out: &mut [u8; COMMAND_ENCODED_LEN]) {
        *out = [0; COMMAND_ENCODED_LEN];
        out[0..8].copy_from_slice(&self.sequence.0.to_le_bytes());
        out[8..16].copy_from_slice(&self.time_us.to_le_bytes());
        out[16..48].copy_from_slice(&self.account.0);
        let mut writer = FieldWriter { bytes: out, position: 49 };
        out_tag(&mut writer, self.action);
    }

    /// Decodes the layout [`Command::encode`] writes; any unknown tag or enum byte is an error.
    pub fn decode(bytes: &[u8; COMMAND_ENCODED_LEN]) -> Result<Command, DecodeError> {
        let mut reader = FieldReader { bytes, position: 49 };
        let action = match bytes[48] {
            0 => Action::Place(PlaceOrder {
                market: MarketId(reader.u16()),
                side: Side::from_u8(reader.u8()).ok_or(DecodeError)?,
                order_type: OrderType::from_u8(reader.u8()).ok_or(DecodeError)?,
                time_in_force: TimeInForce::from_u8(reader.u8()).ok_or(DecodeError)?,
                self_trade_prevention: SelfTradePrevention::from_u8(reader.u8())
                    .ok_or(DecodeError)?,
                post_only: reader.bool()?,
                client_id: reader.option_client_id()?,
                price: PriceTicks(reader.u64()),
                quantity: QuantitySteps(reader.u64()),
                quote_quantity: reader.u64(),
            }),
            1 => Action::Cancel { market: MarketId(reader.u16()), target: reader.order_ref()? },
            2 => Action::CancelAll { market: MarketId(reader.u16()) },
            3 => Action::Deposit { asset: AssetId(reader.u16()), amount: reader.u64() },
            4 => Action::AdminWithdraw { asset: AssetId(reader.u16()), amount: reader.u64() },
            5 => Action::Withdraw { asset: AssetId(reader.u16()), amount: reader.u64() },
            6 => Action::Freeze,
            7 => Action::Unfreeze,
            8 => Action::QueryBalances,
            9 => Action::QueryOrder { market: MarketId(reader.u16()), target: reader.order_ref()? },
            10 => Action::QueryOpenOrders {
                market: match reader.u8() {
                    0 => None,
                    1 => Some(MarketId(reader.u16())),
                    _ => return Err(DecodeError),
                },
            },
            11 => Action::QueryState,
            _ => return Err(DecodeError),
        };
        Ok(Command {
            sequence: SequenceNumber(u64::from_le_bytes(bytes[0..8].try_into().unwrap())),
            time_us: u64::from_le_bytes(bytes[8..16].try_into().unwrap()),
            account: AccountKey(bytes[16..48].try_into().unwrap()),
            action,
        })
    }
}

fn out_tag(writer: &mut FieldWriter<'_>, action: Action) {
    let tag: u8 = match action {
        Action::Place(place) => {
            writer.u16(place.market.0);
            writer.u8(place.side as u8);
            writer.u8(place.order_type as u8);
            writer.u8(place.time_in_force as u8);
            writer.u8(place.self_trade_prevention as u8);
            writer.u8(u8::from(place.post_only));
            match place.client_id {
                Some(client_id) => {
                    writer.u8(1);
                    writer.u32(client_id.0);
                }
                None => {
                    writer.u8(0);
                    writer.u32(0);
                }
            }
            writer.u64(place.price.0);
            writer.u64(place.quantity.0);
            writer.u64(place.quote_quantity);
            0
        }
        Action::Cancel { market, target } => {
            writer.u16(market.0);
            writer.order_ref(target);
            1
        }
        Action::CancelAll { market } => {
            writer.u16(market.0);
            2
        }
        Action::Deposit { asset, amount } => {
            writer.u16(asset.0);
            writer.u64(amount);
            3
        }
        Action::AdminWithdraw { asset, amount } => {
            writer.u16(asset.0);
            writer.u64(amount);
            4
        }
        Action::Withdraw { asset, amount } => {
            writer.u16(asset.0);
            writer.u64(amount);
            5
        }
        Action::Freeze => 6,
        Action::Unfreeze => 7,
        Action::QueryBalances => 8,
        Action::QueryOrder { market, target } => {
            writer.u16(market.0);
            writer.order_ref(target);
            9
        }
        Action::QueryOpenOrders { market } => {
            match market {
                Some(market) => {
                    writer.u8(1);
                    writer.u16(market.0);
                }
                None => writer.u8(0),
            }
            10
        }
        Action::QueryState => 11,
    };
    writer.bytes[48] = tag;
}

struct FieldWriter<'a> {
    bytes: &'a mut [u8; COMMAND_ENCODED_LEN],
    position: usize,
}

impl FieldWriter<'_> {
    fn put(&mut self, data: &[u8]) {
        self.bytes[self.position..self.position + data.len()].copy_from_slice(data);
        self.position += data.len();
    }
    fn u8(&mut self, value: u8) {
        self.put(&[value]);
    }
    fn u16(&mut self, value: u16) {
        self.put(&value.to_le_bytes());
    }
    fn u32(&mut self, value: u32) {
        self.put(&value.to_le_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.put(&value.to_le_bytes());
    }
    fn order_ref(&mut self, target: OrderRef) {
        match target {
            OrderRef::Id(id) => {
                self.u8(0);
                self.u64(id.0);
            }
            OrderRef::Client(client_id) => {
                self.u8(1);
                self.u64(u64::from(client_id.0));
            }
        }
    }
}

struct FieldReader<'a> {
    bytes: &'a [u8; COMMAND_ENCODED_LEN],
    position: usize,
}

impl FieldReader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let value = self.bytes[self.position..self.position + N].try_into().unwrap();
        self.position += N;
        value
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8() {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError),
        }
    }
    fn option_client_id(&mut self) -> Result<Option<ClientId>, DecodeError> {
        let present = self.bool()?;
        let value = self.u32();
        Ok(present.then_some(ClientId(value)))
    }
    fn order_ref(&mut self) -> Result<OrderRef, DecodeError> {
        let kind = self.u8();
        let value = self.u64();
        match kind {
            0 => Ok(OrderRef::Id(OrderId(value))),
            1 => Ok(OrderRef::Client(ClientId(u32::try_from(value).map_err(|_| DecodeError)?))),
            _ => Err(DecodeError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_actions() -> Vec<Action> {
        let place = PlaceOrder {
            market: MarketId(2),
            side: Side::Ask,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Fok,
            self_trade_prevention: SelfTradePrevention::RejectBoth,
            post_only: true,
            client_id: Some(ClientId(u32::MAX)),
            price: PriceTicks(u64::MAX),
            quantity: QuantitySteps(7),
            quote_quantity: 9,
        };
        vec![
            Action::Place(place),
            Action::Place(PlaceOrder { client_id: None, ..place }),
            Action::Cancel { market: MarketId(1), target: OrderRef::Id(OrderId(77)) },
            Action::Cancel { market: MarketId(1), target: OrderRef::Client(ClientId(5)) },
            Action::CancelAll { market: MarketId(0) },
            Action::Deposit { asset: AssetId(3), amount: 1 },
            Action::AdminWithdraw { asset: AssetId(3), amount: 2 },
            Action::Withdraw { asset: AssetId(1), amount: u64::MAX },
            Action::Freeze,
            Action::Unfreeze,
            Action::QueryBalances,
            Action::QueryOrder { market: MarketId(0), target: OrderRef::Id(OrderId(1)) },
            Action::QueryOpenOrders { market: None },
            Action::QueryOpenOrders { market: Some(MarketId(2)) },
            Action::QueryState,
        ]
    }

    #[test]
    fn encode_decode_roundtrip() {
        for action in sample_actions() {
            let command = Command {
                sequence: SequenceNumber(42),
                time_us: 1_700_000_000_123_456,
                account: AccountKey([7; 32]),
                action,
            };
            let mut bytes = [0u8; COMMAND_ENCODED_LEN];
            command.encode(&mut bytes);
            assert_eq!(Command::decode(&bytes), Ok(command));
        }
    }

    #[test]
    fn unknown_bytes_are_refused() {
        let mut bytes = [0u8; COMMAND_ENCODED_LEN];
        bytes[48] = 200;
        assert_eq!(Command::decode(&bytes), Err(DecodeError));
        let command = Command {
            sequence: SequenceNumber(1),
            time_us: 0,
            account: AccountKey::default(),
            action: sample_actions()[0],
        };
        command.encode(&mut bytes);
        bytes[51] = 9; // side
        assert_eq!(Command::decode(&bytes), Err(DecodeError));
    }
}
