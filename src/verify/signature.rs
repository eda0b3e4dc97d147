//! ED25519 checks for the verify stage: strict single verification, batch verification with a
//! fallback that makes its verdicts identical to the single ones, and a cache of decompressed keys.
//!
//! Batch verification (ed25519-dalek's `verify_batch`) checks one random linear combination of all
//! signatures: about twice as fast per signature, but more permissive than `verify_strict` on
//! adversarial encodings (a small-order or non-canonically encoded `R`, a weak key). So before a
//! signature joins a batch it passes the checks only `verify_strict` would add — weak keys are
//! refused at the key cache, `R` must be canonical and not of small order (a byte comparison, no
//! decompression) — and when a batch fails, every member is verified again on its own. A verdict
//! therefore never depends on the company a request keeps.
//!
//! `verify_batch` allocates a few vectors per call; it runs inside the thread's
//! [`ScopedArena`](crate::alloc::ScopedArena), so the hot path makes no heap call.

use crate::alloc::ScopedArena;
use ed25519_dalek::{Signature, VerifyingKey};

/// Most signatures verified in one batch.
pub const SIGNATURE_BATCH_MAX: usize = 64;

/// Bytes reserved per verify thread for `verify_batch`'s internal vectors.
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

/// A cached key: its bytes and the decompressed key (`None`: not a point, or weak).
type CachedKey = Option<([u8; 32], Option<VerifyingKey>)>;

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

    /// The key, or `None` if the bytes are not a point or are a weak (small-order) key.
    pub fn get(&mut self, bytes: &[u8; 32]) -> Option<VerifyingKey> {
        let slot = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize & self.mask;
        if let Some((cached, key)) = &self.entries[slot]
            && cached == bytes
        {
            return *key;
        }
        let key = VerifyingKey::from_bytes(bytes).ok().filter(|key| !key.is_weak());
        self.entries[slot] = Some((*bytes, key));
        key
    }
}

/// One signature to check.
#[derive(Clone, Copy)]
pub struct Check<'m> {
    /// The signer.
    pub key: VerifyingKey,
    /// The signature.
    pub signature: Signature,
    /// The signed bytes.
    pub message: &'m [u8],
}

/// Verifies signatures singly or in batches, with identical verdicts either way.
pub struct SignatureVerifier {
    arena: ScopedArena,
    /// Batches tried (statistics for the benchmark).
    pub batches: u64,
    /// Batches that failed and fell back to single verification.
    pub fallbacks: u64,
}

impl Default for SignatureVerifier {
    fn default() -> Self {
        SignatureVerifier {
            arena: ScopedArena::with_capacity(ARENA_BYTES),
            batches: 0,
            fallbacks: 0,
        }
    }
}

impl SignatureVerifier {
    /// Writes into `verdicts[i]` whether `checks[i]` is valid, for up to
    /// [`SIGNATURE_BATCH_MAX`] checks.
    pub fn verify(&mut self, checks: &[Check<'_>], verdicts: &mut [bool]) {
        assert!(checks.len() <= SIGNATURE_BATCH_MAX && verdicts.len() >= checks.len());
        // Members that verify_strict would refuse for their encoding never join a batch.
        let mut batchable = 0;
        for (check, verdict) in checks.iter().zip(verdicts.iter_mut()) {
            *verdict = r_is_acceptable(check.signature.r_bytes());
            batchable += usize::from(*verdict);
        }
        if batchable < 2 {
            for (check, verdict) in checks.iter().zip(verdicts.iter_mut()) {
                *verdict = *verdict && verify_single(check);
            }
            return;
        }
        let mut messages: [&[u8]; SIGNATURE_BATCH_MAX] = [&[]; SIGNATURE_BATCH_MAX];
        let mut signatures = [Signature::from_bytes(&[0; 64]); SIGNATURE_BATCH_MAX];
        let mut keys = [checks[0].key; SIGNATURE_BATCH_MAX];
        let mut count = 0;
        for (check, verdict) in checks.iter().zip(verdicts.iter()) {
            if *verdict {
                messages[count] = check.message;
                signatures[count] = check.signature;
                keys[count] = check.key;
                count += 1;
            }
        }
        self.batches += 1;
        let batch_ok = self.arena.run(|| {
            ed25519_dalek::verify_batch(&messages[..count], &signatures[..count], &keys[..count])
                .is_ok()
        });
        if batch_ok {
            return;
        }
        self.fallbacks += 1;
        for (check, verdict) in checks.iter().zip(verdicts.iter_mut()) {
            *verdict = *verdict && verify_single(check);
        }
    }
}

/// Strict single verification.
pub fn verify_single(check: &Check<'_>) -> bool {
    check.key.verify_strict(check.message, &check.signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
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
    fn batch_verdicts_equal_single_verdicts() {
        let keys: Vec<SigningKey> = (1..=8).map(signing_key).collect();
        let messages: Vec<Vec<u8>> = (0..8).map(|i| format!("message {i}").into_bytes()).collect();
        let mut signatures: Vec<Signature> =
            keys.iter().zip(&messages).map(|(key, message)| key.sign(message)).collect();
        // Corrupt two: a flipped bit, and a signature over another message.
        let mut bytes = signatures[2].to_bytes();
        bytes[40] ^= 1;
        signatures[2] = Signature::from_bytes(&bytes);
        signatures[5] = keys[5].sign(b"something else");
        let checks: Vec<Check<'_>> = (0..8)
            .map(|i| Check {
                key: keys[i].verifying_key(),
                signature: signatures[i],
                message: &messages[i],
            })
            .collect();
        let mut verifier = SignatureVerifier::default();
        let mut verdicts = [false; 8];
        verifier.verify(&checks, &mut verdicts);
        let singles: Vec<bool> = checks.iter().map(verify_single).collect();
        assert_eq!(verdicts.to_vec(), singles);
        assert_eq!(verdicts, [true, true, false, true, true, false, true, true]);
        assert_eq!(verifier.fallbacks, 1);
        // All valid: one batch, no fallback.
        let valid: Vec<Check<'_>> = checks
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 2 && *i != 5)
            .map(|(_, c)| *c)
            .collect();
        verifier.verify(&valid, &mut verdicts);
        assert!(verdicts[..valid.len()].iter().all(|v| *v));
        assert_eq!(verifier.fallbacks, 1);
    }

    #[test]
    fn weak_keys_are_not_keys() {
        let mut cache = KeyCache::with_entries(8);
        assert!(cache.get(&SMALL_ORDER_ENCODINGS[0]).is_none());
        let key = signing_key(3).verifying_key();
        assert_eq!(cache.get(key.as_bytes()), Some(key));
        assert_eq!(cache.get(key.as_bytes()), Some(key));
    }
}
