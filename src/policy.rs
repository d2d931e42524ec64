//! Policy files: a whole [`Sandbox`] written as TOML or JSON (feature
//! `serde`).
//!
//! [`Sandbox::from_toml`] and [`Sandbox::from_json`] build a sandbox from a
//! policy file; [`Sandbox::to_toml`] and [`Sandbox::to_json`] write one
//! back. A policy file describes a whole sandbox: every key is optional,
//! and a key left out keeps the library's default (what [`Sandbox::new`]
//! gives), so an empty file is the default policy.
//!
//! A file that is not a valid policy is a [`PolicyError::Invalid`] naming
//! the key (`limits.memory`, `filesystem.ops[2].dest`) and the line and
//! column. Unknown keys are errors, not ignored, so a misspelt key can never
//! silently leave a restriction out. Values are checked while the file is
//! read: sizes, modes, durations, namespace and right names, and that paths
//! inside the sandbox are absolute. The rest (a hostname too long, a soft
//! rlimit above the hard one, an unknown system call name) is checked, as for
//! any sandbox, by [`Sandbox::validate`] and [`Sandbox::spawn`].
//!
//! # Schema (version 1)
//!
//! The schema is stable: version 1 will only ever gain keys. The JSON form
//! has the same keys and nesting as the TOML one.
//!
//! | Key | Value | Sandbox method |
//! |---|---|---|
//! | `version` | `1` (optional) | |
//! | `namespaces` | names from `user`, `mount`, `pid`, `net`, `ipc`, `uts`, `cgroup`, `time` | [`namespaces`](Sandbox::namespaces) |
//! | `net_filter` | boolean (features `seccomp` and `landlock`) | [`deny_net_by_filter`](Sandbox::deny_net_by_filter) |
//! | `uid`, `gid` | ids inside the sandbox | [`uid`](Sandbox::uid), [`gid`](Sandbox::gid) |
//! | `hostname` | string | [`hostname`](Sandbox::hostname) |
//! | `inherit_env`, `kill_on_drop`, `die_with_parent` | booleans | the methods of the same names |
//! | `capabilities.keep` | names such as `"CAP_NET_BIND_SERVICE"` | [`keep_capability`](Sandbox::keep_capability) |
//! | `capabilities.ambient`, `capabilities.no_new_privs` | booleans | [`CapsPolicy`] |
//! | `filesystem.root` | `"host"`, `"empty"` or an absolute host directory | [`root_dir`](Sandbox::root_dir), [`empty_root`](Sandbox::empty_root) |
//! | `filesystem.proc`, `.dev`, `.tmp`, `.mask_host_secrets` | booleans | the methods of the same names |
//! | `filesystem.ops` | ordered list of operations (below) | [`fs_op`](Sandbox::fs_op) |
//! | `limits.timeout`, `limits.cpu_time` | durations | [`timeout`](Sandbox::timeout), [`cpu_time_limit`](Sandbox::cpu_time_limit) |
//! | `limits.memory`, `.memory_high`, `.swap` | sizes | [`memory_limit`](Sandbox::memory_limit), [`memory_high`](Sandbox::memory_high), [`memory_swap`](Sandbox::memory_swap) |
//! | `limits.oom_group` | boolean | [`CgroupConfig::oom_group`](crate::CgroupConfig::oom_group) |
//! | `limits.pids`, `.cpus`, `.cpu_weight` | numbers | [`pids_limit`](Sandbox::pids_limit), [`cpus`](Sandbox::cpus), [`cpu_weight`](Sandbox::cpu_weight) |
//! | `limits.cpuset_cpus`, `.cpuset_mems` | CPU / node lists | [`CgroupConfig`](crate::CgroupConfig) |
//! | `limits.io_max` | list of `{ major, minor, rbps, wbps, riops, wiops }` | [`io_max`](Sandbox::io_max) |
//! | `limits.cgroup_parent`, `.cgroup_placement`, `.best_effort` | path, booleans | [`cgroup_parent`](Sandbox::cgroup_parent), [`cgroup_placement`](Sandbox::cgroup_placement), [`cgroup_compat`](Sandbox::cgroup_compat) |
//! | `limits.rlimits.NAME` | a value, or `{ soft, hard }` | [`rlimit`](Sandbox::rlimit), [`rlimit_soft_hard`](Sandbox::rlimit_soft_hard) |
//! | `landlock.*` | rules, rights, scopes, compatibility levels | [`landlock`](Sandbox::landlock), [`landlock_mirror_fs`](Sandbox::landlock_mirror_fs) |
//! | `seccomp.profile` | `"default"`, `"none"` or `"custom"` | [`seccomp`](Sandbox::seccomp), [`no_seccomp`](Sandbox::no_seccomp) |
//! | `seccomp.default_action`, `.unknown_action`, `.rules` | actions and rules | [`SeccompPolicy`](crate::SeccompPolicy) |
//!
//! Each entry of `filesystem.ops` has an `op` and a `dest` (an absolute path
//! inside the sandbox), plus what the operation takes: `bind_ro`, `bind_rw`
//! and `bind_dev` take `src` and optionally `optional` and `devices`;
//! `tmpfs` takes `size` and `mode`; `dir` takes `mode`; `symlink` takes
//! `target`; `file` takes `contents` and `mode`; `overlay` takes `lower`;
//! `mask` takes nothing else. A key an operation does not take is an
//! error.
//!
//! Value forms:
//! - **sizes**: an integer number of bytes, or a string with a `K`, `M`, `G`
//!   or `T` suffix (powers of 1024), such as `"64M"`; `"unlimited"` for no
//!   limit (swap, rlimits);
//! - **durations**: a number of seconds (`30`, `2.5`), or a string with a
//!   unit: `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"250us"`, `"10ns"`;
//! - **modes**: an integer (TOML's `0o755`) or an octal string (`"0755"`);
//! - **seccomp actions**: `"allow"`, `"log"`, `"trap"`, `"kill_process"` or
//!   `"errno:N"`;
//! - **compatibility levels**: `"hard_requirement"` or `"best_effort"`.
//!
//! The complete example, with every key commented, is the crate's
//! `examples/policy.toml`:
//!
//! ```toml
#![doc = include_str!("../examples/policy.toml")]
//! ```
//!
//! # What a policy file cannot hold
//!
//! - Host paths, hostnames and file contents that are not UTF-8, and paths
//!   inside the sandbox that are not absolute: writing such a sandbox is a
//!   [`PolicyError::NotExpressible`].
//! - What belongs to a [`Command`](crate::Command) rather than to a sandbox:
//!   the program, its arguments, environment variables, working directory
//!   and standard streams.
//! - The `landlock` and `seccomp` tables need the crate features of the same
//!   names; without them they are unknown keys.
//! - `limits.cpu_time` is a shorthand for the `cpu` rlimit (soft limit the
//!   given seconds rounded up, hard limit one second more); it is written
//!   back as `limits.rlimits.cpu`. When both are given, `cpu_time` wins.
//! - A `[landlock]` table holding nothing but `mirror_fs = true` reads back
//!   as "no Landlock policy, plus the mirrored filesystem rules", which is
//!   what such a table means.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::caps::{Capability, CapsPolicy};
use crate::cgroup::IoMaxRule;
use crate::compat::CompatLevel;
use crate::fs::{FsOp, RootKind, TmpfsOptions};
use crate::namespaces::Namespaces;
use crate::rlimit::Rlimit;
use crate::sandbox::Sandbox;

/// The two formats of a policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyFormat {
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl fmt::Display for PolicyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyFormat::Toml => "TOML",
            PolicyFormat::Json => "JSON",
        })
    }
}

/// Why a sandbox cannot be written to a policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Inexpressible {
    /// The value (a path, the hostname, a file's contents) is not UTF-8.
    NotUtf8,
    /// A path inside the sandbox is not absolute.
    RelativePath,
}

impl fmt::Display for Inexpressible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Inexpressible::NotUtf8 => "the value is not UTF-8",
            Inexpressible::RelativePath => "the path is not absolute",
        })
    }
}

/// A policy file that cannot be read, or a sandbox that cannot be written
/// as one. The schema, with the complete example `examples/policy.toml`,
/// is documented in the [`policy`](crate::policy) module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file is not a valid policy: a syntax error, an unknown key, a
    /// value of the wrong type or out of range.
    #[error("{}", invalid_message(*format, key, *line, *column, message))]
    Invalid {
        /// The file's format.
        format: PolicyFormat,
        /// The offending key, as a dotted path with list indices
        /// (`filesystem.ops[2].dest`); empty when the problem is the
        /// document itself (a syntax error).
        key: String,
        /// The line (from 1) of the offending value, when known.
        line: Option<usize>,
        /// The column (from 1) of the offending value, when known.
        column: Option<usize>,
        /// What is wrong, as the parser put it.
        message: String,
    },
    /// The sandbox holds a value a policy file cannot express.
    #[error("failed to write policy key `{key}`: {reason}")]
    NotExpressible {
        /// The key the value belongs to.
        key: String,
        /// Why it cannot be written.
        reason: Inexpressible,
    },
    /// The serializer failed (not expected for a policy built from a
    /// sandbox).
    #[error("failed to write the policy as {format}")]
    Write {
        /// The format being written.
        format: PolicyFormat,
        /// The serializer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn invalid_message(
    format: PolicyFormat,
    key: &str,
    line: Option<usize>,
    column: Option<usize>,
    message: &str,
) -> String {
    let mut s = format!("invalid {format} policy");
    if !key.is_empty() {
        s.push_str(&format!(": key `{key}`"));
    }
    match (line, column) {
        (Some(l), Some(c)) => s.push_str(&format!(" at line {l}, column {c}")),
        (Some(l), None) => s.push_str(&format!(" at line {l}")),
        _ => {}
    }
    s.push_str(": ");
    s.push_str(message);
    s
}

impl PolicyError {
    /// The offending key of an [`Invalid`](PolicyError::Invalid) or
    /// [`NotExpressible`](PolicyError::NotExpressible) error.
    pub fn key(&self) -> Option<&str> {
        match self {
            PolicyError::Invalid { key, .. } | PolicyError::NotExpressible { key, .. } => Some(key),
            PolicyError::Write { .. } => None,
        }
    }

    /// The line (from 1) of an [`Invalid`](PolicyError::Invalid) error, when
    /// known.
    pub fn line(&self) -> Option<usize> {
        match self {
            PolicyError::Invalid { line, .. } => *line,
            _ => None,
        }
    }

    /// The column (from 1, in characters) of an
    /// [`Invalid`](PolicyError::Invalid) error, when known.
    pub fn column(&self) -> Option<usize> {
        match self {
            PolicyError::Invalid { column, .. } => *column,
            _ => None,
        }
    }
}

impl Sandbox {
    /// Builds a sandbox from a TOML policy file (see the [`policy`](crate::policy)
    /// module for the schema and a complete example).
    ///
    /// ```
    /// use stockade::Sandbox;
    /// let sandbox = Sandbox::from_toml(r#"
    ///     hostname = "box"
    ///     [limits]
    ///     timeout = "30s"
    ///     [[filesystem.ops]]
    ///     op = "tmpfs"
    ///     dest = "/scratch"
    ///     size = "64M"
    /// "#)?;
    /// assert_eq!(sandbox.fs_ops().len(), 1);
    ///
    /// let err = Sandbox::from_toml("[limits]\nmemory = \"12Q\"\n").unwrap_err();
    /// assert_eq!(err.key(), Some("limits.memory"));
    /// assert_eq!(err.line(), Some(2));
    /// # Ok::<(), stockade::PolicyError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Sandbox, PolicyError> {
        let file = parse_toml(text)?;
        Ok(file.into_sandbox())
    }

    /// Builds a sandbox from a JSON policy file (the same keys as the TOML
    /// form).
    pub fn from_json(text: &str) -> Result<Sandbox, PolicyError> {
        let file = parse_json(text)?;
        Ok(file.into_sandbox())
    }

    /// Writes the policy as TOML. Keys whose values are the library's
    /// defaults are left out; [`from_toml`](Sandbox::from_toml) reads the
    /// result back into an equal sandbox.
    pub fn to_toml(&self) -> Result<String, PolicyError> {
        let file = PolicyFile::from_sandbox(self)?;
        toml::to_string(&file).map_err(|e| PolicyError::Write {
            format: PolicyFormat::Toml,
            source: Box::new(e),
        })
    }

    /// Writes the policy as JSON (pretty-printed).
    pub fn to_json(&self) -> Result<String, PolicyError> {
        let file = PolicyFile::from_sandbox(self)?;
        serde_json::to_string_pretty(&file).map_err(|e| PolicyError::Write {
            format: PolicyFormat::Json,
            source: Box::new(e),
        })
    }
}

// ---- Parsing entry points ----

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut start = offset;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let col = match before.rfind('\n') {
        Some(i) => before[i + 1..].chars().count() + 1,
        None => before.chars().count() + 1,
    };
    (line, col)
}

/// The dotted key path, without the parts serde_path_to_error could not
/// name (a map key that failed to parse shows as `?`: the path then names
/// the table holding it).
fn path_string(path: &serde_path_to_error::Path) -> String {
    let mut s = path.to_string();
    while s.ends_with('?') {
        s.pop();
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "." { String::new() } else { s }
}

fn parse_toml(text: &str) -> Result<PolicyFile, PolicyError> {
    let toml_error = |key: String, e: &toml::de::Error| {
        let (line, column) = match e.span() {
            Some(span) => {
                let (l, c) = line_col(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        PolicyError::Invalid {
            format: PolicyFormat::Toml,
            key,
            line,
            column,
            message: e.message().trim_end().to_owned(),
        }
    };
    let de = toml::Deserializer::parse(text).map_err(|e| toml_error(String::new(), &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| toml_error(path_string(e.path()), e.inner()))
}

fn parse_json(text: &str) -> Result<PolicyFile, PolicyError> {
    let json_error = |key: String, e: &serde_json::Error| {
        let message = e.to_string();
        // serde_json appends " at line L column C"; the position is kept
        // in fields of its own.
        let message = match message.rfind(" at line ") {
            Some(i) if e.line() != 0 => message[..i].to_owned(),
            _ => message,
        };
        PolicyError::Invalid {
            format: PolicyFormat::Json,
            key,
            line: (e.line() != 0).then_some(e.line()),
            column: (e.line() != 0).then_some(e.column()),
            message,
        }
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let file: PolicyFile = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| json_error(path_string(e.path()), e.inner()))?;
    de.end().map_err(|e| json_error(String::new(), &e))?;
    Ok(file)
}

// ---- Value types checked while reading ----

/// Parses a size with an optional K/M/G/T suffix (powers of 1024), or
/// "unlimited"/"max"/"infinity".
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    if matches!(s, "unlimited" | "max" | "infinity") {
        return Some(u64::MAX);
    }
    let (num, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        (i, 't' | 'T') => (&s[..i], 1 << 40),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// A size in bytes: an integer or a string with a K/M/G/T suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Size(u64);

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
                parse_size(v)
                    .map(Size)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// An unsigned 64-bit number: an integer, or a decimal or `0x` hexadecimal
/// string (TOML integers stop at 2^63 - 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "seccomp"), allow(dead_code))]
struct U64(u64);

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
struct Mode(u32);

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
struct Secs(Duration);

/// Largest duration accepted (about 31 years); larger is a unit mistake.
const MAX_SECS: u64 = 1_000_000_000;

fn parse_duration(s: &str) -> Option<Duration> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = (t[..split].trim(), &t[split..]);
    let nanos_per: f64 = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "" | "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    // Whole numbers stay exact; fractions go through f64.
    let d = match num.parse::<u64>() {
        Ok(n) => {
            let nanos = u128::from(n) * nanos_per as u128;
            Duration::new(
                u64::try_from(nanos / 1_000_000_000).ok()?,
                (nanos % 1_000_000_000) as u32,
            )
        }
        Err(_) => {
            let v: f64 = num.parse().ok()?;
            let secs = v * nanos_per / 1e9;
            if !secs.is_finite() || secs > MAX_SECS as f64 {
                return None;
            }
            Duration::from_secs_f64(secs)
        }
    };
    (d.as_secs() <= MAX_SECS && !d.is_zero()).then_some(d)
}

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
                if v == 0 || v > MAX_SECS {
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
                if v.is_finite() && v > 0.0 && v <= MAX_SECS as f64 {
                    let d = Duration::from_secs_f64(v);
                    if !d.is_zero() {
                        return Ok(Secs(d));
                    }
                }
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secs, E> {
                parse_duration(v)
                    .map(Secs)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// A path inside the sandbox: absolute, without NUL bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
struct AbsPath(String);

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
struct Cpus(f64);

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
struct Version(u32);

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum NsName {
    User,
    Mount,
    Pid,
    Net,
    Ipc,
    Uts,
    Cgroup,
    Time,
}

const NS_NAMES: [(NsName, Namespaces); 8] = [
    (NsName::User, Namespaces::USER),
    (NsName::Mount, Namespaces::MOUNT),
    (NsName::Pid, Namespaces::PID),
    (NsName::Net, Namespaces::NET),
    (NsName::Ipc, Namespaces::IPC),
    (NsName::Uts, Namespaces::UTS),
    (NsName::Cgroup, Namespaces::CGROUP),
    (NsName::Time, Namespaces::TIME),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Compat {
    HardRequirement,
    BestEffort,
}

impl From<Compat> for CompatLevel {
    fn from(c: Compat) -> CompatLevel {
        match c {
            Compat::HardRequirement => CompatLevel::HardRequirement,
            Compat::BestEffort => CompatLevel::BestEffort,
        }
    }
}

impl From<CompatLevel> for Compat {
    fn from(c: CompatLevel) -> Compat {
        match c {
            CompatLevel::BestEffort => Compat::BestEffort,
            CompatLevel::HardRequirement => Compat::HardRequirement,
        }
    }
}

// ---- The schema ----

/// The whole file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PolicyFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<Version>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespaces: Option<Vec<NsName>>,
    #[cfg(all(feature = "seccomp", feature = "landlock"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    net_filter: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inherit_env: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kill_on_drop: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    die_with_parent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<CapsFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filesystem: Option<FsFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<LimitsFile>,
    #[cfg(feature = "landlock")]
    #[serde(skip_serializing_if = "Option::is_none")]
    landlock: Option<LandlockFile>,
    #[cfg(feature = "seccomp")]
    #[serde(skip_serializing_if = "Option::is_none")]
    seccomp: Option<SeccompFile>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CapsFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    keep: Option<Vec<Capability>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ambient: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_new_privs: Option<bool>,
}

/// `filesystem.root`: "host", "empty" or an absolute host directory.
#[derive(Clone, Debug, PartialEq, Eq)]
enum RootSpec {
    Host,
    Empty,
    Dir(String),
}

impl Serialize for RootSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            RootSpec::Host => "host",
            RootSpec::Empty => "empty",
            RootSpec::Dir(d) => d,
        })
    }
}

impl<'de> Deserialize<'de> for RootSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "host" => Ok(RootSpec::Host),
            "empty" => Ok(RootSpec::Empty),
            _ if s.starts_with('/') && !s.contains('\0') => Ok(RootSpec::Dir(s)),
            _ => Err(de::Error::invalid_value(
                de::Unexpected::Str(&s),
                &"\"host\", \"empty\" or an absolute host directory",
            )),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FsFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    root: Option<RootSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proc: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dev: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tmp: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mask_host_secrets: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ops: Option<Vec<OpEntry>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OpKind {
    BindRo,
    BindRw,
    BindDev,
    Tmpfs,
    Dir,
    Symlink,
    File,
    Overlay,
    Mask,
}

/// One entry of `filesystem.ops`, its keys checked against its `op`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOp {
    op: OpKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    src: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lower: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    dest: AbsPath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    optional: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    devices: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contents: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct OpEntry(RawOp);

impl<'de> Deserialize<'de> for OpEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawOp::deserialize(d)?;
        raw.check().map_err(de::Error::custom)?;
        Ok(OpEntry(raw))
    }
}

impl RawOp {
    fn new(op: OpKind, dest: String) -> RawOp {
        RawOp {
            op,
            dest: AbsPath(dest),
            src: None,
            optional: None,
            devices: None,
            size: None,
            mode: None,
            target: None,
            contents: None,
            lower: None,
        }
    }

    /// Checks that the entry has the keys its operation needs and no
    /// others.
    fn check(&self) -> Result<(), String> {
        let (required, allowed): (&[&str], &[&str]) = match self.op {
            OpKind::BindRo | OpKind::BindRw | OpKind::BindDev => {
                (&["src"], &["src", "optional", "devices"])
            }
            OpKind::Tmpfs => (&[], &["size", "mode"]),
            OpKind::Dir => (&[], &["mode"]),
            OpKind::Symlink => (&["target"], &["target"]),
            OpKind::File => (&["contents"], &["contents", "mode"]),
            OpKind::Overlay => (&["lower"], &["lower"]),
            OpKind::Mask => (&[], &[]),
        };
        let present = [
            ("src", self.src.is_some()),
            ("optional", self.optional.is_some()),
            ("devices", self.devices.is_some()),
            ("size", self.size.is_some()),
            ("mode", self.mode.is_some()),
            ("target", self.target.is_some()),
            ("contents", self.contents.is_some()),
            ("lower", self.lower.is_some()),
        ];
        let op = serde_name(&self.op);
        for (key, is) in present {
            if is && !allowed.contains(&key) {
                return Err(format!("operation \"{op}\" does not take `{key}`"));
            }
            if !is && required.contains(&key) {
                return Err(format!("operation \"{op}\" needs `{key}`"));
            }
        }
        if self.op == OpKind::BindDev && self.devices == Some(false) {
            return Err("operation \"bind_dev\" always allows devices".to_owned());
        }
        Ok(())
    }

    fn into_fs_op(self) -> FsOp {
        let dest = PathBuf::from(self.dest.0);
        let text = |s: Option<String>| PathBuf::from(s.unwrap_or_default());
        match self.op {
            OpKind::BindRo | OpKind::BindRw | OpKind::BindDev => FsOp::Bind {
                src: text(self.src),
                dest,
                read_only: self.op == OpKind::BindRo,
                optional: self.optional.unwrap_or(false),
                devices: self.op == OpKind::BindDev || self.devices.unwrap_or(false),
            },
            OpKind::Tmpfs => FsOp::Tmpfs {
                dest,
                options: TmpfsOptions {
                    size: self.size.map(|s| s.0),
                    mode: self.mode.map(|m| m.0),
                },
            },
            OpKind::Dir => FsOp::Dir {
                dest,
                mode: self.mode.map(|m| m.0),
            },
            OpKind::Symlink => FsOp::Symlink {
                target: text(self.target),
                dest,
            },
            OpKind::File => FsOp::File {
                dest,
                contents: self.contents.unwrap_or_default().into_bytes(),
                mode: self.mode.map(|m| m.0),
            },
            OpKind::Overlay => FsOp::Overlay {
                lower: text(self.lower),
                dest,
            },
            OpKind::Mask => FsOp::Mask { dest },
        }
    }
}

/// The name serde gives a unit variant (for messages).
fn serde_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LimitsFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<Secs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_time: Option<Secs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_high: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    swap: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oom_group: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pids: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<Cpus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_weight: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpuset_cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpuset_mems: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup_parent: Option<AbsPath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup_placement: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    best_effort: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    io_max: Option<Vec<IoMaxFile>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rlimits: Option<BTreeMap<Rlimit, RlimitValue>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IoMaxFile {
    major: u32,
    minor: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rbps: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wbps: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    riops: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wiops: Option<u64>,
}

/// An rlimit: one value for soft and hard, or `{ soft, hard }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RlimitValue {
    soft: u64,
    hard: u64,
    /// Whether the limit counts bytes (written with K/M/G suffixes) rather
    /// than seconds, descriptors or processes (written as plain numbers).
    bytes: bool,
}

/// A limit written as a size when it counts bytes.
struct LimitNumber(u64, bool);

impl Serialize for LimitNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.1 || self.0 == u64::MAX || self.0 > i64::MAX as u64 {
            Size(self.0).serialize(s)
        } else {
            s.serialize_u64(self.0)
        }
    }
}

impl Serialize for RlimitValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.soft == self.hard {
            return LimitNumber(self.soft, self.bytes).serialize(s);
        }
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("RlimitValue", 2)?;
        st.serialize_field("soft", &LimitNumber(self.soft, self.bytes))?;
        st.serialize_field("hard", &LimitNumber(self.hard, self.bytes))?;
        st.end()
    }
}

/// Whether the rlimit counts bytes.
fn rlimit_counts_bytes(r: Rlimit) -> bool {
    matches!(
        r,
        Rlimit::As
            | Rlimit::Core
            | Rlimit::Data
            | Rlimit::Fsize
            | Rlimit::Memlock
            | Rlimit::Msgqueue
            | Rlimit::Stack
    )
}

impl<'de> Deserialize<'de> for RlimitValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RlimitValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a limit (an integer, a size like \"1M\" or \"unlimited\") or \
                     a table { soft = ..., hard = ... }",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RlimitValue, E> {
                Ok(RlimitValue {
                    soft: v,
                    hard: v,
                    bytes: false,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RlimitValue, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RlimitValue, E> {
                parse_size(v)
                    .map(|n| RlimitValue {
                        soft: n,
                        hard: n,
                        bytes: false,
                    })
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RlimitValue, A::Error> {
                #[derive(Deserialize)]
                #[serde(rename_all = "snake_case")]
                enum Key {
                    Soft,
                    Hard,
                }
                let (mut soft, mut hard) = (None, None);
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::Soft => &mut soft,
                        Key::Hard => &mut hard,
                    };
                    if slot.is_some() {
                        return Err(de::Error::custom("duplicate key"));
                    }
                    *slot = Some(map.next_value::<Size>()?.0);
                }
                match (soft, hard) {
                    (Some(soft), Some(hard)) => Ok(RlimitValue {
                        soft,
                        hard,
                        bytes: false,
                    }),
                    (None, _) => Err(de::Error::missing_field("soft")),
                    (_, None) => Err(de::Error::missing_field("hard")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

// ---- Landlock ----

#[cfg(feature = "landlock")]
use landlock_schema::*;

#[cfg(feature = "landlock")]
mod landlock_schema {
    use serde::{Deserialize, Serialize};

    use super::{AbsPath, Compat};
    use crate::landlock::{FsAccess, LandlockScope, NetAccess};

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    pub(super) struct LandlockFile {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) mirror_fs: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) fs_compat: Option<Compat>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) net_compat: Option<Compat>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) scope_compat: Option<Compat>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) handle_fs: Option<Vec<FsRight>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) handle_net: Option<Vec<NetRight>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) scopes: Option<Vec<ScopeName>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) fs: Option<Vec<FsRuleFile>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) net: Option<Vec<NetRuleFile>>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct FsRuleFile {
        pub(super) path: AbsPath,
        pub(super) access: Vec<FsRight>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub(super) optional: bool,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct NetRuleFile {
        pub(super) port: u16,
        pub(super) access: Vec<NetRight>,
    }

    /// Filesystem rights: bundles first (preferred when writing), then the
    /// single rights.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub(super) enum FsRight {
        ReadWrite,
        ReadExec,
        Read,
        Write,
        Execute,
        WriteFile,
        ReadFile,
        ReadDir,
        RemoveDir,
        RemoveFile,
        MakeChar,
        MakeDir,
        MakeReg,
        MakeSock,
        MakeFifo,
        MakeBlock,
        MakeSym,
        Refer,
        Truncate,
        IoctlDev,
        ResolveUnix,
    }

    pub(super) const FS_RIGHTS: [(FsRight, FsAccess); 21] = [
        (FsRight::ReadWrite, FsAccess::READ_WRITE),
        (FsRight::ReadExec, FsAccess::READ_EXEC),
        (FsRight::Read, FsAccess::READ),
        (FsRight::Write, FsAccess::WRITE),
        (FsRight::Execute, FsAccess::EXECUTE),
        (FsRight::WriteFile, FsAccess::WRITE_FILE),
        (FsRight::ReadFile, FsAccess::READ_FILE),
        (FsRight::ReadDir, FsAccess::READ_DIR),
        (FsRight::RemoveDir, FsAccess::REMOVE_DIR),
        (FsRight::RemoveFile, FsAccess::REMOVE_FILE),
        (FsRight::MakeChar, FsAccess::MAKE_CHAR),
        (FsRight::MakeDir, FsAccess::MAKE_DIR),
        (FsRight::MakeReg, FsAccess::MAKE_REG),
        (FsRight::MakeSock, FsAccess::MAKE_SOCK),
        (FsRight::MakeFifo, FsAccess::MAKE_FIFO),
        (FsRight::MakeBlock, FsAccess::MAKE_BLOCK),
        (FsRight::MakeSym, FsAccess::MAKE_SYM),
        (FsRight::Refer, FsAccess::REFER),
        (FsRight::Truncate, FsAccess::TRUNCATE),
        (FsRight::IoctlDev, FsAccess::IOCTL_DEV),
        (FsRight::ResolveUnix, FsAccess::RESOLVE_UNIX),
    ];

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub(super) enum NetRight {
        BindTcp,
        ConnectTcp,
        BindUdp,
        ConnectSendUdp,
    }

    pub(super) const NET_RIGHTS: [(NetRight, NetAccess); 4] = [
        (NetRight::BindTcp, NetAccess::BIND_TCP),
        (NetRight::ConnectTcp, NetAccess::CONNECT_TCP),
        (NetRight::BindUdp, NetAccess::BIND_UDP),
        (NetRight::ConnectSendUdp, NetAccess::CONNECT_SEND_UDP),
    ];

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub(super) enum ScopeName {
        AbstractUnixSocket,
        Signal,
    }

    pub(super) const SCOPES: [(ScopeName, LandlockScope); 2] = [
        (
            ScopeName::AbstractUnixSocket,
            LandlockScope::ABSTRACT_UNIX_SOCKET,
        ),
        (ScopeName::Signal, LandlockScope::SIGNAL),
    ];

    /// Names covering `set` exactly: the bundles wholly inside it first,
    /// then single rights for the rest.
    pub(super) fn names<N: Copy, F: bitflags::Flags + Copy>(table: &[(N, F)], set: F) -> Vec<N> {
        let mut left = set;
        let mut out = Vec::new();
        for &(name, bits) in table {
            if !bits.is_empty() && left.contains(bits) {
                out.push(name);
                left.remove(bits);
            }
        }
        out
    }

    pub(super) fn union<N: Copy + PartialEq, F: bitflags::Flags + Copy>(
        table: &[(N, F)],
        names: &[N],
    ) -> F {
        let mut set = F::empty();
        for n in names {
            if let Some((_, bits)) = table.iter().find(|(t, _)| t == n) {
                set.insert(*bits);
            }
        }
        set
    }
}

// ---- seccomp ----

#[cfg(feature = "seccomp")]
use seccomp_schema::*;

#[cfg(feature = "seccomp")]
mod seccomp_schema {
    use std::fmt;

    use serde::de::{self, Deserializer};
    use serde::ser::Serializer;
    use serde::{Deserialize, Serialize};

    use super::U64;
    use crate::seccomp::{
        ArgCondition, ArgOp, ArgWidth, PolicyEntry, SeccompAction, SeccompPolicy, SyscallGroup,
        SyscallRule,
    };

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub(super) enum Profile {
        Default,
        None,
        Custom,
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    pub(super) struct RawSeccomp {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) profile: Option<Profile>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) default_action: Option<Action>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) unknown_action: Option<Action>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) rules: Option<Vec<RuleEntry>>,
    }

    /// The `[seccomp]` table, checked as a whole.
    #[derive(Debug, Serialize)]
    #[serde(transparent)]
    pub(super) struct SeccompFile(pub(super) RawSeccomp);

    impl<'de> Deserialize<'de> for SeccompFile {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let raw = RawSeccomp::deserialize(d)?;
            if raw.profile == Some(Profile::None)
                && (raw.default_action.is_some()
                    || raw.unknown_action.is_some()
                    || raw.rules.is_some())
            {
                return Err(de::Error::custom(
                    "profile \"none\" takes no actions or rules",
                ));
            }
            Ok(SeccompFile(raw))
        }
    }

    /// `"allow"`, `"log"`, `"trap"`, `"kill_process"` or `"errno:N"`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) struct Action(pub(super) SeccompAction);

    impl Serialize for Action {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self.0 {
                SeccompAction::Allow => s.serialize_str("allow"),
                SeccompAction::Log => s.serialize_str("log"),
                SeccompAction::Trap => s.serialize_str("trap"),
                SeccompAction::KillProcess => s.serialize_str("kill_process"),
                SeccompAction::Errno(n) => s.serialize_str(&format!("errno:{n}")),
            }
        }
    }

    impl<'de> Deserialize<'de> for Action {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = String::deserialize(d)?;
            let action = match s.as_str() {
                "allow" => Some(SeccompAction::Allow),
                "log" => Some(SeccompAction::Log),
                "trap" => Some(SeccompAction::Trap),
                "kill_process" => Some(SeccompAction::KillProcess),
                other => other
                    .strip_prefix("errno:")
                    .and_then(|n| n.trim().parse::<u16>().ok())
                    .filter(|&n| n <= 4095)
                    .map(SeccompAction::Errno),
            };
            action.map(Action).ok_or_else(|| {
                de::Error::invalid_value(
                    de::Unexpected::Str(&s),
                    &"\"allow\", \"log\", \"trap\", \"kill_process\" or \"errno:N\" (N up to 4095)",
                )
            })
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub(super) enum CondOp {
        Eq,
        Ne,
        Lt,
        Le,
        Gt,
        Ge,
        MaskedEq,
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub(super) enum Width {
        Low32,
        Full64,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct CondFile {
        arg: u8,
        op: CondOp,
        value: U64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mask: Option<U64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        width: Option<Width>,
    }

    impl CondFile {
        fn from_condition(c: &ArgCondition) -> CondFile {
            let (op, mask) = match c.op() {
                ArgOp::Eq => (CondOp::Eq, None),
                ArgOp::Ne => (CondOp::Ne, None),
                ArgOp::Lt => (CondOp::Lt, None),
                ArgOp::Le => (CondOp::Le, None),
                ArgOp::Gt => (CondOp::Gt, None),
                ArgOp::Ge => (CondOp::Ge, None),
                ArgOp::MaskedEq(m) => (CondOp::MaskedEq, Some(U64(m))),
            };
            CondFile {
                arg: c.arg(),
                op,
                value: U64(c.value()),
                mask,
                width: match c.width() {
                    ArgWidth::Low32 => Some(Width::Low32),
                    ArgWidth::Full64 => None,
                },
            }
        }

        fn to_condition(&self) -> ArgCondition {
            let op = match self.op {
                CondOp::Eq => ArgOp::Eq,
                CondOp::Ne => ArgOp::Ne,
                CondOp::Lt => ArgOp::Lt,
                CondOp::Le => ArgOp::Le,
                CondOp::Gt => ArgOp::Gt,
                CondOp::Ge => ArgOp::Ge,
                CondOp::MaskedEq => ArgOp::MaskedEq(self.mask.map_or(0, |m| m.0)),
            };
            ArgCondition {
                arg: self.arg,
                width: match self.width {
                    Some(Width::Low32) => ArgWidth::Low32,
                    _ => ArgWidth::Full64,
                },
                op,
                value: self.value.0,
            }
        }
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct RawRule {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        syscall: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        allow_group: Option<SyscallGroup>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<SyscallGroup>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<Action>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conditions: Option<Vec<CondFile>>,
    }

    /// One entry of `seccomp.rules`: `{ syscall, action, conditions }`,
    /// `{ allow_group }` or `{ group, action }`.
    #[derive(Debug, Serialize)]
    #[serde(transparent)]
    pub(super) struct RuleEntry(RawRule);

    impl<'de> Deserialize<'de> for RuleEntry {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let raw = RawRule::deserialize(d)?;
            raw.check().map_err(de::Error::custom)?;
            Ok(RuleEntry(raw))
        }
    }

    impl RawRule {
        fn check(&self) -> Result<(), &'static str> {
            let kinds = usize::from(self.syscall.is_some())
                + usize::from(self.allow_group.is_some())
                + usize::from(self.group.is_some());
            if kinds != 1 {
                return Err("a rule has exactly one of `syscall`, `allow_group` and `group`");
            }
            if self.allow_group.is_some() && (self.action.is_some() || self.conditions.is_some()) {
                return Err("an `allow_group` rule takes no `action` or `conditions`");
            }
            if self.group.is_some() && self.conditions.is_some() {
                return Err("a `group` rule takes no `conditions`");
            }
            if (self.syscall.is_some() || self.group.is_some()) && self.action.is_none() {
                return Err("the rule needs an `action`");
            }
            for c in self.conditions.iter().flatten() {
                if (c.op == CondOp::MaskedEq) != c.mask.is_some() {
                    return Err("a condition has a `mask` exactly when its `op` is \"masked_eq\"");
                }
            }
            Ok(())
        }
    }

    impl fmt::Display for Profile {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                Profile::Default => "default",
                Profile::None => "none",
                Profile::Custom => "custom",
            })
        }
    }

    fn entry_to_rule(e: &PolicyEntry) -> RuleEntry {
        RuleEntry(match e {
            PolicyEntry::Rule(r) => RawRule {
                syscall: Some(r.syscall().to_owned()),
                action: Some(Action(r.action())),
                conditions: (!r.conditions().is_empty()).then(|| {
                    r.conditions()
                        .iter()
                        .map(CondFile::from_condition)
                        .collect()
                }),
                ..RawRule::default()
            },
            PolicyEntry::AllowGroup(g) => RawRule {
                allow_group: Some(*g),
                ..RawRule::default()
            },
            PolicyEntry::GroupAction { group, action } => RawRule {
                group: Some(*group),
                action: Some(Action(*action)),
                ..RawRule::default()
            },
        })
    }

    fn rule_to_entry(r: &RuleEntry) -> PolicyEntry {
        let r = &r.0;
        let action = r.action.map_or(SeccompAction::Allow, |a| a.0);
        if let Some(g) = r.allow_group {
            PolicyEntry::AllowGroup(g)
        } else if let Some(group) = r.group {
            PolicyEntry::GroupAction { group, action }
        } else {
            let mut rule = SyscallRule::new(r.syscall.clone().unwrap_or_default(), action);
            for c in r.conditions.iter().flatten() {
                rule = rule.when(c.to_condition());
            }
            PolicyEntry::Rule(rule)
        }
    }

    /// The `[seccomp]` table for a sandbox's filter (`None`: the default
    /// profile, written as nothing).
    pub(super) fn to_file(policy: Option<&SeccompPolicy>) -> Option<SeccompFile> {
        let Some(policy) = policy else {
            return Some(SeccompFile(RawSeccomp {
                profile: Some(Profile::None),
                ..RawSeccomp::default()
            }));
        };
        let default = SeccompPolicy::default_profile();
        if *policy == default {
            return None;
        }
        let raw = if policy.entries.starts_with(&default.entries) {
            let rest = &policy.entries[default.entries.len()..];
            RawSeccomp {
                profile: Some(Profile::Default),
                default_action: (policy.default_action != default.default_action)
                    .then_some(Action(policy.default_action)),
                unknown_action: (policy.unknown_action != default.unknown_action)
                    .then_some(Action(policy.unknown_action)),
                rules: (!rest.is_empty()).then(|| rest.iter().map(entry_to_rule).collect()),
            }
        } else {
            RawSeccomp {
                profile: Some(Profile::Custom),
                default_action: Some(Action(policy.default_action)),
                unknown_action: Some(Action(policy.unknown_action)),
                rules: Some(policy.entries.iter().map(entry_to_rule).collect()),
            }
        };
        Some(SeccompFile(raw))
    }

    /// The sandbox's filter for a `[seccomp]` table (`None`: no filter).
    pub(super) fn from_file(file: &SeccompFile) -> Option<SeccompPolicy> {
        let raw = &file.0;
        let mut policy = match raw.profile.unwrap_or(Profile::Default) {
            Profile::None => return None,
            Profile::Default => SeccompPolicy::default_profile(),
            Profile::Custom => SeccompPolicy::allowlist(SeccompAction::Errno(libc::EPERM as u16)),
        };
        if let Some(a) = raw.default_action {
            policy.default_action = a.0;
        }
        if let Some(a) = raw.unknown_action {
            policy.unknown_action = a.0;
        }
        for r in raw.rules.iter().flatten() {
            policy.entries.push(rule_to_entry(r));
        }
        Some(policy)
    }
}

// ---- Conversions ----

fn utf8(key: &str, s: &std::ffi::OsStr) -> Result<String, PolicyError> {
    s.to_str()
        .map(str::to_owned)
        .ok_or_else(|| PolicyError::NotExpressible {
            key: key.to_owned(),
            reason: Inexpressible::NotUtf8,
        })
}

fn abs(key: &str, p: &Path) -> Result<AbsPath, PolicyError> {
    let s = utf8(key, p.as_os_str())?;
    if !s.starts_with('/') {
        return Err(PolicyError::NotExpressible {
            key: key.to_owned(),
            reason: Inexpressible::RelativePath,
        });
    }
    Ok(AbsPath(s))
}

fn op_to_raw(i: usize, op: &FsOp) -> Result<OpEntry, PolicyError> {
    let key = |k: &str| format!("filesystem.ops[{i}].{k}");
    let dest = abs(&key("dest"), op.dest())?.0;
    let raw = match op {
        FsOp::Bind {
            src,
            read_only,
            optional,
            devices,
            ..
        } => {
            let kind = match (read_only, devices) {
                (true, _) => OpKind::BindRo,
                (false, true) => OpKind::BindDev,
                (false, false) => OpKind::BindRw,
            };
            RawOp {
                src: Some(utf8(&key("src"), src.as_os_str())?),
                optional: optional.then_some(true),
                devices: (*devices && *read_only).then_some(true),
                ..RawOp::new(kind, dest)
            }
        }
        FsOp::Tmpfs { options, .. } => RawOp {
            size: options.size.map(Size),
            mode: options.mode.map(Mode),
            ..RawOp::new(OpKind::Tmpfs, dest)
        },
        FsOp::Dir { mode, .. } => RawOp {
            mode: mode.map(Mode),
            ..RawOp::new(OpKind::Dir, dest)
        },
        FsOp::Symlink { target, .. } => RawOp {
            target: Some(utf8(&key("target"), target.as_os_str())?),
            ..RawOp::new(OpKind::Symlink, dest)
        },
        FsOp::File { contents, mode, .. } => RawOp {
            contents: Some(String::from_utf8(contents.clone()).map_err(|_| {
                PolicyError::NotExpressible {
                    key: key("contents"),
                    reason: Inexpressible::NotUtf8,
                }
            })?),
            mode: mode.map(Mode),
            ..RawOp::new(OpKind::File, dest)
        },
        FsOp::Overlay { lower, .. } => RawOp {
            lower: Some(utf8(&key("lower"), lower.as_os_str())?),
            ..RawOp::new(OpKind::Overlay, dest)
        },
        FsOp::Mask { .. } => RawOp::new(OpKind::Mask, dest),
    };
    Ok(OpEntry(raw))
}

/// `Some(v)` when `v` differs from the default.
fn changed<T: PartialEq>(v: T, default: T) -> Option<T> {
    (v != default).then_some(v)
}

/// `None` for a table with nothing in it.
fn nonempty<T: Serialize>(t: T) -> Option<T> {
    let empty = serde_json::to_value(&t)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.is_empty()))
        .unwrap_or(false);
    (!empty).then_some(t)
}

impl PolicyFile {
    fn from_sandbox(sb: &Sandbox) -> Result<PolicyFile, PolicyError> {
        let cfg = &sb.cfg;
        let def = crate::config::Config::default();

        let caps = CapsFile {
            keep: (!cfg.caps.keep.is_empty()).then(|| cfg.caps.kept().collect()),
            ambient: changed(cfg.caps.ambient, def.caps.ambient),
            no_new_privs: changed(cfg.caps.no_new_privs, def.caps.no_new_privs),
        };

        let fs = &cfg.fs;
        let root = match &fs.root {
            RootKind::HostSystem => None,
            RootKind::Empty => Some(RootSpec::Empty),
            RootKind::Dir(d) => Some(RootSpec::Dir(abs("filesystem.root", d)?.0)),
        };
        let ops = fs
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| op_to_raw(i, op))
            .collect::<Result<Vec<_>, _>>()?;
        let filesystem = FsFile {
            root,
            proc: changed(fs.proc, def.fs.proc),
            dev: changed(fs.dev, def.fs.dev),
            tmp: changed(fs.tmp, def.fs.tmp),
            mask_host_secrets: changed(fs.mask_secrets, def.fs.mask_secrets),
            ops: (!ops.is_empty()).then_some(ops),
        };

        let cg = &cfg.cgroup;
        let dcg = &def.cgroup;
        let limits = LimitsFile {
            timeout: cfg.timeout.map(Secs),
            cpu_time: None,
            memory: cg.memory_max.map(Size),
            memory_high: cg.memory_high.map(Size),
            swap: cg.swap_max.map(Size),
            oom_group: changed(cg.oom_group, dcg.oom_group),
            pids: cg.pids_max,
            cpus: cg.cpus.map(Cpus),
            cpu_weight: cg.cpu_weight,
            cpuset_cpus: cg.cpuset_cpus.clone(),
            cpuset_mems: cg.cpuset_mems.clone(),
            cgroup_parent: cg
                .parent
                .as_deref()
                .map(|p| abs("limits.cgroup_parent", p))
                .transpose()?,
            cgroup_placement: changed(cg.placement, dcg.placement),
            best_effort: (cg.compat == CompatLevel::BestEffort).then_some(true),
            io_max: (!cg.io_max.is_empty()).then(|| {
                cg.io_max
                    .iter()
                    .map(|r| IoMaxFile {
                        major: r.major,
                        minor: r.minor,
                        rbps: r.rbps.map(Size),
                        wbps: r.wbps.map(Size),
                        riops: r.riops,
                        wiops: r.wiops,
                    })
                    .collect()
            }),
            rlimits: (!cfg.rlimits.is_empty()).then(|| {
                cfg.rlimits
                    .iter()
                    .map(|(&r, &(soft, hard))| {
                        let bytes = rlimit_counts_bytes(r);
                        (r, RlimitValue { soft, hard, bytes })
                    })
                    .collect()
            }),
        };

        let namespaces = changed(cfg.namespaces, def.namespaces).map(|ns| {
            NS_NAMES
                .iter()
                .filter(|(_, f)| ns.contains(*f))
                .map(|(n, _)| *n)
                .collect()
        });

        #[cfg(feature = "landlock")]
        let landlock = if cfg.landlock.is_some() || cfg.landlock_mirror_fs {
            let p = cfg.landlock.clone().unwrap_or_default();
            let fs_rules = p
                .fs_rules
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    Ok(FsRuleFile {
                        path: abs(&format!("landlock.fs[{i}].path"), &r.path)?,
                        access: names(&FS_RIGHTS, r.access),
                        optional: r.optional,
                    })
                })
                .collect::<Result<Vec<_>, PolicyError>>()?;
            let net_rules: Vec<NetRuleFile> = p
                .net_rules
                .iter()
                .map(|r| NetRuleFile {
                    port: r.port,
                    access: names(&NET_RIGHTS, r.access),
                })
                .collect();
            let hard = CompatLevel::HardRequirement;
            Some(LandlockFile {
                mirror_fs: cfg.landlock_mirror_fs.then_some(true),
                fs_compat: changed(p.fs_compat, hard).map(Compat::from),
                net_compat: changed(p.net_compat, hard).map(Compat::from),
                scope_compat: changed(p.scope_compat, hard).map(Compat::from),
                handle_fs: p.fs_handled.map(|h| names(&FS_RIGHTS, h)),
                handle_net: (!p.net_handled.is_empty()).then(|| names(&NET_RIGHTS, p.net_handled)),
                scopes: (!p.scopes.is_empty()).then(|| names(&SCOPES, p.scopes)),
                fs: (!fs_rules.is_empty()).then_some(fs_rules),
                net: (!net_rules.is_empty()).then_some(net_rules),
            })
        } else {
            None
        };

        Ok(PolicyFile {
            version: Some(Version(1)),
            namespaces,
            #[cfg(all(feature = "seccomp", feature = "landlock"))]
            net_filter: cfg.net_filter.then_some(true),
            uid: cfg.uid,
            gid: cfg.gid,
            hostname: cfg
                .hostname
                .as_deref()
                .map(|h| utf8("hostname", h))
                .transpose()?,
            inherit_env: changed(cfg.inherit_env, def.inherit_env),
            kill_on_drop: changed(cfg.kill_on_drop, def.kill_on_drop),
            die_with_parent: changed(cfg.die_with_parent, def.die_with_parent),
            capabilities: nonempty(caps),
            filesystem: nonempty(filesystem),
            limits: nonempty(limits),
            #[cfg(feature = "landlock")]
            landlock,
            #[cfg(feature = "seccomp")]
            seccomp: seccomp_schema::to_file(cfg.seccomp.as_ref()),
        })
    }

    fn into_sandbox(self) -> Sandbox {
        let mut sb = Sandbox::new();
        if let Some(names) = &self.namespaces {
            let mut ns = Namespaces::empty();
            for n in names {
                if let Some((_, f)) = NS_NAMES.iter().find(|(m, _)| m == n) {
                    ns |= *f;
                }
            }
            sb.namespaces(ns);
        }
        #[cfg(all(feature = "seccomp", feature = "landlock"))]
        if self.net_filter == Some(true) {
            sb.deny_net_by_filter();
        }
        if let Some(u) = self.uid {
            sb.uid(u);
        }
        if let Some(g) = self.gid {
            sb.gid(g);
        }
        if let Some(h) = &self.hostname {
            sb.hostname(h);
        }
        if let Some(v) = self.inherit_env {
            sb.inherit_env(v);
        }
        if let Some(v) = self.kill_on_drop {
            sb.kill_on_drop(v);
        }
        if let Some(v) = self.die_with_parent {
            sb.die_with_parent(v);
        }
        if let Some(c) = self.capabilities {
            let mut caps = CapsPolicy::new();
            caps.keep_all(c.keep.unwrap_or_default());
            if let Some(a) = c.ambient {
                caps.ambient(a);
            }
            if let Some(n) = c.no_new_privs {
                caps.no_new_privs(n);
            }
            sb.capabilities(caps);
        }
        if let Some(f) = self.filesystem {
            match f.root {
                None | Some(RootSpec::Host) => {}
                Some(RootSpec::Empty) => {
                    sb.empty_root();
                }
                Some(RootSpec::Dir(d)) => {
                    sb.root_dir(d);
                }
            }
            if let Some(v) = f.proc {
                sb.proc(v);
            }
            if let Some(v) = f.dev {
                sb.dev(v);
            }
            if let Some(v) = f.tmp {
                sb.tmp(v);
            }
            if let Some(v) = f.mask_host_secrets {
                sb.mask_host_secrets(v);
            }
            for op in f.ops.unwrap_or_default() {
                sb.fs_op(op.0.into_fs_op());
            }
        }
        if let Some(l) = self.limits {
            if let Some(t) = l.timeout {
                sb.timeout(t.0);
            }
            for (r, v) in l.rlimits.unwrap_or_default() {
                sb.rlimit_soft_hard(r, v.soft, v.hard);
            }
            if let Some(t) = l.cpu_time {
                sb.cpu_time_limit(t.0);
            }
            let mut cg = sb.cfg.cgroup.clone();
            cg.memory_max = l.memory.map(|s| s.0);
            cg.memory_high = l.memory_high.map(|s| s.0);
            cg.swap_max = l.swap.map(|s| s.0);
            if let Some(v) = l.oom_group {
                cg.oom_group = v;
            }
            cg.pids_max = l.pids;
            cg.cpus = l.cpus.map(|c| c.0);
            cg.cpu_weight = l.cpu_weight;
            cg.cpuset_cpus = l.cpuset_cpus;
            cg.cpuset_mems = l.cpuset_mems;
            cg.parent = l.cgroup_parent.map(|p| PathBuf::from(p.0));
            if let Some(v) = l.cgroup_placement {
                cg.placement = v;
            }
            if l.best_effort == Some(true) {
                cg.compat = CompatLevel::BestEffort;
            }
            for r in l.io_max.unwrap_or_default() {
                let mut rule = IoMaxRule::new(r.major, r.minor);
                rule.rbps = r.rbps.map(|s| s.0);
                rule.wbps = r.wbps.map(|s| s.0);
                rule.riops = r.riops;
                rule.wiops = r.wiops;
                cg.io_max.push(rule);
            }
            sb.cgroup(cg);
        }
        #[cfg(feature = "landlock")]
        if let Some(l) = self.landlock {
            use crate::landlock::LandlockPolicy;
            let mut p = LandlockPolicy::new();
            for r in l.fs.unwrap_or_default() {
                let access = union(&FS_RIGHTS, &r.access);
                if r.optional {
                    p.allow_try(r.path.0, access);
                } else {
                    p.allow(r.path.0, access);
                }
            }
            for r in l.net.unwrap_or_default() {
                p.allow_net(r.port, union(&NET_RIGHTS, &r.access));
            }
            if let Some(h) = &l.handle_fs {
                p.handle_fs(union(&FS_RIGHTS, h));
            }
            if let Some(h) = &l.handle_net {
                p.handle_net(union(&NET_RIGHTS, h));
            }
            if let Some(s) = &l.scopes {
                p.scope(union(&SCOPES, s));
            }
            if let Some(c) = l.fs_compat {
                p.fs_compat(c.into());
            }
            if let Some(c) = l.net_compat {
                p.net_compat(c.into());
            }
            if let Some(c) = l.scope_compat {
                p.scope_compat(c.into());
            }
            let mirror = l.mirror_fs.unwrap_or(false);
            sb.landlock_mirror_fs(mirror);
            // A table holding only `mirror_fs` asks for the mirrored rules
            // alone, which is what a sandbox without a policy of its own
            // and with `landlock_mirror_fs` means.
            if !(mirror && p == LandlockPolicy::new()) {
                sb.landlock(p);
            }
        }
        #[cfg(feature = "seccomp")]
        if let Some(s) = &self.seccomp {
            match seccomp_schema::from_file(s) {
                Some(p) => sb.seccomp(p),
                None => sb.no_seccomp(),
            };
        }
        sb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("unlimited"), Some(u64::MAX));
        for bad in ["12Q", "", "M", "-1K", "1.5G", "99999999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        for bad in ["0s", "", "s", "1d", "-1s", "1e9h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, text.find('=').unwrap()), (1, 3));
        let second_eq = text.rfind('=').unwrap();
        assert_eq!(line_col(text, second_eq), (2, 4));
    }

    #[test]
    fn every_default_writes_as_an_almost_empty_file() {
        assert_eq!(Sandbox::new().to_toml().unwrap(), "version = 1\n");
        assert_eq!(Sandbox::from_toml("").unwrap(), Sandbox::new());
    }
}
