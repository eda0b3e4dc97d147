//! net-out: answers every request, no earlier than the journal covers it.
//!
//! - [`stage`]: the stage loop: reads ring C behind the durability gate, renders each answer into
//!   its connection's outbox and writes it; hands finished connections back to net-in;
//! - [`view`]: the read-side view, rebuilt from the matcher's events alone;
//! - [`render`]: the JSON body of every answer, written with [`json`] into reused buffers;
//! - [`calendar`]: UTC dates for ISO timestamps and kline buckets.

pub mod calendar;
pub mod fanout;
pub mod json;
pub mod render;
pub mod stage;
pub mod subscriptions;
pub mod view;

#[cfg(test)]
mod test_support;
