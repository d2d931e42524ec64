//! The child zone: everything that runs between clone and exec.
//!
//! Two processes run this code, both in the caller's address space
//! (`CLONE_VM`) and on stacks of their own, concurrently with the caller's
//! other threads:
//!
//! * the **supervisor** sets up what the namespaces share (id maps, hostname,
//!   the root filesystem), clones the program process, and then stays as the
//!   sandbox's init: it reaps orphans, forwards signals to the program, dies
//!   with the caller (lifeline pipe), and finally reports the program's wait
//!   status;
//! * the **program** process arranges what is per-process (cgroup,
//!   descriptors, limits, credentials, Landlock, seccomp) and executes the
//!   program.
//!
//! Rules for this module (the same rule std follows before `execvp`): only raw
//! system calls (`crate::sys::raw`) over data the parent built; no allocation,
//! no locks, no panics, no unwinding, no thread-locals. The lints below fence
//! the obvious panic sources.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use super::plan::ChildPlan;
use crate::error::Stage;
use crate::record::{self, Record};
use crate::sys::clone::{self, CloneArgs};
use crate::sys::raw::{self, Errno};

/// A failed setup step: which, on what item, and the kernel's answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fail {
    pub(crate) stage: Stage,
    pub(crate) index: u32,
    pub(crate) errno: Errno,
    pub(crate) flags: u32,
}

impl Fail {
    pub(crate) fn new(stage: Stage, index: u32, errno: Errno) -> Fail {
        Fail {
            stage,
            index,
            errno,
            flags: 0,
        }
    }

    fn record(&self) -> Record {
        let mut r = Record::new(record::KIND_ERROR);
        r.stage = self.stage as u32;
        r.index = self.index;
        r.errno = self.errno.0;
        r.flags = self.flags;
        r
    }
}

pub(crate) type Step<T = ()> = Result<T, Fail>;

/// Attaches a stage to a raw system call result.
pub(crate) trait StepExt<T> {
    fn at(self, stage: Stage, index: u32) -> Step<T>;
}

impl<T> StepExt<T> for Result<T, Errno> {
    fn at(self, stage: Stage, index: u32) -> Step<T> {
        self.map_err(|e| Fail::new(stage, index, e))
    }
}

/// State the supervisor and the program process share while setting up.
/// Lives inside the plan; only the fields here are written after clone.
pub(crate) struct Shared {
    /// The pid the program process must see as its parent.
    pub(crate) expected_ppid: AtomicI32,
    /// Set (release) by the program process after writing `error`.
    pub(crate) failed: AtomicU32,
    /// The program process's failure record.
    pub(crate) error: UnsafeCell<Record>,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            expected_ppid: AtomicI32::new(0),
            failed: AtomicU32::new(0),
            error: UnsafeCell::new(Record::new(record::KIND_ERROR)),
        }
    }
}

const SIGSET_ALL: u64 = !0;

fn sigbit(sig: c_int) -> u64 {
    1u64.checked_shl((sig as u32).wrapping_sub(1)).unwrap_or(0)
}

fn send(fd: c_int, rec: &Record) {
    // Nothing useful can be done if the parent is gone.
    let _ = raw::send(fd, &rec.to_bytes());
}

// ---------------------------------------------------------------------------
// Supervisor
// ---------------------------------------------------------------------------

/// Entry point of the supervisor.
///
/// # Safety
/// `arg` points to the `ChildPlan` of the spawning parent, which keeps it
/// alive until the supervisor reports `Running` or an error, or has exited.
pub(crate) unsafe extern "C" fn supervisor_entry(arg: *mut c_void) -> c_int {
    // SAFETY: guaranteed by the caller (see above); only shared references
    // are created, and the plan's only mutable state is behind atomics and
    // UnsafeCell.
    let plan = unsafe { &*(arg as *const ChildPlan) };
    supervisor(plan)
}

fn supervisor(plan: &ChildPlan) -> c_int {
    if let Err(f) = supervisor_setup(plan) {
        send(plan.report_fd, &f.record());
        return 1;
    }
    let start_ns = raw::monotonic_ns();
    let program = match clone_program(plan) {
        Ok(pid) => pid,
        Err(f) => {
            send(plan.report_fd, &f.record());
            return 1;
        }
    };
    // CLONE_VFORK: the program process has now either executed the program
    // or given up.
    if plan.shared.failed.load(Ordering::Acquire) != 0 {
        // SAFETY: the program process wrote `error` before the release store
        // observed above, and has stopped running our code.
        let rec = unsafe { *plan.shared.error.get() };
        send(plan.report_fd, &rec);
        let mut st = 0;
        let _ = raw::wait4(program, &mut st, libc::__WALL, None);
        return 1;
    }
    let ctx = InitCtx {
        report_fd: plan.report_fd,
        lifeline_fd: plan.lifeline_fd,
        program,
        pid_ns: plan.pid_ns,
        cgroup_kill_fd: plan.cgroup_kill_fd,
        start_ns,
        deadline_ns: if plan.timeout_ns == 0 {
            0
        } else {
            start_ns.saturating_add(plan.timeout_ns)
        },
    };
    send_running(&ctx);
    // The parent may free the plan from here on: only `ctx` is used below.
    init_loop(ctx)
}

/// Reports `Running` with the program's pid, in the parent's terms. Without
/// a pid namespace our pid numbers are the parent's. In one, the kernel
/// translates the pid of `SCM_CREDENTIALS` for the receiver; as the
/// namespace's init we may name another process in it there.
fn send_running(ctx: &InitCtx) {
    let mut rec = Record::new(record::KIND_RUNNING);
    if !ctx.pid_ns {
        rec.value = ctx.program;
        send(ctx.report_fd, &rec);
        return;
    }
    rec.flags = record::FLAG_PID_IN_CREDENTIALS;
    if raw::send_as(ctx.report_fd, &rec.to_bytes(), ctx.program).is_err() {
        // The pid stays unknown to the parent; the sandbox runs.
        rec.flags = 0;
        send(ctx.report_fd, &rec);
    }
}

pub(crate) fn write_file(dir: c_int, path: &core::ffi::CStr, data: &[u8], stage: Stage) -> Step {
    let fd = raw::openat(dir, path, libc::O_WRONLY | libc::O_CLOEXEC, 0).at(stage, 0)? as c_int;
    let r = raw::write(fd, data);
    let _ = raw::close(fd);
    match r {
        Ok(n) if n == data.len() => Ok(()),
        Ok(_) => Err(Fail::new(stage, 0, Errno(libc::EIO))),
        Err(e) => Err(Fail::new(stage, 0, e)),
    }
}

fn supervisor_setup(plan: &ChildPlan) -> Step {
    if let Some(m) = &plan.id_maps {
        // An unprivileged process may map only its own ids, and only after
        // giving up setgroups(2).
        // In a copy of a template, the root holds no /proc of ours yet: the
        // caller's, opened when the template was built, stands in.
        let (dir, [setgroups, uid_map, gid_map]) = match &plan.helper {
            Some(h) => (
                h.host_proc,
                [c"self/setgroups", c"self/uid_map", c"self/gid_map"],
            ),
            None => (
                libc::AT_FDCWD,
                [
                    c"/proc/self/setgroups",
                    c"/proc/self/uid_map",
                    c"/proc/self/gid_map",
                ],
            ),
        };
        write_file(dir, setgroups, b"deny", Stage::SetGroups)?;
        write_file(dir, uid_map, &m.uid_map, Stage::UidMap)?;
        write_file(dir, gid_map, &m.gid_map, Stage::GidMap)?;
    }
    if !plan.pid_ns {
        // Without a pid namespace, orphans of the program come to us.
        raw::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0).at(Stage::Subreaper, 0)?;
    }
    raw::setsid().at(Stage::Setsid, 0)?;
    if let Some(h) = &plan.hostname {
        raw::sethostname(h).at(Stage::Hostname, 0)?;
    }
    if let Some(m) = &plan.mounts {
        // Modes given in the plan are exact; the caller's umask comes back
        // before the program process is created.
        let old = raw::umask(0);
        let r = match (&plan.helper, &m.template) {
            (Some(_), Some(split)) => crate::rootfs::child::build_spawn(m, split),
            _ => crate::rootfs::child::build(m),
        };
        raw::umask(old);
        r?;
    }
    Ok(())
}

/// Entry point of the helper that enters a policy's template namespaces and
/// clones the supervisor there, as the caller's child (`CLONE_PARENT`). Its
/// exit status is 0, or the errno of the step that failed.
///
/// # Safety
/// As for [`supervisor_entry`]; `plan.helper` is set.
pub(crate) unsafe extern "C" fn helper_entry(arg: *mut c_void) -> c_int {
    // SAFETY: guaranteed by the caller (see above).
    let plan = unsafe { &*(arg as *const ChildPlan) };
    let Some(h) = &plan.helper else {
        return libc::EINVAL;
    };
    if let Err(Errno(e)) = raw::setns(h.user_ns, libc::CLONE_NEWUSER) {
        return e;
    }
    if let Err(Errno(e)) = raw::setns(h.mnt_ns, libc::CLONE_NEWNS) {
        return e;
    }
    let args = CloneArgs {
        flags: h.flags | libc::CLONE_PARENT as u64,
        pidfd: h.pidfd_out,
        exit_signal: 0,
        stack: h.stack.0 as u64,
        stack_size: h.stack.1 as u64,
        ..CloneArgs::default()
    };
    // SAFETY: the same contract as the caller's own clone of the supervisor
    // (see spawn::spawn): the stack and the plan outlive the supervisor's use
    // of them, and the entry point follows the child-zone rules.
    match unsafe {
        clone::clone3(
            &args,
            core::mem::size_of::<CloneArgs>(),
            supervisor_entry,
            arg,
        )
    } {
        Ok(_) => 0,
        Err(Errno(e)) => e,
    }
}

fn clone_program(plan: &ChildPlan) -> Step<i32> {
    let me = if plan.pid_ns { 1 } else { raw::getpid() };
    plan.shared.expected_ppid.store(me, Ordering::Relaxed);
    let (lo, size) = plan.program_stack;
    let arg = plan as *const ChildPlan as *mut c_void;
    let flags = (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
    let r = if plan.use_clone3 {
        let mut args = CloneArgs {
            flags,
            exit_signal: libc::SIGCHLD as u64,
            stack: lo as u64,
            stack_size: size as u64,
            ..CloneArgs::default()
        };
        if plan.cgroup_fd >= 0 {
            args.flags |= clone::CLONE_INTO_CGROUP;
            args.cgroup = plan.cgroup_fd as u64;
        }
        // SAFETY: the program stack is a dedicated region of the stack
        // mapping, which outlives the program process's use of it (the
        // parent unmaps it only after the supervisor is reaped); the entry
        // point follows the child-zone rules; `plan` outlives the program
        // process's use of it because CLONE_VFORK suspends us until it execs
        // or exits, and the parent waits for us.
        unsafe { clone::clone3(&args, core::mem::size_of::<CloneArgs>(), program_entry, arg) }
    } else {
        let top = lo.wrapping_add(size);
        // SAFETY: as above, for the legacy system call.
        unsafe {
            clone::clone_legacy(
                flags | libc::SIGCHLD as u64,
                top,
                core::ptr::null_mut(),
                program_entry,
                arg,
            )
        }
    };
    r.map(|pid| pid as i32).at(Stage::CloneProgram, 0)
}

/// What the init loop needs; copied out of the plan before `Running`.
#[derive(Clone, Copy)]
struct InitCtx {
    report_fd: c_int,
    lifeline_fd: c_int,
    program: i32,
    pid_ns: bool,
    cgroup_kill_fd: c_int,
    /// Monotonic time just before the program process was created.
    start_ns: u64,
    /// Monotonic deadline of the wall-clock timeout (0: none).
    deadline_ns: u64,
}

/// Closes every descriptor except those in `keep` (sorted ascending).
fn close_all_except(keep: &[c_int]) {
    let mut lo: u32 = 0;
    for &k in keep {
        if k < 0 {
            continue;
        }
        let k = k as u32;
        if k > lo {
            let _ = raw::close_range(lo, k.wrapping_sub(1), 0);
        }
        lo = k.wrapping_add(1);
    }
    let _ = raw::close_range(lo, u32::MAX, 0);
}

/// Kills everything the sandbox started.
fn teardown_tree(ctx: &InitCtx) {
    if ctx.cgroup_kill_fd >= 0 {
        let _ = raw::write(ctx.cgroup_kill_fd, b"1");
    }
    if ctx.pid_ns {
        // As the pid namespace's init, -1 means every other process in the
        // namespace, and nothing outside it.
        let _ = raw::kill(-1, libc::SIGKILL);
    } else {
        // Never kill(-1) here: without a pid namespace it would reach every
        // process of the caller's uid. The program's process group (it is a
        // session leader), then the program itself.
        let _ = raw::kill(ctx.program.wrapping_neg(), libc::SIGKILL);
        let _ = raw::kill(ctx.program, libc::SIGKILL);
    }
}

/// What the init loop accumulates.
struct Tally {
    status: Option<c_int>,
    end_ns: u64,
    info: record::ExitInfo,
}

fn timeval_us(t: &libc::timeval) -> u64 {
    (t.tv_sec as u64)
        .wrapping_mul(1_000_000)
        .wrapping_add(t.tv_usec as u64)
}

/// Reaps every child that has exited, accounting their resource usage.
/// Returns false once no child is left at all.
fn reap(ctx: &InitCtx, tally: &mut Tally, block: bool) -> bool {
    loop {
        let mut st: c_int = 0;
        // SAFETY: all-zero is a valid rusage to be filled in.
        let mut ru: libc::rusage = unsafe { core::mem::zeroed() };
        let opts = if block {
            libc::__WALL
        } else {
            libc::WNOHANG | libc::__WALL
        };
        match raw::wait4(-1, &mut st, opts, Some(&mut ru)) {
            Ok(0) => return true,
            Ok(pid) => {
                let i = &mut tally.info;
                i.utime_us = i.utime_us.wrapping_add(timeval_us(&ru.ru_utime));
                i.stime_us = i.stime_us.wrapping_add(timeval_us(&ru.ru_stime));
                i.maxrss_kib = i.maxrss_kib.max(ru.ru_maxrss as u64);
                if pid as i32 == ctx.program && tally.status.is_none() {
                    tally.status = Some(st);
                    tally.end_ns = raw::monotonic_ns();
                    if block {
                        return true;
                    }
                }
            }
            Err(Errno(libc::EINTR)) => {}
            Err(Errno(libc::ECHILD)) => return false,
            Err(_) => return true,
        }
    }
}

/// Sends SIGKILL to every child listed in `/proc/thread-self/children` and
/// to its process group. Returns false if the list cannot be read.
fn kill_listed_children() -> bool {
    let Ok(fd) = raw::openat(
        libc::AT_FDCWD,
        c"/proc/thread-self/children",
        libc::O_RDONLY | libc::O_CLOEXEC,
        0,
    ) else {
        return false;
    };
    let fd = fd as c_int;
    let mut buf = [0u8; 256];
    // A pid may straddle two reads: the accumulator carries over.
    let mut pid: i32 = 0;
    let mut digits = false;
    loop {
        let n = match raw::read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno(libc::EINTR)) => continue,
            Err(_) => break,
        };
        for &b in buf.get(..n).unwrap_or(&[]) {
            if b.is_ascii_digit() {
                pid = pid
                    .saturating_mul(10)
                    .saturating_add(i32::from(b.wrapping_sub(b'0')));
                digits = true;
            } else {
                if digits && pid > 1 {
                    let _ = raw::kill(pid.wrapping_neg(), libc::SIGKILL);
                    let _ = raw::kill(pid, libc::SIGKILL);
                }
                pid = 0;
                digits = false;
            }
        }
    }
    if digits && pid > 1 {
        let _ = raw::kill(pid.wrapping_neg(), libc::SIGKILL);
        let _ = raw::kill(pid, libc::SIGKILL);
    }
    let _ = raw::close(fd);
    true
}

/// Without a pid namespace: kills and reaps every descendant still attached
/// to the supervisor (as subreaper it inherits their orphans), until none is
/// left. Bounded, for processes that escaped (into another session, when
/// `/proc` cannot list them).
fn sweep(ctx: &InitCtx, tally: &mut Tally) {
    const BUDGET_NS: u64 = 2_000_000_000;
    let deadline = raw::monotonic_ns().saturating_add(BUDGET_NS);
    let pause = libc::timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000,
    };
    while reap(ctx, tally, false) {
        let _ = kill_listed_children();
        if raw::monotonic_ns() >= deadline {
            return;
        }
        let _ = raw::poll(&mut [], Some(&pause));
    }
}

/// Sends the final report and returns the supervisor's exit code.
fn finish(ctx: &InitCtx, tally: &mut Tally, why: u32) -> c_int {
    // In a pid namespace every other process is our descendant, and our
    // child once orphaned: when none is left there is nothing to kill (and
    // kill(-1) would walk every process on the host to find that out).
    let alone = ctx.pid_ns && tally.status.is_some() && !reap(ctx, tally, false);
    if !alone {
        teardown_tree(ctx);
        if tally.status.is_none() {
            // Timed out: collect the program, which teardown just killed.
            reap(ctx, tally, true);
        }
        if ctx.pid_ns {
            // Collect what has already died; our exit kills the rest.
            reap(ctx, tally, false);
        } else {
            sweep(ctx, tally);
        }
    }
    let mut rec = Record::new(record::KIND_EXIT);
    rec.value = tally.status.unwrap_or(libc::SIGKILL);
    rec.flags |= why;
    let end = if tally.end_ns == 0 {
        raw::monotonic_ns()
    } else {
        tally.end_ns
    };
    tally.info.wall_ns = end.saturating_sub(ctx.start_ns);
    tally.info.encode(&mut rec);
    send(ctx.report_fd, &rec);
    // In a pid namespace, our exit makes the kernel kill every remaining
    // process before the parent can see us exit.
    0
}

fn init_loop(ctx: InitCtx) -> c_int {
    // Drop every descriptor inherited from the caller: holding them would
    // keep the caller's pipes and sockets open for the sandbox's lifetime.
    let mut keep = [ctx.report_fd, ctx.lifeline_fd, ctx.cgroup_kill_fd];
    keep.sort_unstable();
    close_all_except(&keep);

    let mask = SIGSET_ALL & !(sigbit(libc::SIGKILL) | sigbit(libc::SIGSTOP));
    let sfd = match raw::signalfd(&mask, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) {
        Ok(fd) => fd as c_int,
        Err(_) => {
            // Cannot supervise: end the sandbox rather than leave it unwatched.
            teardown_tree(&ctx);
            return 2;
        }
    };
    let mut tally = Tally {
        status: None,
        end_ns: 0,
        info: record::ExitInfo::default(),
    };
    // The caller's end of the report channel carries kill requests; once the
    // caller closes it (a detached Child), it is no longer watched.
    let mut control_open = true;
    loop {
        // poll ignores entries with a negative fd.
        let mut fds = [
            libc::pollfd {
                fd: sfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: ctx.lifeline_fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if control_open { ctx.report_fd } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let timeout = if ctx.deadline_ns != 0 {
            let left = ctx.deadline_ns.saturating_sub(raw::monotonic_ns());
            if left == 0 {
                return finish(&ctx, &mut tally, record::FLAG_TIMED_OUT);
            }
            ts.tv_sec = (left / 1_000_000_000) as libc::time_t;
            ts.tv_nsec = (left % 1_000_000_000) as libc::c_long;
            Some(&ts)
        } else {
            None
        };
        match raw::poll(&mut fds, timeout) {
            Ok(_) | Err(Errno(libc::EINTR)) => {}
            Err(_) => {
                teardown_tree(&ctx);
                return 2;
            }
        }
        let [sig_pfd, life_pfd, control_pfd] = fds;
        if life_pfd.revents != 0 {
            // The caller is gone: so is the sandbox.
            teardown_tree(&ctx);
            return 3;
        }
        if control_pfd.revents != 0 {
            let mut req = [0u8; 8];
            match raw::read(ctx.report_fd, &mut req) {
                Ok(n) if n > 0 && req.first() == Some(&record::REQUEST_KILL) => {
                    return finish(&ctx, &mut tally, record::FLAG_KILLED);
                }
                Ok(n) if n > 0 => {}
                Err(Errno(libc::EINTR | libc::EAGAIN)) => {}
                _ => control_open = false,
            }
        }
        if sig_pfd.revents != 0 {
            let mut buf = [0u8; 128 * 8];
            while let Ok(n) = raw::read(sfd, &mut buf) {
                if n == 0 {
                    break;
                }
                for info in buf.get(..n).unwrap_or(&[]).chunks_exact(128) {
                    let mut w = [0u8; 4];
                    w.copy_from_slice(info.get(..4).unwrap_or(&[0; 4]));
                    let signo = u32::from_ne_bytes(w) as c_int;
                    if signo == libc::SIGCHLD {
                        reap(&ctx, &mut tally, false);
                    } else if tally.status.is_none() {
                        let _ = raw::kill(ctx.program, signo);
                    }
                }
            }
        }
        if tally.status.is_some() {
            return finish(&ctx, &mut tally, 0);
        }
    }
}

// ---------------------------------------------------------------------------
// Program process
// ---------------------------------------------------------------------------

/// Entry point of the program process.
///
/// # Safety
/// `arg` points to the `ChildPlan`, alive while this process runs our code
/// (the supervisor is suspended by CLONE_VFORK and the parent waits for it).
unsafe extern "C" fn program_entry(arg: *mut c_void) -> c_int {
    // SAFETY: guaranteed by the caller (see above).
    let plan = unsafe { &*(arg as *const ChildPlan) };
    let fail = match program(plan) {
        Ok(never) => match never {},
        Err(f) => f,
    };
    let mut rec = fail.record();
    if fail.flags & record::FLAG_INTERPRETER != 0 {
        interpreter_detail(plan, fail.index, &mut rec);
    }
    // SAFETY: the supervisor reads `error` only after observing the release
    // store below, and nothing else writes it.
    unsafe { *plan.shared.error.get() = rec };
    plan.shared.failed.store(1, Ordering::Release);
    127
}

fn program(plan: &ChildPlan) -> Result<core::convert::Infallible, Fail> {
    // Die with the supervisor; if it is already gone, do not start at all.
    raw::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as usize, 0, 0, 0)
        .at(Stage::DeathSignal, 0)?;
    if raw::getppid() != plan.shared.expected_ppid.load(Ordering::Relaxed) {
        return Err(Fail::new(Stage::DeathSignal, 0, Errno(libc::ESRCH)));
    }
    if plan.cgroup_procs_fd >= 0 {
        // Fallback placement when clone3 is unavailable: "0" moves the writer.
        raw::write(plan.cgroup_procs_fd, b"0").at(Stage::Cgroup, 0)?;
    }
    if plan.new_cgroup_ns {
        raw::unshare(libc::CLONE_NEWCGROUP).at(Stage::CgroupNamespace, 0)?;
    }
    if plan.new_time_ns {
        raw::unshare(libc::CLONE_NEWTIME).at(Stage::TimeNamespace, 0)?;
    }
    raw::setsid().at(Stage::Setsid, 0)?;
    // The session keyring is not namespaced: without this the program could
    // search the caller's (and read its keys) whenever seccomp allows
    // keyctl. Best effort: kernels without keys support, a key quota that is
    // spent or an outer filter refusing keyctl leave nothing to protect or
    // nothing we can do, and the default profile denies keyctl anyway.
    let _ = raw::join_fresh_session_keyring();
    if let Some((uid, gid)) = plan.set_ids {
        raw::clear_groups().at(Stage::SetIds, 0)?;
        raw::setresgid(gid, gid, gid).at(Stage::SetIds, 0)?;
        raw::setresuid(uid, uid, uid).at(Stage::SetIds, 0)?;
    }
    enter_cwd(plan)?;
    arrange_fds(plan)?;
    for (i, (res, lim)) in plan.rlimits.iter().enumerate() {
        raw::setrlimit(*res, lim).at(Stage::Rlimit, i as u32)?;
    }
    reset_signal_dispositions();
    // Drops every capability not kept and sets no_new_privs (after any uid
    // switch above, which would clear the permitted set by itself).
    crate::caps::apply(&plan.caps).map_err(|(stage, e)| Fail::new(cap_stage(stage), 0, e))?;
    // Landlock after no_new_privs; the rule paths resolve in the new root.
    #[cfg(feature = "landlock")]
    if let Some(ll) = &plan.landlock {
        crate::landlock::apply_in_child(ll).map_err(|(i, e)| Fail::new(Stage::Landlock, i, e))?;
    }
    raw::sigprocmask(libc::SIG_SETMASK, &0).at(Stage::Signals, 0)?;
    // seccomp last: from here on only the exec loop runs, under the filter
    // (the default profile allows execve and the calls that classify a
    // failed one).
    #[cfg(feature = "seccomp")]
    if let Some(program) = &plan.seccomp {
        program.install().at(Stage::Seccomp, 0)?;
    }
    Err(exec(plan))
}

fn cap_stage(stage: crate::caps::CapStage) -> Stage {
    match stage {
        crate::caps::CapStage::NoNewPrivs => Stage::NoNewPrivs,
        _ => Stage::Capabilities,
    }
}

fn enter_cwd(plan: &ChildPlan) -> Step {
    let Some(cwd) = &plan.cwd else { return Ok(()) };
    let r = (|| -> Result<(), Errno> {
        if !plan.cwd_in_root {
            return raw::chdir(cwd).map(drop);
        }
        // Resolve inside the root and refuse magic links: a path such as
        // /proc/self/fd/N naming a descriptor inherited from the caller must
        // not become a working directory outside the root.
        let root = raw::openat(
            libc::AT_FDCWD,
            c"/",
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )? as c_int;
        let how = raw::OpenHow {
            flags: (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve: raw::RESOLVE_IN_ROOT | raw::RESOLVE_NO_MAGICLINKS,
        };
        let r = raw::openat2(root, cwd, &how);
        let _ = raw::close(root);
        let dir = match r {
            Err(Errno(libc::ENOSYS)) => return raw::chdir(cwd).map(drop),
            other => other? as c_int,
        };
        let r = raw::fchdir(dir);
        let _ = raw::close(dir);
        r.map(drop)
    })();
    match r {
        Ok(()) => Ok(()),
        Err(_) if !plan.cwd_required => raw::chdir(c"/").map(drop).at(Stage::Chdir, 0),
        Err(e) => Err(Fail::new(Stage::Chdir, 0, e)),
    }
}

fn arrange_fds(plan: &ChildPlan) -> Step {
    let moves = &plan.fd_moves;
    if plan.fd_via_temp {
        // Some source is also a target: park every source above all of them
        // first so no dup3 clobbers a source still needed.
        for (i, &(src, _)) in moves.iter().enumerate() {
            let tmp = plan.fd_temp_base.saturating_add(i as c_int);
            raw::dup3(src, tmp, libc::O_CLOEXEC).at(Stage::Fds, i as u32)?;
        }
        for (i, &(_, dst)) in moves.iter().enumerate() {
            let tmp = plan.fd_temp_base.saturating_add(i as c_int);
            raw::dup3(tmp, dst, 0).at(Stage::Fds, dst as u32)?;
        }
    } else {
        for &(src, dst) in moves {
            if src == dst {
                raw::fcntl(dst, libc::F_SETFD, 0).at(Stage::Fds, dst as u32)?;
            } else {
                raw::dup3(src, dst, 0).at(Stage::Fds, dst as u32)?;
            }
        }
    }
    // Everything above 2 that was not passed closes on exec. The report
    // socket stays open until then so a failure can still be reported.
    let mut lo: u32 = 3;
    for &k in &plan.keep_fds {
        let k = k as u32;
        if k > lo {
            cloexec_range(lo, k.wrapping_sub(1))?;
        }
        lo = k.wrapping_add(1);
    }
    cloexec_range(lo, u32::MAX)
}

fn cloexec_range(lo: u32, hi: u32) -> Step {
    match raw::close_range(lo, hi, libc::CLOSE_RANGE_CLOEXEC) {
        Ok(_) => Ok(()),
        // Before Linux 5.11: mark each descriptor up to the soft limit.
        Err(Errno(libc::EINVAL | libc::ENOSYS)) => {
            let mut lim = libc::rlimit64 {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: prlimit64 on ourselves, reading into a live struct.
            let r = unsafe {
                raw::syscall6(
                    libc::SYS_prlimit64,
                    0,
                    libc::RLIMIT_NOFILE as usize,
                    0,
                    &mut lim as *mut libc::rlimit64 as usize,
                    0,
                    0,
                )
            };
            let max = if r.is_ok() {
                lim.rlim_cur.min(1 << 20) as u32
            } else {
                1024
            };
            let mut fd = lo;
            while fd <= hi && fd < max {
                let _ = raw::fcntl(fd as c_int, libc::F_SETFD, libc::FD_CLOEXEC);
                fd = fd.wrapping_add(1);
            }
            Ok(())
        }
        Err(e) => Err(Fail::new(Stage::Fds, lo, e)),
    }
}

fn reset_signal_dispositions() {
    let act = raw::KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            let _ = raw::sigaction(sig, &act);
        }
    }
}

/// Tries each candidate path like execvp: ENOENT moves on, EACCES on an
/// existing file is remembered (and reported if nothing else runs),
/// anything else is final.
fn exec(plan: &ChildPlan) -> Fail {
    let argv = plan.argv.as_ptr();
    let envp = plan.envp.as_ptr();
    let mut denied: Option<(u32, Errno)> = None;
    for (i, path) in plan.candidates.iter().enumerate() {
        let e = raw::execve(path, argv, envp);
        match e.0 {
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE => {
                // ENOENT for a file that exists: its interpreter is missing.
                // SAFETY: all-zero is a valid stat to be overwritten.
                let mut st: libc::stat = unsafe { core::mem::zeroed() };
                if e.0 == libc::ENOENT && raw::fstatat(libc::AT_FDCWD, path, &mut st, 0).is_ok() {
                    let mut f = Fail::new(Stage::Exec, i as u32, e);
                    f.flags = record::FLAG_INTERPRETER;
                    return f;
                }
            }
            libc::EACCES | libc::EPERM => {
                // Only a file that exists is "not executable"; EACCES from
                // an unsearchable PATH directory means "not here".
                // SAFETY: all-zero is a valid stat to be overwritten.
                let mut st: libc::stat = unsafe { core::mem::zeroed() };
                if denied.is_none() && raw::fstatat(libc::AT_FDCWD, path, &mut st, 0).is_ok() {
                    denied = Some((i as u32, e));
                }
            }
            _ => return Fail::new(Stage::Exec, i as u32, e),
        }
    }
    match denied {
        Some((i, e)) => {
            let mut st: libc::stat = {
                // SAFETY: all-zero is a valid stat to be overwritten.
                unsafe { core::mem::zeroed() }
            };
            let path = plan.candidates.get(i as usize);
            let is_dir = path.is_some_and(|p| {
                raw::fstatat(libc::AT_FDCWD, p, &mut st, 0).is_ok()
                    && st.st_mode & libc::S_IFMT == libc::S_IFDIR
            });
            Fail::new(Stage::Exec, i, if is_dir { Errno(libc::EISDIR) } else { e })
        }
        None => Fail::new(Stage::Exec, u32::MAX, Errno(libc::ENOENT)),
    }
}

/// Fills `rec.detail` with the interpreter named on the script's `#!` line.
fn interpreter_detail(plan: &ChildPlan, index: u32, rec: &mut Record) {
    let Some(path) = plan.candidates.get(index as usize) else {
        return;
    };
    let Ok(fd) = raw::openat(libc::AT_FDCWD, path, libc::O_RDONLY | libc::O_CLOEXEC, 0) else {
        return;
    };
    let mut buf = [0u8; record::DETAIL_LEN];
    let n = raw::read(fd as c_int, &mut buf).unwrap_or(0);
    let _ = raw::close(fd as c_int);
    let line = buf.get(..n).unwrap_or(&[]);
    let Some(rest) = line.strip_prefix(b"#!") else {
        return;
    };
    let start = rest
        .iter()
        .position(|c| *c != b' ' && *c != b'\t')
        .unwrap_or(rest.len());
    let rest = rest.get(start..).unwrap_or(&[]);
    let end = rest
        .iter()
        .position(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(rest.len());
    let interp = rest.get(..end).unwrap_or(&[]);
    let len = interp.len().min(record::DETAIL_LEN);
    if let (Some(d), Some(s)) = (rec.detail.get_mut(..len), interp.get(..len)) {
        d.copy_from_slice(s);
        rec.detail_len = len as u32;
    }
}
