//! `ringex::fuzz_targets::websocket_frames` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| ringex::fuzz_targets::websocket_frames(bytes));
