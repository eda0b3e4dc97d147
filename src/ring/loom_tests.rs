//! Loom models of the ring: every interleaving (up to a preemption bound) of tiny rings, with
//! loom's atomics, cell and futex emulation swapped in by `sync.rs`.
//!
//! What they prove, for these sizes: a consumer never reads a slot before its publication is
//! visible and the producer never overwrites a slot a consumer still reads (loom's `UnsafeCell`
//! reports any access pair not ordered by happens-before), values arrive in order, and no
//! wake-up is lost (the futex emulation has no timeout, so a lost wake-up is a deadlock, which
//! loom reports).
//!
//! Run: `RUSTFLAGS="--cfg ringex_loom" CARGO_TARGET_DIR=target/loom cargo test --release --lib
//! ring::loom`.

use std::sync::Arc;

use ::loom::sync::{Condvar, Mutex};
use ::loom::thread;

use super::*;

/// Runs `model` under loom with a preemption bound that keeps each test to seconds.
fn check(preemption_bound: usize, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = ::loom::model::Builder::new();
    builder.preemption_bound = Some(preemption_bound);
    // Busy-spinning stages branch on every gate read; three threads need more than the default.
    builder.max_branches = 100_000;
    builder.check(model);
}

/// Publishes `count` values `sequence + 1`, in batches of up to `batch_max`.
fn produce(producer: &mut Producer<u64>, count: u64, batch_max: usize) {
    while producer.published_end() < count {
        let remaining = (count - producer.published_end()) as usize;
        if batch_max == 1 {
            let sequence = producer.claim();
            *producer.slot_mut(sequence) = sequence + 1;
            producer.publish(sequence);
        } else {
            let batch = producer.claim_batch(batch_max.min(remaining));
            for sequence in batch.clone() {
                *producer.slot_mut(sequence) = sequence + 1;
            }
            producer.publish_through(batch.end - 1);
        }
    }
}

/// Consumes until the ring closes, checking `check(sequence, value)`; returns the end.
fn consume(consumer: &mut Consumer<u64>, check: impl Fn(u64, u64)) -> u64 {
    let mut next = 0;
    while let Some(available_end) = consumer.wait_for(next) {
        for sequence in next..available_end {
            check(sequence, *consumer.slot(sequence));
        }
        consumer.release_through(available_end - 1);
        next = available_end;
    }
    next
}

/// One producer, one reader, `count` values through `slot_count` slots.
fn one_producer_one_consumer(slot_count: usize, wait: WaitStrategy, count: u64, batch_max: usize) {
    let mut builder = RingBuilder::new(slot_count, wait, || 0u64);
    let reader = builder.consumer(&[], Access::Read);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut reader = handles.consumer(reader);
    let producer_thread = thread::spawn(move || produce(&mut producer, count, batch_max));
    let end = consume(&mut reader, |sequence, value| assert_eq!(value, sequence + 1));
    producer_thread.join().unwrap();
    assert_eq!(end, count);
}

#[test]
fn single_publish_is_seen_after_the_slot_write_and_slots_are_reused_after_release() {
    check(3, || one_producer_one_consumer(2, WaitStrategy::BusySpin, 3, 1));
}

#[test]
fn batched_publish_is_one_store_for_the_whole_batch() {
    check(3, || one_producer_one_consumer(2, WaitStrategy::BusySpin, 4, 2));
}

#[test]
fn parked_producer_and_consumer_are_always_woken() {
    // One slot: the producer waits for space and the consumer for data on nearly every step.
    check(3, || one_producer_one_consumer(1, WaitStrategy::Park, 2, 1));
}

#[test]
fn backoff_waiters_are_always_woken() {
    check(3, || one_producer_one_consumer(2, WaitStrategy::Backoff, 3, 2));
}

#[test]
fn closing_wakes_a_consumer_parked_on_an_empty_ring() {
    check(3, || {
        let mut builder = RingBuilder::new(2, WaitStrategy::Park, || 0u64);
        let reader = builder.consumer(&[], Access::Read);
        let mut handles = builder.build();
        let mut producer = handles.producer();
        let mut reader = handles.consumer(reader);
        let producer_thread = thread::spawn(move || {
            let sequence = producer.claim();
            *producer.slot_mut(sequence) = 1;
            producer.publish(sequence);
        });
        let end = consume(&mut reader, |_, value| assert_eq!(value, 1));
        producer_thread.join().unwrap();
        assert_eq!(end, 1);
    });
}

#[test]
fn a_gated_stage_sees_the_upstream_stage_writes() {
    // Park, not busy-spin: two stages spinning on each other's cursors give loom unbounded
    // executions. The cursor orderings are the same; the sleep path adds fences only on the
    // waiting side, after the first gate read.
    check(2, || {
        let mut builder = RingBuilder::new(2, WaitStrategy::Park, || 0u64);
        let writer = builder.consumer(&[], Access::Write);
        let reader = builder.consumer(&[writer], Access::Read);
        let mut handles = builder.build();
        let mut producer = handles.producer();
        let mut writer = handles.consumer(writer);
        let mut reader = handles.consumer(reader);
        let count = 3;
        let producer_thread = thread::spawn(move || produce(&mut producer, count, 1));
        let writer_thread = thread::spawn(move || {
            let mut next = 0;
            while let Some(available_end) = writer.wait_for(next) {
                for sequence in next..available_end {
                    *writer.slot_mut(sequence) += 100;
                }
                writer.release_through(available_end - 1);
                next = available_end;
            }
        });
        let end = consume(&mut reader, |sequence, value| assert_eq!(value, sequence + 101));
        producer_thread.join().unwrap();
        writer_thread.join().unwrap();
        assert_eq!(end, count);
    });
}

#[test]
fn modulo_members_write_disjoint_slots_seen_by_the_gated_stage() {
    check(2, || {
        let mut builder = RingBuilder::new(2, WaitStrategy::BusySpin, || 0u64);
        let members = builder.modulo_consumers(&[], 2, Access::Write);
        let reader = builder.consumer(&members, Access::Read);
        let mut handles = builder.build();
        let mut producer = handles.producer();
        let mut reader = handles.consumer(reader);
        let count = 2;
        // Three threads at most: the producer publishes from this thread before reading.
        produce(&mut producer, count, 2);
        drop(producer);
        let member_threads: Vec<_> = members
            .iter()
            .map(|&id| {
                let mut member = handles.consumer(id);
                thread::spawn(move || {
                    let mut next = 0;
                    while let Some(available_end) = member.wait_for(next) {
                        for sequence in next..available_end {
                            if member.owns(sequence) {
                                *member.slot_mut(sequence) += 100;
                            }
                        }
                        member.release_through(available_end - 1);
                        next = available_end;
                    }
                })
            })
            .collect();
        let end = consume(&mut reader, |sequence, value| assert_eq!(value, sequence + 101));
        for thread in member_threads {
            thread.join().unwrap();
        }
        assert_eq!(end, count);
    });
}

/// An eventfd stand-in: a flag under a mutex, so a lost notify shows up as a deadlock.
struct LoomEvent {
    signalled: Mutex<bool>,
    condvar: Condvar,
}

impl Notify for LoomEvent {
    fn notify(&self) {
        *self.signalled.lock().unwrap() = true;
        self.condvar.notify_all();
    }
}

impl LoomEvent {
    /// Blocks until signalled, then resets the flag (like reading an eventfd).
    fn wait(&self) {
        let mut signalled = self.signalled.lock().unwrap();
        while !*signalled {
            signalled = self.condvar.wait(signalled).unwrap();
        }
        *signalled = false;
    }
}

#[test]
fn external_waiters_are_always_notified() {
    check(3, || {
        let event = Arc::new(LoomEvent { signalled: Mutex::new(false), condvar: Condvar::new() });
        let mut builder = RingBuilder::new(2, WaitStrategy::BusySpin, || 0u64);
        let net_out = builder.consumer(&[], Access::Read);
        builder.notify_with(net_out, Arc::clone(&event) as Arc<dyn Notify>);
        let mut handles = builder.build();
        let mut producer = handles.producer();
        let mut net_out = handles.consumer(net_out);
        let count = 2;
        let producer_thread = thread::spawn(move || produce(&mut producer, count, 1));
        let mut next = 0;
        loop {
            match net_out.arm_external_wait(next) {
                ExternalWait::Available(available_end) => {
                    for sequence in next..available_end {
                        assert_eq!(*net_out.slot(sequence), sequence + 1);
                    }
                    net_out.release_through(available_end - 1);
                    next = available_end;
                }
                ExternalWait::Armed => {
                    event.wait();
                    net_out.disarm_external_wait();
                }
                ExternalWait::Finished => break,
            }
        }
        producer_thread.join().unwrap();
        assert_eq!(next, count);
    });
}
