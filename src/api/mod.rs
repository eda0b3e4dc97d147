//! The wire contract shared by the stages that speak it: error answers ([`error`]: Backpack's
//! codes, statuses and messages), routes ([`routes`]: paths, methods, instructions) and
//! WebSocket stream names ([`streams`]). The hand-written JSON lives with its stage: reading in
//! `verify::json`, writing in `netout::json`.

pub mod error;
pub mod routes;
pub mod streams;
pub mod websocket;
