//! Fuzz target over the whole front end: lexer, parser, checker and both
//! diagnostic renderers must never panic (or overflow the stack) on any input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let checked = polc::check::check_source("fuzz.pol", &source);
    assert_eq!(checked.policy.is_some(), !checked.has_errors());
    let _ = polc::diag::render_text(&checked.diagnostics, "fuzz.pol", &source, false);
    let _ = polc::diag::render_json(&checked.diagnostics, "fuzz.pol", &source);
});
