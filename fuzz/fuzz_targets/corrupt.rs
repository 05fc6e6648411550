//! Fuzz target over polrt's whole object reader (ELF, metadata, code hash,
//! aya's object parser and relocations) and `polrt inspect`, on real objects
//! corrupted as the input chooses: byte flips, truncation, section
//! shuffles, metadata edits (`polc_tests::corrupt`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| polc_tests::fuzzing::corrupted_object(data));
