//! Fuzz target over polrt's object reader (ELF, metadata, code hash, aya's
//! object parser and relocations): arbitrary bytes as an object file must
//! never panic it, nor `polrt inspect` on what it accepts
//! (`polc_tests::fuzzing`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| drop(polc_tests::fuzzing::object(data)));
