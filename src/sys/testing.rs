//! Process helpers for tests that need a forked child (test builds only).
//!
//! The test harness is multi-threaded, so a forked child may only do what is
//! safe after `fork` in such a process: raw system calls over data built
//! before the fork (the rules of the child zone). The closures given here
//! must keep to that; they run in the child, which then exits with their
//! result without returning into the harness.

use core::ffi::c_int;

use super::raw::{Errno, sc, syscall6};

/// Leaves the calling process with `code`, running nothing of the
/// harness's (no destructors, no atexit handlers).
fn exit_now(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes an integer and does not return.
        let _ = unsafe { sc!(libc::SYS_exit_group, code) };
    }
}

/// Runs `f` in the child, then exits with its result; a panic exits with
/// 127 instead of unwinding into a copy of the harness.
fn run_child(f: impl FnOnce() -> i32) -> ! {
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(127);
    exit_now(code)
}

/// Forks; the child runs `f` (raw system calls only, see the module
/// documentation) and exits with its result. Returns the child's pid.
pub(crate) fn fork(f: impl FnOnce() -> i32) -> Result<i32, Errno> {
    // SAFETY: the child runs only `f`, which keeps to what is safe after
    // fork in a multi-threaded process (the contract of this test helper),
    // and then exits without returning.
    let pid = unsafe { libc::fork() };
    match pid {
        0 => run_child(f),
        p if p > 0 => Ok(p),
        _ => Err(Errno(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        )),
    }
}

/// The `clone3` flags [`clone3_fork`] accepts: new namespaces and a target
/// cgroup, nothing that shares memory or state with the caller.
const FORK_FLAGS: u64 = super::clone::CLONE_INTO_CGROUP
    | (libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS) as u64;

/// `clone3` without a new stack or shared memory (a fork) with `flags`
/// (namespaces and `CLONE_INTO_CGROUP`, whose directory is `cgroup_fd`);
/// the child runs `f` as for [`fork`]. Other flags are refused (`EINVAL`).
pub(crate) fn clone3_fork(
    flags: u64,
    cgroup_fd: c_int,
    f: impl FnOnce() -> i32,
) -> Result<i32, Errno> {
    if flags & !FORK_FLAGS != 0 {
        return Err(Errno(libc::EINVAL));
    }
    let args = super::clone::CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_fd as u64,
        ..Default::default()
    };
    // SAFETY: a valid, fully initialised clone_args of the size passed,
    // with no stack and only the flags above: the child gets its own copy of
    // the address space, like fork, and returns here on the caller's stack
    // (copied); it then runs only `f`, as for `fork`, and exits.
    let r = unsafe {
        sc!(
            libc::SYS_clone3,
            &args as *const super::clone::CloneArgs,
            core::mem::size_of::<super::clone::CloneArgs>()
        )
    }?;
    if r == 0 {
        run_child(f)
    }
    Ok(r as i32)
}

/// Waits for `pid`: `Ok(exit code)` or `Err(signal number)`.
pub(crate) fn wait(pid: i32) -> Result<i32, i32> {
    let mut status = 0;
    let r = loop {
        match super::raw::wait4(pid, &mut status, 0, None) {
            Err(Errno(libc::EINTR)) => {}
            r => break r,
        }
    };
    assert_eq!(r, Ok(pid as usize), "wait4({pid})");
    if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else {
        Err(libc::WTERMSIG(status))
    }
}

/// Maps `len` bytes of fresh anonymous memory and writes to each of its
/// pages (it stays mapped: the caller is a child about to be killed or to
/// exit). Returns false if the mapping fails.
pub(crate) fn touch_fresh_memory(len: usize) -> bool {
    // SAFETY: a new anonymous private mapping; no existing memory is
    // affected.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return false;
    }
    let p = p.cast::<u8>();
    let mut i = 0;
    while i < len {
        // SAFETY: i < len: inside the mapping created above.
        let page = unsafe { p.add(i) };
        // SAFETY: a writable byte of that mapping, which nothing else uses.
        unsafe { page.write_volatile(1) };
        i += 4096;
    }
    true
}
