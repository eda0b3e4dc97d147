//! The wire contract shared by the stages that speak it: error answers, routes, and the
//! hand-written JSON reading and writing used on the hot path.

pub mod error;
pub mod routes;
