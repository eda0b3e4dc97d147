//! `ringex::fuzz_targets::snapshot` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| ringex::fuzz_targets::snapshot(bytes));
