//! What a compiled policy enforces, for the enforcement report.

use std::fmt;

use super::rule::Action;

/// Whether a policy is the default profile or was customised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum Profile {
    /// Exactly [`Policy::default_profile`](super::Policy::default_profile).
    Default,
    /// Anything else.
    Custom,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Default => "default",
            Self::Custom => "custom",
        })
    }
}

/// The architecture a filter was compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Arch {
    /// x86_64 (the filter kills i386 and x32 system calls).
    #[cfg_attr(feature = "serde", serde(rename = "x86_64"))]
    X86_64,
    /// aarch64 (the filter kills aarch32 system calls).
    #[cfg_attr(feature = "serde", serde(rename = "aarch64"))]
    Aarch64,
}

impl Arch {
    /// The architecture this crate was compiled for.
    pub const NATIVE: Self = if cfg!(target_arch = "x86_64") {
        Self::X86_64
    } else {
        Self::Aarch64
    };
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        })
    }
}

/// What a compiled seccomp policy enforces, for the enforcement report.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Report {
    /// Whether the policy is the default profile.
    pub profile: Profile,
    /// Per-system-call decisions in the program: one for each argument
    /// check and one for each system call with an explicit unconditional
    /// rule (rules shadowed by later ones are not counted).
    pub rules: usize,
    /// Known system calls allowed whatever their arguments.
    pub allowed_syscalls: usize,
    /// Known system calls whose outcome depends on their arguments.
    pub conditional_syscalls: usize,
    /// Length of the BPF program.
    pub instructions: usize,
    /// Action for known system calls no rule matches.
    pub default_action: Action,
    /// Action for system call numbers the table does not know.
    pub unknown_syscall_action: Action,
    /// The architecture the program accepts; every other one is killed.
    pub arch: Arch,
}

impl fmt::Display for Report {
    /// One line, for example `default profile, 312 rules (286 system calls
    /// allowed, 6 checked by argument, others errno(1))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} profile, {} rules ({} system calls allowed, {} checked by argument, others {})",
            self.profile,
            self.rules,
            self.allowed_syscalls,
            self.conditional_syscalls,
            self.default_action
        )
    }
}
