//! Raw system calls that never touch libc state.
//!
//! The child zone runs on a stack of its own inside the caller's address space
//! (`CLONE_VM`), concurrently with the caller's other threads. libc wrappers are
//! off limits there: they write `errno` into the spawning thread's TLS block and
//! some of them take locks. These wrappers issue the `syscall` instruction
//! directly and return the kernel's answer as `Result<usize, Errno>`.

use core::arch::asm;

/// A kernel error number, as returned (negated) by a raw system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// Converts into the standard library's error type (parent side only).
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::from_raw_os_error(self.0)
    }
}

/// Result of a raw system call.
pub type SysResult = Result<usize, Errno>;

#[inline(always)]
fn check(ret: isize) -> SysResult {
    // The kernel returns -4095..=-1 for errors; anything else is a value.
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// Issues system call `nr` with six arguments.
///
/// # Safety
/// The caller guarantees that the arguments are valid for `nr` (pointers point
/// to live memory of the right size and type, file descriptors are owned
/// appropriately) and that the call's effect on the process is intended.
#[inline(always)]
#[cfg(target_arch = "x86_64")]
pub unsafe fn syscall6(
    nr: libc::c_long,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> SysResult {
    let ret: isize;
    // SAFETY: the x86_64 Linux system call convention: number in rax,
    // arguments in rdi, rsi, rdx, r10, r8, r9; the kernel clobbers rcx and r11
    // and returns in rax. Memory safety of the arguments is the caller's
    // contract (see the function's documentation).
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a0,
            in("rsi") a1,
            in("rdx") a2,
            in("r10") a3,
            in("r8") a4,
            in("r9") a5,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags),
        );
    }
    check(ret)
}

/// Issues system call `nr` with six arguments.
///
/// # Safety
/// As for the x86_64 version.
#[inline(always)]
#[cfg(target_arch = "aarch64")]
pub unsafe fn syscall6(
    nr: libc::c_long,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> SysResult {
    let ret: isize;
    // SAFETY: the aarch64 Linux system call convention: number in x8,
    // arguments in x0..x5, result in x0. Memory safety of the arguments is the
    // caller's contract.
    unsafe {
        asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a0 as isize => ret,
            in("x1") a1,
            in("x2") a2,
            in("x3") a3,
            in("x4") a4,
            in("x5") a5,
            options(nostack, preserves_flags),
        );
    }
    check(ret)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("stockade supports Linux on x86_64 and aarch64");

macro_rules! sc {
    ($nr:expr) => { syscall6($nr as libc::c_long, 0, 0, 0, 0, 0, 0) };
    ($nr:expr, $a:expr) => { syscall6($nr as libc::c_long, ($a) as usize, 0, 0, 0, 0, 0) };
    ($nr:expr, $a:expr, $b:expr) => { syscall6($nr as libc::c_long, ($a) as usize, ($b) as usize, 0, 0, 0, 0) };
    ($nr:expr, $a:expr, $b:expr, $c:expr) => {
        syscall6($nr as libc::c_long, ($a) as usize, ($b) as usize, ($c) as usize, 0, 0, 0)
    };
    ($nr:expr, $a:expr, $b:expr, $c:expr, $d:expr) => {
        syscall6($nr as libc::c_long, ($a) as usize, ($b) as usize, ($c) as usize, ($d) as usize, 0, 0)
    };
    ($nr:expr, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => {
        syscall6($nr as libc::c_long, ($a) as usize, ($b) as usize, ($c) as usize, ($d) as usize, ($e) as usize, 0)
    };
}
#[allow(unused_imports)]
pub(crate) use sc;

// ---------------------------------------------------------------------------
// Typed wrappers. Each is a thin shell over one system call; pointer arguments
// come from references and new descriptors come back owned, as [`Fd`]s. A
// wrapper is safe when no argument can make it break memory or I/O safety;
// those that close or overwrite a descriptor number, or take raw pointers
// whose validity the types cannot show, are `unsafe fn`s with their
// obligations under `# Safety`. Descriptor numbers are plain `c_int`s for
// calls that only use a descriptor (I/O safety cares about closing and
// overwriting them, which only the `unsafe fn`s do).
// ---------------------------------------------------------------------------

use core::ffi::{CStr, c_int, c_uint, c_void};

/// A descriptor this process opened and owns, closed with a raw `close(2)`
/// when dropped: the child zone's `OwnedFd`. (`std`'s goes through libc,
/// which writes `errno`, and in debug builds aborts if the descriptor was
/// already closed.)
#[derive(Debug)]
pub struct Fd(c_int);

impl Fd {
    /// Takes ownership of `fd`.
    ///
    /// # Safety
    /// `fd` is an open descriptor that nothing else owns: no other value
    /// closes it, and nothing uses it after this `Fd` is dropped.
    pub unsafe fn from_raw(fd: c_int) -> Fd {
        Fd(fd)
    }

    /// The descriptor number, for calls that use it without closing it.
    pub fn raw(&self) -> c_int {
        self.0
    }

    /// Turns into std's owned descriptor (parent side: std's `close` goes
    /// through libc).
    #[cfg(feature = "landlock")]
    pub fn into_owned(self) -> std::os::fd::OwnedFd {
        use std::os::fd::FromRawFd;
        let fd = self.into_raw();
        // SAFETY: `into_raw` gave up this value's ownership of an open
        // descriptor that nothing else owns.
        unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
    }

    /// Gives up ownership without closing: the caller becomes the owner.
    pub fn into_raw(self) -> c_int {
        let fd = self.0;
        core::mem::forget(self);
        fd
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: an `Fd` owns its descriptor (see `from_raw`) and this is
        // its last use.
        let _ = unsafe { close(self.0) };
    }
}

/// Wraps the result of a call that returns a new descriptor.
///
/// # Safety
/// `r` is the return value of a system call that, on success, returns a
/// descriptor it has just created in this process's table.
pub(super) unsafe fn new_fd(r: SysResult) -> Result<Fd, Errno> {
    // SAFETY: the descriptor is new, so nothing else owns it (the caller's
    // promise); the kernel never returns more than `c_int::MAX`.
    r.map(|fd| unsafe { Fd::from_raw(fd as c_int) })
}

/// `write(2)`.
pub fn write(fd: c_int, buf: &[u8]) -> SysResult {
    // SAFETY: buf is a live slice; the kernel reads at most buf.len() bytes.
    unsafe { sc!(libc::SYS_write, fd, buf.as_ptr(), buf.len()) }
}

/// `close(2)`. Prefer dropping an [`Fd`].
///
/// # Safety
/// `fd` is owned by the caller, and nothing uses it after this call: no
/// other value in this process closes or reads it later (the number may be
/// reused by the next descriptor created).
pub unsafe fn close(fd: c_int) -> SysResult {
    // SAFETY: an integer argument; ownership is the caller's promise.
    unsafe { sc!(libc::SYS_close, fd) }
}

/// `dup3(2)`: makes `new` a copy of `old`, closing whatever `new` was.
///
/// # Safety
/// If `new` is open, it is owned by the caller and nothing uses it as the
/// descriptor it was: it is silently closed and replaced.
pub unsafe fn dup3(old: c_int, new: c_int, flags: c_int) -> SysResult {
    // SAFETY: integer arguments; `new`'s ownership is the caller's promise.
    unsafe { sc!(libc::SYS_dup3, old, new, flags) }
}

/// `fcntl(fd, F_SETFD, FD_CLOEXEC or 0)`: sets or clears close-on-exec.
pub fn set_cloexec(fd: c_int, on: bool) -> SysResult {
    let flags = if on { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: F_SETFD takes an integer argument and changes only the
    // descriptor's flags.
    unsafe { sc!(libc::SYS_fcntl, fd, libc::F_SETFD, flags) }
}

/// `close_range(2)` (Linux 5.9; `CLOSE_RANGE_CLOEXEC` since 5.11).
///
/// # Safety
/// Without `CLOSE_RANGE_CLOEXEC`: every open descriptor in `first..=last`
/// is owned by the caller and nothing uses it after this call (as for
/// [`close`]). With it, nothing is closed and there is no obligation.
pub unsafe fn close_range(first: c_uint, last: c_uint, flags: c_uint) -> SysResult {
    // SAFETY: integer arguments; ownership is the caller's promise.
    unsafe { sc!(libc::SYS_close_range, first, last, flags) }
}

/// `openat(2)`.
pub fn openat(dirfd: c_int, path: &CStr, flags: c_int, mode: c_uint) -> Result<Fd, Errno> {
    // SAFETY: path is NUL-terminated and outlives the call.
    let r = unsafe { sc!(libc::SYS_openat, dirfd, path.as_ptr(), flags, mode) };
    // SAFETY: openat returns a new descriptor.
    unsafe { new_fd(r) }
}

/// `getdents64(2)`: reads directory entries into `buf`; returns the number
/// of bytes filled (0 at the end of the directory).
pub fn getdents64(fd: c_int, buf: &mut [u8]) -> SysResult {
    // SAFETY: buf is a live, writable slice; the kernel writes at most
    // buf.len() bytes.
    unsafe { sc!(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) }
}

/// `struct open_how` for `openat2(2)`.
#[repr(C)]
pub struct OpenHow {
    /// `O_*` flags.
    pub flags: u64,
    /// Creation mode.
    pub mode: u64,
    /// `RESOLVE_*` flags.
    pub resolve: u64,
}

/// `RESOLVE_NO_MAGICLINKS`.
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
/// `RESOLVE_IN_ROOT`.
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// `openat2(2)` (Linux 5.6).
///
/// With `RESOLVE_IN_ROOT` or `RESOLVE_BENEATH` the kernel answers `EAGAIN`
/// when a rename or a mount anywhere on the system raced with a `..` in the
/// walk (it cannot then prove the walk stayed inside); as openat2(2)
/// advises, the call is retried, a bounded number of times.
pub fn openat2(dirfd: c_int, path: &CStr, how: &OpenHow) -> Result<Fd, Errno> {
    let mut left = 64u32;
    loop {
        // SAFETY: path is NUL-terminated; how is a live struct of the size
        // passed.
        let r = unsafe {
            sc!(
                libc::SYS_openat2,
                dirfd,
                path.as_ptr(),
                how as *const OpenHow,
                core::mem::size_of::<OpenHow>()
            )
        };
        match r {
            Err(Errno(libc::EAGAIN)) if left > 0 => left = left.wrapping_sub(1),
            // SAFETY: openat2 returns a new descriptor.
            r => return unsafe { new_fd(r) },
        }
    }
}

/// `mkdirat(2)`.
pub fn mkdirat(dirfd: c_int, path: &CStr, mode: c_uint) -> SysResult {
    // SAFETY: path is NUL-terminated.
    unsafe { sc!(libc::SYS_mkdirat, dirfd, path.as_ptr(), mode) }
}

/// `symlinkat(2)`.
pub fn symlinkat(target: &CStr, dirfd: c_int, path: &CStr) -> SysResult {
    // SAFETY: both strings are NUL-terminated.
    unsafe { sc!(libc::SYS_symlinkat, target.as_ptr(), dirfd, path.as_ptr()) }
}

/// `mount(2)` with optional pointers.
pub fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> SysResult {
    let p = |s: Option<&CStr>| s.map_or(core::ptr::null(), CStr::as_ptr);
    // SAFETY: every non-null pointer is a NUL-terminated string that outlives the call.
    unsafe {
        sc!(
            libc::SYS_mount,
            p(src),
            target.as_ptr(),
            p(fstype),
            flags,
            p(data)
        )
    }
}

/// `umount2(2)`.
pub fn umount2(target: &CStr, flags: c_int) -> SysResult {
    // SAFETY: target is NUL-terminated.
    unsafe { sc!(libc::SYS_umount2, target.as_ptr(), flags) }
}

/// `pivot_root(2)`.
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> SysResult {
    // SAFETY: both strings are NUL-terminated.
    unsafe { sc!(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) }
}

/// `chdir(2)`.
pub fn chdir(path: &CStr) -> SysResult {
    // SAFETY: path is NUL-terminated.
    unsafe { sc!(libc::SYS_chdir, path.as_ptr()) }
}

/// `fchdir(2)`.
pub fn fchdir(fd: c_int) -> SysResult {
    // SAFETY: integer argument only.
    unsafe { sc!(libc::SYS_fchdir, fd) }
}

/// `setsid(2)`.
pub fn setsid() -> SysResult {
    // SAFETY: no arguments.
    unsafe { sc!(libc::SYS_setsid) }
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: a new anonymous session
/// keyring for the calling process, in place of the one it inherited.
pub fn join_fresh_session_keyring() -> SysResult {
    // SAFETY: a null name asks for an anonymous keyring; no memory is read.
    unsafe {
        sc!(
            libc::SYS_keyctl,
            libc::KEYCTL_JOIN_SESSION_KEYRING,
            core::ptr::null::<libc::c_char>()
        )
    }
}

/// `sethostname(2)`.
pub fn sethostname(name: &[u8]) -> SysResult {
    // SAFETY: the kernel reads name.len() bytes from a live slice.
    unsafe { sc!(libc::SYS_sethostname, name.as_ptr(), name.len()) }
}

/// `prctl(PR_SET_PDEATHSIG, sig)`: `sig` is sent to the calling thread when
/// its parent exits.
pub fn set_parent_death_signal(sig: c_int) -> SysResult {
    // SAFETY: PR_SET_PDEATHSIG takes an integer argument.
    unsafe { sc!(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, sig, 0, 0, 0) }
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphaned descendants are reparented
/// to the calling process.
pub fn set_child_subreaper() -> SysResult {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer argument.
    unsafe { sc!(libc::SYS_prctl, libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }
}

/// `prlimit64(2)` on the calling process.
pub fn setrlimit(resource: c_int, limit: &libc::rlimit64) -> SysResult {
    // SAFETY: limit is a live rlimit64; old_limit is null.
    unsafe {
        sc!(
            libc::SYS_prlimit64,
            0,
            resource,
            limit as *const libc::rlimit64,
            core::ptr::null_mut::<libc::rlimit64>()
        )
    }
}

/// `setresuid(2)`.
pub fn setresuid(r: u32, e: u32, s: u32) -> SysResult {
    // SAFETY: integer arguments only.
    unsafe { sc!(libc::SYS_setresuid, r, e, s) }
}

/// `setresgid(2)`.
pub fn setresgid(r: u32, e: u32, s: u32) -> SysResult {
    // SAFETY: integer arguments only.
    unsafe { sc!(libc::SYS_setresgid, r, e, s) }
}

/// `setgroups(2)` with an empty list.
pub fn clear_groups() -> SysResult {
    // SAFETY: size 0 with a null list is valid.
    unsafe { sc!(libc::SYS_setgroups, 0, core::ptr::null::<libc::gid_t>()) }
}

/// `setns(2)`.
pub fn setns(fd: c_int, nstype: c_int) -> SysResult {
    // SAFETY: integer arguments only.
    unsafe { sc!(libc::SYS_setns, fd, nstype) }
}

/// `unshare(2)`.
pub fn unshare(flags: c_int) -> SysResult {
    // SAFETY: integer argument only.
    unsafe { sc!(libc::SYS_unshare, flags) }
}

/// `getpid(2)`.
pub fn getpid() -> i32 {
    // SAFETY: no arguments; cannot fail.
    unsafe { sc!(libc::SYS_getpid) }.map_or(0, |v| v as i32)
}

/// `getppid(2)`.
pub fn getppid() -> i32 {
    // SAFETY: no arguments; cannot fail.
    unsafe { sc!(libc::SYS_getppid) }.map_or(0, |v| v as i32)
}

/// `kill(2)`.
pub fn kill(pid: i32, sig: c_int) -> SysResult {
    // SAFETY: integer arguments only.
    unsafe { sc!(libc::SYS_kill, pid, sig) }
}

/// Kernel `struct sigaction` layout for `rt_sigaction(2)` (x86_64 and aarch64).
#[repr(C)]
struct KernelSigaction {
    /// Handler or `SIG_DFL`/`SIG_IGN`.
    handler: usize,
    /// `SA_*` flags.
    flags: u64,
    /// `sa_restorer` (unused here).
    restorer: usize,
    /// Signals blocked during the handler.
    mask: u64,
}

/// A signal disposition without a handler (a handler is code the kernel
/// jumps to, which no safe wrapper can vouch for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// `SIG_DFL`.
    Default,
    /// `SIG_IGN`.
    #[cfg_attr(not(test), allow(dead_code))] // The zone only resets.
    Ignore,
}

/// `rt_sigaction(2)` setting `sig`'s disposition, with no flags and an
/// empty mask.
pub fn set_disposition(sig: c_int, disposition: Disposition) -> SysResult {
    let act = KernelSigaction {
        handler: match disposition {
            Disposition::Default => libc::SIG_DFL,
            Disposition::Ignore => libc::SIG_IGN,
        },
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: act is a live struct in the kernel's layout naming no code;
    // oldact is null; the mask size is 8 bytes as the kernel expects on
    // 64-bit architectures.
    unsafe {
        sc!(
            libc::SYS_rt_sigaction,
            sig,
            &act as *const KernelSigaction,
            core::ptr::null_mut::<KernelSigaction>(),
            8
        )
    }
}

/// `rt_sigprocmask(2)` with a 64-bit kernel signal set.
pub fn sigprocmask(how: c_int, set: &u64) -> SysResult {
    // SAFETY: set points to 8 live bytes; oldset is null.
    unsafe {
        sc!(
            libc::SYS_rt_sigprocmask,
            how,
            set as *const u64,
            core::ptr::null_mut::<u64>(),
            8
        )
    }
}

/// `signalfd4(2)` with a 64-bit kernel signal set: a new signalfd.
pub fn signalfd(mask: &u64, flags: c_int) -> Result<Fd, Errno> {
    // SAFETY: mask points to 8 live bytes.
    let r = unsafe { sc!(libc::SYS_signalfd4, -1i32, mask as *const u64, 8, flags) };
    // SAFETY: with -1, signalfd4 returns a new descriptor.
    unsafe { new_fd(r) }
}

/// `read(2)`.
pub fn read(fd: c_int, buf: &mut [u8]) -> SysResult {
    // SAFETY: buf is a live, writable slice of buf.len() bytes.
    unsafe { sc!(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) }
}

/// `ppoll(2)` with an optional timeout and no signal mask.
pub fn poll(fds: &mut [libc::pollfd], timeout: Option<&libc::timespec>) -> SysResult {
    let t = timeout.map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: fds is a live, writable array of fds.len() entries; t is null
    // or points to a live timespec.
    unsafe {
        sc!(
            libc::SYS_ppoll,
            fds.as_mut_ptr(),
            fds.len(),
            t,
            core::ptr::null::<u64>(),
            8
        )
    }
}

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a live timespec.
    let _ = unsafe {
        sc!(
            libc::SYS_clock_gettime,
            libc::CLOCK_MONOTONIC,
            &mut ts as *mut libc::timespec
        )
    };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// `wait4(2)` returning the raw status and the child's resource usage.
pub fn wait4(
    pid: i32,
    status: &mut c_int,
    options: c_int,
    usage: Option<&mut libc::rusage>,
) -> SysResult {
    let u = usage.map_or(core::ptr::null_mut(), |u| u as *mut libc::rusage);
    // SAFETY: status is a live int; u is null or a live rusage.
    unsafe { sc!(libc::SYS_wait4, pid, status as *mut c_int, options, u) }
}

/// `sendmsg(2)` of one buffer, with `control` bytes of ancillary data (or
/// none when null).
fn sendmsg_one(fd: c_int, buf: &[u8], control: *mut c_void, control_len: usize) -> SysResult {
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut c_void,
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid (no name, no control data yet).
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !control.is_null() {
        msg.msg_control = control;
        msg.msg_controllen = control_len as _;
    }
    // SAFETY: msg and iov point to live memory for the duration of the call,
    // and so does `control` (the callers' promise); MSG_NOSIGNAL avoids
    // SIGPIPE if the parent has gone.
    unsafe {
        sc!(
            libc::SYS_sendmsg,
            fd,
            &msg as *const libc::msghdr,
            libc::MSG_NOSIGNAL
        )
    }
}

/// `sendmsg(2)` of one buffer without control data.
pub fn send(fd: c_int, buf: &[u8]) -> SysResult {
    sendmsg_one(fd, buf, core::ptr::null_mut(), 0)
}

/// `sendmsg(2)` of one buffer with explicit `SCM_CREDENTIALS` naming `pid`
/// (a process in the sender's pid namespace) and the sender's own ids. The
/// kernel translates the pid into the receiver's pid namespace. Naming
/// another process's pid needs `CAP_SYS_ADMIN` over the sender's pid
/// namespace (`EPERM` otherwise).
pub fn send_as(fd: c_int, buf: &[u8], pid: i32) -> SysResult {
    #[repr(C)]
    struct Control {
        hdr: libc::cmsghdr,
        cred: libc::ucred,
    }
    // CMSG_LEN and CMSG_SPACE, with the kernel's alignment to `size_t`.
    const HDR: usize = core::mem::size_of::<libc::cmsghdr>();
    const CRED: usize = core::mem::size_of::<libc::ucred>();
    const ALIGN: usize = core::mem::size_of::<usize>();
    const SPACE: usize = HDR + CRED.div_ceil(ALIGN) * ALIGN;
    const _: () = assert!(HDR % ALIGN == 0 && core::mem::size_of::<Control>() == SPACE);
    // SAFETY: getuid and getgid take no arguments and cannot fail.
    let uid = unsafe { sc!(libc::SYS_getuid) }.unwrap_or(0) as u32;
    // SAFETY: as above.
    let gid = unsafe { sc!(libc::SYS_getgid) }.unwrap_or(0) as u32;
    let mut control = Control {
        // SAFETY: an all-zero cmsghdr is valid plain data (its private
        // padding fields on some targets included).
        hdr: unsafe { core::mem::zeroed() },
        cred: libc::ucred { pid, uid, gid },
    };
    control.hdr.cmsg_len = (HDR + CRED) as _;
    control.hdr.cmsg_level = libc::SOL_SOCKET;
    control.hdr.cmsg_type = libc::SCM_CREDENTIALS;
    sendmsg_one(fd, buf, (&mut control as *mut Control).cast(), SPACE)
}

/// `execve(2)`. Returns only on failure.
///
/// # Safety
/// `argv` and `envp` each point to an array of pointers to NUL-terminated
/// strings, ended by a null pointer, all alive for the duration of the call.
pub unsafe fn execve(
    path: &CStr,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> Errno {
    // SAFETY: path is NUL-terminated; argv and envp are as the caller
    // promises.
    match unsafe { sc!(libc::SYS_execve, path.as_ptr(), argv, envp) } {
        Ok(_) => Errno(0),
        Err(e) => e,
    }
}

/// `newfstatat(2)`.
pub fn fstatat(dirfd: c_int, path: &CStr, st: &mut libc::stat, flags: c_int) -> SysResult {
    // SAFETY: path is NUL-terminated; st is a live, writable stat buffer.
    unsafe {
        sc!(
            libc::SYS_newfstatat,
            dirfd,
            path.as_ptr(),
            st as *mut libc::stat,
            flags
        )
    }
}

/// `unlinkat(2)`.
pub fn unlinkat(dirfd: c_int, path: &CStr, flags: c_int) -> SysResult {
    // SAFETY: path is NUL-terminated.
    unsafe { sc!(libc::SYS_unlinkat, dirfd, path.as_ptr(), flags) }
}

/// `umask(2)`; returns the previous mask.
pub fn umask(mask: c_uint) -> c_uint {
    // SAFETY: integer argument only; umask cannot fail.
    unsafe { sc!(libc::SYS_umask, mask) }.map_or(0o022, |v| v as c_uint)
}

// ---------------------------------------------------------------------------
// Kernel probes: calls that only ask, and create or change nothing.
// ---------------------------------------------------------------------------

/// `clone3(NULL, 0)`: a kernel with `clone3(2)` (Linux 5.3) rejects the zero
/// size with `EINVAL` before doing anything; `ENOSYS` means it is missing
/// or a seccomp filter answers for it.
pub fn clone3_probe() -> Errno {
    // SAFETY: clone3 with a null argument and size 0 fails without side
    // effects, reading nothing.
    match unsafe { sc!(libc::SYS_clone3, 0usize, 0usize) } {
        Ok(_) => Errno(0),
        Err(e) => e,
    }
}

/// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`: the
/// running kernel's Landlock ABI version (Linux 5.13).
#[cfg(feature = "landlock")]
pub fn landlock_abi_version() -> SysResult {
    const LANDLOCK_CREATE_RULESET_VERSION: usize = 1;
    // SAFETY: with the VERSION flag the call reads no memory and creates
    // nothing; it returns the ABI version.
    unsafe {
        sc!(
            libc::SYS_landlock_create_ruleset,
            0usize,
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION
        )
    }
}

/// `seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action)` (Linux 4.14): whether
/// the kernel supports a filter return action.
#[cfg(feature = "seccomp")]
pub fn seccomp_action_available(action: u32) -> SysResult {
    // SAFETY: SECCOMP_GET_ACTION_AVAIL only reads the u32 it is given, which
    // lives on this stack frame for the duration of the call.
    unsafe {
        sc!(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            core::ptr::addr_of!(action)
        )
    }
}

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV)` (Linux 5.0): the next
/// pending notification of a seccomp listener. Blocks when none is pending.
#[cfg(feature = "seccomp")]
pub fn seccomp_notif_recv(listener: c_int) -> Result<libc::seccomp_notif, Errno> {
    let mut req = libc::seccomp_notif {
        id: 0,
        pid: 0,
        flags: 0,
        data: libc::seccomp_data {
            nr: 0,
            arch: 0,
            instruction_pointer: 0,
            args: [0; 6],
        },
    };
    // SAFETY: the kernel writes one seccomp_notif, the size the request
    // number encodes, to a live location; it must be zeroed on input,
    // which it is.
    unsafe {
        sc!(
            libc::SYS_ioctl,
            listener,
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            core::ptr::addr_of_mut!(req)
        )
    }?;
    Ok(req)
}

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
/// SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)` (Linux 6.6): the kernel wakes the
/// listener's reader on the notifying thread's CPU and back, which makes a
/// notification's round trip much shorter. Best effort.
#[cfg(feature = "seccomp")]
pub fn seccomp_notif_sync_wake_up(listener: c_int) -> SysResult {
    // SAFETY: the request takes its flags by value.
    unsafe {
        sc!(
            libc::SYS_ioctl,
            listener,
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            1u64
        )
    }
}

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID)`: whether notification
/// `id` is still pending (its process still waits for the answer).
#[cfg(feature = "seccomp")]
pub fn seccomp_notif_id_valid(listener: c_int, id: u64) -> bool {
    // SAFETY: the kernel reads the u64 it is given, which lives on this
    // stack frame for the duration of the call.
    unsafe {
        sc!(
            libc::SYS_ioctl,
            listener,
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            core::ptr::addr_of!(id)
        )
    }
    .is_ok()
}

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND)`: answers notification `id`
/// with the error `errno` (the call fails with it; never "continue").
#[cfg(feature = "seccomp")]
pub fn seccomp_notif_refuse(listener: c_int, id: u64, errno: i32) -> SysResult {
    notif_send(
        listener,
        &libc::seccomp_notif_resp {
            id,
            val: 0,
            error: -errno,
            flags: 0,
        },
    )
}

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND)` with
/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE` (Linux 5.5): lets notified call `id`
/// run as if the filter had allowed it. Only for calls the filter's plain
/// form allows (the observer's writes, see `crate::denials`).
#[cfg(feature = "seccomp")]
pub fn seccomp_notif_continue(listener: c_int, id: u64) -> SysResult {
    notif_send(
        listener,
        &libc::seccomp_notif_resp {
            id,
            val: 0,
            error: 0,
            flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        },
    )
}

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp)`.
#[cfg(feature = "seccomp")]
fn notif_send(listener: c_int, resp: &libc::seccomp_notif_resp) -> SysResult {
    // SAFETY: the kernel reads one seccomp_notif_resp from a live location.
    unsafe {
        sc!(
            libc::SYS_ioctl,
            listener,
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            core::ptr::from_ref(resp)
        )
    }
}

/// `fstatvfs(fd)`: whether the filesystem `fd` lies on is mounted (or is)
/// read-only (`ST_RDONLY`). Parent side (libc's wrapper).
#[cfg(feature = "seccomp")]
pub fn on_read_only_mount(fd: c_int) -> Result<bool, Errno> {
    // SAFETY: statvfs is plain data; all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { core::mem::zeroed() };
    // SAFETY: libc writes one statvfs to a live location.
    if unsafe { libc::fstatvfs(fd, core::ptr::addr_of_mut!(st)) } != 0 {
        return Err(Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        ));
    }
    Ok(st.f_flag & libc::ST_RDONLY != 0)
}

/// The most descriptors one `SCM_RIGHTS` message carries (the kernel's
/// `SCM_MAX_FD`).
pub const SCM_MAX_FD: usize = 253;

/// Room for the control data of one message carrying [`SCM_MAX_FD`]
/// descriptors, in `u64`s (so that it is aligned for a `cmsghdr`).
const RIGHTS_SPACE_WORDS: usize =
    (core::mem::size_of::<libc::cmsghdr>() + SCM_MAX_FD * 4).div_ceil(8) + 1;

/// `recvmsg(2)` of one message with `MSG_CMSG_CLOEXEC`, receiving up to
/// `fds.len()` descriptors of an `SCM_RIGHTS` message into `fds`. Returns
/// the bytes read, the number of descriptors received (each owned by the
/// caller from here on) and whether data or control data was cut short.
pub fn recv_with_fds(
    fd: c_int,
    buf: &mut [u8],
    fds: &mut [c_int],
) -> Result<(usize, usize, bool), Errno> {
    let mut space = [0u64; RIGHTS_SPACE_WORDS];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut c_void,
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid (no name, no control data yet).
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr() as *mut c_void;
    msg.msg_controllen = core::mem::size_of_val(&space) as _;
    // SAFETY: msg, iov, buf and space are live, writable memory of the
    // sizes given for the duration of the call.
    let n = unsafe {
        sc!(
            libc::SYS_recvmsg,
            fd,
            &mut msg as *mut libc::msghdr,
            libc::MSG_CMSG_CLOEXEC
        )
    }?;
    let truncated = msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0;
    // Walk the control messages the kernel wrote: each a header (its
    // length as a size_t, then level and type as ints) followed by its
    // data, aligned to 8 bytes.
    let mut bytes = [0u8; RIGHTS_SPACE_WORDS * 8];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(space.iter()) {
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    let total = (msg.msg_controllen as usize).min(bytes.len());
    let control = bytes.get(..total).unwrap_or(&[]);
    let word = core::mem::size_of::<usize>();
    let hdr = core::mem::size_of::<libc::cmsghdr>();
    let mut got = 0usize;
    let mut off = 0usize;
    while let Some(h) = control.get(off..off.saturating_add(hdr)) {
        let field = |at: usize, width: usize| {
            let mut v = [0u8; 8];
            if let (Some(d), Some(s)) = (v.get_mut(..width), h.get(at..at.saturating_add(width))) {
                d.copy_from_slice(s);
            }
            u64::from_ne_bytes(v)
        };
        let len = field(0, word) as usize;
        let level = field(word, 4) as u32 as c_int;
        let kind = field(word.saturating_add(4), 4) as u32 as c_int;
        let Some(data) = control.get(off.saturating_add(hdr)..off.saturating_add(len)) else {
            break;
        };
        if len < hdr {
            break;
        }
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            for d in data.chunks_exact(4) {
                let mut w = [0u8; 4];
                w.copy_from_slice(d);
                let v = c_int::from_ne_bytes(w);
                match fds.get_mut(got) {
                    Some(slot) => {
                        *slot = v;
                        got += 1;
                    }
                    None => {
                        // SAFETY: a descriptor just received, owned by no
                        // one else; there is no room to hand it over.
                        let _ = unsafe { close(v) };
                    }
                }
            }
        }
        off = off.saturating_add(len.div_ceil(8).saturating_mul(8));
    }
    Ok((n, got, truncated))
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`: a close-on-exec duplicate of `fd` at
/// the lowest free number at or above `min`.
pub fn dup_at_least(fd: c_int, min: c_int) -> Result<Fd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC takes integer arguments.
    let r = unsafe { sc!(libc::SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, min) };
    // SAFETY: on success it returns a new descriptor.
    unsafe { new_fd(r) }
}

/// `prctl(PR_SET_DUMPABLE, on)`: whether this process's memory (its
/// `mm`, shared with every process cloned with `CLONE_VM`) may be read
/// through `/proc` or ptrace by others with the same ids.
pub fn set_dumpable(on: bool) -> SysResult {
    // SAFETY: integer arguments.
    unsafe {
        sc!(
            libc::SYS_prctl,
            libc::PR_SET_DUMPABLE,
            c_int::from(on),
            0,
            0,
            0
        )
    }
}

/// Brings the loopback interface of this process's network namespace up,
/// as `ip link set lo up` does.
pub fn loopback_up() -> SysResult {
    // SAFETY: socket takes integer arguments.
    let r = unsafe {
        sc!(
            libc::SYS_socket,
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0
        )
    };
    // SAFETY: on success it returns a new descriptor.
    let sock = unsafe { new_fd(r) }?;
    // SAFETY: an all-zero ifreq is valid plain data.
    let mut req: libc::ifreq = unsafe { core::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of a live
    // ifreq.
    unsafe {
        sc!(
            libc::SYS_ioctl,
            sock.raw(),
            libc::SIOCGIFFLAGS,
            &mut req as *mut libc::ifreq
        )
    }?;
    // SAFETY: the union's flags member was just written by the kernel.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    if flags & libc::IFF_UP as libc::c_short != 0 {
        return Ok(0);
    }
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads a live ifreq.
    unsafe {
        sc!(
            libc::SYS_ioctl,
            sock.raw(),
            libc::SIOCSIFFLAGS,
            &req as *const libc::ifreq
        )
    }
}

/// A socket address built by the parent (`sockaddr_in` or `sockaddr_in6`)
/// for a socket the zone creates.
#[derive(Clone, Copy)]
pub struct SockAddr {
    storage: libc::sockaddr_in6,
    len: u32,
    family: c_int,
}

impl SockAddr {
    /// The address `addr`.
    pub fn new(addr: core::net::SocketAddr) -> SockAddr {
        // SAFETY: an all-zero sockaddr_in6 is valid plain data.
        let mut storage: libc::sockaddr_in6 = unsafe { core::mem::zeroed() };
        match addr {
            core::net::SocketAddr::V4(a) => {
                let v4 = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                const _: () = assert!(
                    core::mem::size_of::<libc::sockaddr_in>()
                        <= core::mem::size_of::<libc::sockaddr_in6>()
                );
                // SAFETY: a sockaddr_in fits in a sockaddr_in6 (checked
                // above); both are plain data and the write is unaligned-safe.
                unsafe {
                    core::ptr::write_unaligned((&mut storage as *mut libc::sockaddr_in6).cast(), v4)
                };
                SockAddr {
                    storage,
                    len: core::mem::size_of::<libc::sockaddr_in>() as u32,
                    family: libc::AF_INET,
                }
            }
            core::net::SocketAddr::V6(a) => {
                storage.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                storage.sin6_port = a.port().to_be();
                storage.sin6_addr.s6_addr = a.ip().octets();
                storage.sin6_scope_id = a.scope_id();
                SockAddr {
                    storage,
                    len: core::mem::size_of::<libc::sockaddr_in6>() as u32,
                    family: libc::AF_INET6,
                }
            }
        }
    }

    /// `AF_INET` or `AF_INET6`.
    pub fn family(&self) -> c_int {
        self.family
    }
}

/// A new `SOCK_CLOEXEC` socket of `family` and `ty` (`SOCK_STREAM` or
/// `SOCK_DGRAM`), in the calling process's network namespace (a socket
/// keeps the namespace it was created in); bound to `bind` when given,
/// with `SO_REUSEADDR`, and listening (backlog 128) when `listen`.
pub fn open_socket(
    family: c_int,
    ty: c_int,
    bind: Option<&SockAddr>,
    listen: bool,
) -> Result<Fd, Errno> {
    // SAFETY: socket takes integer arguments.
    let r = unsafe { sc!(libc::SYS_socket, family, ty | libc::SOCK_CLOEXEC, 0) };
    // SAFETY: on success it returns a new descriptor.
    let sock = unsafe { new_fd(r) }?;
    if let Some(addr) = bind {
        let one: c_int = 1;
        // SAFETY: SO_REUSEADDR reads an int from a live location.
        unsafe {
            sc!(
                libc::SYS_setsockopt,
                sock.raw(),
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                &one as *const c_int,
                core::mem::size_of::<c_int>()
            )
        }?;
        // SAFETY: the address is a live sockaddr of `len` bytes.
        unsafe {
            sc!(
                libc::SYS_bind,
                sock.raw(),
                &addr.storage as *const libc::sockaddr_in6,
                addr.len
            )
        }?;
    }
    if listen {
        // SAFETY: listen takes integer arguments.
        unsafe { sc!(libc::SYS_listen, sock.raw(), 128) }?;
    }
    Ok(sock)
}

/// Adds the IPv4 address `addr` (with its class's netmask: `/8` for
/// 127.0.0.0/8) to the loopback interface, as the alias `lo:N` with `N`
/// its last byte (`SIOCSIFADDR`). Needs `CAP_NET_ADMIN` over the network
/// namespace.
pub fn add_loopback_address(addr: [u8; 4]) -> SysResult {
    // SAFETY: socket takes integer arguments.
    let r = unsafe {
        sc!(
            libc::SYS_socket,
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0
        )
    };
    // SAFETY: on success it returns a new descriptor.
    let sock = unsafe { new_fd(r) }?;
    // SAFETY: an all-zero ifreq is valid plain data.
    let mut req: libc::ifreq = unsafe { core::mem::zeroed() };
    let last = addr[3];
    let name = [
        b'l',
        b'o',
        b':',
        b'0' + last / 100,
        b'0' + last / 10 % 10,
        b'0' + last % 10,
    ];
    for (d, s) in req.ifr_name.iter_mut().zip(name.iter()) {
        *d = *s as libc::c_char;
    }
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr),
        },
        sin_zero: [0; 8],
    };
    const _: () = assert!(
        core::mem::size_of::<libc::sockaddr_in>() <= core::mem::size_of::<libc::sockaddr>()
    );
    let dst = (&raw mut req.ifr_ifru.ifru_addr).cast::<libc::sockaddr_in>();
    // SAFETY: a sockaddr_in fits in the union's sockaddr member (checked
    // above), which `dst` points to; both are plain data.
    unsafe { dst.write_unaligned(sin) };
    // SAFETY: SIOCSIFADDR reads a live ifreq.
    unsafe {
        sc!(
            libc::SYS_ioctl,
            sock.raw(),
            libc::SIOCSIFADDR,
            &req as *const libc::ifreq
        )
    }
}

/// Whether `fd` is an open descriptor (`fcntl(F_GETFD)` succeeds).
pub fn is_open(fd: c_int) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { sc!(libc::SYS_fcntl, fd, libc::F_GETFD) }.is_ok()
}

/// `sendmsg(2)` of one buffer with one descriptor attached as
/// `SCM_RIGHTS`: the receiver gets its own descriptor for the same open
/// file.
pub fn send_with_fd(fd: c_int, buf: &[u8], pass: c_int) -> SysResult {
    #[repr(C)]
    struct Control {
        hdr: libc::cmsghdr,
        fd: c_int,
        pad: c_int,
    }
    const HDR: usize = core::mem::size_of::<libc::cmsghdr>();
    const ALIGN: usize = core::mem::size_of::<usize>();
    const SPACE: usize = HDR + 4usize.div_ceil(ALIGN) * ALIGN;
    const _: () = assert!(HDR % ALIGN == 0 && core::mem::size_of::<Control>() == SPACE);
    let mut control = Control {
        // SAFETY: an all-zero cmsghdr is valid plain data (its private
        // padding fields on some targets included).
        hdr: unsafe { core::mem::zeroed() },
        fd: pass,
        pad: 0,
    };
    control.hdr.cmsg_len = (HDR + 4) as _;
    control.hdr.cmsg_level = libc::SOL_SOCKET;
    control.hdr.cmsg_type = libc::SCM_RIGHTS;
    sendmsg_one(fd, buf, (&mut control as *mut Control).cast(), SPACE)
}

/// `ioctl(fd, TIOCSPTLCK, &0)`: unlocks the terminal of a pseudo-terminal
/// master, so that its peer can be opened.
pub fn pty_unlock(fd: c_int) -> SysResult {
    let unlock: c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int from a live location.
    unsafe {
        sc!(
            libc::SYS_ioctl,
            fd,
            libc::TIOCSPTLCK,
            &unlock as *const c_int
        )
    }
}

/// `ioctl(fd, TIOCGPTPEER, flags)` (Linux 4.13): opens the terminal of the
/// pseudo-terminal master `fd` without a path lookup.
pub fn pty_peer(fd: c_int, flags: c_int) -> Result<Fd, Errno> {
    // SAFETY: TIOCGPTPEER takes the open flags as an integer.
    let r = unsafe { sc!(libc::SYS_ioctl, fd, libc::TIOCGPTPEER, flags) };
    // SAFETY: on success it returns a new descriptor.
    unsafe { new_fd(r) }
}

/// `ioctl(fd, TIOCSWINSZ, size)`: sets a terminal's window size (which
/// sends `SIGWINCH` to its foreground process group when it changes).
pub fn set_window_size(fd: c_int, size: &libc::winsize) -> SysResult {
    // SAFETY: TIOCSWINSZ reads a winsize from a live location.
    unsafe {
        sc!(
            libc::SYS_ioctl,
            fd,
            libc::TIOCSWINSZ,
            size as *const libc::winsize
        )
    }
}

/// `ioctl(fd, TIOCGWINSZ)`: a terminal's window size.
pub fn window_size(fd: c_int) -> Result<libc::winsize, Errno> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize to a live location.
    unsafe {
        sc!(
            libc::SYS_ioctl,
            fd,
            libc::TIOCGWINSZ,
            &mut size as *mut libc::winsize
        )
    }?;
    Ok(size)
}

/// `ioctl(fd, TIOCSCTTY, 0)`: makes the terminal `fd` the controlling
/// terminal of the calling session leader's session.
pub fn set_controlling_terminal(fd: c_int) -> SysResult {
    // SAFETY: TIOCSCTTY takes an integer (0: do not steal it).
    unsafe { sc!(libc::SYS_ioctl, fd, libc::TIOCSCTTY, 0) }
}
