//! An exec into a running container, parent side.
//!
//! 1. Lower the [`Command`] as for a first program: argv and environment,
//!    working directory, descriptors (stdio the caller inherits is passed
//!    explicitly: the container's supervisor holds none of the caller's).
//! 2. Build the program part of a plan, with the container's identity,
//!    cgroup and confinement, and open the exec's channel.
//! 3. Send the supervisor an exec request with the plan's address, the
//!    channel's far end and the program's descriptors attached.
//! 4. Read the channel until the supervisor says `Running` or `Error`.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Instant;

use nix::sys::socket::{self, ControlMessage, MsgFlags, sockopt};

use super::argv;
use super::channel::{SetupReport, read_setup};
use super::diagnose;
use super::fds::Fds;
use crate::child::{Child, ChildStderr, ChildStdin, ChildStdout, Inner};
use crate::command::{Command, StdioKind};
use crate::compile::Compiled;
use crate::config::Config;
use crate::enforcement::Enforcement;
use crate::error::{ConfigError, Error, ParentOp};
use crate::namespaces::Namespaces;
use crate::record;
use crate::zone::plan::{ChildPlan, Shared};

/// What an exec needs of its container.
pub(crate) struct Target<'a> {
    pub(crate) cfg: &'a Config,
    pub(crate) compiled: &'a Compiled,
    /// The control channel (the caller's end of the report channel).
    pub(crate) control: BorrowedFd<'a>,
    /// Shared with the program processes, which have copies of the
    /// address space.
    pub(crate) shared: &'a Shared,
    /// The container has an init of the caller's, which mounted the
    /// cgroup tree if the policy asks for it; without one, the first exec
    /// mounts it.
    pub(crate) has_init: bool,
    /// The identity the program takes: the container's, or the one its
    /// command asked for (already checked).
    pub(crate) ids: super::ids::Switch,
    /// The leaf cgroup's directory and `cgroup.procs`, as the supervisor
    /// holds them (-1: none).
    pub(crate) cgroup_fds: (RawFd, RawFd),
    pub(crate) fallback_rlimits: &'a [(libc::c_int, libc::rlimit64)],
    pub(crate) enforcement: &'a Enforcement,
    pub(crate) use_clone3: bool,
}

/// Runs `cmd` in the container `t`.
pub(crate) fn exec(
    t: &Target<'_>,
    cmd: &mut Command,
    default_out: StdioKind,
    default_in: StdioKind,
) -> Result<Child, Error> {
    let cfg = t.cfg;
    let ns = cfg.namespaces;
    let (mut exec, search) = argv::exec_plan(cfg, cmd, t.compiled.home())?;
    for (key, value) in t.compiled.net.iter().flat_map(|n| &n.env) {
        argv::default_env(&mut exec, key, value);
    }
    let cwd = argv::working_dir(cmd, ns.contains(Namespaces::MOUNT))?;
    super::check_pty(cfg, cmd)?;
    let mut fds = Fds::plan(cmd, &default_out, &default_in)?;
    fds.pass_inherited();
    let (fd_plan, sources) = fds.exec_zone_plan();
    let max = crate::sys::raw::SCM_MAX_FD - 1;
    if sources.len() > max {
        return Err(ConfigError::TooManyFds {
            count: sources.len(),
            max,
        }
        .into());
    }
    let io_err = |op| {
        move |e: nix::Error| Error::Io {
            op,
            source: e.into(),
        }
    };
    let (mine, theirs) = socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::SeqPacket,
        None,
        socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io_err(ParentOp::CreateReportChannel))?;
    socket::setsockopt(&mine, sockopt::PassCred, &true)
        .map_err(io_err(ParentOp::CreateReportChannel))?;
    let compiled = t.compiled;
    let plan = ChildPlan {
        report_fd: -1,
        lifeline_fd: -1,
        caller_pidfd: -1,
        net: None,
        namespace_flags: 0,
        pid_ns: ns.contains(Namespaces::PID),
        id_maps: None,
        hostname: None,
        mounts: None,
        root_caller: false,
        system_trees: std::cell::Cell::new([-1; crate::fs::SYSTEM_SLOTS]),
        helper: Default::default(),
        use_clone3: t.use_clone3,
        program_stack: Default::default(),
        cgroup_fd: t.cgroup_fds.0,
        cgroup_kill_fd: -1,
        timeout_ns: compiled.timeout_ns,
        container: false,
        joins_container: true,
        program_is_init: false,
        shared: t.shared,
        proc_fd: -1,
        cgroup_procs_fd: if t.use_clone3 { -1 } else { t.cgroup_fds.1 },
        new_cgroup_ns: ns.contains(Namespaces::CGROUP),
        mount_cgroup: cfg.mount_cgroup && !t.has_init,
        mount_cgroup_read_only: cfg.mount_cgroup_read_only,
        console: false,
        new_time_ns: ns.contains(Namespaces::TIME),
        set_ids: t.ids.set_ids,
        keep_groups: t.ids.keep_groups,
        await_maps: false,
        cwd: cwd.0,
        cwd_in_root: ns.contains(Namespaces::MOUNT),
        cwd_required: cwd.1,
        fds: fd_plan,
        rlimits: &compiled.rlimits,
        fallback_rlimits: t.fallback_rlimits.to_vec(),
        caps: &compiled.caps,
        #[cfg(feature = "landlock")]
        landlock: compiled.landlock.as_ref().and_then(|l| l.rules()),
        #[cfg(feature = "seccomp")]
        seccomp: compiled.seccomp.as_ref(),
        #[cfg(feature = "seccomp")]
        seccomp_programs: &compiled.seccomp_programs,
        exec,
    };
    let request = record::exec_request(
        &plan as *const ChildPlan<'_> as u64,
        sources.len() as u32,
        fds.floor() as u32,
    );
    let mut attached: Vec<RawFd> = Vec::with_capacity(sources.len() + 1);
    attached.push(theirs.as_raw_fd());
    attached.extend_from_slice(&sources);
    let started = Instant::now();
    let iov = [std::io::IoSlice::new(&request)];
    let cmsg = [ControlMessage::ScmRights(&attached)];
    loop {
        match socket::sendmsg::<()>(
            t.control.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(_) => break,
            Err(nix::Error::EINTR) => {}
            Err(nix::Error::EPIPE | nix::Error::ECONNRESET | nix::Error::ENOTCONN) => {
                return Err(Error::ContainerEnded);
            }
            Err(e) => return Err(io_err(ParentOp::SendToContainer)(e)),
        }
    }
    // The request holds its own references to the descriptors it carries.
    drop(theirs);
    fds.close_child_side();
    // The supervisor reads the plan until it answers, or dies: only then
    // may the plan go.
    let mut pty = None;
    let denials = super::watch(cfg, compiled);
    let report = read_setup(mine.as_raw_fd(), &mut pty, denials.sink())?;
    let program_pid = match report {
        SetupReport::Running(pid) => pid,
        SetupReport::Failed(rec) => {
            let err = diagnose::setup_error(&rec, Some((cmd, &search)), &plan, compiled, ns);
            return Err(err);
        }
        SetupReport::Vanished => return Err(Error::ContainerEnded),
    };
    drop(plan);
    let mut enforcement = t.enforcement.clone();
    if cmd.user.is_some() {
        // The report says who this program runs as.
        (enforcement.uid, enforcement.gid) = (t.ids.uid, t.ids.gid);
    }
    let mut child = Child {
        stdin: fds.stdin.take().map(ChildStdin::from_owned),
        stdout: fds.stdout.take().map(ChildStdout::from_owned),
        stderr: fds.stderr.take().map(ChildStderr::from_owned),
        pty: pty.map(crate::pty::Pty::from_owned),
        inner: Inner::exec(
            program_pid.unwrap_or(0),
            mine,
            enforcement,
            cfg.kill_on_drop,
            compiled.cpu_limit_secs,
            started,
        ),
    };
    child.inner.denials = denials;
    Ok(child)
}
