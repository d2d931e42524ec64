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

use crate::error::{Error, SetupError, Stage};
use crate::namespaces::Namespaces;

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

impl Refusal {
    pub(crate) fn new(rung: Rung, e: &Error) -> Refusal {
        // Without the way out: this is the ladder.
        let mut reason = e.to_string().replace(crate::error::LADDER, "");
        let mut cur = std::error::Error::source(e);
        while let Some(c) = cur {
            reason.push_str(": ");
            reason.push_str(&c.to_string());
            cur = c.source();
        }
        Refusal { rung, reason }
    }
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

/// Whether the caller has `CAP_SYS_ADMIN` (capability 21) in its user namespace (read from
/// `/proc/self/status`), which the namespaces but the user one need.
pub(crate) fn caller_is_privileged() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|eff| eff & (1 << 21) != 0)
}

/// The policy of `rung`, derived from `cfg`; `None` where the rung does not
/// apply (it would drop nothing, or the caller lacks what it needs).
pub(crate) fn rung_config(
    cfg: &crate::config::Config,
    rung: Rung,
    privileged: bool,
) -> Option<crate::config::Config> {
    let mut c = cfg.clone();
    c.isolation = Isolation::Strict;
    let ns = cfg.namespaces;
    let has = |n: Namespaces| ns.contains(n);
    match rung {
        Rung::Namespaces => {}
        Rung::HostProc => {
            if !has(Namespaces::PID) || !cfg.fs.proc {
                return None;
            }
            c.namespaces.remove(Namespaces::PID);
            c.program_as_init = false;
        }
        Rung::NoUserNamespace | Rung::NoUserNamespaceHostProc => {
            if !has(Namespaces::USER) || !privileged {
                return None;
            }
            c.namespaces.remove(Namespaces::USER);
            without_user_namespace(&mut c);
            if rung == Rung::NoUserNamespaceHostProc {
                if !has(Namespaces::PID) || !cfg.fs.proc {
                    return None;
                }
                c.namespaces.remove(Namespaces::PID);
                c.program_as_init = false;
            }
        }
        Rung::Confinement => {
            if ns.is_empty() || !cfg!(feature = "landlock") {
                return None;
            }
            c.namespaces = Namespaces::empty();
            without_user_namespace(&mut c);
            c.program_as_init = false;
            c.hostname = None;
            c.mount_cgroup = false;
            if has(Namespaces::NET) {
                c.net_filter = true;
                c.egress = None;
            }
            #[cfg(feature = "landlock")]
            {
                c.landlock_mirror_fs = true;
            }
        }
    }
    Some(c)
}

/// What only a user namespace gives: ids chosen inside.
fn without_user_namespace(c: &mut crate::config::Config) {
    c.uid = None;
    c.gid = None;
    c.uid_ranges = crate::ids::Source::Single;
    c.gid_ranges = crate::ids::Source::Single;
}

/// Whether `e` is the host refusing what a rung asks for (a lower rung may
/// hold), rather than a fault of the policy or the program.
pub(crate) fn refused_by_host(e: &Error) -> bool {
    const REFUSALS: [i32; 7] = [
        libc::EPERM,
        libc::EACCES,
        libc::ENOSYS,
        libc::EINVAL,
        libc::ENOSPC,
        libc::EUSERS,
        libc::EROFS,
    ];
    let refusal = |err: &std::io::Error| err.raw_os_error().is_some_and(|n| REFUSALS.contains(&n));
    match e {
        Error::UserNamespaceDenied { .. } | Error::ProcMountDenied { .. } => true,
        Error::Unsupported(u) => u.feature == crate::error::Feature::MountApi,
        Error::Setup(SetupError { stage, source, .. }) => {
            refusal(source)
                && matches!(
                    stage,
                    Stage::SetGroups
                        | Stage::UidMap
                        | Stage::GidMap
                        | Stage::RootMount
                        | Stage::MountOp
                        | Stage::PivotRoot
                        | Stage::Hostname
                )
        }
        Error::Io { op, source } => *op == crate::error::ParentOp::Clone && refusal(source),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn each_rung_drops_only_what_it_says() {
        let cfg = Config::default();
        let all = cfg.namespaces;
        assert!(all.contains(Namespaces::USER | Namespaces::PID | Namespaces::NET));
        let top = rung_config(&cfg, Rung::Namespaces, false).unwrap();
        assert_eq!(top.namespaces, all);
        let host_proc = rung_config(&cfg, Rung::HostProc, false).unwrap();
        assert_eq!(host_proc.namespaces, all - Namespaces::PID);
        // Without privilege there is no rung without a user namespace.
        assert!(rung_config(&cfg, Rung::NoUserNamespace, false).is_none());
        assert!(rung_config(&cfg, Rung::NoUserNamespaceHostProc, false).is_none());
        let no_user = rung_config(&cfg, Rung::NoUserNamespace, true).unwrap();
        assert_eq!(no_user.namespaces, all - Namespaces::USER);
        let neither = rung_config(&cfg, Rung::NoUserNamespaceHostProc, true).unwrap();
        assert_eq!(neither.namespaces, all - Namespaces::USER - Namespaces::PID);
        #[cfg(feature = "landlock")]
        {
            let mut with_host = cfg.clone();
            with_host.hostname = Some("box".into());
            let c = rung_config(&with_host, Rung::Confinement, false).unwrap();
            assert!(c.namespaces.is_empty());
            // The network namespace's stand-in: sockets refused.
            assert!(c.net_filter);
            assert!(c.landlock_mirror_fs);
            assert_eq!(c.hostname, None);
            // The seccomp filter and limits stay.
            #[cfg(feature = "seccomp")]
            assert_eq!(c.seccomp, cfg.seccomp);
            assert_eq!(c.rlimits, cfg.rlimits);
        }
        // Every derived rung is strict: it does not step down again.
        assert_eq!(host_proc.isolation, Isolation::Strict);
    }

    #[test]
    fn a_rung_that_drops_nothing_is_skipped() {
        let cfg = Config {
            namespaces: Namespaces::empty(),
            ..Config::default()
        };
        for rung in &Rung::ALL[1..] {
            assert!(rung_config(&cfg, *rung, true).is_none(), "{rung:?}");
        }
    }
}
