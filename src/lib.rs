//! ringex: a low-latency, LMAX-style exchange engine whose REST and WebSocket API is
//! wire-compatible with Backpack Exchange.
//!
//! # Layout
//!
//! A request travels through pinned stage threads linked by preallocated rings; the modules are
//! named for the stages and read in pipeline order:
//!
//! 1. `net` (net-in): mio event loop, HTTP/1.1 and WebSocket framing → ring A.
//! 2. `verify`: parse into a fixed command, check window and ED25519 signature.
//! 3. `sequencer`: stamp the global sequence number; [`journal`] makes it durable.
//! 4. [`matcher`]: clear, match, settle, one [`command::Command`] at a time →
//!    [`event::Event`]s on ring C.
//! 5. `netout`: HTTP responses and WebSocket fan-out.
//!
//! Shared vocabulary: [`types`] (newtypes), [`money`] (exact decimals), [`config`] (assets,
//! markets, limits), [`command`] and [`event`] (the fixed-size records on the rings), and
//! [`ring`] (the ring buffers between the stages, their wait strategies and thread pinning).

#![deny(missing_docs, unsafe_op_in_unsafe_fn)]

pub mod alloc;
pub mod api;
pub mod cache;
pub mod clock;
pub mod command;
pub mod config;
pub mod constants;
pub mod event;
pub mod harness;
pub mod journal;
pub mod matcher;
pub mod money;
pub mod net;
pub mod netout;
pub mod pipeline;
pub mod rate_limit;
pub mod records;
pub mod ring;
pub mod sequencer;
pub mod types;
pub mod verify;
