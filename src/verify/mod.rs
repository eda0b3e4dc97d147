//! verify: parse each request into fixed commands and check who signed it.
//!
//! **Reads** ring A slots published by net-in; verifier *i* of *N* owns the slots whose sequence
//! ≡ *i* (mod *N*), so arrival order is kept without locks. **Writes** its verdict into the same
//! slot (a `Verdict`, the batch items, the auth data for the journal and the replay check). The
//! sequencer is gated on every verifier's cursor. **Owns** a key cache, a signature verifier with
//! its arena, and scratch buffers — all allocated when the thread starts.
//!
//! Checks, in Backpack's order (the first failure answers): JSON → auth headers → time window →
//! signature → (replay and per-key rate limit: the sequencer) → administrator key → fields.
//! Before all of them, the per-IP rate limit (net-in's) for a request net-in let through over the
//! limit because it claims the administrator's key: it is answered 429 unless the administrator's
//! signature verifies on it (the administrator is exempt; see `net::stage`).
//! Signatures of a stretch of slots are verified together (batch verification, with a fallback
//! to single verification so verdicts never differ), a stretch being as many as a latency budget
//! allows (`budget`): its verdicts are published before the next stretch is verified.
//!
//! `GET /metrics` is open to a loopback peer and otherwise needs the administrator's signature
//! (`metricsQuery`); any failure is one 403 (`metrics_refusal`, `crate::metrics`).
//!
//! WebSocket: an upgrade and the Pongs and Closes net-in decided pass on as reads for net-out;
//! a SUBSCRIBE/UNSUBSCRIBE text message becomes stream actions (`subscribe`), and a private
//! subscription's signature joins the same batches, judged once, here, by this clock.
//!
//! Never blocks and never allocates after start-up; reads the wall clock once per stretch (`budget`).

pub mod budget;
pub mod json;
pub mod request;
pub mod signature;
pub mod signing;
pub mod stage;
pub mod subscribe;

use crate::api::error::{ApiError, ErrorKind};
use crate::api::routes::{Method, Route};
use crate::bad_signatures::BadSignatureBoard;
use crate::config::Config;
use crate::constants::{
    BATCH_ORDERS_MAX, CLOCK_SKEW_AHEAD_MAX_MS, WINDOW_DEFAULT_MS, WINDOW_MAX_MS,
};
use crate::overflow::OverflowPool;
use crate::records::{
    Auth, AuthHeaders, BatchItem, Extras, NO_OVERFLOW, ReadQuery, RequestKind, RequestSlot,
    Verdict, WsRequest,
};
use crate::types::AccountKey;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signature;
use json::{FlatObject, InvalidJson};
use request::{Body, Parsed, Request, RequestContext};
use sha2::{Digest, Sha256};
use signature::{Check, CheckedKey, KeyCache, SIGNATURE_BATCH_MAX, SignatureVerifier};
use signing::{DecodedQuery, write_batch_signing_string, write_signing_string};
use std::ops::Range;
use std::sync::Arc;

/// The development administrator's secret seed, documented in the README so a new user can fund
/// accounts. Never use it outside development: start the server with `--admin-key` and your own
/// public key.
pub const DEV_ADMIN_SEED: [u8; 32] = *b"ringex-development-admin-key-001";

/// The development administrator's public key (the default `--admin-key`).
pub fn dev_admin_key() -> AccountKey {
    let signing = ed25519_dalek::SigningKey::from_bytes(&DEV_ADMIN_SEED);
    AccountKey(*signing.verifying_key().as_bytes())
}

/// Bytes of signing strings kept for one signature batch before it is flushed.
const MESSAGES_BYTES_MAX: usize = 1 << 20;

/// Keys remembered decompressed, per verify thread.
const KEY_CACHE_ENTRIES: usize = 4096;

/// A slot whose signature waits for the batch.
#[derive(Clone, Copy)]
struct Pending {
    slot: usize,
    key: CheckedKey,
    signature: Signature,
    message: (usize, usize),
    auth: Auth,
    is_admin: bool,
    replay_checked: bool,
    /// A WebSocket SUBSCRIBE's signature (`subscribe::finish_subscribe` finishes its slot).
    subscribe: bool,
}

/// The slots one call to [`Verifier::verify`] works on, reached one at a time (the ring hands
/// out one `&mut` slot at a time).
pub trait SlotAccess {
    /// How many.
    fn count(&self) -> usize;
    /// The slot at `index` (0..count).
    fn slot(&mut self, index: usize) -> &mut RequestSlot;
}

impl SlotAccess for [&mut RequestSlot] {
    fn count(&self) -> usize {
        self.len()
    }
    fn slot(&mut self, index: usize) -> &mut RequestSlot {
        self[index]
    }
}

/// The pieces of a slot that preparation writes, split off so the request bytes stay borrowed.
struct Parts<'s> {
    index: usize,
    route: Route,
    method: Method,
    now_ms: u64,
    headers: &'s AuthHeaders,
    items: &'s mut [BatchItem; BATCH_ORDERS_MAX],
    extras: &'s mut Extras,
    verdict: &'s mut Verdict,
}

/// One verify thread's state.
pub struct Verifier {
    config: Arc<Config>,
    admin_key: AccountKey,
    keys: KeyCache,
    signatures: SignatureVerifier,
    query: DecodedQuery,
    messages: Vec<u8>,
    pending: Vec<Pending>,
    trust_signatures: bool,
    /// Where bad signatures are counted per client IP, for net-in to throttle their source.
    bad_signatures: Option<Arc<BadSignatureBoard>>,
    /// The time of the batch being verified, Unix ms.
    now_ms: u64,
}

/// The headers of a signed request, checked.
struct SignedHeaders {
    key: [u8; 32],
    signature: [u8; 64],
    timestamp_ms: u64,
    window_ms: u64,
}

/// Starts loading what [`Verifier::prepare`] reads first of a slot: kind, route, auth headers and
/// the first bytes of target and body.
// NB: a slot is ~10 KiB and usually cold; prefetching the next slot while preparing this one
// overlaps its cache misses with the work (`cargo bench --bench verify`: see benches/README.md).
fn prefetch_slot(slot: &RequestSlot) {
    use crate::cache::prefetch;
    prefetch(&slot.kind);
    prefetch(&slot.reply);
    prefetch(&slot.headers);
    prefetch(&slot.inline[..256]);
}

fn header_error(kind: ErrorKind, name: &str) -> ApiError {
    ApiError::with_detail(kind, name.as_bytes())
}

fn decode_fixed<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    match STANDARD.decode_slice(text, &mut out) {
        Ok(length) if length == N && text.len() == N.div_ceil(3) * 4 => Some(out),
        _ => None,
    }
}

/// A plain unsigned integer (digits only).
fn decimal(text: &[u8]) -> Option<u64> {
    crate::money::parse_units(text, 0).ok()
}

/// The values of a signed request as text, before any check: from the HTTP headers, or from a
/// WebSocket SUBSCRIBE's `signature` array. Both go through [`check_signed`], so the rules are
/// the same (API.md §2).
struct SignedText<'a> {
    key: &'a [u8],
    signature: &'a [u8],
    timestamp: &'a [u8],
    /// Absent: [`WINDOW_DEFAULT_MS`].
    window: Option<&'a [u8]>,
}

fn check_headers(headers: &AuthHeaders, now_ms: u64) -> Result<SignedHeaders, ApiError> {
    let api_key =
        headers.api_key.get().ok_or_else(|| header_error(ErrorKind::MissingHeader, "X-API-Key"))?;
    let signature = headers
        .signature
        .get()
        .ok_or_else(|| header_error(ErrorKind::MissingHeader, "X-Signature"))?;
    let timestamp = headers
        .timestamp
        .get()
        .ok_or_else(|| header_error(ErrorKind::MissingHeader, "X-Timestamp"))?;
    // A value longer than its header slot was cut short: an empty one is refused the same way.
    fn whole(value: &[u8], too_long: bool) -> &[u8] {
        if too_long { &[] } else { value }
    }
    let text = SignedText {
        key: whole(api_key, headers.api_key.too_long),
        signature: whole(signature, headers.signature.too_long),
        timestamp,
        window: headers.window.get(),
    };
    check_signed(&text, now_ms)
}

/// Decodes and checks a signed request's values at verify's time `now_ms`: key 32 bytes and
/// signature 64 bytes in padded base64, digits for the timestamp, window 1..=60000, not more
/// than 1000 ms ahead, not expired. Errors name the HTTP header.
fn check_signed(text: &SignedText<'_>, now_ms: u64) -> Result<SignedHeaders, ApiError> {
    let key = decode_fixed::<32>(text.key)
        .ok_or_else(|| header_error(ErrorKind::InvalidHeader, "X-API-Key"))?;
    let signature = decode_fixed::<64>(text.signature)
        .ok_or_else(|| header_error(ErrorKind::InvalidHeader, "X-Signature"))?;
    let timestamp_ms = decimal(text.timestamp)
        .ok_or_else(|| header_error(ErrorKind::InvalidHeader, "X-Timestamp"))?;
    let window_ms = match text.window {
        None => WINDOW_DEFAULT_MS,
        Some(window) => decimal(window)
            .filter(|window| (1..=WINDOW_MAX_MS).contains(window))
            .ok_or_else(|| header_error(ErrorKind::InvalidHeader, "X-Window"))?,
    };
    if timestamp_ms > now_ms.saturating_add(CLOCK_SKEW_AHEAD_MAX_MS) {
        return Err(ApiError::new(ErrorKind::TimestampInFuture));
    }
    if now_ms > timestamp_ms.saturating_add(window_ms) {
        return Err(ApiError::new(ErrorKind::RequestExpired));
    }
    Ok(SignedHeaders { key, signature, timestamp_ms, window_ms })
}

/// The first `total` request bytes of a slot: inline, or in its overflow buffer.
fn slot_bytes<'s>(
    inline: &'s [u8],
    overflow_index: u32,
    overflow: &'s OverflowPool,
    total: usize,
) -> &'s [u8] {
    if overflow_index == NO_OVERFLOW {
        &inline[..total]
    } else {
        // SAFETY: this verifier owns the published slot the buffer is attached to; net-in
        // reuses the buffer only after the sequencer has passed the slot.
        unsafe { &overflow.buffer(overflow_index)[..total] }
    }
}

/// `GET /metrics` from a peer that is not on this host needs the administrator's signature
/// (instruction `metricsQuery`, like any signed GET): whatever check fails — a missing or bad
/// header, the window, the signature, another key — the answer is the same 403 `Administrator key
/// required`, naming no check. From a loopback peer it needs nothing (the operator's own host;
/// a reverse proxy on the same host should therefore not forward `/metrics`). Other routes keep
/// their error.
fn metrics_refusal(route: Route, error: ApiError) -> ApiError {
    if route == Route::Metrics { ApiError::new(ErrorKind::AdminKeyRequired) } else { error }
}

/// The verdict of a WebSocket request net-in decided: passed on for net-out to carry out.
fn websocket(request: WsRequest) -> Verdict {
    Verdict::Read { account: AccountKey::default(), query: ReadQuery::WebSocket(request) }
}

impl Verifier {
    /// A verifier for `config`, accepting administrator requests signed by `admin_key`.
    pub fn new(config: Arc<Config>, admin_key: AccountKey) -> Verifier {
        Verifier {
            config,
            admin_key,
            keys: KeyCache::with_entries(KEY_CACHE_ENTRIES),
            signatures: SignatureVerifier::from_os_entropy(),
            query: DecodedQuery::default(),
            messages: Vec::with_capacity(
                MESSAGES_BYTES_MAX + crate::overflow::OVERFLOW_BUFFER_BYTES,
            ),
            pending: Vec::with_capacity(SIGNATURE_BATCH_MAX),
            trust_signatures: false,
            bad_signatures: None,
            now_ms: 0,
        }
    }

    /// Counts every bad signature on `board`, under the client IP net-in framed it from.
    pub fn counting_bad_signatures(mut self, board: Arc<BadSignatureBoard>) -> Verifier {
        self.bad_signatures = Some(board);
        self
    }

    /// For benchmarks and tests of the stages after verify only: everything is parsed and checked
    /// as usual except the ED25519 signature, which is taken as valid. The server never sets it.
    pub fn trusting_signatures(mut self) -> Verifier {
        self.trust_signatures = true;
        self
    }

    /// Signature batches tried and how many fell back to single verification.
    pub fn batch_statistics(&self) -> (u64, u64) {
        (self.signatures.batches, self.signatures.fallbacks)
    }

    /// Writes the verdict of every slot in `slots` (one ring batch's worth of this verifier's
    /// slots), at server time `now_ms`.
    pub fn verify(
        &mut self,
        slots: &mut (impl SlotAccess + ?Sized),
        overflow: &OverflowPool,
        now_ms: u64,
    ) {
        let count = slots.count();
        self.now_ms = now_ms;
        if count > 0 {
            prefetch_slot(slots.slot(0));
        }
        for index in 0..count {
            if self.pending.len() == SIGNATURE_BATCH_MAX || self.messages.len() > MESSAGES_BYTES_MAX
            {
                self.flush(slots);
            }
            if index + 1 < count {
                prefetch_slot(slots.slot(index + 1));
            }
            let slot = slots.slot(index);
            self.prepare(index, slot, overflow, now_ms);
        }
        self.flush(slots);
        // Stamped once every verdict of the batch is final, signatures included, so the verify
        // stage's latency covers its ED25519 work.
        let verified_ns = crate::clock::monotonic_ns();
        for index in 0..count {
            slots.slot(index).reply.times.verified_ns = verified_ns;
        }
    }

    /// Everything up to the signature: a final verdict, or a pending signature plus the verdict
    /// its fields would give.
    fn prepare(
        &mut self,
        index: usize,
        slot: &mut RequestSlot,
        overflow: &OverflowPool,
        now_ms: u64,
    ) {
        slot.replay_checked = false;
        slot.signer = None;
        slot.signer_is_admin = false;
        match slot.kind {
            RequestKind::Closed => {
                slot.verdict = Verdict::Close;
                return;
            }
            RequestKind::Shutdown => {
                slot.verdict = Verdict::Shutdown;
                return;
            }
            RequestKind::Answered(error) => {
                slot.verdict = Verdict::Reject(error);
                return;
            }
            RequestKind::Http => {}
            // The accept key or Pong payload net-in put in the extras goes on with them.
            RequestKind::WsUpgrade => {
                slot.verdict = websocket(WsRequest::Upgrade);
                return;
            }
            RequestKind::WsControl(request) => {
                slot.verdict = websocket(request);
                return;
            }
            // Not subject to the per-IP verdict below: that is an HTTP answer, and net-in sets
            // it only on requests naming the administrator's key in their headers.
            RequestKind::WsText => {
                self.prepare_ws_text(index, slot, overflow, now_ms);
                return;
            }
        }
        if slot.reply.route == Route::Metrics && slot.peer_loopback {
            // Asked on this host: no signature needed (see `metrics_refusal`).
            let account = AccountKey::default();
            slot.verdict = Verdict::Read { account, query: ReadQuery::Metrics };
        } else if let Err(error) = self.prepare_http(index, slot, overflow, now_ms) {
            slot.verdict = Verdict::Reject(metrics_refusal(slot.reply.route, error));
        }
        if slot.ip_retry_after_s > 0 {
            // Over the per-IP limit: only the administrator's signature, checked in `flush`,
            // exempts it; anything that failed before the signature is the limit's refusal.
            let admin_pending = self
                .pending
                .last()
                .is_some_and(|pending| pending.slot == index && pending.is_admin);
            if !admin_pending {
                let error = ApiError::too_many_requests(slot.ip_retry_after_s);
                slot.verdict = Verdict::Reject(error);
            }
        }
    }

    fn prepare_http(
        &mut self,
        index: usize,
        slot: &mut RequestSlot,
        overflow: &OverflowPool,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        let (route, method) = (slot.reply.route, slot.reply.method);
        let total = (slot.target_len + slot.body_len) as usize;
        let target_len = slot.target_len as usize;
        let RequestSlot {
            inline, overflow: overflow_index, headers, items, extras, verdict, ..
        } = slot;
        let bytes = slot_bytes(&inline[..], *overflow_index, overflow, total);
        let (target, body) = bytes.split_at(target_len);
        let query_text = match target.iter().position(|&byte| byte == b'?') {
            Some(mark) => &target[mark + 1..],
            None => &target[target.len()..],
        };
        self.query
            .decode(query_text)
            .map_err(|_| ApiError::with_detail(ErrorKind::InvalidValue, b"query"))?;
        let invalid_json = |_: InvalidJson| ApiError::new(ErrorKind::InvalidJsonBody);
        let parts = Parts { index, route, method, now_ms, headers, items, extras, verdict };
        if method == Method::Get {
            return self.prepare_parsed(parts, Body::None);
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return self.prepare_parsed(parts, Body::Object(&FlatObject::default()));
        }
        if route == Route::Orders && method == Method::Post {
            // Only batches pay for the array of objects.
            let mut objects = [FlatObject::default(); BATCH_ORDERS_MAX + 1];
            let count = json::parse_array(body, &mut objects).map_err(invalid_json)?;
            if count == 0 || count > BATCH_ORDERS_MAX {
                return Err(ApiError::new(ErrorKind::InvalidJsonBody));
            }
            return self.prepare_parsed(parts, Body::Array(&objects[..count]));
        }
        let object = json::parse_object(body).map_err(invalid_json)?;
        self.prepare_parsed(parts, Body::Object(&object))
    }

    /// After JSON: headers and window, the fields' verdict, and the signature to check.
    fn prepare_parsed(&mut self, parts: Parts<'_>, body: Body<'_, '_>) -> Result<(), ApiError> {
        let Parts { index, route, method, now_ms, headers, items, extras, verdict } = parts;
        let signed = match route.instruction(method) {
            Some(instruction) => Some((instruction, check_headers(headers, now_ms)?)),
            None => None,
        };
        let account =
            signed.as_ref().map_or(AccountKey::default(), |(_, headers)| AccountKey(headers.key));
        if let Some((_, headers)) = &signed {
            // Its cache line is usually cold: let it load while the fields are parsed.
            self.keys.prefetch(&headers.key);
        }
        // The fields' verdict, computed now; a bad signature or key overrides it later.
        let context = RequestContext { config: &self.config, now_ms };
        let request = Request { route, method, query: &self.query, body, account };
        *verdict = match request::parse(&context, request, items, extras) {
            Ok(Parsed::Commands(count)) => Verdict::Commands { count: count as u8 },
            Ok(Parsed::Read(query)) => Verdict::Read { account, query },
            Err(error) => Verdict::Reject(error),
        };
        let Some((instruction, headers)) = signed else {
            return Ok(());
        };
        let Some(key) = self.keys.get(&headers.key) else {
            return Err(ApiError::new(ErrorKind::InvalidSignature));
        };
        let start = self.messages.len();
        let (timestamp_ms, window_ms) = (headers.timestamp_ms, headers.window_ms);
        match body {
            Body::Array(objects) => {
                write_batch_signing_string(&mut self.messages, objects, timestamp_ms, window_ms)
            }
            Body::Object(object) => write_signing_string(
                &mut self.messages,
                instruction,
                &self.query,
                Some(object),
                timestamp_ms,
                window_ms,
            ),
            Body::None => write_signing_string(
                &mut self.messages,
                instruction,
                &self.query,
                None,
                timestamp_ms,
                window_ms,
            ),
        }
        let mut digest = Sha256::new();
        digest.update(headers.key);
        digest.update(&self.messages[start..]);
        let auth = Auth {
            signature: headers.signature,
            replay_digest: digest.finalize().into(),
            timestamp_ms,
            window_ms,
        };
        self.pending.push(Pending {
            slot: index,
            key,
            signature: Signature::from_bytes(&headers.signature),
            message: (start, self.messages.len()),
            auth,
            is_admin: account == self.admin_key,
            replay_checked: matches!(method, Method::Post | Method::Delete),
            subscribe: false,
        });
        Ok(())
    }

    /// Verifies the pending signatures and finishes their slots.
    fn flush(&mut self, slots: &mut (impl SlotAccess + ?Sized)) {
        if self.pending.is_empty() {
            return;
        }
        let last = self.pending.len() - 1;
        // Entries past `last` repeat it and are never read.
        let checks: [Check<'_>; SIGNATURE_BATCH_MAX] = std::array::from_fn(|index| {
            let pending = &self.pending[index.min(last)];
            let Range { start, end } = pending.message.0..pending.message.1;
            Check {
                key: &pending.key,
                signature: &pending.signature,
                message: &self.messages[start..end],
            }
        });
        let mut verdicts = [self.trust_signatures; SIGNATURE_BATCH_MAX];
        if !self.trust_signatures {
            self.signatures.verify(&checks[..self.pending.len()], &mut verdicts);
        }
        for (pending, valid) in self.pending.iter().zip(verdicts) {
            let slot = slots.slot(pending.slot);
            if pending.subscribe {
                subscribe::finish_subscribe(slot, pending, valid);
                continue;
            }
            if slot.ip_retry_after_s > 0 && !(valid && pending.is_admin) {
                let error = ApiError::too_many_requests(slot.ip_retry_after_s);
                slot.verdict = Verdict::Reject(error);
                continue;
            }
            if !valid {
                if let Some(board) = &self.bad_signatures {
                    board.note_failure(slot.peer, self.now_ms);
                }
                let error = ApiError::new(ErrorKind::InvalidSignature);
                slot.verdict = Verdict::Reject(metrics_refusal(slot.reply.route, error));
                continue;
            }
            slot.auth = pending.auth;
            slot.signer = Some(AccountKey(*pending.key.as_bytes()));
            slot.signer_is_admin = pending.is_admin;
            slot.replay_checked = pending.replay_checked;
            let admin_only = slot.reply.route.is_admin() || slot.reply.route == Route::Metrics;
            if admin_only && !pending.is_admin {
                slot.verdict = Verdict::Reject(ApiError::new(ErrorKind::AdminKeyRequired));
            }
        }
        self.pending.clear();
        self.messages.clear();
    }
}

#[cfg(test)]
mod tests;
