//! What can go wrong with a policy, named by the group it is about.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::access::{Abi, Feature};
#[cfg(doc)]
use super::policy::Policy;
use super::report::Unavailable;
use crate::fs::OpName;

/// Which group of a [`Policy`] an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Group {
    /// Filesystem rights and rules.
    Filesystem,
    /// Network rights and port rules.
    Network,
    /// IPC scopes.
    Scopes,
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Filesystem => "filesystem",
            Self::Network => "network",
            Self::Scopes => "scope",
        })
    }
}

/// Errors from checking, lowering or preparing a [`Policy`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An invalid rule of a sandbox's policy (found before anything asks
    /// the kernel).
    #[error("invalid Landlock rule for {path:?}: {reason}")]
    InvalidRule {
        /// The rule's path.
        path: PathBuf,
        /// Why it is invalid.
        reason: RuleProblem,
    },
    /// A filesystem operation that Landlock rules cannot stand in for
    /// without a mount namespace (see
    /// [`Sandbox::landlock_mirror_fs`](crate::Sandbox::landlock_mirror_fs)
    /// and [`Policy::from_fs_plan`]).
    #[error(
        "cannot mirror the {op} operation on {dest:?} with Landlock rules: without a mount namespace only the host system view, /proc, /dev and binds whose source is their destination can be mirrored"
    )]
    Mirror {
        /// The operation.
        op: OpName,
        /// Its destination.
        dest: PathBuf,
    },
    /// A hard requirement needs a feature the running kernel lacks.
    #[error(
        "failed to enforce the Landlock {group} rules: the kernel (Landlock ABI {kernel_abi}) lacks {feature}; upgrade the kernel or make the {group} rules best-effort"
    )]
    Unsupported {
        /// The group whose requirement failed.
        group: Group,
        /// The lowest-ABI feature the kernel lacks.
        feature: Feature,
        /// The running kernel's Landlock ABI version.
        kernel_abi: Abi,
    },
    /// A hard requirement, but the kernel has no usable Landlock.
    #[error("failed to enforce the Landlock {group} rules: {reason}")]
    Unavailable {
        /// The group whose requirement failed.
        group: Group,
        /// Why Landlock is unavailable.
        reason: Unavailable,
    },
    /// A rule path could not be opened.
    #[error("failed to open the Landlock rule path {path}")]
    RulePath {
        /// The rule's path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The kernel refused to create the ruleset.
    #[error("failed to create the Landlock ruleset")]
    CreateRuleset {
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The kernel refused a path rule.
    #[error("failed to add the Landlock rule for {path}")]
    AddPathRule {
        /// The rule's path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The kernel refused a port rule.
    #[error("failed to add the Landlock rule for port {port}")]
    AddPortRule {
        /// The rule's port.
        port: u16,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Why a Landlock rule of a sandbox's policy is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleProblem {
    /// Rule paths of a sandbox are resolved as the program sees them, from
    /// its root: they must be absolute.
    RelativePath,
    /// The path contains a NUL byte.
    NulByte,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RelativePath => "rule paths of a sandbox must be absolute",
            Self::NulByte => "it contains a NUL byte",
        })
    }
}
