//! The fused thread: verify, sequencer, matcher and (in the server) net-out called in turn on
//! one thread, LMAX handler style, so no request waits for the scheduler between them; in the
//! `single` layout net-in too, so a request wakes no thread but this one.
//!
//! **Reads** ring A (as verify member 0, then as the sequencer), ring B (as the matcher) and,
//! with net-out, ring C; with net-in, the sockets. **Writes** verdicts into ring A's slots,
//! ring B, ring C and the sockets (and, with net-in, ring A), exactly as the stage threads of
//! the `split` layout do: it runs their code (`poll`
//! on each, [`NetOutLoop`]'s turns), so the output, the journal and the state hash are the same
//! in every layout (`tests/pipeline.rs`).
//!
//! Each turn verifies one budgeted stretch, sequences everything verified, applies everything
//! sequenced and answers everything applied (as far as the durability gate lets it). It sleeps
//! only when no stage did anything, and then on what can give it work ([`Blocker`]):
//! - ring A's producer (net-in): in net-out's poll, armed on ring A and on what net-out waits
//!   for (the journal, writable sockets), so a request after a quiet spell costs one wake-up;
//!   without net-out (the harness), on ring A's cursor;
//! - ring B's free space, when the sequencer has verified requests but no room for them (the
//!   journal frees it: the matcher, on this thread, has released all it could);
//! - the other verifiers' cursors, when the sequencer waits for them.
//!
//! Invariant: the thread never waits for room that only it can free. The sequencer sequences a
//! request only once ring B holds all its records (`SequencerStage::poll`); the matcher waits for
//! room on ring C only without net-out on this thread (then net-out, which frees it, is another
//! thread or the harness's consumer); with net-out here, ring C's room is freed by answering,
//! and the matcher's ring C (64 Ki slots) only fills past what one turn publishes if net-out is
//! held by the durability gate, which the journal (another thread) lifts.

use crate::matcher::Matcher;
use crate::matcher::stage::MatcherStage;
use crate::net::stage::NetIn;
use crate::netout::stage::{Answered, NetOut, NetOutLoop};
use crate::ring::Poll;
use crate::sequencer::stage::SequencerStage;
use crate::verify::stage::VerifyStage;
use std::time::Duration;

/// Verify member 0, the sequencer and the matcher, for one thread.
pub struct FusedCore {
    verify: VerifyStage,
    /// `None` once ring A is drained: dropping it closed ring B.
    sequencer: Option<SequencerStage>,
    /// `None` once ring B is drained: dropping it closed ring C.
    matcher: Option<MatcherStage>,
    /// The engine, once the matcher is done.
    stopped: Option<Matcher>,
}

/// What an idle [`FusedCore`] waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Blocker {
    /// A request on ring A (net-in).
    RingA,
    /// Room on ring B (the journal).
    RingBRoom,
    /// The other verifiers' verdicts.
    OtherVerifiers,
    /// Ring B's end (the sequencer is gone; the matcher drains what is left).
    RingBEnd,
    /// Nothing: every stage is done.
    Done,
}

impl FusedCore {
    /// The three stages, not yet running.
    pub fn new(verify: VerifyStage, sequencer: SequencerStage, matcher: MatcherStage) -> Self {
        FusedCore { verify, sequencer: Some(sequencer), matcher: Some(matcher), stopped: None }
    }

    /// Runs the three stages until ring A closes and everything before is applied, ring C
    /// drained by another thread; ring B closes once the sequencer is done, ring C once the
    /// matcher is. Returns the engine.
    pub fn run(mut self) -> Matcher {
        loop {
            match self.turn() {
                None => {}
                Some(Blocker::Done) => return self.stopped.expect("done means stopped"),
                Some(blocker) => self.wait(blocker),
            }
        }
    }

    /// As [`FusedCore::run`], with net-out answering on this thread after the matcher
    /// (`fused`).
    pub fn run_with_net_out(self, net_out: NetOut) -> Matcher {
        self.answer_until_shutdown(net_out.into_loop())
    }

    /// As [`FusedCore::run_with_net_out`], with net-in before the stages: the whole request
    /// path on this thread (`single`). It sleeps in net-in's poll, which watches net-out's
    /// ([`crate::net::stage::NET_IN_NESTED_POLL`]); ring A needs no waker, as this thread
    /// fills it.
    pub fn run_with_network(mut self, net_in: NetIn, net_out: NetOut) -> Matcher {
        let (mut net_in, mut net_out) = (net_in.into_loop(), net_out.into_loop());
        let mut timeout = Duration::ZERO;
        while !net_in.turn(timeout) {
            net_out.poll_and_serve(Duration::ZERO);
            let blocker = self.turn();
            timeout = match (blocker, net_out.answer_available()) {
                (Some(Blocker::RingA), Answered::Idle) => {
                    net_out.prepare_sleep().min(net_in.timeout_max())
                }
                (Some(Blocker::RingA | Blocker::Done) | None, _) | (_, Answered::Progressed) => {
                    Duration::ZERO
                }
                (Some(blocker), _) => {
                    self.wait(blocker);
                    Duration::ZERO
                }
            };
        }
        net_out.poll_and_serve(Duration::ZERO);
        // Ring A may be full when net-in publishes its last records: the stages make room.
        let streams = net_in.stop(Some(&mut || {
            self.turn();
            net_out.answer_available();
            net_out.poll_and_serve(Duration::ZERO);
        }));
        let matcher = self.answer_until_shutdown(net_out);
        // Only now may the sockets close: net-out is done writing to them.
        drop(streams);
        matcher
    }

    /// Turns the stages and net-out until net-out has answered `Shutdown`, then lets the
    /// stages see their rings close; returns the engine.
    fn answer_until_shutdown(mut self, mut net_out: NetOutLoop) -> Matcher {
        loop {
            let blocker = self.turn();
            let answered = net_out.answer_available();
            match (blocker, answered) {
                (_, Answered::Shutdown) => {
                    // Nothing is published after `Shutdown`: finish sending, then let the
                    // stages see their rings close.
                    net_out.finish();
                    return self.run();
                }
                (Some(Blocker::RingA), Answered::Idle) => {
                    let armed = self.verify.arm_external_wait();
                    net_out.wait(armed);
                    self.verify.disarm_external_wait();
                }
                // Only net-out has work left (answers the durability gate holds).
                (Some(Blocker::Done), Answered::Idle) => net_out.wait(true),
                (Some(blocker), Answered::Idle) => {
                    net_out.wait(false);
                    self.wait(blocker);
                }
                (None, _) | (_, Answered::Progressed) => net_out.wait(false),
            }
        }
    }

    /// Verifies one budgeted stretch, sequences what is verified, applies what is sequenced;
    /// `None` if any of it worked, else what to wait for.
    fn turn(&mut self) -> Option<Blocker> {
        let Some(matcher) = self.matcher.as_mut() else {
            return Some(Blocker::Done);
        };
        let verified = self.verify.poll();
        let sequenced = self.sequencer.as_mut().map_or(Poll::Finished, SequencerStage::poll);
        if sequenced == Poll::Finished && self.sequencer.take().is_some() {
            return None; // ring B closed: the matcher drains it, then finishes
        }
        let matched = matcher.poll();
        if matched == Poll::Finished {
            self.stopped = self.matcher.take().map(MatcherStage::into_matcher);
            return Some(Blocker::Done);
        }
        if [verified, sequenced, matched].contains(&Poll::Worked) {
            return None;
        }
        Some(match &self.sequencer {
            Some(_) if sequenced == Poll::Blocked => Blocker::RingBRoom,
            Some(sequencer) if sequencer.next() < self.verify.released_end() => {
                Blocker::OtherVerifiers
            }
            Some(_) if verified != Poll::Finished => Blocker::RingA,
            Some(_) => Blocker::OtherVerifiers,
            None => Blocker::RingBEnd,
        })
    }

    /// Waits (per the rings' strategy) for what `blocker` names.
    fn wait(&mut self, blocker: Blocker) {
        match (blocker, self.sequencer.as_mut(), self.matcher.as_mut()) {
            (Blocker::RingA, _, _) => self.verify.wait(),
            (Blocker::RingBRoom, Some(sequencer), _) => sequencer.wait_for_room(),
            (Blocker::OtherVerifiers, Some(sequencer), _) => sequencer.wait_for_input(),
            (_, _, Some(matcher)) => matcher.wait_for_input(),
            (_, _, None) => {}
        }
    }
}
