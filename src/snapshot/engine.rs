//! The state a journal rebuilds — the matcher, net-out's view, the sequencer's memory — and the
//! one function that applies a journal record to it, shared by start-up, `ringex replay` and the
//! snapshot thread, so all three rebuild exactly what the live pipeline built.

use std::sync::Arc;

use crate::config::Config;
use crate::event::{Event, EventSink};
use crate::journal::{Base, Chain, payload};
use crate::matcher::Matcher;
use crate::netout::view::{View, ViewLimits};
use crate::records::Outcome;
use crate::sequencer::{Sequencer, SequencerLimits};
use crate::types::SequenceNumber;

/// The engine's state after the journal records `1..=base.record`.
pub struct Engine {
    /// The matching engine.
    pub matcher: Matcher,
    /// net-out's read side.
    pub view: View,
    /// The sequencer, with its replay cache and the keys it knows.
    pub sequencer: Sequencer,
    /// The last record applied and its chain value.
    pub base: Base,
    /// Engine time of the last command applied (µs).
    pub last_time_us: u64,
}

/// A journal record that is not a command with a higher sequence number than the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadRecord(pub SequenceNumber);

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {} is not a command with an increasing sequence number", self.0.0)
    }
}

/// Feeds replayed events to net-out's view.
struct ViewSink<'v> {
    view: &'v mut View,
}

impl EventSink for ViewSink<'_> {
    fn push(&mut self, event: Event) {
        self.view.apply(&event);
    }
}

impl Engine {
    /// The state before any record.
    pub fn new(config: Arc<Config>, view: ViewLimits, sequencer: SequencerLimits) -> Engine {
        Engine {
            matcher: Matcher::new(config.clone()),
            view: View::new(config, view),
            sequencer: Sequencer::new(sequencer, SequenceNumber(0), 0),
            base: Base::GENESIS,
            last_time_us: 0,
        }
    }

    /// A second copy of this state (the snapshot thread's), with every table's preallocated
    /// room, so following the journal never allocates.
    pub fn duplicate(&self, sequencer: SequencerLimits) -> Engine {
        let config = self.matcher.config().clone();
        let mut matcher = self.matcher.clone();
        matcher.restore(config.clone());
        let mut view = self.view.clone();
        view.restore(config);
        Engine {
            matcher,
            view,
            sequencer: Sequencer::with_memory(sequencer, self.sequencer.memory().to_owned()),
            base: self.base,
            last_time_us: self.last_time_us,
        }
    }

    /// Applies journal record `record` (whose chain value is `chain`): the matcher runs its
    /// command, the view takes the events, and the sequencer remembers its signature (judged
    /// at `now_ms`; `None`: at the command's own time, which keeps a follower deterministic).
    pub fn apply(
        &mut self,
        record: SequenceNumber,
        chain: Chain,
        bytes: &[u8],
        now_ms: Option<u64>,
    ) -> Result<(), BadRecord> {
        let last = self.matcher.last_sequence();
        let decoded = payload::decode(bytes)
            .ok()
            .filter(|(command, _, _)| command.sequence > last && !command.action.is_query());
        let Some((command, auth, extras)) = decoded else {
            return Err(BadRecord(record));
        };
        let sequence = command.sequence;
        self.matcher.apply(&command, &mut ViewSink { view: &mut self.view });
        self.view.finish(&Outcome::Command { sequence, account: command.account }, &extras);
        let now_ms = now_ms.unwrap_or(command.time_us / 1000);
        self.sequencer.remember(&command, &auth, now_ms);
        self.last_time_us = command.time_us;
        self.base = Base { record, chain };
        Ok(())
    }
}
