//! Fuzzes the egress engine's parsers of what a sandboxed program sends it:
//! DNS messages, HTTP proxy request heads, and rules. Those bytes come from
//! the untrusted program, so every input must be answered or refused
//! cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stockade::__fuzz::egress_input(data);
});
