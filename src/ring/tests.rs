//! Ring tests on real threads. They synchronise only through the ring itself (no sleeps, no
//! timing assertions), so they pass on a loaded 2-core machine; the loom models in
//! `loom_tests.rs` cover the interleavings these cannot force.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use super::*;

const STRATEGIES: [WaitStrategy; 4] =
    [WaitStrategy::BusySpin, WaitStrategy::Yield, WaitStrategy::Park, WaitStrategy::Backoff];

/// A test record: the producer writes `value`, a writing stage writes `verdict`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Record {
    value: u64,
    verdict: u64,
}

/// Publishes `count` records with `value = sequence`, mixing single and batched publishes.
fn produce(producer: &mut Producer<Record>, count: u64) {
    let mut round = 0u64;
    while producer.published_end() < count {
        round += 1;
        let remaining = (count - producer.published_end()) as usize;
        if round.is_multiple_of(3) {
            let sequence = producer.claim();
            *producer.slot_mut(sequence) = Record { value: sequence, verdict: 0 };
            producer.publish(sequence);
        } else {
            let batch = producer.claim_batch(remaining.min(1 + (round % 37) as usize));
            for sequence in batch.clone() {
                *producer.slot_mut(sequence) = Record { value: sequence, verdict: 0 };
            }
            producer.publish_through(batch.end - 1);
        }
    }
}

/// Consumes until the ring closes; calls `check` on every owned sequence in order; returns the
/// number of sequences seen (owned or not).
fn consume(consumer: &mut Consumer<Record>, mut check: impl FnMut(u64, &Record)) -> u64 {
    let mut next = 0;
    while let Some(available_end) = consumer.wait_for(next) {
        assert!(available_end > next);
        for sequence in next..available_end {
            if consumer.owns(sequence) {
                check(sequence, consumer.slot(sequence));
            }
        }
        consumer.release_through(available_end - 1);
        next = available_end;
    }
    assert!(consumer.is_finished(next));
    next
}

/// Cores of this machine: busy-spin tests must not run more spinning threads than this.
fn cores() -> usize {
    thread::available_parallelism().map_or(1, |cores| cores.get())
}

/// One producer, one consumer, `count` records through `slot_count` slots.
fn one_producer_one_consumer(slot_count: usize, wait: WaitStrategy, count: u64) {
    let mut builder = RingBuilder::new(slot_count, wait, Record::default);
    let reader = builder.consumer(&[], Access::Read);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut reader = handles.consumer(reader);
    let producer_thread = thread::spawn(move || produce(&mut producer, count));
    let mut expected = 0;
    let seen = consume(&mut reader, |sequence, record| {
        assert_eq!(sequence, expected, "{wait:?}");
        assert_eq!(record.value, sequence, "{wait:?}");
        expected += 1;
    });
    producer_thread.join().unwrap();
    assert_eq!(seen, count, "{wait:?}");
    assert_eq!(expected, count, "{wait:?}");
}

#[test]
fn one_producer_one_consumer_in_order_with_every_strategy() {
    // 2 million records wrap 1024 slots ~2000 times. With busy-spin and a loaded machine a
    // stage may lose its core for a time slice; a large ring keeps each slice useful.
    for wait in STRATEGIES {
        one_producer_one_consumer(1024, wait, 2_000_000);
    }
}

#[test]
fn tiny_rings_wrap_with_every_sleeping_strategy() {
    // Full and empty on almost every claim: the producer's and the consumer's waits both run.
    for wait in [WaitStrategy::Yield, WaitStrategy::Park, WaitStrategy::Backoff] {
        one_producer_one_consumer(1, wait, 20_000);
        one_producer_one_consumer(2, wait, 100_000);
    }
}

#[test]
fn a_panicking_stage_stops_the_others_instead_of_hanging_them() {
    let mut builder = RingBuilder::new(4, WaitStrategy::Park, Record::default);
    let first = builder.consumer(&[], Access::Read);
    let second = builder.consumer(&[first], Access::Read);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut first = handles.consumer(first);
    let mut second = handles.consumer(second);
    let first_thread = thread::spawn(move || {
        assert_eq!(first.wait_for(0), Some(1));
        panic!("stage failure (expected by this test)");
    });
    let second_thread = thread::spawn(move || second.wait_for(0));
    let sequence = producer.claim();
    producer.publish(sequence);
    assert!(first_thread.join().is_err());
    assert_eq!(second_thread.join().unwrap(), None, "the downstream stage stops");
    let producer_thread = thread::spawn(move || {
        for _ in 0..8 {
            let sequence = producer.claim();
            producer.publish(sequence);
        }
    });
    assert!(producer_thread.join().is_err(), "a producer waiting for space panics");
}

#[test]
fn consumer_may_read_ahead_and_release_later() {
    // The journal pattern: read two batches, then release both at once. A producer that
    // waited for whole batches of free slots would deadlock with this consumer.
    let count: u64 = 100_000;
    let mut builder = RingBuilder::new(64, WaitStrategy::Yield, Record::default);
    let reader = builder.consumer(&[], Access::Read);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut reader = handles.consumer(reader);
    let producer_thread = thread::spawn(move || produce(&mut producer, count));
    let mut next = 0;
    let mut pending = 0;
    while let Some(available_end) = reader.wait_for(next) {
        for sequence in next..available_end {
            assert_eq!(reader.slot(sequence).value, sequence);
        }
        next = available_end;
        pending += 1;
        if pending == 2 || available_end - reader.cursor_end() == 64 {
            reader.set_cursor(next);
            pending = 0;
        }
    }
    reader.set_cursor(next);
    producer_thread.join().unwrap();
    assert_eq!(next, count);
}

#[test]
fn two_parallel_readers_gate_the_producer_on_the_slowest() {
    let count: u64 = 500_000;
    let mut builder = RingBuilder::new(128, WaitStrategy::Backoff, Record::default);
    let first = builder.consumer(&[], Access::Read);
    let second = builder.consumer(&[], Access::Read);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let readers = [handles.consumer(first), handles.consumer(second)];
    let threads: Vec<_> = readers
        .into_iter()
        .map(|mut reader| {
            thread::spawn(move || {
                let mut sum = 0u64;
                let seen = consume(&mut reader, |sequence, record| {
                    assert_eq!(record.value, sequence);
                    sum += record.value;
                });
                (seen, sum)
            })
        })
        .collect();
    produce(&mut producer, count);
    drop(producer);
    for thread in threads {
        assert_eq!(thread.join().unwrap(), (count, count * (count - 1) / 2));
    }
}

#[test]
fn gated_stage_sees_the_upstream_stage_writes() {
    let count: u64 = 1_000_000;
    for wait in [WaitStrategy::auto_for(3, cores()), WaitStrategy::Park] {
        let mut builder = RingBuilder::new(64, wait, Record::default);
        let doubler = builder.consumer(&[], Access::Write);
        let checker = builder.consumer(&[doubler], Access::Read);
        let mut handles = builder.build();
        let mut producer = handles.producer();
        let mut doubler = handles.consumer(doubler);
        let mut checker = handles.consumer(checker);
        let doubler_thread = thread::spawn(move || {
            let mut next = 0;
            while let Some(available_end) = doubler.wait_for(next) {
                for sequence in next..available_end {
                    let record = doubler.slot_mut(sequence);
                    assert_eq!(record.value, sequence);
                    record.verdict = record.value * 2 + 1;
                }
                doubler.release_through(available_end - 1);
                next = available_end;
            }
            next
        });
        let producer_thread = thread::spawn(move || produce(&mut producer, count));
        let mut expected = 0;
        let seen = consume(&mut checker, |sequence, record| {
            assert_eq!(sequence, expected);
            assert_eq!(record.verdict, sequence * 2 + 1, "{wait:?}");
            expected += 1;
        });
        producer_thread.join().unwrap();
        assert_eq!(doubler_thread.join().unwrap(), count);
        assert_eq!(seen, count);
    }
}

/// The verify pattern: `member_count` modulo writers, then one stage gated on all of them.
fn modulo_stage_feeds_a_gated_stage(member_count: usize, wait: WaitStrategy) {
    let count: u64 = 300_000;
    let mut builder = RingBuilder::new(128, wait, Record::default);
    let verifiers = builder.modulo_consumers(&[], member_count, Access::Write);
    let sequencer = builder.consumer(&verifiers, Access::Read);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut sequencer = handles.consumer(sequencer);
    let processed = Arc::new(AtomicUsize::new(0));
    let verifier_threads: Vec<_> = verifiers
        .iter()
        .enumerate()
        .map(|(member, &id)| {
            let mut verifier = handles.consumer(id);
            let processed = Arc::clone(&processed);
            thread::spawn(move || {
                let mut next = 0;
                while let Some(available_end) = verifier.wait_for(next) {
                    for sequence in next..available_end {
                        if verifier.owns(sequence) {
                            assert_eq!(sequence % member_count as u64, member as u64);
                            let record = verifier.slot_mut(sequence);
                            assert_eq!(record.verdict, 0, "processed twice");
                            record.verdict = ((member as u64 + 1) << 32) | record.value;
                            processed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    verifier.release_through(available_end - 1);
                    next = available_end;
                }
            })
        })
        .collect();
    let producer_thread = thread::spawn(move || produce(&mut producer, count));
    let mut expected = 0;
    let seen = consume(&mut sequencer, |sequence, record| {
        assert_eq!(sequence, expected, "out of order");
        let member = sequence % member_count as u64;
        assert_eq!(record.verdict, ((member + 1) << 32) | sequence, "verdict not visible");
        expected += 1;
    });
    producer_thread.join().unwrap();
    for thread in verifier_threads {
        thread.join().unwrap();
    }
    assert_eq!(seen, count);
    assert_eq!(processed.load(Ordering::Relaxed), count as usize, "each item verified once");
}

#[test]
fn modulo_stage_with_one_member() {
    modulo_stage_feeds_a_gated_stage(1, WaitStrategy::Yield);
}

#[test]
fn modulo_stage_with_two_members() {
    modulo_stage_feeds_a_gated_stage(2, WaitStrategy::Backoff);
}

#[test]
fn modulo_stage_with_four_members() {
    // Six threads on two cores: the oversubscribed case `auto` resolves to backoff for.
    modulo_stage_feeds_a_gated_stage(4, WaitStrategy::auto_for(6, 2));
    modulo_stage_feeds_a_gated_stage(4, WaitStrategy::Park);
}

#[test]
fn try_claim_returns_none_when_full_and_batches_shrink_to_fit() {
    let mut builder = RingBuilder::new(4, WaitStrategy::BusySpin, Record::default);
    let reader = builder.consumer(&[], Access::Read);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut reader = handles.consumer(reader);

    assert_eq!(producer.try_claim_batch(3), Some(0..3));
    assert_eq!(producer.try_claim(), Some(3));
    assert_eq!(producer.try_claim(), None);
    assert_eq!(producer.try_claim_batch(2), None);
    producer.publish_through(3);
    assert_eq!(producer.try_claim(), None, "published but not consumed is still full");

    assert_eq!(reader.try_available(0), Some(4));
    reader.release_through(1);
    assert_eq!(producer.try_claim_batch(8), Some(4..6), "only two slots are free");
    assert_eq!(producer.try_claim(), None);
    reader.release_through(3);
    assert_eq!(producer.try_claim_batch(8), Some(6..8));
    producer.publish_through(7);
    assert_eq!(reader.try_available(4), Some(8));
    assert_eq!(reader.try_available(8), None);
    assert!(!reader.is_finished(8));
    drop(producer);
    assert!(reader.is_finished(8));
    assert!(!reader.is_finished(7));
}

#[test]
fn producer_blocked_on_a_full_ring_wakes_when_the_consumer_releases() {
    for wait in STRATEGIES {
        let mut builder = RingBuilder::new(2, wait, Record::default);
        let reader = builder.consumer(&[], Access::Read);
        let mut handles = builder.build();
        let mut producer = handles.producer();
        let mut reader = handles.consumer(reader);
        for _ in 0..2 {
            let sequence = producer.claim();
            producer.publish(sequence);
        }
        assert_eq!(producer.try_claim(), None);
        // The producer thread blocks in `claim` until this thread releases.
        let producer_thread = thread::spawn(move || {
            let sequence = producer.claim();
            producer.slot_mut(sequence).value = 42;
            producer.publish(sequence);
            sequence
        });
        assert_eq!(reader.wait_for(0), Some(2));
        reader.release_through(0);
        assert_eq!(producer_thread.join().unwrap(), 2, "{wait:?}");
        assert_eq!(reader.wait_for(2), Some(3));
        assert_eq!(reader.slot(2).value, 42);
        reader.release_through(2);
        assert_eq!(reader.wait_for(3), None, "closed after the producer thread ended");
    }
}

#[test]
fn closing_wakes_a_parked_downstream_consumer() {
    // The downstream consumer parks on the upstream cursor, which closing does not move.
    let mut builder = RingBuilder::new(8, WaitStrategy::Park, Record::default);
    let first = builder.consumer(&[], Access::Read);
    let second = builder.consumer(&[first], Access::Read);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut first = handles.consumer(first);
    let mut second = handles.consumer(second);
    let sequence = producer.claim();
    producer.publish(sequence);
    assert_eq!(first.wait_for(0), Some(1));
    first.release_through(0);
    let second_thread = thread::spawn(move || consume(&mut second, |_, _| {}));
    drop(producer);
    assert_eq!(first.wait_for(1), None);
    assert_eq!(second_thread.join().unwrap(), 1);
}

/// A `Notify` that counts, for the closed-ring case below.
struct CountingNotify(AtomicUsize);

impl Notify for CountingNotify {
    fn notify(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn external_wait_through_a_real_mio_waker() {
    use mio::{Events, Poll, Token, Waker};
    const RING: Token = Token(7);
    let count: u64 = 200_000;

    // Busy-spin ring: the external waiter alone must turn on the producer's wake check.
    let mut builder = RingBuilder::new(64, WaitStrategy::BusySpin, Record::default);
    let net_out = builder.consumer(&[], Access::Read);
    let mut poll = Poll::new().unwrap();
    let waker = Arc::new(Waker::new(poll.registry(), RING).unwrap());
    builder.notify_with(net_out, waker);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut net_out = handles.consumer(net_out);

    let producer_thread = thread::spawn(move || {
        for round in 0..count / 100 {
            // Bursts with yields between them, so the consumer often finds the ring empty and
            // sleeps in epoll.
            for _ in 0..100 {
                let sequence = producer.claim();
                producer.slot_mut(sequence).value = sequence;
                producer.publish(sequence);
            }
            if round.is_multiple_of(4) {
                thread::yield_now();
            }
        }
    });
    let mut events = Events::with_capacity(8);
    let mut next = 0;
    let mut sleeps = 0;
    loop {
        match net_out.arm_external_wait(next) {
            ExternalWait::Available(available_end) => {
                for sequence in next..available_end {
                    assert_eq!(net_out.slot(sequence).value, sequence);
                }
                net_out.release_through(available_end - 1);
                next = available_end;
            }
            ExternalWait::Armed => {
                sleeps += 1;
                // A lost wake-up would leave this poll empty after its (generous) timeout.
                poll.poll(&mut events, Some(Duration::from_secs(20))).unwrap();
                assert!(events.iter().any(|event| event.token() == RING), "lost wake-up");
                net_out.disarm_external_wait();
            }
            ExternalWait::Finished => break,
        }
    }
    producer_thread.join().unwrap();
    assert_eq!(next, count);
    // Not a timing assertion: only reports how often the epoll path ran.
    eprintln!("external waits: {sleeps}");
}

#[test]
fn closing_notifies_an_armed_external_waiter() {
    let mut builder = RingBuilder::new(4, WaitStrategy::BusySpin, Record::default);
    let net_out = builder.consumer(&[], Access::Read);
    let notify = Arc::new(CountingNotify(AtomicUsize::new(0)));
    builder.notify_with(net_out, Arc::clone(&notify) as Arc<dyn Notify>);
    let mut handles = builder.build();
    let producer = handles.producer();
    let mut net_out = handles.consumer(net_out);
    assert_eq!(net_out.arm_external_wait(0), ExternalWait::Armed);
    assert_eq!(notify.0.load(Ordering::Relaxed), 0);
    drop(producer);
    assert_eq!(notify.0.load(Ordering::Relaxed), 1);
    net_out.disarm_external_wait();
    assert_eq!(net_out.arm_external_wait(0), ExternalWait::Finished);
}

#[test]
fn publishing_notifies_an_armed_external_waiter_once() {
    let mut builder = RingBuilder::new(4, WaitStrategy::BusySpin, Record::default);
    let net_out = builder.consumer(&[], Access::Read);
    let notify = Arc::new(CountingNotify(AtomicUsize::new(0)));
    builder.notify_with(net_out, Arc::clone(&notify) as Arc<dyn Notify>);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut net_out = handles.consumer(net_out);
    let sequence = producer.claim();
    producer.publish(sequence);
    assert_eq!(notify.0.load(Ordering::Relaxed), 0, "nobody was waiting");
    assert_eq!(net_out.arm_external_wait(0), ExternalWait::Available(1));
    net_out.release_through(0);
    assert_eq!(net_out.arm_external_wait(1), ExternalWait::Armed);
    for _ in 0..2 {
        let sequence = producer.claim();
        producer.publish(sequence);
    }
    assert_eq!(notify.0.load(Ordering::Relaxed), 1, "one notify per arming");
    net_out.disarm_external_wait();
    assert_eq!(net_out.arm_external_wait(1), ExternalWait::Available(3));
}

#[test]
#[should_panic(expected = "gate one on the other")]
fn build_rejects_a_writer_with_an_unordered_sibling() {
    let mut builder = RingBuilder::new(4, WaitStrategy::BusySpin, Record::default);
    builder.consumer(&[], Access::Write);
    builder.consumer(&[], Access::Read);
    builder.build();
}

#[test]
#[should_panic(expected = "gate one on the other")]
fn build_rejects_a_stage_gated_on_only_part_of_a_modulo_group() {
    let mut builder = RingBuilder::new(4, WaitStrategy::BusySpin, Record::default);
    let verifiers = builder.modulo_consumers(&[], 2, Access::Write);
    builder.consumer(&verifiers[..1], Access::Read);
    builder.build();
}

#[test]
fn build_accepts_writers_ordered_with_every_other_stage() {
    let mut builder = RingBuilder::new(4, WaitStrategy::BusySpin, Record::default);
    let reader = builder.consumer(&[], Access::Read);
    let verifiers = builder.modulo_consumers(&[reader], 3, Access::Write);
    let sequencer = builder.consumer(&verifiers, Access::Write);
    let journal = builder.consumer(&[sequencer], Access::Read);
    let matcher = builder.consumer(&[sequencer], Access::Read);
    let mut handles = builder.build();
    for id in [reader, verifiers[0], verifiers[1], verifiers[2], sequencer, journal, matcher] {
        handles.consumer(id);
    }
    handles.producer();
}

#[test]
#[should_panic(expected = "belongs to another modulo member")]
fn a_modulo_member_cannot_touch_a_sibling_sequence() {
    let mut builder = RingBuilder::new(4, WaitStrategy::BusySpin, Record::default);
    let verifiers = builder.modulo_consumers(&[], 2, Access::Write);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut verifier = handles.consumer(verifiers[0]);
    let range = producer.claim_batch(2);
    producer.publish_through(range.end - 1);
    assert_eq!(verifier.wait_for(0), Some(2));
    assert!(!verifier.owns(1));
    verifier.slot(1);
}

#[test]
#[should_panic(expected = "published out of order")]
fn publishes_must_be_contiguous() {
    let mut builder = RingBuilder::new(4, WaitStrategy::BusySpin, Record::default);
    builder.consumer(&[], Access::Read);
    let mut producer = builder.build().producer();
    let range = producer.claim_batch(2);
    producer.publish(range.start + 1);
}

#[test]
#[should_panic(expected = "release of unavailable sequence")]
fn a_consumer_cannot_release_past_its_gates() {
    let mut builder = RingBuilder::new(4, WaitStrategy::BusySpin, Record::default);
    let reader = builder.consumer(&[], Access::Read);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut reader = handles.consumer(reader);
    let sequence = producer.claim();
    producer.publish(sequence);
    assert_eq!(reader.wait_for(0), Some(1));
    reader.release_through(1);
}

#[test]
#[should_panic(expected = "slot_mut on a read-only stage")]
fn a_reader_cannot_write() {
    let mut builder = RingBuilder::new(4, WaitStrategy::BusySpin, Record::default);
    let reader = builder.consumer(&[], Access::Read);
    let mut handles = builder.build();
    let mut producer = handles.producer();
    let mut reader = handles.consumer(reader);
    let sequence = producer.claim();
    producer.publish(sequence);
    assert_eq!(reader.wait_for(0), Some(1));
    reader.slot_mut(0);
}

#[test]
fn the_factory_fills_every_slot() {
    let mut filled = 0;
    let mut builder = RingBuilder::new(16, WaitStrategy::BusySpin, || {
        filled += 1;
        Record { value: 7, verdict: 0 }
    });
    let reader = builder.consumer(&[], Access::Read);
    let mut handles = builder.build();
    assert_eq!(filled, 16);
    let mut producer = handles.producer();
    let mut reader = handles.consumer(reader);
    let batch = producer.claim_batch(16);
    assert_eq!(batch, 0..16);
    for sequence in batch {
        assert_eq!(producer.slot_mut(sequence).value, 7);
    }
    producer.publish_through(15);
    assert_eq!(reader.wait_for(0), Some(16));
}

#[test]
fn level_counts_published_slots_the_slowest_consumer_still_holds() {
    let mut builder = RingBuilder::new(8, WaitStrategy::Yield, Record::default);
    let first = builder.consumer(&[], Access::Read);
    let second = builder.consumer(&[first], Access::Read);
    let mut handles = builder.build();
    let level = handles.level();
    let mut producer = handles.producer();
    let mut first = handles.consumer(first);
    let mut second = handles.consumer(second);
    assert_eq!((level.occupancy(), level.capacity()), (0, 8));
    let batch = producer.claim_batch(5);
    producer.publish_through(batch.end - 1);
    assert_eq!(level.occupancy(), 5);
    assert_eq!(first.wait_for(0), Some(5));
    first.release_through(2);
    assert_eq!(level.occupancy(), 5, "the second consumer holds them all still");
    assert_eq!(second.wait_for(0), Some(3));
    second.release_through(1);
    assert_eq!(level.occupancy(), 3);
}
