//! Fuzzes the decoder of the records a sandbox's processes send the caller
//! over the report channel. Those bytes come from processes that may already
//! run untrusted code, so every input must be rejected or decoded cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = stockade::__fuzz::decode_record(data);
});
