//! The isolation ladder: what a sandbox may step down to where the host
//! refuses the namespaces its policy asks for (a Kubernetes pod's seccomp
//! profile, a container runtime's masked `/proc`, user namespaces turned
//! off), and the report of which rung held.
//!
//! By default ([`Isolation::Strict`]) a sandbox gets its policy exactly or
//! fails with an error naming the cause. With
//! [`Isolation::BestAvailable`] it tries, strongest first, each [`Rung`]
//! that applies to its policy, and runs on the first that the host allows;
//! [`Enforcement::isolation`](crate::Enforcement::isolation) says which rung
//! held and why each one above it did not. The choice is made on the first
//! spawn and kept for the sandbox's later spawns (a clone of the
//! [`Sandbox`](crate::Sandbox) shares it; a setter call forgets it).
//!
//! Every rung keeps the seccomp filter, the capabilities dropped,
//! `no_new_privs`, the cgroup limits, the rlimits and the Landlock rules of
//! the policy; what a lower rung gives up is listed on each variant.

use std::fmt;

/// What a sandbox does where the host refuses its namespaces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Isolation {
    /// The policy as given, or an error that names what refused it (the
    /// default).
    #[default]
    Strict,
    /// The strongest [`Rung`] the host allows, reported in
    /// [`Enforcement::isolation`](crate::Enforcement::isolation).
    BestAvailable,
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Isolation::Strict => "strict",
            Isolation::BestAvailable => "best available",
        })
    }
}

/// A rung of the isolation ladder, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Rung {
    /// Every namespace the policy asks for.
    Namespaces,
    /// Without the pid namespace: the sandbox's `/proc` is the caller's,
    /// bound read-only (it shows the caller's processes), for where the
    /// kernel refuses a fresh `/proc` (a container runtime's masked `/proc`
    /// paths make the caller's only partly visible, and the kernel then
    /// refuses a new instance to a user namespace).
    HostProc,
    /// Without the user namespace, for a caller privileged in its own
    /// (`CAP_SYS_ADMIN`): the program runs as the caller's ids, the other
    /// namespaces are kept.
    NoUserNamespace,
    /// Without the user and pid namespaces.
    NoUserNamespaceHostProc,
    /// No namespaces: Landlock rules mirroring the filesystem plan stand in
    /// for the mount namespace (the program sees only what the plan shows,
    /// at the same paths), sockets other than `AF_UNIX` are refused by
    /// seccomp and Landlock where the policy had a network namespace of its
    /// own (an egress policy's allowed names too), and the hostname stays
    /// the caller's.
    Confinement,
}

impl Rung {
    /// Every rung, strongest first.
    pub const ALL: [Rung; 5] = [
        Rung::Namespaces,
        Rung::HostProc,
        Rung::NoUserNamespace,
        Rung::NoUserNamespaceHostProc,
        Rung::Confinement,
    ];

    /// A short name: `namespaces`, `host_proc`, `no_user_namespace`,
    /// `no_user_namespace_host_proc`, `confinement`.
    pub fn name(self) -> &'static str {
        match self {
            Rung::Namespaces => "namespaces",
            Rung::HostProc => "host_proc",
            Rung::NoUserNamespace => "no_user_namespace",
            Rung::NoUserNamespaceHostProc => "no_user_namespace_host_proc",
            Rung::Confinement => "confinement",
        }
    }
}

impl fmt::Display for Rung {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rung::Namespaces => "every namespace asked for",
            Rung::HostProc => "without a pid namespace (the caller's /proc, read-only)",
            Rung::NoUserNamespace => "without a user namespace",
            Rung::NoUserNamespaceHostProc => {
                "without user and pid namespaces (the caller's /proc, read-only)"
            }
            Rung::Confinement => {
                "no namespaces (Landlock mirroring the filesystem plan, sockets refused, seccomp, \
                 limits)"
            }
        })
    }
}

/// A rung that did not hold, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Refusal {
    /// The rung.
    pub rung: Rung,
    /// The error it failed with, on one line.
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rung.name(), self.reason)
    }
}

/// Which rung of the ladder a sandbox runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Report {
    /// What the policy asked for.
    pub isolation: Isolation,
    /// The rung that held ([`Rung::Namespaces`] under
    /// [`Isolation::Strict`]).
    pub rung: Rung,
    /// The rungs above it that were tried and did not hold, strongest
    /// first.
    pub refused: Vec<Refusal>,
}

impl Default for Report {
    fn default() -> Report {
        Report {
            isolation: Isolation::Strict,
            rung: Rung::Namespaces,
            refused: Vec::new(),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "isolation: {} ({})", self.rung.name(), self.isolation)?;
        for r in &self.refused {
            write!(f, "; {r}")?;
        }
        Ok(())
    }
}
