//! The value forms of a policy file, checked while it is read: sizes,
//! numbers that may exceed TOML's integers, permission bits, durations,
//! absolute paths, CPU counts and the schema version. Sizes and durations
//! written as text follow [`crate::units`].

use std::ffi::OsStr;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::error::{Error, Inexpressible};
use crate::units::{self, MAX_DURATION};

/// A size in bytes: an integer or a string with a K/M/G/T suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Size(pub(super) u64);

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v == u64::MAX {
            return s.serialize_str("unlimited");
        }
        for (shift, suffix) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
            if v != 0 && v % (1u64 << shift) == 0 {
                return s.serialize_str(&format!("{}{suffix}", v >> shift));
            }
        }
        if v > i64::MAX as u64 {
            s.serialize_str(&v.to_string())
        } else {
            s.serialize_u64(v)
        }
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a size: a non-negative integer of bytes, a string like \"64M\" \
                     (K, M, G, T suffixes) or \"unlimited\"",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                units::parse_size(v)
                    .map(Size)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// An unsigned 64-bit number: an integer, or a decimal or `0x` hexadecimal
/// string (TOML integers stop at 2^63 - 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "seccomp"), allow(dead_code))]
pub(super) struct U64(pub(super) u64);

impl Serialize for U64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 > i64::MAX as u64 {
            s.serialize_str(&format!("{:#x}", self.0))
        } else {
            s.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for U64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = U64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer, or a decimal or 0x-prefixed hex string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<U64, E> {
                Ok(U64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<U64, E> {
                u64::try_from(v)
                    .map(U64)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<U64, E> {
                let t = v.trim();
                let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                    Some(hex) => u64::from_str_radix(hex, 16).ok(),
                    None => t.parse().ok(),
                };
                parsed
                    .map(U64)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// Permission bits: an integer (TOML `0o755`) or an octal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Mode(pub(super) u32);

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:04o}", self.0))
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl V {
            fn check<E: de::Error>(v: u64, unexpected: de::Unexpected<'_>) -> Result<Mode, E> {
                if v <= 0o7777 {
                    Ok(Mode(v as u32))
                } else {
                    Err(E::invalid_value(unexpected, &V))
                }
            }
        }
        impl Visitor<'_> for V {
            type Value = Mode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "permission bits up to 0o7777: an integer or an octal string like \"0755\"",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Mode, E> {
                V::check(v, de::Unexpected::Unsigned(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Mode, E> {
                match u64::try_from(v) {
                    Ok(u) => V::check(u, de::Unexpected::Signed(v)),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Mode, E> {
                let t = v.trim();
                let t = t.strip_prefix("0o").unwrap_or(t);
                match u64::from_str_radix(t, 8) {
                    Ok(u) if !t.is_empty() => V::check(u, de::Unexpected::Str(v)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration: seconds as a number, or a string with a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Secs(pub(super) Duration);

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        if d.subsec_nanos() == 0 {
            s.serialize_u64(d.as_secs())
        } else if d.subsec_nanos() % 1_000_000 == 0 {
            s.serialize_str(&format!("{}ms", d.as_millis()))
        } else if d.subsec_nanos() % 1_000 == 0 {
            s.serialize_str(&format!("{}us", d.as_micros()))
        } else {
            s.serialize_str(&format!("{}ns", d.as_nanos()))
        }
    }
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Secs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a positive duration: seconds as a number, or a string like \"500ms\", \
                     \"30s\", \"5m\" (units ns, us, ms, s, m, h)",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secs, E> {
                if v == 0 || v > MAX_DURATION.as_secs() {
                    return Err(E::invalid_value(de::Unexpected::Unsigned(v), &self));
                }
                Ok(Secs(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secs, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Secs, E> {
                if v.is_finite() && v > 0.0 && v <= MAX_DURATION.as_secs_f64() {
                    let d = Duration::from_secs_f64(v);
                    if !d.is_zero() {
                        return Ok(Secs(d));
                    }
                }
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secs, E> {
                units::parse_duration(v)
                    .map(Secs)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// A path inside the sandbox: absolute, without NUL bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(super) struct AbsPath(pub(super) String);

impl<'de> Deserialize<'de> for AbsPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if !s.starts_with('/') || s.contains('\0') {
            return Err(de::Error::invalid_value(
                de::Unexpected::Str(&s),
                &"an absolute path (starting with '/')",
            ));
        }
        Ok(AbsPath(s))
    }
}

/// A positive, finite number of CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub(super) struct Cpus(pub(super) f64);

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !(v.is_finite() && v > 0.0) {
            return Err(de::Error::invalid_value(
                de::Unexpected::Float(v),
                &"a positive number of CPUs, such as 0.5",
            ));
        }
        Ok(Cpus(v))
    }
}

/// The only schema version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(super) struct Version(pub(super) u32);

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(d)?;
        if v != 1 {
            return Err(de::Error::invalid_value(
                de::Unexpected::Unsigned(u64::from(v)),
                &"1 (the only policy version)",
            ));
        }
        Ok(Version(v))
    }
}

/// `s` as UTF-8 text for the value of `key`.
pub(super) fn utf8(key: &str, s: &OsStr) -> Result<String, Error> {
    s.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::NotExpressible {
            key: key.to_owned(),
            reason: Inexpressible::NotUtf8,
        })
}

/// `p` as the absolute path `key` needs.
pub(super) fn abs(key: &str, p: &Path) -> Result<AbsPath, Error> {
    let s = utf8(key, p.as_os_str())?;
    if !s.starts_with('/') {
        return Err(Error::NotExpressible {
            key: key.to_owned(),
            reason: Inexpressible::RelativePath,
        });
    }
    Ok(AbsPath(s))
}

/// `Some(v)` when `v` differs from the default.
pub(super) fn changed<T: PartialEq>(v: T, default: T) -> Option<T> {
    (v != default).then_some(v)
}
