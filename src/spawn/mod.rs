//! The spawn protocol, parent side.
//!
//! 1. Lower the [`Command`] against the compiled policy: identity, argv and
//!    environment, working directory, descriptors ([`ids`], [`argv`],
//!    [`fds`]).
//! 2. Open the report channel and take the caller's lifeline ([`channel`]), create the
//!    cgroup, and assemble the [`ChildPlan`].
//! 3. Launch the supervisor (`crate::zone::launch`), from the policy's
//!    template mount namespace when it has one.
//! 4. Read the report channel until the supervisor says `Running`, an
//!    `Error` record arrives ([`diagnose`] names its item), or it closes.

mod argv;
mod channel;
mod diagnose;
pub(crate) mod exec;
mod fds;
pub(crate) mod ids;
mod lower;
mod net;
mod time_ns;

pub use argv::BASE_ENV;

use std::time::Instant;

use crate::child::{Child, ChildStderr, ChildStdin, ChildStdout, Inner};
use crate::command::{Command, StdioKind};
use crate::compile::Compiled;
use crate::config::Config;
use crate::error::{ConfigError, Error, Feature, PtyProblem, Unsupported, UnsupportedReason};
use crate::namespaces::Namespaces;
use crate::pty::Pty;
use crate::zone::launch;
use crate::zone::plan::{ExecPlan, Shared};
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
    check_time_ns(cfg)?;
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
    check_pty(cfg, cmd)?;
    let mut fds = Fds::plan(cmd, &default_out, &default_in)?;
    let mut up = sandbox(cfg, compiled, Some(cmd), &mut fds, false)?;
    let layers = std::mem::take(&mut up.layers);
    let mut child = Child {
        stdin: fds.stdin.take().map(ChildStdin::from_owned),
        stdout: fds.stdout.take().map(ChildStdout::from_owned),
        stderr: fds.stderr.take().map(ChildStderr::from_owned),
        pty: up.pty.take().map(Pty::from_owned),
        inner: Inner::new(
            up.supervisor,
            up.program_pid.unwrap_or(0),
            up.report,
            up.enforcement,
            cfg.kill_on_drop,
            cfg.namespaces.contains(Namespaces::PID),
            compiled.cpu_limit_secs,
            up.started,
            up.cgroup,
        ),
    };
    child.inner.layers = layers;
    child.inner.net = up.net.take();
    child.inner.denials = std::mem::take(&mut up.denials);
    child.inner.namespace_ids = up.namespace_ids;
    Ok(child)
}

/// A sandbox whose supervisor has reported `Running`.
pub(crate) struct Up {
    pub(crate) supervisor: crate::zone::launch::Supervisor,
    pub(crate) program_pid: Option<u32>,
    /// The caller's end of the report channel.
    pub(crate) report: std::os::fd::OwnedFd,
    pub(crate) enforcement: crate::Enforcement,
    pub(crate) started: Instant,
    pub(crate) cgroup: Option<crate::cgroup::PreparedCgroup>,
    /// The identity its programs run as, and the ids they may ask for.
    pub(crate) users: ids::Users,
    /// The cgroup descriptors as the supervisor holds them (-1: none):
    /// the leaf's directory and its `cgroup.procs`.
    pub(crate) cgroup_fds: (i32, i32),
    /// The rlimits standing in for cgroup limits the cgroup could not
    /// apply.
    pub(crate) fallback_rlimits: Vec<(libc::c_int, libc::rlimit64)>,
    /// The master of the program's terminal, if it has one.
    pub(crate) pty: Option<std::os::fd::OwnedFd>,
    /// The locks on its layer directories (see `crate::layer`).
    pub(crate) layers: crate::layer::Held,
    /// The engine of its filtered network or published ports.
    pub(crate) net: Option<crate::net::Running>,
    /// The observation of its refusals.
    pub(crate) denials: crate::denials::Watch,
    /// Its program's namespaces, when the command asked for them.
    pub(crate) namespace_ids: Option<crate::NamespaceIds>,
}

/// Starts a container of the policy `cfg`: a sandbox whose supervisor
/// starts no program and serves exec requests (see `crate::container`).
pub(crate) fn start(cfg: &Config, compiled: &Compiled) -> Result<Up, Error> {
    check_time_ns(cfg)?;
    sandbox(cfg, compiled, None, &mut Fds::default(), true)
}

/// The caller's ends of a container init's piped standard streams.
pub(crate) type InitStdio = (Option<ChildStdin>, Option<ChildStdout>, Option<ChildStderr>);

/// Starts a container of the policy `cfg` whose init is `init` (pid 1 of
/// the container's pid namespace; the supervisor stays one namespace up
/// and serves exec requests into it). Standard streams are inherited
/// unless `init` says otherwise.
pub(crate) fn start_init(
    cfg: &Config,
    compiled: &Compiled,
    init: &mut Command,
) -> Result<(Up, InitStdio), Error> {
    check_time_ns(cfg)?;
    check_pty(cfg, init)?;
    let mut fds = Fds::plan(init, &StdioKind::Inherit, &StdioKind::Inherit)?;
    let up = sandbox(cfg, compiled, Some(init), &mut fds, true)?;
    let stdio = (
        fds.stdin.take().map(ChildStdin::from_owned),
        fds.stdout.take().map(ChildStdout::from_owned),
        fds.stderr.take().map(ChildStderr::from_owned),
    );
    Ok((up, stdio))
}

/// The observation of refusals for a sandbox (or an exec) of a compiled
/// policy: a sink for its programs' seccomp listeners when the filter's
/// refusals are observed, the live stream, and what its report says.
pub(crate) fn watch(cfg: &Config, compiled: &Compiled) -> crate::denials::Watch {
    use crate::denials::Observation;
    #[cfg(feature = "seccomp")]
    let sink = match (&compiled.seccomp, compiled.observe) {
        (Some(p), Observation::Observed) => Some(crate::denials::observer::Sink::new(
            std::sync::Arc::clone(p.shared()),
            cfg.on_denial.as_ref().map(|h| std::sync::Arc::clone(&h.0)),
        )),
        _ => None,
    };
    #[cfg(not(feature = "seccomp"))]
    let sink = None;
    let network = if compiled.net.as_ref().is_some_and(|n| n.egress.is_some()) {
        Observation::Observed
    } else {
        Observation::NotEnforced
    };
    crate::denials::Watch::new(sink, cfg.on_denial.clone(), compiled.observe, network)
}

/// A terminal comes from the sandbox's own `devpts`, which its own `/dev`
/// mounts.
pub(crate) fn check_pty(cfg: &Config, cmd: &Command) -> Result<(), Error> {
    if cmd.pty.is_none() {
        return Ok(());
    }
    let missing = if !cfg.namespaces.contains(Namespaces::MOUNT) {
        Some(PtyProblem::NoMountNamespace)
    } else if !cfg.fs.dev {
        Some(PtyProblem::NoDev)
    } else {
        None
    };
    match missing {
        Some(reason) => Err(ConfigError::PtyNeedsDev { reason }.into()),
        None => Ok(()),
    }
}

/// A time namespace needs a kernel that enters it at exec.
fn check_time_ns(cfg: &Config) -> Result<(), Error> {
    if cfg.namespaces.contains(Namespaces::TIME) && !time_ns::entered_at_exec() {
        return Err(Error::Unsupported(Unsupported {
            feature: Feature::TimeNamespace,
            reason: UnsupportedReason::Kernel,
        }));
    }
    Ok(())
}

/// Sets up a sandbox of the policy and starts `cmd` in it; a `container`'s
/// supervisor then serves exec requests, with `cmd` (if any) as the
/// container's init.
fn sandbox(
    cfg: &Config,
    compiled: &Compiled,
    cmd: Option<&mut Command>,
    fds: &mut Fds,
    container: bool,
) -> Result<Up, Error> {
    let ns = cfg.namespaces;
    let caller = Caller::current();
    let mut identity = ids::plan(cfg, caller)?;
    // The ids later programs of a container may ask for: the sandbox's,
    // whatever its first program asks for.
    let users = identity.users(ns.contains(Namespaces::USER), caller);
    if let Some(user) = cmd.as_deref().and_then(|c| c.user) {
        identity.apply(users.switch(Some(user))?);
    }
    let container_init = container && cmd.is_some();
    // A container's init with a terminal: that terminal is the
    // container's /dev/console, in a /dev of its own (no template).
    let console = container_init
        && cmd.as_deref().is_some_and(|c| c.pty.is_some())
        && compiled.mounts.as_ref().is_some_and(|m| m.dev_op.is_some());
    let (exec, search, cwd) = match &cmd {
        Some(cmd) => {
            let (mut exec, search) = argv::exec_plan(cfg, cmd, compiled.home())?;
            // The proxy's address, for the programs that look for one
            // (unless the command sets the variable itself).
            for (key, value) in compiled.net.iter().flat_map(|n| &n.env) {
                argv::default_env(&mut exec, key, value);
            }
            if container_init {
                // What a service manager looks for to know it runs in a
                // container (and which).
                argv::default_env(&mut exec, "container", "stockade");
            }
            let cwd = argv::working_dir(cmd, ns.contains(Namespaces::MOUNT))?;
            (exec, Some(search), cwd)
        }
        None => (ExecPlan::default(), None, (None, false)),
    };
    // Persistent upper layers: checked, made and locked for the sandbox's
    // life.
    let layers = crate::layer::prepare(&cfg.fs, ns.contains(Namespaces::USER))?;
    // A published port's host address is taken first: one in use fails
    // the spawn before anything else exists.
    let published = net::bind_published(cfg)?;
    let mut channel = Channel::open(fds, cfg.die_with_parent, compiled.net.is_some())?;
    let use_clone3 = crate::probe::clone3();
    // The static part of the root filesystem, built once per policy; it
    // needs clone3 for CLONE_PARENT with a pidfd. Not with ranges: the
    // template's user namespace, the parent of the supervisor's, maps only
    // the caller's ids, and a child namespace maps only what its parent
    // does.
    let template = match &compiled.mounts {
        Some(m)
            if ns.contains(Namespaces::USER)
                && use_clone3
                && identity.ranges.is_none()
                && !console =>
        {
            compiled.template.get(m, caller.euid, caller.egid)
        }
        _ => None,
    };
    // Created and limited before clone, removed by `Drop` on every error
    // path below.
    let cg = crate::cgroup::prepare_reported(&cfg.cgroup)?;
    if cfg.mount_cgroup && caller.euid == 0 {
        // The cgroup the program gets writable at /sys/fs/cgroup is its
        // user's, as the kernel sees that user: a root caller's program
        // may run as another id (ranges, a uid map of another id).
        if let (Some(c), Some(u), Some(g)) = (&cg.cgroup, &identity.uid, &identity.gid) {
            if (u.outside, g.outside) != (0, 0) {
                c.delegate(u.outside, g.outside)?;
            }
        }
    }
    // The caller's /proc, through which the program process records its
    // namespace ids; closed here once the sandbox's processes have their
    // copies (dropped with the other child-side descriptors).
    let proc_dir = match &cmd {
        Some(c) if c.record_namespace_ids && !container => rustix::fs::open(
            "/proc",
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ok(),
        _ => None,
    };
    let parts = lower::Parts {
        proc_fd: proc_dir
            .as_ref()
            .map_or(-1, std::os::fd::AsRawFd::as_raw_fd),
        id_maps: identity.maps.take(),
        identity: &identity,
        exec,
        cwd,
        fds: fds.zone_plan(&channel.held()),
        channel: &channel,
        cgroup: &cg,
        use_clone3,
        container,
        container_init,
        console,
    };
    let shared = Shared::new();
    let plan = lower::plan(cfg, compiled, parts, &shared);

    let started = Instant::now();
    let launched = launch::launch(&plan, template.as_ref().map(|t| t.fds()))
        .map_err(|e| diagnose::launch_error(e, ns))?;
    if let Some(t) = &template {
        if launched.template_failed() {
            // This spawn builds its whole root; the next ones may try the
            // template again.
            compiled.template.failed_to_enter(t);
        } else {
            compiled.template.entered();
        }
    }
    // The sandbox's processes copied their descriptor tables at clone.
    channel.close_child_side();
    fds.close_child_side();
    drop(proc_dir);
    if let Some(r) = &identity.ranges {
        // The supervisor waits for its maps (dropping `launched` on an
        // error kills it).
        let pid = launched.pid().ok_or_else(|| Error::Io {
            op: crate::error::ParentOp::IdMaps,
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        r.write(pid)?;
        channel.maps_written()?;
    }

    let mut pty = None;
    let denials = watch(cfg, compiled);
    let program_pid = match channel.read_setup(&mut pty, denials.sink())? {
        SetupReport::Running(pid) => pid,
        // The supervisor exits on its own after reporting; dropping the
        // guard reaps it before the plan goes.
        SetupReport::Failed(rec) => {
            let program = cmd.as_deref().zip(search.as_ref());
            return Err(diagnose::setup_error(&rec, program, &plan, compiled, ns));
        }
        SetupReport::Vanished => {
            return Err(Error::SupervisorVanished {
                status: launched.reap().map(crate::ExitStatus::from_raw),
            });
        }
    };
    // The supervisor sent its network sockets before `Running`; should
    // the engine not start, dropping `launched` ends the sandbox.
    let net = match (&compiled.net, channel.net.take()) {
        (Some(n), Some(chan)) => Some(net::start(n, chan, published, cfg.on_denial.clone())?),
        _ => None,
    };
    let enforcement = lower::enforcement(cfg, compiled, &identity, &cg, &launched);
    let cgroup_fds = (plan.cgroup_fd, plan.cgroup_procs_fd);
    // Stored by the program process before it executed the program, which
    // happened before `Running` was sent.
    let namespace_ids = (plan.proc_fd >= 0).then(|| {
        crate::NamespaceIds::from_raw(
            shared
                .ns_ids
                .each_ref()
                .map(|n| n.load(std::sync::atomic::Ordering::Relaxed)),
        )
    });
    let fallback_rlimits = plan.fallback_rlimits.clone();
    let supervisor = launched.running();
    drop(plan);
    Ok(Up {
        supervisor,
        program_pid,
        report: channel.report,
        enforcement,
        started,
        cgroup: cg.cgroup,
        users,
        cgroup_fds,
        fallback_rlimits,
        pty,
        layers,
        net,
        denials,
        namespace_ids,
    })
}
