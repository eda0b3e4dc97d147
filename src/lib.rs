//! ringex: a low-latency, LMAX-style exchange engine whose REST and WebSocket API is
//! wire-compatible with Backpack Exchange.
//!
//! # Layout
//!
//! A request travels through pinned stage threads linked by preallocated rings; the modules are
//! named for the stages and read in pipeline order:
//!
//! 1. [`net`] (net-in): mio event loop, HTTP/1.1 framing → ring A.
//! 2. [`verify`]: parse into a fixed command, check the window and the ED25519 signature.
//! 3. [`sequencer`]: the window again by the engine clock, replay and per-key limits, the global
//!    sequence number → ring B.
//! 4. [`matcher`]: clear, match, settle, one [`command::Command`] at a time →
//!    [`event::Event`]s on ring C; [`journal`] follows it on ring B and makes applied commands
//!    durable.
//! 5. [`netout`]: HTTP answers, held until the journal covers them.
//!
//! [`pipeline`] wires the rings and threads in that order.
//!
//! No stage imports another. What two stages share is a neutral module: [`records`] (the ring
//! slots), [`command`] and [`event`] (the fixed-size records they carry), [`connections`]
//! (sockets shared by net-in and net-out), [`overflow`] (large requests, net-in → verify),
//! [`durability`] (journal → net-out), [`metrics`] (every stage → net-out), [`clock`], [`rate_limit`] and [`api`] (errors and routes).
//! Vocabulary: [`types`] (newtypes), [`money`] (exact decimals), [`config`] (assets, markets,
//! limits), [`constants`], and [`ring`] (the ring buffers, their wait strategies and pinning).
//!
//! Beside the engine, not part of it: [`loadgen`], the open-loop load generator of
//! `ringex loadgen`, a client that reaches the server only through its sockets; [`crash`], the
//! fault suite's tools (crash cycles, restart time, the reliability report), which run the
//! server as a child process and borrow the load generator's pieces; and
//! [`fuzz_targets`], the decoders' fuzz properties that `fuzz/` and `tests/fuzz.rs` both run.

#![deny(missing_docs, unsafe_op_in_unsafe_fn)]

pub mod alloc;
pub mod api;
pub mod bad_signatures;
pub mod cache;
pub mod clock;
pub mod command;
pub mod config;
pub mod connections;
pub mod constants;
pub mod crash;
pub mod durability;
pub mod event;
pub mod fixed;
pub mod fuzz_targets;
#[cfg(feature = "harness")]
pub mod harness;
pub mod journal;
pub mod loadgen;
pub mod matcher;
pub mod metrics;
pub mod money;
pub mod net;
pub mod netout;
pub mod overflow;
pub mod pipeline;
pub mod rate_limit;
pub mod records;
pub mod ring;
pub mod sequencer;
pub mod snapshot;
pub mod types;
pub mod verify;
