//! Sizes and durations written as text, as policy files and command lines
//! take them: `"64M"`, `"30s"`.
//!
//! One grammar serves every place the crate reads such values, so a size
//! or a duration that works in one works in all of them.
//!
//! # Sizes
//!
//! [`parse_size`] reads a whole number of bytes with an optional binary
//! suffix:
//!
//! | Text | Bytes |
//! |---|---|
//! | `4096` | 4096 |
//! | `64K`, `64k`, `64KiB` | 64 × 2^10 |
//! | `64M`, `64m`, `64MiB` | 64 × 2^20 |
//! | `2G`, `2g`, `2GiB` | 2 × 2^30 |
//! | `1T`, `1t`, `1TiB` | 2^40 |
//! | `unlimited`, `max`, `infinity` | `u64::MAX`, the "no limit" of rlimits and cgroup limits |
//!
//! Suffixes are powers of 1024 and their case does not matter (`64mib` is
//! `64MiB`). `KB`, `MB`, `GB` and `TB` are refused: they mean powers of
//! 1000 as often as powers of 1024. The number is decimal digits, with an
//! optional leading `+`; fractions (`1.5G`) are refused. Spaces around the
//! value and between the number and the suffix are ignored.
//!
//! ```
//! use stockade::units::{parse_size, ParseSizeError};
//!
//! assert_eq!(parse_size("64M"), Ok(64 << 20));
//! assert_eq!(parse_size("2GiB"), Ok(2 << 30));
//! assert_eq!(parse_size("512"), Ok(512));
//! assert_eq!(parse_size("unlimited"), Ok(u64::MAX));
//! assert_eq!(
//!     parse_size("64MB"),
//!     Err(ParseSizeError::UnknownSuffix { suffix: "MB".into() })
//! );
//! ```
//!
//! # Durations
//!
//! [`parse_duration`] reads a positive number with an optional unit; a bare
//! number is seconds:
//!
//! | Unit | Meaning |
//! |---|---|
//! | none, `s` | seconds (`30`, `2.5`, `30s`) |
//! | `ms` | milliseconds (`500ms`) |
//! | `us` | microseconds (`250us`) |
//! | `ns` | nanoseconds (`10ns`) |
//! | `m` | minutes (`5m`, `1.5m`) |
//! | `h` | hours (`1h`) |
//!
//! Units are lower case (`m` is minutes, never months or megabytes). The
//! number is decimal digits with an optional fraction (`2.5`, `.5`, `5.`)
//! and an optional leading `+`; exponents (`1e3`) are refused. The result
//! is exact to the nanosecond (finer digits are dropped), must not be zero,
//! and must not exceed [`MAX_DURATION`] (10^9 seconds, about 31 years:
//! anything longer is a mistaken unit). Spaces around the value and between
//! the number and the unit are ignored.
//!
//! ```
//! use std::time::Duration;
//! use stockade::units::{parse_duration, ParseDurationError};
//!
//! assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
//! assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
//! assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
//! assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
//! assert_eq!(parse_duration("0s"), Err(ParseDurationError::Zero));
//! assert_eq!(
//!     parse_duration("1d"),
//!     Err(ParseDurationError::UnknownUnit { unit: "d".into() })
//! );
//! ```

use std::time::Duration;

/// Why [`parse_size`] refused a text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ParseSizeError {
    /// The text is empty (or only spaces).
    #[error("the size is empty")]
    Empty,
    /// There is no number, or it is not a whole decimal number (a fraction,
    /// a sign other than `+`, a stray character).
    #[error("{}", not_a_number(number, "a whole number of bytes"))]
    InvalidNumber {
        /// The number part as given.
        number: String,
    },
    /// The suffix is none of `K`, `M`, `G`, `T` (optionally followed by
    /// `iB`), in either case.
    #[error("unknown size suffix `{suffix}` (expected K, M, G or T, powers of 1024)")]
    UnknownSuffix {
        /// The suffix as given.
        suffix: String,
    },
    /// The size does not fit in 64 bits.
    #[error("the size is larger than 2^64 - 1 bytes")]
    Overflow,
}

/// Why [`parse_duration`] refused a text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ParseDurationError {
    /// The text is empty (or only spaces).
    #[error("the duration is empty")]
    Empty,
    /// There is no number, or it is not a decimal number (an exponent, a
    /// sign other than `+`, two dots).
    #[error("{}", not_a_number(number, "a decimal number"))]
    InvalidNumber {
        /// The number part as given.
        number: String,
    },
    /// The unit is none of `ns`, `us`, `ms`, `s`, `m`, `h`.
    #[error("unknown duration unit `{unit}` (expected ns, us, ms, s, m or h)")]
    UnknownUnit {
        /// The unit as given.
        unit: String,
    },
    /// The duration is zero (or rounds down to zero nanoseconds).
    #[error("the duration is zero")]
    Zero,
    /// The duration is longer than [`MAX_DURATION`].
    #[error("the duration is longer than 10^9 seconds")]
    TooLong,
}

fn not_a_number(number: &str, expected: &str) -> String {
    if number.is_empty() {
        format!("the value has no number (expected {expected})")
    } else {
        format!("`{number}` is not {expected}")
    }
}

/// The longest duration [`parse_duration`] accepts: 10^9 seconds (about 31
/// years).
pub const MAX_DURATION: Duration = Duration::from_secs(1_000_000_000);

/// The words for "no limit", read as `u64::MAX`.
const UNLIMITED: [&str; 3] = ["unlimited", "max", "infinity"];

/// Splits `s` (trimmed) into its number and the alphabetic rest, both
/// trimmed: `"64 MiB"` is `("64", "MiB")`.
fn split_number(s: &str) -> (&str, &str) {
    let at = s.find(|c: char| c.is_alphabetic()).unwrap_or(s.len());
    (s[..at].trim_end(), &s[at..])
}

/// Reads a size: a whole number of bytes with an optional `K`, `M`, `G` or
/// `T` suffix (powers of 1024, either case, optionally followed by `iB`),
/// or `unlimited`/`max`/`infinity` for `u64::MAX`. See the
/// [module](self) for the whole grammar.
pub fn parse_size(s: &str) -> Result<u64, ParseSizeError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ParseSizeError::Empty);
    }
    if UNLIMITED.contains(&t) {
        return Ok(u64::MAX);
    }
    let (number, suffix) = split_number(t);
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        _ => {
            return Err(ParseSizeError::UnknownSuffix {
                suffix: suffix.to_owned(),
            });
        }
    };
    let digits = number.strip_prefix('+').unwrap_or(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseSizeError::InvalidNumber {
            number: number.to_owned(),
        });
    }
    let n: u64 = digits.parse().map_err(|_| ParseSizeError::Overflow)?;
    n.checked_mul(1 << shift).ok_or(ParseSizeError::Overflow)
}

/// Reads a duration: a positive decimal number with an optional unit (`ns`,
/// `us`, `ms`, `s`, `m`, `h`; seconds without one), at most
/// [`MAX_DURATION`]. See the [module](self) for the whole grammar.
pub fn parse_duration(s: &str) -> Result<Duration, ParseDurationError> {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let t = s.trim();
    if t.is_empty() {
        return Err(ParseDurationError::Empty);
    }
    let (number, unit) = split_number(t);
    let nanos_per: u128 = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "" | "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3600 * NANOS_PER_SEC,
        _ => {
            return Err(ParseDurationError::UnknownUnit {
                unit: unit.to_owned(),
            });
        }
    };
    let invalid = || ParseDurationError::InvalidNumber {
        number: number.to_owned(),
    };
    let unsigned = number.strip_prefix('+').unwrap_or(number);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) {
        return Err(invalid());
    }
    // Exact decimal arithmetic: the whole part times the unit, plus the
    // fraction's first digits (later ones are below a nanosecond even for
    // hours) scaled by the unit.
    let max = u128::from(MAX_DURATION.as_secs()) * NANOS_PER_SEC;
    let mut nanos: u128 = 0;
    for b in whole.bytes() {
        nanos = nanos * 10 + u128::from(b - b'0');
        if nanos * nanos_per > max {
            return Err(ParseDurationError::TooLong);
        }
    }
    nanos *= nanos_per;
    let fraction = &fraction[..fraction.len().min(18)];
    if !fraction.is_empty() {
        let numerator: u128 = fraction.parse().map_err(|_| invalid())?;
        nanos += numerator * nanos_per / 10u128.pow(fraction.len() as u32);
    }
    if nanos > max {
        return Err(ParseDurationError::TooLong);
    }
    if nanos == 0 {
        return Err(ParseDurationError::Zero);
    }
    Ok(Duration::new(
        (nanos / NANOS_PER_SEC) as u64,
        (nanos % NANOS_PER_SEC) as u32,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suffix(s: &str) -> ParseSizeError {
        ParseSizeError::UnknownSuffix { suffix: s.into() }
    }

    fn number(s: &str) -> ParseSizeError {
        ParseSizeError::InvalidNumber { number: s.into() }
    }

    #[test]
    fn sizes_take_every_documented_form() {
        for (text, bytes) in [
            ("0", 0),
            ("4096", 4096),
            ("+12", 12),
            ("  64M ", 64 << 20),
            ("1k", 1 << 10),
            ("1K", 1 << 10),
            ("1KiB", 1 << 10),
            ("1kib", 1 << 10),
            ("64m", 64 << 20),
            ("64MiB", 64 << 20),
            ("64 M", 64 << 20),
            ("2G", 2 << 30),
            ("2g", 2 << 30),
            ("2GiB", 2 << 30),
            ("1T", 1 << 40),
            ("1t", 1 << 40),
            ("1TiB", 1 << 40),
            ("16777215T", 16_777_215 << 40),
            ("18446744073709551615", u64::MAX),
            ("unlimited", u64::MAX),
            ("max", u64::MAX),
            ("infinity", u64::MAX),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text:?}");
        }
    }

    #[test]
    fn sizes_name_what_is_wrong() {
        for (text, err) in [
            ("", ParseSizeError::Empty),
            ("   ", ParseSizeError::Empty),
            ("12Q", suffix("Q")),
            ("64MB", suffix("MB")),
            ("64kb", suffix("kb")),
            ("1Mi", suffix("Mi")),
            ("1 PiB", suffix("PiB")),
            ("Unlimited", suffix("Unlimited")),
            ("x", suffix("x")),
            ("M", number("")),
            ("-1K", number("-1")),
            ("-0", number("-0")),
            ("1.5G", number("1.5")),
            ("0x10", suffix("x10")),
            ("1_000", number("1_000")),
            ("+", number("+")),
            ("++1", number("++1")),
            ("18446744073709551616", ParseSizeError::Overflow),
            ("16777216T", ParseSizeError::Overflow),
            ("99999999999999T", ParseSizeError::Overflow),
        ] {
            assert_eq!(parse_size(text), Err(err), "{text:?}");
        }
        assert_eq!(
            suffix("Q").to_string(),
            "unknown size suffix `Q` (expected K, M, G or T, powers of 1024)"
        );
        assert_eq!(
            number("1.5").to_string(),
            "`1.5` is not a whole number of bytes"
        );
        assert_eq!(
            number("").to_string(),
            "the value has no number (expected a whole number of bytes)"
        );
        assert_eq!(
            ParseSizeError::Overflow.to_string(),
            "the size is larger than 2^64 - 1 bytes"
        );
    }

    #[test]
    fn durations_take_every_documented_form() {
        let ms = Duration::from_millis;
        for (text, d) in [
            ("30", Duration::from_secs(30)),
            ("+30", Duration::from_secs(30)),
            ("2.5", ms(2500)),
            (".5", ms(500)),
            ("5.", Duration::from_secs(5)),
            ("30s", Duration::from_secs(30)),
            (" 30 s ", Duration::from_secs(30)),
            ("1500ms", ms(1500)),
            ("0.3", ms(300)),
            ("0.1", ms(100)),
            ("250us", Duration::from_micros(250)),
            ("10ns", Duration::from_nanos(10)),
            ("1.5ns", Duration::from_nanos(1)),
            ("0.000000001", Duration::from_nanos(1)),
            ("0.0000000019", Duration::from_nanos(1)),
            ("5m", Duration::from_secs(300)),
            ("1.5m", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("1000000000", MAX_DURATION),
            ("1000000000s", MAX_DURATION),
            ("1000000000000ms", MAX_DURATION),
            (
                "0.33333333333333333333333333",
                Duration::from_nanos(333_333_333),
            ),
        ] {
            assert_eq!(parse_duration(text), Ok(d), "{text:?}");
        }
    }

    #[test]
    fn durations_name_what_is_wrong() {
        let unit = |u: &str| ParseDurationError::UnknownUnit { unit: u.into() };
        let number = |n: &str| ParseDurationError::InvalidNumber { number: n.into() };
        for (text, err) in [
            ("", ParseDurationError::Empty),
            (" ", ParseDurationError::Empty),
            ("1d", unit("d")),
            ("1S", unit("S")),
            ("1M", unit("M")),
            ("1e9h", unit("e9h")),
            ("1e3", unit("e3")),
            ("inf", unit("inf")),
            ("NaN", unit("NaN")),
            ("s", number("")),
            (".", number(".")),
            ("-1s", number("-1")),
            ("1.2.3", number("1.2.3")),
            ("1,5", number("1,5")),
            ("0s", ParseDurationError::Zero),
            ("0", ParseDurationError::Zero),
            ("0.0000000001", ParseDurationError::Zero),
            ("0.0000000000001h", ParseDurationError::Zero),
            ("1000000000.000000001", ParseDurationError::TooLong),
            ("1000000001", ParseDurationError::TooLong),
            ("277778h", ParseDurationError::TooLong),
            (
                "99999999999999999999999999999999999999999h",
                ParseDurationError::TooLong,
            ),
        ] {
            assert_eq!(parse_duration(text), Err(err), "{text:?}");
        }
        assert_eq!(
            unit("d").to_string(),
            "unknown duration unit `d` (expected ns, us, ms, s, m or h)"
        );
    }
}
