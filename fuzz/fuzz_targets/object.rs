//! Fuzz target over polrt's object reader: arbitrary bytes as an object
//! file must never panic it, nor `polrt inspect` on what it accepts
//! (`polc_tests::fuzzing`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| polc_tests::fuzzing::object(data));
