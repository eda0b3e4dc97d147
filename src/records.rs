//! The fixed-size records on the three rings, one record type per ring.
//!
//! ```text
//! net-in ──[RequestSlot]──► verify ×N ──► sequencer ──[SequencedSlot]──► matcher ──[OutputSlot]──► net-out
//!          ring A (verify writes its verdict        ring B (also read by        ring C
//!          into the same slot)                       the journal thread)
//! ```
//!
//! Every record is `Copy`-sized and preallocated by its ring's factory; nothing here owns heap
//! memory. Past verify, requests are typed integers: no `String`, no JSON.

use crate::api::error::ApiError;
use crate::api::routes::{Method, Route};
use crate::api::streams::{STREAM_ACTIONS_PER_FRAME_MAX, StreamAction, StreamError};
use crate::command::Command;
use crate::constants::{
    ADDRESS_MAX, BATCH_ORDERS_MAX, REQUEST_INLINE_MAX, WITHDRAWAL_CLIENT_ID_MAX,
};
use crate::event::Event;
use crate::types::{AccountKey, MarketId, OrderId, SequenceNumber};

/// A connection across its life: its slot in net-in's table and the slot's generation, so a
/// reused slot is never mistaken for the connection that had it before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnectionToken {
    /// Slot in the connection table.
    pub index: u32,
    /// Incremented each time the slot is reused.
    pub generation: u32,
}

/// Monotonic nanosecond stamps (since the process's clock epoch) taken as a request passes each
/// stage, so latency can be broken down stage by stage. Zero means "not reached".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageTimes {
    /// net-in finished framing the request.
    pub received_ns: u64,
    /// verify wrote its verdict.
    pub verified_ns: u64,
    /// The sequencer stamped it.
    pub sequenced_ns: u64,
    /// The matcher finished it.
    pub matched_ns: u64,
}

/// Where and how to answer: travels with the request from net-in to net-out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The connection that asked.
    pub connection: ConnectionToken,
    /// The path.
    pub route: Route,
    /// The method.
    pub method: Method,
    /// Keep the connection open after answering.
    pub keep_alive: bool,
    /// Position in a batch (`POST /api/v1/orders`), from 0.
    pub item: u16,
    /// Items in the batch; 0 when the request is not a batch.
    pub items: u16,
    /// Stage stamps.
    pub times: StageTimes,
}

impl Default for Reply {
    fn default() -> Reply {
        Reply {
            connection: ConnectionToken::default(),
            route: Route::Status,
            method: Method::Get,
            keep_alive: true,
            item: 0,
            items: 0,
            times: StageTimes::default(),
        }
    }
}

/// What the journal keeps of a signed request besides the command: enough to rebuild the replay
/// cache after a restart and to audit who signed what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Auth {
    /// The request's ED25519 signature.
    pub signature: [u8; 64],
    /// The replay-cache key: SHA-256 of the public key and the signing string.
    pub replay_digest: [u8; 32],
    /// `X-Timestamp`, Unix ms.
    pub timestamp_ms: u64,
    /// `X-Window`, ms.
    pub window_ms: u64,
}

impl Default for Auth {
    fn default() -> Auth {
        Auth { signature: [0; 64], replay_digest: [0; 32], timestamp_ms: 0, window_ms: 0 }
    }
}

/// Request data the engine does not need but the answer and the history do (user withdrawals).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Extras {
    /// Withdrawal `address`.
    #[serde(with = "serde_big_array::BigArray")]
    pub address: [u8; ADDRESS_MAX],
    /// Bytes of `address` used; 0 when absent.
    pub address_len: u8,
    /// Withdrawal `clientId` string.
    #[serde(with = "serde_big_array::BigArray")]
    pub client_id: [u8; WITHDRAWAL_CLIENT_ID_MAX],
    /// Bytes of `client_id` used.
    pub client_id_len: u8,
    /// Whether a `clientId` was given (it may be empty).
    pub has_client_id: bool,
}

impl Default for Extras {
    fn default() -> Extras {
        Extras {
            address: [0; ADDRESS_MAX],
            address_len: 0,
            client_id: [0; WITHDRAWAL_CLIENT_ID_MAX],
            client_id_len: 0,
            has_client_id: false,
        }
    }
}

impl Extras {
    /// Extras carrying `bytes` (at most [`ADDRESS_MAX`]) in `address`: a WebSocket accept key or
    /// Pong payload.
    pub fn with_bytes(bytes: &[u8]) -> Extras {
        let mut extras = Extras::default();
        let length = bytes.len().min(ADDRESS_MAX);
        extras.address[..length].copy_from_slice(&bytes[..length]);
        extras.address_len = length as u8;
        extras
    }
    /// The address bytes.
    pub fn address(&self) -> &[u8] {
        &self.address[..self.address_len as usize]
    }
    /// The client id bytes, if given.
    pub fn client_id(&self) -> Option<&[u8]> {
        self.has_client_id.then(|| &self.client_id[..self.client_id_len as usize])
    }
    /// Whether there is anything to keep.
    pub fn is_empty(&self) -> bool {
        self.address_len == 0 && !self.has_client_id
    }
}

/// Rolling window of a ticker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickerWindow {
    /// 24 hours.
    Day,
    /// 7 days.
    Week,
}

/// Kline bucket sizes (`1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1month`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KlineInterval {
    /// A fixed number of seconds, aligned to the epoch (weeks to Monday).
    Seconds(u32),
    /// Calendar months, aligned to the 1st (UTC).
    Month,
}

/// Every kline interval with its API spelling: the one table both directions read.
const KLINE_INTERVALS: [(&str, KlineInterval); 16] = [
    ("1s", KlineInterval::Seconds(1)),
    ("1m", KlineInterval::Seconds(60)),
    ("3m", KlineInterval::Seconds(180)),
    ("5m", KlineInterval::Seconds(300)),
    ("15m", KlineInterval::Seconds(900)),
    ("30m", KlineInterval::Seconds(1_800)),
    ("1h", KlineInterval::Seconds(3_600)),
    ("2h", KlineInterval::Seconds(7_200)),
    ("4h", KlineInterval::Seconds(14_400)),
    ("6h", KlineInterval::Seconds(21_600)),
    ("8h", KlineInterval::Seconds(28_800)),
    ("12h", KlineInterval::Seconds(43_200)),
    ("1d", KlineInterval::Seconds(86_400)),
    ("3d", KlineInterval::Seconds(259_200)),
    ("1w", KlineInterval::Seconds(604_800)),
    ("1month", KlineInterval::Month),
];

impl KlineInterval {
    /// From the API's spelling.
    pub fn parse(text: &[u8]) -> Option<KlineInterval> {
        KLINE_INTERVALS
            .iter()
            .find(|(spelling, _)| spelling.as_bytes() == text)
            .map(|&(_, interval)| interval)
    }

    /// Every interval, in the table's order.
    pub fn all() -> impl Iterator<Item = KlineInterval> {
        KLINE_INTERVALS.iter().map(|&(_, interval)| interval)
    }

    /// The interval's position in [`KlineInterval::all`] (0..16).
    pub fn index(self) -> usize {
        KLINE_INTERVALS
            .iter()
            .position(|&(_, interval)| interval == self)
            .expect("every interval is in the table")
    }

    /// How many intervals there are.
    pub const COUNT: usize = KLINE_INTERVALS.len();

    /// The API's spelling.
    pub fn text(self) -> &'static str {
        KLINE_INTERVALS
            .iter()
            .find(|&&(_, interval)| interval == self)
            .map(|&(spelling, _)| spelling)
            .expect("every interval is in the table")
    }
}

/// Filters shared by the history queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Only this market.
    pub market: Option<MarketId>,
    /// Only this order.
    pub order_id: Option<OrderId>,
    /// From this time, ms inclusive.
    pub from_ms: Option<u64>,
    /// To this time, ms inclusive.
    pub to_ms: Option<u64>,
    /// Most records to return.
    pub limit: u32,
    /// Records to skip first (in the answer's order).
    pub offset: u32,
    /// Oldest first (`sortDirection=Asc`); newest first otherwise.
    pub ascending: bool,
}

/// A read answered by net-out from its read-side view, in pipeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadQuery {
    /// `GET /api/v1/status`.
    Status,
    /// `GET /api/v1/ping`.
    Ping,
    /// `GET /api/v1/time`.
    Time,
    /// `GET /api/v1/markets` (`matches`: false when filtered by a non-SPOT market type).
    Markets {
        /// Whether the `marketType` filter matches spot markets.
        matches: bool,
    },
    /// `GET /api/v1/market`.
    Market(MarketId),
    /// `GET /api/v1/assets`.
    Assets,
    /// `GET /api/v1/ticker`.
    Ticker(MarketId, TickerWindow),
    /// `GET /api/v1/tickers`.
    Tickers(TickerWindow),
    /// `GET /api/v1/depth`.
    Depth {
        /// Market.
        market: MarketId,
        /// Levels per side.
        limit: u16,
    },
    /// `GET /api/v1/trades` and `/trades/history`.
    Trades {
        /// Market.
        market: MarketId,
        /// Most trades.
        limit: u16,
        /// Newest trades skipped.
        offset: u32,
    },
    /// `GET /api/v1/klines`.
    Klines {
        /// Market.
        market: MarketId,
        /// Bucket size.
        interval: KlineInterval,
        /// From, Unix seconds.
        start_s: u64,
        /// To, Unix seconds (exclusive end of the last bucket considered).
        end_s: u64,
    },
    /// `GET /wapi/v1/history/fills` of the signer.
    FillHistory(HistoryFilter),
    /// `GET /wapi/v1/history/orders` of the signer.
    OrderHistory(HistoryFilter),
    /// `GET /wapi/v1/capital/withdrawals` of the signer.
    Withdrawals(HistoryFilter),
    /// `GET /wapi/v1/capital/deposits` of the signer.
    Deposits(HistoryFilter),
    /// A filter that matches nothing (`marketType` other than SPOT, `fillType` other than User):
    /// `[]`.
    EmptyList,
    /// Something a WebSocket connection needs from net-out; nothing is read from the view.
    WebSocket(WsRequest),
    /// `GET /metrics`: net-out renders what the stages measured (`crate::metrics`).
    Metrics,
}

/// What a WebSocket connection needs net-out to do: net-in and verify decide it, net-out (which
/// writes every socket and owns the subscriptions) does it, in the connection's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsRequest {
    /// Answer the upgrade `101 Switching Protocols`; `Sec-WebSocket-Accept` is in the extras'
    /// `address` (28 bytes). The connection speaks WebSocket from here on.
    Upgrade,
    /// Answer a client's Ping with a Pong carrying its payload (the extras' `address`).
    Pong,
    /// Send a Close frame with this code (the client's Close echoed, a protocol violation, the
    /// Pong timeout); net-in reads no more of the connection.
    Close {
        /// The status code.
        code: u16,
    },
    /// One action of a SUBSCRIBE/UNSUBSCRIBE frame.
    Stream(StreamAction),
}

/// One order of a batch as verify parsed it: a command, or its own error.
pub type BatchItem = Result<Command, ApiError>;

/// verify's verdict on a request, written into its ring A slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not yet verified.
    Pending,
    /// Answer with this error; nothing is sequenced.
    Reject(ApiError),
    /// A read answered by net-out for `account` (the signer; zero for public reads).
    Read {
        /// The signer.
        account: AccountKey,
        /// What to read.
        query: ReadQuery,
    },
    /// Commands for the matcher in `RequestSlot::items[..count]` (a batch, or one command).
    /// Queries among them pass the sequencer unsequenced.
    Commands {
        /// Items used.
        count: u8,
    },
    /// A WebSocket frame's actions in `RequestSlot::stream_actions[..count]`, each passed on to
    /// net-out as its own record (no sequence number; nothing to journal).
    StreamActions {
        /// Actions used (0: the frame changes nothing and nothing is answered).
        count: u16,
    },
    /// The connection is gone: net-out closes it once everything before is answered.
    Close,
    /// The server is stopping: every stage finishes what came before and exits.
    Shutdown,
}

/// What net-in framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// An HTTP request to verify.
    Http,
    /// net-in already decided the answer (HTTP-level error, unknown route, rate limit).
    Answered(ApiError),
    /// A WebSocket upgrade net-in accepted: `Sec-WebSocket-Accept` is in the extras' `address`.
    WsUpgrade,
    /// A WebSocket text message (SUBSCRIBE/UNSUBSCRIBE) for verify, as the body (`target_len`
    /// is 0).
    WsText,
    /// A WebSocket Pong or Close net-in decided; a Pong's payload is in the extras' `address`.
    WsControl(WsRequest),
    /// The peer closed or the connection failed: close it after the answers before it.
    Closed,
    /// The server is stopping: the last record net-in publishes.
    Shutdown,
}

/// A header value net-in copied for verify, bounded in size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderValue<const N: usize> {
    bytes: [u8; N],
    len: u16,
    /// The header was present.
    pub present: bool,
    /// It was longer than `N` bytes (and is therefore invalid).
    pub too_long: bool,
}

impl<const N: usize> Default for HeaderValue<N> {
    fn default() -> Self {
        HeaderValue { bytes: [0; N], len: 0, present: false, too_long: false }
    }
}

impl<const N: usize> HeaderValue<N> {
    /// Records a header's value.
    pub fn set(&mut self, value: &[u8]) {
        self.present = true;
        self.too_long = value.len() > N;
        let length = value.len().min(N);
        self.bytes[..length].copy_from_slice(&value[..length]);
        self.len = length as u16;
    }
    /// The value, `None` when absent.
    pub fn get(&self) -> Option<&[u8]> {
        self.present.then(|| &self.bytes[..self.len as usize])
    }
}

/// The authentication headers of a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthHeaders {
    /// `X-API-Key` (44 base64 characters when valid).
    pub api_key: HeaderValue<64>,
    /// `X-Signature` (88 base64 characters when valid).
    pub signature: HeaderValue<128>,
    /// `X-Timestamp`.
    pub timestamp: HeaderValue<24>,
    /// `X-Window`.
    pub window: HeaderValue<24>,
}

/// `RequestSlot::overflow` when the request is inline.
pub const NO_OVERFLOW: u32 = u32::MAX;

/// A ring A slot: written by net-in, then by the verifier that owns its sequence, then read by
/// the sequencer.
pub struct RequestSlot {
    /// Where to answer (route, method, keep-alive, stamps).
    pub reply: Reply,
    /// What net-in framed.
    pub kind: RequestKind,
    /// Authentication headers.
    pub headers: AuthHeaders,
    /// Bytes of the request target (path and query) at the start of the request bytes.
    pub target_len: u32,
    /// Bytes of body after the target.
    pub body_len: u32,
    /// Target and body when they fit; see `overflow`.
    pub inline: [u8; REQUEST_INLINE_MAX],
    /// Overflow buffer holding target and body when they do not fit inline, else
    /// [`NO_OVERFLOW`].
    pub overflow: u32,
    /// verify's verdict.
    pub verdict: Verdict,
    /// Batch items (or the single command) when the verdict is `Commands`.
    pub items: [BatchItem; BATCH_ORDERS_MAX],
    /// Signature data for the journal and the replay cache (signed state-changing requests).
    pub auth: Auth,
    /// Whether the request must pass the replay check (signed POST and DELETE).
    pub replay_checked: bool,
    /// The key whose signature verified (subject to the per-key rate limit unless administrator).
    pub signer: Option<AccountKey>,
    /// Whether the signer is the administrator (exempt from rate limits).
    pub signer_is_admin: bool,
    /// net-in: the client IP is over its rate limit, and this request is refused with this
    /// `Retry-After` (s ≥ 1) unless the administrator's signature verifies on it (0: within the
    /// limit). Set only on requests whose `X-API-Key` names the administrator.
    pub ip_retry_after_s: u32,
    /// Extra request data (withdrawal address and client id; a WebSocket accept key or Pong
    /// payload).
    pub extras: Extras,
    /// net-in: the peer is on this host (a loopback address), so `GET /metrics` needs no
    /// signature.
    pub peer_loopback: bool,
    /// net-in: the client's address as the per-IP tables key it (an IPv6 /64 or an IPv4
    /// address); verify counts bad signatures under it.
    pub peer: u128,
    /// A WebSocket frame's actions when the verdict is `StreamActions`.
    pub stream_actions: [StreamAction; STREAM_ACTIONS_PER_FRAME_MAX],
}

impl RequestSlot {
    /// An empty slot, as the ring's factory makes them.
    pub fn empty() -> RequestSlot {
        const NOTHING: BatchItem = Err(ApiError::new(crate::api::error::ErrorKind::ServerError));
        RequestSlot {
            reply: Reply::default(),
            kind: RequestKind::Closed,
            headers: AuthHeaders::default(),
            target_len: 0,
            body_len: 0,
            inline: [0; REQUEST_INLINE_MAX],
            overflow: NO_OVERFLOW,
            verdict: Verdict::Pending,
            items: [NOTHING; BATCH_ORDERS_MAX],
            auth: Auth::default(),
            replay_checked: false,
            signer: None,
            signer_is_admin: false,
            ip_retry_after_s: 0,
            extras: Extras::default(),
            peer_loopback: false,
            peer: 0,
            stream_actions: [StreamAction::Error(StreamError::InvalidRequest);
                STREAM_ACTIONS_PER_FRAME_MAX],
        }
    }
}

/// Work for the matcher stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Apply a command (sequenced, or an unsequenced query).
    Command(Command),
    /// Pass a read through to net-out.
    Read {
        /// The signer (zero for public reads).
        account: AccountKey,
        /// What to read.
        query: ReadQuery,
    },
    /// Pass an error through to net-out.
    Reject(ApiError),
    /// Pass a close through to net-out.
    Close,
    /// The last record: the journal syncs and exits, the matcher passes it on and exits.
    Shutdown,
}

/// A ring B slot: written by the sequencer; read by the journal thread and the matcher.
#[derive(Clone, Copy, Debug)]
pub struct SequencedSlot {
    /// Where to answer.
    pub reply: Reply,
    /// What to do.
    pub work: Work,
    /// The last sequence number stamped at or before this slot: net-out answers it only once the
    /// journal is durable up to here.
    pub watermark: SequenceNumber,
    /// Signature data for the journal (valid for sequenced commands of signed requests).
    pub auth: Auth,
    /// Extra request data for the journal and the answer.
    pub extras: Extras,
    /// Written by the matcher: the command changed state (the journal keeps only those, so a
    /// rejected command leaves no record).
    pub applied: bool,
}

impl SequencedSlot {
    /// An empty slot, as the ring's factory makes them.
    pub fn empty() -> SequencedSlot {
        SequencedSlot {
            reply: Reply::default(),
            work: Work::Close,
            watermark: SequenceNumber(0),
            auth: Auth::default(),
            extras: Extras::default(),
            applied: false,
        }
    }
}

/// How a request ended, for net-out to answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The matcher applied a command; its events came just before.
    Command {
        /// The command's sequence number (0 for queries).
        sequence: SequenceNumber,
        /// The signer or the administrator's target.
        account: AccountKey,
    },
    /// A read for net-out's view.
    Read {
        /// The signer (zero for public reads).
        account: AccountKey,
        /// What to read.
        query: ReadQuery,
    },
    /// An error decided before the matcher.
    Reject(ApiError),
    /// Close the connection.
    Close,
    /// The server is stopping: net-out flushes and exits.
    Shutdown,
}

/// What a ring C slot carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// One consequence of the command being applied.
    Event(Event),
    /// The end of one request (or one batch item): answer it.
    Done {
        /// Where and how to answer.
        reply: Reply,
        /// How it ended.
        outcome: Outcome,
        /// Extra request data.
        extras: Extras,
    },
}

/// A ring C slot: written by the matcher stage, read by net-out.
#[derive(Clone, Copy, Debug)]
pub struct OutputSlot {
    /// The last sequence number stamped at or before the request this belongs to: net-out
    /// processes the slot only once the journal is durable up to here.
    pub watermark: SequenceNumber,
    /// The payload.
    pub output: Output,
}

impl OutputSlot {
    /// An empty slot, as the ring's factory makes them.
    pub fn empty() -> OutputSlot {
        OutputSlot {
            watermark: SequenceNumber(0),
            output: Output::Done {
                reply: Reply::default(),
                outcome: Outcome::Close,
                extras: Extras::default(),
            },
        }
    }
}
