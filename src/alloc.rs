//! The process's global allocator: the system allocator, plus per-thread scoped arenas and a
//! per-thread count of heap allocations.
//!
//! Why: ringex allocates at start-up and never per order. One dependency on the hot path does
//! allocate internally — `ed25519_dalek::verify_batch` builds a few small vectors per call — so a
//! verify thread runs it inside a [`ScopedArena`]: a region the thread reserved at start-up, from
//! which allocations are bumped and which is reset wholesale when the scope ends. No heap call, no
//! lock, no syscall. Anything that does not fit falls through to the system allocator and is
//! counted like any other heap allocation, so the zero-allocation tests stay honest.
//!
//! `main` installs [`RingexAllocator`] as `#[global_allocator]`; so do the tests that count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicU64, Ordering};

/// The global allocator: system heap, with scoped arenas and per-thread counting.
pub struct RingexAllocator;

#[derive(Clone, Copy)]
struct ArenaState {
    start: usize,
    end: usize,
    next: usize,
}

/// Heap allocations made by threads that called [`count_this_thread`] (the pipeline's stage
/// threads): the zero-allocation test of the whole server path reads it.
static PIPELINE_HEAP_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Heap allocations (and reallocations) this thread made through the system allocator.
    static HEAP_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Whether this thread's allocations count towards [`pipeline_heap_allocations`].
    static COUNTED: Cell<bool> = const { Cell::new(false) };
    /// The thread's active arena, if a [`ScopedArena`] is in scope.
    static ARENA: Cell<Option<ArenaState>> = const { Cell::new(None) };
}

/// Heap allocations this thread has made so far (arena allocations excluded).
pub fn heap_allocations() -> u64 {
    HEAP_ALLOCATIONS.with(Cell::get)
}

fn count_heap_allocation() {
    // `try_with`: during thread teardown the slot may be gone; counting is best effort then.
    let _ = HEAP_ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        PIPELINE_HEAP_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts this thread's heap allocations in [`pipeline_heap_allocations`] from now on (every
/// pipeline stage thread calls it when it starts).
pub fn count_this_thread() {
    COUNTED.with(|counted| counted.set(true));
}

/// Heap allocations made so far by every counted (pipeline) thread together.
pub fn pipeline_heap_allocations() -> u64 {
    PIPELINE_HEAP_ALLOCATIONS.load(Ordering::Relaxed)
}

fn arena_alloc(layout: Layout) -> *mut u8 {
    ARENA
        .try_with(|arena| {
            let Some(mut state) = arena.get() else {
                return null_mut();
            };
            let aligned = (state.next + layout.align() - 1) & !(layout.align() - 1);
            let Some(end) = aligned.checked_add(layout.size()) else {
                return null_mut();
            };
            if end > state.end {
                return null_mut();
            }
            state.next = end;
            arena.set(Some(state));
            aligned as *mut u8
        })
        .unwrap_or(null_mut())
}

fn in_arena(pointer: *mut u8) -> bool {
    ARENA
        .try_with(|arena| {
            arena.get().is_some_and(|state| (state.start..state.end).contains(&(pointer as usize)))
        })
        .unwrap_or(false)
}

// SAFETY: arena blocks are disjoint bump allocations inside a region owned by the current thread
// for the arena's scope and never handed to another thread (the scope's closure runs on this
// thread and the arena is reset only after it returns); everything else is the system allocator's.
unsafe impl GlobalAlloc for RingexAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = arena_alloc(layout);
        if !pointer.is_null() {
            return pointer;
        }
        count_heap_allocation();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if in_arena(pointer) {
            return; // freed wholesale when the scope ends
        }
        // SAFETY: not an arena pointer, so the system allocator made it with this layout.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if in_arena(pointer) {
            // SAFETY: the caller guarantees the new layout is valid.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: forwarding to our own alloc with a valid layout.
            let new_pointer = unsafe { self.alloc(new_layout) };
            if !new_pointer.is_null() {
                // SAFETY: both blocks are valid for the smaller of the two sizes and distinct.
                unsafe {
                    std::ptr::copy_nonoverlapping(pointer, new_pointer, layout.size().min(new_size))
                };
            }
            return new_pointer;
        }
        count_heap_allocation();
        // SAFETY: not an arena pointer, so the system allocator made it with this layout.
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

/// A region reserved once per thread; [`ScopedArena::run`] serves every allocation of a closure
/// from it and forgets them all when the closure returns.
pub struct ScopedArena {
    region: Box<[u8]>,
}

impl ScopedArena {
    /// Reserves `bytes` (and touches them, so the first use does not fault pages in).
    pub fn with_capacity(bytes: usize) -> ScopedArena {
        ScopedArena { region: vec![1u8; bytes].into_boxed_slice() }
    }

    /// Runs `work` with this thread's allocations served from the arena.
    ///
    /// Values allocated inside must not outlive the call (the region is reused by the next one):
    /// `work` returns plain data, and the type system cannot check that it does not smuggle a
    /// `Vec` out — callers keep the closure to calls that return `Copy` results, as the verify
    /// stage does with `verify_batch`'s `Result<(), SignatureError>`.
    pub fn run<R: Copy>(&mut self, work: impl FnOnce() -> R) -> R {
        let start = self.region.as_mut_ptr() as usize;
        let state = ArenaState { start, end: start + self.region.len(), next: start };
        let previous = ARENA.with(|arena| arena.replace(Some(state)));
        assert!(previous.is_none(), "arenas do not nest");
        let result = work();
        ARENA.with(|arena| arena.set(None));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The library's unit tests run under the default allocator; the arena logic is exercised
    // end to end by tests/verify_alloc.rs, which installs RingexAllocator.
    #[test]
    fn arena_scope_is_exclusive() {
        let mut arena = ScopedArena::with_capacity(1024);
        assert_eq!(arena.run(|| 7), 7);
        assert_eq!(arena.run(|| 8), 8);
    }
}
