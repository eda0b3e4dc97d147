//! ED25519 checks for the verify stage: single verification, batch verification whose verdicts
//! are exactly those of single verification, and a cache of decompressed keys.
//!
//! # The batch equation
//!
//! A batch of n signatures `(R_i, s_i)` by keys `A_i` on messages `M_i` is checked with the
//! standard randomized batch equation (Bernstein et al., "High-speed high-security signatures",
//! §5 — the equation ed25519-dalek's `verify_batch` checks too):
//!
//! ```text
//! [8]·([−∑ z_i·s_i] B + ∑ [z_i] R_i + ∑ [z_i·k_i] A_i) = 0,    k_i = SHA-512(R_i ‖ A_i ‖ M_i) mod ℓ
//! ```
//!
//! one variable-time multiscalar multiplication over 2n + 1 points (curve25519-dalek's
//! `optional_multiscalar_mul`), about twice as fast per signature as single verification. The
//! `z_i` are random 128-bit weights. If a signature is invalid, its term
//! `[8](R_i + [k_i]A_i − [s_i]B)` is a non-zero point of the prime-order subgroup, and the sum
//! vanishes only if its weight hits the single value (mod ℓ) that cancels the others: probability
//! at most 2^-128, **provided the weights are unpredictable to whoever chose the signatures**.
//!
//! # Why it is assembled here rather than calling `ed25519_dalek::verify_batch`
//!
//! `verify_batch` needs no random number generator: it derives the weights from a Merlin (STROBE,
//! keccak) transcript of every input. On this hot path that transcript cost ~13% of its time, 11%
//! of the whole stage's (`perf` over `cargo bench --bench verify`), for a property we do not need:
//! replacing it took the bench's `verify_vs_raw_batch` from 0.88–0.90 to 0.99–1.01. Here the
//! weights come from [`Weights`]: SHA-512 in counter mode under a 32-byte key read from
//! `/dev/urandom` when the verifier is made, one per verify thread, never shown to anyone —
//! unpredictable, which is all soundness asks. Everything else is `verify_batch`'s equation, times
//! the cofactor (three doublings, see below), built from curve25519-dalek's public primitives with
//! the same hashes and the same multiscalar multiplication.
//!
//! # One verdict, whichever way it is reached
//!
//! A signature is valid when its encodings pass every check `verify_strict` makes — the key is not
//! weak (a [`CheckedKey`], made at the [`KeyCache`]), `R` is canonical and not of small order (a
//! byte comparison), `s` is canonical (`s < ℓ`), `R` decompresses — and the **cofactored**
//! equation `[8](R + [k]A − [s]B) = 0` holds. [`verify_single`] checks exactly that; a signature
//! whose encodings fail is refused on the spot and never joins a batch. When a batch fails, its
//! halves are checked as batches in turn (the same weights, so each half's equation is the sum of
//! its members' terms), down to single members: after a clean left half the right half is known
//! to fail and is not checked whole, so one bad signature in 64 costs about one more batch's
//! worth of work (63 signatures in halving sub-batches) instead of 64 single verifications (the
//! `bad_signature_batch_cost` line of `cargo bench --bench verify`). A lone member whose own
//! equation fails is invalid by [`verify_single`]'s rule too: `z` is invertible modulo ℓ and the
//! cofactor clears torsion, so `[8](z·E) = 0` iff `[8]E = 0`. So a verdict never depends on the
//! company a request keeps, on the number of verify threads, or on the random weights.
//!
//! Why cofactored rather than `verify_strict`'s cofactorless `R = [s]B − [k]A`: the two differ
//! only on a signature whose error term is a pure torsion point (a point of order 2, 4 or 8 added
//! to `R` of a valid signature), and no batch equation can give the cofactorless verdict on those:
//! the weight cancels a point of order 2 whenever it is even, so the cofactorless batch would
//! accept such a signature half the time and a single check never. The cofactored equation makes
//! batch and single agree (the choice of ZIP-215). What it admits is a second signature on a
//! string the key's owner already signed — never a forgery — and the replay cache is keyed on the
//! key and the signing string, not the signature bytes (API.md, "Replay"), so the request still
//! executes at most once. Honest signers never produce such a signature, so every signature
//! `verify_strict` accepts is accepted here and the difference shows only on crafted ones
//! (the tests build them).
//!
//! # No allocation
//!
//! The multiscalar multiplication collects a few vectors per call; it runs inside the thread's
//! [`ScopedArena`](crate::alloc::ScopedArena), so the hot path makes no heap call. Everything else
//! lives in vectors sized at start-up.

use crate::alloc::ScopedArena;
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};
use std::io::Read;
use std::iter::once;
use std::ops::Range;

/// Most signatures verified in one batch.
pub const SIGNATURE_BATCH_MAX: usize = 64;

/// Bytes reserved per verify thread for the multiscalar multiplication's internal vectors (a batch
/// of 64 needs about 0.4 MiB: 129 lookup tables of 1,280 bytes, grown by doubling).
const ARENA_BYTES: usize = 1 << 20;

/// Encodings of the eight small-order points (and the non-canonical sign variants of the two with
/// `x = 0`), which `verify_strict` refuses as `R`.
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 10] = [
    // identity (y = 1), and with the sign bit set
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    hex32("0100000000000000000000000000000000000000000000000000000000000080"),
    // order 2 (y = −1)
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    // order 4 (y = 0)
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("0000000000000000000000000000000000000000000000000000000000000080"),
    // order 8
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
];

const fn hex32(text: &str) -> [u8; 32] {
    let bytes = text.as_bytes();
    let mut out = [0u8; 32];
    let mut index = 0;
    while index < 32 {
        out[index] = nibble(bytes[2 * index]) << 4 | nibble(bytes[2 * index + 1]);
        index += 1;
    }
    out
}

const fn nibble(byte: u8) -> u8 {
    match byte {
        b'0'..=b'9' => byte - b'0',
        b'a'..=b'f' => byte - b'a' + 10,
        _ => panic!("not hex"),
    }
}

/// Whether `R`'s encoding is canonical (`y < p`) and not a small-order point.
pub fn r_is_acceptable(r: &[u8; 32]) -> bool {
    // y ≥ p = 2^255 − 19 iff bits 8..255 of y are all ones and the low byte is ≥ 0xed.
    let y_top_all_ones = r[1..31].iter().all(|&byte| byte == 0xff) && (r[31] & 0x7f) == 0x7f;
    if y_top_all_ones && r[0] >= 0xed {
        return false;
    }
    !SMALL_ORDER_ENCODINGS.contains(r)
}

/// A public key that decompresses and is not weak (not of small order): the only kind of key a
/// [`Check`] takes, so no weak key ever reaches a batch. Only [`CheckedKey::new`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckedKey(VerifyingKey);

impl CheckedKey {
    /// The key these bytes encode, or `None` if they are not a point or are a weak key (both
    /// refused by `verify_strict` whatever the signature).
    pub fn new(bytes: &[u8; 32]) -> Option<CheckedKey> {
        VerifyingKey::from_bytes(bytes).ok().filter(|key| !key.is_weak()).map(CheckedKey)
    }

    /// The key's 32-byte encoding.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The key for ed25519-dalek.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }
}

/// A cached key: its bytes and the checked key (`None`: not a point, or weak).
type CachedKey = Option<([u8; 32], Option<CheckedKey>)>;

/// A direct-mapped cache of decompressed public keys (decompression is a field square root).
pub struct KeyCache {
    entries: Box<[CachedKey]>,
    mask: usize,
}

impl KeyCache {
    /// A cache of `entries` keys (rounded up to a power of two).
    pub fn with_entries(entries: usize) -> KeyCache {
        let entries = entries.next_power_of_two();
        KeyCache { entries: vec![None; entries].into_boxed_slice(), mask: entries - 1 }
    }

    fn cell(&self, bytes: &[u8; 32]) -> usize {
        (crate::fixed::account_key_hash(bytes) >> 32) as usize & self.mask
    }

    /// Starts loading the entry [`KeyCache::get`] will read for these bytes.
    pub fn prefetch(&self, bytes: &[u8; 32]) {
        crate::cache::prefetch(&self.entries[self.cell(bytes)]);
    }

    /// The key, or `None` if the bytes are not a point or are a weak (small-order) key.
    pub fn get(&mut self, bytes: &[u8; 32]) -> Option<CheckedKey> {
        let cell = self.cell(bytes);
        if let Some((cached, key)) = &self.entries[cell]
            && cached == bytes
        {
            return *key;
        }
        let key = CheckedKey::new(bytes);
        self.entries[cell] = Some((*bytes, key));
        key
    }
}

/// One signature to check.
#[derive(Clone, Copy)]
pub struct Check<'c> {
    /// The signer.
    pub key: &'c CheckedKey,
    /// The signature.
    pub signature: &'c Signature,
    /// The signed bytes.
    pub message: &'c [u8],
}

/// The random 128-bit batch weights `z_i`: SHA-512 in counter mode, `SHA-512(key ‖ counter)`
/// giving four weights, under a 32-byte key read from the OS once. A PRF under a secret key, so
/// whoever picks the signatures cannot predict the weights (see the module doc); the counter is
/// 64 bits and never wraps in practice (2^66 weights).
struct Weights {
    key: [u8; 32],
    counter: u64,
    block: [[u8; 16]; 4],
    /// Weights of `block` already handed out, 0..=4.
    used_count: usize,
}

impl Weights {
    /// A stream keyed by 32 bytes from `/dev/urandom`. Panics if the OS has none to give: a
    /// verifier must not run with predictable weights.
    fn from_os_entropy() -> Weights {
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut file| file.read_exact(&mut key))
            .expect("verify: reading 32 bytes from /dev/urandom for the batch weights");
        Weights::from_key(key)
    }

    fn from_key(key: [u8; 32]) -> Weights {
        Weights { key, counter: 0, block: [[0; 16]; 4], used_count: 4 }
    }

    fn next(&mut self) -> Scalar {
        if self.used_count == self.block.len() {
            let mut hash = Sha512::new();
            hash.update(self.key);
            hash.update(self.counter.to_le_bytes());
            let output: [u8; 64] = hash.finalize().into();
            let (chunks, _) = output.as_chunks::<16>();
            self.block.copy_from_slice(chunks);
            self.counter += 1;
            self.used_count = 0;
        }
        let weight = u128::from_le_bytes(self.block[self.used_count]);
        self.used_count += 1;
        Scalar::from(weight)
    }
}

/// Verifies signatures singly or in batches, with identical verdicts either way.
pub struct SignatureVerifier {
    arena: ScopedArena,
    weights: Weights,
    /// The batch being checked, one entry per member (capacity [`SIGNATURE_BATCH_MAX`]): the
    /// index of its check, its `R` decompressed, `z_i` and `z_i·k_i`.
    member_indexes: Vec<usize>,
    r_points: Vec<EdwardsPoint>,
    r_weights: Vec<Scalar>,
    a_weights: Vec<Scalar>,
    /// `z_i·s_i`: each member's share of the base point's weight, so a half batch can sum its own.
    b_terms: Vec<Scalar>,
    /// Batches tried (statistics for the benchmark).
    pub batches: u64,
    /// Batches that failed and were searched for their bad members.
    pub fallbacks: u64,
}

/// Halves this small are verified member by member: a sub-batch of 2 or 3 costs about as much
/// as checking its members singly.
const BISECT_SINGLES_MAX: usize = 3;

impl SignatureVerifier {
    /// A verifier whose batch weights are keyed from `/dev/urandom` (see [`Weights`]).
    pub fn from_os_entropy() -> SignatureVerifier {
        SignatureVerifier::with_weights(Weights::from_os_entropy())
    }

    fn with_weights(weights: Weights) -> SignatureVerifier {
        SignatureVerifier {
            arena: ScopedArena::with_capacity(ARENA_BYTES),
            weights,
            member_indexes: Vec::with_capacity(SIGNATURE_BATCH_MAX),
            r_points: Vec::with_capacity(SIGNATURE_BATCH_MAX),
            r_weights: Vec::with_capacity(SIGNATURE_BATCH_MAX),
            a_weights: Vec::with_capacity(SIGNATURE_BATCH_MAX),
            b_terms: Vec::with_capacity(SIGNATURE_BATCH_MAX),
            batches: 0,
            fallbacks: 0,
        }
    }

    /// Writes into `verdicts[i]` whether `checks[i]` is valid, for up to
    /// [`SIGNATURE_BATCH_MAX`] checks: exactly [`verify_single`]'s verdicts.
    pub fn verify(&mut self, checks: &[Check<'_>], verdicts: &mut [bool]) {
        assert!(checks.len() <= SIGNATURE_BATCH_MAX);
        assert!(verdicts.len() >= checks.len());
        if checks.len() < 2 {
            for (check, verdict) in checks.iter().zip(verdicts.iter_mut()) {
                *verdict = verify_single(check);
            }
            return;
        }
        self.member_indexes.clear();
        self.r_points.clear();
        self.r_weights.clear();
        self.a_weights.clear();
        self.b_terms.clear();
        for (index, (check, verdict)) in checks.iter().zip(verdicts.iter_mut()).enumerate() {
            // Refused for its encoding alone, as verify_single refuses it.
            let Some(member) = Member::admit(check) else {
                *verdict = false;
                continue;
            };
            *verdict = true;
            let weight = self.weights.next();
            self.b_terms.push(weight * member.s);
            self.member_indexes.push(index);
            self.r_points.push(member.r_point);
            self.r_weights.push(weight);
            self.a_weights.push(weight * member.k);
        }
        debug_assert!(self.member_indexes.len() <= SIGNATURE_BATCH_MAX);
        let members = self.member_indexes.len();
        if members >= 2 {
            self.batches += 1;
            if self.batch_holds(checks, 0..members) {
                return;
            }
            self.fallbacks += 1;
            self.find_bad(checks, verdicts, 0..members, true);
        } else if members == 1 {
            let index = self.member_indexes[0];
            verdicts[index] = verify_single(&checks[index]);
        }
    }

    /// Sets the verdicts of the members in `members` (positions in `member_indexes`, all marked
    /// valid so far); `known_bad`: their batch already failed. Returns whether any is bad.
    fn find_bad(
        &mut self,
        checks: &[Check<'_>],
        verdicts: &mut [bool],
        members: Range<usize>,
        known_bad: bool,
    ) -> bool {
        if members.len() == 1 && known_bad {
            verdicts[self.member_indexes[members.start]] = false;
            return true;
        }
        if members.len() <= BISECT_SINGLES_MAX {
            let mut any_bad = false;
            for member in members {
                let index = self.member_indexes[member];
                verdicts[index] = verify_single(&checks[index]);
                any_bad |= !verdicts[index];
            }
            return any_bad;
        }
        if !known_bad && self.batch_holds(checks, members.clone()) {
            return false;
        }
        let middle = members.start + members.len() / 2;
        let left_bad = self.find_bad(checks, verdicts, members.start..middle, false);
        // The whole failed: with a clean left half, the right half must hold a bad member.
        self.find_bad(checks, verdicts, middle..members.end, !left_bad);
        true
    }

    /// Whether `[8]([−∑ z_i·s_i] B + ∑ [z_i] R_i + ∑ [z_i·k_i] A_i)` is the identity, the sums
    /// over the members in `members` (positions in `member_indexes`).
    fn batch_holds(&mut self, checks: &[Check<'_>], members: Range<usize>) -> bool {
        let SignatureVerifier {
            arena,
            member_indexes,
            r_points,
            r_weights,
            a_weights,
            b_terms,
            ..
        } = self;
        let b_weight: Scalar = b_terms[members.clone()].iter().sum();
        let scalars = once(-b_weight)
            .chain(r_weights[members.clone()].iter().copied())
            .chain(a_weights[members.clone()].iter().copied());
        let points = once(Some(ED25519_BASEPOINT_POINT))
            .chain(r_points[members.clone()].iter().map(|point| Some(*point)))
            .chain(
                member_indexes[members].iter().map(|&index| Some(checks[index].key.0.to_edwards())),
            );
        arena.run(|| {
            EdwardsPoint::optional_multiscalar_mul(scalars, points)
                .is_some_and(|sum| sum.mul_by_cofactor().is_identity())
        })
    }
}

/// What the batch needs of one signature.
struct Member {
    r_point: EdwardsPoint,
    s: Scalar,
    /// `SHA-512(R ‖ A ‖ M) mod ℓ`.
    k: Scalar,
}

impl Member {
    /// The signature's terms, or `None` if it is refused for its encoding alone (as
    /// `verify_strict` refuses it): `R` not canonical, of small order or not a point; `s ≥ ℓ`.
    fn admit(check: &Check<'_>) -> Option<Member> {
        let r_bytes = check.signature.r_bytes();
        if !r_is_acceptable(r_bytes) {
            return None;
        }
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(*check.signature.s_bytes()))?;
        let r_point = CompressedEdwardsY(*r_bytes).decompress()?;
        let mut hash = Sha512::new();
        hash.update(r_bytes);
        hash.update(check.key.as_bytes());
        hash.update(check.message);
        let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
        Some(Member { r_point, s, k })
    }
}

/// Single verification: `verify_strict`'s encoding checks, then the cofactored equation
/// `[8](R + [k]A − [s]B) = 0` (see the module doc for why cofactored).
pub fn verify_single(check: &Check<'_>) -> bool {
    let Some(member) = Member::admit(check) else {
        return false;
    };
    let minus_a = -check.key.0.to_edwards();
    // [k](−A) + [s]B, which is R for a valid signature.
    let expected_r =
        EdwardsPoint::vartime_double_scalar_mul_basepoint(&member.k, &minus_a, &member.s);
    (expected_r - member.r_point).mul_by_cofactor().is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey, Verifier};
    use proptest::prelude::*;

    /// ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const ELL: [u8; 32] = hex32("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");

    fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn checked(key: &SigningKey) -> CheckedKey {
        CheckedKey::new(key.verifying_key().as_bytes()).expect("an honest key")
    }

    /// A signature made by hand from the secret scalar `a` and nonce `r`, so that tests can build
    /// what an honest signer never would.
    fn sign_raw(a: &Scalar, r_point: &EdwardsPoint, r: &Scalar, message: &[u8]) -> Signature {
        let r_bytes = r_point.compress().to_bytes();
        let a_bytes = EdwardsPoint::mul_base(a).compress().to_bytes();
        let mut hash = Sha512::new();
        hash.update(r_bytes);
        hash.update(a_bytes);
        hash.update(message);
        let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&r_bytes);
        bytes[32..].copy_from_slice((r + k * a).as_bytes());
        Signature::from_bytes(&bytes)
    }

    /// `s + ℓ` (little-endian; `s < ℓ`, so the sum fits in 254 bits).
    fn plus_ell(s: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for index in 0..32 {
            let sum = u16::from(s[index]) + u16::from(ELL[index]) + carry;
            out[index] = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        out
    }

    /// One signature to check, owned.
    #[derive(Clone)]
    struct Owned {
        key: CheckedKey,
        signature: Signature,
        message: Vec<u8>,
    }

    impl Owned {
        fn check(&self) -> Check<'_> {
            Check { key: &self.key, signature: &self.signature, message: &self.message }
        }
    }

    /// `count` valid signatures by keys 1..=8 in turn.
    fn valid(count: usize) -> Vec<Owned> {
        (0..count)
            .map(|index| {
                let key = signing_key(index as u8 % 8 + 1);
                let message = format!("instruction=orderExecute&clientId={index}").into_bytes();
                Owned { key: checked(&key), signature: key.sign(&message), message }
            })
            .collect()
    }

    fn with_signature(owned: &mut Owned, edit: impl FnOnce(&mut [u8; 64])) {
        let mut bytes = owned.signature.to_bytes();
        edit(&mut bytes);
        owned.signature = Signature::from_bytes(&bytes);
    }

    /// Ways to spoil one signature.
    #[derive(Clone, Copy, Debug)]
    enum Corruption {
        FlipR(usize),
        FlipS(usize),
        WrongMessage,
        WrongKey,
        SPlusEll,
        SmallOrderR(usize),
        /// A small-order `R` with `s = k·a`: the error term is `R` itself, of order 8, which the
        /// batch equation alone would miss whenever the weight is a multiple of 8.
        SmallOrderRWithMatchingS(usize),
        /// A signature made with `R = [r]B + T`, `T` the small-order point of this encoding: the
        /// error term is `T` itself. `verify_strict` refuses it, the cofactored equation accepts
        /// it (see the module doc). The only corruption that is not one.
        TorsionInR(usize),
    }

    impl Corruption {
        /// Whether `verify_strict` and [`verify_single`] may disagree on it.
        fn is_torsion_only(self) -> bool {
            matches!(self, Corruption::TorsionInR(_))
        }
    }

    /// Indices of [`SMALL_ORDER_ENCODINGS`] holding a canonical point other than the identity:
    /// orders 2, 4, 8, 8.
    const TORSION_ENCODINGS: [usize; 4] = [2, 4, 6, 8];

    fn corrupt(owned: &mut Owned, corruption: Corruption) {
        match corruption {
            Corruption::FlipR(bit) => {
                with_signature(owned, |bytes| bytes[bit / 8] ^= 1 << (bit % 8))
            }
            Corruption::FlipS(bit) => {
                with_signature(owned, |bytes| bytes[32 + bit / 8] ^= 1 << (bit % 8))
            }
            Corruption::WrongMessage => owned.message.push(b'!'),
            Corruption::WrongKey => owned.key = checked(&signing_key(200)),
            Corruption::SPlusEll => with_signature(owned, |bytes| {
                let s = plus_ell(bytes[32..].try_into().expect("32 bytes"));
                bytes[32..].copy_from_slice(&s);
            }),
            Corruption::SmallOrderR(which) => with_signature(owned, |bytes| {
                bytes[..32].copy_from_slice(&SMALL_ORDER_ENCODINGS[which])
            }),
            Corruption::SmallOrderRWithMatchingS(which) => {
                let secret = Scalar::from(7u64 + which as u64);
                let encoding = CompressedEdwardsY(SMALL_ORDER_ENCODINGS[which]);
                let Some(torsion) = encoding.decompress() else {
                    return corrupt(owned, Corruption::SmallOrderR(which));
                };
                owned.key = CheckedKey::new(&EdwardsPoint::mul_base(&secret).compress().to_bytes())
                    .expect("a multiple of B");
                // s = k·a: R + [k]A − [s]B = R, a point of small order.
                owned.signature = sign_raw(&secret, &torsion, &Scalar::ZERO, &owned.message);
            }
            Corruption::TorsionInR(which) => {
                let torsion = CompressedEdwardsY(SMALL_ORDER_ENCODINGS[which])
                    .decompress()
                    .expect("a torsion encoding");
                let (secret, nonce) = (Scalar::from(9u64 + which as u64), Scalar::from(31u64));
                owned.key = CheckedKey::new(&EdwardsPoint::mul_base(&secret).compress().to_bytes())
                    .expect("a multiple of B");
                let r_point = EdwardsPoint::mul_base(&nonce) + torsion;
                owned.signature = sign_raw(&secret, &r_point, &nonce, &owned.message);
            }
        }
    }

    fn single(owned: &[Owned]) -> Vec<bool> {
        owned.iter().map(|owned| verify_single(&owned.check())).collect()
    }

    fn dalek_strict(owned: &[Owned]) -> Vec<bool> {
        owned
            .iter()
            .map(|owned| owned.key.0.verify_strict(&owned.message, &owned.signature).is_ok())
            .collect()
    }

    fn batched(verifier: &mut SignatureVerifier, owned: &[Owned]) -> Vec<bool> {
        let checks: Vec<Check<'_>> = owned.iter().map(Owned::check).collect();
        let mut verdicts = [false; SIGNATURE_BATCH_MAX];
        verifier.verify(&checks, &mut verdicts);
        verdicts[..owned.len()].to_vec()
    }

    #[test]
    fn small_order_and_non_canonical_r_are_refused() {
        for encoding in SMALL_ORDER_ENCODINGS {
            assert!(!r_is_acceptable(&encoding));
        }
        let mut p_plus_one = [0xff; 32];
        p_plus_one[0] = 0xee;
        p_plus_one[31] = 0x7f;
        assert!(!r_is_acceptable(&p_plus_one));
        let signature = signing_key(1).sign(b"message");
        assert!(r_is_acceptable(signature.r_bytes()));
    }

    #[test]
    fn the_hand_made_signer_agrees_with_ed25519_dalek() {
        let (secret, nonce) = (Scalar::from(12345u64), Scalar::from(678u64));
        let key = CheckedKey::new(&EdwardsPoint::mul_base(&secret).compress().to_bytes()).unwrap();
        let signature = sign_raw(&secret, &EdwardsPoint::mul_base(&nonce), &nonce, b"m");
        let owned = Owned { key, signature, message: b"m".to_vec() };
        assert!(verify_single(&owned.check()));
    }

    #[test]
    fn valid_batches_pass_without_fallback() {
        let mut verifier = SignatureVerifier::from_os_entropy();
        for count in [2, 3, 17, 63, 64] {
            let owned = valid(count);
            assert_eq!(batched(&mut verifier, &owned), vec![true; count]);
        }
        assert_eq!((verifier.batches, verifier.fallbacks), (5, 0));
        // One signature is verified singly.
        assert_eq!(batched(&mut verifier, &valid(1)), vec![true]);
        assert_eq!(verifier.batches, 5);
    }

    #[test]
    fn one_corrupted_signature_gets_the_single_verdict_which_is_verify_stricts() {
        let corruptions = [
            Corruption::FlipR(0),
            Corruption::FlipR(100),
            Corruption::FlipR(255),
            Corruption::FlipS(0),
            Corruption::FlipS(200),
            Corruption::FlipS(255),
            Corruption::WrongMessage,
            Corruption::WrongKey,
            Corruption::SPlusEll,
            Corruption::SmallOrderR(0),
            Corruption::SmallOrderR(6),
            Corruption::SmallOrderRWithMatchingS(2),
            Corruption::SmallOrderRWithMatchingS(6),
            Corruption::SmallOrderRWithMatchingS(8),
        ];
        let mut verifier = SignatureVerifier::from_os_entropy();
        for corruption in corruptions {
            for position in [0, 5, 63] {
                let mut owned = valid(64);
                corrupt(&mut owned[position], corruption);
                let expected = single(&owned);
                assert_eq!(expected, dalek_strict(&owned), "{corruption:?}");
                assert!(!expected[position], "{corruption:?} still verifies");
                assert_eq!(expected.iter().filter(|valid| **valid).count(), 63);
                assert_eq!(batched(&mut verifier, &owned), expected, "{corruption:?}");
            }
        }
    }

    #[test]
    fn encodings_strict_refuses_never_reach_the_batch_equation() {
        // Non-canonical s and small-order R are refused at admission: the rest of the batch
        // still passes as one, with no fallback.
        let mut verifier = SignatureVerifier::from_os_entropy();
        for corruption in [
            Corruption::SPlusEll,
            Corruption::SmallOrderR(4),
            Corruption::SmallOrderRWithMatchingS(6),
        ] {
            let mut owned = valid(8);
            corrupt(&mut owned[3], corruption);
            assert_eq!(batched(&mut verifier, &owned), single(&owned), "{corruption:?}");
        }
        assert_eq!((verifier.batches, verifier.fallbacks), (3, 0));
    }

    #[test]
    fn torsion_in_r_gets_one_verdict_batched_or_not() {
        let mut verifier = SignatureVerifier::from_os_entropy();
        for which in TORSION_ENCODINGS {
            let mut owned = valid(1);
            corrupt(&mut owned[0], Corruption::TorsionInR(which));
            // The one place the verdict departs from verify_strict's (module doc).
            assert_eq!(dalek_strict(&owned), vec![false]);
            assert_eq!(single(&owned), vec![true]);
            // Batched, whatever the weights: never a coin toss on the weight's parity.
            for round in 0..32 {
                let mut owned = valid(SIGNATURE_BATCH_MAX);
                corrupt(&mut owned[round], Corruption::TorsionInR(which));
                corrupt(
                    &mut owned[63 - round],
                    Corruption::TorsionInR(TORSION_ENCODINGS[round % 4]),
                );
                assert_eq!(batched(&mut verifier, &owned), vec![true; SIGNATURE_BATCH_MAX]);
            }
        }
        assert_eq!(verifier.fallbacks, 0);
    }

    #[test]
    fn weak_keys_are_not_keys() {
        let mut cache = KeyCache::with_entries(8);
        for encoding in SMALL_ORDER_ENCODINGS {
            assert!(CheckedKey::new(&encoding).is_none());
            assert!(cache.get(&encoding).is_none());
        }
        let key = signing_key(3);
        assert_eq!(cache.get(key.verifying_key().as_bytes()), Some(checked(&key)));
        assert_eq!(cache.get(key.verifying_key().as_bytes()), Some(checked(&key)));
        // Why it matters: with the identity as key, R = [s]B satisfies the cofactorless equation
        // for every message; only verify_strict's weak-key check (here: CheckedKey) stops it.
        let identity = VerifyingKey::from_bytes(&SMALL_ORDER_ENCODINGS[0]).unwrap();
        let s = Scalar::from(99u64);
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(EdwardsPoint::mul_base(&s).compress().as_bytes());
        bytes[32..].copy_from_slice(s.as_bytes());
        let forged = Signature::from_bytes(&bytes);
        assert!(identity.verify(b"any message", &forged).is_ok());
        assert!(identity.verify_strict(b"any message", &forged).is_err());
    }

    #[test]
    fn same_verdicts_as_ed25519_dalek_verify_batch() {
        let mut verifier = SignatureVerifier::from_os_entropy();
        for count in [2, 9, 64] {
            let mut owned = valid(count);
            let verdict = |owned: &[Owned]| {
                let messages: Vec<&[u8]> = owned.iter().map(|o| o.message.as_slice()).collect();
                let signatures: Vec<Signature> = owned.iter().map(|o| o.signature).collect();
                let keys: Vec<VerifyingKey> = owned.iter().map(|o| o.key.0).collect();
                ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
            };
            assert!(verdict(&owned));
            assert_eq!(batched(&mut verifier, &owned), vec![true; count]);
            // A batch dalek refuses is one where we fall back.
            corrupt(&mut owned[count / 2], Corruption::WrongMessage);
            let fallbacks = verifier.fallbacks;
            assert!(!verdict(&owned));
            batched(&mut verifier, &owned);
            assert_eq!(verifier.fallbacks, fallbacks + 1);
        }
    }

    #[test]
    fn weights_are_keyed() {
        let draw = |key: [u8; 32]| {
            let mut weights = Weights::from_key(key);
            (0..9).map(|_| weights.next()).collect::<Vec<Scalar>>()
        };
        let first = draw([1; 32]);
        assert_eq!(first, draw([1; 32]));
        assert_ne!(first, draw([2; 32]));
        for (index, weight) in first.iter().enumerate() {
            assert!(weight.as_bytes()[16..].iter().all(|byte| *byte == 0), "128 bits");
            assert!(!first[index + 1..].contains(weight));
        }
        let (mut one, mut two) = (Weights::from_os_entropy(), Weights::from_os_entropy());
        assert_ne!(one.next(), two.next());
    }

    fn corruption() -> impl Strategy<Value = Option<Corruption>> {
        prop_oneof![
            12 => Just(None),
            1 => (0..256usize).prop_map(|bit| Some(Corruption::FlipR(bit))),
            1 => (0..256usize).prop_map(|bit| Some(Corruption::FlipS(bit))),
            1 => Just(Some(Corruption::WrongMessage)),
            1 => Just(Some(Corruption::WrongKey)),
            1 => Just(Some(Corruption::SPlusEll)),
            1 => (0..10usize).prop_map(|which| Some(Corruption::SmallOrderR(which))),
            1 => (0..10usize).prop_map(|which| Some(Corruption::SmallOrderRWithMatchingS(which))),
            1 => (0..4usize).prop_map(|index| Some(Corruption::TorsionInR(TORSION_ENCODINGS[index]))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Any mix: the verdicts are verify_single's (verify_strict's but for torsion in `R`),
        /// and the batch falls back exactly when a member it admitted is invalid.
        #[test]
        fn mixed_batches_get_strict_verdicts(
            corruptions in prop::collection::vec(corruption(), 1..=SIGNATURE_BATCH_MAX),
        ) {
            let mut owned = valid(corruptions.len());
            for (owned, corruption) in owned.iter_mut().zip(&corruptions) {
                if let Some(corruption) = corruption {
                    corrupt(owned, *corruption);
                }
            }
            let expected = single(&owned);
            for ((single, strict), corruption) in expected.iter().zip(dalek_strict(&owned)).zip(&corruptions) {
                if !corruption.is_some_and(Corruption::is_torsion_only) {
                    prop_assert_eq!(*single, strict);
                }
            }
            let mut verifier = SignatureVerifier::from_os_entropy();
            prop_assert_eq!(batched(&mut verifier, &owned), expected.clone());
            let admitted: Vec<bool> =
                owned.iter().map(|owned| Member::admit(&owned.check()).is_some()).collect();
            let admitted_count = admitted.iter().filter(|admitted| **admitted).count();
            let admitted_invalid = admitted.iter().zip(&expected).any(|(a, valid)| *a && !valid);
            if owned.len() >= 2 && admitted_count >= 2 {
                prop_assert_eq!((verifier.batches, verifier.fallbacks), (1, u64::from(admitted_invalid)));
            } else {
                prop_assert_eq!(verifier.batches, 0);
            }
        }
    }
}
