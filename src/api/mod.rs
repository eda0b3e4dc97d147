//! The wire contract shared by the stages that speak it: error answers ([`error`]: Backpack's
//! codes, statuses and messages) and routes ([`routes`]: paths, methods, instructions). The
//! hand-written JSON lives with its stage: reading in `verify::json`, writing in
//! `netout::json`.

pub mod error;
pub mod routes;
