//! Fuzz target over codegen, driven by the policy generator: the input's
//! bytes are the generator's choices, so every input is a well-typed
//! policy; it must check (front end and cost measurement), build, read back
//! from its object and decide as the interpreter (`polc_tests::fuzzing`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| polc_tests::fuzzing::generated_policy(data));
