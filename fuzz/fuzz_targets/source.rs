//! Fuzz target over codegen from arbitrary source: whatever checks must
//! build and read back from its object (`polc_tests::fuzzing`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| polc_tests::fuzzing::source_policy(data));
