//! verify: parse each request into fixed commands and check who signed it.
//!
//! (The stage loop lands with the pipeline; the pieces below are its leaves.)

pub mod json;
pub mod request;
pub mod signature;
pub mod signing;
