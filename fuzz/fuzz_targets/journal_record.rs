//! `ringex::fuzz_targets::journal_record` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| ringex::fuzz_targets::journal_record(bytes));
