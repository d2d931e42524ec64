//! The supervisor: the sandbox's first process and, once the program runs,
//! its init.
//!
//! It sets up what the namespaces share (id maps, hostname, the root
//! filesystem), clones the program process, and then stays as the sandbox's
//! init: it reaps orphans, forwards signals to the program's process group
//! (those sent to it, and those the caller requests on the report channel),
//! dies with the caller (its lifeline: pidfd and pipe), enforces the
//! wall-clock limit, and finally reports the program's wait status and the
//! sandbox's usage.

use core::ffi::{c_int, c_void};
use core::sync::atomic::Ordering;

use super::plan::ChildPlan;
use super::tree::{Reaped, close_all_except, kill_listed_children, reap_one, timeval_us};
use super::{SIGSET_ALL, Step, StepExt, send, sigbit, write_file};
use crate::record::{self, Record};
use crate::stage::Stage;
use crate::sys::raw::{self, Errno};

/// Entry point of the supervisor.
///
/// # Safety
/// `arg` points to the `ChildPlan` of the spawning parent, which keeps it
/// alive until the supervisor reports `Running` or an error, or has exited.
pub(crate) unsafe extern "C" fn supervisor_entry(arg: *mut c_void) -> c_int {
    // SAFETY: guaranteed by the caller (see above); only shared references
    // are created, and the plan's only mutable state is behind atomics and
    // UnsafeCell.
    let plan = unsafe { &*(arg as *const ChildPlan<'_>) };
    // Before any child exists: with the caller's ignored SIGCHLD, the kernel
    // would reap the program unseen.
    super::reset_signal_dispositions();
    supervisor(plan)
}

fn supervisor(plan: &ChildPlan<'_>) -> c_int {
    if let Err(f) = supervisor_setup(plan) {
        send(plan.report_fd, &f.record());
        return 1;
    }
    if plan.container {
        return super::container::serve(plan);
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
        caller_pidfd: plan.caller_pidfd,
        net_fd: plan.net.as_ref().map_or(-1, |n| n.fd),
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
    if raw::send_as(ctx.report_fd, &rec.encode(), ctx.program).is_err() {
        // The pid stays unknown to the parent; the sandbox runs.
        rec.flags = 0;
        send(ctx.report_fd, &rec);
    }
}

fn supervisor_setup(plan: &ChildPlan<'_>) -> Step {
    if plan.await_maps {
        // The caller writes our maps (ranges need a writer with privilege
        // over its own user namespace) and then says so.
        wait_for_maps(plan.report_fd)?;
    }
    if let Some(m) = &plan.id_maps {
        // An unprivileged process may map only its own ids, and only after
        // giving up setgroups(2).
        // In a copy of a template, the root holds no /proc of ours yet: the
        // caller's, opened when the template was built, stands in.
        let (dir, [setgroups, uid_map, gid_map]) = match plan.helper.get() {
            Some(h) => (
                h.template.host_proc,
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
        raw::set_child_subreaper().at(Stage::Subreaper, 0)?;
    }
    raw::setsid().at(Stage::Setsid, 0)?;
    if plan.namespace_flags & libc::CLONE_NEWNET as u64 != 0 {
        // A new network namespace has only `lo`, and it is down: a server
        // and its client in one sandbox could not reach each other.
        raw::loopback_up().at(Stage::Loopback, 0)?;
    }
    if let Some(net) = &plan.net {
        super::net::open_sockets(net)?;
    }
    if let Some(h) = &plan.hostname {
        raw::sethostname(h).at(Stage::Hostname, 0)?;
    }
    if let Some(m) = &plan.mounts {
        // Modes given in the plan are exact; the caller's umask comes back
        // before the program process is created.
        let old = raw::umask(0);
        // A program that is pid 1 mounts its namespace's `/proc` itself;
        // until then an empty one stands in (the template's, or one
        // mounted here on the program's stack, unused until then).
        let as_init = plan.program_is_init.then(|| plan.program_stack.get());
        let r = match (plan.helper.get(), &m.template) {
            (Some(_), Some(split)) => crate::zone::rootfs::build_spawn(m, split, as_init.is_some()),
            _ => crate::zone::rootfs::build(m, plan.system_trees.get(), as_init, plan.console),
        };
        raw::umask(old);
        r?;
    }
    Ok(())
}

/// Waits for the caller's word that the id maps are written. Anything else
/// (the caller closed the channel: it failed, or is gone) ends the setup.
fn wait_for_maps(report_fd: c_int) -> Step {
    let mut req = [0u8; 8];
    loop {
        match raw::read(report_fd, &mut req) {
            Ok(1) if req[0] == record::REQUEST_MAPS_WRITTEN => return Ok(()),
            Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(super::Fail::new(Stage::UidMap, 0, e)),
            Ok(_) => return Err(super::Fail::new(Stage::UidMap, 0, Errno(libc::EPIPE))),
        }
    }
}

fn clone_program(plan: &ChildPlan<'_>) -> Step<i32> {
    // The init of a new pid namespace sees its parent, outside it, as 0.
    let me = if plan.program_is_init {
        0
    } else if plan.pid_ns {
        1
    } else {
        raw::getpid()
    };
    plan.shared.expected_ppid.store(me, Ordering::Relaxed);
    let mut flags = (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
    if plan.program_is_init {
        flags |= libc::CLONE_NEWPID as u64;
    }
    // SAFETY: the program stack is a dedicated region of the stack mapping,
    // which outlives the program process's use of it (the parent unmaps it
    // only after the supervisor is reaped); `plan` outlives the program
    // process's use of it because CLONE_VFORK suspends us until it execs or
    // exits, and the parent waits for us.
    unsafe {
        super::program::clone_program_process(
            plan,
            flags,
            plan.program_stack.get(),
            plan.cgroup_fd,
            plan.use_clone3,
        )
    }
}

/// What the init loop needs; copied out of the plan before `Running`.
#[derive(Clone, Copy)]
struct InitCtx {
    report_fd: c_int,
    lifeline_fd: c_int,
    caller_pidfd: c_int,
    /// The network channel (-1: none), on which the caller asks for
    /// sockets in the sandbox's network namespace.
    net_fd: c_int,
    program: i32,
    pid_ns: bool,
    cgroup_kill_fd: c_int,
    /// Monotonic time just before the program process was created.
    start_ns: u64,
    /// Monotonic deadline of the wall-clock timeout (0: none).
    deadline_ns: u64,
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

/// Ends the sandbox without reporting (the caller is gone, or the
/// supervisor cannot go on): kills everything and, without a pid namespace,
/// sweeps what escaped the program's process group, as every other ending
/// does.
fn abandon(ctx: &InitCtx, tally: &mut Tally) {
    teardown_tree(ctx);
    if !ctx.pid_ns {
        sweep(ctx, tally);
    }
    // In a pid namespace, our exit kills whatever is left.
}

/// Sends `sig` to the program's process group, or to the program alone
/// should the group be gone. The program is a session leader: its group
/// bears its pid, which no other process can take while the program is
/// unreaped (and nothing is forwarded once it has been reaped).
fn forward(ctx: &InitCtx, sig: c_int) {
    if raw::kill(ctx.program.wrapping_neg(), sig).is_err() {
        let _ = raw::kill(ctx.program, sig);
    }
}

/// What the init loop accumulates.
struct Tally {
    status: Option<c_int>,
    end_ns: u64,
    info: record::ExitInfo,
    /// How many children have been reaped (the sweep's measure of
    /// progress).
    reaped: u64,
}

/// Reaps every child that has exited, accounting their resource usage.
/// Returns false once no child is left at all.
fn reap(ctx: &InitCtx, tally: &mut Tally, block: bool) -> bool {
    loop {
        match reap_one(block) {
            Reaped::Nothing => return true,
            Reaped::NoChildren => return false,
            Reaped::Child(pid, st, ru) => {
                tally.reaped = tally.reaped.wrapping_add(1);
                let i = &mut tally.info;
                i.utime_us = i.utime_us.wrapping_add(timeval_us(&ru.ru_utime));
                i.stime_us = i.stime_us.wrapping_add(timeval_us(&ru.ru_stime));
                i.maxrss_kib = i.maxrss_kib.max(ru.ru_maxrss as u64);
                if pid == ctx.program && tally.status.is_none() {
                    tally.status = Some(st);
                    tally.end_ns = raw::monotonic_ns();
                    if block {
                        return true;
                    }
                }
            }
        }
    }
}

/// Without a pid namespace: kills and reaps every descendant still attached
/// to the supervisor (as subreaper it inherits their orphans), until none is
/// left. Bounded, for processes that cannot be killed or listed (stuck in
/// the kernel, `/proc` unreadable): it gives up once nothing has been reaped
/// for two seconds *and* a thousand rounds, and after thirty seconds in
/// all. Neither bound alone holds on a loaded machine: a deadline from the
/// start gave up while killed processes were still being reaped, and two
/// idle seconds passed while the supervisor itself got no CPU (under
/// emulation, with hundreds of sandboxes ending at once), so that a daemon
/// orphaned a moment later escaped to the host's init.
fn sweep(ctx: &InitCtx, tally: &mut Tally) {
    const IDLE_NS: u64 = 2_000_000_000;
    const IDLE_ROUNDS: u32 = 1000;
    const ALL_NS: u64 = 30_000_000_000;
    let start = raw::monotonic_ns();
    let last = start.saturating_add(ALL_NS);
    let mut deadline = start.saturating_add(IDLE_NS);
    let mut idle_rounds: u32 = 0;
    let mut reaped = tally.reaped;
    let pause = libc::timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000,
    };
    while reap(ctx, tally, false) {
        let _ = kill_listed_children(libc::SIGKILL);
        let now = raw::monotonic_ns();
        if tally.reaped != reaped {
            reaped = tally.reaped;
            deadline = now.saturating_add(IDLE_NS);
            idle_rounds = 0;
        } else {
            idle_rounds = idle_rounds.saturating_add(1);
            if now >= deadline && idle_rounds >= IDLE_ROUNDS {
                return;
            }
        }
        if now >= last {
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
    // keep the caller's pipes and sockets open for the sandbox's lifetime
    // (the lifeline's write end among them).
    let mut keep = [
        ctx.report_fd,
        ctx.lifeline_fd,
        ctx.caller_pidfd,
        ctx.cgroup_kill_fd,
        ctx.net_fd,
    ];
    keep.sort_unstable();
    close_all_except(&keep);

    let mut tally = Tally {
        status: None,
        end_ns: 0,
        info: record::ExitInfo::default(),
        reaped: 0,
    };
    let mask = SIGSET_ALL & !(sigbit(libc::SIGKILL) | sigbit(libc::SIGSTOP));
    let signals = match raw::signalfd(&mask, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) {
        Ok(fd) => fd,
        Err(_) => {
            // Cannot supervise: end the sandbox rather than leave it unwatched.
            abandon(&ctx, &mut tally);
            return 2;
        }
    };
    // The caller's end of the report channel carries requests; once the
    // caller closes it (a detached Child), it is no longer watched.
    let mut control_open = true;
    let mut net_open = ctx.net_fd >= 0;
    let sfd = signals.raw();
    loop {
        // poll ignores entries with a negative fd.
        let mut fds = [
            libc::pollfd {
                fd: sfd,
                events: libc::POLLIN,
                revents: 0,
            },
            // The lifeline: the pipe hangs up when the caller exits or
            // executes, its pidfd is readable once it has exited.
            libc::pollfd {
                fd: ctx.lifeline_fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: ctx.caller_pidfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if control_open { ctx.report_fd } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if net_open { ctx.net_fd } else { -1 },
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
                abandon(&ctx, &mut tally);
                return 2;
            }
        }
        let [sig_pfd, pipe_pfd, caller_pfd, control_pfd, net_pfd] = fds;
        if net_pfd.revents != 0 {
            net_open = super::net::serve_request(ctx.net_fd);
        }
        if pipe_pfd.revents != 0 || caller_pfd.revents != 0 {
            // The caller is gone: so is the sandbox.
            abandon(&ctx, &mut tally);
            return 3;
        }
        if control_pfd.revents != 0 {
            let mut req = [0u8; 8];
            match raw::read(ctx.report_fd, &mut req) {
                Ok(n) if n > 0 => match req {
                    [record::REQUEST_KILL, ..] => {
                        return finish(&ctx, &mut tally, record::FLAG_KILLED);
                    }
                    [record::REQUEST_SIGNAL, sig, ..] if n == 2 => {
                        let sig = c_int::from(sig);
                        if sig == libc::SIGKILL {
                            return finish(&ctx, &mut tally, record::FLAG_KILLED);
                        }
                        if tally.status.is_none() && (1..=64).contains(&sig) {
                            forward(&ctx, sig);
                        }
                    }
                    _ => {}
                },
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
                        forward(&ctx, signo);
                    }
                }
            }
        }
        if tally.status.is_some() {
            return finish(&ctx, &mut tally, 0);
        }
    }
}
