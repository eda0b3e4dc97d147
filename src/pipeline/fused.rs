//! The fused thread: verify, sequencer and matcher called in turn on one thread, LMAX handler
//! style, so no request waits for the scheduler between them.
//!
//! **Reads** ring A (as verify member 0, then as the sequencer) and ring B (as the matcher).
//! **Writes** verdicts into ring A's slots, ring B and ring C, exactly as the three stage
//! threads of the `split` layout do: it runs their code (`poll` on each), so the output, the
//! journal and the state hash are the same in every layout (`tests/pipeline.rs`).
//!
//! Each turn verifies one budgeted stretch, sequences everything verified, and applies
//! everything sequenced; it sleeps only when no stage did anything, and then on the one cursor
//! that can give it work:
//! - ring B's free space, when the sequencer has verified requests but no room for them (the
//!   journal frees it: the matcher, on this thread, has released all it could);
//! - the other verifiers' cursors, when the sequencer waits for them;
//! - ring A's producer (net-in) otherwise: a request after a quiet spell costs one wake-up here.
//!
//! Invariant: the thread never waits for room that only it can free. The sequencer sequences a
//! request only once ring B holds all its records (`SequencerStage::poll`), and the matcher
//! waits for ring C only after releasing on ring B what the journal needs (`matcher/stage.rs`),
//! while net-out, which frees ring C, is another thread.

use crate::matcher::Matcher;
use crate::matcher::stage::MatcherStage;
use crate::ring::Poll;
use crate::sequencer::stage::SequencerStage;
use crate::verify::stage::VerifyStage;

/// Runs the three stages until ring A closes and everything before is applied; ring B closes
/// once the sequencer is done, ring C when this returns.
pub fn run(
    mut verify: VerifyStage,
    sequencer: SequencerStage,
    mut matcher: MatcherStage,
) -> Matcher {
    let mut sequencer = Some(sequencer);
    loop {
        let verified = verify.poll();
        let sequenced = sequencer.as_mut().map_or(Poll::Finished, SequencerStage::poll);
        if sequenced == Poll::Finished && sequencer.take().is_some() {
            continue; // ring B closed: the matcher drains it, then finishes
        }
        let matched = matcher.poll();
        if matched == Poll::Finished {
            return matcher.into_matcher();
        }
        if [verified, sequenced, matched].contains(&Poll::Worked) {
            continue;
        }
        match sequencer.as_mut() {
            Some(sequencer) if sequenced == Poll::Blocked => sequencer.wait_for_room(),
            // Verified here, but another verifier is behind.
            Some(sequencer) if sequencer.next() < verify.released_end() => {
                sequencer.wait_for_input()
            }
            Some(_) if verified != Poll::Finished => verify.wait(),
            Some(sequencer) => sequencer.wait_for_input(),
            None => matcher.wait_for_input(),
        }
    }
}
