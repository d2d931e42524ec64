//! Fuzzes the policy file readers: the input, when it is UTF-8, is read as
//! a TOML and as a JSON policy. Neither may panic; a rejected file has a
//! message and a position inside the input, and an accepted one writes
//! back in both formats and reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stockade::{policy, Sandbox};

fn check(text: &str, parsed: Result<Sandbox, policy::Error>) {
    match parsed {
        Ok(sb) => {
            let toml = sb.to_toml().expect("an accepted policy writes as TOML");
            let json = sb.to_json().expect("an accepted policy writes as JSON");
            assert_eq!(Sandbox::from_toml(&toml).expect("written TOML reads back"), sb);
            assert_eq!(Sandbox::from_json(&json).expect("written JSON reads back"), sb);
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            if let Some(line) = e.line() {
                assert!(line >= 1 && line <= text.lines().count() + 1, "line {line}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text, Sandbox::from_toml(text));
    check(text, Sandbox::from_json(text));
});
