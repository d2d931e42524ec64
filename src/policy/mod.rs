//! Policy files: a whole [`Sandbox`] written as TOML or JSON (feature
//! `serde`).
//!
//! [`Sandbox::from_toml`] and [`Sandbox::from_json`] build a sandbox from a
//! policy file; [`Sandbox::to_toml`] and [`Sandbox::to_json`] write one
//! back. A policy file describes a whole sandbox: every key is optional,
//! and a key left out keeps the library's default (what [`Sandbox::new`]
//! gives), so an empty file is the default policy.
//!
//! A file that is not a valid policy is a [`Error::Invalid`] naming
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
//! | `net_filter` | boolean (features `seccomp` and `landlock`) | [`network`](Sandbox::network) ([`Network::Blocked`](crate::Network::Blocked)) |
//! | `isolation` | `"strict"` (the default) or `"best_available"` | [`isolation`](Sandbox::isolation) |
//! | `uid`, `gid` | ids inside the sandbox | [`uid`](Sandbox::uid), [`gid`](Sandbox::gid) |
//! | `subordinate_ids` | boolean | [`subordinate_ids`](Sandbox::subordinate_ids) (for the kinds without ranges) |
//! | `uid_ranges`, `gid_ranges` | tables `{ inside, outside, count }` | [`uid_ranges`](Sandbox::uid_ranges), [`gid_ranges`](Sandbox::gid_ranges) |
//! | `hostname` | string | [`hostname`](Sandbox::hostname) |
//! | `inherit_env`, `kill_on_drop`, `die_with_parent` | booleans | the methods of the same names |
//! | `capabilities.keep` | names such as `"CAP_NET_BIND_SERVICE"` | [`keep_capability`](Sandbox::keep_capability) |
//! | `capabilities.ambient`, `capabilities.no_new_privs` | booleans | [`caps::Policy`](crate::caps::Policy) |
//! | `filesystem.root` | `"host"`, `"empty"` or an absolute host directory | [`root_dir`](Sandbox::root_dir), [`empty_root`](Sandbox::empty_root) |
//! | `filesystem.proc`, `.dev`, `.tmp`, `.private_home`, `.mask_host_secrets` | booleans | the methods of the same names |
//! | `filesystem.ops` | ordered list of operations (below) | [`fs_op`](Sandbox::fs_op) |
//! | `limits.timeout`, `limits.cpu_time` | durations | [`timeout`](Sandbox::timeout), [`cpu_time_limit`](Sandbox::cpu_time_limit) |
//! | `limits.memory`, `.memory_high`, `.swap` | sizes | [`memory_limit`](Sandbox::memory_limit), [`cgroup::Config`](crate::cgroup::Config) |
//! | `limits.oom_group` | boolean | [`cgroup::Config::oom_group`](crate::cgroup::Config::oom_group) |
//! | `limits.pids`, `.cpus`, `.cpu_weight` | numbers | [`pids_limit`](Sandbox::pids_limit), [`cpus`](Sandbox::cpus), [`cgroup::Config`](crate::cgroup::Config) |
//! | `limits.cpuset_cpus`, `.cpuset_mems` | CPU / node lists | [`cgroup::Config`](crate::cgroup::Config) |
//! | `limits.io_max` | list of `{ major, minor, rbps, wbps, riops, wiops }` | [`cgroup::Config::io_max`](crate::cgroup::Config::io_max) |
//! | `limits.cgroup_parent`, `.cgroup_placement`, `.best_effort` | path, booleans | [`cgroup_mut`](Sandbox::cgroup_mut) (`parent`, `placement`, `compat`) |
//! | `limits.rlimits.NAME` | a value, or `{ soft, hard }` | [`rlimit`](Sandbox::rlimit) |
//! | `landlock.*` | rules, rights, scopes, compatibility levels | [`landlock`](Sandbox::landlock), [`landlock_mirror_fs`](Sandbox::landlock_mirror_fs) |
//! | `seccomp.profile` | `"default"`, `"none"` or `"custom"` | [`seccomp`](Sandbox::seccomp) |
//! | `seccomp.default_action`, `.unknown_action`, `.rules` | actions and rules | [`seccomp::Policy`](crate::seccomp::Policy) |
//! | `seccomp.observe_denials` | boolean | [`observe_denials`](Sandbox::observe_denials) |
//! | `seccomp.observe_writes` | boolean | [`observe_writes`](Sandbox::observe_writes) |
//! | `egress` | a table (present: a filtered network): `allow`, `deny`, `allow_private` (lists of rules), `max_connections`, `max_names`, `connect_timeout`, `idle_timeout`, `transparent_ports` | [`egress`](Sandbox::egress) with [`net::Egress`](crate::net::Egress) |
//! | `publish` | list of `{ host = "127.0.0.1:8080", sandbox_port = 80 }` | [`publish`](Sandbox::publish) |
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
//!   or `T` suffix (powers of 1024), such as `"64M"` or `"64MiB"`;
//!   `"unlimited"` for no limit (swap, rlimits). Strings follow
//!   [`units::parse_size`](crate::units::parse_size);
//! - **durations**: a number of seconds (`30`, `2.5`), or a string with a
//!   unit: `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"250us"`, `"10ns"`. Strings
//!   follow [`units::parse_duration`](crate::units::parse_duration);
//! - **modes**: an integer (TOML's `0o755`) or an octal string (`"0755"`);
//! - **seccomp actions**: `"allow"`, `"log"`, `"trap"`, `"kill_process"` or
//!   `"errno:N"`;
//! - **compatibility levels**: `"hard_requirement"` or `"best_effort"`.
//!
//! The complete example, with every key commented, is the crate's
//! `examples/policy.toml`:
//!
//! ```toml
#![doc = include_str!("../../examples/policy.toml")]
//! ```
//!
//! # What a policy file cannot hold
//!
//! - Host paths, hostnames and file contents that are not UTF-8, and paths
//!   inside the sandbox that are not absolute: writing such a sandbox is a
//!   [`Error::NotExpressible`].
//! - What belongs to a [`Command`](crate::Command) rather than to a sandbox:
//!   the program, its arguments, environment variables, working directory
//!   and standard streams.
//! - An egress policy's resolver and callbacks
//!   ([`Egress::resolver`](crate::net::Egress::resolver), `ask`,
//!   `on_connection`) are code: writing a sandbox that has one is a
//!   [`Error::NotExpressible`] naming it.
//! - The `landlock` and `seccomp` tables need the crate features of the same
//!   names; without them they are unknown keys.
//! - `limits.cpu_time` is a shorthand for the `cpu` rlimit (soft limit the
//!   given seconds rounded up, hard limit one second more); it is written
//!   back as `limits.rlimits.cpu`. When both are given, `cpu_time` wins.
//! - A `[landlock]` table holding nothing but `mirror_fs = true` reads back
//!   as "no Landlock policy, plus the mirrored filesystem rules", which is
//!   what such a table means.

mod error;
mod file;
mod fs;
#[cfg(feature = "landlock")]
mod landlock;
mod limits;
mod net;
#[cfg(feature = "seccomp")]
mod seccomp;
mod values;

pub use error::{Error, Format, Inexpressible};
use file::PolicyFile;

use crate::sandbox::Sandbox;

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
    /// assert_eq!(sandbox.get_fs_ops().len(), 1);
    ///
    /// let err = Sandbox::from_toml("[limits]\nmemory = \"12Q\"\n").unwrap_err();
    /// assert_eq!(err.key(), Some("limits.memory"));
    /// assert_eq!(err.line(), Some(2));
    /// # Ok::<(), stockade::policy::Error>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Sandbox, Error> {
        let file = parse_toml(text)?;
        Ok(file.into_sandbox())
    }

    /// Builds a sandbox from a JSON policy file (the same keys as the TOML
    /// form).
    pub fn from_json(text: &str) -> Result<Sandbox, Error> {
        let file = parse_json(text)?;
        Ok(file.into_sandbox())
    }

    /// Writes the policy as TOML. Keys whose values are the library's
    /// defaults are left out; [`from_toml`](Sandbox::from_toml) reads the
    /// result back into an equal sandbox.
    pub fn to_toml(&self) -> Result<String, Error> {
        let file = PolicyFile::from_sandbox(self)?;
        toml::to_string(&file).map_err(|e| Error::Write {
            format: Format::Toml,
            source: Box::new(e),
        })
    }

    /// Writes the policy as JSON (pretty-printed).
    pub fn to_json(&self) -> Result<String, Error> {
        let file = PolicyFile::from_sandbox(self)?;
        serde_json::to_string_pretty(&file).map_err(|e| Error::Write {
            format: Format::Json,
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

fn parse_toml(text: &str) -> Result<PolicyFile, Error> {
    let toml_error = |key: String, e: &toml::de::Error| {
        let (line, column) = match e.span() {
            Some(span) => {
                let (l, c) = line_col(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        Error::Invalid {
            format: Format::Toml,
            key,
            line,
            column,
            message: e.message().trim_end().to_owned(),
        }
    };
    let de = toml::Deserializer::parse(text).map_err(|e| toml_error(String::new(), &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| toml_error(path_string(e.path()), e.inner()))
}

fn parse_json(text: &str) -> Result<PolicyFile, Error> {
    let json_error = |key: String, e: &serde_json::Error| {
        let message = e.to_string();
        // serde_json appends " at line L column C"; the position is kept
        // in fields of its own.
        let message = match message.rfind(" at line ") {
            Some(i) if e.line() != 0 => message[..i].to_owned(),
            _ => message,
        };
        Error::Invalid {
            format: Format::Json,
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn sizes_and_durations_follow_the_units_grammar() {
        let sb = Sandbox::from_toml(
            "[limits]\nmemory = \"64MiB\"\nswap = \"max\"\ntimeout = \"+1.5m\"\n",
        )
        .unwrap();
        let mut expected = Sandbox::new();
        expected
            .memory_limit(64 << 20)
            .timeout(std::time::Duration::from_secs(90));
        expected.cgroup_mut().swap_max = Some(u64::MAX);
        assert_eq!(sb, expected);
        // Written back in the canonical forms.
        let toml = sb.to_toml().unwrap();
        assert!(toml.contains("memory = \"64M\""), "{toml}");
        assert!(toml.contains("swap = \"unlimited\""), "{toml}");
        assert!(toml.contains("timeout = 90"), "{toml}");

        let err = Sandbox::from_toml("[limits]\nmemory = \"64MB\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid TOML policy: key `limits.memory` at line 2, column 10: invalid value: \
             string \"64MB\", expected a size: a non-negative integer of bytes, a string \
             like \"64M\" (K, M, G, T suffixes) or \"unlimited\""
        );
        let err = Sandbox::from_json(r#"{"limits": {"timeout": "1e3"}}"#).unwrap_err();
        assert_eq!(err.key(), Some("limits.timeout"));
    }

    #[test]
    fn compat_levels_keep_their_names_everywhere() {
        use crate::{CompatLevel, cgroup};
        let json = |v: CompatLevel| serde_json::to_value(v).unwrap();
        assert_eq!(json(CompatLevel::HardRequirement), "hard_requirement");
        assert_eq!(json(CompatLevel::BestEffort), "best_effort");
        let cg = cgroup::Config {
            compat: CompatLevel::BestEffort,
            ..cgroup::Config::default()
        };
        let value = serde_json::to_value(&cg).unwrap();
        assert_eq!(value["compat"], "best_effort");
        let back: cgroup::Config = serde_json::from_value(value).unwrap();
        assert_eq!(back, cg);
    }

    #[cfg(feature = "seccomp")]
    #[test]
    fn conditions_name_the_comparison_and_hold_the_mask_apart() {
        use crate::seccomp;
        let json = r#"{"seccomp": {"profile": "custom", "rules": [{"syscall": "ioctl",
            "action": "errno:25", "conditions": [{"arg": 1, "op": "masked_eq",
            "mask": "0xffffffffffffffff", "value": 21505, "width": "low32"}]}]}}"#;
        let sb = Sandbox::from_json(json).unwrap();
        let mut policy = seccomp::Policy::allowlist(seccomp::Action::Errno(libc::EPERM as u16));
        policy.rule(
            seccomp::SyscallRule::new("ioctl", seccomp::Action::Errno(25)).when(
                seccomp::ArgCondition::new32(1, seccomp::ArgOp::MaskedEq(u64::MAX), 21505),
            ),
        );
        let mut expected = Sandbox::new();
        expected.seccomp(policy);
        assert_eq!(sb, expected);
        let toml = sb.to_toml().unwrap();
        assert!(toml.contains("op = \"masked_eq\"\n"), "{toml}");
        assert!(toml.contains("mask = \"0xffffffffffffffff\"\n"), "{toml}");
        assert_eq!(Sandbox::from_toml(&toml).unwrap(), sb);
        for (op, message) in [
            (
                "\"ge\"",
                "a condition has a `mask` exactly when its `op` is \"masked_eq\"",
            ),
            (
                "\"bogus\"",
                "unknown variant `bogus`, expected one of `eq`, `ne`, `lt`, `le`, `gt`, `ge`, \
                 `masked_eq`",
            ),
            (
                "{\"masked_eq\": 5}",
                "invalid type: integer `5`, expected unit",
            ),
        ] {
            let text = json.replace("\"masked_eq\"", op);
            let err = Sandbox::from_json(&text).unwrap_err().to_string();
            assert!(err.contains(message), "{op}: {err}");
        }
    }

    #[cfg(feature = "seccomp")]
    #[test]
    fn observing_denials_is_a_seccomp_key_written_only_when_off() {
        let mut off = Sandbox::new();
        off.observe_denials(false);
        let toml = off.to_toml().unwrap();
        assert_eq!(toml, "version = 1\n\n[seccomp]\nobserve_denials = false\n");
        assert_eq!(Sandbox::from_toml(&toml).unwrap(), off);
        assert_ne!(off, Sandbox::new());
        let json = off.to_json().unwrap();
        assert_eq!(Sandbox::from_json(&json).unwrap(), off);
        // On is the default, read and not written.
        let on = Sandbox::from_toml("[seccomp]\nobserve_denials = true\n").unwrap();
        assert_eq!(on, Sandbox::new());
        assert_eq!(on.to_toml().unwrap(), "version = 1\n");
        // With the filter's other keys, and with no filter at all.
        let mut custom = Sandbox::new();
        let mut policy = crate::seccomp::Policy::default_profile();
        policy.rule(crate::seccomp::SyscallRule::new(
            "ptrace",
            crate::seccomp::Action::Errno(1),
        ));
        custom.seccomp(policy).observe_denials(false);
        let mut none = Sandbox::new();
        none.seccomp(None).observe_denials(false);
        for sb in [custom, none] {
            let toml = sb.to_toml().unwrap();
            assert!(toml.contains("observe_denials = false\n"), "{toml}");
            assert_eq!(Sandbox::from_toml(&toml).unwrap(), sb, "{toml}");
        }
        let err = Sandbox::from_toml("[seccomp]\nobserve_denials = \"no\"\n").unwrap_err();
        assert_eq!(err.key(), Some("seccomp.observe_denials"));
        assert_eq!(err.line(), Some(2));
    }

    #[cfg(feature = "seccomp")]
    #[test]
    fn observing_writes_is_a_seccomp_key_written_only_when_on() {
        let mut on = Sandbox::new();
        on.observe_writes(true);
        let toml = on.to_toml().unwrap();
        assert_eq!(toml, "version = 1\n\n[seccomp]\nobserve_writes = true\n");
        assert_eq!(Sandbox::from_toml(&toml).unwrap(), on);
        assert_ne!(on, Sandbox::new());
        let mut both = Sandbox::new();
        both.observe_writes(true).observe_denials(false);
        let toml = both.to_toml().unwrap();
        assert!(
            toml.contains("observe_denials = false\n") && toml.contains("observe_writes = true\n")
        );
        assert_eq!(Sandbox::from_toml(&toml).unwrap(), both);
        let err = Sandbox::from_toml("[seccomp]\nobserve_writes = 1\n").unwrap_err();
        assert_eq!(err.key(), Some("seccomp.observe_writes"));
    }

    #[test]
    fn operations_are_named_as_the_public_op_names() {
        let err =
            Sandbox::from_toml("[[filesystem.ops]]\nop = \"root\"\ndest = \"/x\"\n").unwrap_err();
        assert!(
            err.to_string().contains(
                "unknown variant `root`, expected one of `bind_ro`, `bind_rw`, `bind_dev`, \
                 `tmpfs`, `dir`, `symlink`, `file`, `overlay`, `mask`"
            ),
            "{err}"
        );
        let mut sb = Sandbox::new();
        sb.bind_dev("/dev/fuse", "/dev/fuse");
        assert!(sb.to_toml().unwrap().contains("op = \"bind_dev\""));
    }
}
