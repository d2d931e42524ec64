//! One spawn's lowering: the per-spawn parts joined with the compiled
//! policy into the zone's plan, and the enforcement report.

use super::channel::Channel;
use super::ids::Identity;
use crate::cgroup::Preparation;
use crate::compile::{Compiled, RlimitFallback};
use crate::config::Config;
use crate::enforcement::{Enforcement, NprocScope};
use crate::namespaces::Namespaces;
use crate::rlimit::Rlimit;
use crate::zone::launch::Launched;
use crate::zone::plan::{ChildPlan, ExecPlan, FdPlan, IdMaps, Shared};

/// What this spawn contributes to its plan.
pub(super) struct Parts<'s> {
    pub(super) identity: &'s Identity,
    /// The id maps, moved out of `identity`.
    pub(super) id_maps: Option<IdMaps>,
    pub(super) exec: ExecPlan,
    /// The working directory and whether it is required.
    pub(super) cwd: (Option<std::ffi::CString>, bool),
    pub(super) fds: FdPlan,
    pub(super) channel: &'s Channel,
    pub(super) cgroup: &'s Preparation,
    pub(super) use_clone3: bool,
    /// A container: set up, and serve exec requests.
    pub(super) container: bool,
    /// A container whose init is the spawn's program: pid 1 of its pid
    /// namespace, the supervisor one namespace up.
    pub(super) container_init: bool,
    /// The init's terminal is also the container's `/dev/console`.
    pub(super) console: bool,
    /// The caller's `/proc`, when the program's namespace ids are recorded
    /// (-1: not).
    pub(super) proc_fd: i32,
}

/// The rlimits standing in for cgroup limits that this spawn's cgroup
/// could not apply (best-effort limits only); `nproc` only where it binds
/// the program, which `nproc` says (see [`crate::compile::nproc_scope`]).
fn fallbacks<'c>(
    compiled: &'c Compiled,
    cgroup: &Preparation,
    nproc: Option<NprocScope>,
) -> impl Iterator<Item = &'c RlimitFallback> {
    let report = cgroup.report.as_ref();
    compiled.rlimit_fallbacks.iter().filter(move |f| {
        report.is_some_and(|r| r.skipped.iter().any(|s| s.kind == f.kind && s.requested))
            && (f.rlimit != Rlimit::Nproc || nproc.is_some())
    })
}

/// What `RLIMIT_NPROC` would count for this spawn's program (`None`: it
/// would not bind it). Asked only when the policy has an `nproc` fallback.
fn nproc(cfg: &Config, compiled: &Compiled, identity: &Identity) -> Option<NprocScope> {
    if !compiled
        .rlimit_fallbacks
        .iter()
        .any(|f| f.rlimit == Rlimit::Nproc)
    {
        return None;
    }
    // The program's real uid: the one a root caller switches it to, or
    // the caller's (a user namespace's map does not change it).
    let host_uid = match (&identity.ranges, identity.set_ids) {
        // Ranges: the outside uid its uid inside maps to.
        (Some(r), Some((uid, _))) => r.uid.to_outside(uid).unwrap_or(uid),
        (_, set) => set.map_or_else(|| nix::unistd::getuid().as_raw(), |(uid, _)| uid),
    };
    crate::compile::nproc_scope(cfg.namespaces, host_uid, &compiled.caps)
}

/// The zone's plan: per-policy parts borrowed from `compiled`, per-spawn
/// parts moved in.
pub(super) fn plan<'c>(
    cfg: &Config,
    compiled: &'c Compiled,
    parts: Parts<'_>,
    shared: &'c Shared,
) -> ChildPlan<'c> {
    let ns = cfg.namespaces;
    let as_init = (cfg.program_as_init && !parts.container) || parts.container_init;
    let placement = parts
        .cgroup
        .cgroup
        .as_ref()
        .map(|c| c.placement(parts.use_clone3));
    ChildPlan {
        report_fd: parts.channel.child_fd(),
        lifeline_fd: parts.channel.lifeline_fd(),
        caller_pidfd: parts.channel.caller_pidfd(),
        net: compiled.net.as_ref().map(|n| crate::zone::plan::NetPlan {
            fd: parts.channel.net_child_fd(),
            loopback_alias: n.loopback_alias,
            sockets: &n.sockets,
        }),
        // A program that is pid 1 makes the pid namespace itself.
        namespace_flags: if as_init {
            ns.supervisor_clone_flags() & !(libc::CLONE_NEWPID as u64)
        } else {
            ns.supervisor_clone_flags()
        },
        pid_ns: ns.contains(Namespaces::PID) && !as_init,
        id_maps: parts.id_maps,
        await_maps: parts.identity.ranges.is_some(),
        hostname: compiled.hostname.as_deref(),
        mounts: compiled.mounts.as_ref(),
        root_caller: parts.identity.root_caller,
        system_trees: std::cell::Cell::new([-1; crate::fs::SYSTEM_SLOTS]),
        helper: Default::default(),
        use_clone3: parts.use_clone3,
        program_stack: Default::default(),
        cgroup_fd: placement.map_or(-1, |p| p.clone_into),
        cgroup_kill_fd: placement.map_or(-1, |p| p.kill),
        timeout_ns: compiled.timeout_ns,
        container: parts.container,
        joins_container: false,
        program_is_init: as_init,
        console: parts.console,
        shared,
        proc_fd: parts.proc_fd,
        cgroup_procs_fd: placement.map_or(-1, |p| p.procs),
        new_cgroup_ns: ns.contains(Namespaces::CGROUP),
        mount_cgroup: cfg.mount_cgroup,
        mount_cgroup_read_only: cfg.mount_cgroup_read_only,
        new_time_ns: ns.contains(Namespaces::TIME),
        set_ids: parts.identity.set_ids,
        keep_groups: parts.identity.keep_groups,
        cwd: parts.cwd.0,
        cwd_in_root: ns.contains(Namespaces::MOUNT),
        cwd_required: parts.cwd.1,
        fds: parts.fds,
        rlimits: &compiled.rlimits,
        fallback_rlimits: fallbacks(compiled, parts.cgroup, nproc(cfg, compiled, parts.identity))
            .map(|f| (f.rlimit.resource(), f.value))
            .collect(),
        caps: &compiled.caps,
        #[cfg(feature = "landlock")]
        landlock: compiled.landlock.as_ref().and_then(|l| l.rules()),
        #[cfg(feature = "seccomp")]
        seccomp: compiled.seccomp.as_ref(),
        #[cfg(feature = "seccomp")]
        seccomp_programs: &compiled.seccomp_programs,
        exec: parts.exec,
    }
}

/// What the sandbox enforces, once its supervisor has reported `Running`.
pub(super) fn enforcement(
    cfg: &Config,
    compiled: &Compiled,
    identity: &Identity,
    cgroup: &Preparation,
    launched: &Launched<'_>,
) -> Enforcement {
    let nproc = nproc(cfg, compiled, identity);
    let rlimit_fallbacks: Vec<Rlimit> = fallbacks(compiled, cgroup, nproc)
        .map(|f| f.rlimit)
        .collect();
    Enforcement {
        namespaces: cfg.namespaces,
        isolation: crate::isolation::Report::default(),
        uid: identity.uid,
        gid: identity.gid,
        uid_ranges: identity
            .ranges
            .as_ref()
            .map(|r| r.uid.lines.clone())
            .unwrap_or_default(),
        gid_ranges: identity
            .ranges
            .as_ref()
            .map(|r| r.gid.lines.clone())
            .unwrap_or_default(),
        filesystem: compiled.mounts.is_some(),
        filesystem_template: launched.started_from_template(),
        // A root caller's spawn fails rather than go without the trees it
        // was to attach; the plan records which it could not make.
        system_view_idmapped: identity.root_caller
            && compiled.mounts.as_ref().is_some_and(|m| {
                !m.system.is_empty() && m.system.iter().all(|b| b.idmap != Some(false))
            }),
        cgroup: cgroup.report.clone(),
        nproc_scope: nproc.filter(|_| rlimit_fallbacks.contains(&Rlimit::Nproc)),
        rlimit_fallbacks,
        #[cfg(feature = "landlock")]
        landlock: compiled.landlock.as_ref().map(|l| l.report().clone()),
        #[cfg(feature = "landlock")]
        landlock_mirrors_fs: cfg.landlock_mirror_fs,
        #[cfg(feature = "seccomp")]
        seccomp: compiled
            .seccomp
            .as_ref()
            .map(|p| p.filter().report().clone()),
        #[cfg(feature = "seccomp")]
        seccomp_programs: cfg.seccomp_programs.len(),
        net_filter: cfg.net_filter,
        egress: compiled.net.as_ref().is_some_and(|n| n.egress.is_some()),
    }
}
