//! Every fixed limit in one place. Sizes that users tune live in the configuration
//! (`config::Limits`); these are the ones the code's layout depends on.

/// Slots in ring A (net-in → verify → sequencer). A power of two.
pub const RING_A_SLOTS: usize = 1024;
/// Slots in ring B (sequencer → journal, matcher). A power of two.
pub const RING_B_SLOTS: usize = 16 * 1024;
/// Slots in ring C (matcher → net-out). A power of two.
pub const RING_C_SLOTS: usize = 64 * 1024;

/// Orders in one `POST /api/v1/orders` batch.
pub const BATCH_ORDERS_MAX: usize = 50;

/// Bytes of request target (path and query) plus body a ring A slot holds inline; larger requests
/// borrow a buffer from net-in's overflow pool.
pub const REQUEST_INLINE_MAX: usize = 4 * 1024;
/// Largest request body accepted (`413` above, answered before the body is read).
pub const REQUEST_BODY_MAX: usize = 64 * 1024;
/// Largest request target (path and query).
pub const REQUEST_TARGET_MAX: usize = 8 * 1024;
/// Largest header block (`431` above), also when it arrives split across reads.
pub const REQUEST_HEADERS_BYTES_MAX: usize = 8 * 1024;
/// Most header lines (`431` above).
pub const REQUEST_HEADERS_MAX: usize = 100;
/// Overflow buffers for requests larger than [`REQUEST_INLINE_MAX`].
pub const REQUEST_OVERFLOW_BUFFERS: usize = 64;

/// Longest withdrawal address (`address`, 1..128 printable ASCII).
pub const ADDRESS_MAX: usize = 128;
/// Longest user withdrawal `clientId` string.
pub const WITHDRAWAL_CLIENT_ID_MAX: usize = 64;

/// Default time window of a signed request when `X-Window` is absent, ms.
pub const WINDOW_DEFAULT_MS: u64 = 5_000;
/// Largest `X-Window`, ms.
pub const WINDOW_MAX_MS: u64 = 60_000;
/// How far a request's timestamp may be ahead of the server clock, ms.
pub const CLOCK_SKEW_AHEAD_MAX_MS: u64 = 1_000;

/// Depth levels per side in a `GET /api/v1/depth` answer (default and maximum).
pub const DEPTH_LIMIT_MAX: usize = 1_000;
/// Trades in a `GET /api/v1/trades` answer (maximum; default 100).
pub const TRADES_LIMIT_MAX: usize = 1_000;
/// Default `limit` of trade and history queries.
pub const QUERY_LIMIT_DEFAULT: usize = 100;
/// Klines in one answer.
pub const KLINES_MAX: usize = 1_000;

/// Consecutive prices (ticks) one book side indexes directly, with an occupancy bitmap, around
/// where its levels are (see `matcher::book`); levels outside this window are kept in a sorted
/// array. A power of two, at most 2^18 (three 64-ary bitmap levels). 256 KiB of level slots and
/// 8 KiB of bitmap per side.
pub const BOOK_WINDOW_TICKS: usize = 1 << 16;
