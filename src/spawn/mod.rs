//! The spawn protocol, parent side.
//!
//! 1. Lower the [`Command`] against the compiled policy: identity, argv and
//!    environment, working directory, descriptors ([`ids`], [`argv`],
//!    [`fds`]).
//! 2. Open the report channel and the lifeline ([`channel`]), create the
//!    cgroup, and assemble the [`ChildPlan`].
//! 3. Launch the supervisor (`crate::zone::launch`), from the policy's
//!    template mount namespace when it has one.
//! 4. Read the report channel until the supervisor says `Running`, an
//!    `Error` record arrives ([`diagnose`] names its item), or it closes.

mod argv;
mod channel;
mod diagnose;
mod fds;
mod ids;
mod time_ns;

pub use argv::BASE_ENV;
pub(crate) use diagnose::diagnose_userns;

use std::time::Instant;

use crate::child::{Child, ChildStderr, ChildStdin, ChildStdout, Inner};
use crate::command::{Command, StdioKind};
use crate::compile::Compiled;
use crate::config::Config;
use crate::enforcement::Enforcement;
use crate::error::{Error, Feature, ParentOp, Unsupported, UnsupportedReason};
use crate::namespaces::Namespaces;
use crate::zone::launch::{self, LaunchError};
use crate::zone::plan::{ChildPlan, Shared};
use channel::{Channel, SetupReport};
use fds::Fds;
use ids::Caller;

/// Spawns `cmd` in a sandbox of the policy `cfg`, compiled as `compiled`.
/// `default_out` and `default_in` are the calling method's stdio defaults.
pub(crate) fn spawn(
    cfg: &Config,
    compiled: &Compiled,
    cmd: &mut Command,
    default_out: StdioKind,
    default_in: StdioKind,
) -> Result<Child, Error> {
    if cfg.namespaces.contains(Namespaces::TIME) && !time_ns::entered_at_exec() {
        return Err(Error::Unsupported(Unsupported {
            feature: Feature::TimeNamespace,
            reason: UnsupportedReason::Kernel,
        }));
    }
    run(cfg, compiled, cmd, default_out, default_in)
}

/// The orchestrator behind [`spawn`].
fn run(
    cfg: &Config,
    compiled: &Compiled,
    cmd: &mut Command,
    default_out: StdioKind,
    default_in: StdioKind,
) -> Result<Child, Error> {
    let ns = cfg.namespaces;
    let userns = ns.contains(Namespaces::USER);
    let caller = Caller::current();
    let identity = ids::plan(cfg, caller)?;
    let (exec, search) = argv::exec_plan(cfg, cmd)?;
    let (cwd, cwd_required) = argv::working_dir(cmd, ns.contains(Namespaces::MOUNT))?;
    let mut fds = Fds::plan(cmd, &default_out, &default_in)?;
    let mut channel = Channel::open(&fds, cfg.die_with_parent)?;

    let use_clone3 = crate::probe::clone3();
    // The static part of the root filesystem, built once per policy; it
    // needs clone3 for CLONE_PARENT with a pidfd.
    let template = match &compiled.mounts {
        Some(m) if userns && use_clone3 => compiled.template.get(m, caller.euid, caller.egid),
        _ => None,
    };
    // Created and limited before clone, removed by `Drop` on every error
    // path below.
    let cg = crate::cgroup::prepare_reported(&cfg.cgroup)?;
    let placement = cg.cgroup.as_ref().map(|c| c.placement(use_clone3));
    let fallbacks: Vec<_> = compiled
        .rlimit_fallbacks
        .iter()
        .filter(|f| {
            cg.report
                .as_ref()
                .is_some_and(|r| r.skipped.iter().any(|s| s.kind == f.kind && s.requested))
        })
        .collect();

    let plan = ChildPlan {
        report_fd: channel.child_fd(),
        lifeline_fd: channel.lifeline_fd(),
        namespace_flags: ns.supervisor_clone_flags(),
        pid_ns: ns.contains(Namespaces::PID),
        id_maps: identity.maps,
        hostname: compiled.hostname.as_deref(),
        mounts: compiled.mounts.as_ref(),
        helper: Default::default(),
        use_clone3,
        program_stack: Default::default(),
        cgroup_fd: placement.map_or(-1, |p| p.clone_into),
        cgroup_kill_fd: placement.map_or(-1, |p| p.kill),
        timeout_ns: compiled.timeout_ns,
        shared: Shared::new(),
        cgroup_procs_fd: placement.map_or(-1, |p| p.procs),
        new_cgroup_ns: ns.contains(Namespaces::CGROUP),
        new_time_ns: ns.contains(Namespaces::TIME),
        set_ids: identity.set_ids,
        cwd,
        cwd_in_root: ns.contains(Namespaces::MOUNT),
        cwd_required,
        fds: fds.zone_plan(&[channel.child_fd(), channel.lifeline_fd()]),
        rlimits: &compiled.rlimits,
        fallback_rlimits: fallbacks
            .iter()
            .map(|f| (f.rlimit.resource(), f.value))
            .collect(),
        caps: &compiled.caps,
        #[cfg(feature = "landlock")]
        landlock: compiled.landlock.as_ref().and_then(|l| l.rules()),
        #[cfg(feature = "seccomp")]
        seccomp: compiled.seccomp.as_ref(),
        exec,
    };

    let started = Instant::now();
    let template_fds = template.as_ref().map(|t| t.fds());
    let launched = launch::launch(&plan, template_fds).map_err(|e| match e {
        LaunchError::MapStack(source) => Error::Io {
            op: ParentOp::MapStack,
            source,
        },
        LaunchError::Clone(errno)
            if userns && matches!(errno.0, libc::EPERM | libc::ENOSPC | libc::EUSERS) =>
        {
            Error::UserNamespaceDenied {
                cause: diagnose_userns(),
                source: errno.into_io(),
            }
        }
        LaunchError::Clone(errno) => Error::Io {
            op: ParentOp::Clone,
            source: errno.into_io(),
        },
    })?;
    if launched.template_failed() {
        // Build the whole plan in this spawn, and in the next ones.
        compiled.template.disable();
    }
    // The sandbox's processes copied their descriptor tables at clone.
    channel.close_child_side();
    fds.close_child_side();

    let program_pid = match channel.read_setup()? {
        SetupReport::Running(pid) => pid,
        // The supervisor exits on its own after reporting; dropping the
        // guard reaps it before the plan goes.
        SetupReport::Failed(rec) => {
            return Err(diagnose::setup_error(
                &rec, cmd, &plan, &search, compiled, userns,
            ));
        }
        SetupReport::Vanished => {
            return Err(Error::SupervisorVanished {
                status: launched.reap().map(crate::ExitStatus::from_raw),
            });
        }
    };
    let filesystem_template = launched.started_from_template();
    let supervisor = launched.running();
    drop(plan);

    let enforcement = Enforcement {
        namespaces: ns,
        uid: identity.uid,
        gid: identity.gid,
        filesystem: compiled.mounts.is_some(),
        filesystem_template,
        cgroup: cg.report,
        rlimit_fallbacks: fallbacks.iter().map(|f| f.rlimit).collect(),
        #[cfg(feature = "landlock")]
        landlock: compiled.landlock.as_ref().map(|l| l.report().clone()),
        #[cfg(feature = "landlock")]
        landlock_mirrors_fs: cfg.landlock_mirror_fs,
        #[cfg(feature = "seccomp")]
        seccomp: compiled
            .seccomp
            .as_ref()
            .map(|p| p.filter().report().clone()),
        net_filter: cfg.net_filter,
    };
    Ok(Child {
        stdin: fds.stdin.take().map(ChildStdin::from_owned),
        stdout: fds.stdout.take().map(ChildStdout::from_owned),
        stderr: fds.stderr.take().map(ChildStderr::from_owned),
        inner: Inner::new(
            supervisor,
            program_pid.unwrap_or(0),
            channel.report,
            enforcement,
            cfg.kill_on_drop,
            ns.contains(Namespaces::PID),
            compiled.cpu_limit_secs,
            started,
            cg.cgroup,
        ),
    })
}
