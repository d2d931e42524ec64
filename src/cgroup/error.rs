//! Errors and the vocabulary they share with the report.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::kinds::{Controller, Field, LimitKind, Problem};

/// Why a cgroup controller or interface file cannot be used.
///
/// Used both in [`Error::Unsupported`] (hard requirement) and in the
/// report's skipped limits (best effort).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Unavailable {
    /// No cgroup v2 hierarchy is mounted (a pure cgroup v1 host).
    NoCgroup2,
    /// The controller is attached to a cgroup v1 hierarchy (a "hybrid" host),
    /// so cgroup v2 cannot use it.
    OnV1Hierarchy,
    /// The controller is not in the root cgroup's `cgroup.controllers`: the
    /// kernel was built without it or it was disabled at boot (`cgroup_disable=`).
    NotInKernel,
    /// The parent cgroup does not offer the controller (it is missing from the
    /// parent's `cgroup.controllers` because the grandparent does not enable it
    /// in its `cgroup.subtree_control`).
    NotEnabledInParent,
    /// The controller is offered to the parent but the caller may not enable it
    /// for the parent's children (`cgroup.subtree_control` is not writable: the
    /// parent was not delegated to the caller).
    NotDelegated,
    /// The parent contains processes, and a non-root cgroup that has processes
    /// cannot enable controllers for its children (cgroup v2's
    /// "no internal processes" rule).
    NoInternalProcesses,
    /// The controller is enabled but its interface file is missing: the kernel
    /// predates it or the feature is configured off (for example swap
    /// accounting for `memory.swap.max`).
    InterfaceMissing,
    /// The cgroup could not be created at all (see the error that best-effort
    /// mode swallowed; the hard-requirement mode reports it).
    NoCgroup,
}

impl Unavailable {
    /// Describes the reason in a lowercase phrase.
    fn describe(self) -> &'static str {
        match self {
            Unavailable::NoCgroup2 => "no cgroup v2 hierarchy is mounted",
            Unavailable::OnV1Hierarchy => {
                "it is attached to a cgroup v1 hierarchy (hybrid cgroup layout)"
            }
            Unavailable::NotInKernel => {
                "the kernel does not provide it (not built or disabled at boot)"
            }
            Unavailable::NotEnabledInParent => {
                "the parent cgroup does not offer it (its own parent does not enable it in cgroup.subtree_control)"
            }
            Unavailable::NotDelegated => {
                "the parent cgroup was not delegated to this user (cannot write its cgroup.subtree_control)"
            }
            Unavailable::NoInternalProcesses => {
                "the parent cgroup contains processes, so it cannot enable controllers for child cgroups"
            }
            Unavailable::InterfaceMissing => "the kernel does not provide its interface file",
            Unavailable::NoCgroup => "no cgroup could be created for the sandbox",
        }
    }

    /// Advice on how to get the controller, in a lowercase phrase.
    pub fn advice(self) -> &'static str {
        match self {
            Unavailable::NoCgroup2 | Unavailable::OnV1Hierarchy => {
                "run on a host with the unified cgroup v2 hierarchy (boot with \
                 systemd.unified_cgroup_hierarchy=1), then under a delegated cgroup (for example \
                 `systemd-run --user --scope -p Delegate=yes <program>`) or with cgroup::Config::parent set \
                 to a cgroup delegated to this user; or opt into best-effort limits, which fall \
                 back to per-process rlimits"
            }
            Unavailable::NotInKernel => "use a kernel with the controller enabled",
            Unavailable::NotEnabledInParent | Unavailable::NotDelegated => {
                "run the caller under a delegated cgroup (for example \
                 `systemd-run --user --scope -p Delegate=yes <program>`) or set cgroup::Config::parent \
                 to a cgroup delegated to this user"
            }
            Unavailable::NoInternalProcesses => {
                "move the calling process into a leaf child cgroup and use its former cgroup \
                 as cgroup::Config::parent, or set it to an empty delegated cgroup"
            }
            Unavailable::InterfaceMissing => "use a newer kernel or enable the feature",
            Unavailable::NoCgroup => "see the hard-requirement error for the cause",
        }
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The file-system operation that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoOp {
    /// Reading a file.
    Read,
    /// Writing a control file.
    Write,
    /// Creating a cgroup directory.
    Mkdir,
    /// Removing a cgroup directory.
    Rmdir,
    /// Opening a file or directory.
    Open,
    /// Listing a directory.
    List,
    /// Waiting for a change notification.
    Poll,
    /// Sending a signal.
    Signal,
    /// Handing a cgroup to the sandbox's user (changing owners).
    Chown,
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoOp::Read => "read",
            IoOp::Write => "write",
            IoOp::Mkdir => "create",
            IoOp::Rmdir => "remove",
            IoOp::Open => "open",
            IoOp::List => "list",
            IoOp::Poll => "wait for",
            IoOp::Signal => "signal a process in",
            IoOp::Chown => "hand over (change the owner of)",
        })
    }
}

/// A failure to set up, use or remove a sandbox's cgroup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range or malformed.
    #[error("invalid cgroup setting `{field}`: {problem}")]
    Invalid {
        /// The offending field.
        field: Field,
        /// What is wrong with it.
        problem: Problem,
    },

    /// A requested limit needs a controller that cannot be used here.
    #[error(
        "failed to use the {controller} cgroup controller under {}: {reason}; to fix: {}",
        parent.display(),
        reason.advice()
    )]
    Unsupported {
        /// The controller the limit needs.
        controller: Controller,
        /// The parent cgroup the sandbox's cgroup would be created in.
        parent: PathBuf,
        /// Why it cannot be used.
        reason: Unavailable,
    },

    /// A limit's interface file is missing although its controller is enabled.
    #[error(
        "failed to apply {}: the kernel does not provide it under {}; to fix: {}",
        limit.file(),
        path.display(),
        Unavailable::InterfaceMissing.advice()
    )]
    InterfaceMissing {
        /// The limit that could not be applied.
        limit: LimitKind,
        /// The sandbox's cgroup.
        path: PathBuf,
    },

    /// No cgroup v2 hierarchy is mounted at all.
    #[error(
        "failed to find a cgroup v2 hierarchy in /proc/self/mountinfo; to fix: {}",
        Unavailable::NoCgroup2.advice()
    )]
    NoCgroup2,

    /// The calling process's cgroup v2 path is not visible through any cgroup2
    /// mount (for example it lies outside the caller's cgroup namespace).
    #[error(
        "failed to locate the calling process's cgroup {} under a cgroup2 mount (it lies outside \
         this process's cgroup namespace, or no cgroup2 mount shows it); to fix: run the caller \
         in a cgroup that its cgroup2 mount shows",
        own.display()
    )]
    OwnCgroupNotVisible {
        /// The path from the `0::` line of /proc/self/cgroup.
        own: PathBuf,
    },

    /// `/proc/self/cgroup` or `/proc/self/mountinfo` could not be understood.
    #[error("failed to parse {} (line {line})", path.display())]
    Malformed {
        /// The file that could not be parsed.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
    },

    /// The requested parent is not a directory of a cgroup v2 file system.
    #[error("failed to use {} as cgroup parent: it is not a cgroup v2 directory", path.display())]
    NotCgroup2 {
        /// The parent given in [`Config::parent`](super::Config::parent).
        path: PathBuf,
    },

    /// The caller may not create cgroups under the parent.
    #[error(
        "failed to create a cgroup under {}: it is not delegated to this user; to fix: {}",
        parent.display(),
        Unavailable::NotDelegated.advice()
    )]
    NotDelegated {
        /// The parent cgroup.
        parent: PathBuf,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },

    /// The caller could create the cgroup but could not move a process into it:
    /// moving needs write access to `cgroup.procs` of the common ancestor of the
    /// caller's cgroup and the target.
    #[error(
        "failed to use {} as cgroup parent: moving processes there from {} needs write access to \
         {}/cgroup.procs; to fix: run the caller inside the delegated subtree or choose a parent \
         next to the caller's cgroup",
        parent.display(),
        own.display(),
        common_ancestor.display()
    )]
    CannotMigrate {
        /// The parent cgroup.
        parent: PathBuf,
        /// The caller's own cgroup.
        own: PathBuf,
        /// Their closest common ancestor.
        common_ancestor: PathBuf,
    },

    /// The parent holds processes, so it cannot enable controllers for children.
    #[error(
        "failed to enable the {controller} controller in {}: {}; to fix: {}",
        parent.display(),
        Unavailable::NoInternalProcesses,
        Unavailable::NoInternalProcesses.advice()
    )]
    NoInternalProcesses {
        /// The parent cgroup.
        parent: PathBuf,
        /// The first controller that could not be enabled.
        controller: Controller,
    },

    /// The kernel refused to create another cgroup (`cgroup.max.descendants`
    /// or `cgroup.max.depth` reached).
    #[error(
        "failed to create a cgroup under {}: too many cgroups (the cgroup.max.descendants or \
         cgroup.max.depth of it or an ancestor is reached)",
        parent.display()
    )]
    TooManyCgroups {
        /// The parent cgroup.
        parent: PathBuf,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },

    /// The kernel rejected a limit value.
    #[error("failed to set {} in {}", limit.file(), path.display())]
    LimitRejected {
        /// The limit.
        limit: LimitKind,
        /// The sandbox's cgroup.
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },

    /// The cgroup still had processes when the wait ended.
    #[error("failed to empty cgroup {} within {waited:?}", path.display())]
    StillPopulated {
        /// The sandbox's cgroup.
        path: PathBuf,
        /// How long it waited.
        waited: Duration,
    },

    /// Any other file-system operation on cgroupfs or procfs failed.
    #[error("failed to {op} {}", path.display())]
    Io {
        /// What was being done.
        op: IoOp,
        /// The file or directory.
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(op: IoOp, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The reason to record in a best-effort report when this error is skipped.
    pub(crate) fn as_unavailable(&self) -> Unavailable {
        match self {
            Error::Unsupported { reason, .. } => *reason,
            Error::InterfaceMissing { .. } => Unavailable::InterfaceMissing,
            Error::NoCgroup2 => Unavailable::NoCgroup2,
            Error::NotDelegated { .. } | Error::CannotMigrate { .. } => Unavailable::NotDelegated,
            Error::NoInternalProcesses { .. } => Unavailable::NoInternalProcesses,
            _ => Unavailable::NoCgroup,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::tests::{assert_actionable, os};

    /// Which variant `e` is; a new variant must be named here and sampled
    /// below.
    fn variant(e: &Error) -> &'static str {
        match e {
            Error::Invalid { .. } => "Invalid",
            Error::Unsupported { .. } => "Unsupported",
            Error::InterfaceMissing { .. } => "InterfaceMissing",
            Error::NoCgroup2 => "NoCgroup2",
            Error::OwnCgroupNotVisible { .. } => "OwnCgroupNotVisible",
            Error::Malformed { .. } => "Malformed",
            Error::NotCgroup2 { .. } => "NotCgroup2",
            Error::NotDelegated { .. } => "NotDelegated",
            Error::CannotMigrate { .. } => "CannotMigrate",
            Error::NoInternalProcesses { .. } => "NoInternalProcesses",
            Error::TooManyCgroups { .. } => "TooManyCgroups",
            Error::LimitRejected { .. } => "LimitRejected",
            Error::StillPopulated { .. } => "StillPopulated",
            Error::Io { .. } => "Io",
        }
    }

    #[test]
    fn every_error_says_what_is_wrong_in_one_line() {
        let samples: Vec<(Error, Vec<&str>)> = vec![
            (
                Error::Invalid {
                    field: Field::Cpus,
                    problem: Problem::ExceedsOnlineCpus { online: 4 },
                },
                vec!["`cpus`", "4 online CPUs"],
            ),
            (
                Error::Unsupported {
                    controller: Controller::Io,
                    parent: "/sys/fs/cgroup/user.slice".into(),
                    reason: Unavailable::OnV1Hierarchy,
                },
                vec!["io", "/sys/fs/cgroup/user.slice", "cgroup v1", "to fix"],
            ),
            (
                Error::InterfaceMissing {
                    limit: LimitKind::MemorySwapMax,
                    path: "/sys/fs/cgroup/box".into(),
                },
                vec!["memory.swap.max", "/sys/fs/cgroup/box", "to fix"],
            ),
            (
                Error::NoCgroup2,
                vec!["cgroup v2", "systemd.unified_cgroup_hierarchy=1"],
            ),
            (
                Error::OwnCgroupNotVisible {
                    own: "/../outside".into(),
                },
                vec!["/../outside", "to fix"],
            ),
            (
                Error::Malformed {
                    path: "/proc/self/mountinfo".into(),
                    line: 12,
                },
                vec!["/proc/self/mountinfo", "line 12"],
            ),
            (
                Error::NotCgroup2 {
                    path: "/tmp".into(),
                },
                vec!["/tmp", "not a cgroup v2 directory"],
            ),
            (
                Error::NotDelegated {
                    parent: "/sys/fs/cgroup/system.slice".into(),
                    source: os(libc::EACCES),
                },
                vec!["/sys/fs/cgroup/system.slice", "Delegate=yes"],
            ),
            (
                Error::CannotMigrate {
                    parent: "/sys/fs/cgroup/a/p".into(),
                    own: "/sys/fs/cgroup/b/me".into(),
                    common_ancestor: "/sys/fs/cgroup".into(),
                },
                vec![
                    "/sys/fs/cgroup/a/p",
                    "/sys/fs/cgroup/b/me",
                    "/sys/fs/cgroup/cgroup.procs",
                ],
            ),
            (
                Error::NoInternalProcesses {
                    parent: "/sys/fs/cgroup/app".into(),
                    controller: Controller::Cpu,
                },
                vec!["cpu", "/sys/fs/cgroup/app", "leaf"],
            ),
            (
                Error::TooManyCgroups {
                    parent: "/sys/fs/cgroup/app".into(),
                    source: os(libc::EAGAIN),
                },
                vec!["/sys/fs/cgroup/app", "cgroup.max.descendants"],
            ),
            (
                Error::LimitRejected {
                    limit: LimitKind::CpuMax,
                    path: "/sys/fs/cgroup/box".into(),
                    source: os(libc::EINVAL),
                },
                vec!["cpu.max", "/sys/fs/cgroup/box"],
            ),
            (
                Error::StillPopulated {
                    path: "/sys/fs/cgroup/box".into(),
                    waited: Duration::from_millis(250),
                },
                vec!["/sys/fs/cgroup/box", "250ms"],
            ),
            (
                Error::io(IoOp::Mkdir, "/sys/fs/cgroup/box", os(libc::EEXIST)),
                vec!["create", "/sys/fs/cgroup/box"],
            ),
        ];
        for (e, items) in &samples {
            assert_actionable(e, items);
            assert!(e.to_string().starts_with("failed to ") || variant(e) == "Invalid");
        }
        let seen: std::collections::BTreeSet<_> = samples.iter().map(|(e, _)| variant(e)).collect();
        assert_eq!(seen.len(), 14, "a variant has no sample");
    }
}
