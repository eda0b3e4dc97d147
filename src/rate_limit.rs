//! Token buckets for rate limiting, per client IP (net-in) and per API key (sequencer).
//!
//! A fixed, preallocated table of 4-way sets: a key lives in the set its hash picks; a new key
//! takes the way whose bucket is fullest (an idle bucket is indistinguishable from no bucket, so
//! forgetting it loses nothing). Owned by one thread, so no lock. Tokens are counted in
//! thousandths so refill is exact integer arithmetic on milliseconds; no floating point.

/// Ways per set.
const WAYS: usize = 4;

#[derive(Clone, Copy, Default)]
struct Bucket {
    key: u128,
    /// Tokens × 1000.
    tokens_milli: u64,
    /// When `tokens_milli` was last brought up to date, Unix ms; 0 = unused way.
    updated_ms: u64,
}

/// A table of token buckets with one rate and burst.
pub struct RateLimiter {
    sets: Box<[[Bucket; WAYS]]>,
    mask: usize,
    /// Tokens added per second; 0 disables the limiter.
    rate_per_s: u64,
    /// Bucket size in tokens.
    burst: u64,
}

impl RateLimiter {
    /// A limiter of `rate_per_s` requests per second with bursts of `burst`, remembering about
    /// `keys_max` keys. `rate_per_s == 0` turns it off.
    pub fn new(rate_per_s: u64, burst: u64, keys_max: usize) -> RateLimiter {
        let sets = if rate_per_s == 0 { 1 } else { (keys_max / WAYS).max(1).next_power_of_two() };
        RateLimiter {
            sets: vec![[Bucket::default(); WAYS]; sets].into_boxed_slice(),
            mask: sets - 1,
            rate_per_s,
            burst: burst.max(1),
        }
    }

    /// Whether the limiter is on.
    pub fn is_enabled(&self) -> bool {
        self.rate_per_s > 0
    }

    fn refilled(&self, bucket: &Bucket, now_ms: u64) -> u64 {
        let elapsed_ms = now_ms.saturating_sub(bucket.updated_ms);
        let added = elapsed_ms.saturating_mul(self.rate_per_s);
        bucket.tokens_milli.saturating_add(added).min(self.burst * 1000)
    }

    /// Takes one token for `key` at `now_ms`; `Err(retry_after_s)` when the bucket is empty.
    pub fn take(&mut self, key: u128, now_ms: u64) -> Result<(), u32> {
        if self.rate_per_s == 0 {
            return Ok(());
        }
        let hash = (key as u64 ^ (key >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let set_index = (hash >> 32) as usize & self.mask;
        let full = self.burst * 1000;
        let mut chosen = 0;
        let mut chosen_tokens = 0;
        let mut found = false;
        for way in 0..WAYS {
            let bucket = self.sets[set_index][way];
            if bucket.updated_ms != 0 && bucket.key == key {
                chosen = way;
                found = true;
                break;
            }
            let tokens =
                if bucket.updated_ms == 0 { u64::MAX } else { self.refilled(&bucket, now_ms) };
            if tokens >= chosen_tokens {
                chosen = way;
                chosen_tokens = tokens;
            }
        }
        if !found {
            self.sets[set_index][chosen] =
                Bucket { key, tokens_milli: full, updated_ms: now_ms.max(1) };
        }
        let tokens = self.refilled(&self.sets[set_index][chosen], now_ms);
        let bucket = &mut self.sets[set_index][chosen];
        bucket.updated_ms = now_ms.max(bucket.updated_ms);
        if tokens >= 1000 {
            bucket.tokens_milli = tokens - 1000;
            Ok(())
        } else {
            bucket.tokens_milli = tokens;
            let missing_milli = 1000 - tokens;
            // ms until one token: missing / rate (tokens per ms is rate/1000 → milli per ms = rate).
            let wait_ms = missing_milli.div_ceil(self.rate_per_s);
            Err(wait_ms.div_ceil(1000).max(1) as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills() {
        let mut limiter = RateLimiter::new(10, 3, 64);
        for _ in 0..3 {
            assert_eq!(limiter.take(7, 1_000), Ok(()));
        }
        assert_eq!(limiter.take(7, 1_000), Err(1));
        // Another key has its own bucket.
        assert_eq!(limiter.take(8, 1_000), Ok(()));
        // 100 ms gives one token at 10/s.
        assert_eq!(limiter.take(7, 1_100), Ok(()));
        assert_eq!(limiter.take(7, 1_100), Err(1));
    }

    #[test]
    fn retry_after_counts_whole_seconds() {
        let mut limiter = RateLimiter::new(1, 1, 16);
        assert_eq!(limiter.take(1, 5_000), Ok(()));
        assert_eq!(limiter.take(1, 5_000), Err(1));
        let mut slow = RateLimiter::new(1, 1, 16);
        assert_eq!(slow.take(1, 1), Ok(()));
        assert_eq!(slow.take(1, 2), Err(1));
    }

    #[test]
    fn off_means_off() {
        let mut limiter = RateLimiter::new(0, 0, 16);
        for now in 0..10_000 {
            assert_eq!(limiter.take(1, now), Ok(()));
        }
    }

    #[test]
    fn many_keys_do_not_grow_the_table() {
        let mut limiter = RateLimiter::new(1, 1, 8);
        for key in 0..10_000u128 {
            let _ = limiter.take(key, 1_000);
        }
        assert_eq!(limiter.sets.len(), 2);
    }
}
