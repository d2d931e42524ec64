//! What a compiled policy enforces, for the enforcement report.

use std::fmt;

use super::rule::SeccompAction;

/// Whether a policy is the default profile or was customised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum SeccompProfile {
    /// Exactly [`SeccompPolicy::default_profile`](super::SeccompPolicy::default_profile).
    Default,
    /// Anything else.
    Custom,
}

impl fmt::Display for SeccompProfile {
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
pub enum SeccompArch {
    /// x86_64 (the filter kills i386 and x32 system calls).
    #[cfg_attr(feature = "serde", serde(rename = "x86_64"))]
    X86_64,
    /// aarch64 (the filter kills aarch32 system calls).
    #[cfg_attr(feature = "serde", serde(rename = "aarch64"))]
    Aarch64,
}

impl SeccompArch {
    /// The architecture this crate was compiled for.
    pub const NATIVE: Self = if cfg!(target_arch = "x86_64") {
        Self::X86_64
    } else {
        Self::Aarch64
    };
}

impl fmt::Display for SeccompArch {
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
pub struct SeccompReport {
    /// Whether the policy is the default profile.
    pub profile: SeccompProfile,
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
    pub default_action: SeccompAction,
    /// Action for system call numbers the table does not know.
    pub unknown_syscall_action: SeccompAction,
    /// The architecture the program accepts; every other one is killed.
    pub arch: SeccompArch,
}

impl fmt::Display for SeccompReport {
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
