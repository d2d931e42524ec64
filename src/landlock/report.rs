//! What a prepared policy enforces: the report and its parts.

use std::fmt;
use std::path::PathBuf;

#[cfg(doc)]
use super::access::FsAccess;
use super::access::{Abi, Feature};

/// How much of a group of rights took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Status {
    /// Every requested right is enforced.
    FullyEnforced,
    /// Some requested rights are enforced, others are missing from the
    /// kernel.
    PartiallyEnforced,
    /// Requested, but nothing of it is enforced.
    NotEnforced,
    /// The policy does not ask for it.
    NotRequested,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FullyEnforced => "fully enforced",
            Self::PartiallyEnforced => "partially enforced",
            Self::NotEnforced => "not enforced",
            Self::NotRequested => "not requested",
        })
    }
}

/// Why Landlock is not available at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Unavailable {
    /// The kernel has Landlock but it is not enabled (`EOPNOTSUPP`): add
    /// `landlock` to the `lsm=` kernel boot parameter.
    NotEnabled,
    /// The system call does not exist (`ENOSYS`): the kernel is older than
    /// 5.13 or built without `CONFIG_SECURITY_LANDLOCK`, or a seccomp filter
    /// (such as a container runtime's default profile) blocks it.
    NotImplemented,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotEnabled => {
                "Landlock is built into the kernel but not enabled (add landlock to the lsm= boot parameter)"
            }
            Self::NotImplemented => {
                "the kernel has no Landlock system calls (Linux older than 5.13, built without CONFIG_SECURITY_LANDLOCK, or blocked by a seccomp filter)"
            }
        })
    }
}

/// Something the report wants the caller to know that is not a missing
/// right.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Note {
    /// A rule path could not be opened and the rule was left out (best-effort
    /// only). The path stays inaccessible.
    SkippedPath {
        /// The rule's path.
        path: PathBuf,
        /// The error number `open(2)` returned.
        errno: i32,
    },
    /// The kernel has Landlock ABI 1, which always denies linking or
    /// renaming a file into another directory; [`FsAccess::REFER`] cannot be
    /// granted. This is stricter than requested, never weaker.
    ReferAlwaysDenied,
}

/// What a prepared Landlock policy enforces on the running kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Report {
    /// The kernel's Landlock ABI version; `None` when Landlock is
    /// unavailable. A kernel newer than this crate shows as
    /// [`Abi::NEWEST`]: the rights this crate can ask for are those
    /// of that version. (Serialized as the version's number, or `null`.)
    pub abi: Option<Abi>,
    /// Why Landlock is unavailable, when `abi` is `None`.
    pub unavailable: Option<Unavailable>,
    /// Overall status: fully enforced only if every requested right is.
    pub status: Status,
    /// Reading files and listing directories.
    pub fs_read: Status,
    /// Writing, creating, removing, renaming and linking.
    pub fs_write: Status,
    /// Executing files.
    pub fs_exec: Status,
    /// Truncating files (Linux 6.2).
    pub fs_truncate: Status,
    /// Device ioctls (Linux 6.10).
    pub fs_ioctl_dev: Status,
    /// Connecting to pathname unix sockets (Linux 7.1).
    pub fs_resolve_unix: Status,
    /// TCP (Linux 6.7) and UDP (Linux 7.2) bind.
    pub net_bind: Status,
    /// TCP connect (Linux 6.7) and UDP connect/send (Linux 7.2).
    pub net_connect: Status,
    /// The abstract unix socket scope (Linux 6.12).
    pub scope_abstract_unix_socket: Status,
    /// The signal scope (Linux 6.12).
    pub scope_signal: Status,
    /// Requested features the kernel lacks (best-effort groups only),
    /// lowest ABI first.
    pub missing: Vec<Feature>,
    /// Everything else worth knowing.
    pub notes: Vec<Note>,
}

impl Report {
    /// Each right (or group of rights) with its status, in report order.
    pub fn rights(&self) -> [(&'static str, Status); 10] {
        [
            ("fs_read", self.fs_read),
            ("fs_write", self.fs_write),
            ("fs_exec", self.fs_exec),
            ("fs_truncate", self.fs_truncate),
            ("fs_ioctl_dev", self.fs_ioctl_dev),
            ("fs_resolve_unix", self.fs_resolve_unix),
            ("net_bind", self.net_bind),
            ("net_connect", self.net_connect),
            (
                "scope_abstract_unix_socket",
                self.scope_abstract_unix_socket,
            ),
            ("scope_signal", self.scope_signal),
        ]
    }
}

/// One line: the ABI, the overall status, each requested right's status,
/// what is missing.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.unavailable, self.abi) {
            (Some(reason), _) => write!(f, "unavailable ({reason}); {}", self.status)?,
            (None, Some(abi)) => write!(f, "ABI {abi}, {}", self.status)?,
            (None, None) => write!(f, "ABI 0, {}", self.status)?,
        }
        let mut first = true;
        for (name, status) in self.rights() {
            if status == Status::NotRequested {
                continue;
            }
            f.write_str(if first { " (" } else { ", " })?;
            first = false;
            write!(f, "{name}: {status}")?;
        }
        if !first {
            f.write_str(")")?;
        }
        for (i, m) in self.missing.iter().enumerate() {
            f.write_str(if i == 0 { "; missing: " } else { ", " })?;
            write!(f, "{m}")?;
        }
        Ok(())
    }
}
