//! A snapshot file round trip on a small engine, and the refusals: every header byte, the
//! payload, the configuration.

use super::Engine;
use super::file::{self, HEADER_SIZE, Refusal};
use crate::command::{Action, Command, PlaceOrder};
use crate::fuzz_targets::{snapshot_config, snapshot_engine, snapshot_sequencer_limits};
use crate::journal::Chain;
use crate::journal::payload::{JOURNAL_RECORD_MAX, encode};
use crate::records::{Auth, Extras};
use crate::types::{
    AccountKey, AssetId, ClientId, MarketId, OrderType, PriceTicks, QuantitySteps,
    SelfTradePrevention, SequenceNumber, Side, TimeInForce,
};

/// The small engine after deposits from two accounts and orders that rest and trade.
fn traded_engine() -> Engine {
    let mut engine = snapshot_engine();
    let order = |side, price, client| {
        Action::Place(PlaceOrder {
            market: MarketId(0),
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Gtc,
            self_trade_prevention: SelfTradePrevention::RejectTaker,
            post_only: false,
            client_id: Some(ClientId(client)),
            price: PriceTicks(price),
            quantity: QuantitySteps(100),
            quote_quantity: 0,
        })
    };
    let actions = [
        (1, Action::Deposit { asset: AssetId(0), amount: 10_000_000_000 }),
        (2, Action::Deposit { asset: AssetId(1), amount: 10_000_000_000 }),
        (1, order(Side::Bid, 15_000, 1)),
        (2, order(Side::Ask, 15_100, 2)),
        (2, order(Side::Ask, 14_900, 3)),
    ];
    for (index, (account, action)) in actions.into_iter().enumerate() {
        let sequence = index as u64 + 1;
        let command = Command {
            sequence: SequenceNumber(sequence),
            time_us: 1_700_000_000_000_000 + sequence,
            account: AccountKey([account; 32]),
            action,
        };
        let auth = Auth {
            signature: [1; 64],
            replay_digest: [sequence as u8; 32],
            timestamp_ms: 1_700_000_000_000,
            window_ms: 5_000,
        };
        let mut payload = [0u8; JOURNAL_RECORD_MAX];
        let length = encode(&command, &auth, &Extras::default(), &mut payload);
        let record = SequenceNumber(sequence);
        engine.apply(record, Chain(sequence * 7), &payload[..length], None).unwrap();
    }
    assert!(engine.matcher.check_invariants().is_ok());
    engine
}

#[test]
fn a_snapshot_decodes_to_the_state_it_was_made_of_and_encodes_the_same_again() {
    let engine = traded_engine();
    let fingerprint = snapshot_config().state_fingerprint();
    let bytes = file::to_bytes(&engine, fingerprint);
    let decoded = file::decode(&bytes, snapshot_config(), snapshot_sequencer_limits()).unwrap();
    assert_eq!(decoded.matcher.state_hash(), engine.matcher.state_hash());
    assert_eq!((decoded.base, decoded.last_time_us), (engine.base, engine.last_time_us));
    assert!(decoded.matcher.check_invariants().is_ok());
    assert_eq!(file::to_bytes(&decoded, fingerprint), bytes, "the encoding is deterministic");
}

#[test]
fn any_damaged_byte_or_another_configuration_is_refused() {
    let engine = traded_engine();
    let (config, limits) = (snapshot_config(), snapshot_sequencer_limits());
    let bytes = file::to_bytes(&engine, config.state_fingerprint());
    let step = (bytes.len() / 997).max(1);
    for at in (0..HEADER_SIZE).chain((HEADER_SIZE..bytes.len()).step_by(step)) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        let refusal = file::decode(&damaged, config, limits).err();
        assert!(refusal.is_some(), "byte {at} damaged, still accepted");
        if at >= HEADER_SIZE {
            assert_eq!(refusal, Some(Refusal::PayloadCrc));
        }
    }
    assert!(matches!(
        file::decode(&bytes[..bytes.len() - 1], config, limits),
        Err(Refusal::Truncated { .. })
    ));
    let mut other = (**config).clone();
    other.limits.orders_max += 1;
    let other = std::sync::Arc::new(other);
    assert!(matches!(file::decode(&bytes, &other, limits), Err(Refusal::Fingerprint { .. })));
}

#[test]
fn snapshot_names_round_trip_and_nothing_else_parses() {
    let name = file::file_name(SequenceNumber(123));
    assert_eq!(name, "snapshot-00000000000000000123.snap");
    assert_eq!(file::parse_file_name(&name), Some(SequenceNumber(123)));
    for other in [
        "snapshot-00000000000000000000.snap",
        "snapshot-123.snap",
        "snapshot-00000000000000000123.snap.tmp",
        "00000000000000000001.journal",
    ] {
        assert_eq!(file::parse_file_name(other), None, "{other}");
    }
}
