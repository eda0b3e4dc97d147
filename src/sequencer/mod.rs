//! sequencer: the one place that stamps the global sequence number.

pub mod replay;
