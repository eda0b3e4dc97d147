//! The journal payload of one applied command: what a restart needs to rebuild everything.
//!
//! **Pinned.** Every segment header carries [`PAYLOAD_VERSION`], and recovery refuses a segment
//! of another version with a message naming it, so an encoder and decoder that change together
//! cannot silently misread old journals. The tests below hold the exact bytes of every
//! journaled command kind: a change to them is a change of format, which bumps the version.
//!
//! Layout (little-endian, explicit): the 96-byte encoded [`Command`], the request's signature (64),
//! its replay digest (32), `X-Timestamp` and `X-Window` (8 + 8), a flags byte, then the optional
//! withdrawal address and client id, each as a length byte and its bytes. The command rebuilds the
//! matcher; the auth part rebuilds the replay cache (and says who signed what); the extras rebuild
//! net-out's withdrawal history.

use crate::command::{COMMAND_ENCODED_LEN, Command};
use crate::constants::{ADDRESS_MAX, WITHDRAWAL_CLIENT_ID_MAX};
use crate::records::{Auth, Extras};

/// The payload layout this build writes and reads. Bump it with any change to [`encode`] or
/// [`decode`] (or to [`Command::encode`]), and update the golden bytes in the tests.
pub const PAYLOAD_VERSION: u32 = 1;

/// Largest encoded record.
pub const JOURNAL_RECORD_MAX: usize =
    COMMAND_ENCODED_LEN + 64 + 32 + 8 + 8 + 1 + 1 + ADDRESS_MAX + 1 + WITHDRAWAL_CLIENT_ID_MAX;

const AUTH_START: usize = COMMAND_ENCODED_LEN;
const FLAGS_AT: usize = AUTH_START + 64 + 32 + 16;
const HAS_ADDRESS: u8 = 1;
const HAS_CLIENT_ID: u8 = 2;

/// Bytes that are not a journal record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordError;

/// Encodes a record into `out`; returns its length.
pub fn encode(
    command: &Command,
    auth: &Auth,
    extras: &Extras,
    out: &mut [u8; JOURNAL_RECORD_MAX],
) -> usize {
    let mut command_bytes = [0u8; COMMAND_ENCODED_LEN];
    command.encode(&mut command_bytes);
    out[..AUTH_START].copy_from_slice(&command_bytes);
    out[AUTH_START..AUTH_START + 64].copy_from_slice(&auth.signature);
    out[AUTH_START + 64..AUTH_START + 96].copy_from_slice(&auth.replay_digest);
    out[AUTH_START + 96..AUTH_START + 104].copy_from_slice(&auth.timestamp_ms.to_le_bytes());
    out[AUTH_START + 104..AUTH_START + 112].copy_from_slice(&auth.window_ms.to_le_bytes());
    let mut flags = 0;
    let mut length = FLAGS_AT + 1;
    if extras.address_len > 0 {
        flags |= HAS_ADDRESS;
        out[length] = extras.address_len;
        out[length + 1..length + 1 + extras.address().len()].copy_from_slice(extras.address());
        length += 1 + extras.address().len();
    }
    if let Some(client_id) = extras.client_id() {
        flags |= HAS_CLIENT_ID;
        out[length] = client_id.len() as u8;
        out[length + 1..length + 1 + client_id.len()].copy_from_slice(client_id);
        length += 1 + client_id.len();
    }
    out[FLAGS_AT] = flags;
    length
}

/// Decodes a record written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<(Command, Auth, Extras), RecordError> {
    if bytes.len() <= FLAGS_AT {
        return Err(RecordError);
    }
    let command = Command::decode(bytes[..COMMAND_ENCODED_LEN].try_into().unwrap())
        .map_err(|_| RecordError)?;
    let auth = Auth {
        signature: bytes[AUTH_START..AUTH_START + 64].try_into().unwrap(),
        replay_digest: bytes[AUTH_START + 64..AUTH_START + 96].try_into().unwrap(),
        timestamp_ms: u64::from_le_bytes(
            bytes[AUTH_START + 96..AUTH_START + 104].try_into().unwrap(),
        ),
        window_ms: u64::from_le_bytes(
            bytes[AUTH_START + 104..AUTH_START + 112].try_into().unwrap(),
        ),
    };
    let flags = bytes[FLAGS_AT];
    if flags & !(HAS_ADDRESS | HAS_CLIENT_ID) != 0 {
        return Err(RecordError);
    }
    let mut extras = Extras::default();
    let mut position = FLAGS_AT + 1;
    let mut take = |capacity: usize| -> Result<&[u8], RecordError> {
        let length = *bytes.get(position).ok_or(RecordError)? as usize;
        if length > capacity {
            return Err(RecordError);
        }
        let field = bytes.get(position + 1..position + 1 + length).ok_or(RecordError)?;
        position += 1 + length;
        Ok(field)
    };
    if flags & HAS_ADDRESS != 0 {
        let address = take(ADDRESS_MAX)?;
        extras.address[..address.len()].copy_from_slice(address);
        extras.address_len = address.len() as u8;
    }
    if flags & HAS_CLIENT_ID != 0 {
        let client_id = take(WITHDRAWAL_CLIENT_ID_MAX)?;
        extras.client_id[..client_id.len()].copy_from_slice(client_id);
        extras.client_id_len = client_id.len() as u8;
        extras.has_client_id = true;
    }
    if position != bytes.len() {
        return Err(RecordError);
    }
    Ok((command, auth, extras))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Action;
    use crate::types::{AccountKey, AssetId, SequenceNumber};

    #[test]
    fn roundtrip_with_and_without_extras() {
        let command = Command {
            sequence: SequenceNumber(7),
            time_us: 99,
            account: AccountKey([5; 32]),
            action: Action::Withdraw { asset: AssetId(1), amount: 10 },
        };
        let auth =
            Auth { signature: [1; 64], replay_digest: [2; 32], timestamp_ms: 3, window_ms: 4 };
        let mut extras = Extras::default();
        let mut buffer = [0u8; JOURNAL_RECORD_MAX];
        let length = encode(&command, &auth, &extras, &mut buffer);
        assert_eq!(decode(&buffer[..length]), Ok((command, auth, extras)));
        extras.address[..4].copy_from_slice(b"addr");
        extras.address_len = 4;
        extras.has_client_id = true;
        let length = encode(&command, &auth, &extras, &mut buffer);
        assert_eq!(decode(&buffer[..length]), Ok((command, auth, extras)));
        assert_eq!(decode(&buffer[..length - 1]), Err(RecordError));
        extras.client_id[..2].copy_from_slice(b"id");
        extras.client_id_len = 2;
        extras.address_len = ADDRESS_MAX as u8;
        let length = encode(&command, &auth, &extras, &mut buffer);
        assert_eq!(length, JOURNAL_RECORD_MAX - WITHDRAWAL_CLIENT_ID_MAX + 2);
        assert_eq!(decode(&buffer[..length]).unwrap().2, extras);
    }

    /// One command of every journaled kind, with every optional part present somewhere.
    fn every_kind() -> Vec<(&'static str, Command, Extras)> {
        use crate::command::{OrderRef, PlaceOrder};
        use crate::types::{
            ClientId, MarketId, OrderId, OrderType, PriceTicks, QuantitySteps, SelfTradePrevention,
            Side, TimeInForce,
        };
        let limit = PlaceOrder {
            market: MarketId(1),
            side: Side::Ask,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Ioc,
            self_trade_prevention: SelfTradePrevention::RejectBoth,
            post_only: false,
            client_id: Some(ClientId(4_000_000_001)),
            price: PriceTicks(15_050),
            quantity: QuantitySteps(125),
            quote_quantity: 0,
        };
        let market_by_quote = PlaceOrder {
            market: MarketId(0),
            side: Side::Bid,
            order_type: OrderType::Market,
            time_in_force: TimeInForce::Fok,
            self_trade_prevention: SelfTradePrevention::Allow,
            post_only: false,
            client_id: None,
            price: PriceTicks(0),
            quantity: QuantitySteps(0),
            quote_quantity: 123_456_789,
        };
        let post_only = PlaceOrder {
            time_in_force: TimeInForce::Gtc,
            post_only: true,
            client_id: None,
            self_trade_prevention: SelfTradePrevention::RejectMaker,
            ..limit
        };
        let mut withdrawal = Extras::default();
        withdrawal.address[..5].copy_from_slice(b"addr1");
        withdrawal.address_len = 5;
        withdrawal.client_id[..3].copy_from_slice(b"w-1");
        withdrawal.client_id_len = 3;
        withdrawal.has_client_id = true;
        let none = Extras::default();
        let by_id = OrderRef::Id(OrderId(0x0102_0304_0506));
        let by_client = OrderRef::Client(ClientId(42));
        let actions = [
            ("place limit", Action::Place(limit), none),
            ("place market by quote", Action::Place(market_by_quote), none),
            ("place post-only", Action::Place(post_only), none),
            ("cancel by id", Action::Cancel { market: MarketId(2), target: by_id }, none),
            (
                "cancel by client id",
                Action::Cancel { market: MarketId(0), target: by_client },
                none,
            ),
            ("cancel all", Action::CancelAll { market: MarketId(1) }, none),
            ("deposit", Action::Deposit { asset: AssetId(3), amount: u64::MAX }, none),
            ("admin withdraw", Action::AdminWithdraw { asset: AssetId(0), amount: 1 }, none),
            ("withdraw", Action::Withdraw { asset: AssetId(1), amount: 1_500 }, withdrawal),
            ("freeze", Action::Freeze, none),
            ("unfreeze", Action::Unfreeze, none),
        ];
        actions
            .into_iter()
            .enumerate()
            .map(|(index, (name, action, extras))| {
                let command = Command {
                    sequence: SequenceNumber(1_000 + index as u64),
                    time_us: 1_700_000_000_123_456,
                    account: AccountKey(std::array::from_fn(|byte| byte as u8)),
                    action,
                };
                (name, command, extras)
            })
            .collect()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// The bytes of every journaled command kind at [`PAYLOAD_VERSION`] 1. If this fails, the
    /// journal format changed: bump the version (old journals are then refused by name), or
    /// restore the encoding.
    #[test]
    fn golden_bytes_of_every_command_kind() {
        assert_eq!(PAYLOAD_VERSION, 1, "a new version needs new golden bytes");
        let auth = Auth {
            signature: std::array::from_fn(|byte| 0x80 | byte as u8),
            replay_digest: [0xD1; 32],
            timestamp_ms: 1_700_000_000_000,
            window_ms: 5_000,
        };
        let mut buffer = [0u8; JOURNAL_RECORD_MAX];
        let mut mismatches = Vec::new();
        for ((name, command, extras), golden) in every_kind().into_iter().zip(GOLDEN) {
            let length = encode(&command, &auth, &extras, &mut buffer);
            // The shared tail (signature, digest, timestamp, window) is checked once below.
            let text = hex(&buffer[..COMMAND_ENCODED_LEN]) + &hex(&buffer[FLAGS_AT..length]);
            if text != golden {
                mismatches.push(format!("{name}: {text}"));
            }
            assert_eq!(decode(&buffer[..length]), Ok((command, auth, extras)), "{name}");
        }
        assert!(mismatches.is_empty(), "changed encodings:\n{}", mismatches.join("\n"));
        assert_eq!(GOLDEN.len(), every_kind().len());
        assert_eq!(
            hex(&buffer[AUTH_START..FLAGS_AT]),
            AUTH_GOLDEN,
            "the signature, digest, timestamp and window"
        );
    }

    const AUTH_GOLDEN: &str = concat!(
        "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1",
        "0068e5cf8b0100008813000000000000",
    );
    const GOLDEN: [&str; 11] = [
        // place limit
        concat!(
            "e80300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f00010001000102000101286beeca3a00",
            "00000000007d0000000000000000000000000000000000000000000000000000",
            "00",
        ),
        // place market by quote
        concat!(
            "e90300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f00000000010203000000000000000000",
            "0000000000000000000000000015cd5b07000000000000000000000000000000",
            "00",
        ),
        // place post-only
        concat!(
            "ea0300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f00010001000001010000000000ca3a00",
            "00000000007d0000000000000000000000000000000000000000000000000000",
            "00",
        ),
        // cancel by id
        concat!(
            "eb0300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f01020000060504030201000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "00",
        ),
        // cancel by client id
        concat!(
            "ec0300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f010000012a0000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "00",
        ),
        // cancel all
        concat!(
            "ed0300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f02010000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "00",
        ),
        // deposit
        concat!(
            "ee0300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f030300ffffffffffffffff0000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "00",
        ),
        // admin withdraw
        concat!(
            "ef0300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f04000001000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "00",
        ),
        // withdraw
        concat!(
            "f00300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f050100dc050000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0305616464723103772d31",
        ),
        // freeze
        concat!(
            "f10300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f06000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "00",
        ),
        // unfreeze
        concat!(
            "f20300000000000040222018240a0600000102030405060708090a0b0c0d0e0f",
            "101112131415161718191a1b1c1d1e1f07000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "00",
        ),
    ];
}
