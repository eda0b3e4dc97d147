//! sequencer: the one place that stamps the global sequence number.
//!
//! **Reads** ring A in arrival order, gated on every verifier's cursor (a slot is read only once
//! its verifier has written the verdict). **Writes** ring B: one slot per command (a batch of *n*
//! orders becomes *n* consecutive sequence numbers), one pass-through slot per read, rejection
//! or close, and one per action of a WebSocket SUBSCRIBE/UNSUBSCRIBE frame (none for a frame
//! without actions). The matcher consumes ring B and the journal thread follows it. **Owns** the
//! sequence counter, the engine clock, the replay cache and the per-key rate limiter — one
//! thread, no locks.
//!
//! For a request whose signature verified: the time window again, by the sequencer's clock (401),
//! the replay check (signed POST/DELETE, 409) and the per-key rate limit (429, administrator
//! exempt), then verify's verdict.
//!
//! **This clock decides.** verify checks the window first, with its own clock, to refuse late
//! requests before paying for their signatures; but a request verify passed in the last
//! millisecond of its window can reach the sequencer after it. The sequencer's clock (this run's
//! latest reading of `clock::engine_us`, never decreasing) is the one that admits or refuses, and
//! the replay cache judges expiry by the same clock, so an entry leaves the cache only when no
//! copy of its request can be admitted any more (see `replay`). ARCHITECTURE.md lists which
//! clock decides what.
//!
//! A WebSocket frame's stream actions are not commands: verify judged their signature, once, by
//! its clock, and they pass without the window, replay or per-key check (ARCHITECTURE.md).
//!
//! Only state-changing commands get a sequence number; queries, reads and rejections pass with
//! the current watermark so net-out answers them no earlier than the writes before them become
//! durable.
//!
//! Invariants: sequence numbers are contiguous from 1; engine time never decreases; nothing here
//! allocates, blocks or does I/O.

pub mod accounts;
pub mod replay;
pub mod stage;

use crate::api::error::ApiError;
use crate::command::Action;
use crate::command::Command;
use crate::rate_limit::RateLimiter;
use crate::records::{
    Auth, Extras, ReadQuery, RequestSlot, SequencedSlot, Verdict, Work, WsRequest,
};
use crate::types::SequenceNumber;
use accounts::KnownAccounts;
use replay::{ReplayCache, ReplayError};

/// Retry-After when the replay cache is full: entries free up within one window.
const REPLAY_FULL_RETRY_S: u32 = 1;

/// Sizes of the sequencer's tables.
#[derive(Clone, Copy, Debug)]
pub struct SequencerLimits {
    /// Live replay-cache entries (signed POST/DELETE requests inside their windows).
    pub replay_entries_max: usize,
    /// Per-key requests per second (0 = off).
    pub key_rate_per_s: u64,
    /// Per-key burst.
    pub key_burst: u64,
    /// Keys the rate limiter remembers.
    pub keys_max: usize,
    /// Accounts the engine holds at most (`[limits] accounts_max`): the known-key set's size.
    pub accounts_max: usize,
}

impl Default for SequencerLimits {
    fn default() -> Self {
        SequencerLimits {
            replay_entries_max: 1 << 20,
            key_rate_per_s: 0,
            key_burst: 0,
            keys_max: 1 << 16,
            accounts_max: 1 << 16,
        }
    }
}

/// The sequencer's state.
pub struct Sequencer {
    next_sequence: u64,
    /// This run's clock, Unix µs: the latest reading of the sequencer's clock, never
    /// decreasing. Windows, replay-cache expiry and the per-key limit are judged by it.
    clock_us: u64,
    /// The engine time stamped into commands: `clock_us`, but never below the journal's last
    /// command (so stamps never go back across a restart, even if the clock did).
    last_time_us: u64,
    replay: ReplayCache,
    key_limiter: RateLimiter,
    /// Keys a deposit was sequenced to; the others' commands are unsequenced (see `accounts`).
    known: KnownAccounts,
    /// Signed POST/DELETE requests stamped before this (Unix ms) are refused as expired unless
    /// the replay cache already holds them; 0 when there was no earlier run.
    signed_since_ms: u64,
    /// Requests the per-key limit refused so far (published by the stage loop as a metric).
    key_rate_limited: u64,
}

/// The sequencer's part of a snapshot, as written: the replay cache, the keys a deposit was
/// sequenced to, and the restart cutoff.
#[derive(serde::Serialize)]
pub struct SequencerMemoryRef<'a> {
    replay: &'a ReplayCache,
    known: &'a KnownAccounts,
    signed_since_ms: u64,
}

impl SequencerMemoryRef<'_> {
    /// An owned copy (the snapshot thread's sequencer starts from one).
    pub fn to_owned(&self) -> SequencerMemory {
        SequencerMemory {
            replay: self.replay.clone(),
            known: self.known.clone(),
            signed_since_ms: self.signed_since_ms,
        }
    }
}

/// The sequencer's part of a snapshot, as read (the same encoding as [`SequencerMemoryRef`]).
#[derive(serde::Deserialize)]
pub struct SequencerMemory {
    replay: ReplayCache,
    known: KnownAccounts,
    signed_since_ms: u64,
}

impl Sequencer {
    /// A sequencer continuing after `last_sequence` (0 for a new journal).
    pub fn new(
        limits: SequencerLimits,
        last_sequence: SequenceNumber,
        last_time_us: u64,
    ) -> Sequencer {
        Sequencer {
            next_sequence: last_sequence.0 + 1,
            clock_us: 0,
            last_time_us,
            replay: ReplayCache::with_entries_max(limits.replay_entries_max),
            key_limiter: RateLimiter::new(limits.key_rate_per_s, limits.key_burst, limits.keys_max),
            known: KnownAccounts::with_accounts_max(limits.accounts_max),
            signed_since_ms: 0,
            key_rate_limited: 0,
        }
    }

    /// After a restart: refuses, as expired, signed POST/DELETE requests stamped before
    /// `cutoff_ms` that the rebuilt replay cache does not hold. The run before may have seen
    /// such a request and rejected it, and a rejection leaves nothing in the journal to rebuild
    /// its entry from: without this, the same bytes could still execute inside their window.
    /// The cost is that a request signed before the restart must be signed again.
    pub fn refuse_signed_before(&mut self, cutoff_ms: u64) {
        self.signed_since_ms = self.signed_since_ms.max(cutoff_ms);
    }

    /// Continues numbering after `last_sequence` and engine time after `last_time_us` (the
    /// journal's last record), keeping the replay cache rebuilt from it.
    pub fn continue_after(&mut self, last_sequence: SequenceNumber, last_time_us: u64) {
        self.next_sequence = last_sequence.0 + 1;
        self.last_time_us = last_time_us;
    }

    /// What a snapshot keeps of the sequencer (the rest is numbering, set by
    /// [`continue_after`](Self::continue_after), and per-key rate buckets, which start full).
    pub fn memory(&self) -> SequencerMemoryRef<'_> {
        SequencerMemoryRef {
            replay: &self.replay,
            known: &self.known,
            signed_since_ms: self.signed_since_ms,
        }
    }

    /// A sequencer holding `memory` read from a snapshot, numbering from 1 until
    /// [`continue_after`](Self::continue_after).
    pub fn with_memory(limits: SequencerLimits, memory: SequencerMemory) -> Sequencer {
        let mut sequencer = Sequencer::new(limits, SequenceNumber(0), 0);
        let SequencerMemory { replay, mut known, signed_since_ms } = memory;
        known.restore_capacity();
        sequencer.replay = replay;
        sequencer.known = known;
        sequencer.signed_since_ms = signed_since_ms;
        sequencer
    }

    /// Requests the per-key rate limit refused so far.
    pub fn key_rate_limited(&self) -> u64 {
        self.key_rate_limited
    }

    /// The last sequence number stamped.
    pub fn watermark(&self) -> SequenceNumber {
        SequenceNumber(self.next_sequence - 1)
    }

    /// Restores what a journal record tells the sequencer at start-up (`now_ms`: the wall clock
    /// then): a deposit's key becomes known, and the replay cache gets the record's entry.
    /// Expired entries stay out: their copies are refused as expired.
    pub fn remember(&mut self, command: &Command, auth: &Auth, now_ms: u64) {
        if let Action::Deposit { .. } = command.action {
            self.known.note_deposit(&command.account);
        }
        let expires_ms = auth.timestamp_ms.saturating_add(auth.window_ms).max(1);
        // A batch journals one record per order with the same signature: later ones are
        // duplicates of the first, which is what they are.
        if self.replay.admit(&auth.replay_digest, expires_ms, now_ms) == Err(ReplayError::Full) {
            // No room to remember it (a smaller cache than the last run's): refuse everything
            // stamped up to it instead, so it cannot run a second time.
            self.refuse_signed_before(auth.timestamp_ms.saturating_add(1));
        }
    }

    /// Sequences one verified ring A slot at server time `now_us`, handing each ring B record to
    /// `publish` in order.
    pub fn sequence(
        &mut self,
        slot: &RequestSlot,
        now_us: u64,
        mut publish: impl FnMut(SequencedSlot),
    ) {
        self.clock_us = self.clock_us.max(now_us);
        self.last_time_us = self.last_time_us.max(self.clock_us);
        let now_ms = self.clock_us / 1000;
        let mut out = SequencedSlot {
            reply: slot.reply,
            work: Work::Close,
            watermark: self.watermark(),
            auth: Auth::default(),
            extras: Extras::default(),
            applied: false,
        };
        if let Err(error) = self.admit(slot, now_ms) {
            out.work = Work::Reject(error);
            publish(out);
            return;
        }
        match slot.verdict {
            Verdict::Pending => panic!("the sequencer read a slot its verifier has not finished"),
            Verdict::Close => out.work = Work::Close,
            Verdict::Shutdown => out.work = Work::Shutdown,
            Verdict::Reject(error) => out.work = Work::Reject(error),
            Verdict::Read { account, query } => {
                out.work = Work::Read { account, query };
                if let ReadQuery::WebSocket(_) = query {
                    // The accept key or the Pong's payload.
                    out.extras = slot.extras;
                }
            }
            Verdict::StreamActions { count } => {
                pass_stream_actions(slot, count as usize, &mut out, publish);
                return;
            }
            Verdict::Commands { count } => {
                self.sequence_commands(slot, count as usize, &mut out, publish);
                return;
            }
        }
        publish(out);
    }

    /// The window, the replay check and the per-key rate limit, for requests whose signature
    /// verified, at engine time `now_ms`. Not for a WebSocket frame's stream actions, though
    /// their signer is set: a subscription is not a command, and verify alone judges its
    /// signature (ARCHITECTURE.md, "Which clock decides what").
    fn admit(&mut self, slot: &RequestSlot, now_ms: u64) -> Result<(), ApiError> {
        use crate::api::error::ErrorKind;
        let Some(signer) = slot.signer else {
            return Ok(());
        };
        if matches!(slot.verdict, Verdict::StreamActions { .. }) {
            return Ok(());
        }
        let expires_ms = slot.auth.timestamp_ms.saturating_add(slot.auth.window_ms).max(1);
        if now_ms > expires_ms {
            return Err(ApiError::new(ErrorKind::RequestExpired));
        }
        // The per-key limit first: a request it refuses leaves no replay entry behind.
        if !slot.signer_is_admin {
            let key = u128::from_le_bytes(signer.0[..16].try_into().unwrap());
            if let Err(retry_after_s) = self.key_limiter.take(key, now_ms) {
                self.key_rate_limited += 1;
                return Err(ApiError::too_many_requests(retry_after_s));
            }
        }
        // A key with no account gets no entry: its commands run unsequenced and change nothing,
        // so a copy of one is as harmless as the first (see `accounts`).
        if slot.replay_checked && self.holds_state(slot) {
            let admitted = self.replay.admit(&slot.auth.replay_digest, expires_ms, now_ms);
            let before_restart = slot.auth.timestamp_ms < self.signed_since_ms;
            match admitted {
                Err(ReplayError::Duplicate) => {
                    return Err(ApiError::new(ErrorKind::DuplicateRequest));
                }
                // Stamped before the restart cutoff and not journaled (see
                // `refuse_signed_before`): expired, whether or not the cache had room.
                _ if before_restart => return Err(ApiError::new(ErrorKind::RequestExpired)),
                Err(ReplayError::Expired) => return Err(ApiError::new(ErrorKind::RequestExpired)),
                Err(ReplayError::Full) => {
                    return Err(ApiError::too_many_requests(REPLAY_FULL_RETRY_S));
                }
                Ok(()) => {}
            }
        }
        Ok(())
    }

    /// Whether the slot's commands may change state: the administrator's always; a user's only
    /// once a deposit to its key was sequenced.
    fn holds_state(&self, slot: &RequestSlot) -> bool {
        slot.signer_is_admin || slot.signer.is_some_and(|signer| self.known.may_hold(&signer))
    }

    fn sequence_commands(
        &mut self,
        slot: &RequestSlot,
        count: usize,
        out: &mut SequencedSlot,
        mut publish: impl FnMut(SequencedSlot),
    ) {
        let is_batch = slot.reply.route == crate::api::routes::Route::Orders
            && slot.reply.method == crate::api::routes::Method::Post;
        let sequenced = self.holds_state(slot);
        for (index, item) in slot.items[..count].iter().enumerate() {
            if is_batch {
                out.reply.item = index as u16;
                out.reply.items = count as u16;
            }
            out.work = match *item {
                Err(error) => Work::Reject(error),
                Ok(command) if sequenced => Work::Command(self.stamp(command)),
                Ok(command) => Work::Command(self.pass_unsequenced(command)),
            };
            if matches!(out.work, Work::Command(command) if command.sequence.0 != 0) {
                out.auth = slot.auth;
                out.extras = slot.extras;
            } else {
                out.auth = Auth::default();
                out.extras = Extras::default();
            }
            out.watermark = self.watermark();
            publish(*out);
        }
    }

    /// A command of a key with no account: sequence 0, like a query, so it is neither numbered
    /// nor journaled; the matcher answers it and changes nothing.
    fn pass_unsequenced(&self, command: Command) -> Command {
        Command { sequence: SequenceNumber(0), time_us: self.last_time_us, ..command }
    }

    fn stamp(&mut self, command: Command) -> Command {
        if let Action::Deposit { .. } = command.action {
            self.known.note_deposit(&command.account);
        }
        let sequence = if command.action.is_query() {
            SequenceNumber(0)
        } else {
            let sequence = SequenceNumber(self.next_sequence);
            self.next_sequence += 1;
            sequence
        };
        Command { sequence, time_us: self.last_time_us, ..command }
    }
}

/// One read record per action of a WebSocket frame, in frame order (`reply.item` of
/// `reply.items`), for the signer's account (zero without one): no sequence number, nothing
/// journaled. A frame without actions publishes nothing.
fn pass_stream_actions(
    slot: &RequestSlot,
    count: usize,
    out: &mut SequencedSlot,
    mut publish: impl FnMut(SequencedSlot),
) {
    let account = slot.signer.unwrap_or_default();
    for (index, &action) in slot.stream_actions.iter().take(count).enumerate() {
        out.reply.item = index as u16;
        out.reply.items = count as u16;
        out.work = Work::Read { account, query: ReadQuery::WebSocket(WsRequest::Stream(action)) };
        publish(*out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::ErrorKind;
    use crate::api::routes::{Method, Route};
    use crate::command::{Action, OrderRef};
    use crate::constants::CLOCK_SKEW_AHEAD_MAX_MS;
    use crate::records::ReadQuery;
    use crate::types::{AccountKey, AssetId, MarketId, OrderId};

    /// A sequencer to which a deposit for the test signer (key 3) was already sequenced.
    fn known_sequencer(
        limits: SequencerLimits,
        last_sequence: SequenceNumber,
        last_time_us: u64,
    ) -> Sequencer {
        let mut sequencer = Sequencer::new(limits, last_sequence, last_time_us);
        sequencer.known.note_deposit(&AccountKey([3; 32]));
        sequencer
    }

    #[test]
    fn a_key_without_an_account_is_unsequenced_and_leaves_no_replay_entry() {
        let mut sequencer = Sequencer::new(SequencerLimits::default(), SequenceNumber(0), 0);
        let mut slot = signed_slot(1);
        slot.items[0] = Ok(command(Action::CancelAll { market: MarketId(0) }));
        for _ in 0..3 {
            let out = run(&mut sequencer, &slot, 2_000_000);
            assert!(matches!(out[0].work, Work::Command(command) if command.sequence.0 == 0));
            assert_eq!(out[0].auth, Auth::default(), "nothing for the journal");
        }
        assert!(sequencer.replay.is_empty());
        assert_eq!(sequencer.watermark(), SequenceNumber(0));
        // The administrator deposits to the key: from then on its commands are sequenced.
        let mut deposit = signed_slot(1);
        deposit.signer = Some(AccountKey([9; 32]));
        deposit.signer_is_admin = true;
        deposit.auth.replay_digest = [77; 32];
        deposit.items[0] = Ok(command(Action::Deposit { asset: AssetId(0), amount: 1 }));
        assert!(matches!(run(&mut sequencer, &deposit, 2_000_000)[0].work,
            Work::Command(command) if command.sequence.0 == 1));
        let out = run(&mut sequencer, &slot, 2_000_000);
        assert!(matches!(out[0].work, Work::Command(command) if command.sequence.0 == 2));
        let again = run(&mut sequencer, &slot, 2_000_000);
        assert_eq!(again[0].work, Work::Reject(ApiError::new(ErrorKind::DuplicateRequest)));
    }

    #[test]
    fn the_per_key_limit_refuses_before_a_replay_entry_is_made() {
        let limits =
            SequencerLimits { key_rate_per_s: 1, key_burst: 1, ..SequencerLimits::default() };
        let mut sequencer = known_sequencer(limits, SequenceNumber(0), 0);
        let mut slot = signed_slot(1);
        slot.items[0] = Ok(command(Action::CancelAll { market: MarketId(0) }));
        assert!(matches!(run(&mut sequencer, &slot, 2_000_000)[0].work, Work::Command(_)));
        slot.auth.replay_digest = [55; 32];
        assert!(matches!(run(&mut sequencer, &slot, 2_000_000)[0].work, Work::Reject(_)));
        assert_eq!(sequencer.replay.len(), 1, "the refused request left no entry");
    }

    fn run(sequencer: &mut Sequencer, slot: &RequestSlot, now_us: u64) -> Vec<SequencedSlot> {
        let mut out = Vec::new();
        sequencer.sequence(slot, now_us, |record| out.push(record));
        out
    }

    fn command(action: Action) -> Command {
        Command { sequence: SequenceNumber(0), time_us: 0, account: AccountKey([3; 32]), action }
    }

    fn signed_slot(count: usize) -> Box<RequestSlot> {
        let mut slot = Box::new(RequestSlot::empty());
        slot.reply.route = Route::Orders;
        slot.reply.method = Method::Post;
        slot.verdict = Verdict::Commands { count: count as u8 };
        slot.signer = Some(AccountKey([3; 32]));
        slot.replay_checked = true;
        slot.auth.timestamp_ms = 1_000;
        slot.auth.window_ms = 5_000;
        slot.auth.replay_digest = [count as u8; 32];
        slot
    }

    #[test]
    fn batches_get_consecutive_sequences_and_items_keep_their_place() {
        let mut sequencer = known_sequencer(SequencerLimits::default(), SequenceNumber(41), 0);
        let mut slot = signed_slot(3);
        slot.items[0] = Ok(command(Action::Deposit { asset: AssetId(0), amount: 1 }));
        slot.items[1] = Err(ApiError::new(ErrorKind::InvalidPrice));
        slot.items[2] = Ok(command(Action::CancelAll { market: MarketId(0) }));
        let out = run(&mut sequencer, &slot, 2_000_000);
        assert_eq!(out.len(), 3);
        let sequences: Vec<u64> = out
            .iter()
            .map(|record| match record.work {
                Work::Command(command) => command.sequence.0,
                _ => 0,
            })
            .collect();
        assert_eq!(sequences, vec![42, 0, 43]);
        assert_eq!((out[1].reply.item, out[1].reply.items), (1, 3));
        assert_eq!(out[2].watermark, SequenceNumber(43));
        assert_eq!(out[1].watermark, SequenceNumber(42));
        assert!(matches!(out[0].work, Work::Command(command) if command.time_us == 2_000_000));
    }

    #[test]
    fn after_a_restart_requests_signed_before_it_are_refused_unless_journaled() {
        let mut sequencer = known_sequencer(SequencerLimits::default(), SequenceNumber(0), 0);
        let cancel = Action::Cancel { market: MarketId(0), target: OrderRef::Id(OrderId(1)) };
        // Stamped at 1,000 ms: one journaled (and remembered at start-up), one not.
        let mut journaled = signed_slot(1);
        journaled.items[0] = Ok(command(cancel));
        sequencer.remember(&journaled.items[0].unwrap(), &journaled.auth, 2_000);
        let mut unknown = signed_slot(1);
        unknown.items[0] = Ok(command(cancel));
        unknown.auth.replay_digest = [7; 32];
        sequencer.refuse_signed_before(1_500);
        let expired = ApiError::new(ErrorKind::RequestExpired);
        let duplicate = ApiError::new(ErrorKind::DuplicateRequest);
        assert_eq!(run(&mut sequencer, &journaled, 2_000_000)[0].work, Work::Reject(duplicate));
        assert_eq!(run(&mut sequencer, &unknown, 2_000_000)[0].work, Work::Reject(expired));
        // Signed at or after the cutoff: sequenced as usual.
        let mut fresh = signed_slot(1);
        fresh.items[0] = Ok(command(cancel));
        fresh.auth.replay_digest = [8; 32];
        fresh.auth.timestamp_ms = 1_500;
        assert!(matches!(run(&mut sequencer, &fresh, 2_000_000)[0].work, Work::Command(_)));
        assert_eq!(sequencer.watermark(), SequenceNumber(1));
    }

    #[test]
    fn a_journaled_request_the_rebuilt_cache_has_no_room_for_still_cannot_run_again() {
        let limits = SequencerLimits { replay_entries_max: 1, ..SequencerLimits::default() };
        let mut sequencer = known_sequencer(limits, SequenceNumber(0), 0);
        let (first, second) = (order_slot(1), order_slot(2));
        sequencer.remember(&first.items[0].unwrap(), &first.auth, 2_000);
        // The cache holds one entry: the second journaled request does not fit.
        sequencer.remember(&second.items[0].unwrap(), &second.auth, 2_000);
        assert_eq!(copy_at(&mut sequencer, &first, 2_000), Outcome::Duplicate);
        assert_eq!(copy_at(&mut sequencer, &second, 2_000), Outcome::Expired);
        assert_eq!(sequencer.watermark(), SequenceNumber(0));
    }

    #[test]
    fn replays_are_refused_and_time_never_goes_back() {
        let mut sequencer = known_sequencer(SequencerLimits::default(), SequenceNumber(0), 0);
        let mut slot = signed_slot(1);
        slot.items[0] =
            Ok(command(Action::Cancel { market: MarketId(0), target: OrderRef::Id(OrderId(1)) }));
        let first = run(&mut sequencer, &slot, 3_000_000);
        assert!(
            matches!(first[0].work, Work::Command(command) if command.sequence == SequenceNumber(1))
        );
        let second = run(&mut sequencer, &slot, 2_000_000);
        assert_eq!(second[0].work, Work::Reject(ApiError::new(ErrorKind::DuplicateRequest)));
        slot.auth.replay_digest = [9; 32];
        let third = run(&mut sequencer, &slot, 2_000_000);
        assert!(
            matches!(third[0].work, Work::Command(command) if command.time_us == 3_000_000 && command.sequence == SequenceNumber(2))
        );
        // Reads and queries take no sequence number.
        let mut read = Box::new(RequestSlot::empty());
        read.verdict = Verdict::Read { account: AccountKey::default(), query: ReadQuery::Status };
        assert_eq!(run(&mut sequencer, &read, 0)[0].watermark, SequenceNumber(2));
        let mut query = signed_slot(1);
        query.replay_checked = false;
        query.items[0] = Ok(command(Action::QueryBalances));
        assert!(
            matches!(run(&mut sequencer, &query, 0)[0].work, Work::Command(command) if command.sequence.0 == 0)
        );
        assert_eq!(sequencer.watermark(), SequenceNumber(2));
    }

    #[test]
    fn per_key_rate_limit_exempts_the_administrator() {
        let limits =
            SequencerLimits { key_rate_per_s: 1, key_burst: 2, ..SequencerLimits::default() };
        let mut sequencer = known_sequencer(limits, SequenceNumber(0), 0);
        let mut slot = signed_slot(1);
        slot.auth.timestamp_ms = 9_000;
        slot.replay_checked = false;
        slot.items[0] = Ok(command(Action::QueryBalances));
        let verdicts: Vec<bool> = (0..3)
            .map(|_| matches!(run(&mut sequencer, &slot, 10_000_000)[0].work, Work::Command(_)))
            .collect();
        assert_eq!(verdicts, vec![true, true, false]);
        match run(&mut sequencer, &slot, 10_000_000)[0].work {
            Work::Reject(error) => assert_eq!((error.status(), error.retry_after_s), (429, 1)),
            other => panic!("{other:?}"),
        }
        slot.signer_is_admin = true;
        assert!(matches!(run(&mut sequencer, &slot, 10_000_000)[0].work, Work::Command(_)));
        assert_eq!(sequencer.key_rate_limited(), 2, "each refusal is counted");
    }

    #[test]
    fn stream_actions_pass_one_record_each_without_admission() {
        use crate::api::streams::{Stream, StreamAction, StreamError};
        let limits =
            SequencerLimits { key_rate_per_s: 1, key_burst: 1, ..SequencerLimits::default() };
        let mut sequencer = known_sequencer(limits, SequenceNumber(7), 0);
        let mut slot = Box::new(RequestSlot::empty());
        slot.reply.item = 9;
        let subscribe = StreamAction::Subscribe(Stream::OrderUpdate { market: None });
        let unsubscribe = StreamAction::Unsubscribe(Stream::Trade(MarketId(0)));
        let refused = StreamAction::Error(StreamError::InvalidStream);
        slot.stream_actions[..3].copy_from_slice(&[subscribe, refused, unsubscribe]);
        slot.verdict = Verdict::StreamActions { count: 3 };
        // Signed long ago: verify judged it, the sequencer's clock does not again; and no
        // per-key budget is spent (the burst is 1, the frame passes twice).
        slot.signer = Some(AccountKey([3; 32]));
        slot.auth.timestamp_ms = 1;
        slot.auth.window_ms = 1;
        for _ in 0..2 {
            let out = run(&mut sequencer, &slot, 10_000_000);
            let expected: Vec<(Work, u16, u16)> = [subscribe, refused, unsubscribe]
                .iter()
                .enumerate()
                .map(|(index, &action)| {
                    let query = ReadQuery::WebSocket(WsRequest::Stream(action));
                    (Work::Read { account: AccountKey([3; 32]), query }, index as u16, 3)
                })
                .collect();
            let got: Vec<(Work, u16, u16)> = out
                .iter()
                .map(|record| (record.work, record.reply.item, record.reply.items))
                .collect();
            assert_eq!(got, expected);
            assert!(out.iter().all(|record| record.watermark == SequenceNumber(7)));
            assert!(out.iter().all(|record| record.auth == Auth::default()));
        }
        // Without a signer: the zero account. Without actions: no record at all.
        slot.signer = None;
        slot.verdict = Verdict::StreamActions { count: 1 };
        let out = run(&mut sequencer, &slot, 10_000_000);
        assert!(
            matches!(out[..], [SequencedSlot { work: Work::Read { account, .. }, .. }] if account == AccountKey::default())
        );
        slot.verdict = Verdict::StreamActions { count: 0 };
        assert!(run(&mut sequencer, &slot, 10_000_000).is_empty());
        assert_eq!(sequencer.watermark(), SequenceNumber(7));
        // The per-key budget is untouched: a signed query still passes once.
        let mut query = signed_slot(1);
        query.replay_checked = false;
        query.auth.timestamp_ms = 9_000;
        query.items[0] = Ok(command(Action::QueryBalances));
        assert!(matches!(run(&mut sequencer, &query, 10_000_000)[0].work, Work::Command(_)));
    }

    /// What the sequencer made of one copy of a request.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Executed,
        Expired,
        Duplicate,
    }

    /// One signed order, as verify passed it: timestamp 1,000 ms, window 5,000 ms.
    fn order_slot(digest: u8) -> Box<RequestSlot> {
        let mut slot = signed_slot(1);
        slot.items[0] =
            Ok(command(Action::Cancel { market: MarketId(0), target: OrderRef::Id(OrderId(1)) }));
        slot.auth.replay_digest = [digest; 32];
        slot
    }

    fn copy_at(sequencer: &mut Sequencer, slot: &RequestSlot, sequencer_ms: u64) -> Outcome {
        let out = run(sequencer, slot, sequencer_ms * 1000);
        match out[0].work {
            Work::Command(command) if command.sequence.0 != 0 => Outcome::Executed,
            Work::Reject(error) if error == ApiError::new(ErrorKind::RequestExpired) => {
                Outcome::Expired
            }
            Work::Reject(error) if error == ApiError::new(ErrorKind::DuplicateRequest) => {
                Outcome::Duplicate
            }
            other => panic!("{other:?}"),
        }
    }

    /// verify's clock read `timestamp + window` (6,000 ms), the last instant it passes; the
    /// copies reach the sequencer at the same instant, one millisecond later, a whole window
    /// later, and after the replay cache has swept the entry.
    #[test]
    fn copies_verified_at_the_end_of_their_window_run_at_most_once() {
        let end_ms = 6_000;
        // An early copy ran; the late ones never do.
        let mut sequencer = known_sequencer(SequencerLimits::default(), SequenceNumber(0), 0);
        let slot = order_slot(1);
        assert_eq!(copy_at(&mut sequencer, &slot, 1_000), Outcome::Executed);
        assert_eq!(copy_at(&mut sequencer, &slot, end_ms), Outcome::Duplicate);
        assert_eq!(copy_at(&mut sequencer, &slot, end_ms + 1), Outcome::Expired);
        assert_eq!(copy_at(&mut sequencer, &slot, end_ms + 1), Outcome::Expired);
        assert_eq!(copy_at(&mut sequencer, &slot, end_ms + 5_000), Outcome::Expired);
        sequencer.replay.expire(end_ms + 5_000);
        assert!(sequencer.replay.is_empty(), "the entry is swept");
        assert_eq!(copy_at(&mut sequencer, &slot, end_ms + 5_000), Outcome::Expired);
        // The sequencer's clock read late but a copy's slot came from a verifier whose clock is
        // behind: the engine clock never goes back, so it is still expired.
        assert_eq!(copy_at(&mut sequencer, &slot, 1_000), Outcome::Expired);
        assert_eq!(sequencer.watermark(), SequenceNumber(1));

        // No early copy: the first to reach the sequencer inside the window runs, alone.
        let mut sequencer = known_sequencer(SequencerLimits::default(), SequenceNumber(0), 0);
        let slot = order_slot(2);
        assert_eq!(copy_at(&mut sequencer, &slot, end_ms), Outcome::Executed);
        assert_eq!(copy_at(&mut sequencer, &slot, end_ms), Outcome::Duplicate);
        assert_eq!(copy_at(&mut sequencer, &slot, end_ms + 1), Outcome::Expired);
        assert_eq!(sequencer.watermark(), SequenceNumber(1));

        // No copy inside the window at all: none runs.
        let slot = order_slot(3);
        assert_eq!(copy_at(&mut sequencer, &slot, end_ms + 1), Outcome::Expired);
        assert_eq!(sequencer.watermark(), SequenceNumber(1));
    }

    /// A copy of one of the model's requests: when verify read its clock, and how much later
    /// (or earlier: the clocks are two readings) the sequencer read its own.
    #[derive(Clone, Copy, Debug)]
    struct Arrival {
        request: usize,
        verify_ms: u64,
        sequencer_skew_ms: i64,
    }

    proptest::proptest! {
        /// Random requests and windows, copies arriving in any order with verify's and the
        /// sequencer's clocks skewed either way, a replay cache small enough to sweep and fill:
        /// no request ever runs twice, and none runs after its window by the engine clock.
        #[test]
        fn no_request_is_admitted_twice_whatever_the_clocks(
            requests in proptest::collection::vec((0u64..3_000, 1u64..2_000), 1..12),
            arrivals in proptest::collection::vec(
                (0usize..12, 0u64..6_000, -200i64..3_000),
                1..300,
            ),
            replay_entries_max in 1usize..16,
        ) {
            let limits = SequencerLimits { replay_entries_max, ..SequencerLimits::default() };
            let mut sequencer = known_sequencer(limits, SequenceNumber(0), 0);
            let mut executed = vec![0u32; requests.len()];
            for (request, verify_ms, sequencer_skew_ms) in arrivals {
                let arrival = Arrival { request: request % requests.len(), verify_ms, sequencer_skew_ms };
                let (timestamp_ms, window_ms) = requests[arrival.request];
                // verify's own check: a copy outside the window by its clock never gets here.
                let in_window = timestamp_ms <= arrival.verify_ms + CLOCK_SKEW_AHEAD_MAX_MS
                    && arrival.verify_ms <= timestamp_ms + window_ms;
                if !in_window {
                    continue;
                }
                let mut slot = order_slot(arrival.request as u8);
                slot.auth.timestamp_ms = timestamp_ms;
                slot.auth.window_ms = window_ms;
                let sequencer_ms = arrival.verify_ms.saturating_add_signed(arrival.sequencer_skew_ms);
                let out = run(&mut sequencer, &slot, sequencer_ms * 1000);
                if matches!(out[0].work, Work::Command(command) if command.sequence.0 != 0) {
                    executed[arrival.request] += 1;
                    let engine_ms = sequencer.clock_us / 1000;
                    proptest::prop_assert!(
                        engine_ms <= timestamp_ms + window_ms,
                        "{:?} ran at {} after its window", arrival, engine_ms
                    );
                }
                proptest::prop_assert!(
                    executed[arrival.request] <= 1,
                    "{:?} ran twice", arrival
                );
            }
        }
    }
}
