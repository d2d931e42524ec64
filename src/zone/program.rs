//! The program process: arranges what is per-process (cgroup, descriptors,
//! limits, credentials, Landlock, seccomp) and executes the program.

use core::ffi::{c_int, c_void};
use core::sync::atomic::Ordering;

use super::plan::ChildPlan;
use super::{Fail, Step, StepExt};
use crate::record::{self, Record};
use crate::stage::Stage;
use crate::sys::clone::{self, CloneArgs};
use crate::sys::raw::{self, Errno};

/// Entry point of the program process.
///
/// # Safety
/// `arg` points to the `ChildPlan`, alive while this process runs our code
/// (the supervisor is suspended by CLONE_VFORK and the parent waits for it).
pub(crate) unsafe extern "C" fn program_entry(arg: *mut c_void) -> c_int {
    // SAFETY: guaranteed by the caller (see above).
    let plan = unsafe { &*(arg as *const ChildPlan<'_>) };
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

/// Clones the program process of `plan` with `flags` (`CLONE_VFORK`, and
/// for a sandbox's first program `CLONE_VM`) on `stack`, into the cgroup
/// directory `cgroup_fd` (-1: none) where clone3 is used.
///
/// # Safety
/// `stack` is a region reserved for the program process that stays mapped
/// while it may run on it, and `plan` outlives the program process's use of
/// it (with `CLONE_VFORK` the caller is suspended until the program process
/// executes or exits).
pub(super) unsafe fn clone_program_process(
    plan: &ChildPlan<'_>,
    flags: u64,
    stack: (*mut u8, usize),
    cgroup_fd: c_int,
    use_clone3: bool,
) -> Step<i32> {
    let (lo, size) = stack;
    let arg = plan as *const ChildPlan<'_> as *mut c_void;
    let r = if use_clone3 {
        let mut args = CloneArgs {
            flags,
            exit_signal: libc::SIGCHLD as u64,
            stack: lo as u64,
            stack_size: size as u64,
            ..CloneArgs::default()
        };
        if cgroup_fd >= 0 {
            args.flags |= clone::CLONE_INTO_CGROUP;
            args.cgroup = cgroup_fd as u64;
        }
        // SAFETY: the stack and the plan are the caller's promise; the
        // entry point follows the child-zone rules.
        unsafe { clone::clone3(&args, program_entry, arg) }
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

/// Stores the inode numbers of this process's namespaces (the program's,
/// see `NamespaceIds`) in the shared state, through the caller's `/proc`:
/// `thread-self` there names this process in the caller's pid namespace,
/// an ancestor of ours. One that cannot be read stays 0.
fn record_namespace_ids(plan: &ChildPlan<'_>) {
    for (slot, link) in plan
        .shared
        .ns_ids
        .iter()
        .zip(crate::namespaces::NamespaceIds::LINKS)
    {
        // SAFETY: all-zero is a valid stat to be overwritten.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        if raw::fstatat(plan.proc_fd, link, &mut st, 0).is_ok() {
            slot.store(st.st_ino, Ordering::Relaxed);
        }
    }
}

fn program(plan: &ChildPlan<'_>) -> Result<core::convert::Infallible, Fail> {
    if plan.joins_container {
        // Other processes of the container exist, some with our ids from
        // the moment they are switched: none may read this copy of the
        // caller's memory (`/proc/<pid>/mem`, ptrace, `/proc/<pid>/exe`)
        // before execve replaces it. Only this copy's flag changes.
        raw::set_dumpable(false).at(Stage::Dumpable, 0)?;
    }
    // Die with the supervisor; if it is already gone, do not start at all.
    raw::set_parent_death_signal(libc::SIGKILL).at(Stage::DeathSignal, 0)?;
    if raw::getppid() != plan.shared.expected_ppid.load(Ordering::Relaxed) {
        return Err(Fail::new(Stage::DeathSignal, 0, Errno(libc::ESRCH)));
    }
    if plan.program_is_init {
        if let Some(m) = plan.mounts {
            // The `/proc` of our pid namespace, which only a process in it
            // can mount, over the empty one the supervisor left.
            let old = raw::umask(0);
            let r = super::rootfs::mount_proc_as_init(m);
            raw::umask(old);
            r?;
        }
    }
    if plan.cgroup_procs_fd >= 0 {
        // Fallback placement when clone3 is unavailable: "0" moves the writer.
        raw::write(plan.cgroup_procs_fd, b"0").at(Stage::Cgroup, 0)?;
    }
    if plan.new_cgroup_ns {
        raw::unshare(libc::CLONE_NEWCGROUP).at(Stage::CgroupNamespace, 0)?;
        // An exec's program mounts the container's tree only if no exec
        // before it did.
        if plan.mount_cgroup
            && !(plan.joins_container && plan.shared.cgroup_mounted.load(Ordering::Acquire))
        {
            // The namespace's root is the sandbox's cgroup (or, read-only
            // and without one, the caller's): what is mounted is that
            // cgroup and what the program makes beneath it.
            let mut flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            if plan.mount_cgroup_read_only {
                flags |= libc::MS_RDONLY;
            }
            raw::mount(
                Some(c"cgroup2"),
                c"/sys/fs/cgroup",
                Some(c"cgroup2"),
                flags,
                None,
            )
            .at(Stage::CgroupMount, 0)?;
            if plan.joins_container {
                plan.shared.cgroup_mounted.store(true, Ordering::Release);
            }
        }
    }
    if plan.new_time_ns {
        raw::unshare(libc::CLONE_NEWTIME).at(Stage::TimeNamespace, 0)?;
    }
    if plan.proc_fd >= 0 {
        // Every namespace the program will run in exists now.
        record_namespace_ids(plan);
    }
    raw::setsid().at(Stage::Setsid, 0)?;
    // The session keyring is not namespaced: without this the program could
    // search the caller's (and read its keys) whenever seccomp allows
    // keyctl. Best effort: kernels without keys support, a key quota that is
    // spent or an outer filter refusing keyctl leave nothing to protect or
    // nothing we can do, and the default profile denies keyctl anyway.
    let _ = raw::join_fresh_session_keyring();
    // What needs CAP_SETPCAP (securebits, the bounding set) before the ids
    // change: a switch from uid 0 to another empties the permitted set.
    super::caps::before_id_switch(plan.caps, plan.set_ids.is_some())
        .map_err(|(stage, e)| Fail::new(cap_stage(stage), 0, e))?;
    if let Some((uid, gid)) = plan.set_ids {
        if !plan.keep_groups {
            raw::clear_groups().at(Stage::SetIds, 0)?;
        }
        raw::setresgid(gid, gid, gid).at(Stage::SetIds, 0)?;
        raw::setresuid(uid, uid, uid).at(Stage::SetIds, 0)?;
        // A change of credentials clears the parent-death signal: armed
        // again, so that a program whose supervisor is killed from outside
        // its pid namespace (an init of the caller's) still dies with it.
        raw::set_parent_death_signal(libc::SIGKILL).at(Stage::DeathSignal, 0)?;
        if raw::getppid() != plan.shared.expected_ppid.load(Ordering::Relaxed) {
            return Err(Fail::new(Stage::DeathSignal, 0, Errno(libc::ESRCH)));
        }
    }
    enter_cwd(plan)?;
    arrange_fds(plan)?;
    if let Some(pty) = &plan.fds.pty {
        // After the ids switch, so that the terminal belongs to the
        // program's user; before Landlock and seccomp, which may refuse
        // the path or the ioctls.
        setup_terminal(plan, pty)?;
    } else if plan.fds.ctty {
        // The caller's terminal, now at descriptor 0, for the session
        // `setsid` made above: after the ids switch, as with a terminal of
        // our own.
        raw::set_controlling_terminal(0).at(Stage::Terminal, 8)?;
    }
    for (i, (res, lim)) in plan
        .rlimits
        .iter()
        .chain(&plan.fallback_rlimits)
        .enumerate()
    {
        raw::setrlimit(*res, lim).at(Stage::Rlimit, i as u32)?;
    }
    // Reduces the capability sets to the kept ones (ambient, so that they
    // survive execve for any uid) and sets no_new_privs.
    super::caps::after_id_switch(plan.caps)
        .map_err(|(stage, e)| Fail::new(cap_stage(stage), 0, e))?;
    // Landlock after no_new_privs; the rule paths resolve in the new root.
    #[cfg(feature = "landlock")]
    if let Some(ll) = plan.landlock {
        super::landlock::apply_in_child(ll).map_err(|(i, e)| Fail::new(Stage::Landlock, i, e))?;
    }
    // Every disposition is the default: the supervisor reset them at its
    // start, and this process inherited them.
    raw::sigprocmask(libc::SIG_SETMASK, &0).at(Stage::Signals, 0)?;
    // seccomp last: from here on only the exec loop runs, under the filter
    // (the default profile allows execve and the calls that classify a
    // failed one).
    #[cfg(feature = "seccomp")]
    if let Some(program) = plan.seccomp {
        program
            .install(plan.fds.send_to(plan.report_fd))
            .at(Stage::Seccomp, 0)?;
    }
    #[cfg(feature = "seccomp")]
    for (i, program) in plan.seccomp_programs.iter().enumerate() {
        program
            .install()
            .at(Stage::Seccomp, (i as u32).saturating_add(1))?;
    }
    Err(exec(plan))
}

/// Opens a pseudo-terminal of the sandbox's own `devpts` instance, makes
/// it the controlling terminal of the program's session (`setsid` ran
/// before) and the standard streams the plan says, and sends the master to
/// the caller. Runs after [`arrange_fds`]: every target is taken by then,
/// so the descriptors opened here land on none, except possibly a standard
/// stream the terminal replaces; each is first moved above 2 so that
/// replacing those streams closes neither.
fn setup_terminal(plan: &ChildPlan<'_>, pty: &super::plan::PtyPlan) -> Step {
    let st = Stage::Terminal;
    let above_stdio = |fd: raw::Fd, i: u32| -> Step<raw::Fd> {
        if fd.raw() > 2 {
            return Ok(fd);
        }
        raw::dup_at_least(fd.raw(), 3).at(st, i)
    };
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    let master = raw::openat(libc::AT_FDCWD, c"/dev/pts/ptmx", flags, 0).at(st, 0)?;
    let master = above_stdio(master, 0)?;
    raw::pty_unlock(master.raw()).at(st, 1)?;
    let peer = raw::pty_peer(master.raw(), flags).at(st, 2)?;
    let peer = above_stdio(peer, 2)?;
    raw::set_window_size(peer.raw(), &pty.size).at(st, 3)?;
    raw::set_controlling_terminal(peer.raw()).at(st, 4)?;
    if plan.console {
        super::rootfs::bind_console(peer.raw()).at(st, 7)?;
    }
    for (target, bit) in [(0, 1u8), (1, 2), (2, 4)] {
        if pty.streams & bit != 0 {
            // SAFETY: `target` is a standard stream the terminal replaces:
            // what it held (the caller's, copied at clone) is not used
            // again here.
            unsafe { raw::dup3(peer.raw(), target, 0) }.at(st, 5)?;
        }
    }
    let to = plan.fds.send_to(plan.report_fd);
    let rec = Record::new(record::KIND_PTY);
    raw::send_with_fd(to, &rec.encode(), master.raw()).at(st, 6)?;
    Ok(())
}

fn cap_stage(stage: crate::caps::Stage) -> Stage {
    match stage {
        crate::caps::Stage::NoNewPrivs => Stage::NoNewPrivs,
        _ => Stage::Capabilities,
    }
}

fn enter_cwd(plan: &ChildPlan<'_>) -> Step {
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
        )?;
        let how = raw::OpenHow {
            flags: (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve: raw::RESOLVE_IN_ROOT | raw::RESOLVE_NO_MAGICLINKS,
        };
        let r = raw::openat2(root.raw(), cwd, &how);
        drop(root);
        let dir = match r {
            Err(Errno(libc::ENOSYS)) => return raw::chdir(cwd).map(drop),
            other => other?,
        };
        raw::fchdir(dir.raw()).map(drop)
    })();
    match r {
        Ok(()) => Ok(()),
        Err(_) if !plan.cwd_required => raw::chdir(c"/").map(drop).at(Stage::Chdir, 0),
        Err(e) => Err(Fail::new(Stage::Chdir, 0, e)),
    }
}

/// Moves the passed descriptors to their targets.
///
/// Every descriptor overwritten here is in the program process's own table:
/// it was cloned without `CLONE_FILES`, so its table is a copy no other
/// process uses, and nothing in the shared address space closes or uses a
/// descriptor through it (the caller's `OwnedFd`s name entries of the
/// caller's table, and this process never drops them). Of the entries
/// overwritten, this process uses none again: the parent planned the moves
/// (see `spawn::fds`) so that the report channel and the lifeline lie below
/// `temp_base` and are no target.
fn arrange_fds(plan: &ChildPlan<'_>) -> Step {
    if !plan.fds.received.is_empty() {
        return arrange_received(plan);
    }
    let moves = &plan.fds.moves;
    if plan.fds.via_temp {
        // Some source is also a target: park every source above all of them
        // first so no dup3 clobbers a source still needed.
        for (i, &(src, _)) in moves.iter().enumerate() {
            let tmp = plan.fds.temp_base.saturating_add(i as c_int);
            // SAFETY: `tmp` lies above every descriptor the plan names and
            // every one this process still uses (see above).
            unsafe { raw::dup3(src, tmp, libc::O_CLOEXEC) }.at(Stage::Fds, i as u32)?;
        }
        for (i, &(_, dst)) in moves.iter().enumerate() {
            let tmp = plan.fds.temp_base.saturating_add(i as c_int);
            // SAFETY: `dst` is a target of the plan: what it held before is
            // a source already parked above, or an entry not used again (see
            // above).
            unsafe { raw::dup3(tmp, dst, 0) }.at(Stage::Fds, dst as u32)?;
        }
    } else {
        for &(src, dst) in moves {
            if src == dst {
                raw::set_cloexec(dst, false).at(Stage::Fds, dst as u32)?;
            } else {
                // SAFETY: no source is a target here, so what `dst` held
                // is not used again (see above).
                unsafe { raw::dup3(src, dst, 0) }.at(Stage::Fds, dst as u32)?;
            }
        }
    }
    // Everything above 2 that was not passed closes on exec. The report
    // socket stays open until then so a failure can still be reported.
    let mut lo: u32 = 3;
    for &k in &plan.fds.keep {
        let k = k as u32;
        if k > lo {
            cloexec_range(lo, k.wrapping_sub(1))?;
        }
        lo = k.wrapping_add(1);
    }
    cloexec_range(lo, u32::MAX)
}

/// [`arrange_fds`] for an exec into a container: the sources are indices
/// into the descriptors the supervisor received, which it placed above
/// every target, so no move overwrites a source still to be moved.
fn arrange_received(plan: &ChildPlan<'_>) -> Step {
    for &(src, dst) in &plan.fds.moves {
        let fd = plan
            .fds
            .received
            .get(src as usize)
            .map_or(-1, core::cell::Cell::get);
        // SAFETY: `dst` is a target: what it held in this process's own
        // table (a copy of the supervisor's) is not used again here; the
        // sources lie above every target.
        unsafe { raw::dup3(fd, dst, 0) }.at(Stage::Fds, dst as u32)?;
    }
    close_others(plan)
}

/// Marks every descriptor above 2 that is not a target close-on-exec.
fn close_others(plan: &ChildPlan<'_>) -> Step {
    let mut lo: u32 = 3;
    for &k in &plan.fds.keep {
        let k = k as u32;
        if k > lo {
            cloexec_range(lo, k.wrapping_sub(1))?;
        }
        lo = k.wrapping_add(1);
    }
    cloexec_range(lo, u32::MAX)
}

fn cloexec_range(lo: u32, hi: u32) -> Step {
    // SAFETY: with CLOSE_RANGE_CLOEXEC nothing is closed; descriptors are
    // only marked close-on-exec.
    match unsafe { raw::close_range(lo, hi, libc::CLOSE_RANGE_CLOEXEC) } {
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
                let _ = raw::set_cloexec(fd as c_int, true);
                fd = fd.wrapping_add(1);
            }
            Ok(())
        }
        Err(e) => Err(Fail::new(Stage::Fds, lo, e)),
    }
}

/// Tries each candidate path like execvp: ENOENT moves on, EACCES on an
/// existing file is remembered (and reported if nothing else runs),
/// anything else is final, and so is EACCES or EPERM for a path whose
/// lookup fails for another reason than its absence.
fn exec(plan: &ChildPlan<'_>) -> Fail {
    let argv = plan.exec.argv.as_ptr();
    let envp = plan.exec.envp.as_ptr();
    let mut denied: Option<(u32, Errno)> = None;
    for (i, path) in plan.exec.candidates.iter().enumerate() {
        // SAFETY: `argv` and `envp` are the parent's null-terminated arrays
        // of pointers into `strings` (see `ExecPlan`), which the plan keeps
        // alive while this process runs.
        let e = unsafe { raw::execve(path, argv, envp) };
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
                match raw::fstatat(libc::AT_FDCWD, path, &mut st, 0) {
                    Ok(_) => {
                        if denied.is_none() {
                            denied = Some((i as u32, e));
                        }
                    }
                    Err(Errno(
                        libc::ENOENT
                        | libc::ENOTDIR
                        | libc::EACCES
                        | libc::ELOOP
                        | libc::ENAMETOOLONG
                        | libc::ESTALE,
                    )) => {}
                    // The lookup itself was refused (a seccomp filter that
                    // denies execve may deny fstatat too): nothing says
                    // the file is missing, so execve's answer stands.
                    Err(_) => return Fail::new(Stage::Exec, i as u32, e),
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
            let path = plan.exec.candidates.get(i as usize);
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
fn interpreter_detail(plan: &ChildPlan<'_>, index: u32, rec: &mut Record) {
    let Some(path) = plan.exec.candidates.get(index as usize) else {
        return;
    };
    let Ok(fd) = raw::openat(libc::AT_FDCWD, path, libc::O_RDONLY | libc::O_CLOEXEC, 0) else {
        return;
    };
    let mut buf = [0u8; record::DETAIL_LEN];
    let n = raw::read(fd.raw(), &mut buf).unwrap_or(0);
    drop(fd);
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
