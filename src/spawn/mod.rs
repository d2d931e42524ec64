//! The spawn protocol, parent side.
//!
//! 1. Validate and lower the [`Sandbox`] and [`Command`] into a [`ChildPlan`].
//! 2. Create the report socket, stdio pipes and the child stacks.
//! 3. `clone3(CLONE_VM | CLONE_PIDFD | namespaces)` the supervisor with all
//!    signals blocked (`clone` if `clone3` answers `ENOSYS`).
//! 4. Read the report socket until the supervisor says `Running` (the
//!    program has been executed), an `Error` record arrives, or it closes.
//!
//! The plan lives in this function's frame and the supervisor reads it until
//! step 4 completes; the [`SupervisorGuard`] makes sure that even a panic here
//! cannot free it under a running supervisor.

pub(crate) mod child;
pub(crate) mod plan;
pub(crate) mod template;

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, sockopt};

use crate::child::{Child, ChildStderr, ChildStdin, ChildStdout, ExitStatus, Inner};
use crate::command::{Command, StdioKind};
use crate::error::{
    ConfigError, Error, FdProblem, Field, IdKind, IdentityProblem, NamespaceProblem, ParentOp,
    SearchPath, Stage, Target, UsernsBlocker,
};
use crate::namespaces::{IdMapping, Namespaces};
use crate::record::{self, Record};
use crate::rlimit::Rlimit;
use crate::sandbox::{Compiled, Sandbox};
use crate::sys::clone::{self, CloneArgs, StackMap};
use plan::{ChildPlan, IdMaps};

/// Stack size of each child-zone process. Only touched pages are backed.
const STACK_SIZE: usize = 256 * 1024;

/// Environment variables that reach the program unless the caller opts into
/// the whole environment with [`Sandbox::inherit_env`].
pub const BASE_ENV: &[&str] = &["PATH", "HOME", "TERM", "LANG", "LC_ALL", "TZ"];

/// Search path used when the program's environment has no `PATH`.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// 0 = not probed, 1 = clone3 works, 2 = clone3 answers ENOSYS.
static CLONE3: AtomicU8 = AtomicU8::new(0);

/// Whether `clone3(2)` is usable (Linux 5.3, and not answered with `ENOSYS`
/// by a seccomp filter, as Docker's default profile does). Probed once with
/// an invalid call: a kernel that has clone3 rejects a zero size with
/// `EINVAL` before doing anything.
fn clone3_available() -> bool {
    match CLONE3.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // SAFETY: clone3 with a null argument and size 0 fails without
            // side effects (EINVAL, or ENOSYS where unavailable).
            let r = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
            let enosys = r == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS);
            CLONE3.store(if enosys { 2 } else { 1 }, Ordering::Relaxed);
            !enosys
        }
    }
}

/// The lifeline pipe: its write end stays open in this process (and closes
/// only when the process dies or executes another program); every supervisor
/// polls the read end and ends its sandbox on hang-up. Unlike
/// `PR_SET_PDEATHSIG`, this does not fire when the spawning thread exits.
fn lifeline() -> Result<BorrowedFd<'static>, Error> {
    static LIFELINE: OnceLock<(OwnedFd, OwnedFd)> = OnceLock::new();
    if let Some((r, _)) = LIFELINE.get() {
        return Ok(r.as_fd());
    }
    let pair = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::Io {
        op: ParentOp::CreateLifeline,
        source: e.into(),
    })?;
    // A concurrent initializer may win; its pipe is as good as ours.
    let (r, _) = LIFELINE.get_or_init(|| pair);
    Ok(r.as_fd())
}

/// Everything the parent must keep open until the clone has copied its
/// descriptor table, and the parent's ends of pipes.
#[derive(Default)]
struct Fds {
    /// Child-side descriptors: closed in the parent right after clone.
    child_side: Vec<OwnedFd>,
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
}

fn io_err(op: ParentOp) -> impl Fn(nix::Error) -> Error {
    move |e| Error::Io {
        op,
        source: e.into(),
    }
}

/// Lowers one stdio setting into an fd move (source, target) and the
/// parent's end of a pipe.
fn stdio(
    cfg: Option<&crate::Stdio>,
    default: &StdioKind,
    target: RawFd,
    fds: &mut Fds,
    moves: &mut Vec<(RawFd, RawFd)>,
) -> Result<Option<OwnedFd>, Error> {
    use nix::fcntl::OFlag;
    let kind = cfg.map(|s| &s.0).unwrap_or(default);
    match kind {
        StdioKind::Inherit => Ok(None),
        StdioKind::Null => {
            let fd = nix::fcntl::open(
                "/dev/null",
                OFlag::O_RDWR | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(io_err(ParentOp::OpenDevNull))?;
            moves.push((fd.as_raw_fd(), target));
            fds.child_side.push(fd);
            Ok(None)
        }
        StdioKind::Piped => {
            let (r, w) =
                nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io_err(ParentOp::CreatePipe))?;
            let (child, parent) = if target == 0 { (r, w) } else { (w, r) };
            moves.push((child.as_raw_fd(), target));
            fds.child_side.push(child);
            Ok(Some(parent))
        }
        StdioKind::Fd(fd) => {
            moves.push((fd.as_raw_fd(), target));
            Ok(None)
        }
    }
}

fn cstring(field: Field, s: &OsStr) -> Result<CString, Error> {
    CString::new(s.as_bytes()).map_err(|_| ConfigError::NulByte { field }.into())
}

/// Moves `fd` above `floor` if it is below, keeping it close-on-exec.
fn ensure_above(fd: OwnedFd, floor: RawFd) -> Result<OwnedFd, Error> {
    if fd.as_raw_fd() >= floor {
        return Ok(fd);
    }
    let dup = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(floor))
        .map_err(io_err(ParentOp::DuplicateFd))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Kills and reaps the supervisor if the parent leaves the spawn path before
/// the supervisor is done with the plan (an error or a panic).
struct SupervisorGuard<'a> {
    pidfd: BorrowedFd<'a>,
    armed: bool,
}

impl Drop for SupervisorGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = crate::child::pidfd_signal(self.pidfd, libc::SIGKILL);
            let _ = crate::child::pidfd_wait(self.pidfd, false);
        }
    }
}

/// What the report channel said.
enum Outcome {
    Running,
    Failed(Box<Record>),
    /// The supervisor closed the channel without a verdict (it crashed or
    /// was killed).
    Vanished,
}

fn read_reports(sock: BorrowedFd<'_>, program_pid: &mut Option<u32>) -> Result<Outcome, Error> {
    let mut buf = [0u8; record::RECORD_LEN];
    let mut cmsg = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
    loop {
        let mut iov = [io::IoSliceMut::new(&mut buf)];
        let msg = match socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::Error::EINTR) => continue,
            Err(e) => {
                return Err(Error::Io {
                    op: ParentOp::ReadReport,
                    source: e.into(),
                });
            }
        };
        let n = msg.bytes;
        let mut pid = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmCredentials(cred) = c {
                    pid = Some(cred.pid());
                }
            }
        }
        if n == 0 {
            return Ok(Outcome::Vanished);
        }
        let Some(rec) = Record::decode(buf.get(..n).unwrap_or(&[])) else {
            return Ok(Outcome::Vanished);
        };
        match rec.kind {
            record::KIND_RUNNING => {
                let from = if rec.flags & record::FLAG_PID_IN_CREDENTIALS != 0 {
                    pid
                } else {
                    Some(rec.value)
                };
                *program_pid = from.and_then(|p| u32::try_from(p).ok()).filter(|&p| p > 0);
                return Ok(Outcome::Running);
            }
            record::KIND_ERROR => return Ok(Outcome::Failed(Box::new(rec))),
            _ => return Ok(Outcome::Vanished),
        }
    }
}

fn read_sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Guesses what blocks unprivileged user namespaces on this host.
pub(crate) fn diagnose_userns() -> UsernsBlocker {
    if read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
    {
        return UsernsBlocker::AppArmor;
    }
    if read_sysctl("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return UsernsBlocker::MaxUserNamespacesZero;
    }
    if read_sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return UsernsBlocker::UnprivilegedUsernsCloneDisabled;
    }
    let in_container = Path::new("/.dockerenv").exists()
        || Path::new("/run/.containerenv").exists()
        || std::fs::read_to_string("/proc/1/cgroup").is_ok_and(|s| {
            s.contains("docker") || s.contains("containerd") || s.contains("kubepods")
        });
    if in_container {
        return UsernsBlocker::ContainerSeccomp;
    }
    UsernsBlocker::Unknown
}

/// Turns a child-side failure record into a typed error, naming the item from
/// the parent's plan.
fn setup_error(
    rec: &Record,
    cmd: &Command,
    plan: &ChildPlan,
    search: &SearchPath,
    compiled: &Compiled,
    userns: bool,
) -> Error {
    let errno = rec.errno;
    let source = io::Error::from_raw_os_error(errno);
    let Some(stage) = Stage::from_u32(rec.stage) else {
        return Error::Io {
            op: ParentOp::ReadReport,
            source: io::Error::from(io::ErrorKind::InvalidData),
        };
    };
    let candidate = |i: u32| -> PathBuf {
        plan.candidates
            .get(i as usize)
            .map(|c| PathBuf::from(OsStr::from_bytes(c.as_bytes())))
            .unwrap_or_else(|| PathBuf::from(&cmd.program))
    };
    match stage {
        Stage::Exec => {
            if rec.flags & record::FLAG_INTERPRETER != 0 {
                return Error::InterpreterNotFound {
                    script: candidate(rec.index),
                    interpreter: PathBuf::from(OsStr::from_bytes(rec.detail())),
                };
            }
            match errno {
                libc::ENOENT => Error::ProgramNotFound {
                    program: cmd.program.clone(),
                    searched: search.clone(),
                },
                libc::EISDIR => Error::IsADirectory {
                    path: candidate(rec.index),
                },
                _ => Error::NotExecutable {
                    path: candidate(rec.index),
                    source,
                },
            }
        }
        Stage::Chdir => Error::WorkingDirectory {
            path: plan
                .cwd
                .as_ref()
                .map(|c| PathBuf::from(OsStr::from_bytes(c.as_bytes())))
                .unwrap_or_default(),
            source,
        },
        Stage::SetGroups | Stage::UidMap | Stage::GidMap if userns && errno == libc::EPERM => {
            Error::UserNamespaceDenied {
                cause: diagnose_userns(),
                source,
            }
        }
        Stage::RootMount | Stage::MountOp | Stage::PivotRoot if errno == libc::ENOSYS => {
            // fsopen, open_tree, move_mount, mount_setattr or openat2 is
            // missing: a kernel before 5.12, or a filter that answers
            // unknown system calls with ENOSYS.
            Error::Unsupported(crate::error::Unsupported {
                feature: crate::error::Feature::MountApi,
                reason: if kernel_at_least(5, 12) {
                    crate::error::UnsupportedReason::Blocked
                } else {
                    crate::error::UnsupportedReason::Kernel
                },
            })
        }
        Stage::MountOp => {
            let target = compiled
                .mounts
                .as_ref()
                .and_then(|m| m.origin.get(rec.index as usize))
                .map(|(index, dest)| Target::MountOp {
                    index: *index,
                    dest: dest.clone(),
                });
            crate::error::ChildSetupError {
                stage,
                target,
                source,
            }
            .into()
        }
        Stage::Fds => crate::error::ChildSetupError {
            stage,
            target: Some(Target::Fd(rec.index as i32)),
            source,
        }
        .into(),
        Stage::Rlimit => {
            let name = compiled
                .rlimit_names
                .get(rec.index as usize)
                .copied()
                .or_else(|| {
                    let res = plan.rlimits.get(rec.index as usize)?.0;
                    Rlimit::all()
                        .find(|r| r.resource() == res)
                        .map(Rlimit::name)
                })
                .unwrap_or("?");
            crate::error::ChildSetupError {
                stage,
                target: Some(Target::Rlimit(name)),
                source,
            }
            .into()
        }
        #[cfg(feature = "landlock")]
        Stage::Landlock => crate::error::ChildSetupError {
            stage,
            target: compiled.landlock.as_ref().and_then(|l| l.target(rec.index)),
            source,
        }
        .into(),
        _ => crate::error::ChildSetupError {
            stage,
            target: None,
            source,
        }
        .into(),
    }
}

/// Runs `f` with every signal blocked in the calling thread: a process
/// cloned with `CLONE_VM` must not run the caller's handlers on its stack.
pub(crate) fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
    let mut old = SigSet::empty();
    let _ = pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old),
    );
    let r = f();
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    r
}

/// Whether the running kernel's release is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let Some(release) = read_sysctl("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

/// Validates the command's passed descriptors.
fn check_fd_targets(cmd: &Command) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for (t, _) in &cmd.fds {
        if *t < 0 {
            return Err(ConfigError::FdTarget {
                fd: *t,
                reason: FdProblem::Negative,
            });
        }
        if *t < 3 {
            return Err(ConfigError::FdTarget {
                fd: *t,
                reason: FdProblem::Stdio,
            });
        }
        if !seen.insert(*t) {
            return Err(ConfigError::FdTarget {
                fd: *t,
                reason: FdProblem::Duplicate,
            });
        }
    }
    Ok(())
}

/// The environment the program starts with.
fn environment(sb: &Sandbox, cmd: &Command) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = BTreeMap::new();
    if !cmd.env_clear {
        if sb.cfg.inherit_env {
            env.extend(std::env::vars_os());
        } else {
            for k in BASE_ENV {
                if let Some(v) = std::env::var_os(k) {
                    env.insert(OsString::from(k), v);
                }
            }
        }
    }
    for (k, v) in &cmd.env {
        match v {
            Some(v) => {
                env.insert(k.clone(), v.clone());
            }
            None => {
                env.remove(k);
            }
        }
    }
    env
}

/// Spawns `cmd` in the sandbox `sb`. See [`Sandbox::spawn`].
pub(crate) fn spawn(
    sb: &Sandbox,
    cmd: &mut Command,
    default_out: StdioKind,
    default_in: StdioKind,
) -> Result<Child, Error> {
    let compiled = sb.compiled()?;
    let cfg = &sb.cfg;
    let ns = cfg.namespaces;
    if ns.contains(Namespaces::TIME) && !cfg.probing && !program_enters_time_ns() {
        // Debian's 6.1, for one, would leave the program in our time
        // namespace (and fail its vforks).
        return Err(Error::Unsupported(crate::error::Unsupported {
            feature: crate::error::Feature::TimeNamespace,
            reason: crate::error::UnsupportedReason::Kernel,
        }));
    }
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    let userns = ns.contains(Namespaces::USER);

    // ---- Validation that depends on the caller or the command ----
    if !userns && euid != 0 && !(ns - Namespaces::USER).is_empty() {
        return Err(ConfigError::Namespaces {
            reason: NamespaceProblem::NeedsUserNamespace,
        }
        .into());
    }
    for (kind, id) in [(IdKind::Uid, cfg.uid), (IdKind::Gid, cfg.gid)] {
        if let Some(id) = id {
            if id == u32::MAX {
                return Err(ConfigError::Identity {
                    kind,
                    id,
                    reason: IdentityProblem::Invalid,
                }
                .into());
            }
            if !userns && euid != 0 {
                return Err(ConfigError::Identity {
                    kind,
                    id,
                    reason: IdentityProblem::NeedsUserNamespaceOrRoot,
                }
                .into());
            }
        }
    }
    check_fd_targets(cmd)?;

    // ---- Program, arguments, environment ----
    let mut strings: Vec<CString> = Vec::with_capacity(cmd.args.len() + 16);
    let mut argv: Vec<*const libc::c_char> = Vec::with_capacity(cmd.args.len() + 2);
    let arg0 = cstring(Field::Arg(0), cmd.arg0.as_deref().unwrap_or(&cmd.program))?;
    argv.push(arg0.as_ptr());
    strings.push(arg0);
    for (i, a) in cmd.args.iter().enumerate() {
        let c = cstring(Field::Arg(i + 1), a)?;
        argv.push(c.as_ptr());
        strings.push(c);
    }
    argv.push(std::ptr::null());

    let env = environment(sb, cmd);
    let mut envp: Vec<*const libc::c_char> = Vec::with_capacity(env.len() + 1);
    for (k, v) in &env {
        if k.is_empty()
            || k.as_bytes().contains(&b'=')
            || k.as_bytes().contains(&0)
            || v.as_bytes().contains(&0)
        {
            return Err(ConfigError::NulByte {
                field: Field::Env(k.clone()),
            }
            .into());
        }
        let mut kv = Vec::with_capacity(k.len() + v.len() + 2);
        kv.extend_from_slice(k.as_bytes());
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        let c = CString::new(kv).map_err(|_| ConfigError::NulByte {
            field: Field::Env(k.clone()),
        })?;
        envp.push(c.as_ptr());
        strings.push(c);
    }
    envp.push(std::ptr::null());

    let program = cmd.program.as_bytes();
    if program.contains(&0) {
        return Err(ConfigError::NulByte {
            field: Field::Program,
        }
        .into());
    }
    let (candidates, search) = if program.contains(&b'/') || program.is_empty() {
        (
            vec![CString::new(program).unwrap_or_default()],
            SearchPath::Literal,
        )
    } else {
        let path = env
            .get(OsStr::new("PATH"))
            .cloned()
            .unwrap_or_else(|| OsString::from(DEFAULT_PATH));
        let mut c = Vec::new();
        for dir in path.as_bytes().split(|b| *b == b':') {
            let mut p = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            p.push(b'/');
            p.extend_from_slice(program);
            if let Ok(s) = CString::new(p) {
                c.push(s);
            }
        }
        (c, SearchPath::Path(path))
    };

    // ---- Working directory ----
    let mount_ns = ns.contains(Namespaces::MOUNT);
    let (cwd, cwd_required) = match &cmd.cwd {
        Some(d) => (Some(cstring(Field::CurrentDir, d.as_os_str())?), true),
        None if mount_ns => (
            std::env::current_dir()
                .ok()
                .and_then(|d| CString::new(d.as_os_str().as_bytes()).ok()),
            false,
        ),
        None => (None, false),
    };

    // ---- Descriptors ----
    let mut fds = Fds::default();
    let mut moves: Vec<(RawFd, RawFd)> = Vec::with_capacity(3 + cmd.fds.len());
    fds.stdin = stdio(cmd.stdin.as_ref(), &default_in, 0, &mut fds, &mut moves)?;
    fds.stdout = stdio(cmd.stdout.as_ref(), &default_out, 1, &mut fds, &mut moves)?;
    fds.stderr = stdio(cmd.stderr.as_ref(), &default_out, 2, &mut fds, &mut moves)?;
    for (t, fd) in &cmd.fds {
        moves.push((fd.as_raw_fd(), *t));
    }
    let max_target = moves.iter().map(|m| m.1).max().unwrap_or(2);
    let floor = max_target + 1;

    let (report_parent, report_child) = socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::SeqPacket,
        None,
        socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io_err(ParentOp::CreateReportChannel))?;
    socket::setsockopt(&report_parent, sockopt::PassCred, &true)
        .map_err(io_err(ParentOp::CreateReportChannel))?;
    let report_child = ensure_above(report_child, floor)?;

    let lifeline_fd = if cfg.die_with_parent {
        let l = lifeline()?;
        if l.as_raw_fd() < floor {
            let dup = ensure_above(
                l.try_clone_to_owned().map_err(|e| Error::Io {
                    op: ParentOp::DuplicateFd,
                    source: e,
                })?,
                floor,
            )?;
            let raw = dup.as_raw_fd();
            fds.child_side.push(dup);
            raw
        } else {
            l.as_raw_fd()
        }
    } else {
        -1
    };

    let targets: std::collections::HashSet<RawFd> = moves.iter().map(|m| m.1).collect();
    let fd_via_temp = moves.iter().any(|(s, d)| s != d && targets.contains(s));
    let max_src = moves.iter().map(|m| m.0).max().unwrap_or(0);
    let fd_temp_base = max_src
        .max(max_target)
        .max(report_child.as_raw_fd())
        .max(lifeline_fd)
        + 1;
    let mut keep_fds: Vec<RawFd> = targets.iter().copied().filter(|t| *t >= 3).collect();
    keep_fds.sort_unstable();

    // ---- Identity ----
    let (id_maps, set_ids, uid_report, gid_report) = if userns {
        let uid = cfg.uid.unwrap_or(euid);
        let gid = cfg.gid.unwrap_or(egid);
        (
            Some(IdMaps {
                uid_map: format!("{uid} {euid} 1\n").into_bytes(),
                gid_map: format!("{gid} {egid} 1\n").into_bytes(),
            }),
            None,
            Some(IdMapping {
                inside: uid,
                outside: euid,
            }),
            Some(IdMapping {
                inside: gid,
                outside: egid,
            }),
        )
    } else if cfg.uid.is_some() || cfg.gid.is_some() {
        let uid = cfg.uid.unwrap_or(euid);
        let gid = cfg.gid.unwrap_or(egid);
        (
            None,
            Some((uid, gid)),
            Some(IdMapping {
                inside: uid,
                outside: uid,
            }),
            Some(IdMapping {
                inside: gid,
                outside: gid,
            }),
        )
    } else {
        (None, None, None, None)
    };

    let use_clone3 = clone3_available();
    // The static part of the root filesystem, built once per policy (see
    // the template module); it needs clone3 for CLONE_PARENT with a pidfd.
    let template = match &compiled.mounts {
        Some(m) if userns && use_clone3 => compiled.template.get(m, euid, egid),
        _ => None,
    };
    // The supervisor's, the program's, and the template helper's (used
    // only with a template; the set comes from a pool, so one shape for all
    // spawns costs only address space).
    let stacks = StackMap::pooled(3, STACK_SIZE).map_err(|e| Error::Io {
        op: ParentOp::MapStack,
        source: e,
    })?;
    let flags = libc::CLONE_VM as u64 | libc::CLONE_PIDFD as u64 | ns.supervisor_clone_flags();
    let mut pidfd: libc::c_int = -1;

    // ---- cgroup: created and limited before clone, removed by `Drop` on
    // every error path below ----
    let cg = crate::cgroup::prepare_reported(&cfg.cgroup)?;
    let cg_fds = cg.cgroup.as_ref().map(|c| c.placement(use_clone3));
    let mut rlimits = compiled.rlimits.clone();
    let rlimit_fallbacks =
        crate::cgroup::rlimit_fallbacks(&cfg.cgroup, cg.report.as_ref(), &cfg.rlimits);
    for &(r, v) in &rlimit_fallbacks {
        let lim = libc::rlimit64 {
            rlim_cur: v,
            rlim_max: v,
        };
        rlimits.push((r.resource(), lim));
    }

    let mut plan = ChildPlan {
        report_fd: report_child.as_raw_fd(),
        lifeline_fd,
        pid_ns: ns.contains(Namespaces::PID),
        id_maps,
        hostname: cfg.hostname.as_ref().map(|h| h.as_bytes().to_vec()),
        mounts: compiled.mounts.clone(),
        helper: template.as_ref().map(|t| plan::HelperArgs {
            user_ns: t.user.as_raw_fd(),
            mnt_ns: t.mnt.as_raw_fd(),
            host_proc: t.host_proc.as_raw_fd(),
            flags,
            pidfd_out: &mut pidfd as *mut libc::c_int as u64,
            stack: stacks.stack(0, STACK_SIZE),
        }),
        use_clone3,
        program_stack: stacks.stack(1, STACK_SIZE),
        cgroup_fd: cg_fds.as_ref().map_or(-1, |f| f.clone_into),
        cgroup_kill_fd: cg_fds.as_ref().map_or(-1, |f| f.kill),
        timeout_ns: cfg
            .timeout
            .map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)),
        shared: child::Shared::new(),
        cgroup_procs_fd: cg_fds.as_ref().map_or(-1, |f| f.procs),
        new_cgroup_ns: ns.contains(Namespaces::CGROUP),
        new_time_ns: ns.contains(Namespaces::TIME),
        set_ids,
        cwd,
        cwd_in_root: mount_ns,
        cwd_required,
        fd_moves: moves,
        fd_via_temp,
        fd_temp_base,
        keep_fds,
        rlimits,
        caps: compiled.caps,
        #[cfg(feature = "landlock")]
        landlock: compiled.landlock.clone(),
        #[cfg(feature = "seccomp")]
        seccomp: compiled
            .seccomp
            .clone()
            .map(crate::seccomp::ChildProgram::new),
        argv,
        envp,
        candidates,
        _strings: strings,
    };

    // ---- Clone ----
    let started = std::time::Instant::now();
    let (sup_lo, sup_size) = stacks.stack(0, STACK_SIZE);
    if plan.helper.is_some() {
        let (lo, size) = stacks.stack(2, STACK_SIZE);
        let args = CloneArgs {
            flags: (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES) as u64,
            exit_signal: 0,
            stack: lo as u64,
            stack_size: size as u64,
            ..CloneArgs::default()
        };
        let arg = &plan as *const ChildPlan as *mut libc::c_void;
        let r = with_signals_blocked(|| {
            // SAFETY: the helper runs on its own region of `stacks` and
            // CLONE_VFORK suspends us until it has exited; the supervisor
            // it clones has the same guarantees as the one cloned below
            // (its pidfd lands in our table, through CLONE_FILES, and in
            // `pidfd`); the entry point follows the child-zone rules.
            unsafe {
                clone::clone3(
                    &args,
                    std::mem::size_of::<CloneArgs>(),
                    child::helper_entry,
                    arg,
                )
            }
        });
        if let Ok(pid) = r {
            let _ = template::reap(pid as i32);
        }
        // The helper's last step has the kernel store the supervisor's
        // pidfd, behind the compiler's back.
        // SAFETY: a plain read of a live local.
        pidfd = unsafe { std::ptr::read_volatile(&pidfd) };
        if pidfd < 0 {
            // Build the whole plan in this spawn, and in the next ones.
            compiled.template.disable();
            plan.helper = None;
        }
    }
    let arg = &plan as *const ChildPlan as *mut libc::c_void;

    // Every signal blocked: the supervisor inherits this mask and must not
    // run the caller's handlers on its stack before it has reset them.
    let r = with_signals_blocked(|| {
        if plan.helper.is_some() {
            Ok(0)
        } else if use_clone3 {
            let args = CloneArgs {
                flags,
                pidfd: &mut pidfd as *mut libc::c_int as u64,
                exit_signal: 0,
                stack: sup_lo as u64,
                stack_size: sup_size as u64,
                ..CloneArgs::default()
            };
            // SAFETY: the supervisor stack is part of `stacks`, which is kept
            // alive until the supervisor has been reaped (moved into the
            // Child, or dropped after the guard reaps it); `plan` outlives
            // its use by the supervisor (we wait for Running/Error/EOF
            // below, and the guard reaps the supervisor on every other exit
            // path); the entry point follows the child-zone rules.
            unsafe {
                clone::clone3(
                    &args,
                    std::mem::size_of::<CloneArgs>(),
                    child::supervisor_entry,
                    arg,
                )
            }
        } else {
            let top = sup_lo.wrapping_add(sup_size);
            // SAFETY: as above, for the legacy system call; CLONE_PIDFD
            // stores the pidfd through the parent_tid pointer.
            unsafe { clone::clone_legacy(flags, top, &mut pidfd, child::supervisor_entry, arg) }
        }
    });

    match r {
        Ok(_) => {}
        Err(e) => {
            let source = e.into_io();
            if userns && matches!(e.0, libc::EPERM | libc::ENOSPC | libc::EUSERS) {
                return Err(Error::UserNamespaceDenied {
                    cause: diagnose_userns(),
                    source,
                });
            }
            return Err(Error::Io {
                op: ParentOp::Clone,
                source,
            });
        }
    }
    // SAFETY: CLONE_PIDFD stored a new descriptor we own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let mut guard = SupervisorGuard {
        pidfd: pidfd.as_fd(),
        armed: true,
    };

    // The children copied their descriptor tables at clone.
    drop(report_child);
    drop(std::mem::take(&mut fds.child_side));

    let mut program_pid = None;
    let outcome = read_reports(report_parent.as_fd(), &mut program_pid)?;
    match outcome {
        Outcome::Running => {}
        Outcome::Failed(rec) => {
            // The supervisor exits on its own after reporting; the guard
            // reaps it before the plan and stacks go.
            return Err(setup_error(&rec, cmd, &plan, &search, &compiled, userns));
        }
        Outcome::Vanished => {
            guard.armed = false;
            let status = crate::child::pidfd_wait(pidfd.as_fd(), false)
                .ok()
                .flatten();
            let msg = match status {
                Some(s) => format!("sandbox supervisor ended during setup ({s})"),
                None => "sandbox supervisor ended during setup".to_owned(),
            };
            return Err(Error::Io {
                op: ParentOp::ReadReport,
                source: io::Error::other(msg),
            });
        }
    }
    guard.armed = false;
    drop(guard);
    let from_template = plan.helper.is_some();
    drop(plan);

    let enforcement = crate::enforcement::Enforcement {
        namespaces: ns,
        uid: uid_report,
        gid: gid_report,
        filesystem: compiled.mounts.is_some(),
        filesystem_template: from_template,
        cgroup: cg.report,
        rlimit_fallbacks: rlimit_fallbacks.iter().map(|f| f.0).collect(),
        #[cfg(feature = "landlock")]
        landlock: compiled.landlock.as_ref().map(|l| l.report().clone()),
        #[cfg(feature = "landlock")]
        landlock_mirrors_fs: cfg.landlock_mirror_fs,
        #[cfg(feature = "seccomp")]
        seccomp: compiled.seccomp.as_ref().map(|f| f.report().clone()),
        net_filter: cfg.net_filter,
    };
    Ok(Child {
        stdin: fds.stdin.take().map(ChildStdin::from_owned),
        stdout: fds.stdout.take().map(ChildStdout::from_owned),
        stderr: fds.stderr.take().map(ChildStderr::from_owned),
        inner: Inner {
            pidfd,
            program_pid: program_pid.unwrap_or(0),
            report: report_parent,
            stacks: Some(stacks),
            status: None::<ExitStatus>,
            enforcement,
            kill_on_drop: cfg.kill_on_drop,
            pid_ns: ns.contains(Namespaces::PID),
            cpu_limit_secs: cfg.rlimits.get(&Rlimit::Cpu).map(|l| l.0),
            started,
            kill_requested: false,
            outcome: None,
            cgroup: cg.cgroup,
        },
    })
}

/// Whether a program executed in a new time namespace really is in it.
///
/// Kernels that do not switch a process into its time namespace at exec
/// leave it in the caller's. The answer comes from a one-time probe: a shell
/// that writes a line and then blocks reading its stdin. Once its line has
/// arrived the shell is certainly past exec, so its namespace is final;
/// looking any earlier would race with exec, which releases the supervisor
/// (by closing the close-on-exec error pipe) before it switches the
/// namespace. Without a shell to probe with, the answer is no.
fn program_enters_time_ns() -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| {
        use std::io::Read as _;
        let mut sb = Sandbox::new();
        sb.namespaces(Namespaces::USER | Namespaces::TIME);
        sb.cfg.probing = true;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg("echo ready; read x")
            .stdin(crate::Stdio::piped())
            .stdout(crate::Stdio::piped())
            .stderr(crate::Stdio::null());
        match spawn(&sb, &mut cmd, StdioKind::Null, StdioKind::Null) {
            Err(_) => false,
            Ok(mut child) => {
                let mut byte = [0u8; 1];
                let past_exec = child
                    .stdout
                    .as_mut()
                    .is_some_and(|out| matches!(out.read(&mut byte), Ok(1)));
                let entered = past_exec && differs_from_ours(child.id()).unwrap_or(false);
                let _ = child.kill();
                let _ = child.wait();
                entered
            }
        }
    })
}

/// Whether process `pid` is in a time namespace other than ours; `None` if
/// it cannot be told (the process is gone).
fn differs_from_ours(pid: u32) -> Option<bool> {
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/time")).ok()?;
    let ours = std::fs::read_link("/proc/self/ns/time").ok()?;
    Some(theirs != ours)
}
