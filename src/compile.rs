//! Lowering a policy, once: everything a spawn needs that depends only on
//! the policy is validated and prepared here, and cached by the
//! [`Sandbox`](crate::Sandbox) until a setter changes it.

use std::sync::Arc;
use std::time::Duration;

use crate::caps;
#[cfg(any(feature = "landlock", feature = "seccomp"))]
use crate::caps::Capability;
use crate::cgroup::LimitKind;
use crate::compat::CompatLevel;
use crate::config::Config;
use crate::error::{ConfigError, Error, HostnameProblem, NamespaceProblem};
use crate::fs::plan::{self, MountPlan, ProcKind};
use crate::namespaces::Namespaces;
use crate::rlimit::Rlimit;
use crate::template::TemplateCache;

/// A policy lowered for spawning: everything a spawn reads that depends
/// only on the policy, so that no spawn lowers any of it again.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// The mount plan (`None` without a mount namespace).
    pub(crate) mounts: Option<MountPlan>,
    /// The template mount namespace of `mounts`, built on first use.
    pub(crate) template: TemplateCache,
    /// The hostname's bytes.
    pub(crate) hostname: Option<Vec<u8>>,
    /// The wall-clock limit in nanoseconds (0: none).
    pub(crate) timeout_ns: u64,
    /// The rlimits to set, in the zone's terms, and which limit each one
    /// is, in the same order, for errors.
    pub(crate) rlimits: Vec<(libc::c_int, libc::rlimit64)>,
    pub(crate) rlimit_order: Vec<Rlimit>,
    /// The rlimits that stand in for the memory and pids limits when their
    /// cgroup limit cannot be applied (best-effort cgroup limits only).
    pub(crate) rlimit_fallbacks: Vec<RlimitFallback>,
    /// The soft `RLIMIT_CPU`, in seconds, if one is set.
    pub(crate) cpu_limit_secs: Option<u64>,
    pub(crate) caps: caps::CapPlan,
    #[cfg(feature = "landlock")]
    pub(crate) landlock: Option<crate::landlock::Lowered>,
    /// The compiled seccomp filter, shared by every spawn.
    #[cfg(feature = "seccomp")]
    pub(crate) seccomp: Option<crate::zone::seccomp::ChildProgram>,
    /// The caller's own programs, installed after the filter.
    #[cfg(feature = "seccomp")]
    pub(crate) seccomp_programs: Vec<crate::zone::seccomp::RawProgram>,
    /// The filtered network's and the published ports' part (`None`:
    /// neither).
    pub(crate) net: Option<NetCompiled>,
    /// Whether the seccomp filter's refusals are observed, and why not.
    pub(crate) observe: crate::denials::Observation,
}

/// A policy's network part, lowered once: the compiled egress rules, the
/// sockets every sandbox of the policy opens in its network namespace, and
/// the environment that announces the proxy.
pub(crate) struct NetCompiled {
    pub(crate) egress: Option<Arc<crate::net::engine::CompiledEgress>>,
    pub(crate) sockets: Vec<crate::zone::plan::NetSocket>,
    pub(crate) loopback_alias: Option<[u8; 4]>,
    pub(crate) env: Vec<(String, String)>,
}

// The compiled egress policy holds the caller's resolver and callbacks;
// the engine calls them under `catch_unwind` on its own threads, so a
// panic in one never leaves a `Compiled` half-changed: a `Sandbox` stays
// unwind-safe with an egress policy, as without.
impl std::panic::RefUnwindSafe for NetCompiled {}
impl std::panic::UnwindSafe for NetCompiled {}

impl std::fmt::Debug for NetCompiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetCompiled")
            .field("egress", &self.egress.is_some())
            .field("sockets", &self.sockets.len())
            .field("loopback_alias", &self.loopback_alias)
            .field("env", &self.env)
            .finish()
    }
}

/// Lowers the network part of `cfg`; with an egress policy, the sandbox's
/// `/etc/resolv.conf` (naming the resolver the proxy answers) joins `fs`.
fn compile_net(cfg: &Config, fs: &mut crate::fs::Config) -> Result<Option<NetCompiled>, Error> {
    use crate::net::spec::SocketKind;
    let ns = cfg.namespaces;
    if cfg.egress.is_some() && !ns.contains(Namespaces::NET) {
        return Err(ConfigError::FilteredNeedsNetworkNamespace.into());
    }
    if !cfg.publish.is_empty() && !ns.contains(Namespaces::NET) {
        return Err(ConfigError::PublishNeedsNetworkNamespace.into());
    }
    let Some(policy) = &cfg.egress else {
        return Ok((!cfg.publish.is_empty()).then(|| NetCompiled {
            egress: None,
            sockets: Vec::new(),
            loopback_alias: None,
            env: Vec::new(),
        }));
    };
    let egress = policy.compile()?;
    if ns.contains(Namespaces::MOUNT) {
        fs.ops.push(crate::fs::Op::File {
            dest: "/etc/resolv.conf".into(),
            contents: egress.resolv_conf(),
            mode: None,
        });
    }
    let specs = egress.listener_specs();
    let mut loopback_alias = None;
    let sockets = specs
        .iter()
        .map(|s| {
            if let std::net::SocketAddr::V4(a) = s.addr {
                let ip = a.ip();
                // An address of its own on `lo` besides 127.0.0.1: with
                // only loopback's, getaddrinfo's AI_ADDRCONFIG would say
                // the sandbox has no IPv4 and resolve nothing.
                if s.kind == SocketKind::Datagram
                    && ip.is_loopback()
                    && *ip != std::net::Ipv4Addr::LOCALHOST
                {
                    loopback_alias = Some(ip.octets());
                }
            }
            crate::zone::plan::NetSocket {
                ty: match s.kind {
                    SocketKind::Datagram => libc::SOCK_DGRAM,
                    SocketKind::Listen => libc::SOCK_STREAM,
                },
                addr: crate::sys::raw::SockAddr::new(s.addr),
                listen: s.kind == SocketKind::Listen,
            }
        })
        .collect();
    Ok(Some(NetCompiled {
        env: egress.proxy_env(),
        egress: Some(Arc::new(egress)),
        sockets,
        loopback_alias,
    }))
}

impl Compiled {
    /// The program's private home in the sandbox, if its mount plan gives
    /// it one.
    pub(crate) fn home(&self) -> Option<&std::path::Path> {
        self.mounts.as_ref()?.home.as_deref()
    }
}

/// An rlimit set in place of a cgroup limit that could not be applied.
///
/// `RLIMIT_AS` binds every process. `RLIMIT_NPROC` does not bind a process
/// whose real uid is 0 on the host, nor one holding `CAP_SYS_RESOURCE` or
/// `CAP_SYS_ADMIN` in the initial user namespace (`copy_process` in the
/// kernel's `kernel/fork.c` checks `p->real_cred->user != INIT_USER &&
/// !capable(CAP_SYS_RESOURCE) && !capable(CAP_SYS_ADMIN)`), so it is only
/// set where [`nproc_scope`] says it binds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RlimitFallback {
    /// The cgroup limit it stands in for.
    pub(crate) kind: LimitKind,
    pub(crate) rlimit: Rlimit,
    pub(crate) value: libc::rlimit64,
}

/// What `RLIMIT_NPROC` counts for a program of the policy `ns`, `caps`,
/// whose real uid outside any user namespace is `host_uid`; `None` when it
/// does not bind the program at all.
///
/// The kernel counts a process by its real uid: in a new user namespace,
/// the caller's (the sandbox's map only renames it); without one, the uid a
/// root caller switches to, or the caller's. It does not bind real uid 0
/// in the initial user namespace (`INIT_USER`), nor a process capable of
/// `CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN` there, which a program in a user
/// namespace of its own never is. Since Linux 5.14 the count is kept per
/// user namespace and uid (`ucounts`, `kernel/ucount.c`): a sandbox with a
/// user namespace of its own counts only its own processes (each counts in
/// the namespaces above too, against limits its creator's already bind).
/// Before, and in the initial user namespace, it is every process of the
/// uid on the host.
pub(crate) fn nproc_scope(
    ns: Namespaces,
    host_uid: u32,
    caps: &caps::CapPlan,
) -> Option<crate::enforcement::NprocScope> {
    use crate::caps::Capability;
    use crate::enforcement::NprocScope;
    let userns = ns.contains(Namespaces::USER);
    let exempt =
        !userns && (caps.keeps(Capability::SysResource) || caps.keeps(Capability::SysAdmin));
    if host_uid == 0 || exempt {
        None
    } else if userns && crate::probe::kernel_at_least(5, 14) {
        Some(NprocScope::Sandbox)
    } else {
        Some(NprocScope::HostUser { uid: host_uid })
    }
}

pub(crate) fn compile(cfg: &Config) -> Result<Compiled, Error> {
    let ns = cfg.namespaces;
    let userns = ns.contains(Namespaces::USER);
    crate::ids::check(crate::error::IdKind::Uid, &cfg.uid_ranges, userns)?;
    crate::ids::check(crate::error::IdKind::Gid, &cfg.gid_ranges, userns)?;
    if let Some(h) = &cfg.hostname {
        let reason = if !ns.contains(Namespaces::UTS) {
            Some(HostnameProblem::NoUtsNamespace)
        } else if h.is_empty() {
            Some(HostnameProblem::Empty)
        } else if h.len() > 64 {
            Some(HostnameProblem::TooLong)
        } else if h.as_encoded_bytes().contains(&0) {
            Some(HostnameProblem::NulByte)
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ConfigError::Hostname {
                hostname: h.clone(),
                reason,
            }
            .into());
        }
    }
    let mut fs = cfg.fs.clone();
    let net = compile_net(cfg, &mut fs)?;
    let mounts = if ns.contains(Namespaces::MOUNT) {
        let proc_kind = if ns.contains(Namespaces::PID) {
            ProcKind::Fresh
        } else {
            ProcKind::HostReadOnly
        };
        // The program's ids as its sandbox sees them (see `spawn::ids`).
        let owner = (
            cfg.uid.unwrap_or_else(|| nix::unistd::geteuid().as_raw()),
            cfg.gid.unwrap_or_else(|| nix::unistd::getegid().as_raw()),
        );
        Some(plan::plan(&fs, proc_kind, owner).map_err(ConfigError::from)?)
    } else if cfg.fs.is_customized() && !landlock_stands_in(cfg) {
        return Err(ConfigError::Namespaces {
            reason: NamespaceProblem::RootfsNeedsMountNamespace,
        }
        .into());
    } else {
        None
    };
    // The supervisor always shares the caller's address space, so the
    // program must never be able to ptrace it: plan as if a pid
    // namespace were present in every case.
    let ctx = if ns.contains(Namespaces::USER) {
        caps::CapContext::new_user_namespace(true)
    } else {
        caps::CapContext::inherited(true)
    }
    .map_err(ConfigError::from)?;
    let caps = caps::plan(&cfg.caps, &ctx).map_err(ConfigError::from)?;
    // A configuration error, so before anything that asks the kernel.
    #[cfg(feature = "seccomp")]
    if cfg.net_filter && cfg.seccomp.is_none() {
        return Err(ConfigError::NetFilterNeedsSeccomp.into());
    }
    if cfg.timeout == Some(Duration::ZERO) {
        return Err(ConfigError::Timeout.into());
    }
    if cfg.program_as_init && !ns.contains(Namespaces::PID) {
        return Err(ConfigError::InitNeedsPidNamespace.into());
    }
    // A read-only view may show the cgroup the sandbox runs in whatever it
    // is; a writable one only a cgroup of the sandbox's own.
    if cfg.mount_cgroup
        && !(ns.contains(Namespaces::MOUNT | Namespaces::CGROUP)
            && (cfg.cgroup.requests_cgroup() || cfg.mount_cgroup_read_only))
    {
        return Err(ConfigError::MountCgroupNeeds.into());
    }
    if cfg.fs.sys && ns.contains(Namespaces::USER) && !ns.contains(Namespaces::NET) {
        return Err(ConfigError::SysNeedsNetworkNamespace.into());
    }
    if cfg.fs.mqueue
        && (!ns.contains(Namespaces::MOUNT)
            || !cfg.fs.dev
            || (ns.contains(Namespaces::USER) && !ns.contains(Namespaces::IPC)))
    {
        return Err(ConfigError::MqueueNeedsIpcNamespace.into());
    }
    if !(1..=64).contains(&cfg.stop_signal) {
        return Err(ConfigError::StopSignal {
            signal: cfg.stop_signal,
        }
        .into());
    }
    crate::cgroup::validate(&cfg.cgroup)?;
    let mut rlimits = Vec::with_capacity(cfg.rlimits.len());
    let mut rlimit_order = Vec::with_capacity(cfg.rlimits.len());
    for (&resource, &(soft, hard)) in &cfg.rlimits {
        if soft > hard {
            return Err(ConfigError::Rlimit {
                resource,
                soft,
                hard,
            }
            .into());
        }
        rlimits.push((
            resource.resource(),
            libc::rlimit64 {
                rlim_cur: soft,
                rlim_max: hard,
            },
        ));
        rlimit_order.push(resource);
    }
    // Landlock's errors come before seccomp's.
    #[cfg(feature = "landlock")]
    let landlock = compile_landlock(cfg, &caps)?;
    #[cfg(feature = "seccomp")]
    let (seccomp, observe) = match compile_seccomp(cfg, &caps)? {
        Some(filter) => {
            let observe = observation(cfg, &filter);
            let on = observe == crate::denials::Observation::Observed;
            (
                Some(crate::zone::seccomp::ChildProgram::new(filter, on)),
                observe,
            )
        }
        None => (None, crate::denials::Observation::NotEnforced),
    };
    #[cfg(not(feature = "seccomp"))]
    let observe = crate::denials::Observation::NotEnforced;
    Ok(Compiled {
        hostname: cfg.hostname.as_ref().map(|h| h.as_encoded_bytes().to_vec()),
        timeout_ns: cfg
            .timeout
            .map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)),
        mounts,
        template: TemplateCache::default(),
        rlimits,
        rlimit_order,
        rlimit_fallbacks: rlimit_fallbacks(cfg),
        cpu_limit_secs: cfg.rlimits.get(&Rlimit::Cpu).map(|l| l.0),
        #[cfg(feature = "landlock")]
        landlock,
        #[cfg(feature = "seccomp")]
        seccomp,
        #[cfg(feature = "seccomp")]
        seccomp_programs: cfg
            .seccomp_programs
            .iter()
            .cloned()
            .map(crate::zone::seccomp::RawProgram::new)
            .collect(),
        caps,
        net,
        observe,
    })
}

/// The rlimits that stand in for cgroup limits, should they be skipped:
/// `RLIMIT_AS` for `memory_max`, `RLIMIT_NPROC` for `pids_max`, unless the
/// caller set that rlimit itself. Only best-effort cgroup limits have any.
fn rlimit_fallbacks(cfg: &Config) -> Vec<RlimitFallback> {
    if cfg.cgroup.compat != CompatLevel::BestEffort {
        return Vec::new();
    }
    [
        (LimitKind::MemoryMax, cfg.cgroup.memory_max, Rlimit::As),
        (LimitKind::PidsMax, cfg.cgroup.pids_max, Rlimit::Nproc),
    ]
    .into_iter()
    .filter(|(_, _, rlimit)| !cfg.rlimits.contains_key(rlimit))
    .filter_map(|(kind, value, rlimit)| {
        Some(RlimitFallback {
            kind,
            rlimit,
            value: libc::rlimit64 {
                rlim_cur: value?,
                rlim_max: value?,
            },
        })
    })
    .collect()
}

/// Whether Landlock rules stand in for the filesystem plan (no mount
/// namespace).
fn landlock_stands_in(cfg: &Config) -> bool {
    #[cfg(feature = "landlock")]
    return cfg.landlock_mirror_fs;
    #[cfg(not(feature = "landlock"))]
    return {
        let _ = cfg;
        false
    };
}

/// Lowers the Landlock policy (plus the mirrored filesystem plan) once per
/// sandbox policy, for rule paths seen by the program.
#[cfg(feature = "landlock")]
fn compile_landlock(
    cfg: &Config,
    caps: &caps::CapPlan,
) -> Result<Option<crate::landlock::Lowered>, Error> {
    use crate::landlock::lower::{View, lower};
    let mut policy = match (&cfg.landlock, cfg.landlock_mirror_fs || cfg.net_filter) {
        (None, false) => return Ok(None),
        (Some(p), _) => p.clone(),
        (None, true) => crate::landlock::Policy::new(),
    };
    if cfg.net_filter {
        policy.scope(crate::landlock::Scope::ABSTRACT_UNIX_SOCKET);
    }
    if cfg.landlock_mirror_fs {
        policy.add_fs_plan(&cfg.fs, cfg.namespaces.contains(Namespaces::MOUNT))?;
    }
    let lowered = lower(&policy, crate::landlock::kernel_abi(), View::Sandbox)?;
    if lowered.rules().is_some() && !caps.no_new_privs() && !caps.keeps(Capability::SysAdmin) {
        return Err(ConfigError::LandlockNeedsNoNewPrivs.into());
    }
    Ok(Some(lowered))
}

/// Whether a filter's refusals will be observed: it must refuse something
/// reported, the caller must want it, and the kernel must have user
/// notification (asked with `SECCOMP_GET_ACTION_AVAIL`).
#[cfg(feature = "seccomp")]
fn observation(
    cfg: &Config,
    filter: &crate::seccomp::CompiledFilter,
) -> crate::denials::Observation {
    use crate::denials::Observation;
    if filter.notify_fprog().is_none() {
        Observation::NotEnforced
    } else if !cfg.observe_denials {
        Observation::Disabled
    } else if !matches!(
        filter.constant_action("sendmsg"),
        Some(crate::seccomp::Action::Allow | crate::seccomp::Action::Log)
    ) {
        // The program process hands the listener over with sendmsg under
        // the notifying filter: were sendmsg refused, that refusal would
        // wait for a listener nobody else holds yet.
        Observation::PolicyRefusesHandover
    } else if crate::probe::seccomp_action(libc::SECCOMP_RET_USER_NOTIF).is_err() {
        Observation::Unsupported
    } else {
        Observation::Observed
    }
}

/// Compiles the seccomp policy once per sandbox policy and checks that the
/// kernel supports every action it uses.
#[cfg(feature = "seccomp")]
fn compile_seccomp(
    cfg: &Config,
    caps: &caps::CapPlan,
) -> Result<Option<Arc<crate::seccomp::CompiledFilter>>, Error> {
    use crate::error::{Feature, Unsupported, UnsupportedReason};
    use crate::seccomp;
    let Some(policy) = &cfg.seccomp else {
        // (deny_net_by_filter without a filter was refused earlier.)
        return Ok(None);
    };
    let filter = if cfg.net_filter {
        let mut p = policy.clone();
        seccomp::add_net_filter(&mut p);
        seccomp::compile_observing(&p, cfg.observe_writes)
    } else {
        seccomp::compile_observing(policy, cfg.observe_writes)
    }
    .map_err(ConfigError::Seccomp)?;
    // The program is started with execve under the filter: a policy that
    // refuses it whatever the arguments could never start one. (One that
    // refuses it for some arguments only is reported with execve's answer
    // when that happens.)
    let syscall = "execve";
    match filter.constant_action(syscall) {
        None | Some(seccomp::Action::Allow | seccomp::Action::Log) => {}
        Some(action) => {
            return Err(ConfigError::SeccompDeniesExec {
                syscall: syscall.to_owned(),
                action,
            }
            .into());
        }
    }
    if !caps.no_new_privs() && !caps.keeps(Capability::SysAdmin) {
        return Err(ConfigError::SeccompNeedsNoNewPrivs.into());
    }
    seccomp::check_support(&filter).map_err(|e| {
        let (feature, reason) = match e {
            seccomp::Error::ActionUnsupported { action } => {
                (Feature::SeccompAction(action), UnsupportedReason::Kernel)
            }
            seccomp::Error::Unsupported { source }
                if matches!(source.raw_os_error(), Some(libc::EPERM | libc::EACCES)) =>
            {
                (Feature::SeccompFilter, UnsupportedReason::Blocked)
            }
            _ => (Feature::SeccompFilter, UnsupportedReason::Kernel),
        };
        Error::Unsupported(Unsupported { feature, reason })
    })?;
    Ok(Some(Arc::new(filter)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::{CapContext, Capability, Creds};
    use crate::enforcement::NprocScope;

    fn caps_keeping(keep: &[Capability]) -> caps::CapPlan {
        let mut policy = caps::Policy::new();
        policy.keep_all(keep.iter().copied());
        let ctx = CapContext {
            creds: Creds::NewUserNamespace,
            pid_namespace: false,
            last_cap: 40,
        };
        caps::plan(&policy, &ctx).unwrap()
    }

    #[test]
    fn nproc_binds_neither_uid_0_nor_a_capable_program() {
        let none = caps_keeping(&[]);
        let userns = Namespaces::default();
        let host = Namespaces::empty();
        // Real uid 0 on the host: never bound.
        assert_eq!(nproc_scope(userns, 0, &none), None);
        assert_eq!(nproc_scope(host, 0, &none), None);
        // Capable in the initial user namespace: not bound.
        for cap in [Capability::SysResource, Capability::SysAdmin] {
            let plan = caps_keeping(&[cap]);
            assert_eq!(nproc_scope(host, 1000, &plan), None);
            // In a user namespace of its own, no capability exempts it.
            assert!(nproc_scope(userns, 1000, &plan).is_some());
        }
        let other = caps_keeping(&[Capability::NetBindService]);
        assert_eq!(
            nproc_scope(host, 1000, &other),
            Some(NprocScope::HostUser { uid: 1000 })
        );
        let expected = if crate::probe::kernel_at_least(5, 14) {
            NprocScope::Sandbox
        } else {
            NprocScope::HostUser { uid: 1000 }
        };
        assert_eq!(nproc_scope(userns, 1000, &none), Some(expected));
    }
}
