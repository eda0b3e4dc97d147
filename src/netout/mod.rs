//! net-out: answers every request and (later) fans events out to WebSocket subscribers.
//!
//! The stage loop lands with the pipeline; the pieces below are its leaves:
//! - [`view`]: the read-side view, rebuilt from the matcher's events alone;
//! - [`render`]: the JSON body of every answer, written with [`json`] into reused buffers;
//! - [`calendar`]: UTC dates for ISO timestamps and kline buckets.

pub mod calendar;
pub mod json;
pub mod render;
pub mod stage;
pub mod view;

#[cfg(test)]
mod test_support;
