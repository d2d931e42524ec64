//! [`Enforcement`]: what a sandbox actually enforced, gathered from the
//! reports of every feature it uses.

use std::fmt;

use crate::namespaces::{IdMapping, Namespaces};

/// What `RLIMIT_NPROC`, set in place of a pids limit the cgroup could not
/// apply, counts: the kernel refuses a `fork` or `clone` once the processes
/// and threads it counts exceed the limit (`copy_process` in the kernel's
/// `kernel/fork.c`). It counts them by real uid and, since Linux 5.14, by
/// user namespace (`kernel/ucount.c`; a process counts in its own user
/// namespace and in each one above it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum NprocScope {
    /// The processes and threads of the sandbox's own user namespace: every
    /// one of the sandbox's, its supervisor included, and no other (the
    /// sandbox has a user namespace of its own, on Linux 5.14 or later).
    Sandbox,
    /// Every process and thread of host uid `uid`, in the sandbox or not
    /// (the sandbox has no user namespace, or the kernel is older than
    /// 5.14): the user's other processes use up the limit too.
    HostUser {
        /// The program's real uid on the host.
        uid: u32,
    },
}

impl fmt::Display for NprocScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NprocScope::Sandbox => f.write_str("the sandbox's processes"),
            NprocScope::HostUser { uid } => write!(f, "every process of host uid {uid}"),
        }
    }
}

/// What a sandbox actually enforced, carried by every [`Child`](crate::Child).
///
/// Requested features that could not be enforced make the spawn fail (unless
/// the caller chose best-effort); this report says what did take effect, so
/// callers can log it, assert on it, or show it to users.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Enforcement {
    /// Namespaces the sandbox runs in.
    pub namespaces: Namespaces,
    /// The rung of the isolation ladder the sandbox runs on, and why the
    /// ones above it did not hold (see [`crate::isolation`]).
    pub isolation: crate::isolation::Report,
    /// The uid inside and the id it maps to outside (`None`: unchanged).
    pub uid: Option<IdMapping>,
    /// The gid inside and the id it maps to outside (`None`: unchanged).
    pub gid: Option<IdMapping>,
    /// The uid map in force when the policy maps ranges of uids
    /// ([`Sandbox::uid_ranges`](crate::Sandbox::uid_ranges),
    /// [`Sandbox::subordinate_ids`](crate::Sandbox::subordinate_ids)),
    /// every line of it (a kind the policy gives no ranges keeps its single
    /// id, and that is its one line); empty without ranges, where
    /// [`uid`](Self::uid) says it all.
    pub uid_ranges: Vec<crate::ids::IdRange>,
    /// The gid map in force when the policy maps ranges, as
    /// [`uid_ranges`](Self::uid_ranges). With ranges of gids,
    /// `setgroups(2)` is allowed in the sandbox.
    pub gid_ranges: Vec<crate::ids::IdRange>,
    /// Whether the sandbox has its own root filesystem.
    pub filesystem: bool,
    /// Whether that root filesystem started as a copy of the policy's
    /// template (its static part, built once per policy) rather than being
    /// built whole for this sandbox. Either way it is the same filesystem.
    pub filesystem_template: bool,
    /// Whether the host's system directories in the default view are
    /// idmapped mounts on which every file belongs to `nobody`, so that a
    /// root caller's program reads there only what others may, whatever
    /// capability it keeps (Linux 5.12, a filesystem that supports idmapped
    /// mounts, `CAP_SYS_ADMIN` in the initial user namespace). `false` for
    /// an unprivileged caller, which needs none; for a root caller where
    /// they cannot be made, only the entries of `/etc` that others may not
    /// read are masked (see the threat model).
    pub system_view_idmapped: bool,
    /// The sandbox's cgroup and the limits in force there; `None` when the
    /// policy asks for no cgroup. In best-effort mode its `skipped` list
    /// names the limits that are not enforced, and its `path` is `None` when
    /// no cgroup could be made at all.
    pub cgroup: Option<crate::cgroup::Report>,
    /// Per-process rlimits set in place of cgroup limits that could not be
    /// applied (only with [`cgroup::Config::compat`](crate::cgroup::Config::compat)
    /// set to best-effort): `as` for the memory limit, `nproc` for the pids
    /// limit. `nproc` is set only where the kernel applies it, and
    /// [`nproc_scope`](Self::nproc_scope) then says what it counts; where it
    /// would not apply (the program's real uid is 0 on the host: a root
    /// caller's program, mapped 1:1 in a user namespace or without one; or,
    /// without a user namespace, it keeps `CAP_SYS_RESOURCE` or
    /// `CAP_SYS_ADMIN`), the pids limit is simply not enforced, as
    /// [`cgroup`](Self::cgroup)'s `skipped` list says.
    pub rlimit_fallbacks: Vec<crate::rlimit::Rlimit>,
    /// What the `nproc` fallback counts, when it is in
    /// [`rlimit_fallbacks`](Self::rlimit_fallbacks).
    pub nproc_scope: Option<NprocScope>,
    /// What the Landlock ruleset enforces (`None`: no Landlock policy).
    #[cfg(feature = "landlock")]
    pub landlock: Option<crate::landlock::Report>,
    /// Whether Landlock rules mirroring the filesystem plan were requested
    /// ([`Sandbox::landlock_mirror_fs`](crate::Sandbox::landlock_mirror_fs));
    /// without a private root filesystem they are what confines the
    /// program's view of the host's, as far as
    /// [`landlock`](Self::landlock) says they are enforced.
    #[cfg(feature = "landlock")]
    pub landlock_mirrors_fs: bool,
    /// What the seccomp filter enforces: the profile (`default` or
    /// `custom`), the rule count and the actions (`None`: no filter, see
    /// [`Sandbox::seccomp`](crate::Sandbox::seccomp) with `None`).
    #[cfg(feature = "seccomp")]
    pub seccomp: Option<crate::seccomp::Report>,
    /// How many caller-made BPF programs are installed after the filter
    /// ([`Sandbox::seccomp_program`](crate::Sandbox::seccomp_program)).
    #[cfg(feature = "seccomp")]
    pub seccomp_programs: usize,
    /// Networking is denied by the seccomp filter and Landlock's abstract
    /// unix socket scope rather than by a network namespace
    /// ([`Network::Blocked`](crate::Network::Blocked)).
    pub net_filter: bool,
    /// The network is filtered by an egress policy
    /// ([`Sandbox::egress`](crate::Sandbox::egress)): a network namespace
    /// of its own whose only way out is the caller's proxy.
    pub egress: bool,
}

impl fmt::Display for Enforcement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns: Vec<&str> = self.namespaces.names().collect();
        write!(
            f,
            "namespaces: {}",
            if ns.is_empty() {
                "none".to_owned()
            } else {
                ns.join(",")
            }
        )?;
        if self.isolation != crate::isolation::Report::default() {
            write!(f, "; {}", self.isolation)?;
        }
        if self.net_filter {
            #[cfg(feature = "landlock")]
            let scoped = self.landlock.as_ref().is_some_and(|l| {
                l.scope_abstract_unix_socket == crate::landlock::Status::FullyEnforced
            });
            #[cfg(not(feature = "landlock"))]
            let scoped = false;
            write!(
                f,
                "; network: blocked (seccomp: sockets other than AF_UNIX denied; {})",
                if scoped {
                    "Landlock: host abstract unix sockets unreachable"
                } else {
                    "not enforced: host abstract unix sockets reachable"
                }
            )?;
        }
        if self.egress {
            f.write_str("; network: filtered (own namespace; the egress policy's proxy is its only way out)")?;
        }
        if let Some(u) = self.uid {
            write!(f, "; uid {} -> {}", u.inside, u.outside)?;
        }
        if let Some(g) = self.gid {
            write!(f, "; gid {} -> {}", g.inside, g.outside)?;
        }
        for (kind, ranges) in [("uid", &self.uid_ranges), ("gid", &self.gid_ranges)] {
            if !ranges.is_empty() {
                let r: Vec<String> = ranges.iter().map(ToString::to_string).collect();
                write!(f, "; {kind} map {}", r.join(","))?;
            }
        }
        write!(
            f,
            "; filesystem: {}",
            if self.filesystem {
                "private root"
            } else {
                "host"
            }
        )?;
        if self.system_view_idmapped {
            f.write_str(", system directories idmapped (owned by nobody)")?;
        }
        // Right after "filesystem:", which it qualifies.
        #[cfg(feature = "landlock")]
        if self.landlock_mirrors_fs {
            use crate::landlock::Status as E;
            let enforced = self
                .landlock
                .as_ref()
                .is_some_and(|l| matches!(l.fs_read, E::FullyEnforced | E::PartiallyEnforced));
            let by = match (enforced, self.filesystem) {
                (true, true) => "backed by",
                (true, false) => "confined by",
                (false, _) => "not enforced:",
            };
            write!(f, ", {by} Landlock rules mirroring the mount plan")?;
        }
        if let Some(cg) = &self.cgroup {
            match &cg.path {
                Some(p) => write!(f, "; cgroup: {}", p.display())?,
                None => f.write_str("; cgroup: none")?,
            }
            let applied: Vec<&str> = cg.applied.iter().map(|a| a.kind.file()).collect();
            if !applied.is_empty() {
                write!(f, " ({})", applied.join(","))?;
            }
            let skipped: Vec<&str> = cg
                .skipped
                .iter()
                .filter(|s| s.requested)
                .map(|s| s.kind.file())
                .collect();
            if !skipped.is_empty() {
                write!(f, "; not enforced: {}", skipped.join(","))?;
            }
        }
        if !self.rlimit_fallbacks.is_empty() {
            let names: Vec<&str> = self.rlimit_fallbacks.iter().map(|r| r.name()).collect();
            write!(f, "; rlimit fallbacks: {}", names.join(","))?;
            if let Some(scope) = self.nproc_scope {
                write!(f, " (nproc counts {scope})")?;
            }
        }
        #[cfg(feature = "seccomp")]
        match &self.seccomp {
            Some(s) => write!(f, "; seccomp: {s}")?,
            None => f.write_str("; seccomp: none")?,
        }
        #[cfg(feature = "seccomp")]
        if self.seccomp_programs > 0 {
            write!(f, " + {} caller BPF program(s)", self.seccomp_programs)?;
        }
        // Last: its list of rights is the longest part.
        #[cfg(feature = "landlock")]
        if let Some(l) = &self.landlock {
            write!(f, "; landlock: {l}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rlimit::Rlimit;

    #[test]
    fn the_report_says_what_nproc_counts() {
        let mut e = Enforcement {
            namespaces: Namespaces::USER,
            isolation: crate::isolation::Report::default(),
            uid: None,
            gid: None,
            uid_ranges: Vec::new(),
            gid_ranges: Vec::new(),
            filesystem: false,
            filesystem_template: false,
            system_view_idmapped: false,
            cgroup: None,
            rlimit_fallbacks: vec![Rlimit::As, Rlimit::Nproc],
            nproc_scope: Some(NprocScope::Sandbox),
            #[cfg(feature = "landlock")]
            landlock: None,
            #[cfg(feature = "landlock")]
            landlock_mirrors_fs: false,
            #[cfg(feature = "seccomp")]
            seccomp: None,
            #[cfg(feature = "seccomp")]
            seccomp_programs: 0,
            net_filter: false,
            egress: false,
        };
        let text = e.to_string();
        assert!(
            text.contains("; rlimit fallbacks: as,nproc (nproc counts the sandbox's processes)"),
            "{text}"
        );
        e.nproc_scope = Some(NprocScope::HostUser { uid: 1000 });
        let text = e.to_string();
        assert!(
            text.contains("(nproc counts every process of host uid 1000)"),
            "{text}"
        );
        e.rlimit_fallbacks = vec![Rlimit::As];
        e.nproc_scope = None;
        let text = e.to_string();
        assert!(text.contains("; rlimit fallbacks: as;"), "{text}");
    }
}
