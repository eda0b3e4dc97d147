//! How many of its requests a verify thread checks before it publishes their verdicts.
//!
//! Batch verification is cheaper per signature the larger the batch, but a verdict is of use
//! only once published (the thread's cursor released to the sequencer), and every request in a
//! batch waits for the whole of it. A thread that took everything waiting, up to 64, held the
//! first request of a full batch for 64 verifications (2.5 ms at 39 µs a signature on the AMD
//! EPYC of issue 18) and, the longer its batch, the more arrived meanwhile for the next.
//!
//! So each thread takes at most [`BatchBudget::batch_max`] requests at a time, publishes them,
//! then takes the next: `batch_max` is the largest batch whose verification fits the latency
//! budget. Batches grow beyond it only when the backlog says the thread is behind (more than
//! [`BEHIND_BATCHES`] budgeted batches of its requests waiting): a request's wait is then
//! queueing anyway, and the larger batches' throughput is what clears it.
//!
//! **The cost model**, calibrated at start-up on this CPU with the verifier's own code
//! ([`BatchBudget::calibrate`]: one verification, and a batch of 64, on made-up signatures —
//! a few milliseconds): a batch of `b` costs `single + (b − 1) · marginal`, `marginal` being
//! what each signature beyond the first adds to a batch of 64.

use super::signature::{Check, CheckedKey, SIGNATURE_BATCH_MAX, SignatureVerifier, verify_single};
use ed25519_dalek::{Signer, SigningKey};
use std::time::Instant;

/// A thread with more than this many budgeted batches of its requests waiting is behind, and
/// takes up to [`SIGNATURE_BATCH_MAX`] at a time.
pub const BEHIND_BATCHES: usize = 4;

/// Without `--verify-budget-us`: the budget in single verifications (a request then waits at
/// most about this many verification times for batches ahead of its own).
pub const AUTO_BUDGET_SINGLES: u64 = 4;

/// The rounds of each calibration measurement; the fastest counts (the others met a preemption).
const CALIBRATION_ROUNDS: usize = 5;

/// A verify thread's batch limit and what it was derived from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchBudget {
    /// Longest a budgeted batch may take to verify, ns.
    pub budget_ns: u64,
    /// One verification, ns.
    pub single_ns: u64,
    /// Per signature in a batch of [`SIGNATURE_BATCH_MAX`], ns.
    pub batch_per_signature_ns: u64,
    /// Requests taken at a time while not behind.
    pub batch_max: usize,
}

impl BatchBudget {
    /// The limit for `budget_ns` given the costs measured.
    pub fn from_costs(budget_ns: u64, single_ns: u64, batch_per_signature_ns: u64) -> BatchBudget {
        let full_ns = batch_per_signature_ns * SIGNATURE_BATCH_MAX as u64;
        let marginal_ns = full_ns.saturating_sub(single_ns) / (SIGNATURE_BATCH_MAX as u64 - 1);
        let beyond_first = match budget_ns.checked_sub(single_ns) {
            None => 0,
            Some(_) if marginal_ns == 0 => SIGNATURE_BATCH_MAX,
            Some(spare_ns) => usize::try_from(spare_ns / marginal_ns).unwrap_or(usize::MAX),
        };
        let batch_max = beyond_first.saturating_add(1).min(SIGNATURE_BATCH_MAX);
        BatchBudget { budget_ns, single_ns, batch_per_signature_ns, batch_max }
    }

    /// No limit below a full batch: for verifiers that trust signatures (benchmarks), whose
    /// batches cost no verification.
    pub fn unbounded() -> BatchBudget {
        BatchBudget {
            budget_ns: 0,
            single_ns: 0,
            batch_per_signature_ns: 0,
            batch_max: SIGNATURE_BATCH_MAX,
        }
    }

    /// Measures this CPU and derives the limit for `budget_us` (default:
    /// [`AUTO_BUDGET_SINGLES`] single verifications).
    pub fn calibrate(budget_us: Option<u64>) -> BatchBudget {
        let (single_ns, batch_per_signature_ns) = measure_costs();
        let budget_ns = budget_us.map_or(AUTO_BUDGET_SINGLES * single_ns, |us| us * 1_000);
        BatchBudget::from_costs(budget_ns, single_ns, batch_per_signature_ns)
    }

    /// How many of `waiting` requests to take now.
    #[inline]
    pub fn take(&self, waiting: usize) -> usize {
        let limit = if waiting > BEHIND_BATCHES * self.batch_max {
            SIGNATURE_BATCH_MAX
        } else {
            self.batch_max
        };
        waiting.min(limit)
    }

    /// One line for the start-up log.
    pub fn describe(&self) -> String {
        format!(
            "verify batches of at most {} (budget {} µs; one verification {:.1} µs, {:.1} µs a \
             signature in batches of {SIGNATURE_BATCH_MAX})",
            self.batch_max,
            self.budget_ns / 1_000,
            self.single_ns as f64 / 1e3,
            self.batch_per_signature_ns as f64 / 1e3
        )
    }
}

/// A made-up signed order: its own key (from a fixed seed) and a signing string of the usual
/// shape and length (~150 bytes). What calibration here and `ringex floor` time the verifier on.
pub struct SampleSignature {
    key: CheckedKey,
    signature: ed25519_dalek::Signature,
    message: Vec<u8>,
}

impl SampleSignature {
    /// `count` of them, the same every run, each by a distinct key.
    pub fn made_up(count: usize) -> Vec<SampleSignature> {
        (0..count)
            .map(|index| {
                let mut seed = [0u8; 32];
                seed[..13].copy_from_slice(b"ringex-sample");
                seed[24..].copy_from_slice(&(index as u64).to_le_bytes());
                let signing = SigningKey::from_bytes(&seed);
                let message = format!(
                    "instruction=orderExecute&clientId={index}&orderType=Limit&price=142.{:02}&\
                     quantity={}.25&side=Bid&symbol=SOL_USDC&timeInForce=GTC&\
                     timestamp={}&window=5000",
                    index % 100,
                    index % 9 + 1,
                    1_750_000_000_000 + index as u64
                )
                .into_bytes();
                let key = CheckedKey::new(signing.verifying_key().as_bytes()).expect("a valid key");
                SampleSignature { key, signature: signing.sign(&message), message }
            })
            .collect()
    }

    /// The verifier's view of it.
    pub fn check(&self) -> Check<'_> {
        Check { key: &self.key, signature: &self.signature, message: &self.message }
    }

    /// The signed bytes.
    pub fn message(&self) -> &[u8] {
        &self.message
    }
}

/// (one verification, per signature in a full batch), ns: the fastest of a few rounds each.
fn measure_costs() -> (u64, u64) {
    let samples = SampleSignature::made_up(SIGNATURE_BATCH_MAX);
    let checks: Vec<Check<'_>> = samples.iter().map(SampleSignature::check).collect();
    let fastest = |mut round: Box<dyn FnMut()>| {
        (0..CALIBRATION_ROUNDS)
            .map(|_| {
                let started = Instant::now();
                round();
                started.elapsed().as_nanos() as u64
            })
            .min()
            .unwrap_or(0)
    };
    let single_ns = fastest(Box::new(|| {
        for check in &checks[..8] {
            assert!(verify_single(check));
        }
    })) / 8;
    let mut verifier = SignatureVerifier::from_os_entropy();
    let mut verdicts = [false; SIGNATURE_BATCH_MAX];
    let batch_ns = fastest(Box::new(|| {
        verifier.verify(&checks, &mut verdicts);
        assert!(verdicts.iter().all(|&valid| valid));
    }));
    (single_ns.max(1), (batch_ns / SIGNATURE_BATCH_MAX as u64).max(1))
}

/// The stretches a verify thread works through in one ring batch: for each, the positions in
/// `owned` (its own sequences, ascending) it verifies together, and the sequence it then
/// releases through — just before its next own sequence, or the batch's last
/// (`available_end − 1`) after the final stretch, so the other verifiers' sequences between are
/// released too.
pub fn stretches(
    owned: &[u64],
    available_end: u64,
    budget: &BatchBudget,
) -> impl Iterator<Item = (std::ops::Range<usize>, u64)> {
    let mut start = 0;
    let budget = *budget;
    std::iter::from_fn(move || {
        if start >= owned.len() {
            return None;
        }
        let end = start + budget.take(owned.len() - start);
        let through = owned.get(end).map_or(available_end - 1, |next_own| next_own - 1);
        let range = start..end;
        start = end;
        Some((range, through))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_batch_that_fits_the_budget() {
        // One verification 21 µs; 10 µs a signature in 64s: each beyond the first adds
        // (640 − 21) / 63 ≈ 9.8 µs.
        let budget = |budget_us: u64| BatchBudget::from_costs(budget_us * 1_000, 21_000, 10_000);
        assert_eq!(budget(84).batch_max, 7);
        assert_eq!(budget(21).batch_max, 1);
        // Below one verification: still one at a time, never none.
        assert_eq!(budget(5).batch_max, 1);
        assert_eq!(budget(10_000).batch_max, SIGNATURE_BATCH_MAX);
        // Batches that cost nothing beyond the first: a full batch.
        assert_eq!(BatchBudget::from_costs(30_000, 20_000, 100).batch_max, SIGNATURE_BATCH_MAX);
    }

    #[test]
    fn batches_grow_to_full_only_when_the_thread_is_behind() {
        let budget = BatchBudget::from_costs(84_000, 21_000, 10_000);
        assert_eq!(budget.take(3), 3);
        assert_eq!(budget.take(7), 7);
        assert_eq!(budget.take(4 * 7), 7);
        // Behind: everything waiting, up to a full batch.
        assert_eq!(budget.take(4 * 7 + 1), 29);
        assert_eq!(budget.take(100), SIGNATURE_BATCH_MAX);
        assert_eq!(BatchBudget::unbounded().take(200), SIGNATURE_BATCH_MAX);
    }

    #[test]
    fn each_stretch_is_published_before_the_next_is_verified() {
        let budget = BatchBudget::from_costs(84_000, 21_000, 10_000);
        // Verifier 1 of 2 owns the odd sequences of the batch 10..31.
        let owned: Vec<u64> = (10..31).filter(|sequence| sequence % 2 == 1).collect();
        assert_eq!(owned.len(), 10);
        let taken: Vec<_> = stretches(&owned, 31, &budget).collect();
        // 10 waiting: 7, then 3; the first released through just before sequence 25 (its next
        // own), the last through the batch's end, verifier 0's sequence 30 included.
        assert_eq!(taken, vec![(0..7, 24), (7..10, 30)]);
        assert_eq!(stretches(&[], 31, &budget).count(), 0);
    }

    #[test]
    fn the_sample_signatures_are_distinct_order_sized_and_valid() {
        let samples = SampleSignature::made_up(SIGNATURE_BATCH_MAX);
        for (index, sample) in samples.iter().enumerate() {
            assert!((140..=180).contains(&sample.message().len()), "{}", sample.message().len());
            assert!(sample.message().starts_with(b"instruction=orderExecute&clientId="));
            assert!(verify_single(&sample.check()));
            assert!(samples[index + 1..].iter().all(|other| other.key != sample.key));
        }
    }

    #[test]
    fn calibration_measures_this_cpu() {
        let budget = BatchBudget::calibrate(None);
        assert!(budget.single_ns > 0 && budget.batch_per_signature_ns > 0, "{budget:?}");
        assert_eq!(budget.budget_ns, AUTO_BUDGET_SINGLES * budget.single_ns);
        assert!((1..=SIGNATURE_BATCH_MAX).contains(&budget.batch_max));
        assert!(budget.describe().starts_with("verify batches of at most "));
    }
}
