//! Fuzzes the command-line front end's argument parser: the input is split
//! on NUL bytes into arguments (which may be invalid UTF-8).
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;

#[path = "../../src/bin/stockade/args.rs"]
#[allow(dead_code)]
mod args;

fuzz_target!(|data: &[u8]| {
    let argv: Vec<OsString> = data
        .split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    match args::parse(argv) {
        Ok(opts) => {
            // Whatever parsed names a program, or an image or bundle that
            // names one, or asks for help or the version; a bundle never
            // comes with a program of the command line's.
            assert!(
                opts.help
                    || opts.version
                    || !opts.program.is_empty()
                    || opts.image.is_some()
                    || opts.bundle.is_some()
            );
            assert!(opts.bundle.is_none() || opts.program.is_empty());
            assert!(opts.entrypoint.is_none() || opts.image.is_some());
            let _ = format!("{opts:?}");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        // The size and duration grammar the options (and policy files) use.
        if let Ok(bytes) = stockade::units::parse_size(s) {
            assert!(bytes > 0 || s.trim().trim_start_matches('+').starts_with('0'));
        }
        if let Ok(d) = stockade::units::parse_duration(s) {
            assert!(!d.is_zero() && d <= stockade::units::MAX_DURATION);
        }
    }
});
