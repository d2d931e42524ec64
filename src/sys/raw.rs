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
    ($nr:expr, $a:expr) => { syscall6($nr as libc::c_long, $a as usize, 0, 0, 0, 0, 0) };
    ($nr:expr, $a:expr, $b:expr) => { syscall6($nr as libc::c_long, $a as usize, $b as usize, 0, 0, 0, 0) };
    ($nr:expr, $a:expr, $b:expr, $c:expr) => {
        syscall6($nr as libc::c_long, $a as usize, $b as usize, $c as usize, 0, 0, 0)
    };
    ($nr:expr, $a:expr, $b:expr, $c:expr, $d:expr) => {
        syscall6($nr as libc::c_long, $a as usize, $b as usize, $c as usize, $d as usize, 0, 0)
    };
    ($nr:expr, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => {
        syscall6($nr as libc::c_long, $a as usize, $b as usize, $c as usize, $d as usize, $e as usize, 0)
    };
}
pub(crate) use sc;
