//! Cache hints for the hot path: start loading a value's cache lines before it is read.
//!
//! Hand-written because it is one intrinsic: `std` has no portable prefetch. A hint has no
//! architectural effect (it never faults, never changes a value), so a wrong guess costs a line
//! of bandwidth and nothing else.

/// Asks the CPU to start loading `value`'s cache lines into every level. Nothing is read into a
/// register, so the caller does not wait for it.
#[inline(always)]
pub fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = (value as *const T).cast::<i8>();
        for offset in (0..size_of_val(value)).step_by(64) {
            // SAFETY: a prefetch never faults and never reads into a register; the addresses lie
            // inside `value` anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
