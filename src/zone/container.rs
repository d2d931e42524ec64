//! A container's supervisor: the init of a sandbox that starts no program
//! of its own and runs programs on its owner's requests until it is
//! stopped.
//!
//! The owner (a `Container` in the caller's process) builds each exec's
//! plan in its own memory, which the supervisor shares, and sends an exec
//! request on the control channel (the caller's end of the report channel)
//! with the exec's own channel and the program's descriptors attached. The
//! supervisor starts the program process as it starts a sandbox's first
//! program, with one difference: the program process gets a copy of the
//! address space instead of the address space itself, and makes that copy
//! undumpable before anything else. Other processes of the container exist
//! by then; none of them may read the caller's memory through it (through
//! `/proc/<pid>/mem` or ptrace) before it has executed the program, which
//! replaces the copy.
//!
//! Every exec has a slot until its program is reaped: the supervisor then
//! sends the exit record on the exec's channel. Requests for one exec
//! (kill, signal) arrive on its channel; requests for the container (stop,
//! kill) on the control channel. Processes an exec leaves behind live on
//! until the container stops.
//!
//! A container may have an init of the caller's (`program_is_init`): the
//! supervisor then stays in the caller's pid namespace, makes a new one
//! for its children (`unshare`), and clones the init first, as pid 1 of
//! it; every exec's program lands in that namespace too, as a child of
//! the supervisor (its parent pid there is 0). The container ends when the
//! init ends: the kernel then kills every other process of the namespace,
//! and the init's wait status goes in the control channel's exit record.
//! A stop sends the init the stop signal and leaves the rest to it.

use core::ffi::c_int;
use core::sync::atomic::Ordering;

use super::plan::ChildPlan;
use super::tree::{Reaped, close_all_except, kill_listed_children, reap_one, timeval_us};
use super::{Fail, SIGSET_ALL, send, sigbit};
use crate::record::{self, Record};
use crate::stage::Stage;
use crate::sys::raw::{self, Errno};

/// How many execs may run at once in one container.
pub(crate) const MAX_EXECS: usize = 128;

/// Fixed descriptors at the start of the poll set.
const FIXED: usize = 5;

/// What the container's supervisor keeps of its start plan (which the
/// caller frees once the container runs).
#[derive(Clone, Copy)]
struct Ctx {
    control: c_int,
    lifeline_fd: c_int,
    caller_pidfd: c_int,
    /// The network channel (-1: none): requests for sockets in the
    /// container's network namespace.
    net_fd: c_int,
    pid_ns: bool,
    cgroup_fd: c_int,
    cgroup_procs_fd: c_int,
    cgroup_kill_fd: c_int,
    use_clone3: bool,
    program_stack: (*mut u8, usize),
    /// Wall-clock limit of each exec (0: none).
    timeout_ns: u64,
    /// The container's init, pid 1 of the container's pid namespace, in
    /// our (the caller's) pid numbers (0: none; the supervisor is the
    /// container's init).
    init: i32,
}

/// What the supervisor knows of the container's init.
struct Init {
    /// Its pid (0: none).
    pid: i32,
    /// Its wait status, once reaped.
    status: Option<c_int>,
}

/// One running exec.
#[derive(Clone, Copy)]
struct Slot {
    /// The program's pid (0: the slot is free).
    pid: i32,
    /// The exec's channel (ours).
    chan: c_int,
    /// Whether its channel is still watched for requests.
    watch: bool,
    start_ns: u64,
    deadline_ns: u64,
    /// `record::FLAG_*` for its exit record.
    flags: u32,
}

const FREE: Slot = Slot {
    pid: 0,
    chan: -1,
    watch: false,
    start_ns: 0,
    deadline_ns: 0,
    flags: 0,
};

/// Serves the container until it is stopped, killed or its owner is gone;
/// returns the supervisor's exit code.
pub(super) fn serve(plan: &ChildPlan<'_>) -> c_int {
    let init_pid = if plan.program_is_init {
        match start_init(plan) {
            Some(pid) => pid,
            None => return 1,
        }
    } else {
        0
    };
    let ctx = Ctx {
        control: plan.report_fd,
        lifeline_fd: plan.lifeline_fd,
        caller_pidfd: plan.caller_pidfd,
        net_fd: plan.net.as_ref().map_or(-1, |n| n.fd),
        pid_ns: plan.pid_ns,
        cgroup_fd: plan.cgroup_fd,
        cgroup_procs_fd: plan.cgroup_procs_fd,
        cgroup_kill_fd: plan.cgroup_kill_fd,
        use_clone3: plan.use_clone3,
        program_stack: plan.program_stack.get(),
        timeout_ns: plan.timeout_ns,
        init: init_pid,
    };
    let mut init = Init {
        pid: init_pid,
        status: None,
    };
    let mut running = Record::new(record::KIND_RUNNING);
    // Our pid numbers are the caller's when the container has an init.
    running.value = init_pid;
    send(ctx.control, &running);
    // The parent may free the plan from here on: only `ctx` is used below.
    let mut keep = [
        ctx.control,
        ctx.lifeline_fd,
        ctx.caller_pidfd,
        ctx.cgroup_kill_fd,
        ctx.cgroup_fd,
        ctx.cgroup_procs_fd,
        ctx.net_fd,
    ];
    keep.sort_unstable();
    close_all_except(&keep);
    let mask = SIGSET_ALL & !(sigbit(libc::SIGKILL) | sigbit(libc::SIGSTOP));
    let Ok(signals) = raw::signalfd(&mask, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) else {
        kill_everything(&ctx);
        return 2;
    };
    let mut slots = [FREE; MAX_EXECS];
    let sfd = signals.raw();
    let mut net_open = ctx.net_fd >= 0;
    loop {
        let mut fds = [libc::pollfd {
            fd: -1,
            events: libc::POLLIN,
            revents: 0,
        }; FIXED + MAX_EXECS];
        let fixed = [
            sfd,
            ctx.lifeline_fd,
            ctx.caller_pidfd,
            ctx.control,
            if net_open { ctx.net_fd } else { -1 },
        ];
        for (p, fd) in fds.iter_mut().zip(fixed) {
            p.fd = fd;
        }
        let mut next_deadline = 0u64;
        for (p, s) in fds.iter_mut().skip(FIXED).zip(&slots) {
            if s.pid != 0 && s.watch {
                p.fd = s.chan;
            }
            if s.pid != 0 && s.deadline_ns != 0 && s.flags & record::FLAG_TIMED_OUT == 0 {
                next_deadline = if next_deadline == 0 {
                    s.deadline_ns
                } else {
                    next_deadline.min(s.deadline_ns)
                };
            }
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let timeout = if next_deadline != 0 {
            let left = next_deadline.saturating_sub(raw::monotonic_ns());
            ts.tv_sec = (left / 1_000_000_000) as libc::time_t;
            ts.tv_nsec = (left % 1_000_000_000) as libc::c_long;
            Some(&ts)
        } else {
            None
        };
        match raw::poll(&mut fds, timeout) {
            Ok(_) | Err(Errno(libc::EINTR)) => {}
            Err(_) => {
                kill_everything(&ctx);
                return 2;
            }
        }
        let [sig_p, pipe_p, caller_p, control_p] = [
            fds.first().map_or(0, |p| p.revents),
            fds.get(1).map_or(0, |p| p.revents),
            fds.get(2).map_or(0, |p| p.revents),
            fds.get(3).map_or(0, |p| p.revents),
        ];
        if fds.get(4).is_some_and(|p| p.revents != 0) {
            net_open = super::net::serve_request(ctx.net_fd);
        }
        if pipe_p != 0 || caller_p != 0 {
            // The caller is gone: so is the container.
            kill_everything(&ctx);
            return 3;
        }
        if sig_p != 0 && drain_signals(sfd) {
            reap(&mut slots, &mut init, false);
        }
        if let Some(status) = init.status {
            return init_ended(&ctx, &mut slots, &mut init, status);
        }
        // Requests about one exec.
        for (p, s) in fds.iter().skip(FIXED).zip(slots.iter_mut()) {
            if p.revents != 0 && s.pid != 0 && p.fd == s.chan {
                exec_request(s);
            }
        }
        let now = raw::monotonic_ns();
        for s in slots.iter_mut() {
            if s.pid != 0
                && s.deadline_ns != 0
                && now >= s.deadline_ns
                && s.flags & record::FLAG_TIMED_OUT == 0
            {
                s.flags |= record::FLAG_TIMED_OUT;
                kill_group(s.pid, libc::SIGKILL);
            }
        }
        if control_p != 0 {
            match control_request(&ctx, &mut slots) {
                Control::Continue => {}
                Control::Stop(grace_ns, sig) => {
                    return stop(&ctx, &mut slots, &mut init, grace_ns, sig);
                }
                Control::Closed => {
                    // The owner dropped its handle without stopping: the
                    // container goes with it.
                    kill_everything(&ctx);
                    return 3;
                }
            }
        }
    }
}

/// Reads every pending signal; returns whether a `SIGCHLD` was among them.
/// Other signals sent to the supervisor are ignored: the container is
/// stopped through its owner.
fn drain_signals(sfd: c_int) -> bool {
    let mut child = false;
    let mut buf = [0u8; 128 * 8];
    while let Ok(n) = raw::read(sfd, &mut buf) {
        if n == 0 {
            break;
        }
        for info in buf.get(..n).unwrap_or(&[]).chunks_exact(128) {
            let mut w = [0u8; 4];
            w.copy_from_slice(info.get(..4).unwrap_or(&[0; 4]));
            if u32::from_ne_bytes(w) as c_int == libc::SIGCHLD {
                child = true;
            }
        }
    }
    child
}

/// Sends `sig` to the process group of a program (a session leader: its
/// group bears its pid while it is unreaped, and it cannot leave it), or
/// to the program alone when it has no such group. Never both: a program
/// would get each signal twice (a queued real-time signal always, a
/// standard one when it handled the first before the second came).
fn kill_group(pid: i32, sig: c_int) {
    if raw::kill(pid.wrapping_neg(), sig).is_err() {
        let _ = raw::kill(pid, sig);
    }
}

/// A request on an exec's channel: kill or signal its program's group. A
/// channel the owner closed is no longer watched; the program runs on.
fn exec_request(s: &mut Slot) {
    let mut req = [0u8; 8];
    match raw::read(s.chan, &mut req) {
        Ok(n) if n > 0 => match req {
            [record::REQUEST_KILL, ..] => {
                s.flags |= record::FLAG_KILLED;
                kill_group(s.pid, libc::SIGKILL);
            }
            [record::REQUEST_SIGNAL, sig, ..] if n == 2 => {
                let sig = c_int::from(sig);
                if sig == libc::SIGKILL {
                    s.flags |= record::FLAG_KILLED;
                }
                if (1..=64).contains(&sig) {
                    kill_group(s.pid, sig);
                }
            }
            _ => {}
        },
        Err(Errno(libc::EINTR | libc::EAGAIN)) => {}
        _ => s.watch = false,
    }
}

/// Clones the container's init: pid 1 of a new pid namespace, which every
/// later child of ours joins, while we stay in the caller's. Returns its
/// pid, or reports the step that failed and returns `None`.
fn start_init(plan: &ChildPlan<'_>) -> Option<i32> {
    let failed = |rec: Record| {
        send(plan.report_fd, &rec);
        None
    };
    if let Err(e) = raw::unshare(libc::CLONE_NEWPID) {
        return failed(Fail::new(Stage::CloneProgram, 0, e).record());
    }
    // The init of a new pid namespace sees its parent, outside it, as 0.
    plan.shared.expected_ppid.store(0, Ordering::Relaxed);
    // SAFETY: as for a sandbox's first program (see the supervisor's
    // `clone_program`): the program stack is reserved for the program
    // process and outlives it; CLONE_VFORK suspends us until it has
    // executed or exited, so `plan` outlives its use.
    let r = unsafe {
        super::program::clone_program_process(
            plan,
            (libc::CLONE_VM | libc::CLONE_VFORK) as u64,
            plan.program_stack.get(),
            plan.cgroup_fd,
            plan.use_clone3,
        )
    };
    let pid = match r {
        Ok(pid) => pid,
        Err(f) => return failed(f.record()),
    };
    if plan.shared.failed.load(Ordering::Acquire) != 0 {
        // SAFETY: the program process wrote `error` before the release
        // store observed above, and has stopped running our code.
        let rec = unsafe { *plan.shared.error.get() };
        let mut st = 0;
        let _ = raw::wait4(pid, &mut st, libc::__WALL, None);
        return failed(rec);
    }
    Some(pid)
}

/// The container's init has ended: the kernel has killed every other
/// process of its namespace, and (the init's end waits for them) they have
/// been reaped. Reports the init's status and returns our exit code.
fn init_ended(ctx: &Ctx, slots: &mut [Slot; MAX_EXECS], init: &mut Init, status: c_int) -> c_int {
    reap(slots, init, false);
    report_unreaped(slots);
    let mut rec = Record::new(record::KIND_EXIT);
    rec.value = status;
    send(ctx.control, &rec);
    0
}

/// Execs whose programs were not reaped (killed with the namespace at our
/// exit): their channels say they were killed.
fn report_unreaped(slots: &mut [Slot; MAX_EXECS]) {
    for s in slots.iter_mut() {
        if s.pid != 0 {
            let mut rec = Record::new(record::KIND_EXIT);
            rec.value = libc::SIGKILL;
            rec.flags = s.flags | record::FLAG_KILLED;
            send(s.chan, &rec);
        }
    }
}

/// Reaps every child that has ended; an exec's program gets its exit
/// record, the init's status is kept. Returns false once no child is left.
fn reap(slots: &mut [Slot; MAX_EXECS], init: &mut Init, block: bool) -> bool {
    loop {
        match reap_one(block) {
            Reaped::Nothing => return true,
            Reaped::NoChildren => return false,
            Reaped::Child(pid, st, ru) => {
                if pid == init.pid && init.pid != 0 {
                    init.status = Some(st);
                }
                if let Some(s) = slots.iter_mut().find(|s| s.pid == pid) {
                    let mut rec = Record::new(record::KIND_EXIT);
                    rec.value = st;
                    rec.flags = s.flags;
                    let info = record::ExitInfo {
                        wall_ns: raw::monotonic_ns().saturating_sub(s.start_ns),
                        utime_us: timeval_us(&ru.ru_utime),
                        stime_us: timeval_us(&ru.ru_stime),
                        maxrss_kib: ru.ru_maxrss as u64,
                    };
                    info.encode(&mut rec);
                    send(s.chan, &rec);
                    // SAFETY: the slot owned this descriptor; it is used no
                    // more.
                    let _ = unsafe { raw::close(s.chan) };
                    *s = FREE;
                }
                if block {
                    return true;
                }
            }
        }
    }
}

enum Control {
    Continue,
    /// Stop, with this grace period in nanoseconds (0: kill at once) and
    /// this signal.
    Stop(u64, c_int),
    Closed,
}

/// Closes the descriptors received with a request that is not served.
fn close_received(fds: &[c_int]) {
    for &fd in fds {
        if fd >= 0 {
            // SAFETY: received with the request, owned by nothing else.
            let _ = unsafe { raw::close(fd) };
        }
    }
}

fn control_request(ctx: &Ctx, slots: &mut [Slot; MAX_EXECS]) -> Control {
    let mut req = [0u8; 32];
    let mut fds = [-1 as c_int; raw::SCM_MAX_FD];
    let (n, got, cut) = match raw::recv_with_fds(ctx.control, &mut req, &mut fds) {
        Ok(r) => r,
        Err(Errno(libc::EINTR | libc::EAGAIN)) => return Control::Continue,
        Err(_) => return Control::Closed,
    };
    let received = fds.get(..got).unwrap_or(&[]);
    if n == 0 && got == 0 {
        return Control::Closed;
    }
    match req.first().copied() {
        Some(record::REQUEST_EXEC) if n == record::EXEC_REQUEST_LEN && !cut && got > 0 => {
            exec(ctx, slots, &req, received);
            Control::Continue
        }
        Some(record::REQUEST_STOP) if n == record::STOP_REQUEST_LEN => {
            close_received(received);
            let sig = match req.get(1).copied() {
                Some(s @ 1..=64) => c_int::from(s),
                _ => libc::SIGTERM,
            };
            Control::Stop(record::u64_at(&req, 8), sig)
        }
        Some(record::REQUEST_KILL) => {
            close_received(received);
            Control::Stop(0, libc::SIGKILL)
        }
        _ => {
            close_received(received);
            Control::Continue
        }
    }
}

/// Starts the program of an exec request and reports on its channel.
fn exec(ctx: &Ctx, slots: &mut [Slot; MAX_EXECS], req: &[u8], received: &[c_int]) {
    let (chan, fds) = match received.split_first() {
        Some((c, rest)) => (*c, rest),
        None => return,
    };
    let plan_addr = record::u64_at(req, 8) as usize;
    let count = record::u32_at(req, 16) as usize;
    let min_fd = record::u32_at(req, 20) as c_int;
    let fail = |f: Fail| {
        send(chan, &f.record());
        // SAFETY: the exec's channel, received with the request and used
        // no more.
        let _ = unsafe { raw::close(chan) };
    };
    if plan_addr == 0 || count != fds.len() {
        close_received(fds);
        fail(Fail::new(Stage::ExecRequest, 0, Errno(libc::EINVAL)));
        return;
    }
    // SAFETY: only the container's owner holds the control channel, and it
    // sends the address of an exec plan in its (our shared) memory, which
    // it keeps alive and unchanged until this exec's channel has answered
    // (or closed); only shared references are made.
    let plan = unsafe { &*(plan_addr as *const ChildPlan<'_>) };
    if plan.fds.received.len() != count {
        close_received(fds);
        fail(Fail::new(Stage::ExecRequest, 1, Errno(libc::EINVAL)));
        return;
    }
    let Some(slot) = slots.iter().position(|s| s.pid == 0) else {
        close_received(fds);
        fail(Fail::new(Stage::ExecRequest, 2, Errno(libc::EAGAIN)));
        return;
    };
    // Every source lies above every target, so that arranging the
    // program's descriptors overwrites none still to be moved.
    let mut failed = None;
    for (i, (&fd, cell)) in fds.iter().zip(&plan.fds.received).enumerate() {
        match raw::dup_at_least(fd, min_fd) {
            Ok(d) => cell.set(d.into_raw()),
            Err(e) => {
                failed.get_or_insert(Fail::new(Stage::Fds, i as u32, e));
            }
        }
    }
    close_received(fds);
    // The program process sends its terminal's master and its seccomp
    // listener on the exec's channel, which it inherits from us: above
    // every target too.
    let mut pty_chan = None;
    if plan.fds.pty.is_some() || plan.sends_listener() {
        match raw::dup_at_least(chan, min_fd) {
            Ok(d) => {
                plan.fds.send_to.set(d.raw());
                pty_chan = Some(d);
            }
            Err(e) => {
                failed.get_or_insert(Fail::new(Stage::Terminal, 6, e));
            }
        }
    }
    if let Some(f) = failed {
        for c in &plan.fds.received {
            close_received(&[c.replace(-1)]);
        }
        fail(f);
        return;
    }
    // With an init of the caller's, we are outside the program's pid
    // namespace: its parent is 0 there.
    let me = if ctx.init != 0 {
        0
    } else if ctx.pid_ns {
        1
    } else {
        raw::getpid()
    };
    plan.shared.expected_ppid.store(me, Ordering::Relaxed);
    plan.shared.failed.store(0, Ordering::Relaxed);
    let start_ns = raw::monotonic_ns();
    let r = clone_exec(ctx, plan);
    drop(pty_chan);
    for c in &plan.fds.received {
        close_received(&[c.replace(-1)]);
    }
    let pid = match r {
        Ok(pid) => pid,
        Err(f) if ctx.init != 0 && f.stage == Stage::CloneProgram && f.errno.0 == libc::ENOMEM => {
            // The init is gone, and with it the namespace (no process can
            // join it any more): the container has ended, which the
            // channel closed without an answer says.
            // SAFETY: as in `fail`.
            let _ = unsafe { raw::close(chan) };
            return;
        }
        Err(f) => {
            fail(f);
            return;
        }
    };
    // CLONE_VFORK: the program process has executed the program or given
    // up, and written `shared` (mapped shared) before either.
    if plan.shared.failed.load(Ordering::Acquire) != 0 {
        // SAFETY: the program process wrote `error` before the release
        // store observed above and has stopped running our code.
        let rec = unsafe { *plan.shared.error.get() };
        let mut st = 0;
        let _ = raw::wait4(pid, &mut st, libc::__WALL, None);
        send(chan, &rec);
        // SAFETY: as in `fail`.
        let _ = unsafe { raw::close(chan) };
        return;
    }
    if let Some(s) = slots.get_mut(slot) {
        *s = Slot {
            pid,
            chan,
            watch: true,
            start_ns,
            deadline_ns: if ctx.timeout_ns == 0 {
                0
            } else {
                start_ns.saturating_add(ctx.timeout_ns)
            },
            flags: 0,
        };
    }
    // The plan may go once this is sent: nothing below reads it.
    let mut rec = Record::new(record::KIND_RUNNING);
    if !ctx.pid_ns {
        rec.value = pid;
        send(chan, &rec);
    } else {
        rec.flags = record::FLAG_PID_IN_CREDENTIALS;
        if raw::send_as(chan, &rec.encode(), pid).is_err() {
            rec.flags = 0;
            send(chan, &rec);
        }
    }
}

/// Clones an exec's program process: a copy of the address space (not the
/// address space itself, see the module's documentation), suspended on
/// until it has executed the program or failed.
fn clone_exec(ctx: &Ctx, plan: &ChildPlan<'_>) -> Result<i32, Fail> {
    // SAFETY: the program process runs on the container's program stack, in
    // its own copy of the address space (no CLONE_VM), so nothing it does
    // there touches ours; the plan it reads is its copy of the owner's,
    // taken while the owner waits for this exec's answer.
    unsafe {
        super::program::clone_program_process(
            plan,
            libc::CLONE_VFORK as u64,
            ctx.program_stack,
            ctx.cgroup_fd,
            ctx.use_clone3,
        )
    }
}

/// Kills every process of the container.
fn kill_everything(ctx: &Ctx) {
    signal_everything(ctx, libc::SIGKILL);
    if !ctx.pid_ns {
        // Without a pid namespace, orphans come to us as subreaper: keep
        // killing what is listed until nothing is left to reap.
        let start = raw::monotonic_ns();
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        loop {
            let mut st = 0;
            match raw::wait4(-1, &mut st, libc::WNOHANG | libc::__WALL, None) {
                Err(Errno(libc::ECHILD)) => return,
                Err(Errno(libc::EINTR)) => {}
                Ok(0) | Err(_) => {
                    if ctx.init != 0 {
                        let _ = raw::kill(ctx.init, libc::SIGKILL);
                    } else {
                        let _ = kill_listed_children(libc::SIGKILL);
                    }
                    if raw::monotonic_ns().saturating_sub(start) > 10_000_000_000 {
                        return;
                    }
                    let _ = raw::poll(&mut [], Some(&pause));
                }
                Ok(_) => {}
            }
        }
    }
    // In a pid namespace, our exit kills whatever is left.
}

/// Sends `sig` to every process of the container.
fn signal_everything(ctx: &Ctx, sig: c_int) {
    if sig == libc::SIGKILL && ctx.cgroup_kill_fd >= 0 {
        let _ = raw::write(ctx.cgroup_kill_fd, b"1");
    }
    if ctx.init != 0 {
        // The init's namespace: killing the init kills every process of
        // it; any other signal is the init's to act on (it reaches the
        // init only if the init handles it).
        let _ = raw::kill(ctx.init, sig);
    } else if ctx.pid_ns {
        // As the pid namespace's init, -1 means every other process in the
        // namespace, and nothing outside it.
        let _ = raw::kill(-1, sig);
    } else {
        // Never kill(-1) here: it would reach every process of the
        // caller's uid. Our children, and their groups.
        let _ = kill_listed_children(sig);
    }
}

/// Stops the container: `sig` to every process (to the init alone, when
/// the container has one), up to `grace_ns` for them to end, then
/// `SIGKILL` to what is left. Sends the control channel an exit record
/// (flagged killed if anything had to be killed, with the init's status)
/// and returns the supervisor's exit code.
fn stop(
    ctx: &Ctx,
    slots: &mut [Slot; MAX_EXECS],
    init: &mut Init,
    grace_ns: u64,
    sig: c_int,
) -> c_int {
    let mut forced = false;
    if grace_ns > 0 {
        signal_everything(ctx, sig);
        let deadline = raw::monotonic_ns().saturating_add(grace_ns);
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: 2_000_000,
        };
        loop {
            if !reap(slots, init, false) {
                break;
            }
            if raw::monotonic_ns() >= deadline {
                forced = true;
                break;
            }
            let _ = raw::poll(&mut [], Some(&pause));
        }
    } else {
        forced = reap(slots, init, false);
    }
    if forced {
        if ctx.init != 0 {
            // Killing the init kills its namespace; every process of it is
            // our child or the init's, and the init's end waits for ours
            // to be reaped.
            signal_everything(ctx, libc::SIGKILL);
            let start = raw::monotonic_ns();
            let pause = libc::timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000,
            };
            while reap(slots, init, false) {
                if raw::monotonic_ns().saturating_sub(start) > 10_000_000_000 {
                    break;
                }
                let _ = raw::poll(&mut [], Some(&pause));
            }
        } else if ctx.pid_ns {
            signal_everything(ctx, libc::SIGKILL);
            // Collect what has died; our exit takes the rest.
            reap(slots, init, false);
        } else {
            kill_everything(ctx);
        }
    }
    report_unreaped(slots);
    let mut rec = Record::new(record::KIND_EXIT);
    rec.flags = if forced { record::FLAG_KILLED } else { 0 };
    if init.pid != 0 {
        rec.value = init.status.unwrap_or(libc::SIGKILL);
    }
    send(ctx.control, &rec);
    0
}
