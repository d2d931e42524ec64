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
mod fds;
mod ids;
mod lower;
mod time_ns;

pub use argv::BASE_ENV;

use std::time::Instant;

use crate::child::{Child, ChildStderr, ChildStdin, ChildStdout, Inner};
use crate::command::{Command, StdioKind};
use crate::compile::Compiled;
use crate::config::Config;
use crate::error::{Error, Feature, Unsupported, UnsupportedReason};
use crate::namespaces::Namespaces;
use crate::zone::launch;
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
    let caller = Caller::current();
    let mut identity = ids::plan(cfg, caller)?;
    let (exec, search) = argv::exec_plan(cfg, cmd)?;
    let cwd = argv::working_dir(cmd, ns.contains(Namespaces::MOUNT))?;
    let mut fds = Fds::plan(cmd, &default_out, &default_in)?;
    let mut channel = Channel::open(&fds, cfg.die_with_parent)?;
    let use_clone3 = crate::probe::clone3();
    // The static part of the root filesystem, built once per policy; it
    // needs clone3 for CLONE_PARENT with a pidfd.
    let template = match &compiled.mounts {
        Some(m) if ns.contains(Namespaces::USER) && use_clone3 => {
            compiled.template.get(m, caller.euid, caller.egid)
        }
        _ => None,
    };
    // Created and limited before clone, removed by `Drop` on every error
    // path below.
    let cg = crate::cgroup::prepare_reported(&cfg.cgroup)?;
    let parts = lower::Parts {
        id_maps: identity.maps.take(),
        identity: &identity,
        exec,
        cwd,
        fds: fds.zone_plan(&channel.held()),
        channel: &channel,
        cgroup: &cg,
        use_clone3,
    };
    let plan = lower::plan(cfg, compiled, parts);

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

    let program_pid = match channel.read_setup()? {
        SetupReport::Running(pid) => pid,
        // The supervisor exits on its own after reporting; dropping the
        // guard reaps it before the plan goes.
        SetupReport::Failed(rec) => {
            return Err(diagnose::setup_error(
                &rec, cmd, &plan, &search, compiled, ns,
            ));
        }
        SetupReport::Vanished => {
            return Err(Error::SupervisorVanished {
                status: launched.reap().map(crate::ExitStatus::from_raw),
            });
        }
    };
    let enforcement = lower::enforcement(cfg, compiled, &identity, &cg, &launched);
    let supervisor = launched.running();
    drop(plan);
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
